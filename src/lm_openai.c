/* lm_openai: OpenAI-compatible chat completions over libcurl.
 *
 * One curl multi handle per client, driven by one I/O thread.  Callers of
 * lm_complete (any thread) put a `struct oa_call` that lives on their own
 * stack on the pending queue, wake the I/O thread with curl_multi_wakeup and
 * sleep on the call's condition variable.  The I/O thread starts at most
 * `concurrency` transfers, decides per finished attempt whether to retry
 * (parking the call on the delayed list until its backoff has passed) or to
 * finish, and signals the caller.  The caller parses the reply itself so a
 * large JSON body never stalls the other transfers.
 *
 * Only the I/O thread touches the multi handle and the easy handles
 * (curl_multi_wakeup is the one call libcurl allows from other threads).
 * `mu` guards the queues, the counters and every call's completion fields.
 *
 * The API key lives in exactly two places: `key` (to redact it from error
 * bodies that might echo it) and the Authorization line of `headers`.  Both
 * are wiped before they are freed. */
#include "lm.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "sanitize.h"
#include "util.h"

#define OA_ERR "LmClientError"
#define OA_EXCERPT_CHARS 200

struct oa_call {
    struct oa_call *next;
    /* request (owned by the caller's frame) */
    const char *body;
    size_t body_len;
    /* transfer state: I/O thread only */
    CURL *easy;
    struct sbuf rx;
    size_t rx_max;
    bool rx_too_big;
    bool connect_timeout; /* the timeout that fired was the connect one */
    char curl_err[CURL_ERROR_SIZE];
    int attempts;
    int64_t due_ms;
    /* completion: under mu */
    bool done;
    int rc;
    long status;
    struct dse_err err;
    pthread_cond_t cv;
};

struct oa {
    /* settings */
    char *url;
    char *key; /* NULL when no key is used */
    struct curl_slist *headers;
    int concurrency;
    int connect_timeout_ms, timeout_ms;
    size_t max_bytes;
    int max_retries;
    int backoff_base_ms, backoff_max_ms;

    CURLM *multi;
    pthread_t io;
    bool io_started;
    uint64_t rng; /* I/O thread only */

    pthread_mutex_t mu;
    pthread_cond_t idle_cv; /* close waits here for callers to leave */
    bool stopping;
    int waiters;            /* callers inside lm_complete */
    struct oa_call *pending, *pending_tail;
    struct oa_call *delayed; /* unsorted; few entries */
    struct oa_call *active;  /* in the multi handle */
    int in_flight;
    CURL **idle_easy; /* reusable handles (I/O thread only) */
    int n_idle;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* ---- key handling ---- */

/* Reads the key without ever echoing it.  *key stays NULL when no key is
 * configured and none is required (local servers need none). */
static int load_key(const struct lm_config *cfg, char **key, struct dse_err *err)
{
    *key = NULL;
    char *raw = NULL;
    if (cfg->api_key_file && cfg->api_key_file[0]) {
        size_t len = 0;
        raw = util_read_file(cfg->api_key_file, 64 * 1024, &len);
        if (!raw)
            return dse_fail(err, OA_ERR, "cannot read the API key file %s: %s",
                            cfg->api_key_file, strerror(errno));
        if (memchr(raw, 0, len)) {
            wipe_free(raw);
            return dse_fail(err, OA_ERR, "the API key file %s contains a NUL byte",
                            cfg->api_key_file);
        }
    } else {
        const char *name = cfg->api_key_env && cfg->api_key_env[0] ? cfg->api_key_env
                                                                   : "OPENAI_API_KEY";
        const char *v = getenv(name);
        if (!v || !v[0]) {
            if (cfg->api_key_env && cfg->api_key_env[0])
                return dse_fail(err, OA_ERR, "environment variable %s (the API key) is not set",
                                name);
            return 0;
        }
        raw = xstrdup(v);
    }
    /* Trim in place, then refuse anything that could split a header line. */
    size_t n = strlen(raw);
    size_t a = 0;
    while (a < n && (raw[a] == ' ' || raw[a] == '\t' || raw[a] == '\r' || raw[a] == '\n'))
        a++;
    while (n > a && (raw[n - 1] == ' ' || raw[n - 1] == '\t' || raw[n - 1] == '\r' ||
                     raw[n - 1] == '\n'))
        n--;
    for (size_t i = a; i < n; i++) {
        unsigned char ch = (unsigned char)raw[i];
        if (ch < 0x20 || ch == 0x7f) {
            wipe_free(raw);
            return dse_fail(err, OA_ERR, "the API key contains control characters");
        }
    }
    if (n == a) {
        wipe_free(raw);
        if (cfg->api_key_file && cfg->api_key_file[0])
            return dse_fail(err, OA_ERR, "the API key file %s is empty", cfg->api_key_file);
        return 0;
    }
    *key = xstrndup(raw + a, n - a);
    wipe_free(raw);
    return 0;
}

static void wipe_headers(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p; p = p->next)
        if (p->data)
            explicit_bzero(p->data, strlen(p->data));
    curl_slist_free_all(h);
}

/* ---- transfer callbacks ---- */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct oa_call *call = ud;
    size_t n = size * nmemb;
    /* MAXFILESIZE cannot stop a chunked reply on this libcurl; refusing the
     * bytes here aborts the transfer and keeps memory bounded. */
    if (n > call->rx_max - call->rx.len) {
        call->rx_too_big = true;
        return 0;
    }
    sbuf_add(&call->rx, ptr, n);
    return n;
}

/* ---- I/O thread ---- */

static uint64_t rng_next(struct oa *o)
{
    uint64_t x = o->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return o->rng = x;
}

/* Full jitter: uniform in [0, min(max, base * 2^(n-1))]; a Retry-After the
 * server sent is a floor, but never beyond backoff_max_ms. */
static int64_t backoff_ms(struct oa *o, int attempt, int64_t retry_after_s)
{
    int64_t ceil = o->backoff_base_ms;
    for (int i = 1; i < attempt && ceil < o->backoff_max_ms; i++)
        ceil *= 2;
    if (ceil > o->backoff_max_ms)
        ceil = o->backoff_max_ms;
    int64_t d = (int64_t)(rng_next(o) % (uint64_t)(ceil + 1));
    if (retry_after_s > 0) {
        int64_t ra = retry_after_s > 86400 ? 86400 * 1000LL : retry_after_s * 1000;
        if (ra > d)
            d = ra;
    }
    return d > o->backoff_max_ms ? o->backoff_max_ms : d;
}

static CURL *easy_get(struct oa *o)
{
    if (o->n_idle > 0)
        return o->idle_easy[--o->n_idle];
    CURL *e = curl_easy_init();
    if (!e)
        die("curl_easy_init failed");
    return e;
}

static void easy_put(struct oa *o, CURL *e)
{
    if (o->n_idle < o->concurrency) {
        curl_easy_reset(e);
        o->idle_easy[o->n_idle++] = e;
    } else {
        curl_easy_cleanup(e);
    }
}

/* Begin one attempt.  Called with mu held (only list state is touched). */
static void attempt_start(struct oa *o, struct oa_call *call)
{
    CURL *e = easy_get(o);
    call->easy = e;
    call->attempts++;
    sbuf_reset(&call->rx);
    call->rx_too_big = false;
    call->curl_err[0] = 0;
    curl_easy_setopt(e, CURLOPT_URL, o->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, o->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "dse/" DSE_VERSION);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->curl_err);
    curl_easy_setopt(e, CURLOPT_PRIVATE, call);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    call->next = o->active;
    o->active = call;
    o->in_flight++;
    curl_multi_add_handle(o->multi, e);
}

static void unlink_call(struct oa_call **head, struct oa_call *call)
{
    for (struct oa_call **pp = head; *pp; pp = &(*pp)->next)
        if (*pp == call) {
            *pp = call->next;
            call->next = NULL;
            return;
        }
}

/* Hand a call back to its caller.  mu held. */
static void finish(struct oa_call *call, int rc)
{
    call->rc = rc;
    call->done = true;
    pthread_cond_signal(&call->cv);
}

static bool status_retryable(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static bool curl_retryable(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

/* Replace every occurrence of the key by a marker before any part of a body
 * reaches a message: a misbehaving server may echo request headers. */
static char *redact(const struct oa *o, const char *s, size_t n)
{
    struct sbuf b = {0};
    size_t kl = o->key ? strlen(o->key) : 0;
    for (size_t i = 0; i < n;) {
        if (kl && n - i >= kl && memcmp(s + i, o->key, kl) == 0) {
            sbuf_adds(&b, "[redacted]");
            i += kl;
        } else {
            sbuf_addc(&b, s[i] ? s[i] : ' ');
            i++;
        }
    }
    return sbuf_take(&b);
}

/* "HTTP 400: <excerpt>" where the excerpt prefers error.message of a JSON
 * error body, is cut to OA_EXCERPT_CHARS characters and sanitised (by
 * dse_fail) after the key was redacted. */
static void http_error(const struct oa *o, struct oa_call *call)
{
    const char *src = call->rx.s ? call->rx.s : "";
    size_t n = call->rx.len;
    struct dse_err jerr;
    cJSON *j = n ? json_parse(src, n, 0, &jerr) : NULL;
    const cJSON *m = json_path(j, "error.message");
    if (cJSON_IsString(m) && m->valuestring) {
        src = m->valuestring;
        n = strlen(src);
    }
    char *clean = redact(o, src, n);
    size_t cut = util_utf8_prefix(clean, strlen(clean), OA_EXCERPT_CHARS);
    bool more = clean[cut] != 0;
    clean[cut] = 0;
    util_trim(clean);
    if (clean[0])
        dse_fail(&call->err, OA_ERR, "HTTP %ld: %s%s", call->status, clean, more ? "..." : "");
    else
        dse_fail(&call->err, OA_ERR, "HTTP %ld", call->status);
    free(clean);
    cJSON_Delete(j);
}

static void transport_error(const struct oa *o, struct oa_call *call, CURLcode cc)
{
    const char *why = call->curl_err[0] ? call->curl_err : curl_easy_strerror(cc);
    char *clean = redact(o, why, strlen(why));
    char tries[32] = "";
    if (call->attempts > 1)
        snprintf(tries, sizeof tries, " (%d attempts)", call->attempts);
    if (cc == CURLE_OPERATION_TIMEDOUT && call->connect_timeout)
        dse_fail(&call->err, OA_ERR, "connect timed out after %d ms%s", o->connect_timeout_ms,
                 tries);
    else if (cc == CURLE_OPERATION_TIMEDOUT)
        dse_fail(&call->err, OA_ERR, "timed out after %d ms%s", o->timeout_ms, tries);
    else if (cc == CURLE_PARTIAL_FILE)
        dse_fail(&call->err, OA_ERR, "reply truncated: %s%s", clean, tries);
    else if (curl_retryable(cc))
        dse_fail(&call->err, OA_ERR, "connection failed: %s%s", clean, tries);
    else
        dse_fail(&call->err, OA_ERR, "request failed: %s", clean);
    free(clean);
}

/* One attempt ended.  mu held. */
static void attempt_done(struct oa *o, struct oa_call *call, CURLcode cc)
{
    CURL *e = call->easy;
    long status = 0;
    curl_off_t retry_after = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &retry_after);
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        /* Both timeouts report the same code.  The connect timeout can only
         * be the one that fired if it is the shorter, and then the attempt
         * ended nearer to it than to the total timeout. */
        curl_off_t total_us = 0;
        curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total_us);
        curl_off_t mid_us = ((curl_off_t)o->connect_timeout_ms + o->timeout_ms) * 500;
        call->connect_timeout = o->connect_timeout_ms < o->timeout_ms && total_us < mid_us;
    }
    curl_multi_remove_handle(o->multi, e);
    easy_put(o, e);
    call->easy = NULL;
    unlink_call(&o->active, call);
    o->in_flight--;
    call->status = status;

    bool retry = false;
    if (cc == CURLE_OK) {
        if (status >= 200 && status < 300) {
            finish(call, 0);
            return;
        }
        retry = status_retryable(status);
    } else if (cc == CURLE_WRITE_ERROR && call->rx_too_big) {
        dse_fail(&call->err, OA_ERR, "response larger than %zu bytes", o->max_bytes);
        finish(call, -1);
        return;
    } else {
        retry = curl_retryable(cc);
    }

    if (retry && call->attempts <= o->max_retries && !o->stopping) {
        call->due_ms = util_mono_ms() + backoff_ms(o, call->attempts, (int64_t)retry_after);
        call->next = o->delayed;
        o->delayed = call;
        return;
    }
    if (cc == CURLE_OK) {
        if (retry)
            dse_fail(&call->err, OA_ERR, "HTTP %ld after %d attempt%s", status, call->attempts,
                     call->attempts == 1 ? "" : "s");
        else
            http_error(o, call);
    } else {
        transport_error(o, call, cc);
    }
    finish(call, -1);
}

/* mu held.  Moves due retries to the front of the queue, starts what the
 * concurrency limit allows; returns ms until the next retry is due (-1:
 * none waiting). */
static int64_t schedule(struct oa *o)
{
    int64_t now = util_mono_ms(), next = -1;
    for (struct oa_call **pp = &o->delayed; *pp;) {
        struct oa_call *c = *pp;
        if (c->due_ms <= now) {
            *pp = c->next;
            /* Retries go first: they have waited longest. */
            c->next = o->pending;
            o->pending = c;
            if (!o->pending_tail)
                o->pending_tail = c;
        } else {
            if (next < 0 || c->due_ms - now < next)
                next = c->due_ms - now;
            pp = &c->next;
        }
    }
    while (o->in_flight < o->concurrency && o->pending) {
        struct oa_call *c = o->pending;
        o->pending = c->next;
        if (!o->pending)
            o->pending_tail = NULL;
        c->next = NULL;
        attempt_start(o, c);
    }
    return next;
}

static void fail_list(struct oa_call **head, const char *why)
{
    while (*head) {
        struct oa_call *c = *head;
        *head = c->next;
        c->next = NULL;
        dse_fail(&c->err, OA_ERR, "%s", why);
        finish(c, -1);
    }
}

static void *io_main(void *arg)
{
    struct oa *o = arg;
    for (;;) {
        pthread_mutex_lock(&o->mu);
        if (o->stopping) {
            pthread_mutex_unlock(&o->mu);
            break;
        }
        int64_t next_due = schedule(o);
        pthread_mutex_unlock(&o->mu);

        int running = 0;
        curl_multi_perform(o->multi, &running);
        bool progressed = false;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(o->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct oa_call *call = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
            CURLcode cc = msg->data.result;
            pthread_mutex_lock(&o->mu);
            attempt_done(o, call, cc);
            pthread_mutex_unlock(&o->mu);
            progressed = true;
        }
        if (progressed)
            continue; /* a slot may have opened, or a retry is due at once */
        int wait = 1000;
        if (next_due >= 0 && next_due < wait)
            wait = (int)next_due;
        curl_multi_poll(o->multi, NULL, 0, wait, NULL);
    }

    /* Shut down: nothing new starts; everything outstanding fails. */
    pthread_mutex_lock(&o->mu);
    while (o->active) {
        struct oa_call *c = o->active;
        o->active = c->next;
        c->next = NULL;
        curl_multi_remove_handle(o->multi, c->easy);
        curl_easy_cleanup(c->easy);
        c->easy = NULL;
        o->in_flight--;
        dse_fail(&c->err, OA_ERR, "the LM client was closed during the request");
        finish(c, -1);
    }
    fail_list(&o->pending, "the LM client was closed before the request was sent");
    o->pending_tail = NULL;
    fail_list(&o->delayed, "the LM client was closed while waiting to retry");
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

/* ---- caller side ---- */

static char *build_body(const struct lm_request *req, const char *model)
{
    cJSON *o = json_obj();
    json_set_str(o, "model", model);
    cJSON *msgs = json_arr();
    for (size_t i = 0; i < req->n_messages; i++) {
        cJSON *m = json_obj();
        json_set_str(m, "role", req->messages[i].role);
        json_set_str(m, "content", req->messages[i].content);
        cJSON_AddItemToArray(msgs, m);
    }
    json_set(o, "messages", msgs);
    if (req->has_temperature)
        json_set_num(o, "temperature", req->temperature);
    if (req->has_top_p)
        json_set_num(o, "top_p", req->top_p);
    if (req->max_tokens > 0)
        json_set_num(o, "max_tokens", req->max_tokens);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s)
        die("out of memory printing a request");
    return s;
}

static int usage_int(const cJSON *usage, const char *key)
{
    const cJSON *v = json_get(usage, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 2e9)
        return -1;
    return (int)v->valuedouble;
}

static int parse_reply(const struct oa_call *call, size_t max, struct lm_response *resp,
                       struct dse_err *err)
{
    struct dse_err jerr;
    cJSON *j = json_parse(call->rx.s ? call->rx.s : "", call->rx.len, max, &jerr);
    if (!j)
        return dse_fail(err, OA_ERR, "reply is not JSON: %s", jerr.msg);
    const cJSON *choices = json_get(j, "choices");
    const cJSON *first = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    const cJSON *content = json_path(first, "message.content");
    if (!cJSON_IsString(content) || !content->valuestring) {
        cJSON_Delete(j);
        return dse_fail(err, OA_ERR, "reply has no choices[0].message.content");
    }
    resp->text = xstrdup(content->valuestring);
    const cJSON *usage = json_get(j, "usage");
    resp->prompt_tokens = usage_int(usage, "prompt_tokens");
    resp->completion_tokens = usage_int(usage, "completion_tokens");
    resp->total_tokens = usage_int(usage, "total_tokens");
    const char *model = json_str(j, "model", "");
    sanitize_into(resp->model, sizeof resp->model, model, strlen(model), 0);
    cJSON_Delete(j);
    return 0;
}

static int oa_complete(struct lm_client *c, const struct lm_request *req,
                       struct lm_response *resp, struct dse_err *err)
{
    struct oa *o = c->impl;
    const char *model = req->model && req->model[0] ? req->model : c->default_model;
    if (!model[0])
        return dse_fail(err, OA_ERR, "no model given (set one for the client or the request)");

    int64_t t0 = util_mono_ms();
    struct oa_call call = {0};
    char *body = build_body(req, model);
    call.body = body;
    call.body_len = strlen(body);
    call.rx_max = o->max_bytes;
    pthread_cond_init(&call.cv, NULL);

    pthread_mutex_lock(&o->mu);
    if (o->stopping) {
        pthread_mutex_unlock(&o->mu);
        pthread_cond_destroy(&call.cv);
        free(body);
        return dse_fail(err, OA_ERR, "the LM client is closing");
    }
    o->waiters++;
    if (o->pending_tail)
        o->pending_tail->next = &call;
    else
        o->pending = &call;
    o->pending_tail = &call;
    pthread_mutex_unlock(&o->mu);
    curl_multi_wakeup(o->multi);

    pthread_mutex_lock(&o->mu);
    while (!call.done)
        pthread_cond_wait(&call.cv, &o->mu);
    o->waiters--;
    if (o->waiters == 0)
        pthread_cond_broadcast(&o->idle_cv);
    pthread_mutex_unlock(&o->mu);

    /* From here on only our own frame is touched: the client may be closing. */
    pthread_cond_destroy(&call.cv);
    free(body);
    resp->attempts = call.attempts;
    int rc = call.rc;
    if (rc == 0)
        rc = parse_reply(&call, o->max_bytes, resp, err);
    else if (err)
        *err = call.err;
    sbuf_free(&call.rx);
    resp->latency_ms = util_mono_ms() - t0;
    return rc;
}

static void oa_free(struct oa *o)
{
    if (!o)
        return;
    for (int i = 0; i < o->n_idle; i++)
        curl_easy_cleanup(o->idle_easy[i]);
    free(o->idle_easy);
    if (o->multi)
        curl_multi_cleanup(o->multi);
    wipe_headers(o->headers);
    wipe_free(o->key);
    free(o->url);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->idle_cv);
    free(o);
}

static void oa_close(struct lm_client *c)
{
    struct oa *o = c->impl;
    if (!o)
        return;
    pthread_mutex_lock(&o->mu);
    o->stopping = true;
    pthread_mutex_unlock(&o->mu);
    if (o->io_started) {
        curl_multi_wakeup(o->multi);
        pthread_join(o->io, NULL);
    }
    /* Callers that were failed by the shutdown still hold mu briefly. */
    pthread_mutex_lock(&o->mu);
    while (o->waiters > 0)
        pthread_cond_wait(&o->idle_cv, &o->mu);
    pthread_mutex_unlock(&o->mu);
    oa_free(o);
    c->impl = NULL;
}

static const struct lm_provider openai_provider = {
    .name = "openai",
    .complete = oa_complete,
    .close = oa_close,
};

/* {base}/v1/chat/completions, without doubling a /v1 the base already has. */
static char *endpoint_url(const char *base)
{
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    if (n >= 3 && memcmp(base + n - 3, "/v1", 3) == 0)
        return xasprintf("%.*s/chat/completions", (int)n, base);
    return xasprintf("%.*s/v1/chat/completions", (int)n, base);
}

static int cfg_int(int v, int def, int lo, int hi, const char *what, int *out,
                   struct dse_err *err)
{
    if (v == 0)
        v = def;
    if (v < lo || v > hi)
        return dse_fail(err, "invalid_input", "%s must be between %d and %d (got %d)", what, lo,
                        hi, v);
    *out = v;
    return 0;
}

struct lm_client *lm_openai_open(const struct lm_config *cfg, struct dse_err *err)
{
    static const struct lm_config defaults;
    if (!cfg)
        cfg = &defaults;
    const char *base = cfg->base_url && cfg->base_url[0] ? cfg->base_url : "https://api.openai.com";
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
        dse_fail(err, "invalid_input", "LM base URL must start with http:// or https:// (got %s)",
                 base);
        return NULL;
    }
    if (cfg->model && strlen(cfg->model) >= sizeof ((struct lm_client *)0)->default_model) {
        dse_fail(err, "invalid_input", "model id is too long");
        return NULL;
    }

    struct oa *o = xcalloc(1, sizeof *o);
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->idle_cv, NULL);
    int max_retries = cfg->max_retries < 0 ? 0 : cfg->max_retries == 0 ? 4 : cfg->max_retries;
    if (cfg_int(cfg->concurrency, 4, 1, 256, "concurrency", &o->concurrency, err) < 0 ||
        cfg_int(cfg->connect_timeout_ms, 10000, 1, 3600000, "connect timeout (ms)",
                &o->connect_timeout_ms, err) < 0 ||
        cfg_int(cfg->timeout_ms, 60000, 1, 86400000, "timeout (ms)", &o->timeout_ms, err) < 0 ||
        cfg_int(max_retries, 4, 0, 100, "max retries", &o->max_retries, err) < 0 ||
        cfg_int(cfg->backoff_base_ms, 500, 1, 3600000, "backoff base (ms)", &o->backoff_base_ms,
                err) < 0 ||
        cfg_int(cfg->backoff_max_ms, 20000, 1, 3600000, "backoff max (ms)", &o->backoff_max_ms,
                err) < 0) {
        oa_free(o);
        return NULL;
    }
    if (max_retries == 0)
        o->max_retries = 0; /* cfg_int would have turned 0 into the default */
    o->max_bytes = cfg->max_response_bytes ? cfg->max_response_bytes : (size_t)4 << 20;
    if (o->backoff_base_ms > o->backoff_max_ms)
        o->backoff_base_ms = o->backoff_max_ms;

    if (load_key(cfg, &o->key, err) < 0) {
        oa_free(o);
        return NULL;
    }

    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        dse_fail(err, OA_ERR, "libcurl failed to initialise: %s", curl_easy_strerror(curl_init_rc));
        oa_free(o);
        return NULL;
    }
    o->url = endpoint_url(base);
    o->headers = curl_slist_append(NULL, "Content-Type: application/json");
    o->headers = curl_slist_append(o->headers, "Accept: application/json");
    o->headers = curl_slist_append(o->headers, "Expect:"); /* no 100-continue round trip */
    if (o->key) {
        char *line = xasprintf("Authorization: Bearer %s", o->key);
        o->headers = curl_slist_append(o->headers, line);
        wipe_free(line);
    }
    o->multi = curl_multi_init();
    o->idle_easy = xcalloc((size_t)o->concurrency, sizeof *o->idle_easy);
    if (!o->headers || !o->multi) {
        dse_fail(err, OA_ERR, "libcurl could not allocate a client");
        oa_free(o);
        return NULL;
    }
    curl_multi_setopt(o->multi, CURLMOPT_MAXCONNECTS, (long)o->concurrency);
    o->rng = (uint64_t)util_mono_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)o ^
             ((uint64_t)getpid() << 32);
    if (!o->rng)
        o->rng = 0x2545F4914F6CDD1DULL;

    if (pthread_create(&o->io, NULL, io_main, o) != 0) {
        dse_fail(err, OA_ERR, "cannot start the LM I/O thread: %s", strerror(errno));
        oa_free(o);
        return NULL;
    }
    o->io_started = true;

    struct lm_client *c = xcalloc(1, sizeof *c);
    c->prov = &openai_provider;
    c->impl = o;
    snprintf(c->default_model, sizeof c->default_model, "%s", cfg->model ? cfg->model : "");
    snprintf(c->desc, sizeof c->desc, "openai:%s", cfg->model && cfg->model[0] ? cfg->model : "?");
    return c;
}
