/* compat: artifacts against the reference runtime's decoder and renderer
 * (compat.h), the reference compile profile, and the promote / canary-start
 * guard on a store that behaves like a plain reference deployment: an
 * in-process HTTP server that answers the reference's dse/ functions from a
 * SQLite store and "Could not find public function" for every dsex/ path,
 * as a Convex deployment of the reference functions does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "compat.h"
#include "compile.h"
#include "dataset.h"
#include "gate.h"
#include "json.h"
#include "lm.h"
#include "render.h"
#include "store.h"
#include "util.h"

#define SELECT "@openagents/autopilot/blueprint/SelectTool.v1"
#define VIBE "@openagents/autopilot/bootstrap/ExtractAgentVibe.v1"
#define RECAP "@openagents/autopilot/canary/RecapThread.v1"

static cJSON *catalog;

static cJSON *parse(const char *text)
{
    struct dse_err err;
    cJSON *v = json_parse_str(text, &err);
    if (!v)
        fail_msg("bad JSON in test: %s", err.msg);
    return v;
}

static const cJSON *sig_of(const char *id)
{
    for (const cJSON *s = catalog->child; s; s = s->next)
        if (!strcmp(catalog_id(s), id))
            return s;
    fail_msg("no signature %s", id);
    return NULL;
}

/* An artifact of sig for params (given as JSON text), as dse's compile
 * writes it; compiled_id = paramsHash(params). */
static cJSON *artifact_for(const char *sig_id, const char *params_json)
{
    cJSON *p = parse(params_json);
    cJSON *opt = parse("{\"id\":\"instruction_grid.v1\"}");
    cJSON *a = compile_artifact(sig_of(sig_id), p, NULL, opt, NULL);
    cJSON_Delete(opt);
    cJSON_Delete(p);
    return a;
}

/* Run the check; return the issues (caller frees) and the error. */
static cJSON *check(const cJSON *art, int want_rc, struct dse_err *err)
{
    cJSON *issues = NULL;
    memset(err, 0, sizeof *err);
    int rc = compat_check_reference(art, &issues, err);
    if (rc != want_rc) {
        char *s = json_canonical(issues);
        fail_msg("compat rc %d (want %d): %s %s", rc, want_rc, err->msg, s);
    }
    assert_non_null(issues);
    return issues;
}

static const cJSON *find_issue(const cJSON *issues, const char *path, const char *kind)
{
    for (const cJSON *i = issues->child; i; i = i->next)
        if (!strcmp(json_str(i, "path", ""), path) && !strcmp(json_str(i, "kind", ""), kind))
            return i;
    char *s = json_canonical(issues);
    fail_msg("no %s issue at %s in %s", kind, path, s);
    return NULL;
}

/* The artifact of sig for params passes the check. */
static void expect_compatible(const char *sig_id, const char *params_json)
{
    struct dse_err err;
    cJSON *a = artifact_for(sig_id, params_json);
    cJSON_Delete(check(a, 0, &err));
    cJSON_Delete(a);
}

/* It fails the check, with (at least) this issue. */
static void expect_issue(const char *sig_id, const char *params_json, const char *path,
                         const char *kind)
{
    struct dse_err err;
    cJSON *a = artifact_for(sig_id, params_json);
    cJSON *issues = check(a, -1, &err);
    assert_string_equal(err.code, "incompatible_artifact");
    find_issue(issues, path, kind);
    cJSON_Delete(issues);
    cJSON_Delete(a);
}

/* ---- the check ---- */

static void test_compatible(void **state)
{
    (void)state;
    struct dse_err err;
    /* every built-in signature's defaults (what seeds a control) */
    for (const cJSON *s = catalog->child; s; s = s->next) {
        char *p = json_canonical(catalog_default_params(s));
        expect_compatible(catalog_id(s), p);
        free(p);
    }
    /* authored few-shot ids, instruction, model, roles, tools, rlm, budgets */
    cJSON *a = artifact_for(
        SELECT, "{\"paramsVersion\":1,\"instruction\":{\"text\":\"Route.\"},"
                "\"fewShot\":{\"exampleIds\":[\"ex5\",\"ex1\"],\"k\":2},"
                "\"model\":{\"modelId\":\"m\",\"temperature\":0,\"topP\":1,\"maxTokens\":256},"
                "\"modelRoles\":{\"repair\":{\"maxTokens\":64}},"
                "\"decode\":{\"mode\":\"jsonish\",\"maxRepairs\":3},"
                "\"tools\":{\"allowedToolNames\":[\"a\"],\"maxToolCalls\":1,"
                "\"timeoutMsByToolName\":{\"a\":500}},"
                "\"strategy\":{\"id\":\"rlm_lite.v1\",\"config\":{\"anything\":[1,null]}},"
                "\"rlmLite\":{\"controllerInstructions\":\"c\",\"chunkDefaults\":{\"chunkChars\":2000},"
                "\"subRole\":\"sub\"},"
                "\"budgets\":{\"maxRlmIterations\":6,\"maxSubLmCalls\":10}}");
    cJSON_Delete(check(a, 0, &err));
    /* keys outside params are metadata the decoder drops harmlessly */
    json_set_str(a, "dseNote", "ours");
    json_set_num(cJSON_GetObjectItemCaseSensitive(a, "eval"), "metricVersion", 1);
    cJSON_Delete(check(a, 0, &err));
    cJSON_Delete(a);
}

static void test_decode_issues(void **state)
{
    (void)state;
    struct dse_err err;
    cJSON *a = artifact_for(SELECT, "{\"paramsVersion\":1,\"decode\":{\"mode\":\"json5\"},"
                                    "\"fewShot\":{\"k\":2},\"rlmLite\":{\"subRole\":\"other\","
                                    "\"chunkDefaults\":{\"overlapChars\":1}},"
                                    "\"tools\":{\"allowedToolNames\":[1]},"
                                    "\"model\":{\"temperature\":null}}");
    cJSON_DeleteItemFromObjectCaseSensitive(a, "createdAt");
    json_set_num(a, "formatVersion", 2);
    json_set(cJSON_GetObjectItemCaseSensitive(a, "eval"), "reward", cJSON_CreateNull());
    cJSON *issues = check(a, -1, &err);
    assert_string_equal(err.code, "incompatible_artifact");
    find_issue(issues, "createdAt", "decode");
    find_issue(issues, "formatVersion", "decode");
    find_issue(issues, "eval.reward", "decode");
    find_issue(issues, "params.decode.mode", "decode");
    find_issue(issues, "params.fewShot.exampleIds", "decode");
    find_issue(issues, "params.rlmLite.subRole", "decode");
    find_issue(issues, "params.rlmLite.chunkDefaults.chunkChars", "decode");
    find_issue(issues, "params.tools.allowedToolNames", "decode");
    const cJSON *t = find_issue(issues, "params.model.temperature", "decode");
    assert_non_null(strstr(json_str(t, "why", ""), "null is not accepted"));
    assert_non_null(strstr(err.msg, "createdAt (decode)"));
    assert_non_null(strstr(err.msg, "dse compile --profile reference"));
    cJSON_Delete(issues);
    cJSON_Delete(a);

    expect_issue(SELECT, "{\"paramsVersion\":2}", "params.paramsVersion", "decode");

    a = parse("[1]");
    issues = check(a, -1, &err);
    find_issue(issues, "", "decode");
    cJSON_Delete(issues);
    cJSON_Delete(a);
}

/* What dse's default SelectTool job writes: train-split demos. */
static const char *demos_params =
    "{\"paramsVersion\":1,\"decode\":{\"mode\":\"jsonish\",\"maxRepairs\":3},"
    "\"fewShot\":{\"k\":6,\"exampleIds\":[\"ex1\",\"ex2\",\"ex3\",\"ex4\",\"ex5\",\"st_007\"],"
    "\"demos\":[{\"id\":\"st_007\",\"input\":{\"message\":\"hi\",\"blueprintHint\":{\"userHandle\":"
    "\"A\",\"agentName\":\"B\"}},\"output\":{\"action\":\"none\"}}]},"
    "\"model\":{\"temperature\":0,\"maxTokens\":256,\"seed\":7},\"extra\":true}";

static void test_dropped_render_hash(void **state)
{
    (void)state;
    struct dse_err err;
    cJSON *a = artifact_for(SELECT, demos_params);
    cJSON *issues = check(a, -1, &err);
    find_issue(issues, "params.fewShot.demos", "dropped");
    find_issue(issues, "params.model.seed", "dropped");
    find_issue(issues, "params.extra", "dropped");
    const cJSON *r = find_issue(issues, "params.fewShot.exampleIds", "render");
    assert_non_null(strstr(json_str(r, "why", ""), "st_007"));
    assert_null(strstr(json_str(r, "why", ""), "ex1"));
    assert_non_null(strstr(json_str(r, "fix", ""), "ex1, ex2, ex3, ex4, ex5"));
    /* dse's compiled_id hashes the demos; the reference's paramsHash does not */
    find_issue(issues, "compiled_id", "hash");
    assert_int_equal(cJSON_GetArraySize(issues), 5);
    assert_non_null(strstr(err.msg, "params.fewShot.demos (dropped)"));
    cJSON_Delete(issues);
    cJSON_Delete(a);

    /* a compiled_id that is not the params' hash at all */
    a = artifact_for(SELECT, "{\"paramsVersion\":1}");
    json_set_str(a, "compiled_id", "sha256:00");
    issues = check(a, -1, &err);
    find_issue(issues, "compiled_id", "hash");
    assert_int_equal(cJSON_GetArraySize(issues), 1);
    cJSON_Delete(issues);
    cJSON_Delete(a);

    /* our ExtractAgentVibe has ex2; the reference's has only ex1 */
    expect_issue(VIBE, "{\"paramsVersion\":1,\"fewShot\":{\"exampleIds\":[\"ex2\"]}}",
                 "params.fewShot.exampleIds", "render");
    expect_compatible(VIBE, "{\"paramsVersion\":1,\"fewShot\":{\"exampleIds\":[\"ex1\"]}}");
}

static void test_runtime_and_signature(void **state)
{
    (void)state;
    expect_issue(RECAP, "{\"paramsVersion\":1,\"strategy\":{\"id\":\"tree_of_thought.v9\"}}",
                 "params.strategy.id", "runtime");
    expect_issue(RECAP,
                 "{\"paramsVersion\":1,\"strategy\":{\"id\":\"rlm_lite.v1\"},"
                 "\"budgets\":{\"maxRlmIterations\":4}}",
                 "params.budgets", "runtime");
    expect_compatible(RECAP, "{\"paramsVersion\":1,\"strategy\":{\"id\":"
                             "\"distilled.search_line_extract.v1\"}}");
    struct dse_err err;
    cJSON *a = artifact_for(SELECT, "{\"paramsVersion\":1}");
    json_set_str(a, "signatureId", "@example/NotInTheReference.v1");
    cJSON *issues = check(a, -1, &err);
    find_issue(issues, "signatureId", "unknown_signature");
    cJSON_Delete(issues);
    cJSON_Delete(a);
}

/* ---- the profile ---- */

static void test_profile_signature(void **state)
{
    (void)state;
    struct dse_err err;
    cJSON *p = compat_reference_signature(sig_of(SELECT), &err);
    assert_non_null(p);
    const cJSON *fs = json_path(p, "compileJob.searchSpace.fewShot");
    char *s = json_canonical(fs);
    assert_string_equal(s, "{\"candidateExampleIds\":[\"ex1\",\"ex2\",\"ex3\",\"ex4\",\"ex5\"],\"kMax\":4}");
    free(s);
    assert_string_equal(json_str(json_path(p, "compileJob.optimizer"), "id", ""),
                        "joint_instruction_grid_then_fewshot_greedy_forward.v1");
    assert_int_equal(catalog_validate(p, &err), 0);
    char h1[HASH_ID_LEN + 1], h2[HASH_ID_LEN + 1];
    catalog_job_hash(sig_of(SELECT), h1);
    catalog_job_hash(p, h2);
    assert_string_not_equal(h1, h2);
    cJSON_Delete(p);

    /* a train-split job on ExtractAgentVibe keeps only the reference's ex1 */
    cJSON *v = json_dup(sig_of(VIBE));
    cJSON *cj = cJSON_GetObjectItemCaseSensitive(v, "compileJob");
    json_set(cJSON_GetObjectItemCaseSensitive(cj, "searchSpace"), "fewShot",
             parse("{\"fromSplit\":\"train\",\"kMax\":2}"));
    json_set(cj, "optimizer", parse("{\"id\":\"fewshot_greedy_forward.v1\"}"));
    p = compat_reference_signature(v, &err);
    s = json_canonical(json_path(p, "compileJob.searchSpace.fewShot"));
    assert_string_equal(s, "{\"candidateExampleIds\":[\"ex1\"],\"kMax\":2}");
    free(s);
    cJSON_Delete(p);
    /* and with no shared id the few-shot search goes, and its optimizer */
    cJSON *fsn = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cj, "searchSpace"), "fewShot");
    json_set(fsn, "candidateExampleIds", parse("[\"ex2\"]"));
    cJSON_DeleteItemFromObjectCaseSensitive(fsn, "fromSplit");
    p = compat_reference_signature(v, &err);
    assert_null(json_path(p, "compileJob.searchSpace.fewShot"));
    assert_string_equal(json_str(json_path(p, "compileJob.optimizer"), "id", ""),
                        "instruction_grid.v1");
    cJSON_Delete(p);
    /* a signature the reference does not define */
    json_set_str(v, "signatureId", "@example/NotInTheReference.v1");
    assert_null(compat_reference_signature(v, &err));
    assert_string_equal(err.code, "unknown_signature");
    cJSON_Delete(v);
}

/* ---- render: dse's prompt equals the reference renderer's ----
 *
 * The fixture is the reference's own ExtractUserHandle prompt
 * (apps/autopilot-worker/src/dseCatalog.ts) with an output schema given as
 * JSON.  The expected text applies packages/dse/src/runtime/render.ts step
 * by step: system = joinNonEmpty(System texts); user = joinNonEmpty([
 * instruction (params.instruction.text replaces it), context, tools,
 * outputFormat, fewShot, input]) where joinNonEmpty trims each part, drops
 * empty ones and joins with "\n\n"; tools = joinNonEmpty(["Tools:",
 * "Allowed tools: " + names.join(", ") | "Allowed tools: (none declared)",
 * "Max tool calls: N"]); outputFormat = joinNonEmpty([header,
 * canonicalJson(schema)]); fewShot = "Few-shot examples:\n" + one
 * canonicalJson({id, input, output}) per selected example (authored order)
 * joined by "\n"; input = "Input:\n" + canonicalJson(input). */
static const char *ref_sig_json =
    "{\"signatureId\":\"@openagents/autopilot/bootstrap/ExtractUserHandle.v1\","
    "\"inputSchema\":{\"type\":\"object\",\"required\":[\"message\"],"
    "\"properties\":{\"message\":{\"type\":\"string\"}}},"
    "\"outputSchema\":{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"type\":\"object\","
    "\"required\":[\"handle\"],\"properties\":{\"handle\":{\"type\":\"string\",\"minLength\":1}},"
    "\"additionalProperties\":false},"
    "\"promptIr\":{\"version\":1,\"blocks\":["
    "{\"_tag\":\"System\",\"text\":\"You are a strict information extraction module for Autopilot "
    "bootstrap.\"},"
    "{\"_tag\":\"Instruction\",\"text\":\"Given the user's message, extract what Autopilot should "
    "call the user.\\n- Output MUST be JSON only.\\n- If the user provides multiple options, pick "
    "the most explicit handle.\\n- If the message is empty/meaningless, pick \\\"Unknown\\\".\"},"
    "{\"_tag\":\"FewShot\",\"examples\":["
    "{\"id\":\"ex1\",\"input\":{\"message\":\"Call me Ada.\"},\"output\":{\"handle\":\"Ada\"}},"
    "{\"id\":\"ex2\",\"input\":{\"message\":\"Chris\"},\"output\":{\"handle\":\"Chris\"}}]},"
    "{\"_tag\":\"OutputFormat\"}]},"
    "\"defaultParams\":{\"paramsVersion\":1,\"decode\":{\"mode\":\"strict_json\",\"maxRepairs\":0}}}";

#define REF_SCHEMA                                                                              \
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"additionalProperties\":false,"   \
    "\"properties\":{\"handle\":{\"minLength\":1,\"type\":\"string\"}},\"required\":[\"handle\"]," \
    "\"type\":\"object\"}"
#define REF_SYSTEM "You are a strict information extraction module for Autopilot bootstrap."
#define REF_INSTRUCTION                                                                         \
    "Given the user's message, extract what Autopilot should call the user.\n- Output MUST be "  \
    "JSON only.\n- If the user provides multiple options, pick the most explicit handle.\n- If " \
    "the message is empty/meaningless, pick \"Unknown\"."

static void render_case(const cJSON *sig, const char *params_json, const char *want_user)
{
    cJSON *params = parse(params_json);
    cJSON *input = parse("{\"message\":\"  hey, I'm Bo  \"}");
    struct render_out r;
    struct dse_err err;
    if (render_prompt(sig, params, input, NULL, RENDER_BLOBS_INLINE, &r, &err) != 0)
        fail_msg("render: %s", err.msg);
    assert_string_equal(r.system, REF_SYSTEM);
    assert_string_equal(r.user, want_user);
    /* and the artifact is one the reference accepts */
    cJSON *opt = parse("{\"id\":\"instruction_grid.v1\"}");
    cJSON *a = compile_artifact(sig, params, NULL, opt, NULL);
    cJSON *issues = check(a, 0, &err);
    cJSON_Delete(issues);
    cJSON_Delete(a);
    cJSON_Delete(opt);
    render_out_free(&r);
    cJSON_Delete(input);
    cJSON_Delete(params);
}

/* The expected text's pieces: the output format section, the two authored
 * examples as the few-shot section renders them, the input section. */
#define REF_FORMAT "Output format: JSON only. Match this schema:\n\n" REF_SCHEMA "\n\n"
#define REF_EX1 "{\"id\":\"ex1\",\"input\":{\"message\":\"Call me Ada.\"},\"output\":{\"handle\":\"Ada\"}}"
#define REF_EX2 "{\"id\":\"ex2\",\"input\":{\"message\":\"Chris\"},\"output\":{\"handle\":\"Chris\"}}"
#define REF_INPUT "\n\nInput:\n{\"message\":\"  hey, I'm Bo  \"}"

static void test_render_matches_reference(void **state)
{
    (void)state;
    cJSON *sig = parse(ref_sig_json);
    /* defaults: the authored instruction and every authored example */
    render_case(sig, "{\"paramsVersion\":1,\"decode\":{\"mode\":\"strict_json\",\"maxRepairs\":0}}",
                REF_INSTRUCTION "\n\n" REF_FORMAT "Few-shot examples:\n" REF_EX1 "\n" REF_EX2 REF_INPUT);
    /* instruction override (trimmed), a selection in another order than
     * authored (authored order wins), tools with a limit */
    render_case(sig,
                "{\"paramsVersion\":1,\"instruction\":{\"text\":\"  Return the handle.\\n\"},"
                "\"fewShot\":{\"exampleIds\":[\"ex2\",\"ex1\"],\"k\":2},"
                "\"tools\":{\"allowedToolNames\":[\"user_update\",\"memory_append\"],\"maxToolCalls\":1}}",
                "Return the handle.\n\n"
                "Tools:\n\nAllowed tools: user_update, memory_append\n\nMax tool calls: 1\n\n" REF_FORMAT
                "Few-shot examples:\n" REF_EX1 "\n" REF_EX2 REF_INPUT);
    /* one example; tools without names or limit */
    render_case(sig, "{\"paramsVersion\":1,\"fewShot\":{\"exampleIds\":[\"ex2\"]},\"tools\":{}}",
                REF_INSTRUCTION "\n\nTools:\n\nAllowed tools: (none declared)\n\n" REF_FORMAT
                "Few-shot examples:\n" REF_EX2 REF_INPUT);
    cJSON_Delete(sig);
}

/* ---- a plain reference deployment ---- */

static struct MHD_Daemon *fake;
static unsigned fake_port;
static struct store *backing;  /* what the fake deployment stores */
static int fake_ext;           /* answer dsex/meta:info like `dse serve` */
static int fake_dsex_calls;    /* dsex/ calls other than meta:info */

struct fake_req {
    struct sbuf body;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, cJSON *doc)
{
    char *body = json_canonical(doc);
    cJSON_Delete(doc);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static cJSON *error_doc(const char *msg)
{
    cJSON *d = json_obj();
    json_set_str(d, "status", "error");
    json_set_str(d, "errorMessage", msg);
    return d;
}

static enum MHD_Result fake_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version, const char *data,
                                    size_t *size, void **req_cls)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    struct fake_req *fr = *req_cls;
    if (!fr) {
        *req_cls = xcalloc(1, sizeof *fr);
        return MHD_YES;
    }
    if (*size) {
        sbuf_add(&fr->body, data, *size);
        *size = 0;
        return MHD_YES;
    }
    cJSON *doc = cJSON_ParseWithLength(fr->body.s ? fr->body.s : "", fr->body.len);
    const char *path = json_str(doc, "path", "");
    enum MHD_Result rc;
    if (!strncmp(path, "dsex/", 5)) {
        if (fake_ext && !strcmp(path, "dsex/meta:info")) {
            rc = reply(c, 200,
                       parse("{\"status\":\"success\",\"value\":{\"ok\":true,\"backend\":\"sqlite\","
                             "\"extensions\":[\"dsex/meta:info\",\"dsex/meta:changeCounter\"]}}"));
        } else {
            if (strcmp(path, "dsex/meta:info") != 0)
                fake_dsex_calls++;
            char msg[300];
            snprintf(msg, sizeof msg,
                     "[Request ID: 1] Server Error\nCould not find public function for '%.200s'.",
                     path);
            rc = reply(c, 400, error_doc(msg));
        }
    } else {
        const struct store_op_info *op = store_op_by_path(path);
        cJSON *value = NULL;
        struct dse_err err = {0};
        if (!op) {
            rc = reply(c, 400, error_doc("Could not find public function"));
        } else if (store_call(backing, op->op, json_get(doc, "args"), &value, &err) < 0) {
            char msg[600];
            snprintf(msg, sizeof msg, "%s: %s", err.code, err.msg);
            rc = reply(c, 400, error_doc(msg));
        } else {
            cJSON *d = json_obj();
            json_set_str(d, "status", "success");
            json_set(d, "value", value ? value : cJSON_CreateNull());
            rc = reply(c, 200, d);
        }
    }
    cJSON_Delete(doc);
    return rc;
}

static void fake_done(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct fake_req *fr = *req_cls;
    if (fr) {
        sbuf_free(&fr->body);
        free(fr);
    }
    *req_cls = NULL;
}

static struct store *open_fake(void)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", fake_port);
    struct dse_err err = {0};
    struct store *st = store_open_remote(url, NULL, 0, &err);
    if (!st)
        fail_msg("open remote: %s: %s", err.code, err.msg);
    return st;
}

struct world {
    struct lm_client *lm;
    struct compile_result def, ref;
};

static void world_open(struct world *w)
{
    struct dse_err err = {0};
    backing = store_open_sqlite(":memory:", 0, &err);
    assert_non_null(backing);
    assert_int_equal(catalog_install(backing, NULL, NULL, NULL, &err), 0);
    const char *src = getenv("DSE_SRCDIR");
    char *fx = xasprintf("%s/db/datasets/selecttool.dataset.v1.jsonl", src ? src : ".");
    struct dataset_import_result ir;
    if (dataset_import_file(backing, sig_of(SELECT), fx, NULL, &ir, &err) != 0)
        fail_msg("import %s: %s", fx, err.msg);
    free(fx);
    struct lm_config cfg = {.provider = "local-knn"};
    w->lm = lm_cache_wrap(lm_open(&cfg, &err), backing);
    assert_non_null(w->lm);
    /* the default job (train-split demos) and the reference profile */
    struct compile_opts o = {.signature_id = SELECT, .lm = w->lm, .concurrency = 2};
    if (compile_run(backing, &o, &w->def, &err) != 0)
        fail_msg("compile: %s: %s", err.code, err.msg);
    o.profile = COMPAT_PROFILE_REFERENCE;
    if (compile_run(backing, &o, &w->ref, &err) != 0)
        fail_msg("compile --profile reference: %s: %s", err.code, err.msg);
    fake_ext = 0;
    fake_dsex_calls = 0;
    fake = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                            fake_handler, NULL, MHD_OPTION_NOTIFY_COMPLETED, fake_done, NULL,
                            MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
    assert_non_null(fake);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(fake, MHD_DAEMON_INFO_BIND_PORT);
    fake_port = di->port;
}

static void world_close(struct world *w)
{
    MHD_stop_daemon(fake);
    compile_result_free(&w->def);
    compile_result_free(&w->ref);
    lm_close(w->lm);
    store_close(backing);
}

static void promote_opts(struct world *w, struct gate_opts *g, const char *id)
{
    gate_opts_init(g);
    g->signature_id = SELECT;
    g->compiled_id = id;
    g->lm = w->lm;
    g->concurrency = 2;
    g->min_delta = -1; /* this test is about compatibility, not improvement */
}

static void active_of(struct store *st, char out[HASH_ID_LEN + 8])
{
    struct dse_err err = {0};
    assert_int_equal(store_active_id(st, SELECT, out, HASH_ID_LEN + 8, &err), 0);
}

static void test_profile_compile(void **state)
{
    (void)state;
    struct world w;
    world_open(&w);
    struct dse_err err;
    assert_string_not_equal(w.def.job_hash, w.ref.job_hash);
    cJSON *def = store_artifact(backing, SELECT, w.def.compiled_id, &err);
    cJSON *ref = store_artifact(backing, SELECT, w.ref.compiled_id, &err);
    assert_non_null(def);
    assert_non_null(ref);
    /* the default job's best carries train demos: the reference cannot run it */
    assert_non_null(json_path(def, "params.fewShot.demos"));
    cJSON *issues = check(def, -1, &err);
    find_issue(issues, "params.fewShot.demos", "dropped");
    find_issue(issues, "params.fewShot.exampleIds", "render");
    cJSON_Delete(issues);
    /* the profile's best uses authored examples only and passes */
    assert_null(json_path(ref, "params.fewShot.demos"));
    issues = check(ref, 0, &err);
    cJSON_Delete(issues);
    /* the report records the profile's job */
    cJSON *a = json_obj(), *got = NULL;
    json_set_str(a, "signatureId", SELECT);
    json_set_str(a, "jobHash", w.ref.job_hash);
    json_set_str(a, "datasetHash", w.ref.dataset_hash);
    assert_int_equal(store_call(backing, STORE_OP_compile_get, a, &got, &err), 0);
    cJSON_Delete(a);
    char *fs = json_canonical(json_path(got, "report.json.job.searchSpace.fewShot"));
    assert_string_equal(fs, "{\"candidateExampleIds\":[\"ex1\",\"ex2\",\"ex3\",\"ex4\",\"ex5\"],\"kMax\":4}");
    free(fs);
    cJSON_Delete(got);
    cJSON_Delete(def);
    cJSON_Delete(ref);
    /* an unknown profile */
    struct compile_opts o = {.signature_id = SELECT, .lm = w.lm, .profile = "strict"};
    struct compile_result cr;
    assert_int_equal(compile_run(backing, &o, &cr, &err), -1);
    assert_string_equal(err.code, "invalid_job");
    world_close(&w);
}

static void test_plain_reference_guard(void **state)
{
    (void)state;
    struct world w;
    world_open(&w);
    struct store *st = open_fake();
    assert_true(compat_store_is_plain_reference(st));
    assert_false(compat_store_is_plain_reference(backing));
    struct dse_err err = {0};
    struct gate_opts g;
    struct gate_result gr;
    char from[HASH_ID_LEN + 1], act[HASH_ID_LEN + 8];

    /* promote of the default job's artifact: refused, nothing written */
    promote_opts(&w, &g, w.def.compiled_id);
    assert_int_equal(gate_promote(st, &g, &gr, from, &err), -1);
    assert_string_equal(err.code, "incompatible_artifact");
    assert_non_null(strstr(err.msg, w.def.compiled_id));
    assert_non_null(strstr(err.msg, "params.fewShot.demos (dropped)"));
    assert_non_null(strstr(err.msg, "dse compile --profile reference"));
    assert_non_null(strstr(err.msg, "--force"));
    active_of(st, act);
    assert_string_equal(act, "");

    /* canary start: refused before a control is seeded */
    struct canary_start_opts so;
    canary_start_opts_init(&so);
    so.gate = g;
    so.rollout_pct = 50;
    so.skip_gate = true;
    struct canary_start_result cs;
    assert_int_equal(gate_canary_start(st, &so, &cs, &err), -1);
    assert_string_equal(err.code, "incompatible_artifact");
    active_of(st, act);
    assert_string_equal(act, "");

    /* the profile's artifact: checked, gated (its report is found under the
     * profile's job) and promoted */
    promote_opts(&w, &g, w.ref.compiled_id);
    if (gate_promote(st, &g, &gr, from, &err) != 0)
        fail_msg("promote: %s: %s", err.code, err.msg);
    assert_string_equal(gr.job_hash, w.ref.job_hash);
    active_of(st, act);
    assert_string_equal(act, w.ref.compiled_id);

    /* --force lets the incompatible one through (canary, then promote) */
    so.gate.force = true;
    if (gate_canary_start(st, &so, &cs, &err) != 0)
        fail_msg("forced canary: %s: %s", err.code, err.msg);
    assert_string_equal(json_str(cs.canary, "canary_compiled_id", ""), w.def.compiled_id);
    canary_start_result_free(&cs);
    promote_opts(&w, &g, w.def.compiled_id);
    g.force = true;
    if (gate_promote(st, &g, &gr, from, &err) != 0)
        fail_msg("forced promote: %s: %s", err.code, err.msg);
    assert_string_equal(gr.job_hash, w.def.job_hash);
    active_of(st, act);
    assert_string_equal(act, w.def.compiled_id);
    /* the signature came from the built-in catalog, not from dsex/ */
    assert_int_equal(fake_dsex_calls, 0);
    store_close(st);

    /* a server with the extensions (`dse serve`) is not checked */
    fake_ext = 1;
    st = open_fake();
    assert_false(compat_store_is_plain_reference(st));
    promote_opts(&w, &g, w.ref.compiled_id);
    if (gate_promote(st, &g, &gr, from, &err) != 0)
        fail_msg("promote (extensions): %s: %s", err.code, err.msg);
    promote_opts(&w, &g, w.def.compiled_id);
    if (gate_promote(st, &g, &gr, from, &err) != 0)
        fail_msg("promote (extensions): %s: %s", err.code, err.msg);
    store_close(st);

    /* nor is our own SQLite store */
    promote_opts(&w, &g, w.ref.compiled_id);
    if (gate_promote(backing, &g, &gr, from, &err) != 0)
        fail_msg("promote (sqlite): %s: %s", err.code, err.msg);
    promote_opts(&w, &g, w.def.compiled_id);
    if (gate_promote(backing, &g, &gr, from, &err) != 0)
        fail_msg("promote (sqlite): %s: %s", err.code, err.msg);
    active_of(backing, act);
    assert_string_equal(act, w.def.compiled_id);
    world_close(&w);
}

static int setup(void **state)
{
    (void)state;
    struct dse_err err = {0};
    catalog = catalog_load(NULL, &err);
    if (!catalog) {
        fprintf(stderr, "catalog_load: %s\n", err.msg);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compatible),
        cmocka_unit_test(test_decode_issues),
        cmocka_unit_test(test_dropped_render_hash),
        cmocka_unit_test(test_runtime_and_signature),
        cmocka_unit_test(test_profile_signature),
        cmocka_unit_test(test_render_matches_reference),
        cmocka_unit_test(test_profile_compile),
        cmocka_unit_test(test_plain_reference_guard),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
