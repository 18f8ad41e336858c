#include "gate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "compat.h"
#include "compile.h"
#include "dataset.h"
#include "eval.h"
#include "json.h"
#include "store.h"
#include "util.h"

void gate_opts_init(struct gate_opts *o)
{
    memset(o, 0, sizeof *o);
    o->min_delta = NAN;
    o->require_holdout = true;
    o->concurrency = 4;
}

void canary_start_opts_init(struct canary_start_opts *o)
{
    memset(o, 0, sizeof *o);
    gate_opts_init(&o->gate);
    o->rollout_pct = NAN;
    o->max_error_rate = NAN;
}

static cJSON *sig_args(const char *sig)
{
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", sig);
    return a;
}

/* Evaluate params live on a dataset (no cache beyond the LM's). */
static int live_reward(const cJSON *sig, const struct reward_bundle *rw, struct eval_judge *judge,
                       const char *compiled_id, const cJSON *params, const struct dataset *d,
                       const struct gate_opts *o, double *reward, struct dse_err *err)
{
    struct eval_set set;
    eval_set_view(&set, d);
    struct eval_ctx ctx = {.signature = sig,
                           .reward = rw,
                           .judge = rw->needs_judge ? &judge->j : NULL,
                           .lm = o->lm,
                           .concurrency = o->concurrency};
    struct eval_candidate c = {.compiled_id = compiled_id, .params = params};
    int rc = eval_candidates(&ctx, &c, 1, &set, false, err);
    *reward = c.reward;
    eval_candidate_clear(&c);
    eval_set_release(&set);
    return rc;
}

static int get_report(struct store *st, const char *sig_id, const char *job_hash,
                      const char *dataset_hash, cJSON **got, struct dse_err *err)
{
    cJSON *ga = sig_args(sig_id);
    json_set_str(ga, "jobHash", job_hash);
    json_set_str(ga, "datasetHash", dataset_hash);
    int rc = store_call(st, STORE_OP_compile_get, ga, got, err);
    cJSON_Delete(ga);
    return rc;
}

int gate_check(struct store *st, const struct gate_opts *o, struct gate_result *res,
               struct dse_err *err)
{
    memset(res, 0, sizeof *res);
    res->min_delta = isfinite(o->min_delta) ? o->min_delta : GATE_DEFAULT_MIN_DELTA;
    cJSON *sig = store_signature(st, o->signature_id, err);
    if (!sig)
        return -1;
    int rc = -1;
    struct dataset *all = NULL, *hold = NULL;
    cJSON *got = NULL, *control = NULL;
    struct eval_judge judge = {0};
    const struct reward_bundle *rw = eval_reward_for(sig, err);
    if (!rw)
        goto done;
    if (!(all = dataset_load(st, sig, err)))
        goto done;
    snprintf(res->dataset_hash, sizeof res->dataset_hash, "%s", all->hash);
    hold = dataset_split(all, "holdout");
    res->holdout_n = (int)hold->n;
    if (o->require_holdout && hold->n == 0) {
        dse_fail(err, "holdout_required",
                 "%s has no holdout examples; label some with split holdout (or pass "
                 "--no-require-holdout)",
                 o->signature_id);
        goto done;
    }
    catalog_job_hash(sig, res->job_hash);
    if (get_report(st, o->signature_id, res->job_hash, res->dataset_hash, &got, err) < 0)
        goto done;
    const cJSON *row = json_get(got, "report");
    if (!cJSON_IsObject(row) || strcmp(json_str(row, "compiled_id", ""), o->compiled_id) != 0) {
        /* compiled with --profile reference: its job differs from the default */
        struct dse_err perr = {0};
        cJSON *ps = compat_reference_signature(sig, &perr), *alt_got = NULL;
        char alt[HASH_ID_LEN + 1] = "";
        if (ps)
            catalog_job_hash(ps, alt);
        cJSON_Delete(ps);
        if (alt[0] && strcmp(alt, res->job_hash) != 0 &&
            get_report(st, o->signature_id, alt, res->dataset_hash, &alt_got, &perr) == 0) {
            const cJSON *arow = json_get(alt_got, "report");
            if (cJSON_IsObject(arow) &&
                (!cJSON_IsObject(row) || !strcmp(json_str(arow, "compiled_id", ""), o->compiled_id))) {
                cJSON_Delete(got);
                got = alt_got;
                alt_got = NULL;
                row = arow;
                snprintf(res->job_hash, sizeof res->job_hash, "%s", alt);
            }
        }
        cJSON_Delete(alt_got);
    }
    if (!cJSON_IsObject(row)) {
        dse_fail(err, "compile_report_not_found",
                 "no compile report for jobHash=%s datasetHash=%s (the job or the examples "
                 "changed since the last compile; run `dse compile`)",
                 res->job_hash, res->dataset_hash);
        goto done;
    }
    const char *best = json_str(row, "compiled_id", "");
    if (strcmp(best, o->compiled_id) != 0) {
        dse_fail(err, "compiled_id_mismatch",
                 "the compile report for this job and dataset chose %s, not %s", best,
                 o->compiled_id);
        goto done;
    }
    const cJSON *hr = json_path(row, "json.report.holdoutReward");
    if (!cJSON_IsNumber(hr) || !isfinite(hr->valuedouble)) {
        dse_fail(err, "invalid_compile_report", "the compile report has no finite holdoutReward");
        goto done;
    }
    res->candidate = hr->valuedouble;

    if (store_active_id(st, o->signature_id, res->control_id, sizeof res->control_id, err) < 0)
        goto done;
    if (res->control_id[0] && !o->lm) {
        dse_fail(err, "invalid_input", "the gate needs an LM client to evaluate the control");
        goto done;
    }
    if (res->control_id[0]) {
        struct dse_err aerr = {0};
        control = store_artifact(st, o->signature_id, res->control_id, &aerr);
        if (!control) {
            dse_fail(err, "control_artifact_missing", "the active pointer names %s, which is not stored",
                     res->control_id);
            goto done;
        }
        const cJSON *params = json_get(control, "params");
        if (!cJSON_IsObject(params)) {
            dse_fail(err, "invalid_control_artifact", "control artifact %s has no params",
                     res->control_id);
            goto done;
        }
        if (rw->needs_judge)
            eval_judge_load(st, o->lm, &judge);
        if (live_reward(sig, rw, &judge, res->control_id, params, hold, o, &res->baseline, err) < 0)
            goto done;
    }
    res->delta = res->candidate - res->baseline;
    {
        cJSON *j = json_obj();
        json_set_str(j, "candidate_compiled_id", o->compiled_id);
        json_set_str(j, "control_compiled_id", res->control_id[0] ? res->control_id : NULL);
        json_set_num(j, "baselineHoldoutReward", res->baseline);
        json_set_num(j, "candidateHoldoutReward", res->candidate);
        json_set_num(j, "delta", res->delta);
        json_set_num(j, "minHoldoutDelta", res->min_delta);
        json_set_bool(j, "passed", res->delta >= res->min_delta);
        eval_ops_event(st, o->ops_run_id, res->delta >= res->min_delta ? "info" : "warn", "gate", j,
                       "gate baseline=%.4f candidate=%.4f delta=%.4f %s %.4f", res->baseline,
                       res->candidate, res->delta, res->delta >= res->min_delta ? ">=" : "<",
                       res->min_delta);
    }
    if (!(res->delta >= res->min_delta)) {
        dse_fail(err, "insufficient_improvement", "baseline=%.4f candidate=%.4f delta=%.4f < %.4f",
                 res->baseline, res->candidate, res->delta, res->min_delta);
        goto done;
    }
    res->passed = true;
    rc = 0;
done:
    eval_judge_free(&judge);
    cJSON_Delete(control);
    cJSON_Delete(got);
    dataset_free(hold);
    dataset_free(all);
    cJSON_Delete(sig);
    return rc;
}

int gate_promote(struct store *st, const struct gate_opts *o, struct gate_result *res,
                 char from[HASH_ID_LEN + 1], struct dse_err *err)
{
    from[0] = 0;
    memset(res, 0, sizeof *res);
    if (compat_guard(st, o->signature_id, o->compiled_id, o->force, err) < 0)
        return -1;
    if (gate_check(st, o, res, err) < 0)
        return -1;
    char reason[512];
    snprintf(reason, sizeof reason,
             "promote baselineHoldout=%.4f candidateHoldout=%.4f delta=%.4f minDelta=%.4f "
             "jobHash=%s datasetHash=%s",
             res->baseline, res->candidate, res->delta, res->min_delta, res->job_hash,
             res->dataset_hash);
    cJSON *a = sig_args(o->signature_id), *out = NULL;
    json_set_str(a, "compiled_id", o->compiled_id);
    json_set_str(a, "reason", reason);
    int rc = store_call(st, STORE_OP_active_set, a, &out, err);
    cJSON_Delete(a);
    if (rc < 0)
        return -1;
    snprintf(from, HASH_ID_LEN + 1, "%s", json_str(out, "from", ""));
    cJSON_Delete(out);
    /* best effort, as the reference: the promotion stands either way */
    cJSON *s = sig_args(o->signature_id);
    json_set_str(s, "reason", "promoted");
    struct dse_err serr = {0};
    store_call(st, STORE_OP_canary_stop, s, NULL, &serr);
    cJSON_Delete(s);
    cJSON *j = json_obj();
    json_set_str(j, "from", from[0] ? from : NULL);
    json_set_str(j, "to", o->compiled_id);
    json_set_num(j, "baselineHoldoutReward", res->baseline);
    json_set_num(j, "candidateHoldoutReward", res->candidate);
    json_set_num(j, "delta", res->delta);
    eval_ops_event(st, o->ops_run_id, "info", "promote", j, "promoted %s -> %s",
                   from[0] ? from : "(none)", o->compiled_id);
    return 0;
}

int gate_seed_control(struct store *st, const cJSON *signature, bool *seeded, struct dse_err *err)
{
    *seeded = false;
    const char *sid = catalog_id(signature);
    char cur[HASH_ID_LEN + 8];
    if (store_active_id(st, sid, cur, sizeof cur, err) < 0)
        return -1;
    if (cur[0])
        return 0;
    const cJSON *defaults = catalog_default_params(signature);
    cJSON *opt = json_obj();
    json_set_str(opt, "id", "seed_control_defaults.v1");
    cJSON *art = compile_artifact(signature, defaults, NULL, opt, NULL);
    cJSON_Delete(opt);
    char id[HASH_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", json_str(art, "compiled_id", ""));
    cJSON *a = sig_args(sid);
    json_set_str(a, "compiled_id", id);
    json_set(a, "json", art);
    int rc = store_call(st, STORE_OP_artifacts_put, a, NULL, err);
    cJSON_Delete(a);
    if (rc < 0)
        return -1;
    a = sig_args(sid);
    json_set_str(a, "compiled_id", id);
    json_set_str(a, "reason", "seed_control_defaults");
    rc = store_call(st, STORE_OP_active_set, a, NULL, err);
    cJSON_Delete(a);
    if (rc < 0)
        return -1;
    *seeded = true;
    return 0;
}

void canary_start_result_free(struct canary_start_result *r)
{
    cJSON_Delete(r->canary);
    r->canary = NULL;
}

int gate_canary_start(struct store *st, const struct canary_start_opts *o,
                      struct canary_start_result *res, struct dse_err *err)
{
    memset(res, 0, sizeof *res);
    if (!isfinite(o->rollout_pct))
        return dse_fail(err, "invalid_input", "rolloutPct must be a finite number");
    if (compat_guard(st, o->gate.signature_id, o->gate.compiled_id, o->gate.force, err) < 0)
        return -1;
    cJSON *sig = store_signature(st, o->gate.signature_id, err);
    if (!sig)
        return -1;
    int rc = gate_seed_control(st, sig, &res->seeded, err);
    cJSON_Delete(sig);
    if (rc < 0)
        return -1;
    if (o->pre_gated) {
        res->gate = *o->pre_gated;
        res->gated = true;
    } else if (!o->skip_gate) {
        if (gate_check(st, &o->gate, &res->gate, err) < 0)
            return -1;
        res->gated = true;
    }
    char reason[600];
    if (o->skip_gate && !o->pre_gated)
        snprintf(reason, sizeof reason, "skip-gate%s%s", o->reason && *o->reason ? ": " : "",
                 o->reason ? o->reason : "");
    else if (o->reason && *o->reason)
        snprintf(reason, sizeof reason, "%s", o->reason);
    else
        snprintf(reason, sizeof reason,
                 "canary baselineHoldout=%.4f candidateHoldout=%.4f delta=%.4f minDelta=%.4f "
                 "jobHash=%s datasetHash=%s",
                 res->gate.baseline, res->gate.candidate, res->gate.delta, res->gate.min_delta,
                 res->gate.job_hash, res->gate.dataset_hash);
    cJSON *a = sig_args(o->gate.signature_id);
    json_set_str(a, "canary_compiled_id", o->gate.compiled_id);
    json_set_num(a, "rolloutPct", o->rollout_pct);
    if (o->salt && *o->salt)
        json_set_str(a, "salt", o->salt);
    if (o->min_samples > 0)
        json_set_num(a, "minSamples", o->min_samples);
    if (!isnan(o->max_error_rate))
        json_set_num(a, "maxErrorRate", o->max_error_rate);
    json_set_str(a, "reason", reason);
    rc = store_call(st, STORE_OP_canary_start, a, &res->canary, err);
    cJSON_Delete(a);
    if (rc < 0)
        return -1;
    cJSON *j = json_dup(res->canary);
    eval_ops_event(st, o->gate.ops_run_id, "info", "canary.start", j,
                   "canary %s at %g%% (control %s)", o->gate.compiled_id, o->rollout_pct,
                   json_str(res->canary, "control_compiled_id", "?"));
    return 0;
}

int gate_canary_stop(struct store *st, const char *signature_id, const char *reason, bool *existed,
                     struct dse_err *err)
{
    cJSON *a = sig_args(signature_id), *out = NULL;
    if (reason && *reason)
        json_set_str(a, "reason", reason);
    int rc = store_call(st, STORE_OP_canary_stop, a, &out, err);
    cJSON_Delete(a);
    if (rc < 0)
        return -1;
    if (existed)
        *existed = json_bool(out, "existed", false);
    cJSON_Delete(out);
    return 0;
}

/* ---- verdict ---- */

const char *gate_canary_state_name(enum canary_state s)
{
    switch (s) {
    case CANARY_COLLECTING:
        return "collecting";
    case CANARY_HEALTHY:
        return "healthy";
    case CANARY_FAILING:
        return "failing";
    case CANARY_NONE:
        break;
    }
    return "none";
}

void gate_canary_verdict(const cJSON *canary, struct canary_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (!cJSON_IsObject(canary)) {
        v->state = CANARY_NONE;
        snprintf(v->text, sizeof v->text, "no active canary");
        return;
    }
    double ok = json_num(canary, "okCount", 0), er = json_num(canary, "errorCount", 0);
    v->ok = ok > 0 ? (long)ok : 0;
    v->errors = er > 0 ? (long)er : 0;
    v->total = v->ok + v->errors;
    double ms = json_num(canary, "minSamples", 20);
    v->min_samples = isfinite(ms) ? (long)floor(ms) : 20;
    if (v->min_samples < 1)
        v->min_samples = 1;
    double mer = json_num(canary, "maxErrorRate", 0.2);
    if (isnan(mer))
        mer = 0;
    v->max_error_rate = mer < 0 ? 0 : mer > 1 ? 1 : mer;
    v->error_rate = v->total ? (double)v->errors / (double)v->total : 0;
    /* Too few samples is its own outcome: a young canary neither passes nor
     * fails, whatever its first few receipts say. */
    if (v->total < v->min_samples) {
        v->state = CANARY_COLLECTING;
        snprintf(v->text, sizeof v->text, "collecting: %ld/%ld samples, error rate %.3f (max %.3f)",
                 v->total, v->min_samples, v->error_rate, v->max_error_rate);
    } else if (v->error_rate > v->max_error_rate) {
        v->state = CANARY_FAILING;
        snprintf(v->text, sizeof v->text, "failing: error rate %.3f > %.3f (n=%ld, min %ld)",
                 v->error_rate, v->max_error_rate, v->total, v->min_samples);
    } else {
        v->state = CANARY_HEALTHY;
        snprintf(v->text, sizeof v->text, "healthy: error rate %.3f <= %.3f (n=%ld, min %ld)",
                 v->error_rate, v->max_error_rate, v->total, v->min_samples);
    }
}
