/* The remote back end against a fake Convex deployment (an in-process
 * libmicrohttpd server with canned replies), and the server's token rules.
 *
 * The fake covers what `dse serve` cannot show: a plain reference
 * deployment without the dsex extensions, Convex-style error wrapping,
 * 503s (queries retried, mutations not), and an endless reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "json.h"
#include "server.h"
#include "store.h"
#include "util.h"

#define GOOD_TOKEN "tok-0123456789abcdef"

static struct MHD_Daemon *fake;
static unsigned fake_port;
static int fake_plain;           /* no dsex/meta:info */
static int fake_bare;            /* answer as a `dse serve` from before the {ok, ...} shapes */
static int fake_tied;            /* listExamples: NFC then NFD "é", which ICU ranks equal */
static int fake_need_token;
static int fake_not_admin;       /* *Admin functions answer 560 forbidden */
static int fake_admin_calls;     /* calls of *Admin functions */
static int fake_fail_left;       /* 503s before getArtifact succeeds */
static int fake_calls;           /* calls of the last path asked about */
static char fake_last_kind[16];  /* "query" / "mutation" */
static double fake_counter = 41;
static size_t fake_max_body;     /* largest request body seen */

struct fake_req {
    struct sbuf body;
};

static ssize_t endless(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos > (80u << 20))
        return MHD_CONTENT_READER_END_OF_STREAM;
    memset(buf, ' ', max);
    if (pos == 0)
        buf[0] = '[';
    return (ssize_t)max;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static const char *receipts_rows =
    "[{\"receiptId\":\"r5\",\"signatureId\":\"S\",\"createdAtMs\":5000,\"resultTag\":\"Ok\"},"
    "{\"receiptId\":\"r4\",\"signatureId\":\"S\",\"createdAtMs\":4000,\"resultTag\":\"Error\"},"
    "{\"receiptId\":\"r3\",\"signatureId\":\"S\",\"createdAtMs\":3000,\"resultTag\":\"Ok\"},"
    "{\"receiptId\":\"r2\",\"signatureId\":\"S\",\"createdAtMs\":2000,\"resultTag\":\"Error\"},"
    "{\"receiptId\":\"r1\",\"signatureId\":\"S\",\"createdAtMs\":1000,\"resultTag\":\"Ok\"}]";

static enum MHD_Result fake_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version,
                                    const char *data, size_t *size, void **req_cls)
{
    (void)cls;
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
    snprintf(fake_last_kind, sizeof fake_last_kind, "%s", url + 5);
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (fake_need_token && (!auth || strcmp(auth, "Bearer " GOOD_TOKEN) != 0))
        return reply(c, 401, "{\"status\":\"error\",\"errorMessage\":\"unauthorized: bad token\"}");
    if (fr->body.len > fake_max_body)
        fake_max_body = fr->body.len;
    cJSON *doc = cJSON_ParseWithLength(fr->body.s, fr->body.len);
    const char *path = json_str(doc, "path", "");
    char p[128];
    snprintf(p, sizeof p, "%s", path);
    int nitems = cJSON_GetArraySize(json_path(doc, "args.items"));
    cJSON_Delete(doc);
    fake_calls++;
    size_t plen = strlen(p);
    if (plen > 5 && !strcmp(p + plen - 5, "Admin"))
        fake_admin_calls++;
    if (fake_not_admin && plen > 5 && !strcmp(p + plen - 5, "Admin"))
        return reply(c, 560,
                     "{\"status\":\"error\",\"errorMessage\":\"[Request ID: 5] Server Error\\n"
                     "Uncaught Error: forbidden\\n    at assertOpsAdmin\",\"logLines\":[]}");
    if (fake_not_admin && !strcmp(p, "dse/blobs:getText"))
        return reply(c, 200,
                     "{\"status\":\"success\",\"value\":{\"ok\":true,\"text\":\"hi\"},"
                     "\"logLines\":[]}");
    /* Convex function errors: HTTP 560, the code in errorData */
    if (!strcmp(p, "dse/compileReports:getReport"))
        return reply(c, 560,
                     "{\"status\":\"error\",\"errorMessage\":\"[Request ID: 3] Server Error\","
                     "\"errorData\":{\"code\":\"forbidden\",\"message\":\"not your thread\"},"
                     "\"logLines\":[]}");
    if (!strcmp(p, "dse/evalReports:getReport"))
        return reply(c, 560,
                     "{\"status\":\"error\",\"errorMessage\":\"[Request ID: 4] Server Error\\n"
                     "Uncaught ConvexError: report missing\",\"errorData\":\"eval_not_found\"}");
    if (!strcmp(p, "dsex/receipts:recordBatch")) {
        char b[160];
        snprintf(b, sizeof b,
                 "{\"status\":\"success\",\"value\":{\"ok\":true,\"recorded\":%d,"
                 "\"duplicates\":0,\"counted\":%d,\"autoStopped\":0}}",
                 nitems, nitems);
        return reply(c, 200, b);
    }
    if (!strcmp(p, "dsex/meta:info")) {
        if (fake_plain)
            return reply(c, 400,
                         "{\"status\":\"error\",\"errorMessage\":\"[Request ID: 1] Server Error\\n"
                         "Could not find public function for 'dsex/meta:info'.\"}");
        return reply(c, 200,
                     "{\"status\":\"success\",\"value\":{\"ok\":true,\"backend\":\"fake\","
                     "\"extensions\":[\"dsex/meta:changeCounter\",\"dsex/receipts:recordBatch\"]}}");
    }
    if (!strcmp(p, "dsex/meta:changeCounter")) {
        char b[128];
        snprintf(b, sizeof b, "{\"status\":\"success\",\"value\":{\"ok\":true,\"counter\":%.0f}}",
                 fake_counter);
        return reply(c, 200, b);
    }
    if (!strcmp(p, "dse/active:getActive"))
        return reply(c, 400,
                     "{\"status\":\"error\",\"errorMessage\":\"[Request ID: 9] Server Error\\n"
                     "Uncaught Error: artifact_not_found: no such artifact\\n    at handler "
                     "(../convex/dse/active.ts:10:5)\"}");
    if (!strcmp(p, "dse/artifacts:getArtifact")) {
        if (fake_fail_left > 0) {
            fake_fail_left--;
            return reply(c, 503, "busy");
        }
        return reply(c, 200, "{\"status\":\"success\",\"value\":{\"ok\":true,\"artifact\":null}}");
    }
    if (!strcmp(p, "dse/artifacts:putArtifact"))
        return reply(c, 503, "busy");
    if (!strcmp(p, "dse/opsRuns:getRun"))
        return reply(c, 200, "<html>hello</html>");
    if (!strcmp(p, "dse/canary:getCanary")) {
        /* a server that hangs: nothing for 5 s (this connection's thread) */
        sleep(5);
        return reply(c, 200, "{\"status\":\"success\",\"value\":{\"ok\":true,\"canary\":null}}");
    }
    if (!strcmp(p, "dse/opsRuns:listRuns")) {
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 65536,
                                                                   endless, NULL, NULL);
        enum MHD_Result rc = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return rc;
    }
    if (!strcmp(p, "dse/receipts:listPredictReceiptsBySignatureIdAdmin")) {
        char *b = fake_bare ? xasprintf("{\"status\":\"success\",\"value\":%s}", receipts_rows)
                            : xasprintf("{\"status\":\"success\",\"value\":{\"ok\":true,"
                                        "\"receipts\":%s}}",
                                        receipts_rows);
        enum MHD_Result rc = reply(c, 200, b);
        free(b);
        return rc;
    }
    if (!strcmp(p, "dse/receipts:getPredictReceiptByReceiptIdAdmin"))
        return reply(c, 200,
                     fake_bare ? "{\"status\":\"success\",\"value\":{\"threadId\":\"t\","
                                 "\"runId\":\"r\",\"json\":{},\"createdAtMs\":1}}"
                               : "{\"status\":\"success\",\"value\":{\"ok\":true,\"receipt\":{"
                                 "\"threadId\":\"t\",\"runId\":\"r\",\"json\":{},"
                                 "\"createdAtMs\":1}}}");
    if (!strcmp(p, "dse/varSpace:getVar"))
        return reply(c, 200,
                     fake_bare ? "{\"status\":\"success\",\"value\":null}"
                               : "{\"status\":\"success\",\"value\":{\"ok\":true,\"value\":{"
                                 "\"_tag\":\"Json\",\"value\":1,\"approxChars\":1}}}");
    if (!strcmp(p, "dse/varSpace:list"))
        return reply(c, 200,
                     fake_bare ? "{\"status\":\"success\",\"value\":[{\"name\":\"a\","
                                 "\"kind\":\"json\",\"approxChars\":1}]}"
                               : "{\"status\":\"success\",\"value\":{\"ok\":true,\"vars\":[]}}");
    if (!strcmp(p, "dse/examples:listExamples") && fake_tied)
        return reply(c, 200,
                     "{\"status\":\"success\",\"value\":{\"ok\":true,\"examples\":["
                     "{\"exampleId\":\"a\"},{\"exampleId\":\"\xc3\xa9\"},"
                     "{\"exampleId\":\"e\xcc\x81\"},{\"exampleId\":\"f\"}]}}");
    if (!strcmp(p, "dse/examples:listExamples"))
        return reply(c, 200,
                     "{\"status\":\"success\",\"value\":{\"ok\":true,\"examples\":["
                     "{\"exampleId\":\"a\"},{\"exampleId\":\"b\"},{\"exampleId\":\"c\"},"
                     "{\"exampleId\":\"d\"}]}}");
    return reply(c, 404, "{\"status\":\"error\",\"errorMessage\":\"unknown_function: no such\"}");
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
        *req_cls = NULL;
    }
}

static int fake_start(void **state)
{
    (void)state;
    /* A thread per connection: one hanging request must not stall others. */
    fake = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                MHD_USE_AUTO,
                            0, NULL, NULL, fake_handler, NULL,
                            MHD_OPTION_NOTIFY_COMPLETED, fake_done, NULL, MHD_OPTION_END);
    if (!fake)
        return -1;
    fake_port = MHD_get_daemon_info(fake, MHD_DAEMON_INFO_BIND_PORT)->port;
    return 0;
}

static int fake_stop(void **state)
{
    (void)state;
    MHD_stop_daemon(fake);
    return 0;
}

static struct store *open_fake(const char *userinfo, const char *token, struct dse_err *err)
{
    char url[128];
    snprintf(url, sizeof url, "http://%s127.0.0.1:%u/", userinfo, fake_port);
    return store_open_remote(url, token, 0, err);
}

static void reset(void)
{
    fake_plain = 0;
    fake_bare = 0;
    fake_tied = 0;
    fake_need_token = 0;
    fake_not_admin = 0;
    fake_admin_calls = 0;
    fake_fail_left = 0;
    fake_calls = 0;
}

static void test_plain_deployment(void **state)
{
    (void)state;
    reset();
    fake_plain = 1;
    struct dse_err err = {0};
    struct store *st = open_fake("user:pw@", NULL, &err);
    assert_non_null(st);
    char want[64];
    snprintf(want, sizeof want, "remote:http://127.0.0.1:%u", fake_port);
    assert_string_equal(st->desc, want); /* no credentials in the description */
    assert_true(st->plain_reference); /* no extension listed at open */
    assert_true(store_has_op(st, STORE_OP_artifacts_get));
    assert_false(store_has_op(st, STORE_OP_x_receipts_batch));
    assert_false(store_has_op(st, STORE_OP_x_sig_put));
    assert_true(store_has_op(st, STORE_OP_x_receipts_page)); /* emulated */
    assert_true(store_has_op(st, STORE_OP_x_examples_page));
    assert_true(store_has_op(st, STORE_OP_x_sig_list));
    assert_true(store_has_op(st, STORE_OP_x_sig_get));
    assert_true(store_has_op(st, STORE_OP_x_sig_stats));
    assert_true(store_has_op(st, STORE_OP_x_examples_counts));
    cJSON *info = NULL;
    assert_int_equal(store_call(st, STORE_OP_x_info, NULL, &info, &err), 0);
    assert_int_equal(cJSON_GetArraySize(json_get(info, "extensions")), 0);
    cJSON_Delete(info);
    /* the catalog is dse's built-in one (the deployment keeps it in code) */
    cJSON *list = NULL;
    assert_int_equal(store_call(st, STORE_OP_x_sig_list, NULL, &list, &err), 0);
    const cJSON *first = cJSON_GetArrayItem(json_get(list, "signatures"), 0);
    assert_non_null(first);
    assert_true(cJSON_GetArraySize(json_get(list, "signatures")) >= 8);
    cJSON *ga = json_obj(), *one = NULL;
    json_set_str(ga, "signatureId", json_str(first, "signatureId", ""));
    assert_int_equal(store_call(st, STORE_OP_x_sig_get, ga, &one, &err), 0);
    assert_string_equal(json_str(json_get(one, "signature"), "signatureId", ""),
                        json_str(first, "signatureId", "?"));
    cJSON_Delete(one);
    one = NULL;
    json_set_str(ga, "signatureId", "no/such/Signature.v9");
    assert_int_equal(store_call(st, STORE_OP_x_sig_get, ga, &one, &err), 0);
    assert_true(cJSON_IsNull(json_get(one, "signature")));
    cJSON_Delete(one);
    cJSON_Delete(ga);
    cJSON_Delete(list);
    assert_int_equal(store_call(st, STORE_OP_x_sig_get, NULL, NULL, &err), -1);
    assert_string_equal(err.code, "invalid_input");
    /* without a counter every poll reports a change */
    uint64_t a = store_poll_changes(st), b = store_poll_changes(st);
    assert_true(a != b && a && b);
    store_close(st);
}

static void test_extensions_listed(void **state)
{
    (void)state;
    reset();
    struct dse_err err = {0};
    struct store *st = open_fake("", NULL, &err);
    assert_non_null(st);
    assert_false(st->plain_reference);
    assert_true(store_has_op(st, STORE_OP_x_changes));
    assert_true(store_has_op(st, STORE_OP_x_receipts_batch)); /* listed */
    assert_false(store_has_op(st, STORE_OP_x_sig_put)); /* not listed, not emulated */
    fake_counter = 41;
    uint64_t a = store_poll_changes(st);
    assert_int_equal(a, store_poll_changes(st));
    fake_counter = 42;
    assert_true(store_poll_changes(st) != a);
    store_close(st);
}

static void test_error_mapping(void **state)
{
    (void)state;
    reset();
    struct dse_err err = {0};
    struct store *st = open_fake("", NULL, &err);
    assert_non_null(st);
    cJSON *args = json_obj();
    json_set_str(args, "signatureId", "S");
    assert_int_equal(store_call(st, STORE_OP_active_get, args, NULL, &err), -1);
    assert_string_equal(err.code, "artifact_not_found");
    assert_string_equal(err.msg, "no such artifact");
    assert_int_equal(store_call(st, STORE_OP_runs_get, args, NULL, &err), -1);
    assert_string_equal(err.code, "remote_error");
    assert_int_equal(store_call(st, STORE_OP_blobs_get, args, NULL, &err), -1);
    assert_string_equal(err.code, "unknown_function");
    cJSON_Delete(args);
    store_close(st);
}

/* Function errors the Convex way: 560 with errorData naming the code, and
 * an *Admin read refused for a non-admin token falls back to the thread
 * owner's function, once per handle. */
static void test_convex_function_errors(void **state)
{
    (void)state;
    reset();
    struct dse_err err = {0};
    struct store *st = open_fake("", NULL, &err);
    assert_non_null(st);
    cJSON *args = json_obj();
    json_set_str(args, "signatureId", "S");
    assert_int_equal(store_call(st, STORE_OP_compile_get, args, NULL, &err), -1);
    assert_string_equal(err.code, "forbidden");
    assert_string_equal(err.msg, "not your thread");
    assert_int_equal(store_call(st, STORE_OP_eval_get, args, NULL, &err), -1);
    assert_string_equal(err.code, "eval_not_found");
    assert_non_null(strstr(err.msg, "report missing"));
    cJSON_Delete(args);

    fake_not_admin = 1;
    args = json_obj();
    json_set_str(args, "threadId", "t");
    json_set_str(args, "runId", "r");
    json_set_str(args, "blobId", "sha256:00");
    for (int i = 0; i < 2; i++) {
        cJSON *out = NULL;
        assert_int_equal(store_call(st, STORE_OP_blobs_get_admin, args, &out, &err), 0);
        assert_string_equal(json_str(out, "text", ""), "hi");
        cJSON_Delete(out);
    }
    assert_int_equal(fake_admin_calls, 1);
    cJSON_Delete(args);
    store_close(st);
}

static void test_retries(void **state)
{
    (void)state;
    reset();
    struct dse_err err = {0};
    struct store *st = open_fake("", NULL, &err);
    assert_non_null(st);
    /* a query is retried twice */
    fake_fail_left = 2;
    fake_calls = 0;
    assert_int_equal(store_call(st, STORE_OP_artifacts_get, NULL, NULL, &err), 0);
    assert_int_equal(fake_calls, 3);
    fake_fail_left = 5;
    fake_calls = 0;
    assert_int_equal(store_call(st, STORE_OP_artifacts_get, NULL, NULL, &err), -1);
    assert_int_equal(fake_calls, 3);
    assert_string_equal(err.code, "remote_error");
    /* a mutation is sent once, and through /api/mutation */
    fake_calls = 0;
    assert_int_equal(store_call(st, STORE_OP_artifacts_put, NULL, NULL, &err), -1);
    assert_int_equal(fake_calls, 1);
    assert_string_equal(fake_last_kind, "mutation");
    store_close(st);
}

/* A batch bigger than a server's body cap goes as several requests. */
static void test_batch_split(void **state)
{
    (void)state;
    reset();
    struct dse_err err = {0};
    struct store *st = open_fake("", NULL, &err);
    assert_non_null(st);
    cJSON *items = json_arr();
    char pad[400];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = 0;
    for (int i = 0; i < 3000; i++) {
        cJSON *it = json_obj(), *rc = json_obj();
        json_set_str(it, "threadId", "t");
        json_set_str(it, "runId", "r");
        json_set_num(rc, "n", i);
        json_set_str(rc, "pad", pad);
        json_set(it, "receipt", rc);
        cJSON_AddItemToArray(items, it);
    }
    cJSON *args = json_obj(), *out = NULL;
    json_set(args, "items", items);
    fake_calls = 0;
    fake_max_body = 0;
    assert_int_equal(store_call(st, STORE_OP_x_receipts_batch, args, &out, &err), 0);
    assert_true(fake_calls >= 3);
    assert_true(fake_max_body < (600u << 10));
    assert_int_equal((int)json_num(out, "recorded", -1), 3000);
    assert_int_equal((int)json_num(out, "counted", -1), 3000);
    cJSON_Delete(out);
    cJSON_Delete(args);
    /* an empty batch is still one request */
    args = json_parse_str("{\"items\":[]}", &err);
    fake_calls = 0;
    assert_int_equal(store_call(st, STORE_OP_x_receipts_batch, args, &out, &err), 0);
    assert_int_equal(fake_calls, 1);
    assert_int_equal((int)json_num(out, "recorded", -1), 0);
    cJSON_Delete(out);
    cJSON_Delete(args);
    store_close(st);
}

static void test_reply_cap(void **state)
{
    (void)state;
    reset();
    struct dse_err err = {0};
    struct store *st = open_fake("", NULL, &err);
    assert_non_null(st);
    assert_int_equal(store_call(st, STORE_OP_runs_list, NULL, NULL, &err), -1);
    assert_string_equal(err.code, "remote_too_large");
    store_close(st);
}

static cJSON *page(struct store *st, enum store_op op, const char *json)
{
    struct dse_err err = {0};
    cJSON *args = json_parse_str(json, &err), *out = NULL;
    assert_non_null(args);
    int rc = store_call(st, op, args, &out, &err);
    if (rc < 0)
        fail_msg("%s: %s", err.code, err.msg);
    cJSON_Delete(args);
    return out;
}

/* "r5,r4" from a page's items */
static void ids_of(const cJSON *pg, const char *key, char *out, size_t cap)
{
    out[0] = 0;
    for (const cJSON *it = json_get(pg, "items")->child; it; it = it->next) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s", n ? "," : "", json_str(it, key, "?"));
    }
}

static void test_receipts_page_fallback(void **state)
{
    (void)state;
    reset();
    fake_plain = 1;
    struct dse_err err = {0};
    struct store *st = open_fake("", NULL, &err);
    assert_non_null(st);
    char ids[128], args[256];
    cJSON *p = page(st, STORE_OP_x_receipts_page, "{\"signatureId\":\"S\",\"limit\":2}");
    ids_of(p, "receiptId", ids, sizeof ids);
    assert_string_equal(ids, "r5,r4");
    snprintf(args, sizeof args, "{\"signatureId\":\"S\",\"limit\":2,\"cursor\":\"%s\"}",
             json_str(p, "nextCursor", ""));
    cJSON_Delete(p);
    p = page(st, STORE_OP_x_receipts_page, args);
    ids_of(p, "receiptId", ids, sizeof ids);
    assert_string_equal(ids, "r3,r2");
    snprintf(args, sizeof args, "{\"signatureId\":\"S\",\"limit\":2,\"cursor\":\"%s\"}",
             json_str(p, "nextCursor", ""));
    cJSON_Delete(p);
    p = page(st, STORE_OP_x_receipts_page, args);
    ids_of(p, "receiptId", ids, sizeof ids);
    assert_string_equal(ids, "r1");
    assert_true(cJSON_IsNull(json_get(p, "nextCursor")));
    cJSON_Delete(p);
    p = page(st, STORE_OP_x_receipts_page,
             "{\"signatureId\":\"S\",\"resultTag\":\"Ok\",\"dir\":\"newer\"}");
    ids_of(p, "receiptId", ids, sizeof ids);
    assert_string_equal(ids, "r1,r3,r5");
    cJSON_Delete(p);
    /* an older dse serve answers the list with the bare array: still paged */
    fake_bare = 1;
    p = page(st, STORE_OP_x_receipts_page, "{\"signatureId\":\"S\",\"limit\":2}");
    ids_of(p, "receiptId", ids, sizeof ids);
    assert_string_equal(ids, "r5,r4");
    cJSON_Delete(p);
    store_close(st);
}

/* The reference's {ok, <key>} replies pass through unchanged; the bare
 * replies of an older dse serve are wrapped into the same shape. */
static void test_reply_shapes(void **state)
{
    (void)state;
    reset();
    fake_plain = 1;
    struct dse_err err = {0};
    struct store *st = open_fake("", NULL, &err);
    assert_non_null(st);
    static const struct {
        enum store_op op;
        const char *key;
    } ops[] = {{STORE_OP_receipts_get_admin, "receipt"},
               {STORE_OP_receipts_list_admin, "receipts"},
               {STORE_OP_var_get, "value"},
               {STORE_OP_var_list, "vars"}};
    for (int bare = 0; bare <= 1; bare++) {
        fake_bare = bare;
        for (size_t i = 0; i < ARRAY_LEN(ops); i++) {
            cJSON *out = NULL;
            cJSON *a = json_obj();
            json_set_str(a, "signatureId", "S");
            assert_int_equal(store_call(st, ops[i].op, a, &out, &err), 0);
            cJSON_Delete(a);
            if (!cJSON_IsTrue(json_get(out, "ok")))
                fail_msg("%d %zu: %s", bare, i, cJSON_PrintUnformatted(out));
            assert_non_null(json_get(out, ops[i].key));
            assert_int_equal(cJSON_GetArraySize(out), 2);
            cJSON_Delete(out);
        }
    }
    store_close(st);
}

static void test_examples_page_fallback(void **state)
{
    (void)state;
    reset();
    fake_plain = 1;
    struct dse_err err = {0};
    struct store *st = open_fake("", NULL, &err);
    assert_non_null(st);
    char ids[128];
    cJSON *p = page(st, STORE_OP_x_examples_page, "{\"signatureId\":\"S\",\"limit\":2}");
    ids_of(p, "exampleId", ids, sizeof ids);
    assert_string_equal(ids, "a,b");
    assert_string_equal(json_str(p, "nextCursor", ""), "b");
    cJSON_Delete(p);
    p = page(st, STORE_OP_x_examples_page, "{\"signatureId\":\"S\",\"limit\":2,\"cursor\":\"b\"}");
    ids_of(p, "exampleId", ids, sizeof ids);
    assert_string_equal(ids, "c,d");
    assert_true(cJSON_IsNull(json_get(p, "nextCursor")));
    cJSON_Delete(p);
    p = page(st, STORE_OP_x_examples_page,
             "{\"signatureId\":\"S\",\"cursor\":\"c\",\"dir\":\"prev\"}");
    ids_of(p, "exampleId", ids, sizeof ids);
    assert_string_equal(ids, "b,a");
    cJSON_Delete(p);
    /* ids ICU ranks equal stay in the server's order: the page after the
     * NFC "é" starts at the row after it, not past every equal one */
    fake_tied = 1;
    p = page(st, STORE_OP_x_examples_page,
             "{\"signatureId\":\"S\",\"limit\":2,\"cursor\":\"\xc3\xa9\"}");
    ids_of(p, "exampleId", ids, sizeof ids);
    assert_string_equal(ids, "e\xcc\x81,f");
    cJSON_Delete(p);
    p = page(st, STORE_OP_x_examples_page,
             "{\"signatureId\":\"S\",\"cursor\":\"e\xcc\x81\",\"dir\":\"prev\"}");
    ids_of(p, "exampleId", ids, sizeof ids);
    assert_string_equal(ids, "\xc3\xa9,a");
    cJSON_Delete(p);
    store_close(st);
}

static void test_auth(void **state)
{
    (void)state;
    reset();
    fake_need_token = 1;
    struct dse_err err = {0};
    assert_null(open_fake("", "wrong-token-000000", &err));
    assert_string_equal(err.code, "unauthorized");
    assert_null(strstr(err.msg, "wrong-token")); /* never echoed */
    struct store *st = open_fake("", GOOD_TOKEN, &err);
    assert_non_null(st);
    assert_null(strstr(st->desc, GOOD_TOKEN));
    store_close(st);
}

static void test_unreachable(void **state)
{
    (void)state;
    /* a port nobody listens on: bind, note it, close */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", ntohs(sa.sin_port));
    struct dse_err err = {0};
    assert_null(store_open_remote(url, NULL, 0, &err));
    assert_string_equal(err.code, "remote_unreachable");
    assert_non_null(strstr(err.msg, "connection refused"));
    assert_non_null(strstr(err.msg, url));
    assert_null(store_open_remote("ftp://x", NULL, 0, &err));
    assert_string_equal(err.code, "invalid_input");
}

/* STORE_INTERACTIVE (the console): a request that moves no byte for 2 s is
 * given up; then calls fail at once, without a request, until the back-off
 * has passed; a reply ends the back-off.  A plain handle waits. */
static void test_interactive_hang(void **state)
{
    (void)state;
    reset();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", fake_port);
    struct dse_err err = {0};
    struct store *st = store_open_remote(url, NULL, STORE_INTERACTIVE, &err);
    assert_non_null(st);
    cJSON *args = cJSON_Parse("{\"signatureId\":\"s\"}");
    assert_int_equal(store_call(st, STORE_OP_canary_get, args, NULL, &err), -1);
    assert_string_equal(err.code, "remote_unreachable");
    assert_non_null(strstr(err.msg, "sent nothing for 2 s"));
    /* within the back-off: refused here, the server never asked */
    int calls = fake_calls;
    assert_int_equal(store_call(st, STORE_OP_runs_get, args, NULL, &err), -1);
    assert_string_equal(err.code, "remote_unreachable");
    assert_non_null(strstr(err.msg, "trying again in"));
    assert_int_equal(fake_calls, calls);
    /* after it, one call goes out again, and a reply ends the back-off */
    sleep(3);
    assert_int_equal(store_call(st, STORE_OP_x_changes, NULL, NULL, &err), 0);
    assert_int_equal(fake_calls, calls + 1);
    assert_int_equal(store_call(st, STORE_OP_x_changes, NULL, NULL, &err), 0);
    assert_int_equal(fake_calls, calls + 2);
    store_close(st);

    /* a handle for the CLI (no flag) waits for the slow reply */
    st = store_open_remote(url, NULL, 0, &err);
    assert_non_null(st);
    cJSON *out = NULL;
    assert_int_equal(store_call(st, STORE_OP_canary_get, args, &out, &err), 0);
    cJSON_Delete(out);
    store_close(st);
    cJSON_Delete(args);
}

static void test_read_only(void **state)
{
    (void)state;
    reset();
    struct dse_err err = {0};
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", fake_port);
    struct store *st = store_open_remote(url, NULL, STORE_READ_ONLY, &err);
    assert_non_null(st);
    fake_calls = 0;
    assert_int_equal(store_call(st, STORE_OP_artifacts_put, NULL, NULL, &err), -1);
    assert_string_equal(err.code, "read_only");
    assert_int_equal(fake_calls, 0);
    store_close(st);
}

/* ---- server tokens ---- */

static const char *tokens_text = "# ops tokens\n"
                                 "\n"
                                 "admin adm-0123456789abcdef ops\n"
                                 "  read  rd-0123456789abcdef   \n";

static void test_tokens_parse_and_check(void **state)
{
    (void)state;
    struct dse_err err = {0};
    struct server_tokens *t = server_tokens_parse(tokens_text, "t.txt", &err);
    assert_non_null(t);
    enum server_role role;
    const char *actor = NULL;
    assert_int_equal(server_tokens_check(t, "Bearer adm-0123456789abcdef", &role, &actor), 0);
    assert_int_equal(role, SERVER_ROLE_ADMIN);
    assert_string_equal(actor, "token:ops");
    assert_int_equal(server_tokens_check(t, "bearer   rd-0123456789abcdef ", &role, &actor), 0);
    assert_int_equal(role, SERVER_ROLE_READ);
    assert_string_equal(actor, "token:read4");
    /* missing, empty, no scheme, prefix, longer, oversized */
    assert_int_equal(server_tokens_check(t, NULL, &role, &actor), -1);
    assert_int_equal(server_tokens_check(t, "", &role, &actor), -1);
    assert_int_equal(server_tokens_check(t, "Bearer", &role, &actor), -1);
    assert_int_equal(server_tokens_check(t, "Bearer ", &role, &actor), -1);
    assert_int_equal(server_tokens_check(t, "adm-0123456789abcdef", &role, &actor), -1);
    assert_int_equal(server_tokens_check(t, "Basic adm-0123456789abcdef", &role, &actor), -1);
    assert_int_equal(server_tokens_check(t, "Bearer adm-0123456789abcde", &role, &actor), -1);
    assert_int_equal(server_tokens_check(t, "Bearer adm-0123456789abcdefX", &role, &actor), -1);
    char *big = xmalloc(10 * 1024 + 8);
    strcpy(big, "Bearer ");
    memset(big + 7, 'a', 10 * 1024);
    big[7 + 10 * 1024] = 0;
    assert_int_equal(server_tokens_check(t, big, &role, &actor), -1);
    free(big);
    server_tokens_free(t);
}

static void test_tokens_bad_lines(void **state)
{
    (void)state;
    struct dse_err err = {0};
    assert_null(server_tokens_parse("admin adm-0123456789abcdef\nwrite x-0123456789abcdef\n",
                                    "f", &err));
    assert_string_equal(err.msg, "f:2: role must be read, ingest or admin");
    assert_null(server_tokens_parse("read short\n", "f", &err));
    assert_non_null(strstr(err.msg, "f:1: token must be 16"));
    assert_null(strstr(err.msg, "short"));
    assert_null(server_tokens_parse("read rd-0123456789abcdef\nadmin rd-0123456789abcdef\n", "f",
                                    &err));
    assert_string_equal(err.msg, "f:2: the same token appears twice");
    assert_null(server_tokens_parse("read\n", "f", &err));
    assert_non_null(strstr(err.msg, "f:1:"));
    assert_null(server_tokens_parse("# nothing\n\n", "f", &err));
    assert_non_null(strstr(err.msg, "no tokens"));
}

static void test_status_mapping(void **state)
{
    (void)state;
    assert_int_equal(server_status_for("invalid_input"), 400);
    assert_int_equal(server_status_for("invalid_json"), 400);
    assert_int_equal(server_status_for("unauthorized"), 401);
    assert_int_equal(server_status_for("forbidden"), 403);
    assert_int_equal(server_status_for("artifact_not_found"), 404);
    assert_int_equal(server_status_for("unknown_function"), 404);
    assert_int_equal(server_status_for("too_large"), 413);
    assert_int_equal(server_status_for("control_missing"), 409);
    assert_int_equal(server_status_for("sqlite_error"), 500);
    /* function calls: Convex's 560 unless the store itself failed */
    assert_int_equal(server_function_status("invalid_input"), 560);
    assert_int_equal(server_function_status("forbidden"), 560);
    assert_int_equal(server_function_status("unknown_function"), 560);
    assert_int_equal(server_function_status("artifact_not_found"), 560);
    assert_int_equal(server_function_status("read_only"), 560);
    assert_int_equal(server_function_status("control_missing"), 560);
    assert_int_equal(server_function_status("unauthorized"), 401);
    assert_int_equal(server_function_status("sqlite_error"), 500);
}

/* role x function (server.h "Roles") */
static void test_roles(void **state)
{
    (void)state;
    struct dse_err err = {0};
    struct server_tokens *t = server_tokens_parse(
        "ingest ing-0123456789abcdef runtime\nread rd-0123456789abcdef\n", "f", &err);
    assert_non_null(t);
    enum server_role role;
    const char *actor = NULL;
    assert_int_equal(server_tokens_check(t, "Bearer ing-0123456789abcdef", &role, &actor), 0);
    assert_int_equal(role, SERVER_ROLE_INGEST);
    assert_string_equal(actor, "token:runtime");
    server_tokens_free(t);

    static const struct {
        const char *path;
        bool mutation;
        int admin, read, ingest, pub, pub_on;
    } cases[] = {
        {"dse/canary:getCanary", false, 0, 0, -1, -1, 0},
        {"dse/active:getActive", false, 0, 0, -1, -1, 0},
        {"dse/artifacts:listArtifacts", false, 0, 0, -1, -1, 0},
        {"dse/active:listActiveHistory", false, 0, 0, -1, -1, -1},
        {"dse/examples:getExample", false, 0, 0, -1, -1, -1},
        {"dse/artifacts:putArtifact", true, 0, -1, -1, -1, -1},
        {"dse/receipts:recordPredictReceipt", true, 0, -1, 0, -1, -1},
        {"dsex/receipts:recordBatch", true, 0, -1, 0, -1, -1},
        {"dse/blobs:putText", true, 0, -1, 0, -1, -1},
        {"dse/varSpace:putJson", true, 0, -1, -1, -1, -1},
        {"dse/receipts:getPredictReceiptByReceiptId", false, 0, 0, -1, -1, -1},
        {"dse/receipts:getPredictReceiptByReceiptIdAdmin", false, 0, -1, -1, -1, -1},
        {"dse/receipts:listPredictReceiptsBySignatureIdAdmin", false, 0, -1, -1, -1, -1},
        {"dse/blobs:getTextAdmin", false, 0, -1, -1, -1, -1},
        {"dse/opsRuns:listRuns", false, 0, -1, -1, -1, -1},
        {"dse/opsRuns:startRun", true, 0, -1, -1, -1, -1},
        {"dsex/receipts:page", false, 0, 0, -1, -1, -1},
        {"dsex/meta:info", false, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = cases[i].path;
        bool m = cases[i].mutation;
        assert_int_equal(server_role_may(SERVER_ROLE_ADMIN, p, m, false, &err), cases[i].admin);
        assert_int_equal(server_role_may(SERVER_ROLE_READ, p, m, false, &err), cases[i].read);
        assert_int_equal(server_role_may(SERVER_ROLE_INGEST, p, m, false, &err), cases[i].ingest);
        if (cases[i].ingest < 0)
            assert_string_equal(err.code, "forbidden");
        assert_int_equal(server_role_may(SERVER_ROLE_PUBLIC, p, m, false, &err), cases[i].pub);
        if (cases[i].pub < 0)
            assert_string_equal(err.code, "unauthorized");
        assert_int_equal(server_role_may(SERVER_ROLE_PUBLIC, p, m, true, &err), cases[i].pub_on);
        /* with public queries, every token may call the public ones too */
        if (cases[i].pub_on == 0)
            assert_int_equal(server_role_may(SERVER_ROLE_INGEST, p, m, true, &err), 0);
    }
}

int main(void)
{
    const struct CMUnitTest remote[] = {
        cmocka_unit_test(test_plain_deployment),    cmocka_unit_test(test_extensions_listed),
        cmocka_unit_test(test_error_mapping),       cmocka_unit_test(test_retries),
        cmocka_unit_test(test_convex_function_errors),
        cmocka_unit_test(test_interactive_hang),
        cmocka_unit_test(test_reply_cap),           cmocka_unit_test(test_batch_split),
        cmocka_unit_test(test_receipts_page_fallback), cmocka_unit_test(test_reply_shapes),
        cmocka_unit_test(test_examples_page_fallback), cmocka_unit_test(test_auth),
        cmocka_unit_test(test_unreachable),         cmocka_unit_test(test_read_only),
    };
    const struct CMUnitTest tokens[] = {
        cmocka_unit_test(test_tokens_parse_and_check),
        cmocka_unit_test(test_tokens_bad_lines),
        cmocka_unit_test(test_status_mapping),
        cmocka_unit_test(test_roles),
    };
    int fails = cmocka_run_group_tests_name("remote back end", remote, fake_start, fake_stop);
    fails += cmocka_run_group_tests_name("server tokens", tokens, NULL, NULL);
    return fails ? 1 : 0;
}
