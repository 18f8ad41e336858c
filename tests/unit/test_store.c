/* The store suite: every operation of store.h through store_call only, so
 * the same tests run against both back ends.  By default the store is a
 * fresh SQLite file; with DSE_TEST_STORE_URL set it is that remote server
 * (token from DSE_TEST_STORE_TOKEN), which is shared and not empty, so every
 * test uses its own random signatureIds, runIds and threadIds and never
 * counts rows it did not write.  Tests that need the SQLite file itself
 * (migrations, read-only opening, direct edits) skip on a remote store.
 *
 * Time: on SQLite some tests pin DSE_FAKE_NOW_MS to check createdAtMs
 * handling and same-millisecond ordering; nothing depends on wall-clock
 * timing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collate.h"
#include "json.h"
#include "store.h"
#include "util.h"

/* ------------------------------------------------------------------ */
/* the store factory and helpers                                      */

static struct store *st;     /* the suite's store */
static char db_path[256];    /* its file (SQLite only) */
static bool remote;
static char tmpdir[128];     /* scratch directory for file tests */

static struct store *store_factory(struct dse_err *err)
{
    const char *url = getenv("DSE_TEST_STORE_URL");
    if (url && *url) {
        remote = true;
        return store_open_remote(url, getenv("DSE_TEST_STORE_TOKEN"), 0, err);
    }
    snprintf(db_path, sizeof db_path, "%s/suite.db", tmpdir);
    return store_open_sqlite(db_path, 0, err);
}

static void rm_rf(const char *dir)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(cmd);
}

static int suite_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dse-test-store-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    struct dse_err err;
    st = store_factory(&err);
    if (!st) {
        fprintf(stderr, "store_factory: %s: %s\n", err.code, err.msg);
        return -1;
    }
    return 0;
}

static int suite_teardown(void **state)
{
    (void)state;
    store_close(st);
    unsetenv("DSE_FAKE_NOW_MS");
    rm_rf(tmpdir);
    return 0;
}

/* Each test: fresh time, no actor. */
static int test_setup(void **state)
{
    (void)state;
    unsetenv("DSE_FAKE_NOW_MS");
    store_set_actor(st, "");
    return 0;
}

static void pin_time(int64_t ms)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)ms);
    setenv("DSE_FAKE_NOW_MS", buf, 1);
}

/* "prefix-<random>" so tests never collide on a shared store. */
static char *uniq(const char *prefix)
{
    char u[37];
    util_uuid(u);
    return xasprintf("%s-%.12s", prefix, u);
}

static cJSON *args_of(const char *fmt, va_list ap)
{
    char *text = xvasprintf(fmt, ap);
    struct dse_err err;
    cJSON *a = json_parse_str(text, &err);
    if (!a)
        fail_msg("bad test JSON (%s): %s", err.msg, text);
    free(text);
    return a;
}

/* Call and require success; returns the value (caller frees). */
static cJSON *call_ok(enum store_op op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static cJSON *call_ok(enum store_op op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cJSON *a = args_of(fmt, ap);
    va_end(ap);
    cJSON *out = NULL;
    struct dse_err err;
    int rc = store_call(st, op, a, &out, &err);
    cJSON_Delete(a);
    if (rc != 0)
        fail_msg("%s failed: %s: %s", store_op_info(op)->path, err.code, err.msg);
    return out;
}

/* Call and require failure with this code. */
static void call_fail(enum store_op op, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void call_fail(enum store_op op, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cJSON *a = args_of(fmt, ap);
    va_end(ap);
    cJSON *out = NULL;
    struct dse_err err = {{0}, {0}};
    int rc = store_call(st, op, a, &out, &err);
    cJSON_Delete(a);
    if (rc == 0) {
        char *t = cJSON_PrintUnformatted(out);
        cJSON_Delete(out);
        fail_msg("%s succeeded (%s), expected %s", store_op_info(op)->path, t, code);
    }
    assert_null(out);
    if (strcmp(err.code, code) != 0)
        fail_msg("%s: expected %s, got %s: %s", store_op_info(op)->path, code, err.code, err.msg);
}

/* Call and ignore the value. */
#define DO(op, ...) cJSON_Delete(call_ok(op, __VA_ARGS__))

#define NEED(op)                                                   \
    do {                                                           \
        if (!store_has_op(st, op)) {                               \
            skip();                                                \
        }                                                          \
    } while (0)

#define NEED_SQLITE()      \
    do {                   \
        if (remote)        \
            skip();        \
    } while (0)

static const char *str_at(const cJSON *o, const char *path)
{
    const cJSON *v = json_path(o, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool null_at(const cJSON *o, const char *path)
{
    const cJSON *v = json_path(o, path);
    return v && cJSON_IsNull(v);
}

static double num_at(const cJSON *o, const char *path)
{
    const cJSON *v = json_path(o, path);
    if (!cJSON_IsNumber(v))
        fail_msg("%s is not a number", path);
    return v->valuedouble;
}

static bool bool_at(const cJSON *o, const char *path)
{
    const cJSON *v = json_path(o, path);
    if (!cJSON_IsBool(v))
        fail_msg("%s is not a boolean", path);
    return cJSON_IsTrue(v);
}

static void put_artifact(const char *sig, const char *cid)
{
    DO(STORE_OP_artifacts_put, "{\"signatureId\":\"%s\",\"compiled_id\":\"%s\",\"json\":{\"id\":\"%s\"}}",
       sig, cid, cid);
}

static void set_active(const char *sig, const char *cid)
{
    DO(STORE_OP_active_set, "{\"signatureId\":\"%s\",\"compiled_id\":\"%s\"}", sig, cid);
}

/* The active compiled_id, or NULL when there is no pointer (static buffer). */
static const char *active_of(const char *sig)
{
    static char buf[128];
    cJSON *r = call_ok(STORE_OP_active_get, "{\"signatureId\":\"%s\"}", sig);
    const char *c = str_at(r, "compiled_id");
    if (!c)
        assert_true(null_at(r, "compiled_id") && null_at(r, "updatedAtMs"));
    snprintf(buf, sizeof buf, "%s", c ? c : "");
    cJSON_Delete(r);
    return buf[0] ? buf : NULL;
}

static cJSON *rollback(const char *sig)
{
    return call_ok(STORE_OP_active_rollback, "{\"signatureId\":\"%s\"}", sig);
}

static cJSON *history(const char *sig)
{
    cJSON *r = call_ok(STORE_OP_active_history, "{\"signatureId\":\"%s\"}", sig);
    cJSON *h = cJSON_DetachItemFromObject(r, "history");
    cJSON_Delete(r);
    assert_true(cJSON_IsArray(h));
    return h;
}

/* Record one receipt; tag "Ok", "Error" or NULL (no result). */
static cJSON *record(const char *thread, const char *sig, const char *cid, const char *rid,
                     const char *tag)
{
    char result[96] = "";
    if (tag)
        snprintf(result, sizeof result, ",\"result\":{\"_tag\":\"%s\"%s}", tag,
                 strcmp(tag, "Error") == 0 ? ",\"errorName\":\"OutputDecodeError\",\"message\":\"x\""
                                           : "");
    return call_ok(STORE_OP_receipts_record,
                   "{\"threadId\":\"%s\",\"runId\":\"run-%s\",\"receipt\":{\"format\":"
                   "\"openagents.dse.predict_receipt\",\"formatVersion\":1,\"receiptId\":\"%s\","
                   "\"runId\":\"%s\",\"signatureId\":\"%s\",\"compiled_id\":\"%s\",\"strategyId\":"
                   "\"direct.v1\",\"timing\":{\"startedAtMs\":1,\"endedAtMs\":8,\"durationMs\":7}%s}}",
                   thread, thread, rid, rid, sig, cid, result);
}

static cJSON *canary_of(const char *sig)
{
    cJSON *r = call_ok(STORE_OP_canary_get, "{\"signatureId\":\"%s\",\"threadId\":\"t\"}", sig);
    cJSON *c = cJSON_DetachItemFromObject(r, "canary");
    cJSON_Delete(r);
    return c;
}

/* A signature with artifacts c1 (active = control) and c2 (the canary). */
struct canary_fx {
    char *sig, *c1, *c2, *thread;
};

static void canary_fixture(struct canary_fx *f)
{
    f->sig = uniq("sig-canary");
    f->c1 = uniq("sha256:control");
    f->c2 = uniq("sha256:canary");
    f->thread = uniq("thread");
    put_artifact(f->sig, f->c1);
    put_artifact(f->sig, f->c2);
    set_active(f->sig, f->c1);
}

static void canary_fixture_free(struct canary_fx *f)
{
    free(f->sig);
    free(f->c1);
    free(f->c2);
    free(f->thread);
}

/* ------------------------------------------------------------------ */
/* active pointer and rollback (reference §4)                         */

static void test_rollback_toggles(void **state)
{
    (void)state;
    char *sig = uniq("sig-rb");
    put_artifact(sig, "c1");
    put_artifact(sig, "c2");
    set_active(sig, "c1");
    set_active(sig, "c2");
    cJSON *r = rollback(sig);
    assert_string_equal(str_at(r, "compiled_id"), "c1");
    assert_string_equal(str_at(r, "from"), "c2");
    cJSON_Delete(r);
    assert_string_equal(active_of(sig), "c1");
    r = rollback(sig); /* toggles back, not a stack */
    assert_string_equal(str_at(r, "compiled_id"), "c2");
    cJSON_Delete(r);
    assert_string_equal(active_of(sig), "c2");
    free(sig);
}

static void test_rollback_after_clear(void **state)
{
    (void)state;
    char *sig = uniq("sig-rb");
    put_artifact(sig, "c1");
    put_artifact(sig, "c2");
    set_active(sig, "c1");
    set_active(sig, "c2");
    cJSON *r = call_ok(STORE_OP_active_clear, "{\"signatureId\":\"%s\",\"reason\":\"x\"}", sig);
    assert_string_equal(str_at(r, "from"), "c2");
    cJSON_Delete(r);
    assert_null(active_of(sig));
    r = rollback(sig); /* clear rows (to null) are skipped: the last set wins */
    assert_string_equal(str_at(r, "compiled_id"), "c2");
    assert_true(null_at(r, "from"));
    cJSON_Delete(r);
    assert_string_equal(active_of(sig), "c2");
    free(sig);
}

static void test_rollback_no_history(void **state)
{
    (void)state;
    char *sig = uniq("sig-rb");
    cJSON *r = rollback(sig);
    assert_true(null_at(r, "compiled_id"));
    assert_true(null_at(r, "from"));
    cJSON_Delete(r);
    assert_null(active_of(sig));
    cJSON *h = history(sig);
    assert_int_equal(cJSON_GetArraySize(h), 1); /* a rollback row is still written */
    const cJSON *row = cJSON_GetArrayItem(h, 0);
    assert_string_equal(str_at(row, "action"), "rollback");
    assert_true(null_at(row, "fromCompiledId") && null_at(row, "toCompiledId"));
    cJSON_Delete(h);
    free(sig);
}

/* Only the current id in history: nothing differs, so the pointer clears. */
static void test_rollback_single_set_clears(void **state)
{
    (void)state;
    char *sig = uniq("sig-rb");
    put_artifact(sig, "c1");
    set_active(sig, "c1");
    cJSON *r = rollback(sig);
    assert_true(null_at(r, "compiled_id"));
    assert_string_equal(str_at(r, "from"), "c1");
    cJSON_Delete(r);
    assert_null(active_of(sig));
    free(sig);
}

static sqlite3 *side_db(void)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static void side_exec(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    sqlite3 *db = side_db();
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("side SQL failed: %s: %s", msg, sql);
    sqlite3_free(sql);
    sqlite3_close(db);
}

/* A pointer with no history at all (written behind the store's back). */
static void test_rollback_pointer_without_history(void **state)
{
    (void)state;
    NEED_SQLITE();
    char *sig = uniq("sig-rb");
    put_artifact(sig, "c1");
    side_exec("INSERT INTO dseActiveArtifacts (signatureId, compiled_id, updatedAtMs) "
              "VALUES (%Q, 'c1', 1)",
              sig);
    assert_string_equal(active_of(sig), "c1");
    cJSON *r = rollback(sig);
    assert_true(null_at(r, "compiled_id"));
    assert_string_equal(str_at(r, "from"), "c1");
    cJSON_Delete(r);
    assert_null(active_of(sig));
    cJSON *h = history(sig);
    assert_int_equal(cJSON_GetArraySize(h), 1);
    assert_string_equal(str_at(cJSON_GetArrayItem(h, 0), "action"), "rollback");
    cJSON_Delete(h);
    free(sig);
}

static void test_rollback_clear_row_newer(void **state)
{
    (void)state;
    char *sig = uniq("sig-rb");
    put_artifact(sig, "c2");
    put_artifact(sig, "c3");
    set_active(sig, "c2");
    DO(STORE_OP_active_clear, "{\"signatureId\":\"%s\"}", sig);
    set_active(sig, "c3");
    cJSON *r = rollback(sig); /* the clear row is the newest differing row */
    assert_true(null_at(r, "compiled_id"));
    assert_string_equal(str_at(r, "from"), "c3");
    cJSON_Delete(r);
    assert_null(active_of(sig));
    free(sig);
}

/* The rollback target's artifact vanished: fail, change nothing. */
static void test_rollback_target_missing(void **state)
{
    (void)state;
    NEED_SQLITE();
    char *sig = uniq("sig-rb");
    put_artifact(sig, "c1");
    put_artifact(sig, "c2");
    set_active(sig, "c1");
    set_active(sig, "c2");
    side_exec("DELETE FROM dseArtifacts WHERE signatureId = %Q AND compiled_id = 'c1'", sig);
    call_fail(STORE_OP_active_rollback, "artifact_not_found", "{\"signatureId\":\"%s\"}", sig);
    assert_string_equal(active_of(sig), "c2");
    cJSON *h = history(sig);
    assert_int_equal(cJSON_GetArraySize(h), 2);
    cJSON_Delete(h);
    free(sig);
}

static void test_history_actions_and_actor(void **state)
{
    (void)state;
    char *sig = uniq("sig-hist");
    put_artifact(sig, "c1");
    put_artifact(sig, "c2");
    store_set_actor(st, "user_dse_admin");
    DO(STORE_OP_active_set, "{\"signatureId\":\"%s\",\"compiled_id\":\"c1\",\"reason\":\"first\"}",
       sig);
    set_active(sig, "c2");
    cJSON_Delete(rollback(sig));
    DO(STORE_OP_active_clear, "{\"signatureId\":\"%s\"}", sig);
    cJSON *h = history(sig);
    static const char *const want[] = {"clear", "rollback", "set", "set"}; /* newest first */
    assert_int_equal(cJSON_GetArraySize(h), 4);
    for (int i = 0; i < 4; i++) {
        const cJSON *row = cJSON_GetArrayItem(h, i);
        assert_string_equal(str_at(row, "action"), want[i]);
        assert_string_equal(str_at(row, "signatureId"), sig);
        if (remote)
            assert_non_null(str_at(row, "actorUserId"));
        else
            assert_string_equal(str_at(row, "actorUserId"), "user_dse_admin");
        assert_true(cJSON_IsNumber(json_get(row, "createdAtMs")));
    }
    const cJSON *first = cJSON_GetArrayItem(h, 3);
    assert_string_equal(str_at(first, "reason"), "first");
    assert_true(null_at(first, "fromCompiledId"));
    assert_string_equal(str_at(first, "toCompiledId"), "c1");
    const cJSON *rb = cJSON_GetArrayItem(h, 1);
    assert_string_equal(str_at(rb, "fromCompiledId"), "c2");
    assert_string_equal(str_at(rb, "toCompiledId"), "c1");
    const cJSON *cl = cJSON_GetArrayItem(h, 0);
    assert_string_equal(str_at(cl, "fromCompiledId"), "c1");
    assert_true(null_at(cl, "toCompiledId"));
    assert_true(null_at(cl, "reason"));
    cJSON_Delete(h);
    free(sig);
}

static void test_set_active_rules(void **state)
{
    (void)state;
    char *sig = uniq("sig-set");
    call_fail(STORE_OP_active_set, "artifact_not_found",
              "{\"signatureId\":\"%s\",\"compiled_id\":\"nope\"}", sig);
    call_fail(STORE_OP_active_set, "invalid_input", "{\"signatureId\":\"%s\"}", sig);
    call_fail(STORE_OP_active_get, "invalid_input", "{}");
    put_artifact(sig, "c1");
    set_active(sig, "c1");
    cJSON *r = call_ok(STORE_OP_active_set, "{\"signatureId\":\"%s\",\"compiled_id\":\"c1\"}", sig);
    assert_string_equal(str_at(r, "from"), "c1"); /* unchanged, still recorded */
    cJSON_Delete(r);
    cJSON *h = history(sig);
    assert_int_equal(cJSON_GetArraySize(h), 2);
    cJSON_Delete(h);
    /* clear with no pointer still appends */
    DO(STORE_OP_active_clear, "{\"signatureId\":\"%s\"}", sig);
    r = call_ok(STORE_OP_active_clear, "{\"signatureId\":\"%s\"}", sig);
    assert_true(null_at(r, "from"));
    cJSON_Delete(r);
    h = history(sig);
    assert_int_equal(cJSON_GetArraySize(h), 4);
    cJSON_Delete(h);
    free(sig);
}

static void test_artifacts_and_limits(void **state)
{
    (void)state;
    char *sig = uniq("sig-art");
    cJSON *r = call_ok(STORE_OP_artifacts_put,
                       "{\"signatureId\":\"%s\",\"compiled_id\":\"a\",\"json\":{\"v\":1}}", sig);
    assert_false(bool_at(r, "existed"));
    cJSON_Delete(r);
    r = call_ok(STORE_OP_artifacts_put,
                "{\"signatureId\":\"%s\",\"compiled_id\":\"a\",\"json\":{\"v\":2}}", sig);
    assert_true(bool_at(r, "existed")); /* first write wins */
    cJSON_Delete(r);
    r = call_ok(STORE_OP_artifacts_get, "{\"signatureId\":\"%s\",\"compiled_id\":\"a\"}", sig);
    assert_int_equal((int)num_at(r, "artifact.v"), 1);
    cJSON_Delete(r);
    r = call_ok(STORE_OP_artifacts_get, "{\"signatureId\":\"%s\",\"compiled_id\":\"zz\"}", sig);
    assert_true(null_at(r, "artifact"));
    cJSON_Delete(r);
    put_artifact(sig, "b");
    put_artifact(sig, "c");
    static const struct {
        const char *limit;
        int want;
    } cases[] = {{"", 3}, {",\"limit\":2", 2}, {",\"limit\":0", 0}, {",\"limit\":-4", 0},
                 {",\"limit\":2.9", 2}, {",\"limit\":1e9", 3}, {",\"limit\":null", 3},
                 {",\"limit\":\"x\"", 3}};
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        r = call_ok(STORE_OP_artifacts_list, "{\"signatureId\":\"%s\"%s}", sig, cases[i].limit);
        assert_int_equal(cJSON_GetArraySize(json_get(r, "artifacts")), cases[i].want);
        cJSON_Delete(r);
    }
    r = call_ok(STORE_OP_artifacts_list, "{\"signatureId\":\"%s\"}", sig);
    const cJSON *arts = json_get(r, "artifacts"); /* newest first */
    assert_string_equal(str_at(cJSON_GetArrayItem(arts, 0), "compiled_id"), "c");
    assert_string_equal(str_at(cJSON_GetArrayItem(arts, 2), "compiled_id"), "a");
    assert_string_equal(str_at(cJSON_GetArrayItem(arts, 0), "signatureId"), sig);
    cJSON_Delete(r);
    free(sig);
}

/* 250 history rows: the list clamps to its maximum of 200. */
static void test_history_limit_max(void **state)
{
    (void)state;
    char *sig = uniq("sig-hmax");
    for (int i = 0; i < 250; i++)
        DO(STORE_OP_active_clear, "{\"signatureId\":\"%s\"}", sig);
    cJSON *r = call_ok(STORE_OP_active_history, "{\"signatureId\":\"%s\",\"limit\":1000}", sig);
    assert_int_equal(cJSON_GetArraySize(json_get(r, "history")), 200);
    cJSON_Delete(r);
    cJSON *h = history(sig);
    assert_int_equal(cJSON_GetArraySize(h), 50);
    cJSON_Delete(h);
    free(sig);
}

/* ------------------------------------------------------------------ */
/* canary (reference §3)                                              */

static void test_canary_start_errors(void **state)
{
    (void)state;
    char *sig = uniq("sig-cerr");
    put_artifact(sig, "c1");
    call_fail(STORE_OP_canary_start, "control_missing",
              "{\"signatureId\":\"%s\",\"canary_compiled_id\":\"c1\",\"rolloutPct\":10}", sig);
    set_active(sig, "c1");
    call_fail(STORE_OP_canary_start, "canary_artifact_missing",
              "{\"signatureId\":\"%s\",\"canary_compiled_id\":\"c9\",\"rolloutPct\":10}", sig);
    call_fail(STORE_OP_canary_start, "invalid_input",
              "{\"signatureId\":\"%s\",\"canary_compiled_id\":\"c1\"}", sig);
    cJSON *c = canary_of(sig);
    assert_true(cJSON_IsNull(c));
    cJSON_Delete(c);
    if (!remote) {
        side_exec("DELETE FROM dseArtifacts WHERE signatureId = %Q", sig);
        put_artifact(sig, "c2");
        call_fail(STORE_OP_canary_start, "control_artifact_missing",
                  "{\"signatureId\":\"%s\",\"canary_compiled_id\":\"c2\",\"rolloutPct\":10}", sig);
    }
    /* canary == control is allowed */
    free(sig);
    sig = uniq("sig-csame");
    put_artifact(sig, "c1");
    set_active(sig, "c1");
    DO(STORE_OP_canary_start, "{\"signatureId\":\"%s\",\"canary_compiled_id\":\"c1\",\"rolloutPct\":5}",
       sig);
    free(sig);
}

static void test_canary_clamps(void **state)
{
    (void)state;
    struct canary_fx f;
    canary_fixture(&f);
    static const struct {
        const char *extra;
        double pct, min, rate;
    } cases[] = {
        {"\"rolloutPct\":150.9", 100, 20, 0.2},
        {"\"rolloutPct\":-3", 0, 20, 0.2},
        {"\"rolloutPct\":33.99,\"minSamples\":0,\"maxErrorRate\":2", 33, 1, 1},
        {"\"rolloutPct\":10,\"minSamples\":20000.5,\"maxErrorRate\":-1", 10, 10000, 0},
        {"\"rolloutPct\":10,\"minSamples\":7.9,\"maxErrorRate\":0.35", 10, 7, 0.35},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        cJSON *r = call_ok(STORE_OP_canary_start,
                           "{\"signatureId\":\"%s\",\"canary_compiled_id\":\"%s\",%s}", f.sig,
                           f.c2, cases[i].extra);
        assert_int_equal((int)num_at(r, "rolloutPct"), (int)cases[i].pct);
        assert_string_equal(str_at(r, "action"), i == 0 ? "start" : "update");
        cJSON_Delete(r);
        cJSON *c = canary_of(f.sig);
        assert_int_equal((int)num_at(c, "rolloutPct"), (int)cases[i].pct);
        assert_int_equal((int)num_at(c, "minSamples"), (int)cases[i].min);
        assert_true(num_at(c, "maxErrorRate") == cases[i].rate);
        assert_true(bool_at(c, "enabled"));
        assert_string_equal(str_at(c, "control_compiled_id"), f.c1);
        assert_string_equal(str_at(c, "canary_compiled_id"), f.c2);
        cJSON_Delete(c);
    }
    /* salt: kept trimmed when given, a random UUID otherwise */
    cJSON *r = call_ok(STORE_OP_canary_start,
                       "{\"signatureId\":\"%s\",\"canary_compiled_id\":\"%s\",\"rolloutPct\":10,"
                       "\"salt\":\"  my-salt \"}",
                       f.sig, f.c2);
    assert_string_equal(str_at(r, "salt"), "my-salt");
    cJSON_Delete(r);
    cJSON *c = canary_of(f.sig);
    assert_string_equal(str_at(c, "salt"), "my-salt");
    cJSON_Delete(c);
    r = call_ok(STORE_OP_canary_start,
                "{\"signatureId\":\"%s\",\"canary_compiled_id\":\"%s\",\"rolloutPct\":10,"
                "\"salt\":\"   \"}",
                f.sig, f.c2);
    assert_int_equal(strlen(str_at(r, "salt")), 36);
    cJSON_Delete(r);
    canary_fixture_free(&f);
}

static void test_canary_update_resets_and_stop(void **state)
{
    (void)state;
    struct canary_fx f;
    canary_fixture(&f);
    store_set_actor(st, "user_op");
    DO(STORE_OP_canary_start,
       "{\"signatureId\":\"%s\",\"canary_compiled_id\":\"%s\",\"rolloutPct\":20,\"reason\":\"go\"}",
       f.sig, f.c2);
    char *r1 = uniq("rc"), *r2 = uniq("rc");
    cJSON_Delete(record(f.thread, f.sig, f.c2, r1, "Ok"));
    cJSON_Delete(record(f.thread, f.sig, f.c2, r2, "Error"));
    cJSON *c = canary_of(f.sig);
    assert_int_equal((int)num_at(c, "okCount"), 1);
    assert_int_equal((int)num_at(c, "errorCount"), 1);
    double created = num_at(c, "createdAtMs");
    cJSON_Delete(c);
    cJSON *r = call_ok(STORE_OP_canary_start,
                       "{\"signatureId\":\"%s\",\"canary_compiled_id\":\"%s\",\"rolloutPct\":40}",
                       f.sig, f.c2);
    assert_string_equal(str_at(r, "action"), "update");
    cJSON_Delete(r);
    c = canary_of(f.sig);
    assert_int_equal((int)num_at(c, "okCount"), 0);
    assert_int_equal((int)num_at(c, "errorCount"), 0);
    assert_int_equal((int)num_at(c, "rolloutPct"), 40);
    assert_true(num_at(c, "createdAtMs") == created);
    cJSON_Delete(c);
    char *r3 = uniq("rc");
    cJSON_Delete(record(f.thread, f.sig, f.c2, r3, "Ok"));
    r = call_ok(STORE_OP_canary_stop, "{\"signatureId\":\"%s\",\"reason\":\"enough\"}", f.sig);
    assert_true(bool_at(r, "existed"));
    assert_int_equal((int)num_at(r, "okCount"), 1);
    assert_int_equal((int)num_at(r, "errorCount"), 0);
    assert_int_equal((int)num_at(r, "rolloutPct"), 40);
    assert_string_equal(str_at(r, "control_compiled_id"), f.c1);
    cJSON_Delete(r);
    c = canary_of(f.sig);
    assert_true(cJSON_IsNull(c));
    cJSON_Delete(c);
    r = call_ok(STORE_OP_canary_stop, "{\"signatureId\":\"%s\"}", f.sig);
    assert_false(bool_at(r, "existed")); /* and no history row */
    cJSON_Delete(r);
    assert_string_equal(active_of(f.sig), f.c1);

    r = call_ok(STORE_OP_canary_history, "{\"signatureId\":\"%s\"}", f.sig);
    const cJSON *h = json_get(r, "history");
    assert_int_equal(cJSON_GetArraySize(h), 3);
    static const char *const want[] = {"stop", "update", "start"};
    for (int i = 0; i < 3; i++) {
        const cJSON *row = cJSON_GetArrayItem(h, i);
        assert_string_equal(str_at(row, "action"), want[i]);
        assert_string_equal(str_at(row, "canary_compiled_id"), f.c2);
        assert_string_equal(str_at(row, "control_compiled_id"), f.c1);
        if (!remote)
            assert_string_equal(str_at(row, "actorUserId"), "user_op");
    }
    assert_int_equal((int)num_at(cJSON_GetArrayItem(h, 0), "okCount"), 1);
    assert_string_equal(str_at(cJSON_GetArrayItem(h, 0), "reason"), "enough");
    assert_int_equal((int)num_at(cJSON_GetArrayItem(h, 1), "okCount"), 0);
    assert_true(null_at(cJSON_GetArrayItem(h, 1), "reason"));
    assert_string_equal(str_at(cJSON_GetArrayItem(h, 2), "reason"), "go");
    assert_int_equal((int)num_at(cJSON_GetArrayItem(h, 2), "rolloutPct"), 20);
    cJSON_Delete(r);
    free(r1);
    free(r2);
    free(r3);
    canary_fixture_free(&f);
}

static void start_canary(struct canary_fx *f, int min_samples, double max_rate)
{
    DO(STORE_OP_canary_start,
       "{\"signatureId\":\"%s\",\"canary_compiled_id\":\"%s\",\"rolloutPct\":50,"
       "\"minSamples\":%d,\"maxErrorRate\":%g}",
       f->sig, f->c2, min_samples, max_rate);
}

/* Record on the canary; returns counted ("ok"/"error"/NULL) and autoStopped. */
static bool record_canary(struct canary_fx *f, const char *cid, const char *tag,
                          const char **counted_out)
{
    static char counted[16];
    char *rid = uniq("rc");
    cJSON *r = record(f->thread, f->sig, cid, rid, tag);
    free(rid);
    assert_false(bool_at(r, "existed"));
    const char *cnt = str_at(r, "counted");
    if (!cnt)
        assert_true(null_at(r, "counted"));
    snprintf(counted, sizeof counted, "%s", cnt ? cnt : "");
    if (counted_out)
        *counted_out = cnt ? counted : NULL;
    bool stopped = bool_at(r, "autoStopped");
    cJSON_Delete(r);
    return stopped;
}

static void test_autostop_threshold_not_exceeded(void **state)
{
    (void)state;
    struct canary_fx f;
    canary_fixture(&f);
    start_canary(&f, 4, 0.5);
    const char *tags[] = {"Ok", "Ok", "Error", "Error"}; /* 2/4 = 0.5: not > 0.5 */
    for (int i = 0; i < 4; i++)
        assert_false(record_canary(&f, f.c2, tags[i], NULL));
    cJSON *c = canary_of(f.sig);
    assert_true(cJSON_IsObject(c));
    assert_int_equal((int)num_at(c, "okCount"), 2);
    assert_int_equal((int)num_at(c, "errorCount"), 2);
    cJSON_Delete(c);
    canary_fixture_free(&f);
}

static void test_autostop_at_threshold(void **state)
{
    (void)state;
    struct canary_fx f;
    canary_fixture(&f);
    start_canary(&f, 4, 0.5);
    const char *counted;
    /* 3 errors: rate 1.0 but minSamples not reached */
    for (int i = 0; i < 3; i++) {
        assert_false(record_canary(&f, f.c2, "Error", &counted));
        assert_string_equal(counted, "error");
    }
    cJSON *c = canary_of(f.sig);
    assert_int_equal((int)num_at(c, "errorCount"), 3);
    cJSON_Delete(c);
    /* 4th: 3 of 4 > 0.5 stops, in the same call */
    assert_true(record_canary(&f, f.c2, "Ok", &counted));
    assert_string_equal(counted, "ok");
    c = canary_of(f.sig);
    assert_true(cJSON_IsNull(c));
    cJSON_Delete(c);
    assert_string_equal(active_of(f.sig), f.c1); /* pointer untouched */
    /* nothing counted after the stop: the row is gone */
    assert_false(record_canary(&f, f.c2, "Error", &counted));
    assert_null(counted);
    assert_false(record_canary(&f, f.c2, "Ok", &counted));
    assert_null(counted);

    cJSON *r = call_ok(STORE_OP_canary_history, "{\"signatureId\":\"%s\"}", f.sig);
    const cJSON *h = json_get(r, "history");
    assert_int_equal(cJSON_GetArraySize(h), 2);
    const cJSON *as = cJSON_GetArrayItem(h, 0);
    assert_string_equal(str_at(as, "action"), "auto_stop");
    assert_int_equal((int)num_at(as, "okCount"), 1);
    assert_int_equal((int)num_at(as, "errorCount"), 3);
    assert_int_equal((int)num_at(as, "rolloutPct"), 50);
    assert_true(null_at(as, "actorUserId"));
    assert_string_equal(str_at(as, "reason"),
                        "error_rate_exceeded errorRate=0.750 maxErrorRate=0.500 minSamples=4");
    cJSON_Delete(r);
    canary_fixture_free(&f);
}

/* toFixed(3) rounds the exact tie 0.0625 up to 0.063 (printf gives 0.062). */
static void test_autostop_reason_rounding(void **state)
{
    (void)state;
    struct canary_fx f;
    canary_fixture(&f);
    start_canary(&f, 16, 0.05);
    for (int i = 0; i < 15; i++)
        assert_false(record_canary(&f, f.c2, "Ok", NULL));
    assert_true(record_canary(&f, f.c2, "Error", NULL));
    cJSON *r = call_ok(STORE_OP_canary_history, "{\"signatureId\":\"%s\",\"limit\":1}", f.sig);
    assert_string_equal(str_at(cJSON_GetArrayItem(json_get(r, "history"), 0), "reason"),
                        "error_rate_exceeded errorRate=0.063 maxErrorRate=0.050 minSamples=16");
    cJSON_Delete(r);
    canary_fixture_free(&f);
}

static void test_control_and_untagged_never_counted(void **state)
{
    (void)state;
    struct canary_fx f;
    canary_fixture(&f);
    start_canary(&f, 2, 0.0);
    const char *counted;
    for (int i = 0; i < 5; i++) {
        assert_false(record_canary(&f, f.c1, "Error", &counted)); /* served by the control */
        assert_null(counted);
    }
    assert_false(record_canary(&f, f.c2, NULL, &counted)); /* no result */
    assert_null(counted);
    assert_false(record_canary(&f, f.c2, "Pending", &counted));
    assert_null(counted);
    cJSON *c = canary_of(f.sig);
    assert_int_equal((int)num_at(c, "okCount"), 0);
    assert_int_equal((int)num_at(c, "errorCount"), 0);
    cJSON_Delete(c);
    canary_fixture_free(&f);
}

static void test_duplicate_receipt_counted_once(void **state)
{
    (void)state;
    struct canary_fx f;
    canary_fixture(&f);
    start_canary(&f, 100, 0.5);
    char *rid = uniq("rc-dup");
    cJSON *r = record(f.thread, f.sig, f.c2, rid, "Ok");
    assert_false(bool_at(r, "existed"));
    assert_string_equal(str_at(r, "counted"), "ok");
    cJSON_Delete(r);
    r = record(f.thread, f.sig, f.c2, rid, "Ok");
    assert_true(bool_at(r, "existed"));
    assert_true(null_at(r, "counted"));
    cJSON_Delete(r);
    cJSON *c = canary_of(f.sig);
    assert_int_equal((int)num_at(c, "okCount"), 1);
    cJSON_Delete(c);
    r = call_ok(STORE_OP_receipts_list_admin, "{\"signatureId\":\"%s\"}", f.sig);
    assert_int_equal(cJSON_GetArraySize(json_get(r, "receipts")), 1);
    cJSON_Delete(r);
    free(rid);
    canary_fixture_free(&f);
}

static void test_receipt_get_and_projection(void **state)
{
    (void)state;
    char *sig = uniq("sig-rcpt"), *thread = uniq("thread"), *rid = uniq("rc");
    cJSON *r = call_ok(
        STORE_OP_receipts_record,
        "{\"threadId\":\"%s\",\"runId\":\"arun\",\"receipt\":{\"receiptId\":\"%s\",\"signatureId\":"
        "\"%s\",\"compiled_id\":\"cX\",\"strategyId\":\"rlm_lite.v1\",\"result\":{\"_tag\":"
        "\"Error\",\"errorName\":\"BudgetExceededError\",\"message\":\"m\"},\"timing\":{"
        "\"durationMs\":12.5},\"rlmTrace\":{\"blob\":{\"id\":\"sha256:abc\",\"hash\":\"sha256:abc\","
        "\"size\":3},\"eventCount\":7}}}",
        thread, rid, sig);
    assert_null(json_get(r, "nope"));
    cJSON_Delete(r);
    /* reference shapes: {ok, receipt: null | {threadId, runId, json, createdAtMs}} */
    for (int admin = 0; admin <= 1; admin++) {
        r = call_ok(admin ? STORE_OP_receipts_get_admin : STORE_OP_receipts_get,
                    "{\"receiptId\":\"%s\"}", rid);
        assert_true(bool_at(r, "ok"));
        assert_int_equal(cJSON_GetArraySize(r), 2);
        assert_int_equal(cJSON_GetArraySize(json_get(r, "receipt")), 4);
        assert_string_equal(str_at(r, "receipt.threadId"), thread);
        assert_string_equal(str_at(r, "receipt.runId"), "arun");
        assert_string_equal(str_at(r, "receipt.json.receiptId"), rid);
        assert_true(cJSON_IsNumber(json_path(r, "receipt.createdAtMs")));
        cJSON_Delete(r);
        r = call_ok(admin ? STORE_OP_receipts_get_admin : STORE_OP_receipts_get,
                    "{\"receiptId\":\"nope-%s\"}", rid);
        assert_true(bool_at(r, "ok"));
        assert_true(null_at(r, "receipt"));
        cJSON_Delete(r);
    }
    /* {ok, receipts: [...]} */
    r = call_ok(STORE_OP_receipts_list_admin, "{\"signatureId\":\"%s\"}", sig);
    assert_true(bool_at(r, "ok"));
    assert_int_equal(cJSON_GetArraySize(json_get(r, "receipts")), 1);
    const cJSON *row = cJSON_GetArrayItem(json_get(r, "receipts"), 0);
    assert_string_equal(str_at(row, "receiptId"), rid);
    assert_string_equal(str_at(row, "compiled_id"), "cX");
    assert_string_equal(str_at(row, "strategyId"), "rlm_lite.v1");
    assert_string_equal(str_at(row, "resultTag"), "Error");
    assert_string_equal(str_at(row, "rlmTraceBlobId"), "sha256:abc");
    assert_int_equal((int)num_at(row, "rlmTraceEventCount"), 7);
    assert_int_equal(cJSON_GetArraySize(row), 10);
    cJSON_Delete(r);
    if (store_has_op(st, STORE_OP_x_receipts_page)) {
        r = call_ok(STORE_OP_x_receipts_page, "{\"signatureId\":\"%s\"}", sig);
        row = cJSON_GetArrayItem(json_get(r, "items"), 0);
        assert_string_equal(str_at(row, "errorName"), "BudgetExceededError");
        assert_true(num_at(row, "durationMs") == 12.5);
        assert_non_null(str_at(row, "cursor"));
        assert_true(null_at(r, "nextCursor"));
        cJSON_Delete(r);
    }
    call_fail(STORE_OP_receipts_record, "invalid_input",
              "{\"threadId\":\"%s\",\"runId\":\"r\",\"receipt\":7}", thread);
    call_fail(STORE_OP_receipts_record, "invalid_input",
              "{\"runId\":\"r\",\"receipt\":{\"receiptId\":\"x\"}}");
    free(sig);
    free(thread);
    free(rid);
}

/* ------------------------------------------------------------------ */
/* receipts paging and batches                                        */

static cJSON *receipt_items(const char *sig, const char *thread, int from, int n,
                            const char *prefix)
{
    cJSON *items = json_arr();
    for (int i = from; i < from + n; i++) {
        cJSON *it = json_obj();
        json_set_str(it, "threadId", thread);
        json_set_str(it, "runId", "batch-run");
        cJSON *rc = json_obj();
        char id[96];
        snprintf(id, sizeof id, "%s-%05d", prefix, i);
        json_set_str(rc, "receiptId", id);
        json_set_str(rc, "signatureId", sig);
        json_set_str(rc, "compiled_id", i % 3 ? "cA" : "cB");
        json_set_str(rc, "strategyId", "direct.v1");
        cJSON *res = json_obj();
        json_set_str(res, "_tag", i % 5 ? "Ok" : "Error");
        json_set(rc, "result", res);
        json_set(it, "receipt", rc);
        cJSON_AddItemToArray(items, it);
    }
    return items;
}

static void record_batch(cJSON *items, int *recorded)
{
    cJSON *a = json_obj();
    json_set(a, "items", items);
    cJSON *out = NULL;
    struct dse_err err;
    if (store_call(st, STORE_OP_x_receipts_batch, a, &out, &err) != 0)
        fail_msg("batch: %s: %s", err.code, err.msg);
    *recorded = (int)num_at(out, "recorded");
    cJSON_Delete(out);
    cJSON_Delete(a);
}

/* Walk every page in one direction; returns the receipt ids in order. */
static char **walk(const char *sig, const char *dir, const char *filter, int limit, int *n_out)
{
    char **ids = NULL;
    int n = 0;
    char *cursor = NULL;
    int pages = 0;
    for (;;) {
        char curarg[80] = "";
        if (cursor)
            snprintf(curarg, sizeof curarg, ",\"cursor\":\"%s\"", cursor);
        cJSON *r = call_ok(STORE_OP_x_receipts_page,
                           "{\"signatureId\":\"%s\",\"dir\":\"%s\",\"limit\":%d%s%s}", sig, dir,
                           limit, filter, curarg);
        const cJSON *it;
        cJSON_ArrayForEach(it, json_get(r, "items"))
        {
            ids = xrealloc(ids, (size_t)(n + 1) * sizeof *ids);
            ids[n++] = xstrdup(str_at(it, "receiptId"));
        }
        free(cursor);
        cursor = str_at(r, "nextCursor") ? xstrdup(str_at(r, "nextCursor")) : NULL;
        if (cursor)
            assert_int_equal(cJSON_GetArraySize(json_get(r, "items")), limit);
        cJSON_Delete(r);
        if (!cursor)
            break;
        assert_true(++pages < 10000);
    }
    *n_out = n;
    return ids;
}

static void free_ids(char **ids, int n)
{
    for (int i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static void test_receipts_keyset_paging(void **state)
{
    (void)state;
    NEED(STORE_OP_x_receipts_batch);
    NEED(STORE_OP_x_receipts_page);
    char *sig = uniq("sig-page"), *thread = uniq("thread");
    int rec;
    /* Two batches of 500: on SQLite each batch shares one millisecond, so
     * the (createdAtMs, id) tie-break carries the paging. */
    if (!remote)
        pin_time(1800000000000);
    record_batch(receipt_items(sig, thread, 0, 500, "p"), &rec);
    assert_int_equal(rec, 500);
    if (!remote)
        pin_time(1800000000001);
    record_batch(receipt_items(sig, thread, 500, 500, "p"), &rec);
    assert_int_equal(rec, 500);

    int n_old, n_new;
    char **older = walk(sig, "older", "", 37, &n_old);
    char **newer = walk(sig, "newer", "", 41, &n_new);
    assert_int_equal(n_old, 1000);
    assert_int_equal(n_new, 1000);
    for (int i = 0; i < 1000; i++) {
        char want[32];
        snprintf(want, sizeof want, "p-%05d", 999 - i);
        assert_string_equal(older[i], want); /* newest first, no gaps or repeats */
        assert_string_equal(newer[999 - i], want);
    }
    free_ids(older, n_old);
    free_ids(newer, n_new);

    /* filters, both directions */
    char **errs = walk(sig, "older", ",\"resultTag\":\"Error\"", 7, &n_old);
    assert_int_equal(n_old, 200);
    for (int i = 0; i < n_old; i++) {
        int k = atoi(errs[i] + 2);
        assert_int_equal(k % 5, 0);
        if (i)
            assert_true(strcmp(errs[i - 1], errs[i]) > 0);
    }
    free_ids(errs, n_old);
    char **cb = walk(sig, "newer", ",\"compiled_id\":\"cB\",\"strategyId\":\"direct.v1\"", 50, &n_new);
    assert_int_equal(n_new, 334);
    free_ids(cb, n_new);
    char *f = xasprintf(",\"threadId\":\"%s\",\"resultTag\":\"Ok\"", thread);
    char **ok = walk(sig, "older", f, 500, &n_new);
    assert_int_equal(n_new, 800);
    free_ids(ok, n_new);
    free(f);
    /* a page of 0 and a bad cursor */
    cJSON *r = call_ok(STORE_OP_x_receipts_page, "{\"signatureId\":\"%s\",\"limit\":0}", sig);
    assert_int_equal(cJSON_GetArraySize(json_get(r, "items")), 0);
    cJSON_Delete(r);
    call_fail(STORE_OP_x_receipts_page, "invalid_input",
              "{\"signatureId\":\"%s\",\"cursor\":\"junk\"}", sig);
    call_fail(STORE_OP_x_receipts_page, "invalid_input",
              "{\"signatureId\":\"%s\",\"dir\":\"sideways\"}", sig);
    r = call_ok(STORE_OP_x_receipts_page, "{\"threadId\":\"%s\",\"limit\":1000}", thread);
    assert_int_equal(cJSON_GetArraySize(json_get(r, "items")), 500); /* max 500 */
    cJSON_Delete(r);
    free(sig);
    free(thread);
}

static void test_receipts_batch_rules(void **state)
{
    (void)state;
    NEED(STORE_OP_x_receipts_batch);
    struct canary_fx f;
    canary_fixture(&f);
    start_canary(&f, 3, 0.5);
    /* c2 receipts: E, E, E (stop at 3rd), then more on c2 and c1 */
    cJSON *items = json_arr();
    const char *plan[][2] = {{"c2", "Error"}, {"c1", "Error"}, {"c2", "Error"}, {"c2", "Error"},
                             {"c2", "Ok"},    {"c2", "Error"}, {"dup", "Ok"}};
    char *prefix = uniq("b");
    for (size_t i = 0; i < ARRAY_LEN(plan); i++) {
        cJSON *it = json_obj();
        json_set_str(it, "threadId", f.thread);
        json_set_str(it, "runId", "r");
        cJSON *rc = json_obj();
        char id[96];
        snprintf(id, sizeof id, "%s-%d", prefix, strcmp(plan[i][0], "dup") == 0 ? 0 : (int)i);
        json_set_str(rc, "receiptId", id);
        json_set_str(rc, "signatureId", f.sig);
        json_set_str(rc, "compiled_id", strcmp(plan[i][0], "c1") == 0 ? f.c1 : f.c2);
        cJSON *res = json_obj();
        json_set_str(res, "_tag", plan[i][1]);
        json_set(rc, "result", res);
        json_set(it, "receipt", rc);
        cJSON_AddItemToArray(items, it);
    }
    cJSON *a = json_obj();
    json_set(a, "items", items);
    cJSON *out = NULL;
    struct dse_err err;
    assert_int_equal(store_call(st, STORE_OP_x_receipts_batch, a, &out, &err), 0);
    cJSON_Delete(a);
    assert_int_equal((int)num_at(out, "recorded"), 6);
    assert_int_equal((int)num_at(out, "duplicates"), 1);
    assert_int_equal((int)num_at(out, "counted"), 3);
    assert_int_equal((int)num_at(out, "autoStopped"), 1);
    cJSON_Delete(out);
    cJSON *c = canary_of(f.sig);
    assert_true(cJSON_IsNull(c));
    cJSON_Delete(c);

    /* a bad item refuses the whole batch */
    char *sig2 = uniq("sig-batchbad");
    items = receipt_items(sig2, f.thread, 0, 3, prefix);
    cJSON_AddItemToArray(items, cJSON_CreateString("not an item"));
    a = json_obj();
    json_set(a, "items", items);
    assert_int_equal(store_call(st, STORE_OP_x_receipts_batch, a, &out, &err), -1);
    assert_string_equal(err.code, "invalid_input");
    cJSON_Delete(a);
    cJSON *l = call_ok(STORE_OP_receipts_list_admin, "{\"signatureId\":\"%s\"}", sig2);
    assert_int_equal(cJSON_GetArraySize(json_get(l, "receipts")), 0);
    cJSON_Delete(l);

    /* at most 10,000 items */
    items = json_arr();
    for (int i = 0; i < 10001; i++)
        cJSON_AddItemToArray(items, json_obj());
    a = json_obj();
    json_set(a, "items", items);
    assert_int_equal(store_call(st, STORE_OP_x_receipts_batch, a, &out, &err), -1);
    assert_string_equal(err.code, "invalid_input");
    cJSON_Delete(a);
    free(sig2);
    free(prefix);
    canary_fixture_free(&f);
}

/* ------------------------------------------------------------------ */
/* examples                                                           */

static void test_examples_upsert_and_order(void **state)
{
    (void)state;
    char *sig = uniq("sig-ex");
    if (!remote)
        pin_time(1700000000000);
    const char *ids[] = {"a.b", "a-b", "a_b", "B", "a", "v1_common_phrasings", "v1.base"};
    for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
        cJSON *r = call_ok(STORE_OP_examples_put,
                           "{\"signatureId\":\"%s\",\"exampleId\":\"%s\",\"inputJson\":{\"q\":%zu},"
                           "\"expectedJson\":{\"a\":1},\"split\":\"train\",\"tags\":[\"t1\"],"
                           "\"source\":\"test\",\"meta\":{\"k\":1}}",
                           sig, ids[i], i);
        assert_false(bool_at(r, "existed"));
        cJSON_Delete(r);
    }
    cJSON *r = call_ok(STORE_OP_examples_list, "{\"signatureId\":\"%s\"}", sig);
    const cJSON *ex = json_get(r, "examples");
    assert_int_equal(cJSON_GetArraySize(ex), (int)ARRAY_LEN(ids));
    static const char *const want[] = {"a", "a_b", "a-b", "a.b", "B", "v1_common_phrasings",
                                       "v1.base"};
    for (int i = 0; i < (int)ARRAY_LEN(want); i++)
        assert_string_equal(str_at(cJSON_GetArrayItem(ex, i), "exampleId"), want[i]);
    const cJSON *first = cJSON_GetArrayItem(ex, 0);
    assert_string_equal(str_at(first, "split"), "train");
    assert_string_equal(str_at(first, "source"), "test");
    assert_int_equal((int)num_at(first, "meta.k"), 1);
    assert_string_equal(cJSON_GetArrayItem(json_get(first, "tags"), 0)->valuestring, "t1");
    cJSON_Delete(r);

    /* upsert: createdAtMs kept, absent fields cleared */
    r = call_ok(STORE_OP_examples_get, "{\"signatureId\":\"%s\",\"exampleId\":\"a.b\"}", sig);
    double created = num_at(r, "example.createdAtMs");
    cJSON_Delete(r);
    if (!remote)
        pin_time(1700000005000);
    r = call_ok(STORE_OP_examples_put,
                "{\"signatureId\":\"%s\",\"exampleId\":\"a.b\",\"inputJson\":\"new\","
                "\"expectedJson\":null}",
                sig);
    assert_true(bool_at(r, "existed"));
    cJSON_Delete(r);
    r = call_ok(STORE_OP_examples_get, "{\"signatureId\":\"%s\",\"exampleId\":\"a.b\"}", sig);
    const cJSON *e = json_get(r, "example");
    assert_string_equal(str_at(e, "inputJson"), "new");
    assert_true(null_at(e, "expectedJson"));
    assert_true(null_at(e, "split") && null_at(e, "tags") && null_at(e, "source") &&
                null_at(e, "meta"));
    assert_true(num_at(e, "createdAtMs") == created);
    if (!remote) {
        assert_true(created == 1700000000000.0);
        assert_true(num_at(e, "updatedAtMs") == 1700000005000.0);
    }
    cJSON_Delete(r);
    r = call_ok(STORE_OP_examples_get, "{\"signatureId\":\"%s\",\"exampleId\":\"zz\"}", sig);
    assert_true(null_at(r, "example"));
    cJSON_Delete(r);

    /* tags read back as the reference's asStringArray: empty strings
     * dropped, nothing trimmed, sorted or deduplicated; [] stays [] */
    DO(STORE_OP_examples_put,
       "{\"signatureId\":\"%s\",\"exampleId\":\"tagged\",\"inputJson\":1,\"expectedJson\":1,"
       "\"tags\":[\" b \",\"\",\"a\",\"a\",\"\xc3\xb6\"]}",
       sig);
    DO(STORE_OP_examples_put,
       "{\"signatureId\":\"%s\",\"exampleId\":\"untagged\",\"inputJson\":1,\"expectedJson\":1,"
       "\"tags\":[]}",
       sig);
    r = call_ok(STORE_OP_examples_get, "{\"signatureId\":\"%s\",\"exampleId\":\"tagged\"}", sig);
    char *tj = json_canonical(json_path(r, "example.tags"));
    assert_string_equal(tj, "[\" b \",\"a\",\"a\",\"\xc3\xb6\"]");
    free(tj);
    cJSON_Delete(r);
    r = call_ok(STORE_OP_examples_get, "{\"signatureId\":\"%s\",\"exampleId\":\"untagged\"}",
                sig);
    assert_true(cJSON_IsArray(json_path(r, "example.tags")));
    assert_int_equal(cJSON_GetArraySize(json_path(r, "example.tags")), 0);
    cJSON_Delete(r);
    r = call_ok(STORE_OP_examples_list, "{\"signatureId\":\"%s\"}", sig);
    for (const cJSON *x = json_get(r, "examples")->child; x; x = x->next)
        if (!strcmp(str_at(x, "exampleId"), "tagged"))
            assert_int_equal(cJSON_GetArraySize(json_get(x, "tags")), 4);
    cJSON_Delete(r);
    if (store_has_op(st, STORE_OP_x_examples_page)) {
        r = call_ok(STORE_OP_x_examples_page, "{\"signatureId\":\"%s\",\"limit\":500}", sig);
        for (const cJSON *x = json_get(r, "items")->child; x; x = x->next)
            if (!strcmp(str_at(x, "exampleId"), "tagged"))
                assert_int_equal(cJSON_GetArraySize(json_get(x, "tags")), 4);
        cJSON_Delete(r);
    }

    /* split filter (exact string) and limits */
    r = call_ok(STORE_OP_examples_list, "{\"signatureId\":\"%s\",\"split\":\"train\"}", sig);
    assert_int_equal(cJSON_GetArraySize(json_get(r, "examples")), (int)ARRAY_LEN(ids) - 1);
    cJSON_Delete(r);
    r = call_ok(STORE_OP_examples_list, "{\"signatureId\":\"%s\",\"limit\":2}", sig);
    assert_int_equal(cJSON_GetArraySize(json_get(r, "examples")), 2);
    cJSON_Delete(r);
    call_fail(STORE_OP_examples_put, "invalid_input",
              "{\"signatureId\":\"%s\",\"exampleId\":\"x\",\"inputJson\":1,\"expectedJson\":1,"
              "\"split\":\"validation\"}",
              sig);
    call_fail(STORE_OP_examples_put, "invalid_input",
              "{\"signatureId\":\"%s\",\"exampleId\":\"x\",\"expectedJson\":1}", sig);
    call_fail(STORE_OP_examples_put, "invalid_input",
              "{\"signatureId\":\"%s\",\"exampleId\":\"x\",\"inputJson\":1,\"expectedJson\":1,"
              "\"tags\":[1]}",
              sig);
    if (store_has_op(st, STORE_OP_x_examples_delete)) {
        r = call_ok(STORE_OP_x_examples_delete, "{\"signatureId\":\"%s\",\"exampleId\":\"B\"}", sig);
        assert_true(bool_at(r, "existed"));
        cJSON_Delete(r);
        r = call_ok(STORE_OP_x_examples_delete, "{\"signatureId\":\"%s\",\"exampleId\":\"B\"}", sig);
        assert_false(bool_at(r, "existed"));
        cJSON_Delete(r);
    }
    free(sig);
}

static void test_examples_import_all_or_nothing(void **state)
{
    (void)state;
    NEED(STORE_OP_x_examples_import);
    NEED(STORE_OP_x_examples_counts);
    char *sig = uniq("sig-imp");
    DO(STORE_OP_examples_put,
       "{\"signatureId\":\"%s\",\"exampleId\":\"keep\",\"inputJson\":1,\"expectedJson\":1}", sig);
    call_fail(STORE_OP_x_examples_import, "invalid_input",
              "{\"signatureId\":\"%s\",\"rows\":[{\"exampleId\":\"r1\",\"inputJson\":1,"
              "\"expectedJson\":1},{\"exampleId\":\"keep\",\"inputJson\":2,\"expectedJson\":2},"
              "{\"exampleId\":\"r3\",\"inputJson\":1,\"expectedJson\":1,\"split\":\"bogus\"}]}",
              sig);
    cJSON *r = call_ok(STORE_OP_x_examples_counts, "{\"signatureId\":\"%s\"}", sig);
    assert_int_equal((int)num_at(r, "total"), 1);
    cJSON_Delete(r);
    r = call_ok(STORE_OP_examples_get, "{\"signatureId\":\"%s\",\"exampleId\":\"keep\"}", sig);
    assert_int_equal((int)num_at(r, "example.inputJson"), 1);
    cJSON_Delete(r);

    r = call_ok(STORE_OP_x_examples_import,
                "{\"signatureId\":\"%s\",\"source\":\"import-test\",\"rows\":["
                "{\"exampleId\":\"r1\",\"inputJson\":1,\"expectedJson\":1,\"split\":\"train\"},"
                "{\"exampleId\":\"keep\",\"inputJson\":2,\"expectedJson\":2,\"split\":\"holdout\","
                "\"meta\":{\"review\":{\"status\":\"accepted\"}}},"
                "{\"exampleId\":\"r3\",\"inputJson\":1,\"expectedJson\":1,\"split\":\"dev\","
                "\"source\":\"own\",\"meta\":{\"review\":{\"status\":\"rejected\"}}},"
                "{\"exampleId\":\"r4\",\"inputJson\":1,\"expectedJson\":1,\"split\":\"test\"},"
                "{\"exampleId\":\"r5\",\"inputJson\":1,\"expectedJson\":1,"
                "\"meta\":{\"review\":{\"status\":\"maybe\"}}}]}",
                sig);
    assert_int_equal((int)num_at(r, "inserted"), 4);
    assert_int_equal((int)num_at(r, "updated"), 1);
    assert_int_equal((int)num_at(r, "total"), 5);
    cJSON_Delete(r);
    r = call_ok(STORE_OP_examples_get, "{\"signatureId\":\"%s\",\"exampleId\":\"r1\"}", sig);
    assert_string_equal(str_at(r, "example.source"), "import-test");
    cJSON_Delete(r);
    r = call_ok(STORE_OP_examples_get, "{\"signatureId\":\"%s\",\"exampleId\":\"r3\"}", sig);
    assert_string_equal(str_at(r, "example.source"), "own");
    cJSON_Delete(r);
    r = call_ok(STORE_OP_x_examples_counts, "{\"signatureId\":\"%s\"}", sig);
    assert_int_equal((int)num_at(r, "total"), 5);
    assert_int_equal((int)num_at(r, "splits.train"), 1);
    assert_int_equal((int)num_at(r, "splits.holdout"), 1);
    assert_int_equal((int)num_at(r, "splits.dev"), 1);
    assert_int_equal((int)num_at(r, "splits.test"), 1);
    assert_int_equal((int)num_at(r, "splits.none"), 1);
    assert_int_equal((int)num_at(r, "accepted"), 1);
    assert_int_equal((int)num_at(r, "rejected"), 1);
    cJSON_Delete(r);
    call_fail(STORE_OP_x_examples_import, "invalid_input", "{\"signatureId\":\"%s\",\"rows\":{}}",
              sig);
    free(sig);
}

static void test_examples_page(void **state)
{
    (void)state;
    NEED(STORE_OP_x_examples_page);
    NEED(STORE_OP_x_examples_import);
    char *sig = uniq("sig-expage");
    /* 120 ids with punctuation so collate order differs from strcmp */
    cJSON *rows = json_arr();
    char *ids[120];
    static const char *const sep[] = {"_", "-", ".", ""};
    for (int i = 0; i < 120; i++) {
        ids[i] = xasprintf("%s%s%d", i % 2 ? "Ex" : "ex", sep[i % 4], i);
        cJSON *o = json_obj();
        json_set_str(o, "exampleId", ids[i]);
        json_set_num(o, "inputJson", i);
        json_set_num(o, "expectedJson", i);
        json_set_str(o, "split", i % 3 ? "train" : "holdout");
        cJSON_AddItemToArray(rows, o);
    }
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", sig);
    json_set(a, "rows", rows);
    cJSON *out = NULL;
    struct dse_err err;
    assert_int_equal(store_call(st, STORE_OP_x_examples_import, a, &out, &err), 0);
    cJSON_Delete(out);
    cJSON_Delete(a);
    qsort(ids, 120, sizeof ids[0], collate_qsort_cmp);

    int got = 0;
    char *cursor = NULL;
    do {
        char curarg[600] = "";
        if (cursor)
            snprintf(curarg, sizeof curarg, ",\"cursor\":\"%s\"", cursor);
        cJSON *r = call_ok(STORE_OP_x_examples_page, "{\"signatureId\":\"%s\",\"limit\":50%s}", sig,
                           curarg);
        const cJSON *it;
        cJSON_ArrayForEach(it, json_get(r, "items"))
        {
            assert_true(got < 120);
            assert_string_equal(str_at(it, "exampleId"), ids[got]);
            got++;
        }
        free(cursor);
        cursor = str_at(r, "nextCursor") ? xstrdup(str_at(r, "nextCursor")) : NULL;
        cJSON_Delete(r);
    } while (cursor);
    assert_int_equal(got, 120);

    /* backwards from the end, holdout only */
    int hold = 0;
    char *prev = NULL;
    do {
        char curarg[600] = "";
        if (cursor)
            snprintf(curarg, sizeof curarg, ",\"cursor\":\"%s\"", cursor);
        cJSON *r = call_ok(STORE_OP_x_examples_page,
                           "{\"signatureId\":\"%s\",\"split\":\"holdout\",\"dir\":\"prev\","
                           "\"limit\":7%s}",
                           sig, curarg);
        const cJSON *it;
        cJSON_ArrayForEach(it, json_get(r, "items"))
        {
            assert_string_equal(str_at(it, "split"), "holdout");
            if (prev)
                assert_true(collate_cmp(prev, str_at(it, "exampleId")) > 0);
            free(prev);
            prev = xstrdup(str_at(it, "exampleId"));
            hold++;
        }
        free(cursor);
        cursor = str_at(r, "nextCursor") ? xstrdup(str_at(r, "nextCursor")) : NULL;
        cJSON_Delete(r);
    } while (cursor);
    free(prev);
    assert_int_equal(hold, 40);
    call_fail(STORE_OP_x_examples_page, "invalid_input",
              "{\"signatureId\":\"%s\",\"cursor\":\"zz\"}", sig);
    for (int i = 0; i < 120; i++)
        free(ids[i]);
    free(sig);
}

/* ------------------------------------------------------------------ */
/* reports, blobs, var space                                          */

static void test_reports(void **state)
{
    (void)state;
    char *sig = uniq("sig-rep");
    cJSON *r = call_ok(STORE_OP_compile_put,
                       "{\"signatureId\":\"%s\",\"jobHash\":\"j1\",\"datasetId\":\"d\","
                       "\"datasetHash\":\"h1\",\"compiled_id\":\"c1\",\"json\":{\"n\":1}}",
                       sig);
    assert_false(bool_at(r, "existed"));
    cJSON_Delete(r);
    r = call_ok(STORE_OP_compile_put,
                "{\"signatureId\":\"%s\",\"jobHash\":\"j1\",\"datasetId\":\"d\","
                "\"datasetHash\":\"h1\",\"compiled_id\":\"c2\",\"json\":{\"n\":2}}",
                sig);
    assert_true(bool_at(r, "existed"));
    cJSON_Delete(r);
    DO(STORE_OP_compile_put,
       "{\"signatureId\":\"%s\",\"jobHash\":\"j1\",\"datasetId\":\"d\",\"datasetHash\":\"h2\","
       "\"compiled_id\":\"c3\",\"json\":{}}",
       sig);
    r = call_ok(STORE_OP_compile_get,
                "{\"signatureId\":\"%s\",\"jobHash\":\"j1\",\"datasetHash\":\"h1\"}", sig);
    assert_string_equal(str_at(r, "report.compiled_id"), "c1");
    assert_int_equal((int)num_at(r, "report.json.n"), 1);
    assert_string_equal(str_at(r, "report.datasetId"), "d");
    cJSON_Delete(r);
    r = call_ok(STORE_OP_compile_get,
                "{\"signatureId\":\"%s\",\"jobHash\":\"j9\",\"datasetHash\":\"h1\"}", sig);
    assert_true(null_at(r, "report"));
    cJSON_Delete(r);
    r = call_ok(STORE_OP_compile_list, "{\"signatureId\":\"%s\"}", sig);
    const cJSON *l = json_get(r, "reports");
    assert_int_equal(cJSON_GetArraySize(l), 2);
    assert_string_equal(str_at(cJSON_GetArrayItem(l, 0), "compiled_id"), "c3");
    assert_null(json_get(cJSON_GetArrayItem(l, 0), "json"));
    cJSON_Delete(r);

#define ev                                                                                 \
    "{\"signatureId\":\"%s\",\"evalHash\":\"%s\",\"compiled_id\":\"%s\",\"datasetId\":\"d\","       \
    "\"datasetHash\":\"h\",\"rewardId\":\"rw\",\"rewardVersion\":1,\"split\":\"holdout\","          \
    "\"n\":10,\"json\":{\"s\":0.5}}"
    r = call_ok(STORE_OP_eval_put, ev, sig, "e1", "c1");
    assert_false(bool_at(r, "existed"));
    cJSON_Delete(r);
    r = call_ok(STORE_OP_eval_put, ev, sig, "e1", "c9");
    assert_true(bool_at(r, "existed"));
    cJSON_Delete(r);
    DO(STORE_OP_eval_put, ev, sig, "e2", "c2");
    DO(STORE_OP_eval_put,
       "{\"signatureId\":\"%s\",\"evalHash\":\"e3\",\"compiled_id\":\"c1\",\"datasetId\":\"d\","
       "\"datasetHash\":\"h\",\"rewardId\":\"rw\",\"rewardVersion\":2,\"json\":{}}",
       sig);
    r = call_ok(STORE_OP_eval_get, "{\"signatureId\":\"%s\",\"evalHash\":\"e1\"}", sig);
    assert_string_equal(str_at(r, "report.compiled_id"), "c1");
    assert_true(num_at(r, "report.json.s") == 0.5);
    assert_int_equal((int)num_at(r, "report.n"), 10);
    assert_int_equal((int)num_at(r, "report.rewardVersion"), 1);
    assert_true(null_at(r, "report.selectedExampleIdsHash"));
    cJSON_Delete(r);
    r = call_ok(STORE_OP_eval_list, "{\"signatureId\":\"%s\",\"compiled_id\":\"c1\"}", sig);
    l = json_get(r, "reports");
    assert_int_equal(cJSON_GetArraySize(l), 2);
    assert_string_equal(str_at(cJSON_GetArrayItem(l, 0), "evalHash"), "e3");
    assert_true(null_at(cJSON_GetArrayItem(l, 0), "split"));
    assert_null(json_get(cJSON_GetArrayItem(l, 0), "json"));
    cJSON_Delete(r);
    r = call_ok(STORE_OP_eval_list, "{\"signatureId\":\"%s\"}", sig);
    assert_int_equal(cJSON_GetArraySize(json_get(r, "reports")), 3);
    cJSON_Delete(r);
    /* an empty compiled_id is no filter (the reference tests its length) */
    r = call_ok(STORE_OP_eval_list, "{\"signatureId\":\"%s\",\"compiled_id\":\"\"}", sig);
    assert_int_equal(cJSON_GetArraySize(json_get(r, "reports")), 3);
    cJSON_Delete(r);
    call_fail(STORE_OP_eval_put, "invalid_input",
              "{\"signatureId\":\"%s\",\"evalHash\":\"e4\",\"compiled_id\":\"c1\"}", sig);
#undef ev
    free(sig);
}

static void test_blobs(void **state)
{
    (void)state;
    char *thread = uniq("thread");
    cJSON *r = call_ok(STORE_OP_blobs_put,
                       "{\"threadId\":\"%s\",\"runId\":\"r\",\"text\":\"hello\",\"mime\":\"text/plain\"}",
                       thread);
    assert_string_equal(str_at(r, "blob.id"),
                        "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    assert_string_equal(str_at(r, "blob.hash"), str_at(r, "blob.id"));
    assert_int_equal((int)num_at(r, "blob.size"), 5);
    assert_string_equal(str_at(r, "blob.mime"), "text/plain");
    cJSON_Delete(r);
    r = call_ok(STORE_OP_blobs_put, "{\"threadId\":\"%s\",\"runId\":\"r\",\"text\":\"h\xc3\xa9\"}",
                thread);
    assert_int_equal((int)num_at(r, "blob.size"), 3); /* UTF-8 bytes */
    assert_null(json_get(json_get(r, "blob"), "mime"));
    cJSON_Delete(r);
    r = call_ok(STORE_OP_blobs_get,
                "{\"threadId\":\"%s\",\"runId\":\"r\",\"blobId\":\"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\"}",
                thread);
    assert_string_equal(str_at(r, "text"), "hello");
    cJSON_Delete(r);
    r = call_ok(STORE_OP_blobs_get_admin,
                "{\"threadId\":\"%s\",\"runId\":\"other\",\"blobId\":\"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\"}",
                thread);
    assert_true(null_at(r, "text")); /* scoped by (threadId, runId) */
    cJSON_Delete(r);
    free(thread);
}

static void test_var_space(void **state)
{
    (void)state;
    char *thread = uniq("thread");
#define base "{\"threadId\":\"%s\",\"runId\":\"r\",\"name\":\"%s\"%s}"
    DO(STORE_OP_var_put_json, base, thread, "  zeta ", ",\"value\":{\"b\":1,\"a\":[1,2]}");
    /* {ok, value: null | {_tag:"Json", value, approxChars} | {_tag:"Blob", blob}} */
    cJSON *r = call_ok(STORE_OP_var_get, base, thread, "zeta", "");
    assert_true(bool_at(r, "ok"));
    assert_int_equal(cJSON_GetArraySize(r), 2);
    assert_string_equal(str_at(r, "value._tag"), "Json");
    assert_int_equal((int)num_at(r, "value.approxChars"), 17); /* {"a":[1,2],"b":1} */
    assert_int_equal((int)num_at(r, "value.value.b"), 1);
    cJSON_Delete(r);
    call_fail(STORE_OP_var_put_json, "invalid_input", base, thread, "   ", ",\"value\":1");
    char name[200];
    memset(name, 'n', 129);
    name[129] = 0;
    call_fail(STORE_OP_var_put_json, "invalid_input", base, thread, name, ",\"value\":1");
    name[128] = 0;
    DO(STORE_OP_var_put_json, base, thread, name, ",\"value\":1");
    /* 50,000 characters of canonical JSON pass, one more fails */
    char *big = xmalloc(50001);
    memset(big, 'x', 49998);
    big[49998] = 0;
    char *val = xasprintf(",\"value\":\"%s\"", big);
    DO(STORE_OP_var_put_json, base, thread, "big", val);
    free(val);
    big[49998] = 'x';
    big[49999] = 0;
    val = xasprintf(",\"value\":\"%s\"", big);
    call_fail(STORE_OP_var_put_json, "invalid_input", base, thread, "big", val);
    free(val);
    free(big);
    r = call_ok(STORE_OP_var_get, base, thread, "big", "");
    assert_int_equal((int)num_at(r, "value.approxChars"), 50000);
    cJSON_Delete(r);
    /* switch kinds */
    DO(STORE_OP_var_put_blob, base, thread, "zeta",
       ",\"blob\":{\"id\":\"sha256:1\",\"hash\":\"sha256:1\",\"size\":4}");
    r = call_ok(STORE_OP_var_get, base, thread, "zeta", "");
    assert_string_equal(str_at(r, "value._tag"), "Blob");
    assert_string_equal(str_at(r, "value.blob.id"), "sha256:1");
    assert_null(json_path(r, "value.value"));
    cJSON_Delete(r);
    DO(STORE_OP_var_put_json, base, thread, "a_b", ",\"value\":1");
    DO(STORE_OP_var_put_json, base, thread, "a.b", ",\"value\":1");
    DO(STORE_OP_var_put_json, base, thread, "a-b", ",\"value\":1");
    DO(STORE_OP_var_put_json, base, thread, "\xc3\xa9t\xc3\xa9", ",\"value\":1"); /* été */
    DO(STORE_OP_var_put_json, base, thread, "f", ",\"value\":1");
    /* {ok, vars: [...]} in localeCompare order of name */
    r = call_ok(STORE_OP_var_list, "{\"threadId\":\"%s\",\"runId\":\"r\"}", thread);
    assert_true(bool_at(r, "ok"));
    const cJSON *vars = json_get(r, "vars");
    assert_int_equal(cJSON_GetArraySize(vars), 8);
    static const char *const want[] = {"a_b", "a-b", "a.b", "big", "\xc3\xa9t\xc3\xa9", "f"};
    for (int i = 0; i < 6; i++)
        assert_string_equal(str_at(cJSON_GetArrayItem(vars, i), "name"), want[i]);
    const cJSON *z = cJSON_GetArrayItem(vars, 7);
    assert_string_equal(str_at(z, "name"), "zeta");
    assert_string_equal(str_at(z, "kind"), "blob");
    assert_string_equal(str_at(cJSON_GetArrayItem(vars, 0), "kind"), "json");
    assert_int_equal((int)num_at(cJSON_GetArrayItem(vars, 0), "approxChars"), 1);
    cJSON_Delete(r);
    r = call_ok(STORE_OP_var_del, base, thread, "a.b", "");
    assert_true(bool_at(r, "existed"));
    cJSON_Delete(r);
    r = call_ok(STORE_OP_var_del, base, thread, "a.b", "");
    assert_false(bool_at(r, "existed"));
    cJSON_Delete(r);
    r = call_ok(STORE_OP_var_get, base, thread, "a.b", "");
    assert_true(bool_at(r, "ok"));
    assert_true(null_at(r, "value"));
    cJSON_Delete(r);
    /* 200 variables per run; overwriting an existing one is still fine */
    char *t2 = uniq("thread");
    for (int i = 0; i < 200; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "v%d", i);
        DO(STORE_OP_var_put_json, base, t2, nm, ",\"value\":1");
    }
    call_fail(STORE_OP_var_put_json, "invalid_input", base, t2, "v200", ",\"value\":1");
    DO(STORE_OP_var_put_json, base, t2, "v7", ",\"value\":2");
    DO(STORE_OP_var_del, base, t2, "v0", "");
    DO(STORE_OP_var_put_json, base, t2, "v200", ",\"value\":1");
#undef base
    free(t2);
    free(thread);
}

/* ------------------------------------------------------------------ */
/* ops runs                                                           */

static cJSON *run_get(const char *id)
{
    cJSON *r = call_ok(STORE_OP_runs_get, "{\"runId\":\"%s\"}", id);
    cJSON *run = cJSON_DetachItemFromObject(r, "run");
    cJSON_Delete(r);
    return run;
}

static cJSON *run_events(const char *id)
{
    cJSON *r = call_ok(STORE_OP_runs_events, "{\"runId\":\"%s\"}", id);
    cJSON *e = cJSON_DetachItemFromObject(r, "events");
    cJSON_Delete(r);
    return e;
}

static void test_ops_runs(void **state)
{
    (void)state;
    char *id = uniq("run");
    store_set_actor(st, "user_dse_admin");
    call_fail(STORE_OP_runs_start, "invalid_input", "{\"runId\":\"   \"}");
    char long_id[260];
    memset(long_id, 'r', 201);
    long_id[201] = 0;
    call_fail(STORE_OP_runs_start, "invalid_input", "{\"runId\":\"%s\"}", long_id);
    char sha[120];
    memset(sha, 'a', 100);
    sha[100] = 0;
    cJSON *r = call_ok(STORE_OP_runs_start,
                       "{\"runId\":\"  %s \",\"commitSha\":\"%s\",\"baseUrl\":\"http://x\","
                       "\"signatureIds\":[\"s1\",\"s2\"],\"notes\":\"n\",\"links\":{\"a\":1}}",
                       id, sha);
    assert_false(bool_at(r, "existed"));
    assert_string_equal(str_at(r, "runId"), id);
    cJSON_Delete(r);
    r = call_ok(STORE_OP_runs_start, "{\"runId\":\"%s\",\"notes\":\"other\"}", id);
    assert_true(bool_at(r, "existed"));
    cJSON_Delete(r);
    cJSON *run = run_get(id);
    assert_string_equal(str_at(run, "status"), "running");
    assert_int_equal(strlen(str_at(run, "commitSha")), 80);
    assert_string_equal(str_at(run, "notes"), "n");
    assert_int_equal((int)num_at(run, "links.a"), 1);
    assert_string_equal(cJSON_GetArrayItem(json_get(run, "signatureIds"), 1)->valuestring, "s2");
    assert_true(null_at(run, "endedAtMs") && null_at(run, "summaryJson"));
    if (!remote)
        assert_string_equal(str_at(run, "actorUserId"), "user_dse_admin");
    cJSON_Delete(run);
    cJSON *ev = run_events(id);
    assert_int_equal(cJSON_GetArraySize(ev), 1); /* the second start wrote nothing */
    assert_string_equal(str_at(cJSON_GetArrayItem(ev, 0), "phase"), "phase1.start");
    assert_string_equal(str_at(cJSON_GetArrayItem(ev, 0), "message"), "ops run started");
    assert_string_equal(str_at(cJSON_GetArrayItem(ev, 0), "level"), "info");
    cJSON_Delete(ev);

    call_fail(STORE_OP_runs_event, "run_not_found",
              "{\"runId\":\"missing-%s\",\"level\":\"info\",\"message\":\"m\"}", id);
    call_fail(STORE_OP_runs_event, "invalid_input",
              "{\"runId\":\"%s\",\"level\":\"info\",\"message\":\"   \"}", id);
    call_fail(STORE_OP_runs_event, "invalid_input",
              "{\"runId\":\"%s\",\"level\":\"debug\",\"message\":\"m\"}", id);
    char *msg = xmalloc(2600);
    memset(msg, 'm', 2500);
    msg[2500] = 0;
    DO(STORE_OP_runs_event, "{\"runId\":\"%s\",\"level\":\"warn\",\"message\":\"  %s\","
                            "\"tsMs\":-5,\"phase\":\"p\"}",
       id, msg);
    free(msg);
    DO(STORE_OP_runs_event, "{\"runId\":\"%s\",\"level\":\"info\",\"message\":\"x\",\"tsMs\":12.7}",
       id);
    /* the JSON size rule */
    char *big = xmalloc(60001);
    memset(big, 'j', 60000);
    big[60000] = 0;
    DO(STORE_OP_runs_event,
       "{\"runId\":\"%s\",\"level\":\"error\",\"message\":\"big\",\"json\":\"%s\"}", id, big);
    DO(STORE_OP_runs_finish, "{\"runId\":\"%s\",\"status\":\"failed\",\"summaryJson\":{\"s\":\"%s\"}}",
       id, big);
    call_fail(STORE_OP_runs_finish, "invalid_input", "{\"runId\":\"%s\",\"status\":\"done\"}", id);
    call_fail(STORE_OP_runs_finish, "run_not_found",
              "{\"runId\":\"missing-%s\",\"status\":\"finished\"}", id);
    free(big);

    ev = run_events(id); /* newest first */
    assert_int_equal(cJSON_GetArraySize(ev), 5);
    const cJSON *fin = cJSON_GetArrayItem(ev, 0);
    assert_string_equal(str_at(fin, "phase"), "phase1.finish");
    assert_string_equal(str_at(fin, "message"), "ops run finished status=failed");
    assert_string_equal(str_at(fin, "level"), "error");
    assert_string_equal(str_at(fin, "json._tag"), "truncated_json");
    const cJSON *bigev = cJSON_GetArrayItem(ev, 1);
    assert_string_equal(str_at(bigev, "json._tag"), "truncated_json");
    assert_int_equal((int)num_at(bigev, "json.approxChars"), 60002);
    assert_int_equal(strlen(str_at(bigev, "json.preview")), 50000);
    assert_int_equal((int)num_at(cJSON_GetArrayItem(ev, 2), "tsMs"), 12);
    const cJSON *warn = cJSON_GetArrayItem(ev, 3);
    assert_int_equal((int)num_at(warn, "tsMs"), 0);
    assert_int_equal(strlen(str_at(warn, "message")), 2000);
    assert_string_equal(str_at(warn, "phase"), "p");
    assert_true(null_at(warn, "json"));
    cJSON_Delete(ev);
    run = run_get(id);
    assert_string_equal(str_at(run, "status"), "failed");
    assert_true(cJSON_IsNumber(json_get(run, "endedAtMs")));
    assert_string_equal(str_at(run, "summaryJson._tag"), "truncated_json");
    cJSON_Delete(run);
    /* finishing twice is allowed */
    DO(STORE_OP_runs_finish, "{\"runId\":\"%s\",\"status\":\"finished\",\"summaryJson\":{\"ok\":1}}",
       id);
    run = run_get(id);
    assert_string_equal(str_at(run, "status"), "finished");
    assert_int_equal((int)num_at(run, "summaryJson.ok"), 1);
    cJSON_Delete(run);
    run = run_get("no-such-run-xyz");
    assert_true(cJSON_IsNull(run));
    cJSON_Delete(run);

    r = call_ok(STORE_OP_runs_list, "{\"limit\":200}");
    bool found = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, json_get(r, "runs"))
    {
        if (util_streq(str_at(it, "runId"), id)) {
            found = true;
            assert_null(json_get(it, "notes"));
            assert_null(json_get(it, "summaryJson"));
            assert_true(cJSON_IsArray(json_get(it, "signatureIds")));
        }
    }
    assert_true(found);
    cJSON_Delete(r);

    if (store_has_op(st, STORE_OP_x_events_page)) {
        /* oldest first, in insertion order */
        int n = 0;
        char *cursor = NULL;
        static const char *const order[] = {"ops run started", NULL, "x", "big",
                                            "ops run finished status=failed",
                                            "ops run finished status=finished"};
        do {
            char curarg[64] = "";
            if (cursor)
                snprintf(curarg, sizeof curarg, ",\"cursor\":\"%s\"", cursor);
            r = call_ok(STORE_OP_x_events_page, "{\"runId\":\"%s\",\"limit\":4%s}", id, curarg);
            cJSON_ArrayForEach(it, json_get(r, "items"))
            {
                assert_true(n < 6);
                if (order[n])
                    assert_string_equal(str_at(it, "message"), order[n]);
                n++;
            }
            free(cursor);
            cursor = str_at(r, "nextCursor") ? xstrdup(str_at(r, "nextCursor")) : NULL;
            cJSON_Delete(r);
        } while (cursor);
        assert_int_equal(n, 6);
    }
    free(id);
}

/* ------------------------------------------------------------------ */
/* extensions                                                         */

static void test_catalog_stats_cache_changes(void **state)
{
    (void)state;
    NEED(STORE_OP_x_sig_put);
    NEED(STORE_OP_x_changes);
    char *sig = uniq("@test/sig");
    cJSON *c0 = call_ok(STORE_OP_x_changes, "{}");
    double before = num_at(c0, "counter");
    cJSON_Delete(c0);
    cJSON *r = call_ok(STORE_OP_x_sig_put, "{\"signature\":{\"signatureId\":\"%s\",\"v\":1}}", sig);
    assert_false(bool_at(r, "existed"));
    cJSON_Delete(r);
    r = call_ok(STORE_OP_x_sig_put, "{\"signature\":{\"v\":1,\"signatureId\":\"%s\"}}", sig);
    assert_true(bool_at(r, "existed"));
    assert_false(bool_at(r, "changed")); /* same canonical JSON */
    cJSON_Delete(r);
    r = call_ok(STORE_OP_x_sig_put, "{\"signature\":{\"signatureId\":\"%s\",\"v\":2}}", sig);
    assert_true(bool_at(r, "changed"));
    cJSON_Delete(r);
    c0 = call_ok(STORE_OP_x_changes, "{}");
    assert_true(num_at(c0, "counter") >= before + 3);
    cJSON_Delete(c0);
    r = call_ok(STORE_OP_x_sig_get, "{\"signatureId\":\"%s\"}", sig);
    assert_int_equal((int)num_at(r, "signature.v"), 2);
    cJSON_Delete(r);
    r = call_ok(STORE_OP_x_sig_get, "{\"signatureId\":\"none-%s\"}", sig);
    assert_true(null_at(r, "signature"));
    cJSON_Delete(r);
    r = call_ok(STORE_OP_x_sig_list, "{}");
    const cJSON *it;
    const char *prev = "";
    bool found = false;
    cJSON_ArrayForEach(it, json_get(r, "signatures"))
    {
        assert_true(strcmp(prev, str_at(it, "signatureId")) < 0);
        prev = str_at(it, "signatureId");
        found |= strcmp(prev, sig) == 0;
    }
    assert_true(found);
    cJSON_Delete(r);
    call_fail(STORE_OP_x_sig_put, "invalid_input", "{\"signature\":{\"v\":1}}");

    /* stats */
    char *thread = uniq("thread");
    if (!remote)
        pin_time(1750000000000);
    char *r1 = uniq("rc"), *r2 = uniq("rc"), *r3 = uniq("rc");
    cJSON_Delete(record(thread, sig, "c", r1, "Ok"));
    if (!remote)
        pin_time(1750000001000);
    cJSON_Delete(record(thread, sig, "c", r2, "Error"));
    cJSON_Delete(record(thread, sig, "c", r3, "Ok"));
    DO(STORE_OP_examples_put,
       "{\"signatureId\":\"%s\",\"exampleId\":\"e\",\"inputJson\":1,\"expectedJson\":1}", sig);
    char *rid = uniq("run");
    DO(STORE_OP_runs_start, "{\"runId\":\"%s\",\"signatureIds\":[\"other\",\"%s\"]}", rid, sig);
    r = call_ok(STORE_OP_x_sig_stats, "{\"signatureId\":\"%s\",\"sinceMs\":0}", sig);
    assert_int_equal((int)num_at(r, "receipts"), 3);
    assert_int_equal((int)num_at(r, "errors"), 1);
    assert_int_equal((int)num_at(r, "examples"), 1);
    assert_string_equal(str_at(r, "lastRunId"), rid);
    assert_true(null_at(r, "lastCompileAtMs"));
    if (!remote)
        assert_true(num_at(r, "lastReceiptAtMs") == 1750000001000.0);
    cJSON_Delete(r);
    if (!remote) {
        r = call_ok(STORE_OP_x_sig_stats, "{\"signatureId\":\"%s\",\"sinceMs\":1750000000500}", sig);
        assert_int_equal((int)num_at(r, "receipts"), 2);
        assert_int_equal((int)num_at(r, "errors"), 1);
        cJSON_Delete(r);
    }
    free(r1);
    free(r2);
    free(r3);
    free(rid);
    free(thread);

    /* LM cache */
    if (store_has_op(st, STORE_OP_x_lm_put)) {
        char *key = uniq("sha256:lm");
        r = call_ok(STORE_OP_x_lm_get, "{\"key\":\"%s\"}", key);
        assert_true(null_at(r, "entry"));
        cJSON_Delete(r);
        r = call_ok(STORE_OP_x_lm_put,
                    "{\"key\":\"%s\",\"model\":\"m1\",\"response\":{\"text\":\"hi\"}}", key);
        assert_false(bool_at(r, "existed"));
        cJSON_Delete(r);
        r = call_ok(STORE_OP_x_lm_put,
                    "{\"key\":\"%s\",\"model\":\"m2\",\"response\":{\"text\":\"other\"}}", key);
        assert_true(bool_at(r, "existed"));
        cJSON_Delete(r);
        r = call_ok(STORE_OP_x_lm_get, "{\"key\":\"%s\"}", key);
        assert_string_equal(str_at(r, "entry.response.text"), "hi");
        assert_string_equal(str_at(r, "entry.model"), "m1");
        cJSON_Delete(r);
        /* get is a query: no per-entry hit count to bump */
        r = call_ok(STORE_OP_x_lm_get, "{\"key\":\"%s\"}", key);
        assert_string_equal(str_at(r, "entry.response.text"), "hi");
        assert_null(json_path(r, "entry.hits"));
        cJSON_Delete(r);
        free(key);
    }
    if (store_has_op(st, STORE_OP_x_info)) {
        r = call_ok(STORE_OP_x_info, "{}");
        assert_int_equal((int)num_at(r, "schemaVersion"), store_schema_version());
        assert_true(cJSON_IsArray(json_get(r, "extensions")));
        cJSON_Delete(r);
    }
    free(sig);
}

/* ------------------------------------------------------------------ */
/* SQLite files: migrations, refusals, read-only                      */

static char *tmp_path(const char *name)
{
    return xasprintf("%s/%s", tmpdir, name);
}

static int side_user_version(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void test_migrate_empty_file(void **state)
{
    (void)state;
    NEED_SQLITE();
    char *path = tmp_path("empty-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct dse_err err;
    struct store *s2 = store_open_sqlite(path, STORE_NO_CREATE, &err);
    if (!s2)
        fail_msg("%s: %s", err.code, err.msg);
    store_close(s2);
    assert_int_equal(side_user_version(path), store_schema_version());
    assert_true(store_schema_version() >= 1);
    /* readable by plain sqlite3: WAL, integrity ok, our tables */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_exec(db, "SELECT count(*) FROM receipts, dseMeta", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    /* reopening is a no-op migration */
    s2 = store_open_sqlite(path, 0, &err);
    assert_non_null(s2);
    store_close(s2);
    assert_int_equal(side_user_version(path), store_schema_version());
    free(path);
}

static char *slurp(const char *path, size_t *n)
{
    char *d = util_read_file(path, 1u << 26, n);
    assert_non_null(d);
    return d;
}

static void test_refuse_newer_schema(void **state)
{
    (void)state;
    NEED_SQLITE();
    char *path = tmp_path("newer.db");
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *sql = xasprintf("CREATE TABLE dseMeta (id INTEGER PRIMARY KEY, changeCounter INT); "
                          "CREATE TABLE future (x); PRAGMA user_version = %d;",
                          store_schema_version() + 1);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    free(sql);
    sqlite3_close(db);
    size_t n0, n1;
    char *before = slurp(path, &n0);
    struct stat sb0, sb1;
    assert_int_equal(stat(path, &sb0), 0);
    struct dse_err err;
    for (unsigned flags = 0; flags <= STORE_READ_ONLY; flags++) {
        assert_null(store_open_sqlite(path, flags, &err));
        assert_string_equal(err.code, "schema_too_new");
        assert_non_null(strstr(err.msg, path));
    }
    char *after = slurp(path, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    assert_int_equal(stat(path, &sb1), 0);
    assert_int_equal(sb0.st_mtime, sb1.st_mtime);
    assert_int_equal(side_user_version(path), store_schema_version() + 1);
    free(before);
    free(after);
    free(path);
}

static void test_open_refusals(void **state)
{
    (void)state;
    NEED_SQLITE();
    struct dse_err err;
    char *missing = tmp_path("missing/dse.db");
    assert_null(store_open_sqlite(missing, STORE_NO_CREATE, &err));
    assert_string_equal(err.code, "store_not_found");
    assert_null(store_open_sqlite(missing, STORE_READ_ONLY, &err));
    assert_string_equal(err.code, "store_not_found");
    free(missing);

    /* garbage: a clear error naming the path, file untouched */
    char *junk = tmp_path("junk.db");
    char text[4096];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "not a database, just text\n"[i % 26];
    assert_int_equal(util_write_file_atomic(junk, text, sizeof text), 0);
    assert_null(store_open_sqlite(junk, 0, &err));
    assert_string_equal(err.code, "not_a_database");
    assert_non_null(strstr(err.msg, junk));
    size_t n;
    char *after = slurp(junk, &n);
    assert_int_equal(n, sizeof text);
    assert_memory_equal(after, text, n);
    free(after);
    free(junk);

    /* a directory */
    assert_null(store_open_sqlite(tmpdir, 0, &err));
    assert_string_equal(err.code, "not_a_database");

    /* another application's SQLite file */
    char *other = tmp_path("other.db");
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_null(store_open_sqlite(other, 0, &err));
    assert_string_equal(err.code, "not_a_database");
    free(other);

    /* parent directories are created */
    char *deep = tmp_path("a/b/c/dse.db");
    struct store *s2 = store_open_sqlite(deep, 0, &err);
    if (!s2)
        fail_msg("%s: %s", err.code, err.msg);
    store_close(s2);
    assert_int_equal(side_user_version(deep), store_schema_version());
    free(deep);
}

static void test_read_only(void **state)
{
    (void)state;
    NEED_SQLITE();
    char *path = tmp_path("ro.db");
    struct dse_err err;
    struct store *rw = store_open_sqlite(path, 0, &err);
    assert_non_null(rw);
    cJSON *a = NULL;
    struct dse_err perr;
    a = json_parse_str("{\"signatureId\":\"s\",\"compiled_id\":\"c\",\"json\":{}}", &perr);
    assert_int_equal(store_call(rw, STORE_OP_artifacts_put, a, NULL, &err), 0);
    store_close(rw);

    struct store *ro = store_open_sqlite(path, STORE_READ_ONLY, &err);
    if (!ro)
        fail_msg("%s: %s", err.code, err.msg);
    assert_true(ro->read_only);
    cJSON *out = NULL;
    assert_int_equal(store_call(ro, STORE_OP_artifacts_get, a, &out, &err), 0);
    assert_true(cJSON_IsObject(json_get(out, "artifact")));
    cJSON_Delete(out);
    assert_int_equal(store_call(ro, STORE_OP_artifacts_put, a, &out, &err), -1);
    assert_string_equal(err.code, "read_only");
    assert_null(out);
    cJSON *lm = json_parse_str("{\"key\":\"k\"}", &perr);
    assert_int_equal(store_call(ro, STORE_OP_x_lm_get, lm, &out, &err), 0); /* no hit bump */
    cJSON_Delete(out);
    cJSON_Delete(lm);
    /* even bypassing store_call, SQLite itself refuses the write */
    assert_int_equal(ro->ops->fn[STORE_OP_artifacts_put](ro, a, &out, &err), -1);
    assert_string_equal(err.code, "storage_error");
    store_close(ro);
    cJSON_Delete(a);

    /* an unmigrated file opened read-only */
    char *empty = tmp_path("ro-empty-XXXXXX");
    int fd = mkstemp(empty);
    close(fd);
    assert_null(store_open_sqlite(empty, STORE_READ_ONLY, &err));
    assert_string_equal(err.code, "needs_migration");
    struct stat sb;
    assert_int_equal(stat(empty, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    free(empty);
    free(path);
}

/* poll_changes moves after our own commits and after another connection's. */
static void test_poll_changes(void **state)
{
    (void)state;
    NEED_SQLITE();
    struct dse_err err;
    struct store *other = store_open_sqlite(db_path, 0, &err);
    assert_non_null(other);
    uint64_t v0 = store_poll_changes(st);
    assert_true(v0 != 0);
    assert_true(store_poll_changes(st) == v0);
    cJSON *a = json_parse_str("{\"signatureId\":\"poll\",\"compiled_id\":\"c\",\"json\":{}}", &err);
    assert_int_equal(store_call(other, STORE_OP_artifacts_put, a, NULL, &err), 0);
    uint64_t v1 = store_poll_changes(st);
    assert_true(v1 != v0);
    assert_int_equal(store_call(st, STORE_OP_artifacts_put, a, NULL, &err), 0);
    uint64_t v2 = store_poll_changes(st);
    assert_true(v2 != v1);
    /* reads do not move it */
    assert_int_equal(store_call(st, STORE_OP_artifacts_get, a, NULL, &err), 0);
    assert_true(store_poll_changes(st) == v2);
    cJSON_Delete(a);
    store_close(other);
}

/* A missing table (a damaged store) is a storage_error and leaves no
 * transaction open: the next operation works. */
static void test_storage_error_no_open_tx(void **state)
{
    (void)state;
    NEED_SQLITE();
    char *path = tmp_path("damaged.db");
    struct dse_err err;
    struct store *s2 = store_open_sqlite(path, 0, &err);
    assert_non_null(s2);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DROP TABLE dseCanaryHistory", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    cJSON *a = json_parse_str("{\"signatureId\":\"s\"}", &err);
    assert_int_equal(store_call(s2, STORE_OP_canary_history, a, NULL, &err), -1);
    assert_string_equal(err.code, "storage_error");
    assert_int_equal(store_call(s2, STORE_OP_active_clear, a, NULL, &err), 0);
    cJSON_Delete(a);
    store_close(s2);
    free(path);
}


/* Hourly receipt counts plus the partial hour give exact counts for any
 * sinceMs. */
static void test_stats_hour_boundaries(void **state)
{
    (void)state;
    NEED_SQLITE();
    char *sig = uniq("sig-hours"), *thread = uniq("thread");
    const int64_t H = 1900000800000; /* an hour boundary (multiple of 3,600,000) */
    const struct {
        int64_t at;
        const char *tag;
    } rc[] = {{H + 600000, "Ok"},      {H + 3540000, "Error"}, {H + 3600000 + 300000, "Ok"},
              {H + 7200000, "Error"},  {H - 1, "Ok"}};
    for (size_t i = 0; i < ARRAY_LEN(rc); i++) {
        pin_time(rc[i].at);
        char *rid = uniq("rc");
        cJSON_Delete(record(thread, sig, "c", rid, rc[i].tag));
        free(rid);
    }
    const struct {
        int64_t since;
        int receipts, errors;
    } q[] = {{0, 5, 2},           {H, 4, 2},           {H + 1800000, 3, 2}, {H + 3600000, 2, 1},
             {H + 3600001, 2, 1}, {H + 7200000, 1, 1}, {H + 7200001, 0, 0}, {H - 1, 5, 2},
             {-5, 5, 2}};
    for (size_t i = 0; i < ARRAY_LEN(q); i++) {
        cJSON *r = call_ok(STORE_OP_x_sig_stats, "{\"signatureId\":\"%s\",\"sinceMs\":%lld}", sig,
                           (long long)q[i].since);
        if ((int)num_at(r, "receipts") != q[i].receipts || (int)num_at(r, "errors") != q[i].errors)
            fail_msg("since %lld: %d/%d, want %d/%d", (long long)q[i].since,
                     (int)num_at(r, "receipts"), (int)num_at(r, "errors"), q[i].receipts,
                     q[i].errors);
        assert_true(num_at(r, "lastReceiptAtMs") == (double)(H + 7200000));
        cJSON_Delete(r);
    }
    cJSON *r = call_ok(STORE_OP_x_sig_stats, "{\"signatureId\":\"%s\"}", sig);
    assert_int_equal((int)num_at(r, "receipts"), 5);
    assert_true(null_at(r, "lastRunId"));
    assert_int_equal((int)num_at(r, "examples"), 0);
    cJSON_Delete(r);
    free(sig);
    free(thread);
}

static int side_count(const char *sql)
{
    sqlite3 *db = side_db();
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("side SQL: %s: %s", sqlite3_errmsg(db), sql);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

/* After everything above, the running counters equal counts of the rows. */
static void test_counters_match_rows(void **state)
{
    (void)state;
    NEED_SQLITE();
    static const char *const checks[] = {
        "SELECT count(*) FROM (SELECT signatureId, hourMs, receipts, errors FROM dseReceiptHourly "
        "EXCEPT SELECT signatureId, createdAtMs - ((createdAtMs % 3600000) + 3600000) % 3600000, "
        "count(*), sum(resultTag IS 'Error') FROM receipts WHERE signatureId IS NOT NULL "
        "GROUP BY 1, 2)",
        "SELECT count(*) FROM (SELECT signatureId, createdAtMs - ((createdAtMs % 3600000) + "
        "3600000) % 3600000, count(*), sum(resultTag IS 'Error') FROM receipts WHERE signatureId "
        "IS NOT NULL GROUP BY 1, 2 EXCEPT SELECT signatureId, hourMs, receipts, errors FROM "
        "dseReceiptHourly)",
        "SELECT count(*) FROM (SELECT signatureId, split, reviewStatus, n FROM dseExampleCounts "
        "WHERE n <> 0 EXCEPT SELECT signatureId, coalesce(split, ''), coalesce(reviewStatus, ''), "
        "count(*) FROM dseExamples GROUP BY 1, 2, 3)",
        "SELECT count(*) FROM (SELECT signatureId, coalesce(split, ''), coalesce(reviewStatus, ''), "
        "count(*) FROM dseExamples GROUP BY 1, 2, 3 EXCEPT SELECT signatureId, split, "
        "reviewStatus, n FROM dseExampleCounts WHERE n <> 0)",
        "SELECT count(*) FROM dseExampleCounts WHERE n < 0",
    };
    assert_true(side_count("SELECT count(*) FROM dseExamples") > 100);
    assert_true(side_count("SELECT count(*) FROM receipts") > 1000);
    for (size_t i = 0; i < ARRAY_LEN(checks); i++)
        if (side_count(checks[i]) != 0)
            fail_msg("counter mismatch: %s", checks[i]);
}

/* A version-1 store with rows is migrated to the current version and its
 * counters are filled from the rows already there. */
static void test_migrate_from_v1(void **state)
{
    (void)state;
    NEED_SQLITE();
    if (store_schema_version() < 2)
        skip();
    const char *src = getenv("DSE_SRCDIR");
    char *v1 = xasprintf("%s/db/migrations/001_initial.sql", src ? src : ".");
    size_t n;
    char *sql = util_read_file(v1, 1u << 20, &n);
    if (!sql)
        fail_msg("cannot read %s (set DSE_SRCDIR)", v1);
    char *path = tmp_path("v1.db");
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "INSERT INTO receipts (threadId, runId, kind, json, receiptId, signatureId, "
                     "compiled_id, createdAtMs, resultTag) VALUES "
                     "('t', 'r', 'dse.predict', '{}', 'a', 'S', 'c', 7200000, 'Ok'), "
                     "('t', 'r', 'dse.predict', '{}', 'b', 'S', 'c', 7200001, 'Error'), "
                     "('t', 'r', 'dse.predict', '{}', 'c', 'S', 'c', 10800000, 'Error');"
                     "INSERT INTO dseExamples (signatureId, exampleId, sortKey, inputJson, "
                     "expectedJson, split, reviewStatus, createdAtMs, updatedAtMs) VALUES "
                     "('S', 'e1', x'01', '1', '1', 'train', 'accepted', 1, 1), "
                     "('S', 'e2', x'02', '1', '1', NULL, NULL, 1, 1);"
                     "PRAGMA user_version = 1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    free(sql);
    free(v1);
    struct dse_err err;
    struct store *s2 = store_open_sqlite(path, 0, &err);
    if (!s2)
        fail_msg("%s: %s", err.code, err.msg);
    assert_int_equal(side_user_version(path), store_schema_version());
    struct store *keep = st;
    st = s2;
    cJSON *r = call_ok(STORE_OP_x_sig_stats, "{\"signatureId\":\"S\",\"sinceMs\":0}");
    assert_int_equal((int)num_at(r, "receipts"), 3);
    assert_int_equal((int)num_at(r, "errors"), 2);
    assert_int_equal((int)num_at(r, "examples"), 2);
    cJSON_Delete(r);
    r = call_ok(STORE_OP_x_sig_stats, "{\"signatureId\":\"S\",\"sinceMs\":7200001}");
    assert_int_equal((int)num_at(r, "receipts"), 2);
    cJSON_Delete(r);
    r = call_ok(STORE_OP_x_examples_counts, "{\"signatureId\":\"S\"}");
    assert_int_equal((int)num_at(r, "splits.train"), 1);
    assert_int_equal((int)num_at(r, "splits.none"), 1);
    assert_int_equal((int)num_at(r, "accepted"), 1);
    cJSON_Delete(r);
    st = keep;
    store_close(s2);
    free(path);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, test_setup)
    const struct CMUnitTest tests[] = {
        T(test_rollback_toggles),
        T(test_rollback_after_clear),
        T(test_rollback_no_history),
        T(test_rollback_single_set_clears),
        T(test_rollback_pointer_without_history),
        T(test_rollback_clear_row_newer),
        T(test_rollback_target_missing),
        T(test_history_actions_and_actor),
        T(test_set_active_rules),
        T(test_artifacts_and_limits),
        T(test_history_limit_max),
        T(test_canary_start_errors),
        T(test_canary_clamps),
        T(test_canary_update_resets_and_stop),
        T(test_autostop_threshold_not_exceeded),
        T(test_autostop_at_threshold),
        T(test_autostop_reason_rounding),
        T(test_control_and_untagged_never_counted),
        T(test_duplicate_receipt_counted_once),
        T(test_receipt_get_and_projection),
        T(test_receipts_keyset_paging),
        T(test_receipts_batch_rules),
        T(test_examples_upsert_and_order),
        T(test_examples_import_all_or_nothing),
        T(test_examples_page),
        T(test_reports),
        T(test_blobs),
        T(test_var_space),
        T(test_ops_runs),
        T(test_catalog_stats_cache_changes),
        T(test_stats_hour_boundaries),
        T(test_counters_match_rows),
        T(test_migrate_empty_file),
        T(test_migrate_from_v1),
        T(test_refuse_newer_schema),
        T(test_open_refusals),
        T(test_read_only),
        T(test_poll_changes),
        T(test_storage_error_no_open_tx),
    };
#undef T
    return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
