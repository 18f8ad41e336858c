/* Power loss against the SQLite store (the kill -9 rounds of
 * test_hostile_faults.c only lose the process; here the machine loses every
 * write the disk was never asked to make durable).
 *
 * How: a forked child registers a VFS shim over "unix" as the default VFS,
 * opens the store and runs a seeded mix of operator actions (TX_FULL:
 * active set/rollback/clear, canary start/stop, example puts and imports,
 * new artifacts, one refused action) and high-rate
 * writes (TX_NORMAL: single and batched receipts, some canary-routed, some
 * errors, some duplicates; LM cache puts), plus wal_checkpoint calls of
 * every mode through a second raw connection.  The shim keeps, for the
 * main db and the -wal file, the pre-image of every write and truncate
 * since that file's last xSync (its real fsync is skipped: durability is
 * what the shim says).  At a seeded event (the Nth xWrite/xSync/xTruncate
 * seen in a chosen phase, or the Nth xSync, cut just before or just after
 * it takes effect) it cuts the power: every file is rolled back to
 * its last synced state, and in "reorder" rounds a random per-sector prefix
 * of the unsynced writes is put back, as a disk with a write cache may
 * persist sectors in any order; the -shm is deleted (a reboot loses it);
 * then _exit.  The child reports each operator action on a pipe before
 * (intent) and after (ack) it returns success.
 *
 * The parent then reopens the store the normal way and checks:
 *   - PRAGMA integrity_check is "ok", before and after new writes;
 *   - every acked operator action is there, in order, with at most the one
 *     in-flight action extra; the active pointer is the last history row;
 *   - acked new artifacts and example imports are there whole; the one in
 *     flight is whole or absent;
 *   - every receipt recorded before the last acked operator action is there
 *     (a FULL commit syncs the WAL before it), and the receipts present are
 *     exactly the first K the child recorded (no holes), K being the end of
 *     some receipt call (no batch half there);
 *   - canary counters equal the receipts: each canary epoch (a start or
 *     update; the child tags its receipts with the epoch) is replayed from
 *     the receipts table, and the auto_stop/stop history rows and the live
 *     canary row must hold exactly the replayed counts;
 *   - dseReceiptHourly and dseExampleCounts equal counts over their rows;
 *   - the store still accepts operator actions and receipts.
 *
 * A self-test first shows the shim really loses unsynced commits (so the
 * rounds cannot pass because the shim does nothing).  A last test cuts the
 * power at every write and sync of migration 002 on a schema-1 store: the
 * store then opens at the current schema, intact, counters equal to rows.
 *
 * Rounds: DSE_POWERLOSS_ROUNDS (default 60); seeds 1..N, or only
 * DSE_POWERLOSS_SEED.  A failing round prints its seed and keeps its files.
 * Everything is decided by the seed (DSE_FAKE_NOW_MS is pinned per step in
 * the child); nothing depends on timing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "embedded.h"
#include "json.h"
#include "store.h"
#include "util.h"

#define NSIGS 2
#define NART 5
#define NEX 8
#define MIN_SAMPLES 6
#define MAX_ERROR_RATE 0.5
#define CUT_EXIT 42
#define FAIL_EXIT 3
#define SECTOR 512

static const char *const sig_names[NSIGS] = {"sigA", "sigB"};

static char tmpdir[128];
static char base_db[192];

/* ------------------------------------------------------------------ */
/* seeded randomness                                                  */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ull;
    return mix64(*s);
}

static int rnd_below(uint64_t *s, int n)
{
    return (int)(rnd(s) % (uint64_t)n);
}

/* ------------------------------------------------------------------ */
/* the power-loss VFS shim (child process only)                       */

/* What the child is doing when an event happens: cuts are aimed at a
 * phase, and the parent reports where they landed. */
enum phase { PH_OPEN, PH_FULL, PH_RECEIPT, PH_BATCH, PH_OTHER, PH_CKPT, PH_END, PH__COUNT };
static const char *const phase_names[PH__COUNT] = {"open",  "FULL commit", "single receipt",
                                                   "receipt batch", "lm cache", "checkpoint",
                                                   "after workload"};
#define PH_ANY PH__COUNT /* a cut target: the Nth event of any phase */

enum ev_kind { EV_WRITE, EV_SYNC, EV_SYNCED, EV_TRUNC, EV_NONE, EV__COUNT };
static const char *const ev_names[EV__COUNT] = {"write", "before a sync", "right after a sync",
                                                "truncate", "end of workload"};

/* One unsynced change: enough to undo it (pre-image and old size) and to
 * redo it (the bytes written). */
struct undo {
    int kind;          /* EV_WRITE or EV_TRUNC */
    int64_t off;       /* write offset, or the new size of a truncate */
    int64_t len;       /* bytes written (0 for a truncate) */
    int64_t old_size;  /* file size before the change */
    unsigned char *pre;  /* bytes of [off, off + npre) before the change */
    int64_t npre;
    unsigned char *post; /* the bytes written */
};

struct tracked {
    char path[512];
    int fd;            /* our own descriptor, never closed (closing would drop
                          SQLite's POSIX locks on the file) */
    bool wal;
    int64_t synced_size;
    struct undo *v;
    size_t n, cap;
};

static struct tracked g_files[4];
static int g_nfiles;

struct shim_file {
    sqlite3_file base;
    sqlite3_file *real; /* lives right after this struct */
    struct tracked *t;  /* NULL: not tracked (shm, temp files) */
};

static sqlite3_vfs *g_real;
static sqlite3_vfs g_vfs;

/* Cut plan and state. */
static int g_phase = PH_OPEN;
static int g_target_phase;
static int64_t g_target_n;
static int64_t g_events[PH__COUNT + 1];
static int64_t g_syncs[PH__COUNT + 1];
static bool g_target_sync;   /* count only xSync events */
static bool g_after_sync;    /* a sync target cuts after the sync took effect */
static bool g_reorder;
static uint64_t g_tear_seed;
static int g_report_fd = -1;
static int32_t g_torn;
static int64_t g_recorded;  /* receipts the child saw inserted */
static int64_t g_inflight;  /* new receipts in the receipt call under way */

/* Parent <- child records: one write() each (< PIPE_BUF, so atomic). */
enum rec_type { REC_INTENT = 1, REC_ACK, REC_MARK, REC_CUT, REC_FAIL };
enum rec_op {
    OPK_NONE,
    OPK_SET,
    OPK_ROLLBACK,
    OPK_CLEAR,
    OPK_CSTART,
    OPK_CSTOP,
    OPK_EXAMPLE,
    OPK_ARTIFACT,
    OPK_IMPORT,
};
struct rec {
    int32_t type, op, sig, n;
    int64_t recorded;                   /* ACK, MARK, CUT: g_recorded */
    int32_t phase, kind, wal, inflight; /* CUT */
    char a[64], b[64];
    char msg[240]; /* FAIL */
    int32_t events[PH__COUNT + 1]; /* CUT: events seen per phase, and in all */
    int32_t torn;                  /* CUT: sector pieces of unsynced writes put back */
};

static void send_rec(const struct rec *r)
{
    const char *p = (const char *)r;
    size_t left = sizeof *r;
    while (left) {
        ssize_t w = write(g_report_fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(FAIL_EXIT);
        p += w;
        left -= (size_t)w;
    }
}

static void child_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void child_fail(const char *fmt, ...)
{
    struct rec r = {.type = REC_FAIL};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r.msg, sizeof r.msg, fmt, ap);
    va_end(ap);
    send_rec(&r);
    _exit(FAIL_EXIT);
}

static int64_t fd_size(int fd)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        child_fail("fstat: %s", strerror(errno));
    return (int64_t)sb.st_size;
}

static void xpwrite(int fd, const void *buf, int64_t n, int64_t off)
{
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t w = pwrite(fd, p, (size_t)n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            child_fail("pwrite: %s", strerror(errno));
        p += w;
        n -= w;
        off += w;
    }
}

static void xftruncate(int fd, int64_t size)
{
    if (ftruncate(fd, (off_t)size) != 0)
        child_fail("ftruncate: %s", strerror(errno));
}

static unsigned char *read_range(int fd, int64_t off, int64_t n)
{
    unsigned char *buf = xmalloc(n > 0 ? (size_t)n : 1);
    int64_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, (size_t)(n - got), (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            child_fail("pread: %s", r < 0 ? strerror(errno) : "short read");
        got += r;
    }
    return buf;
}

static void undo_push(struct tracked *t, struct undo u)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->v = xrealloc(t->v, t->cap * sizeof *t->v);
    }
    t->v[t->n++] = u;
}

static void undo_clear(struct tracked *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].pre);
        free(t->v[i].post);
    }
    t->n = 0;
}

/* Put back a per-sector prefix of the unsynced writes: each sector picks
 * how many of the writes (in issue order) it kept, so a sector never holds
 * a later write without the earlier ones, but neighbouring sectors (and
 * frames) disagree freely.  Unsynced truncates are not replayed. */
static void replay_torn(struct tracked *t, int which)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct undo *u = &t->v[i];
        if (u->kind != EV_WRITE)
            continue;
        for (int64_t s = u->off / SECTOR; s * SECTOR < u->off + u->len; s++) {
            uint64_t h = mix64(g_tear_seed ^ mix64((uint64_t)s * 4 + (uint64_t)which));
            /* persist time: half the sectors keep nothing, the rest a prefix */
            size_t keep = h & 1 ? 0 : (size_t)((h >> 1) % (t->n + 1));
            if (i >= keep)
                continue;
            int64_t lo = s * SECTOR > u->off ? s * SECTOR : u->off;
            int64_t hi = (s + 1) * SECTOR < u->off + u->len ? (s + 1) * SECTOR : u->off + u->len;
            xpwrite(t->fd, u->post + (lo - u->off), hi - lo, lo);
            g_torn++;
        }
    }
}

static void power_cut(int kind, const struct tracked *at) __attribute__((noreturn));
static void power_cut(int kind, const struct tracked *at)
{
    for (int f = 0; f < g_nfiles; f++) {
        struct tracked *t = &g_files[f];
        for (size_t i = t->n; i-- > 0;) {
            const struct undo *u = &t->v[i];
            if (u->kind == EV_WRITE) {
                xpwrite(t->fd, u->pre, u->npre, u->off);
                xftruncate(t->fd, u->old_size);
            } else {
                xftruncate(t->fd, u->old_size);
                xpwrite(t->fd, u->pre, u->npre, u->off);
            }
        }
        if (fd_size(t->fd) != t->synced_size)
            child_fail("shim: %s is %lld bytes after undo, synced %lld", t->path,
                       (long long)fd_size(t->fd), (long long)t->synced_size);
        if (g_reorder)
            replay_torn(t, f);
        if (!t->wal) {
            char shm[sizeof t->path + 8];
            snprintf(shm, sizeof shm, "%.*s-shm", (int)sizeof t->path - 1, t->path);
            unlink(shm);
        }
    }
    struct rec r = {.type = REC_CUT, .phase = g_phase, .kind = kind, .wal = at && at->wal,
                    .recorded = g_recorded, .inflight = (int32_t)g_inflight, .torn = g_torn};
    for (int i = 0; i <= PH__COUNT; i++)
        r.events[i] = (int32_t)g_events[i];
    send_rec(&r);
    _exit(CUT_EXIT);
}

/* Count one event; true when it is the planned cut. */
static bool event(int kind)
{
    g_events[g_phase]++;
    g_events[PH_ANY]++;
    if (kind == EV_SYNC) {
        g_syncs[g_phase]++;
        g_syncs[PH_ANY]++;
    }
    if (g_target_phase != PH_ANY && g_target_phase != g_phase)
        return false;
    if (g_target_sync)
        return kind == EV_SYNC && g_syncs[g_target_phase] == g_target_n;
    return g_events[g_target_phase] == g_target_n;
}

static struct tracked *track(const char *name, int flags)
{
    if (!name || !(flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)))
        return NULL;
    for (int i = 0; i < g_nfiles; i++)
        if (strcmp(g_files[i].path, name) == 0)
            return &g_files[i];
    if (g_nfiles == (int)ARRAY_LEN(g_files) || strlen(name) >= sizeof g_files[0].path)
        child_fail("shim: cannot track %s", name);
    struct tracked *t = &g_files[g_nfiles++];
    snprintf(t->path, sizeof t->path, "%s", name);
    t->wal = (flags & SQLITE_OPEN_WAL) != 0;
    t->fd = open(name, O_RDWR);
    if (t->fd < 0)
        child_fail("shim: open %s: %s", name, strerror(errno));
    t->synced_size = fd_size(t->fd); /* written before this process: durable */
    return t;
}

#define REAL(f) (((struct shim_file *)(f))->real)
#define TRK(f) (((struct shim_file *)(f))->t)

static int sh_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}

static int sh_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), buf, amt, off);
}

static int sh_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
    struct tracked *t = TRK(f);
    if (!t)
        return REAL(f)->pMethods->xWrite(REAL(f), buf, amt, off);
    struct undo u = {.kind = EV_WRITE, .off = off, .len = amt, .old_size = fd_size(t->fd)};
    u.npre = u.old_size - off;
    u.npre = u.npre < 0 ? 0 : u.npre > amt ? amt : u.npre;
    u.pre = read_range(t->fd, off, u.npre);
    u.post = xmalloc(amt > 0 ? (size_t)amt : 1);
    memcpy(u.post, buf, (size_t)amt);
    int rc = REAL(f)->pMethods->xWrite(REAL(f), buf, amt, off);
    undo_push(t, u);
    if (event(EV_WRITE))
        power_cut(EV_WRITE, t);
    return rc;
}

static int sh_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    struct tracked *t = TRK(f);
    if (!t)
        return REAL(f)->pMethods->xTruncate(REAL(f), size);
    struct undo u = {.kind = EV_TRUNC, .off = size, .old_size = fd_size(t->fd)};
    u.npre = u.old_size > size ? u.old_size - size : 0;
    u.pre = read_range(t->fd, size, u.npre);
    int rc = REAL(f)->pMethods->xTruncate(REAL(f), size);
    undo_push(t, u);
    if (event(EV_TRUNC))
        power_cut(EV_TRUNC, t);
    return rc;
}

/* The real fsync is skipped: the shim alone decides what survives. */
static int sh_sync(sqlite3_file *f, int flags)
{
    struct tracked *t = TRK(f);
    if (!t)
        return REAL(f)->pMethods->xSync(REAL(f), flags);
    bool cut = event(EV_SYNC);
    if (cut && !g_after_sync)
        power_cut(EV_SYNC, t);
    undo_clear(t);
    t->synced_size = fd_size(t->fd);
    if (cut)
        power_cut(EV_SYNCED, t); /* durable, but the caller never hears of it */
    return SQLITE_OK;
}

static int sh_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int sh_lock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int sh_unlock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int sh_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int sh_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int sh_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int sh_device_chars(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int sh_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int sh_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void sh_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int sh_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int sh_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
    return REAL(f)->pMethods->xFetch(REAL(f), off, amt, pp);
}

static int sh_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods shim_methods = {
    .iVersion = 3,
    .xClose = sh_close,
    .xRead = sh_read,
    .xWrite = sh_write,
    .xTruncate = sh_truncate,
    .xSync = sh_sync,
    .xFileSize = sh_file_size,
    .xLock = sh_lock,
    .xUnlock = sh_unlock,
    .xCheckReservedLock = sh_check_reserved,
    .xFileControl = sh_file_control,
    .xSectorSize = sh_sector_size,
    .xDeviceCharacteristics = sh_device_chars,
    .xShmMap = sh_shm_map,
    .xShmLock = sh_shm_lock,
    .xShmBarrier = sh_shm_barrier,
    .xShmUnmap = sh_shm_unmap,
    .xFetch = sh_fetch,
    .xUnfetch = sh_unfetch,
};

static int sv_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags, int *out)
{
    (void)vfs;
    struct shim_file *sf = (struct shim_file *)f;
    sf->real = (sqlite3_file *)(sf + 1);
    int rc = g_real->xOpen(g_real, name, sf->real, flags, out);
    if (rc != SQLITE_OK || !sf->real->pMethods) {
        f->pMethods = NULL; /* SQLite then does not call xClose */
        return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
    }
    if (sf->real->pMethods->iVersion < 3)
        child_fail("shim: the real VFS has io methods version %d", sf->real->pMethods->iVersion);
    sf->t = track(name, flags);
    f->pMethods = &shim_methods;
    return SQLITE_OK;
}

/* The other VFS methods pass the real VFS object, never ours. */
static int sv_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
    (void)v;
    return g_real->xDelete(g_real, name, sync_dir);
}

static int sv_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return g_real->xAccess(g_real, name, flags, out);
}

static int sv_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return g_real->xFullPathname(g_real, name, n, out);
}

static void *sv_dl_open(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return g_real->xDlOpen(g_real, name);
}

static void sv_dl_error(sqlite3_vfs *v, int n, char *msg)
{
    (void)v;
    g_real->xDlError(g_real, n, msg);
}

static void (*sv_dl_sym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    (void)v;
    return g_real->xDlSym(g_real, h, sym);
}

static void sv_dl_close(sqlite3_vfs *v, void *h)
{
    (void)v;
    g_real->xDlClose(g_real, h);
}

static int sv_randomness(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return g_real->xRandomness(g_real, n, out);
}

static int sv_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return g_real->xSleep(g_real, us);
}

static int sv_current_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return g_real->xCurrentTime(g_real, out);
}

static int sv_last_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return g_real->xGetLastError(g_real, n, out);
}

static int sv_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return g_real->xCurrentTimeInt64(g_real, out);
}

static int sv_set_syscall(sqlite3_vfs *v, const char *name, sqlite3_syscall_ptr p)
{
    (void)v;
    return g_real->xSetSystemCall(g_real, name, p);
}

static sqlite3_syscall_ptr sv_get_syscall(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return g_real->xGetSystemCall(g_real, name);
}

static const char *sv_next_syscall(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return g_real->xNextSystemCall(g_real, name);
}

/* In the child: every connection opened from now on goes through the shim. */
static void shim_install(void)
{
    g_real = sqlite3_vfs_find("unix");
    if (!g_real || g_real->iVersion < 3)
        child_fail("shim: no unix VFS of version 3");
    g_vfs = (sqlite3_vfs){
        .iVersion = 3,
        .szOsFile = (int)sizeof(struct shim_file) + g_real->szOsFile,
        .mxPathname = g_real->mxPathname,
        .zName = "powerloss",
        .xOpen = sv_open,
        .xDelete = sv_delete,
        .xAccess = sv_access,
        .xFullPathname = sv_full_pathname,
        .xDlOpen = sv_dl_open,
        .xDlError = sv_dl_error,
        .xDlSym = sv_dl_sym,
        .xDlClose = sv_dl_close,
        .xRandomness = sv_randomness,
        .xSleep = sv_sleep,
        .xCurrentTime = sv_current_time,
        .xGetLastError = sv_last_error,
        .xCurrentTimeInt64 = sv_current_time64,
        .xSetSystemCall = sv_set_syscall,
        .xGetSystemCall = sv_get_syscall,
        .xNextSystemCall = sv_next_syscall,
    };
    if (sqlite3_vfs_register(&g_vfs, 1) != SQLITE_OK)
        child_fail("shim: sqlite3_vfs_register failed");
}

/* ------------------------------------------------------------------ */
/* the child's workload                                               */

struct sigm {
    int active;     /* artifact index, -1 none (as acked) */
    bool running;   /* a canary is counting */
    int canary;     /* its artifact index */
    int epoch;      /* its epoch; receipts carry it in threadId */
    int next_epoch;
    int err_pct;    /* error rate of this epoch's canary receipts */
};

struct child {
    struct store *st;
    sqlite3 *raw; /* for wal_checkpoint */
    uint64_t rng;
    struct sigm s[NSIGS];
    int next_rid;
    int ex_val;
    int next_art, next_import;
    int64_t now;
};

static const char *cid_name(int i)
{
    static const char *const names[NART] = {"c0", "c1", "c2", "c3", "c4"};
    return names[i];
}

static int cid_index(const char *s)
{
    for (int i = 0; s && i < NART; i++)
        if (strcmp(s, cid_name(i)) == 0)
            return i;
    return -1;
}

/* Call an operation; expect NULL: must succeed (returns the value), else
 * must fail with that code (returns NULL).  Consumes args. */
static cJSON *ccall(struct child *c, enum store_op op, cJSON *args, const char *expect)
{
    cJSON *out = NULL;
    struct dse_err err = {{0}, {0}};
    int rc = store_call(c->st, op, args, &out, &err);
    cJSON_Delete(args);
    if (!expect && rc != 0)
        child_fail("%s failed: %s: %s", store_op_info(op)->path, err.code, err.msg);
    if (expect && (rc == 0 || strcmp(err.code, expect) != 0)) {
        cJSON_Delete(out);
        child_fail("%s: expected %s, got %s", store_op_info(op)->path, expect,
                   rc == 0 ? "success" : err.code);
    }
    return out;
}

static cJSON *sig_args(int sig)
{
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", sig_names[sig]);
    return a;
}

static void intent(int op, int sig, int n, const char *a, const char *b)
{
    struct rec r = {.type = REC_INTENT, .op = op, .sig = sig, .n = n};
    snprintf(r.a, sizeof r.a, "%s", a ? a : "");
    snprintf(r.b, sizeof r.b, "%s", b ? b : "");
    send_rec(&r);
}

static void ack(int op, int sig, int n, const char *a, const char *b)
{
    struct rec r = {.type = REC_ACK, .op = op, .sig = sig, .n = n, .recorded = g_recorded};
    snprintf(r.a, sizeof r.a, "%s", a ? a : "");
    snprintf(r.b, sizeof r.b, "%s", b ? b : "");
    send_rec(&r);
}

/* A receipt call returned: g_recorded is a commit boundary. */
static void mark(void)
{
    struct rec r = {.type = REC_MARK, .recorded = g_recorded};
    send_rec(&r);
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        child_fail("%s: %s", sql, msg ? msg : "?");
}

static void op_active_set(struct child *c, int sig, int cid)
{
    intent(OPK_SET, sig, 0, cid_name(cid), NULL);
    cJSON *a = sig_args(sig);
    json_set_str(a, "compiled_id", cid_name(cid));
    json_set_str(a, "reason", "powerloss");
    cJSON_Delete(ccall(c, STORE_OP_active_set, a, NULL));
    c->s[sig].active = cid;
    ack(OPK_SET, sig, 0, cid_name(cid), NULL);
}

static void op_active_rollback(struct child *c, int sig)
{
    intent(OPK_ROLLBACK, sig, 0, NULL, NULL);
    cJSON *out = ccall(c, STORE_OP_active_rollback, sig_args(sig), NULL);
    const char *to = json_str(out, "compiled_id", NULL);
    c->s[sig].active = cid_index(to);
    ack(OPK_ROLLBACK, sig, 0, to, NULL);
    cJSON_Delete(out);
}

static void op_active_clear(struct child *c, int sig)
{
    intent(OPK_CLEAR, sig, 0, NULL, NULL);
    cJSON_Delete(ccall(c, STORE_OP_active_clear, sig_args(sig), NULL));
    c->s[sig].active = -1;
    ack(OPK_CLEAR, sig, 0, NULL, NULL);
}

static void op_canary_start(struct child *c, int sig)
{
    struct sigm *m = &c->s[sig];
    int cid = rnd_below(&c->rng, NART);
    if (cid == m->active)
        cid = (cid + 1) % NART;
    int epoch = ++m->next_epoch;
    char reason[32];
    snprintf(reason, sizeof reason, "epoch-%d", epoch);
    cJSON *a = sig_args(sig);
    json_set_str(a, "canary_compiled_id", cid_name(cid));
    json_set_num(a, "rolloutPct", 50);
    json_set_str(a, "salt", "powerloss-salt");
    json_set_num(a, "minSamples", MIN_SAMPLES);
    json_set_num(a, "maxErrorRate", MAX_ERROR_RATE);
    json_set_str(a, "reason", reason);
    if (m->active < 0) {
        cJSON_Delete(ccall(c, STORE_OP_canary_start, a, "control_missing"));
        return;
    }
    intent(OPK_CSTART, sig, epoch, m->running ? "update" : "start", cid_name(cid));
    cJSON *out = ccall(c, STORE_OP_canary_start, a, NULL);
    const char *action = json_str(out, "action", "");
    if (strcmp(action, m->running ? "update" : "start") != 0)
        child_fail("canary_start on %s answered action %s", sig_names[sig], action);
    m->running = true;
    m->canary = cid;
    m->epoch = epoch;
    /* some epochs fail often enough to be auto-stopped, some never */
    static const int rates[] = {10, 30, 70};
    m->err_pct = rates[rnd_below(&c->rng, 3)];
    ack(OPK_CSTART, sig, epoch, action, cid_name(cid));
    cJSON_Delete(out);
}

static void op_canary_stop(struct child *c, int sig)
{
    struct sigm *m = &c->s[sig];
    intent(OPK_CSTOP, sig, 0, m->running ? "stop" : "", m->running ? cid_name(m->canary) : "");
    cJSON *out = ccall(c, STORE_OP_canary_stop, sig_args(sig), NULL);
    bool existed = json_bool(out, "existed", false);
    if (existed != m->running)
        child_fail("canary_stop on %s: existed %d, model %d", sig_names[sig], existed, m->running);
    ack(OPK_CSTOP, sig, 0, existed ? "stop" : "", existed ? cid_name(m->canary) : "");
    m->running = false;
    cJSON_Delete(out);
}

static void op_example_put(struct child *c, int sig)
{
    char id[16];
    snprintf(id, sizeof id, "ex%d", rnd_below(&c->rng, NEX));
    int v = ++c->ex_val;
    cJSON *a = sig_args(sig);
    json_set_str(a, "exampleId", id);
    cJSON *in = json_obj();
    json_set_num(in, "q", v);
    json_set(a, "inputJson", in);
    cJSON *want = json_obj();
    json_set_num(want, "v", v);
    json_set(a, "expectedJson", want);
    static const char *const splits[] = {"train", "holdout", NULL};
    const char *split = splits[rnd_below(&c->rng, 3)];
    if (split)
        json_set_str(a, "split", split);
    static const char *const reviews[] = {"accepted", "rejected", NULL};
    const char *review = reviews[rnd_below(&c->rng, 3)];
    if (review) {
        cJSON *meta = json_obj(), *rv = json_obj();
        json_set_str(rv, "status", review);
        json_set(meta, "review", rv);
        json_set(a, "meta", meta);
    }
    intent(OPK_EXAMPLE, sig, v, id, NULL);
    cJSON_Delete(ccall(c, STORE_OP_examples_put, a, NULL));
    ack(OPK_EXAMPLE, sig, v, id, NULL);
}

/* A new artifact (first write wins; never used as a target here). */
static void op_artifact_put(struct child *c, int sig)
{
    char cid[32];
    int k = ++c->next_art;
    snprintf(cid, sizeof cid, "new-%d", k);
    cJSON *a = sig_args(sig);
    json_set_str(a, "compiled_id", cid);
    cJSON *j = json_obj();
    json_set_str(j, "id", cid);
    json_set_num(j, "k", k);
    json_set(a, "json", j);
    intent(OPK_ARTIFACT, sig, k, cid, NULL);
    cJSON *out = ccall(c, STORE_OP_artifacts_put, a, NULL);
    if (json_bool(out, "existed", true))
        child_fail("artifacts_put %s: existed", cid);
    cJSON_Delete(out);
    ack(OPK_ARTIFACT, sig, k, cid, NULL);
}

/* An import of m new examples imp<k>-0..m-1: all rows or none. */
static void op_import(struct child *c, int sig)
{
    int k = ++c->next_import;
    int m = 1 + rnd_below(&c->rng, 40);
    cJSON *rows = json_arr();
    for (int i = 0; i < m; i++) {
        char id[32];
        snprintf(id, sizeof id, "imp%d-%d", k, i);
        cJSON *row = json_obj();
        json_set_str(row, "exampleId", id);
        cJSON *in = json_obj();
        json_set_num(in, "q", i);
        json_set(row, "inputJson", in);
        cJSON *want = json_obj();
        json_set_num(want, "v", k);
        json_set(row, "expectedJson", want);
        if (i % 3)
            json_set_str(row, "split", i % 3 == 1 ? "train" : "holdout");
        cJSON_AddItemToArray(rows, row);
    }
    cJSON *a = sig_args(sig);
    json_set(a, "rows", rows);
    json_set_str(a, "source", "powerloss");
    char count[16];
    snprintf(count, sizeof count, "%d", m);
    intent(OPK_IMPORT, sig, k, count, NULL);
    cJSON *out = ccall(c, STORE_OP_x_examples_import, a, NULL);
    if (json_int(out, "inserted", -1) != m)
        child_fail("import %d inserted %lld of %d", k, (long long)json_int(out, "inserted", -1), m);
    cJSON_Delete(out);
    ack(OPK_IMPORT, sig, k, count, NULL);
}

static void operator_action(struct child *c)
{
    g_phase = PH_FULL;
    int sig = rnd_below(&c->rng, NSIGS);
    int k = rnd_below(&c->rng, 100);
    if (k < 30) {
        op_active_set(c, sig, rnd_below(&c->rng, NART));
    } else if (k < 42) {
        op_active_rollback(c, sig);
    } else if (k < 45) {
        op_active_clear(c, sig);
    } else if (k < 62) {
        op_canary_start(c, sig);
    } else if (k < 72) {
        op_canary_stop(c, sig);
    } else if (k < 88) {
        op_example_put(c, sig);
    } else if (k < 92) {
        op_artifact_put(c, sig);
    } else if (k < 97) {
        op_import(c, sig);
    } else {
        /* a refused action must leave nothing behind */
        cJSON *a = sig_args(sig);
        json_set_str(a, "compiled_id", "no-such-artifact");
        cJSON_Delete(ccall(c, STORE_OP_active_set, a, "artifact_not_found"));
    }
}

/* One receipt item {threadId, runId, receipt}.  While a canary runs, its
 * receipts carry the epoch in threadId, half of them served by the canary;
 * otherwise threadId "<sig>-idle". */
static cJSON *receipt_item(struct child *c, int sig, bool *dup)
{
    struct sigm *m = &c->s[sig];
    char thread[48], rid[24];
    int cid;
    int err_pct = 30;
    if (m->running) {
        snprintf(thread, sizeof thread, "%s-e%d", sig_names[sig], m->epoch);
        if (rnd_below(&c->rng, 2)) {
            cid = m->canary;
            err_pct = m->err_pct;
        } else {
            cid = (m->canary + 1 + rnd_below(&c->rng, NART - 1)) % NART;
        }
    } else {
        snprintf(thread, sizeof thread, "%s-idle", sig_names[sig]);
        cid = rnd_below(&c->rng, NART);
    }
    *dup = c->next_rid > 0 && rnd_below(&c->rng, 100) < 5;
    snprintf(rid, sizeof rid, "rc-%06d", *dup ? rnd_below(&c->rng, c->next_rid) : c->next_rid++);
    cJSON *r = json_obj();
    json_set_str(r, "format", "openagents.dse.predict_receipt");
    json_set_num(r, "formatVersion", 1);
    json_set_str(r, "receiptId", rid);
    json_set_str(r, "runId", "powerloss-run");
    json_set_str(r, "signatureId", sig_names[sig]);
    json_set_str(r, "compiled_id", cid_name(cid));
    json_set_str(r, "strategyId", "direct.v1");
    cJSON *timing = json_obj();
    json_set_num(timing, "durationMs", rnd_below(&c->rng, 5000));
    json_set(r, "timing", timing);
    int t = rnd_below(&c->rng, 100);
    if (t >= 5) { /* 5% carry no result: stored, never counted */
        cJSON *res = json_obj();
        bool is_err = rnd_below(&c->rng, 100) < err_pct;
        json_set_str(res, "_tag", is_err ? "Error" : "Ok");
        if (is_err)
            json_set_str(res, "errorName", "OutputDecodeError");
        json_set(r, "result", res);
    }
    /* pad to a realistic receipt size so batches span many pages */
    int pad = rnd_below(&c->rng, 1800);
    char *p = xmalloc((size_t)pad + 1);
    for (int i = 0; i < pad; i++)
        p[i] = (char)('a' + (i * 7 + pad) % 26);
    p[pad] = 0;
    json_set_str(r, "notes", p);
    free(p);
    cJSON *it = json_obj();
    json_set_str(it, "threadId", thread);
    json_set_str(it, "runId", "powerloss-run");
    json_set(it, "receipt", r);
    return it;
}

/* After an auto-stop the model re-reads which canaries still run. */
static void refresh_canaries(struct child *c)
{
    for (int i = 0; i < NSIGS; i++) {
        if (!c->s[i].running)
            continue;
        cJSON *out = ccall(c, STORE_OP_canary_get, sig_args(i), NULL);
        const cJSON *k = json_get(out, "canary");
        c->s[i].running = cJSON_IsObject(k);
        cJSON_Delete(out);
    }
}

static void receipt_single(struct child *c)
{
    g_phase = PH_RECEIPT;
    bool dup;
    cJSON *it = receipt_item(c, rnd_below(&c->rng, NSIGS), &dup);
    g_inflight = !dup;
    cJSON *out = ccall(c, STORE_OP_receipts_record, it, NULL);
    g_inflight = 0;
    if (json_bool(out, "existed", true) == !dup)
        child_fail("receipt existed:%d, expected %d", json_bool(out, "existed", true), dup);
    g_recorded += !dup;
    mark();
    bool stopped = json_bool(out, "autoStopped", false);
    cJSON_Delete(out);
    if (stopped)
        refresh_canaries(c);
}

static void receipt_batch(struct child *c)
{
    g_phase = PH_BATCH;
    int n = 2 + rnd_below(&c->rng, 70);
    cJSON *items = json_arr();
    int fresh = 0;
    for (int i = 0; i < n; i++) {
        bool dup;
        cJSON_AddItemToArray(items, receipt_item(c, rnd_below(&c->rng, NSIGS), &dup));
        fresh += !dup;
    }
    cJSON *a = json_obj();
    json_set(a, "items", items);
    g_inflight = fresh;
    cJSON *out = ccall(c, STORE_OP_x_receipts_batch, a, NULL);
    g_inflight = 0;
    int recorded = (int)json_int(out, "recorded", -1);
    if (recorded != fresh)
        child_fail("batch recorded %d of %d new receipts", recorded, fresh);
    g_recorded += recorded;
    mark();
    bool stopped = json_int(out, "autoStopped", 0) > 0;
    cJSON_Delete(out);
    if (stopped)
        refresh_canaries(c);
}

static void lm_put(struct child *c)
{
    g_phase = PH_OTHER;
    char key[32];
    snprintf(key, sizeof key, "k%d", rnd_below(&c->rng, 40));
    cJSON *a = json_obj();
    json_set_str(a, "key", key);
    json_set_str(a, "model", "fake");
    cJSON *resp = json_obj();
    json_set_num(resp, "n", rnd_below(&c->rng, 1000));
    json_set(a, "response", resp);
    cJSON_Delete(ccall(c, STORE_OP_x_lm_put, a, NULL));
}

static void checkpoint(struct child *c)
{
    g_phase = PH_CKPT;
    static const char *const modes[] = {
        "PRAGMA wal_checkpoint(PASSIVE)", "PRAGMA wal_checkpoint(FULL)",
        "PRAGMA wal_checkpoint(RESTART)", "PRAGMA wal_checkpoint(TRUNCATE)"};
    raw_exec(c->raw, modes[rnd_below(&c->rng, 4)]);
}

struct plan {
    uint64_t seed;
    int target_phase;
    int64_t target_n;
    bool target_sync, after_sync;
    bool reorder;
    int steps;
};

/* Events in a whole round (mean of 12 seeds): FULL commits ~340 (~30
 * syncs), single receipts ~490, batches ~1480, checkpoints ~415 (~20
 * syncs), all ~2780.  Targets are drawn a little below those so nearly
 * every cut lands in its phase; FULL commits get two rounds in six.  A
 * third of the FULL and checkpoint rounds aim at a sync: half cut just
 * before it (the commit is lost), half just after it (durable, but never
 * acknowledged). */
static struct plan plan_of(uint64_t seed)
{
    uint64_t s = mix64(seed * 0x2545f4914f6cdd1dull + 7);
    struct plan p = {.seed = seed};
    static const int phases[] = {PH_FULL, PH_BATCH, PH_CKPT, PH_FULL, PH_RECEIPT, PH_ANY};
    static const int range[] = {300, 1300, 360, 300, 430, 2500};
    static const int sync_range[] = {26, 0, 18, 26, 0, 0};
    int k = (int)(seed % ARRAY_LEN(phases));
    p.target_phase = phases[k];
    p.target_sync = sync_range[k] && rnd_below(&s, 3) == 0;
    p.after_sync = rnd_below(&s, 2) == 0;
    p.target_n = 1 + rnd_below(&s, p.target_sync ? sync_range[k] : range[k]);
    p.reorder = rnd_below(&s, 5) < 2;
    p.steps = 90 + rnd_below(&s, 40);
    return p;
}

static void set_now(int64_t ms)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)ms);
    setenv("DSE_FAKE_NOW_MS", buf, 1);
}

static void run_child(const struct plan *p, const char *path, int fd) __attribute__((noreturn));
static void run_child(const struct plan *p, const char *path, int fd)
{
    g_report_fd = fd;
    g_target_phase = p->target_phase;
    g_target_n = p->target_n;
    g_target_sync = p->target_sync;
    g_after_sync = p->after_sync;
    g_reorder = p->reorder;
    g_tear_seed = mix64(p->seed ^ 0x5eed);
    shim_install();

    struct child c = {.rng = mix64(p->seed),
                      .now = 1700000000000 + (int64_t)(p->seed % 97) * 3600000};
    for (int i = 0; i < NSIGS; i++)
        c.s[i] = (struct sigm){.active = -1};
    set_now(c.now);
    g_phase = PH_OPEN;
    struct dse_err err;
    c.st = store_open_sqlite(path, STORE_NO_CREATE, &err);
    if (!c.st)
        child_fail("store_open_sqlite: %s: %s", err.code, err.msg);
    if (sqlite3_open_v2(path, &c.raw, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        child_fail("raw open: %s", sqlite3_errmsg(c.raw));
    raw_exec(c.raw, "PRAGMA synchronous=NORMAL");
    sqlite3_busy_timeout(c.raw, 5000);

    /* both signatures start with an active artifact */
    g_phase = PH_FULL;
    for (int i = 0; i < NSIGS; i++)
        op_active_set(&c, i, rnd_below(&c.rng, NART));
    for (int step = 0; step < p->steps; step++) {
        /* minutes apart, so receipts spread over several hours */
        c.now += rnd_below(&c.rng, 20 * 60000);
        set_now(c.now);
        int k = rnd_below(&c.rng, 100);
        if (k < 28)
            operator_action(&c);
        else if (k < 48)
            receipt_single(&c);
        else if (k < 82)
            receipt_batch(&c);
        else if (k < 90)
            lm_put(&c);
        else
            checkpoint(&c);
    }
    g_phase = PH_END;
    power_cut(EV_NONE, NULL);
}

/* ------------------------------------------------------------------ */
/* the parent's checks                                                */

struct verdict {
    bool bad;
    bool inflight_kept; /* the unacknowledged action was found committed */
    char msg[1024];
};

#define CHECK(v, cond, ...)                                                   \
    do {                                                                      \
        if (!(cond) && !(v)->bad) {                                           \
            (v)->bad = true;                                                  \
            snprintf((v)->msg, sizeof (v)->msg, __VA_ARGS__);                 \
        }                                                                     \
    } while (0)

struct acts {
    struct rec *v;
    size_t n;
};

/* Everything the child said. */
struct report {
    struct rec *v;
    size_t n;
    const struct rec *cut;       /* REC_CUT or NULL */
    const struct rec *fail;      /* REC_FAIL or NULL */
    const struct rec *inflight;  /* the last INTENT when no ACK followed */
    int64_t acked_recorded;      /* g_recorded at the last ACK */
    int nacks;
};

static void report_scan(struct report *r)
{
    r->cut = r->fail = r->inflight = NULL;
    r->acked_recorded = 0;
    r->nacks = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct rec *x = &r->v[i];
        if (x->type == REC_CUT)
            r->cut = x;
        else if (x->type == REC_FAIL)
            r->fail = x;
        else if (x->type == REC_INTENT)
            r->inflight = x;
        else if (x->type == REC_ACK) {
            r->inflight = NULL;
            r->acked_recorded = x->recorded;
            r->nacks++;
        }
    }
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
    return s;
}

static int64_t q_int(sqlite3 *db, const char *sql, const char *bind1)
{
    sqlite3_stmt *s = prep(db, sql);
    if (bind1)
        sqlite3_bind_text(s, 1, bind1, -1, SQLITE_TRANSIENT);
    int64_t v = -1;
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void integrity(sqlite3 *db, struct verdict *v, const char *when)
{
    sqlite3_stmt *s = prep(db, "PRAGMA integrity_check");
    struct sbuf b = {0};
    while (sqlite3_step(s) == SQLITE_ROW)
        sbuf_printf(&b, "%s%s", b.len ? "; " : "", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    CHECK(v, b.s && strcmp(b.s, "ok") == 0, "integrity_check %s: %.300s", when,
          b.s ? b.s : "(no rows)");
    sbuf_free(&b);
}

static bool is_op(const struct rec *x, int sig, int lo, int hi)
{
    return x->sig == sig && x->op >= lo && x->op <= hi;
}

/* An acked action that wrote an active history row. */
static bool active_ack(const struct rec *x, int sig)
{
    return x->type == REC_ACK && is_op(x, sig, OPK_SET, OPK_CLEAR);
}

/* An acked action that wrote a canary history row (a stop of no canary
 * writes none). */
static bool canary_ack(const struct rec *x, int sig)
{
    return x->type == REC_ACK && is_op(x, sig, OPK_CSTART, OPK_CSTOP) && x->a[0];
}

/* Index of the first record from k on that matches, or r->n. */
static size_t next_ack(const struct report *r, size_t k, int sig,
                       bool (*match)(const struct rec *, int))
{
    while (k < r->n && !match(&r->v[k], sig))
        k++;
    return k;
}

/* Active pointer history = the acked set/rollback/clear actions in order,
 * plus at most the in-flight one; the pointer is the last row's target. */
static void check_active(sqlite3 *db, const struct report *r, int sig, struct verdict *v)
{
    const char *name = sig_names[sig];
    sqlite3_stmt *s = prep(db, "SELECT action, coalesce(toCompiledId, '') FROM "
                               "dseActiveArtifactHistory WHERE signatureId = ?1 ORDER BY id");
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    size_t k = 0;
    char last_to[64] = "";
    int rows = 0;
    static const char *const action_of[] = {[OPK_SET] = "set", [OPK_ROLLBACK] = "rollback",
                                            [OPK_CLEAR] = "clear"};
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *action = (const char *)sqlite3_column_text(s, 0);
        const char *to = (const char *)sqlite3_column_text(s, 1);
        rows++;
        snprintf(last_to, sizeof last_to, "%s", to);
        k = next_ack(r, k, sig, active_ack);
        if (k < r->n) {
            const struct rec *x = &r->v[k++];
            CHECK(v, strcmp(action, action_of[x->op]) == 0 && strcmp(to, x->a) == 0,
                  "%s active history row %d is %s->%s, acked %s->%s", name, rows, action, to,
                  action_of[x->op], x->a);
            continue;
        }
        /* beyond the acked ones: only the in-flight action may be here */
        const struct rec *f = r->inflight;
        CHECK(v, f && is_op(f, sig, OPK_SET, OPK_CLEAR) && strcmp(action, action_of[f->op]) == 0 &&
                     (f->op == OPK_ROLLBACK || strcmp(to, f->a) == 0),
              "%s active history row %d (%s->%s) was never acked nor in flight", name, rows,
              action, to);
        v->inflight_kept = true;
        /* a second unacked row is an error */
        CHECK(v, sqlite3_step(s) != SQLITE_ROW, "%s active history has more than one unacked row",
              name);
        break;
    }
    sqlite3_finalize(s);
    k = next_ack(r, k, sig, active_ack);
    CHECK(v, k >= r->n, "%s: an acked active action (%s) is missing after the power cut", name,
          k < r->n ? action_of[r->v[k].op] : "");
    sqlite3_stmt *p = prep(db, "SELECT compiled_id FROM dseActiveArtifacts WHERE signatureId = ?1");
    sqlite3_bind_text(p, 1, name, -1, SQLITE_STATIC);
    char ptr[64] = "";
    if (sqlite3_step(p) == SQLITE_ROW)
        snprintf(ptr, sizeof ptr, "%s", (const char *)sqlite3_column_text(p, 0));
    sqlite3_finalize(p);
    CHECK(v, strcmp(ptr, last_to) == 0, "%s active pointer is '%s', last history row says '%s'",
          name, ptr, last_to);
}

/* Operator canary rows (start/update/stop) = the acked ones, in order. */
static void check_canary_ops(sqlite3 *db, const struct report *r, int sig, struct verdict *v)
{
    const char *name = sig_names[sig];
    sqlite3_stmt *s = prep(db, "SELECT action, canary_compiled_id, coalesce(reason, '') FROM "
                               "dseCanaryHistory WHERE signatureId = ?1 AND action <> 'auto_stop' "
                               "ORDER BY id");
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    size_t k = 0;
    int rows = 0;
    bool extra = false;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *action = (const char *)sqlite3_column_text(s, 0);
        const char *cid = (const char *)sqlite3_column_text(s, 1);
        rows++;
        k = next_ack(r, k, sig, canary_ack);
        if (k < r->n) {
            const struct rec *x = &r->v[k++];
            CHECK(v, strcmp(action, x->a) == 0 && strcmp(cid, x->b) == 0,
                  "%s canary history row %d is %s %s, acked %s %s", name, rows, action, cid, x->a,
                  x->b);
            continue;
        }
        const struct rec *f = r->inflight;
        CHECK(v, !extra && f && is_op(f, sig, OPK_CSTART, OPK_CSTOP) &&
                     (f->op == OPK_CSTOP ? strcmp(action, "stop") == 0
                                         : strcmp(action, "start") == 0 ||
                                               strcmp(action, "update") == 0) &&
                     (f->op == OPK_CSTOP || strcmp(cid, f->b) == 0),
              "%s canary history row %d (%s %s) was never acked nor in flight", name, rows,
              action, cid);
        extra = true;
        v->inflight_kept = true;
    }
    sqlite3_finalize(s);
    k = next_ack(r, k, sig, canary_ack);
    CHECK(v, k >= r->n, "%s: an acked canary action (%s %s) is missing after the power cut", name,
          k < r->n ? r->v[k].a : "", k < r->n ? r->v[k].b : "");
}

/* Replay one canary epoch from the receipts: the counts it must hold and
 * whether (and at which counts) it must have auto-stopped. */
struct replay {
    int64_t ok, err;         /* all counted receipts, or up to the stop */
    bool stopped;
};

static struct replay replay_epoch(sqlite3 *db, int sig, int epoch, const char *cid)
{
    char thread[48];
    snprintf(thread, sizeof thread, "%s-e%d", sig_names[sig], epoch);
    sqlite3_stmt *s = prep(db, "SELECT resultTag FROM receipts WHERE threadId = ?1 AND "
                               "signatureId = ?2 AND compiled_id = ?3 AND resultTag IN ('Ok', "
                               "'Error') ORDER BY id");
    sqlite3_bind_text(s, 1, thread, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, sig_names[sig], -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, cid, -1, SQLITE_TRANSIENT);
    struct replay rp = {0};
    while (!rp.stopped && sqlite3_step(s) == SQLITE_ROW) {
        if (strcmp((const char *)sqlite3_column_text(s, 0), "Error") == 0)
            rp.err++;
        else
            rp.ok++;
        int64_t total = rp.ok + rp.err;
        rp.stopped = total >= MIN_SAMPLES && (double)rp.err / (double)total > MAX_ERROR_RATE;
    }
    sqlite3_finalize(s);
    return rp;
}

struct canh_row {
    char action[16], cid[16];
    int64_t ok, err;
    int epoch;
};

/* Canary counters equal the receipts: every epoch's end (auto_stop, stop,
 * update, or still running) holds exactly what the replay counts. */
static void check_canary_counts(sqlite3 *db, int sig, struct verdict *v, int *autostops)
{
    const char *name = sig_names[sig];
    sqlite3_stmt *s = prep(db, "SELECT action, canary_compiled_id, coalesce(okCount, 0), "
                               "coalesce(errorCount, 0), coalesce(reason, '') FROM "
                               "dseCanaryHistory WHERE signatureId = ?1 ORDER BY id");
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    struct canh_row *h = NULL;
    size_t n = 0, cap = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            h = xrealloc(h, cap * sizeof *h);
        }
        struct canh_row *x = &h[n++];
        memset(x, 0, sizeof *x);
        snprintf(x->action, sizeof x->action, "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(x->cid, sizeof x->cid, "%s", (const char *)sqlite3_column_text(s, 1));
        x->ok = sqlite3_column_int64(s, 2);
        x->err = sqlite3_column_int64(s, 3);
        const char *reason = (const char *)sqlite3_column_text(s, 4);
        if (strncmp(reason, "epoch-", 6) == 0)
            x->epoch = atoi(reason + 6);
    }
    sqlite3_finalize(s);

    sqlite3_stmt *c = prep(db, "SELECT canary_compiled_id, okCount, errorCount, enabled FROM "
                               "dseCanaries WHERE signatureId = ?1");
    sqlite3_bind_text(c, 1, name, -1, SQLITE_STATIC);
    bool live = sqlite3_step(c) == SQLITE_ROW;
    char live_cid[16] = "";
    int64_t live_ok = 0, live_err = 0;
    if (live) {
        snprintf(live_cid, sizeof live_cid, "%s", (const char *)sqlite3_column_text(c, 0));
        live_ok = sqlite3_column_int64(c, 1);
        live_err = sqlite3_column_int64(c, 2);
    }
    sqlite3_finalize(c);

    bool open_epoch = false;
    for (size_t i = 0; i < n; i++) {
        const struct canh_row *x = &h[i];
        bool begins = strcmp(x->action, "start") == 0 || strcmp(x->action, "update") == 0;
        /* start needs no canary; update, stop and auto_stop need one */
        CHECK(v, open_epoch == (strcmp(x->action, "start") != 0),
              "%s canary history row %zu (%s) does not follow its predecessor", name, i + 1,
              x->action);
        CHECK(v, !begins || x->epoch > 0, "%s canary %s row %zu has no epoch reason", name,
              x->action, i + 1);
        if (!begins) {
            open_epoch = false;
            continue;
        }
        open_epoch = true;
        struct replay rp = replay_epoch(db, sig, x->epoch, x->cid);
        const struct canh_row *end = i + 1 < n ? &h[i + 1] : NULL;
        if (end && strcmp(end->action, "auto_stop") == 0) {
            (*autostops)++;
            CHECK(v, rp.stopped && end->ok == rp.ok && end->err == rp.err,
                  "%s epoch %d auto_stop holds ok=%lld err=%lld; its receipts say ok=%lld "
                  "err=%lld (stopped=%d)",
                  name, x->epoch, (long long)end->ok, (long long)end->err, (long long)rp.ok,
                  (long long)rp.err, rp.stopped);
        } else if (end && strcmp(end->action, "stop") == 0) {
            CHECK(v, !rp.stopped && end->ok == rp.ok && end->err == rp.err,
                  "%s epoch %d stop holds ok=%lld err=%lld; its receipts say ok=%lld err=%lld "
                  "(stopped=%d)",
                  name, x->epoch, (long long)end->ok, (long long)end->err, (long long)rp.ok,
                  (long long)rp.err, rp.stopped);
        } else if (end) { /* an update: the epoch ended running */
            CHECK(v, !rp.stopped, "%s epoch %d should have auto-stopped (ok=%lld err=%lld) but "
                                  "no auto_stop row precedes the %s",
                  name, x->epoch, (long long)rp.ok, (long long)rp.err, end->action);
        } else {
            CHECK(v, live && strcmp(live_cid, x->cid) == 0,
                  "%s epoch %d began and never ended, but the canary row is %s", name, x->epoch,
                  live ? live_cid : "missing");
            CHECK(v, !rp.stopped && live_ok == rp.ok && live_err == rp.err,
                  "%s live canary (epoch %d) holds ok=%lld err=%lld; its receipts say ok=%lld "
                  "err=%lld (stopped=%d)",
                  name, x->epoch, (long long)live_ok, (long long)live_err, (long long)rp.ok,
                  (long long)rp.err, rp.stopped);
        }
    }
    CHECK(v, open_epoch || !live, "%s has a canary row but its history ended the canary", name);
    free(h);
}

/* Each example holds its last acked value, or the in-flight one. */
static void check_examples(sqlite3 *db, const struct report *r, int sig, struct verdict *v)
{
    for (int e = 0; e < NEX; e++) {
        char id[16];
        snprintf(id, sizeof id, "ex%d", e);
        int acked = 0;
        for (size_t i = 0; i < r->n; i++)
            if (r->v[i].type == REC_ACK && is_op(&r->v[i], sig, OPK_EXAMPLE, OPK_EXAMPLE) &&
                strcmp(r->v[i].a, id) == 0)
                acked = r->v[i].n;
        const struct rec *f = r->inflight;
        bool same = f && is_op(f, sig, OPK_EXAMPLE, OPK_EXAMPLE) && strcmp(f->a, id) == 0;
        int flying = same ? f->n : 0;
        sqlite3_stmt *s = prep(db, "SELECT expectedJson FROM dseExamples WHERE signatureId = ?1 "
                                   "AND exampleId = ?2");
        sqlite3_bind_text(s, 1, sig_names[sig], -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
        int have = 0;
        if (sqlite3_step(s) == SQLITE_ROW) {
            struct dse_err err;
            cJSON *j = json_parse_str((const char *)sqlite3_column_text(s, 0), &err);
            have = j ? (int)json_int(j, "v", -1) : -1;
            cJSON_Delete(j);
        }
        sqlite3_finalize(s);
        if (flying && have == flying && have != acked)
            v->inflight_kept = true;
        CHECK(v, have == acked || (flying && have == flying),
              "%s example %s holds v=%d; acked v=%d, in flight v=%d", sig_names[sig], id, have,
              acked, flying);
    }
}

/* Running counters equal counts over the rows they count. */
static void check_counters(sqlite3 *db, struct verdict *v)
{
    static const char hourly[] =
        "SELECT signatureId, createdAtMs - ((createdAtMs % 3600000) + 3600000) % 3600000, "
        "count(*), sum(resultTag IS 'Error') FROM receipts WHERE signatureId IS NOT NULL "
        "GROUP BY 1, 2";
    static const char hourly_tab[] =
        "SELECT signatureId, hourMs, receipts, errors FROM dseReceiptHourly";
    static const char excount[] =
        "SELECT signatureId, coalesce(split, ''), coalesce(reviewStatus, ''), count(*) "
        "FROM dseExamples GROUP BY 1, 2, 3";
    static const char excount_tab[] =
        "SELECT signatureId, split, reviewStatus, n FROM dseExampleCounts WHERE n <> 0";
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM (%s EXCEPT %s)", hourly, hourly_tab);
    int64_t a = q_int(db, sql, NULL);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM (%s EXCEPT %s)", hourly_tab, hourly);
    int64_t b = q_int(db, sql, NULL);
    CHECK(v, a == 0 && b == 0, "dseReceiptHourly differs from the receipts (%lld/%lld rows)",
          (long long)a, (long long)b);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM (%s EXCEPT %s)", excount, excount_tab);
    a = q_int(db, sql, NULL);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM (%s EXCEPT %s)", excount_tab, excount);
    b = q_int(db, sql, NULL);
    CHECK(v, a == 0 && b == 0, "dseExampleCounts differs from the examples (%lld/%lld rows)",
          (long long)a, (long long)b);
}

/* Receipts: a prefix of what the child recorded, ending at a commit
 * boundary (a receipt call that returned, or the one in flight), and
 * containing everything recorded before the last acked (synced) operator
 * action. */
static void check_receipts(sqlite3 *db, const struct report *r, struct verdict *v,
                           int64_t *present)
{
    int64_t n = q_int(db, "SELECT count(*) FROM receipts", NULL);
    int64_t top = q_int(db, "SELECT coalesce(max(CAST(substr(receiptId, 4) AS INTEGER)), -1) "
                            "FROM receipts", NULL);
    *present = n;
    CHECK(v, n == top + 1, "receipts have holes: %lld rows, highest rc-%06lld", (long long)n,
          (long long)top);
    CHECK(v, n >= r->acked_recorded,
          "%lld receipts present, but %lld were recorded before the last acked operator action",
          (long long)n, (long long)r->acked_recorded);
    bool boundary = n == 0 || n == r->cut->recorded + r->cut->inflight;
    for (size_t i = 0; !boundary && i < r->n; i++)
        boundary = r->v[i].type == REC_MARK && r->v[i].recorded == n;
    CHECK(v, boundary,
          "%lld receipts present: not the end of any receipt call (%lld recorded, %d in flight); "
          "a batch is half there",
          (long long)n, (long long)r->cut->recorded, r->cut->inflight);
}

/* New artifacts and example imports: acked ones whole, the in-flight one
 * whole or absent, nothing else. */
static void check_artifacts_imports(sqlite3 *db, const struct report *r, int sig,
                                    struct verdict *v)
{
    const char *name = sig_names[sig];
    int64_t want_art = 0, want_rows = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct rec *x = &r->v[i];
        if (x->type != REC_ACK || x->sig != sig)
            continue;
        if (x->op == OPK_ARTIFACT) {
            sqlite3_stmt *s = prep(db, "SELECT json FROM dseArtifacts WHERE signatureId = ?1 AND "
                                       "compiled_id = ?2");
            sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, x->a, -1, SQLITE_TRANSIENT);
            bool found = sqlite3_step(s) == SQLITE_ROW;
            sqlite3_finalize(s);
            CHECK(v, found, "%s: acked artifact %s is missing after the power cut", name, x->a);
            want_art++;
        } else if (x->op == OPK_IMPORT) {
            char like[32];
            snprintf(like, sizeof like, "imp%d-%%", x->n);
            sqlite3_stmt *s = prep(db, "SELECT count(*) FROM dseExamples WHERE signatureId = ?1 "
                                       "AND exampleId LIKE ?2");
            sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, like, -1, SQLITE_TRANSIENT);
            int64_t have = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
            sqlite3_finalize(s);
            CHECK(v, have == atoi(x->a), "%s: acked import %d has %lld of its %s rows", name,
                  x->n, (long long)have, x->a);
            want_rows += atoi(x->a);
        }
    }
    int64_t arts = q_int(db, "SELECT count(*) FROM dseArtifacts WHERE signatureId = ?1 AND "
                             "compiled_id LIKE 'new-%'", name);
    int64_t rows = q_int(db, "SELECT count(*) FROM dseExamples WHERE signatureId = ?1 AND "
                             "exampleId LIKE 'imp%'", name);
    const struct rec *f = r->inflight;
    bool f_art = f && f->sig == sig && f->op == OPK_ARTIFACT;
    bool f_imp = f && f->sig == sig && f->op == OPK_IMPORT;
    CHECK(v, arts == want_art || (f_art && arts == want_art + 1),
          "%s has %lld new artifacts; %lld were acked", name, (long long)arts,
          (long long)want_art);
    CHECK(v, rows == want_rows || (f_imp && rows == want_rows + atoi(f->a)),
          "%s has %lld imported example rows; %lld were acked%s", name, (long long)rows,
          (long long)want_rows, f_imp ? " (+ one import in flight)" : "");
    if ((f_art && arts > want_art) || (f_imp && rows > want_rows))
        v->inflight_kept = true;
}

/* The store takes operator actions and receipts after recovery. */
static void check_writable(struct store *st, struct verdict *v)
{
    static const char *const calls[][2] = {
        {"active_set", "{\"signatureId\":\"sigA\",\"compiled_id\":\"c3\"}"},
        {"canary_start", "{\"signatureId\":\"sigA\",\"canary_compiled_id\":\"c4\","
                         "\"rolloutPct\":10,\"reason\":\"after\"}"},
        {"receipts_record", "{\"threadId\":\"after\",\"runId\":\"after\",\"receipt\":{"
                            "\"receiptId\":\"after-1\",\"signatureId\":\"sigA\","
                            "\"compiled_id\":\"c4\",\"result\":{\"_tag\":\"Ok\"}}}"},
        {"canary_stop", "{\"signatureId\":\"sigA\"}"},
        {"examples_put", "{\"signatureId\":\"sigB\",\"exampleId\":\"after\",\"inputJson\":1,"
                         "\"expectedJson\":2}"},
    };
    static const enum store_op ops[] = {STORE_OP_active_set, STORE_OP_canary_start,
                                        STORE_OP_receipts_record, STORE_OP_canary_stop,
                                        STORE_OP_examples_put};
    for (size_t i = 0; i < ARRAY_LEN(ops); i++) {
        struct dse_err err = {{0}, {0}};
        cJSON *a = json_parse_str(calls[i][1], &err);
        assert_non_null(a);
        cJSON *out = NULL;
        int rc = store_call(st, ops[i], a, &out, &err);
        cJSON_Delete(a);
        CHECK(v, rc == 0, "%s after recovery failed: %s: %s", calls[i][0], err.code, err.msg);
        if (i == 3)
            CHECK(v, json_int(out, "okCount", -1) == 1, "the canary started after recovery "
                                                        "counted %lld receipts, not 1",
                  (long long)json_int(out, "okCount", -1));
        cJSON_Delete(out);
    }
}

/* ------------------------------------------------------------------ */
/* rounds                                                             */

struct stats {
    int rounds, reorder;
    int by_phase[PH__COUNT];
    int by_kind[EV__COUNT];
    int wal_cuts;
    int lost_rounds;     /* rounds where recorded receipts were lost */
    int64_t lost;        /* receipts lost in all */
    int inflight_kept;   /* rounds where the in-flight operator action survived */
    int autostops;
    int64_t acks, torn;
};

static void copy_file(const char *from, const char *to)
{
    size_t n = 0;
    char *data = util_read_file(from, 1u << 30, &n);
    assert_non_null(data);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    free(data);
}

static void rm_rf(const char *path)
{
    char *cmd = xasprintf("rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", path);
    free(cmd);
}

/* Fork the child, collect its records, return its wait status. */
static int spawn(void (*body)(const void *, const char *, int), const void *arg, const char *path,
                 struct report *rep)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        body(arg, path, fds[1]);
        _exit(FAIL_EXIT);
    }
    close(fds[1]);
    size_t cap = 64;
    rep->v = xmalloc(cap * sizeof *rep->v);
    rep->n = 0;
    struct rec r;
    size_t got = 0;
    for (;;) {
        ssize_t k = read(fds[0], (char *)&r + got, sizeof r - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
        if (got < sizeof r)
            continue;
        got = 0;
        if (rep->n == cap) {
            cap *= 2;
            rep->v = xrealloc(rep->v, cap * sizeof *rep->v);
        }
        rep->v[rep->n++] = r;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    report_scan(rep);
    return status;
}

static void round_child(const void *arg, const char *path, int fd)
{
    run_child(arg, path, fd);
}

static void run_round(uint64_t seed, struct stats *sx)
{
    struct plan p = plan_of(seed);
    char dir[224], path[256];
    snprintf(dir, sizeof dir, "%s/round-%llu", tmpdir, (unsigned long long)seed);
    snprintf(path, sizeof path, "%s/dse.db", dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    copy_file(base_db, path);

    struct report rep;
    int status = spawn(round_child, &p, path, &rep);
    struct verdict v = {0};
    CHECK(&v, !rep.fail, "the workload failed before the cut: %s", rep.fail ? rep.fail->msg : "");
    CHECK(&v, WIFEXITED(status) && WEXITSTATUS(status) == CUT_EXIT && rep.cut,
          "the child did not end in a power cut (status 0x%x)", (unsigned)status);

    struct store *st = NULL;
    sqlite3 *db = NULL;
    int64_t present = 0;
    int autostops = 0;
    if (!v.bad) {
        struct dse_err err;
        st = store_open_sqlite(path, STORE_NO_CREATE, &err);
        CHECK(&v, st, "reopening after the cut: %s: %s", err.code, err.msg);
    }
    if (!v.bad) {
        CHECK(&v, sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK,
              "raw open: %s", sqlite3_errmsg(db));
        integrity(db, &v, "after the cut");
    }
    if (!v.bad) {
        check_receipts(db, &rep, &v, &present);
        for (int i = 0; i < NSIGS; i++) {
            check_active(db, &rep, i, &v);
            check_canary_ops(db, &rep, i, &v);
            check_canary_counts(db, i, &v, &autostops);
            check_examples(db, &rep, i, &v);
            check_artifacts_imports(db, &rep, i, &v);
        }
        check_counters(db, &v);
    }
    if (!v.bad) {
        check_writable(st, &v);
        integrity(db, &v, "after writing again");
        check_counters(db, &v);
    }
    if (db)
        sqlite3_close(db);
    if (st)
        store_close(st);
    if (v.bad) {
        const char *ph = rep.cut ? phase_names[rep.cut->phase] : "?";
        fail_msg("power-loss round seed %llu (rerun with DSE_POWERLOSS_SEED=%llu): %s "
                 "[cut in %s at %s #%lld%s; files kept in %s]",
                 (unsigned long long)seed, (unsigned long long)seed, v.msg, ph,
                 phase_names[p.target_phase == PH_ANY ? PH_END : p.target_phase],
                 (long long)p.target_n, p.reorder ? ", reordered sectors" : "", dir);
    }

    sx->rounds++;
    sx->reorder += p.reorder;
    sx->by_phase[rep.cut->phase]++;
    sx->by_kind[rep.cut->kind]++;
    sx->wal_cuts += rep.cut->wal;
    int64_t lost = rep.cut->recorded - present;
    if (lost > 0) {
        sx->lost_rounds++;
        sx->lost += lost;
    }
    sx->autostops += autostops;
    sx->inflight_kept += v.inflight_kept;
    sx->acks += rep.nacks;
    sx->torn += rep.cut->torn;
    free(rep.v);
    rm_rf(dir);
}

/* ------------------------------------------------------------------ */
/* tests                                                              */

static int suite_setup(void **state)
{
    (void)state;
    /* The power loss is simulated, so the disk's own fsync only costs
     * time (the parent's checkpoints and FULL commits): use tmpfs when
     * there is one. */
    snprintf(tmpdir, sizeof tmpdir, "/dev/shm/dse-test-powerloss-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/dse-test-powerloss-XXXXXX");
        if (!mkdtemp(tmpdir))
            return -1;
    }
    snprintf(base_db, sizeof base_db, "%s/base.db", tmpdir);
    struct dse_err err;
    struct store *st = store_open_sqlite(base_db, 0, &err);
    if (!st) {
        fprintf(stderr, "store_open_sqlite: %s: %s\n", err.code, err.msg);
        return -1;
    }
    for (int s = 0; s < NSIGS; s++)
        for (int a = 0; a < NART; a++) {
            char *text = xasprintf("{\"signatureId\":\"%s\",\"compiled_id\":\"%s\",\"json\":{"
                                   "\"id\":\"%s\"}}",
                                   sig_names[s], cid_name(a), cid_name(a));
            cJSON *args = json_parse_str(text, &err);
            free(text);
            int rc = args ? store_call(st, STORE_OP_artifacts_put, args, NULL, &err) : -1;
            cJSON_Delete(args);
            if (rc != 0) {
                fprintf(stderr, "artifacts_put: %s: %s\n", err.code, err.msg);
                return -1;
            }
        }
    store_close(st); /* checkpoints and removes the WAL: the base is one file */
    return 0;
}

static int suite_teardown(void **state)
{
    (void)state;
    rm_rf(tmpdir);
    return 0;
}

/* The shim must lose what was never synced and keep what was: one row
 * committed with synchronous=FULL survives, the next (NORMAL, WAL not
 * synced) does not.  Without this the rounds could pass vacuously. */
static void selftest_child(const void *arg, const char *path, int fd)
{
    (void)arg;
    g_report_fd = fd;
    g_target_phase = PH__COUNT + 1; /* never */
    shim_install();
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        child_fail("open: %s", sqlite3_errmsg(db));
    raw_exec(db, "PRAGMA journal_mode=WAL");
    raw_exec(db, "CREATE TABLE t (x INTEGER)");
    raw_exec(db, "PRAGMA synchronous=FULL");
    raw_exec(db, "INSERT INTO t VALUES (1)");
    raw_exec(db, "PRAGMA synchronous=NORMAL");
    raw_exec(db, "INSERT INTO t VALUES (2)");
    g_phase = PH_END;
    power_cut(EV_NONE, NULL);
}

static void test_shim_loses_unsynced(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/selftest.db", tmpdir);
    struct report rep;
    int status = spawn(selftest_child, NULL, path, &rep);
    if (rep.fail)
        fail_msg("self-test child: %s", rep.fail->msg);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == CUT_EXIT);
    free(rep.v);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    struct verdict v = {0};
    integrity(db, &v, "self-test");
    assert_false(v.bad);
    assert_int_equal(q_int(db, "SELECT count(*) FROM t WHERE x = 1", NULL), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM t WHERE x = 2", NULL), 0);
    sqlite3_close(db);
}

/* A schema-1 store with rows for migration 002 to count, made without the
 * store (which would migrate it). */
static void make_v1_store(const char *path)
{
    const char *sql = NULL;
    for (const struct embedded_file *f = embedded_files; f->path; f++)
        if (strcmp(f->path, "db/migrations/001_initial.sql") == 0)
            sql = f->data;
    assert_non_null(sql);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    static const char *const steps[] = {
        "PRAGMA page_size=16384",
        "PRAGMA journal_mode=WAL",
        "BEGIN",
        NULL, /* 001_initial.sql */
        "PRAGMA user_version = 1",
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 2999) "
        "INSERT INTO receipts (threadId, runId, kind, json, receiptId, signatureId, compiled_id, "
        "createdAtMs, resultTag) SELECT 't', 'r', 'dse.predict', "
        "json_object('pad', printf('%.*c', 100 + i % 300, 'x')), 'm-' || i, "
        "CASE WHEN i % 3 THEN 'sigA' ELSE 'sigB' END, 'c1', 1700000000000 + i * 17000, "
        "CASE WHEN i % 4 = 0 THEN 'Error' ELSE 'Ok' END FROM n",
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 199) "
        "INSERT INTO dseExamples (signatureId, exampleId, sortKey, inputJson, expectedJson, "
        "split, reviewStatus, createdAtMs, updatedAtMs) SELECT "
        "CASE WHEN i % 2 THEN 'sigA' ELSE 'sigB' END, 'e' || i, CAST('e' || i AS BLOB), '1', "
        "'2', CASE i % 3 WHEN 0 THEN 'train' WHEN 1 THEN NULL ELSE 'holdout' END, "
        "CASE WHEN i % 5 = 0 THEN 'accepted' END, 1, 1 FROM n",
        "COMMIT",
    };
    for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
        char *msg = NULL;
        if (sqlite3_exec(db, steps[i] ? steps[i] : sql, NULL, NULL, &msg) != SQLITE_OK)
            fail_msg("making the schema-1 store: %s", msg ? msg : "?");
    }
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* Open (and so migrate) through the shim; cut at the Nth event of the
 * open, or after it when N is 0 (that run counts the events). */
static void migrate_child(const void *arg, const char *path, int fd)
{
    g_report_fd = fd;
    g_target_phase = PH_OPEN;
    g_target_n = *(const int64_t *)arg;
    g_reorder = g_target_n % 2 == 0;
    g_tear_seed = mix64((uint64_t)g_target_n);
    shim_install();
    g_phase = PH_OPEN;
    struct dse_err err;
    struct store *st = store_open_sqlite(path, STORE_NO_CREATE, &err);
    if (!st)
        child_fail("store_open_sqlite: %s: %s", err.code, err.msg);
    g_phase = PH_END;
    power_cut(EV_NONE, NULL);
}

/* Power lost while migration 002 runs: the store opens afterwards at the
 * current schema, intact, with the new counters equal to the rows. */
static void test_power_loss_during_migration(void **state)
{
    (void)state;
    char base[256], path[256];
    snprintf(base, sizeof base, "%s/v1.db", tmpdir);
    snprintf(path, sizeof path, "%s/migrate.db", tmpdir);
    make_v1_store(base);
    int64_t total = 0, rounds = 1;
    int cuts = 0;
    for (int64_t round = 0; round <= rounds; round++) {
        /* round 0 counts the events; then cuts at each of them (at most 30,
         * spread evenly) */
        int64_t n = round == 0 ? 0 : 1 + (total - 1) * (round - 1) / (rounds - 1);
        copy_file(base, path);
        struct report rep;
        int status = spawn(migrate_child, &n, path, &rep);
        if (rep.fail)
            fail_msg("migration cut at event %lld: %s", (long long)n, rep.fail->msg);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == CUT_EXIT && rep.cut);
        if (round == 0) {
            total = rep.cut->events[PH_OPEN];
            assert_true(total > 10);
            rounds = total < 30 ? total : 30;
        } else {
            cuts += rep.cut->kind != EV_NONE;
        }
        free(rep.v);
        struct dse_err err;
        struct store *st = store_open_sqlite(path, STORE_NO_CREATE, &err);
        if (!st)
            fail_msg("reopening after a cut at migration event %lld: %s: %s", (long long)n,
                     err.code, err.msg);
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        struct verdict v = {0};
        integrity(db, &v, "after a cut in the migration");
        int64_t version = q_int(db, "PRAGMA user_version", NULL);
        CHECK(&v, version == store_schema_version(), "schema version %lld after reopening",
              (long long)version);
        CHECK(&v, q_int(db, "SELECT count(*) FROM receipts", NULL) == 3000, "receipts lost");
        CHECK(&v, q_int(db, "SELECT count(*) FROM dseExamples", NULL) == 200, "examples lost");
        check_counters(db, &v);
        sqlite3_close(db);
        store_close(st);
        if (v.bad)
            fail_msg("power cut at migration event %lld of %lld: %s", (long long)n,
                     (long long)total, v.msg);
        unlink(path);
    }
    printf("migration: %d power cuts spread over its %lld writes and syncs\n", cuts,
           (long long)total);
}

static void test_power_loss_rounds(void **state)
{
    (void)state;
    int64_t rounds = 60, only = 0;
    const char *e = getenv("DSE_POWERLOSS_ROUNDS");
    if (e && *e)
        assert_true(util_parse_i64(e, &rounds) && rounds > 0);
    e = getenv("DSE_POWERLOSS_SEED");
    if (e && *e)
        assert_true(util_parse_i64(e, &only) && only > 0);
    struct stats sx = {0};
    int64_t t0 = util_mono_ms();
    for (int64_t s = only ? only : 1; s <= (only ? only : rounds); s++)
        run_round((uint64_t)s, &sx);
    printf("power loss: %d rounds in %lld ms, %lld acked operator actions, %d canary auto-stops "
           "replayed\n  %d rounds with reordered sectors: %lld sector pieces of unsynced writes "
           "kept\n",
           sx.rounds, (long long)(util_mono_ms() - t0), (long long)sx.acks, sx.autostops,
           sx.reorder, (long long)sx.torn);
    printf("  cuts by phase:");
    for (int i = 0; i < PH__COUNT; i++)
        if (sx.by_phase[i])
            printf(" %s %d,", phase_names[i], sx.by_phase[i]);
    printf("\n  cuts by event:");
    for (int i = 0; i < EV__COUNT; i++)
        if (sx.by_kind[i])
            printf(" %s %d,", ev_names[i], sx.by_kind[i]);
    printf(" (%d on the -wal, %d on the db)\n", sx.wal_cuts,
           sx.rounds - sx.wal_cuts - sx.by_kind[EV_NONE]);
    printf("  receipts lost (never synced) in %d rounds, %lld in all; the unacknowledged "
           "operator action was durable in %d rounds\n",
           sx.lost_rounds, (long long)sx.lost, sx.inflight_kept);
    if (!only && rounds >= 40) {
        /* coverage must not silently decay when the workload changes */
        assert_true(sx.by_phase[PH_FULL] >= 3);
        assert_true(sx.by_phase[PH_BATCH] >= 3);
        assert_true(sx.by_phase[PH_CKPT] >= 3);
        assert_true(sx.lost_rounds >= 3);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shim_loses_unsynced),
        cmocka_unit_test(test_power_loss_rounds),
        cmocka_unit_test(test_power_loss_during_migration),
    };
    return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
