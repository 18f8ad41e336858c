/* LM client: the openai provider against the loopback fake server (every
 * failure mode, retries, concurrency, the key's secrecy) and the response
 * cache (against an in-memory store with the dsex/lmCache operations, and
 * the SQLite store when it is built).
 *
 * Nothing here sleeps to wait for a result: tests wait on the client, and
 * the only time bounds are the small timeouts configured on purpose. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "lm.h"
#include "store.h"
#include "support_fakelm.h"
#include "util.h"

#define KEY_ENV "DSE_TEST_LM_KEY"
#define SECRET "sk-test-S3CRET-0123456789abcdef"

struct fx {
    struct fakelm *srv;
    struct lm_config cfg;
};

static int setup(void **state)
{
    setenv(KEY_ENV, SECRET, 1);
    /* libcurl honours *_proxy variables; the fake is always direct. */
    setenv("no_proxy", "127.0.0.1", 1);
    setenv("NO_PROXY", "127.0.0.1", 1);
    struct fx *fx = calloc(1, sizeof *fx);
    fx->srv = fakelm_start();
    if (!fx->srv) {
        free(fx);
        return -1;
    }
    fx->cfg = (struct lm_config){
        .provider = "openai",
        .base_url = fakelm_url(fx->srv),
        .model = "test-model",
        .api_key_env = KEY_ENV,
        .timeout_ms = 10000,
        .connect_timeout_ms = 5000,
        .max_retries = 2,
        .backoff_base_ms = 1,
        .backoff_max_ms = 20,
    };
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    fakelm_stop(fx->srv);
    free(fx);
    return 0;
}

static const struct lm_message one_msg[] = {
    {.role = "system", .content = "You are terse."},
    {.role = "user", .content = "first line\nsecond line"},
};

static struct lm_request simple_req(void)
{
    return (struct lm_request){.messages = one_msg, .n_messages = 2};
}

static struct lm_client *open_client(struct fx *fx)
{
    struct dse_err err = {0};
    struct lm_client *c = lm_openai_open(&fx->cfg, &err);
    if (!c)
        fail_msg("open failed: %s: %s", err.code, err.msg);
    return c;
}

/* Run one request expected to fail; returns the error, asserting that the
 * key never leaks into it. */
static struct dse_err call_fail(struct lm_client *c, struct lm_response *resp)
{
    struct dse_err err = {0};
    struct lm_request req = simple_req();
    assert_int_equal(lm_complete(c, &req, resp, &err), -1);
    assert_string_equal(err.code, "LmClientError");
    assert_null(strstr(err.msg, SECRET));
    assert_null(resp->text);
    return err;
}

static bool starts_with(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* ---- happy path ---- */

static void test_roundtrip(void **state)
{
    struct fx *fx = *state;
    struct lm_client *c = open_client(fx);
    assert_string_equal(lm_describe(c), "openai:test-model");
    fakelm_push_ok(fx->srv, "hello \"world\"");
    struct lm_request req = simple_req();
    req.has_temperature = true;
    req.temperature = 0.25;
    req.max_tokens = 64;
    req.signature_id = "SelectTool.v1";
    struct lm_response resp;
    struct dse_err err = {0};
    assert_int_equal(lm_complete(c, &req, &resp, &err), 0);
    assert_string_equal(resp.text, "hello \"world\"");
    assert_int_equal(resp.attempts, 1);
    assert_false(resp.cache_hit);
    assert_string_equal(resp.model, "test-model");
    assert_true(resp.prompt_tokens > 0);
    assert_int_equal(resp.total_tokens, resp.prompt_tokens + resp.completion_tokens);
    lm_response_free(&resp);

    /* What went over the wire. */
    assert_int_equal(fakelm_requests(fx->srv), 1);
    char *path = fakelm_request_path(fx->srv, 0);
    assert_string_equal(path, "/v1/chat/completions");
    free(path);
    char *auth = fakelm_request_auth(fx->srv, 0);
    assert_string_equal(auth, "Bearer " SECRET);
    free(auth);
    char *body = fakelm_request_body(fx->srv, 0);
    cJSON *j = json_parse_str(body, NULL);
    assert_non_null(j);
    assert_string_equal(json_str(j, "model", ""), "test-model");
    assert_true(json_num(j, "temperature", -1) == 0.25);
    assert_int_equal(json_int(j, "max_tokens", -1), 64);
    assert_null(json_get(j, "top_p"));
    assert_null(json_get(j, "signature_id")); /* hints stay local */
    const cJSON *msgs = json_get(j, "messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 2);
    assert_string_equal(json_str(cJSON_GetArrayItem(msgs, 1), "content", ""),
                        "first line\nsecond line");
    cJSON_Delete(j);
    free(body);

    uint64_t calls, hits;
    lm_stats(c, &calls, &hits);
    assert_int_equal(calls, 1);
    assert_int_equal(hits, 0);
    lm_close(c);
}

static void test_echo_default_and_v1_base(void **state)
{
    struct fx *fx = *state;
    char base[128];
    snprintf(base, sizeof base, "%s/v1/", fakelm_url(fx->srv));
    fx->cfg.base_url = base;
    struct lm_client *c = open_client(fx);
    struct lm_request req = simple_req();
    req.model = "other-model";
    struct lm_response resp;
    struct dse_err err = {0};
    assert_int_equal(lm_complete(c, &req, &resp, &err), 0);
    assert_string_equal(resp.text, "first line"); /* the fake's echo */
    assert_string_equal(resp.model, "other-model");
    lm_response_free(&resp);
    char *path = fakelm_request_path(fx->srv, 0);
    assert_string_equal(path, "/v1/chat/completions"); /* /v1 not doubled */
    free(path);
    lm_close(c);
}

/* ---- retries ---- */

static void test_429_then_ok_honours_retry_after(void **state)
{
    struct fx *fx = *state;
    /* Backoff alone would wait at most 1 ms; Retry-After: 1 asks for 1 s and
     * is honoured up to the 250 ms cap. */
    fx->cfg.backoff_max_ms = 250;
    struct lm_client *c = open_client(fx);
    fakelm_push_kind(fx->srv, FAKELM_429, 1);
    fakelm_push_ok(fx->srv, "after the wait");
    struct lm_request req = simple_req();
    struct lm_response resp;
    struct dse_err err = {0};
    assert_int_equal(lm_complete(c, &req, &resp, &err), 0);
    assert_string_equal(resp.text, "after the wait");
    assert_int_equal(resp.attempts, 2);
    assert_true(resp.latency_ms >= 250);
    assert_int_equal(fakelm_requests(fx->srv), 2);
    lm_response_free(&resp);
    lm_close(c);
}

static void test_500_exhausts_retries(void **state)
{
    struct fx *fx = *state;
    struct lm_client *c = open_client(fx); /* max_retries 2 */
    fakelm_push_kind(fx->srv, FAKELM_500, 3);
    fakelm_push_ok(fx->srv, "never reached");
    struct lm_response resp;
    struct dse_err err = call_fail(c, &resp);
    assert_string_equal(err.msg, "HTTP 500 after 3 attempts");
    assert_int_equal(resp.attempts, 3);
    assert_int_equal(fakelm_requests(fx->srv), 3);
    lm_close(c);
}

static void test_429_exhausts(void **state)
{
    struct fx *fx = *state;
    fx->cfg.max_retries = 4;
    struct lm_client *c = open_client(fx);
    fakelm_push_kind(fx->srv, FAKELM_429, 5);
    struct lm_response resp;
    struct dse_err err = call_fail(c, &resp);
    assert_string_equal(err.msg, "HTTP 429 after 5 attempts");
    assert_int_equal(fakelm_requests(fx->srv), 5);
    lm_close(c);
}

static void test_400_does_not_retry(void **state)
{
    struct fx *fx = *state;
    struct lm_client *c = open_client(fx);
    fakelm_push(fx->srv, (struct fakelm_step){
                             .kind = FAKELM_STATUS,
                             .status = 400,
                             .content = "{\"error\":{\"message\":\"unknown model \\u001b[31mx\"}}",
                         });
    struct lm_response resp;
    struct dse_err err = call_fail(c, &resp);
    assert_string_equal(err.msg, "HTTP 400: unknown model ^[[31mx"); /* sanitised */
    assert_int_equal(resp.attempts, 1);
    assert_int_equal(fakelm_requests(fx->srv), 1);

    /* A long non-JSON body is cut to an excerpt. */
    char big[2000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = 0;
    fakelm_push(fx->srv, (struct fakelm_step){.kind = FAKELM_STATUS, .status = 404,
                                              .content = big});
    err = call_fail(c, &resp);
    assert_true(starts_with(err.msg, "HTTP 404: zzzz"));
    assert_true(strlen(err.msg) < 260);
    assert_int_equal(fakelm_requests(fx->srv), 2);
    lm_close(c);
}

static void test_hang_times_out(void **state)
{
    struct fx *fx = *state;
    fx->cfg.timeout_ms = 300;
    fx->cfg.max_retries = -1; /* none */
    struct lm_client *c = open_client(fx);
    fakelm_push_kind(fx->srv, FAKELM_HANG, 1);
    struct lm_response resp;
    struct dse_err err = call_fail(c, &resp);
    assert_string_equal(err.msg, "timed out after 300 ms");
    assert_int_equal(resp.attempts, 1);
    assert_true(resp.latency_ms >= 250); /* curl may fire a few ms early */
    lm_close(c);

    /* Timeouts are retried. */
    fx->cfg.max_retries = 1;
    c = open_client(fx);
    fakelm_push_kind(fx->srv, FAKELM_HANG, 1);
    fakelm_push_ok(fx->srv, "second try");
    struct lm_request req = simple_req();
    assert_int_equal(lm_complete(c, &req, &resp, &err), 0);
    assert_string_equal(resp.text, "second try");
    assert_int_equal(resp.attempts, 2);
    lm_response_free(&resp);
    lm_close(c);
}

static void test_truncated_body(void **state)
{
    struct fx *fx = *state;
    fx->cfg.max_retries = -1;
    struct lm_client *c = open_client(fx);
    fakelm_push_kind(fx->srv, FAKELM_TRUNCATED, 1);
    struct lm_response resp;
    struct dse_err err = call_fail(c, &resp);
    assert_true(starts_with(err.msg, "reply truncated: "));
    lm_close(c);

    fx->cfg.max_retries = 1; /* a cut connection is worth another try */
    c = open_client(fx);
    fakelm_push_kind(fx->srv, FAKELM_TRUNCATED, 1);
    fakelm_push_ok(fx->srv, "whole");
    struct lm_request req = simple_req();
    assert_int_equal(lm_complete(c, &req, &resp, &err), 0);
    assert_string_equal(resp.text, "whole");
    assert_int_equal(resp.attempts, 2);
    lm_response_free(&resp);
    lm_close(c);
}

static void test_not_json_and_no_content(void **state)
{
    struct fx *fx = *state;
    struct lm_client *c = open_client(fx);
    fakelm_push_kind(fx->srv, FAKELM_NOT_JSON, 1);
    struct lm_response resp;
    struct dse_err err = call_fail(c, &resp);
    assert_true(starts_with(err.msg, "reply is not JSON: line 1 col 1"));
    assert_int_equal(fakelm_requests(fx->srv), 1); /* not retried */

    fakelm_push_kind(fx->srv, FAKELM_NO_CONTENT, 1);
    err = call_fail(c, &resp);
    assert_string_equal(err.msg, "reply has no choices[0].message.content");
    assert_int_equal(fakelm_requests(fx->srv), 2);
    lm_close(c);
}

static void test_oversized_reply_aborts_at_cap(void **state)
{
    struct fx *fx = *state;
    struct lm_client *c = open_client(fx); /* default cap: 4 MiB */
    fakelm_push_kind(fx->srv, FAKELM_HUGE, 1);
    struct lm_response resp;
    struct dse_err err = call_fail(c, &resp);
    assert_string_equal(err.msg, "response larger than 4194304 bytes");
    assert_int_equal(fakelm_requests(fx->srv), 1);
    /* The client hung up near the cap: the 64 MiB stream was cut short
     * (socket buffers account for what was sent past the cap). */
    assert_true(fakelm_huge_bytes_sent(fx->srv) < ((uint64_t)32 << 20));
    lm_close(c);

    fx->cfg.max_response_bytes = 1000;
    c = open_client(fx);
    fakelm_push_kind(fx->srv, FAKELM_HUGE, 1);
    err = call_fail(c, &resp);
    assert_string_equal(err.msg, "response larger than 1000 bytes");
    /* The same client still works afterwards. */
    fakelm_push_ok(fx->srv, "small");
    struct lm_request req = simple_req();
    assert_int_equal(lm_complete(c, &req, &resp, &err), 0);
    assert_string_equal(resp.text, "small");
    lm_response_free(&resp);
    lm_close(c);
}

static void test_connection_refused(void **state)
{
    struct fx *fx = *state;
    /* A port that was just free: start and stop a second fake. */
    struct fakelm *gone = fakelm_start();
    assert_non_null(gone);
    char base[64];
    snprintf(base, sizeof base, "%s", fakelm_url(gone));
    fakelm_stop(gone);
    fx->cfg.base_url = base;
    fx->cfg.max_retries = 1;
    struct lm_client *c = open_client(fx);
    struct lm_response resp;
    struct dse_err err = call_fail(c, &resp);
    assert_true(starts_with(err.msg, "connection failed: "));
    assert_non_null(strstr(err.msg, "(2 attempts)"));
    assert_int_equal(resp.attempts, 2);
    lm_close(c);
}

/* ---- the key ---- */

static void test_key_is_redacted_from_error_bodies(void **state)
{
    struct fx *fx = *state;
    struct lm_client *c = open_client(fx);
    fakelm_push(fx->srv, (struct fakelm_step){.kind = FAKELM_ECHO_AUTH, .status = 401});
    struct lm_response resp;
    struct dse_err err = call_fail(c, &resp); /* asserts SECRET is absent */
    assert_true(starts_with(err.msg, "HTTP 401: invalid key: Bearer [redacted]"));
    lm_close(c);
}

static void test_key_sources(void **state)
{
    struct fx *fx = *state;
    struct dse_err err = {0};

    /* From a file, trailing newline trimmed. */
    char path[] = "/tmp/dse-test-lm-key-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *line = "  sk-from-file-42\n";
    assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
    close(fd);
    fx->cfg.api_key_file = path;
    struct lm_client *c = open_client(fx);
    struct lm_request req = simple_req();
    struct lm_response resp;
    assert_int_equal(lm_complete(c, &req, &resp, &err), 0);
    lm_response_free(&resp);
    char *auth = fakelm_request_auth(fx->srv, 0);
    assert_string_equal(auth, "Bearer sk-from-file-42");
    free(auth);
    lm_close(c);
    unlink(path);

    /* A missing file is an error that names the file, not the key. */
    fx->cfg.api_key_file = path;
    assert_null(lm_openai_open(&fx->cfg, &err));
    assert_string_equal(err.code, "LmClientError");
    assert_non_null(strstr(err.msg, path));

    /* A named variable that is unset is an error. */
    fx->cfg.api_key_file = NULL;
    fx->cfg.api_key_env = "DSE_TEST_LM_KEY_UNSET";
    unsetenv("DSE_TEST_LM_KEY_UNSET");
    assert_null(lm_openai_open(&fx->cfg, &err));
    assert_non_null(strstr(err.msg, "DSE_TEST_LM_KEY_UNSET"));

    /* A key that could split the header is refused without being shown. */
    setenv("DSE_TEST_LM_KEY_BAD", "sk-bad\r\nX-Evil: 1", 1);
    fx->cfg.api_key_env = "DSE_TEST_LM_KEY_BAD";
    assert_null(lm_openai_open(&fx->cfg, &err));
    assert_null(strstr(err.msg, "sk-bad"));

    /* No key configured at all (local servers): no Authorization header. */
    fx->cfg.api_key_env = NULL;
    const char *saved = getenv("OPENAI_API_KEY");
    char *saved_copy = saved ? strdup(saved) : NULL;
    unsetenv("OPENAI_API_KEY");
    c = open_client(fx);
    assert_int_equal(lm_complete(c, &req, &resp, &err), 0);
    lm_response_free(&resp);
    assert_null(fakelm_request_auth(fx->srv, 1));
    lm_close(c);
    if (saved_copy) {
        setenv("OPENAI_API_KEY", saved_copy, 1);
        free(saved_copy);
    }
}

/* lm_open dispatches: no provider means local-knn; counters live in
 * lm_complete, so every provider is counted the same way. */
static void check_knn_dispatch(void)
{
    struct dse_err err = {0};
    struct lm_config knn = {0};
    struct lm_client *k = lm_open(&knn, &err);
    assert_non_null(k);
    assert_string_equal(lm_describe(k), "local-knn");
    struct lm_response kr;
    struct lm_request kreq = simple_req();
    assert_int_equal(lm_complete(k, &kreq, &kr, &err), 0);
    assert_non_null(kr.text);
    assert_int_equal(kr.attempts, 0);
    lm_response_free(&kr);
    uint64_t kcalls;
    lm_stats(k, &kcalls, NULL);
    assert_int_equal(kcalls, 1);
    lm_close(k);
}

static void test_config_errors(void **state)
{
    struct fx *fx = *state;
    struct dse_err err = {0};
    struct lm_config bad = fx->cfg;
    bad.base_url = "ftp://example.com";
    assert_null(lm_openai_open(&bad, &err));
    assert_string_equal(err.code, "invalid_input");
    bad = fx->cfg;
    bad.concurrency = 1000;
    assert_null(lm_openai_open(&bad, &err));
    assert_string_equal(err.code, "invalid_input");
    bad = fx->cfg;
    bad.provider = "gpt-in-a-box";
    assert_null(lm_open(&bad, &err));
    assert_string_equal(err.code, "invalid_input");

    check_knn_dispatch();

    /* lm_open dispatches to the openai provider. */
    struct lm_client *c = lm_open(&fx->cfg, &err);
    assert_non_null(c);
    assert_string_equal(lm_describe(c), "openai:test-model");
    struct lm_response resp;
    struct lm_request req = {.messages = one_msg, .n_messages = 0};
    assert_int_equal(lm_complete(c, &req, &resp, &err), -1);
    assert_string_equal(err.code, "invalid_input");
    lm_close(c);
}

/* ---- concurrency ---- */

struct worker {
    struct lm_client *c;
    int rc;
    char text[64];
    char msg[64];
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct lm_message m[] = {{.role = "user", .content = w->msg}};
    struct lm_request req = {.messages = m, .n_messages = 1};
    struct lm_response resp;
    struct dse_err err = {0};
    w->rc = lm_complete(w->c, &req, &resp, &err);
    if (w->rc == 0) {
        snprintf(w->text, sizeof w->text, "%s", resp.text);
        lm_response_free(&resp);
    }
    return NULL;
}

static void run_workers(struct lm_client *c, int n)
{
    struct worker *w = calloc((size_t)n, sizeof *w);
    pthread_t *t = calloc((size_t)n, sizeof *t);
    for (int i = 0; i < n; i++) {
        w[i].c = c;
        snprintf(w[i].msg, sizeof w[i].msg, "caller %d", i);
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].rc, 0);
        assert_string_equal(w[i].text, w[i].msg); /* each got its own answer */
    }
    free(w);
    free(t);
}

static void test_concurrency_n_in_flight(void **state)
{
    struct fx *fx = *state;
    enum { N = 6 };
    fx->cfg.concurrency = N;
    struct lm_client *c = open_client(fx);
    /* The fake holds each request until N are inside it at once, so the
     * maximum it sees is exactly what the client allows: 2N callers, N at a
     * time. */
    fakelm_set_barrier(fx->srv, N);
    run_workers(c, 2 * N);
    assert_int_equal(fakelm_requests(fx->srv), 2 * N);
    assert_int_equal(fakelm_max_in_flight(fx->srv), N);
    uint64_t calls;
    lm_stats(c, &calls, NULL);
    assert_int_equal(calls, 2 * N);
    lm_close(c);
}

static void test_concurrency_one_serialises(void **state)
{
    struct fx *fx = *state;
    fx->cfg.concurrency = 1;
    struct lm_client *c = open_client(fx);
    fakelm_set_default(fx->srv, (struct fakelm_step){.kind = FAKELM_OK, .delay_ms = 20});
    run_workers(c, 5);
    assert_int_equal(fakelm_requests(fx->srv), 5);
    assert_int_equal(fakelm_max_in_flight(fx->srv), 1);
    /* One transfer at a time over a kept-alive connection. */
    assert_int_equal(fakelm_connections(fx->srv), 1);
    lm_close(c);
}

struct closer_arg {
    struct lm_client *c;
    int rc;
    struct dse_err err;
};

static void *hang_caller(void *arg)
{
    struct closer_arg *a = arg;
    struct lm_request req = simple_req();
    struct lm_response resp;
    a->rc = lm_complete(a->c, &req, &resp, &a->err);
    if (a->rc == 0)
        lm_response_free(&resp);
    return NULL;
}

static void test_close_fails_in_flight(void **state)
{
    struct fx *fx = *state;
    struct lm_client *c = open_client(fx); /* 10 s timeout: close must not wait for it */
    fakelm_push_kind(fx->srv, FAKELM_HANG, 1);
    struct closer_arg a = {.c = c};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hang_caller, &a), 0);
    /* The request is in flight once the fake has recorded it. */
    for (int i = 0; i < 5000 && fakelm_requests(fx->srv) < 1; i++)
        usleep(1000);
    assert_int_equal(fakelm_requests(fx->srv), 1);
    int64_t t0 = util_mono_ms();
    lm_close(c);
    pthread_join(t, NULL);
    assert_int_equal(a.rc, -1);
    assert_string_equal(a.err.code, "LmClientError");
    assert_non_null(strstr(a.err.msg, "closed"));
    assert_true(util_mono_ms() - t0 < 5000);
}

/* ---- canonical request ---- */

static void test_canonical_request(void **state)
{
    (void)state;
    struct lm_message m[] = {{.role = "user", .content = "hi"}};
    struct lm_request req = {.messages = m, .n_messages = 1, .has_temperature = true,
                             .temperature = 0.5, .has_top_p = true, .top_p = 1, .max_tokens = 10,
                             .signature_id = "X.v1", .role = "main"};
    char *s = lm_request_canonical(&req, "m1");
    assert_string_equal(s, "{\"maxTokens\":10,\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],"
                           "\"model\":\"m1\",\"temperature\":0.5,\"topP\":1}");
    free(s);
    struct lm_request bare = {.messages = m, .n_messages = 1, .model = "m2"};
    s = lm_request_canonical(&bare, "m1");
    assert_string_equal(s, "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"model\":\"m2\"}");
    free(s);
}

/* ---- cache, against a minimal in-memory store ---- */

struct memstore {
    cJSON *entries; /* key -> entry */
    int gets, puts;
    bool fail_get;
};

static int mem_get(struct store *st, const cJSON *args, cJSON **out, struct dse_err *err)
{
    struct memstore *m = st->impl;
    m->gets++;
    if (m->fail_get)
        return dse_fail(err, "internal", "disk on fire");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(m->entries, json_str(args, "key", ""));
    cJSON *o = json_obj();
    json_set_bool(o, "ok", true);
    if (e)
        json_set_copy(o, "entry", e);
    else
        json_set_null(o, "entry");
    if (out)
        *out = o;
    else
        cJSON_Delete(o);
    return 0;
}

static int mem_put(struct store *st, const cJSON *args, cJSON **out, struct dse_err *err)
{
    (void)err;
    struct memstore *m = st->impl;
    m->puts++;
    const char *key = json_str(args, "key", "");
    bool existed = cJSON_GetObjectItemCaseSensitive(m->entries, key) != NULL;
    if (!existed) {
        cJSON *e = json_obj();
        json_set_copy(e, "model", json_get(args, "model"));
        json_set_copy(e, "response", json_get(args, "response"));
        json_set_num(e, "createdAtMs", 1);
        json_set_num(e, "hits", 0);
        json_set(m->entries, key, e);
    }
    if (out) {
        *out = json_obj();
        json_set_bool(*out, "ok", true);
        json_set_bool(*out, "existed", existed);
    }
    return 0;
}

static void mem_close(struct store *st)
{
    struct memstore *m = st->impl;
    cJSON_Delete(m->entries);
    free(m);
}

static const struct store_ops mem_ops = {
    .backend = "memory",
    .fn = {[STORE_OP_x_lm_get] = mem_get, [STORE_OP_x_lm_put] = mem_put},
    .close = mem_close,
};
static const struct store_ops bare_ops = {.backend = "bare", .close = mem_close};

static struct store *mem_open(const struct store_ops *ops)
{
    struct memstore *m = calloc(1, sizeof *m);
    m->entries = json_obj();
    struct store *st = calloc(1, sizeof *st);
    store_base_init(st, ops, m, "memory:", 0);
    return st;
}

static int complete_ok(struct lm_client *c, const struct lm_request *req, struct lm_response *r)
{
    struct dse_err err = {0};
    int rc = lm_complete(c, req, r, &err);
    if (rc < 0)
        print_error("lm_complete: %s\n", err.msg);
    return rc;
}

static void cache_hit_scenario(struct fx *fx, struct store *st)
{
    struct lm_client *c = lm_cache_wrap(open_client(fx), st);
    assert_string_equal(lm_describe(c), "openai:test-model");
    fakelm_push_ok(fx->srv, "cached answer");
    struct lm_request req = simple_req();
    req.has_temperature = true;
    req.temperature = 0;
    struct lm_response r;
    assert_int_equal(complete_ok(c, &req, &r), 0);
    assert_false(r.cache_hit);
    assert_int_equal(r.attempts, 1);
    lm_response_free(&r);
    assert_int_equal(fakelm_requests(fx->srv), 1);

    /* Same request, different hints: a hit, and no HTTP request. */
    req.signature_id = "SelectTool.v1";
    req.role = "repair";
    assert_int_equal(complete_ok(c, &req, &r), 0);
    assert_true(r.cache_hit);
    assert_string_equal(r.text, "cached answer");
    assert_int_equal(r.attempts, 0);
    assert_int_equal(r.latency_ms, 0);
    assert_string_equal(r.model, "test-model");
    assert_true(r.total_tokens > 0);
    lm_response_free(&r);
    assert_int_equal(fakelm_requests(fx->srv), 1);

    /* The model named explicitly equals the default: same key. */
    req.model = "test-model";
    assert_int_equal(complete_ok(c, &req, &r), 0);
    assert_true(r.cache_hit);
    lm_response_free(&r);

    /* A different temperature is a different request. */
    req.temperature = 0.7;
    fakelm_push_ok(fx->srv, "warmer");
    assert_int_equal(complete_ok(c, &req, &r), 0);
    assert_false(r.cache_hit);
    assert_string_equal(r.text, "warmer");
    lm_response_free(&r);
    assert_int_equal(fakelm_requests(fx->srv), 2);

    uint64_t calls, hits;
    lm_stats(c, &calls, &hits);
    assert_int_equal(calls, 2);
    assert_int_equal(hits, 2);
    lm_close(c);
}

static void test_cache_hits_and_misses(void **state)
{
    struct fx *fx = *state;
    struct store *st = mem_open(&mem_ops);
    cache_hit_scenario(fx, st);
    store_close(st);
}

static void test_cache_never_stores_errors(void **state)
{
    struct fx *fx = *state;
    struct store *st = mem_open(&mem_ops);
    struct lm_client *c = lm_cache_wrap(open_client(fx), st);
    fakelm_push(fx->srv, (struct fakelm_step){.kind = FAKELM_STATUS, .status = 400,
                                              .content = "{\"error\":{\"message\":\"no\"}}"});
    struct lm_request req = simple_req();
    struct lm_response r;
    struct dse_err err = {0};
    assert_int_equal(lm_complete(c, &req, &r, &err), -1);
    assert_int_equal(((struct memstore *)st->impl)->puts, 0);
    fakelm_push_ok(fx->srv, "now fine");
    assert_int_equal(complete_ok(c, &req, &r), 0);
    assert_false(r.cache_hit);
    assert_string_equal(r.text, "now fine");
    lm_response_free(&r);
    assert_int_equal(complete_ok(c, &req, &r), 0);
    assert_true(r.cache_hit);
    assert_string_equal(r.text, "now fine");
    lm_response_free(&r);
    assert_int_equal(fakelm_requests(fx->srv), 2);
    lm_close(c);
    store_close(st);
}

static void test_cache_passes_through_without_extension(void **state)
{
    struct fx *fx = *state;
    /* A store that lacks dsex/lmCache. */
    struct store *st = mem_open(&bare_ops);
    struct lm_client *c = lm_cache_wrap(open_client(fx), st);
    struct lm_request req = simple_req();
    struct lm_response r;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(complete_ok(c, &req, &r), 0);
        assert_false(r.cache_hit);
        lm_response_free(&r);
    }
    assert_int_equal(fakelm_requests(fx->srv), 2);
    lm_close(c);
    store_close(st);

    /* A store whose lookups fail. */
    st = mem_open(&mem_ops);
    ((struct memstore *)st->impl)->fail_get = true;
    c = lm_cache_wrap(open_client(fx), st);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(complete_ok(c, &req, &r), 0);
        assert_false(r.cache_hit);
        lm_response_free(&r);
    }
    assert_int_equal(fakelm_requests(fx->srv), 4);
    uint64_t hits;
    lm_stats(c, NULL, &hits);
    assert_int_equal(hits, 0);
    lm_close(c);
    store_close(st);
}

static void test_cache_over_knn(void **state)
{
    (void)state;
    struct dse_err err = {0};
    struct lm_config knn = {.provider = "local-knn"};
    struct store *st = mem_open(&mem_ops);
    struct lm_client *c = lm_cache_wrap(lm_open(&knn, &err), st);
    assert_non_null(c);
    assert_string_equal(lm_describe(c), "local-knn");
    struct lm_request req = simple_req();
    struct lm_response a, b;
    assert_int_equal(complete_ok(c, &req, &a), 0);
    assert_false(a.cache_hit);
    assert_int_equal(complete_ok(c, &req, &b), 0);
    assert_true(b.cache_hit);
    assert_string_equal(a.text, b.text);
    assert_string_equal(b.model, "local-knn");
    lm_response_free(&a);
    lm_response_free(&b);
    uint64_t calls, hits;
    lm_stats(c, &calls, &hits);
    assert_int_equal(calls, 1);
    assert_int_equal(hits, 1);
    lm_close(c);
    store_close(st);
}

static void test_cache_sqlite(void **state)
{
    struct fx *fx = *state;
    struct dse_err err = {0};
    struct store *st = store_open_sqlite(":memory:", 0, &err);
    if (!st || !store_has_op(st, STORE_OP_x_lm_get)) {
        store_close(st);
        skip(); /* the SQLite back end is not built yet */
    }
    cache_hit_scenario(fx, st);
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_default_and_v1_base, setup, teardown),
        cmocka_unit_test_setup_teardown(test_429_then_ok_honours_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_500_exhausts_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_429_exhausts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_400_does_not_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hang_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_json_and_no_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_reply_aborts_at_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_is_redacted_from_error_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrency_n_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrency_one_serialises, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_fails_in_flight, setup, teardown),
        cmocka_unit_test(test_canonical_request),
        cmocka_unit_test_setup_teardown(test_cache_hits_and_misses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_never_stores_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_passes_through_without_extension, setup,
                                        teardown),
        cmocka_unit_test(test_cache_over_knn),
        cmocka_unit_test_setup_teardown(test_cache_sqlite, setup, teardown),
    };
    return cmocka_run_group_tests_name("lm", tests, NULL, NULL);
}
