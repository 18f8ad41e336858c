/* A query never writes.  dsex/lmCache:get used to count hits by updating
 * the row inside the query; now every query runs with PRAGMA query_only
 * on, and an LM cache hit (through lm.c) leaves the store byte-identical:
 * the database and WAL files, PRAGMA data_version seen by another
 * connection, total_changes, and the change counter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "json.h"
#include "lm.h"
#include "store.h"
#include "util.h"

struct fx {
    char dir[64];
    char path[96];
};

static int setup(void **state)
{
    struct fx *fx = xcalloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/dse-qro-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->path, sizeof fx->path, "%s/s.db", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    char p[128];
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < ARRAY_LEN(sfx); i++) {
        snprintf(p, sizeof p, "%s%s", fx->path, sfx[i]);
        unlink(p);
    }
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* The bytes of the database file and its WAL, hashed. */
static void files_digest(const struct fx *fx, char out[HASH_ID_LEN + 1])
{
    struct sbuf all = {0};
    static const char *const sfx[] = {"", "-wal"};
    for (size_t i = 0; i < ARRAY_LEN(sfx); i++) {
        char p[128];
        snprintf(p, sizeof p, "%s%s", fx->path, sfx[i]);
        FILE *f = fopen(p, "rb");
        sbuf_printf(&all, "[%s]", sfx[i]);
        if (!f)
            continue;
        char buf[8192];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            sbuf_add(&all, buf, n);
        fclose(f);
    }
    hash_bytes(all.s ? all.s : "", all.len, out);
    sbuf_free(&all);
}

static struct store *open_rw(const char *path)
{
    struct dse_err err;
    struct store *st = store_open_sqlite(path, 0, &err);
    if (!st)
        fail_msg("open %s: %s: %s", path, err.code, err.msg);
    return st;
}

static cJSON *call(struct store *st, enum store_op op, const char *args)
{
    struct dse_err err;
    cJSON *a = json_parse_str(args, &err), *out = NULL;
    assert_non_null(a);
    if (store_call(st, op, a, &out, &err) < 0)
        fail_msg("%s: %s: %s", store_op_info(op)->path, err.code, err.msg);
    cJSON_Delete(a);
    return out;
}

static double counter(struct store *st)
{
    cJSON *r = call(st, STORE_OP_x_changes, "{}");
    double v = json_num(r, "counter", -1);
    cJSON_Delete(r);
    return v;
}

struct snapshot {
    char digest[HASH_ID_LEN + 1];
    uint64_t poll_other, poll_self;
    double counter;
};

static void snap(const struct fx *fx, struct store *self, struct store *other, struct snapshot *s)
{
    s->counter = counter(self);
    s->poll_self = store_poll_changes(self);
    s->poll_other = store_poll_changes(other);
    files_digest(fx, s->digest);
}

static void assert_same(const struct snapshot *a, const struct snapshot *b)
{
    assert_true(a->counter == b->counter);
    assert_true(a->poll_self == b->poll_self);
    if (a->poll_other != b->poll_other)
        fail_msg("another connection saw the store change (data_version %llu -> %llu)",
                 (unsigned long long)a->poll_other, (unsigned long long)b->poll_other);
    if (strcmp(a->digest, b->digest) != 0)
        fail_msg("the database or WAL file changed during queries");
}

/* Two connections to the store file, one LM cache entry (key sha256:k1,
 * model m), and the snapshot taken after writing it. */
static void open_with_entry(const struct fx *fx, struct store **st, struct store **other,
                            struct snapshot *before)
{
    *st = open_rw(fx->path);
    *other = open_rw(fx->path);
    cJSON_Delete(call(*st, STORE_OP_x_lm_put,
                      "{\"key\":\"sha256:k1\",\"model\":\"m\",\"response\":{\"text\":\"hi\"}}"));
    snap(fx, *st, *other, before);
}

/* N gets (hits and misses) through the store API change nothing. */
static void test_lm_get_is_read_only(void **state)
{
    struct fx *fx = *state;
    struct store *st, *other;
    struct snapshot before, after;
    open_with_entry(fx, &st, &other, &before);
    for (int i = 0; i < 25; i++) {
        cJSON *r = call(st, STORE_OP_x_lm_get, "{\"key\":\"sha256:k1\"}");
        assert_string_equal(json_str(json_get(r, "entry"), "model", "?"), "m");
        assert_null(json_get(json_get(r, "entry"), "hits"));
        cJSON_Delete(r);
        r = call(st, STORE_OP_x_lm_get, "{\"key\":\"sha256:missing\"}");
        assert_true(cJSON_IsNull(json_get(r, "entry")));
        cJSON_Delete(r);
    }
    snap(fx, st, other, &after);
    assert_same(&before, &after);
    /* a mutation still moves everything */
    cJSON_Delete(call(st, STORE_OP_x_lm_put,
                      "{\"key\":\"sha256:k2\",\"model\":\"m\",\"response\":{\"text\":\"x\"}}"));
    snap(fx, st, other, &after);
    assert_true(after.counter == before.counter + 1);
    assert_true(after.poll_other != before.poll_other);
    store_close(other);
    store_close(st);
}

/* An LM cache hit through lm.c (local-knn behind the cache) is free: the
 * first call writes the entry, the next ones only read. */
static void test_lm_cache_hit_writes_nothing(void **state)
{
    struct fx *fx = *state;
    struct store *st = open_rw(fx->path), *other = open_rw(fx->path);
    struct dse_err err = {0};
    struct lm_config knn = {.provider = "local-knn"};
    struct lm_client *c = lm_cache_wrap(lm_open(&knn, &err), st);
    assert_non_null(c);
    static const struct lm_message msgs[] = {
        {.role = "system", .content = "You are terse."},
        {.role = "user", .content = "hello"},
    };
    struct lm_request req = {.messages = msgs, .n_messages = 2};
    struct lm_response r;
    assert_int_equal(lm_complete(c, &req, &r, &err), 0);
    assert_false(r.cache_hit);
    lm_response_free(&r);
    struct snapshot before, after;
    snap(fx, st, other, &before);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(lm_complete(c, &req, &r, &err), 0);
        assert_true(r.cache_hit);
        lm_response_free(&r);
    }
    snap(fx, st, other, &after);
    assert_same(&before, &after);
    /* the run still counts its hits (receipts and reports show them) */
    uint64_t calls, hits;
    lm_stats(c, &calls, &hits);
    assert_int_equal(calls, 1);
    assert_int_equal(hits, 10);
    lm_close(c);
    store_close(other);
    store_close(st);
}

/* Every query of the operations table, called on a populated store (most
 * with empty arguments, so many refuse), leaves the files as they were. */
static void test_every_query_is_read_only(void **state)
{
    struct fx *fx = *state;
    struct store *st, *other;
    struct snapshot before, after;
    open_with_entry(fx, &st, &other, &before);
    struct dse_err perr;
    cJSON *args = json_parse_str("{\"key\":\"sha256:k1\",\"signatureId\":\"s\",\"limit\":5}", &perr);
    assert_non_null(args);
    for (int op = 0; op < STORE_OP__COUNT; op++) {
        if (store_op_info((enum store_op)op)->kind != STORE_QUERY)
            continue;
        cJSON *out = NULL;
        struct dse_err err;
        (void)store_call(st, (enum store_op)op, args, &out, &err);
        cJSON_Delete(out);
    }
    cJSON_Delete(args);
    snap(fx, st, other, &after);
    assert_same(&before, &after);
    store_close(other);
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lm_get_is_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lm_cache_hit_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_query_is_read_only, setup, teardown),
    };
    return cmocka_run_group_tests_name("query_readonly", tests, NULL, NULL);
}
