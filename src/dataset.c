#include "dataset.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "collate.h"
#include "json.h"
#include "jsonschema.h"
#include "sanitize.h"
#include "store.h"
#include "util.h"

static const char *const row_fields[] = {
    "exampleId", "inputJson", "expectedJson", "split", "tags", "source", "meta",
};

/* ---- strings ---- */

/* Length of the JavaScript String.prototype.trim whitespace character at
 * s (0 if none), so ids trim exactly as the reference trims them. */
static size_t js_space(const unsigned char *s)
{
    if (*s == ' ' || (*s >= 0x09 && *s <= 0x0d))
        return 1;
    if (s[0] == 0xc2 && s[1] == 0xa0) /* U+00A0 */
        return 2;
    if (s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80) /* U+1680 */
        return 3;
    if (s[0] == 0xe2 && s[1] == 0x80 &&
        ((s[2] >= 0x80 && s[2] <= 0x8a) || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf))
        return 3; /* U+2000-200A, U+2028, U+2029, U+202F */
    if (s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f) /* U+205F */
        return 3;
    if (s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80) /* U+3000 */
        return 3;
    if (s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf) /* U+FEFF */
        return 3;
    return 0;
}

static char *js_trim_dup(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t k;
    while ((k = js_space(p)))
        p += k;
    const unsigned char *end = p, *q = p;
    while (*q) {
        size_t sp = js_space(q);
        if (sp) {
            q += sp;
        } else {
            q++;
            while ((*q & 0xc0) == 0x80)
                q++;
            end = q;
        }
    }
    return xstrndup((const char *)p, (size_t)(end - p));
}

static size_t chars(const char *s) { return util_utf8_len(s, strlen(s)); }

/* ---- the model ---- */

static const char *map_split(const char *s)
{
    if (!s)
        return NULL;
    if (!strcmp(s, "train"))
        return "train";
    if (!strcmp(s, "holdout") || !strcmp(s, "dev"))
        return "holdout";
    if (!strcmp(s, "test"))
        return "test";
    return NULL;
}

static int utf16_qsort(const void *a, const void *b)
{
    return json_utf16_cmp(*(char *const *)a, *(char *const *)b);
}

/* Trim, drop empty, sort by UTF-16 units, deduplicate. */
static void model_tags(const cJSON *tags, struct dataset_example *e)
{
    if (!cJSON_IsArray(tags))
        return;
    size_t n = 0, cap = (size_t)cJSON_GetArraySize(tags);
    char **t = xcalloc(cap ? cap : 1, sizeof *t);
    for (const cJSON *c = tags->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            continue;
        char *s = js_trim_dup(c->valuestring);
        if (*s)
            t[n++] = s;
        else
            free(s);
    }
    qsort(t, n, sizeof *t, utf16_qsort);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u && !strcmp(t[u - 1], t[i]))
            free(t[i]);
        else
            t[u++] = t[i];
    }
    if (!u) {
        free(t);
        return;
    }
    e->tags = t;
    e->ntags = u;
}

static void example_clear(struct dataset_example *e)
{
    free(e->id);
    for (size_t i = 0; i < e->ntags; i++)
        free(e->tags[i]);
    free(e->tags);
    cJSON_Delete(e->input);
    cJSON_Delete(e->expected);
    cJSON_Delete(e->meta);
    memset(e, 0, sizeof *e);
}

static void example_copy(struct dataset_example *dst, const struct dataset_example *src)
{
    dst->id = xstrdup(src->id);
    dst->split = src->split;
    dst->ntags = src->ntags;
    dst->tags = NULL;
    if (src->ntags) {
        dst->tags = xcalloc(src->ntags, sizeof *dst->tags);
        for (size_t i = 0; i < src->ntags; i++)
            dst->tags[i] = xstrdup(src->tags[i]);
    }
    dst->input = json_dup(src->input);
    dst->expected = json_dup(src->expected);
    dst->meta = json_dup(src->meta);
}

void dataset_free(struct dataset *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        example_clear(&d->ex[i]);
    free(d->ex);
    free(d->id);
    free(d);
}

cJSON *dataset_hash_doc(const struct dataset *d)
{
    cJSON *doc = json_obj();
    json_set_str(doc, "format", DATASET_FORMAT);
    json_set_num(doc, "formatVersion", 1);
    json_set_str(doc, "datasetId", d->id);
    cJSON *arr = json_arr();
    for (size_t i = 0; i < d->n; i++) {
        const struct dataset_example *e = &d->ex[i];
        cJSON *o = json_obj();
        json_set_str(o, "exampleId", e->id);
        json_set_str(o, "split", e->split);
        if (e->ntags) {
            cJSON *t = json_arr();
            for (size_t k = 0; k < e->ntags; k++)
                cJSON_AddItemToArray(t, cJSON_CreateString(e->tags[k]));
            json_set(o, "tags", t);
        }
        json_set_copy(o, "input", e->input);
        json_set_copy(o, "expected", e->expected);
        cJSON_AddItemToArray(arr, o);
    }
    json_set(doc, "examples", arr);
    return doc;
}

static void rehash(struct dataset *d)
{
    cJSON *doc = dataset_hash_doc(d);
    hash_json(doc, d->hash);
    cJSON_Delete(doc);
    cJSON *ids = json_obj(), *arr = json_arr();
    for (size_t i = 0; i < d->n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(d->ex[i].id));
    json_set(ids, "exampleIds", arr);
    hash_json(ids, d->ids_hash);
    cJSON_Delete(ids);
}

static int example_cmp(const void *a, const void *b)
{
    return collate_cmp(((const struct dataset_example *)a)->id,
                       ((const struct dataset_example *)b)->id);
}

struct dataset *dataset_build(const char *dataset_id, const cJSON *sig, const cJSON *rows,
                              struct dse_err *err)
{
    char *did = js_trim_dup(dataset_id ? dataset_id : "");
    if (!*did) {
        free(did);
        dse_fail(err, "invalid_dataset", "datasetId is empty");
        return NULL;
    }
    struct dataset *d = xcalloc(1, sizeof *d);
    d->id = did;
    size_t cap = cJSON_IsArray(rows) ? (size_t)cJSON_GetArraySize(rows) : 0;
    d->ex = xcalloc(cap ? cap : 1, sizeof *d->ex);
    const cJSON *in_schema = catalog_input_schema(sig), *out_schema = catalog_output_schema(sig);
    size_t i = 0;
    for (const cJSON *r = cap ? rows->child : NULL; r; r = r->next, i++) {
        struct dataset_example *e = &d->ex[d->n];
        const char *raw = json_str(r, "exampleId", NULL);
        if (!raw) {
            dse_fail(err, "invalid_dataset", "row %zu has no exampleId", i + 1);
            goto fail;
        }
        e->id = js_trim_dup(raw);
        d->n++;
        if (!*e->id) {
            dse_fail(err, "invalid_dataset", "row %zu: exampleId is empty after trimming", i + 1);
            goto fail;
        }
        struct dse_err sub;
        e->input = jsonschema_decode(in_schema, json_get(r, "inputJson"), &sub);
        if (!e->input) {
            dse_fail(err, "invalid_dataset", "example %s: inputJson: %s", e->id, sub.msg);
            goto fail;
        }
        e->expected = jsonschema_decode(out_schema, json_get(r, "expectedJson"), &sub);
        if (!e->expected) {
            dse_fail(err, "invalid_dataset", "example %s: expectedJson: %s", e->id, sub.msg);
            goto fail;
        }
        e->split = map_split(json_str(r, "split", NULL));
        model_tags(json_get(r, "tags"), e);
        const cJSON *meta = json_get(r, "meta");
        if (meta && !cJSON_IsNull(meta))
            e->meta = json_dup(meta);
    }
    qsort(d->ex, d->n, sizeof *d->ex, example_cmp);
    for (i = 1; i < d->n; i++) {
        if (!strcmp(d->ex[i - 1].id, d->ex[i].id)) {
            dse_fail(err, "invalid_dataset", "duplicate exampleId %s", d->ex[i].id);
            goto fail;
        }
    }
    rehash(d);
    return d;
fail:
    dataset_free(d);
    return NULL;
}

struct dataset *dataset_load(struct store *st, const cJSON *sig, struct dse_err *err)
{
    const char *sid = catalog_id(sig);
    if (!sid) {
        dse_fail(err, "invalid_input", "signature has no signatureId");
        return NULL;
    }
    cJSON *args = json_obj(), *res = NULL;
    json_set_str(args, "signatureId", sid);
    json_set_num(args, "limit", DATASET_LOAD_LIMIT);
    int rc = store_call(st, STORE_OP_examples_list, args, &res, err);
    cJSON_Delete(args);
    if (rc < 0)
        return NULL;
    char *did = catalog_dataset_id(sid);
    struct dataset *d = dataset_build(did, sig, json_get(res, "examples"), err);
    free(did);
    cJSON_Delete(res);
    return d;
}

/* A dataset of the examples for which keep[i] is set, in order. */
static struct dataset *subset(const struct dataset *d, const bool *keep)
{
    struct dataset *s = xcalloc(1, sizeof *s);
    s->id = xstrdup(d->id);
    s->ex = xcalloc(d->n ? d->n : 1, sizeof *s->ex);
    for (size_t i = 0; i < d->n; i++)
        if (keep[i])
            example_copy(&s->ex[s->n++], &d->ex[i]);
    rehash(s);
    return s;
}

static struct dataset *subset_where(const struct dataset *d, const char *split)
{
    bool *keep = xcalloc(d->n ? d->n : 1, sizeof *keep);
    for (size_t i = 0; i < d->n; i++)
        keep[i] = split ? util_streq(d->ex[i].split, split) : true;
    struct dataset *s = subset(d, keep);
    free(keep);
    return s;
}

struct dataset *dataset_split(const struct dataset *d, const char *split)
{
    const char *m = map_split(split);
    if (!m) {
        /* an unknown split selects nothing, like a filter on a value no
         * example can have */
        bool *keep = xcalloc(d->n ? d->n : 1, sizeof *keep);
        struct dataset *s = subset(d, keep);
        free(keep);
        return s;
    }
    return subset_where(d, m);
}

bool dataset_has_splits(const struct dataset *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->ex[i].split)
            return true;
    return false;
}

static bool any_split(const struct dataset *d, const char *split)
{
    for (size_t i = 0; i < d->n; i++)
        if (util_streq(d->ex[i].split, split))
            return true;
    return false;
}

struct dataset *dataset_train(const struct dataset *d)
{
    if (!dataset_has_splits(d) || !any_split(d, "train"))
        return subset_where(d, NULL);
    return subset_where(d, "train");
}

struct dataset *dataset_holdout(const struct dataset *d)
{
    if (!dataset_has_splits(d))
        return subset_where(d, NULL);
    if (any_split(d, "holdout"))
        return subset_where(d, "holdout");
    return dataset_train(d);
}

struct dataset *dataset_select(const struct dataset *d, const size_t *idx, size_t n)
{
    bool *keep = xcalloc(d->n ? d->n : 1, sizeof *keep);
    for (size_t i = 0; i < n; i++)
        if (idx[i] < d->n)
            keep[idx[i]] = true;
    struct dataset *s = subset(d, keep);
    free(keep);
    return s;
}

long dataset_find(const struct dataset *d, const char *example_id)
{
    /* examples are sorted by collate order, so a binary search works */
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = collate_cmp(d->ex[mid].id, example_id);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* ---- import ---- */

/* exampleId -> first line, to report duplicates with both line numbers
 * without an O(n^2) scan on 100k-row files. */
struct idset {
    const char **key;
    int *line;
    size_t cap, n;
};

static uint64_t fnv64(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void idset_grow(struct idset *t);

/* Returns the line already holding key, or 0 after inserting it. */
static int idset_add(struct idset *t, const char *key, int line)
{
    if ((t->n + 1) * 2 > t->cap)
        idset_grow(t);
    size_t i = (size_t)fnv64(key) & (t->cap - 1);
    while (t->key[i]) {
        if (!strcmp(t->key[i], key))
            return t->line[i];
        i = (i + 1) & (t->cap - 1);
    }
    t->key[i] = key;
    t->line[i] = line;
    t->n++;
    return 0;
}

static void idset_grow(struct idset *t)
{
    struct idset old = *t;
    t->cap = old.cap ? old.cap * 2 : 64;
    t->key = xcalloc(t->cap, sizeof *t->key);
    t->line = xcalloc(t->cap, sizeof *t->line);
    t->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.key[i])
            idset_add(t, old.key[i], old.line[i]);
    free(old.key);
    free(old.line);
}

static void idset_free(struct idset *t)
{
    free(t->key);
    free(t->line);
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v')
            return false;
    return true;
}

static bool in_fields(const char *k)
{
    for (size_t i = 0; i < ARRAY_LEN(row_fields); i++)
        if (!strcmp(k, row_fields[i]))
            return true;
    return false;
}

/* Check one parsed row; on success return the row to store (new tree).
 * why receives the reason (without the line prefix). */
static cJSON *check_row(const cJSON *sig, const cJSON *v, char *why, size_t cap)
{
    struct dse_err sub;
    if (!cJSON_IsObject(v)) {
        snprintf(why, cap, "a row must be a JSON object");
        return NULL;
    }
    for (const cJSON *k = v->child; k; k = k->next) {
        if (!in_fields(k->string ? k->string : "")) {
            snprintf(why, cap,
                     "unknown field \"%.60s\" (a row has exampleId, inputJson, expectedJson, "
                     "split, tags, source, meta)", k->string ? k->string : "");
            return NULL;
        }
    }
    const cJSON *idv = json_get(v, "exampleId");
    if (!cJSON_IsString(idv)) {
        snprintf(why, cap, idv ? "exampleId must be a string" : "exampleId is missing");
        return NULL;
    }
    char *id = js_trim_dup(idv->valuestring);
    size_t n = chars(id);
    if (n == 0 || n > DATASET_ID_MAX_CHARS) {
        if (n)
            snprintf(why, cap, "exampleId is longer than %d characters (%zu)",
                     DATASET_ID_MAX_CHARS, n);
        else
            snprintf(why, cap, "exampleId is empty");
        free(id);
        return NULL;
    }
    cJSON *row = json_obj();
    json_set(row, "exampleId", cJSON_CreateString(id));
    free(id);
    static const char *const payload[][2] = {{"inputJson", "input"}, {"expectedJson", "output"}};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *p = json_get(v, payload[i][0]);
        if (!p) {
            snprintf(why, cap, "%s is missing", payload[i][0]);
            goto fail;
        }
        const cJSON *schema = i ? catalog_output_schema(sig) : catalog_input_schema(sig);
        cJSON *dec = jsonschema_decode(schema, p, &sub);
        if (!dec) {
            snprintf(why, cap, "%s: %s", payload[i][0], sub.msg);
            goto fail;
        }
        cJSON_Delete(dec);
        json_set_copy(row, payload[i][0], p);
    }
    const cJSON *split = json_get(v, "split");
    if (split && !cJSON_IsNull(split)) {
        if (!cJSON_IsString(split)) {
            snprintf(why, cap, "split must be a string (train, dev, holdout or test)");
            goto fail;
        }
        const char *s = split->valuestring;
        if (strcmp(s, "train") && strcmp(s, "dev") && strcmp(s, "holdout") && strcmp(s, "test")) {
            char shown[64];
            sanitize_into(shown, sizeof shown, s, strlen(s), 0);
            snprintf(why, cap, "split \"%s\" is not one of train, dev, holdout, test", shown);
            goto fail;
        }
        json_set_str(row, "split", s);
    }
    const cJSON *tags = json_get(v, "tags");
    if (tags && !cJSON_IsNull(tags)) {
        if (!cJSON_IsArray(tags)) {
            snprintf(why, cap, "tags must be an array of strings");
            goto fail;
        }
        cJSON *out = json_arr();
        int kept = 0;
        for (const cJSON *t = tags->child; t; t = t->next) {
            if (!cJSON_IsString(t)) {
                cJSON_Delete(out);
                snprintf(why, cap, "tags must be an array of strings");
                goto fail;
            }
            if (kept >= DATASET_TAGS_MAX)
                continue;
            char *s = js_trim_dup(t->valuestring);
            if (*s) {
                s[util_utf8_prefix(s, strlen(s), DATASET_TAG_MAX_CHARS)] = 0;
                cJSON_AddItemToArray(out, cJSON_CreateString(s));
                kept++;
            }
            free(s);
        }
        if (kept)
            json_set(row, "tags", out);
        else
            cJSON_Delete(out);
    }
    const cJSON *source = json_get(v, "source");
    if (source && !cJSON_IsNull(source)) {
        if (!cJSON_IsString(source)) {
            snprintf(why, cap, "source must be a string");
            goto fail;
        }
        json_set_str(row, "source", source->valuestring);
    }
    const cJSON *meta = json_get(v, "meta");
    if (meta && !cJSON_IsNull(meta))
        json_set_copy(row, "meta", meta);
    return row;
fail:
    cJSON_Delete(row);
    return NULL;
}

cJSON *dataset_parse_jsonl(const cJSON *sig, const char *text, size_t len, struct dse_err *err)
{
    if (!catalog_input_schema(sig) || !catalog_output_schema(sig)) {
        dse_fail(err, "invalid_input", "signature has no input/output schema");
        return NULL;
    }
    cJSON *rows = json_arr();
    struct idset ids = {0};
    char first[560] = "";
    int bad = 0, line = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - start) : len - pos;
        pos += n + (nl ? 1 : 0);
        line++;
        if (n && start[n - 1] == '\r')
            n--;
        if (blank(start, n))
            continue;
        char why[520];
        struct dse_err sub;
        cJSON *v = json_parse(start, n, DATASET_LINE_MAX, &sub);
        cJSON *row = NULL;
        if (!v) {
            /* json_parse counts within the line; say "col" only. */
            const char *m = sub.msg;
            if (!strncmp(m, "line 1 col ", 11))
                snprintf(why, sizeof why, "invalid JSON at col %s", m + 11);
            else
                snprintf(why, sizeof why, "invalid JSON: %s", m);
        } else {
            row = check_row(sig, v, why, sizeof why);
        }
        cJSON_Delete(v);
        if (row) {
            cJSON *idv = (cJSON *)json_get(row, "exampleId");
            int prev = idset_add(&ids, idv->valuestring, line);
            if (prev) {
                snprintf(why, sizeof why, "duplicate exampleId \"%.200s\" (first on line %d)",
                         idv->valuestring, prev);
                cJSON_Delete(row);
                row = NULL;
            }
        }
        if (!row) {
            if (!bad++)
                snprintf(first, sizeof first, "line %d: %s", line, why);
            continue;
        }
        /* the id strings stay alive inside rows, which the set points into */
        cJSON_AddItemToArray(rows, row);
    }
    idset_free(&ids);
    if (bad) {
        cJSON_Delete(rows);
        if (bad > 1)
            dse_fail(err, "invalid_input", "%.400s (and %d more bad line%s)",
                     first, bad - 1, bad > 2 ? "s" : "");
        else
            dse_fail(err, "invalid_input", "%s", first);
        return NULL;
    }
    if (!rows->child) {
        cJSON_Delete(rows);
        dse_fail(err, "invalid_input", "no rows: the input is empty");
        return NULL;
    }
    return rows;
}

int dataset_import_jsonl(struct store *st, const cJSON *sig, const char *text, size_t len,
                         const char *source, struct dataset_import_result *res,
                         struct dse_err *err)
{
    if (res)
        memset(res, 0, sizeof *res);
    cJSON *rows = dataset_parse_jsonl(sig, text, len, err);
    if (!rows)
        return -1;
    int nrows = cJSON_GetArraySize(rows);
    cJSON *args = json_obj(), *out = NULL;
    json_set_str(args, "signatureId", catalog_id(sig));
    json_set(args, "rows", rows);
    if (source && *source)
        json_set_str(args, "source", source);
    int rc = store_call(st, STORE_OP_x_examples_import, args, &out, err);
    cJSON_Delete(args);
    if (rc == 0 && res) {
        res->rows = nrows;
        res->inserted = (int)json_int(out, "inserted", 0);
        res->updated = (int)json_int(out, "updated", 0);
        res->total = (int)json_int(out, "total", 0);
    }
    cJSON_Delete(out);
    return rc;
}

static char *read_stdin(size_t max, size_t *len)
{
    struct sbuf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
        if (b.len + n > max) {
            sbuf_free(&b);
            errno = EFBIG;
            return NULL;
        }
        sbuf_add(&b, chunk, n);
    }
    if (ferror(stdin)) {
        sbuf_free(&b);
        return NULL;
    }
    *len = b.len;
    return sbuf_take(&b);
}

int dataset_import_file(struct store *st, const cJSON *sig, const char *path, const char *source,
                        struct dataset_import_result *res, struct dse_err *err)
{
    size_t len = 0;
    bool is_stdin = !strcmp(path, "-");
    errno = 0;
    char *text = is_stdin ? read_stdin(DATASET_FILE_MAX, &len)
                          : util_read_file(path, DATASET_FILE_MAX, &len);
    if (!text) {
        if (errno == EFBIG)
            return dse_fail(err, "too_large", "%s is larger than %u bytes", path, DATASET_FILE_MAX);
        return dse_fail(err, "io_error", "cannot read %s: %s", is_stdin ? "standard input" : path,
                        strerror(errno ? errno : EIO));
    }
    int rc = dataset_import_jsonl(st, sig, text, len, source, res, err);
    free(text);
    return rc;
}

/* ---- export ---- */

static void add_field(struct sbuf *b, const char *key, const cJSON *v, bool *first)
{
    if (!v || cJSON_IsNull(v))
        return;
    sbuf_adds(b, *first ? "{\"" : ",\"");
    *first = false;
    sbuf_adds(b, key);
    sbuf_adds(b, "\":");
    /* Exports are read by people too: terminal-safe escapes, same values. */
    json_canonical_safe_into(b, v);
}

char *dataset_row_jsonl(const cJSON *row)
{
    struct sbuf b = {0};
    bool first = true;
    for (size_t i = 0; i < ARRAY_LEN(row_fields); i++) {
        const cJSON *v = json_get(row, row_fields[i]);
        /* the payloads are required by the row format: keep a null visible */
        if ((i == 1 || i == 2) && (!v || cJSON_IsNull(v))) {
            sbuf_adds(&b, first ? "{\"" : ",\"");
            first = false;
            sbuf_adds(&b, row_fields[i]);
            sbuf_adds(&b, "\":null");
            continue;
        }
        add_field(&b, row_fields[i], v, &first);
    }
    sbuf_adds(&b, first ? "{}" : "}");
    return sbuf_take(&b);
}

int dataset_export_jsonl(struct store *st, const char *signature_id, const char *split, FILE *out,
                         size_t *count, struct dse_err *err)
{
    size_t written = 0;
    char *cursor = NULL;
    int rc = 0;
    for (;;) {
        cJSON *args = json_obj(), *res = NULL;
        json_set_str(args, "signatureId", signature_id);
        json_set_str(args, "split", split);
        json_set_str(args, "cursor", cursor);
        json_set_num(args, "limit", 500);
        rc = store_call(st, STORE_OP_x_examples_page, args, &res, err);
        cJSON_Delete(args);
        if (rc < 0)
            break;
        const cJSON *items = json_get(res, "items");
        for (const cJSON *it = items ? items->child : NULL; it; it = it->next) {
            char *line = dataset_row_jsonl(it);
            size_t n = strlen(line);
            bool ok = fwrite(line, 1, n, out) == n && fputc('\n', out) != EOF;
            free(line);
            if (!ok) {
                rc = dse_fail(err, "io_error", "write failed: %s", strerror(errno ? errno : EIO));
                break;
            }
            written++;
        }
        const char *next = json_str(res, "nextCursor", NULL);
        free(cursor);
        cursor = next && *next && items && items->child && rc == 0 ? xstrdup(next) : NULL;
        cJSON_Delete(res);
        if (!cursor || rc < 0)
            break;
    }
    free(cursor);
    if (rc == 0 && fflush(out) != 0)
        rc = dse_fail(err, "io_error", "write failed: %s", strerror(errno ? errno : EIO));
    if (count)
        *count = written;
    return rc;
}
