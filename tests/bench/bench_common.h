/* bench_common: helpers shared by the benchmark programs in tests/bench/.
 *
 * Header-only (static inline) because the Makefile builds every
 * tests/bench/NAME.c into its own binary.  Nothing here asserts anything about
 * time: benchmarks measure and print, tests/ assert behaviour.
 *
 * Output protocol, read by tests/bench/run.sh:
 *   ROW|<figure>|<target>|<measured>|<ratio>|<note>
 * one line per figure on stdout.  `ratio` is measured / target for "at most"
 * targets and target / measured for "at least" ones, so <= 1.00 always means
 * the target was met.  Everything else a program prints is commentary. */
#ifndef DSE_BENCH_COMMON_H
#define DSE_BENCH_COMMON_H

#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "json.h"
#include "util.h"

static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* splitmix64: a seeded, portable generator so stores are reproducible. */
struct bench_rng {
    uint64_t s;
};
static inline uint64_t bench_rng_next(struct bench_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline unsigned bench_rng_below(struct bench_rng *r, unsigned n)
{
    return n ? (unsigned)(bench_rng_next(r) % n) : 0;
}
/* A UUID-shaped id drawn from the generator (v4 layout). */
static inline void bench_rng_uuid(struct bench_rng *r, char out[37])
{
    uint64_t a = bench_rng_next(r), b = bench_rng_next(r);
    snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffffu, (unsigned)a & 0xfffu,
             (unsigned)((b >> 48) & 0x3fffu) | 0x8000u,
             (unsigned long long)(b & 0xffffffffffffull));
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
/* Percentile p (0..100) of n samples (sorts v in place). */
static inline double bench_pct(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, bench_cmp_double);
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* One table row.  at_most: lower is better (latency, memory, time). */
static inline void bench_row(const char *figure, const char *target, double target_v,
                             double measured, const char *unit, int at_most, const char *note)
{
    double ratio = at_most ? measured / target_v : (measured > 0 ? target_v / measured : 999);
    char m[64];
    if (measured >= 1000)
        snprintf(m, sizeof m, "%.0f %s", measured, unit);
    else if (measured >= 10)
        snprintf(m, sizeof m, "%.1f %s", measured, unit);
    else
        snprintf(m, sizeof m, "%.2f %s", measured, unit);
    printf("ROW|%s|%s|%s|%.2f|%s\n", figure, target, m, ratio, note ? note : "");
    fflush(stdout);
}

/* A receipt shaped like predict.c's PredictReceiptV1.  tag "Ok" or "Error";
 * trace_blob (may be NULL) makes it an rlm_lite.v1 receipt with a trace
 * blob ref {id, hash, size, mime}. */
static inline cJSON *bench_receipt(const char *receipt_id, const char *sig, const char *cid,
                                   int64_t started_ms, int duration_ms, const char *error_name,
                                   const cJSON *trace_blob, int events)
{
    cJSON *rc = json_obj();
    char created[32];
    util_iso_time(started_ms, created);
    json_set_str(rc, "format", "openagents.dse.predict_receipt");
    json_set_num(rc, "formatVersion", 1);
    json_set_str(rc, "receiptId", receipt_id);
    json_set_str(rc, "runId", receipt_id);
    json_set_str(rc, "createdAt", created);
    json_set_str(rc, "signatureId", sig);
    json_set_str(rc, "compiled_id", cid);
    json_set_str(rc, "strategyId", trace_blob ? "rlm_lite.v1" : "direct.v1");
    cJSON *h = json_obj();
    json_set_str(h, "inputSchemaHash",
                 "sha256:3f1a9c0e2b7d4a6f8e1c3b5d7f9a0c2e4b6d8f0a1c3e5b7d9f1a2c4e6b8d0f2a");
    json_set_str(h, "outputSchemaHash",
                 "sha256:8e2d4c6a0b1f3e5d7c9a2b4f6e8d0c1a3f5e7d9b0a2c4e6f8b1d3a5c7e9f0b2d");
    json_set_str(h, "promptIrHash",
                 "sha256:1c3e5a7b9d0f2e4c6a8b1d3f5e7c9a0b2d4f6e8a1c3b5d7f9e0a2c4b6d8f1e3a");
    json_set_str(h, "renderedPromptHash",
                 "sha256:5b7d9f1a3c5e7b9d0f2a4c6e8b0d1f3a5c7e9b2d4f6a8c0e1b3d5f7a9c2e4b6d");
    json_set_str(h, "paramsHash", cid);
    if (!error_name)
        json_set_str(h, "outputHash",
                     "sha256:9d1f3b5e7a9c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d1f3a5c7e9b0d2f4a6c8e1b");
    json_set(rc, "hashes", h);
    cJSON *m = json_obj();
    json_set_str(m, "modelId", "local-knn");
    json_set_num(m, "temperature", 0);
    json_set(rc, "model", m);
    cJSON *u = json_obj();
    json_set_num(u, "promptTokens", 412 + duration_ms % 97);
    json_set_num(u, "completionTokens", 18 + duration_ms % 13);
    json_set_num(u, "totalTokens", 430 + duration_ms % 97 + duration_ms % 13);
    json_set(rc, "usage", u);
    cJSON *t = json_obj();
    json_set_num(t, "startedAtMs", (double)started_ms);
    json_set_num(t, "endedAtMs", (double)(started_ms + duration_ms));
    json_set_num(t, "durationMs", duration_ms);
    json_set(rc, "timing", t);
    if (trace_blob) {
        cJSON *tr = json_obj();
        json_set_copy(tr, "blob", trace_blob);
        json_set_num(tr, "eventCount", events);
        json_set(rc, "rlmTrace", tr);
    }
    cJSON *b = json_obj();
    cJSON *lim = json_obj();
    json_set_num(lim, "maxLmCalls", 8);
    json_set_num(lim, "maxTimeMs", 30000);
    json_set(b, "limits", lim);
    cJSON *use = json_obj();
    json_set_num(use, "lmCalls", trace_blob ? 1 + events / 3 : 1);
    json_set_num(use, "elapsedMs", duration_ms);
    json_set(b, "usage", use);
    json_set(rc, "budget", b);
    cJSON *res = json_obj();
    if (error_name) {
        json_set_str(res, "_tag", "Error");
        json_set_str(res, "errorName", error_name);
        json_set_str(res, "message", "synthetic failure for the benchmark store");
    } else {
        json_set_str(res, "_tag", "Ok");
    }
    json_set(rc, "result", res);
    cJSON *lm = json_obj();
    json_set_str(lm, "provider", "local-knn");
    json_set_str(lm, "model", "local-knn");
    json_set_num(lm, "calls", 1);
    json_set_num(lm, "cacheHits", 0);
    json_set(rc, "lm", lm);
    return rc;
}

/* {threadId, runId, receipt} for receipts_record / x_receipts_batch. */
static inline cJSON *bench_receipt_item(const char *thread_id, cJSON *receipt)
{
    cJSON *it = json_obj();
    json_set_str(it, "threadId", thread_id);
    json_set_str(it, "runId", json_str(receipt, "receiptId", ""));
    json_set(it, "receipt", receipt);
    return it;
}

/* A new TCP connection to addr with Nagle off and a 5 s receive timeout;
 * reset_on_close: close() sends RST instead of leaving TIME_WAIT (for
 * benchmarks that open a connection per request).  -1 on failure. */
static inline int bench_dial(const struct sockaddr_in *addr, int reset_on_close)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (reset_on_close) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Resident set size of this process in KiB (from /proc). */
static inline long bench_rss_kib(long pid)
{
    char path[64], line[256];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%ld/status", pid);
    else
        snprintf(path, sizeof path, "/proc/self/status");
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

#endif
