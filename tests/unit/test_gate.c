/* Holdout gate, promotion, canary start/stop/verdict, and the whole issue
 * scenario on the real SelectTool dataset with local-knn: compile, gate,
 * promote, a broken canary that auto-stops after exactly minSamples errors,
 * rollback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "compile.h"
#include "dataset.h"
#include "eval.h"
#include "gate.h"
#include "json.h"
#include "lm.h"
#include "predict.h"
#include "store.h"
#include "traffic.h"
#include "util.h"

#define SIG "@openagents/autopilot/blueprint/SelectTool.v1"
#define DEFAULT_ID "sha256:a76900eb174f20d0364ad84b189228a67958612fa0733c10349c52c439f64525"

static cJSON *parse(const char *text)
{
    struct dse_err err;
    cJSON *v = json_parse_str(text, &err);
    if (!v)
        fail_msg("bad JSON in test: %s", err.msg);
    return v;
}

/* ---- verdict (pure) ---- */

static void verdict_of(const char *row, struct canary_verdict *v)
{
    cJSON *c = row ? parse(row) : NULL;
    gate_canary_verdict(c, v);
    cJSON_Delete(c);
}

static void test_verdict(void **state)
{
    (void)state;
    struct canary_verdict v;
    verdict_of(NULL, &v);
    assert_int_equal(v.state, CANARY_NONE);
    assert_string_equal(v.text, "no active canary");

    verdict_of("{\"okCount\":9,\"errorCount\":3,\"minSamples\":20,\"maxErrorRate\":0.2}", &v);
    assert_int_equal(v.state, CANARY_COLLECTING);
    assert_string_equal(v.text, "collecting: 12/20 samples, error rate 0.250 (max 0.200)");

    verdict_of("{\"okCount\":13,\"errorCount\":7,\"minSamples\":20,\"maxErrorRate\":0.2}", &v);
    assert_int_equal(v.state, CANARY_FAILING);
    assert_string_equal(v.text, "failing: error rate 0.350 > 0.200 (n=20, min 20)");
    assert_true(fabs(v.error_rate - 0.35) < 1e-12);

    /* exactly at the threshold is healthy: auto-stop needs strictly greater */
    verdict_of("{\"okCount\":16,\"errorCount\":4,\"minSamples\":20,\"maxErrorRate\":0.2}", &v);
    assert_int_equal(v.state, CANARY_HEALTHY);
    assert_string_equal(v.text, "healthy: error rate 0.200 <= 0.200 (n=20, min 20)");

    /* settings read as the store counts them */
    verdict_of("{\"okCount\":1,\"errorCount\":0,\"minSamples\":0.5,\"maxErrorRate\":7}", &v);
    assert_int_equal(v.min_samples, 1);
    assert_true(v.max_error_rate == 1);
    assert_int_equal(v.state, CANARY_HEALTHY);
    verdict_of("{\"okCount\":0,\"errorCount\":0}", &v);
    assert_int_equal(v.min_samples, 20);
    assert_true(fabs(v.max_error_rate - 0.2) < 1e-12);
    assert_string_equal(gate_canary_state_name(CANARY_FAILING), "failing");
}

static void test_salt_pick(void **state)
{
    (void)state;
    char tid[96], salt[128], again[128];
    traffic_thread_id("loop", 3, 0, tid);
    assert_string_equal(tid, "loop-3");
    traffic_thread_id("loop", 3, 2, tid);
    assert_string_equal(tid, "loop-3.2");
    /* deterministic, and it routes the wanted number of ids to the canary */
    traffic_pick_salt("run-1", SIG, "loop", 2, 1, 10, 1, salt);
    traffic_pick_salt("run-1", SIG, "loop", 2, 1, 10, 1, again);
    assert_string_equal(salt, again);
    int in = 0;
    for (int k = 0; k < 2; k++) {
        traffic_thread_id("loop", k, 0, tid);
        in += hash_canary_bucket(salt, tid, SIG) < 10;
    }
    assert_true(in >= 1);
}

/* ---- store-backed ---- */

struct env {
    struct store *st;
    struct lm_client *lm;
    cJSON *sig;
};

static void env_open(struct env *e, bool import)
{
    struct dse_err err = {0};
    e->st = store_open_sqlite(":memory:", 0, &err);
    assert_non_null(e->st);
    assert_int_equal(catalog_install(e->st, NULL, NULL, NULL, &err), 0);
    e->sig = store_signature(e->st, SIG, &err);
    assert_non_null(e->sig);
    if (import) {
        const char *src = getenv("DSE_SRCDIR");
        char *fx = xasprintf("%s/db/datasets/selecttool.dataset.v1.jsonl", src ? src : ".");
        struct dataset_import_result ir;
        if (dataset_import_file(e->st, e->sig, fx, NULL, &ir, &err) != 0)
            fail_msg("import %s: %s", fx, err.msg);
        free(fx);
    }
    struct lm_config cfg = {.provider = "local-knn"};
    e->lm = lm_cache_wrap(lm_open(&cfg, &err), e->st);
    assert_non_null(e->lm);
}

static void env_close(struct env *e)
{
    lm_close(e->lm);
    cJSON_Delete(e->sig);
    store_close(e->st);
}

static void compile_ok(struct env *e, struct compile_result *cr)
{
    struct compile_opts o = {.signature_id = SIG, .lm = e->lm, .concurrency = 4};
    struct dse_err err = {0};
    if (compile_run(e->st, &o, cr, &err) != 0)
        fail_msg("compile: %s: %s", err.code, err.msg);
}

static void gate_opts(struct env *e, struct gate_opts *g, const char *id)
{
    gate_opts_init(g);
    g->signature_id = SIG;
    g->compiled_id = id;
    g->lm = e->lm;
}

static void active(struct env *e, char out[HASH_ID_LEN + 8])
{
    struct dse_err err = {0};
    assert_int_equal(store_active_id(e->st, SIG, out, HASH_ID_LEN + 8, &err), 0);
}

static cJSON *call(struct env *e, enum store_op op, cJSON *args)
{
    struct dse_err err = {0};
    cJSON *out = NULL;
    if (store_call(e->st, op, args, &out, &err) != 0)
        fail_msg("store call: %s: %s", err.code, err.msg);
    cJSON_Delete(args);
    return out;
}

static cJSON *sig_args(void)
{
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", SIG);
    return a;
}

static void test_gate_errors(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, true);
    struct gate_opts g;
    struct gate_result gr;
    struct dse_err err = {0};

    /* no compile yet */
    gate_opts(&e, &g, DEFAULT_ID);
    assert_int_equal(gate_check(e.st, &g, &gr, &err), -1);
    assert_string_equal(err.code, "compile_report_not_found");
    assert_non_null(strstr(err.msg, gr.job_hash));
    assert_non_null(strstr(err.msg, "datasetHash=sha256:a0b95517"));

    /* a report whose holdoutReward is not a number */
    cJSON *a = sig_args();
    json_set_str(a, "jobHash", gr.job_hash);
    json_set_str(a, "datasetId", "convex:dseExamples:" SIG);
    json_set_str(a, "datasetHash", gr.dataset_hash);
    json_set_str(a, "compiled_id", DEFAULT_ID);
    json_set(a, "json", parse("{\"format\":\"openagents.dse.compile_report\",\"formatVersion\":1,"
                              "\"report\":{\"holdoutReward\":\"high\"}}"));
    cJSON_Delete(call(&e, STORE_OP_compile_put, a));
    assert_int_equal(gate_check(e.st, &g, &gr, &err), -1);
    assert_string_equal(err.code, "invalid_compile_report");
    /* and another id than the report's best */
    gate_opts(&e, &g, "sha256:0000");
    assert_int_equal(gate_check(e.st, &g, &gr, &err), -1);
    assert_string_equal(err.code, "compiled_id_mismatch");
    assert_string_equal(err.msg, "the compile report for this job and dataset chose " DEFAULT_ID
                                 ", not sha256:0000");
    env_close(&e);

    /* a dataset without holdout */
    env_open(&e, false);
    a = sig_args();
    json_set_str(a, "exampleId", "only-train");
    json_set(a, "inputJson", parse("{\"message\":\"call me Bo\",\"blueprintHint\":{\"userHandle\":"
                                   "\"B\",\"agentName\":\"Autopilot\"}}"));
    json_set(a, "expectedJson", parse("{\"action\":\"tool\",\"toolName\":\"user_update\"}"));
    json_set_str(a, "split", "train");
    cJSON_Delete(call(&e, STORE_OP_examples_put, a));
    gate_opts(&e, &g, DEFAULT_ID);
    assert_int_equal(gate_check(e.st, &g, &gr, &err), -1);
    assert_string_equal(err.code, "holdout_required");
    /* without the requirement the gate goes on to the report */
    g.require_holdout = false;
    assert_int_equal(gate_check(e.st, &g, &gr, &err), -1);
    assert_string_equal(err.code, "compile_report_not_found");
    env_close(&e);
}

static void test_gate_insufficient_and_promote(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, true);
    struct compile_result cr;
    compile_ok(&e, &cr);
    struct dse_err err = {0};

    /* a canary to be stopped by the promotion; seeds the control */
    struct canary_start_opts so;
    canary_start_opts_init(&so);
    so.gate.signature_id = SIG;
    so.gate.compiled_id = cr.compiled_id;
    so.gate.lm = e.lm;
    so.rollout_pct = 30;
    struct canary_start_result cs;
    assert_int_equal(gate_canary_start(e.st, &so, &cs, &err), 0);
    assert_true(cs.seeded);
    assert_true(cs.gated);
    assert_string_equal(json_str(cs.canary, "control_compiled_id", ""), DEFAULT_ID);
    assert_true(fabs(cs.gate.baseline - 0.6) < 1e-9); /* the defaults on holdout */
    canary_start_result_free(&cs);

    /* the gate refuses with the measured values */
    struct gate_opts g;
    struct gate_result gr;
    char from[HASH_ID_LEN + 1];
    gate_opts(&e, &g, cr.compiled_id);
    g.min_delta = 0.5;
    assert_int_equal(gate_promote(e.st, &g, &gr, from, &err), -1);
    assert_string_equal(err.code, "insufficient_improvement");
    char want[160];
    snprintf(want, sizeof want, "baseline=%.4f candidate=%.4f delta=%.4f < 0.5000", gr.baseline,
             cr.holdout_reward, cr.holdout_reward - gr.baseline);
    assert_string_equal(err.msg, want);
    assert_string_equal(err.msg, "baseline=0.6000 candidate=0.6800 delta=0.0800 < 0.5000");
    char cur[HASH_ID_LEN + 8];
    active(&e, cur);
    assert_string_equal(cur, DEFAULT_ID);

    /* the default delta passes: the pointer moves, the canary stops */
    gate_opts(&e, &g, cr.compiled_id);
    assert_int_equal(gate_promote(e.st, &g, &gr, from, &err), 0);
    assert_string_equal(from, DEFAULT_ID);
    active(&e, cur);
    assert_string_equal(cur, cr.compiled_id);
    int failed = 0;
    assert_null(store_canary(e.st, SIG, &failed, &err));
    cJSON *h = call(&e, STORE_OP_canary_history, sig_args());
    const cJSON *top = cJSON_GetArrayItem(json_get(h, "history"), 0);
    assert_string_equal(json_str(top, "action", ""), "stop");
    assert_string_equal(json_str(top, "reason", ""), "promoted");
    cJSON_Delete(h);
    h = call(&e, STORE_OP_active_history, sig_args());
    top = cJSON_GetArrayItem(json_get(h, "history"), 0);
    char reason[400];
    snprintf(reason, sizeof reason,
             "promote baselineHoldout=0.6000 candidateHoldout=0.6800 delta=0.0800 minDelta=0.0500 "
             "jobHash=%s datasetHash=%s",
             cr.job_hash, cr.dataset_hash);
    assert_string_equal(json_str(top, "reason", ""), reason);
    assert_string_equal(json_str(cJSON_GetArrayItem(json_get(h, "history"), 1), "reason", ""),
                        "seed_control_defaults");
    cJSON_Delete(h);

    /* now the candidate is the control: promoting again does not clear the gate */
    assert_int_equal(gate_promote(e.st, &g, &gr, from, &err), -1);
    assert_string_equal(err.code, "insufficient_improvement");
    assert_string_equal(err.msg, "baseline=0.6800 candidate=0.6800 delta=0.0000 < 0.0500");
    compile_result_free(&cr);
    env_close(&e);
}

static void test_canary_start_refused_keeps_seed(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, true);
    struct compile_result cr;
    compile_ok(&e, &cr);
    struct dse_err err = {0};
    struct canary_start_opts so;
    canary_start_opts_init(&so);
    so.gate.signature_id = SIG;
    so.gate.compiled_id = cr.compiled_id;
    so.gate.lm = e.lm;
    so.gate.min_delta = 0.9;
    so.rollout_pct = 10;
    struct canary_start_result cs;
    assert_int_equal(gate_canary_start(e.st, &so, &cs, &err), -1);
    assert_string_equal(err.code, "insufficient_improvement");
    /* the seeded control stays (reference behaviour), no canary started */
    char cur[HASH_ID_LEN + 8];
    active(&e, cur);
    assert_string_equal(cur, DEFAULT_ID);
    int failed = 0;
    assert_null(store_canary(e.st, SIG, &failed, &err));
    /* --skip-gate starts it and says so; the salt is honoured */
    so.skip_gate = true;
    so.salt = "my-salt";
    so.reason = "operator override";
    assert_int_equal(gate_canary_start(e.st, &so, &cs, &err), 0);
    assert_false(cs.gated);
    assert_string_equal(json_str(cs.canary, "salt", ""), "my-salt");
    canary_start_result_free(&cs);
    cJSON *h = call(&e, STORE_OP_canary_history, sig_args());
    assert_string_equal(json_str(cJSON_GetArrayItem(json_get(h, "history"), 0), "reason", ""),
                        "skip-gate: operator override");
    cJSON_Delete(h);
    bool existed = false;
    assert_int_equal(gate_canary_stop(e.st, SIG, "done", &existed, &err), 0);
    assert_true(existed);
    assert_int_equal(gate_canary_stop(e.st, SIG, "again", &existed, &err), 0);
    assert_false(existed);
    compile_result_free(&cr);
    env_close(&e);
}

/* The scenario end to end. */
static void test_full_scenario(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, true);
    struct dse_err err = {0};

    /* compile: several candidates; the best beats the defaults on holdout */
    struct compile_result cr, again;
    compile_ok(&e, &cr);
    assert_true(cr.candidates >= 5);
    struct eval_request er = {.signature_id = SIG, .compiled_id = DEFAULT_ID, .split = "holdout"};
    bool seeded;
    assert_int_equal(gate_seed_control(e.st, e.sig, &seeded, &err), 0);
    assert_true(seeded);
    struct eval_outcome eo;
    assert_int_equal(eval_report(e.st, e.lm, &er, &eo, &err), 0);
    assert_int_equal(eo.n, 10);
    assert_true(cr.holdout_reward > eo.reward);
    eval_outcome_free(&eo);
    /* the same eval again is the stored report */
    assert_int_equal(eval_report(e.st, e.lm, &er, &eo, &err), 0);
    assert_true(eo.existed);
    eval_outcome_free(&eo);

    /* a second compile is the same report, with no LM call */
    compile_ok(&e, &again);
    assert_true(again.existed);
    assert_int_equal(again.lm_calls, 0);
    compile_result_free(&again);

    /* promote moves the pointer */
    struct gate_opts g;
    struct gate_result gr;
    char from[HASH_ID_LEN + 1], cur[HASH_ID_LEN + 8];
    gate_opts(&e, &g, cr.compiled_id);
    assert_int_equal(gate_promote(e.st, &g, &gr, from, &err), 0);
    active(&e, cur);
    assert_string_equal(cur, cr.compiled_id);

    /* a broken artifact (no LM call allowed) canaried at 100% */
    cJSON *params = json_dup(json_path(cr.report, "report.best.params"));
    cJSON *bud = json_obj();
    json_set_num(bud, "maxLmCalls", 0);
    json_set(params, "budgets", bud);
    cJSON *art = compile_artifact(e.sig, params, NULL, NULL, NULL);
    char broken[HASH_ID_LEN + 1];
    snprintf(broken, sizeof broken, "%s", json_str(art, "compiled_id", ""));
    cJSON *a = sig_args();
    json_set_str(a, "compiled_id", broken);
    json_set(a, "json", art);
    cJSON_Delete(call(&e, STORE_OP_artifacts_put, a));
    cJSON_Delete(params);
    struct canary_start_opts so;
    canary_start_opts_init(&so);
    so.gate.signature_id = SIG;
    so.gate.compiled_id = broken;
    so.gate.lm = e.lm;
    so.rollout_pct = 100;
    so.min_samples = 7;
    so.max_error_rate = 0.2;
    so.skip_gate = true;
    struct canary_start_result cs;
    assert_int_equal(gate_canary_start(e.st, &so, &cs, &err), 0);
    assert_false(cs.seeded);
    canary_start_result_free(&cs);

    /* one traffic thread, so the order is fixed: 7 errors, auto-stop, then
     * the control serves the rest */
    struct traffic_opts to = {.signature_id = SIG, .lm = e.lm, .count = 12, .threads = 1};
    struct traffic_stats ts;
    assert_int_equal(traffic_run(e.st, &to, &ts, &err), 0);
    assert_int_equal(ts.calls, 12);
    assert_int_equal(ts.errors, 7);
    assert_int_equal(ts.canary, 7);
    assert_int_equal(ts.canary_errors, 7);
    assert_int_equal(ts.ok + ts.errors, 12);
    int failed = 0;
    assert_null(store_canary(e.st, SIG, &failed, &err));
    cJSON *h = call(&e, STORE_OP_canary_history, sig_args());
    const cJSON *top = cJSON_GetArrayItem(json_get(h, "history"), 0);
    assert_string_equal(json_str(top, "action", ""), "auto_stop");
    assert_int_equal(json_int(top, "errorCount", -1), 7);
    assert_int_equal(json_int(top, "okCount", -1), 0);
    assert_string_equal(json_str(top, "reason", ""),
                        "error_rate_exceeded errorRate=1.000 maxErrorRate=0.200 minSamples=7");
    cJSON_Delete(h);
    /* the pointer is untouched, and serves everything again */
    active(&e, cur);
    assert_string_equal(cur, cr.compiled_id);
    assert_int_equal(ts.n_ids, 2);

    /* rollback restores the previous pointer */
    cJSON *rb = call(&e, STORE_OP_active_rollback, sig_args());
    assert_string_equal(json_str(rb, "compiled_id", ""), DEFAULT_ID);
    cJSON_Delete(rb);
    active(&e, cur);
    assert_string_equal(cur, DEFAULT_ID);
    compile_result_free(&cr);
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdict),
        cmocka_unit_test(test_salt_pick),
        cmocka_unit_test(test_gate_errors),
        cmocka_unit_test(test_gate_insufficient_and_promote),
        cmocka_unit_test(test_canary_start_refused_keeps_seed),
        cmocka_unit_test(test_full_scenario),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
