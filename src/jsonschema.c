#include "jsonschema.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

/* Total schema-node visits allowed for one call: far above anything a real
 * signature needs (a 100k-element array of small objects), low enough that a
 * hostile anyOf-of-anyOf schema stops in well under a second. */
#define STEP_BUDGET 4000000L

enum ekind {
    E_OTHER,
    E_VALUE, /* const/enum mismatch: mergeable across alternatives */
    E_TYPE,  /* type mismatch: mergeable */
};

/* One failure, kept apart from the path so alternatives can be compared. */
struct verr {
    enum ekind kind;
    int progress; /* sub-values accepted before the failure (anyOf ranking) */
    int depth;    /* path segments */
    char path[200];
    char expect[300]; /* E_VALUE: allowed values; E_TYPE: type names */
    char got[80];
    char reason[300]; /* E_OTHER */
};

struct vctx {
    const cJSON *root;
    bool decode;
    long steps;
    int progress;
    int depth;          /* current path segments */
    struct sbuf path;   /* current value path, "$.a[0]" */
    bool schema_bad;    /* the failure is the schema's fault */
    char schema_msg[300];
    char schema_at[200]; /* value path where the schema problem showed */
    struct verr e;
};

/* ---- small helpers ---- */

static bool is_ident(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9'))
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '$'))
            return false;
    }
    return true;
}

static size_t path_push_key(struct vctx *c, const char *key)
{
    size_t mark = c->path.len;
    if (is_ident(key)) {
        sbuf_addc(&c->path, '.');
        sbuf_adds(&c->path, key);
    } else {
        cJSON *s = cJSON_CreateString(key);
        char *q = s ? json_canonical(s) : xstrdup("\"?\"");
        sbuf_addc(&c->path, '[');
        sbuf_adds(&c->path, q);
        sbuf_addc(&c->path, ']');
        free(q);
        cJSON_Delete(s);
    }
    c->depth++;
    return mark;
}

static size_t path_push_index(struct vctx *c, int i)
{
    size_t mark = c->path.len;
    sbuf_printf(&c->path, "[%d]", i);
    c->depth++;
    return mark;
}

static void path_pop(struct vctx *c, size_t mark)
{
    c->path.len = mark;
    c->path.s[mark] = 0;
    c->depth--;
}

/* Copy src into a fixed buffer, marking a cut with "..." and never
 * splitting a UTF-8 sequence. */
static void copy_cut(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n < cap) {
        memcpy(dst, src, n + 1);
        return;
    }
    size_t keep = cap - 4;
    while (keep > 0 && ((unsigned char)src[keep] & 0xc0) == 0x80)
        keep--;
    memcpy(dst, src, keep);
    memcpy(dst + keep, "...", 4);
}

/* snprintf that says so when it cuts (and keeps the compiler's truncation
 * checks quiet where cutting is intended). */
static void fmt_cut(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fmt_cut(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    copy_cut(dst, cap, s);
    free(s);
}

/* A short rendering of a value for "got ...": canonical JSON, cut. */
static void describe_value(const cJSON *v, char *out, size_t cap)
{
    char *s = json_canonical(v);
    if (strlen(s) > 60) {
        size_t keep = util_utf8_prefix(s, strlen(s), 57);
        s[keep] = 0;
        snprintf(out, cap, "%s...", s);
    } else {
        snprintf(out, cap, "%s", s);
    }
    free(s);
}

/* Allowed values are listed bare when they are plain words (so enum lists
 * read naturally), otherwise as JSON. */
static void describe_allowed(const cJSON *v, struct sbuf *b)
{
    if (cJSON_IsString(v) && v->valuestring && *v->valuestring) {
        bool plain = true;
        for (const char *p = v->valuestring; *p; p++) {
            char ch = *p;
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '_' || ch == '-' || ch == '.' || ch == ':' || ch == '/' || ch == '@'))
                plain = false;
        }
        if (plain) {
            sbuf_adds(b, v->valuestring);
            return;
        }
    }
    char *s = json_canonical(v);
    sbuf_adds(b, s);
    free(s);
}

static const char *type_name(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "string";
    if (cJSON_IsNumber(v))
        return "number";
    if (cJSON_IsBool(v))
        return "boolean";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsArray(v))
        return "array";
    if (cJSON_IsObject(v))
        return "object";
    return "invalid";
}

static void fail_begin(struct vctx *c, enum ekind kind)
{
    memset(&c->e, 0, sizeof c->e);
    c->e.kind = kind;
    c->e.progress = c->progress;
    c->e.depth = c->depth;
    copy_cut(c->e.path, sizeof c->e.path, c->path.s ? c->path.s : "$");
}

static int fail_other(struct vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_other(struct vctx *c, const char *fmt, ...)
{
    fail_begin(c, E_OTHER);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->e.reason, sizeof c->e.reason, fmt, ap);
    va_end(ap);
    return -1;
}

static int fail_schema(struct vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_schema(struct vctx *c, const char *fmt, ...)
{
    if (!c->schema_bad) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->schema_msg, sizeof c->schema_msg, fmt, ap);
        va_end(ap);
        copy_cut(c->schema_at, sizeof c->schema_at, c->path.s ? c->path.s : "$");
    }
    c->schema_bad = true;
    return -1;
}

static void verr_format(const struct verr *e, char *out, size_t cap)
{
    switch (e->kind) {
    case E_VALUE:
        fmt_cut(out, cap, "%s: expected %s (got %s)", e->path, e->expect, e->got);
        break;
    case E_TYPE:
        fmt_cut(out, cap, "%s: expected %s, got %s", e->path, e->expect, e->got);
        break;
    default:
        fmt_cut(out, cap, "%s: %s", e->path, e->reason);
        break;
    }
}

/* ---- keyword checks ---- */

static bool matches_type(const char *t, const cJSON *v, bool *known)
{
    *known = true;
    if (!strcmp(t, "string"))
        return cJSON_IsString(v);
    if (!strcmp(t, "number"))
        return cJSON_IsNumber(v);
    if (!strcmp(t, "integer"))
        return cJSON_IsNumber(v) && isfinite(v->valuedouble) && floor(v->valuedouble) == v->valuedouble;
    if (!strcmp(t, "boolean"))
        return cJSON_IsBool(v);
    if (!strcmp(t, "null"))
        return cJSON_IsNull(v);
    if (!strcmp(t, "array"))
        return cJSON_IsArray(v);
    if (!strcmp(t, "object"))
        return cJSON_IsObject(v);
    *known = false;
    return false;
}

static int check_type(struct vctx *c, const cJSON *type, const cJSON *v)
{
    bool known;
    if (cJSON_IsString(type)) {
        if (matches_type(type->valuestring, v, &known))
            return 0;
        if (!known)
            return fail_schema(c, "unknown type \"%s\"", type->valuestring);
        fail_begin(c, E_TYPE);
        snprintf(c->e.expect, sizeof c->e.expect, "%s", type->valuestring);
    } else if (cJSON_IsArray(type) && cJSON_GetArraySize(type) > 0) {
        struct sbuf names = {0};
        for (const cJSON *t = type->child; t; t = t->next) {
            if (!cJSON_IsString(t))
                return sbuf_free(&names), fail_schema(c, "type array must hold strings");
            if (matches_type(t->valuestring, v, &known))
                return sbuf_free(&names), 0;
            if (!known)
                return sbuf_free(&names), fail_schema(c, "unknown type \"%s\"", t->valuestring);
            if (names.len)
                sbuf_adds(&names, " or ");
            sbuf_adds(&names, t->valuestring);
        }
        fail_begin(c, E_TYPE);
        copy_cut(c->e.expect, sizeof c->e.expect, names.s);
        sbuf_free(&names);
    } else {
        return fail_schema(c, "type must be a string or a non-empty array of strings");
    }
    snprintf(c->e.got, sizeof c->e.got, "%s", type_name(v));
    return -1;
}

static int fail_value(struct vctx *c, const cJSON *allowed_list, const cJSON *single, const cJSON *v)
{
    struct sbuf b = {0};
    if (single) {
        describe_allowed(single, &b);
    } else {
        int n = cJSON_GetArraySize(allowed_list);
        if (n > 1)
            sbuf_adds(&b, "one of ");
        int i = 0;
        for (const cJSON *a = allowed_list->child; a; a = a->next, i++) {
            if (i)
                sbuf_adds(&b, ", ");
            describe_allowed(a, &b);
            if (b.len > 280)
                break;
        }
    }
    fail_begin(c, E_VALUE);
    copy_cut(c->e.expect, sizeof c->e.expect, b.s ? b.s : "");
    sbuf_free(&b);
    describe_value(v, c->e.got, sizeof c->e.got);
    return -1;
}

/* const/enum equality; scalars compare directly (the common case is a
 * string against a list of strings), containers by canonical form. */
static bool same_value(const cJSON *a, const cJSON *b)
{
    if (cJSON_IsString(a) || cJSON_IsString(b))
        return cJSON_IsString(a) && cJSON_IsString(b) && !strcmp(a->valuestring, b->valuestring);
    if (cJSON_IsNumber(a) || cJSON_IsNumber(b))
        return cJSON_IsNumber(a) && cJSON_IsNumber(b) && a->valuedouble == b->valuedouble;
    if (cJSON_IsBool(a) || cJSON_IsNull(a))
        return (a->type & 0xff) == (b->type & 0xff);
    return json_equal(a, b);
}

static const char *const annotations[] = {
    "$schema", "$id", "$comment", "title", "description", "default", "examples",
    "format", "readOnly", "writeOnly", "definitions", "$defs",
};
/* Indexes into keywords[] (same order). */
enum kw {
    K_TYPE, K_PROPERTIES, K_REQUIRED, K_ADDL, K_ENUM, K_CONST, K_ANYOF, K_ONEOF, K_ITEMS,
    K_MINITEMS, K_MAXITEMS, K_MINLEN, K_MAXLEN, K_MIN, K_MAX, K_XMIN, K_XMAX, K_REF, K__COUNT
};
static const char *const keywords[K__COUNT] = {
    "type", "properties", "required", "additionalProperties", "enum", "const", "anyOf",
    "oneOf", "items", "minItems", "maxItems", "minLength", "maxLength", "minimum",
    "maximum", "exclusiveMinimum", "exclusiveMaximum", "$ref",
};

/* Index of k in list, or -1.  The first-byte test skips most calls. */
static int list_index(const char *k, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (k[0] == list[i][0] && !strcmp(k, list[i]))
            return (int)i;
    return -1;
}

static bool in_list(const char *k, const char *const *list, size_t n)
{
    return list_index(k, list, n) >= 0;
}

/* One pass over a schema object: kw[i] = the member for keywords[i] (the
 * last one when repeated, as JSON.parse keeps it).  Returns the first
 * unsupported keyword, or NULL. */
static const char *scan_keywords(const cJSON *schema, const cJSON *kw[K__COUNT])
{
    memset(kw, 0, sizeof(*kw) * K__COUNT);
    for (const cJSON *k = schema->child; k; k = k->next) {
        const char *name = k->string ? k->string : "";
        int i = list_index(name, keywords, K__COUNT);
        if (i >= 0)
            kw[i] = k;
        else if (!in_list(name, annotations, ARRAY_LEN(annotations)))
            return name;
    }
    return NULL;
}

/* "#/definitions/NAME" or "#/$defs/NAME" against the root schema. */
static const cJSON *resolve_ref(const cJSON *root, const char *ref)
{
    const char *name;
    const cJSON *defs;
    if (!strncmp(ref, "#/definitions/", 14)) {
        name = ref + 14;
        defs = json_get(root, "definitions");
    } else if (!strncmp(ref, "#/$defs/", 8)) {
        name = ref + 8;
        defs = json_get(root, "$defs");
    } else {
        return NULL;
    }
    if (!*name || strchr(name, '/') || strchr(name, '~') || !cJSON_IsObject(defs))
        return NULL;
    const cJSON *t = json_get(defs, name);
    return t && (cJSON_IsObject(t) || cJSON_IsBool(t)) ? t : NULL;
}

static bool get_count(const cJSON *v, double *out, bool *bad)
{
    if (!v)
        return false;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0) {
        *bad = true;
        return false;
    }
    *out = v->valuedouble;
    return true;
}

static bool get_number(const cJSON *v, double *out, bool *bad)
{
    if (!v)
        return false;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        *bad = true;
        return false;
    }
    *out = v->valuedouble;
    return true;
}

static int node(struct vctx *c, const cJSON *schema, const cJSON *v, int depth, cJSON **out);

/* anyOf / oneOf.  Each alternative runs with its own error; on failure we
 * keep the one that got furthest, merging alternatives that stopped at the
 * same place for the same mergeable reason. */
static int alternatives(struct vctx *c, const cJSON *alts, bool one, const cJSON *v, int depth,
                        cJSON **out)
{
    if (!cJSON_IsArray(alts) || !alts->child)
        return fail_schema(c, "%s must be a non-empty array", one ? "oneOf" : "anyOf");
    struct verr best;
    memset(&best, 0, sizeof best);
    bool have_best = false;
    int matched = 0;
    cJSON *result = NULL;
    int base_progress = c->progress;
    for (const cJSON *alt = alts->child; alt; alt = alt->next) {
        cJSON *o = NULL;
        c->progress = base_progress;
        int rc = node(c, alt, v, depth + 1, out ? &o : NULL);
        if (c->schema_bad) {
            cJSON_Delete(result);
            return -1;
        }
        if (rc == 0) {
            matched++;
            if (!result)
                result = o;
            else
                cJSON_Delete(o);
            if (!one)
                break;
            continue;
        }
        struct verr *e = &c->e;
        if (!have_best || e->progress > best.progress ||
            (e->progress == best.progress && e->depth > best.depth)) {
            best = *e;
            have_best = true;
        } else if (e->progress == best.progress && e->depth == best.depth &&
                   e->kind == best.kind && e->kind != E_OTHER && !strcmp(e->path, best.path)) {
            char merged[sizeof best.expect];
            const char *a = best.expect, *b = e->expect;
            if (!strcmp(a, b)) {
                /* same expectation from two alternatives: say it once */
            } else if (best.kind == E_VALUE) {
                if (!strncmp(a, "one of ", 7))
                    a += 7;
                if (!strncmp(b, "one of ", 7))
                    b += 7;
                fmt_cut(merged, sizeof merged, "one of %s, %s", a, b);
            } else {
                fmt_cut(merged, sizeof merged, "%s or %s", a, b);
            }
            if (strcmp(a, b))
                memcpy(best.expect, merged, sizeof merged);
        }
    }
    c->progress = base_progress;
    if (matched == 1 || (matched > 1 && !one)) {
        if (out)
            *out = result;
        else
            cJSON_Delete(result);
        return 0;
    }
    cJSON_Delete(result);
    if (matched > 1) {
        fail_other(c, "matches %d of the oneOf alternatives (exactly one allowed)", matched);
        return -1;
    }
    c->e = best;
    return -1;
}

/* The value of property `key` against schema, its path pushed meanwhile;
 * when decoding (o not NULL) the decoded value is added to o. */
static int property(struct vctx *c, const cJSON *schema, const char *key, const cJSON *val,
                    int depth, cJSON *o)
{
    size_t mark = path_push_key(c, key);
    cJSON *sub = NULL;
    int rc = node(c, schema, val, depth + 1, o ? &sub : NULL);
    path_pop(c, mark);
    if (rc < 0)
        return -1;
    c->progress++;
    if (o)
        cJSON_AddItemToObject(o, key, sub);
    return 0;
}

/* An error about property `key` (at its path, which need not exist). */
static int fail_property(struct vctx *c, const char *key, const char *reason)
{
    size_t mark = path_push_key(c, key);
    fail_other(c, "%s", reason);
    path_pop(c, mark);
    return -1;
}

static int object_node(struct vctx *c, const cJSON *const *kw, const cJSON *v, int depth,
                       cJSON **out)
{
    const cJSON *props = kw[K_PROPERTIES];
    const cJSON *addl = kw[K_ADDL];
    const cJSON *req = kw[K_REQUIRED];
    if (props && !cJSON_IsObject(props))
        return fail_schema(c, "properties must be an object");
    if (addl && !cJSON_IsObject(addl) && !cJSON_IsBool(addl))
        return fail_schema(c, "additionalProperties must be a boolean or a schema");
    if (req && !cJSON_IsArray(req))
        return fail_schema(c, "required must be an array");
    cJSON *o = out ? json_obj() : NULL;

    /* Declared properties first, in schema order, so errors come in the
     * order a reader of the schema expects. */
    if (props) {
        for (const cJSON *p = props->child; p; p = p->next) {
            const char *key = p->string ? p->string : "";
            const cJSON *val = json_get(v, key);
            if (!val)
                continue;
            if (property(c, p, key, val, depth, o) < 0) {
                cJSON_Delete(o);
                return -1;
            }
        }
    }
    if (req) {
        for (const cJSON *r = req->child; r; r = r->next) {
            if (!cJSON_IsString(r)) {
                cJSON_Delete(o);
                return fail_schema(c, "required must hold strings");
            }
            if (!json_get(v, r->valuestring)) {
                cJSON_Delete(o);
                return fail_property(c, r->valuestring, "required property is missing");
            }
        }
    }
    /* Keys the schema does not declare. */
    bool keep_extra = !props || (addl && !cJSON_IsFalse(addl));
    for (const cJSON *k = v->child; k; k = k->next) {
        const char *key = k->string ? k->string : "";
        if (props && json_get(props, key))
            continue;
        /* a key named only in "required" is declared too: keep it, so a
         * decoded value always validates */
        bool in_req = false;
        for (const cJSON *r = req ? req->child : NULL; r && !in_req; r = r->next)
            in_req = cJSON_IsString(r) && !strcmp(r->valuestring, key);
        if (addl && cJSON_IsFalse(addl)) {
            if (c->decode && !in_req)
                continue; /* decoding drops unknown keys */
            cJSON_Delete(o);
            return fail_property(c, key, "unknown property (additionalProperties is false)");
        }
        if (addl && cJSON_IsObject(addl)) {
            if (property(c, addl, key, k, depth, o) < 0) {
                cJSON_Delete(o);
                return -1;
            }
            continue;
        }
        if (o && (keep_extra || in_req || !c->decode))
            cJSON_AddItemToObject(o, key, json_dup(k));
    }
    if (out)
        *out = o;
    return 0;
}

static int array_node(struct vctx *c, const cJSON *const *kw, const cJSON *v, int depth,
                      cJSON **out)
{
    bool bad = false;
    double lim;
    int n = cJSON_GetArraySize(v);
    if (get_count(kw[K_MINITEMS], &lim, &bad) && n < lim)
        return fail_other(c, "expected at least %.0f items, got %d", lim, n);
    if (get_count(kw[K_MAXITEMS], &lim, &bad) && n > lim)
        return fail_other(c, "expected at most %.0f items, got %d", lim, n);
    if (bad)
        return fail_schema(c, "minItems/maxItems must be non-negative numbers");
    const cJSON *items = kw[K_ITEMS];
    if (items && !cJSON_IsObject(items) && !cJSON_IsBool(items))
        return fail_schema(c, "items must be a schema (tuple form is not supported)");
    cJSON *a = out ? json_arr() : NULL;
    int i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        cJSON *sub = NULL;
        if (items) {
            size_t mark = path_push_index(c, i);
            int rc = node(c, items, it, depth + 1, a ? &sub : NULL);
            path_pop(c, mark);
            if (rc < 0) {
                cJSON_Delete(a);
                return -1;
            }
            c->progress++;
        } else if (a) {
            sub = json_dup(it);
        }
        if (a)
            cJSON_AddItemToArray(a, sub);
    }
    if (out)
        *out = a;
    return 0;
}

static int node(struct vctx *c, const cJSON *schema, const cJSON *v, int depth, cJSON **out)
{
    if (depth > JSONSCHEMA_MAX_DEPTH)
        return fail_schema(c, "schema nesting deeper than %d levels (recursive $ref?)",
                           JSONSCHEMA_MAX_DEPTH);
    if (++c->steps > STEP_BUDGET)
        return fail_schema(c, "schema too expensive to evaluate (more than %ld steps)", STEP_BUDGET);
    if (cJSON_IsBool(schema)) {
        if (cJSON_IsFalse(schema))
            return fail_other(c, "no value is allowed here");
        if (out)
            *out = json_dup(v);
        return 0;
    }
    if (!cJSON_IsObject(schema))
        return fail_schema(c, "a schema must be an object or a boolean");
    const cJSON *kw[K__COUNT];
    const char *unk = scan_keywords(schema, kw);
    if (unk)
        return fail_schema(c, "unsupported keyword \"%s\"", unk);

    const cJSON *ref = kw[K_REF];
    if (ref) {
        if (!cJSON_IsString(ref))
            return fail_schema(c, "$ref must be a string");
        const cJSON *target = resolve_ref(c->root, ref->valuestring);
        if (!target)
            return fail_schema(c, "$ref \"%s\" does not resolve", ref->valuestring);
        return node(c, target, v, depth + 1, out);
    }

    const cJSON *type = kw[K_TYPE];
    if (type && check_type(c, type, v) < 0)
        return -1;

    const cJSON *cst = kw[K_CONST];
    if (cst && !same_value(cst, v))
        return fail_value(c, NULL, cst, v);
    const cJSON *en = kw[K_ENUM];
    if (en) {
        if (!cJSON_IsArray(en) || !en->child)
            return fail_schema(c, "enum must be a non-empty array");
        bool found = false;
        for (const cJSON *e = en->child; e && !found; e = e->next)
            found = same_value(e, v);
        if (!found)
            return fail_value(c, en, NULL, v);
    }

    bool bad = false;
    double lim;
    if (cJSON_IsString(v)) {
        size_t len = util_utf8_len(v->valuestring, strlen(v->valuestring));
        if (get_count(kw[K_MINLEN], &lim, &bad) && (double)len < lim)
            return fail_other(c, "expected at least %.0f characters, got %zu", lim, len);
        if (get_count(kw[K_MAXLEN], &lim, &bad) && (double)len > lim)
            return fail_other(c, "expected at most %.0f characters, got %zu", lim, len);
        if (bad)
            return fail_schema(c, "minLength/maxLength must be non-negative numbers");
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        char num[32];
        json_format_number(d, num);
        if (get_number(kw[K_MIN], &lim, &bad) && !(d >= lim))
            return fail_other(c, "expected a number >= %g, got %s", lim, num);
        if (get_number(kw[K_MAX], &lim, &bad) && !(d <= lim))
            return fail_other(c, "expected a number <= %g, got %s", lim, num);
        if (get_number(kw[K_XMIN], &lim, &bad) && !(d > lim))
            return fail_other(c, "expected a number > %g, got %s", lim, num);
        if (get_number(kw[K_XMAX], &lim, &bad) && !(d < lim))
            return fail_other(c, "expected a number < %g, got %s", lim, num);
        if (bad)
            return fail_schema(c, "minimum/maximum must be finite numbers");
    }

    const cJSON *any = kw[K_ANYOF];
    const cJSON *one = kw[K_ONEOF];
    if (any && one)
        return fail_schema(c, "anyOf and oneOf in one schema are not supported");
    if (any || one)
        return alternatives(c, any ? any : one, one != NULL, v, depth, out);

    if (cJSON_IsObject(v))
        return object_node(c, kw, v, depth, out);
    if (cJSON_IsArray(v))
        return array_node(c, kw, v, depth, out);
    if (out)
        *out = json_dup(v);
    return 0;
}

static int run(const cJSON *schema, const cJSON *value, bool decode, cJSON **out,
               struct dse_err *err)
{
    struct vctx c = {.root = schema, .decode = decode};
    sbuf_adds(&c.path, "$");
    if (!schema || !value) {
        sbuf_free(&c.path);
        return dse_fail(err, "invalid_input", "$: no %s", schema ? "value" : "schema");
    }
    int rc = node(&c, schema, value, 0, out);
    if (rc < 0) {
        if (c.schema_bad) {
            dse_fail(err, "invalid_schema", "%s (at value path %s)", c.schema_msg, c.schema_at);
        } else {
            char msg[480];
            verr_format(&c.e, msg, sizeof msg);
            dse_fail(err, "invalid_input", "%s", msg);
        }
    }
    sbuf_free(&c.path);
    return rc;
}

int jsonschema_validate(const cJSON *schema, const cJSON *value, struct dse_err *err)
{
    return run(schema, value, false, NULL, err);
}

cJSON *jsonschema_decode(const cJSON *schema, const cJSON *value, struct dse_err *err)
{
    cJSON *out = NULL;
    if (run(schema, value, true, &out, err) < 0)
        return NULL;
    return out;
}

/* ---- schema checking ---- */

struct cctx {
    const cJSON *root;
    struct sbuf path; /* "#/properties/x" */
    long steps;
};

static int check_node(struct cctx *c, const cJSON *s, int depth, struct dse_err *err);

static int check_fail(struct cctx *c, struct dse_err *err, const char *what)
{
    return dse_fail(err, "invalid_schema", "%s: %s", c->path.s, what);
}

/* Descend into keyword kw (and member name, when not NULL) of a schema. */
static int check_child(struct cctx *c, const char *kw, const char *name, const cJSON *s,
                       int depth, struct dse_err *err)
{
    size_t mark = c->path.len;
    sbuf_addc(&c->path, '/');
    sbuf_adds(&c->path, kw);
    if (name) {
        sbuf_addc(&c->path, '/');
        /* JSON Pointer escaping so the path can be followed back. */
        for (const char *p = name; *p; p++) {
            if (*p == '~')
                sbuf_adds(&c->path, "~0");
            else if (*p == '/')
                sbuf_adds(&c->path, "~1");
            else
                sbuf_addc(&c->path, *p);
        }
    }
    int rc = check_node(c, s, depth + 1, err);
    c->path.len = mark;
    c->path.s[mark] = 0;
    return rc;
}

static int check_node(struct cctx *c, const cJSON *s, int depth, struct dse_err *err)
{
    if (depth > JSONSCHEMA_MAX_DEPTH)
        return check_fail(c, err, "schema nested too deeply");
    if (++c->steps > STEP_BUDGET)
        return check_fail(c, err, "schema too large");
    if (cJSON_IsBool(s))
        return 0;
    if (!cJSON_IsObject(s))
        return check_fail(c, err, "a schema must be an object or a boolean");
    for (const cJSON *k = s->child; k; k = k->next) {
        const char *name = k->string ? k->string : "";
        if (!in_list(name, keywords, K__COUNT) &&
            !in_list(name, annotations, ARRAY_LEN(annotations))) {
            char buf[160];
            snprintf(buf, sizeof buf, "unsupported keyword \"%.100s\"", name);
            return check_fail(c, err, buf);
        }
    }
    const cJSON *v;
    if ((v = json_get(s, "type"))) {
        bool known, ok = true;
        if (cJSON_IsString(v)) {
            matches_type(v->valuestring, v, &known);
            ok = known;
        } else if (cJSON_IsArray(v) && v->child) {
            for (const cJSON *t = v->child; t && ok; t = t->next) {
                ok = cJSON_IsString(t);
                if (ok) {
                    matches_type(t->valuestring, t, &known);
                    ok = known;
                }
            }
        } else {
            ok = false;
        }
        if (!ok)
            return check_fail(c, err, "type must be a JSON type name or an array of them");
    }
    if ((v = json_get(s, "properties"))) {
        if (!cJSON_IsObject(v))
            return check_fail(c, err, "properties must be an object");
        for (const cJSON *p = v->child; p; p = p->next) {
            if (check_child(c, "properties", p->string ? p->string : "", p, depth, err) < 0)
                return -1;
        }
    }
    if ((v = json_get(s, "required"))) {
        if (!cJSON_IsArray(v))
            return check_fail(c, err, "required must be an array of strings");
        for (const cJSON *r = v->child; r; r = r->next)
            if (!cJSON_IsString(r))
                return check_fail(c, err, "required must be an array of strings");
    }
    if ((v = json_get(s, "additionalProperties")) && !cJSON_IsBool(v) &&
        check_child(c, "additionalProperties", NULL, v, depth, err) < 0)
        return -1;
    if ((v = json_get(s, "items"))) {
        if (cJSON_IsArray(v))
            return check_fail(c, err, "items must be one schema (tuple form is not supported)");
        if (check_child(c, "items", NULL, v, depth, err) < 0)
            return -1;
    }
    if ((v = json_get(s, "enum")) && (!cJSON_IsArray(v) || !v->child))
        return check_fail(c, err, "enum must be a non-empty array");
    static const char *const counts[] = {"minItems", "maxItems", "minLength", "maxLength"};
    for (size_t i = 0; i < ARRAY_LEN(counts); i++)
        if ((v = json_get(s, counts[i])) &&
            (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
             floor(v->valuedouble) != v->valuedouble)) {
            char buf[80];
            snprintf(buf, sizeof buf, "%s must be a non-negative integer", counts[i]);
            return check_fail(c, err, buf);
        }
    static const char *const nums[] = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"};
    for (size_t i = 0; i < ARRAY_LEN(nums); i++)
        if ((v = json_get(s, nums[i])) && (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))) {
            char buf[80];
            snprintf(buf, sizeof buf, "%s must be a number", nums[i]);
            return check_fail(c, err, buf);
        }
    if (json_get(s, "anyOf") && json_get(s, "oneOf"))
        return check_fail(c, err, "anyOf and oneOf in one schema are not supported");
    static const char *const alts[] = {"anyOf", "oneOf"};
    for (size_t i = 0; i < ARRAY_LEN(alts); i++) {
        if (!(v = json_get(s, alts[i])))
            continue;
        if (!cJSON_IsArray(v) || !v->child) {
            char buf[80];
            snprintf(buf, sizeof buf, "%s must be a non-empty array of schemas", alts[i]);
            return check_fail(c, err, buf);
        }
        int n = 0;
        for (const cJSON *a = v->child; a; a = a->next, n++) {
            char idx[16];
            snprintf(idx, sizeof idx, "%d", n);
            if (check_child(c, alts[i], idx, a, depth, err) < 0)
                return -1;
        }
    }
    if ((v = json_get(s, "$ref"))) {
        if (!cJSON_IsString(v) || !resolve_ref(c->root, v->valuestring))
            return check_fail(c, err,
                              "$ref must be \"#/definitions/NAME\" or \"#/$defs/NAME\" naming a schema");
    }
    static const char *const defs[] = {"definitions", "$defs"};
    for (size_t i = 0; i < ARRAY_LEN(defs); i++) {
        if (!(v = json_get(s, defs[i])))
            continue;
        if (!cJSON_IsObject(v))
            return check_fail(c, err, "definitions must be an object");
        for (const cJSON *d = v->child; d; d = d->next) {
            if (check_child(c, defs[i], d->string ? d->string : "", d, depth, err) < 0)
                return -1;
        }
    }
    return 0;
}

int jsonschema_check(const cJSON *schema, struct dse_err *err)
{
    struct cctx c = {.root = schema};
    sbuf_adds(&c.path, "#");
    if (!schema) {
        sbuf_free(&c.path);
        return dse_fail(err, "invalid_schema", "#: no schema");
    }
    int rc = check_node(&c, schema, 0, err);
    sbuf_free(&c.path);
    return rc;
}
