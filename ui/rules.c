#include "rules.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "json.h"
#include "sanitize.h"
#include "util.h"

/* ---- rollback ---- */

/* The store reads this many newest rows; so do we. */
#define ROLLBACK_WINDOW 50

void rules_rollback_plan(const char *current, const cJSON *history, struct rollback_plan *out)
{
    memset(out, 0, sizeof *out);
    if (current)
        snprintf(out->from, sizeof out->from, "%s", current);
    int i = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, history)
    {
        if (i++ >= ROLLBACK_WINDOW)
            break;
        const cJSON *to = json_get(row, "toCompiledId");
        const char *to_s = cJSON_IsString(to) ? to->valuestring : NULL;
        /* "differs from current", with null == null. */
        bool differs = (to_s == NULL) != (current == NULL) ||
                       (to_s && current && strcmp(to_s, current) != 0);
        if (!differs)
            continue;
        out->found = true;
        if (to_s)
            snprintf(out->to, sizeof out->to, "%s", to_s);
        out->set_at_ms = json_int(row, "createdAtMs", 0);
        snprintf(out->set_action, sizeof out->set_action, "%s", json_str(row, "action", ""));
        snprintf(out->set_by, sizeof out->set_by, "%s", json_str(row, "actorUserId", ""));
        break;
    }
    /* No differing row: the store clears an existing pointer (target null). */
    out->changes = strcmp(out->from, out->to) != 0;
}

static void short_id(const char *id, bool ascii, char *buf, size_t cap)
{
    if (!id || !*id) {
        snprintf(buf, cap, "(none)");
        return;
    }
    char *clean = sanitize_str(id, SAN_ASCII);
    if (!strncmp(clean, "sha256:", 7) && strlen(clean) > 15)
        snprintf(buf, cap, "%.15s%s", clean, ascii ? "~" : "\xe2\x80\xa6");
    else
        snprintf(buf, cap, "%s", clean);
    free(clean);
}

void rules_rollback_text(const char *sig_label, const struct rollback_plan *p, bool ascii,
                         char *buf, size_t cap)
{
    char from[64], to[64], when[32] = "", *sig = sanitize_str(sig_label, 0);
    short_id(p->from, ascii, from, sizeof from);
    if (p->to[0])
        short_id(p->to, ascii, to, sizeof to);
    else
        snprintf(to, sizeof to, "(cleared)");
    char tail[256] = "";
    if (p->found) {
        util_short_time(p->set_at_ms, when);
        char *by = sanitize_str(p->set_by[0] ? p->set_by : "unknown", 0);
        snprintf(tail, sizeof tail, " (%s %s by %s)",
                 !strcmp(p->set_action, "rollback") ? "rolled back to" :
                 !strcmp(p->set_action, "clear")    ? "cleared"        : "set",
                 when, by);
        free(by);
    } else {
        snprintf(tail, sizeof tail, " (no earlier pointer in the last %d history rows)",
                 ROLLBACK_WINDOW);
    }
    snprintf(buf, cap, "rollback %s: %s -> %s%s", sig, from, to, tail);
    free(sig);
}

/* ---- canary ---- */

void rules_eta(long remaining, double rate_per_min, char *buf, size_t cap)
{
    if (remaining <= 0) {
        snprintf(buf, cap, "now");
        return;
    }
    if (!(rate_per_min > 0) || !isfinite(rate_per_min)) {
        snprintf(buf, cap, "?");
        return;
    }
    double min = (double)remaining / rate_per_min;
    if (min < 1)
        snprintf(buf, cap, "~%ds", (int)ceil(min * 60));
    else if (min < 120)
        snprintf(buf, cap, "~%dm", (int)ceil(min));
    else if (min < 48 * 60)
        snprintf(buf, cap, "~%dh", (int)ceil(min / 60));
    else
        snprintf(buf, cap, "~%dd", (int)ceil(min / 1440));
}

/* ---- schema values ---- */

static const cJSON *resolve_ref(const cJSON *root, const cJSON *schema)
{
    for (int hops = 0; hops < 16; hops++) {
        const char *ref = json_str(schema, "$ref", NULL);
        if (!ref)
            return schema;
        const char *name = NULL;
        const cJSON *defs = NULL;
        if (!strncmp(ref, "#/definitions/", 14))
            defs = json_get(root, "definitions"), name = ref + 14;
        else if (!strncmp(ref, "#/$defs/", 8))
            defs = json_get(root, "$defs"), name = ref + 8;
        else if (!strcmp(ref, "#"))
            return root;
        if (!defs || !name)
            return NULL;
        schema = json_get(defs, name);
        if (!schema)
            return NULL;
    }
    return NULL;
}

static void push_unique(cJSON *arr, const cJSON *v)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) if (json_equal(e, v)) return;
    cJSON_AddItemToArray(arr, json_dup(v));
}

/* Values of schema into a new array, or NULL when not finite / over max. */
static cJSON *values_of(const cJSON *root, const cJSON *schema, int max, int depth)
{
    if (depth > 32 || max <= 0)
        return NULL;
    schema = resolve_ref(root, schema);
    if (!schema || !cJSON_IsObject(schema))
        return NULL;
    const cJSON *c = json_get(schema, "const");
    if (c) {
        cJSON *a = json_arr();
        cJSON_AddItemToArray(a, json_dup(c));
        return a;
    }
    const cJSON *en = json_get(schema, "enum");
    if (cJSON_IsArray(en)) {
        if (cJSON_GetArraySize(en) > max || cJSON_GetArraySize(en) == 0)
            return NULL;
        cJSON *a = json_arr();
        const cJSON *e;
        cJSON_ArrayForEach(e, en) push_unique(a, e);
        return a;
    }
    const cJSON *alts = json_get(schema, "oneOf");
    if (!alts)
        alts = json_get(schema, "anyOf");
    if (cJSON_IsArray(alts)) {
        cJSON *a = json_arr();
        const cJSON *alt;
        cJSON_ArrayForEach(alt, alts)
        {
            cJSON *sub = values_of(root, alt, max, depth + 1);
            if (!sub) {
                cJSON_Delete(a);
                return NULL;
            }
            const cJSON *e;
            cJSON_ArrayForEach(e, sub) push_unique(a, e);
            cJSON_Delete(sub);
            if (cJSON_GetArraySize(a) > max) {
                cJSON_Delete(a);
                return NULL;
            }
        }
        return a;
    }
    const char *type = json_str(schema, "type", NULL);
    if (type && !strcmp(type, "boolean")) {
        cJSON *a = json_arr();
        cJSON_AddItemToArray(a, cJSON_CreateTrue());
        cJSON_AddItemToArray(a, cJSON_CreateFalse());
        return a;
    }
    if (type && !strcmp(type, "null")) {
        cJSON *a = json_arr();
        cJSON_AddItemToArray(a, cJSON_CreateNull());
        return a;
    }
    const cJSON *props = json_get(schema, "properties");
    if ((type && !strcmp(type, "object")) || props) {
        /* Cartesian product over the required properties; optional ones
         * are left out (the smallest valid object). */
        const cJSON *req = json_get(schema, "required");
        cJSON *acc = json_arr();
        cJSON_AddItemToArray(acc, json_obj());
        const cJSON *r;
        cJSON_ArrayForEach(r, req)
        {
            if (!cJSON_IsString(r))
                continue;
            const cJSON *ps = json_get(props, r->valuestring);
            cJSON *vals = ps ? values_of(root, ps, max, depth + 1) : NULL;
            if (!vals) {
                cJSON_Delete(acc);
                return NULL;
            }
            cJSON *next = json_arr();
            const cJSON *o, *v;
            cJSON_ArrayForEach(o, acc) cJSON_ArrayForEach(v, vals)
            {
                cJSON *no = json_dup(o);
                json_set_copy(no, r->valuestring, v);
                cJSON_AddItemToArray(next, no);
            }
            cJSON_Delete(vals);
            cJSON_Delete(acc);
            acc = next;
            if (cJSON_GetArraySize(acc) > max) {
                cJSON_Delete(acc);
                return NULL;
            }
        }
        return acc;
    }
    return NULL;
}

cJSON *rules_schema_values(const cJSON *schema, int max)
{
    if (!schema)
        return NULL;
    cJSON *v = values_of(schema, schema, max, 0);
    if (v && cJSON_GetArraySize(v) == 0) {
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}

cJSON *rules_top_values(const cJSON *values, int max)
{
    int n = cJSON_GetArraySize(values);
    if (n <= 0 || max <= 0)
        return NULL;
    struct item {
        char *canon;
        const cJSON *v;
        int count, first;
    } *items = xcalloc((size_t)n, sizeof *items);
    int ni = 0, idx = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, values)
    {
        char *c = json_canonical(v);
        int k;
        for (k = 0; k < ni; k++)
            if (!strcmp(items[k].canon, c))
                break;
        if (k < ni) {
            items[k].count++;
            free(c);
        } else {
            items[ni++] = (struct item){c, v, 1, idx};
        }
        idx++;
    }
    /* Selection by count, then first appearance: n is small (a page). */
    cJSON *out = json_arr();
    for (int taken = 0; taken < max && taken < ni; taken++) {
        int best = -1;
        for (int k = 0; k < ni; k++) {
            if (items[k].count < 0)
                continue;
            if (best < 0 || items[k].count > items[best].count ||
                (items[k].count == items[best].count && items[k].first < items[best].first))
                best = k;
        }
        cJSON_AddItemToArray(out, json_dup(items[best].v));
        items[best].count = -1;
    }
    for (int k = 0; k < ni; k++)
        free(items[k].canon);
    free(items);
    return out;
}

cJSON *rules_label_values(const cJSON *signature, int max, const char **source)
{
    const cJSON *lv = json_get(signature, "labelValues");
    if (cJSON_IsArray(lv) && cJSON_GetArraySize(lv) > 0) {
        cJSON *a = json_arr();
        const cJSON *e;
        int n = 0;
        cJSON_ArrayForEach(e, lv)
        {
            if (n++ >= max)
                break;
            cJSON_AddItemToArray(a, json_dup(e));
        }
        if (source)
            *source = "catalog";
        return a;
    }
    cJSON *s = rules_schema_values(json_get(signature, "outputSchema"), 64);
    if (s) {
        while (cJSON_GetArraySize(s) > max)
            cJSON_DeleteItemFromArray(s, cJSON_GetArraySize(s) - 1);
        if (source)
            *source = "schema";
        return s;
    }
    return NULL;
}

/* ---- editor ---- */

char *rules_edit_compose(const char *what, const char *error, const char *body)
{
    struct sbuf b = {0};
    sbuf_add(&b, "", 0);
    char *w = sanitize_str(what ? what : "JSON", 0);
    sbuf_printf(&b, "# dse: editing %s\n", w);
    free(w);
    if (error) {
        char *e = sanitize_str(error, 0);
        sbuf_printf(&b, "# dse: ERROR: %s\n", e);
        sbuf_adds(&b, "# dse: nothing was saved; fix the JSON below and save again.\n");
        free(e);
    }
    sbuf_adds(&b, "# dse: lines starting with '#' at the top are ignored; "
                  "save an empty file to cancel.\n");
    sbuf_adds(&b, body ? body : "");
    if (b.len && b.s[b.len - 1] != '\n')
        sbuf_addc(&b, '\n');
    return sbuf_take(&b);
}

char *rules_edit_strip(const char *text)
{
    const char *p = text ? text : "";
    for (;;) {
        const char *q = p;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '#')
            break;
        const char *nl = strchr(q, '\n');
        if (!nl) {
            p = q + strlen(q);
            break;
        }
        p = nl + 1;
    }
    return xstrdup(p);
}

bool rules_edit_empty(const char *s)
{
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

/* ---- leakage guard ---- */

const char *rules_input_match(const cJSON *input, const cJSON *examples)
{
    if (!input)
        return NULL;
    const cJSON *row;
    cJSON_ArrayForEach(row, examples)
    {
        const cJSON *in = json_get(row, "inputJson");
        if (in && json_equal(in, input))
            return json_str(row, "exampleId", "?");
    }
    return NULL;
}

const char *rules_next_split(const char *split)
{
    if (split && !strcmp(split, "train"))
        return "holdout";
    return "train";
}
