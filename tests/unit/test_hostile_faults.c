/* Faults against the SQLite store (reliability-anchors §7 items 11, 13, 15):
 *
 *   kill -9   receipt writers (batched and single) and an operator writer
 *             run in forked children and are all killed with SIGKILL at a
 *             seeded random moment, round after round.  After each round:
 *             PRAGMA integrity_check is ok, every acknowledged write is
 *             present, no batch is half there, and the canary counters
 *             equal the receipts served by the canary (counting happens in
 *             the receipt's transaction).
 *   contention  two receipt writers at full speed while the parent runs
 *             operator actions: every action succeeds (no SQLITE_BUSY
 *             reaches the caller); latency p50/p99 is printed, not asserted.
 *   disk full RLIMIT_FSIZE in a child (SIGXFSZ ignored) until writes fail:
 *             the error is clear, the process survives, the store stays
 *             consistent, and every acknowledged batch is there.
 *   read-only a database the process may not write (a child that drops to
 *             uid nobody when root, else chmod): reads work or fail
 *             clearly, writes fail with a clear message, nothing changes.
 *
 * Rounds: DSE_KILL_ROUNDS (default 12; `make check-long` runs 200) and
 * DSE_CONTENTION_ACTIONS (default 20; check-long 1000).  The
 * random moments come from DSE_FAULT_SEED (default 1) so a failure can be
 * replayed.  No assertion depends on timing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "store.h"
#include "util.h"

#define SIG "fault/Sig.v1"
#define CONTROL "c-control"
#define CANARY "c-canary"
#define BATCH 200

static char dir[64];
static char db[128];

static uint64_t rng_state;
static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

static cJSON *call(struct store *st, enum store_op op, cJSON *args, struct dse_err *err)
{
    cJSON *out = NULL;
    int rc = store_call(st, op, args, &out, err);
    cJSON_Delete(args);
    return rc == 0 ? (out ? out : cJSON_CreateNull()) : NULL;
}

static void call_ok(struct store *st, enum store_op op, cJSON *args)
{
    struct dse_err err;
    cJSON *out = call(st, op, args, &err);
    if (!out)
        fail_msg("%s: %s: %s", store_op_info(op)->name, err.code, err.msg);
    cJSON_Delete(out);
}

static cJSON *receipt_item(const char *id, const char *cid, int error)
{
    cJSON *rc = json_obj();
    json_set_str(rc, "receiptId", id);
    json_set_str(rc, "signatureId", SIG);
    json_set_str(rc, "compiled_id", cid);
    json_set_str(rc, "strategyId", "direct.v1");
    cJSON *res = json_obj();
    json_set_str(res, "_tag", error ? "Error" : "Ok");
    if (error)
        json_set_str(res, "errorName", "OutputDecodeError");
    json_set(rc, "result", res);
    cJSON *t = json_obj();
    json_set_num(t, "durationMs", 12);
    json_set(rc, "timing", t);
    cJSON *it = json_obj();
    json_set_str(it, "threadId", "thread-1");
    json_set_str(it, "runId", id);
    json_set(it, "receipt", rc);
    return it;
}

/* A store with two artifacts, the control active and a canary that counts
 * but never auto-stops. */
static void prepare(void)
{
    snprintf(dir, sizeof dir, "/tmp/dse-faults-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/f.db", dir);
    struct dse_err err;
    struct store *st = store_open_sqlite(db, 0, &err);
    assert_non_null(st);
    const char *ids[] = {CONTROL, CANARY};
    for (int i = 0; i < 2; i++) {
        cJSON *a = json_obj();
        json_set_str(a, "signatureId", SIG);
        json_set_str(a, "compiled_id", ids[i]);
        json_set(a, "json", json_obj());
        call_ok(st, STORE_OP_artifacts_put, a);
    }
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", SIG);
    json_set_str(a, "compiled_id", CONTROL);
    call_ok(st, STORE_OP_active_set, a);
    a = json_obj();
    json_set_str(a, "signatureId", SIG);
    json_set_str(a, "canary_compiled_id", CANARY);
    json_set_num(a, "rolloutPct", 50);
    json_set_num(a, "minSamples", 10000);
    json_set_num(a, "maxErrorRate", 1);
    call_ok(st, STORE_OP_canary_start, a);
    store_close(st);
}

static void cleanup_dir(void)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(cmd);
}

/* ---- children ---- */

enum role { ROLE_BATCH, ROLE_SINGLE, ROLE_OPERATOR };

/* Writes until killed; after each acknowledged write sends its index. */
static void child_main(enum role role, int round, int ackfd)
{
    struct dse_err err;
    struct store *st = store_open_sqlite(db, STORE_NO_CREATE, &err);
    if (!st)
        _exit(3);
    for (int k = 0;; k++) {
        int rc;
        if (role == ROLE_BATCH) {
            cJSON *items = json_arr();
            for (int i = 0; i < BATCH; i++) {
                char id[64];
                snprintf(id, sizeof id, "b%d-%d-%d", round, k, i);
                cJSON_AddItemToArray(items, receipt_item(id, i % 2 ? CANARY : CONTROL,
                                                         i % 7 == 0));
            }
            cJSON *a = json_obj();
            json_set(a, "items", items);
            cJSON *out = call(st, STORE_OP_x_receipts_batch, a, &err);
            rc = out ? 0 : -1;
            cJSON_Delete(out);
        } else if (role == ROLE_SINGLE) {
            char id[64];
            snprintf(id, sizeof id, "s%d-%d", round, k);
            cJSON *out = call(st, STORE_OP_receipts_record,
                              receipt_item(id, k % 2 ? CANARY : CONTROL, k % 5 == 0), &err);
            rc = out ? 0 : -1;
            cJSON_Delete(out);
        } else {
            char reason[64];
            snprintf(reason, sizeof reason, "op-%d-%d", round, k);
            cJSON *a = json_obj();
            json_set_str(a, "signatureId", SIG);
            json_set_str(a, "compiled_id", CONTROL);
            json_set_str(a, "reason", reason);
            cJSON *out = call(st, STORE_OP_active_set, a, &err);
            rc = out ? 0 : -1;
            cJSON_Delete(out);
        }
        if (rc < 0)
            _exit(4); /* a failed write is a test failure (seen by the parent) */
        if (write(ackfd, &k, sizeof k) != sizeof k)
            _exit(5);
    }
}

/* Last acknowledged index + 1 (= acknowledged writes). */
static int drain_acks(int fd)
{
    int k, last = -1;
    while (read(fd, &k, sizeof k) == sizeof k)
        last = k;
    return last + 1;
}

/* ---- checks straight on the file ---- */

static sqlite3 *raw_open(void)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    return h;
}

static int64_t scalar(sqlite3 *h, const char *sql, const char *arg)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("prepare %s: %s", sql, sqlite3_errmsg(h));
    if (arg)
        sqlite3_bind_text(s, 1, arg, -1, SQLITE_TRANSIENT);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static int64_t range_count(sqlite3 *h, const char *table, const char *col, const char *lo,
                           const char *hi)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE %s >= ?1 AND %s < ?2", table, col,
             col);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("prepare %s: %s", sql, sqlite3_errmsg(h));
    sqlite3_bind_text(s, 1, lo, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, hi, -1, SQLITE_TRANSIENT);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void assert_integrity(sqlite3 *h)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    const char *r = (const char *)sqlite3_column_text(s, 0);
    if (!r || strcmp(r, "ok") != 0)
        fail_msg("integrity_check: %s", r ? r : "(null)");
    sqlite3_finalize(s);
}

/* The canary's counters equal the receipts served by the canary. */
static void assert_counters(void)
{
    struct dse_err err;
    struct store *st = store_open_sqlite(db, STORE_NO_CREATE, &err);
    assert_non_null(st);
    int failed = 0;
    cJSON *c = store_canary(st, SIG, &failed, &err);
    assert_non_null(c);
    int64_t counters = (int64_t)(json_num(c, "okCount", 0) + json_num(c, "errorCount", 0));
    cJSON_Delete(c);
    store_close(st);
    sqlite3 *h = raw_open();
    int64_t served = scalar(h, "SELECT count(*) FROM receipts WHERE compiled_id = ?1", CANARY);
    sqlite3_close(h);
    if (counters != served)
        fail_msg("canary counters %lld, receipts served by the canary %lld", (long long)counters,
                 (long long)served);
}

/* ---- tests ---- */

static void test_kill9_writers(void **state)
{
    (void)state;
    rng_state = (uint64_t)env_int("DSE_FAULT_SEED", 1);
    int rounds = env_int("DSE_KILL_ROUNDS", 12);
    long total_batches = 0, total_single = 0, total_ops = 0;
    for (int round = 0; round < rounds; round++) {
        /* a fresh store every 25 rounds keeps integrity_check cheap */
        if (round % 25 == 0) {
            if (round)
                cleanup_dir();
            prepare();
        }
        int fds[3][2];
        pid_t pid[3];
        for (int r = 0; r < 3; r++) {
            assert_int_equal(pipe(fds[r]), 0);
            pid[r] = fork();
            assert_true(pid[r] >= 0);
            if (pid[r] == 0) {
                close(fds[r][0]);
                child_main((enum role)r, round, fds[r][1]);
            }
            close(fds[r][1]);
        }
        /* 20..400 ms in, then SIGKILL every writer at once */
        struct timespec ts = {0, (long)(20 + rng() % 380) * 1000000L};
        nanosleep(&ts, NULL);
        for (int r = 0; r < 3; r++)
            kill(pid[r], SIGKILL);
        int acked[3];
        for (int r = 0; r < 3; r++) {
            int status;
            waitpid(pid[r], &status, 0);
            if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
                fail_msg("round %d: writer %d ended by itself (status %d): a write failed",
                         round, r, status);
            acked[r] = drain_acks(fds[r][0]);
            close(fds[r][0]);
        }
        sqlite3 *h = raw_open();
        assert_integrity(h);
        /* ids of this round are "<p><round>-...": a range on the unique
         * receiptId index ('-' + 1 is '.') */
        char lo[32], hi[32];
        snprintf(lo, sizeof lo, "b%d-", round);
        snprintf(hi, sizeof hi, "b%d.", round);
        int64_t nb = range_count(h, "receipts", "receiptId", lo, hi);
        snprintf(lo, sizeof lo, "s%d-", round);
        snprintf(hi, sizeof hi, "s%d.", round);
        int64_t ns = range_count(h, "receipts", "receiptId", lo, hi);
        snprintf(lo, sizeof lo, "op-%d-", round);
        snprintf(hi, sizeof hi, "op-%d.", round);
        int64_t no = range_count(h, "dseActiveArtifactHistory", "reason", lo, hi);
        sqlite3_close(h);
        /* all acknowledged writes are there; at most the one in flight more;
         * never part of a batch */
        if (nb % BATCH != 0)
            fail_msg("round %d: %lld batched receipts: a batch is half written", round,
                     (long long)nb);
        if (nb / BATCH < acked[0] || nb / BATCH > acked[0] + 1)
            fail_msg("round %d: %lld batches stored, %d acknowledged", round,
                     (long long)(nb / BATCH), acked[0]);
        if (ns < acked[1] || ns > acked[1] + 1)
            fail_msg("round %d: %lld single receipts stored, %d acknowledged", round,
                     (long long)ns, acked[1]);
        if (no < acked[2] || no > acked[2] + 1)
            fail_msg("round %d: %lld operator actions stored, %d acknowledged", round,
                     (long long)no, acked[2]);
        assert_counters();
        total_batches += nb / BATCH;
        total_single += ns;
        total_ops += no;
    }
    printf("kill -9: %d rounds, %ld batches of %d, %ld single receipts, %ld operator actions "
           "survived; integrity ok, counters exact\n",
           rounds, total_batches, BATCH, total_single, total_ops);
    cleanup_dir();
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void test_contention(void **state)
{
    (void)state;
    prepare();
    int n_actions = env_int("DSE_CONTENTION_ACTIONS", 20);
    if (n_actions < 1)
        n_actions = 1;
    pid_t pid[2];
    int fds[2][2];
    for (int r = 0; r < 2; r++) {
        assert_int_equal(pipe(fds[r]), 0);
        pid[r] = fork();
        if (pid[r] == 0) {
            close(fds[r][0]);
            child_main(r == 0 ? ROLE_BATCH : ROLE_SINGLE, 1000 + r, fds[r][1]);
        }
        close(fds[r][1]);
        fcntl(fds[r][0], F_SETFL, O_NONBLOCK);
    }
    struct dse_err err;
    struct store *st = store_open_sqlite(db, STORE_NO_CREATE, &err);
    assert_non_null(st);
    double *lat = xcalloc((size_t)n_actions, sizeof *lat);
    int failures = 0;
    char firsterr[600] = "";
    for (int i = 0; i < n_actions; i++) {
        int64_t t0 = util_mono_ms();
        struct timespec a0, a1;
        clock_gettime(CLOCK_MONOTONIC, &a0);
        cJSON *a = json_obj();
        json_set_str(a, "signatureId", SIG);
        cJSON *out;
        switch (i % 3) {
        case 0:
            json_set_str(a, "compiled_id", i % 2 ? CANARY : CONTROL);
            json_set_str(a, "reason", "contention");
            out = call(st, STORE_OP_active_set, a, &err);
            break;
        case 1:
            json_set_str(a, "canary_compiled_id", CANARY);
            json_set_num(a, "rolloutPct", 10 + i % 50);
            json_set_num(a, "minSamples", 10000);
            json_set_num(a, "maxErrorRate", 1);
            out = call(st, STORE_OP_canary_start, a, &err);
            break;
        default:
            json_set_str(a, "reason", "contention");
            out = call(st, STORE_OP_active_rollback, a, &err);
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &a1);
        (void)t0;
        lat[i] = (double)(a1.tv_sec - a0.tv_sec) * 1e3 + (double)(a1.tv_nsec - a0.tv_nsec) / 1e6;
        if (!out) {
            if (!failures++)
                snprintf(firsterr, sizeof firsterr, "%s: %s", err.code, err.msg);
        }
        cJSON_Delete(out);
        /* one action every 5 ms, as an operator (or a script) would */
        struct timespec gap = {0, 5000000L};
        nanosleep(&gap, NULL);
    }
    store_close(st);
    for (int r = 0; r < 2; r++) {
        kill(pid[r], SIGKILL);
        waitpid(pid[r], NULL, 0);
    }
    int acked0 = drain_acks(fds[0][0]), acked1 = drain_acks(fds[1][0]);
    close(fds[0][0]);
    close(fds[1][0]);
    qsort(lat, (size_t)n_actions, sizeof *lat, cmp_d);
    printf("contention: %d operator actions against 2 writers (%d batches, %d single receipts "
           "meanwhile): %d failed; latency p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
           n_actions, acked0, acked1, failures, lat[n_actions / 2],
           lat[(int)(0.99 * (n_actions - 1) + 0.5)], lat[n_actions - 1]);
    free(lat);
    if (failures)
        fail_msg("%d of %d operator actions failed under contention; first: %s", failures,
                 n_actions, firsterr);
    sqlite3 *h = raw_open();
    assert_integrity(h);
    sqlite3_close(h);
    cleanup_dir();
}

static void test_disk_full(void **state)
{
    (void)state;
    prepare();
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int msgfd[2];
    assert_int_equal(pipe(msgfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        close(msgfd[0]);
        signal(SIGXFSZ, SIG_IGN);
        struct stat sb;
        stat(db, &sb);
        /* the database may grow by ~1.5 MiB, the WAL likewise */
        struct rlimit rl = {(rlim_t)sb.st_size + (3u << 19), (rlim_t)sb.st_size + (3u << 19)};
        setrlimit(RLIMIT_FSIZE, &rl);
        struct dse_err err;
        struct store *st = store_open_sqlite(db, STORE_NO_CREATE, &err);
        if (!st)
            _exit(3);
        for (int k = 0; k < 100000; k++) {
            cJSON *items = json_arr();
            for (int i = 0; i < BATCH; i++) {
                char id[64];
                snprintf(id, sizeof id, "full-%d-%d", k, i);
                cJSON_AddItemToArray(items, receipt_item(id, i % 2 ? CANARY : CONTROL, 0));
            }
            cJSON *a = json_obj();
            json_set(a, "items", items);
            cJSON *out = call(st, STORE_OP_x_receipts_batch, a, &err);
            if (!out) {
                char m[600];
                int n = snprintf(m, sizeof m, "%s: %s", err.code, err.msg);
                if (write(msgfd[1], m, (size_t)n) < 0)
                    _exit(6);
                /* the process survives and a read still works */
                cJSON *q = json_obj();
                json_set_str(q, "signatureId", SIG);
                cJSON *g = call(st, STORE_OP_active_get, q, &err);
                store_close(st);
                _exit(g ? 0 : 7);
            }
            cJSON_Delete(out);
            if (write(fds[1], &k, sizeof k) != sizeof k)
                _exit(5);
        }
        _exit(8); /* never filled up */
    }
    close(fds[1]);
    close(msgfd[1]);
    int status;
    waitpid(pid, &status, 0);
    int acked = drain_acks(fds[0]);
    char m[600] = "";
    ssize_t n = read(msgfd[0], m, sizeof m - 1);
    m[n > 0 ? n : 0] = 0;
    close(fds[0]);
    close(msgfd[0]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("disk-full child: status %d (message: %s)", status, m);
    printf("disk full after %d batches: \"%s\"\n", acked, m);
    /* a clear message: SQLite's "database or disk is full" or an I/O error */
    assert_true(strstr(m, "full") || strstr(m, "disk") || strstr(m, "I/O") ||
                strstr(m, "too large"));
    sqlite3 *h = raw_open();
    assert_integrity(h);
    int64_t stored = scalar(h, "SELECT count(*) FROM receipts WHERE receiptId LIKE 'full-%'", NULL);
    sqlite3_close(h);
    if (stored % BATCH != 0 || stored / BATCH < acked || stored / BATCH > acked + 1)
        fail_msg("disk full: %lld receipts stored, %d batches acknowledged", (long long)stored,
                 acked);
    assert_counters();
    cleanup_dir();
}

static void test_read_only_file(void **state)
{
    (void)state;
    prepare();
    /* checkpoint and drop the WAL so a read-only opener sees everything */
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_exec(h, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE", NULL, NULL,
                 NULL);
    sqlite3_close(h);
    /* readable by everyone, writable by the owner only */
    chmod(dir, 0755);
    chmod(db, 0644);
    int msgfd[2];
    assert_int_equal(pipe(msgfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(msgfd[0]);
        if (geteuid() == 0) {
            /* root ignores file modes: become nobody */
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(9);
        } else {
            chmod(db, 0444);
            chmod(dir, 0555);
        }
        struct dse_err err;
        struct sbuf m = {0};
        struct store *st = store_open_sqlite(db, STORE_NO_CREATE, &err);
        if (!st) {
            sbuf_printf(&m, "open: %s: %s", err.code, err.msg);
        } else {
            cJSON *a = json_obj();
            json_set_str(a, "signatureId", SIG);
            json_set_str(a, "compiled_id", CANARY);
            cJSON *out = call(st, STORE_OP_active_set, a, &err);
            if (out)
                sbuf_printf(&m, "WRITE SUCCEEDED");
            else
                sbuf_printf(&m, "write: %s: %s", err.code, err.msg);
            cJSON_Delete(out);
            store_close(st);
        }
        /* explicitly read-only: reads must work */
        st = store_open_sqlite(db, STORE_NO_CREATE | STORE_READ_ONLY, &err);
        if (st) {
            cJSON *a = json_obj();
            json_set_str(a, "signatureId", SIG);
            cJSON *out = call(st, STORE_OP_active_get, a, &err);
            sbuf_printf(&m, "|read-only open: %s", out ? json_str(out, "compiled_id", "?")
                                                       : err.msg);
            cJSON_Delete(out);
            store_close(st);
        } else {
            sbuf_printf(&m, "|read-only open failed: %s: %s", err.code, err.msg);
        }
        if (write(msgfd[1], m.s, m.len) < 0)
            _exit(6);
        _exit(0);
    }
    close(msgfd[1]);
    int status;
    waitpid(pid, &status, 0);
    char m[1400] = "";
    ssize_t n = read(msgfd[0], m, sizeof m - 1);
    m[n > 0 ? n : 0] = 0;
    close(msgfd[0]);
    chmod(dir, 0700);
    chmod(db, 0600);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    printf("read-only database: %s\n", m);
    assert_null(strstr(m, "WRITE SUCCEEDED"));
    assert_true(strstr(m, "read") || strstr(m, "permission") || strstr(m, "readonly") ||
                strstr(m, "open"));
    /* the explicit read-only mode can read the pointer */
    assert_non_null(strstr(m, "|read-only open: " CONTROL));
    h = raw_open();
    assert_integrity(h);
    sqlite3_close(h);
    cleanup_dir();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_writers),
        cmocka_unit_test(test_contention),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_read_only_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
