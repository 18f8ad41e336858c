/* bench_sqlite_floor: what SQLite itself reaches on this machine for the
 * rows bench_receipts records, with none of dse's code in the timed loop.
 *
 *   bench_sqlite_floor DIR [--rows N]
 *
 * It answers "is the 50,000 receipts/s target a dse problem or a storage
 * ceiling here?".  The receipts are the same bench_receipt() documents,
 * serialised to canonical JSON before timing.  Each variant inserts N rows
 * in 10,000-row transactions with the store's own settings (16 KiB pages,
 * WAL, synchronous=NORMAL, 8 MiB cache, 2000-page checkpoints):
 *   schema   the real receipts table, created by dse's migrations, with all
 *            of its indexes (what x_receipts_batch writes to);
 *   unique   the same columns with only the receiptId UNIQUE index;
 *   bare     an INTEGER PRIMARY KEY and the JSON text, no index at all;
 *   compact  the layout planned to close the gap: the same indexes over
 *            integer keys (signature, compiled_id and strategy interned to
 *            small integers) and uniqueness checked through a non-unique
 *            index on a 64-bit hash of receiptId (look up, then insert).
 * The rows are the figures, not targets: they carry no ratio. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "store.h"

#define SIG "@openagents/autopilot/blueprint/SelectTool.v1"
#define BATCH 10000

struct row {
    char rid[37], thread[32], cid[72];
    char *json;
    int64_t ts, rkey;
    const char *tag, *err;
    double dur;
};

static void die_sql(sqlite3 *db, const char *what)
{
    fprintf(stderr, "bench_sqlite_floor: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
    exit(1);
}

static void exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        die_sql(db, sql);
}

static const char INS_FULL[] =
    "INSERT INTO receipts (threadId, runId, kind, json, receiptId, signatureId, compiled_id, "
    "createdAtMs, strategyId, resultTag, errorName, durationMs) VALUES (?1, ?2, 'dse.predict', "
    "?3, ?4, ?5, ?6, ?7, 'direct.v1', ?8, ?9, ?10) ON CONFLICT (receiptId) DO NOTHING";

static const char INS_COMPACT[] =
    "INSERT INTO r (threadId, runId, kind, json, receiptId, receiptKey, sigK, cidK, "
    "createdAtMs, stratK, resultTag, errorName, durationMs) VALUES (?1, ?2, 'dse.predict', "
    "?3, ?2, ?4, 1, ?5, ?6, 1, ?7, ?8, ?9)";
static const char SEL_COMPACT[] = "SELECT 1 FROM r WHERE receiptKey = ?1 AND receiptId = ?2";

enum variant { V_SCHEMA, V_BARE, V_COMPACT };

/* FNV-1a, 64 bits, folded to a non-negative SQLite integer. */
static int64_t rid_key(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (int64_t)(h >> 1);
}

/* Insert every row; returns rows per second of the timed part. */
static double insert_all(sqlite3 *db, const char *ins, const struct row *v, long n,
                         enum variant how)
{
    sqlite3_stmt *s = NULL, *sel = NULL;
    if (sqlite3_prepare_v2(db, ins, -1, &s, NULL) != SQLITE_OK ||
        (how == V_COMPACT && sqlite3_prepare_v2(db, SEL_COMPACT, -1, &sel, NULL) != SQLITE_OK))
        die_sql(db, "prepare");
    double t = bench_now_s();
    for (long i = 0; i < n; i++) {
        if (i % BATCH == 0)
            exec(db, "BEGIN");
        const struct row *r = &v[i];
        if (how == V_COMPACT) {
            sqlite3_bind_int64(sel, 1, r->rkey);
            sqlite3_bind_text(sel, 2, r->rid, -1, SQLITE_STATIC);
            int found = sqlite3_step(sel);
            sqlite3_reset(sel);
            if (found != SQLITE_DONE)
                die_sql(db, "receiptId lookup found a row or failed");
            sqlite3_bind_text(s, 1, r->thread, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, r->rid, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 3, r->json, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 4, r->rkey);
            sqlite3_bind_int(s, 5, 1 + (int)(i % 2));
            sqlite3_bind_int64(s, 6, r->ts);
            sqlite3_bind_text(s, 7, r->tag, -1, SQLITE_STATIC);
            if (r->err)
                sqlite3_bind_text(s, 8, r->err, -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(s, 8);
            sqlite3_bind_double(s, 9, r->dur);
        } else if (how == V_BARE) {
            sqlite3_bind_text(s, 1, r->json, -1, SQLITE_STATIC);
        } else {
            sqlite3_bind_text(s, 1, r->thread, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, r->rid, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 3, r->json, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 4, r->rid, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 5, SIG, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 6, r->cid, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 7, r->ts);
            sqlite3_bind_text(s, 8, r->tag, -1, SQLITE_STATIC);
            if (r->err)
                sqlite3_bind_text(s, 9, r->err, -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(s, 9);
            sqlite3_bind_double(s, 10, r->dur);
        }
        if (sqlite3_step(s) != SQLITE_DONE)
            die_sql(db, "insert");
        sqlite3_reset(s);
        if (i % BATCH == BATCH - 1 || i == n - 1)
            exec(db, "COMMIT");
    }
    t = bench_now_s() - t;
    sqlite3_finalize(s);
    sqlite3_finalize(sel);
    return (double)n / t;
}

static sqlite3 *open_raw(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die_sql(db, path);
    exec(db, "PRAGMA page_size=16384");
    exec(db, "PRAGMA journal_mode=WAL");
    exec(db, "PRAGMA synchronous=NORMAL");
    exec(db, "PRAGMA cache_size=-8192");
    exec(db, "PRAGMA wal_autocheckpoint=2000");
    return db;
}

/* A new store at path with dse's schema (its migrations), reopened raw. */
static sqlite3 *open_schema(const char *path)
{
    struct dse_err err = {0};
    struct store *st = store_open_sqlite(path, 0, &err);
    if (!st) {
        fprintf(stderr, "bench_sqlite_floor: %s: %s\n", err.code, err.msg);
        exit(1);
    }
    store_close(st);
    return open_raw(path);
}

static void remove_db(const char *path)
{
    char p[4200];
    remove(path);
    snprintf(p, sizeof p, "%s-wal", path);
    remove(p);
    snprintf(p, sizeof p, "%s-shm", path);
    remove(p);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strlen(argv[1]) > 4000) {
        fprintf(stderr, "usage: bench_sqlite_floor DIR [--rows N]\n");
        return 2;
    }
    long n = 200000;
    if (argc >= 4 && strcmp(argv[2], "--rows") == 0)
        n = atol(argv[3]);
    if (n <= 0) {
        fprintf(stderr, "bench_sqlite_floor: --rows must be a positive number\n");
        return 2;
    }
    char path[4100];

    /* The rows, as bench_receipts makes them: alternating compiled_ids,
     * 5% errors, 5,000 thread ids. */
    struct bench_rng rng = {42};
    struct row *v = xcalloc((size_t)n, sizeof *v);
    int64_t now = util_now_ms();
    double bytes = 0;
    for (long i = 0; i < n; i++) {
        struct row *r = &v[i];
        bench_rng_uuid(&rng, r->rid);
        snprintf(r->thread, sizeof r->thread, "t-%u", bench_rng_below(&rng, 5000));
        snprintf(r->cid, sizeof r->cid, "sha256:%064d", (int)(i % 2));
        r->err = bench_rng_below(&rng, 100) < 5 ? "OutputDecodeError" : NULL;
        r->tag = r->err ? "Error" : "Ok";
        r->ts = now + i;
        r->rkey = rid_key(r->rid);
        r->dur = 50 + (double)(i % 400);
        cJSON *rc = bench_receipt(r->rid, SIG, r->cid, r->ts, (int)r->dur, r->err, NULL, 0);
        r->json = json_canonical(rc);
        bytes += (double)strlen(r->json);
        cJSON_Delete(rc);
    }
    printf("rows %ld, canonical receipt JSON %.0f bytes on average\n", n, bytes / (double)n);

    /* schema: dse's own migrations make the table and its indexes. */
    snprintf(path, sizeof path, "%s/floor-schema.db", argv[1]);
    remove_db(path);
    sqlite3 *db = open_schema(path);
    double full = insert_all(db, INS_FULL, v, n, V_SCHEMA);
    sqlite3_close(db);
    remove_db(path);

    /* unique: the same table with every secondary index dropped except the
     * receiptId UNIQUE constraint that makes retries idempotent. */
    db = open_schema(path);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT name FROM sqlite_master WHERE type = 'index' AND "
                           "tbl_name = 'receipts' AND sql IS NOT NULL",
                           -1, &q, NULL) != SQLITE_OK)
        die_sql(db, "listing indexes");
    struct sbuf drop = {0};
    int dropped = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        sbuf_printf(&drop, "DROP INDEX \"%s\";", (const char *)sqlite3_column_text(q, 0));
        dropped++;
    }
    sqlite3_finalize(q);
    if (drop.s)
        exec(db, drop.s);
    sbuf_free(&drop);
    double uniq = insert_all(db, INS_FULL, v, n, V_SCHEMA);
    sqlite3_close(db);
    remove_db(path);

    /* bare: nothing but the row. */
    snprintf(path, sizeof path, "%s/floor-bare.db", argv[1]);
    remove_db(path);
    db = open_raw(path);
    exec(db, "CREATE TABLE r (id INTEGER PRIMARY KEY, json TEXT NOT NULL)");
    double bare = insert_all(db, "INSERT INTO r (json) VALUES (?1)", v, n, V_BARE);
    sqlite3_close(db);
    remove_db(path);

    /* compact: the planned layout. */
    db = open_raw(path);
    exec(db, "CREATE TABLE r (id INTEGER PRIMARY KEY, threadId TEXT NOT NULL, runId TEXT NOT "
             "NULL, kind TEXT NOT NULL, json TEXT NOT NULL, receiptId TEXT, receiptKey INTEGER, "
             "sigK INTEGER, cidK INTEGER, createdAtMs INTEGER NOT NULL, stratK INTEGER, "
             "resultTag TEXT, errorName TEXT, durationMs REAL);"
             "CREATE INDEX r_key ON r (receiptKey);"
             "CREATE INDEX r_t ON r (createdAtMs);"
             "CREATE INDEX r_s ON r (sigK, createdAtMs);"
             "CREATE INDEX r_st ON r (sigK, resultTag, createdAtMs);"
             "CREATE INDEX r_sc ON r (sigK, cidK, createdAtMs);"
             "CREATE INDEX r_ss ON r (sigK, stratK, createdAtMs);"
             "CREATE INDEX r_th ON r (threadId, createdAtMs);"
             "CREATE INDEX r_sct ON r (sigK, cidK, resultTag, createdAtMs)");
    double compact = insert_all(db, INS_COMPACT, v, n, V_COMPACT);
    sqlite3_close(db);
    remove_db(path);

    char note[160];
    printf("ROW|plain SQLite, same rows, receipts table with all its indexes (no dse code)|"
           "(none)|%.0f /s|-|the ceiling for the local batched figure; 10,000 rows/txn\n",
           full);
    snprintf(note, sizeof note, "the %d secondary indexes dropped", dropped);
    printf("ROW|plain SQLite, same rows, only the receiptId UNIQUE index|(none)|%.0f /s|-|%s\n",
           uniq, note);
    printf("ROW|plain SQLite, same rows, bare table (rowid + JSON)|(none)|%.0f /s|-|"
           "no index at all\n",
           bare);
    printf("ROW|plain SQLite, same rows, planned compact layout (integer keys, hashed receiptId)|"
           "(none)|%.0f /s|-|same 8 indexes over integer keys; uniqueness by lookup + insert\n",
           compact);
    for (long i = 0; i < n; i++)
        free(v[i].json);
    free(v);
    return 0;
}
