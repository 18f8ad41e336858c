/* fuzz_server: `dse serve`'s request handling, in process.  server_run
 * runs on a thread against a temporary store (tokens required, 64 KiB body
 * cap); each input becomes one request over loopback TCP, so libmicrohttpd
 * parses it and our routing, token checks, body handling and store calls
 * run instrumented.  We do not parse HTTP ourselves: we only read the
 * status line and body of the answer.
 *
 * Input: byte 0 chooses the mode.
 *   1 mod 4   raw: the rest is sent as is, then the write side is shut, so a
 *         truncated request ends at once instead of waiting for the timeout.
 *   otherwise structured: byte 1 picks the route, byte 2 the token (none,
 *         admin, read, junk), the rest is the body of a well-formed request
 *         with Content-Length and Connection: close.
 * Invariants: the server answers every structured request with a status
 * line; error bodies (4xx/5xx) are terminal-safe; JSON bodies parse; no
 * body carries a raw C0 control (JSON escapes them). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "../unit/hostile_corpus.h"
#include "json.h"
#include "server.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ADMIN "fuzz-admin-token-0123456789abcdef"
#define READ "fuzz-read-token-0123456789abcdef"

static struct server_config cfg;
static int port;

static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_server: invariant broken: %s\n", what);
        abort();
    }
}

static void *server_main(void *arg)
{
    (void)arg;
    struct dse_err err;
    if (server_run(&cfg, &err) < 0)
        fprintf(stderr, "fuzz_server: server_run: %s\n", err.msg);
    return NULL;
}

static char *tmpdir;

/* The server thread is still running at exit; unlinking open files is fine. */
static void cleanup(void)
{
    static const char *const names[] = {"dse.db", "dse.db-wal", "dse.db-shm", "tokens"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *p = xasprintf("%s/%s", tmpdir, names[i]);
        unlink(p);
        free(p);
    }
    rmdir(tmpdir);
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void start(void)
{
    /* tmpfs when there is one: operator actions fsync, and a disk would
     * make that the whole cost of an execution. */
    char shm[] = "/dev/shm/dse-fuzz-server-XXXXXX", tmp[] = "/tmp/dse-fuzz-server-XXXXXX";
    const char *dir = mkdtemp(shm);
    if (!dir)
        dir = mkdtemp(tmp);
    must(dir != NULL, "mkdtemp");
    tmpdir = xstrdup(dir);
    atexit(cleanup);
    char *tokens = xasprintf("%s/tokens", dir);
    FILE *f = fopen(tokens, "w");
    fprintf(f, "admin %s fuzz\nread %s viewer\n", ADMIN, READ);
    fclose(f);
    /* a free port: bind to 0, read it back, let go */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    must(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind");
    getsockname(fd, (struct sockaddr *)&a, &al);
    port = ntohs(a.sin_port);
    close(fd);
    cfg.db_path = xasprintf("%s/dse.db", dir);
    cfg.listen = xasprintf("127.0.0.1:%d", port);
    cfg.tokens_path = tokens;
    cfg.log_path = "/dev/null";
    cfg.max_body = 64 * 1024;
    cfg.max_connections = 1000;
    cfg.timeout_s = 1;
    cfg.threads = 2;
    pthread_t t;
    pthread_create(&t, NULL, server_main, NULL);
    pthread_detach(t);
    for (int i = 0; i < 500; i++) {
        int c = dial();
        if (c >= 0) {
            close(c);
            return;
        }
        usleep(10000);
    }
    must(0, "server did not come up");
}

static size_t exchange(int fd, const char *req, size_t n, int shut, char *resp, size_t cap)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (shut) {
        /* A keep-alive connection may stay open until the server's idle
         * timeout: read what comes within 200 ms and let the server's
         * watchdog close the rest. */
        shutdown(fd, SHUT_WR);
        struct timeval tv = {0, 200000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    size_t got = 0;
    while (got < cap) {
        ssize_t r = recv(fd, resp + got, cap - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char resp[1 << 20];
    if (!port)
        start();
    if (size < 3 || size > 70000)
        return 0;
    int fd = dial();
    must(fd >= 0, "cannot connect to the server");
    size_t got;
    int structured = (data[0] & 3) != 1;
    int route = data[1] % 8;
    if (!structured) {
        got = exchange(fd, (const char *)data + 1, size - 1, 1, resp, sizeof resp - 1);
    } else {
        static const char *const routes[] = {
            "POST /api/query",        "POST /api/mutation",   "POST /api/action",
            "GET /api/dse/receipt/r1", "GET /api/dse/blob/r1/b1", "GET /healthz",
            "POST /api/nothing",      "PUT /api/query"};
        static const char *const auths[] = {"", "Authorization: Bearer " ADMIN "\r\n",
                                            "Authorization: Bearer " READ "\r\n",
                                            "Authorization: Bearer fuzz-admin-token\r\n"};
        const char *body = (const char *)data + 3;
        size_t blen = size - 3;
        char *head = xasprintf("%s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Type: "
                               "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                               routes[route], auths[data[2] % 4], blen);
        size_t hl = strlen(head);
        char *req = xmalloc(hl + blen);
        memcpy(req, head, hl);
        memcpy(req + hl, body, blen);
        got = exchange(fd, req, hl + blen, 0, resp, sizeof resp - 1);
        free(req);
        free(head);
        must(got > 12 && memcmp(resp, "HTTP/1.", 7) == 0, "no status line for a request");
    }
    close(fd);
    resp[got] = 0;
    if (got > 12 && memcmp(resp, "HTTP/1.", 7) == 0) {
        int status = atoi(resp + 9);
        char *b = strstr(resp, "\r\n\r\n");
        if (b) {
            b += 4;
            /* libmicrohttpd 0.9.75 (Debian 12) sends its header block twice
             * when it refuses a bad Content-Length itself (its own HTML 400,
             * before dse sees the request): look past the repeat. */
            char *again = status == 400 && strncmp(b, "HTTP/1.1 400 ", 13) == 0
                              ? strstr(b, "\r\n\r\n")
                              : NULL;
            if (again)
                b = again + 4;
            size_t bl = got - (size_t)(b - resp);
            int blob = structured && route == 4 && status == 200; /* raw text by design */
            if (!blob && bl) {
                for (size_t i = 0; i < bl; i++)
                    must((unsigned char)b[i] >= 0x20 || b[i] == '\n' || b[i] == '\t',
                         "raw control byte in a response body");
                if (status >= 400)
                    must(hostile_check(b, bl, HOSTILE_ALLOW_NL) == NULL,
                         "error body is not terminal-safe");
                if (strstr(resp, "application/json")) {
                    struct dse_err e;
                    cJSON *v = json_parse(b, bl, 0, &e);
                    must(v != NULL, "JSON body does not parse");
                    cJSON_Delete(v);
                }
            }
        }
    }
    return 0;
}
