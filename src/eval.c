#include "eval.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "compile.h"
#include "dataset.h"
#include "json.h"
#include "predict.h"
#include "reward.h"
#include "store.h"
#include "util.h"

/* ---- cache ---- */

struct cache_entry {
    char key[HASH_ID_LEN + 1];
    cJSON *result;
    struct cache_entry *next;
};

#define CACHE_BUCKETS 1024

struct eval_cache {
    pthread_mutex_t lock;
    struct cache_entry *b[CACHE_BUCKETS];
    size_t n;
};

struct eval_cache *eval_cache_new(void)
{
    struct eval_cache *c = xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void eval_cache_free(struct eval_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < CACHE_BUCKETS; i++) {
        struct cache_entry *e = c->b[i];
        while (e) {
            struct cache_entry *nx = e->next;
            cJSON_Delete(e->result);
            free(e);
            e = nx;
        }
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

size_t eval_cache_size(struct eval_cache *c)
{
    if (!c)
        return 0;
    pthread_mutex_lock(&c->lock);
    size_t n = c->n;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static unsigned key_bucket(const char *key)
{
    /* The key is a hex digest: its first hex digits are uniform already. */
    unsigned h = 0;
    for (const char *p = key + 7; *p && p < key + 13; p++)
        h = h * 16 + (unsigned)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
    return h % CACHE_BUCKETS;
}

/* A copy of the cached result, or NULL. */
static cJSON *cache_get(struct eval_cache *c, const char *key)
{
    if (!c)
        return NULL;
    cJSON *out = NULL;
    pthread_mutex_lock(&c->lock);
    for (struct cache_entry *e = c->b[key_bucket(key)]; e; e = e->next)
        if (strcmp(e->key, key) == 0) {
            out = json_dup(e->result);
            break;
        }
    pthread_mutex_unlock(&c->lock);
    return out;
}

static void cache_put(struct eval_cache *c, const char *key, const cJSON *result)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    unsigned b = key_bucket(key);
    for (struct cache_entry *e = c->b[b]; e; e = e->next)
        if (strcmp(e->key, key) == 0) {
            pthread_mutex_unlock(&c->lock);
            return;
        }
    struct cache_entry *e = xcalloc(1, sizeof *e);
    snprintf(e->key, sizeof e->key, "%s", key);
    e->result = json_dup(result);
    e->next = c->b[b];
    c->b[b] = e;
    c->n++;
    pthread_mutex_unlock(&c->lock);
}

static void cache_key(const char *sig_id, const char *compiled_id, const char *dataset_hash,
                      const struct reward_bundle *rw, const char *example_id,
                      char out[HASH_ID_LEN + 1])
{
    cJSON *k = json_obj();
    json_set_str(k, "signatureId", sig_id);
    json_set_str(k, "compiled_id", compiled_id);
    json_set_str(k, "datasetHash", dataset_hash);
    json_set_str(k, "metricId", rw->id);
    json_set_num(k, "metricVersion", rw->version);
    json_set_str(k, "exampleId", example_id);
    json_set_str(k, "format", "openagents.dse.eval_cache_key");
    json_set_num(k, "formatVersion", 1);
    hash_json(k, out);
    cJSON_Delete(k);
}

/* ---- hashes and summaries ---- */

void eval_hash(const char *signature_id, const char *compiled_id, const char *dataset_hash,
               const char *reward_id, int reward_version, const char *split,
               const char *selected_ids_hash, char out[HASH_ID_LEN + 1])
{
    cJSON *k = json_obj();
    json_set_str(k, "signatureId", signature_id);
    json_set_str(k, "compiled_id", compiled_id);
    json_set_str(k, "datasetHash", dataset_hash);
    json_set_str(k, "rewardId", reward_id);
    json_set_num(k, "rewardVersion", reward_version);
    json_set_str(k, "split", split ? split : "");
    json_set_str(k, "selectedExampleIdsHash", selected_ids_hash ? selected_ids_hash : "");
    hash_json(k, out);
    cJSON_Delete(k);
}

cJSON *eval_summary(const struct eval_set *set, const struct reward_bundle *reward, double mean)
{
    cJSON *s = json_obj();
    json_set_num(s, "evalVersion", 1);
    json_set_str(s, "kind", "scored");
    json_set_num(s, "reward", set->n ? mean : 0);
    json_set_str(s, "datasetId", set->dataset_id);
    json_set_str(s, "datasetHash", set->dataset_hash);
    json_set_str(s, "metricId", reward->id);
    json_set_num(s, "metricVersion", reward->version);
    json_set_num(s, "n", (double)set->n);
    if (set->selected_ids_hash[0])
        json_set_str(s, "selectedExampleIdsHash", set->selected_ids_hash);
    return s;
}

/* ---- one example ---- */

static cJSON *predict_meta(const struct predict_result *r)
{
    cJSON *m = json_obj();
    const cJSON *rc = r->receipt;
    json_set_str(m, "strategyId", json_str(rc, "strategyId", "direct.v1"));
    json_set_num(m, "durationMs",
                 json_num(json_get(rc, "timing"), "durationMs", (double)r->duration_ms));
    const cJSON *cp = json_get(rc, "contextPressure");
    if (cp)
        json_set_copy(m, "contextPressure", cp);
    else
        json_set_null(m, "contextPressure");
    const cJSON *usage = json_path(rc, "budget.usage");
    if (usage)
        json_set_copy(m, "budgetUsage", usage);
    else
        json_set_null(m, "budgetUsage");
    return m;
}

static cJSON *run_example(const struct eval_ctx *ctx, const struct eval_candidate *cand,
                          const struct eval_set *set, const struct eval_example *ex)
{
    struct predict_result pr = {0};
    predict_run(ctx->signature, cand->compiled_id, cand->params, ex->input, ctx->lm, ex->blobs,
                &pr);
    struct reward_input in = {
        .input = ex->input, .expected = ex->expected, .pred = &pr, .judge = ctx->judge};
    cJSON *signals = NULL;
    int judge_calls = 0;
    double r = reward_score(ctx->reward, &in, &signals, &judge_calls);

    cJSON *o = json_obj();
    json_set_str(o, "exampleId", ex->id);
    json_set_str(o, "signatureId", json_str(ctx->signature, "signatureId", ""));
    json_set_str(o, "compiled_id", cand->compiled_id);
    json_set_str(o, "datasetHash", set->dataset_hash);
    json_set_str(o, "rewardId", ctx->reward->id);
    json_set_num(o, "rewardVersion", ctx->reward->version);
    json_set_num(o, "reward", r);
    json_set(o, "signals", signals);
    json_set(o, "predictMeta", predict_meta(&pr));
    if (pr.ok && pr.output) {
        const char *oh = json_str(json_get(pr.receipt, "hashes"), "outputHash", NULL);
        char h[HASH_ID_LEN + 1];
        if (!oh) {
            hash_json(pr.output, h);
            oh = h;
        }
        json_set_str(o, "outputHash", oh);
    } else {
        cJSON *e = json_obj();
        json_set_str(e, "errorName", pr.error.code[0] ? pr.error.code : "PredictError");
        json_set_str(e, "message", pr.error.msg);
        json_set(o, "error", e);
    }
    predict_result_free(&pr);
    return o;
}

/* ---- the pool ---- */

struct pool {
    const struct eval_ctx *ctx;
    struct eval_candidate *cands;
    size_t n_cands;
    const struct eval_set *set;
    bool details;
    cJSON **results;      /* n_cands * set->n */
    double *rewards;
    int *remaining;       /* per candidate */
    atomic_size_t next;
    pthread_mutex_t lock; /* remaining, callbacks */
};

static bool canceled(const struct eval_ctx *ctx)
{
    return ctx->cancel && atomic_load(ctx->cancel) != 0;
}

static void finish_candidate(struct pool *p, size_t c)
{
    struct eval_candidate *cand = &p->cands[c];
    size_t m = p->set->n;
    double sum = 0;
    int errors = 0;
    for (size_t e = 0; e < m; e++) {
        cJSON *r = p->results[c * m + e];
        sum += p->rewards[c * m + e];
        if (r && json_get(r, "error"))
            errors++;
    }
    cand->reward = m ? sum / (double)m : 0;
    cand->errors = errors;
    if (p->details) {
        cJSON_Delete(cand->examples);
        cand->examples = json_arr();
        for (size_t e = 0; e < m; e++) {
            cJSON_AddItemToArray(cand->examples, p->results[c * m + e]);
            p->results[c * m + e] = NULL;
        }
    }
    if (p->ctx->on_done)
        p->ctx->on_done(p->ctx->user, c, cand);
}

static void *pool_worker(void *arg)
{
    struct pool *p = arg;
    size_t m = p->set->n, total = p->n_cands * m;
    for (;;) {
        if (canceled(p->ctx))
            break;
        size_t t = atomic_fetch_add(&p->next, 1);
        if (t >= total)
            break;
        size_t c = t / m, e = t % m;
        struct eval_candidate *cand = &p->cands[c];
        const struct eval_example *ex = &p->set->ex[e];
        char key[HASH_ID_LEN + 1];
        cache_key(json_str(p->ctx->signature, "signatureId", ""), cand->compiled_id,
                  p->set->dataset_hash, p->ctx->reward, ex->id, key);
        cJSON *r = cache_get(p->ctx->cache, key);
        int hit = r != NULL;
        if (!r) {
            r = run_example(p->ctx, cand, p->set, ex);
            cache_put(p->ctx->cache, key, r);
        }
        p->results[t] = r;
        p->rewards[t] = json_num(r, "reward", 0);
        pthread_mutex_lock(&p->lock);
        if (hit)
            cand->cached++;
        if (--p->remaining[c] == 0)
            finish_candidate(p, c);
        pthread_mutex_unlock(&p->lock);
    }
    return NULL;
}

void eval_candidate_clear(struct eval_candidate *c)
{
    cJSON_Delete(c->examples);
    c->examples = NULL;
}

int eval_candidates(const struct eval_ctx *ctx, struct eval_candidate *cands, size_t n,
                    const struct eval_set *set, bool details, struct dse_err *err)
{
    size_t m = set->n;
    struct pool p = {.ctx = ctx, .cands = cands, .n_cands = n, .set = set, .details = details};
    atomic_init(&p.next, 0);
    pthread_mutex_init(&p.lock, NULL);
    p.results = xcalloc(n * m + 1, sizeof *p.results);
    p.rewards = xcalloc(n * m + 1, sizeof *p.rewards);
    p.remaining = xcalloc(n + 1, sizeof *p.remaining);
    for (size_t c = 0; c < n; c++) {
        cands[c].reward = 0;
        cands[c].errors = 0;
        cands[c].cached = 0;
        eval_candidate_clear(&cands[c]);
        p.remaining[c] = (int)m;
    }
    if (m == 0) {
        for (size_t c = 0; c < n; c++) {
            if (details)
                cands[c].examples = json_arr();
            if (ctx->on_done)
                ctx->on_done(ctx->user, c, &cands[c]);
        }
    } else {
        int threads = ctx->concurrency > 0 ? ctx->concurrency : 4;
        if (threads > 64)
            threads = 64;
        if ((size_t)threads > n * m)
            threads = (int)(n * m);
        pthread_t tid[64];
        int started = 0;
        for (int i = 1; i < threads; i++) {
            if (pthread_create(&tid[started], NULL, pool_worker, &p) != 0)
                break;
            started++;
        }
        pool_worker(&p); /* the caller works too */
        for (int i = 0; i < started; i++)
            pthread_join(tid[i], NULL);
    }
    for (size_t t = 0; t < n * m; t++)
        cJSON_Delete(p.results[t]);
    free(p.results);
    free(p.rewards);
    free(p.remaining);
    pthread_mutex_destroy(&p.lock);
    if (canceled(ctx))
        return dse_fail(err, "canceled", "evaluation canceled");
    return 0;
}

/* ---- dataset views, reward, judge, ops events ---- */

void eval_set_view(struct eval_set *set, const struct dataset *d)
{
    memset(set, 0, sizeof *set);
    set->dataset_id = d->id;
    snprintf(set->dataset_hash, sizeof set->dataset_hash, "%s", d->hash);
    snprintf(set->selected_ids_hash, sizeof set->selected_ids_hash, "%s", d->ids_hash);
    struct eval_example *ex = xcalloc(d->n + 1, sizeof *ex);
    for (size_t i = 0; i < d->n; i++) {
        ex[i].id = d->ex[i].id;
        ex[i].input = d->ex[i].input;
        ex[i].expected = d->ex[i].expected;
        const cJSON *blobs = json_get(d->ex[i].meta, "blobs");
        ex[i].blobs = cJSON_IsArray(blobs) ? blobs : NULL;
    }
    set->ex = ex;
    set->n = d->n;
}

void eval_set_release(struct eval_set *set)
{
    free((void *)set->ex);
    set->ex = NULL;
    set->n = 0;
}

const struct reward_bundle *eval_reward_for(const cJSON *signature, struct dse_err *err)
{
    cJSON *job = catalog_compile_job(signature);
    const char *id = json_str(job, "metricId", REWARD_EXACT_JSON_MATCH);
    const struct reward_bundle *b = reward_find(id);
    if (!b)
        dse_fail(err, "invalid_job", "unknown reward bundle %s", id);
    cJSON_Delete(job);
    return b;
}

void eval_judge_load(struct store *st, struct lm_client *lm, struct eval_judge *out)
{
    memset(out, 0, sizeof *out);
    struct dse_err err = {0};
    out->signature = store_signature(st, REWARD_JUDGE_SIGNATURE_ID, &err);
    out->j.lm = lm;
    if (!out->signature)
        return;
    catalog_default_id(out->signature, out->compiled_id);
    out->j.signature = out->signature;
    out->j.compiled_id = out->compiled_id;
    out->j.params = catalog_default_params(out->signature);
    /* the pinned artifact, as the reference stores it before judging */
    cJSON *art = compile_artifact(out->signature, out->j.params, NULL, NULL, NULL);
    cJSON *opt = json_obj();
    json_set_str(opt, "id", "pinned_judge.v1");
    json_set(art, "optimizer", opt);
    cJSON *args = json_obj();
    json_set_str(args, "signatureId", REWARD_JUDGE_SIGNATURE_ID);
    json_set_str(args, "compiled_id", out->compiled_id);
    json_set(args, "json", art);
    if (!st->read_only)
        store_call(st, STORE_OP_artifacts_put, args, NULL, &err);
    cJSON_Delete(args);
}

void eval_judge_free(struct eval_judge *j)
{
    cJSON_Delete(j->signature);
    memset(j, 0, sizeof *j);
}

void eval_ops_event(struct store *st, const char *run_id, const char *level, const char *phase,
                    cJSON *json, const char *fmt, ...)
{
    if (!run_id || !*run_id || !st) {
        cJSON_Delete(json);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    cJSON *args = json_obj();
    json_set_str(args, "runId", run_id);
    json_set_str(args, "level", level ? level : "info");
    if (phase)
        json_set_str(args, "phase", phase);
    json_set_str(args, "message", msg);
    if (json)
        json_set(args, "json", json);
    struct dse_err err = {0};
    store_call(st, STORE_OP_runs_event, args, NULL, &err);
    cJSON_Delete(args);
    free(msg);
}

/* ---- dse eval ---- */

void eval_outcome_free(struct eval_outcome *o)
{
    cJSON_Delete(o->summary);
    o->summary = NULL;
}

int eval_report(struct store *st, struct lm_client *lm, const struct eval_request *req,
                struct eval_outcome *out, struct dse_err *err)
{
    memset(out, 0, sizeof *out);
    if (!lm)
        return dse_fail(err, "invalid_input", "eval needs an LM client (lmopts_open)");
    const char *split = req->split && *req->split ? req->split : "holdout";
    int limit = req->limit > 0 ? req->limit : 500;
    if (limit > 500)
        limit = 500;
    cJSON *sig = store_signature(st, req->signature_id, err);
    if (!sig)
        return -1;
    int rc = -1;
    struct dataset *all = NULL, *lim = NULL, *sub = NULL;
    cJSON *art = NULL, *report = NULL;
    struct eval_judge judge = {0};
    struct eval_set set = {0};
    struct eval_cache *cache = NULL;
    const struct reward_bundle *rw = eval_reward_for(sig, err);
    if (!rw)
        goto done;
    if (rw->needs_judge)
        eval_judge_load(st, lm, &judge);
    if (!(all = dataset_load(st, sig, err)))
        goto done;
    size_t keep = all->n < (size_t)limit ? all->n : (size_t)limit;
    size_t *idx = xcalloc(keep + 1, sizeof *idx);
    for (size_t i = 0; i < keep; i++)
        idx[i] = i;
    lim = dataset_select(all, idx, keep);
    free(idx);
    sub = dataset_split(lim, split);
    if (!sub || sub->n == 0) {
        dse_fail(err, "no_examples", "%s has no %s examples (of %zu loaded)", req->signature_id,
                 split, lim ? lim->n : 0);
        goto done;
    }
    if (!(art = store_artifact(st, req->signature_id, req->compiled_id, err)))
        goto done;
    const cJSON *params = json_get(art, "params");
    if (!cJSON_IsObject(params)) {
        dse_fail(err, "invalid_artifact", "artifact %s has no params object", req->compiled_id);
        goto done;
    }
    eval_set_view(&set, sub);
    eval_hash(req->signature_id, req->compiled_id, sub->hash, rw->id, rw->version, split,
              sub->ids_hash, out->eval_hash);
    out->n = (int)sub->n;

    /* An eval report is immutable and keyed by what was evaluated: a second
     * request for the same key needs no LM calls. */
    cJSON *ga = json_obj(), *got = NULL;
    json_set_str(ga, "signatureId", req->signature_id);
    json_set_str(ga, "evalHash", out->eval_hash);
    int grc = store_call(st, STORE_OP_eval_get, ga, &got, err);
    cJSON_Delete(ga);
    if (grc < 0)
        goto done;
    const cJSON *prev = json_get(got, "report");
    if (cJSON_IsObject(prev)) {
        out->existed = true;
        out->summary = json_dup(json_path(prev, "json.summary"));
        out->reward = json_num(out->summary, "reward", 0);
        const cJSON *exs;
        cJSON_ArrayForEach(exs, json_path(prev, "json.examples")) if (json_get(exs, "error"))
            out->errors++;
        cJSON_Delete(got);
        rc = 0;
        goto done;
    }
    cJSON_Delete(got);

    eval_ops_event(st, req->ops_run_id, "info", "phase7.eval.start", NULL,
                   "eval start %s n=%zu split=%s", req->compiled_id, sub->n, split);
    cache = eval_cache_new();
    struct eval_ctx ctx = {.signature = sig,
                           .reward = rw,
                           .judge = rw->needs_judge ? &judge.j : NULL,
                           .lm = lm,
                           .cache = cache,
                           .concurrency = req->concurrency};
    struct eval_candidate cand = {.compiled_id = req->compiled_id, .params = params};
    if (eval_candidates(&ctx, &cand, 1, &set, true, err) < 0) {
        eval_candidate_clear(&cand);
        goto done;
    }
    out->reward = cand.reward;
    out->errors = cand.errors;
    out->summary = eval_summary(&set, rw, cand.reward);
    report = json_obj();
    json_set_str(report, "format", "openagents.dse.eval_report");
    json_set_num(report, "formatVersion", 1);
    json_set_copy(report, "summary", out->summary);
    if (req->include_details)
        json_set(report, "examples", cand.examples);
    else
        cJSON_Delete(cand.examples);
    cand.examples = NULL;

    cJSON *pa = json_obj(), *res = NULL;
    json_set_str(pa, "signatureId", req->signature_id);
    json_set_str(pa, "evalHash", out->eval_hash);
    json_set_str(pa, "compiled_id", req->compiled_id);
    json_set_str(pa, "datasetId", sub->id);
    json_set_str(pa, "datasetHash", sub->hash);
    json_set_str(pa, "rewardId", rw->id);
    json_set_num(pa, "rewardVersion", rw->version);
    json_set_str(pa, "split", split);
    json_set_str(pa, "selectedExampleIdsHash", sub->ids_hash);
    json_set_num(pa, "n", (double)sub->n);
    json_set(pa, "json", report);
    report = NULL;
    int prc = store_call(st, STORE_OP_eval_put, pa, &res, err);
    cJSON_Delete(pa);
    if (prc < 0)
        goto done;
    out->existed = json_bool(res, "existed", false);
    cJSON_Delete(res);
    cJSON *ev = json_obj();
    json_set_str(ev, "evalHash", out->eval_hash);
    json_set_num(ev, "reward", out->reward);
    json_set_num(ev, "n", out->n);
    eval_ops_event(st, req->ops_run_id, "info", "phase7.eval.finish", ev,
                   "eval finish %s reward=%.4f n=%d", req->compiled_id, out->reward, out->n);
    rc = 0;
done:
    if (rc < 0)
        eval_outcome_free(out);
    cJSON_Delete(report);
    eval_cache_free(cache);
    eval_set_release(&set);
    cJSON_Delete(art);
    dataset_free(sub);
    dataset_free(lim);
    dataset_free(all);
    eval_judge_free(&judge);
    cJSON_Delete(sig);
    return rc;
}
