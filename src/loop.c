#include "loop.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "eval.h"
#include "gate.h"
#include "json.h"
#include "store.h"
#include "traffic.h"
#include "util.h"

#define LOOP_TRAFFIC_PREFIX "loop"

void loop_opts_init(struct loop_opts *o)
{
    memset(o, 0, sizeof *o);
    o->rollout_pct = 20;
    o->min_samples = 20;
    o->max_error_rate = 0.2;
    o->min_delta = 0;
    o->timeout_ms = 180000;
    o->traffic_threads = 4;
    o->concurrency = 4;
    o->poll_ms = 100;
}

void loop_result_free(struct loop_result *r)
{
    cJSON_Delete(r->summary);
    r->summary = NULL;
}

struct lp {
    struct store *st;
    const struct loop_opts *o;
    struct loop_result *res;
};

static void say(struct lp *l, const char *level, const char *phase, cJSON *json, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));
static void say(struct lp *l, const char *level, const char *phase, cJSON *json, const char *fmt,
                ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    eval_ops_event(l->st, l->res->run_id, level, phase, json, "%s", msg);
    if (l->o->progress)
        l->o->progress(l->o->user, phase, msg);
    free(msg);
}

static bool canceled(const struct loop_opts *o)
{
    return o->cancel && atomic_load(o->cancel);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- background traffic ---- */

struct bg {
    struct store *st;
    struct traffic_opts to;
    struct traffic_stats stats;
    struct dse_err err;
    int rc;
    atomic_int stop;
    pthread_t tid;
    bool started;
};

static void *bg_main(void *arg)
{
    struct bg *b = arg;
    b->rc = traffic_run(b->st, &b->to, &b->stats, &b->err);
    return NULL;
}

/* The last canary history row (caller frees) or NULL. */
static cJSON *last_history(struct store *st, const char *sig)
{
    cJSON *a = json_obj(), *out = NULL;
    json_set_str(a, "signatureId", sig);
    json_set_num(a, "limit", 1);
    struct dse_err err = {0};
    int rc = store_call(st, STORE_OP_canary_history, a, &out, &err);
    cJSON_Delete(a);
    if (rc < 0)
        return NULL;
    cJSON *h = json_dup(cJSON_GetArrayItem(json_get(out, "history"), 0));
    cJSON_Delete(out);
    return h;
}

static cJSON *compile_json(const struct compile_result *c)
{
    cJSON *j = compile_result_json(c);
    return j;
}

static cJSON *gate_json(const struct gate_result *g, bool passed)
{
    cJSON *j = json_obj();
    json_set_bool(j, "passed", passed);
    json_set_str(j, "control_compiled_id", g->control_id[0] ? g->control_id : NULL);
    json_set_num(j, "baselineHoldoutReward", g->baseline);
    json_set_num(j, "candidateHoldoutReward", g->candidate);
    json_set_num(j, "delta", g->delta);
    json_set_num(j, "minHoldoutDelta", g->min_delta);
    json_set_num(j, "holdoutN", g->holdout_n);
    return j;
}

int loop_run(struct store *st, const struct loop_opts *o, struct loop_result *res,
             struct dse_err *err)
{
    memset(res, 0, sizeof *res);
    if (!o->lm)
        return dse_fail(err, "invalid_input", "the loop needs an LM client (lmopts_open)");
    struct lp l = {.st = st, .o = o, .res = res};
    if (o->run_id && *o->run_id) {
        snprintf(res->run_id, sizeof res->run_id, "%s", o->run_id);
    } else {
        char u[37];
        util_uuid(u);
        snprintf(res->run_id, sizeof res->run_id, "opsrun_%s", u);
    }
    int pct = o->rollout_pct > 0 ? o->rollout_pct : 20;
    if (pct > 100)
        pct = 100;
    int min_samples = o->min_samples > 0 ? o->min_samples : 20;
    double max_err = isnan(o->max_error_rate) ? 0.2 : o->max_error_rate;
    double min_delta = isnan(o->min_delta) ? 0 : o->min_delta;
    int64_t timeout = o->timeout_ms > 0 ? o->timeout_ms : 180000;
    int poll = o->poll_ms > 0 ? o->poll_ms : 100;

    cJSON *summary = json_obj();
    json_set_str(summary, "signatureId", o->signature_id);
    json_set_str(summary, "runId", res->run_id);
    cJSON *settings = json_obj();
    json_set_num(settings, "rolloutPct", pct);
    json_set_num(settings, "minSamples", min_samples);
    json_set_num(settings, "maxErrorRate", max_err);
    json_set_num(settings, "minHoldoutDelta", min_delta);
    json_set_num(settings, "timeoutMs", (double)timeout);
    json_set(summary, "settings", settings);

    /* ops run start */
    cJSON *ra = json_obj();
    json_set_str(ra, "runId", res->run_id);
    if (o->commit_sha && *o->commit_sha)
        json_set_str(ra, "commitSha", o->commit_sha);
    cJSON *sids = json_arr();
    cJSON_AddItemToArray(sids, cJSON_CreateString(o->signature_id));
    json_set(ra, "signatureIds", sids);
    json_set_str(ra, "notes", "dse loop: compile -> eval -> gate -> canary -> promote or stop");
    int rc = store_call(st, STORE_OP_runs_start, ra, NULL, err);
    cJSON_Delete(ra);
    if (rc < 0) {
        cJSON_Delete(summary);
        return -1;
    }
    if (o->progress)
        o->progress(o->user, "start", res->run_id);

    struct compile_result cr = {0};
    struct gate_result gr = {0};
    struct canary_start_result cs = {0};
    struct bg *bg = xcalloc(1, sizeof *bg);
    const char *outcome = "error";
    bool failed = true;

    /* compile */
    if (o->progress)
        o->progress(o->user, "compile.start", o->signature_id);
    struct compile_opts co = {.signature_id = o->signature_id,
                              .lm = o->lm,
                              .concurrency = o->concurrency,
                              .ops_run_id = res->run_id,
                              .progress = o->compile_progress,
                              .user = o->user,
                              .cancel = o->cancel,
                              /* a plain reference deployment can only serve
                               * what its runtime renders: compile for it */
                              .profile = compat_store_is_plain_reference(st)
                                             ? COMPAT_PROFILE_REFERENCE
                                             : NULL};
    if (compile_run(st, &co, &cr, err) < 0) {
        if (!strcmp(err->code, "canceled"))
            outcome = "canceled";
        goto finish;
    }
    snprintf(res->compiled_id, sizeof res->compiled_id, "%s", cr.compiled_id);
    json_set(summary, "compile", compile_json(&cr));
    say(&l, "info", "compile", NULL,
        "%s %s: train %.4f holdout %.4f, %d candidates, %llu LM calls, %llu cache hits",
        cr.existed ? "report exists" : "compiled", cr.compiled_id, cr.train_reward,
        cr.holdout_reward, cr.candidates, (unsigned long long)cr.lm_calls,
        (unsigned long long)cr.cache_hits);

    /* eval holdout: an eval report for the record */
    struct eval_request er = {.signature_id = o->signature_id,
                              .compiled_id = cr.compiled_id,
                              .split = "holdout",
                              .limit = 500,
                              .concurrency = o->concurrency,
                              .include_details = true,
                              .ops_run_id = res->run_id};
    struct eval_outcome eo = {0};
    struct dse_err eerr = {0};
    if (eval_report(st, o->lm, &er, &eo, &eerr) == 0) {
        cJSON *ej = json_obj();
        json_set_str(ej, "evalHash", eo.eval_hash);
        json_set_num(ej, "reward", eo.reward);
        json_set_num(ej, "n", eo.n);
        json_set_bool(ej, "existed", eo.existed);
        json_set(summary, "eval", ej);
        eval_outcome_free(&eo);
    } else {
        say(&l, "warn", "eval", NULL, "holdout eval failed: %s: %s", eerr.code, eerr.msg);
    }
    if (canceled(o)) {
        outcome = "canceled";
        failed = false;
        goto finish;
    }

    /* gate, against the control the canary will use */
    cJSON *sig = store_signature(st, o->signature_id, err);
    if (!sig)
        goto finish;
    bool seeded = false;
    rc = gate_seed_control(st, sig, &seeded, err);
    cJSON_Delete(sig);
    if (rc < 0)
        goto finish;
    if (seeded)
        say(&l, "info", "gate", NULL, "no active pointer: seeded the control from the defaults");
    char active[HASH_ID_LEN + 8];
    if (store_active_id(st, o->signature_id, active, sizeof active, err) < 0)
        goto finish;
    if (!strcmp(active, cr.compiled_id)) {
        outcome = "already_active";
        failed = false;
        say(&l, "info", "gate", NULL, "%s is already active: nothing to canary", cr.compiled_id);
        goto finish;
    }
    struct gate_opts go;
    gate_opts_init(&go);
    go.signature_id = o->signature_id;
    go.compiled_id = cr.compiled_id;
    go.min_delta = min_delta;
    go.lm = o->lm;
    go.concurrency = o->concurrency;
    go.ops_run_id = res->run_id;
    struct dse_err gerr = {0};
    if (gate_check(st, &go, &gr, &gerr) < 0) {
        json_set(summary, "gate", gate_json(&gr, false));
        if (!strcmp(gerr.code, "insufficient_improvement")) {
            outcome = "gate_failed";
            failed = false;
            say(&l, "warn", "gate", NULL, "gate refused: %s", gerr.msg);
        } else {
            *err = gerr;
        }
        goto finish;
    }
    json_set(summary, "gate", gate_json(&gr, true));
    if (o->progress) {
        char line[200];
        snprintf(line, sizeof line, "passed: baseline=%.4f candidate=%.4f delta=%.4f >= %.4f",
                 gr.baseline, gr.candidate, gr.delta, gr.min_delta);
        o->progress(o->user, "gate", line);
    }

    /* canary start, with a salt that routes some of our own threads to it */
    int threads = o->traffic_threads > 0 ? o->traffic_threads : 4;
    int per = 2;
    char salt[128];
    traffic_pick_salt(res->run_id, o->signature_id, LOOP_TRAFFIC_PREFIX, threads, per, pct, 1, salt);
    struct canary_start_opts so;
    canary_start_opts_init(&so);
    so.gate = go;
    so.rollout_pct = pct;
    so.min_samples = min_samples;
    so.max_error_rate = max_err;
    so.salt = salt;
    so.pre_gated = &gr;
    char reason[200];
    snprintf(reason, sizeof reason, "loop %s: baselineHoldout=%.4f candidateHoldout=%.4f delta=%.4f",
             res->run_id, gr.baseline, gr.candidate, gr.delta);
    so.reason = reason;
    if (gate_canary_start(st, &so, &cs, err) < 0)
        goto finish;
    if (o->progress) {
        char line[512];
        snprintf(line, sizeof line, "%s at %d%% (control %.19s, salt %s)", cr.compiled_id, pct,
                 json_str(cs.canary, "control_compiled_id", "?"), salt);
        o->progress(o->user, "canary.start", line);
    }

    /* wait for samples, with our own traffic flowing */
    bg->st = st;
    bg->to = (struct traffic_opts){.signature_id = o->signature_id,
                                   .lm = o->lm,
                                   .rate = o->traffic_rate,
                                   .threads = threads,
                                   .ids_per_thread = per,
                                   .split = "train",
                                   .thread_prefix = LOOP_TRAFFIC_PREFIX,
                                   .stop = &bg->stop};
    char traffic_run_id[128];
    snprintf(traffic_run_id, sizeof traffic_run_id, "%s.traffic", res->run_id);
    bg->to.run_id = traffic_run_id;
    atomic_init(&bg->stop, 0);
    bg->started = pthread_create(&bg->tid, NULL, bg_main, bg) == 0;
    say(&l, "info", "canary.wait", NULL, "waiting for %d samples (rollout %d%%, max error rate %.3f)",
        min_samples, pct, max_err);
    int64_t t0 = util_mono_ms(), last_say = t0;
    long last_total = -1;
    cJSON *row = NULL;
    const char *wait_end = "timeout";
    for (;;) {
        if (canceled(o)) {
            wait_end = "canceled";
            break;
        }
        int fail = 0;
        struct dse_err cerr = {0};
        cJSON_Delete(row);
        row = store_canary(st, o->signature_id, &fail, &cerr);
        if (fail) {
            *err = cerr;
            wait_end = "error";
            break;
        }
        if (!row || strcmp(json_str(row, "canary_compiled_id", ""), cr.compiled_id) != 0) {
            wait_end = "gone";
            break;
        }
        long ok = (long)json_num(row, "okCount", 0), er2 = (long)json_num(row, "errorCount", 0);
        res->ok = ok;
        res->errors = er2;
        if (ok + er2 >= min_samples) {
            wait_end = "samples";
            break;
        }
        int64_t now = util_mono_ms();
        if ((ok + er2 != last_total && now - last_say >= 1000) || now - last_say >= 5000) {
            cJSON *j = json_obj();
            json_set_num(j, "okCount", ok);
            json_set_num(j, "errorCount", er2);
            json_set_num(j, "minSamples", min_samples);
            say(&l, "info", "canary.wait", j, "canary %ld/%d samples (%ld errors)", ok + er2,
                min_samples, er2);
            last_say = now;
            last_total = ok + er2;
        }
        if (now - t0 >= timeout) {
            wait_end = "timeout";
            break;
        }
        sleep_ms(poll);
    }
    atomic_store(&bg->stop, 1);
    if (bg->started)
        pthread_join(bg->tid, NULL);
    json_set(summary, "traffic", traffic_stats_json(&bg->stats));
    if (!strcmp(wait_end, "error")) {
        cJSON_Delete(row);
        goto finish;
    }

    /* decide */
    cJSON *canary_sum = json_obj();
    json_set_str(canary_sum, "canary_compiled_id", cr.compiled_id);
    json_set_str(canary_sum, "control_compiled_id", json_str(cs.canary, "control_compiled_id", ""));
    json_set_str(canary_sum, "salt", salt);
    json_set_num(canary_sum, "rolloutPct", pct);
    if (!strcmp(wait_end, "gone")) {
        cJSON *h = last_history(st, o->signature_id);
        const char *action = json_str(h, "action", "");
        res->ok = (long)json_num(h, "okCount", (double)res->ok);
        res->errors = (long)json_num(h, "errorCount", (double)res->errors);
        outcome = !strcmp(action, "auto_stop") ? "auto_stopped" : "stopped_elsewhere";
        json_set_str(canary_sum, "endedBy", action);
        json_set_str(canary_sum, "reason", json_str(h, "reason", NULL));
        say(&l, "warn", "canary.stop", NULL, "canary ended by %s: %s", action[0] ? action : "?",
            json_str(h, "reason", ""));
        cJSON_Delete(h);
        failed = false;
    } else {
        /* re-read after the traffic stopped: final counters */
        int fail = 0;
        struct dse_err cerr = {0};
        cJSON *fin = store_canary(st, o->signature_id, &fail, &cerr);
        if (fin && !strcmp(json_str(fin, "canary_compiled_id", ""), cr.compiled_id)) {
            cJSON_Delete(row);
            row = fin;
        } else {
            cJSON_Delete(fin);
        }
        struct canary_verdict v;
        gate_canary_verdict(row, &v);
        res->ok = v.ok;
        res->errors = v.errors;
        json_set_str(canary_sum, "verdict", v.text);
        bool clean = row && v.total >= min_samples && v.error_rate <= v.max_error_rate;
        if (!strcmp(wait_end, "canceled")) {
            outcome = "canceled";
            gate_canary_stop(st, o->signature_id, "loop canceled", NULL, &cerr);
            failed = false;
        } else if (clean) {
            char from[HASH_ID_LEN + 1];
            struct gate_result pr;
            if (gate_promote(st, &go, &pr, from, err) < 0) {
                struct dse_err serr = {0};
                gate_canary_stop(st, o->signature_id, "loop: promote refused", NULL, &serr);
                say(&l, "warn", "promote", NULL, "promote refused: %s: %s", err->code, err->msg);
                if (!strcmp(err->code, "insufficient_improvement")) {
                    outcome = "gate_failed";
                    failed = false;
                }
            } else {
                res->promoted = true;
                snprintf(res->promoted_from, sizeof res->promoted_from, "%s", from);
                if (o->progress) {
                    char line[512];
                    snprintf(line, sizeof line, "%s -> %s (%s)", from[0] ? from : "(none)",
                             cr.compiled_id, v.text);
                    o->progress(o->user, "promote", line);
                }
                outcome = "promoted";
                failed = false;
            }
        } else {
            outcome = !strcmp(wait_end, "timeout") ? "timeout" : "stopped_unclean";
            char why[240];
            snprintf(why, sizeof why, "loop %s: %s", outcome, v.text);
            gate_canary_stop(st, o->signature_id, why, NULL, &cerr);
            say(&l, "warn", "canary.stop", NULL, "stopped the canary: %s", v.text);
            failed = false;
        }
    }
    cJSON_Delete(row);
    json_set_num(canary_sum, "okCount", res->ok);
    json_set_num(canary_sum, "errorCount", res->errors);
    json_set_str(canary_sum, "outcome", outcome);
    json_set(summary, "canary", canary_sum);

finish:
    snprintf(res->outcome, sizeof res->outcome, "%s", outcome);
    json_set_str(summary, "outcome", outcome);
    cJSON *comp = json_arr(), *prom = json_arr();
    if (cr.compiled_id[0]) {
        cJSON *c = json_obj();
        json_set_str(c, "signatureId", o->signature_id);
        json_set_str(c, "jobHash", cr.job_hash);
        json_set_str(c, "datasetHash", cr.dataset_hash);
        json_set_str(c, "compiled_id", cr.compiled_id);
        cJSON_AddItemToArray(comp, c);
    }
    if (res->promoted) {
        cJSON *p = json_obj();
        json_set_str(p, "signatureId", o->signature_id);
        json_set_str(p, "from", res->promoted_from[0] ? res->promoted_from : NULL);
        json_set_str(p, "to", res->compiled_id);
        cJSON_AddItemToArray(prom, p);
    }
    json_set(summary, "compileReports", comp);
    json_set(summary, "promoted", prom);
    if (failed) {
        cJSON *e = json_obj();
        json_set_str(e, "code", err->code);
        json_set_str(e, "message", err->msg);
        json_set(summary, "error", e);
    }
    say(&l, failed ? "error" : "info", "finish", json_dup(summary), "loop finished: %s%s%s", outcome,
        failed ? ": " : "", failed ? err->msg : "");
    cJSON *fa = json_obj();
    json_set_str(fa, "runId", res->run_id);
    json_set_str(fa, "status", failed ? "failed" : "finished");
    json_set_copy(fa, "summaryJson", summary);
    struct dse_err ferr = {0};
    store_call(st, STORE_OP_runs_finish, fa, NULL, &ferr);
    cJSON_Delete(fa);
    res->summary = summary;
    canary_start_result_free(&cs);
    compile_result_free(&cr);
    free(bg);
    return failed ? -1 : 0;
}
