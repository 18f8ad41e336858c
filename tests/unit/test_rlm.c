/* rlm_lite.v1: action decoding, kernel actions and their limits, the var
 * space, the controller loop (state messages, history, trace) and an
 * end-to-end run with local-knn on a long input (reference dse-spec.md
 * §6.1 step 5, §6.3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobstore.h"
#include "budget.h"
#include "catalog.h"
#include "hash.h"
#include "json.h"
#include "lm.h"
#include "predict.h"
#include "rlm.h"
#include "store.h"
#include "util.h"

#define RECAP "@openagents/autopilot/canary/RecapThread.v1"
#define SUMMARIZE "@openagents/autopilot/rlm/SummarizeThread.v1"

static cJSON *parse(const char *s)
{
    struct dse_err err;
    cJSON *v = json_parse_str(s, &err);
    if (!v)
        fail_msg("bad test JSON: %s: %s", err.msg, s);
    return v;
}

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

/* ---- scripted LM (replies in order, last one repeats) ---- */

struct script {
    const char *const *replies;
    int n, calls;
    cJSON *requests;
};

static int script_complete(struct lm_client *c, const struct lm_request *req,
                           struct lm_response *resp, struct dse_err *err)
{
    (void)err;
    struct script *s = c->impl;
    cJSON *r = json_obj();
    json_set_str(r, "role", req->role);
    json_set_num(r, "maxTokens", req->max_tokens);
    cJSON *msgs = json_arr();
    for (size_t i = 0; i < req->n_messages; i++) {
        cJSON *m = json_obj();
        json_set_str(m, "role", req->messages[i].role);
        json_set_str(m, "content", req->messages[i].content);
        cJSON_AddItemToArray(msgs, m);
    }
    json_set(r, "messages", msgs);
    cJSON_AddItemToArray(s->requests, r);
    resp->text = xstrdup(s->replies[s->calls < s->n ? s->calls : s->n - 1]);
    s->calls++;
    resp->prompt_tokens = resp->completion_tokens = resp->total_tokens = -1;
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
    snprintf(c->desc, sizeof c->desc, "openai:scripted");
    return c;
}

static void script_done(struct script *s, struct lm_client *c)
{
    cJSON_Delete(s->requests);
    lm_close(c);
}

/* ---- kernel fixture ---- */

struct fx {
    struct blobstore *bs;
    struct budget b;
    struct rlm_kernel k;
    cJSON *params;
};

static void fx_init(struct fx *f, struct lm_client *lm, const char *params_json)
{
    memset(f, 0, sizeof *f);
    f->bs = blobstore_new_mem();
    f->params = parse(params_json ? params_json : "{\"paramsVersion\":1}");
    budget_start(&f->b, json_get(f->params, "budgets"), util_now_ms());
    f->k = (struct rlm_kernel){.bs = f->bs, .budget = &f->b, .lm = lm, .params = f->params,
                               .signature_id = "@test/X.v1"};
}

static void fx_free(struct fx *f)
{
    blobstore_free(f->bs);
    cJSON_Delete(f->params);
}

/* Decode and run one action given as text; returns the observation (or
 * the final output through *final) and fills err on failure. */
static cJSON *run(struct fx *f, const char *action_text, cJSON **final, struct dse_err *err)
{
    cJSON *a = NULL;
    if (rlm_action_decode(action_text, &a, err) < 0)
        return NULL;
    cJSON *obs = NULL, *fin = NULL;
    int rc = rlm_kernel_exec(&f->k, a, &obs, &fin, err);
    cJSON_Delete(a);
    if (rc < 0)
        return NULL;
    if (final)
        *final = fin;
    else
        cJSON_Delete(fin);
    return obs;
}

static char *put_text(struct fx *f, const char *text)
{
    cJSON *ref = NULL;
    struct dse_err err;
    assert_int_equal(blobstore_put(f->bs, text, strlen(text), "text/plain", &ref, &err), 0);
    char *id = xstrdup(json_str(ref, "id", ""));
    cJSON_Delete(ref);
    return id;
}

static void test_action_decode(void **state)
{
    (void)state;
    cJSON *a;
    struct dse_err err;
    assert_int_equal(rlm_action_decode("I will preview.\n{\"_tag\":\"Preview\",\"target\":{\"_tag\":"
                                       "\"Var\",\"name\":\"x\",\"junk\":1},\"length\":5,\"why\":\"x\"}",
                                       &a, &err),
                     0);
    char *c = json_canonical(a);
    assert_string_equal(c, "{\"_tag\":\"Preview\",\"length\":5,\"target\":{\"_tag\":\"Var\",\"name\":\"x\"}}");
    free(c);
    cJSON_Delete(a);
    assert_int_equal(rlm_action_decode("{\"_tag\":\"Search\",\"target\":{\"_tag\":\"Blob\",\"blobId\":\"b\"}}",
                                       &a, &err),
                     -1);
    assert_string_equal(err.code, "OutputDecodeError");
    assert_non_null(strstr(err.msg, "$.query"));
    assert_int_equal(rlm_action_decode("{\"_tag\":\"Dance\"}", &a, &err), -1);
    assert_non_null(strstr(err.msg, "$._tag"));
    assert_int_equal(rlm_action_decode("no action", &a, &err), -1);
    assert_string_equal(err.msg, "Failed to parse JSON output");
    assert_int_equal(rlm_action_decode("{\"_tag\":\"Chunk\",\"target\":{\"_tag\":\"Blob\",\"blobId\":\"b\"},"
                                       "\"chunkChars\":\"big\",\"intoVar\":\"c\"}",
                                       &a, &err),
                     -1);
    assert_non_null(strstr(err.msg, "$.chunkChars"));
    assert_int_equal(rlm_action_decode("{\"_tag\":\"Final\"}", &a, &err), -1);
    assert_int_equal(rlm_action_decode("{\"_tag\":\"Final\",\"output\":{\"summary\":\"s\"}}", &a, &err), 0);
    cJSON_Delete(a);
    /* the schema text given to the controller is canonical JSON and lists every action */
    const char *schema = rlm_action_schema();
    cJSON *sv = parse(schema);
    char *again = json_canonical(sv);
    assert_string_equal(again, schema);
    free(again);
    cJSON_Delete(sv);
    static const char *const tags[] = {"Preview", "Search", "Load", "Chunk", "WriteVar", "SubLm",
                                       "ExtractOverChunks", "ToolCall", "Final"};
    for (size_t i = 0; i < ARRAY_LEN(tags); i++) {
        char q[64];
        snprintf(q, sizeof q, "{\"const\":\"%s\"}", tags[i]);
        assert_non_null(strstr(schema, q));
    }
}

static void test_preview_search(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, NULL, NULL);
    char *id = put_text(&f, "line one\nline two has needle\nneedle again\n\xc3\xa9nd");
    struct dse_err err;
    char *act = xasprintf("{\"_tag\":\"Preview\",\"target\":{\"_tag\":\"Blob\",\"blobId\":\"%s\"}}", id);
    cJSON *o = run(&f, act, NULL, &err);
    free(act);
    assert_non_null(o);
    /* a missing optional length is its minimum: 1 */
    assert_string_equal(json_str(o, "text", ""), "l");
    assert_int_equal(json_int(o, "length", 0), 1);
    assert_true(json_bool(o, "truncated", false));
    assert_string_equal(json_str(o, "trust", ""), "untrusted");
    assert_int_equal(json_int(o, "totalChars", 0), 45);
    cJSON_Delete(o);

    act = xasprintf("{\"_tag\":\"Preview\",\"target\":{\"_tag\":\"Blob\",\"blobId\":\"%s\"},"
                    "\"offset\":9,\"length\":99999}", id);
    o = run(&f, act, NULL, &err);
    free(act);
    assert_int_equal(json_int(o, "length", 0), 10000);
    assert_string_equal(json_str(o, "text", ""), "line two has needle\nneedle again\n\xc3\xa9nd");
    assert_false(json_bool(o, "truncated", true));
    const cJSON *span = json_get(o, "span");
    assert_int_equal(json_int(span, "startChar", -1), 9);
    assert_int_equal(json_int(span, "endChar", -1), 45);
    assert_int_equal(json_int(span, "startLine", -1), 2);
    assert_int_equal(json_int(span, "endLine", -1), 4);
    assert_string_equal(json_str(json_get(span, "source"), "_tag", ""), "Blob");
    cJSON *red = rlm_observation_redact(o);
    assert_null(json_get(red, "text"));
    assert_int_equal(json_int(red, "textChars", -1), 36);
    cJSON_Delete(red);
    cJSON_Delete(o);

    /* Search: default maxMatches 1, totalMatches counts all */
    act = xasprintf("{\"_tag\":\"Search\",\"target\":{\"_tag\":\"Blob\",\"blobId\":\"%s\"},"
                    "\"query\":\"needle\",\"contextChars\":5}", id);
    o = run(&f, act, NULL, &err);
    free(act);
    assert_int_equal(json_int(o, "totalMatches", 0), 2);
    assert_true(json_bool(o, "truncated", false));
    const cJSON *m = json_get(o, "matches");
    assert_int_equal(cJSON_GetArraySize(m), 1);
    assert_int_equal(json_int(m->child, "index", 0), 22);
    assert_string_equal(json_str(m->child, "snippet", ""), " has needle\nneed");
    red = rlm_observation_redact(o);
    assert_int_equal(json_int(json_get(red, "matches")->child, "snippetChars", 0), 16);
    assert_null(json_get(json_get(red, "matches")->child, "snippet"));
    cJSON_Delete(red);
    cJSON_Delete(o);
    act = xasprintf("{\"_tag\":\"Search\",\"target\":{\"_tag\":\"Blob\",\"blobId\":\"%s\"},"
                    "\"query\":\"nd\",\"maxMatches\":1e9,\"contextChars\":99999}", id);
    o = run(&f, act, NULL, &err);
    free(act);
    assert_int_equal(json_int(o, "totalMatches", 0), 1); /* "\xc3\xa9nd" */
    assert_int_equal(json_int(json_get(o, "matches")->child, "index", 0), 43);
    assert_false(json_bool(o, "truncated", true));
    cJSON_Delete(o);
    act = xasprintf("{\"_tag\":\"Search\",\"target\":{\"_tag\":\"Blob\",\"blobId\":\"%s\"},\"query\":\"\"}", id);
    assert_null(run(&f, act, NULL, &err));
    assert_string_equal(err.code, "RlmKernelError");
    free(act);
    /* a blob that does not exist */
    assert_null(run(&f, "{\"_tag\":\"Preview\",\"target\":{\"_tag\":\"Blob\",\"blobId\":\"sha256:no\"}}", NULL, &err));
    assert_string_equal(err.code, "RlmKernelError");
    assert_null(run(&f, "{\"_tag\":\"Preview\",\"target\":{\"_tag\":\"Var\",\"name\":\"nope\"}}", NULL, &err));
    assert_string_equal(err.code, "RlmKernelError");

    /* 300 matches: at most 200 kept */
    struct sbuf many = {0};
    for (int i = 0; i < 300; i++)
        sbuf_adds(&many, "ab ");
    char *id2 = put_text(&f, many.s);
    act = xasprintf("{\"_tag\":\"Search\",\"target\":{\"_tag\":\"Blob\",\"blobId\":\"%s\"},"
                    "\"query\":\"ab\",\"maxMatches\":500}", id2);
    o = run(&f, act, NULL, &err);
    free(act);
    assert_int_equal(json_int(o, "totalMatches", 0), 300);
    assert_int_equal(cJSON_GetArraySize(json_get(o, "matches")), 200);
    cJSON_Delete(o);
    sbuf_free(&many);
    free(id2);
    free(id);
    fx_free(&f);
}

static void test_chunk_load_vars(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, NULL, NULL);
    struct sbuf big = {0};
    for (int i = 0; i < 50000; i++)
        sbuf_addc(&big, (char)('a' + i % 26));
    char *id = put_text(&f, big.s);
    struct dse_err err;
    /* chunkChars capped at 20000; maxChunks missing -> 1 */
    char *act = xasprintf("{\"_tag\":\"Chunk\",\"target\":{\"_tag\":\"Blob\",\"blobId\":\"%s\"},"
                          "\"chunkChars\":999999,\"intoVar\":\"c1\"}", id);
    cJSON *o = run(&f, act, NULL, &err);
    free(act);
    assert_int_equal(json_int(o, "chunkCount", 0), 1);
    assert_int_equal(json_int(o, "chunkChars", 0), 20000);
    cJSON_Delete(o);
    act = xasprintf("{\"_tag\":\"Chunk\",\"target\":{\"_tag\":\"Blob\",\"blobId\":\"%s\"},"
                    "\"chunkChars\":20000,\"overlapChars\":5000,\"maxChunks\":10,\"intoVar\":\"c2\"}", id);
    o = run(&f, act, NULL, &err);
    free(act);
    /* starts 0, 15000, 30000 (ends at 50000) */
    assert_int_equal(json_int(o, "chunkCount", 0), 3);
    assert_int_equal(json_int(o, "overlapChars", 0), 5000);
    cJSON_Delete(o);
    cJSON *v = NULL;
    assert_int_equal(blobstore_var_get(f.bs, "c2", &v, &err), 0);
    assert_string_equal(json_str(v, "_tag", ""), "Json");
    const cJSON *list = json_get(v, "value");
    assert_int_equal(cJSON_GetArraySize(list), 3);
    assert_int_equal(json_int(cJSON_GetArrayItem(list, 2), "size", 0), 20000);
    assert_string_equal(json_str(cJSON_GetArrayItem(list, 0), "mime", ""), "text/plain");
    cJSON_Delete(v);
    /* at most 200 chunks */
    act = xasprintf("{\"_tag\":\"Chunk\",\"target\":{\"_tag\":\"Blob\",\"blobId\":\"%s\"},"
                    "\"chunkChars\":10,\"maxChunks\":1000,\"intoVar\":\"c3\"}", id);
    o = run(&f, act, NULL, &err);
    free(act);
    assert_int_equal(json_int(o, "chunkCount", 0), 200);
    cJSON_Delete(o);
    /* Preview over a JSON var sees its canonical text */
    o = run(&f, "{\"_tag\":\"Preview\",\"target\":{\"_tag\":\"Var\",\"name\":\"c1\"},\"length\":2}", NULL, &err);
    assert_string_equal(json_str(o, "text", ""), "[{");
    assert_string_equal(json_str(json_path(o, "span.source"), "_tag", ""), "VarJson");
    cJSON_Delete(o);

    /* Load + Preview through a blob var */
    act = xasprintf("{\"_tag\":\"Load\",\"blobId\":\"%s\",\"intoVar\":\"doc\"}", id);
    o = run(&f, act, NULL, &err);
    free(act);
    assert_string_equal(json_str(o, "_tag", ""), "LoadResult");
    assert_int_equal(json_int(json_get(o, "blob"), "size", 0), 50000);
    cJSON_Delete(o);
    o = run(&f, "{\"_tag\":\"Preview\",\"target\":{\"_tag\":\"Var\",\"name\":\"doc\"},\"offset\":26,\"length\":3}", NULL, &err);
    assert_string_equal(json_str(o, "text", ""), "abc");
    assert_string_equal(json_str(json_path(o, "span.source"), "_tag", ""), "VarBlob");
    cJSON_Delete(o);
    assert_null(run(&f, "{\"_tag\":\"Load\",\"blobId\":\"sha256:none\",\"intoVar\":\"x\"}", NULL, &err));
    assert_string_equal(err.code, "RlmKernelError");

    /* WriteVar and the var list */
    o = run(&f, "{\"_tag\":\"WriteVar\",\"name\":\"  notes \",\"value\":{\"_tag\":\"Json\",\"value\":{\"k\":[1,2]}}}", NULL, &err);
    assert_string_equal(json_str(o, "kind", ""), "json");
    cJSON_Delete(o);
    cJSON *vars = NULL;
    assert_int_equal(blobstore_var_list(f.bs, &vars, &err), 0);
    /* localeCompare order; trimmed names */
    const char *want[] = {"c1", "c2", "c3", "doc", "notes"};
    int i = 0;
    for (const cJSON *x = vars->child; x; x = x->next, i++)
        assert_string_equal(json_str(x, "name", ""), want[i]);
    assert_int_equal(i, 5);
    assert_string_equal(json_str(cJSON_GetArrayItem(vars, 4), "kind", ""), "json");
    assert_int_equal(json_int(cJSON_GetArrayItem(vars, 4), "approxChars", 0), 11);
    assert_string_equal(json_str(cJSON_GetArrayItem(vars, 3), "kind", ""), "blob");
    cJSON_Delete(vars);

    /* var space limits */
    struct sbuf name = {0};
    for (int k = 0; k < 129; k++)
        sbuf_addc(&name, 'n');
    cJSON *one = cJSON_CreateNumber(1);
    assert_int_equal(blobstore_var_put_json(f.bs, name.s, one, &err), -1);
    assert_int_equal(blobstore_var_put_json(f.bs, "   ", one, &err), -1);
    struct sbuf huge = {0};
    for (int k = 0; k < 50001; k++)
        sbuf_addc(&huge, 'x');
    cJSON *hs = cJSON_CreateString(huge.s);
    assert_int_equal(blobstore_var_put_json(f.bs, "h", hs, &err), -1);
    assert_non_null(strstr(err.msg, "50000"));
    for (int k = 0; k < 195; k++) {
        char nm[16];
        snprintf(nm, sizeof nm, "v%d", k);
        assert_int_equal(blobstore_var_put_json(f.bs, nm, one, &err), 0);
    }
    assert_int_equal(blobstore_var_put_json(f.bs, "one-too-many", one, &err), -1);
    assert_int_equal(blobstore_var_put_json(f.bs, "v0", one, &err), 0); /* overwrite is fine */
    bool existed = false;
    assert_int_equal(blobstore_var_del(f.bs, "v0", &existed, &err), 0);
    assert_true(existed);
    cJSON_Delete(one);
    cJSON_Delete(hs);
    sbuf_free(&name);
    sbuf_free(&huge);
    sbuf_free(&big);
    free(id);
    fx_free(&f);
}

static void test_sublm_extract_tool_final(void **state)
{
    (void)state;
    static const char *const replies[] = {"sub says hi"};
    struct script s;
    struct lm_client *lm = script_open(&s, replies, 1);
    struct fx f;
    fx_init(&f, lm,
            "{\"paramsVersion\":1,\"budgets\":{\"maxLmCalls\":4,\"maxSubLmCalls\":3},"
            "\"model\":{\"maxTokens\":4000},\"modelRoles\":{\"sub\":{\"modelId\":\"small\"}},"
            "\"rlmLite\":{\"extractionSystem\":\"EXTRACT\"},"
            "\"tools\":{\"allowedToolNames\":[\"calc\"]}}");
    struct dse_err err;
    cJSON *o = run(&f, "{\"_tag\":\"SubLm\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],"
                       "\"intoVar\":\"answer\"}", NULL, &err);
    assert_non_null(o);
    assert_string_equal(json_str(o, "_tag", ""), "SubLmResult");
    assert_string_equal(json_str(o, "origin", ""), "lm");
    assert_int_equal(json_int(json_get(o, "blob"), "size", 0), 11);
    cJSON_Delete(o);
    const cJSON *r0 = s.requests->child;
    assert_string_equal(json_str(r0, "role", ""), "sub");
    assert_int_equal(json_int(r0, "maxTokens", 0), 1024); /* min(1024, 4000) */
    assert_int_equal(f.b.used[BUDGET_LM_CALLS], 1);
    assert_int_equal(f.b.used[BUDGET_SUB_LM_CALLS], 1);
    assert_int_equal(f.b.used[BUDGET_OUTPUT_CHARS], 11);

    /* ExtractOverChunks: one sub call per chunk (up to maxChunks) */
    char *a = put_text(&f, "chunk A text"), *b = put_text(&f, "chunk B text"), *c = put_text(&f, "chunk C");
    char *w = xasprintf("{\"_tag\":\"WriteVar\",\"name\":\"chunks\",\"value\":{\"_tag\":\"Json\",\"value\":["
                        "{\"id\":\"%s\",\"hash\":\"%s\",\"size\":12},{\"id\":\"%s\",\"hash\":\"%s\",\"size\":12},"
                        "{\"id\":\"%s\",\"hash\":\"%s\",\"size\":7}]}}", a, a, b, b, c, c);
    o = run(&f, w, NULL, &err);
    cJSON_Delete(o);
    free(w);
    o = run(&f, "{\"_tag\":\"ExtractOverChunks\",\"chunksVar\":\"chunks\",\"instruction\":\"find x\","
                "\"maxChunks\":2,\"intoVar\":\"outs\"}", NULL, &err);
    assert_non_null(o);
    assert_int_equal(json_int(o, "chunkCount", 0), 2);
    assert_string_equal(json_str(o, "outputsVar", ""), "outs");
    cJSON_Delete(o);
    const cJSON *r1 = cJSON_GetArrayItem(s.requests, 1);
    const cJSON *m = json_get(r1, "messages");
    assert_string_equal(json_str(m->child, "content", ""), "EXTRACT");
    assert_string_equal(json_str(m->child->next, "content", ""), "find x\n\nChunk:\nchunk A text");
    assert_int_equal(f.b.used[BUDGET_SUB_LM_CALLS], 3);
    /* the next sub call goes over maxSubLmCalls (3) */
    assert_null(run(&f, "{\"_tag\":\"SubLm\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                        "\"intoVar\":\"y\"}", NULL, &err));
    assert_string_equal(err.code, "BudgetExceededError");
    assert_int_equal(s.calls, 3);
    /* a chunks var that is not a BlobRef list */
    assert_null(run(&f, "{\"_tag\":\"ExtractOverChunks\",\"chunksVar\":\"answer\",\"instruction\":\"i\","
                        "\"intoVar\":\"z\"}", NULL, &err));
    assert_string_equal(err.code, "RlmKernelError");

    /* tools: not on the allowlist, or allowed but no executor */
    assert_null(run(&f, "{\"_tag\":\"ToolCall\",\"toolName\":\"rm\",\"input\":{},\"intoVar\":\"t\"}", NULL, &err));
    assert_string_equal(err.code, "RlmKernelError");
    assert_non_null(strstr(err.msg, "not allowed"));
    assert_null(run(&f, "{\"_tag\":\"ToolCall\",\"toolName\":\"calc\",\"input\":1,\"intoVar\":\"t\"}", NULL, &err));
    assert_string_equal(err.code, "RlmKernelError");
    assert_int_equal(f.b.used[BUDGET_TOOL_CALLS], 1);

    cJSON *fin = NULL;
    o = run(&f, "{\"_tag\":\"Final\",\"output\":{\"summary\":\"done\"}}", &fin, &err);
    assert_null(o);
    assert_non_null(fin);
    assert_string_equal(json_str(fin, "summary", ""), "done");
    cJSON_Delete(fin);
    free(a);
    free(b);
    free(c);
    fx_free(&f);
    script_done(&s, lm);
}

/* ---- the loop ---- */

static cJSON *recap_input(struct sbuf *blobs_json, const char *question, const char *const *texts,
                          int n)
{
    cJSON *in = json_obj();
    json_set_str(in, "question", question);
    cJSON *chunks = json_arr();
    cJSON *blobs = json_arr();
    for (int i = 0; i < n; i++) {
        cJSON *ref = blobref_of(texts[i], strlen(texts[i]), "text/plain");
        cJSON_AddItemToArray(chunks, ref);
        cJSON *b = json_obj();
        json_set_str(b, "text", texts[i]);
        json_set_str(b, "mime", "text/plain");
        cJSON_AddItemToArray(blobs, b);
    }
    json_set(in, "threadChunks", chunks);
    char *s = json_canonical(blobs);
    sbuf_adds(blobs_json, s);
    free(s);
    cJSON_Delete(blobs);
    return in;
}

static void test_loop_out_of_iterations(void **state)
{
    (void)state;
    const cJSON *sig = sig_of(RECAP);
    /* a controller that only ever previews */
    static const char *const replies[] = {
        "{\"_tag\":\"Preview\",\"target\":{\"_tag\":\"Var\",\"name\":\"seen\"},\"length\":10}",
        "{\"_tag\":\"WriteVar\",\"name\":\"seen\",\"value\":{\"_tag\":\"Json\",\"value\":\"yes\"}}",
        "{\"_tag\":\"Preview\",\"target\":{\"_tag\":\"Var\",\"name\":\"seen\"},\"length\":10}"};
    struct script s;
    struct lm_client *lm = script_open(&s, replies + 1, 2);
    cJSON *params = parse("{\"paramsVersion\":1,\"strategy\":{\"id\":\"rlm_lite.v1\"},"
                          "\"budgets\":{\"maxRlmIterations\":12,\"maxSubLmCalls\":2,\"maxLmCalls\":50}}");
    const char *texts[] = {"some thread text"};
    struct sbuf blobs = {0};
    cJSON *input = recap_input(&blobs, "what?", texts, 1);
    cJSON *bj = parse(blobs.s);
    struct predict_result res;
    predict_run(sig, NULL, params, input, lm, bj, &res);
    assert_false(res.ok);
    assert_string_equal(res.error.code, "PredictStrategyError");
    assert_non_null(strstr(res.error.msg, "12"));
    assert_int_equal(s.calls, 12);
    /* trace: Input + (action, observation) per iteration */
    assert_non_null(res.trace);
    const cJSON *events = json_get(res.trace, "events");
    assert_int_equal(cJSON_GetArraySize(events), 1 + 2 * 12);
    assert_string_equal(json_str(events->child, "_tag", ""), "Input");
    assert_int_equal(json_int(json_get(res.receipt, "rlmTrace"), "eventCount", 0), 25);
    char *doc = json_canonical(res.trace);
    char h[HASH_ID_LEN + 1];
    hash_text(doc, h);
    free(doc);
    assert_string_equal(json_str(json_path(res.receipt, "rlmTrace.blob"), "id", ""), h);
    assert_string_equal(json_str(json_path(res.receipt, "rlmTrace.blob"), "mime", ""), "application/json");
    assert_string_equal(json_str(res.trace, "format", ""), "openagents.dse.rlm_trace");
    assert_string_equal(json_str(res.trace, "receiptId", ""), res.receipt_id);
    assert_string_equal(json_str(res.trace, "strategyId", ""), "rlm_lite.v1");

    /* history: never more than 30 messages; the first two are kept */
    for (const cJSON *r = s.requests->child; r; r = r->next) {
        const cJSON *m = json_get(r, "messages");
        assert_true(cJSON_GetArraySize(m) <= 30);
        assert_string_equal(json_str(m->child, "role", ""), "system");
        assert_non_null(strstr(json_str(m->child, "content", ""), "Action schema"));
        assert_non_null(strstr(json_str(m->child->next, "content", ""), "Input:\n"));
        assert_string_equal(json_str(r, "role", ""), "controller");
        assert_int_equal(json_int(r, "maxTokens", 0), 1024);
    }
    const cJSON *last = cJSON_GetArrayItem(s.requests, 11);
    assert_int_equal(cJSON_GetArraySize(json_get(last, "messages")), 30);
    /* the last message is the state: iteration 12, budgets without elapsedMs,
     * vars, and the previous observation redacted */
    const cJSON *lm_msgs = json_get(last, "messages");
    const char *st = json_str(cJSON_GetArrayItem(lm_msgs, 29), "content", "");
    assert_true(strncmp(st, "RLM state:\n", 11) == 0);
    cJSON *state_json = parse(st + 11);
    assert_int_equal(json_int(state_json, "iteration", 0), 12);
    assert_null(json_path(state_json, "budgets.usage.elapsedMs"));
    assert_int_equal(json_int(json_path(state_json, "budgets.usage"), "rlmIterations", 0), 12);
    assert_int_equal(json_int(json_path(state_json, "budgets.limits"), "maxRlmIterations", 0), 12);
    assert_string_equal(json_str(json_get(state_json, "vars")->child, "name", ""), "seen");
    assert_int_equal(json_int(json_get(state_json, "lastObservation"), "textChars", -1), 5);
    assert_null(json_path(state_json, "lastObservation.text"));
    cJSON_Delete(state_json);
    /* observations are fed back whole (under 10,000 chars) with the prefix */
    const char *obs = json_str(cJSON_GetArrayItem(lm_msgs, 28), "content", "");
    assert_true(strncmp(obs, RLM_OBSERVATION_PREFIX, strlen(RLM_OBSERVATION_PREFIX)) == 0);
    assert_non_null(strstr(obs, "\"text\":\"\\\"yes\\\"\""));
    predict_result_free(&res);
    script_done(&s, lm);

    /* a Final that does not match the output schema; the trace is still written */
    static const char *const bad_final[] = {"{\"_tag\":\"Final\",\"output\":{\"sum\":1}}"};
    lm = script_open(&s, bad_final, 1);
    predict_run(sig, NULL, params, input, lm, bj, &res);
    assert_false(res.ok);
    assert_string_equal(res.error.code, "OutputDecodeError");
    assert_non_null(json_get(res.receipt, "rlmTrace"));
    assert_int_equal(cJSON_GetArraySize(json_get(res.trace, "events")), 2);
    predict_result_free(&res);
    script_done(&s, lm);

    cJSON_Delete(bj);
    sbuf_free(&blobs);
    cJSON_Delete(input);
    cJSON_Delete(params);
}

static const char *filler[] = {
    "Ana: morning all, the coffee machine on floor three is broken again.",
    "Ben: I brought pastries, they are in the kitchen.",
    "Chloe: reminder that the quarterly offsite is in Lisbon this year.",
    "Dev: can someone review my pull request about the login page colours?",
    "Ana: lunch at noon? The taco place opened again.",
};

/* ~60 KB of chatter with three lines about the billing deploy. */
static char *long_thread(void)
{
    struct sbuf t = {0};
    for (int i = 0; i < 900; i++) {
        if (i == 150)
            sbuf_adds(&t, "Maya: we decided to deploy the billing service on Thursday after the freeze.\n");
        else if (i == 480)
            sbuf_adds(&t, "Omar: billing deploy moves to 14:00 UTC so support is staffed.\n");
        else if (i == 777)
            sbuf_adds(&t, "Maya: rollback plan for the billing service is the v41 image.\n");
        else
            sbuf_printf(&t, "%s (%d)\n", filler[i % 5], i);
    }
    return sbuf_take(&t);
}

static void check_summary_run(const cJSON *sig, const cJSON *params, const cJSON *input,
                              const cJSON *blobs, const char *want_seq)
{
    struct lm_client *lm = NULL;
    struct lm_config cfg = {.provider = "local-knn"};
    struct dse_err err;
    lm = lm_open(&cfg, &err);
    assert_non_null(lm);
    struct predict_result res;
    predict_run(sig, NULL, params, input, lm, blobs, &res);
    if (!res.ok)
        fail_msg("rlm run failed: %s: %s", res.error.code, res.error.msg);
    const char *summary = json_str(res.output, "summary", "");
    assert_non_null(strstr(summary, "we decided to deploy the billing service on Thursday"));
    assert_non_null(strstr(summary, "billing deploy moves to 14:00 UTC"));
    assert_non_null(strstr(summary, "rollback plan for the billing service"));
    assert_null(strstr(summary, "pastries"));
    assert_true(util_utf8_len(summary, strlen(summary)) <= 1200);
    /* the sequence of actions */
    struct sbuf seq = {0};
    int iterations = 0;
    for (const cJSON *e = json_get(res.trace, "events")->child; e; e = e->next) {
        const cJSON *a = json_get(e, "action");
        if (a) {
            sbuf_printf(&seq, "%s%s", seq.len ? "," : "", json_str(a, "_tag", ""));
            iterations++;
            assert_true(hash_is_id(json_str(e, "promptHash", "")));
        }
    }
    assert_string_equal(seq.s, want_seq);
    sbuf_free(&seq);
    assert_true(iterations >= 5);
    const cJSON *usage = json_path(res.receipt, "budget.usage");
    assert_int_equal(json_int(usage, "rlmIterations", 0), iterations);
    assert_true(json_int(usage, "subLmCalls", 0) >= 1);
    assert_int_equal(json_int(usage, "lmCalls", 0), iterations + json_int(usage, "subLmCalls", 0));
    assert_int_equal(json_int(json_get(res.receipt, "lm"), "calls", 0), json_int(usage, "lmCalls", 0));
    assert_string_equal(json_str(res.receipt, "strategyId", ""), "rlm_lite.v1");
    assert_non_null(json_path(res.receipt, "rlmTrace.blob.id"));
    assert_null(json_get(res.receipt, "usage")); /* direct mode only */
    char h[HASH_ID_LEN + 1];
    hash_json(res.output, h);
    assert_string_equal(json_str(json_get(res.receipt, "hashes"), "outputHash", ""), h);
    /* deterministic: the same run gives the same trace */
    struct predict_result again;
    predict_run(sig, NULL, params, input, lm, blobs, &again);
    assert_true(again.ok);
    assert_true(json_equal(again.output, res.output));
    assert_int_equal(cJSON_GetArraySize(json_get(again.trace, "events")),
                     cJSON_GetArraySize(json_get(res.trace, "events")));
    predict_result_free(&again);
    predict_result_free(&res);
    lm_close(lm);
}

static void test_end_to_end_knn(void **state)
{
    (void)state;
    char *thread = long_thread();
    assert_true(strlen(thread) > 50000);
    const char *texts[] = {thread};
    struct sbuf blobs = {0};
    cJSON *input = recap_input(&blobs, "When did we decide to deploy the billing service?", texts, 1);
    cJSON *bj = parse(blobs.s);

    /* SummarizeThread's own defaults (rlm_lite.v1, 10 iterations, 20 sub) */
    const cJSON *sum = sig_of(SUMMARIZE);
    check_summary_run(sum, catalog_default_params(sum), input, bj,
                      "Chunk,Search,ExtractOverChunks,Preview,Preview,Preview,Preview,Final");

    /* RecapThread with rlm_lite.v1 and the "small" budget profile */
    const cJSON *recap = sig_of(RECAP);
    cJSON *small = parse("{\"paramsVersion\":1,\"strategy\":{\"id\":\"rlm_lite.v1\"},"
                         "\"decode\":{\"mode\":\"strict_json\",\"maxRepairs\":0},"
                         "\"budgets\":{\"maxTimeMs\":10000,\"maxLmCalls\":20,\"maxToolCalls\":0,"
                         "\"maxOutputChars\":40000,\"maxRlmIterations\":6,\"maxSubLmCalls\":10}}");
    struct lm_config cfg = {.provider = "local-knn"};
    struct dse_err err;
    struct lm_client *lm = lm_open(&cfg, &err);
    struct predict_result res;
    predict_run(recap, NULL, small, input, lm, bj, &res);
    if (!res.ok)
        fail_msg("small profile: %s: %s", res.error.code, res.error.msg);
    assert_int_equal(json_int(json_path(res.receipt, "budget.usage"), "rlmIterations", 0), 6);
    assert_true(json_int(json_path(res.receipt, "budget.usage"), "lmCalls", 99) <= 20);
    assert_non_null(strstr(json_str(res.output, "summary", ""), "billing"));
    predict_result_free(&res);

    /* RecapThread's default (direct.v1) with local-knn: no demos, "{}" fails
     * the schema honestly */
    predict_run(recap, NULL, catalog_default_params(recap), input, lm, bj, &res);
    assert_false(res.ok);
    assert_string_equal(res.error.code, "OutputDecodeError");
    /* the whole thread was inlined, cut at 20,000 characters */
    assert_true(json_bool(cJSON_GetArrayItem(json_path(res.receipt, "promptRenderStats.context.blobs"), 0),
                          "truncated", false));
    predict_result_free(&res);
    lm_close(lm);
    cJSON_Delete(small);
    cJSON_Delete(input);
    cJSON_Delete(bj);
    sbuf_free(&blobs);

    /* several blobs: WriteVar of the list instead of Chunk */
    const char *parts[] = {"Ana: hello there\nBen: lunch?", "Maya: billing deploy is Thursday",
                           "Omar: the billing deploy is at 14:00", "Dev: colours"};
    struct sbuf b2 = {0};
    input = recap_input(&b2, "When is the billing deploy?", parts, 4);
    bj = parse(b2.s);
    lm = lm_open(&cfg, &err);
    predict_run(sum, NULL, catalog_default_params(sum), input, lm, bj, &res);
    if (!res.ok)
        fail_msg("multi-blob: %s: %s", res.error.code, res.error.msg);
    assert_string_equal(json_str(json_path(cJSON_GetArrayItem(json_get(res.trace, "events"), 1), "action"), "_tag", ""),
                        "WriteVar");
    const char *s = json_str(res.output, "summary", "");
    assert_non_null(strstr(s, "Maya: billing deploy is Thursday"));
    assert_non_null(strstr(s, "Omar: the billing deploy is at 14:00"));
    assert_null(strstr(s, "lunch"));
    predict_result_free(&res);
    lm_close(lm);
    cJSON_Delete(input);
    cJSON_Delete(bj);
    sbuf_free(&b2);
    free(thread);
}

/* Live mode: blobs and vars live in the store under (thread, run); a second
 * run in the same scope finds its vars and skips straight to reading them. */
static void test_live_store_scope(void **state)
{
    (void)state;
    struct dse_err err;
    struct store *st = store_open_sqlite(":memory:", 0, &err);
    assert_non_null(st);
    const cJSON *sig = sig_of(SUMMARIZE);
    char *thread = long_thread();
    const char *texts[] = {thread};
    struct sbuf blobs = {0};
    cJSON *input = recap_input(&blobs, "When did we decide to deploy the billing service?", texts, 1);
    cJSON *bj = parse(blobs.s);
    struct lm_config cfg = {.provider = "local-knn"};
    struct lm_client *lm = lm_open(&cfg, &err);
    struct predict_live_opts po = {.blobs = bj};
    struct predict_result res;
    assert_int_equal(predict_live_ex(st, lm, sig, "th", "rn", input, &po, &res, &err), 0);
    if (!res.ok)
        fail_msg("live rlm: %s: %s", res.error.code, res.error.msg);
    cJSON *first = json_dup(res.output);
    int first_iters = (int)json_int(json_path(res.receipt, "budget.usage"), "rlmIterations", 0);
    /* the trace blob is in the run's scope */
    cJSON *a = json_obj(), *out = NULL;
    json_set_str(a, "threadId", "th");
    json_set_str(a, "runId", "rn");
    json_set_str(a, "blobId", json_str(json_path(res.receipt, "rlmTrace.blob"), "id", ""));
    assert_int_equal(store_call(st, STORE_OP_blobs_get, a, &out, &err), 0);
    assert_non_null(strstr(json_str(out, "text", ""), "openagents.dse.rlm_trace"));
    cJSON_Delete(out);
    cJSON_Delete(a);
    /* the vars too */
    a = json_obj();
    json_set_str(a, "threadId", "th");
    json_set_str(a, "runId", "rn");
    assert_int_equal(store_call(st, STORE_OP_var_list, a, &out, &err), 0);
    assert_true(cJSON_IsArray(json_get(out, "vars"))); /* {ok, vars} */
    char *vl = json_canonical(out);
    assert_non_null(strstr(vl, "\"name\":\"chunks_"));
    assert_non_null(strstr(vl, "\"name\":\"lines_"));
    free(vl);
    cJSON_Delete(out);
    cJSON_Delete(a);
    predict_result_free(&res);

    /* same scope again: no Chunk, no extraction, the same answer */
    assert_int_equal(predict_live_ex(st, lm, sig, "th", "rn", input, &po, &res, &err), 0);
    assert_true(res.ok);
    assert_true(json_equal(res.output, first));
    assert_int_equal(json_int(json_path(res.receipt, "budget.usage"), "subLmCalls", -1), 0);
    assert_true(json_int(json_path(res.receipt, "budget.usage"), "rlmIterations", 0) < first_iters);
    predict_result_free(&res);
    cJSON_Delete(first);
    lm_close(lm);
    cJSON_Delete(bj);
    cJSON_Delete(input);
    sbuf_free(&blobs);
    free(thread);
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_action_decode),
        cmocka_unit_test(test_preview_search),
        cmocka_unit_test(test_chunk_load_vars),
        cmocka_unit_test(test_sublm_extract_tool_final),
        cmocka_unit_test(test_loop_out_of_iterations),
        cmocka_unit_test(test_end_to_end_knn),
        cmocka_unit_test(test_live_store_scope),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
