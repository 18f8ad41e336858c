/* SQLite back end of the store (store.h).
 *
 * One connection per store handle; store_call serialises use of it.  Every
 * operation runs inside exactly one transaction: queries in a deferred
 * (read) transaction so multi-statement answers are consistent, mutations in
 * BEGIN IMMEDIATE so a read-then-write never has to upgrade its lock (a
 * deferred upgrade fails at once with SQLITE_BUSY_SNAPSHOT instead of waiting
 * for busy_timeout).  All SQL is static text with bound parameters; the only
 * SQL assembled at run time is the receipts page query, and only from fixed
 * fragments chosen by which filters are present.
 *
 * Lists page by key, never by OFFSET.  A cursor on (createdAtMs, id) is
 * followed with two index seeks joined by UNION ALL ("same millisecond, id
 * beyond the cursor" and "strictly beyond the millisecond"): SQLite seeks a
 * row-value comparison (a, b) < (?, ?) on its first column only, which
 * degrades to a scan when many rows share one createdAtMs (a batch of
 * receipts does). */
#include "store.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collate.h"
#include "embedded.h"
#include "hash.h"
#include "json.h"
#include "util.h"

#define BUSY_TIMEOUT_MS 5000
#define STORED_JSON_MAX (1u << 30) /* stored JSON was canonicalised by us */
#define OPS_JSON_MAX_CHARS 50000    /* reference ops-run JSON size rule */
#define VAR_JSON_MAX_CHARS 50000
#define VAR_MAX_PER_RUN 200
#define VAR_NAME_MAX 128
#define BATCH_MAX 10000
#define STMT_CACHE 160

/* Canonical split names (reference §1.2 dseExamples.split). */

struct sq_stmt {
    const char *sql; /* cache key: the address of a static SQL string */
    sqlite3_stmt *stmt;
};

struct sq {
    sqlite3 *db;
    char path[400];
    struct sq_stmt cache[STMT_CACHE];
    int ncache;
    /* Receipts page statements, indexed by filter mask and shape. */
    sqlite3_stmt *page[64][4];
    uint64_t own_commits; /* data_version does not move for our own commits */
    int sync_full;        /* current PRAGMA synchronous: -1 unknown, 0 NORMAL, 1 FULL */
    int query_only;       /* current PRAGMA query_only: on while a TX_READ op runs */
    int64_t busy_since;   /* start of the current wait for the write lock (busy_wait) */
    struct sbuf json;     /* receipt JSON scratch, reused across receipts */
};

/* Per-operation context.  Errors are sticky: the first failure is kept in
 * err and later helper calls become no-ops, so operation bodies can build a
 * row and check once. */
struct ctx {
    struct store *st;
    struct sq *q;
    const cJSON *args;
    struct dse_err *err;
    const char *what; /* the operation's path, for error messages */
    int64_t now;
    bool failed;
};

/* ------------------------------------------------------------------ */
/* errors and statements                                              */

static int sq_fail(struct ctx *c, int rc, const char *doing)
{
    if (c->failed)
        return -1;
    c->failed = true;
    const char *detail = c->q->db ? sqlite3_errmsg(c->q->db) : "";
    return dse_fail(c->err, "storage_error", "%s: %s while %s (%s)", c->what, sqlite3_errstr(rc),
                    doing, detail);
}

static int bad_input(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad_input(struct ctx *c, const char *fmt, ...)
{
    if (c->failed)
        return -1;
    c->failed = true;
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return dse_fail(c->err, "invalid_input", "%s", buf);
}

/* The cached statement for a static SQL string, reset and unbound. */
static sqlite3_stmt *S(struct ctx *c, const char *sql)
{
    if (c->failed)
        return NULL;
    struct sq *q = c->q;
    for (int i = 0; i < q->ncache; i++)
        if (q->cache[i].sql == sql) {
            sqlite3_reset(q->cache[i].stmt);
            sqlite3_clear_bindings(q->cache[i].stmt);
            return q->cache[i].stmt;
        }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK) {
        sq_fail(c, rc, "preparing a statement");
        return NULL;
    }
    if (q->ncache < STMT_CACHE)
        q->cache[q->ncache++] = (struct sq_stmt){.sql = sql, .stmt = s};
    else
        die("store_sqlite: statement cache full"); /* a programming error */
    return s;
}

static void bind_rc(struct ctx *c, int rc)
{
    if (rc != SQLITE_OK)
        sq_fail(c, rc, "binding a parameter");
}

/* Copies v (SQLITE_TRANSIENT): callers free their strings freely. */
static void bt(struct ctx *c, sqlite3_stmt *s, int i, const char *v)
{
    if (c->failed || !s)
        return;
    bind_rc(c, v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i));
}

/* No copy: v must stay valid until the statement is reset (hot paths whose
 * strings live in the caller's JSON tree). */
static void bt_static(struct ctx *c, sqlite3_stmt *s, int i, const char *v)
{
    if (c->failed || !s)
        return;
    bind_rc(c, v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i));
}

/* Takes ownership of a malloc'd string. */
static void bt_own(struct ctx *c, sqlite3_stmt *s, int i, char *v)
{
    if (c->failed || !s) {
        free(v);
        return;
    }
    bind_rc(c, v ? sqlite3_bind_text(s, i, v, -1, free) : sqlite3_bind_null(s, i));
}

static void bi(struct ctx *c, sqlite3_stmt *s, int i, int64_t v)
{
    if (c->failed || !s)
        return;
    bind_rc(c, sqlite3_bind_int64(s, i, v));
}

static void bd(struct ctx *c, sqlite3_stmt *s, int i, double v)
{
    if (c->failed || !s)
        return;
    bind_rc(c, sqlite3_bind_double(s, i, v));
}

static void bblob(struct ctx *c, sqlite3_stmt *s, int i, const void *p, size_t n)
{
    if (c->failed || !s)
        return;
    bind_rc(c, sqlite3_bind_blob(s, i, p, (int)n, SQLITE_TRANSIENT));
}

/* Canonical JSON text of v, or SQL NULL when v is NULL. */
static void bjson(struct ctx *c, sqlite3_stmt *s, int i, const cJSON *v)
{
    bt_own(c, s, i, v ? json_canonical(v) : NULL);
}

/* Step expecting a row: 1 row, 0 done, -1 error. */
static int row(struct ctx *c, sqlite3_stmt *s)
{
    if (c->failed || !s)
        return -1;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    sqlite3_reset(s);
    return sq_fail(c, rc, "reading or writing rows");
}

/* Step a statement that returns no rows. */
static int run(struct ctx *c, sqlite3_stmt *s)
{
    int r = row(c, s);
    if (r < 0)
        return -1;
    sqlite3_reset(s);
    return 0;
}

static int64_t changes(struct ctx *c)
{
    return sqlite3_changes64(c->q->db);
}

/* ---- column readers: SQL NULL becomes JSON null ---- */

static cJSON *cj_text(sqlite3_stmt *s, int i)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return cJSON_CreateNull();
    return cJSON_CreateString((const char *)sqlite3_column_text(s, i));
}

static cJSON *cj_num(sqlite3_stmt *s, int i)
{
    int t = sqlite3_column_type(s, i);
    if (t == SQLITE_NULL)
        return cJSON_CreateNull();
    if (t == SQLITE_INTEGER)
        return cJSON_CreateNumber((double)sqlite3_column_int64(s, i));
    return cJSON_CreateNumber(sqlite3_column_double(s, i));
}

static cJSON *cj_bool(sqlite3_stmt *s, int i)
{
    return cJSON_CreateBool(sqlite3_column_int64(s, i) != 0);
}

/* Stored JSON text, parsed through json_parse like any JSON from disk. */
static cJSON *cj_json(struct ctx *c, sqlite3_stmt *s, int i)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return cJSON_CreateNull();
    const char *t = (const char *)sqlite3_column_text(s, i);
    int n = sqlite3_column_bytes(s, i);
    struct dse_err perr;
    cJSON *v = json_parse(t, (size_t)n, STORED_JSON_MAX, &perr);
    if (!v) {
        if (!c->failed) {
            c->failed = true;
            dse_fail(c->err, "storage_error", "%s: stored JSON in column %s is unreadable: %s",
                     c->what, sqlite3_column_name(s, i), perr.msg);
        }
        return cJSON_CreateNull();
    }
    return v;
}

static const char *col_str(sqlite3_stmt *s, int i)
{
    return (const char *)sqlite3_column_text(s, i);
}

static void put(cJSON *o, const char *k, cJSON *v)
{
    cJSON_AddItemToObject(o, k, v);
}

/* ---- answers ---- */

static cJSON *ok_obj(void)
{
    cJSON *o = json_obj();
    json_set_bool(o, "ok", true);
    return o;
}

/* Run an INSERT ... ON CONFLICT DO NOTHING and answer {ok, existed}. */
static int insert_once(struct ctx *c, sqlite3_stmt *s, cJSON **out)
{
    if (run(c, s) < 0)
        return -1;
    *out = ok_obj();
    json_set_bool(*out, "existed", changes(c) == 0);
    return 0;
}

/* Whether s yields a row: 1 / 0, or -1 on error.  s is reset after, so no
 * read stays open. */
static int has_row(struct ctx *c, sqlite3_stmt *s)
{
    int r = row(c, s);
    if (s)
        sqlite3_reset(s);
    return r;
}

/* ---- rows as JSON objects ---- */

/* F_TAGS: a JSON column read as the reference's asStringArray reads an
 * example's tags: null unless an array, keeping only non-empty strings (no
 * trimming, sorting or deduplication; [] stays []). */
enum field_kind { F_TEXT, F_NUM, F_BOOL, F_JSON, F_TAGS };

static cJSON *tags_of(cJSON *v)
{
    if (!cJSON_IsArray(v)) {
        cJSON_Delete(v);
        return cJSON_CreateNull();
    }
    for (cJSON *t = v->child, *next; t; t = next) {
        next = t->next;
        if (!cJSON_IsString(t) || !t->valuestring[0])
            cJSON_Delete(cJSON_DetachItemViaPointer(v, t));
    }
    return v;
}

/* How a result column becomes a field: the i-th entry of a table reads
 * column i, so a table lists its query's columns in order. */
struct field {
    const char *name;
    enum field_kind kind;
};

/* The first n columns of the current row of s as an object. */
static cJSON *row_obj(struct ctx *c, sqlite3_stmt *s, const struct field *f, size_t n)
{
    cJSON *o = json_obj();
    for (size_t i = 0; i < n; i++) {
        int col = (int)i;
        cJSON *v;
        switch (f[i].kind) {
        case F_NUM: v = cj_num(s, col); break;
        case F_BOOL: v = cj_bool(s, col); break;
        case F_JSON: v = cj_json(c, s, col); break;
        case F_TAGS: v = tags_of(cj_json(c, s, col)); break;
        default: v = cj_text(s, col); break;
        }
        put(o, f[i].name, v);
    }
    return o;
}

/* A get's answer: {ok, <key>: the row s yields (first n fields), or null
 * when there is none}. */
static int get_row(struct ctx *c, sqlite3_stmt *s, const char *key, const struct field *f,
                   size_t n, cJSON **out)
{
    int r = row(c, s);
    if (r < 0)
        return -1;
    *out = ok_obj();
    put(*out, key, r ? row_obj(c, s, f, n) : cJSON_CreateNull());
    return 0;
}

/* A list's answer: {ok, <key>: [every row of s, first n fields]}; s is
 * bound, its limit included. */
static int list_rows(struct ctx *c, sqlite3_stmt *s, const struct field *f, size_t n,
                     const char *key, cJSON **out)
{
    if (c->failed)
        return -1;
    cJSON *arr = json_arr();
    int r;
    while ((r = row(c, s)) == 1)
        cJSON_AddItemToArray(arr, row_obj(c, s, f, n));
    *out = ok_obj();
    json_set(*out, key, arr);
    return r < 0 ? -1 : 0;
}

/* One row of a keyset page, its "cursor" field included. */
typedef cJSON *page_item_fn(struct ctx *c, sqlite3_stmt *s);

/* A keyset page's answer: {ok, items, nextCursor} with up to limit rows of
 * s (bound with limit + 1, so one more row says more follow).  cursor is
 * the request's. */
static int page_rows(struct ctx *c, sqlite3_stmt *s, int limit, const char *cursor,
                     page_item_fn *item, cJSON **out)
{
    if (c->failed)
        return -1;
    cJSON *arr = json_arr();
    int r, n = 0;
    bool more = false;
    while ((r = row(c, s)) == 1) {
        if (n == limit) {
            more = true;
            break;
        }
        cJSON_AddItemToArray(arr, item(c, s));
        n++;
    }
    *out = ok_obj();
    json_set(*out, "items", arr);
    /* nextCursor only when more rows exist; a tailing reader continues
     * from its last item's cursor. */
    const cJSON *last = cJSON_GetArrayItem(arr, n - 1);
    if (more && last)
        json_set_str(*out, "nextCursor", json_str(last, "cursor", ""));
    else if (more && cursor && *cursor)
        json_set_str(*out, "nextCursor", cursor);
    else
        json_set_null(*out, "nextCursor");
    return r < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* argument helpers                                                   */

/* Required non-empty string argument. */
static const char *arg_req(struct ctx *c, const char *name)
{
    const char *v = NULL;
    if (c->failed)
        return NULL;
    if (store_arg_str(c->args, name, true, 0, &v, c->err) < 0) {
        c->failed = true;
        return NULL;
    }
    return v;
}

/* Optional string argument (NULL when absent or null). */
static const char *arg_opt(struct ctx *c, const char *name)
{
    const char *v = NULL;
    if (c->failed)
        return NULL;
    if (store_arg_str(c->args, name, false, 0, &v, c->err) < 0) {
        c->failed = true;
        return NULL;
    }
    return v;
}

static const char *actor(struct ctx *c)
{
    return c->st->actor[0] ? c->st->actor : NULL;
}

/* Length in UTF-16 code units, as JavaScript's String.length. */
static size_t utf16_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) != 0x80)
            n++;
        if (*p >= 0xF0)
            n++;
    }
    return n;
}

/* Byte length of the longest prefix of s with at most max UTF-16 units that
 * does not split a character. */
static size_t utf16_prefix(const char *s, size_t max)
{
    size_t units = 0;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (p[i]) {
        size_t w = p[i] >= 0xF0 ? 2 : 1;
        if (units + w > max)
            break;
        units += w;
        i++;
        while (p[i] && (p[i] & 0xC0) == 0x80)
            i++;
    }
    return i;
}

/* s (NULL as "") without leading and trailing white space, cut to at most
 * max UTF-16 units (SIZE_MAX: uncut).  Caller frees. */
static char *trimmed(const char *s, size_t max)
{
    char *t = xstrdup(s ? s : "");
    char *tt = util_trim(t);
    char *r = xstrndup(tt, utf16_prefix(tt, max));
    free(t);
    return r;
}

/* Trimmed copy of an optional string argument, cut to max UTF-16 units;
 * NULL when absent or empty after trimming.  Caller frees. */
static char *arg_clamped(struct ctx *c, const char *name, size_t max)
{
    const char *v = arg_opt(c, name);
    if (!v)
        return NULL;
    char *r = trimmed(v, max);
    if (!*r) {
        free(r);
        return NULL;
    }
    return r;
}

/* JavaScript Number.prototype.toFixed(3) for 0 <= x < 1e15: round half
 * up on the exact binary value (printf rounds exact ties such as 0.0625
 * to even, toFixed picks the larger). */
static void fixed3(double x, char out[32])
{
    if (!(x >= 0 && x < 1e15)) {
        snprintf(out, 32, "%.3f", x);
        return;
    }
    char buf[160]; /* glibc prints the exact decimal expansion */
    snprintf(buf, sizeof buf, "%.100f", x);
    char *dot = strchr(buf, '.');
    long long n = 0;
    for (char *p = buf; p < dot; p++)
        n = n * 10 + (*p - '0');
    for (int i = 1; i <= 3; i++)
        n = n * 10 + (dot[i] - '0');
    if (dot[4] >= '5')
        n++;
    snprintf(out, 32, "%lld.%03lld", n / 1000, n % 1000);
}

/* ------------------------------------------------------------------ */
/* transactions                                                       */

enum txmode {
    TX_READ,   /* deferred read transaction */
    TX_FULL,   /* operator action: BEGIN IMMEDIATE, synchronous=FULL */
    TX_NORMAL, /* high-rate write (receipts, cache, var space, blobs, events) */
};

static const char SQL_BEGIN[] = "BEGIN";
static const char SQL_BEGIN_IMM[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_SYNC_FULL[] = "PRAGMA synchronous=FULL";
static const char SQL_SYNC_NORMAL[] = "PRAGMA synchronous=NORMAL";
static const char SQL_QUERY_ONLY_ON[] = "PRAGMA query_only=1";
static const char SQL_QUERY_ONLY_OFF[] = "PRAGMA query_only=0";
static const char SQL_BUMP[] = "UPDATE dseMeta SET changeCounter = changeCounter + 1 WHERE id = 1";
static const char SQL_DATA_VERSION[] = "PRAGMA data_version";
static const char SQL_COUNTER[] = "SELECT changeCounter FROM dseMeta WHERE id = 1";

/* Reset every statement still mid-step, so no read snapshot outlives the
 * operation (an open read would pin the WAL and block checkpoints). */
static void reset_all(struct sq *q)
{
    for (sqlite3_stmt *s = sqlite3_next_stmt(q->db, NULL); s; s = sqlite3_next_stmt(q->db, s))
        if (sqlite3_stmt_busy(s))
            sqlite3_reset(s);
}

static void rollback(struct ctx *c)
{
    reset_all(c->q);
    if (!sqlite3_get_autocommit(c->q->db)) {
        /* A failed ROLLBACK means SQLite already rolled back for us. */
        sqlite3_exec(c->q->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

static int exec_cached(struct ctx *c, const char *sql, const char *doing)
{
    sqlite3_stmt *s = S(c, sql);
    if (!s)
        return -1;
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return sq_fail(c, rc, doing);
    return 0;
}

typedef int op_body(struct ctx *c, cJSON **out);

static int run_op(struct store *st, const cJSON *args, cJSON **out, struct dse_err *err,
                  op_body *fn, enum txmode mode, enum store_op op)
{
    struct sq *q = st->impl;
    struct ctx c = {
        .st = st, .q = q, .args = args, .err = err, .what = store_op_info(op)->path,
    };
    bool write = mode != TX_READ;
    /* A query never writes: SQLite itself refuses any write a TX_READ
     * operation might attempt. */
    if (q->query_only != !write) {
        if (exec_cached(&c, write ? SQL_QUERY_ONLY_OFF : SQL_QUERY_ONLY_ON,
                        "setting query_only") < 0)
            return -1;
        q->query_only = !write;
    }
    if (write) {
        int want = mode == TX_FULL;
        if (q->sync_full != want) {
            if (exec_cached(&c, want ? SQL_SYNC_FULL : SQL_SYNC_NORMAL, "setting synchronous") < 0)
                return -1;
            q->sync_full = want;
        }
    }
    if (exec_cached(&c, write ? SQL_BEGIN_IMM : SQL_BEGIN,
                    write ? "starting a write transaction" : "starting a read transaction") < 0) {
        rollback(&c);
        return -1;
    }
    /* Read the clock under the write lock, so commit order and createdAtMs
     * order agree between processes sharing the file. */
    c.now = util_now_ms();
    int64_t changes_before = sqlite3_total_changes64(q->db);
    cJSON *value = NULL;
    int rc = fn(&c, &value);
    if (rc == 0 && c.failed)
        rc = -1; /* a sticky error the body did not report */
    if (rc == 0 && write)
        rc = run(&c, S(&c, SQL_BUMP));
    if (rc == 0) {
        reset_all(q);
        rc = exec_cached(&c, SQL_COMMIT, "committing");
    }
    if (rc < 0) {
        rollback(&c);
        cJSON_Delete(value);
        return -1;
    }
    if (write && sqlite3_total_changes64(q->db) != changes_before)
        q->own_commits++;
    *out = value;
    return 0;
}

/* ------------------------------------------------------------------ */
/* artifacts                                                          */

static const char SQL_ART_PUT[] =
    "INSERT INTO dseArtifacts (signatureId, compiled_id, json, createdAtMs) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (signatureId, compiled_id) DO NOTHING";
static const char SQL_ART_GET[] =
    "SELECT json FROM dseArtifacts WHERE signatureId = ?1 AND compiled_id = ?2";
static const char SQL_ART_EXISTS[] =
    "SELECT 1 FROM dseArtifacts WHERE signatureId = ?1 AND compiled_id = ?2";
static const char SQL_ART_LIST[] =
    "SELECT signatureId, compiled_id, createdAtMs FROM dseArtifacts WHERE signatureId = ?1 "
    "ORDER BY createdAtMs DESC, id DESC LIMIT ?2";
static const struct field art_fields[] = {
    {"signatureId", F_TEXT}, {"compiled_id", F_TEXT}, {"createdAtMs", F_NUM}};

static const cJSON *arg_json_req(struct ctx *c, const char *name)
{
    if (c->failed)
        return NULL;
    const cJSON *v = json_get(c->args, name);
    if (!v) {
        bad_input(c, "%s is required", name);
        return NULL;
    }
    return v;
}

static int do_artifacts_put(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    const char *cid = arg_req(c, "compiled_id");
    const cJSON *json = arg_json_req(c, "json");
    sqlite3_stmt *s = S(c, SQL_ART_PUT);
    bt(c, s, 1, sig);
    bt(c, s, 2, cid);
    bjson(c, s, 3, json);
    bi(c, s, 4, c->now);
    return insert_once(c, s, out);
}

static int do_artifacts_get(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    const char *cid = arg_req(c, "compiled_id");
    sqlite3_stmt *s = S(c, SQL_ART_GET);
    bt(c, s, 1, sig);
    bt(c, s, 2, cid);
    int r = row(c, s);
    if (r < 0)
        return -1;
    *out = ok_obj();
    put(*out, "artifact", r ? cj_json(c, s, 0) : cJSON_CreateNull());
    return 0;
}

static int do_artifacts_list(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    sqlite3_stmt *s = S(c, SQL_ART_LIST);
    bt(c, s, 1, sig);
    bi(c, s, 2, store_arg_limit(c->args, "limit", 50, 200));
    return list_rows(c, s, art_fields, ARRAY_LEN(art_fields), "artifacts", out);
}

static int artifact_exists(struct ctx *c, const char *sig, const char *cid)
{
    sqlite3_stmt *s = S(c, SQL_ART_EXISTS);
    bt(c, s, 1, sig);
    bt(c, s, 2, cid);
    return has_row(c, s);
}

/* ------------------------------------------------------------------ */
/* active pointer (reference §4, Convex rules)                        */

static const char SQL_ACT_GET[] =
    "SELECT compiled_id, updatedAtMs FROM dseActiveArtifacts WHERE signatureId = ?1";
static const char SQL_ACT_SET[] =
    "INSERT INTO dseActiveArtifacts (signatureId, compiled_id, updatedAtMs) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (signatureId) DO UPDATE SET compiled_id = excluded.compiled_id, "
    "updatedAtMs = excluded.updatedAtMs";
static const char SQL_ACT_DEL[] = "DELETE FROM dseActiveArtifacts WHERE signatureId = ?1";
static const char SQL_HIST_ADD[] =
    "INSERT INTO dseActiveArtifactHistory (signatureId, action, fromCompiledId, toCompiledId, "
    "reason, actorUserId, createdAtMs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_HIST_LIST[] =
    "SELECT signatureId, action, fromCompiledId, toCompiledId, reason, actorUserId, createdAtMs "
    "FROM dseActiveArtifactHistory WHERE signatureId = ?1 "
    "ORDER BY createdAtMs DESC, id DESC LIMIT ?2";
static const struct field hist_fields[] = {
    {"signatureId", F_TEXT}, {"action", F_TEXT}, {"fromCompiledId", F_TEXT},
    {"toCompiledId", F_TEXT}, {"reason", F_TEXT}, {"actorUserId", F_TEXT}, {"createdAtMs", F_NUM}};

/* Current pointer into a malloc'd string (*cid NULL when none). */
static int active_current(struct ctx *c, const char *sig, char **cid, int64_t *updated)
{
    *cid = NULL;
    sqlite3_stmt *s = S(c, SQL_ACT_GET);
    bt(c, s, 1, sig);
    int r = row(c, s);
    if (r < 0)
        return -1;
    if (r) {
        *cid = xstrdup(col_str(s, 0));
        if (updated)
            *updated = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    return 0;
}

static int history_add(struct ctx *c, const char *sig, const char *action, const char *from,
                       const char *to, const char *reason, const char *who)
{
    sqlite3_stmt *s = S(c, SQL_HIST_ADD);
    bt(c, s, 1, sig);
    bt(c, s, 2, action);
    bt(c, s, 3, from);
    bt(c, s, 4, to);
    bt(c, s, 5, reason);
    bt(c, s, 6, who);
    bi(c, s, 7, c->now);
    return run(c, s);
}

static int pointer_set(struct ctx *c, const char *sig, const char *cid)
{
    sqlite3_stmt *s = S(c, SQL_ACT_SET);
    bt(c, s, 1, sig);
    bt(c, s, 2, cid);
    bi(c, s, 3, c->now);
    return run(c, s);
}

static int pointer_del(struct ctx *c, const char *sig)
{
    sqlite3_stmt *s = S(c, SQL_ACT_DEL);
    bt(c, s, 1, sig);
    return run(c, s);
}

static void set_str_or_null(cJSON *o, const char *k, const char *v)
{
    if (v)
        json_set_str(o, k, v);
    else
        json_set_null(o, k);
}

static int do_active_get(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    if (c->failed)
        return -1;
    char *cid;
    int64_t upd = 0;
    if (active_current(c, sig, &cid, &upd) < 0)
        return -1;
    *out = ok_obj();
    set_str_or_null(*out, "compiled_id", cid);
    if (cid)
        json_set_num(*out, "updatedAtMs", (double)upd);
    else
        json_set_null(*out, "updatedAtMs");
    free(cid);
    return 0;
}

static int do_active_set(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    const char *cid = arg_req(c, "compiled_id");
    const char *reason = arg_opt(c, "reason");
    if (c->failed)
        return -1;
    int ex = artifact_exists(c, sig, cid);
    if (ex < 0)
        return -1;
    if (!ex)
        return dse_fail(c->err, "artifact_not_found", "no artifact %s for signature %s", cid, sig);
    char *from;
    if (active_current(c, sig, &from, NULL) < 0)
        return -1;
    int rc = pointer_set(c, sig, cid);
    if (rc == 0)
        rc = history_add(c, sig, "set", from, cid, reason, actor(c));
    if (rc == 0) {
        *out = ok_obj();
        set_str_or_null(*out, "from", from);
        json_set_str(*out, "compiled_id", cid);
    }
    free(from);
    return rc;
}

static int do_active_clear(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    const char *reason = arg_opt(c, "reason");
    if (c->failed)
        return -1;
    char *from;
    if (active_current(c, sig, &from, NULL) < 0)
        return -1;
    int rc = from ? pointer_del(c, sig) : 0;
    if (rc == 0)
        rc = history_add(c, sig, "clear", from, NULL, reason, actor(c));
    if (rc == 0) {
        *out = ok_obj();
        set_str_or_null(*out, "from", from);
    }
    free(from);
    return rc;
}

static int do_active_rollback(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    const char *reason = arg_opt(c, "reason");
    if (c->failed)
        return -1;
    char *current;
    if (active_current(c, sig, &current, NULL) < 0)
        return -1;
    /* The newest of the last 50 history rows whose target differs from the
     * current pointer (null == null counts as equal). */
    char *target = NULL;
    sqlite3_stmt *s = S(c, SQL_HIST_LIST);
    bt(c, s, 1, sig);
    bi(c, s, 2, 50);
    int r;
    while ((r = row(c, s)) == 1) {
        const char *to = sqlite3_column_type(s, 3) == SQLITE_NULL ? NULL : col_str(s, 3);
        if (!util_streq(to, current)) {
            target = to ? xstrdup(to) : NULL;
            break;
        }
    }
    if (s)
        sqlite3_reset(s);
    int rc = r < 0 ? -1 : 0;
    if (rc == 0 && target) {
        int ex = artifact_exists(c, sig, target);
        if (ex < 0)
            rc = -1;
        else if (!ex)
            rc = dse_fail(c->err, "artifact_not_found",
                          "rollback target %s of signature %s has no artifact", target, sig);
        else
            rc = pointer_set(c, sig, target);
    } else if (rc == 0 && current) {
        rc = pointer_del(c, sig);
    }
    if (rc == 0)
        rc = history_add(c, sig, "rollback", current, target, reason, actor(c));
    if (rc == 0) {
        *out = ok_obj();
        set_str_or_null(*out, "from", current);
        set_str_or_null(*out, "compiled_id", target);
    }
    free(current);
    free(target);
    return rc;
}

static int do_active_history(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    sqlite3_stmt *s = S(c, SQL_HIST_LIST);
    bt(c, s, 1, sig);
    bi(c, s, 2, store_arg_limit(c->args, "limit", 50, 200));
    return list_rows(c, s, hist_fields, ARRAY_LEN(hist_fields), "history", out);
}

/* ------------------------------------------------------------------ */
/* canary (reference §3)                                              */

#define CANARY_COLS                                                                        \
    "signatureId, enabled, control_compiled_id, canary_compiled_id, rolloutPct, salt, "    \
    "okCount, errorCount, minSamples, maxErrorRate, createdAtMs, updatedAtMs, id"
static const char SQL_CAN_GET[] = "SELECT " CANARY_COLS " FROM dseCanaries WHERE signatureId = ?1";
/* CANARY_COLS without the row id */
static const struct field canary_fields[] = {
    {"signatureId", F_TEXT}, {"enabled", F_BOOL}, {"control_compiled_id", F_TEXT},
    {"canary_compiled_id", F_TEXT}, {"rolloutPct", F_NUM}, {"salt", F_TEXT}, {"okCount", F_NUM},
    {"errorCount", F_NUM}, {"minSamples", F_NUM}, {"maxErrorRate", F_NUM}, {"createdAtMs", F_NUM},
    {"updatedAtMs", F_NUM}};

static const char SQL_CAN_INS[] =
    "INSERT INTO dseCanaries (signatureId, control_compiled_id, canary_compiled_id, rolloutPct, "
    "salt, enabled, okCount, errorCount, minSamples, maxErrorRate, createdAtMs, updatedAtMs) "
    "VALUES (?1, ?2, ?3, ?4, ?5, 1, 0, 0, ?6, ?7, ?8, ?8)";
static const char SQL_CAN_UPD[] =
    "UPDATE dseCanaries SET control_compiled_id = ?2, canary_compiled_id = ?3, rolloutPct = ?4, "
    "salt = ?5, enabled = 1, okCount = 0, errorCount = 0, minSamples = ?6, maxErrorRate = ?7, "
    "updatedAtMs = ?8 WHERE signatureId = ?1";
static const char SQL_CAN_DEL[] = "DELETE FROM dseCanaries WHERE id = ?1";
static const char SQL_CAN_COUNT[] =
    "UPDATE dseCanaries SET okCount = ?2, errorCount = ?3, updatedAtMs = ?4 WHERE id = ?1";
static const char SQL_CANH_ADD[] =
    "INSERT INTO dseCanaryHistory (signatureId, action, control_compiled_id, canary_compiled_id, "
    "rolloutPct, okCount, errorCount, reason, actorUserId, createdAtMs) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char SQL_CANH_LIST[] =
    "SELECT signatureId, action, control_compiled_id, canary_compiled_id, rolloutPct, okCount, "
    "errorCount, reason, actorUserId, createdAtMs FROM dseCanaryHistory WHERE signatureId = ?1 "
    "ORDER BY createdAtMs DESC, id DESC LIMIT ?2";
static const struct field canh_fields[] = {
    {"signatureId", F_TEXT}, {"action", F_TEXT}, {"control_compiled_id", F_TEXT},
    {"canary_compiled_id", F_TEXT}, {"rolloutPct", F_NUM}, {"okCount", F_NUM},
    {"errorCount", F_NUM}, {"reason", F_TEXT}, {"actorUserId", F_TEXT}, {"createdAtMs", F_NUM}};

static int canary_history_add(struct ctx *c, const char *sig, const char *action,
                              const char *control, const char *canary, int64_t pct, int64_t ok,
                              int64_t errs, const char *reason, const char *who)
{
    sqlite3_stmt *s = S(c, SQL_CANH_ADD);
    bt(c, s, 1, sig);
    bt(c, s, 2, action);
    bt(c, s, 3, control);
    bt(c, s, 4, canary);
    bi(c, s, 5, pct);
    bi(c, s, 6, ok);
    bi(c, s, 7, errs);
    bt(c, s, 8, reason);
    bt(c, s, 9, who);
    bi(c, s, 10, c->now);
    return run(c, s);
}

static int do_canary_get(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    (void)arg_opt(c, "threadId"); /* accepted and ignored, as the reference */
    sqlite3_stmt *s = S(c, SQL_CAN_GET);
    bt(c, s, 1, sig);
    return get_row(c, s, "canary", canary_fields, ARRAY_LEN(canary_fields), out);
}

/* Optional number argument: *present false when absent. */
static double arg_num(struct ctx *c, const char *name, bool required, bool *present)
{
    double v = 0;
    bool p = false;
    if (c->failed)
        return 0;
    if (store_arg_num(c->args, name, required, &v, &p, c->err) < 0)
        c->failed = true;
    if (present)
        *present = p;
    return v;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int do_canary_start(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    const char *canary = arg_req(c, "canary_compiled_id");
    const char *salt_arg = arg_opt(c, "salt");
    const char *reason = arg_opt(c, "reason");
    bool has_min = false, has_rate = false;
    double pct_in = arg_num(c, "rolloutPct", true, NULL);
    double min_in = arg_num(c, "minSamples", false, &has_min);
    double rate_in = arg_num(c, "maxErrorRate", false, &has_rate);
    if (c->failed)
        return -1;
    int64_t pct = (int64_t)clampd(floor(pct_in), 0, 100);
    int64_t min_samples = 20;
    if (has_min && isfinite(min_in))
        min_samples = (int64_t)clampd(floor(min_in), 1, 10000);
    double max_rate = has_rate ? rate_in : 0.2;
    max_rate = isnan(max_rate) ? 0 : clampd(max_rate, 0, 1);
    /* The salt given is kept (the reference's HTTP handler dropped it). */
    char *salt = trimmed(salt_arg, SIZE_MAX);
    if (!salt[0]) {
        char uuid[37];
        util_uuid(uuid);
        free(salt);
        salt = xstrdup(uuid);
    }

    char *control;
    if (active_current(c, sig, &control, NULL) < 0)
        return -1;
    int rc = 0;
    if (!control || !*control) {
        rc = dse_fail(c->err, "control_missing",
                      "signature %s has no active artifact to serve as the canary control", sig);
        goto done;
    }
    int ex = artifact_exists(c, sig, control);
    if (ex <= 0) {
        rc = ex < 0 ? -1
                    : dse_fail(c->err, "control_artifact_missing",
                               "the active artifact %s of %s is missing", control, sig);
        goto done;
    }
    ex = artifact_exists(c, sig, canary);
    if (ex <= 0) {
        rc = ex < 0 ? -1
                    : dse_fail(c->err, "canary_artifact_missing",
                               "no artifact %s for signature %s", canary, sig);
        goto done;
    }
    sqlite3_stmt *g = S(c, SQL_CAN_GET);
    bt(c, g, 1, sig);
    int r = has_row(c, g);
    if (r < 0) {
        rc = -1;
        goto done;
    }
    sqlite3_stmt *s = S(c, r ? SQL_CAN_UPD : SQL_CAN_INS);
    bt(c, s, 1, sig);
    bt(c, s, 2, control);
    bt(c, s, 3, canary);
    bi(c, s, 4, pct);
    bt(c, s, 5, salt);
    bi(c, s, 6, min_samples);
    bd(c, s, 7, max_rate);
    bi(c, s, 8, c->now);
    const char *action = r ? "update" : "start";
    rc = run(c, s);
    if (rc == 0)
        rc = canary_history_add(c, sig, action, control, canary, pct, 0, 0, reason, actor(c));
    if (rc == 0) {
        *out = ok_obj();
        json_set_str(*out, "signatureId", sig);
        json_set_str(*out, "control_compiled_id", control);
        json_set_str(*out, "canary_compiled_id", canary);
        json_set_num(*out, "rolloutPct", (double)pct);
        json_set_str(*out, "salt", salt);
        json_set_str(*out, "action", action);
    }
done:
    free(control);
    free(salt);
    return rc;
}

static int do_canary_stop(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    const char *reason = arg_opt(c, "reason");
    sqlite3_stmt *g = S(c, SQL_CAN_GET);
    bt(c, g, 1, sig);
    int r = row(c, g);
    if (r < 0)
        return -1;
    if (!r) {
        *out = ok_obj();
        json_set_bool(*out, "existed", false);
        return 0;
    }
    char *control = xstrdup(col_str(g, 2)), *canary = xstrdup(col_str(g, 3));
    int64_t pct = sqlite3_column_int64(g, 4), okc = sqlite3_column_int64(g, 6),
            errc = sqlite3_column_int64(g, 7), id = sqlite3_column_int64(g, 12);
    sqlite3_reset(g);
    sqlite3_stmt *d = S(c, SQL_CAN_DEL);
    bi(c, d, 1, id);
    int rc = run(c, d);
    if (rc == 0)
        rc = canary_history_add(c, sig, "stop", control, canary, pct, okc, errc, reason, actor(c));
    if (rc == 0) {
        *out = ok_obj();
        json_set_bool(*out, "existed", true);
        json_set_str(*out, "signatureId", sig);
        json_set_str(*out, "control_compiled_id", control);
        json_set_str(*out, "canary_compiled_id", canary);
        json_set_num(*out, "rolloutPct", (double)pct);
        json_set_num(*out, "okCount", (double)okc);
        json_set_num(*out, "errorCount", (double)errc);
    }
    free(control);
    free(canary);
    return rc;
}

static int do_canary_history(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    sqlite3_stmt *s = S(c, SQL_CANH_LIST);
    bt(c, s, 1, sig);
    bi(c, s, 2, store_arg_limit(c->args, "limit", 50, 200));
    return list_rows(c, s, canh_fields, ARRAY_LEN(canh_fields), "history", out);
}

/* A signature's canary as the counting code sees it.  A batch of receipts
 * keeps one per signature in memory and writes the counters once at the
 * end; the write lock is held throughout, so nobody else can change the
 * row meanwhile. */
struct canary_state {
    char *sig;
    bool exists, dirty;
    int64_t id, okc, errc, pct, min_samples;
    double max_rate;
    char *control, *canary;
};

static void canary_state_free(struct canary_state *k)
{
    free(k->sig);
    free(k->control);
    free(k->canary);
    memset(k, 0, sizeof *k);
}

static int canary_load(struct ctx *c, const char *sig, struct canary_state *k)
{
    memset(k, 0, sizeof *k);
    k->sig = xstrdup(sig);
    sqlite3_stmt *g = S(c, SQL_CAN_GET);
    bt(c, g, 1, sig);
    int r = row(c, g);
    if (r <= 0)
        return r;
    if (!sqlite3_column_int64(g, 1)) { /* disabled rows are never counted */
        sqlite3_reset(g);
        return 0;
    }
    k->exists = true;
    k->control = xstrdup(col_str(g, 2));
    k->canary = xstrdup(col_str(g, 3));
    k->pct = sqlite3_column_int64(g, 4);
    k->okc = sqlite3_column_int64(g, 6);
    k->errc = sqlite3_column_int64(g, 7);
    k->id = sqlite3_column_int64(g, 12);
    /* Settings as read back by the reference: minSamples = max(1, floor),
     * maxErrorRate clamped to [0, 1]. */
    double m = floor(sqlite3_column_double(g, 8));
    k->min_samples = m < 1 ? 1 : (int64_t)m;
    k->max_rate = clampd(sqlite3_column_double(g, 9), 0, 1);
    sqlite3_reset(g);
    return 0;
}

/* Write the counters of a canary that is still running. */
static int canary_flush(struct ctx *c, struct canary_state *k)
{
    if (!k->exists || !k->dirty)
        return 0;
    sqlite3_stmt *u = S(c, SQL_CAN_COUNT);
    bi(c, u, 1, k->id);
    bi(c, u, 2, k->okc);
    bi(c, u, 3, k->errc);
    bi(c, u, 4, c->now);
    k->dirty = false;
    return run(c, u);
}

/* Count one receipt toward a loaded canary and auto-stop it when the error
 * rate is exceeded (reference §3).  *counted: 0 none, 1 ok, 2 error. */
static int canary_apply(struct ctx *c, struct canary_state *k, const char *cid, bool is_error,
                        int *counted, bool *stopped)
{
    *counted = 0;
    *stopped = false;
    if (!k->exists || strcmp(k->canary, cid) != 0)
        return 0; /* no canary, or served by the control: never counted */
    if (is_error)
        k->errc++;
    else
        k->okc++;
    k->dirty = true;
    *counted = is_error ? 2 : 1;
    int64_t total = k->okc + k->errc;
    double rate = (double)k->errc / (double)total;
    if (total < k->min_samples || !(rate > k->max_rate))
        return 0;
    char r1[32], r2[32], reason[128];
    fixed3(rate, r1);
    fixed3(k->max_rate, r2);
    snprintf(reason, sizeof reason,
             "error_rate_exceeded errorRate=%s maxErrorRate=%s minSamples=%lld", r1, r2,
             (long long)k->min_samples);
    sqlite3_stmt *d = S(c, SQL_CAN_DEL);
    bi(c, d, 1, k->id);
    int rc = run(c, d);
    if (rc == 0)
        rc = canary_history_add(c, k->sig, "auto_stop", k->control, k->canary, k->pct, k->okc,
                                k->errc, reason, NULL);
    /* The row is gone: later receipts find no canary and are not counted. */
    k->exists = false;
    k->dirty = false;
    *stopped = rc == 0;
    return rc;
}

/* ------------------------------------------------------------------ */
/* examples                                                           */

#define EX_COLS                                                                                \
    "signatureId, exampleId, inputJson, expectedJson, split, tags, source, meta, createdAtMs, " \
    "updatedAtMs, sortKey"
static const char SQL_EX_GET[] =
    "SELECT " EX_COLS " FROM dseExamples WHERE signatureId = ?1 AND exampleId = ?2";
/* EX_COLS without the sort key (a page item's cursor) */
static const struct field ex_fields[] = {
    {"signatureId", F_TEXT}, {"exampleId", F_TEXT}, {"inputJson", F_JSON}, {"expectedJson", F_JSON},
    {"split", F_TEXT}, {"tags", F_TAGS}, {"source", F_TEXT}, {"meta", F_JSON},
    {"createdAtMs", F_NUM}, {"updatedAtMs", F_NUM}};

static const char SQL_EX_EXISTS[] =
    "SELECT coalesce(split, ''), coalesce(reviewStatus, '') FROM dseExamples "
    "WHERE signatureId = ?1 AND exampleId = ?2";
static const char SQL_EXC_ADD[] =
    "INSERT INTO dseExampleCounts (signatureId, split, reviewStatus, n) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (signatureId, split, reviewStatus) DO UPDATE SET n = n + excluded.n";
static const char SQL_EX_UPSERT[] =
    "INSERT INTO dseExamples (signatureId, exampleId, sortKey, inputJson, expectedJson, split, "
    "tags, source, meta, reviewStatus, createdAtMs, updatedAtMs) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11) "
    "ON CONFLICT (signatureId, exampleId) DO UPDATE SET inputJson = excluded.inputJson, "
    "expectedJson = excluded.expectedJson, split = excluded.split, tags = excluded.tags, "
    "source = excluded.source, meta = excluded.meta, reviewStatus = excluded.reviewStatus, "
    "updatedAtMs = excluded.updatedAtMs";
static const char SQL_EX_DEL[] = "DELETE FROM dseExamples WHERE signatureId = ?1 AND exampleId = ?2";
static const char SQL_EX_LIST[] = "SELECT " EX_COLS " FROM dseExamples WHERE signatureId = ?1 "
                                  "ORDER BY sortKey LIMIT ?2";
static const char SQL_EX_LIST_SPLIT[] = "SELECT " EX_COLS " FROM dseExamples WHERE signatureId = ?1 "
                                        "AND split = ?3 ORDER BY sortKey LIMIT ?2";
static const char SQL_EX_COUNTS[] =
    "SELECT split, reviewStatus, n FROM dseExampleCounts WHERE signatureId = ?1";

/* Page statements: [split?][prev?][cursor?]. */
#define EX_PAGE(split, cmp, order)                                                   \
    "SELECT " EX_COLS " FROM dseExamples WHERE signatureId = ?1" split cmp          \
    " ORDER BY sortKey " order " LIMIT ?2"
static const char *const SQL_EX_PAGE[2][2][2] = {
    {{EX_PAGE("", "", "ASC"), EX_PAGE("", " AND sortKey > ?4", "ASC")},
     {EX_PAGE("", "", "DESC"), EX_PAGE("", " AND sortKey < ?4", "DESC")}},
    {{EX_PAGE(" AND split = ?3", "", "ASC"), EX_PAGE(" AND split = ?3", " AND sortKey > ?4", "ASC")},
     {EX_PAGE(" AND split = ?3", "", "DESC"),
      EX_PAGE(" AND split = ?3", " AND sortKey < ?4", "DESC")}},
};

struct ex_in {
    const char *exampleId;
    const cJSON *input, *expected, *tags, *meta;
    const char *split, *source;
};

/* Validate one example object (args of putExample, or a row of an import).
 * where: "" or "rows[12]." for messages. */
static int ex_parse(struct ctx *c, const cJSON *o, const char *where, const char *default_source,
                    struct ex_in *e)
{
    memset(e, 0, sizeof *e);
    if (!cJSON_IsObject(o))
        return bad_input(c, "%s must be an object", *where ? where : "example");
    const cJSON *v = store_arg(o, "exampleId");
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return bad_input(c, "%sexampleId must be a non-empty string", where);
    e->exampleId = v->valuestring;
    e->input = json_get(o, "inputJson");
    e->expected = json_get(o, "expectedJson");
    if (!e->input)
        return bad_input(c, "%sinputJson is required", where);
    if (!e->expected)
        return bad_input(c, "%sexpectedJson is required", where);
    v = store_arg(o, "split");
    if (v) {
        if (!cJSON_IsString(v) || store_split_slot(v->valuestring) == STORE_SPLIT_SLOTS - 1)
            return bad_input(c, "%ssplit must be one of train, dev, holdout, test", where);
        e->split = v->valuestring;
    }
    v = store_arg(o, "tags");
    if (v) {
        if (!cJSON_IsArray(v))
            return bad_input(c, "%stags must be an array of strings", where);
        const cJSON *t;
        cJSON_ArrayForEach(t, v) if (!cJSON_IsString(t))
            return bad_input(c, "%stags must be an array of strings", where);
        e->tags = v;
    }
    v = store_arg(o, "source");
    if (v && !cJSON_IsString(v))
        return bad_input(c, "%ssource must be a string", where);
    e->source = v ? v->valuestring : default_source;
    e->meta = store_arg(o, "meta");
    return 0;
}

static const char *review_status(const cJSON *meta)
{
    const cJSON *r = json_path(meta, "review.status");
    if (cJSON_IsString(r) && (strcmp(r->valuestring, "accepted") == 0 ||
                              strcmp(r->valuestring, "rejected") == 0))
        return r->valuestring;
    return NULL;
}

/* Move one example between count buckets ('' = absent). */
static int ex_count(struct ctx *c, const char *sig, const char *split, const char *review,
                    int delta)
{
    sqlite3_stmt *s = S(c, SQL_EXC_ADD);
    bt(c, s, 1, sig);
    bt(c, s, 2, split ? split : "");
    bt(c, s, 3, review ? review : "");
    bi(c, s, 4, delta);
    return run(c, s);
}

/* The stored example's count bucket; 0 absent, 1 found, -1 error. */
static int ex_bucket(struct ctx *c, const char *sig, const char *id, char split[16],
                     char review[16])
{
    sqlite3_stmt *s = S(c, SQL_EX_EXISTS);
    bt(c, s, 1, sig);
    bt(c, s, 2, id);
    int r = row(c, s);
    if (r == 1) {
        snprintf(split, 16, "%s", col_str(s, 0));
        snprintf(review, 16, "%s", col_str(s, 1));
    }
    if (s)
        sqlite3_reset(s);
    return r;
}

/* Upsert one validated example; *existed tells whether it was there. */
static int ex_write(struct ctx *c, const char *sig, const struct ex_in *e, bool *existed)
{
    char old_split[16], old_review[16];
    int r = ex_bucket(c, sig, e->exampleId, old_split, old_review);
    if (r < 0)
        return -1;
    *existed = r == 1;
    const char *split = e->split ? e->split : "", *review = review_status(e->meta);
    if (!review)
        review = "";
    if (!*existed || strcmp(old_split, split) != 0 || strcmp(old_review, review) != 0) {
        if ((*existed && ex_count(c, sig, old_split, old_review, -1) < 0) ||
            ex_count(c, sig, split, review, 1) < 0)
            return -1;
    }
    sqlite3_stmt *s;
    struct sbuf key = {0};
    collate_sort_key(e->exampleId, &key);
    s = S(c, SQL_EX_UPSERT);
    bt(c, s, 1, sig);
    bt(c, s, 2, e->exampleId);
    bblob(c, s, 3, key.s, key.len);
    sbuf_free(&key);
    bjson(c, s, 4, e->input);
    bjson(c, s, 5, e->expected);
    bt(c, s, 6, e->split);
    bjson(c, s, 7, e->tags);
    bt(c, s, 8, e->source);
    bjson(c, s, 9, e->meta);
    bt(c, s, 10, review_status(e->meta));
    bi(c, s, 11, c->now);
    return run(c, s);
}

static void hex_of(const void *p, size_t n, struct sbuf *b)
{
    static const char hx[] = "0123456789abcdef";
    const unsigned char *u = p;
    for (size_t i = 0; i < n; i++) {
        sbuf_addc(b, hx[u[i] >> 4]);
        sbuf_addc(b, hx[u[i] & 15]);
    }
}

/* Decode a hex cursor; -1 on junk. */
static int unhex(const char *s, struct sbuf *b)
{
    size_t n = strlen(s);
    if (n == 0 || n % 2)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char ch = s[i + k];
            int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
            if (d < 0)
                return -1;
            v = v * 16 + d;
        }
        sbuf_addc(b, (char)v);
    }
    return 0;
}

/* The cursor is the sort key in hex. */
static cJSON *example_item(struct ctx *c, sqlite3_stmt *s)
{
    cJSON *o = row_obj(c, s, ex_fields, ARRAY_LEN(ex_fields));
    struct sbuf h = {0};
    hex_of(sqlite3_column_blob(s, 10), (size_t)sqlite3_column_bytes(s, 10), &h);
    char *t = sbuf_take(&h);
    json_set_str(o, "cursor", t);
    free(t);
    return o;
}

static int do_examples_put(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    struct ex_in e;
    if (c->failed || ex_parse(c, c->args, "", NULL, &e) < 0)
        return -1;
    bool existed;
    if (ex_write(c, sig, &e, &existed) < 0)
        return -1;
    *out = ok_obj();
    json_set_bool(*out, "existed", existed);
    return 0;
}

static int do_examples_get(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    const char *id = arg_req(c, "exampleId");
    sqlite3_stmt *s = S(c, SQL_EX_GET);
    bt(c, s, 1, sig);
    bt(c, s, 2, id);
    return get_row(c, s, "example", ex_fields, ARRAY_LEN(ex_fields), out);
}

static int do_examples_list(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    const char *split = arg_opt(c, "split");
    sqlite3_stmt *s = S(c, split ? SQL_EX_LIST_SPLIT : SQL_EX_LIST);
    bt(c, s, 1, sig);
    bi(c, s, 2, store_arg_limit(c->args, "limit", 200, 500));
    if (split)
        bt(c, s, 3, split);
    return list_rows(c, s, ex_fields, ARRAY_LEN(ex_fields), "examples", out);
}

static int do_x_examples_page(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    const char *split = arg_opt(c, "split");
    const char *cursor = arg_opt(c, "cursor");
    const char *dir = arg_opt(c, "dir");
    if (c->failed)
        return -1;
    bool prev = false;
    if (dir && strcmp(dir, "prev") == 0)
        prev = true;
    else if (dir && strcmp(dir, "next") != 0)
        return bad_input(c, "dir must be \"next\" or \"prev\"");
    struct sbuf key = {0};
    if (cursor && *cursor && unhex(cursor, &key) < 0) {
        sbuf_free(&key);
        return bad_input(c, "cursor is not a cursor returned by this store");
    }
    bool has_cursor = key.len > 0;
    int limit = store_arg_limit(c->args, "limit", 50, 500);
    sqlite3_stmt *s = S(c, SQL_EX_PAGE[split != NULL][prev][has_cursor]);
    bt(c, s, 1, sig);
    bi(c, s, 2, limit + 1);
    if (split)
        bt(c, s, 3, split);
    if (has_cursor)
        bblob(c, s, 4, key.s, key.len);
    sbuf_free(&key);
    return page_rows(c, s, limit, cursor, example_item, out);
}

static int do_x_examples_import(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    const char *source = arg_opt(c, "source");
    const cJSON *rows = store_arg(c->args, "rows");
    if (c->failed)
        return -1;
    if (!cJSON_IsArray(rows))
        return bad_input(c, "rows must be an array of examples");
    int n = cJSON_GetArraySize(rows);
    struct ex_in *v = xcalloc((size_t)n + 1, sizeof *v);
    int i = 0;
    const cJSON *o;
    /* Validate every row before the first write: all rows or none. */
    cJSON_ArrayForEach(o, rows)
    {
        char where[32];
        snprintf(where, sizeof where, "rows[%d].", i);
        if (ex_parse(c, o, where, source, &v[i]) < 0)
            break;
        i++;
    }
    int64_t inserted = 0, updated = 0;
    for (int k = 0; !c->failed && k < n; k++) {
        bool existed;
        if (ex_write(c, sig, &v[k], &existed) < 0)
            break;
        if (existed)
            updated++;
        else
            inserted++;
    }
    free(v);
    if (c->failed)
        return -1;
    *out = ok_obj();
    json_set_num(*out, "inserted", (double)inserted);
    json_set_num(*out, "updated", (double)updated);
    json_set_num(*out, "total", (double)n);
    return 0;
}

static int do_x_examples_delete(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    const char *id = arg_req(c, "exampleId");
    if (c->failed)
        return -1;
    char split[16], review[16];
    int r = ex_bucket(c, sig, id, split, review);
    if (r < 0)
        return -1;
    if (r) {
        sqlite3_stmt *s = S(c, SQL_EX_DEL);
        bt(c, s, 1, sig);
        bt(c, s, 2, id);
        if (run(c, s) < 0 || ex_count(c, sig, split, review, -1) < 0)
            return -1;
    }
    *out = ok_obj();
    json_set_bool(*out, "existed", r == 1);
    return 0;
}

static int do_x_examples_counts(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    sqlite3_stmt *s = S(c, SQL_EX_COUNTS);
    bt(c, s, 1, sig);
    int64_t total = 0, accepted = 0, rejected = 0, by[STORE_SPLIT_SLOTS] = {0};
    int r;
    while ((r = row(c, s)) == 1) {
        int64_t k = sqlite3_column_int64(s, 2);
        total += k;
        by[store_split_slot(col_str(s, 0))] += k;
        const char *rv = col_str(s, 1);
        if (strcmp(rv, "accepted") == 0)
            accepted += k;
        else if (strcmp(rv, "rejected") == 0)
            rejected += k;
    }
    if (r < 0)
        return -1;
    *out = ok_obj();
    json_set_num(*out, "total", (double)total);
    cJSON *sp = json_obj();
    for (int i = 0; i < STORE_SPLIT_SLOTS; i++)
        json_set_num(sp, store_split_slots[i], (double)by[i]);
    json_set(*out, "splits", sp);
    json_set_num(*out, "accepted", (double)accepted);
    json_set_num(*out, "rejected", (double)rejected);
    return 0;
}

/* ------------------------------------------------------------------ */
/* compile and eval reports (immutable: first write wins)             */

static const char SQL_CR_PUT[] =
    "INSERT INTO dseCompileReports (signatureId, jobHash, datasetId, datasetHash, compiled_id, "
    "json, createdAtMs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
    "ON CONFLICT (signatureId, jobHash, datasetHash) DO NOTHING";
static const char SQL_CR_GET[] =
    "SELECT signatureId, jobHash, datasetId, datasetHash, compiled_id, createdAtMs, json "
    "FROM dseCompileReports WHERE signatureId = ?1 AND jobHash = ?2 AND datasetHash = ?3";
static const char SQL_CR_LIST[] =
    "SELECT signatureId, jobHash, datasetId, datasetHash, compiled_id, createdAtMs "
    "FROM dseCompileReports WHERE signatureId = ?1 ORDER BY createdAtMs DESC, id DESC LIMIT ?2";
/* SQL_CR_GET's columns; the list has all but the last (json). */
static const struct field cr_fields[] = {
    {"signatureId", F_TEXT}, {"jobHash", F_TEXT}, {"datasetId", F_TEXT}, {"datasetHash", F_TEXT},
    {"compiled_id", F_TEXT}, {"createdAtMs", F_NUM}, {"json", F_JSON}};

static int do_compile_put(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    const char *job = arg_req(c, "jobHash");
    const char *dsid = arg_req(c, "datasetId");
    const char *dsh = arg_req(c, "datasetHash");
    const char *cid = arg_req(c, "compiled_id");
    const cJSON *json = arg_json_req(c, "json");
    sqlite3_stmt *s = S(c, SQL_CR_PUT);
    bt(c, s, 1, sig);
    bt(c, s, 2, job);
    bt(c, s, 3, dsid);
    bt(c, s, 4, dsh);
    bt(c, s, 5, cid);
    bjson(c, s, 6, json);
    bi(c, s, 7, c->now);
    return insert_once(c, s, out);
}

static int do_compile_get(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    const char *job = arg_req(c, "jobHash");
    const char *dsh = arg_req(c, "datasetHash");
    sqlite3_stmt *s = S(c, SQL_CR_GET);
    bt(c, s, 1, sig);
    bt(c, s, 2, job);
    bt(c, s, 3, dsh);
    return get_row(c, s, "report", cr_fields, ARRAY_LEN(cr_fields), out);
}

static int do_compile_list(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    sqlite3_stmt *s = S(c, SQL_CR_LIST);
    bt(c, s, 1, sig);
    bi(c, s, 2, store_arg_limit(c->args, "limit", 50, 200));
    return list_rows(c, s, cr_fields, ARRAY_LEN(cr_fields) - 1, "reports", out);
}

#define EVAL_COLS                                                                           \
    "signatureId, evalHash, compiled_id, datasetId, datasetHash, rewardId, rewardVersion, " \
    "split, selectedExampleIdsHash, n, createdAtMs"
static const char SQL_EV_PUT[] =
    "INSERT INTO dseEvalReports (signatureId, evalHash, compiled_id, datasetId, datasetHash, "
    "rewardId, rewardVersion, split, selectedExampleIdsHash, n, json, createdAtMs) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
    "ON CONFLICT (signatureId, evalHash) DO NOTHING";
static const char SQL_EV_GET[] =
    "SELECT " EVAL_COLS ", json FROM dseEvalReports WHERE signatureId = ?1 AND evalHash = ?2";
static const char SQL_EV_LIST[] = "SELECT " EVAL_COLS " FROM dseEvalReports WHERE signatureId = ?1 "
                                  "ORDER BY createdAtMs DESC, id DESC LIMIT ?2";
static const char SQL_EV_LIST_CID[] =
    "SELECT " EVAL_COLS " FROM dseEvalReports WHERE signatureId = ?1 AND compiled_id = ?3 "
    "ORDER BY createdAtMs DESC, id DESC LIMIT ?2";

/* SQL_EV_GET's columns; the lists have all but the last (json). */
static const struct field eval_fields[] = {
    {"signatureId", F_TEXT}, {"evalHash", F_TEXT}, {"compiled_id", F_TEXT}, {"datasetId", F_TEXT},
    {"datasetHash", F_TEXT}, {"rewardId", F_TEXT}, {"rewardVersion", F_NUM}, {"split", F_TEXT},
    {"selectedExampleIdsHash", F_TEXT}, {"n", F_NUM}, {"createdAtMs", F_NUM}, {"json", F_JSON}};

static int do_eval_put(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    const char *eh = arg_req(c, "evalHash");
    const char *cid = arg_req(c, "compiled_id");
    const char *dsid = arg_req(c, "datasetId");
    const char *dsh = arg_req(c, "datasetHash");
    const char *rid = arg_req(c, "rewardId");
    double rver = arg_num(c, "rewardVersion", true, NULL);
    const char *split = arg_opt(c, "split");
    const char *sel = arg_opt(c, "selectedExampleIdsHash");
    bool has_n = false;
    double n = arg_num(c, "n", false, &has_n);
    const cJSON *json = arg_json_req(c, "json");
    sqlite3_stmt *s = S(c, SQL_EV_PUT);
    bt(c, s, 1, sig);
    bt(c, s, 2, eh);
    bt(c, s, 3, cid);
    bt(c, s, 4, dsid);
    bt(c, s, 5, dsh);
    bt(c, s, 6, rid);
    bd(c, s, 7, rver);
    bt(c, s, 8, split);
    bt(c, s, 9, sel);
    if (has_n)
        bd(c, s, 10, n);
    bjson(c, s, 11, json);
    bi(c, s, 12, c->now);
    return insert_once(c, s, out);
}

static int do_eval_get(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    const char *eh = arg_req(c, "evalHash");
    sqlite3_stmt *s = S(c, SQL_EV_GET);
    bt(c, s, 1, sig);
    bt(c, s, 2, eh);
    return get_row(c, s, "report", eval_fields, ARRAY_LEN(eval_fields), out);
}

static int do_eval_list(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    const char *cid = arg_opt(c, "compiled_id");
    if (cid && !cid[0])
        cid = NULL; /* the reference filters only on a non-empty compiled_id */
    sqlite3_stmt *s = S(c, cid ? SQL_EV_LIST_CID : SQL_EV_LIST);
    bt(c, s, 1, sig);
    bi(c, s, 2, store_arg_limit(c->args, "limit", 50, 200));
    if (cid)
        bt(c, s, 3, cid);
    return list_rows(c, s, eval_fields, ARRAY_LEN(eval_fields) - 1, "reports", out);
}

/* ------------------------------------------------------------------ */
/* receipts                                                           */

static const char SQL_RC_INS[] =
    "INSERT INTO receipts (threadId, runId, kind, json, receiptId, signatureId, compiled_id, "
    "createdAtMs, strategyId, resultTag, errorName, durationMs, rlmTraceBlobId, "
    "rlmTraceEventCount) VALUES (?1, ?2, 'dse.predict', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
    "?12, ?13) ON CONFLICT (receiptId) DO NOTHING";
static const char SQL_RC_GET[] =
    "SELECT threadId, runId, json, createdAtMs FROM receipts "
    "WHERE receiptId = ?1 AND kind = 'dse.predict'";
static const struct field rc_get_fields[] = {
    {"threadId", F_TEXT}, {"runId", F_TEXT}, {"json", F_JSON}, {"createdAtMs", F_NUM}};

/* A receipt with the values we copy into columns (borrowed pointers). */
struct rc_in {
    const char *thread_id, *run_id;
    const cJSON *receipt;
    const char *receipt_id, *sig, *cid, *strategy, *tag, *error_name, *trace_blob;
    bool has_dur, has_count;
    double dur, count;
};

static const char *nonempty(const cJSON *o, const char *key)
{
    const cJSON *v = json_get(o, key);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static int rc_parse(struct ctx *c, const cJSON *item, const char *where, struct rc_in *r)
{
    memset(r, 0, sizeof *r);
    const cJSON *v = json_get(item, "threadId");
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return bad_input(c, "%sthreadId must be a non-empty string", where);
    r->thread_id = v->valuestring;
    v = json_get(item, "runId");
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return bad_input(c, "%srunId must be a non-empty string", where);
    r->run_id = v->valuestring;
    r->receipt = json_get(item, "receipt");
    if (!cJSON_IsObject(r->receipt))
        return bad_input(c, "%sreceipt must be an object", where);
    r->receipt_id = nonempty(r->receipt, "receiptId");
    r->sig = nonempty(r->receipt, "signatureId");
    r->cid = nonempty(r->receipt, "compiled_id");
    r->strategy = nonempty(r->receipt, "strategyId");
    const cJSON *res = json_get(r->receipt, "result");
    const char *tag = json_str(res, "_tag", NULL);
    if (tag && (strcmp(tag, "Ok") == 0 || strcmp(tag, "Error") == 0))
        r->tag = tag;
    if (tag && strcmp(tag, "Error") == 0)
        r->error_name = nonempty(res, "errorName");
    const cJSON *d = json_path(r->receipt, "timing.durationMs");
    if (cJSON_IsNumber(d) && isfinite(d->valuedouble)) {
        r->has_dur = true;
        r->dur = d->valuedouble;
    }
    const cJSON *tr = json_get(r->receipt, "rlmTrace");
    r->trace_blob = nonempty(json_get(tr, "blob"), "id");
    const cJSON *ec = json_get(tr, "eventCount");
    if (cJSON_IsNumber(ec) && isfinite(ec->valuedouble)) {
        r->has_count = true;
        r->count = ec->valuedouble;
    }
    return 0;
}

/* Per-operation state of receipt recording: canary states, one per
 * signature met (a batch usually touches a handful), and the hourly receipt
 * counts to add, written once at the end. */
struct hour_count {
    char *sig;
    int64_t hour, receipts, errors;
};

struct canary_cache {
    struct canary_state *v;
    size_t n, cap;
    struct hour_count *h;
    size_t nh, caph;
};

static const char SQL_HOURLY_ADD[] =
    "INSERT INTO dseReceiptHourly (signatureId, hourMs, receipts, errors) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (signatureId, hourMs) DO UPDATE SET receipts = receipts + excluded.receipts, "
    "errors = errors + excluded.errors";

#define HOUR_MS 3600000
static int64_t hour_of(int64_t ms)
{
    return ms - ((ms % HOUR_MS) + HOUR_MS) % HOUR_MS;
}

static void hour_add(struct canary_cache *cc, const char *sig, int64_t hour, bool is_error)
{
    struct hour_count *e = NULL;
    for (size_t i = cc->nh; i-- > 0;)
        if (cc->h[i].hour == hour && strcmp(cc->h[i].sig, sig) == 0) {
            e = &cc->h[i];
            break;
        }
    if (!e) {
        if (cc->nh == cc->caph) {
            cc->caph = cc->caph ? cc->caph * 2 : 8;
            cc->h = xrealloc(cc->h, cc->caph * sizeof *cc->h);
        }
        e = &cc->h[cc->nh++];
        *e = (struct hour_count){.sig = xstrdup(sig), .hour = hour};
    }
    e->receipts++;
    e->errors += is_error;
}

static struct canary_state *canary_cached(struct ctx *c, struct canary_cache *cc, const char *sig)
{
    for (size_t i = 0; i < cc->n; i++)
        if (strcmp(cc->v[i].sig, sig) == 0)
            return &cc->v[i];
    if (cc->n == cc->cap) {
        cc->cap = cc->cap ? cc->cap * 2 : 8;
        cc->v = xrealloc(cc->v, cc->cap * sizeof *cc->v);
    }
    struct canary_state *k = &cc->v[cc->n++];
    if (canary_load(c, sig, k) < 0)
        return NULL;
    return k;
}

/* Write the counters of every canary still running and the hourly counts;
 * frees the cache. */
static int canary_cache_done(struct ctx *c, struct canary_cache *cc, bool flush)
{
    int rc = 0;
    for (size_t i = 0; i < cc->n; i++) {
        if (flush && rc == 0)
            rc = canary_flush(c, &cc->v[i]);
        canary_state_free(&cc->v[i]);
    }
    for (size_t i = 0; i < cc->nh; i++) {
        if (flush && rc == 0) {
            sqlite3_stmt *s = S(c, SQL_HOURLY_ADD);
            bt(c, s, 1, cc->h[i].sig);
            bi(c, s, 2, cc->h[i].hour);
            bi(c, s, 3, cc->h[i].receipts);
            bi(c, s, 4, cc->h[i].errors);
            rc = run(c, s);
        }
        free(cc->h[i].sig);
    }
    free(cc->v);
    free(cc->h);
    memset(cc, 0, sizeof *cc);
    return rc;
}

/* Insert one receipt and count it toward a canary.  *inserted false for a
 * repeated receiptId (then nothing is counted). */
static int rc_record(struct ctx *c, struct canary_cache *cc, const struct rc_in *r,
                     bool *inserted, int *counted, bool *stopped)
{
    *inserted = false;
    *counted = 0;
    *stopped = false;
    sqlite3_stmt *s = S(c, SQL_RC_INS);
    bt_static(c, s, 1, r->thread_id);
    bt_static(c, s, 2, r->run_id);
    /* The canonical text goes into a buffer kept across receipts: a batch
     * serialises thousands of ~1-2 KB documents. */
    c->q->json.len = 0;
    json_canonical_into(&c->q->json, r->receipt);
    if (!c->failed)
        bind_rc(c, sqlite3_bind_text(s, 3, c->q->json.s, (int)c->q->json.len, SQLITE_STATIC));
    bt_static(c, s, 4, r->receipt_id);
    bt_static(c, s, 5, r->sig);
    bt_static(c, s, 6, r->cid);
    bi(c, s, 7, c->now);
    bt_static(c, s, 8, r->strategy);
    bt_static(c, s, 9, r->tag);
    bt_static(c, s, 10, r->error_name);
    if (r->has_dur)
        bd(c, s, 11, r->dur);
    bt_static(c, s, 12, r->trace_blob);
    if (r->has_count)
        bi(c, s, 13, (int64_t)r->count);
    if (run(c, s) < 0)
        return -1;
    *inserted = changes(c) > 0;
    if (*inserted && r->sig)
        hour_add(cc, r->sig, hour_of(c->now), r->tag && strcmp(r->tag, "Error") == 0);
    if (!*inserted || !r->sig || !r->cid || !r->tag)
        return 0;
    struct canary_state *k = canary_cached(c, cc, r->sig);
    if (!k)
        return -1;
    return canary_apply(c, k, r->cid, strcmp(r->tag, "Error") == 0, counted, stopped);
}

static int do_receipts_record(struct ctx *c, cJSON **out)
{
    struct rc_in r;
    if (rc_parse(c, c->args, "", &r) < 0)
        return -1;
    bool inserted, stopped;
    int counted;
    struct canary_cache cc = {0};
    int rc = rc_record(c, &cc, &r, &inserted, &counted, &stopped);
    if (canary_cache_done(c, &cc, rc == 0) < 0 || rc < 0)
        return -1;
    *out = ok_obj();
    json_set_bool(*out, "existed", !inserted);
    if (counted)
        json_set_str(*out, "counted", counted == 2 ? "error" : "ok");
    else
        json_set_null(*out, "counted");
    json_set_bool(*out, "autoStopped", stopped);
    return 0;
}

static int do_x_receipts_batch(struct ctx *c, cJSON **out)
{
    const cJSON *items = store_arg(c->args, "items");
    if (!cJSON_IsArray(items))
        return bad_input(c, "items must be an array of {threadId, runId, receipt}");
    int n = cJSON_GetArraySize(items);
    if (n > BATCH_MAX)
        return bad_input(c, "items has %d entries; at most %d per batch", n, BATCH_MAX);
    struct rc_in *v = xcalloc((size_t)n + 1, sizeof *v);
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        char where[32];
        snprintf(where, sizeof where, "items[%d].", i);
        if (!cJSON_IsObject(it)) {
            bad_input(c, "items[%d] must be an object", i);
            break;
        }
        if (rc_parse(c, it, where, &v[i]) < 0)
            break;
        i++;
    }
    int64_t recorded = 0, dups = 0, counted_n = 0, stops = 0;
    struct canary_cache cc = {0};
    int rc = c->failed ? -1 : 0;
    for (int k = 0; rc == 0 && k < n; k++) {
        bool inserted, stopped;
        int counted;
        rc = rc_record(c, &cc, &v[k], &inserted, &counted, &stopped);
        recorded += inserted;
        dups += !inserted;
        counted_n += counted != 0;
        stops += stopped;
    }
    free(v);
    if (canary_cache_done(c, &cc, rc == 0) < 0 || rc < 0)
        return -1;
    *out = ok_obj();
    json_set_num(*out, "recorded", (double)recorded);
    json_set_num(*out, "duplicates", (double)dups);
    json_set_num(*out, "counted", (double)counted_n);
    json_set_num(*out, "autoStopped", (double)stops);
    return 0;
}

static int rc_get(struct ctx *c, cJSON **out)
{
    const char *id = arg_req(c, "receiptId");
    sqlite3_stmt *s = S(c, SQL_RC_GET);
    bt(c, s, 1, id);
    return get_row(c, s, "receipt", rc_get_fields, ARRAY_LEN(rc_get_fields), out);
}

static int do_receipts_get(struct ctx *c, cJSON **out)
{
    return rc_get(c, out);
}

static int do_receipts_get_admin(struct ctx *c, cJSON **out)
{
    return rc_get(c, out);
}

/* ---- receipt pages ---- */

enum { RF_SIG = 1, RF_TAG = 2, RF_STRAT = 4, RF_CID = 8, RF_THREAD = 16, RF_BY_ERRORS = 32 };
enum { SHAPE_OLDER, SHAPE_NEWER, SHAPE_OLDER_AT, SHAPE_NEWER_AT };

#define RC_COLS                                                                            \
    "receiptId, signatureId, compiled_id, threadId, runId, createdAtMs, strategyId, "     \
    "resultTag, rlmTraceBlobId, rlmTraceEventCount, errorName, durationMs, id"

/* Build the page SQL for a filter mask and shape from fixed fragments;
 * every value is a named parameter. */
static char *page_sql(unsigned mask, int shape)
{
    struct sbuf f = {0};
    sbuf_adds(&f, "kind = 'dse.predict' AND receiptId IS NOT NULL AND signatureId IS NOT NULL");
    if (mask & RF_SIG)
        sbuf_adds(&f, " AND signatureId = :sig");
    if (mask & RF_TAG)
        sbuf_adds(&f, " AND resultTag = :tag");
    if (mask & RF_STRAT)
        sbuf_adds(&f, " AND strategyId = :strat");
    if (mask & RF_CID)
        sbuf_adds(&f, " AND compiled_id = :cid");
    if (mask & RF_THREAD)
        sbuf_adds(&f, " AND threadId = :thread");
    bool newer = shape == SHAPE_NEWER || shape == SHAPE_NEWER_AT;
    const char *ord = newer ? "createdAtMs ASC, id ASC" : "createdAtMs DESC, id DESC";
    /* Without statistics SQLite may walk the strategy index and test
     * resultTag row by row, which is slow exactly when errors are rare;
     * errors are the rare class by design, so walk them.  (compiled_id +
     * resultTag has its own index.) */
    const char *from = mask & RF_BY_ERRORS
                           ? "receipts INDEXED BY receipts_by_signatureId_resultTag_createdAtMs"
                           : "receipts";
    char *sql;
    if (shape == SHAPE_OLDER || shape == SHAPE_NEWER)
        sql = xasprintf("SELECT " RC_COLS " FROM %s WHERE %s ORDER BY %s LIMIT :lim", from, f.s,
                        ord);
    else
        sql = xasprintf("SELECT * FROM (SELECT " RC_COLS " FROM %s WHERE %s AND "
                        "createdAtMs = :ts AND id %s :id ORDER BY id %s LIMIT :lim) "
                        "UNION ALL SELECT * FROM (SELECT " RC_COLS " FROM %s WHERE %s AND "
                        "createdAtMs %s :ts ORDER BY %s LIMIT :lim) ORDER BY %s LIMIT :lim",
                        from, f.s, newer ? ">" : "<", newer ? "ASC" : "DESC", from, f.s,
                        newer ? ">" : "<", ord, ord);
    sbuf_free(&f);
    return sql;
}

static sqlite3_stmt *page_stmt(struct ctx *c, unsigned mask, int shape)
{
    if (c->failed)
        return NULL;
    sqlite3_stmt **slot = &c->q->page[mask][shape];
    if (!*slot) {
        char *sql = page_sql(mask, shape);
        int rc = sqlite3_prepare_v3(c->q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
        free(sql);
        if (rc != SQLITE_OK) {
            *slot = NULL;
            sq_fail(c, rc, "preparing the receipts page query");
            return NULL;
        }
    }
    sqlite3_reset(*slot);
    sqlite3_clear_bindings(*slot);
    return *slot;
}

static void bind_named_text(struct ctx *c, sqlite3_stmt *s, const char *name, const char *v)
{
    int i = s ? sqlite3_bind_parameter_index(s, name) : 0;
    if (i > 0)
        bt(c, s, i, v);
}

static void bind_named_int(struct ctx *c, sqlite3_stmt *s, const char *name, int64_t v)
{
    int i = s ? sqlite3_bind_parameter_index(s, name) : 0;
    if (i > 0)
        bi(c, s, i, v);
}

/* RC_COLS without the row id; the admin list leaves out the last two. */
static const struct field rc_fields[] = {
    {"receiptId", F_TEXT}, {"signatureId", F_TEXT}, {"compiled_id", F_TEXT}, {"threadId", F_TEXT},
    {"runId", F_TEXT}, {"createdAtMs", F_NUM}, {"strategyId", F_TEXT}, {"resultTag", F_TEXT},
    {"rlmTraceBlobId", F_TEXT}, {"rlmTraceEventCount", F_NUM}, {"errorName", F_TEXT},
    {"durationMs", F_NUM}};
#define RC_ADMIN_FIELDS 10

/* The cursor is "createdAtMs:id". */
static cJSON *receipt_item(struct ctx *c, sqlite3_stmt *s)
{
    cJSON *o = row_obj(c, s, rc_fields, ARRAY_LEN(rc_fields));
    char cur[48];
    snprintf(cur, sizeof cur, "%lld:%lld", (long long)sqlite3_column_int64(s, 5),
             (long long)sqlite3_column_int64(s, 12));
    json_set_str(o, "cursor", cur);
    return o;
}

static int do_receipts_list_admin(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    sqlite3_stmt *s = page_stmt(c, RF_SIG, SHAPE_OLDER);
    bind_named_text(c, s, ":sig", sig);
    bind_named_int(c, s, ":lim", store_arg_limit(c->args, "limit", 50, 200));
    if (c->failed)
        return -1;
    return list_rows(c, s, rc_fields, RC_ADMIN_FIELDS, "receipts", out);
}

static int do_x_receipts_page(struct ctx *c, cJSON **out)
{
    static const struct {
        const char *arg, *param;
        unsigned bit;
    } filters[] = {
        {"signatureId", ":sig", RF_SIG}, {"resultTag", ":tag", RF_TAG},
        {"strategyId", ":strat", RF_STRAT}, {"compiled_id", ":cid", RF_CID},
        {"threadId", ":thread", RF_THREAD},
    };
    const char *val[ARRAY_LEN(filters)];
    unsigned mask = 0;
    for (size_t i = 0; i < ARRAY_LEN(filters); i++) {
        val[i] = arg_opt(c, filters[i].arg);
        if (val[i] && *val[i])
            mask |= filters[i].bit;
    }
    const char *cursor = arg_opt(c, "cursor");
    const char *dir = arg_opt(c, "dir");
    if (c->failed)
        return -1;
    if ((mask & RF_SIG) && (mask & RF_STRAT) && !(mask & RF_CID) && (mask & RF_TAG) &&
        strcmp(val[1], "Error") == 0)
        mask |= RF_BY_ERRORS;
    bool newer = false;
    if (dir && strcmp(dir, "newer") == 0)
        newer = true;
    else if (dir && strcmp(dir, "older") != 0)
        return bad_input(c, "dir must be \"older\" or \"newer\"");
    long long cts = 0, cid = 0;
    bool has_cursor = cursor && *cursor;
    if (has_cursor) {
        int used = 0;
        if (sscanf(cursor, "%lld:%lld%n", &cts, &cid, &used) != 2 || cursor[used])
            return bad_input(c, "cursor is not a cursor returned by this store");
    }
    int limit = store_arg_limit(c->args, "limit", 50, 500);
    int shape = has_cursor ? (newer ? SHAPE_NEWER_AT : SHAPE_OLDER_AT)
                           : (newer ? SHAPE_NEWER : SHAPE_OLDER);
    sqlite3_stmt *s = page_stmt(c, mask, shape);
    for (size_t i = 0; i < ARRAY_LEN(filters); i++)
        if (mask & filters[i].bit)
            bind_named_text(c, s, filters[i].param, val[i]);
    bind_named_int(c, s, ":lim", limit + 1);
    if (has_cursor) {
        bind_named_int(c, s, ":ts", cts);
        bind_named_int(c, s, ":id", cid);
    }
    return page_rows(c, s, limit, cursor, receipt_item, out);
}

/* ------------------------------------------------------------------ */
/* blobs                                                              */

static const char SQL_BLOB_PUT[] =
    "INSERT INTO dseBlobs (threadId, runId, blobId, mime, text, size, createdAtMs) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (threadId, runId, blobId) DO NOTHING";
static const char SQL_BLOB_GET[] =
    "SELECT text FROM dseBlobs WHERE threadId = ?1 AND runId = ?2 AND blobId = ?3";

static int do_blobs_put(struct ctx *c, cJSON **out)
{
    const char *th = arg_req(c, "threadId");
    const char *rn = arg_req(c, "runId");
    const char *mime = arg_opt(c, "mime");
    const cJSON *tv = store_arg(c->args, "text");
    if (c->failed)
        return -1;
    if (!cJSON_IsString(tv))
        return bad_input(c, "text must be a string");
    char id[HASH_ID_LEN + 1];
    hash_text(tv->valuestring, id);
    size_t size = strlen(tv->valuestring);
    sqlite3_stmt *s = S(c, SQL_BLOB_PUT);
    bt(c, s, 1, th);
    bt(c, s, 2, rn);
    bt(c, s, 3, id);
    bt(c, s, 4, mime);
    bt(c, s, 5, tv->valuestring);
    bi(c, s, 6, (int64_t)size);
    bi(c, s, 7, c->now);
    if (run(c, s) < 0)
        return -1;
    cJSON *b = json_obj();
    json_set_str(b, "id", id);
    json_set_str(b, "hash", id);
    json_set_num(b, "size", (double)size);
    if (mime)
        json_set_str(b, "mime", mime);
    *out = ok_obj();
    json_set(*out, "blob", b);
    return 0;
}

static int blob_get(struct ctx *c, cJSON **out)
{
    const char *th = arg_req(c, "threadId");
    const char *rn = arg_req(c, "runId");
    const char *id = arg_req(c, "blobId");
    sqlite3_stmt *s = S(c, SQL_BLOB_GET);
    bt(c, s, 1, th);
    bt(c, s, 2, rn);
    bt(c, s, 3, id);
    int r = row(c, s);
    if (r < 0)
        return -1;
    *out = ok_obj();
    put(*out, "text", r ? cj_text(s, 0) : cJSON_CreateNull());
    return 0;
}

static int do_blobs_get(struct ctx *c, cJSON **out)
{
    return blob_get(c, out);
}

static int do_blobs_get_admin(struct ctx *c, cJSON **out)
{
    return blob_get(c, out);
}

/* ------------------------------------------------------------------ */
/* var space                                                          */

static const char SQL_VAR_GET[] =
    "SELECT kind, json, approxChars, blob FROM dseVarSpace "
    "WHERE threadId = ?1 AND runId = ?2 AND name = ?3";
static const char SQL_VAR_COUNT[] =
    "SELECT count(*) FROM dseVarSpace WHERE threadId = ?1 AND runId = ?2";
static const char SQL_VAR_PUT[] =
    "INSERT INTO dseVarSpace (threadId, runId, name, kind, json, approxChars, blob, createdAtMs, "
    "updatedAtMs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) "
    "ON CONFLICT (threadId, runId, name) DO UPDATE SET kind = excluded.kind, "
    "json = excluded.json, approxChars = excluded.approxChars, blob = excluded.blob, "
    "updatedAtMs = excluded.updatedAtMs";
static const char SQL_VAR_DEL[] =
    "DELETE FROM dseVarSpace WHERE threadId = ?1 AND runId = ?2 AND name = ?3";
static const char SQL_VAR_LIST[] =
    "SELECT name, kind, approxChars, blob FROM dseVarSpace WHERE threadId = ?1 AND runId = ?2";

/* The variable name, trimmed, 1..128 characters; malloc'd. */
static char *var_name(struct ctx *c)
{
    const char *v = arg_opt(c, "name");
    if (c->failed)
        return NULL;
    if (!v) {
        bad_input(c, "name is required");
        return NULL;
    }
    char *name = trimmed(v, SIZE_MAX);
    size_t n = utf16_len(name);
    if (n < 1 || n > VAR_NAME_MAX) {
        free(name);
        bad_input(c, "name must be 1..%d characters after trimming", VAR_NAME_MAX);
        return NULL;
    }
    return name;
}

static int do_var_get(struct ctx *c, cJSON **out)
{
    const char *th = arg_req(c, "threadId");
    const char *rn = arg_req(c, "runId");
    char *name = var_name(c);
    sqlite3_stmt *s = S(c, SQL_VAR_GET);
    bt(c, s, 1, th);
    bt(c, s, 2, rn);
    bt(c, s, 3, name);
    int r = row(c, s);
    free(name);
    if (r < 0)
        return -1;
    *out = ok_obj();
    if (!r) {
        json_set_null(*out, "value");
        return 0;
    }
    cJSON *o = json_obj();
    json_set(*out, "value", o);
    if (strcmp(col_str(s, 0), "json") == 0) {
        json_set_str(o, "_tag", "Json");
        put(o, "value", cj_json(c, s, 1));
        put(o, "approxChars", cj_num(s, 2));
    } else {
        json_set_str(o, "_tag", "Blob");
        put(o, "blob", cj_json(c, s, 3));
    }
    return 0;
}

/* Upsert; the 200-variable limit applies to new names only. */
static int var_put(struct ctx *c, const char *kind, const cJSON *value, const cJSON *blob)
{
    const char *th = arg_req(c, "threadId");
    const char *rn = arg_req(c, "runId");
    char *name = var_name(c);
    if (c->failed)
        return -1;
    char *text = NULL;
    size_t chars = 0;
    if (value) {
        text = json_canonical(value);
        chars = utf16_len(text);
        if (chars > VAR_JSON_MAX_CHARS) {
            free(text);
            free(name);
            return bad_input(c, "value is %zu characters of JSON; at most %d", chars,
                             VAR_JSON_MAX_CHARS);
        }
    }
    sqlite3_stmt *s = S(c, SQL_VAR_GET);
    bt(c, s, 1, th);
    bt(c, s, 2, rn);
    bt(c, s, 3, name);
    int r = has_row(c, s);
    if (r == 0) {
        s = S(c, SQL_VAR_COUNT);
        bt(c, s, 1, th);
        bt(c, s, 2, rn);
        if (row(c, s) == 1 && sqlite3_column_int64(s, 0) >= VAR_MAX_PER_RUN)
            bad_input(c, "run already has %d variables (the maximum)", VAR_MAX_PER_RUN);
        if (s)
            sqlite3_reset(s);
    }
    s = S(c, SQL_VAR_PUT);
    bt(c, s, 1, th);
    bt(c, s, 2, rn);
    bt(c, s, 3, name);
    bt(c, s, 4, kind);
    bt_own(c, s, 5, text);
    if (value)
        bi(c, s, 6, (int64_t)chars);
    bjson(c, s, 7, blob);
    bi(c, s, 8, c->now);
    free(name);
    if (run(c, s) < 0)
        return -1;
    return 0;
}

static int do_var_put_json(struct ctx *c, cJSON **out)
{
    const cJSON *value = arg_json_req(c, "value");
    if (var_put(c, "json", value, NULL) < 0)
        return -1;
    *out = ok_obj();
    return 0;
}

static int do_var_put_blob(struct ctx *c, cJSON **out)
{
    const cJSON *blob = store_arg(c->args, "blob");
    if (!cJSON_IsObject(blob) || !nonempty(blob, "id"))
        return bad_input(c, "blob must be a BlobRef object {id, hash, size, mime?}");
    if (var_put(c, "blob", NULL, blob) < 0)
        return -1;
    *out = ok_obj();
    return 0;
}

static int do_var_del(struct ctx *c, cJSON **out)
{
    const char *th = arg_req(c, "threadId");
    const char *rn = arg_req(c, "runId");
    char *name = var_name(c);
    sqlite3_stmt *s = S(c, SQL_VAR_DEL);
    bt(c, s, 1, th);
    bt(c, s, 2, rn);
    bt(c, s, 3, name);
    free(name);
    if (run(c, s) < 0)
        return -1;
    *out = ok_obj();
    json_set_bool(*out, "existed", changes(c) > 0);
    return 0;
}

static int var_cmp(const void *a, const void *b)
{
    return collate_cmp(json_str(*(cJSON *const *)a, "name", ""),
                       json_str(*(cJSON *const *)b, "name", ""));
}

static int do_var_list(struct ctx *c, cJSON **out)
{
    const char *th = arg_req(c, "threadId");
    const char *rn = arg_req(c, "runId");
    sqlite3_stmt *s = S(c, SQL_VAR_LIST);
    bt(c, s, 1, th);
    bt(c, s, 2, rn);
    if (c->failed)
        return -1;
    /* At most 200 rows per run: sorting in memory by the reference's
     * localeCompare order is cheaper than another index. */
    cJSON **rows = NULL;
    size_t n = 0, cap = 0;
    int r;
    while ((r = row(c, s)) == 1) {
        cJSON *o = json_obj();
        put(o, "name", cj_text(s, 0));
        bool is_json = strcmp(col_str(s, 1), "json") == 0;
        json_set_str(o, "kind", is_json ? "json" : "blob");
        if (is_json)
            put(o, "approxChars", cj_num(s, 2));
        else
            put(o, "blob", cj_json(c, s, 3));
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            rows = xrealloc(rows, cap * sizeof *rows);
        }
        rows[n++] = o;
    }
    if (n)
        qsort(rows, n, sizeof *rows, var_cmp);
    cJSON *arr = json_arr();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, rows[i]);
    free(rows);
    *out = ok_obj();
    json_set(*out, "vars", arr);
    return r < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* ops runs                                                           */

static const char SQL_RUN_EXISTS[] = "SELECT id FROM dseOpsRuns WHERE runId = ?1";
static const char SQL_RUN_INS[] =
    "INSERT INTO dseOpsRuns (runId, status, startedAtMs, commitSha, baseUrl, actorUserId, "
    "signatureIds, notes, links, createdAtMs, updatedAtMs) "
    "VALUES (?1, 'running', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?2, ?2)";
static const char SQL_RUN_TOUCH[] = "UPDATE dseOpsRuns SET updatedAtMs = ?2 WHERE runId = ?1";
static const char SQL_RUN_FINISH[] =
    "UPDATE dseOpsRuns SET status = ?2, endedAtMs = ?3, summaryJson = ?4, updatedAtMs = ?3 "
    "WHERE runId = ?1";
#define RUN_COLS                                                                             \
    "runId, status, startedAtMs, endedAtMs, commitSha, baseUrl, actorUserId, signatureIds, " \
    "createdAtMs, updatedAtMs, notes, links, summaryJson"
static const char SQL_RUN_LIST[] =
    "SELECT " RUN_COLS " FROM dseOpsRuns ORDER BY createdAtMs DESC, id DESC LIMIT ?1";
static const char SQL_RUN_GET[] = "SELECT " RUN_COLS " FROM dseOpsRuns WHERE runId = ?1";
/* RUN_COLS; the list leaves out the last three. */
static const struct field run_fields[] = {
    {"runId", F_TEXT}, {"status", F_TEXT}, {"startedAtMs", F_NUM}, {"endedAtMs", F_NUM},
    {"commitSha", F_TEXT}, {"baseUrl", F_TEXT}, {"actorUserId", F_TEXT}, {"signatureIds", F_JSON},
    {"createdAtMs", F_NUM}, {"updatedAtMs", F_NUM}, {"notes", F_TEXT}, {"links", F_JSON},
    {"summaryJson", F_JSON}};
#define RUN_LIST_FIELDS 10
static const char SQL_EVT_INS[] =
    "INSERT INTO dseOpsRunEvents (runId, tsMs, level, phase, message, json, createdAtMs) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
#define EVT_COLS "runId, tsMs, level, phase, message, json, createdAtMs, id"
static const char SQL_EVT_LIST[] = "SELECT " EVT_COLS " FROM dseOpsRunEvents WHERE runId = ?1 "
                                   "ORDER BY createdAtMs DESC, id DESC LIMIT ?2";
static const char SQL_EVT_PAGE[] = "SELECT " EVT_COLS " FROM dseOpsRunEvents WHERE runId = ?1 "
                                   "AND id > ?3 ORDER BY id LIMIT ?2";
/* EVT_COLS without the row id (a page item's cursor) */
static const struct field evt_fields[] = {
    {"runId", F_TEXT}, {"tsMs", F_NUM}, {"level", F_TEXT}, {"phase", F_TEXT}, {"message", F_TEXT},
    {"json", F_JSON}, {"createdAtMs", F_NUM}};

/* The reference's size rule for links, summaryJson and event json: more
 * than 50,000 characters of JSON is stored as a truncated_json stub.
 * Returns malloc'd canonical text, or NULL for NULL. */
static char *ops_json(const cJSON *v)
{
    if (!v)
        return NULL;
    char *text = json_canonical(v);
    size_t chars = utf16_len(text);
    if (chars <= OPS_JSON_MAX_CHARS)
        return text;
    cJSON *stub = json_obj();
    json_set_str(stub, "_tag", "truncated_json");
    json_set_num(stub, "approxChars", (double)chars);
    size_t cut = utf16_prefix(text, OPS_JSON_MAX_CHARS);
    text[cut] = 0;
    json_set_str(stub, "preview", text);
    free(text);
    char *out = json_canonical(stub);
    cJSON_Delete(stub);
    return out;
}

/* runId argument, trimmed, 1..200 characters; malloc'd. */
static char *run_id_arg(struct ctx *c)
{
    const char *v = arg_opt(c, "runId");
    if (c->failed)
        return NULL;
    char *id = trimmed(v, SIZE_MAX);
    size_t n = utf16_len(id);
    if (n < 1 || n > 200) {
        free(id);
        bad_input(c, "runId must be 1..200 characters after trimming");
        return NULL;
    }
    return id;
}

static int event_add(struct ctx *c, const char *run_id, int64_t ts, const char *level,
                     const char *phase, const char *message, const cJSON *json)
{
    sqlite3_stmt *s = S(c, SQL_EVT_INS);
    bt(c, s, 1, run_id);
    bi(c, s, 2, ts);
    bt(c, s, 3, level);
    bt(c, s, 4, phase);
    bt(c, s, 5, message);
    bt_own(c, s, 6, ops_json(json));
    bi(c, s, 7, c->now);
    return run(c, s);
}

static int run_exists(struct ctx *c, const char *run_id)
{
    sqlite3_stmt *s = S(c, SQL_RUN_EXISTS);
    bt(c, s, 1, run_id);
    return has_row(c, s);
}

/* 0 when the ops run exists, else -1 with run_not_found (or the error). */
static int run_require(struct ctx *c, const char *run_id)
{
    int ex = run_exists(c, run_id);
    if (ex < 0)
        return -1;
    if (!ex)
        return dse_fail(c->err, "run_not_found", "no ops run %s", run_id);
    return 0;
}

static int do_runs_start(struct ctx *c, cJSON **out)
{
    char *id = run_id_arg(c);
    char *sha = arg_clamped(c, "commitSha", 80);
    char *url = arg_clamped(c, "baseUrl", 300);
    char *notes = arg_clamped(c, "notes", 10000);
    const cJSON *links = store_arg(c->args, "links");
    const cJSON *sigs = store_arg(c->args, "signatureIds");
    cJSON *sig_list = NULL;
    if (!c->failed && sigs) {
        if (!cJSON_IsArray(sigs)) {
            bad_input(c, "signatureIds must be an array of strings");
        } else {
            sig_list = json_arr();
            const cJSON *it;
            cJSON_ArrayForEach(it, sigs)
            {
                if (!cJSON_IsString(it)) {
                    bad_input(c, "signatureIds must be an array of strings");
                    break;
                }
                if (cJSON_GetArraySize(sig_list) >= 50)
                    continue; /* at most 50 ids are kept */
                char *sid = trimmed(it->valuestring, 200);
                if (*sid)
                    cJSON_AddItemToArray(sig_list, cJSON_CreateString(sid));
                free(sid);
            }
        }
    }
    int rc = -1;
    if (c->failed)
        goto done;
    int ex = run_exists(c, id);
    if (ex < 0)
        goto done;
    if (!ex) {
        sqlite3_stmt *s = S(c, SQL_RUN_INS);
        bt(c, s, 1, id);
        bi(c, s, 2, c->now);
        bt(c, s, 3, sha);
        bt(c, s, 4, url);
        bt(c, s, 5, actor(c));
        bjson(c, s, 6, sig_list);
        bt(c, s, 7, notes);
        bt_own(c, s, 8, ops_json(links));
        if (run(c, s) < 0 ||
            event_add(c, id, c->now, "info", "phase1.start", "ops run started", NULL) < 0)
            goto done;
    }
    *out = ok_obj();
    json_set_bool(*out, "existed", ex == 1);
    json_set_str(*out, "runId", id);
    rc = 0;
done:
    cJSON_Delete(sig_list);
    free(id);
    free(sha);
    free(url);
    free(notes);
    return rc;
}

static int do_runs_event(struct ctx *c, cJSON **out)
{
    char *id = run_id_arg(c);
    const char *level = arg_req(c, "level");
    char *phase = arg_clamped(c, "phase", 80);
    const char *msg_in = arg_opt(c, "message");
    const cJSON *json = store_arg(c->args, "json");
    bool has_ts = false;
    double ts_in = arg_num(c, "tsMs", false, &has_ts);
    char *msg = NULL;
    int rc = -1;
    if (c->failed)
        goto done;
    if (strcmp(level, "info") != 0 && strcmp(level, "warn") != 0 && strcmp(level, "error") != 0) {
        bad_input(c, "level must be info, warn or error");
        goto done;
    }
    msg = trimmed(msg_in, 2000);
    if (!msg[0]) {
        bad_input(c, "message must not be empty");
        goto done;
    }
    if (run_require(c, id) < 0)
        goto done;
    int64_t ts = c->now;
    if (has_ts && isfinite(ts_in))
        ts = ts_in < 0 ? 0 : (int64_t)floor(ts_in);
    if (event_add(c, id, ts, level, phase, msg, json) < 0)
        goto done;
    sqlite3_stmt *s = S(c, SQL_RUN_TOUCH);
    bt(c, s, 1, id);
    bi(c, s, 2, c->now);
    if (run(c, s) < 0)
        goto done;
    *out = ok_obj();
    rc = 0;
done:
    free(id);
    free(phase);
    free(msg);
    return rc;
}

static int do_runs_finish(struct ctx *c, cJSON **out)
{
    char *id = run_id_arg(c);
    const char *status = arg_req(c, "status");
    const cJSON *summary = store_arg(c->args, "summaryJson");
    int rc = -1;
    if (c->failed)
        goto done;
    if (strcmp(status, "finished") != 0 && strcmp(status, "failed") != 0) {
        bad_input(c, "status must be finished or failed");
        goto done;
    }
    if (run_require(c, id) < 0)
        goto done;
    sqlite3_stmt *s = S(c, SQL_RUN_FINISH);
    bt(c, s, 1, id);
    bt(c, s, 2, status);
    bi(c, s, 3, c->now);
    bt_own(c, s, 4, ops_json(summary));
    if (run(c, s) < 0)
        goto done;
    char msg[64];
    snprintf(msg, sizeof msg, "ops run finished status=%s", status);
    bool failed = strcmp(status, "failed") == 0;
    if (event_add(c, id, c->now, failed ? "error" : "info", "phase1.finish", msg, summary) < 0)
        goto done;
    *out = ok_obj();
    rc = 0;
done:
    free(id);
    return rc;
}

static int do_runs_list(struct ctx *c, cJSON **out)
{
    sqlite3_stmt *s = S(c, SQL_RUN_LIST);
    bi(c, s, 1, store_arg_limit(c->args, "limit", 50, 200));
    return list_rows(c, s, run_fields, RUN_LIST_FIELDS, "runs", out);
}

static int do_runs_get(struct ctx *c, cJSON **out)
{
    char *id = run_id_arg(c);
    sqlite3_stmt *s = S(c, SQL_RUN_GET);
    bt(c, s, 1, id);
    free(id);
    return get_row(c, s, "run", run_fields, ARRAY_LEN(run_fields), out);
}

/* The cursor is the event's row id. */
static cJSON *event_item(struct ctx *c, sqlite3_stmt *s)
{
    cJSON *o = row_obj(c, s, evt_fields, ARRAY_LEN(evt_fields));
    char cur[32];
    snprintf(cur, sizeof cur, "%lld", (long long)sqlite3_column_int64(s, 7));
    json_set_str(o, "cursor", cur);
    return o;
}

static int do_runs_events(struct ctx *c, cJSON **out)
{
    char *id = run_id_arg(c);
    sqlite3_stmt *s = S(c, SQL_EVT_LIST);
    bt(c, s, 1, id);
    free(id);
    bi(c, s, 2, store_arg_limit(c->args, "limit", 200, 500));
    return list_rows(c, s, evt_fields, ARRAY_LEN(evt_fields), "events", out);
}

static int do_x_events_page(struct ctx *c, cJSON **out)
{
    char *id = run_id_arg(c);
    const char *cursor = arg_opt(c, "cursor");
    int64_t after = 0;
    if (!c->failed && cursor && *cursor && (!util_parse_i64(cursor, &after) || after < 0)) {
        free(id);
        return bad_input(c, "cursor is not a cursor returned by this store");
    }
    int limit = store_arg_limit(c->args, "limit", 200, 1000);
    sqlite3_stmt *s = S(c, SQL_EVT_PAGE);
    bt(c, s, 1, id);
    free(id);
    bi(c, s, 2, limit + 1);
    bi(c, s, 3, after);
    return page_rows(c, s, limit, cursor, event_item, out);
}

/* ------------------------------------------------------------------ */
/* extensions: meta, catalog, stats, LM cache                         */

static const char SQL_SIG_GET[] = "SELECT json FROM dseSignatures WHERE signatureId = ?1";
static const char SQL_SIG_INS[] =
    "INSERT INTO dseSignatures (signatureId, json, createdAtMs, updatedAtMs) "
    "VALUES (?1, ?2, ?3, ?3)";
static const char SQL_SIG_UPD[] =
    "UPDATE dseSignatures SET json = ?2, updatedAtMs = ?3 WHERE signatureId = ?1";
static const char SQL_SIG_LIST[] =
    "SELECT signatureId, updatedAtMs FROM dseSignatures ORDER BY signatureId";
static const struct field sig_list_fields[] = {{"signatureId", F_TEXT}, {"updatedAtMs", F_NUM}};

/* Receipts since T: whole hours from the hourly counts, and the part of
 * the hour before them from the receipts indexes (at most one hour). */
static const char SQL_ST_HOURS[] =
    "SELECT coalesce(sum(receipts), 0), coalesce(sum(errors), 0) FROM dseReceiptHourly "
    "WHERE signatureId = ?1 AND hourMs >= ?2";
static const char SQL_ST_RECEIPTS[] = "SELECT count(*) FROM receipts WHERE signatureId = ?1 "
                                      "AND createdAtMs >= ?2 AND createdAtMs < ?3";
static const char SQL_ST_ERRORS[] =
    "SELECT count(*) FROM receipts WHERE signatureId = ?1 AND resultTag = 'Error' "
    "AND createdAtMs >= ?2 AND createdAtMs < ?3";
static const char SQL_ST_LAST_RC[] = "SELECT max(createdAtMs) FROM receipts WHERE signatureId = ?1";
static const char SQL_ST_LAST_CR[] =
    "SELECT max(createdAtMs) FROM dseCompileReports WHERE signatureId = ?1";
/* Ops runs are few (one per loop run), so a newest-first walk that stops
 * at the first run naming the signature is cheap. */
static const char SQL_ST_LAST_RUN[] =
    "SELECT runId FROM dseOpsRuns WHERE signatureIds IS NOT NULL AND EXISTS "
    "(SELECT 1 FROM json_each(dseOpsRuns.signatureIds) WHERE value = ?1) "
    "ORDER BY createdAtMs DESC, id DESC LIMIT 1";
static const char SQL_ST_EXAMPLES[] =
    "SELECT coalesce(sum(n), 0) FROM dseExampleCounts WHERE signatureId = ?1";
/* A query never writes, so the cache keeps no per-entry hit count (the
 * dseLmCache.hits column stays 0); hits are counted per run by the LM
 * client (lm_stats) and reported in receipts and compile reports. */
static const char SQL_LM_GET[] =
    "SELECT model, response, createdAtMs FROM dseLmCache WHERE key = ?1";
static const struct field lm_fields[] = {
    {"model", F_TEXT}, {"response", F_JSON}, {"createdAtMs", F_NUM}};

static const char SQL_LM_PUT[] =
    "INSERT INTO dseLmCache (key, model, response, createdAtMs, hits) VALUES (?1, ?2, ?3, ?4, 0) "
    "ON CONFLICT (key) DO NOTHING";

static int do_x_changes(struct ctx *c, cJSON **out)
{
    sqlite3_stmt *s = S(c, SQL_COUNTER);
    int r = row(c, s);
    if (r < 0)
        return -1;
    *out = ok_obj();
    json_set_num(*out, "counter", r ? (double)sqlite3_column_int64(s, 0) : 0);
    return 0;
}

static const struct store_ops sqlite_ops; /* below */

static int do_x_info(struct ctx *c, cJSON **out)
{
    cJSON *ch = NULL;
    if (do_x_changes(c, &ch) < 0)
        return -1;
    *out = ok_obj();
    json_set_str(*out, "backend", "sqlite");
    json_set_num(*out, "schemaVersion", store_schema_version());
    json_set_num(*out, "changeCounter", json_num(ch, "counter", 0));
    cJSON_Delete(ch);
    cJSON *ext = json_arr();
    for (int op = 0; op < STORE_OP__COUNT; op++) {
        const struct store_op_info *inf = store_op_info((enum store_op)op);
        if (sqlite_ops.fn[op] && strncmp(inf->path, "dsex/", 5) == 0)
            cJSON_AddItemToArray(ext, cJSON_CreateString(inf->path));
    }
    json_set(*out, "extensions", ext);
    return 0;
}

static int do_x_sig_put(struct ctx *c, cJSON **out)
{
    const cJSON *sig = store_arg(c->args, "signature");
    if (!cJSON_IsObject(sig))
        return bad_input(c, "signature must be an object");
    const char *id = nonempty(sig, "signatureId");
    if (!id)
        return bad_input(c, "signature.signatureId must be a non-empty string");
    char *text = json_canonical(sig);
    sqlite3_stmt *s = S(c, SQL_SIG_GET);
    bt(c, s, 1, id);
    int r = row(c, s);
    bool changed = r == 1 && strcmp(col_str(s, 0), text) != 0;
    if (s)
        sqlite3_reset(s);
    if (r < 0) {
        free(text);
        return -1;
    }
    if (r == 0 || changed) {
        s = S(c, r == 0 ? SQL_SIG_INS : SQL_SIG_UPD);
        bt(c, s, 1, id);
        bt_own(c, s, 2, text);
        bi(c, s, 3, c->now);
        if (run(c, s) < 0)
            return -1;
    } else {
        free(text);
    }
    *out = ok_obj();
    json_set_bool(*out, "existed", r == 1);
    /* changed: an existing entry was modified (a new one is existed:false). */
    json_set_bool(*out, "changed", changed);
    return 0;
}

static int do_x_sig_get(struct ctx *c, cJSON **out)
{
    const char *id = arg_req(c, "signatureId");
    sqlite3_stmt *s = S(c, SQL_SIG_GET);
    bt(c, s, 1, id);
    int r = row(c, s);
    if (r < 0)
        return -1;
    *out = ok_obj();
    put(*out, "signature", r ? cj_json(c, s, 0) : cJSON_CreateNull());
    return 0;
}

static int do_x_sig_list(struct ctx *c, cJSON **out)
{
    sqlite3_stmt *s = S(c, SQL_SIG_LIST);
    return list_rows(c, s, sig_list_fields, ARRAY_LEN(sig_list_fields), "signatures", out);
}

/* One-value query helper: the first column of the first row as JSON. */
static cJSON *scalar(struct ctx *c, const char *sql, const char *sig, bool has_since,
                     int64_t since)
{
    sqlite3_stmt *s = S(c, sql);
    bt(c, s, 1, sig);
    if (has_since)
        bi(c, s, 2, since);
    int r = row(c, s);
    cJSON *v = r == 1 ? (sqlite3_column_type(s, 0) == SQLITE_TEXT ? cj_text(s, 0) : cj_num(s, 0))
                      : cJSON_CreateNull();
    if (s)
        sqlite3_reset(s);
    return v;
}

static int do_x_sig_stats(struct ctx *c, cJSON **out)
{
    const char *sig = arg_req(c, "signatureId");
    double since_in = arg_num(c, "sinceMs", false, NULL);
    if (c->failed)
        return -1;
    double since_d = isfinite(since_in) ? floor(since_in) : 0;
    since_d = clampd(since_d, -9e15, 9e15);
    int64_t since = (int64_t)since_d;
    int64_t h0 = hour_of(since) == since ? since : hour_of(since) + HOUR_MS;
    int64_t n[2] = {0, 0};
    sqlite3_stmt *s = S(c, SQL_ST_HOURS);
    bt(c, s, 1, sig);
    bi(c, s, 2, h0);
    if (row(c, s) == 1) {
        n[0] = sqlite3_column_int64(s, 0);
        n[1] = sqlite3_column_int64(s, 1);
    }
    if (s)
        sqlite3_reset(s);
    for (int k = 0; k < 2 && since < h0; k++) {
        s = S(c, k ? SQL_ST_ERRORS : SQL_ST_RECEIPTS);
        bt(c, s, 1, sig);
        bi(c, s, 2, since);
        bi(c, s, 3, h0);
        if (row(c, s) == 1)
            n[k] += sqlite3_column_int64(s, 0);
        if (s)
            sqlite3_reset(s);
    }
    cJSON *o = ok_obj();
    json_set_num(o, "receipts", (double)n[0]);
    json_set_num(o, "errors", (double)n[1]);
    put(o, "lastReceiptAtMs", scalar(c, SQL_ST_LAST_RC, sig, false, 0));
    put(o, "lastCompileAtMs", scalar(c, SQL_ST_LAST_CR, sig, false, 0));
    put(o, "lastRunId", scalar(c, SQL_ST_LAST_RUN, sig, false, 0));
    put(o, "examples", scalar(c, SQL_ST_EXAMPLES, sig, false, 0));
    *out = o;
    return c->failed ? -1 : 0;
}

static int do_x_lm_get(struct ctx *c, cJSON **out)
{
    const char *key = arg_req(c, "key");
    sqlite3_stmt *s = S(c, SQL_LM_GET);
    bt(c, s, 1, key);
    int r = row(c, s);
    if (r < 0)
        return -1;
    if (!r) {
        *out = ok_obj();
        json_set_null(*out, "entry");
        return 0;
    }
    cJSON *e = row_obj(c, s, lm_fields, ARRAY_LEN(lm_fields));
    sqlite3_reset(s);
    *out = ok_obj();
    json_set(*out, "entry", e);
    return c->failed ? -1 : 0;
}

static int do_x_lm_put(struct ctx *c, cJSON **out)
{
    const char *key = arg_req(c, "key");
    const char *model = arg_opt(c, "model");
    const cJSON *resp = arg_json_req(c, "response");
    sqlite3_stmt *s = S(c, SQL_LM_PUT);
    bt(c, s, 1, key);
    bt(c, s, 2, model ? model : "");
    bjson(c, s, 3, resp);
    bi(c, s, 4, c->now);
    return insert_once(c, s, out);
}

/* ------------------------------------------------------------------ */
/* the operations table                                               */

/* Which transaction each operation runs in.  Operator actions commit with
 * synchronous=FULL; high-rate writes (receipts, LM cache, var space,
 * blobs, ops events) with NORMAL, which in WAL mode is consistent after a
 * crash but may lose the last commits on power loss. */
#define SQLITE_OPS(X)                    \
    X(artifacts_put, TX_FULL)            \
    X(artifacts_get, TX_READ)            \
    X(artifacts_list, TX_READ)           \
    X(active_get, TX_READ)               \
    X(active_set, TX_FULL)               \
    X(active_clear, TX_FULL)             \
    X(active_rollback, TX_FULL)          \
    X(active_history, TX_READ)           \
    X(canary_get, TX_READ)               \
    X(canary_start, TX_FULL)             \
    X(canary_stop, TX_FULL)              \
    X(canary_history, TX_READ)           \
    X(examples_put, TX_FULL)             \
    X(examples_get, TX_READ)             \
    X(examples_list, TX_READ)            \
    X(compile_put, TX_FULL)              \
    X(compile_get, TX_READ)              \
    X(compile_list, TX_READ)             \
    X(eval_put, TX_FULL)                 \
    X(eval_get, TX_READ)                 \
    X(eval_list, TX_READ)                \
    X(receipts_record, TX_NORMAL)        \
    X(receipts_get, TX_READ)             \
    X(receipts_get_admin, TX_READ)       \
    X(receipts_list_admin, TX_READ)      \
    X(blobs_put, TX_NORMAL)              \
    X(blobs_get, TX_READ)                \
    X(blobs_get_admin, TX_READ)          \
    X(var_get, TX_READ)                  \
    X(var_put_json, TX_NORMAL)           \
    X(var_put_blob, TX_NORMAL)           \
    X(var_del, TX_NORMAL)                \
    X(var_list, TX_READ)                 \
    X(runs_start, TX_FULL)               \
    X(runs_event, TX_NORMAL)             \
    X(runs_finish, TX_FULL)              \
    X(runs_list, TX_READ)                \
    X(runs_get, TX_READ)                 \
    X(runs_events, TX_READ)              \
    X(x_info, TX_READ)                   \
    X(x_changes, TX_READ)                \
    X(x_sig_put, TX_FULL)                \
    X(x_sig_get, TX_READ)                \
    X(x_sig_list, TX_READ)               \
    X(x_sig_stats, TX_READ)              \
    X(x_receipts_page, TX_READ)          \
    X(x_receipts_batch, TX_NORMAL)       \
    X(x_examples_page, TX_READ)          \
    X(x_examples_import, TX_FULL)        \
    X(x_examples_delete, TX_FULL)        \
    X(x_examples_counts, TX_READ)        \
    X(x_events_page, TX_READ)            \
    X(x_lm_get, TX_READ)                 \
    X(x_lm_put, TX_NORMAL)

#define SQ_WRAP(id, mode)                                                                  \
    static int op_##id(struct store *st, const cJSON *a, cJSON **o, struct dse_err *e)     \
    {                                                                                      \
        return run_op(st, a, o, e, do_##id, mode, STORE_OP_##id);                          \
    }
SQLITE_OPS(SQ_WRAP)
#undef SQ_WRAP

static uint64_t sq_poll(struct store *st);
static void sq_close(struct store *st);

static const struct store_ops sqlite_ops = {
    .backend = "sqlite",
    .fn = {
#define SQ_FN(id, mode) [STORE_OP_##id] = op_##id,
        SQLITE_OPS(SQ_FN)
#undef SQ_FN
    },
    .poll_changes = sq_poll,
    .close = sq_close,
};

static uint64_t sq_poll(struct store *st)
{
    struct sq *q = st->impl;
    struct dse_err err;
    struct ctx c = {.st = st, .q = q, .err = &err, .what = "poll_changes"};
    sqlite3_stmt *s = S(&c, SQL_DATA_VERSION);
    if (row(&c, s) != 1)
        return 0;
    uint64_t v = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    /* Both terms only grow, so the sum moves whenever either does. */
    return v + q->own_commits + 1;
}

static void sq_free(struct sq *q)
{
    if (!q)
        return;
    if (q->db) {
        sqlite3_stmt *s;
        while ((s = sqlite3_next_stmt(q->db, NULL)) != NULL)
            sqlite3_finalize(s);
        sqlite3_close(q->db);
    }
    sbuf_free(&q->json);
    free(q);
}

static void sq_close(struct store *st)
{
    sq_free(st->impl);
    st->impl = NULL;
}

/* ------------------------------------------------------------------ */
/* opening and migrations                                             */

struct migration {
    int version;
    const char *path;
    const char *sql;
};

/* Embedded db/migrations/NNN_name.sql, ordered by version. */
static int migrations(struct migration *out, int cap)
{
    int n = 0;
    static const char prefix[] = "db/migrations/";
    for (const struct embedded_file *f = embedded_files; f->path; f++) {
        if (strncmp(f->path, prefix, sizeof prefix - 1) != 0)
            continue;
        const char *base = f->path + sizeof prefix - 1;
        size_t blen = strlen(base);
        if (blen < 5 || strcmp(base + blen - 4, ".sql") != 0)
            continue;
        int v = atoi(base);
        if (v <= 0 || n >= cap)
            continue;
        int k = n++;
        while (k > 0 && out[k - 1].version > v) {
            out[k] = out[k - 1];
            k--;
        }
        out[k] = (struct migration){.version = v, .path = f->path, .sql = f->data};
    }
    return n;
}

int store_schema_version(void)
{
    struct migration m[64];
    int n = migrations(m, 64);
    return n ? m[n - 1].version : 0;
}

static bool is_not_db(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT;
}

/* Read user_version and whether our meta table exists, through a
 * read-only connection so an unusable file is never touched.
 * Returns 0, or -1 with err set. */
/* Open for reading.  A WAL database needs its -shm index file, which a
 * reader creates when absent; where the directory is not writable (a store
 * owned by another user, a read-only mount) that fails, and the file is
 * opened as an immutable snapshot instead: SQLite then takes no locks and
 * reads no WAL, so changes committed after opening are not seen.  *snapshot
 * says which happened. */
static int open_readonly(const char *path, sqlite3 **out, bool *snapshot)
{
    *snapshot = false;
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) {
        /* Another process may be recovering the WAL after a crash: wait
         * for it like any other lock instead of failing the open. */
        sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
        rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
        int prim = rc & 0xff;
        if (prim != SQLITE_READONLY && prim != SQLITE_CANTOPEN) {
            *out = db;
            return rc == SQLITE_OK ? SQLITE_OK : rc;
        }
    }
    sqlite3_close(db);
    db = NULL;
    struct sbuf uri = {0};
    sbuf_adds(&uri, "file:");
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/-._~", *p)) {
            sbuf_addc(&uri, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            sbuf_add(&uri, e, 3);
        }
    }
    sbuf_adds(&uri, "?mode=ro&immutable=1");
    rc = sqlite3_open_v2(uri.s, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    sbuf_free(&uri);
    *out = db;
    *snapshot = rc == SQLITE_OK;
    return rc;
}

static int probe(const char *path, int *version, bool *has_meta, int *ntables,
                 struct dse_err *err)
{
    sqlite3 *db = NULL;
    bool snapshot;
    int rc = open_readonly(path, &db, &snapshot);
    if (rc == SQLITE_OK)
        sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    sqlite3_stmt *s = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "SELECT (SELECT user_version FROM pragma_user_version), "
                                "(SELECT count(*) FROM sqlite_master WHERE type = 'table'), "
                                "(SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                "AND name = 'dseMeta')",
                                -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *version = sqlite3_column_int(s, 0);
            *ntables = sqlite3_column_int(s, 1);
            *has_meta = sqlite3_column_int(s, 2) > 0;
            rc = SQLITE_OK;
        }
    }
    char msg[256];
    snprintf(msg, sizeof msg, "%s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_finalize(s);
    sqlite3_close(db);
    if (rc == SQLITE_OK)
        return 0;
    if (is_not_db(rc))
        return dse_fail(err, "not_a_database", "%s is not a dse store: %s", path, msg);
    return dse_fail(err, "storage_error", "cannot read %s: %s", path, msg);
}

static int check_version(const char *path, int version, bool has_meta, int ntables,
                         struct dse_err *err)
{
    int mine = store_schema_version();
    if (version > mine)
        return dse_fail(err, "schema_too_new",
                        "%s has schema version %d but this dse build knows only up to %d; "
                        "use a newer dse (the file was not modified)",
                        path, version, mine);
    if (version > 0 && !has_meta)
        return dse_fail(err, "not_a_database",
                        "%s is an SQLite database of another application (user_version %d, "
                        "no dse tables)",
                        path, version);
    if (version == 0 && ntables > 0)
        return dse_fail(err, "not_a_database",
                        "%s is an SQLite database of another application (it has tables but "
                        "no dse schema version)",
                        path);
    return 0;
}

static int exec_sql(sqlite3 *db, const char *sql, const char *path, const char *doing,
                    struct dse_err *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        return 0;
    dse_fail(err, is_not_db(rc) ? "not_a_database" : "storage_error", "%s: %s while %s: %s", path,
             sqlite3_errstr(rc), doing, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

static int read_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *version = sqlite3_column_int(s, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(s);
    return rc;
}

/* Forward migrations in one IMMEDIATE transaction; the version is read
 * again under the write lock in case another process migrated first. */
static int migrate(struct sq *q, struct dse_err *err)
{
    const char *path = q->path;
    if (exec_sql(q->db, "PRAGMA synchronous=FULL", path, "setting synchronous", err) < 0)
        return -1;
    q->sync_full = 1;
    if (exec_sql(q->db, "BEGIN IMMEDIATE", path, "starting the migration transaction", err) < 0)
        return -1;
    int version = 0;
    int rc = read_version(q->db, &version);
    if (rc != SQLITE_OK) {
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        return dse_fail(err, is_not_db(rc) ? "not_a_database" : "storage_error",
                        "%s: %s while reading the schema version", path, sqlite3_errmsg(q->db));
    }
    int mine = store_schema_version();
    if (version > mine) {
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        return check_version(path, version, true, 1, err);
    }
    struct migration m[64];
    int n = migrations(m, 64);
    for (int i = 0; i < n; i++) {
        if (m[i].version <= version)
            continue;
        char doing[200];
        snprintf(doing, sizeof doing, "applying %s", m[i].path);
        if (exec_sql(q->db, m[i].sql, path, doing, err) < 0) {
            sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        /* PRAGMA takes no bound parameters; the value is our own integer. */
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", m[i].version);
        if (exec_sql(q->db, pragma, path, "setting user_version", err) < 0) {
            sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    if (exec_sql(q->db, "COMMIT", path, "committing the migration", err) < 0) {
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* The collation name the stored example sort keys were made with; NULL
 * (and 0) when none is recorded.  Caller frees. */
static char *stored_collation(sqlite3 *db)
{
    sqlite3_stmt *s = NULL;
    char *v = NULL;
    if (sqlite3_prepare_v2(db, "SELECT collation FROM dseMeta WHERE id = 1", -1, &s, NULL) ==
            SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_TEXT)
        v = xstrdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
}

/* Rebuild every dseExamples.sortKey when they were made by another collator
 * than this build's (003_icu_collation.sql): one IMMEDIATE transaction,
 * walking the rows by id in batches.  Cheap when nothing is to do: one read
 * without the write lock. */
static int rekey_examples(struct sq *q, struct dse_err *err)
{
    const char *want = collate_version(), *path = q->path;
    char *have = stored_collation(q->db);
    bool same = have && strcmp(have, want) == 0;
    free(have);
    if (same)
        return 0;
    if (exec_sql(q->db, "BEGIN IMMEDIATE", path, "starting the sort key rebuild", err) < 0)
        return -1;
    have = stored_collation(q->db); /* someone may have rebuilt meanwhile */
    same = have && strcmp(have, want) == 0;
    free(have);
    sqlite3_stmt *sel = NULL, *upd = NULL, *meta = NULL;
    int rc = SQLITE_OK;
    if (!same) {
        rc = sqlite3_prepare_v2(q->db,
                                "SELECT id, exampleId FROM dseExamples WHERE id > ?1 "
                                "ORDER BY id LIMIT 1000",
                                -1, &sel, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_prepare_v2(q->db, "UPDATE dseExamples SET sortKey = ?2 WHERE id = ?1",
                                    -1, &upd, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_prepare_v2(q->db,
                                    "UPDATE dseMeta SET collation = ?1, "
                                    "changeCounter = changeCounter + 1 WHERE id = 1",
                                    -1, &meta, NULL);
    }
    int64_t last = 0;
    struct sbuf key = {0};
    for (bool more = !same; rc == SQLITE_OK && more;) {
        /* read a batch first, then update it: never write under a live scan */
        int64_t ids[1000];
        char *names[1000];
        int n = 0;
        sqlite3_reset(sel);
        sqlite3_bind_int64(sel, 1, last);
        while (n < 1000 && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
            ids[n] = sqlite3_column_int64(sel, 0);
            names[n++] = xstrdup((const char *)sqlite3_column_text(sel, 1));
        }
        if (rc == SQLITE_DONE || rc == SQLITE_ROW)
            rc = SQLITE_OK;
        sqlite3_reset(sel);
        for (int i = 0; i < n; i++) {
            if (rc == SQLITE_OK) {
                sbuf_reset(&key);
                collate_sort_key(names[i], &key);
                sqlite3_reset(upd);
                sqlite3_bind_int64(upd, 1, ids[i]);
                sqlite3_bind_blob(upd, 2, key.s, (int)key.len, SQLITE_TRANSIENT);
                rc = sqlite3_step(upd);
                rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            }
            free(names[i]);
        }
        more = n == 1000;
        if (n)
            last = ids[n - 1];
    }
    sbuf_free(&key);
    if (!same && rc == SQLITE_OK) {
        sqlite3_bind_text(meta, 1, want, -1, SQLITE_STATIC);
        rc = sqlite3_step(meta);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    sqlite3_finalize(meta);
    if (rc != SQLITE_OK) {
        dse_fail(err, "storage_error", "%s: %s while rebuilding the example sort keys", path,
                 sqlite3_errmsg(q->db));
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    if (exec_sql(q->db, "COMMIT", path, "committing the sort key rebuild", err) < 0) {
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* Waiting for the write lock.  SQLite's default handler sleeps 1, 2, 5, 10,
 * ... 100 ms between tries, so a writer that commits often wins every race
 * and an operator action behind receipt writers waited seconds (measured p99
 * 1.2-1.9 s).  Polling every 200 us gives the lock to whoever asks soonest
 * after a commit, up to the same 5 s limit. */
static int busy_wait(void *arg, int count)
{
    struct sq *q = arg;
    int64_t now = util_mono_ms();
    if (count == 0)
        q->busy_since = now;
    if (now - q->busy_since >= BUSY_TIMEOUT_MS)
        return 0;
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
    return 1;
}

struct store *store_open_sqlite(const char *path, unsigned flags, struct dse_err *err)
{
    if (!path || !*path)
        return dse_fail(err, "invalid_input", "no store path given"), NULL;
    bool mem = strcmp(path, ":memory:") == 0;
    bool ro = (flags & STORE_READ_ONLY) != 0;
    if (strlen(path) >= sizeof(((struct sq *)0)->path))
        return dse_fail(err, "invalid_input", "store path is too long"), NULL;
    if (!mem) {
        struct stat sb;
        if (stat(path, &sb) != 0) {
            if (errno != ENOENT)
                return dse_fail(err, "storage_error", "cannot access %s: %s", path,
                                strerror(errno)),
                       NULL;
            if (flags & (STORE_NO_CREATE | STORE_READ_ONLY))
                return dse_fail(err, "store_not_found",
                                "no dse store at %s (run `dse init` to create one)", path),
                       NULL;
            if (util_mkdirs_for(path) < 0)
                return dse_fail(err, "storage_error", "cannot create the directory for %s: %s",
                                path, strerror(errno)),
                       NULL;
        } else {
            if (S_ISDIR(sb.st_mode))
                return dse_fail(err, "not_a_database", "%s is a directory, not a dse store",
                                path),
                       NULL;
            int version = 0, ntables = 0;
            bool has_meta = false;
            if (probe(path, &version, &has_meta, &ntables, err) < 0 ||
                check_version(path, version, has_meta, ntables, err) < 0)
                return NULL;
            /* Writing needs the file and its directory (for -wal/-shm). */
            if (!ro) {
                char *dir = xstrdup(path);
                char *slash = strrchr(dir, '/');
                if (slash)
                    slash[slash == dir ? 1 : 0] = 0;
                bool writable = access(path, W_OK) == 0 &&
                                access(slash ? dir : ".", W_OK | X_OK) == 0;
                free(dir);
                if (!writable)
                    return dse_fail(err, "read_only_store",
                                    "%s (or its directory) is not writable by this user; open it "
                                    "with --read-only to look at it",
                                    path),
                           NULL;
            }
        }
    }

    struct sq *q = xcalloc(1, sizeof *q);
    snprintf(q->path, sizeof q->path, "%s", path);
    q->sync_full = -1;
    bool snapshot = false;
    int rc = ro && !mem ? open_readonly(path, &q->db, &snapshot)
                        : sqlite3_open_v2(path, &q->db,
                                          ro ? SQLITE_OPEN_READONLY
                                             : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                          NULL);
    if (rc != SQLITE_OK) {
        dse_fail(err, "storage_error", "cannot open %s: %s", path,
                 q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
        sq_free(q);
        return NULL;
    }
    sqlite3_extended_result_codes(q->db, 1);
    sqlite3_busy_handler(q->db, busy_wait, q);
    /* 8 MiB of page cache (default 2): receipt batches touch index pages
     * all over the file; measured +10-15% at 300k receipts.  Kept well
     * under the console's 32 MiB resident budget. */
    sqlite3_exec(q->db, "PRAGMA cache_size=-8192", NULL, NULL, NULL);
    /* A 10,000-receipt batch grows the WAL to tens of MB; give the space
     * back after checkpoints instead of keeping the high-water mark. */
    sqlite3_exec(q->db, "PRAGMA journal_size_limit=67108864", NULL, NULL, NULL);

    if (ro) {
        int version = 0;
        rc = read_version(q->db, &version);
        if (rc != SQLITE_OK) {
            dse_fail(err, is_not_db(rc) ? "not_a_database" : "storage_error", "%s: %s", path,
                     sqlite3_errmsg(q->db));
            sq_free(q);
            return NULL;
        }
        if (version < store_schema_version()) {
            dse_fail(err, "needs_migration",
                     "%s has schema version %d and this dse needs %d; open it once without "
                     "--read-only to migrate",
                     path, version, store_schema_version());
            sq_free(q);
            return NULL;
        }
    } else {
        /* A new file gets 16 KiB pages: a receipt is ~2 KB of canonical
         * JSON, and larger pages measured ~1.4x faster receipt batches
         * (fewer page splits and WAL frames).  page_size can only change
         * before the first table exists, so older stores keep theirs. */
        sqlite3_stmt *pc = NULL;
        bool empty = sqlite3_prepare_v2(q->db, "PRAGMA page_count", -1, &pc, NULL) == SQLITE_OK &&
                     sqlite3_step(pc) == SQLITE_ROW && sqlite3_column_int64(pc, 0) == 0;
        sqlite3_finalize(pc); /* must not hold a read while the page size changes */
        if (empty)
            sqlite3_exec(q->db, "PRAGMA page_size=16384", NULL, NULL, NULL);
        /* Checkpoint every 2000 pages (32 MiB at 16 KiB) rather than 1000:
         * half the checkpoints for batch writers, still under the 64 MiB
         * journal_size_limit. */
        sqlite3_exec(q->db, "PRAGMA wal_autocheckpoint=2000", NULL, NULL, NULL);
        /* journal_mode=WAL persists in the file; it is set only after the
         * version check above, so a refused file is never rewritten. */
        if (exec_sql(q->db, "PRAGMA journal_mode=WAL", path, "enabling WAL", err) < 0 ||
            migrate(q, err) < 0 || rekey_examples(q, err) < 0) {
            sq_free(q);
            return NULL;
        }
    }

    struct store *st = xcalloc(1, sizeof *st);
    char desc[512];
    snprintf(desc, sizeof desc, "sqlite:%s%s", path,
             snapshot ? " (read-only snapshot: no access to write the WAL index)" : "");
    store_base_init(st, &sqlite_ops, q, desc, flags);
    return st;
}
