/* bench_token_timing: can a client tell from `dse serve`'s response time how
 * much of a wrong bearer token matched the real one?  (reliability-anchors:
 * it must not be able to.)  The server hashes the presented token (SHA-256)
 * and compares digests with CRYPTO_memcmp; this measures the outcome.
 *
 *   bench_token_timing HOST:PORT TOKEN [SAMPLES_PER_KIND] [SEED]
 *
 * TOKEN is an admin token of the server (at least 32 characters).  Four kinds
 * of request, byte-identical except for the token (GET /api/dse/receipt/<id>,
 * a route that checks tokens; /healthz does not):
 *   (a) TOKEN with its first byte changed: nothing matches
 *   (b) TOKEN with its last byte changed: every byte but one matches
 *   (c) TOKEN without its last byte: a matching prefix, one byte shorter
 *   ok  TOKEN itself, the control (200, and the store is asked, so slower)
 * A warm-up, then SAMPLES_PER_KIND (20,000) of each, in blocks of one of
 * each kind in a seeded random order, so drift in the machine's load falls
 * on all kinds alike.  Each request is timed with CLOCK_MONOTONIC from its
 * first byte sent to the last byte of the answer.
 *
 * One connection per request, opened (untimed) just before the send: dse
 * serve refuses a wrong token before the request is complete, and
 * libmicrohttpd closes the connection after such an early answer (every 401
 * carries Connection: close), so one keep-alive connection does not survive
 * the first wrong token.  All four kinds go the same way so they stay
 * comparable.  Connections are closed with RST (linger 0) so 80,000 of them
 * leave no TIME_WAIT behind.
 *
 * Figures: per kind the median and the 20% trimmed mean; (b)-(a) (and
 * (c)-(a), ok-(a)) as a difference of 20% trimmed means with a 95% Yuen-Welch
 * interval, and of medians with a 95% percentile bootstrap interval.
 * Verdict "no measurable difference" when the Yuen interval for (b)-(a)
 * includes 0 or |diff| < 1 us.  The ROW's ratio is 0 when the interval
 * includes 0, else |diff| / 1 us, so <= 1 means the verdict held.  Every
 * wrong token must get 401; anything else is counted, reported, and makes
 * the exit status 1. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_common.h"

#define DEFAULT_SAMPLES 20000
#define WARMUP_PER_KIND 500
#define TRIM 0.20
#define BOOT_RESAMPLES 1000
#define THRESHOLD_NS 1000.0
#define ANSWER_CAP 65536

enum kind { K_FIRST, K_LAST, K_PREFIX, K_RIGHT, NKIND };
static const char *const kind_label[NKIND] = {
    "(a) wrong first byte",
    "(b) wrong last byte",
    "(c) prefix, 1 byte short",
    "ok  correct (control)",
};

struct kind_data {
    char *request;
    size_t request_len;
    unsigned want_status;
    double *ns; /* sorted after the run */
    size_t n;
    long want, other, failed; /* answers with the expected status, other status, no answer */
};

static struct sockaddr_in addr;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sends one request on a fresh connection and reads the whole answer
 * (headers, then Content-Length bytes).  Returns the HTTP status, or -1;
 * *ns is the time from the send to the last byte. */
static int exchange(const struct kind_data *k, char *buf, int64_t *ns)
{
    int fd = bench_dial(&addr, 1);
    if (fd < 0)
        return -1;
    int status = -1;
    size_t got = 0;
    char *body = NULL;
    long clen = -1;
    int64_t t0 = now_ns();
    if (send(fd, k->request, k->request_len, MSG_NOSIGNAL) != (ssize_t)k->request_len)
        goto out;
    for (;;) {
        ssize_t r = recv(fd, buf + got, ANSWER_CAP - 1 - got, 0);
        if (r <= 0)
            goto out;
        got += (size_t)r;
        buf[got] = 0;
        if (!body && (body = strstr(buf, "\r\n\r\n"))) {
            body += 4;
            for (char *h = buf; h && h < body; h = strstr(h, "\r\n"), h = h ? h + 2 : NULL)
                if (strncasecmp(h, "Content-Length:", 15) == 0)
                    clen = strtol(h + 15, NULL, 10);
            if (clen < 0)
                goto out;
        }
        if (body && (long)(got - (size_t)(body - buf)) >= clen)
            break;
        if (got >= ANSWER_CAP - 1)
            goto out;
    }
    *ns = now_ns() - t0;
    if (got > 12 && strncmp(buf, "HTTP/1.", 7) == 0)
        status = atoi(buf + 9);
out:
    close(fd);
    return status;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_sorted(const double *v, size_t n)
{
    return n ? (v[(n - 1) / 2] + v[n / 2]) / 2 : 0;
}

/* Trimmed mean and winsorized variance of sorted v, TRIM cut on each side. */
static void trimmed(const double *v, size_t n, double *mean, double *wvar, size_t *kept)
{
    size_t g = (size_t)(TRIM * (double)n);
    double s = 0;
    for (size_t i = g; i < n - g; i++)
        s += v[i];
    *kept = n - 2 * g;
    *mean = s / (double)*kept;
    double wm = 0;
    for (size_t i = 0; i < n; i++)
        wm += i < g ? v[g] : i >= n - g ? v[n - g - 1] : v[i];
    wm /= (double)n;
    double ss = 0;
    for (size_t i = 0; i < n; i++) {
        double x = i < g ? v[g] : i >= n - g ? v[n - g - 1] : v[i];
        ss += (x - wm) * (x - wm);
    }
    *wvar = ss / (double)(n - 1);
}

/* Two-sided 95% quantile of Student's t (Cornish-Fisher; df is large here). */
static double t975(double df)
{
    const double z = 1.959963985;
    double z3 = z * z * z, z5 = z3 * z * z;
    return z + (z3 + z) / (4 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96 * df * df);
}

struct diff {
    double est, lo, hi;
};

/* Yuen-Welch: difference of trimmed means b - a with its 95% interval. */
static struct diff yuen(const struct kind_data *a, const struct kind_data *b)
{
    double ma, va, mb, vb;
    size_t ha, hb;
    trimmed(a->ns, a->n, &ma, &va, &ha);
    trimmed(b->ns, b->n, &mb, &vb, &hb);
    double da = (double)(a->n - 1) * va / ((double)ha * (double)(ha - 1));
    double db = (double)(b->n - 1) * vb / ((double)hb * (double)(hb - 1));
    double df = (da + db) * (da + db) / (da * da / (double)(ha - 1) + db * db / (double)(hb - 1));
    double half = t975(df) * sqrt(da + db);
    return (struct diff){mb - ma, mb - ma - half, mb - ma + half};
}

/* Median of a resample of sorted v: the order statistics of a resample of a
 * sorted array are the array at the order statistics of the drawn indices,
 * so counting the indices replaces sorting the values. */
static double boot_median(const double *v, size_t n, unsigned *count, struct bench_rng *rng)
{
    memset(count, 0, n * sizeof *count);
    for (size_t i = 0; i < n; i++)
        count[bench_rng_next(rng) % n]++;
    size_t k1 = (n - 1) / 2, k2 = n / 2, seen = 0;
    double lo = 0;
    for (size_t i = 0; i < n; i++) {
        if (seen <= k1 && k1 < seen + count[i])
            lo = v[i];
        if (seen <= k2 && k2 < seen + count[i])
            return (lo + v[i]) / 2;
        seen += count[i];
    }
    return lo;
}

static struct diff boot_median_diff(const struct kind_data *a, const struct kind_data *b,
                                    uint64_t seed)
{
    struct bench_rng rng = {seed};
    size_t cap = a->n > b->n ? a->n : b->n;
    unsigned *count = xmalloc(cap * sizeof *count);
    double *d = xmalloc(BOOT_RESAMPLES * sizeof *d);
    for (int i = 0; i < BOOT_RESAMPLES; i++)
        d[i] = boot_median(b->ns, b->n, count, &rng) - boot_median(a->ns, a->n, count, &rng);
    qsort(d, BOOT_RESAMPLES, sizeof *d, cmp_double);
    struct diff r = {median_sorted(b->ns, b->n) - median_sorted(a->ns, a->n),
                     d[(int)(0.025 * BOOT_RESAMPLES)], d[(int)(0.975 * BOOT_RESAMPLES) - 1]};
    free(count);
    free(d);
    return r;
}

static void print_diff(const char *what, const struct kind_data *k, enum kind which, uint64_t seed)
{
    struct diff y = yuen(&k[K_FIRST], &k[which]);
    struct diff m = boot_median_diff(&k[K_FIRST], &k[which], seed);
    printf("  %-26s trimmed means %+8.0f ns, 95%% CI [%+.0f, %+.0f] (Yuen-Welch);"
           " medians %+8.0f ns, 95%% CI [%+.0f, %+.0f] (bootstrap)\n",
           what, y.est, y.lo, y.hi, m.est, m.lo, m.hi);
}

static int parse_hostport(const char *arg)
{
    char host[128];
    if (strncmp(arg, "http://", 7) == 0)
        arg += 7;
    snprintf(host, sizeof host, "%s", arg);
    host[strcspn(host, "/")] = 0;
    char *colon = strrchr(host, ':');
    if (!colon)
        return -1;
    *colon = 0;
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host, &addr.sin_addr) == 1 ? 0 : -1;
}

static void make_request(struct kind_data *k, const char *hostport, const char *token, size_t len)
{
    k->request = xasprintf("GET /api/dse/receipt/bench-token-timing HTTP/1.1\r\nHost: %s\r\n"
                           "Authorization: Bearer %.*s\r\n\r\n",
                           hostport, (int)len, token);
    k->request_len = strlen(k->request);
}

int main(int argc, char **argv)
{
    if (argc < 3 || parse_hostport(argv[1]) < 0) {
        fprintf(stderr, "usage: bench_token_timing HOST:PORT TOKEN [SAMPLES_PER_KIND] [SEED]\n"
                        "  (HOST an IPv4 address; TOKEN an admin token of that dse serve)\n");
        return 2;
    }
    const char *token = argv[2];
    size_t tl = strlen(token);
    if (tl < 32) {
        fprintf(stderr, "bench_token_timing: the token must be at least 32 characters\n");
        return 2;
    }
    long per_kind = argc > 3 ? atol(argv[3]) : DEFAULT_SAMPLES;
    if (per_kind < 100 || per_kind > 1000000)
        per_kind = DEFAULT_SAMPLES;
    uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    const char *hostport = strncmp(argv[1], "http://", 7) == 0 ? argv[1] + 7 : argv[1];

    /* The wrong tokens: same characters as the real one except where said. */
    char *first = xstrdup(token), *last = xstrdup(token);
    first[0] = first[0] == 'A' ? 'B' : 'A';
    last[tl - 1] = last[tl - 1] == 'A' ? 'B' : 'A';
    struct kind_data k[NKIND] = {0};
    make_request(&k[K_FIRST], hostport, first, tl);
    make_request(&k[K_LAST], hostport, last, tl);
    make_request(&k[K_PREFIX], hostport, token, tl - 1);
    make_request(&k[K_RIGHT], hostport, token, tl);
    for (int i = 0; i < NKIND; i++) {
        k[i].want_status = i == K_RIGHT ? 200 : 401;
        k[i].ns = xmalloc((size_t)per_kind * sizeof *k[i].ns);
    }
    free(first);
    free(last);

    /* The schedule: blocks of one request of each kind, shuffled within the
     * block (Fisher-Yates, seeded).  A burst of load from elsewhere on the
     * machine then falls on every kind nearly equally, instead of on
     * whichever kind a fully random order happened to put there; the
     * two-sample interval below ignores this pairing, so it errs wide. */
    size_t warm = WARMUP_PER_KIND * NKIND, total = warm + (size_t)per_kind * NKIND;
    unsigned char *order = xmalloc(total);
    struct bench_rng rng = {seed};
    for (size_t b = 0; b < total; b += NKIND) {
        unsigned char *blk = order + b;
        for (int i = 0; i < NKIND; i++)
            blk[i] = (unsigned char)i;
        for (int i = NKIND - 1; i > 0; i--) {
            unsigned j = bench_rng_below(&rng, (unsigned)i + 1);
            unsigned char t = blk[i];
            blk[i] = blk[j];
            blk[j] = t;
        }
    }

    char *buf = xmalloc(ANSWER_CAP);
    int64_t ns = 0;
    int status = exchange(&k[K_RIGHT], buf, &ns);
    if (status != 200) {
        fprintf(stderr, "bench_token_timing: the correct token got %d, not 200: wrong token or "
                        "server?\n", status);
        return 2;
    }
    double t0 = bench_now_s();
    for (size_t i = 0; i < total; i++) {
        struct kind_data *kd = &k[order[i]];
        status = exchange(kd, buf, &ns);
        if (i < warm)
            continue;
        if (status < 0)
            kd->failed++;
        else if ((unsigned)status != kd->want_status)
            kd->other++;
        else
            kd->want++;
        if (status > 0)
            kd->ns[kd->n++] = (double)ns;
    }
    double elapsed = bench_now_s() - t0;
    free(buf);
    free(order);

    printf("token timing: %ld requests per kind after %zu warm-up, shuffled blocks of 4 "
           "(seed %llu), token %zu chars, a new connection per request, %.1f s\n",
           per_kind, warm, (unsigned long long)seed, tl, elapsed);
    printf("  %-26s %8s %11s %11s %9s %9s %7s %6s %6s\n", "kind", "n", "median us",
           "trim20 us", "p10 us", "p90 us", "expect", "other", "failed");
    double med[NKIND];
    for (int i = 0; i < NKIND; i++) {
        struct kind_data *kd = &k[i];
        if (kd->n < 10) {
            fprintf(stderr, "bench_token_timing: too few answers for %s\n", kind_label[i]);
            return 1;
        }
        qsort(kd->ns, kd->n, sizeof *kd->ns, cmp_double);
        double tm, wv;
        size_t h;
        trimmed(kd->ns, kd->n, &tm, &wv, &h);
        med[i] = median_sorted(kd->ns, kd->n);
        printf("  %-26s %8zu %11.2f %11.2f %9.2f %9.2f %4u:%-2ld %6ld %6ld\n", kind_label[i],
               kd->n, med[i] / 1e3, tm / 1e3, kd->ns[kd->n / 10] / 1e3,
               kd->ns[kd->n * 9 / 10] / 1e3, kd->want_status, kd->want, kd->other, kd->failed);
    }
    print_diff("(b)-(a) last vs first:", k, K_LAST, seed + 1);
    print_diff("(c)-(a) prefix vs first:", k, K_PREFIX, seed + 2);
    print_diff("ok-(a) control:", k, K_RIGHT, seed + 3);

    struct diff d = yuen(&k[K_FIRST], &k[K_LAST]);
    int includes0 = d.lo <= 0 && 0 <= d.hi;
    const char *verdict = includes0 ? "no measurable difference (CI includes 0)"
                          : fabs(d.est) < THRESHOLD_NS
                              ? "no measurable difference (diff under 1 us, CI excludes 0)"
                              : "DIFFERENCE: the response time tells how much of the token matched";
    printf("verdict: %s\n", verdict);
    long not401 = 0, wrong_ok = 0;
    for (int i = 0; i < K_RIGHT; i++) {
        not401 += k[i].other + k[i].failed;
        wrong_ok += k[i].want;
    }
    if (not401)
        printf("WARNING: %ld wrong-token requests were not answered 401\n", not401);
    printf("ROW|wrong bearer token: latency, all but the last byte right (b) minus first byte "
           "wrong (a) (dse serve, loopback)|no difference (CI includes 0)|%+.0f ns (95%% CI %+.0f "
           "to %+.0f)|%.2f|%s%s; trimmed means (20%%), Yuen-Welch; medians a %.1f, b %.1f, c %.1f, "
           "ok %.1f us; %ld per kind, shuffled blocks, new connection per request; %ld/%ld wrong "
           "tokens got 401\n",
           d.est, d.lo, d.hi, includes0 ? 0.0 : fabs(d.est) / THRESHOLD_NS,
           not401 ? "WRONG TOKENS NOT ANSWERED 401 (see counts); timing: " : "", verdict,
           med[K_FIRST] / 1e3, med[K_LAST] / 1e3, med[K_PREFIX] / 1e3, med[K_RIGHT] / 1e3,
           per_kind, wrong_ok, wrong_ok + not401);
    for (int i = 0; i < NKIND; i++) {
        free(k[i].request);
        free(k[i].ns);
    }
    return not401 ? 1 : 0;
}
