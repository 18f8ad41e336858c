/* server: `dse serve`, a local store exposed over HTTP/1.1 (libmicrohttpd)
 * through the Convex HTTP function API that the remote back end speaks.
 *
 *   POST /api/query | /api/mutation | /api/action
 *        {"path":"dse/<module>:<fn>","args":{...},"format":"json"}, or what
 *        the `convex` npm client's ConvexHttpClient sends:
 *        {"path":...,"args":[{...}],"format":"convex_encoded_json"}
 *        -> 200 {"status":"success","value":...,"logLines":[]}
 *        -> 560 {"status":"error","errorMessage":"<code>: <detail>",
 *                "errorData":{"code":"<code>","message":"<detail>"},"logLines":[]}
 *           when the function failed (bad arguments, unknown function, not
 *           found, refused for the token's role, read_only, ...), as a Convex
 *           deployment answers a function that threw.
 *        Transport errors keep plain HTTP statuses with the same body shape:
 *        400 malformed request (not JSON, no path, args not an object or a
 *        one-element array of one, unknown format, malformed encoded value),
 *        401 missing or invalid token, 404 no such route, 405, 413 too large,
 *        500 the store failed (storage errors, never the caller's fault).
 *   GET  /api/dse/receipt/:receiptId        -> {ok, receipt, threadId, runId, createdAtMs}
 *   GET  /api/dse/blob/:receiptId/:blobId   -> the blob as text/plain
 *   GET  /healthz                           -> {"ok":true,...} (no token needed)
 *
 * Function paths are exactly those of store.h's table.  A query may be called
 * through /api/mutation, anything through /api/action; a mutation through
 * /api/query is refused (560 invalid_input).  convex_encoded_json arguments
 * are plain JSON except objects with one "$"-key: {"$integer": base64 int64}
 * becomes a number when it fits a double exactly, {"$float": base64} of -0
 * becomes 0; NaN/Infinity, larger integers and {"$bytes"} are refused (560
 * invalid_input); any other "$" field name is malformed (400).
 *
 * Threads: libmicrohttpd's thread pool; each worker opens its own SQLite
 * handle on first use, so reads run in parallel and SQLite serialises
 * writes.  Every request must arrive complete within the timeout measured
 * from the moment the connection became ready for it (accept, or the end of
 * the previous response); idle keep-alive connections close after the same
 * timeout.  A watchdog cuts off connections that exceed it, so a client
 * trickling bytes cannot hold a connection open.
 *
 * Tokens file: one `<role> <token> [name]` per line, role read|ingest|admin,
 * blank lines and # comments allowed.  Tokens are 16..4096 printable ASCII
 * characters without spaces.  They are compared as SHA-256 digests in
 * constant time, and never logged or echoed.
 *
 * Roles (server_role_may):
 *   admin   everything.
 *   read    every query except the reference's ops-admin ones: dse/opsRuns:*
 *           and the *Admin functions; the GET /api/dse routes.
 *   ingest  dse/receipts:recordPredictReceipt, dsex/receipts:recordBatch,
 *           dse/blobs:putText and dsex/meta:info (so a remote client can
 *           open); nothing else, no reads.
 *   public  (no Authorization header, only with public_queries) the
 *           reference's unauthenticated queries dse/artifacts:getArtifact,
 *           listArtifacts, dse/active:getActive, dse/canary:getCanary, plus
 *           dsex/meta:info.  With public_queries every role may call them.
 * A refused function is a function error: 560 forbidden (401 unauthorized
 * for a call without a token). */
#ifndef DSE_SERVER_H
#define DSE_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct server_config {
    const char *db_path;       /* SQLite store (created and migrated if absent) */
    const char *listen;        /* "host:port", "[v6]:port" or "port"; port 0 = any free */
    const char *tokens_path;   /* NULL: no auth, allowed on loopback only */
    const char *log_path;      /* access log; NULL = stderr */
    size_t max_body;           /* request body cap in bytes (413 beyond) */
    unsigned max_connections;  /* concurrent connections */
    unsigned max_per_ip;       /* 0 = no per-address limit */
    unsigned timeout_s;        /* whole-request deadline and idle timeout */
    unsigned threads;          /* worker threads (0 = one per CPU, 2..16) */
    bool read_only;            /* refuse every mutation (code read_only) */
    bool public_queries;       /* the reference's public queries need no token */
};

#define SERVER_DEFAULT_MAX_BODY (1u << 20)
#define SERVER_DEFAULT_MAX_CONNECTIONS 512u
#define SERVER_DEFAULT_TIMEOUT_S 10u
#define SERVER_MAX_TOKEN_LEN 4096

/* Run until SIGTERM or SIGINT, then stop accepting, let in-flight requests
 * finish (bounded by the timeout), close the stores and return 0.  Prints
 * "dse serve: listening on http://HOST:PORT" on stdout once bound (the
 * actual port when 0 was asked).  -1 with err when it cannot start. */
int server_run(const struct server_config *cfg, struct dse_err *err);

/* ---- tokens (exposed for unit tests) ---- */

enum server_role { SERVER_ROLE_READ, SERVER_ROLE_ADMIN, SERVER_ROLE_INGEST, SERVER_ROLE_PUBLIC };

struct server_tokens;

/* Parse a tokens file.  Problems are reported as "PATH:LINE: what" (the
 * token itself never appears).  An empty file is an error. */
struct server_tokens *server_tokens_load(const char *path, struct dse_err *err);
/* Same from text (path is only used in messages). */
struct server_tokens *server_tokens_parse(const char *text, const char *path,
                                          struct dse_err *err);
void server_tokens_free(struct server_tokens *t);
/* Check an Authorization header value ("Bearer <token>"; NULL when absent).
 * Every configured token is compared, whatever matches, so the time taken
 * does not depend on which token or how much of it matched.  Returns 0 and
 * fills role and actor ("token:<name>", pointing into t), or -1. */
int server_tokens_check(const struct server_tokens *t, const char *authorization,
                        enum server_role *role, const char **actor);

/* HTTP status for an error code on the /api/dse routes (invalid_input 400,
 * unauthorized 401, *_not_found 404, too_large 413, storage failures 500,
 * ...). */
unsigned server_status_for(const char *code);
/* HTTP status when a function call fails with code: 500 for storage and
 * internal failures, 401 for unauthorized, else 560 (Convex's "the function
 * failed"). */
unsigned server_function_status(const char *code);
/* May a caller of this role call the function at path (a mutation when
 * mutation)?  0 yes, else -1 with err forbidden or unauthorized. */
int server_role_may(enum server_role role, const char *path, bool mutation,
                    bool public_queries, struct dse_err *err);

#endif
