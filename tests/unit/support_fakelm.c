/* support_fakelm: see support_fakelm.h.  libmicrohttpd does the HTTP; this
 * file only decides what to answer.  Thread-per-connection mode lets a
 * handler block (latency, barrier, hang) without stalling other requests. */
#include "support_fakelm.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "util.h"

#define FAKELM_MAX_BODY (16u << 20)
#define FAKELM_HUGE_BYTES ((uint64_t)64 << 20)
#define FAKELM_BARRIER_MS 10000

struct fakelm {
    struct MHD_Daemon *d;
    int port;
    char url[64];

    pthread_mutex_t mu;
    pthread_cond_t cv; /* barrier, latency, hang and stop all wait here */
    bool stopping;

    struct fakelm_step *queue;
    size_t q_head, q_len, q_cap;
    char **q_strings; /* copies of scripted content, freed at stop */
    size_t n_strings, cap_strings;
    struct fakelm_step def;

    int barrier;
    long arrivals;

    int in_flight, max_in_flight;
    int connections;        /* TCP connections accepted */
    uint64_t huge_sent;     /* bytes the FAKELM_HUGE reader produced */
    char **bodies, **auths, **paths;
    int n_req, cap_req;
    long served;
};

/* Per request: the body as it arrives. */
struct fake_req {
    struct sbuf body;
    bool too_big;
};

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static const char *keep_string(struct fakelm *f, const char *s)
{
    if (!s)
        return NULL;
    if (f->n_strings == f->cap_strings) {
        f->cap_strings = f->cap_strings ? f->cap_strings * 2 : 16;
        f->q_strings = xrealloc(f->q_strings, f->cap_strings * sizeof *f->q_strings);
    }
    return f->q_strings[f->n_strings++] = xstrdup(s);
}

/* ---- replies ---- */

static int approx_tokens(size_t bytes)
{
    return (int)((bytes + 3) / 4);
}

/* First line of the last user message; "" when there is none. */
static char *echo_content(const cJSON *req)
{
    const cJSON *msgs = json_get(req, "messages");
    const char *text = "";
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        if (strcmp(json_str(m, "role", ""), "user") == 0)
            text = json_str(m, "content", "");
    }
    const char *nl = strchr(text, '\n');
    return nl ? xstrndup(text, (size_t)(nl - text)) : xstrdup(text);
}

static char *ok_body(const cJSON *req, const char *content, long id)
{
    char *echo = content ? NULL : echo_content(req);
    const char *text = content ? content : echo;
    size_t prompt_bytes = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, json_get(req, "messages"))
    {
        prompt_bytes += strlen(json_str(m, "content", ""));
    }
    cJSON *o = json_obj();
    char idbuf[32];
    snprintf(idbuf, sizeof idbuf, "fake-%ld", id);
    json_set_str(o, "id", idbuf);
    json_set_str(o, "object", "chat.completion");
    json_set_str(o, "model", json_str(req, "model", "fake-model"));
    cJSON *choices = json_arr(), *ch = json_obj(), *msg = json_obj();
    json_set_num(ch, "index", 0);
    json_set_str(msg, "role", "assistant");
    json_set_str(msg, "content", text);
    json_set(ch, "message", msg);
    json_set_str(ch, "finish_reason", "stop");
    cJSON_AddItemToArray(choices, ch);
    json_set(o, "choices", choices);
    cJSON *usage = json_obj();
    int p = approx_tokens(prompt_bytes), q = approx_tokens(strlen(text));
    json_set_num(usage, "prompt_tokens", p);
    json_set_num(usage, "completion_tokens", q);
    json_set_num(usage, "total_tokens", p + q);
    json_set(o, "usage", usage);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    free(echo);
    return s;
}

static enum MHD_Result queue_text(struct MHD_Connection *conn, unsigned status, const char *body,
                                  const char *ctype, const char *retry_after)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (retry_after)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Truncated: 10 bytes of a 1000-byte promise, then the connection drops. */
static ssize_t truncated_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos > 0 || max < 10)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    memcpy(buf, "{\"choices\"", 10);
    return 10;
}

/* Huge: a JSON string that goes on for 64 MiB, in chunked encoding (the
 * size is not announced, which is what defeats CURLOPT_MAXFILESIZE). */
static ssize_t huge_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct fakelm *f = cls;
    if (pos >= FAKELM_HUGE_BYTES)
        return MHD_CONTENT_READER_END_OF_STREAM;
    static const char head[] = "{\"choices\":[{\"message\":{\"content\":\"";
    size_t n = max;
    if (n > FAKELM_HUGE_BYTES - pos)
        n = (size_t)(FAKELM_HUGE_BYTES - pos);
    memset(buf, 'a', n);
    if (pos < sizeof head - 1) {
        size_t k = sizeof head - 1 - (size_t)pos;
        if (k > n)
            k = n;
        memcpy(buf, head + pos, k);
    }
    pthread_mutex_lock(&f->mu);
    if (pos + n > f->huge_sent)
        f->huge_sent = pos + n;
    pthread_mutex_unlock(&f->mu);
    return (ssize_t)n;
}

static enum MHD_Result queue_stream(struct fakelm *f, struct MHD_Connection *conn, uint64_t size,
                                    MHD_ContentReaderCallback cb)
{
    struct MHD_Response *r = MHD_create_response_from_callback(size, 64 * 1024, cb, f, NULL);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* Sleep ms, cut short when the server stops.  mu held. */
static void wait_ms(struct fakelm *f, int ms)
{
    struct timespec ts;
    deadline_after(&ts, ms);
    while (!f->stopping) {
        if (pthread_cond_timedwait(&f->cv, &f->mu, &ts) == ETIMEDOUT)
            break;
    }
}

static enum MHD_Result answer(struct fakelm *f, struct MHD_Connection *conn, const char *url,
                              struct fake_req *rq)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    const char *body = rq->body.s ? rq->body.s : "";

    pthread_mutex_lock(&f->mu);
    if (f->n_req == f->cap_req) {
        f->cap_req = f->cap_req ? f->cap_req * 2 : 16;
        f->bodies = xrealloc(f->bodies, (size_t)f->cap_req * sizeof *f->bodies);
        f->auths = xrealloc(f->auths, (size_t)f->cap_req * sizeof *f->auths);
        f->paths = xrealloc(f->paths, (size_t)f->cap_req * sizeof *f->paths);
    }
    f->paths[f->n_req] = xstrdup(url);
    f->bodies[f->n_req] = xstrdup(body);
    f->auths[f->n_req] = auth ? xstrdup(auth) : NULL;
    f->n_req++;
    long id = ++f->served;
    struct fakelm_step step = f->def;
    if (f->q_head < f->q_len)
        step = f->queue[f->q_head++];
    f->in_flight++;
    if (f->in_flight > f->max_in_flight)
        f->max_in_flight = f->in_flight;
    if (f->barrier > 0) {
        long ticket = f->arrivals++;
        long group_end = (ticket / f->barrier + 1) * f->barrier;
        pthread_cond_broadcast(&f->cv);
        struct timespec ts;
        deadline_after(&ts, FAKELM_BARRIER_MS);
        while (!f->stopping && f->arrivals < group_end)
            if (pthread_cond_timedwait(&f->cv, &f->mu, &ts) == ETIMEDOUT)
                break;
    }
    if (step.kind == FAKELM_OK && step.delay_ms > 0)
        wait_ms(f, step.delay_ms);
    if (step.kind == FAKELM_HANG)
        wait_ms(f, 3600 * 1000);
    /* Copy what we need before letting go of the lock. */
    char *content = step.content ? xstrdup(step.content) : NULL;
    f->in_flight--;
    pthread_mutex_unlock(&f->mu);

    enum MHD_Result ret;
    switch (step.kind) {
    case FAKELM_OK: {
        struct dse_err err;
        cJSON *req = json_parse(body, rq->body.len, 0, &err);
        if (!req) {
            ret = queue_text(conn, 400, "{\"error\":{\"message\":\"request is not JSON\"}}",
                             "application/json", NULL);
            break;
        }
        char *out = ok_body(req, content, id);
        cJSON_Delete(req);
        ret = queue_text(conn, 200, out, "application/json", NULL);
        free(out);
        break;
    }
    case FAKELM_429:
        ret = queue_text(conn, 429, "{\"error\":{\"message\":\"rate limited\"}}",
                         "application/json", "1");
        break;
    case FAKELM_500:
        ret = queue_text(conn, 500, "{\"error\":{\"message\":\"internal error\"}}",
                         "application/json", NULL);
        break;
    case FAKELM_STATUS:
        ret = queue_text(conn, step.status ? (unsigned)step.status : 400,
                         content ? content : "", "application/json", NULL);
        break;
    case FAKELM_ECHO_AUTH: {
        char *b = xasprintf("{\"error\":{\"message\":\"invalid key: %s\"}}", auth ? auth : "");
        ret = queue_text(conn, step.status ? (unsigned)step.status : 401, b, "application/json",
                         NULL);
        free(b);
        break;
    }
    case FAKELM_HANG:
        ret = MHD_NO; /* only reached at stop: drop the connection */
        break;
    case FAKELM_TRUNCATED:
        ret = queue_stream(f, conn, 1000, truncated_reader);
        break;
    case FAKELM_NOT_JSON:
        ret = queue_text(conn, 200, "<html><body>Bad gateway</body></html>", "text/html", NULL);
        break;
    case FAKELM_NO_CONTENT:
        ret = queue_text(conn, 200, "{\"choices\":[{\"message\":{\"role\":\"assistant\"}}]}",
                         "application/json", NULL);
        break;
    case FAKELM_HUGE:
        ret = queue_stream(f, conn, MHD_SIZE_UNKNOWN, huge_reader);
        break;
    default:
        ret = MHD_NO;
        break;
    }
    free(content);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    (void)version;
    struct fakelm *f = cls;
    struct fake_req *rq = *req_cls;
    if (!rq) {
        rq = xcalloc(1, sizeof *rq);
        *req_cls = rq;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (rq->body.len + *upload_data_size > FAKELM_MAX_BODY)
            rq->too_big = true;
        else
            sbuf_add(&rq->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST") != 0)
        return queue_text(conn, 405, "{\"error\":{\"message\":\"POST only\"}}",
                          "application/json", NULL);
    if (rq->too_big)
        return queue_text(conn, 413, "{\"error\":{\"message\":\"body too large\"}}",
                          "application/json", NULL);
    return answer(f, conn, url, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct fake_req *rq = *req_cls;
    if (rq) {
        sbuf_free(&rq->body);
        free(rq);
        *req_cls = NULL;
    }
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)conn;
    (void)socket_context;
    struct fakelm *f = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        pthread_mutex_lock(&f->mu);
        f->connections++;
        pthread_mutex_unlock(&f->mu);
    }
}

/* ---- lifecycle ---- */

struct fakelm *fakelm_start_latency(int port, int latency_ms)
{
    struct fakelm *f = xcalloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cv, &ca);
    pthread_condattr_destroy(&ca);
    f->def = (struct fakelm_step){.kind = FAKELM_OK, .delay_ms = latency_ms};

    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
                            (uint16_t)port, NULL, NULL, on_request, f, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sin, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                            f, MHD_OPTION_NOTIFY_CONNECTION, on_connection, f,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
                            MHD_OPTION_END);
    if (!f->d) {
        fprintf(stderr, "fakelm: cannot start the server on 127.0.0.1:%d\n", port);
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        free(f);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
    f->port = info ? info->port : port;
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", f->port);
    return f;
}

struct fakelm *fakelm_start(void)
{
    return fakelm_start_latency(0, 0);
}

void fakelm_stop(struct fakelm *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    MHD_stop_daemon(f->d);
    for (int i = 0; i < f->n_req; i++) {
        free(f->bodies[i]);
        free(f->auths[i]);
        free(f->paths[i]);
    }
    free(f->bodies);
    free(f->auths);
    free(f->paths);
    for (size_t i = 0; i < f->n_strings; i++)
        free(f->q_strings[i]);
    free(f->q_strings);
    free(f->queue);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

const char *fakelm_url(const struct fakelm *f)
{
    return f->url;
}

int fakelm_port(const struct fakelm *f)
{
    return f->port;
}

/* ---- scripting ---- */

void fakelm_push(struct fakelm *f, struct fakelm_step step)
{
    pthread_mutex_lock(&f->mu);
    step.content = keep_string(f, step.content);
    if (f->q_len == f->q_cap) {
        f->q_cap = f->q_cap ? f->q_cap * 2 : 16;
        f->queue = xrealloc(f->queue, f->q_cap * sizeof *f->queue);
    }
    f->queue[f->q_len++] = step;
    pthread_mutex_unlock(&f->mu);
}

void fakelm_push_kind(struct fakelm *f, enum fakelm_kind kind, int times)
{
    for (int i = 0; i < times; i++)
        fakelm_push(f, (struct fakelm_step){.kind = kind});
}

void fakelm_push_ok(struct fakelm *f, const char *content)
{
    fakelm_push(f, (struct fakelm_step){.kind = FAKELM_OK, .content = content});
}

void fakelm_set_default(struct fakelm *f, struct fakelm_step step)
{
    pthread_mutex_lock(&f->mu);
    step.content = keep_string(f, step.content);
    f->def = step;
    pthread_mutex_unlock(&f->mu);
}

void fakelm_set_barrier(struct fakelm *f, int n)
{
    pthread_mutex_lock(&f->mu);
    f->barrier = n > 0 ? n : 0;
    f->arrivals = 0;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* ---- inspection ---- */

int fakelm_requests(struct fakelm *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->n_req;
    pthread_mutex_unlock(&f->mu);
    return n;
}

enum field { F_BODY, F_AUTH, F_PATH };

static char *request_field(struct fakelm *f, enum field which, int i)
{
    pthread_mutex_lock(&f->mu);
    char **arr = which == F_AUTH ? f->auths : which == F_PATH ? f->paths : f->bodies;
    char *s = i >= 0 && i < f->n_req && arr[i] ? xstrdup(arr[i]) : NULL;
    pthread_mutex_unlock(&f->mu);
    return s;
}

char *fakelm_request_body(struct fakelm *f, int i)
{
    return request_field(f, F_BODY, i);
}

char *fakelm_request_auth(struct fakelm *f, int i)
{
    return request_field(f, F_AUTH, i);
}

char *fakelm_request_path(struct fakelm *f, int i)
{
    return request_field(f, F_PATH, i);
}

int fakelm_max_in_flight(struct fakelm *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->max_in_flight;
    pthread_mutex_unlock(&f->mu);
    return n;
}

int fakelm_connections(struct fakelm *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->connections;
    pthread_mutex_unlock(&f->mu);
    return n;
}

uint64_t fakelm_huge_bytes_sent(struct fakelm *f)
{
    pthread_mutex_lock(&f->mu);
    uint64_t n = f->huge_sent;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void fakelm_reset_stats(struct fakelm *f)
{
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < f->n_req; i++) {
        free(f->bodies[i]);
        free(f->auths[i]);
        free(f->paths[i]);
    }
    f->n_req = 0;
    f->max_in_flight = f->in_flight;
    f->arrivals = 0;
    f->connections = 0;
    f->huge_sent = 0;
    pthread_mutex_unlock(&f->mu);
}
