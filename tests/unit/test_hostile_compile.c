/* kill -9 of a compile, then resume (reliability-anchors §7 item 11 for the
 * engine; DESIGN.md §3 "a crashed compile resumes from the cache").
 *
 * A fixed-latency fake chat-completions server (support_fakelm) runs in its
 * own forked process.  Each round: a fresh store with the SelectTool
 * dataset; a child process compiles through the openai provider wrapped in
 * the store-backed response cache and is killed with SIGKILL at a seeded
 * random moment; then the parent checks PRAGMA integrity_check, compiles
 * again with a new client, and requires
 *   - the resumed compile succeeds with the same compiled_id, train and
 *     holdout rewards as an uninterrupted compile,
 *   - provider calls + cache hits of the resumed compile = the calls of an
 *     uninterrupted one (every answer the killed compile cached is reused,
 *     none is fetched twice),
 * and, over all rounds, that some answers were reused (the kill points span
 * the compile).  Rounds: DSE_COMPILE_KILL_ROUNDS (default 2; check-long 20).
 * Nothing here depends on timing: the kill moment only decides how much
 * work the resume finds done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "compile.h"
#include "dataset.h"
#include "json.h"
#include "lm.h"
#include "store.h"
#include "support_fakelm.h"
#include "util.h"

#define SIG "@openagents/autopilot/blueprint/SelectTool.v1"
#define LATENCY_MS 4

static pid_t lm_pid;
static char lm_url[64];
static char dataset[1024];

/* The fake LM in its own process, so compile children are forked from a
 * process without server threads. */
static int start_fake(void **state)
{
    (void)state;
    const char *src = getenv("DSE_SRCDIR");
    snprintf(dataset, sizeof dataset, "%s/tests/fuzz/corpus/fuzz_dataset/selecttool.jsonl",
             src ? src : ".");
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    lm_pid = fork();
    if (lm_pid == 0) {
        close(fds[0]);
        struct fakelm *f = fakelm_start_latency(0, LATENCY_MS);
        if (!f)
            _exit(1);
        fakelm_set_default(f, (struct fakelm_step){.kind = FAKELM_OK,
                                                   .content = "{\"action\":\"none\"}",
                                                   .delay_ms = LATENCY_MS});
        int port = fakelm_port(f);
        if (write(fds[1], &port, sizeof port) != sizeof port)
            _exit(1);
        close(fds[1]);
        for (;;)
            pause();
    }
    close(fds[1]);
    int port = 0;
    if (read(fds[0], &port, sizeof port) != sizeof port)
        return -1;
    close(fds[0]);
    snprintf(lm_url, sizeof lm_url, "http://127.0.0.1:%d", port);
    setenv("DSE_TEST_LM_KEY", "test-key-not-secret", 1);
    return 0;
}

static int stop_fake(void **state)
{
    (void)state;
    kill(lm_pid, SIGKILL);
    waitpid(lm_pid, NULL, 0);
    return 0;
}

static struct store *fresh_store(const char *path)
{
    struct dse_err err;
    unlink(path);
    char side[1100];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    struct store *st = store_open_sqlite(path, 0, &err);
    assert_non_null(st);
    assert_int_equal(catalog_install(st, NULL, NULL, NULL, &err), 0);
    cJSON *sig = store_signature(st, SIG, &err);
    assert_non_null(sig);
    struct dataset_import_result res;
    if (dataset_import_file(st, sig, dataset, "test", &res, &err) < 0)
        fail_msg("import %s: %s", dataset, err.msg);
    cJSON_Delete(sig);
    return st;
}

static int compile_once(struct store *st, struct compile_result *cr, struct dse_err *err)
{
    struct lm_config cfg = {.provider = "openai",
                            .base_url = lm_url,
                            .model = "fake",
                            .api_key_env = "DSE_TEST_LM_KEY",
                            .concurrency = 4,
                            .max_retries = 0};
    struct lm_client *inner = lm_open(&cfg, err);
    if (!inner)
        return -1;
    struct lm_client *lm = lm_cache_wrap(inner, st);
    struct compile_opts o = {.signature_id = SIG, .lm = lm, .concurrency = 4};
    int rc = compile_run(st, &o, cr, err);
    lm_close(lm);
    return rc;
}

static void test_kill_and_resume(void **state)
{
    (void)state;
    char dir[] = "/tmp/dse-compile-kill-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char db[128];
    snprintf(db, sizeof db, "%s/c.db", dir);
    struct dse_err err;

    /* the uninterrupted compile */
    struct store *st = fresh_store(db);
    struct compile_result clean;
    if (compile_once(st, &clean, &err) < 0)
        fail_msg("clean compile: %s: %s", err.code, err.msg);
    uint64_t clean_calls = clean.lm_calls + clean.cache_hits;
    store_close(st);
    assert_true(clean_calls > 0);

    const char *rs = getenv("DSE_COMPILE_KILL_ROUNDS");
    int rounds = rs && *rs ? atoi(rs) : 2;
    uint64_t seed = 7, reused = 0;
    for (int round = 0; round < rounds; round++) {
        st = fresh_store(db);
        store_close(st);
        pid_t pid = fork();
        if (pid == 0) {
            struct dse_err e;
            struct store *cs = store_open_sqlite(db, STORE_NO_CREATE, &e);
            struct compile_result r;
            if (!cs || compile_once(cs, &r, &e) < 0)
                _exit(3);
            _exit(0); /* finished before the kill: fine, resume finds it all */
        }
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        /* somewhere in the first ~80% of an uninterrupted compile */
        long ms = 30 + (long)((seed >> 33) % (uint64_t)(clean.wall_ms * 8 / 10 + 1));
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
            fail_msg("round %d: the compile failed by itself (exit %d)", round,
                     WEXITSTATUS(status));

        sqlite3 *h;
        assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        sqlite3_stmt *s;
        assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
        sqlite3_finalize(s);
        sqlite3_close(h);

        st = store_open_sqlite(db, STORE_NO_CREATE, &err);
        assert_non_null(st);
        struct compile_result res;
        if (compile_once(st, &res, &err) < 0)
            fail_msg("round %d: resume after kill at %ld ms: %s: %s", round, ms, err.code,
                     err.msg);
        store_close(st);
        printf("round %d: killed at %ld ms; resume: %llu provider calls, %llu cache hits%s\n",
               round, ms, (unsigned long long)res.lm_calls, (unsigned long long)res.cache_hits,
               res.existed ? " (the killed compile had finished)" : "");
        assert_string_equal(res.compiled_id, clean.compiled_id);
        if (!res.existed) {
            assert_true(res.train_reward == clean.train_reward);
            assert_true(res.holdout_reward == clean.holdout_reward);
            if (res.lm_calls + res.cache_hits != clean_calls)
                fail_msg("round %d: resumed compile made %llu calls + %llu hits, an "
                         "uninterrupted one %llu",
                         round, (unsigned long long)res.lm_calls,
                         (unsigned long long)res.cache_hits, (unsigned long long)clean_calls);
            reused += res.cache_hits;
        } else {
            reused += clean_calls;
        }
        compile_result_free(&res);
    }
    compile_result_free(&clean);
    if (rounds > 0)
        assert_true(reused > 0);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_and_resume),
    };
    return cmocka_run_group_tests(tests, start_fake, stop_fake);
}
