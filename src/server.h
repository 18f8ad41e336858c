/* server: `dse serve`, a local store exposed over HTTP/1.1 (libmicrohttpd)
 * through the Convex HTTP function API that the remote back end speaks.
 *
 *   POST /api/query | /api/mutation | /api/action
 *        {"path":"dse/<module>:<fn>","args":{...},"format":"json"}
 *        -> 200 {"status":"success","value":...}
 *        or {"status":"error","errorMessage":"<code>: <detail>"} with 4xx/5xx
 *   GET  /api/dse/receipt/:receiptId        -> {ok, receipt, threadId, runId, createdAtMs}
 *   GET  /api/dse/blob/:receiptId/:blobId   -> the blob as text/plain
 *   GET  /healthz                           -> {"ok":true,...} (no token needed)
 *
 * Function paths are exactly those of store.h's table.  A query may be called
 * through /api/mutation; a mutation through /api/query is refused (400).
 *
 * Threads: libmicrohttpd's thread pool; each worker opens its own SQLite
 * handle on first use, so reads run in parallel and SQLite serialises
 * writes.  Every request must arrive complete within the timeout measured
 * from the moment the connection became ready for it (accept, or the end of
 * the previous response); idle keep-alive connections close after the same
 * timeout.  A watchdog cuts off connections that exceed it, so a client
 * trickling bytes cannot hold a connection open.
 *
 * Tokens file: one `<role> <token> [name]` per line, role read|admin,
 * blank lines and # comments allowed.  Tokens are 16..4096 printable ASCII
 * characters without spaces.  They are compared as SHA-256 digests in
 * constant time, and never logged or echoed. */
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

enum server_role { SERVER_ROLE_READ, SERVER_ROLE_ADMIN };

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

/* HTTP status for an error code (invalid_input 400, unauthorized 401,
 * *_not_found 404, too_large 413, storage failures 500, ...). */
unsigned server_status_for(const char *code);

#endif
