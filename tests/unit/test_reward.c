/* Reward bundles: signal scores, weights, clamping and notes (reference
 * dse-spec.md §5.4), including the judge bundle with the local-knn judge. */
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
#include "json.h"
#include "lm.h"
#include "predict.h"
#include "reward.h"
#include "util.h"

static cJSON *parse(const char *text)
{
    struct dse_err err;
    cJSON *v = json_parse_str(text, &err);
    if (!v)
        fail_msg("bad JSON in test: %s", err.msg);
    return v;
}

static const cJSON *signal(const cJSON *signals, const char *id)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, signals) if (!strcmp(json_str(s, "signalId", ""), id)) return s;
    fail_msg("no signal %s", id);
    return NULL;
}

static void test_combine(void **state)
{
    (void)state;
    double s[] = {1, 0.5, 1}, w[] = {0.2, 0.8, 0.05};
    assert_true(fabs(reward_combine(s, w, 3) - (0.2 + 0.4 + 0.05) / 1.05) < 1e-12);
    /* each score is clamped to 0..1 before weighting */
    double s2[] = {7, -3}, w2[] = {0.2, 0.8};
    assert_true(fabs(reward_combine(s2, w2, 2) - 0.2) < 1e-12);
    double s3[] = {NAN}, w3[] = {1};
    assert_true(reward_combine(s3, w3, 1) == 0);
    assert_true(reward_combine(NULL, NULL, 0) == 0);
}

static void test_predict_cost(void **state)
{
    (void)state;
    assert_true(reward_predict_cost(0, 0, 0) == 1);     /* zero usage counts as 1 */
    assert_true(reward_predict_cost(800, 2, 0) == 1);
    assert_true(fabs(reward_predict_cost(1600, 4, 1) - 0.125) < 1e-12);
    assert_true(fabs(reward_predict_cost(400, 1, 0) - 1) < 1e-12);
    assert_true(fabs(reward_predict_cost(3200, 2, 3) - 0.0625) < 1e-12);
}

static void test_exact_match(void **state)
{
    (void)state;
    const struct reward_bundle *b = reward_find(REWARD_EXACT_JSON_MATCH);
    assert_non_null(b);
    assert_int_equal(b->version, 1);
    assert_null(reward_find("nope"));
    cJSON *expected = parse("{\"action\":\"tool\",\"toolName\":\"user_update\"}");
    /* same value, different key order: canonical JSON equality */
    struct predict_result ok = {.ok = true};
    ok.output = parse("{\"toolName\":\"user_update\",\"action\":\"tool\"}");
    struct reward_input in = {.expected = expected, .pred = &ok};
    cJSON *sig = NULL;
    assert_true(reward_score(b, &in, &sig, NULL) == 1.0);
    assert_int_equal(cJSON_GetArraySize(sig), 2);
    assert_true(json_num(signal(sig, "format_validity.v1"), "weight", 0) == 0.2);
    assert_true(json_num(signal(sig, "exact_json_match.signal.v1"), "weight", 0) == 0.8);
    assert_null(json_get(signal(sig, "exact_json_match.signal.v1"), "notes"));
    cJSON_Delete(sig);
    /* valid but wrong: 0.2, note "mismatch" */
    cJSON_Delete(ok.output);
    ok.output = parse("{\"action\":\"none\"}");
    double r = reward_score(b, &in, &sig, NULL);
    assert_true(fabs(r - 0.2) < 1e-12);
    assert_string_equal(json_str(signal(sig, "exact_json_match.signal.v1"), "notes", ""), "mismatch");
    cJSON_Delete(sig);
    cJSON_Delete(ok.output);
    /* failed prediction: 0, and both signals say why */
    struct predict_result bad = {.ok = false};
    snprintf(bad.error.code, sizeof bad.error.code, "OutputDecodeError");
    in.pred = &bad;
    assert_true(reward_score(b, &in, &sig, NULL) == 0);
    assert_non_null(strstr(json_str(signal(sig, "format_validity.v1"), "notes", ""), "OutputDecodeError"));
    assert_true(json_num(signal(sig, "exact_json_match.signal.v1"), "score", 1) == 0);
    cJSON_Delete(sig);
    cJSON_Delete(expected);
}

static void test_judge_bundle_without_judge(void **state)
{
    (void)state;
    const struct reward_bundle *b = reward_find(REWARD_THREAD_SUMMARY_JUDGE);
    assert_non_null(b);
    assert_true(b->needs_judge);
    cJSON *expected = parse("{\"summary\":\"a b c\"}");
    struct predict_result p = {.ok = true};
    p.output = parse("{\"summary\":\"a b c\"}");
    p.receipt = parse("{\"timing\":{\"durationMs\":400},\"budget\":{\"usage\":{\"lmCalls\":4,"
                      "\"toolCalls\":0}}}");
    struct reward_input in = {.expected = expected, .pred = &p, .judge = NULL};
    cJSON *sig = NULL;
    double r = reward_score(b, &in, &sig, NULL);
    /* format 1 (0.2), judge failed -> 0 with a note (0.8), cost 0.5 (0.05) */
    assert_true(fabs(r - (0.2 + 0.05 * 0.5) / 1.05) < 1e-12);
    const cJSON *j = signal(sig, "thread_summary_judge.v1");
    assert_true(json_num(j, "score", 1) == 0);
    assert_non_null(strstr(json_str(j, "notes", ""), "judge unavailable"));
    assert_true(fabs(json_num(signal(sig, "predict_cost.v1"), "score", 0) - 0.5) < 1e-12);
    cJSON_Delete(sig);
    cJSON_Delete(p.output);
    cJSON_Delete(p.receipt);
    cJSON_Delete(expected);
}

static cJSON *judge_sig(void)
{
    struct dse_err err = {0};
    cJSON *all = catalog_load(NULL, &err);
    assert_non_null(all);
    cJSON *it;
    cJSON_ArrayForEach(it, all) if (!strcmp(catalog_id(it), REWARD_JUDGE_SIGNATURE_ID))
    {
        cJSON *s = cJSON_DetachItemViaPointer(all, it);
        cJSON_Delete(all);
        return s;
    }
    fail_msg("judge signature missing from the catalog");
    return NULL;
}

static void test_judge_bundle_local_knn(void **state)
{
    (void)state;
    cJSON *js = judge_sig();
    char jid[HASH_ID_LEN + 1];
    catalog_default_id(js, jid);
    /* the pinned judge params of the reference */
    assert_string_equal(jid, "sha256:c287f9f20d8683469f4418ffeefada8dcce77a89e08b57f71d7c6a19cbb7bd6c");
    struct dse_err err = {0};
    struct lm_config cfg = {.provider = "local-knn"};
    struct lm_client *lm = lm_open(&cfg, &err);
    assert_non_null(lm);
    struct reward_judge j = {.signature = js, .compiled_id = jid,
                             .params = catalog_default_params(js), .lm = lm};
    const struct reward_bundle *b = reward_find(REWARD_THREAD_SUMMARY_JUDGE);
    cJSON *input = parse("{\"question\":\"recap\",\"threadChunks\":[]}");
    cJSON *expected = parse("{\"summary\":\"the user renamed the agent to Atlas\"}");
    struct predict_result p = {.ok = true};
    p.output = parse("{\"summary\":\"the user renamed the agent to Atlas\"}");
    p.receipt = parse("{\"timing\":{\"durationMs\":10},\"budget\":{\"usage\":{\"lmCalls\":1,"
                      "\"toolCalls\":0}}}");
    struct reward_input in = {.input = input, .expected = expected, .pred = &p, .judge = &j};
    cJSON *sig = NULL;
    int calls = 0;
    double r = reward_score(b, &in, &sig, &calls);
    assert_true(calls >= 1);
    const cJSON *jsig = signal(sig, "thread_summary_judge.v1");
    double js_score = json_num(jsig, "score", -1);
    assert_true(js_score > 0.99); /* identical summaries */
    assert_true(fabs(r - (0.2 + 0.8 * js_score + 0.05) / 1.05) < 1e-12);
    cJSON_Delete(sig);
    /* a disjoint summary scores lower */
    cJSON_Delete(p.output);
    p.output = parse("{\"summary\":\"weather talk only\"}");
    double r2 = reward_score(b, &in, &sig, NULL);
    assert_true(r2 < r);
    cJSON_Delete(sig);
    cJSON_Delete(p.output);
    cJSON_Delete(p.receipt);
    cJSON_Delete(expected);
    cJSON_Delete(input);
    lm_close(lm);
    cJSON_Delete(js);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_combine),
        cmocka_unit_test(test_predict_cost),
        cmocka_unit_test(test_exact_match),
        cmocka_unit_test(test_judge_bundle_without_judge),
        cmocka_unit_test(test_judge_bundle_local_knn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
