/* Remote back end: every store operation forwarded to a server speaking the
 * Convex HTTP function API (`dse serve`, or a deployment of the reference
 * functions).
 *
 * One libcurl easy handle per store handle, reused so the connection stays
 * open between calls; store_call() serialises calls on a handle, so the
 * handle needs no lock of its own.  Queries are idempotent and retried on
 * transport failures and 502/503/504; mutations are sent once.
 *
 * Replies: {status:"success", value} is the value; {status:"error",
 * errorMessage, errorData?} is a function error whatever the HTTP status
 * (`dse serve` and Convex cloud answer 560, some Convex backends
 * 200).  The code comes from errorData.code (or errorData itself when it is a
 * string), else from the "code: detail" in errorMessage.
 *
 * Extensions: at open we ask the server for dsex/meta:info once.  A server
 * without it (a plain reference deployment answers with an error) gets no
 * dsex operations except the few we can emulate with the reference's own
 * functions: receipt and example paging, the change counter and info. */
#include "store.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "collate.h"
#include "json.h"
#include "util.h"

#define REMOTE_MAX_REPLY (64u << 20)     /* bounded in the write callback */
#define REMOTE_CONNECT_TIMEOUT_MS 3000L
#define REMOTE_TOTAL_TIMEOUT_MS 15000L
#define REMOTE_QUERY_RETRIES 2
/* STORE_INTERACTIVE: give up after this long without a byte, and back off
 * from a server that stopped answering (see store.h). */
#define REMOTE_STALL_S 2L
#define REMOTE_BACKOFF_MIN_MS 2000
#define REMOTE_BACKOFF_MAX_MS 15000
/* Below `dse serve`'s default idle timeout (10 s): a connection idle this long
 * is not reused, so a request is never sent on one the server is closing. */
#define REMOTE_MAX_CONN_AGE_S 5L

struct remote {
    CURL *curl;
    struct curl_slist *headers; /* holds the bearer token; wiped at close */
    char *url_query;            /* {base}/api/query */
    char *url_mutation;         /* {base}/api/mutation */
    char *shown;                /* base URL without userinfo, for messages */
    struct store_ops ops;       /* per handle: depends on the server's extensions */
    struct sbuf reply;
    int reply_too_big;
    uint64_t fake_counter;      /* change "counter" when the server has none */
    bool interactive;           /* STORE_INTERACTIVE */
    bool stalled;               /* interactive: the last transfer was cut for silence */
    curl_off_t seen_dl, seen_ul;/* interactive: byte counts at the last progress */
    int64_t seen_ms;            /* interactive: when they last moved (mono ms) */
    int64_t down_until;         /* interactive: fail at once before this (mono ms) */
    int backoff_ms;             /* interactive: the current back-off, 0 when up */
    struct dse_err down_err;    /* interactive: why the server is taken as down */
    bool not_admin;             /* the server refused an *Admin function (forbidden) */
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void remote_global_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t remote_write(char *data, size_t size, size_t nmemb, void *userp)
{
    struct remote *r = userp;
    size_t n = size * nmemb;
    if (r->reply.len + n > REMOTE_MAX_REPLY) {
        r->reply_too_big = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    sbuf_add(&r->reply, data, n);
    return n;
}

/* Error code = the identifier before ": " in a Convex errorMessage.  Convex
 * wraps a thrown Error("code: detail") as "...Uncaught Error: code: detail\n
 * at ...", so look past that prefix first. */
static int is_code(const char *s, size_t n)
{
    if (n == 0 || n >= sizeof ((struct dse_err *)0)->code || !islower((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_')
            return 0;
    return 1;
}

static int fail_from_message(const char *message, struct dse_err *err)
{
    const char *m = message;
    const char *u = strstr(m, "Uncaught Error: ");
    if (u)
        m = u + strlen("Uncaught Error: ");
    size_t line = strcspn(m, "\n");
    const char *colon = memchr(m, ':', line);
    if (colon && colon + 1 < m + line && colon[1] == ' ' && is_code(m, (size_t)(colon - m))) {
        char code[48];
        memcpy(code, m, (size_t)(colon - m));
        code[colon - m] = 0;
        const char *rest = colon + 2;
        return dse_fail(err, code, "%.*s", (int)(m + line - rest), rest);
    }
    if (is_code(m, line)) {
        char code[48];
        memcpy(code, m, line);
        code[line] = 0;
        return dse_fail(err, code, "%s", code);
    }
    return dse_fail(err, "remote_error", "%s", message);
}

static int transient_http(long status)
{
    return status == 502 || status == 503 || status == 504;
}

static int transient_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return 1;
    default:
        return 0;
    }
}

/* Interactive handles: cut a transfer when no byte went either way for
 * REMOTE_STALL_S (libcurl calls this about once a second when idle).  Its
 * own low-speed limit averages over several seconds, so the request just
 * sent would hide a silent server for a while. */
static int remote_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                           curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    struct remote *r = p;
    int64_t now = util_mono_ms();
    if (dlnow != r->seen_dl || ulnow != r->seen_ul) {
        r->seen_dl = dlnow;
        r->seen_ul = ulnow;
        r->seen_ms = now;
        return 0;
    }
    if (now - r->seen_ms >= REMOTE_STALL_S * 1000) {
        r->stalled = true;
        return 1; /* CURLE_ABORTED_BY_CALLBACK */
    }
    return 0;
}

static int fail_transport(struct remote *r, CURLcode rc, struct dse_err *err)
{
    if (rc == CURLE_ABORTED_BY_CALLBACK && r->stalled) {
        double connect_s = 0;
        curl_easy_getinfo(r->curl, CURLINFO_PRETRANSFER_TIME, &connect_s);
        if (connect_s <= 0)
            return dse_fail(err, "remote_unreachable", "cannot reach %s: no connection after %ld s",
                            r->shown, REMOTE_STALL_S);
        return dse_fail(err, "remote_unreachable", "%s sent nothing for %ld s", r->shown,
                        REMOTE_STALL_S);
    }
    if (rc == CURLE_WRITE_ERROR && r->reply_too_big)
        return dse_fail(err, "remote_too_large", "reply from %s is larger than %u MiB", r->shown,
                        REMOTE_MAX_REPLY >> 20);
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
        rc == CURLE_SSL_CONNECT_ERROR)
        return dse_fail(err, "remote_unreachable", "cannot reach %s: TLS failed: %s", r->shown,
                        r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        double connect_s = 0;
        curl_easy_getinfo(r->curl, CURLINFO_CONNECT_TIME, &connect_s);
        if (connect_s <= 0)
            return dse_fail(err, "remote_unreachable", "cannot reach %s: no connection after %ld s",
                            r->shown,
                            r->interactive ? REMOTE_STALL_S : REMOTE_CONNECT_TIMEOUT_MS / 1000);
        return dse_fail(err, "remote_unreachable", "%s did not answer within %ld s", r->shown,
                        REMOTE_TOTAL_TIMEOUT_MS / 1000);
    }
    long os_errno = 0;
    curl_easy_getinfo(r->curl, CURLINFO_OS_ERRNO, &os_errno);
    if (rc == CURLE_COULDNT_CONNECT && os_errno) {
        char why[64];
        snprintf(why, sizeof why, "%s", strerror((int)os_errno));
        why[0] = (char)tolower((unsigned char)why[0]);
        return dse_fail(err, "remote_unreachable", "cannot reach %s: %s", r->shown, why);
    }
    if (rc == CURLE_COULDNT_RESOLVE_HOST)
        return dse_fail(err, "remote_unreachable", "cannot reach %s: host name not found",
                        r->shown);
    return dse_fail(err, "remote_unreachable", "cannot reach %s: %s", r->shown,
                    r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
}

/* The reply body of a completed exchange -> value or error. */
static int remote_decode(struct remote *r, long status, cJSON **out, struct dse_err *err)
{
    struct dse_err perr = {0};
    cJSON *doc = r->reply.len ? json_parse(r->reply.s, r->reply.len, REMOTE_MAX_REPLY, &perr)
                              : NULL;
    const char *st = json_str(doc, "status", NULL);
    if (st && strcmp(st, "success") == 0 && status >= 200 && status < 300) {
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(doc, "value");
        cJSON_Delete(doc);
        *out = v ? v : cJSON_CreateNull();
        return 0;
    }
    if (st && strcmp(st, "error") == 0) {
        const char *m = json_str(doc, "errorMessage", "");
        int rc = m[0] ? fail_from_message(m, err)
                      : dse_fail(err, "remote_error", "HTTP %ld from %s", status, r->shown);
        /* errorData (`dse serve`: {code, message}; a reference function
         * throwing ConvexError("code") or ConvexError({code})) names the
         * code even when errorMessage is wrapped beyond recognition. */
        const cJSON *data = json_get(doc, "errorData");
        const cJSON *dcode = cJSON_IsString(data) ? data : json_get(data, "code");
        const char *dmsg = json_str(data, "message", NULL);
        if (cJSON_IsString(dcode) && is_code(dcode->valuestring, strlen(dcode->valuestring)) &&
            strcmp(err->code, dcode->valuestring) != 0) {
            char was[sizeof err->msg];
            snprintf(was, sizeof was, "%s", m[0] ? m : err->msg);
            dse_fail(err, dcode->valuestring, "%s", dmsg ? dmsg : was);
        }
        cJSON_Delete(doc);
        return rc;
    }
    cJSON_Delete(doc);
    if (status == 401)
        return dse_fail(err, "unauthorized", "%s refused the token (HTTP 401)", r->shown);
    if (status == 403)
        return dse_fail(err, "forbidden", "%s: this token may not do that (HTTP 403)", r->shown);
    if (status == 413)
        return dse_fail(err, "too_large", "%s: request too large (HTTP 413)", r->shown);
    if (status >= 200 && status < 300)
        return dse_fail(err, "remote_error", "%s sent a reply that is not a function result%s%s",
                        r->shown, perr.msg[0] ? ": " : "", perr.msg);
    return dse_fail(err, "remote_error", "HTTP %ld from %s (is this a dse server?)", status,
                    r->shown);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Interactive handles: down (err, a request that waited in vain) starts or
 * doubles the back-off; up (NULL, any reply) ends it. */
static void note_health(struct remote *r, const struct dse_err *down)
{
    if (!down) {
        r->down_until = 0;
        r->backoff_ms = 0;
        return;
    }
    r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : REMOTE_BACKOFF_MIN_MS;
    if (r->backoff_ms > REMOTE_BACKOFF_MAX_MS)
        r->backoff_ms = REMOTE_BACKOFF_MAX_MS;
    r->down_until = util_mono_ms() + r->backoff_ms;
    r->down_err = *down;
}

/* POST one function call.  The body is built from the table's path (plain
 * ASCII, no escaping needed) and the canonical form of the arguments. */
static int remote_call(struct remote *r, enum store_op op, const cJSON *args, cJSON **out,
                       struct dse_err *err)
{
    const struct store_op_info *info = store_op_info(op);
    if (r->interactive && r->down_until) {
        int64_t now = util_mono_ms();
        if (now < r->down_until)
            return dse_fail(err, "remote_unreachable", "%s (trying again in %d s)",
                            r->down_err.msg, (int)((r->down_until - now + 999) / 1000));
    }
    struct sbuf body = {0};
    sbuf_printf(&body, "{\"path\":\"%s\",\"format\":\"json\",\"args\":", info->path);
    if (args)
        json_canonical_into(&body, args);
    else
        sbuf_adds(&body, "{}");
    sbuf_addc(&body, '}');

    bool query = info->kind == STORE_QUERY;
    curl_easy_setopt(r->curl, CURLOPT_URL, query ? r->url_query : r->url_mutation);
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body.s);
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);

    int64_t start = util_mono_ms();
    int rc = -1;
    for (int attempt = 0;; attempt++) {
        sbuf_reset(&r->reply);
        r->reply_too_big = 0;
        r->errbuf[0] = 0;
        r->stalled = false;
        r->seen_dl = r->seen_ul = -1;
        r->seen_ms = util_mono_ms();
        CURLcode cc = curl_easy_perform(r->curl);
        long status = 0;
        if (cc == CURLE_OK)
            curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
        bool transient = cc != CURLE_OK ? transient_curl(cc) : transient_http(status);
        /* Retrying stays within one total timeout overall.  An interactive
         * handle does not wait to retry: its back-off does that. */
        if (query && transient && !r->interactive && attempt < REMOTE_QUERY_RETRIES &&
            util_mono_ms() - start < REMOTE_TOTAL_TIMEOUT_MS) {
            sleep_ms(100L << (2 * attempt)); /* 100 ms, 400 ms */
            continue;
        }
        if (cc != CURLE_OK)
            rc = fail_transport(r, cc, err);
        else
            rc = remote_decode(r, status, out, err);
        /* Only a wait backs off: a refused connection costs nothing, and
         * the next call may well find the server back. */
        if (r->interactive && cc == CURLE_OK)
            note_health(r, NULL);
        else if (r->interactive && (r->stalled || cc == CURLE_OPERATION_TIMEDOUT))
            note_health(r, err);
        break;
    }
    sbuf_free(&body);
    if (r->reply.cap > (1u << 20)) /* do not keep a large reply buffer around */
        sbuf_free(&r->reply);
    return rc;
}

/* ---- forwarders: one thunk per operation, generated from the table ---- */

/* Receipt gets, the admin receipt list, getVar and the VarSpace list answer
 * {ok, <key>} as the reference does; a `dse serve` older than that sent the
 * bare value (null, the row or the array).  Wrap such a reply so callers
 * see one shape. */
static void wrap_bare_reply(enum store_op op, cJSON **v)
{
    const char *key = op == STORE_OP_receipts_get || op == STORE_OP_receipts_get_admin
                          ? "receipt"
                      : op == STORE_OP_receipts_list_admin ? "receipts"
                      : op == STORE_OP_var_get             ? "value"
                      : op == STORE_OP_var_list            ? "vars"
                                                           : NULL;
    if (!key || !v || (cJSON_IsObject(*v) && json_get(*v, "ok")))
        return;
    cJSON *w = json_obj();
    json_set_bool(w, "ok", true);
    json_set(w, key, *v ? *v : cJSON_CreateNull());
    *v = w;
}

#define REMOTE_X_THUNK(id, path, kind)                                                     \
    static int remote_fn_##id(struct store *st, const cJSON *args, cJSON **out,            \
                              struct dse_err *err)                                         \
    {                                                                                      \
        int rc_ = remote_call(st->impl, STORE_OP_##id, args, out, err);                    \
        if (rc_ == 0)                                                                      \
            wrap_bare_reply(STORE_OP_##id, out);                                           \
        return rc_;                                                                        \
    }
STORE_OPS(REMOTE_X_THUNK)
#undef REMOTE_X_THUNK

static store_fn *const remote_forward[STORE_OP__COUNT] = {
#define REMOTE_X_ENTRY(id, path, kind) [STORE_OP_##id] = remote_fn_##id,
    STORE_OPS(REMOTE_X_ENTRY)
#undef REMOTE_X_ENTRY
};

/* ---- *Admin reads for a token that is no ops admin ---- */

/* getPredictReceiptByReceiptIdAdmin and getTextAdmin are for the ops admin
 * (reference §2.1); the same rows come from the thread-owner functions
 * getPredictReceiptByReceiptId and getText, which `dse serve` lets any read
 * token call and a reference deployment answers for the thread's owner.
 * Once the server says forbidden, go straight to those. */
static int admin_or_owner(struct store *st, enum store_op admin, enum store_op owner,
                          const cJSON *args, cJSON **out, struct dse_err *err)
{
    struct remote *r = st->impl;
    if (!r->not_admin) {
        int rc = remote_forward[admin](st, args, out, err);
        if (rc == 0 || strcmp(err->code, "forbidden") != 0)
            return rc;
        r->not_admin = true;
    }
    return remote_forward[owner](st, args, out, err);
}

static int remote_receipts_get_admin(struct store *st, const cJSON *args, cJSON **out,
                                     struct dse_err *err)
{
    return admin_or_owner(st, STORE_OP_receipts_get_admin, STORE_OP_receipts_get, args, out, err);
}

static int remote_blobs_get_admin(struct store *st, const cJSON *args, cJSON **out,
                                  struct dse_err *err)
{
    return admin_or_owner(st, STORE_OP_blobs_get_admin, STORE_OP_blobs_get, args, out, err);
}

/* ---- batches larger than a request body may be ---- */

/* `dse serve` takes bodies up to 1 MiB by default, while a receipt batch may
 * hold 10,000 receipts.  Receipts are idempotent by receiptId, so a batch
 * can go as several requests and the counts be summed; if one part fails,
 * the parts before it stay recorded and a retry of the whole batch is safe. */
#define REMOTE_BATCH_BYTES (512u << 10)

/* Sends and frees part. */
static int send_receipt_part(struct remote *r, cJSON *part, double sums[4], struct dse_err *err)
{
    static const char *const keys[4] = {"recorded", "duplicates", "counted", "autoStopped"};
    cJSON *args = json_obj(), *res = NULL;
    json_set(args, "items", part);
    int rc = remote_call(r, STORE_OP_x_receipts_batch, args, &res, err);
    cJSON_Delete(args);
    for (int k = 0; rc == 0 && k < 4; k++)
        sums[k] += json_num(res, keys[k], 0);
    cJSON_Delete(res);
    return rc;
}

static int remote_receipts_batch(struct store *st, const cJSON *args, cJSON **out,
                                 struct dse_err *err)
{
    struct remote *r = st->impl;
    const cJSON *items = store_arg(args, "items");
    if (!cJSON_IsArray(items)) /* let the server word the refusal */
        return remote_call(r, STORE_OP_x_receipts_batch, args, out, err);
    double sums[4] = {0};
    cJSON *part = json_arr();
    size_t bytes = 0;
    int parts = 0;
    for (const cJSON *it = items->child; it; it = it->next) {
        char *c = json_canonical(it);
        size_t n = strlen(c) + 1;
        free(c);
        if (bytes + n > REMOTE_BATCH_BYTES && part->child) {
            if (send_receipt_part(r, part, sums, err) < 0)
                return -1;
            parts++;
            part = json_arr();
            bytes = 0;
        }
        cJSON_AddItemToArray(part, json_dup(it));
        bytes += n;
    }
    if (part->child || !parts) {
        if (send_receipt_part(r, part, sums, err) < 0) /* takes part */
            return -1;
    } else {
        cJSON_Delete(part);
    }
    cJSON *v = json_obj();
    json_set_bool(v, "ok", true);
    json_set_num(v, "recorded", sums[0]);
    json_set_num(v, "duplicates", sums[1]);
    json_set_num(v, "counted", sums[2]);
    json_set_num(v, "autoStopped", sums[3]);
    *out = v;
    return 0;
}

/* ---- emulation of extensions on a server without them ---- */

static int fallback_info(struct store *st, const cJSON *args, cJSON **out, struct dse_err *err)
{
    (void)st;
    (void)args;
    (void)err;
    cJSON *v = json_obj();
    json_set_bool(v, "ok", true);
    json_set_str(v, "backend", "remote");
    json_set_null(v, "schemaVersion");
    json_set_null(v, "changeCounter");
    json_set(v, "extensions", json_arr());
    *out = v;
    return 0;
}

/* Without a counter every poll reports a change, so screens reload. */
static int fallback_changes(struct store *st, const cJSON *args, cJSON **out, struct dse_err *err)
{
    (void)args;
    (void)err;
    struct remote *r = st->impl;
    cJSON *v = json_obj();
    json_set_bool(v, "ok", true);
    json_set_num(v, "counter", (double)++r->fake_counter);
    *out = v;
    return 0;
}

static bool row_matches(const cJSON *row, const cJSON *args, const char *field)
{
    const cJSON *want = store_arg(args, field);
    if (!want || !cJSON_IsString(want))
        return true;
    return strcmp(json_str(row, field, ""), want->valuestring) == 0;
}

/* Receipt cursor for the emulated page: "<createdAtMs>:<receiptId>". */
static void receipt_cursor(const cJSON *row, char *out, size_t cap)
{
    snprintf(out, cap, "%.0f:%s", json_num(row, "createdAtMs", 0), json_str(row, "receiptId", ""));
}

/* A fallback page's answer {ok, nextCursor, items}; next NULL: the end. */
static cJSON *page_answer(cJSON *items, const char *next)
{
    cJSON *v = json_obj();
    json_set_bool(v, "ok", true);
    if (next)
        json_set_str(v, "nextCursor", next);
    else
        json_set_null(v, "nextCursor");
    json_set(v, "items", items);
    return v;
}

/* x_receipts_page from listPredictReceiptsBySignatureIdAdmin: the newest 200
 * receipts of one signature (the reference's maximum), filtered here. */
static int fallback_receipts_page(struct store *st, const cJSON *args, cJSON **out,
                                  struct dse_err *err)
{
    const char *sig, *cursor, *dir;
    if (store_arg_str(args, "signatureId", false, 0, &sig, err) < 0 ||
        store_arg_str(args, "cursor", false, 0, &cursor, err) < 0 ||
        store_arg_str(args, "dir", false, 0, &dir, err) < 0)
        return -1;
    if (!sig)
        return dse_fail(err, "unsupported",
                        "this server has no receipt paging: give a signatureId");
    bool newer = dir && strcmp(dir, "newer") == 0;
    if (dir && !newer && strcmp(dir, "older") != 0)
        return dse_fail(err, "invalid_input", "dir must be \"older\" or \"newer\"");
    int limit = store_arg_limit(args, "limit", 50, 500);

    cJSON *q = json_obj(), *list = NULL;
    json_set_str(q, "signatureId", sig);
    json_set_num(q, "limit", 200);
    cJSON *res = NULL;
    int rc = remote_forward[STORE_OP_receipts_list_admin](st, q, &res, err);
    cJSON_Delete(q);
    if (rc < 0)
        return -1;
    list = cJSON_DetachItemFromObjectCaseSensitive(res, "receipts");
    cJSON_Delete(res);
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(list);
        return dse_fail(err, "remote_error", "receipt list {ok, receipts} has no receipts array");
    }
    /* rows arrive newest first; walk them in the requested direction */
    int n = cJSON_GetArraySize(list);
    cJSON **rows = xcalloc((size_t)n + 1, sizeof *rows);
    int k = 0;
    for (cJSON *it = list->child; it; it = it->next)
        rows[k++] = it;
    if (newer)
        for (int i = 0; i < n / 2; i++) {
            cJSON *t = rows[i];
            rows[i] = rows[n - 1 - i];
            rows[n - 1 - i] = t;
        }
    int begin = 0;
    if (cursor && cursor[0]) {
        /* resume after the row the cursor names; else by time alone */
        char *end;
        double at = strtod(cursor, &end);
        const char *rid = *end == ':' ? end + 1 : "";
        begin = n;
        for (int i = 0; i < n; i++) {
            char c[256];
            receipt_cursor(rows[i], c, sizeof c);
            if (strcmp(c, cursor) == 0) {
                begin = i + 1;
                break;
            }
            double t = json_num(rows[i], "createdAtMs", 0);
            if (!rid[0] && (newer ? t > at : t < at)) {
                begin = i;
                break;
            }
        }
    }
    cJSON *items = json_arr();
    const char *last = NULL;
    char cbuf[256];
    int taken = 0, i = begin;
    for (; i < n && taken < limit; i++) {
        const cJSON *row = rows[i];
        if (!row_matches(row, args, "resultTag") || !row_matches(row, args, "strategyId") ||
            !row_matches(row, args, "compiled_id") || !row_matches(row, args, "threadId"))
            continue;
        cJSON *item = json_dup(row);
        json_set_null(item, "errorName");
        json_set_null(item, "durationMs");
        receipt_cursor(row, cbuf, sizeof cbuf);
        json_set_str(item, "cursor", cbuf);
        cJSON_AddItemToArray(items, item);
        taken++;
        last = json_str(item, "cursor", NULL);
    }
    /* more only if a later row would also pass the filters */
    bool more = false;
    for (int j = i; j < n && !more; j++)
        more = row_matches(rows[j], args, "resultTag") &&
               row_matches(rows[j], args, "strategyId") &&
               row_matches(rows[j], args, "compiled_id") && row_matches(rows[j], args, "threadId");
    *out = page_answer(items, more ? last : NULL);
    free(rows);
    cJSON_Delete(list);
    return 0;
}

/* x_examples_page from listExamples (at most 500 rows, already in
 * localeCompare order of exampleId); the cursor is the exampleId. */
static int fallback_examples_page(struct store *st, const cJSON *args, cJSON **out,
                                  struct dse_err *err)
{
    const char *sig, *split, *cursor, *dir;
    if (store_arg_str(args, "signatureId", true, 0, &sig, err) < 0 ||
        store_arg_str(args, "split", false, 0, &split, err) < 0 ||
        store_arg_str(args, "cursor", false, 0, &cursor, err) < 0 ||
        store_arg_str(args, "dir", false, 0, &dir, err) < 0)
        return -1;
    bool prev = dir && strcmp(dir, "prev") == 0;
    if (dir && !prev && strcmp(dir, "next") != 0)
        return dse_fail(err, "invalid_input", "dir must be \"next\" or \"prev\"");
    int limit = store_arg_limit(args, "limit", 50, 500);

    cJSON *q = json_obj(), *res = NULL;
    json_set_str(q, "signatureId", sig);
    if (split)
        json_set_str(q, "split", split);
    json_set_num(q, "limit", 500);
    int rc = remote_call(st->impl, STORE_OP_examples_list, q, &res, err);
    cJSON_Delete(q);
    if (rc < 0)
        return -1;
    const cJSON *list = json_get(res, "examples");
    int n = cJSON_GetArraySize(list);
    cJSON **rows = xcalloc((size_t)n + 1, sizeof *rows);
    int k = 0;
    for (cJSON *it = list ? list->child : NULL; it; it = it->next)
        rows[k++] = it;
    n = k;
    /* walk forwards for "next", backwards for "prev", strictly past cursor */
    int step = prev ? -1 : 1;
    int i = prev ? n - 1 : 0;
    int at = -1; /* the cursor's own row: ids ICU ranks equal keep the server's order */
    for (int j = 0; cursor && cursor[0] && j < n && at < 0; j++)
        if (!strcmp(json_str(rows[j], "exampleId", ""), cursor))
            at = j;
    if (at >= 0)
        i = at + step;
    else if (cursor && cursor[0])
        while (i >= 0 && i < n) {
            int c = collate_cmp(json_str(rows[i], "exampleId", ""), cursor);
            if (prev ? c < 0 : c > 0)
                break;
            i += step;
        }
    cJSON *items = json_arr();
    const char *last = NULL;
    int taken = 0;
    for (; i >= 0 && i < n && taken < limit; i += step, taken++) {
        cJSON *item = json_dup(rows[i]);
        json_set_str(item, "cursor", json_str(rows[i], "exampleId", ""));
        cJSON_AddItemToArray(items, item);
        last = json_str(item, "cursor", NULL);
    }
    *out = page_answer(items, i >= 0 && i < n ? last : NULL);
    free(rows);
    cJSON_Delete(res);
    return 0;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The catalog extensions on a plain reference deployment: it keeps no
 * catalog, so the signatures are dse's built-in ones (as catalog_resolve
 * and compile use there). */
static int fallback_sig_list(struct store *st, const cJSON *args, cJSON **out,
                             struct dse_err *err)
{
    (void)st;
    (void)args;
    cJSON *all = catalog_load(NULL, err);
    if (!all)
        return -1;
    int n = cJSON_GetArraySize(all), k = 0;
    const char **ids = xcalloc((size_t)n + 1, sizeof *ids);
    for (const cJSON *s = all->child; s; s = s->next)
        ids[k++] = catalog_id(s);
    qsort(ids, (size_t)k, sizeof *ids, cmp_cstr);
    cJSON *list = json_arr();
    for (int i = 0; i < k; i++) {
        cJSON *row = json_obj();
        json_set_str(row, "signatureId", ids[i]);
        json_set_null(row, "updatedAtMs");
        cJSON_AddItemToArray(list, row);
    }
    free(ids);
    cJSON_Delete(all);
    *out = json_obj();
    json_set_bool(*out, "ok", true);
    json_set(*out, "signatures", list);
    return 0;
}

static int fallback_sig_get(struct store *st, const cJSON *args, cJSON **out,
                            struct dse_err *err)
{
    (void)st;
    const char *sig;
    if (store_arg_str(args, "signatureId", true, 0, &sig, err) < 0)
        return -1;
    struct dse_err sub;
    cJSON *found = catalog_builtin(sig, &sub);
    if (!found && strcmp(sub.code, "unknown_signature") != 0)
        return dse_fail(err, sub.code, "%s", sub.msg);
    *out = json_obj();
    json_set_bool(*out, "ok", true);
    json_set(*out, "signature", found ? found : cJSON_CreateNull());
    return 0;
}

/* x_sig_stats from the reference's lists: receipts among the newest 200
 * (its maximum), examples among the first 500, the newest compile report;
 * "partial": true when a cap was reached, so the figures are lower bounds. */
static int fallback_sig_stats(struct store *st, const cJSON *args, cJSON **out,
                              struct dse_err *err)
{
    const char *sig;
    if (store_arg_str(args, "signatureId", true, 0, &sig, err) < 0)
        return -1;
    const cJSON *since_v = store_arg(args, "sinceMs");
    double since = cJSON_IsNumber(since_v) && isfinite(since_v->valuedouble) ? since_v->valuedouble : 0;
    cJSON *q = json_obj(), *rc = NULL, *cr = NULL, *ex = NULL;
    json_set_str(q, "signatureId", sig);
    json_set_num(q, "limit", 200);
    int fail = remote_forward[STORE_OP_receipts_list_admin](st, q, &rc, err);
    json_set_num(q, "limit", 1);
    if (!fail)
        fail = remote_forward[STORE_OP_compile_list](st, q, &cr, err);
    json_set_num(q, "limit", 500);
    if (!fail)
        fail = remote_forward[STORE_OP_examples_list](st, q, &ex, err);
    cJSON_Delete(q);
    if (fail) {
        cJSON_Delete(rc);
        cJSON_Delete(cr);
        cJSON_Delete(ex);
        return -1;
    }
    const cJSON *rows = json_get(rc, "receipts");
    double n = 0, errors = 0, last = -1;
    const cJSON *r;
    cJSON_ArrayForEach(r, rows)
    {
        double at = json_num(r, "createdAtMs", 0);
        if (at > last)
            last = at;
        if (at < since)
            continue;
        n++;
        if (!strcmp(json_str(r, "resultTag", ""), "Error"))
            errors++;
    }
    int nex = cJSON_GetArraySize(json_get(ex, "examples"));
    const cJSON *newest = cJSON_GetArrayItem(json_get(cr, "reports"), 0);
    cJSON *o = json_obj();
    json_set_bool(o, "ok", true);
    json_set_num(o, "receipts", n);
    json_set_num(o, "errors", errors);
    if (last >= 0)
        json_set_num(o, "lastReceiptAtMs", last);
    else
        json_set_null(o, "lastReceiptAtMs");
    if (newest)
        json_set_num(o, "lastCompileAtMs", json_num(newest, "createdAtMs", 0));
    else
        json_set_null(o, "lastCompileAtMs");
    json_set_null(o, "lastRunId");
    json_set_num(o, "examples", nex);
    json_set_bool(o, "partial", cJSON_GetArraySize(rows) >= 200 || nex >= 500);
    cJSON_Delete(rc);
    cJSON_Delete(cr);
    cJSON_Delete(ex);
    *out = o;
    return 0;
}

/* x_examples_counts from listExamples (the first 500: "partial" beyond). */
static int fallback_examples_counts(struct store *st, const cJSON *args, cJSON **out,
                                    struct dse_err *err)
{
    const char *sig;
    if (store_arg_str(args, "signatureId", true, 0, &sig, err) < 0)
        return -1;
    cJSON *q = json_obj(), *res = NULL;
    json_set_str(q, "signatureId", sig);
    json_set_num(q, "limit", 500);
    int rc = remote_call(st->impl, STORE_OP_examples_list, q, &res, err);
    cJSON_Delete(q);
    if (rc < 0)
        return -1;
    double by[STORE_SPLIT_SLOTS] = {0}, total = 0, accepted = 0, rejected = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, json_get(res, "examples"))
    {
        by[store_split_slot(json_str(e, "split", NULL))]++;
        total++;
        const char *rv = json_str(json_path(e, "meta.review"), "status", "");
        accepted += !strcmp(rv, "accepted");
        rejected += !strcmp(rv, "rejected");
    }
    cJSON_Delete(res);
    cJSON *o = json_obj(), *sp = json_obj();
    json_set_bool(o, "ok", true);
    json_set_num(o, "total", total);
    for (int i = 0; i < STORE_SPLIT_SLOTS; i++)
        json_set_num(sp, store_split_slots[i], by[i]);
    json_set(o, "splits", sp);
    json_set_num(o, "accepted", accepted);
    json_set_num(o, "rejected", rejected);
    json_set_bool(o, "partial", total >= 500);
    *out = o;
    return 0;
}

static uint64_t remote_poll_changes(struct store *st)
{
    struct remote *r = st->impl;
    if (r->ops.fn[STORE_OP_x_changes] == fallback_changes)
        return ++r->fake_counter;
    cJSON *v = NULL;
    struct dse_err err;
    if (remote_call(r, STORE_OP_x_changes, NULL, &v, &err) < 0)
        return 0;
    double c = json_num(v, "counter", -1);
    cJSON_Delete(v);
    /* +1 keeps 0 for "could not ask" even on a store that never changed */
    return c >= 0 ? (uint64_t)c + 1 : 0;
}

static void remote_close(struct store *st)
{
    struct remote *r = st->impl;
    if (!r)
        return;
    if (r->curl)
        curl_easy_cleanup(r->curl);
    for (struct curl_slist *h = r->headers; h; h = h->next)
        if (h->data)
            explicit_bzero(h->data, strlen(h->data));
    curl_slist_free_all(r->headers);
    free(r->url_query);
    free(r->url_mutation);
    free(r->shown);
    sbuf_free(&r->reply);
    free(r);
    st->impl = NULL;
}

/* Which operations this server answers: the dse/ set always, dsex/ as
 * listed by dsex/meta:info, emulations for the rest where we have one. */
static int remote_probe(struct store *st, struct dse_err *err)
{
    struct remote *r = st->impl;
    for (unsigned i = 0; i < STORE_OP__COUNT; i++)
        if (strncmp(store_op_info((enum store_op)i)->path, "dse/", 4) == 0)
            r->ops.fn[i] = remote_forward[i];
    cJSON *info = NULL;
    struct dse_err perr = {0};
    if (remote_call(r, STORE_OP_x_info, NULL, &info, &perr) < 0) {
        /* the server is there but lacks the extension: fine */
        if (!strcmp(perr.code, "remote_unreachable") || !strcmp(perr.code, "unauthorized") ||
            !strcmp(perr.code, "forbidden") || !strcmp(perr.code, "remote_too_large")) {
            *err = perr;
            return -1;
        }
        info = NULL;
    }
    const cJSON *ext = json_get(info, "extensions");
    st->plain_reference = cJSON_GetArraySize(ext) == 0;
    if (info)
        r->ops.fn[STORE_OP_x_info] = remote_forward[STORE_OP_x_info];
    for (const cJSON *e = cJSON_IsArray(ext) ? ext->child : NULL; e; e = e->next) {
        const struct store_op_info *oi = cJSON_IsString(e) ? store_op_by_path(e->valuestring)
                                                           : NULL;
        if (oi)
            r->ops.fn[oi->op] = remote_forward[oi->op];
    }
    cJSON_Delete(info);
    if (r->ops.fn[STORE_OP_x_receipts_batch])
        r->ops.fn[STORE_OP_x_receipts_batch] = remote_receipts_batch;
    r->ops.fn[STORE_OP_receipts_get_admin] = remote_receipts_get_admin;
    r->ops.fn[STORE_OP_blobs_get_admin] = remote_blobs_get_admin;
    if (!r->ops.fn[STORE_OP_x_info])
        r->ops.fn[STORE_OP_x_info] = fallback_info;
    if (!r->ops.fn[STORE_OP_x_changes])
        r->ops.fn[STORE_OP_x_changes] = fallback_changes;
    if (!r->ops.fn[STORE_OP_x_receipts_page])
        r->ops.fn[STORE_OP_x_receipts_page] = fallback_receipts_page;
    if (!r->ops.fn[STORE_OP_x_examples_page])
        r->ops.fn[STORE_OP_x_examples_page] = fallback_examples_page;
    if (!r->ops.fn[STORE_OP_x_sig_list])
        r->ops.fn[STORE_OP_x_sig_list] = fallback_sig_list;
    if (!r->ops.fn[STORE_OP_x_sig_get])
        r->ops.fn[STORE_OP_x_sig_get] = fallback_sig_get;
    if (!r->ops.fn[STORE_OP_x_sig_stats])
        r->ops.fn[STORE_OP_x_sig_stats] = fallback_sig_stats;
    if (!r->ops.fn[STORE_OP_x_examples_counts])
        r->ops.fn[STORE_OP_x_examples_counts] = fallback_examples_counts;
    return 0;
}

/* "https://user:pw@host/x/" -> "https://host/x" for messages and desc. */
static char *url_shown(const char *url)
{
    const char *scheme_end = strstr(url, "://");
    const char *auth = scheme_end ? scheme_end + 3 : url;
    size_t auth_len = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', auth_len);
    struct sbuf b = {0};
    sbuf_add(&b, url, (size_t)(auth - url));
    sbuf_adds(&b, at ? at + 1 : auth);
    while (b.len > 0 && b.s[b.len - 1] == '/')
        b.s[--b.len] = 0;
    return sbuf_take(&b);
}

struct store *store_open_remote(const char *url, const char *token, unsigned flags,
                                struct dse_err *err)
{
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return dse_fail(err, "invalid_input", "remote URL must start with http:// or https://"),
               NULL;
    if (strpbrk(url, " \t\r\n?#"))
        return dse_fail(err, "invalid_input",
                        "remote URL must be a base URL without spaces, query or fragment"),
               NULL;
    if (token && strpbrk(token, "\r\n"))
        return dse_fail(err, "invalid_input", "the token contains a line break"), NULL;
    pthread_once(&curl_once, remote_global_init);
    if (curl_init_rc != CURLE_OK)
        return dse_fail(err, "remote_unreachable", "libcurl failed to initialise"), NULL;

    struct remote *r = xcalloc(1, sizeof *r);
    r->ops.backend = "remote";
    r->ops.poll_changes = remote_poll_changes;
    r->ops.close = remote_close;
    char *base = xstrdup(url);
    for (size_t n = strlen(base); n > 0 && base[n - 1] == '/'; n--)
        base[n - 1] = 0;
    r->url_query = xasprintf("%s/api/query", base);
    r->url_mutation = xasprintf("%s/api/mutation", base);
    r->shown = url_shown(base);
    free(base);

    struct store *st = xcalloc(1, sizeof *st);
    char desc[512];
    snprintf(desc, sizeof desc, "remote:%s", r->shown);
    store_base_init(st, &r->ops, r, desc, flags);

    r->curl = curl_easy_init();
    if (!r->curl) {
        store_close(st);
        return dse_fail(err, "remote_unreachable", "libcurl could not create a handle"), NULL;
    }
    r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
    r->headers = curl_slist_append(r->headers, "Accept: application/json");
    r->headers = curl_slist_append(r->headers, "Expect:"); /* no 100-continue round trip */
    if (token && token[0]) {
        char *h = xasprintf("Authorization: Bearer %s", token);
        r->headers = curl_slist_append(r->headers, h);
        explicit_bzero(h, strlen(h));
        free(h);
    }
    CURL *c = r->curl;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, REMOTE_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, REMOTE_TOTAL_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_MAXAGE_CONN, REMOTE_MAX_CONN_AGE_S);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    r->interactive = (flags & STORE_INTERACTIVE) != 0;
    if (r->interactive) {
        /* Silence for REMOTE_STALL_S means a hung server; a transfer
         * that keeps moving may still take up to the total timeout. */
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, REMOTE_STALL_S * 1000);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, remote_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, remote_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "dse/" DSE_VERSION);

    if (remote_probe(st, err) < 0) {
        store_close(st);
        return NULL;
    }
    return st;
}
