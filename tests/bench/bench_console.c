/* bench_console: the console in a real pseudo-terminal.
 *
 *   bench_console DSE_BIN DB [--cols N] [--rows N] [--launches N]
 *
 * Runs `dse --db DB console --no-state --refresh-ms 60000 --pane receipts
 * --signature SelectTool.v1` under forkpty (TERM=xterm-256color,
 * LANG=C.UTF-8) and measures from the outside, as a user would see it:
 *   first frame   fork -> the last byte of the first burst of output (a
 *                 burst ends when the terminal stays quiet for QUIET_MS);
 *                 median of several launches;
 *   key -> frame  write a key -> the last byte of the redraw it caused,
 *                 for cursor moves (j/k), page moves (PgDn/PgUp), jump to
 *                 end and back (G/g), opening a receipt and closing it
 *                 (Enter/q), the result filter (f) and a text filter
 *                 (/ text Enter, Esc);
 *   memory        VmRSS (and peak VmHWM) after paging down through
 *                 100,000 receipts.
 * The quiet gap is only used to find the end of a burst; it is not part
 * of any figure. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "bench_common.h"

#define QUIET_MS 40

static const char *dse_bin, *db;
static int cols = 120, rows = 40;

struct term {
    pid_t pid;
    int fd;
    long bytes;
};

static void term_start(struct term *t)
{
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    t->bytes = 0;
    t->pid = forkpty(&t->fd, NULL, NULL, &ws);
    if (t->pid < 0) {
        perror("forkpty");
        exit(1);
    }
    if (t->pid == 0) {
        setenv("TERM", "xterm-256color", 1);
        setenv("LANG", "C.UTF-8", 1);
        unsetenv("LINES");
        unsetenv("COLUMNS");
        unsetenv("NO_COLOR");
        execl(dse_bin, "dse", "--db", db, "console", "--no-state", "--refresh-ms", "60000",
              "--pane", "receipts", "--signature", "SelectTool.v1", (char *)NULL);
        perror("exec dse");
        _exit(127);
    }
}

static const char *marker = "direct.v1";

/* Read until the terminal has been quiet for QUIET_MS after some output
 * (or max_ms passed).  With want_marker, the quiet gap only counts once the
 * marker text has been seen (the first frame is the one showing receipt
 * rows, not the terminal set-up before it).  Returns the time of the last
 * byte, or 0 if none. */
static double drain_for(struct term *t, int max_ms, long *got, int want_marker)
{
    char buf[65536 + 64];
    size_t keep = 0, mlen = strlen(marker);
    int seen = !want_marker;
    double start = bench_now_s(), last = 0;
    long n = 0;
    for (;;) {
        double now = bench_now_s();
        if ((now - start) * 1000 > max_ms)
            break;
        int armed = last && seen;
        int wait = armed ? QUIET_MS - (int)((now - last) * 1000) : max_ms;
        if (armed && wait <= 0)
            break;
        struct pollfd p = {.fd = t->fd, .events = POLLIN};
        int r = poll(&p, 1, wait < 1 ? 1 : wait);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (armed)
                break;
            continue;
        }
        ssize_t k = read(t->fd, buf + keep, sizeof buf - 64);
        if (k <= 0)
            break; /* EIO: the child went away */
        n += k;
        last = bench_now_s();
        if (!seen) {
            size_t len = keep + (size_t)k;
            for (size_t i = 0; i + mlen <= len && !seen; i++)
                seen = memcmp(buf + i, marker, mlen) == 0;
            /* keep a tail so a marker split across reads is found */
            keep = len < mlen ? len : mlen - 1;
            memmove(buf, buf + len - keep, keep);
        }
    }
    t->bytes += n;
    if (got)
        *got = n;
    return seen ? last : 0;
}

static double drain(struct term *t, int max_ms, long *got)
{
    return drain_for(t, max_ms, got, 0);
}

static void term_stop(struct term *t)
{
    if (write(t->fd, "Q", 1) < 0) {
    }
    drain(t, 500, NULL);
    for (int i = 0; i < 50; i++) {
        if (waitpid(t->pid, NULL, WNOHANG) == t->pid) {
            close(t->fd);
            return;
        }
        usleep(20000);
    }
    kill(t->pid, SIGKILL);
    waitpid(t->pid, NULL, 0);
    close(t->fd);
}

struct series {
    const char *name;
    double v[400];
    int n, silent;
};

/* Press key, wait for the redraw; record the latency. */
static void press(struct term *t, struct series *s, const char *key)
{
    double t0 = bench_now_s();
    if (write(t->fd, key, strlen(key)) < 0) {
        perror("write");
        exit(1);
    }
    long got;
    double last = drain(t, 2000, &got);
    if (!last) {
        if (s)
            s->silent++;
        return;
    }
    if (s && s->n < (int)ARRAY_LEN(s->v))
        s->v[s->n++] = (last - t0) * 1000;
}

static void proc_mem(pid_t pid, long *rss, long *hwm)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    *rss = *hwm = -1;
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            *rss = strtol(line + 6, NULL, 10);
        if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm = strtol(line + 6, NULL, 10);
    }
    fclose(f);
}

static void report(struct series *s, double *all, int *nall)
{
    if (!s->n) {
        printf("ROW|key -> frame, %s|<= 16 ms p99|no redraw seen|-|%d keys without output\n",
               s->name, s->silent);
        return;
    }
    for (int i = 0; i < s->n; i++)
        all[(*nall)++] = s->v[i];
    double v[400];
    memcpy(v, s->v, sizeof(double) * (size_t)s->n);
    double p50 = bench_pct(v, (size_t)s->n, 50), p99 = bench_pct(v, (size_t)s->n, 99);
    char fig[128], note[128];
    snprintf(fig, sizeof fig, "console key -> frame p99, %s", s->name);
    snprintf(note, sizeof note, "p50 %.1f ms, worst %.1f ms, %d samples%s", p50, v[s->n - 1],
             s->n, s->silent ? ", some keys drew nothing" : "");
    bench_row(fig, "<= 16 ms p99", 16, p99, "ms", 1, note);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_console DSE_BIN DB [--cols N] [--rows N] [--launches N]\n");
        return 2;
    }
    dse_bin = argv[1];
    db = argv[2];
    int launches = 5;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--cols") == 0)
            cols = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--rows") == 0)
            rows = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--launches") == 0)
            launches = atoi(argv[i + 1]);
    }
    signal(SIGPIPE, SIG_IGN);

    /* first frame: a warm-up launch (page cache), then the measured ones */
    double first[32];
    int nfirst = 0;
    for (int i = 0; i <= launches && i < 32; i++) {
        struct term t;
        double t0 = bench_now_s();
        term_start(&t);
        double last = drain_for(&t, 20000, NULL, 1);
        if (!last) {
            fprintf(stderr, "bench_console: no frame showing \"%s\" within 20 s\n", marker);
            term_stop(&t);
            return 1;
        }
        if (i > 0)
            first[nfirst++] = (last - t0) * 1000;
        term_stop(&t);
    }
    double med = bench_pct(first, (size_t)nfirst, 50);
    char note[160];
    snprintf(note, sizeof note, "median of %d launches (exec to the last byte of the first "
                                "frame), %dx%d, worst %.0f ms",
             nfirst, cols, rows, first[nfirst - 1]);
    bench_row("console first full frame (1M-receipt store)", "<= 100 ms", 100, med, "ms", 1,
              note);

    struct term t;
    term_start(&t);
    drain_for(&t, 20000, NULL, 1);
    struct series cursor = {"cursor move (j/k)", {0}, 0, 0};
    struct series page = {"page move (PgDn/PgUp)", {0}, 0, 0};
    struct series jump = {"jump to end / start (G/g)", {0}, 0, 0};
    struct series open = {"open receipt / close (Enter/q)", {0}, 0, 0};
    struct series filt = {"result filter (f)", {0}, 0, 0};
    struct series text = {"text filter (/ thread-00042 Enter)", {0}, 0, 0};
    /* A bare Esc is held by curses for ESCDELAY (25 ms, set in ui/term.c) to
     * tell it from the start of an escape sequence; measured on its own so
     * that protocol wait is visible, not hidden in another row. */
    struct series esc = {"clear filter (Esc, includes the 25 ms ESCDELAY)", {0}, 0, 0};
    for (int i = 0; i < 200; i++)
        press(&t, &cursor, i % 4 < 2 ? "j" : "k");
    for (int i = 0; i < 100; i++)
        press(&t, &page, i % 4 < 2 ? "\x1b[6~" : "\x1b[5~");
    for (int i = 0; i < 100; i++)
        press(&t, &jump, i % 2 ? "g" : "G");
    for (int i = 0; i < 100; i++)
        press(&t, &open, i % 2 ? "q" : "\r");
    for (int i = 0; i < 99; i++)
        press(&t, &filt, "f");
    /* 200 rounds like the cursor keys: with 50 the p99 is just the maximum. */
    for (int i = 0; i < 200; i++) {
        press(&t, NULL, "/");
        if (write(t.fd, "thread-00042", 12) < 0)
            return 1;
        drain(&t, 500, NULL);
        press(&t, &text, "\r");
        press(&t, &esc, "\x1b");
    }
    double all[2000];
    int nall = 0;
    struct series *ss[] = {&cursor, &page, &jump, &open, &filt, &text, &esc};
    for (size_t i = 0; i < ARRAY_LEN(ss); i++)
        report(ss[i], all, &nall);
    if (nall) {
        double p50 = bench_pct(all, (size_t)nall, 50), p99 = bench_pct(all, (size_t)nall, 99);
        snprintf(note, sizeof note, "all %d keys above; p50 %.1f ms", nall, p50);
        bench_row("console key -> frame p99, all keys", "<= 16 ms p99", 16, p99, "ms", 1, note);
    }

    /* page through >= 100,000 receipts: bursts of PgDn, then let it settle */
    press(&t, NULL, "g");
    int per_page = rows > 8 ? rows - 8 : 1;
    int presses = 100000 / per_page + 1;
    for (int done = 0; done < presses; done += 50) {
        for (int k = 0; k < 50; k++)
            if (write(t.fd, "\x1b[6~", 4) < 0)
                return 1;
        drain(&t, 1500, NULL); /* at the end of the list nothing is drawn */
    }
    long rss, hwm;
    proc_mem(t.pid, &rss, &hwm);
    snprintf(note, sizeof note, "after %d PgDn (>= 100,000 rows); peak (VmHWM) %.1f MiB",
             presses, (double)hwm / 1024);
    bench_row("console resident memory after paging 100,000 receipts", "<= 32 MiB", 32,
              (double)rss / 1024, "MiB", 1, note);
    term_stop(&t);
    return 0;
}
