/* bench_http: a small, bounded keep-alive load generator for `dse serve`,
 * used by run.sh when wrk is not installed (and to cross-check it).
 *
 *   bench_http HOST:PORT TOKEN CONNECTIONS SECONDS
 *
 * One thread per connection; each sends POST /api/query getActive over one
 * keep-alive connection, waits for the whole answer (headers, then
 * Content-Length bytes), and records the latency.  Closed-loop: a new
 * request only after the previous answer, so it measures what the server
 * sustains for that many clients.  Bounded: at most 64 connections, 1 MiB
 * answers, the run length given.  Prints one ROW (rate, p50/p99, errors). */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_common.h"

#define MAX_CONNS 64
#define MAX_SAMPLES 400000

static struct sockaddr_in addr;
static char request[1024];
static size_t request_len;
static double deadline;

struct worker {
    pthread_t t;
    double *lat;
    size_t n;
    long errors;
};

/* One request/answer on fd; 0 when the answer was a whole 200. */
static int exchange(int fd, char *buf, size_t cap)
{
    if (send(fd, request, request_len, MSG_NOSIGNAL) != (ssize_t)request_len)
        return -1;
    size_t got = 0;
    char *body = NULL;
    long clen = -1;
    for (;;) {
        ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
        buf[got] = 0;
        if (!body && (body = strstr(buf, "\r\n\r\n"))) {
            body += 4;
            for (char *h = buf; h < body; h = strstr(h, "\r\n") + 2)
                if (strncasecmp(h, "Content-Length:", 15) == 0)
                    clen = strtol(h + 15, NULL, 10);
            if (clen < 0)
                return -1;
        }
        if (body && (long)(got - (size_t)(body - buf)) >= clen)
            break;
        if (got >= cap - 1)
            return -1;
    }
    return strncmp(buf + 9, "200", 3) == 0 ? 0 : -1;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    char *buf = malloc(1 << 20);
    int fd = bench_dial(&addr, 0);
    while (bench_now_s() < deadline) {
        if (fd < 0) {
            w->errors++;
            fd = bench_dial(&addr, 0);
            continue;
        }
        double t0 = bench_now_s();
        if (exchange(fd, buf, 1 << 20) < 0) {
            w->errors++;
            close(fd);
            fd = bench_dial(&addr, 0);
            continue;
        }
        if (w->n < MAX_SAMPLES)
            w->lat[w->n++] = (bench_now_s() - t0) * 1e3;
    }
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_http HOST:PORT TOKEN CONNECTIONS SECONDS\n");
        return 2;
    }
    char host[128];
    snprintf(host, sizeof host, "%s", argv[1]);
    char *colon = strrchr(host, ':');
    if (!colon)
        return 2;
    *colon = 0;
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "bench_http: need an IPv4 address, got %s\n", host);
        return 2;
    }
    int conns = atoi(argv[3]);
    if (conns < 1)
        conns = 1;
    if (conns > MAX_CONNS)
        conns = MAX_CONNS;
    double secs = atof(argv[4]);
    const char *body = "{\"path\":\"dse/active:getActive\",\"args\":{\"signatureId\":"
                       "\"@openagents/autopilot/blueprint/SelectTool.v1\"},\"format\":\"json\"}";
    request_len = (size_t)snprintf(request, sizeof request,
                                   "POST /api/query HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer "
                                   "%s\r\nContent-Type: application/json\r\nContent-Length: "
                                   "%zu\r\n\r\n%s",
                                   argv[1], argv[2], strlen(body), body);
    struct worker w[MAX_CONNS] = {0};
    double t0 = bench_now_s();
    deadline = t0 + secs;
    for (int i = 0; i < conns; i++) {
        w[i].lat = malloc(sizeof(double) * MAX_SAMPLES);
        pthread_create(&w[i].t, NULL, run, &w[i]);
    }
    size_t total = 0;
    long errors = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(w[i].t, NULL);
        total += w[i].n;
        errors += w[i].errors;
    }
    double elapsed = bench_now_s() - t0;
    double *all = malloc(sizeof(double) * (total ? total : 1));
    size_t k = 0;
    for (int i = 0; i < conns; i++) {
        memcpy(all + k, w[i].lat, sizeof(double) * w[i].n);
        k += w[i].n;
        free(w[i].lat);
    }
    double rate = (double)total / elapsed;
    char fig[128], note[128];
    snprintf(fig, sizeof fig, "dse serve small queries/s, %d keep-alive client%s (bench_http, loopback)",
             conns, conns > 1 ? "s" : "");
    snprintf(note, sizeof note, "p50 %.2f ms, p99 %.2f ms, %ld errors", bench_pct(all, total, 50),
             bench_pct(all, total, 99), errors);
    bench_row(fig, ">= 5,000/s", 5000, rate, "/s", 0, note);
    free(all);
    return errors && !total;
}
