/* `dse serve`: expose the local store over HTTP (server.h). */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "cli_commands.h"
#include "server.h"
#include "util.h"

int cmd_serve(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *listen = "127.0.0.1:8787", *tokens = NULL, *log = NULL;
    long long max_body = SERVER_DEFAULT_MAX_BODY, max_conns = SERVER_DEFAULT_MAX_CONNECTIONS;
    long long max_per_ip = 0, timeout = SERVER_DEFAULT_TIMEOUT_S, threads = 0;
    bool public_queries = false;
    const struct cli_opt opts[] = {
        {"listen", 'l', CLI_STR, &listen, "HOST:PORT",
         "address to listen on (default 127.0.0.1:8787; port 0 picks a free one)"},
        {"tokens", 't', CLI_STR, &tokens, "FILE",
         "bearer tokens, one `read|ingest|admin TOKEN [name]` per line (required off loopback)"},
        {"public-queries", 0, CLI_FLAG, &public_queries, NULL,
         "let calls without a token run the reference's public queries (getArtifact, "
         "listArtifacts, getActive, getCanary)"},
        {"max-body", 0, CLI_INT, &max_body, "BYTES", "largest request body (default 1 MiB)"},
        {"max-connections", 0, CLI_INT, &max_conns, "N", "concurrent connections (default 512)"},
        {"max-per-ip", 0, CLI_INT, &max_per_ip, "N", "connections per client address (0 = any)"},
        {"timeout", 0, CLI_INT, &timeout, "S",
         "seconds a connection gets to send a whole request; idle timeout (default 10)"},
        {"threads", 0, CLI_INT, &threads, "N", "worker threads (default: one per CPU, 2..16)"},
        {"log", 0, CLI_STR, &log, "FILE", "append the access log here instead of stderr"},
        {0},
    };
    const char *usage = "dse [--db PATH] [--read-only] serve [--listen HOST:PORT] [--tokens FILE] "
                        "[options]";
    char **pos;
    int n = cli_parse(ctx, argc, argv, opts, usage,
                      "Serve the local store over HTTP with the Convex function API\n"
                      "(POST /api/query|/api/mutation|/api/action; the `convex` npm client's\n"
                      "ConvexHttpClient works), plus GET /api/dse/receipt/:id,\n"
                      "/api/dse/blob/:receiptId/:blobId and /healthz.  Roles: `admin` tokens\n"
                      "may call everything; `read` tokens every query except dse/opsRuns:* and\n"
                      "the *Admin functions; `ingest` tokens only record receipts and blobs\n"
                      "(recordPredictReceipt, dsex/receipts:recordBatch, putText).  A function\n"
                      "that fails or is refused answers HTTP 560 {status:\"error\", errorMessage,\n"
                      "errorData:{code}}; a missing or bad token 401.  Stops cleanly on\n"
                      "SIGTERM/SIGINT.",
                      &pos);
    if (n < 0)
        return -n;
    if (n > 0)
        return cli_usage_error(usage, "unexpected argument '%s'", pos[0]);
    if (ctx->remote)
        return cli_usage_error(usage, "serve exposes a local store: use --db, not --remote");
    if (max_body < 1 || max_body > (1LL << 30))
        return cli_usage_error(usage, "--max-body must be 1..1073741824");
    if (max_conns < 1 || max_conns > 100000)
        return cli_usage_error(usage, "--max-connections must be 1..100000");
    if (max_per_ip < 0 || max_per_ip > 100000)
        return cli_usage_error(usage, "--max-per-ip must be 0..100000");
    if (timeout < 1 || timeout > 3600)
        return cli_usage_error(usage, "--timeout must be 1..3600 seconds");
    if (threads < 0 || threads > 256)
        return cli_usage_error(usage, "--threads must be 0..256");

    char *db = ctx->db_path ? xstrdup(ctx->db_path) : cli_default_db_path();
    struct server_config cfg = {
        .db_path = db,
        .listen = listen,
        .tokens_path = tokens,
        .log_path = log,
        .max_body = (size_t)max_body,
        .max_connections = (unsigned)max_conns,
        .max_per_ip = (unsigned)max_per_ip,
        .timeout_s = (unsigned)timeout,
        .threads = (unsigned)threads,
        .read_only = ctx->read_only,
        .public_queries = public_queries,
    };
    struct dse_err err = {0};
    int rc = server_run(&cfg, &err);
    free(db);
    return rc < 0 ? cli_report(&err) : EXIT_OK;
}
