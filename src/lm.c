/* lm: provider dispatch, the common entry points, and the store-backed
 * response cache.
 *
 * Ownership, mirroring store.h: a provider constructor allocates the
 * struct lm_client (zeroed, with xcalloc) and its impl; provider->close
 * releases impl only, and lm_close frees the struct itself.
 *
 * Counting: lm_complete bumps c->calls for every call it hands to a real
 * provider, so providers never touch the counters themselves.  The cache
 * wrapper counts its own hits and the misses it forwards. */
#include "lm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "json.h"
#include "store.h"
#include "util.h"

/* ---- entry points ---- */

struct lm_client *lm_open(const struct lm_config *cfg, struct dse_err *err)
{
    static const struct lm_config defaults;
    if (!cfg)
        cfg = &defaults;
    const char *p = cfg->provider && cfg->provider[0] ? cfg->provider : "local-knn";
    if (strcmp(p, "openai") == 0)
        return lm_openai_open(cfg, err);
    if (strcmp(p, "local-knn") == 0)
        return lm_knn_open(cfg, err);
    dse_fail(err, "invalid_input", "unknown LM provider \"%s\" (expected openai or local-knn)", p);
    return NULL;
}

static const struct lm_provider cache_provider;

void lm_close(struct lm_client *c)
{
    if (!c)
        return;
    if (c->prov && c->prov->close)
        c->prov->close(c);
    free(c);
}

static int check_request(const struct lm_request *req, struct dse_err *err)
{
    if (!req)
        return dse_fail(err, "invalid_input", "no request");
    if (!req->messages || req->n_messages == 0)
        return dse_fail(err, "invalid_input", "request has no messages");
    for (size_t i = 0; i < req->n_messages; i++)
        if (!req->messages[i].role || !req->messages[i].content)
            return dse_fail(err, "invalid_input", "message %zu has no role or content", i);
    if (req->has_temperature && !isfinite(req->temperature))
        return dse_fail(err, "invalid_input", "temperature is not a finite number");
    if (req->has_top_p && !isfinite(req->top_p))
        return dse_fail(err, "invalid_input", "top_p is not a finite number");
    if (req->max_tokens < 0)
        return dse_fail(err, "invalid_input", "max_tokens is negative");
    return 0;
}

int lm_complete(struct lm_client *c, const struct lm_request *req, struct lm_response *resp,
                struct dse_err *err)
{
    if (!resp)
        return dse_fail(err, "invalid_input", "no response buffer");
    memset(resp, 0, sizeof *resp);
    resp->prompt_tokens = resp->completion_tokens = resp->total_tokens = -1;
    if (!c || !c->prov)
        return dse_fail(err, "invalid_input", "no LM client");
    if (check_request(req, err) < 0)
        return -1;
    if (c->prov != &cache_provider)
        __atomic_add_fetch(&c->calls, 1, __ATOMIC_RELAXED);
    int rc = c->prov->complete(c, req, resp, err);
    if (rc < 0) {
        free(resp->text);
        resp->text = NULL;
    } else if (!resp->text) {
        resp->text = xstrdup("");
    }
    return rc;
}

void lm_response_free(struct lm_response *resp)
{
    if (!resp)
        return;
    free(resp->text);
    resp->text = NULL;
}

const char *lm_describe(const struct lm_client *c)
{
    return c ? c->desc : "";
}

void lm_stats(const struct lm_client *c, uint64_t *calls, uint64_t *cache_hits)
{
    if (calls)
        *calls = c ? __atomic_load_n(&c->calls, __ATOMIC_RELAXED) : 0;
    if (cache_hits)
        *cache_hits = c ? __atomic_load_n(&c->cache_hits, __ATOMIC_RELAXED) : 0;
}

/* ---- canonical request (the cache key) ---- */

static cJSON *canonical_tree(const struct lm_request *req, const char *default_model)
{
    cJSON *o = json_obj();
    const char *model = req->model && req->model[0] ? req->model : default_model;
    json_set_str(o, "model", model ? model : "");
    cJSON *msgs = json_arr();
    for (size_t i = 0; i < req->n_messages; i++) {
        cJSON *m = json_obj();
        json_set_str(m, "role", req->messages[i].role ? req->messages[i].role : "");
        json_set_str(m, "content", req->messages[i].content ? req->messages[i].content : "");
        cJSON_AddItemToArray(msgs, m);
    }
    json_set(o, "messages", msgs);
    if (req->has_temperature)
        json_set_num(o, "temperature", req->temperature);
    if (req->has_top_p)
        json_set_num(o, "topP", req->top_p);
    if (req->max_tokens > 0)
        json_set_num(o, "maxTokens", req->max_tokens);
    return o;
}

char *lm_request_canonical(const struct lm_request *req, const char *default_model)
{
    if (!req)
        return xstrdup("null");
    cJSON *o = canonical_tree(req, default_model);
    char *s = json_canonical(o);
    cJSON_Delete(o);
    return s;
}

/* ---- cache wrapper ---- */

struct lm_cache {
    struct lm_client *inner;
    struct store *st;
};

static int int_field(const cJSON *o, const char *key)
{
    const cJSON *v = json_get(o, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > 2e9)
        return -1;
    return (int)v->valuedouble;
}

/* Fill resp from a stored entry; 0 on a usable hit, -1 when the entry is
 * malformed (then it is treated as a miss and overwritten). */
static int cache_fill(const cJSON *entry, struct lm_response *resp)
{
    const cJSON *r = json_get(entry, "response");
    const cJSON *text = json_get(r, "text");
    if (!cJSON_IsString(text) || !text->valuestring)
        return -1;
    resp->text = xstrdup(text->valuestring);
    const cJSON *usage = json_get(r, "usage");
    resp->prompt_tokens = int_field(usage, "prompt_tokens");
    resp->completion_tokens = int_field(usage, "completion_tokens");
    resp->total_tokens = int_field(usage, "total_tokens");
    const char *model = json_str(r, "model", json_str(entry, "model", ""));
    snprintf(resp->model, sizeof resp->model, "%s", model);
    resp->cache_hit = true;
    resp->latency_ms = 0;
    resp->attempts = 0;
    return 0;
}

static int cache_complete(struct lm_client *c, const struct lm_request *req,
                          struct lm_response *resp, struct dse_err *err)
{
    struct lm_cache *k = c->impl;
    cJSON *canon = canonical_tree(req, c->default_model);
    char key[HASH_ID_LEN + 1];
    hash_json(canon, key);
    cJSON_Delete(canon);

    /* Any store trouble turns the cache into a pass-through: the cache may
     * save money, it must never cost a call. */
    if (store_has_op(k->st, STORE_OP_x_lm_get)) {
        cJSON *args = json_obj(), *out = NULL;
        json_set_str(args, "key", key);
        struct dse_err serr;
        if (store_call(k->st, STORE_OP_x_lm_get, args, &out, &serr) == 0) {
            const cJSON *entry = json_get(out, "entry");
            if (cJSON_IsObject(entry) && cache_fill(entry, resp) == 0) {
                __atomic_add_fetch(&c->cache_hits, 1, __ATOMIC_RELAXED);
                cJSON_Delete(out);
                cJSON_Delete(args);
                return 0;
            }
        }
        cJSON_Delete(out);
        cJSON_Delete(args);
    }

    __atomic_add_fetch(&c->calls, 1, __ATOMIC_RELAXED);
    if (lm_complete(k->inner, req, resp, err) < 0)
        return -1; /* errors are never cached */

    if (store_has_op(k->st, STORE_OP_x_lm_put) && !k->st->read_only) {
        cJSON *args = json_obj();
        json_set_str(args, "key", key);
        const char *model = req->model && req->model[0] ? req->model : c->default_model;
        json_set_str(args, "model", model);
        cJSON *r = json_obj();
        json_set_str(r, "text", resp->text ? resp->text : "");
        cJSON *usage = json_obj();
        if (resp->prompt_tokens >= 0)
            json_set_num(usage, "prompt_tokens", resp->prompt_tokens);
        if (resp->completion_tokens >= 0)
            json_set_num(usage, "completion_tokens", resp->completion_tokens);
        if (resp->total_tokens >= 0)
            json_set_num(usage, "total_tokens", resp->total_tokens);
        json_set(r, "usage", usage);
        json_set_str(r, "model", resp->model);
        json_set(args, "response", r);
        struct dse_err serr;
        (void)store_call(k->st, STORE_OP_x_lm_put, args, NULL, &serr);
        cJSON_Delete(args);
    }
    return 0;
}

static void cache_close(struct lm_client *c)
{
    struct lm_cache *k = c->impl;
    if (!k)
        return;
    lm_close(k->inner);
    free(k);
    c->impl = NULL;
}

static const struct lm_provider cache_provider = {
    .name = "cache",
    .complete = cache_complete,
    .close = cache_close,
};

struct lm_client *lm_cache_wrap(struct lm_client *inner, struct store *st)
{
    if (!inner || !st)
        return inner;
    struct lm_cache *k = xcalloc(1, sizeof *k);
    k->inner = inner;
    k->st = st;
    struct lm_client *c = xcalloc(1, sizeof *c);
    c->prov = &cache_provider;
    c->impl = k;
    /* Receipts name the model, not the cache in front of it. */
    snprintf(c->desc, sizeof c->desc, "%s", inner->desc);
    snprintf(c->default_model, sizeof c->default_model, "%s", inner->default_model);
    return c;
}
