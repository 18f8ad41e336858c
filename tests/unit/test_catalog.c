/* The signature catalog: every built-in file validates and hashes to the
 * reference's default compiled_ids; job specs and jobHash; validation
 * messages; loading from a directory; install/resolve against a store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "collate.h"
#include "json.h"
#include "store.h"
#include "util.h"

static cJSON *catalog;

static int setup(void **state)
{
    (void)state;
    struct dse_err err;
    catalog = catalog_load(NULL, &err);
    if (!catalog) {
        fprintf(stderr, "catalog_load: %s: %s\n", err.code, err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cJSON_Delete(catalog);
    return 0;
}

static const cJSON *by_key(const char *key)
{
    for (const cJSON *s = catalog->child; s; s = s->next)
        if (!strcmp(catalog_key(s), key))
            return s;
    fail_msg("no signature with key %s", key);
    return NULL;
}

static void test_builtin_catalog(void **state)
{
    (void)state;
    static const char *const keys[] = {
        "blueprint_select_tool", "bootstrap_extract_agent_name", "bootstrap_extract_agent_vibe",
        "bootstrap_extract_user_handle", "canary_recap_thread", "detect_upgrade_request",
        "judge_thread_summary_quality", "rlm_summarize_thread",
    };
    assert_int_equal(cJSON_GetArraySize(catalog), ARRAY_LEN(keys));
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        const cJSON *s = by_key(keys[i]);
        struct dse_err err;
        assert_int_equal(catalog_validate(s, &err), 0);
        assert_non_null(catalog_input_schema(s));
        assert_non_null(catalog_output_schema(s));
        assert_non_null(catalog_prompt_ir(s));
    }
    assert_string_equal(catalog_id(by_key("blueprint_select_tool")),
                        "@openagents/autopilot/blueprint/SelectTool.v1");
    assert_string_equal(catalog_id(by_key("canary_recap_thread")),
                        "@openagents/autopilot/canary/RecapThread.v1");
    assert_string_equal(catalog_id(by_key("judge_thread_summary_quality")),
                        "@openagents/autopilot/judge/ThreadSummaryQuality.v1");
}

static void test_default_compiled_ids(void **state)
{
    (void)state;
    static const char *const want[][2] = {
        {"blueprint_select_tool", "sha256:a76900eb174f20d0364ad84b189228a67958612fa0733c10349c52c439f64525"},
        {"canary_recap_thread", "sha256:bd6b188cb34f3fc1857bb30b9e48612883194ba2930573d214c1e6b2ccb54a7e"},
        {"judge_thread_summary_quality", "sha256:c287f9f20d8683469f4418ffeefada8dcce77a89e08b57f71d7c6a19cbb7bd6c"},
        {"bootstrap_extract_user_handle", "sha256:af8fd5003b0420ca094a438788e3059bfa8199f5f11a6b3da1adf245a573948f"},
        {"bootstrap_extract_agent_name", "sha256:af8fd5003b0420ca094a438788e3059bfa8199f5f11a6b3da1adf245a573948f"},
        {"bootstrap_extract_agent_vibe", "sha256:af8fd5003b0420ca094a438788e3059bfa8199f5f11a6b3da1adf245a573948f"},
        {"detect_upgrade_request", "sha256:414e0b59c4b40c53169ac5a178e18544adaedb79b0870d77622f2af7ef473737"},
        {"rlm_summarize_thread", "sha256:631163077f625181edadc9a73fcdf37d4ea7444b43c4c6942a0650fff6649340"},
    };
    for (size_t i = 0; i < ARRAY_LEN(want); i++) {
        char id[HASH_ID_LEN + 1];
        catalog_default_id(by_key(want[i][0]), id);
        assert_string_equal(id, want[i][1]);
    }
    /* the judge's canonical params, spelled out in the reference */
    char *c = json_canonical(catalog_default_params(by_key("judge_thread_summary_quality")));
    assert_string_equal(c, "{\"budgets\":{\"maxLmCalls\":5,\"maxOutputChars\":20000,\"maxTimeMs\":10000},"
                           "\"decode\":{\"maxRepairs\":0,\"mode\":\"strict_json\"},\"model\":{\"maxTokens\":256,"
                           "\"temperature\":0},\"paramsVersion\":1,\"strategy\":{\"id\":\"direct.v1\"}}");
    free(c);
}

static void test_default_job(void **state)
{
    (void)state;
    /* reference vector: the default job of ExtractUserHandle */
    char h[HASH_ID_LEN + 1];
    catalog_job_hash(by_key("bootstrap_extract_user_handle"), h);
    assert_string_equal(h, "sha256:f4d31cfb10384edf472e859ab8dfaed2594134f8341dd0f19f824f64e36ba41b");
    /* a signature without compileJob gets the same default */
    cJSON *s = json_dup(by_key("bootstrap_extract_user_handle"));
    cJSON_DeleteItemFromObjectCaseSensitive(s, "compileJob");
    char h2[HASH_ID_LEN + 1];
    catalog_job_hash(s, h2);
    assert_string_equal(h, h2);
    cJSON *job = catalog_compile_job(s);
    char *c = json_canonical(job);
    assert_string_equal(c, "{\"datasetId\":\"convex:dseExamples:@openagents/autopilot/bootstrap/ExtractUserHandle.v1\","
                           "\"format\":\"openagents.dse.compile_job\",\"formatVersion\":1,"
                           "\"metricId\":\"reward_exact_json_match.v1\",\"optimizer\":{\"id\":\"instruction_grid.v1\"},"
                           "\"searchSpace\":{},\"signatureId\":\"@openagents/autopilot/bootstrap/ExtractUserHandle.v1\"}");
    free(c);
    cJSON_Delete(job);
    cJSON_Delete(s);
    char *did = catalog_dataset_id("x/y.v1");
    assert_string_equal(did, "convex:dseExamples:x/y.v1");
    free(did);
}

static void test_select_tool_job(void **state)
{
    (void)state;
    const cJSON *sig = by_key("blueprint_select_tool");
    cJSON *job = catalog_compile_job(sig);
    assert_string_equal(json_str(job, "metricId", ""), "reward_exact_json_match.v1");
    assert_string_equal(json_str(json_get(job, "optimizer"), "id", ""),
                        "joint_instruction_grid_then_fewshot_greedy_forward.v1");
    const cJSON *ss = json_get(job, "searchSpace");
    const cJSON *iv = json_get(ss, "instructionVariants");
    assert_int_equal(cJSON_GetArraySize(iv), 4);
    /* grid order is collate order: v1_common_phrasings sorts first */
    const char *ids[4];
    int i = 0;
    for (const cJSON *v = iv->child; v; v = v->next)
        ids[i++] = json_str(v, "id", "");
    qsort(ids, 4, sizeof ids[0], collate_qsort_cmp);
    assert_string_equal(ids[0], "v1_common_phrasings");
    assert_string_equal(ids[1], "v1.base_router_rules");
    assert_string_equal(ids[2], "v1.boundaries_vs_identity");
    assert_string_equal(ids[3], "v1.none_by_default_strict");
    const cJSON *fs = json_get(ss, "fewShot");
    assert_string_equal(json_str(fs, "fromSplit", ""), "train");
    assert_int_equal(json_int(fs, "kMax", 0), 4);
    assert_int_equal(json_int(fs, "maxCandidates", 0), 24);
    cJSON_Delete(job);

    /* jobHash is stable ... */
    char a[HASH_ID_LEN + 1], b[HASH_ID_LEN + 1];
    catalog_job_hash(sig, a);
    catalog_job_hash(sig, b);
    assert_string_equal(a, b);
    struct dse_err err;
    cJSON *again = catalog_load(NULL, &err);
    for (const cJSON *s = again->child; s; s = s->next)
        if (!strcmp(catalog_key(s), "blueprint_select_tool")) {
            catalog_job_hash(s, b);
            assert_string_equal(a, b);
        }
    cJSON_Delete(again);
    /* ... and moves when one instruction text changes */
    cJSON *copy = json_dup(sig);
    cJSON *v0 = cJSON_GetArrayItem(
        (cJSON *)json_path(copy, "compileJob.searchSpace.instructionVariants"), 2);
    cJSON_ReplaceItemInObjectCaseSensitive(v0, "text", cJSON_CreateString("Answer JSON only."));
    catalog_job_hash(copy, b);
    assert_string_not_equal(a, b);
    /* but not when only key order or whitespace differs (canonical JSON) */
    cJSON_Delete(copy);

    /* labelValues: the 8 possible outputs */
    const cJSON *lv = json_get(sig, "labelValues");
    assert_int_equal(cJSON_GetArraySize(lv), 8);
    /* five authored demos in the reference's order */
    const cJSON *blocks = json_get(catalog_prompt_ir(sig), "blocks");
    const cJSON *shots = NULL;
    for (const cJSON *bk = blocks->child; bk; bk = bk->next)
        if (!strcmp(json_str(bk, "_tag", ""), "FewShot"))
            shots = json_get(bk, "examples");
    assert_non_null(shots);
    static const char *const want[][2] = {{"ex1", "identity_update"}, {"ex2", "user_update"},
                                          {"ex3", "character_update"}, {"ex4", "blueprint_export"},
                                          {"ex5", NULL}};
    i = 0;
    for (const cJSON *e = shots->child; e; e = e->next, i++) {
        assert_string_equal(json_str(e, "id", ""), want[i][0]);
        const cJSON *out = json_get(e, "output");
        if (want[i][1])
            assert_string_equal(json_str(out, "toolName", ""), want[i][1]);
        else
            assert_string_equal(json_str(out, "action", ""), "none");
    }
    assert_int_equal(i, 5);
}

static void test_recap_job(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        const cJSON *sig = by_key(k ? "rlm_summarize_thread" : "canary_recap_thread");
        cJSON *job = catalog_compile_job(sig);
        assert_string_equal(json_str(job, "metricId", ""), "reward_thread_summary_judge.v1");
        const cJSON *opt = json_get(job, "optimizer");
        assert_string_equal(json_str(opt, "id", ""), "knobs_grid_refine.v1");
        assert_int_equal(json_int(json_get(opt, "config"), "maxCandidates", 0), 96);
        const cJSON *ss = json_get(job, "searchSpace");
        const char *lists[][3] = {
            {"instructionVariants", "v1.base_bullets", "v1.hallucination_penalty"},
            {"rlmControllerInstructionVariants", "v1.json_strict_and_budgeted", "v1.search_first_then_extract"},
            {"rlmChunkingPolicyVariants", "v1.small", "v1.medium"},
            {"rlmSubRoleVariants", "v1.sub", "v1.main"},
            {"budgetProfiles", "v1.fast", "v1.default"},
        };
        for (size_t i = 0; i < ARRAY_LEN(lists); i++) {
            const cJSON *arr = json_get(ss, lists[i][0]);
            assert_int_equal(cJSON_GetArraySize(arr), 2);
            assert_string_equal(json_str(cJSON_GetArrayItem(arr, 0), "id", ""), lists[i][1]);
            assert_string_equal(json_str(cJSON_GetArrayItem(arr, 1), "id", ""), lists[i][2]);
        }
        char *c = json_canonical(json_get(ss, "strategyVariants"));
        assert_string_equal(c, "[{\"id\":\"v1.rlm_lite\",\"strategyId\":\"rlm_lite.v1\"}]");
        free(c);
        c = json_canonical(json_get(ss, "rlmChunkingPolicyVariants"));
        assert_string_equal(c, "[{\"chunkChars\":2000,\"id\":\"v1.small\",\"maxChunks\":40,\"overlapChars\":200},"
                               "{\"chunkChars\":4000,\"id\":\"v1.medium\",\"maxChunks\":60,\"overlapChars\":300}]");
        free(c);
        c = json_canonical(json_get(ss, "budgetProfiles"));
        assert_string_equal(c, "[{\"budgets\":{\"maxLmCalls\":20,\"maxOutputChars\":80000,\"maxRlmIterations\":6,"
                               "\"maxSubLmCalls\":12,\"maxTimeMs\":10000},\"id\":\"v1.fast\"},"
                               "{\"budgets\":{\"maxLmCalls\":40,\"maxOutputChars\":120000,\"maxRlmIterations\":10,"
                               "\"maxSubLmCalls\":20,\"maxTimeMs\":15000},\"id\":\"v1.default\"}]");
        free(c);
        c = json_canonical(json_get(ss, "rlmSubRoleVariants"));
        assert_string_equal(c, "[{\"id\":\"v1.sub\",\"subRole\":\"sub\"},{\"id\":\"v1.main\",\"subRole\":\"main\"}]");
        free(c);
        cJSON_Delete(job);
    }
}

static void test_contract_and_hashes(void **state)
{
    (void)state;
    const cJSON *sig = by_key("judge_thread_summary_quality");
    cJSON *c = catalog_contract(sig);
    assert_string_equal(json_str(c, "format", ""), "openagents.dse.signature_contract");
    assert_int_equal(json_int(c, "formatVersion", 0), 1);
    assert_string_equal(json_str(c, "signatureId", ""), catalog_id(sig));
    assert_true(json_equal(json_get(c, "inputSchemaJson"), catalog_input_schema(sig)));
    assert_true(json_equal(json_get(c, "outputSchemaJson"), catalog_output_schema(sig)));
    assert_true(json_equal(json_get(c, "promptIr"), catalog_prompt_ir(sig)));
    assert_true(json_equal(json_get(c, "defaultParams"), catalog_default_params(sig)));
    char *dc = json_canonical(json_get(c, "defaultConstraints"));
    assert_string_equal(dc, "{}");
    free(dc);
    cJSON_Delete(c);
    char in[HASH_ID_LEN + 1], out[HASH_ID_LEN + 1], ir[HASH_ID_LEN + 1], h[HASH_ID_LEN + 1];
    catalog_hashes(sig, in, out, ir);
    hash_json(catalog_input_schema(sig), h);
    assert_string_equal(in, h);
    hash_json(catalog_output_schema(sig), h);
    assert_string_equal(out, h);
    hash_json(catalog_prompt_ir(sig), h);
    assert_string_equal(ir, h);
    assert_string_not_equal(in, out);
}

/* Replace a dotted path in a copy of SelectTool and return the validation
 * message ("" when valid). */
static char vmsg[512];
static const char *mutate(const char *dotted_parent, const char *key, const char *json_value)
{
    cJSON *s = json_dup(by_key("blueprint_select_tool"));
    cJSON *parent = dotted_parent ? (cJSON *)json_path(s, dotted_parent) : s;
    assert_non_null(parent);
    struct dse_err err;
    if (json_value) {
        cJSON *v = json_parse_str(json_value, &err);
        assert_non_null(v);
        if (cJSON_IsArray(parent))
            cJSON_ReplaceItemInArray(parent, atoi(key), v);
        else
            json_set(parent, key, v);
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
    }
    int rc = catalog_validate(s, &err);
    snprintf(vmsg, sizeof vmsg, "%s", rc ? err.msg : "");
    if (rc)
        assert_string_equal(err.code, "invalid_catalog");
    cJSON_Delete(s);
    return vmsg;
}

static void test_validate_messages(void **state)
{
    (void)state;
    assert_string_equal(mutate(NULL, "title", "\"ok\""), "");
    assert_string_equal(mutate(NULL, "outputSchema", "7"), "outputSchema must be an object");
    assert_string_equal(mutate(NULL, "inputSchema", NULL), "inputSchema must be an object");
    assert_string_equal(mutate(NULL, "format", "\"x\""), "format must be \"dse.signature\"");
    assert_string_equal(mutate(NULL, "signatureId", "\"\""), "signatureId must be a non-empty string");
    assert_string_equal(mutate(NULL, "key", "\"Select Tool\""), "key must use only a-z, 0-9 and _");
    assert_string_equal(mutate(NULL, "outputSchema", "{\"type\":\"object\",\"pattern\":\"x\"}"),
                        "outputSchema: #: unsupported keyword \"pattern\"");
    assert_string_equal(mutate("defaultParams", "paramsVersion", "2"),
                        "defaultParams.paramsVersion must be 1");
    assert_string_equal(mutate("defaultParams", "temperature", "0"),
                        "defaultParams.temperature is not a DseParamsV1 field");
    assert_string_equal(mutate("defaultParams.decode", "mode", "\"loose\""),
                        "defaultParams.decode.mode must be strict_json or jsonish");
    assert_string_equal(mutate("compileJob.optimizer", "id", "\"magic.v1\""),
                        "compileJob.optimizer.id \"magic.v1\" is not one of instruction_grid.v1, "
                        "fewshot_greedy_forward.v1, joint_instruction_grid_then_fewshot_greedy_forward.v1, "
                        "knobs_grid.v1, knobs_grid_refine.v1");
    assert_string_equal(mutate("compileJob.searchSpace.instructionVariants", "1",
                               "{\"id\":\"v1.base_router_rules\",\"text\":\"x\"}"),
                        "compileJob.searchSpace.instructionVariants: duplicate id \"v1.base_router_rules\"");
    assert_string_equal(mutate("compileJob.searchSpace.fewShot", "fromSplit", "\"holdout\""),
                        "compileJob.searchSpace.fewShot.fromSplit must be \"train\" (demos never come from holdout)");
    assert_string_equal(mutate("compileJob.searchSpace", "fewShot", NULL),
                        "compileJob: optimizer joint_instruction_grid_then_fewshot_greedy_forward.v1 needs searchSpace.fewShot");
    assert_string_equal(mutate("labelValues", "0", "{\"action\":\"maybe\"}"),
                        "labelValues[0]: $.action: expected one of none, tool (got \"maybe\")");
    assert_string_equal(mutate("labelValues", "1", "{\"action\":\"none\"}"),
                        "labelValues[1] repeats an earlier value");
}

static void test_validate_fewshot(void **state)
{
    (void)state;
    cJSON *s = json_dup(by_key("blueprint_select_tool"));
    cJSON *blocks = (cJSON *)json_path(s, "promptIr.blocks");
    cJSON *shots = NULL;
    for (cJSON *b = blocks->child; b; b = b->next)
        if (!strcmp(json_str(b, "_tag", ""), "FewShot"))
            shots = (cJSON *)json_get(b, "examples");
    cJSON *e1 = cJSON_GetArrayItem(shots, 1);
    json_set_str(e1, "id", "ex1");
    struct dse_err err;
    assert_int_equal(catalog_validate(s, &err), -1);
    assert_string_equal(err.msg, "promptIr.blocks[2].examples[1]: few-shot id \"ex1\" is not unique");
    json_set_str(e1, "id", "ex2");
    cJSON *out = (cJSON *)json_get(e1, "output");
    json_set_str(out, "toolName", "rm_rf");
    assert_int_equal(catalog_validate(s, &err), -1);
    assert_true(!strncmp(err.msg, "promptIr.blocks[2].examples[1].output: $.toolName: expected one of identity_update", 80));
    json_set_str(out, "toolName", "user_update");
    cJSON *in = (cJSON *)json_get(e1, "input");
    cJSON_DeleteItemFromObjectCaseSensitive(in, "message");
    assert_int_equal(catalog_validate(s, &err), -1);
    assert_string_equal(err.msg, "promptIr.blocks[2].examples[1].input: $.message: required property is missing");
    cJSON_Delete(s);
}

/* ---- loading from a directory ---- */

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void remove_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    unlink(path);
}

static void test_load_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dse-catalog-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    struct dse_err err;
    assert_null(catalog_load(tmpdir, &err));
    assert_string_equal(err.code, "catalog_not_found");

    char *good = json_pretty(by_key("bootstrap_extract_agent_name"));
    write_file("a.json", good);
    write_file("notes.txt", "not a signature");
    cJSON *c = catalog_load(tmpdir, &err);
    assert_non_null(c);
    assert_int_equal(cJSON_GetArraySize(c), 1);
    cJSON_Delete(c);

    /* a broken file is named, with the field */
    cJSON *bad = json_dup(by_key("bootstrap_extract_user_handle"));
    json_set_num(bad, "outputSchema", 1);
    char *bt = json_pretty(bad);
    write_file("x.json", bt);
    assert_null(catalog_load(tmpdir, &err));
    char want[256];
    snprintf(want, sizeof want, "%s/x.json: outputSchema must be an object", tmpdir);
    assert_string_equal(err.msg, want);
    assert_string_equal(err.code, "invalid_catalog");
    free(bt);
    cJSON_Delete(bad);

    /* invalid JSON: file, line and column */
    write_file("x.json", "{\n  \"format\": \"dse.signature\",\n  oops\n}\n");
    assert_null(catalog_load(tmpdir, &err));
    assert_string_equal(err.code, "invalid_json");
    assert_non_null(strstr(err.msg, "/x.json: line 3 col"));

    /* the same id twice */
    write_file("x.json", good);
    assert_null(catalog_load(tmpdir, &err));
    assert_non_null(strstr(err.msg, "signatureId \"@openagents/autopilot/bootstrap/ExtractAgentName.v1\" is already used by"));
    remove_file("x.json");
    remove_file("a.json");
    remove_file("notes.txt");
    rmdir(tmpdir);
    free(good);
}

/* ---- install and resolve (needs a working SQLite store) ---- */

static struct store *open_store(void)
{
    struct dse_err err;
    struct store *st = store_open_sqlite(":memory:", 0, &err);
    if (!st)
        print_message("store unavailable (%s: %s); skipping\n", err.code, err.msg);
    return st;
}

static void test_install_and_resolve(void **state)
{
    (void)state;
    struct store *st = open_store();
    if (!st) {
        skip();
        return;
    }
    struct dse_err err;
    int added = -1, changed = -1;
    assert_int_equal(catalog_install(st, NULL, &added, &changed, &err), 0);
    assert_int_equal(added, 8);
    assert_int_equal(changed, 0);
    assert_int_equal(catalog_install(st, NULL, &added, &changed, &err), 0);
    assert_int_equal(added, 0);
    assert_int_equal(changed, 0);

    const char *sel = "@openagents/autopilot/blueprint/SelectTool.v1";
    const char *names[] = {sel, "blueprint_select_tool", "SelectTool.v1", "blueprint/SelectTool.v1"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        char *id = catalog_resolve(st, names[i], &err);
        assert_non_null(id);
        assert_string_equal(id, sel);
        free(id);
    }
    assert_null(catalog_resolve(st, "Nope.v1", &err));
    assert_string_equal(err.code, "unknown_signature");
    assert_null(catalog_resolve(st, "thread", &err));
    assert_non_null(strstr(err.msg, "did you mean"));
    assert_non_null(strstr(err.msg, "RecapThread.v1"));
    assert_non_null(strstr(err.msg, "SummarizeThread.v1"));

    /* an ambiguous suffix lists the candidates */
    cJSON *twin = json_dup(by_key("blueprint_select_tool"));
    json_set_str(twin, "signatureId", "@other/blueprint/SelectTool.v1");
    json_set_str(twin, "key", "other_select_tool");
    cJSON *args = json_obj();
    json_set(args, "signature", twin);
    assert_int_equal(store_call(st, STORE_OP_x_sig_put, args, NULL, &err), 0);
    cJSON_Delete(args);
    assert_null(catalog_resolve(st, "SelectTool.v1", &err));
    assert_non_null(strstr(err.msg, "ambiguous"));
    assert_non_null(strstr(err.msg, "@other/blueprint/SelectTool.v1"));
    assert_non_null(strstr(err.msg, sel));
    char *id = catalog_resolve(st, "other_select_tool", &err);
    assert_string_equal(id, "@other/blueprint/SelectTool.v1");
    free(id);
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_catalog),
        cmocka_unit_test(test_default_compiled_ids),
        cmocka_unit_test(test_default_job),
        cmocka_unit_test(test_select_tool_job),
        cmocka_unit_test(test_recap_job),
        cmocka_unit_test(test_contract_and_hashes),
        cmocka_unit_test(test_validate_messages),
        cmocka_unit_test(test_validate_fewshot),
        cmocka_unit_test(test_load_dir),
        cmocka_unit_test(test_install_and_resolve),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
