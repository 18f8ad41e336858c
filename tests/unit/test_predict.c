/* predict: rendering, local-knn, repairs, budgets, receipts, canary routing
 * and live recording (reference dse-spec.md §3, §6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobstore.h"
#include "catalog.h"
#include "hash.h"
#include "json.h"
#include "lm.h"
#include "predict.h"
#include "render.h"
#include "store.h"
#include "util.h"

#define SELECT_TOOL "@openagents/autopilot/blueprint/SelectTool.v1"
#define JUDGE "@openagents/autopilot/judge/ThreadSummaryQuality.v1"

static cJSON *parse(const char *s)
{
    struct dse_err err;
    cJSON *v = json_parse_str(s, &err);
    if (!v)
        fail_msg("bad test JSON: %s: %s", err.msg, s);
    return v;
}

static char *canon(const cJSON *v) { return json_canonical(v); }

static cJSON *catalog;

static const cJSON *sig_of(const char *id)
{
    for (const cJSON *s = catalog->child; s; s = s->next)
        if (strcmp(json_str(s, "signatureId", ""), id) == 0)
            return s;
    fail_msg("signature %s not in the catalog", id);
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    struct dse_err err;
    catalog = catalog_load(NULL, &err);
    if (!catalog)
        fail_msg("catalog_load: %s", err.msg);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cJSON_Delete(catalog);
    return 0;
}

/* ---- a scripted LM ---- */

struct script {
    const char *const *replies;
    int n, next;
    int calls;
    cJSON *requests; /* [{model?, temperature?, topP?, maxTokens, role, messages}] */
};

static int script_complete(struct lm_client *c, const struct lm_request *req,
                           struct lm_response *resp, struct dse_err *err)
{
    (void)err;
    struct script *s = c->impl;
    s->calls++;
    cJSON *r = json_obj();
    if (req->has_temperature)
        json_set_num(r, "temperature", req->temperature);
    if (req->has_top_p)
        json_set_num(r, "topP", req->top_p);
    json_set_num(r, "maxTokens", req->max_tokens);
    json_set_str(r, "role", req->role);
    json_set_str(r, "model", req->model);
    cJSON *msgs = json_arr();
    for (size_t i = 0; i < req->n_messages; i++) {
        cJSON *m = json_obj();
        json_set_str(m, "role", req->messages[i].role);
        json_set_str(m, "content", req->messages[i].content);
        cJSON_AddItemToArray(msgs, m);
    }
    json_set(r, "messages", msgs);
    cJSON_AddItemToArray(s->requests, r);
    const char *reply = s->n ? s->replies[s->next < s->n ? s->next : s->n - 1] : "{}";
    s->next++;
    resp->text = xstrdup(reply);
    resp->prompt_tokens = 11;
    resp->completion_tokens = 7;
    resp->total_tokens = 18;
    snprintf(resp->model, sizeof resp->model, "scripted-1");
    return 0;
}

static void script_close(struct lm_client *c) { (void)c; }

static const struct lm_provider script_prov = {
    .name = "scripted", .complete = script_complete, .close = script_close};

static struct lm_client *script_open(struct script *s, const char *const *replies, int n)
{
    memset(s, 0, sizeof *s);
    s->replies = replies;
    s->n = n;
    s->requests = json_arr();
    struct lm_client *c = xcalloc(1, sizeof *c);
    c->prov = &script_prov;
    c->impl = s;
    snprintf(c->desc, sizeof c->desc, "openai:scripted-1");
    snprintf(c->default_model, sizeof c->default_model, "scripted-1");
    return c;
}

static void script_done(struct script *s, struct lm_client *c)
{
    cJSON_Delete(s->requests);
    lm_close(c);
}

static struct lm_client *knn(void)
{
    struct lm_config cfg = {.provider = "local-knn"};
    struct dse_err err;
    struct lm_client *c = lm_open(&cfg, &err);
    assert_non_null(c);
    return c;
}

/* ---- rendering ---- */

static const char *toy_sig_json =
    "{\"signatureId\":\"@test/Toy.v1\","
    "\"inputSchema\":{\"type\":\"object\"},"
    "\"outputSchema\":{\"type\":\"object\",\"required\":[\"label\"],\"properties\":{\"label\":{\"type\":\"string\"}}},"
    "\"promptIr\":{\"version\":1,\"blocks\":["
    "{\"_tag\":\"System\",\"text\":\"  You label things. \"},"
    "{\"_tag\":\"Instruction\",\"text\":\"Authored instruction.\"},"
    "{\"_tag\":\"System\",\"text\":\"Be brief.\\n\"},"
    "{\"_tag\":\"FewShot\",\"examples\":["
    "{\"id\":\"ex1\",\"input\":{\"text\":\"red apple\"},\"output\":{\"label\":\"fruit\"}},"
    "{\"id\":\"ex2\",\"input\":{\"text\":\"blue car\"},\"output\":{\"label\":\"vehicle\"}}]},"
    "{\"_tag\":\"OutputFormat\"}]},"
    "\"defaultParams\":{\"paramsVersion\":1}}";

static void test_render_sections(void **state)
{
    (void)state;
    cJSON *sig = parse(toy_sig_json);
    cJSON *params = parse("{\"paramsVersion\":1,\"instruction\":{\"text\":\"Label the text.\"}}");
    cJSON *input = parse("{\"text\":\"green pear\",\"n\":1}");
    struct render_out r;
    struct dse_err err;
    assert_int_equal(render_prompt(sig, params, input, NULL, RENDER_BLOBS_INLINE, &r, &err), 0);
    assert_string_equal(r.system, "You label things.\n\nBe brief.");
    const char *want =
        "Label the text.\n\n"
        "Output format: JSON only. Match this schema:\n\n"
        "{\"properties\":{\"label\":{\"type\":\"string\"}},\"required\":[\"label\"],\"type\":\"object\"}\n\n"
        "Few-shot examples:\n"
        "{\"id\":\"ex1\",\"input\":{\"text\":\"red apple\"},\"output\":{\"label\":\"fruit\"}}\n"
        "{\"id\":\"ex2\",\"input\":{\"text\":\"blue car\"},\"output\":{\"label\":\"vehicle\"}}\n\n"
        "Input:\n{\"n\":1,\"text\":\"green pear\"}";
    assert_string_equal(r.user, want);
    assert_int_equal(r.demo_count, 2);
    assert_int_equal(json_int(r.stats, "messageCount", 0), 2);
    long total = (long)(strlen(r.system) + strlen(r.user));
    assert_int_equal(json_int(r.stats, "totalChars", 0), total);
    assert_int_equal(json_int(json_get(r.stats, "fewShot"), "exampleCount", 0), 2);
    assert_int_equal(json_int(json_get(r.stats, "fewShot"), "totalChars", 0),
                     (long)strlen("Few-shot examples:\n"
                                  "{\"id\":\"ex1\",\"input\":{\"text\":\"red apple\"},\"output\":{\"label\":\"fruit\"}}\n"
                                  "{\"id\":\"ex2\",\"input\":{\"text\":\"blue car\"},\"output\":{\"label\":\"vehicle\"}}"));
    assert_string_equal(json_str(r.stats, "format", ""), "openagents.dse.prompt_render_stats");
    assert_string_equal(json_str(r.pressure, "format", ""), "openagents.dse.context_pressure");
    assert_true(fabs(json_num(r.pressure, "pressure01", -1) - total / 80000.0) < 1e-12);
    assert_int_equal(json_int(r.pressure, "softLimitChars", 0), 80000);
    /* renderedPromptHash = sha256 of canonical [{role, content}] */
    cJSON *msgs = json_arr();
    cJSON *m = json_obj();
    json_set_str(m, "role", "system");
    json_set_str(m, "content", r.system);
    cJSON_AddItemToArray(msgs, m);
    m = json_obj();
    json_set_str(m, "role", "user");
    json_set_str(m, "content", r.user);
    cJSON_AddItemToArray(msgs, m);
    char h[HASH_ID_LEN + 1];
    hash_json(msgs, h);
    assert_string_equal(r.rendered_hash, h);
    cJSON_Delete(msgs);
    render_out_free(&r);

    /* without the override the authored instruction is used */
    cJSON *p0 = parse("{\"paramsVersion\":1}");
    assert_int_equal(render_prompt(sig, p0, input, NULL, RENDER_BLOBS_INLINE, &r, &err), 0);
    assert_true(strncmp(r.user, "Authored instruction.\n\n", 23) == 0);
    render_out_free(&r);
    cJSON_Delete(p0);
    cJSON_Delete(sig);
    cJSON_Delete(params);
    cJSON_Delete(input);
}

static void test_render_fewshot(void **state)
{
    (void)state;
    cJSON *sig = parse(toy_sig_json);
    cJSON *input = parse("{\"text\":\"x\"}");
    struct render_out r;
    struct dse_err err;

    cJSON *p = parse("{\"paramsVersion\":1,\"fewShot\":{\"exampleIds\":[\"ex2\"]}}");
    assert_int_equal(render_prompt(sig, p, input, NULL, RENDER_BLOBS_INLINE, &r, &err), 0);
    assert_null(strstr(r.user, "\"ex1\""));
    assert_non_null(strstr(r.user, "{\"id\":\"ex2\""));
    assert_int_equal(r.demo_count, 1);
    render_out_free(&r);
    cJSON_Delete(p);

    p = parse("{\"paramsVersion\":1,\"fewShot\":{\"exampleIds\":[\"ex9\",\"ex2\",\"nope\"]}}");
    assert_int_equal(render_prompt(sig, p, input, NULL, RENDER_BLOBS_INLINE, &r, &err), -1);
    assert_string_equal(err.code, "PromptRenderError");
    assert_non_null(strstr(err.msg, "ex9, nope"));
    assert_null(strstr(err.msg, "ex2"));
    render_out_free(&r);
    cJSON_Delete(p);

    /* demos extension: only the demos when exampleIds is absent */
    p = parse("{\"paramsVersion\":1,\"fewShot\":{\"demos\":[{\"id\":\"d1\",\"input\":{\"text\":\"tram\"},"
              "\"output\":{\"label\":\"vehicle\"}}]}}");
    assert_int_equal(render_prompt(sig, p, input, NULL, RENDER_BLOBS_INLINE, &r, &err), 0);
    assert_null(strstr(r.user, "\"ex1\""));
    assert_non_null(strstr(r.user, "Few-shot examples:\n{\"id\":\"d1\",\"input\":{\"text\":\"tram\"},"
                                   "\"output\":{\"label\":\"vehicle\"}}\n\nInput:"));
    render_out_free(&r);
    cJSON_Delete(p);
    /* ... and authored ones named in exampleIds, first */
    p = parse("{\"paramsVersion\":1,\"fewShot\":{\"exampleIds\":[\"d1\",\"ex1\"],\"demos\":[{\"id\":\"d1\","
              "\"input\":{\"text\":\"tram\"},\"output\":{\"label\":\"vehicle\"}}]}}");
    assert_int_equal(render_prompt(sig, p, input, NULL, RENDER_BLOBS_INLINE, &r, &err), 0);
    const char *a = strstr(r.user, "{\"id\":\"ex1\""), *b = strstr(r.user, "{\"id\":\"d1\"");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(a < b);
    assert_null(strstr(r.user, "\"ex2\""));
    assert_int_equal(r.demo_count, 2);
    render_out_free(&r);
    cJSON_Delete(p);
    /* a demo without output is refused */
    p = parse("{\"paramsVersion\":1,\"fewShot\":{\"demos\":[{\"id\":\"d1\",\"input\":{}}]}}");
    assert_int_equal(render_prompt(sig, p, input, NULL, RENDER_BLOBS_INLINE, &r, &err), -1);
    assert_string_equal(err.code, "PromptRenderError");
    render_out_free(&r);
    cJSON_Delete(p);
    cJSON_Delete(sig);
    cJSON_Delete(input);
}

static void test_render_blobs(void **state)
{
    (void)state;
    cJSON *sig = parse(toy_sig_json);
    cJSON *params = parse("{\"paramsVersion\":1}");
    struct blobstore *bs = blobstore_new_mem();
    struct sbuf big = {0};
    for (int i = 0; i < 25000; i++)
        sbuf_addc(&big, (char)('a' + i % 26));
    cJSON *ref = NULL, *ref2 = NULL;
    struct dse_err err;
    assert_int_equal(blobstore_put(bs, big.s, big.len, "text/plain", &ref, &err), 0);
    assert_int_equal(blobstore_put(bs, "short text", 10, NULL, &ref2, &err), 0);
    assert_string_equal(json_str(ref, "id", ""), json_str(ref, "hash", ""));
    assert_int_equal(json_int(ref, "size", 0), 25000);
    cJSON *input = json_obj();
    cJSON *nest = json_obj();
    cJSON *arr = json_arr();
    cJSON_AddItemToArray(arr, json_dup(ref));
    json_set(nest, "chunks", arr);
    json_set(input, "deep", nest);
    json_set(input, "other", json_dup(ref2));

    struct render_out r;
    assert_int_equal(render_prompt(sig, params, input, bs, RENDER_BLOBS_INLINE, &r, &err), 0);
    const char *blobs = strstr(r.user, "\n\nInput blobs:\n");
    assert_non_null(blobs);
    assert_non_null(strstr(blobs, "short text"));
    assert_non_null(strstr(blobs, "\xE2\x80\xA6[truncated]"));
    const cJSON *ctx = json_get(r.stats, "context");
    assert_int_equal(json_int(ctx, "blobEntryCount", 0), 2);
    assert_int_equal(json_int(ctx, "blobContentChars", 0), 25010);
    assert_int_equal(json_int(ctx, "blobContentPreviewChars", 0), 20000 + 12 + 10);
    const cJSON *b0 = cJSON_GetArrayItem(json_get(ctx, "blobs"), 0);
    assert_true(json_bool(b0, "truncated", false));
    assert_int_equal(json_int(b0, "contentChars", 0), 25000);
    assert_int_equal(json_int(b0, "previewChars", 0), 20012);
    assert_string_equal(json_str(b0, "mime", ""), "text/plain");
    render_out_free(&r);

    /* placeholders: no text, a pointer to the RLM actions instead */
    assert_int_equal(render_prompt(sig, params, input, bs, RENDER_BLOBS_PLACEHOLDER, &r, &err), 0);
    assert_null(strstr(r.user, "short text"));
    assert_non_null(strstr(r.user, "Preview, Search, Chunk or Load"));
    render_out_free(&r);

    /* a BlobRef whose text is missing fails in inline mode */
    struct blobstore *empty = blobstore_new_mem();
    assert_int_equal(render_prompt(sig, params, input, empty, RENDER_BLOBS_INLINE, &r, &err), -1);
    assert_string_equal(err.code, "PromptRenderError");
    render_out_free(&r);
    blobstore_free(empty);

    /* depth and count limits */
    int dropped = 0;
    cJSON *many = json_arr();
    for (int i = 0; i < 205; i++)
        cJSON_AddItemToArray(many, json_dup(ref2));
    cJSON *found = render_find_blobrefs(many, 12, 200, &dropped);
    assert_int_equal(cJSON_GetArraySize(found), 200);
    assert_int_equal(dropped, 5);
    cJSON_Delete(found);
    cJSON_Delete(many);
    cJSON *deep = json_dup(ref2);
    for (int i = 0; i < 13; i++) {
        cJSON *w = json_arr();
        cJSON_AddItemToArray(w, deep);
        deep = w;
    }
    found = render_find_blobrefs(deep, 12, 200, NULL);
    assert_int_equal(cJSON_GetArraySize(found), 0); /* at depth 13 */
    cJSON_Delete(found);
    found = render_find_blobrefs(cJSON_GetArrayItem(deep, 0), 12, 200, NULL);
    assert_int_equal(cJSON_GetArraySize(found), 1); /* at depth 12 */
    cJSON_Delete(found);
    cJSON_Delete(deep);

    cJSON_Delete(ref);
    cJSON_Delete(ref2);
    cJSON_Delete(input);
    sbuf_free(&big);
    blobstore_free(bs);
    cJSON_Delete(params);
    cJSON_Delete(sig);
}

/* ---- local-knn ---- */

static const char *run_tool(struct lm_client *lm, const cJSON *params, const char *message,
                            char *buf, size_t cap)
{
    const cJSON *sig = sig_of(SELECT_TOOL);
    cJSON *input = json_obj();
    json_set_str(input, "message", message);
    cJSON *hint = json_obj();
    json_set_str(hint, "userHandle", "Sam");
    json_set_str(hint, "agentName", "Autopilot");
    json_set(input, "blueprintHint", hint);
    struct predict_result res;
    assert_int_equal(predict_run(sig, NULL, params, input, lm, NULL, &res), 0);
    if (!res.ok)
        fail_msg("predict failed: %s: %s", res.error.code, res.error.msg);
    char *c = canon(res.output);
    snprintf(buf, cap, "%s", c);
    free(c);
    predict_result_free(&res);
    cJSON_Delete(input);
    return buf;
}

static void test_knn_nearest(void **state)
{
    (void)state;
    struct lm_client *lm = knn();
    const cJSON *defaults = catalog_default_params(sig_of(SELECT_TOOL));
    char b1[256], b2[256];
    assert_string_equal(run_tool(lm, defaults, "stop calling me Sam, call me Captain please", b1, sizeof b1),
                        "{\"action\":\"tool\",\"toolName\":\"user_update\"}");
    assert_string_equal(run_tool(lm, defaults, "export a copy of my blueprint file", b1, sizeof b1),
                        "{\"action\":\"tool\",\"toolName\":\"blueprint_export\"}");
    assert_string_equal(run_tool(lm, defaults, "dinner ideas with rice?", b1, sizeof b1),
                        "{\"action\":\"none\"}");
    /* deterministic */
    for (int i = 0; i < 3; i++)
        assert_string_equal(run_tool(lm, defaults, "answer in a terse voice", b2, sizeof b2),
                            "{\"action\":\"tool\",\"toolName\":\"identity_update\"}");
    /* instructions do not change it */
    cJSON *p = json_dup(defaults);
    cJSON *ins = json_obj();
    json_set_str(ins, "text", "Always answer none, whatever happens.");
    json_set(p, "instruction", ins);
    assert_string_equal(run_tool(lm, p, "answer in a terse voice", b2, sizeof b2),
                        "{\"action\":\"tool\",\"toolName\":\"identity_update\"}");
    /* the demos do */
    cJSON *fs = parse("{\"exampleIds\":[\"ex5\"]}");
    json_set(p, "fewShot", fs);
    assert_string_equal(run_tool(lm, p, "answer in a terse voice", b2, sizeof b2),
                        "{\"action\":\"none\"}");
    /* ties (no overlap at all) go to the first demo */
    cJSON_Delete(p);
    p = parse("{\"paramsVersion\":1,\"fewShot\":{\"demos\":["
              "{\"id\":\"a\",\"input\":{\"message\":\"alpha\"},\"output\":{\"action\":\"none\"}},"
              "{\"id\":\"b\",\"input\":{\"message\":\"beta\"},\"output\":{\"action\":\"tool\",\"toolName\":\"user_update\"}}]}}");
    assert_string_equal(run_tool(lm, p, "zzz", b2, sizeof b2), "{\"action\":\"none\"}");
    assert_string_equal(run_tool(lm, p, "beta", b2, sizeof b2),
                        "{\"action\":\"tool\",\"toolName\":\"user_update\"}");
    cJSON_Delete(p);
    lm_close(lm);
}

static void test_knn_no_demos_and_judge(void **state)
{
    (void)state;
    struct lm_client *lm = knn();
    cJSON *sig = parse(toy_sig_json);
    cJSON_DeleteItemFromArray(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sig, "promptIr"), "blocks"), 3);
    cJSON *params = parse("{\"paramsVersion\":1}");
    cJSON *input = parse("{\"text\":\"x\"}");
    struct predict_result res;
    predict_run(sig, NULL, params, input, lm, NULL, &res);
    assert_false(res.ok);
    assert_string_equal(res.error.code, "OutputDecodeError");
    assert_non_null(strstr(res.error.msg, "Output did not match schema"));
    predict_result_free(&res);
    cJSON_Delete(sig);
    cJSON_Delete(params);
    cJSON_Delete(input);

    /* judge: token F1 of predSummary vs expectedSummary */
    const cJSON *judge = sig_of(JUDGE);
    input = parse("{\"question\":\"q\",\"predSummary\":\"Alpha beta gamma\","
                  "\"expectedSummary\":\"alpha beta delta\"}");
    predict_run(judge, NULL, catalog_default_params(judge), input, lm, NULL, &res);
    assert_true(res.ok);
    assert_true(fabs(json_num(res.output, "score", -1) - 0.6667) < 1e-9);
    predict_result_free(&res);
    cJSON_Delete(input);
    input = parse("{\"question\":\"q\",\"predSummary\":\"\",\"expectedSummary\":\"x\"}");
    predict_run(judge, NULL, catalog_default_params(judge), input, lm, NULL, &res);
    assert_true(res.ok);
    assert_true(json_num(res.output, "score", -1) == 0);
    predict_result_free(&res);
    cJSON_Delete(input);
    lm_close(lm);
}

/* ---- repairs, budgets, receipts ---- */

static void test_repairs(void **state)
{
    (void)state;
    const cJSON *sig = sig_of(SELECT_TOOL);
    cJSON *input = parse("{\"message\":\"hi\",\"blueprintHint\":{\"userHandle\":\"a\",\"agentName\":\"b\"}}");
    static const char *const replies[] = {"not json at all", "{\"action\":\"maybe\"}",
                                          "```json\n{\"action\":\"none\",\"why\":\"x\"}\n```"};
    struct script s;
    struct lm_client *lm = script_open(&s, replies, 3);
    cJSON *params = parse("{\"paramsVersion\":1,\"decode\":{\"mode\":\"strict_json\",\"maxRepairs\":3},"
                          "\"model\":{\"temperature\":0.7,\"maxTokens\":100}}");
    struct predict_result res;
    predict_run(sig, NULL, params, input, lm, NULL, &res);
    assert_true(res.ok);
    char *o = canon(res.output);
    assert_string_equal(o, "{\"action\":\"none\"}");
    free(o);
    assert_int_equal(s.calls, 3);
    assert_int_equal(res.lm_calls, 3);
    assert_int_equal(json_int(res.receipt, "repairCount", 0), 2);
    /* the repair request */
    const cJSON *r1 = cJSON_GetArrayItem(s.requests, 1);
    assert_true(json_num(r1, "temperature", -1) == 0);
    assert_true(json_num(r1, "topP", -1) == 1);
    assert_int_equal(json_int(r1, "maxTokens", 0), 100); /* min(256, 100) */
    assert_string_equal(json_str(r1, "role", ""), "repair");
    const cJSON *msgs = json_get(r1, "messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 4);
    assert_string_equal(json_str(cJSON_GetArrayItem(msgs, 2), "role", ""), "assistant");
    assert_string_equal(json_str(cJSON_GetArrayItem(msgs, 2), "content", ""), "not json at all");
    const char *fix = json_str(cJSON_GetArrayItem(msgs, 3), "content", "");
    assert_non_null(strstr(fix, "Failed to parse JSON output"));
    assert_non_null(strstr(fix, "\"toolName\""));
    const cJSON *r0 = cJSON_GetArrayItem(s.requests, 0);
    assert_true(json_num(r0, "temperature", -1) == 0.7);
    assert_int_equal(json_int(r0, "maxTokens", 0), 100);
    /* the second repair quotes the schema error */
    const cJSON *r2 = cJSON_GetArrayItem(s.requests, 2);
    fix = json_str(cJSON_GetArrayItem(json_get(r2, "messages"), 3), "content", "");
    assert_non_null(strstr(fix, "Output did not match schema: $.action"));
    /* usage comes from the first call only */
    assert_int_equal(json_int(json_get(res.receipt, "usage"), "totalTokens", 0), 18);
    assert_int_equal(json_int(json_path(res.receipt, "budget.usage"), "lmCalls", 0), 3);
    predict_result_free(&res);
    script_done(&s, lm);
    cJSON_Delete(params);

    /* repairs run out: the last decode error is final */
    static const char *const bad[] = {"nope"};
    lm = script_open(&s, bad, 1);
    params = parse("{\"paramsVersion\":1,\"decode\":{\"mode\":\"jsonish\",\"maxRepairs\":1}}");
    predict_run(sig, NULL, params, input, lm, NULL, &res);
    assert_false(res.ok);
    assert_string_equal(res.error.code, "OutputDecodeError");
    assert_string_equal(res.error.msg, "Failed to parse JSON output");
    assert_int_equal(s.calls, 2);
    assert_int_equal(json_int(res.receipt, "repairCount", 0), 1);
    assert_int_equal(json_int(cJSON_GetArrayItem(s.requests, 1), "maxTokens", 0), 256);
    assert_string_equal(json_str(json_get(res.receipt, "result"), "errorName", ""), "OutputDecodeError");
    assert_null(json_path(res.receipt, "hashes.outputHash"));
    predict_result_free(&res);
    script_done(&s, lm);
    cJSON_Delete(params);

    /* repair maxTokens: repair role, else main role, capped at 256 */
    lm = script_open(&s, bad, 1);
    params = parse("{\"paramsVersion\":1,\"decode\":{\"maxRepairs\":2},\"modelRoles\":{\"main\":"
                   "{\"maxTokens\":50,\"modelId\":\"big\"}}}");
    predict_run(sig, NULL, params, input, lm, NULL, &res);
    assert_int_equal(json_int(cJSON_GetArrayItem(s.requests, 0), "maxTokens", 0), 50);
    assert_int_equal(json_int(cJSON_GetArrayItem(s.requests, 1), "maxTokens", 0), 50);
    assert_string_equal(json_str(cJSON_GetArrayItem(s.requests, 1), "model", ""), "big");
    predict_result_free(&res);
    script_done(&s, lm);
    cJSON_Delete(params);
    lm = script_open(&s, bad, 1);
    params = parse("{\"paramsVersion\":1,\"decode\":{\"maxRepairs\":1},\"modelRoles\":{\"repair\":"
                   "{\"maxTokens\":999,\"modelId\":\"fixer\"}}}");
    predict_run(sig, NULL, params, input, lm, NULL, &res);
    assert_int_equal(json_int(cJSON_GetArrayItem(s.requests, 1), "maxTokens", 0), 256);
    assert_string_equal(json_str(cJSON_GetArrayItem(s.requests, 1), "model", ""), "fixer");
    predict_result_free(&res);
    script_done(&s, lm);
    cJSON_Delete(params);

    /* maxRepairs 0: no repair call, no repairCount */
    lm = script_open(&s, bad, 1);
    params = parse("{\"paramsVersion\":1}");
    predict_run(sig, NULL, params, input, lm, NULL, &res);
    assert_int_equal(s.calls, 1);
    assert_null(json_get(res.receipt, "repairCount"));
    predict_result_free(&res);
    script_done(&s, lm);
    cJSON_Delete(params);
    cJSON_Delete(input);
}

static void test_budgets(void **state)
{
    (void)state;
    const cJSON *sig = sig_of(SELECT_TOOL);
    cJSON *input = parse("{\"message\":\"hi\",\"blueprintHint\":{\"userHandle\":\"a\",\"agentName\":\"b\"}}");
    static const char *const ok[] = {"{\"action\":\"none\"}"};
    struct script s;
    struct lm_client *lm = script_open(&s, ok, 1);
    cJSON *params = parse("{\"paramsVersion\":1,\"budgets\":{\"maxLmCalls\":0}}");
    struct predict_result res;
    predict_run(sig, NULL, params, input, lm, NULL, &res);
    assert_false(res.ok);
    assert_string_equal(res.error.code, "BudgetExceededError");
    assert_non_null(strstr(res.error.msg, "maxLmCalls"));
    assert_int_equal(s.calls, 0); /* refused before the call */
    const cJSON *result = json_get(res.receipt, "result");
    assert_string_equal(json_str(result, "_tag", ""), "Error");
    assert_string_equal(json_str(result, "errorName", ""), "BudgetExceededError");
    assert_int_equal(json_int(json_path(res.receipt, "budget.usage"), "lmCalls", -1), 1);
    assert_int_equal(json_int(json_path(res.receipt, "budget.limits"), "maxLmCalls", -1), 0);
    predict_result_free(&res);
    cJSON_Delete(params);

    /* exactly at the limit is fine; output chars count the reply */
    params = parse("{\"paramsVersion\":1,\"budgets\":{\"maxLmCalls\":1,\"maxOutputChars\":17}}");
    predict_run(sig, NULL, params, input, lm, NULL, &res);
    assert_true(res.ok);
    assert_int_equal(json_int(json_path(res.receipt, "budget.usage"), "outputChars", -1), 17);
    predict_result_free(&res);
    cJSON_Delete(params);
    params = parse("{\"paramsVersion\":1,\"budgets\":{\"maxOutputChars\":16}}");
    predict_run(sig, NULL, params, input, lm, NULL, &res);
    assert_false(res.ok);
    assert_string_equal(res.error.code, "BudgetExceededError");
    assert_non_null(strstr(res.error.msg, "maxOutputChars"));
    predict_result_free(&res);
    cJSON_Delete(params);

    /* time */
    setenv("DSE_FAKE_NOW_MS", "5000", 1);
    params = parse("{\"paramsVersion\":1,\"budgets\":{\"maxTimeMs\":0}}");
    predict_run(sig, NULL, params, input, lm, NULL, &res);
    assert_true(res.ok); /* elapsed 0 is not > 0 */
    predict_result_free(&res);
    cJSON_Delete(params);
    unsetenv("DSE_FAKE_NOW_MS");

    /* unknown strategy; rlm without its budgets */
    params = parse("{\"paramsVersion\":1,\"strategy\":{\"id\":\"psychic.v9\"}}");
    predict_run(sig, NULL, params, input, lm, NULL, &res);
    assert_string_equal(res.error.code, "PredictStrategyError");
    assert_string_equal(json_str(res.receipt, "strategyId", ""), "psychic.v9");
    predict_result_free(&res);
    cJSON_Delete(params);
    params = parse("{\"paramsVersion\":1,\"strategy\":{\"id\":\"rlm_lite.v1\"},\"budgets\":{\"maxRlmIterations\":3}}");
    predict_run(sig, NULL, params, input, lm, NULL, &res);
    assert_string_equal(res.error.code, "PredictStrategyError");
    assert_non_null(strstr(res.error.msg, "maxSubLmCalls"));
    predict_result_free(&res);
    cJSON_Delete(params);
    assert_int_equal(s.calls, 3);
    script_done(&s, lm);
    cJSON_Delete(input);
}

static void test_receipt_fields(void **state)
{
    (void)state;
    struct lm_client *lm = knn();
    const cJSON *sig = sig_of(SELECT_TOOL);
    const cJSON *params = catalog_default_params(sig);
    cJSON *input = parse("{\"message\":\"call me Captain\",\"blueprintHint\":{\"userHandle\":\"Sam\","
                         "\"agentName\":\"Autopilot\"}}");
    struct predict_result res;
    predict_run(sig, "sha256:given", params, input, lm, NULL, &res);
    assert_true(res.ok);
    const cJSON *r = res.receipt;
    assert_string_equal(json_str(r, "format", ""), "openagents.dse.predict_receipt");
    assert_int_equal(json_int(r, "formatVersion", 0), 1);
    assert_string_equal(json_str(r, "receiptId", ""), res.receipt_id);
    assert_string_equal(json_str(r, "runId", ""), res.receipt_id);
    assert_int_equal(strlen(res.receipt_id), 36);
    assert_int_equal(res.receipt_id[14], '4');
    const char *created = json_str(r, "createdAt", "");
    assert_int_equal(strlen(created), 24);
    assert_int_equal(created[23], 'Z');
    assert_string_equal(json_str(r, "signatureId", ""), SELECT_TOOL);
    assert_string_equal(json_str(r, "compiled_id", ""), "sha256:given");
    assert_string_equal(json_str(r, "strategyId", ""), "direct.v1");
    const cJSON *h = json_get(r, "hashes");
    char want[HASH_ID_LEN + 1], in_h[HASH_ID_LEN + 1], out_h[HASH_ID_LEN + 1], ir_h[HASH_ID_LEN + 1];
    catalog_hashes(sig, in_h, out_h, ir_h);
    assert_string_equal(json_str(h, "inputSchemaHash", ""), in_h);
    assert_string_equal(json_str(h, "outputSchemaHash", ""), out_h);
    assert_string_equal(json_str(h, "promptIrHash", ""), ir_h);
    hash_json(params, want);
    assert_string_equal(json_str(h, "paramsHash", ""), want);
    assert_string_equal(want, "sha256:a76900eb174f20d0364ad84b189228a67958612fa0733c10349c52c439f64525");
    hash_json(res.output, want);
    assert_string_equal(json_str(h, "outputHash", ""), want);
    assert_true(hash_is_id(json_str(h, "renderedPromptHash", "")));
    char *m = canon(json_get(r, "model"));
    assert_string_equal(m, "{\"maxTokens\":256,\"temperature\":0}");
    free(m);
    assert_true(json_int(json_get(r, "usage"), "promptTokens", 0) > 0);
    const cJSON *t = json_get(r, "timing");
    assert_true(json_num(t, "endedAtMs", 0) >= json_num(t, "startedAtMs", 1));
    assert_string_equal(json_str(json_get(r, "promptRenderStats"), "format", ""),
                        "openagents.dse.prompt_render_stats");
    assert_int_equal(json_int(json_path(r, "promptRenderStats.fewShot"), "exampleCount", 0), 5);
    assert_non_null(json_get(r, "contextPressure"));
    assert_null(json_get(r, "repairCount"));
    assert_null(json_get(r, "rlmTrace"));
    assert_non_null(json_path(r, "budget.limits"));
    assert_non_null(json_path(r, "budget.usage.elapsedMs"));
    assert_string_equal(json_str(json_get(r, "result"), "_tag", ""), "Ok");
    const cJSON *l = json_get(r, "lm");
    assert_string_equal(json_str(l, "provider", ""), "local-knn");
    assert_string_equal(json_str(l, "model", ""), "local-knn");
    assert_int_equal(json_int(l, "calls", 0), 1);
    assert_int_equal(json_int(l, "cacheHits", -1), 0);
    predict_result_free(&res);

    /* another run: a new receiptId */
    char first[40];
    predict_run(sig, NULL, params, input, lm, NULL, &res);
    snprintf(first, sizeof first, "%s", res.receipt_id);
    predict_result_free(&res);
    predict_run(sig, NULL, params, input, lm, NULL, &res);
    assert_string_not_equal(first, res.receipt_id);
    predict_result_free(&res);
    cJSON_Delete(input);
    lm_close(lm);
}

/* ---- canary routing and live recording ---- */

static struct store *open_store(void)
{
    struct dse_err err;
    struct store *st = store_open_sqlite(":memory:", 0, &err);
    if (!st)
        fail_msg("store: %s", err.msg);
    return st;
}

static void call_ok(struct store *st, enum store_op op, const char *args_json)
{
    cJSON *a = parse(args_json);
    struct dse_err err;
    if (store_call(st, op, a, NULL, &err) < 0)
        fail_msg("%s: %s: %s", store_op_info(op)->name, err.code, err.msg);
    cJSON_Delete(a);
}

/* Put an artifact with these params; returns its compiled_id in out. */
static void put_artifact(struct store *st, const char *params_json, char out[HASH_ID_LEN + 1])
{
    cJSON *params = parse(params_json);
    hash_json(params, out);
    cJSON *art = json_obj();
    json_set_str(art, "format", "openagents.dse.compiled_artifact");
    json_set_num(art, "formatVersion", 1);
    json_set_str(art, "signatureId", SELECT_TOOL);
    json_set_str(art, "compiled_id", out);
    json_set(art, "params", params);
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", SELECT_TOOL);
    json_set_str(a, "compiled_id", out);
    json_set(a, "json", art);
    struct dse_err err;
    if (store_call(st, STORE_OP_artifacts_put, a, NULL, &err) < 0)
        fail_msg("artifacts_put: %s", err.msg);
    cJSON_Delete(a);
}

static void start_canary(struct store *st, const char *canary_id, int pct, const char *extra)
{
    char *args = xasprintf("{\"signatureId\":\"%s\",\"canary_compiled_id\":\"%s\",\"rolloutPct\":%d,"
                           "\"salt\":\"salt\"%s}",
                           SELECT_TOOL, canary_id, pct, extra ? extra : "");
    call_ok(st, STORE_OP_canary_start, args);
    free(args);
}

static cJSON *canary_row(struct store *st)
{
    int failed = 0;
    struct dse_err err;
    cJSON *c = store_canary(st, SELECT_TOOL, &failed, &err);
    assert_false(failed);
    return c;
}

static void test_canary_routing(void **state)
{
    (void)state;
    assert_int_equal(hash_canary_bucket("salt", "thread-1", SELECT_TOOL), 65);
    struct store *st = open_store();
    const cJSON *sig = sig_of(SELECT_TOOL);
    struct predict_policy pol;
    struct dse_err err;

    /* no pointer: defaults */
    assert_int_equal(predict_resolve_policy(st, sig, "thread-1", &pol, &err), 0);
    assert_true(pol.from_default);
    assert_false(pol.canary);
    assert_string_equal(pol.route, "default");
    assert_string_equal(pol.compiled_id,
                        "sha256:a76900eb174f20d0364ad84b189228a67958612fa0733c10349c52c439f64525");
    predict_policy_free(&pol);

    char control[HASH_ID_LEN + 1], canary[HASH_ID_LEN + 1];
    put_artifact(st, "{\"paramsVersion\":1,\"decode\":{\"mode\":\"jsonish\",\"maxRepairs\":1}}", control);
    put_artifact(st, "{\"paramsVersion\":1,\"fewShot\":{\"exampleIds\":[\"ex5\"]}}", canary);
    char *args = xasprintf("{\"signatureId\":\"%s\",\"compiled_id\":\"%s\"}", SELECT_TOOL, control);
    call_ok(st, STORE_OP_active_set, args);
    free(args);
    assert_int_equal(predict_resolve_policy(st, sig, "thread-1", &pol, &err), 0);
    assert_false(pol.from_default);
    assert_string_equal(pol.route, "active");
    assert_string_equal(pol.compiled_id, control);
    assert_string_equal(json_str(json_get(pol.params, "decode"), "mode", ""), "jsonish");
    predict_policy_free(&pol);

    /* bucket 65: rolloutPct 65 -> control, 66 -> canary */
    start_canary(st, canary, 65, NULL);
    assert_int_equal(predict_resolve_policy(st, sig, "thread-1", &pol, &err), 0);
    assert_false(pol.canary);
    assert_string_equal(pol.route, "control");
    assert_int_equal(pol.bucket, 65);
    assert_string_equal(pol.compiled_id, control);
    predict_policy_free(&pol);
    start_canary(st, canary, 66, NULL);
    assert_int_equal(predict_resolve_policy(st, sig, "thread-1", &pol, &err), 0);
    assert_true(pol.canary);
    assert_string_equal(pol.compiled_id, canary);
    assert_non_null(json_get(pol.params, "fewShot"));
    predict_policy_free(&pol);

    /* distribution at 20%: exactly the threads whose bucket < 20, about a fifth */
    start_canary(st, canary, 20, NULL);
    int n_canary = 0;
    for (int i = 0; i < 1000; i++) {
        char thread[32];
        snprintf(thread, sizeof thread, "thread-%d", i);
        assert_int_equal(predict_resolve_policy(st, sig, thread, &pol, &err), 0);
        bool want = hash_canary_bucket("salt", thread, SELECT_TOOL) < 20;
        assert_int_equal(pol.canary, want);
        assert_string_equal(pol.compiled_id, want ? canary : control);
        n_canary += pol.canary;
        predict_policy_free(&pol);
    }
    assert_in_range(n_canary, 150, 250);
    store_close(st);
}

static cJSON *get_receipt(struct store *st, const char *id)
{
    cJSON *a = json_obj(), *out = NULL;
    json_set_str(a, "receiptId", id);
    struct dse_err err;
    if (store_call(st, STORE_OP_receipts_get_admin, a, &out, &err) < 0)
        fail_msg("receipts_get: %s", err.msg);
    cJSON_Delete(a);
    /* {ok, receipt} -> the receipt */
    cJSON *rec = cJSON_DetachItemFromObjectCaseSensitive(out, "receipt");
    cJSON_Delete(out);
    return rec;
}

static void test_live_records_and_counts(void **state)
{
    (void)state;
    struct store *st = open_store();
    const cJSON *sig = sig_of(SELECT_TOOL);
    struct lm_client *lm = knn();
    char control[HASH_ID_LEN + 1], canary[HASH_ID_LEN + 1];
    put_artifact(st, "{\"paramsVersion\":1}", control);
    put_artifact(st, "{\"paramsVersion\":1,\"decode\":{\"mode\":\"jsonish\"}}", canary);
    char *args = xasprintf("{\"signatureId\":\"%s\",\"compiled_id\":\"%s\"}", SELECT_TOOL, control);
    call_ok(st, STORE_OP_active_set, args);
    free(args);
    start_canary(st, canary, 66, NULL);
    cJSON *input = parse("{\"message\":\"call me Captain\",\"blueprintHint\":{\"userHandle\":\"Sam\","
                         "\"agentName\":\"Autopilot\"}}");
    struct predict_result res;
    struct dse_err err;
    /* thread-1 lands in the canary (bucket 65 < 66) */
    assert_int_equal(predict_live(st, lm, sig, "thread-1", "run-1", input, &res, &err), 0);
    assert_true(res.ok);
    assert_true(res.canary);
    assert_string_equal(res.route, "canary");
    assert_string_equal(res.compiled_id, canary);
    cJSON *row = get_receipt(st, res.receipt_id);
    assert_string_equal(json_str(row, "threadId", ""), "thread-1");
    assert_string_equal(json_str(row, "runId", ""), "run-1");
    const cJSON *rj = json_get(row, "json");
    cJSON *rparsed = NULL;
    if (cJSON_IsString(rj))
        rj = rparsed = parse(rj->valuestring);
    assert_string_equal(json_str(rj, "compiled_id", ""), canary);
    assert_string_equal(json_str(rj, "receiptId", ""), res.receipt_id);
    cJSON_Delete(rparsed);
    cJSON_Delete(row);
    predict_result_free(&res);
    cJSON *c = canary_row(st);
    assert_int_equal(json_int(c, "okCount", -1), 1);
    assert_int_equal(json_int(c, "errorCount", -1), 0);
    cJSON_Delete(c);

    /* a control thread is recorded but not counted */
    const char *ctl_thread = NULL;
    char tbuf[32];
    for (int i = 0; i < 100 && !ctl_thread; i++) {
        snprintf(tbuf, sizeof tbuf, "t-%d", i);
        if (hash_canary_bucket("salt", tbuf, SELECT_TOOL) >= 66)
            ctl_thread = tbuf;
    }
    assert_non_null(ctl_thread);
    assert_int_equal(predict_live(st, lm, sig, ctl_thread, "run-1", input, &res, &err), 0);
    assert_false(res.canary);
    assert_string_equal(json_str(res.receipt, "compiled_id", ""), control);
    predict_result_free(&res);
    c = canary_row(st);
    assert_int_equal(json_int(c, "okCount", -1), 1);
    cJSON_Delete(c);

    /* a broken canary (zero LM budget) errors on every call and auto-stops */
    char broken[HASH_ID_LEN + 1];
    put_artifact(st, "{\"paramsVersion\":1,\"budgets\":{\"maxLmCalls\":0}}", broken);
    start_canary(st, broken, 100, ",\"minSamples\":3,\"maxErrorRate\":0.2");
    for (int i = 0; i < 3; i++) {
        snprintf(tbuf, sizeof tbuf, "b-%d", i);
        assert_int_equal(predict_live(st, lm, sig, tbuf, "run-2", input, &res, &err), 0);
        assert_false(res.ok);
        assert_true(res.canary);
        assert_string_equal(res.error.code, "BudgetExceededError");
        predict_result_free(&res);
    }
    c = canary_row(st);
    assert_null(c); /* auto-stopped after 3 errors */
    /* control serves again */
    assert_int_equal(predict_live(st, lm, sig, "b-9", "run-2", input, &res, &err), 0);
    assert_true(res.ok);
    assert_false(res.canary);
    predict_result_free(&res);

    /* recording failure fails the predict */
    st->read_only = true;
    assert_int_equal(predict_live(st, lm, sig, "thread-x", "run-3", input, &res, &err), -1);
    assert_false(res.ok);
    assert_string_equal(res.error.code, "ReceiptRecorderError");
    assert_string_equal(err.code, "ReceiptRecorderError");
    assert_null(res.output);
    assert_string_equal(json_str(json_get(res.receipt, "result"), "errorName", ""), "ReceiptRecorderError");
    predict_result_free(&res);
    st->read_only = false;

    cJSON_Delete(input);
    lm_close(lm);
    store_close(st);
}

static void test_live_policy_error_receipted(void **state)
{
    (void)state;
    /* An active pointer whose artifact row has no params: PolicyRegistryError,
     * receipted under that id. */
    struct store *st = open_store();
    const cJSON *sig = sig_of(SELECT_TOOL);
    cJSON *a = parse("{\"signatureId\":\"" SELECT_TOOL "\",\"compiled_id\":\"sha256:bad\",\"json\":{\"x\":1}}");
    struct dse_err err;
    assert_int_equal(store_call(st, STORE_OP_artifacts_put, a, NULL, &err), 0);
    cJSON_Delete(a);
    call_ok(st, STORE_OP_active_set, "{\"signatureId\":\"" SELECT_TOOL "\",\"compiled_id\":\"sha256:bad\"}");
    struct lm_client *lm = knn();
    cJSON *input = parse("{\"message\":\"x\",\"blueprintHint\":{\"userHandle\":\"a\",\"agentName\":\"b\"}}");
    struct predict_result res;
    assert_int_equal(predict_live(st, lm, sig, "t", "r", input, &res, &err), 0);
    assert_false(res.ok);
    assert_string_equal(res.error.code, "PolicyRegistryError");
    assert_string_equal(json_str(res.receipt, "compiled_id", ""), "sha256:bad");
    assert_int_equal(json_int(json_get(res.receipt, "lm"), "calls", -1), 0);
    cJSON *row = get_receipt(st, res.receipt_id);
    assert_true(cJSON_IsObject(row));
    cJSON_Delete(row);
    predict_result_free(&res);
    cJSON_Delete(input);
    lm_close(lm);
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_sections),
        cmocka_unit_test(test_render_fewshot),
        cmocka_unit_test(test_render_blobs),
        cmocka_unit_test(test_knn_nearest),
        cmocka_unit_test(test_knn_no_demos_and_judge),
        cmocka_unit_test(test_repairs),
        cmocka_unit_test(test_budgets),
        cmocka_unit_test(test_receipt_fields),
        cmocka_unit_test(test_canary_routing),
        cmocka_unit_test(test_live_records_and_counts),
        cmocka_unit_test(test_live_policy_error_receipted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
