#include "store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "sanitize.h"
#include "util.h"

static const struct store_op_info op_table[STORE_OP__COUNT] = {
#define STORE_X_INFO(id, p, k) [STORE_OP_##id] = {.op = STORE_OP_##id, .name = #id, .path = p, .kind = k},
    STORE_OPS(STORE_X_INFO)
#undef STORE_X_INFO
};

const struct store_op_info *store_op_info(enum store_op op)
{
    return (unsigned)op < STORE_OP__COUNT ? &op_table[op] : NULL;
}

const struct store_op_info *store_op_by_path(const char *path)
{
    if (!path)
        return NULL;
    for (unsigned i = 0; i < STORE_OP__COUNT; i++)
        if (strcmp(op_table[i].path, path) == 0)
            return &op_table[i];
    return NULL;
}

int store_has_op(struct store *st, enum store_op op)
{
    return st && (unsigned)op < STORE_OP__COUNT && st->ops->fn[op] != NULL;
}

static bool too_deep(const cJSON *v)
{
    return json_depth(v, JSON_MAX_VALUE_DEPTH) > JSON_MAX_VALUE_DEPTH;
}

/* Whatever is stored must come back: a value deeper than
 * JSON_MAX_VALUE_DEPTH would, wrapped in a reply, pass the parser's limit
 * and could never be read (over --remote, or served by dse serve).  In a
 * batch (an argument that is an array of row objects) each row's fields
 * count on their own, so a row is taken exactly when the same values put
 * one at a time would be (an export imports again). */
static int check_depth(const struct store_op_info *info, const cJSON *args, struct dse_err *err)
{
    for (const cJSON *a = args->child; a; a = a->next) {
        if (!too_deep(a))
            continue;
        bool batch = cJSON_IsArray(a) && a->child;
        for (const cJSON *r = a->child; batch && r; r = r->next)
            batch = cJSON_IsObject(r);
        const cJSON *field = NULL;
        size_t row = 0;
        for (const cJSON *r = batch ? a->child : NULL; r && !field; r = r->next, row++)
            for (const cJSON *f = r->child; f && !field; f = f->next)
                if (too_deep(f))
                    field = f;
        if (batch && !field)
            continue;
        char name[80], sub[80] = "", where[200];
        sanitize_into(name, sizeof name, a->string ? a->string : "",
                      a->string ? strlen(a->string) : 0, 0);
        if (field) {
            sanitize_into(sub, sizeof sub, field->string ? field->string : "",
                          field->string ? strlen(field->string) : 0, 0);
            snprintf(where, sizeof where, "%s[%zu].%s", name, row - 1, sub);
        } else {
            snprintf(where, sizeof where, "%s", name);
        }
        return dse_fail(err, "invalid_input",
                        "%s: argument %s nests deeper than %d levels (the limit for stored JSON "
                        "values)",
                        info->path, where, JSON_MAX_VALUE_DEPTH);
    }
    return 0;
}

int store_call(struct store *st, enum store_op op, const cJSON *args, cJSON **out,
               struct dse_err *err)
{
    if (out)
        *out = NULL;
    if ((unsigned)op >= STORE_OP__COUNT)
        return dse_fail(err, "unsupported", "unknown store operation %d", (int)op);
    const struct store_op_info *info = &op_table[op];
    if (info->kind == STORE_MUTATION && st->read_only)
        return dse_fail(err, "read_only",
                        "%s refused: the store is open read-only (arm writes or drop --read-only)",
                        info->path);
    if (!st->ops->fn[op])
        return dse_fail(err, "unsupported", "%s is not available on this %s store", info->path,
                        st->ops->backend);
    cJSON *empty = NULL;
    if (!args)
        args = empty = json_obj();
    if (!cJSON_IsObject(args)) {
        cJSON_Delete(empty);
        return dse_fail(err, "invalid_input", "%s: arguments must be a JSON object", info->path);
    }
    if (info->kind == STORE_MUTATION && check_depth(info, args, err) < 0) {
        cJSON_Delete(empty);
        return -1;
    }
    cJSON *value = NULL;
    pthread_mutex_lock(&st->lock);
    int rc = st->ops->fn[op](st, args, &value, err);
    pthread_mutex_unlock(&st->lock);
    cJSON_Delete(empty);
    if (rc < 0) {
        cJSON_Delete(value);
        return -1;
    }
    if (out)
        *out = value ? value : cJSON_CreateNull();
    else
        cJSON_Delete(value);
    return 0;
}

uint64_t store_poll_changes(struct store *st)
{
    if (!st || !st->ops->poll_changes)
        return 0;
    pthread_mutex_lock(&st->lock);
    uint64_t v = st->ops->poll_changes(st);
    pthread_mutex_unlock(&st->lock);
    return v;
}

void store_base_init(struct store *st, const struct store_ops *ops, void *impl, const char *desc,
                     unsigned flags)
{
    st->ops = ops;
    st->impl = impl;
    snprintf(st->desc, sizeof st->desc, "%s", desc ? desc : "");
    st->actor[0] = 0;
    st->read_only = (flags & STORE_READ_ONLY) != 0;
    pthread_mutex_init(&st->lock, NULL);
}

void store_set_actor(struct store *st, const char *actor)
{
    snprintf(st->actor, sizeof st->actor, "%s", actor ? actor : "");
}

void store_close(struct store *st)
{
    if (!st)
        return;
    /* ops->close frees back-end state; the struct itself is freed here so
     * the lock can be destroyed last. */
    if (st->ops && st->ops->close)
        st->ops->close(st);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

/* ---- argument helpers ---- */

const cJSON *store_arg(const cJSON *args, const char *name)
{
    const cJSON *v = json_get(args, name);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

int store_arg_str(const cJSON *args, const char *name, bool required, size_t max_len,
                  const char **out, struct dse_err *err)
{
    const cJSON *v = store_arg(args, name);
    *out = NULL;
    if (!v) {
        if (required)
            return dse_fail(err, "invalid_input", "%s is required", name);
        return 0;
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return dse_fail(err, "invalid_input", "%s must be a string", name);
    if (required && !v->valuestring[0])
        return dse_fail(err, "invalid_input", "%s must not be empty", name);
    if (max_len && util_utf8_len(v->valuestring, strlen(v->valuestring)) > max_len)
        return dse_fail(err, "invalid_input", "%s is longer than %zu characters", name, max_len);
    *out = v->valuestring;
    return 0;
}

int store_arg_trimmed(const cJSON *args, const char *name, bool required, char *buf, size_t cap,
                      struct dse_err *err)
{
    const char *s;
    buf[0] = 0;
    if (store_arg_str(args, name, false, 0, &s, err) < 0)
        return -1;
    if (s) {
        char *t = xstrdup(s);
        char *tt = util_trim(t);
        if (strlen(tt) >= cap) {
            free(t);
            return dse_fail(err, "invalid_input", "%s is longer than %zu bytes", name, cap - 1);
        }
        strcpy(buf, tt);
        free(t);
    }
    if (required && !buf[0])
        return dse_fail(err, "invalid_input", "%s is required (non-empty)", name);
    return 0;
}

int store_arg_num(const cJSON *args, const char *name, bool required, double *out, bool *present,
                  struct dse_err *err)
{
    const cJSON *v = store_arg(args, name);
    if (present)
        *present = false;
    if (!v) {
        if (required)
            return dse_fail(err, "invalid_input", "%s is required", name);
        return 0;
    }
    if (!cJSON_IsNumber(v))
        return dse_fail(err, "invalid_input", "%s must be a number", name);
    *out = v->valuedouble;
    if (present)
        *present = true;
    return 0;
}

const char *const store_split_slots[STORE_SPLIT_SLOTS] = {"train", "holdout", "dev", "test",
                                                           "none"};

int store_split_slot(const char *split)
{
    for (int i = 0; split && i < STORE_SPLIT_SLOTS - 1; i++)
        if (strcmp(split, store_split_slots[i]) == 0)
            return i;
    return STORE_SPLIT_SLOTS - 1;
}

int store_arg_limit(const cJSON *args, const char *name, int def, int max)
{
    const cJSON *v = store_arg(args, name);
    if (!v || !cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return def;
    double d = floor(v->valuedouble);
    if (d < 0)
        d = 0;
    if (d > max)
        d = max;
    return (int)d;
}

/* ---- typed conveniences ---- */

int store_active_id(struct store *st, const char *sig, char *out, size_t cap, struct dse_err *err)
{
    cJSON *args = json_obj(), *res = NULL;
    json_set_str(args, "signatureId", sig);
    int rc = store_call(st, STORE_OP_active_get, args, &res, err);
    cJSON_Delete(args);
    if (rc < 0)
        return -1;
    snprintf(out, cap, "%s", json_str(res, "compiled_id", ""));
    cJSON_Delete(res);
    return 0;
}

cJSON *store_artifact(struct store *st, const char *sig, const char *compiled_id,
                      struct dse_err *err)
{
    cJSON *args = json_obj(), *res = NULL;
    json_set_str(args, "signatureId", sig);
    json_set_str(args, "compiled_id", compiled_id);
    int rc = store_call(st, STORE_OP_artifacts_get, args, &res, err);
    cJSON_Delete(args);
    if (rc < 0)
        return NULL;
    cJSON *art = cJSON_DetachItemFromObjectCaseSensitive(res, "artifact");
    cJSON_Delete(res);
    if (!art || !cJSON_IsObject(art)) {
        cJSON_Delete(art);
        dse_fail(err, "artifact_not_found", "no artifact %s for %s", compiled_id, sig);
        return NULL;
    }
    return art;
}

cJSON *store_signature(struct store *st, const char *sig, struct dse_err *err)
{
    cJSON *args = json_obj(), *res = NULL;
    json_set_str(args, "signatureId", sig);
    int rc = store_call(st, STORE_OP_x_sig_get, args, &res, err);
    cJSON_Delete(args);
    if (rc < 0)
        return NULL;
    cJSON *s = cJSON_DetachItemFromObjectCaseSensitive(res, "signature");
    cJSON_Delete(res);
    if (!s || !cJSON_IsObject(s)) {
        cJSON_Delete(s);
        dse_fail(err, "unknown_signature",
                 "signature %s is not in the catalog (run `dse init`, or `dse signatures` to list)",
                 sig);
        return NULL;
    }
    return s;
}

cJSON *store_canary(struct store *st, const char *sig, int *failed, struct dse_err *err)
{
    cJSON *args = json_obj(), *res = NULL;
    json_set_str(args, "signatureId", sig);
    int rc = store_call(st, STORE_OP_canary_get, args, &res, err);
    cJSON_Delete(args);
    *failed = rc < 0;
    if (rc < 0)
        return NULL;
    cJSON *c = cJSON_DetachItemFromObjectCaseSensitive(res, "canary");
    cJSON_Delete(res);
    if (c && !cJSON_IsObject(c)) {
        cJSON_Delete(c);
        c = NULL;
    }
    return c;
}
