#include "demo.h"

#include "embedded.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "compile.h"
#include "dataset.h"
#include "eval.h"
#include "gate.h"
#include "json.h"
#include "predict.h"
#include "store.h"
#include "traffic.h"
#include "util.h"

#define DEMO_PREFIX "demo"
#define DEMO_THREADS 3

/* ---- the fixture ---- */

/* The real SelectTool dataset ships in db/datasets/ and is compiled into the
 * binary, so the demo needs no files.  Returns NULL when a build lacks it. */
static const struct embedded_file *builtin_dataset(void)
{
    for (const struct embedded_file *f = embedded_files; f->path; f++)
        if (strcmp(f->path, DEMO_DATASET_BUILTIN) == 0)
            return f;
    return NULL;
}

/* ---- helpers ---- */

struct demo {
    struct store *st;
    const struct demo_opts *o;
    struct demo_result *r;
};

static void step(struct demo *d, const char *name, cJSON *json, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void step(struct demo *d, const char *name, cJSON *json, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    eval_ops_event(d->st, DEMO_RUN_ID, "info", name, json, "%s", msg);
    if (d->o->progress)
        d->o->progress(d->o->user, name, msg);
    free(msg);
}

static int put_artifact(struct store *st, const char *sig, cJSON *art, struct dse_err *err)
{
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", sig);
    json_set_str(a, "compiled_id", json_str(art, "compiled_id", ""));
    json_set(a, "json", art);
    int rc = store_call(st, STORE_OP_artifacts_put, a, NULL, err);
    cJSON_Delete(a);
    return rc;
}

static int set_active(struct store *st, const char *sig, const char *id, const char *reason,
                      struct dse_err *err)
{
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", sig);
    json_set_str(a, "compiled_id", id);
    json_set_str(a, "reason", reason);
    int rc = store_call(st, STORE_OP_active_set, a, NULL, err);
    cJSON_Delete(a);
    return rc;
}

static int run_traffic(struct demo *d, const char *prefix, int threads, long count,
                       struct traffic_stats *ts, struct dse_err *err)
{
    struct traffic_opts to = {.signature_id = DEMO_SELECT_TOOL,
                              .lm = d->o->lm,
                              .count = count,
                              .threads = threads,
                              .split = "all",
                              .thread_prefix = prefix,
                              .run_id = "demo-traffic"};
    return traffic_run(d->st, &to, ts, err);
}

/* A salt that sends some, but not all, of the demo threads to the canary. */
static void demo_salt(int pct, char out[64])
{
    for (int i = 0; i < 1000; i++) {
        snprintf(out, 64, "demo-salt-%d", i);
        int in = 0;
        for (int k = 0; k < DEMO_THREADS; k++) {
            char tid[96];
            traffic_thread_id(DEMO_PREFIX, k, 0, tid);
            in += (int)hash_canary_bucket(out, tid, DEMO_SELECT_TOOL) < pct;
        }
        if (in >= 1 && in < DEMO_THREADS)
            return;
    }
}

/* A long chat thread for the RecapThread demo: a few decisions buried in
 * routine chatter, so an rlm_lite run has something to search for. */
static char *recap_thread_text(void)
{
    static const char *const speakers[] = {"Ada", "Autopilot"};
    static const char *const filler[] = {
        "Checking the build logs again; nothing new since this morning.",
        "The staging deploy finished, dashboards look normal.",
        "Reminder that the office is closed on Friday for maintenance.",
        "I reran the flaky integration test and it passed this time.",
        "Coffee machine on the third floor is fixed, for the record.",
        "Sharing the weekly metrics: latency flat, error rate flat.",
    };
    static const char *const facts[] = {
        "Decision: we will migrate the billing service to the new queue in March.",
        "Decision: Ada owns the rollback runbook and will publish it by Thursday.",
        "Decision: the canary rollout for the router starts at twenty percent.",
        "Open question: whether the holdout set needs more personal-information examples.",
    };
    struct sbuf b = {0};
    int f = 0;
    for (int i = 0; i < 72; i++) {
        const char *who = speakers[i % 2];
        const char *line = (i % 17 == 5 && f < 4) ? facts[f++] : filler[(i * 7) % 6];
        sbuf_printf(&b, "[%02d:%02d] %s: %s\n", 9 + i / 12, (i * 5) % 60, who, line);
    }
    return sbuf_take(&b);
}

/* ---- the steps ---- */

static int step_select_tool(struct demo *d, const cJSON *sig, struct dse_err *err)
{
    struct demo_result *r = d->r;
    /* dataset */
    struct dataset_import_result ir = {0};
    const struct embedded_file *f = d->o->dataset_path && *d->o->dataset_path ? NULL : builtin_dataset();
    if (f ? dataset_import_jsonl(d->st, sig, f->data, f->len, "import:dse demo", &ir, err)
          : dataset_import_file(d->st, sig, r->dataset_path, "import:dse demo", &ir, err))
        return -1;
    step(d, "dataset", NULL, "imported %d rows from %s (%d new, %d updated, %d total)", ir.rows,
         r->dataset_path, ir.inserted, ir.updated, ir.total);

    /* control seeded from the defaults: the first pointer history row */
    bool seeded = false;
    if (gate_seed_control(d->st, sig, &seeded, err) < 0)
        return -1;
    catalog_default_id(sig, r->default_id);
    if (seeded)
        step(d, "seed", NULL, "active pointer seeded from the defaults: %s", r->default_id);

    /* compile with local-knn */
    struct compile_opts co = {.signature_id = DEMO_SELECT_TOOL,
                              .lm = d->o->lm,
                              .concurrency = d->o->concurrency,
                              .ops_run_id = DEMO_RUN_ID};
    struct compile_result cr;
    if (compile_run(d->st, &co, &cr, err) < 0)
        return -1;
    snprintf(r->best_id, sizeof r->best_id, "%s", cr.compiled_id);
    r->train_reward = cr.train_reward;
    r->holdout_reward = cr.holdout_reward;
    r->candidates = cr.candidates;
    r->compile_ms = cr.wall_ms;
    step(d, "compile", compile_result_json(&cr),
         "compiled %s: %d candidates, train %.4f, holdout %.4f (%lld ms)", cr.compiled_id,
         cr.candidates, cr.train_reward, cr.holdout_reward, (long long)cr.wall_ms);

    /* promote through the gate (unless it is active already) */
    char active[HASH_ID_LEN + 8];
    if (store_active_id(d->st, DEMO_SELECT_TOOL, active, sizeof active, err) < 0)
        goto fail;
    if (strcmp(active, cr.compiled_id) != 0) {
        struct gate_opts go;
        gate_opts_init(&go);
        go.signature_id = DEMO_SELECT_TOOL;
        go.compiled_id = cr.compiled_id;
        go.lm = d->o->lm;
        go.concurrency = d->o->concurrency;
        go.ops_run_id = DEMO_RUN_ID;
        struct gate_result gr;
        char from[HASH_ID_LEN + 1];
        if (gate_promote(d->st, &go, &gr, from, err) < 0)
            goto fail;
        r->default_holdout = gr.baseline;
        step(d, "promote", NULL, "promoted %s -> %s (baseline=%.4f candidate=%.4f delta=%.4f)",
             from, cr.compiled_id, gr.baseline, gr.candidate, gr.delta);
    }

    /* a broken artifact: no LM call allowed, so every predict errors */
    cJSON *bparams = json_dup(json_path(cr.report, "report.best.params"));
    cJSON *bud = cJSON_IsObject(json_get(bparams, "budgets")) ? json_dup(json_get(bparams, "budgets"))
                                                               : json_obj();
    json_set_num(bud, "maxLmCalls", 0);
    json_set(bparams, "budgets", bud);
    cJSON *opt = json_obj();
    json_set_str(opt, "id", "demo_broken.v1");
    cJSON *art = compile_artifact(sig, bparams, NULL, opt, NULL);
    cJSON_Delete(opt);
    cJSON_Delete(bparams);
    snprintf(r->broken_id, sizeof r->broken_id, "%s", json_str(art, "compiled_id", ""));
    if (put_artifact(d->st, DEMO_SELECT_TOOL, art, err) < 0)
        goto fail;
    struct canary_start_opts so;
    canary_start_opts_init(&so);
    so.gate.signature_id = DEMO_SELECT_TOOL;
    so.gate.compiled_id = r->broken_id;
    so.rollout_pct = 100;
    so.min_samples = 10;
    so.max_error_rate = 0.2;
    so.salt = "demo-broken";
    so.skip_gate = true;
    so.reason = "demo: an artifact with maxLmCalls 0, to show an auto-stop";
    struct canary_start_result cs;
    if (gate_canary_start(d->st, &so, &cs, err) < 0)
        goto fail;
    canary_start_result_free(&cs);
    struct traffic_stats ts;
    if (run_traffic(d, "demo-broken", 1, 16, &ts, err) < 0)
        goto fail;
    step(d, "canary.auto_stop", traffic_stats_json(&ts),
         "broken canary %s: %ld errors then auto-stop; %ld calls served by the control",
         r->broken_id, ts.canary_errors, ts.calls - ts.canary);

    /* a healthy canary of the runner-up, left running */
    const cJSON *cands = json_path(cr.report, "report.evaluatedCandidates"), *c, *pick = NULL;
    cJSON_ArrayForEach(c, cands)
    {
        const char *id = json_str(c, "compiled_id", "");
        if (!strcmp(id, cr.compiled_id) || !strcmp(id, r->default_id))
            continue;
        if (!pick || json_num(c, "reward", 0) > json_num(pick, "reward", 0))
            pick = c;
    }
    if (pick) {
        cJSON *opt2 = json_obj();
        json_set_str(opt2, "id", cr.optimizer);
        json_set_str(opt2, "note", "runner-up candidate of the demo compile");
        cJSON *a2 = compile_artifact(sig, json_get(pick, "params"), NULL, opt2, NULL);
        cJSON_Delete(opt2);
        snprintf(r->canary_id, sizeof r->canary_id, "%s", json_str(a2, "compiled_id", ""));
        if (put_artifact(d->st, DEMO_SELECT_TOOL, a2, err) < 0)
            goto fail;
        char salt[64];
        demo_salt(50, salt);
        canary_start_opts_init(&so);
        so.gate.signature_id = DEMO_SELECT_TOOL;
        so.gate.compiled_id = r->canary_id;
        so.rollout_pct = 50;
        so.min_samples = 200;
        so.max_error_rate = 0.2;
        so.salt = salt;
        so.skip_gate = true;
        so.reason = "demo: the runner-up candidate, collecting samples";
        if (gate_canary_start(d->st, &so, &cs, err) < 0)
            goto fail;
        canary_start_result_free(&cs);
        if (run_traffic(d, DEMO_PREFIX, DEMO_THREADS, 24, &ts, err) < 0)
            goto fail;
        step(d, "canary.start", traffic_stats_json(&ts),
             "canary %s at 50%%: %ld of %ld calls routed to it so far", r->canary_id, ts.canary,
             ts.calls);
    }
    compile_result_free(&cr);
    return 0;
fail:
    compile_result_free(&cr);
    return -1;
}

static int step_recap(struct demo *d, const cJSON *sig, struct dse_err *err)
{
    struct demo_result *r = d->r;
    cJSON *job = catalog_compile_job(sig);
    /* the first knobs candidate after the base is an rlm_lite.v1 variant */
    cJSON *grid = compile_knobs_grid(catalog_default_params(sig), json_get(job, "searchSpace"), 2);
    cJSON_Delete(job);
    const cJSON *params = cJSON_GetArrayItem(grid, 1);
    if (!params || strcmp(json_str(json_get(params, "strategy"), "id", ""), "rlm_lite.v1") != 0) {
        cJSON_Delete(grid);
        return dse_fail(err, "invalid_job", "RecapThread's search space has no rlm_lite.v1 variant");
    }
    cJSON *opt = json_obj();
    json_set_str(opt, "id", "demo_rlm_lite.v1");
    cJSON *art = compile_artifact(sig, params, NULL, opt, NULL);
    cJSON_Delete(opt);
    cJSON_Delete(grid);
    snprintf(r->recap_id, sizeof r->recap_id, "%s", json_str(art, "compiled_id", ""));
    if (put_artifact(d->st, DEMO_RECAP, art, err) < 0 ||
        set_active(d->st, DEMO_RECAP, r->recap_id, "demo: rlm_lite.v1 recap over a long thread",
                   err) < 0)
        return -1;

    char *text = recap_thread_text();
    char bid[HASH_ID_LEN + 1];
    hash_text(text, bid);
    cJSON *ref = json_obj();
    json_set_str(ref, "id", bid);
    json_set_str(ref, "hash", bid);
    json_set_num(ref, "size", (double)strlen(text));
    json_set_str(ref, "mime", "text/plain");
    cJSON *input = json_obj(), *chunks = json_arr();
    json_set_str(input, "question", "What was decided in this thread, and who owns what?");
    cJSON_AddItemToArray(chunks, ref);
    json_set(input, "threadChunks", chunks);
    cJSON *blobs = json_arr(), *b = json_obj();
    json_set_str(b, "id", bid);
    json_set_str(b, "text", text);
    json_set_str(b, "mime", "text/plain");
    cJSON_AddItemToArray(blobs, b);
    struct predict_live_opts lo = {.blobs = blobs};
    struct predict_result pr = {0};
    int rc = predict_live_ex(d->st, d->o->lm, sig, "demo-recap", "demo-recap-run", input, &lo, &pr,
                             err);
    free(text);
    cJSON_Delete(input);
    cJSON_Delete(blobs);
    if (rc < 0) {
        predict_result_free(&pr);
        return -1;
    }
    snprintf(r->recap_receipt, sizeof r->recap_receipt, "%s", pr.receipt_id);
    const cJSON *trace = json_get(pr.receipt, "rlmTrace");
    step(d, "rlm_lite", NULL, "RecapThread rlm_lite.v1 receipt %s: %s, trace blob %s (%lld events)",
         pr.receipt_id, pr.ok ? "Ok" : pr.error.code, json_str(json_get(trace, "blob"), "id", "-"),
         (long long)json_int(trace, "eventCount", 0));
    predict_result_free(&pr);
    return 0;
}

int demo_build(struct store *st, const struct demo_opts *o, struct demo_result *r,
               struct dse_err *err)
{
    memset(r, 0, sizeof *r);
    int64_t t0 = util_mono_ms();
    struct demo d = {.st = st, .o = o, .r = r};
    if (o->dataset_path && *o->dataset_path) {
        if (access(o->dataset_path, R_OK) != 0)
            return dse_fail(err, "dataset_not_found", "cannot read the dataset %s", o->dataset_path);
        snprintf(r->dataset_path, sizeof r->dataset_path, "%s", o->dataset_path);
    } else if (builtin_dataset()) {
        snprintf(r->dataset_path, sizeof r->dataset_path, "(built in) %s", DEMO_DATASET_BUILTIN);
    } else {
        return dse_fail(err, "dataset_not_found",
                        "this build has no built-in %s; pass --dataset PATH", DEMO_DATASET_NAME);
    }

    /* reuse a finished demo */
    cJSON *a = json_obj(), *got = NULL;
    json_set_str(a, "runId", DEMO_RUN_ID);
    int rc = store_call(st, STORE_OP_runs_get, a, &got, err);
    cJSON_Delete(a);
    if (rc < 0)
        return -1;
    bool done = !strcmp(json_str(json_get(got, "run"), "status", ""), "finished");
    cJSON_Delete(got);
    if (done) {
        r->reused = true;
        store_active_id(st, DEMO_SELECT_TOOL, r->best_id, sizeof r->best_id, err);
        r->total_ms = util_mono_ms() - t0;
        if (o->progress)
            o->progress(o->user, "reuse", "the demo store is already set up");
        return 0;
    }

    int added = 0, changed = 0;
    if (catalog_install(st, NULL, &added, &changed, err) < 0)
        return -1;
    a = json_obj();
    json_set_str(a, "runId", DEMO_RUN_ID);
    cJSON *ids = json_arr();
    cJSON_AddItemToArray(ids, cJSON_CreateString(DEMO_SELECT_TOOL));
    cJSON_AddItemToArray(ids, cJSON_CreateString(DEMO_RECAP));
    json_set(a, "signatureIds", ids);
    json_set_str(a, "notes", "dse demo: an offline store built with the local-knn model");
    rc = store_call(st, STORE_OP_runs_start, a, NULL, err);
    cJSON_Delete(a);
    if (rc < 0)
        return -1;
    step(&d, "catalog", NULL, "catalog installed (%d new, %d changed signatures)", added, changed);

    cJSON *sel = store_signature(st, DEMO_SELECT_TOOL, err);
    cJSON *rec = sel ? store_signature(st, DEMO_RECAP, err) : NULL;
    rc = -1;
    if (sel && rec && step_select_tool(&d, sel, err) == 0 && step_recap(&d, rec, err) == 0)
        rc = 0;
    cJSON_Delete(sel);
    cJSON_Delete(rec);
    r->total_ms = util_mono_ms() - t0;

    cJSON *sum = json_obj();
    json_set_str(sum, "bestCompiledId", r->best_id);
    json_set_str(sum, "defaultCompiledId", r->default_id);
    json_set_str(sum, "brokenCompiledId", r->broken_id);
    json_set_str(sum, "canaryCompiledId", r->canary_id);
    json_set_str(sum, "recapCompiledId", r->recap_id);
    json_set_str(sum, "recapReceiptId", r->recap_receipt);
    json_set_num(sum, "trainReward", r->train_reward);
    json_set_num(sum, "holdoutReward", r->holdout_reward);
    json_set_num(sum, "candidates", r->candidates);
    json_set_num(sum, "setupMs", (double)r->total_ms);
    if (rc < 0) {
        cJSON *e = json_obj();
        json_set_str(e, "code", err->code);
        json_set_str(e, "message", err->msg);
        json_set(sum, "error", e);
    }
    cJSON *fa = json_obj();
    json_set_str(fa, "runId", DEMO_RUN_ID);
    json_set_str(fa, "status", rc == 0 ? "finished" : "failed");
    json_set(fa, "summaryJson", sum);
    struct dse_err ferr = {0};
    store_call(st, STORE_OP_runs_finish, fa, NULL, &ferr);
    cJSON_Delete(fa);
    return rc;
}

/* ---- live traffic for the console ---- */

struct demo_traffic {
    struct store *st;
    struct traffic_opts to;
    struct traffic_stats stats;
    struct dse_err err;
    atomic_int stop;
    pthread_t tid;
    bool started;
};

static void *demo_traffic_main(void *arg)
{
    struct demo_traffic *t = arg;
    traffic_run(t->st, &t->to, &t->stats, &t->err);
    return NULL;
}

struct demo_traffic *demo_traffic_start(struct store *st, struct lm_client *lm, double rate,
                                        int threads)
{
    struct demo_traffic *t = xcalloc(1, sizeof *t);
    t->st = st;
    atomic_init(&t->stop, 0);
    t->to = (struct traffic_opts){.signature_id = DEMO_SELECT_TOOL,
                                  .lm = lm,
                                  .rate = rate > 0 ? rate : 4,
                                  .threads = threads > 0 ? threads : DEMO_THREADS,
                                  .split = "all",
                                  .thread_prefix = DEMO_PREFIX,
                                  .run_id = "demo-live-traffic",
                                  .stop = &t->stop};
    t->started = pthread_create(&t->tid, NULL, demo_traffic_main, t) == 0;
    return t;
}

long demo_traffic_stop(struct demo_traffic *t)
{
    if (!t)
        return 0;
    atomic_store(&t->stop, 1);
    if (t->started)
        pthread_join(t->tid, NULL);
    long n = t->stats.calls;
    free(t);
    return n;
}
