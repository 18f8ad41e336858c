/* `dse serve` (contract in server.h).  libmicrohttpd parses HTTP and owns
 * connections, limits and timeouts; this file routes requests, checks
 * tokens, and maps function calls to store_call on a per-thread store. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "sanitize.h"
#include "store.h"
#include "util.h"

/* ---- tokens ---- */

struct server_token {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    enum server_role role;
    char actor[80]; /* "token:<name>" */
};

struct server_tokens {
    struct server_token *v;
    size_t n;
};

void server_tokens_free(struct server_tokens *t)
{
    if (!t)
        return;
    OPENSSL_cleanse(t->v, t->n * sizeof *t->v);
    free(t->v);
    free(t);
}

static int token_char_ok(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

struct server_tokens *server_tokens_parse(const char *text, const char *path, struct dse_err *err)
{
    struct server_tokens *t = xcalloc(1, sizeof *t);
    size_t cap = 0;
    int lineno = 0;
    const char *p = text;
    while (*p) {
        lineno++;
        size_t len = strcspn(p, "\n");
        char *line = xstrndup(p, len);
        p += len + (p[len] == '\n');
        char *s = util_trim(line);
        char *words[4] = {0};
        int nw = 0;
        if (*s && *s != '#')
            for (char *save = NULL, *w = strtok_r(s, " \t\r", &save); w;
                 w = strtok_r(NULL, " \t\r", &save))
                words[nw < 4 ? nw++ : 3] = w;
        int bad = 0;
        if (nw == 0) {
            /* blank or comment */
        } else if (nw < 2 || nw > 3) {
            bad = dse_fail(err, "invalid_input",
                           "%s:%d: expected `<read|ingest|admin> <token> [name]`", path, lineno);
        } else if (strcmp(words[0], "read") != 0 && strcmp(words[0], "admin") != 0 &&
                   strcmp(words[0], "ingest") != 0) {
            bad = dse_fail(err, "invalid_input", "%s:%d: role must be read, ingest or admin", path,
                           lineno);
        } else {
            const char *tok = words[1];
            size_t tl = strlen(tok);
            int chars_ok = 1;
            for (size_t i = 0; i < tl; i++)
                chars_ok &= token_char_ok((unsigned char)tok[i]);
            const char *name = nw == 3 ? words[2] : NULL;
            int name_ok = 1;
            for (const char *c = name; c && *c; c++)
                name_ok &= (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                           (*c >= '0' && *c <= '9') || strchr("._@-", *c) != NULL;
            if (tl < 16 || tl > SERVER_MAX_TOKEN_LEN)
                bad = dse_fail(err, "invalid_input",
                               "%s:%d: token must be 16 to %d characters long", path, lineno,
                               SERVER_MAX_TOKEN_LEN);
            else if (!chars_ok)
                bad = dse_fail(err, "invalid_input",
                               "%s:%d: token must be printable ASCII without spaces", path, lineno);
            else if (!name_ok || (name && strlen(name) > 64))
                bad = dse_fail(err, "invalid_input",
                               "%s:%d: name must be 1-64 of letters, digits and ._@-", path,
                               lineno);
            else {
                struct server_token tk = {.role = words[0][0] == 'a'   ? SERVER_ROLE_ADMIN
                                                  : words[0][0] == 'i' ? SERVER_ROLE_INGEST
                                                                       : SERVER_ROLE_READ};
                SHA256((const unsigned char *)tok, tl, tk.digest);
                for (size_t i = 0; i < t->n && !bad; i++)
                    if (CRYPTO_memcmp(t->v[i].digest, tk.digest, sizeof tk.digest) == 0)
                        bad = dse_fail(err, "invalid_input",
                                       "%s:%d: the same token appears twice", path, lineno);
                if (name)
                    snprintf(tk.actor, sizeof tk.actor, "token:%s", name);
                else
                    snprintf(tk.actor, sizeof tk.actor, "token:%s%d", words[0], lineno);
                if (!bad) {
                    if (t->n == cap) {
                        cap = cap ? cap * 2 : 8;
                        t->v = xrealloc(t->v, cap * sizeof *t->v);
                    }
                    t->v[t->n++] = tk;
                }
                OPENSSL_cleanse(&tk, sizeof tk);
            }
        }
        OPENSSL_cleanse(line, len);
        free(line);
        if (bad) {
            server_tokens_free(t);
            return NULL;
        }
    }
    if (t->n == 0) {
        server_tokens_free(t);
        dse_fail(err, "invalid_input",
                 "%s: no tokens (lines of `<read|ingest|admin> <token> [name]`)", path);
        return NULL;
    }
    return t;
}

struct server_tokens *server_tokens_load(const char *path, struct dse_err *err)
{
    size_t len;
    char *text = util_read_file(path, 1u << 20, &len);
    if (!text) {
        dse_fail(err, "invalid_input", "cannot read tokens file %s: %s", path, strerror(errno));
        return NULL;
    }
    if (memchr(text, 0, len)) {
        OPENSSL_cleanse(text, len);
        free(text);
        dse_fail(err, "invalid_input", "%s: contains a NUL byte", path);
        return NULL;
    }
    struct server_tokens *t = server_tokens_parse(text, path, err);
    OPENSSL_cleanse(text, len);
    free(text);
    return t;
}

int server_tokens_check(const struct server_tokens *t, const char *authorization,
                        enum server_role *role, const char **actor)
{
    if (!t || !authorization)
        return -1;
    const char *a = authorization;
    while (*a == ' ' || *a == '\t')
        a++;
    if (strncasecmp(a, "Bearer", 6) != 0 || (a[6] != ' ' && a[6] != '\t'))
        return -1;
    a += 6;
    while (*a == ' ' || *a == '\t')
        a++;
    size_t n = strnlen(a, SERVER_MAX_TOKEN_LEN + 2);
    while (n > 0 && (a[n - 1] == ' ' || a[n - 1] == '\t'))
        n--;
    /* Length says nothing about a real token (all are <= the maximum). */
    if (n == 0 || n > SERVER_MAX_TOKEN_LEN)
        return -1;
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)a, n, d);
    /* Compare against every token without branching on the result. */
    size_t found = 0;
    unsigned any = 0;
    for (size_t i = 0; i < t->n; i++) {
        unsigned eq = (unsigned)(CRYPTO_memcmp(d, t->v[i].digest, sizeof d) == 0);
        size_t mask = (size_t)0 - (size_t)eq;
        found = (found & ~mask) | (i & mask);
        any |= eq;
    }
    OPENSSL_cleanse(d, sizeof d);
    if (!any)
        return -1;
    *role = t->v[found].role;
    *actor = t->v[found].actor;
    return 0;
}

unsigned server_status_for(const char *code)
{
    static const struct {
        const char *code;
        unsigned status;
    } exact[] = {
        {"invalid_input", 400}, {"invalid_json", 400},  {"usage", 400},
        {"unauthorized", 401},  {"forbidden", 403},     {"read_only", 403},
        {"unknown_function", 404}, {"unknown_signature", 404}, {"not_found", 404},
        {"method_not_allowed", 405}, {"too_large", 413}, {"unsupported", 501},
    };
    for (size_t i = 0; i < ARRAY_LEN(exact); i++)
        if (strcmp(code, exact[i].code) == 0)
            return exact[i].status;
    size_t n = strlen(code);
    if (n > 10 && strcmp(code + n - 10, "_not_found") == 0)
        return 404;
    if (strncmp(code, "invalid_", 8) == 0)
        return 400;
    static const char *const storage[] = {"sqlite", "storage", "internal", "io_", "busy",
                                          "corrupt", "disk", "schema_", "store_", "database"};
    for (size_t i = 0; i < ARRAY_LEN(storage); i++)
        if (strstr(code, storage[i]))
            return 500;
    /* a refusal because of the current state: control_missing,
     * rollback_failed, canary_artifact_missing, ... */
    return 409;
}

unsigned server_function_status(const char *code)
{
    unsigned st = server_status_for(code);
    return st == 500 || st == 401 ? st : 560;
}

/* The reference's functions callable without authentication (spec §2.1
 * "Auth: none"). */
static const char *const public_fns[] = {
    "dse/artifacts:getArtifact",
    "dse/artifacts:listArtifacts",
    "dse/active:getActive",
    "dse/canary:getCanary",
};

/* What an ingest token may call: the predict runtime's records. */
static const char *const ingest_fns[] = {
    "dse/receipts:recordPredictReceipt",
    "dsex/receipts:recordBatch",
    "dse/blobs:putText",
};

static bool path_in(const char *path, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(path, v[i]) == 0)
            return true;
    return false;
}

int server_role_may(enum server_role role, const char *path, bool mutation, bool public_queries,
                    struct dse_err *err)
{
    if (role == SERVER_ROLE_ADMIN)
        return 0;
    /* metadata only (backend, schema version, extensions): lets a remote
     * client open the store whatever its role */
    if (strcmp(path, "dsex/meta:info") == 0)
        return 0;
    if (public_queries && path_in(path, public_fns, ARRAY_LEN(public_fns)))
        return 0;
    size_t n = strlen(path);
    bool admin_only = strncmp(path, "dse/opsRuns:", 12) == 0 ||
                      (strncmp(path, "dse/", 4) == 0 && n > 5 && strcmp(path + n - 5, "Admin") == 0);
    switch (role) {
    case SERVER_ROLE_READ:
        if (mutation)
            return dse_fail(err, "forbidden", "%s needs an admin token", path);
        if (admin_only)
            return dse_fail(err, "forbidden", "%s needs an admin token (ops admin only)", path);
        return 0;
    case SERVER_ROLE_INGEST:
        if (path_in(path, ingest_fns, ARRAY_LEN(ingest_fns)))
            return 0;
        return dse_fail(err, "forbidden",
                        "%s: an ingest token may only record receipts and blobs", path);
    case SERVER_ROLE_PUBLIC:
        return dse_fail(err, "unauthorized", "%s needs a bearer token", path);
    case SERVER_ROLE_ADMIN:
        break;
    }
    return 0;
}

/* ---- server state ---- */

enum conn_phase { PHASE_WAITING, PHASE_BUSY, PHASE_CUT };

/* One TCP connection, for the request deadline watchdog. */
struct conn {
    int fd;
    enum conn_phase phase;
    int64_t since_ms; /* when the connection became ready for its next request */
    struct conn *prev, *next;
    bool url_nul;     /* unescape_url met %00 in the current request's URL */
};

struct server {
    const struct server_config *cfg;
    struct server_tokens *tokens; /* NULL: no auth (loopback only) */
    struct MHD_Daemon *daemon;
    unsigned store_flags;
    pthread_mutex_t lock;     /* conns, in_flight, stores, the MHD log limiter */
    pthread_mutex_t log_lock; /* log writes, kept apart from connection bookkeeping */
    struct conn *conns;
    unsigned in_flight;
    struct store **stores;
    size_t nstores, capstores;
    FILE *log;
    volatile int stopping;
};

static _Thread_local struct store *tl_store;

enum route {
    ROUTE_NONE,
    ROUTE_HEALTH,
    ROUTE_QUERY,
    ROUTE_MUTATION,
    ROUTE_ACTION,
    ROUTE_RECEIPT,
    ROUTE_BLOB,
};

struct req {
    enum route route;
    char method[8];
    char *url;       /* for the log */
    char fn[128];    /* function path, for the log */
    const char *actor;
    enum server_role role;
    struct sbuf body;
    int too_large;
    int answered;
    unsigned status;
    int64_t t0;
    struct conn *conn;
};

static void log_line(struct server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(struct server *s, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char ts[32];
    util_iso_time(util_now_ms(), ts);
    pthread_mutex_lock(&s->log_lock);
    fprintf(s->log, "%s %s\n", ts, buf);
    fflush(s->log);
    pthread_mutex_unlock(&s->log_lock);
}

/* libmicrohttpd logs once per broken connection; under a flood of them keep
 * at most MHD_LOG_PER_S lines a second and count the rest. */
#define MHD_LOG_PER_S 20
static void mhd_logger(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    struct server *s = cls;
    static int64_t window;
    static unsigned in_window, dropped;
    int64_t sec = util_mono_ms() / 1000;
    unsigned report = 0;
    pthread_mutex_lock(&s->lock);
    if (sec != window) {
        report = dropped;
        window = sec;
        in_window = dropped = 0;
    }
    bool drop = ++in_window > MHD_LOG_PER_S;
    dropped += drop;
    pthread_mutex_unlock(&s->lock);
    if (report)
        log_line(s, "mhd: %u more messages not shown", report);
    if (drop)
        return;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = 0;
    char *safe = sanitize(buf, n, 0);
    log_line(cls, "mhd: %s", safe);
    free(safe);
}

/* The worker thread's own store, opened on first use. */
static struct store *thread_store(struct server *s, struct dse_err *err)
{
    if (tl_store)
        return tl_store;
    struct store *st = store_open_sqlite(s->cfg->db_path, s->store_flags, err);
    if (!st)
        return NULL;
    pthread_mutex_lock(&s->lock);
    if (s->nstores == s->capstores) {
        s->capstores = s->capstores ? s->capstores * 2 : 16;
        s->stores = xrealloc(s->stores, s->capstores * sizeof *s->stores);
    }
    s->stores[s->nstores++] = st;
    pthread_mutex_unlock(&s->lock);
    tl_store = st;
    return st;
}

/* ---- responses ---- */

static enum MHD_Result respond(struct server *s, struct MHD_Connection *c, struct req *r,
                               unsigned status, const char *ctype, char *body, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                r->route == ROUTE_QUERY || r->route == ROUTE_MUTATION ||
                                        r->route == ROUTE_ACTION
                                    ? "POST"
                                    : "GET, HEAD");
    if (status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (s->stopping) /* let clients go during a graceful stop */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    r->answered = 1;
    r->status = status;
    pthread_mutex_lock(&s->lock);
    if (r->conn && r->conn->phase == PHASE_WAITING)
        r->conn->phase = PHASE_BUSY;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum MHD_Result respond_json(struct server *s, struct MHD_Connection *c, struct req *r,
                                    unsigned status, cJSON *doc)
{
    /* Canonical layout, terminal-safe strings (same values): responses end
     * up in terminals and logs. */
    char *text = json_canonical_safe(doc);
    cJSON_Delete(doc);
    return respond(s, c, r, status, "application/json; charset=utf-8", text, strlen(text));
}

/* Errors in the shape of the route: Convex for /api/query|mutation|action
 * ({status:"error", errorMessage, errorData:{code, message?}, logLines:[]}),
 * {ok:false, error} for the /api/dse routes and /healthz.  Status 0: the
 * route's status for the code (server_function_status on the Convex
 * routes, server_status_for on the others). */
static enum MHD_Result respond_error(struct server *s, struct MHD_Connection *c, struct req *r,
                                     unsigned status, const struct dse_err *e)
{
    cJSON *doc = json_obj();
    char msg[600];
    dse_err_str(e, msg, sizeof msg);
    bool convex = r->route == ROUTE_QUERY || r->route == ROUTE_MUTATION ||
                  r->route == ROUTE_ACTION || r->route == ROUTE_NONE;
    bool detail = e->msg[0] && strcmp(e->msg, e->code) != 0;
    if (convex) {
        json_set_str(doc, "status", "error");
        json_set_str(doc, "errorMessage", msg);
        cJSON *data = json_obj();
        json_set_str(data, "code", e->code);
        if (detail)
            json_set_str(data, "message", e->msg);
        json_set(doc, "errorData", data);
        json_set(doc, "logLines", json_arr());
    } else {
        json_set_bool(doc, "ok", false);
        json_set_str(doc, "error", e->code);
        if (detail)
            json_set_str(doc, "message", e->msg);
    }
    if (!status)
        status = convex ? server_function_status(e->code) : server_status_for(e->code);
    return respond_json(s, c, r, status, doc);
}

static enum MHD_Result fail_with(struct server *s, struct MHD_Connection *c, struct req *r,
                                 unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static enum MHD_Result fail_with(struct server *s, struct MHD_Connection *c, struct req *r,
                                 unsigned status, const char *code, const char *fmt, ...)
{
    struct dse_err e;
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    dse_fail(&e, code, "%s", buf);
    return respond_error(s, c, r, status, &e);
}

/* ---- convex_encoded_json arguments ---- */

/* Standard base64, padding optional; the decoded length or -1. */
static int b64_decode(const char *in, unsigned char *out, int cap)
{
    unsigned acc = 0;
    int bits = 0, n = 0;
    size_t len = strlen(in);
    while (len > 0 && in[len - 1] == '=')
        len--;
    for (size_t i = 0; i < len; i++) {
        const char *p = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                               in[i]);
        if (!in[i] || !p)
            return -1;
        acc = (acc << 6) | (unsigned)(p - "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789+/");
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap)
                return -1;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return n;
}

/* One {"$<type>": ...} value -> a number, or -1 with err and *status 400
 * (malformed) or 560 (well formed, but no dse function takes it). */
static int decode_special(const cJSON *v, double *num, unsigned *status, struct dse_err *err)
{
    const char *key = v->child->string;
    const cJSON *x = v->child;
    unsigned char b[8];
    *status = 400;
    if (strcmp(key, "$integer") == 0 || strcmp(key, "$float") == 0) {
        if (!cJSON_IsString(x) || b64_decode(x->valuestring, b, 9) != 8)
            return dse_fail(err, "invalid_input", "%s must be the base64 of 8 bytes", key);
        uint64_t u = 0;
        for (int i = 7; i >= 0; i--)
            u = (u << 8) | b[i]; /* little-endian */
        *status = 560;
        if (key[1] == 'i') {
            int64_t i = (int64_t)u;
            if (i > (INT64_C(1) << 53) || i < -(INT64_C(1) << 53))
                return dse_fail(err, "invalid_input",
                                "integer %lld does not fit a JSON number exactly", (long long)i);
            *num = (double)i;
            return 0;
        }
        double d;
        memcpy(&d, &u, sizeof d);
        if (d != d || d - d != 0)
            return dse_fail(err, "invalid_input", "NaN and Infinity are not accepted");
        *num = d + 0.0; /* -0 -> 0 */
        return 0;
    }
    if (strcmp(key, "$bytes") == 0) {
        *status = 560;
        return dse_fail(err, "invalid_input", "bytes values are not accepted by dse functions");
    }
    return dse_fail(err, "invalid_input",
                    "field name %.60s starts with '$', which convex_encoded_json reserves", key);
}

/* Decode the values of v in place (convex_encoded_json -> plain JSON). */
static int decode_encoded(cJSON *v, unsigned *status, struct dse_err *err)
{
    for (cJSON *it = v->child; it; it = it->next) {
        if (cJSON_IsObject(it) && it->child && !it->child->next && it->child->string &&
            it->child->string[0] == '$') {
            double num = 0;
            if (decode_special(it, &num, status, err) < 0)
                return -1;
            cJSON *n = cJSON_CreateNumber(num);
            cJSON_ReplaceItemViaPointer(v, it, n);
            it = n;
            continue;
        }
        if (it->string && it->string[0] == '$') {
            *status = 400;
            return dse_fail(err, "invalid_input",
                            "field name %.60s starts with '$', which convex_encoded_json reserves",
                            it->string);
        }
        if ((cJSON_IsObject(it) || cJSON_IsArray(it)) && decode_encoded(it, status, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- handlers ---- */

static enum MHD_Result handle_health(struct server *s, struct MHD_Connection *c, struct req *r)
{
    struct dse_err e = {0};
    cJSON *doc = json_obj();
    if (!thread_store(s, &e)) {
        json_set_bool(doc, "ok", false);
        json_set_str(doc, "error", e.code);
        return respond_json(s, c, r, 503, doc);
    }
    json_set_bool(doc, "ok", true);
    json_set_str(doc, "service", "dse");
    json_set_str(doc, "version", DSE_VERSION);
    json_set_bool(doc, "readOnly", s->cfg->read_only);
    return respond_json(s, c, r, 200, doc);
}

static enum MHD_Result handle_call(struct server *s, struct MHD_Connection *c, struct req *r)
{
    struct dse_err e = {0};
    if (r->too_large)
        return fail_with(s, c, r, 413, "too_large",
                         "request body is larger than %zu bytes (dse serve --max-body)",
                         s->cfg->max_body);
    cJSON *doc = json_parse(r->body.s ? r->body.s : "", r->body.len, s->cfg->max_body, &e);
    if (!doc)
        return respond_error(s, c, r, 400, &e);
    enum MHD_Result rc;
    const cJSON *path = json_get(doc, "path");
    const cJSON *args = json_get(doc, "args");
    const cJSON *format = json_get(doc, "format");
    if (!cJSON_IsObject(doc) || !cJSON_IsString(path)) {
        rc = fail_with(s, c, r, 400, "invalid_input",
                       "body must be {\"path\": \"dse/<module>:<function>\", \"args\": {...}}");
        goto out;
    }
    snprintf(r->fn, sizeof r->fn, "%s", path->valuestring);
    /* ConvexHttpClient sends the arguments as a one-element array */
    if (cJSON_IsArray(args) && cJSON_GetArraySize(args) == 1 && cJSON_IsObject(args->child))
        args = args->child;
    if (args && !cJSON_IsNull(args) && !cJSON_IsObject(args)) {
        rc = fail_with(s, c, r, 400, "invalid_input",
                       "args must be a JSON object (or an array of exactly one object)");
        goto out;
    }
    bool encoded = cJSON_IsString(format) &&
                   strcmp(format->valuestring, "convex_encoded_json") == 0;
    if (format && !cJSON_IsNull(format) && !encoded &&
        !(cJSON_IsString(format) && strcmp(format->valuestring, "json") == 0)) {
        rc = fail_with(s, c, r, 400, "invalid_input",
                       "format must be \"json\" or \"convex_encoded_json\"");
        goto out;
    }
    unsigned dstatus = 0;
    if (encoded && cJSON_IsObject(args) && decode_encoded((cJSON *)args, &dstatus, &e) < 0) {
        rc = respond_error(s, c, r, dstatus, &e);
        goto out;
    }
    /* From here on a refusal is the function's error (560), as Convex
     * answers a function that threw. */
    const struct store_op_info *op = store_op_by_path(path->valuestring);
    if (!op) {
        rc = fail_with(s, c, r, 0, "unknown_function", "no function %.200s",
                       path->valuestring);
        goto out;
    }
    if (server_role_may(r->role, op->path, op->kind == STORE_MUTATION, s->cfg->public_queries,
                        &e) < 0) {
        rc = respond_error(s, c, r, 0, &e);
        goto out;
    }
    if (op->kind == STORE_MUTATION && r->route == ROUTE_QUERY) {
        rc = fail_with(s, c, r, 0, "invalid_input",
                       "%s is a mutation: call it through /api/mutation", op->path);
        goto out;
    }
    struct store *st = thread_store(s, &e);
    if (!st) {
        rc = respond_error(s, c, r, 500, &e);
        goto out;
    }
    store_set_actor(st, r->actor);
    cJSON *value = NULL;
    if (store_call(st, op->op, cJSON_IsObject(args) ? args : NULL, &value, &e) < 0) {
        rc = respond_error(s, c, r, 0, &e);
        goto out;
    }
    cJSON *res = json_obj();
    json_set_str(res, "status", "success");
    json_set(res, "value", value);
    json_set(res, "logLines", json_arr());
    rc = respond_json(s, c, r, 200, res);
out:
    cJSON_Delete(doc);
    return rc;
}

/* GET /api/dse/receipt/:id and /api/dse/blob/:id/:blobId */
static enum MHD_Result handle_receipt(struct server *s, struct MHD_Connection *c, struct req *r,
                                      const char *rest)
{
    struct dse_err e = {0};
    /* the worker's session routes: any reader (no thread owners here) */
    if (r->role == SERVER_ROLE_INGEST)
        return fail_with(s, c, r, 403, "forbidden", "an ingest token may not read receipts");
    char receipt_id[256], blob_id[256] = "";
    const char *slash = strchr(rest, '/');
    if (r->route == ROUTE_BLOB) {
        if (!slash || slash == rest || !slash[1] || strchr(slash + 1, '/') ||
            (size_t)(slash - rest) >= sizeof receipt_id || strlen(slash + 1) >= sizeof blob_id)
            return fail_with(s, c, r, 400, "invalid_input",
                             "expected /api/dse/blob/:receiptId/:blobId");
        snprintf(receipt_id, sizeof receipt_id, "%.*s", (int)(slash - rest), rest);
        snprintf(blob_id, sizeof blob_id, "%s", slash + 1);
    } else {
        if (!rest[0] || slash || strlen(rest) >= sizeof receipt_id)
            return fail_with(s, c, r, 400, "invalid_input", "expected /api/dse/receipt/:receiptId");
        snprintf(receipt_id, sizeof receipt_id, "%s", rest);
    }
    struct store *st = thread_store(s, &e);
    if (!st)
        return respond_error(s, c, r, 500, &e);
    store_set_actor(st, r->actor);
    cJSON *args = json_obj(), *rec = NULL;
    json_set_str(args, "receiptId", receipt_id);
    int rc = store_call(st, STORE_OP_receipts_get_admin, args, &rec, &e);
    cJSON_Delete(args);
    if (rc < 0)
        return respond_error(s, c, r, 0, &e);
    cJSON *got = rec; /* {ok, receipt: null | {threadId, runId, json, createdAtMs}} */
    rec = cJSON_DetachItemFromObjectCaseSensitive(got, "receipt");
    cJSON_Delete(got);
    if (r->route == ROUTE_RECEIPT) {
        cJSON *doc = json_obj();
        json_set_bool(doc, "ok", true);
        if (!cJSON_IsObject(rec)) {
            json_set_null(doc, "receipt");
        } else {
            json_set_copy(doc, "receipt", json_get(rec, "json"));
            json_set_copy(doc, "threadId", json_get(rec, "threadId"));
            json_set_copy(doc, "runId", json_get(rec, "runId"));
            json_set_copy(doc, "createdAtMs", json_get(rec, "createdAtMs"));
        }
        cJSON_Delete(rec);
        return respond_json(s, c, r, 200, doc);
    }
    if (!cJSON_IsObject(rec)) {
        cJSON_Delete(rec);
        return fail_with(s, c, r, 404, "receipt_not_found", "no receipt %s", receipt_id);
    }
    const char *thread = json_str(rec, "threadId", ""), *run = json_str(rec, "runId", "");
    if (!thread[0] || !run[0]) {
        cJSON_Delete(rec);
        return fail_with(s, c, r, 500, "receipt_missing_scope",
                         "receipt %s has no threadId/runId", receipt_id);
    }
    args = json_obj();
    json_set_str(args, "threadId", thread);
    json_set_str(args, "runId", run);
    json_set_str(args, "blobId", blob_id);
    cJSON_Delete(rec);
    cJSON *blob = NULL;
    rc = store_call(st, STORE_OP_blobs_get_admin, args, &blob, &e);
    cJSON_Delete(args);
    if (rc < 0)
        return respond_error(s, c, r, 0, &e);
    const cJSON *text = json_get(blob, "text");
    if (!cJSON_IsString(text)) {
        cJSON_Delete(blob);
        return fail_with(s, c, r, 404, "blob_not_found", "no blob %s for receipt %s", blob_id,
                         receipt_id);
    }
    size_t len = strlen(text->valuestring);
    char *body = xstrndup(text->valuestring, len);
    cJSON_Delete(blob);
    return respond(s, c, r, 200, "text/plain; charset=utf-8", body, len);
}

static enum route route_of(const char *url, const char **rest)
{
    static const struct {
        const char *path;
        enum route route;
        int prefix;
    } routes[] = {
        {"/healthz", ROUTE_HEALTH, 0},
        {"/api/query", ROUTE_QUERY, 0},
        {"/api/mutation", ROUTE_MUTATION, 0},
        {"/api/action", ROUTE_ACTION, 0},
        {"/api/dse/receipt/", ROUTE_RECEIPT, 1},
        {"/api/dse/blob/", ROUTE_BLOB, 1},
    };
    *rest = "";
    for (size_t i = 0; i < ARRAY_LEN(routes); i++) {
        size_t n = strlen(routes[i].path);
        if (routes[i].prefix ? strncmp(url, routes[i].path, n) == 0
                             : strcmp(url, routes[i].path) == 0) {
            *rest = url + n;
            return routes[i].route;
        }
    }
    return ROUTE_NONE;
}

/* ---- request checks before routing ---- */

static int hex_digit(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* MHD_OPTION_UNESCAPE_CALLBACK: libmicrohttpd's own %XX decoding of the
 * path and the query arguments, except that a %00 is noted on the
 * connection.  Decoded text ends at the NUL, so "/api/query%00junk" would
 * be routed as "/api/query"; request_refused answers 400 instead. */
static size_t unescape_url(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    char *w = s;
    bool nul = false;
    for (const char *p = s; *p;) {
        int hi, lo;
        if (p[0] == '%' && (hi = hex_digit(p[1])) >= 0 && (lo = hex_digit(p[2])) >= 0) {
            *w++ = (char)(hi << 4 | lo);
            nul |= hi == 0 && lo == 0;
            p += 3;
        } else {
            *w++ = *p++;
        }
    }
    *w = 0;
    if (nul) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        struct conn *k = ci ? ci->socket_context : NULL;
        if (k)
            k->url_nul = true;
    }
    return (size_t)(w - s);
}

struct header_count {
    unsigned content_length, authorization, transfer_encoding;
    bool nul;
    const char *te; /* the (only) Transfer-Encoding value */
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    size_t key_size, const char *value, size_t value_size)
{
    struct header_count *h = cls;
    (void)kind;
    if (!key)
        return MHD_YES;
    if (strlen(key) != key_size || (value && strlen(value) != value_size))
        h->nul = true;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        h->content_length++;
    else if (strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION) == 0)
        h->authorization++;
    else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        h->transfer_encoding++;
        h->te = value ? value : "";
    }
    return MHD_YES;
}

/* True if v, without surrounding spaces and tabs, is `word` (any case). */
static bool header_is(const char *v, const char *word)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v), w = strlen(word);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    return n == w && strncasecmp(v, word, w) == 0;
}

/* Requests libmicrohttpd passes on but that have no single meaning:
 * a %00 in the URL, a NUL inside a header (a token would match by its
 * prefix), two Content-Length or two Authorization headers (which one
 * counts?), Content-Length with Transfer-Encoding (400), and any
 * Transfer-Encoding but chunked (501: MHD would wait for the client to
 * close the connection).  True when an error answer was queued (*rc). */
static bool request_refused(struct server *s, struct MHD_Connection *c, struct req *r,
                            enum MHD_Result *rc)
{
    bool url_nul = r->conn && r->conn->url_nul;
    if (r->conn)
        r->conn->url_nul = false;
    struct header_count h = {0};
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, count_header, &h);
    if (url_nul)
        *rc = fail_with(s, c, r, 400, "invalid_request", "the URL holds an encoded NUL (%%00)");
    else if (h.nul)
        *rc = fail_with(s, c, r, 400, "invalid_request", "a request header holds a NUL byte");
    else if (h.content_length > 1)
        *rc = fail_with(s, c, r, 400, "invalid_request", "more than one Content-Length header");
    else if (h.authorization > 1)
        *rc = fail_with(s, c, r, 400, "invalid_request", "more than one Authorization header");
    else if (h.transfer_encoding > 1 || (h.transfer_encoding && !header_is(h.te, "chunked")))
        *rc = fail_with(s, c, r, 501, "unsupported",
                        "Transfer-Encoding: only chunked is supported");
    else if (h.transfer_encoding && h.content_length)
        *rc = fail_with(s, c, r, 400, "invalid_request",
                        "both Transfer-Encoding and Content-Length");
    else
        return false;
    return true;
}

/* First call for a request: headers are in, the body is not.  Answers
 * right away when the route, method, token or declared size is wrong, so
 * no body is read for a request that will be refused. */
static enum MHD_Result begin_request(struct server *s, struct MHD_Connection *c, struct req *r,
                                     const char *method)
{
    bool post_route = r->route == ROUTE_QUERY || r->route == ROUTE_MUTATION ||
                      r->route == ROUTE_ACTION;
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    enum MHD_Result refused;
    if (request_refused(s, c, r, &refused))
        return refused;
    if (r->route == ROUTE_NONE)
        return fail_with(s, c, r, 404, "not_found", "no route %.200s", r->url);
    if (post_route ? strcmp(method, "POST") != 0 : !get) {
        char *body = xstrdup("Method not allowed");
        return respond(s, c, r, 405, "text/plain; charset=utf-8", body, strlen(body));
    }
    if (r->route == ROUTE_HEALTH)
        return MHD_YES;
    if (s->tokens) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_AUTHORIZATION);
        if (!auth && s->cfg->public_queries && post_route) {
            r->role = SERVER_ROLE_PUBLIC; /* handle_call decides per function */
            r->actor = "public";
        } else if (server_tokens_check(s->tokens, auth, &r->role, &r->actor) < 0) {
            return fail_with(s, c, r, 401, "unauthorized", "missing or invalid bearer token");
        }
    } else {
        r->role = SERVER_ROLE_ADMIN;
        r->actor = "local";
    }
    if (post_route) {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        int64_t n;
        if (cl && util_parse_i64(cl, &n) && n > (int64_t)s->cfg->max_body)
            return fail_with(s, c, r, 413, "too_large",
                             "request body is larger than %zu bytes (dse serve --max-body)",
                             s->cfg->max_body);
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **req_cls)
{
    (void)version;
    struct server *s = cls;
    struct req *r = *req_cls;
    if (!r) {
        r = xcalloc(1, sizeof *r);
        *req_cls = r;
        r->t0 = util_mono_ms();
        r->url = xstrndup(url, 256);
        snprintf(r->method, sizeof r->method, "%s", method);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        r->conn = ci ? ci->socket_context : NULL;
        pthread_mutex_lock(&s->lock);
        s->in_flight++;
        pthread_mutex_unlock(&s->lock);
        const char *rest;
        r->route = route_of(url, &rest);
        return begin_request(s, c, r, method);
    }
    if (*upload_size) {
        if (!r->answered && !r->too_large) {
            if (r->body.len + *upload_size > s->cfg->max_body) {
                r->too_large = 1; /* keep reading (and dropping) so we can answer 413 */
                sbuf_free(&r->body);
            } else {
                sbuf_add(&r->body, upload_data, *upload_size);
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->answered)
        return MHD_YES;
    const char *rest;
    route_of(url, &rest);
    switch (r->route) {
    case ROUTE_HEALTH:
        return handle_health(s, c, r);
    case ROUTE_RECEIPT:
    case ROUTE_BLOB:
        return handle_receipt(s, c, r, rest);
    default:
        return handle_call(s, c, r);
    }
}

static void client_ip(struct MHD_Connection *c, char *out, size_t cap)
{
    snprintf(out, cap, "-");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct server *s = cls;
    struct req *r = *req_cls;
    if (!r)
        return;
    *req_cls = NULL;
    double ms = (double)(util_mono_ms() - r->t0);
    char ip[64];
    client_ip(c, ip, sizeof ip);
    char *url = sanitize_str(r->url, SAN_ASCII);
    char *fn = sanitize_str(r->fn[0] ? r->fn : "-", SAN_ASCII);
    char *method = sanitize_str(r->method, SAN_ASCII);
    char status[16];
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && r->status)
        snprintf(status, sizeof status, "%u", r->status);
    else
        snprintf(status, sizeof status, "%s", r->status ? "aborted" : "dropped");
    log_line(s, "%s %s %s %s %s %.0fms %s", ip, method, url, fn, status, ms,
             r->actor ? r->actor : "-");
    free(url);
    free(fn);
    free(method);
    pthread_mutex_lock(&s->lock);
    s->in_flight--;
    if (r->conn && r->conn->phase != PHASE_CUT) {
        r->conn->phase = PHASE_WAITING;
        r->conn->since_ms = util_mono_ms();
    }
    pthread_mutex_unlock(&s->lock);
    sbuf_free(&r->body);
    free(r->url);
    free(r);
}

/* MHD calls CLOSED before it closes the socket, and both calls come with the
 * lock free, so the watchdog never touches a descriptor that was reused. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn *k = xcalloc(1, sizeof *k);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        k->fd = ci ? ci->connect_fd : -1;
        k->phase = PHASE_WAITING;
        k->since_ms = util_mono_ms();
        pthread_mutex_lock(&s->lock);
        k->next = s->conns;
        if (s->conns)
            s->conns->prev = k;
        s->conns = k;
        pthread_mutex_unlock(&s->lock);
        *socket_context = k;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct conn *k = *socket_context;
        if (!k)
            return;
        pthread_mutex_lock(&s->lock);
        if (k->prev)
            k->prev->next = k->next;
        else
            s->conns = k->next;
        if (k->next)
            k->next->prev = k->prev;
        pthread_mutex_unlock(&s->lock);
        free(k);
        *socket_context = NULL;
    }
}

/* Cut off connections whose request has not arrived within the deadline.
 * shutdown() (not close) makes MHD see end-of-stream and close it itself. */
static void watchdog(struct server *s)
{
    int64_t now = util_mono_ms(), limit = (int64_t)s->cfg->timeout_s * 1000;
    unsigned cut = 0;
    pthread_mutex_lock(&s->lock);
    for (struct conn *k = s->conns; k; k = k->next)
        if (k->phase == PHASE_WAITING && now - k->since_ms > limit && k->fd >= 0) {
            shutdown(k->fd, SHUT_RDWR);
            k->phase = PHASE_CUT;
            cut++;
        }
    pthread_mutex_unlock(&s->lock);
    if (cut)
        log_line(s, "closed %u connection%s that sent no complete request within %us", cut,
                 cut == 1 ? "" : "s", s->cfg->timeout_s);
}

/* ---- start and stop ---- */

struct listen_addr {
    struct sockaddr_storage ss;
    bool v6, loopback;
    char shown[128];
};

static int parse_listen(const char *spec, struct listen_addr *la, struct dse_err *err)
{
    char host[256] = "127.0.0.1", port[16];
    const char *colon = strrchr(spec, ':');
    if (!colon) {
        snprintf(port, sizeof port, "%s", spec);
    } else {
        size_t hl = (size_t)(colon - spec);
        if (hl >= sizeof host || strlen(colon + 1) >= sizeof port)
            return dse_fail(err, "usage", "--listen %s: too long", spec);
        memcpy(host, spec, hl);
        host[hl] = 0;
        snprintf(port, sizeof port, "%s", colon + 1);
        if (host[0] == '[') {
            size_t n = strlen(host);
            if (n < 3 || host[n - 1] != ']')
                return dse_fail(err, "usage", "--listen %s: bad IPv6 address", spec);
            memmove(host, host + 1, n - 2);
            host[n - 2] = 0;
        }
        if (!host[0])
            return dse_fail(err, "usage",
                            "--listen %s: give a host (0.0.0.0 for every interface)", spec);
    }
    int64_t pn;
    if (!util_parse_i64(port, &pn) || pn < 0 || pn > 65535)
        return dse_fail(err, "usage", "--listen %s: port must be 0..65535", spec);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int g = getaddrinfo(host, port, &hints, &ai);
    if (g != 0 || !ai)
        return dse_fail(err, "usage", "--listen %s: %s", spec, gai_strerror(g));
    memcpy(&la->ss, ai->ai_addr, ai->ai_addrlen);
    la->v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    if (la->v6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&la->ss)->sin6_addr;
        la->loopback = IN6_IS_ADDR_LOOPBACK(a);
    } else {
        uint32_t a = ntohl(((struct sockaddr_in *)&la->ss)->sin_addr.s_addr);
        la->loopback = (a >> 24) == 127;
    }
    char txt[INET6_ADDRSTRLEN];
    if (la->v6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&la->ss)->sin6_addr, txt, sizeof txt);
    else
        inet_ntop(AF_INET, &((struct sockaddr_in *)&la->ss)->sin_addr, txt, sizeof txt);
    snprintf(la->shown, sizeof la->shown, la->v6 ? "[%s]" : "%s", txt);
    return 0;
}

/* Each connection is a descriptor: lift the soft limit toward the hard one
 * so --max-connections is reachable. */
static void raise_fd_limit(unsigned need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return;
    rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
    rl.rlim_cur = want;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (want < need)
        fprintf(stderr,
                "dse serve: warning: only %lu file descriptors allowed; fewer than %u "
                "connections will fit (raise `ulimit -n`)\n",
                (unsigned long)want, need - 64);
}

static unsigned default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 2)
        n = 2;
    if (n > 16)
        n = 16;
    return (unsigned)n;
}

int server_run(const struct server_config *cfg, struct dse_err *err)
{
    struct listen_addr la = {0};
    if (parse_listen(cfg->listen ? cfg->listen : "127.0.0.1:8787", &la, err) < 0)
        return -1;
    if (!cfg->db_path || !cfg->db_path[0] || strcmp(cfg->db_path, ":memory:") == 0)
        return dse_fail(err, "usage", "dse serve needs a store file (--db PATH)");
    struct server s = {.cfg = cfg, .log = stderr};
    if (!cfg->tokens_path && !la.loopback)
        return dse_fail(err, "usage",
                        "refusing to listen on %s without --tokens: anyone who can reach it "
                        "could change the store (give --tokens FILE, or listen on 127.0.0.1)",
                        la.shown);
    if (cfg->tokens_path) {
        s.tokens = server_tokens_load(cfg->tokens_path, err);
        if (!s.tokens)
            return -1;
        struct stat sb;
        if (stat(cfg->tokens_path, &sb) == 0 && (sb.st_mode & 0077))
            fprintf(stderr, "dse serve: warning: %s is readable by other users (chmod 600 it)\n",
                    cfg->tokens_path);
    } else {
        fprintf(stderr, "dse serve: warning: no --tokens: every local client is an admin\n");
    }
    /* Open once here: creates and migrates the store, and fails early. */
    struct store *first = store_open_sqlite(cfg->db_path, cfg->read_only ? STORE_READ_ONLY : 0,
                                            err);
    if (!first) {
        server_tokens_free(s.tokens);
        return -1;
    }
    store_close(first);
    s.store_flags = STORE_NO_CREATE | (cfg->read_only ? STORE_READ_ONLY : 0);
    if (cfg->log_path) {
        s.log = fopen(cfg->log_path, "a");
        if (!s.log) {
            server_tokens_free(s.tokens);
            return dse_fail(err, "usage", "cannot open log %s: %s", cfg->log_path,
                            strerror(errno));
        }
    }
    pthread_mutex_init(&s.lock, NULL);
    pthread_mutex_init(&s.log_lock, NULL);

    /* Signals go to this thread only: block them before MHD starts its
     * threads (which inherit the mask), then wait for them below. */
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);

    unsigned max_conns = cfg->max_connections ? cfg->max_connections
                                              : SERVER_DEFAULT_MAX_CONNECTIONS;
    raise_fd_limit(max_conns + 64);
    unsigned threads = cfg->threads ? cfg->threads : default_threads();
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     (la.v6 ? MHD_USE_IPv6 : 0);
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_logger, &s}, /* first, or MHD warns */
        {MHD_OPTION_SOCK_ADDR, 0, &la.ss},
        {MHD_OPTION_CONNECTION_LIMIT, max_conns, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout_s, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_per_ip, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, threads, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, &s},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, &s},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape_url, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    uint16_t want_port = ntohs(la.v6 ? ((struct sockaddr_in6 *)&la.ss)->sin6_port
                                     : ((struct sockaddr_in *)&la.ss)->sin_port);
    s.daemon = MHD_start_daemon(flags, want_port, NULL, NULL, on_request, &s, MHD_OPTION_ARRAY,
                                opts, MHD_OPTION_END);
    if (!s.daemon) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        int e = errno;
        if (s.log != stderr)
            fclose(s.log);
        server_tokens_free(s.tokens);
        pthread_mutex_destroy(&s.lock);
        pthread_mutex_destroy(&s.log_lock);
        return dse_fail(err, "listen_failed", "cannot listen on %s: %s", cfg->listen,
                        e ? strerror(e) : "libmicrohttpd refused the configuration");
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s.daemon, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = di ? di->port : 0;
    printf("dse serve: listening on http://%s:%u\n", la.shown, port);
    fflush(stdout);
    log_line(&s, "serving %s on %s:%u (%u threads, body <= %zu bytes, timeout %us, %s)",
             cfg->db_path, la.shown, port, threads, cfg->max_body, cfg->timeout_s,
             s.tokens ? "tokens required" : "no tokens");

    int sig = 0;
    for (;;) {
        struct timespec tick = {0, 250 * 1000000L};
        sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        watchdog(&s);
    }
    log_line(&s, "%s: stopping: no new connections, finishing requests in flight",
             sig == SIGTERM ? "SIGTERM" : "SIGINT");
    s.stopping = 1;
    MHD_socket lfd = MHD_quiesce_daemon(s.daemon);
    int64_t deadline = util_mono_ms() + (int64_t)(cfg->timeout_s + 5) * 1000;
    for (;;) {
        pthread_mutex_lock(&s.lock);
        unsigned busy = s.in_flight;
        pthread_mutex_unlock(&s.lock);
        if (!busy || util_mono_ms() > deadline)
            break;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
        watchdog(&s); /* a trickling upload must not hold the stop up */
    }
    MHD_stop_daemon(s.daemon);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    for (size_t i = 0; i < s.nstores; i++)
        store_close(s.stores[i]);
    free(s.stores);
    log_line(&s, "stopped");
    if (s.log != stderr)
        fclose(s.log);
    server_tokens_free(s.tokens);
    pthread_mutex_destroy(&s.lock);
    pthread_mutex_destroy(&s.log_lock);
    return 0;
}
