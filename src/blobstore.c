/* blobstore: memory and store back ends for RLM blobs and vars (contract in
 * blobstore.h). */
#include "blobstore.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collate.h"
#include "hash.h"
#include "json.h"
#include "store.h"
#include "util.h"

struct mem_blob {
    char id[HASH_ID_LEN + 1];
    char *text;
    size_t len;
    char *mime;
};

struct mem_var {
    char *name;
    cJSON *value; /* Json var: the value; Blob var: NULL */
    cJSON *blob;  /* Blob var: the BlobRef */
    long approx;
};

struct blobstore {
    struct store *st; /* NULL: memory */
    char *thread_id, *run_id;
    struct mem_blob *blobs;
    size_t nblobs, capblobs;
    struct mem_var *vars;
    size_t nvars, capvars;
};

struct blobstore *blobstore_new_mem(void) { return xcalloc(1, sizeof(struct blobstore)); }

struct blobstore *blobstore_new_store(struct store *st, const char *thread_id, const char *run_id)
{
    struct blobstore *bs = xcalloc(1, sizeof *bs);
    bs->st = st;
    bs->thread_id = xstrdup(thread_id ? thread_id : "");
    bs->run_id = xstrdup(run_id ? run_id : "");
    return bs;
}

void blobstore_free(struct blobstore *bs)
{
    if (!bs)
        return;
    for (size_t i = 0; i < bs->nblobs; i++) {
        free(bs->blobs[i].text);
        free(bs->blobs[i].mime);
    }
    free(bs->blobs);
    for (size_t i = 0; i < bs->nvars; i++) {
        free(bs->vars[i].name);
        cJSON_Delete(bs->vars[i].value);
        cJSON_Delete(bs->vars[i].blob);
    }
    free(bs->vars);
    free(bs->thread_id);
    free(bs->run_id);
    free(bs);
}

bool blobstore_is_persistent(const struct blobstore *bs) { return bs && bs->st; }

bool blobref_is(const cJSON *v)
{
    if (!cJSON_IsObject(v))
        return false;
    const cJSON *id = json_get(v, "id"), *hash = json_get(v, "hash"), *size = json_get(v, "size");
    const cJSON *mime = json_get(v, "mime");
    if (!cJSON_IsString(id) || !cJSON_IsString(hash) || !cJSON_IsNumber(size))
        return false;
    if (!isfinite(size->valuedouble) || size->valuedouble < 0)
        return false;
    return !mime || cJSON_IsString(mime);
}

cJSON *blobref_of(const char *text, size_t len, const char *mime)
{
    char id[HASH_ID_LEN + 1];
    hash_bytes(text, len, id);
    cJSON *r = json_obj();
    json_set_str(r, "id", id);
    json_set_str(r, "hash", id);
    json_set_num(r, "size", (double)len);
    if (mime && mime[0])
        json_set_str(r, "mime", mime);
    return r;
}

static cJSON *scope_args(const struct blobstore *bs)
{
    cJSON *a = json_obj();
    json_set_str(a, "threadId", bs->thread_id);
    json_set_str(a, "runId", bs->run_id);
    return a;
}

/* ---- blobs ---- */

static struct mem_blob *mem_find_blob(struct blobstore *bs, const char *id)
{
    for (size_t i = 0; i < bs->nblobs; i++)
        if (strcmp(bs->blobs[i].id, id) == 0)
            return &bs->blobs[i];
    return NULL;
}

int blobstore_put(struct blobstore *bs, const char *text, size_t len, const char *mime,
                  cJSON **ref, struct dse_err *err)
{
    if (ref)
        *ref = NULL;
    if (memchr(text, 0, len))
        return dse_fail(err, "invalid_input", "blob text contains a NUL byte");
    if (bs->st) {
        cJSON *a = scope_args(bs), *out = NULL;
        char *t = xstrndup(text, len);
        json_set_str(a, "text", t);
        free(t);
        if (mime && mime[0])
            json_set_str(a, "mime", mime);
        int rc = store_call(bs->st, STORE_OP_blobs_put, a, &out, err);
        cJSON_Delete(a);
        if (rc < 0)
            return -1;
        const cJSON *b = json_get(out, "blob");
        if (!blobref_is(b)) {
            cJSON_Delete(out);
            return dse_fail(err, "store_error", "blobs put returned no BlobRef");
        }
        if (ref) {
            /* The store answers {id, hash, size, mime?}; rebuild ours so the
             * shape (and key set) is the same in both back ends. */
            *ref = blobref_of(text, len, mime);
        }
        cJSON_Delete(out);
        return 0;
    }
    cJSON *r = blobref_of(text, len, mime);
    const char *id = json_str(r, "id", "");
    if (!mem_find_blob(bs, id)) {
        if (bs->nblobs == bs->capblobs) {
            bs->capblobs = bs->capblobs ? bs->capblobs * 2 : 16;
            bs->blobs = xrealloc(bs->blobs, bs->capblobs * sizeof *bs->blobs);
        }
        struct mem_blob *b = &bs->blobs[bs->nblobs++];
        snprintf(b->id, sizeof b->id, "%s", id);
        b->text = xstrndup(text, len);
        b->len = len;
        b->mime = mime && mime[0] ? xstrdup(mime) : NULL;
    }
    if (ref)
        *ref = r;
    else
        cJSON_Delete(r);
    return 0;
}

int blobstore_get(struct blobstore *bs, const char *id, char **text, size_t *len,
                  struct dse_err *err)
{
    *text = NULL;
    if (len)
        *len = 0;
    if (!id || !id[0])
        return 0;
    if (bs->st) {
        cJSON *a = scope_args(bs), *out = NULL;
        json_set_str(a, "blobId", id);
        int rc = store_call(bs->st, STORE_OP_blobs_get, a, &out, err);
        cJSON_Delete(a);
        if (rc < 0)
            return -1;
        const cJSON *t = json_get(out, "text");
        if (cJSON_IsString(t) && t->valuestring) {
            *text = xstrdup(t->valuestring);
            if (len)
                *len = strlen(*text);
        }
        cJSON_Delete(out);
        return 0;
    }
    struct mem_blob *b = mem_find_blob(bs, id);
    if (b) {
        *text = xstrndup(b->text, b->len);
        if (len)
            *len = b->len;
    }
    return 0;
}

int blobstore_seed(struct blobstore *bs, const cJSON *blobs, struct dse_err *err)
{
    if (!blobs || cJSON_IsNull(blobs))
        return 0;
    if (!cJSON_IsArray(blobs))
        return dse_fail(err, "invalid_input", "blobs must be an array of {id?, text, mime?}");
    int i = 0;
    for (const cJSON *b = blobs->child; b; b = b->next, i++) {
        const cJSON *t = json_get(b, "text");
        if (!cJSON_IsString(t) || !t->valuestring)
            return dse_fail(err, "invalid_input", "blobs[%d].text must be a string", i);
        const char *want = json_str(b, "id", NULL);
        size_t n = strlen(t->valuestring);
        if (want) {
            char id[HASH_ID_LEN + 1];
            hash_bytes(t->valuestring, n, id);
            if (strcmp(id, want) != 0)
                return dse_fail(err, "invalid_input",
                                "blobs[%d].id %s is not the hash of its text (%s)", i, want, id);
        }
        if (blobstore_put(bs, t->valuestring, n, json_str(b, "mime", NULL), NULL, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- vars ---- */

/* Trimmed, length-checked copy of a var name, or NULL with err. */
static char *var_name(const char *name, struct dse_err *err)
{
    char *t = xstrdup(name ? name : "");
    char *s = util_trim(t);
    size_t n = util_utf8_len(s, strlen(s));
    if (n < 1 || n > BLOBSTORE_VAR_NAME_MAX) {
        free(t);
        dse_fail(err, "invalid_input", "var name must be 1..%d characters after trimming",
                 BLOBSTORE_VAR_NAME_MAX);
        return NULL;
    }
    char *r = xstrdup(s);
    free(t);
    return r;
}

static struct mem_var *mem_find_var(struct blobstore *bs, const char *name)
{
    for (size_t i = 0; i < bs->nvars; i++)
        if (strcmp(bs->vars[i].name, name) == 0)
            return &bs->vars[i];
    return NULL;
}

/* The slot for name (existing or new), or NULL when the var limit is hit. */
static struct mem_var *mem_slot(struct blobstore *bs, const char *name, struct dse_err *err)
{
    struct mem_var *v = mem_find_var(bs, name);
    if (v) {
        cJSON_Delete(v->value);
        cJSON_Delete(v->blob);
        v->value = v->blob = NULL;
        return v;
    }
    if (bs->nvars >= BLOBSTORE_VAR_MAX_COUNT) {
        dse_fail(err, "invalid_input", "var space is full (%d variables)", BLOBSTORE_VAR_MAX_COUNT);
        return NULL;
    }
    if (bs->nvars == bs->capvars) {
        bs->capvars = bs->capvars ? bs->capvars * 2 : 16;
        bs->vars = xrealloc(bs->vars, bs->capvars * sizeof *bs->vars);
    }
    v = &bs->vars[bs->nvars++];
    memset(v, 0, sizeof *v);
    v->name = xstrdup(name);
    return v;
}

int blobstore_var_get(struct blobstore *bs, const char *name, cJSON **out, struct dse_err *err)
{
    *out = NULL;
    char *n = var_name(name, err);
    if (!n)
        return -1;
    if (bs->st) {
        cJSON *a = scope_args(bs), *res = NULL;
        json_set_str(a, "name", n);
        int rc = store_call(bs->st, STORE_OP_var_get, a, &res, err);
        cJSON_Delete(a);
        free(n);
        if (rc < 0)
            return -1;
        /* {ok, value: null | {_tag, ...}} */
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(res, "value");
        cJSON_Delete(res);
        if (cJSON_IsObject(v))
            *out = v;
        else
            cJSON_Delete(v);
        return 0;
    }
    struct mem_var *v = mem_find_var(bs, n);
    free(n);
    if (!v)
        return 0;
    cJSON *o = json_obj();
    if (v->blob) {
        json_set_str(o, "_tag", "Blob");
        json_set_copy(o, "blob", v->blob);
    } else {
        json_set_str(o, "_tag", "Json");
        json_set_copy(o, "value", v->value);
        json_set_num(o, "approxChars", (double)v->approx);
    }
    *out = o;
    return 0;
}

int blobstore_var_put_json(struct blobstore *bs, const char *name, const cJSON *value,
                           struct dse_err *err)
{
    char *n = var_name(name, err);
    if (!n)
        return -1;
    char *canon = json_canonical(value);
    long chars = (long)util_utf8_len(canon, strlen(canon));
    free(canon);
    if (chars > BLOBSTORE_VAR_VALUE_MAX_CHARS) {
        free(n);
        return dse_fail(err, "invalid_input",
                        "var %s: value is %ld characters of JSON (limit %d)", name, chars,
                        BLOBSTORE_VAR_VALUE_MAX_CHARS);
    }
    int rc = 0;
    if (bs->st) {
        cJSON *a = scope_args(bs);
        json_set_str(a, "name", n);
        if (value)
            json_set_copy(a, "value", value);
        else
            json_set_null(a, "value");
        rc = store_call(bs->st, STORE_OP_var_put_json, a, NULL, err);
        cJSON_Delete(a);
    } else {
        struct mem_var *v = mem_slot(bs, n, err);
        if (!v) {
            rc = -1;
        } else {
            v->value = value ? json_dup(value) : cJSON_CreateNull();
            v->approx = chars;
        }
    }
    free(n);
    return rc;
}

int blobstore_var_put_blob(struct blobstore *bs, const char *name, const cJSON *blobref,
                           struct dse_err *err)
{
    if (!blobref_is(blobref))
        return dse_fail(err, "invalid_input", "var %s: value is not a BlobRef", name ? name : "");
    char *n = var_name(name, err);
    if (!n)
        return -1;
    int rc = 0;
    if (bs->st) {
        cJSON *a = scope_args(bs);
        json_set_str(a, "name", n);
        json_set_copy(a, "blob", blobref);
        rc = store_call(bs->st, STORE_OP_var_put_blob, a, NULL, err);
        cJSON_Delete(a);
    } else {
        struct mem_var *v = mem_slot(bs, n, err);
        if (!v)
            rc = -1;
        else
            v->blob = json_dup(blobref);
    }
    free(n);
    return rc;
}

int blobstore_var_del(struct blobstore *bs, const char *name, bool *existed, struct dse_err *err)
{
    if (existed)
        *existed = false;
    char *n = var_name(name, err);
    if (!n)
        return -1;
    if (bs->st) {
        cJSON *a = scope_args(bs), *res = NULL;
        json_set_str(a, "name", n);
        int rc = store_call(bs->st, STORE_OP_var_del, a, &res, err);
        cJSON_Delete(a);
        free(n);
        if (rc == 0 && existed)
            *existed = json_bool(res, "existed", false);
        cJSON_Delete(res);
        return rc;
    }
    for (size_t i = 0; i < bs->nvars; i++) {
        if (strcmp(bs->vars[i].name, n) != 0)
            continue;
        free(bs->vars[i].name);
        cJSON_Delete(bs->vars[i].value);
        cJSON_Delete(bs->vars[i].blob);
        memmove(&bs->vars[i], &bs->vars[i + 1], (bs->nvars - i - 1) * sizeof *bs->vars);
        bs->nvars--;
        if (existed)
            *existed = true;
        break;
    }
    free(n);
    return 0;
}

static int var_cmp(const void *a, const void *b)
{
    const struct mem_var *x = *(const struct mem_var *const *)a;
    const struct mem_var *y = *(const struct mem_var *const *)b;
    return collate_cmp(x->name, y->name);
}

int blobstore_var_list(struct blobstore *bs, cJSON **out, struct dse_err *err)
{
    *out = NULL;
    if (bs->st) {
        cJSON *a = scope_args(bs), *res = NULL;
        int rc = store_call(bs->st, STORE_OP_var_list, a, &res, err);
        cJSON_Delete(a);
        if (rc < 0)
            return -1;
        /* {ok, vars: [...]} */
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(res, "vars");
        cJSON_Delete(res);
        *out = cJSON_IsArray(v) ? v : (cJSON_Delete(v), json_arr());
        return 0;
    }
    struct mem_var **order = xcalloc(bs->nvars + 1, sizeof *order);
    for (size_t i = 0; i < bs->nvars; i++)
        order[i] = &bs->vars[i];
    qsort(order, bs->nvars, sizeof *order, var_cmp);
    cJSON *arr = json_arr();
    for (size_t i = 0; i < bs->nvars; i++) {
        cJSON *o = json_obj();
        json_set_str(o, "name", order[i]->name);
        if (order[i]->blob) {
            json_set_str(o, "kind", "blob");
            json_set_copy(o, "blob", order[i]->blob);
        } else {
            json_set_str(o, "kind", "json");
            json_set_num(o, "approxChars", (double)order[i]->approx);
        }
        cJSON_AddItemToArray(arr, o);
    }
    free(order);
    *out = arr;
    return 0;
}
