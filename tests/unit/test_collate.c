/* Collation: collate.c against orders JavaScript's localeCompare gives
 * (node 20, ICU 78; the machine's ICU is 72, same root order for all of
 * these), sort keys against the comparator, threads, a datasetHash vector
 * over non-ASCII example ids computed independently with node, the SQLite
 * example order and paging, and the sort key rebuild when a store's keys
 * were made by another collator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "collate.h"
#include "dataset.h"
#include "json.h"
#include "store.h"
#include "util.h"

/* node -e 'console.log(JSON.stringify(W.sort((a, b) => a.localeCompare(b))))'
 * over these words (any input order) prints exactly this order. */
static const char *const icu_order[] = {
    "\xf0\x9f\x98\x80",     /* 😀 U+1F600: symbols before digits */
    "\xe3\x83\xbc",         /* ー U+30FC */
    "1", "10", "9",         /* no numeric ordering */
    "a", "A", "\xc3\x84",   /* a A Ä */
    "a b", "a_b", "a-b", "a.b", "ab", "b",
    "e", "E", "\xc3\xa9", "\xc3\x89", /* e E é É: accent outranks case */
    "f", "fi", "\xef\xac\x81",        /* fi ﬁ (ligature U+FB01) */
    "o", "\xc3\xb6", "p",             /* o ö p */
    "sr", "ss", "\xc3\x9f", "st",     /* ss ß */
    "v1_common_phrasings", "v1.base_router_rules",
    "z", "Z",
    "\xce\xb1", "\xcf\x89", "\xce\xa9", /* α ω Ω */
    "\xd1\x8f",                         /* я */
    "\xed\x95\x9c",                     /* 한 */
    "\xe3\x81\x82", "\xe3\x82\xa2",     /* あ ア */
    "\xe4\xb8\xad", "\xe6\x97\xa5", "\xe6\x9c\xac", /* 中 日 本 */
};
#define NWORDS ARRAY_LEN(icu_order)

static void test_icu_root_order(void **state)
{
    (void)state;
    const char *w[NWORDS];
    /* reversed, then rotated: no accidental presorting */
    for (size_t i = 0; i < NWORDS; i++)
        w[i] = icu_order[(NWORDS - 1 - i + 7) % NWORDS];
    qsort(w, NWORDS, sizeof w[0], collate_qsort_cmp);
    for (size_t i = 0; i < NWORDS; i++)
        assert_string_equal(w[i], icu_order[i]);
    for (size_t i = 0; i + 1 < NWORDS; i++) {
        assert_int_equal(collate_cmp(icu_order[i], icu_order[i + 1]), -1);
        assert_int_equal(collate_cmp(icu_order[i + 1], icu_order[i]), 1);
    }
}

static void test_pairs(void **state)
{
    (void)state;
    /* the spec's grid order (§5.3) and the SelectTool ids */
    assert_true(collate_cmp("v1_common_phrasings", "v1.base_router_rules") < 0);
    assert_true(collate_cmp("v1.base_router_rules", "v1.boundaries_vs_identity") < 0);
    assert_true(collate_cmp("v1.boundaries_vs_identity", "v1.none_by_default_strict") < 0);
    /* é sorts with e, not after z */
    assert_true(collate_cmp("\xc3\xa9-accent", "e-plain") < 0);
    assert_true(collate_cmp("\xc3\xa9", "f") < 0);
    assert_true(collate_cmp("\xc3\x84pfel", "b") < 0);
    assert_true(collate_cmp("ab", "a-b") > 0);
    assert_true(collate_cmp("Aa", "ab") < 0);
    assert_true(collate_cmp("x", "x") == 0);
    /* NFC and NFD é are equal to ICU (normalization on); bytes break the tie */
    assert_true(collate_cmp("e\xcc\x81", "\xc3\xa9") < 0);
    assert_true(collate_cmp("\xc3\xa9", "e\xcc\x81") > 0);
    /* ignorable control characters: equal to ICU, ordered by bytes */
    assert_true(collate_cmp("a\x01" "b", "ab") < 0);
    assert_string_equal(collate_version(), collate_version());
    assert_non_null(strstr(collate_version(), "icu-root"));
}

static int key_cmp(const char *a, const char *b)
{
    struct sbuf ka = {0}, kb = {0};
    collate_sort_key(a, &ka);
    collate_sort_key(b, &kb);
    size_t n = ka.len < kb.len ? ka.len : kb.len;
    int m = memcmp(ka.s, kb.s, n);
    if (!m)
        m = ka.len < kb.len ? -1 : ka.len > kb.len;
    sbuf_free(&ka);
    sbuf_free(&kb);
    return m < 0 ? -1 : m > 0;
}

static void test_sort_keys_agree(void **state)
{
    (void)state;
    /* long strings take the heap paths (over 256 UTF-16 units, over 512
     * key bytes) */
    struct sbuf l1 = {0}, l2 = {0};
    for (int i = 0; i < 300; i++) {
        sbuf_adds(&l1, "\xc3\xa9");
        sbuf_adds(&l2, "\xc3\xa9");
    }
    sbuf_adds(&l1, "a");
    sbuf_adds(&l2, "B");
    const char *extra[] = {
        "", "a\xff" "b", "a\xef\xbf\xbd" "b", /* ill-formed byte vs U+FFFD itself */
        "\xc3", "e\xcc\x81", "a\x01" "b", l1.s, l2.s,
    };
    const char *w[NWORDS + ARRAY_LEN(extra)];
    size_t n = 0;
    for (size_t i = 0; i < NWORDS; i++)
        w[n++] = icu_order[i];
    for (size_t i = 0; i < ARRAY_LEN(extra); i++)
        w[n++] = extra[i];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (key_cmp(w[i], w[j]) != collate_cmp(w[i], w[j]))
                fail_msg("key order differs from collate_cmp for words %zu and %zu", i, j);
    assert_true(collate_cmp(l1.s, l2.s) < 0);
    sbuf_free(&l1);
    sbuf_free(&l2);
}

static void *sort_many(void *arg)
{
    (void)arg;
    for (int round = 0; round < 200; round++) {
        const char *w[NWORDS];
        for (size_t i = 0; i < NWORDS; i++)
            w[i] = icu_order[(NWORDS - 1 - i + (size_t)round) % NWORDS]; /* a rotation */
        qsort(w, NWORDS, sizeof w[0], collate_qsort_cmp);
        for (size_t i = 0; i < NWORDS; i++)
            if (strcmp(w[i], icu_order[i]) != 0)
                return (void *)1;
        struct sbuf k = {0};
        collate_sort_key(icu_order[round % NWORDS], &k);
        sbuf_free(&k);
    }
    return NULL;
}

/* Each thread compares on its own collator clone: concurrent sorts agree. */
static void test_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, sort_many, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *bad = NULL;
        assert_int_equal(pthread_join(t[i], &bad), 0);
        assert_null(bad);
    }
}

/* ---- a dataset with non-ASCII ids ----
 *
 * Expected datasetHash computed with node 20 from the reference's rules
 * (packages/dse/src/eval/dataset.ts: tags trimmed, empties dropped, default
 * sort, deduplicated, absent when empty; dev -> holdout; examples sorted with
 * localeCompare; sha256 over canonicalJson of the export):
 *
 *   node -e '
 *   const c = require("crypto");
 *   const canon = v => Array.isArray(v) ? "[" + v.map(canon).join(",") + "]"
 *     : v && typeof v == "object" ? "{" + Object.keys(v).sort().filter(k => v[k] !== undefined)
 *         .map(k => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}" : JSON.stringify(v);
 *   const norm = t => { if (!t || !t.length) return; const x = t.map(s => s.trim())
 *     .filter(s => s.length); if (!x.length) return; x.sort();
 *     return x.filter((s, i) => !i || s !== x[i - 1]); };
 *   const sp = s => s == "dev" ? "holdout" : ["train", "holdout", "test"].includes(s) ? s : undefined;
 *   const N = {action: "none"}, T = {action: "tool", toolName: "user_update"};
 *   const rows = [["é-accent","train",["ö","z"],"un",N], ["e-plain","holdout",["😀","～"],"deux",N],
 *     ["f-next","train",[" b ","a","b",""],"trois",T], ["Äpfel",,,"vier",N],
 *     ["a_b","train",[],"fünf",T], ["a-b","dev",["x"],"sechs",N], ["ß","train",,"sieben",N],
 *     ["ss","train",,"acht",T], ["中文","holdout",["中","文"],"neun",N],
 *     ["😀smile","train",,"zehn",N], ["10","train",,"elf",N], ["9","train",,"zwölf",T],
 *     ["Zed","test",,"dreizehn",N], ["zed","holdout",,"vierzehn",N]];
 *   const ex = rows.map(([id, s, t, m, e]) => ({exampleId: id, split: sp(s), tags: norm(t),
 *       input: {message: m, blueprintHint: {userHandle: "Ada", agentName: "Autopilot"}},
 *       expected: e})).sort((a, b) => a.exampleId.localeCompare(b.exampleId));
 *   console.log(ex.map(e => e.exampleId).join(" "));
 *   console.log("sha256:" + c.createHash("sha256").update(canon({format: "openagents.dse.dataset",
 *     formatVersion: 1, datasetId: "convex:dseExamples:@openagents/autopilot/blueprint/SelectTool.v1",
 *     examples: ex})).digest("hex"));'
 */
#define NONASCII_HASH "sha256:4850c97288e5012f3b50722a15e229ea1825c2799e6d81359645fe34be155efc"
#define SELECT_ID "@openagents/autopilot/blueprint/SelectTool.v1"

struct row {
    const char *id, *split, *msg;
    int ntags; /* -1: no tags field */
    const char *tags[4];
    bool tool;
};
static const struct row rows[] = {
    {"\xc3\xa9-accent", "train", "un", 2, {"\xc3\xb6", "z"}, false},
    {"e-plain", "holdout", "deux", 2, {"\xf0\x9f\x98\x80", "\xef\xbd\x9e"}, false}, /* 😀 ～ */
    {"f-next", "train", "trois", 4, {" b ", "a", "b", ""}, true},
    {"\xc3\x84pfel", NULL, "vier", -1, {0}, false},
    {"a_b", "train", "f\xc3\xbcnf", 0, {0}, true},
    {"a-b", "dev", "sechs", 1, {"x"}, false},
    {"\xc3\x9f", "train", "sieben", -1, {0}, false},
    {"ss", "train", "acht", -1, {0}, true},
    {"\xe4\xb8\xad\xe6\x96\x87", "holdout", "neun", 2, {"\xe4\xb8\xad", "\xe6\x96\x87"}, false},
    {"\xf0\x9f\x98\x80smile", "train", "zehn", -1, {0}, false},
    {"10", "train", "elf", -1, {0}, false},
    {"9", "train", "zw\xc3\xb6lf", -1, {0}, true},
    {"Zed", "test", "dreizehn", -1, {0}, false},
    {"zed", "holdout", "vierzehn", -1, {0}, false},
};
/* node's order of the ids above */
static const char *const rows_order[] = {
    "\xf0\x9f\x98\x80smile", "10", "9", "a_b", "a-b", "\xc3\x84pfel", "\xc3\xa9-accent",
    "e-plain", "f-next", "ss", "\xc3\x9f", "zed", "Zed", "\xe4\xb8\xad\xe6\x96\x87",
};

/* The rows as store/dataset rows {exampleId, inputJson, expectedJson,
 * split?, tags?}. */
static cJSON *rows_json(void)
{
    cJSON *arr = json_arr();
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        const struct row *r = &rows[i];
        cJSON *o = json_obj();
        json_set_str(o, "exampleId", r->id);
        cJSON *in = json_obj(), *hint = json_obj();
        json_set_str(in, "message", r->msg);
        json_set_str(hint, "userHandle", "Ada");
        json_set_str(hint, "agentName", "Autopilot");
        json_set(in, "blueprintHint", hint);
        json_set(o, "inputJson", in);
        cJSON *exp = json_obj();
        json_set_str(exp, "action", r->tool ? "tool" : "none");
        if (r->tool)
            json_set_str(exp, "toolName", "user_update");
        json_set(o, "expectedJson", exp);
        if (r->split)
            json_set_str(o, "split", r->split);
        if (r->ntags >= 0) {
            cJSON *t = json_arr();
            for (int k = 0; k < r->ntags; k++)
                cJSON_AddItemToArray(t, cJSON_CreateString(r->tags[k]));
            json_set(o, "tags", t);
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static void test_dataset_hash_non_ascii(void **state)
{
    (void)state;
    struct dse_err err;
    cJSON *catalog = catalog_load(NULL, &err);
    assert_non_null(catalog);
    const cJSON *sig = NULL;
    for (const cJSON *s = catalog->child; s; s = s->next)
        if (!strcmp(catalog_key(s), "blueprint_select_tool"))
            sig = s;
    assert_non_null(sig);
    cJSON *in = rows_json();
    char *did = catalog_dataset_id(SELECT_ID);
    struct dataset *d = dataset_build(did, sig, in, &err);
    free(did);
    cJSON_Delete(in);
    if (!d)
        fail_msg("build: %s", err.msg);
    assert_int_equal(d->n, ARRAY_LEN(rows_order));
    for (size_t i = 0; i < d->n; i++)
        assert_string_equal(d->ex[i].id, rows_order[i]);
    assert_string_equal(d->hash, NONASCII_HASH);
    /* binary search over the collate-sorted examples */
    for (size_t i = 0; i < d->n; i++)
        assert_int_equal(dataset_find(d, rows_order[i]), (int)i);
    dataset_free(d);
    cJSON_Delete(catalog);
}

/* ---- the SQLite store ---- */

static char tmpdir[128];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dse-test-collate-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);
    int rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

static cJSON *call(struct store *st, enum store_op op, cJSON *args)
{
    struct dse_err err;
    cJSON *out = NULL;
    if (store_call(st, op, args, &out, &err) < 0)
        fail_msg("%s: %s: %s", store_op_info(op)->path, err.code, err.msg);
    cJSON_Delete(args);
    return out;
}

static void import_rows(struct store *st)
{
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", "S");
    json_set(a, "rows", rows_json());
    cJSON_Delete(call(st, STORE_OP_x_examples_import, a));
}

/* listExamples, then x_examples_page walked forwards and backwards in
 * small pages, all give node's order. */
static void check_order(struct store *st)
{
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", "S");
    cJSON *l = call(st, STORE_OP_examples_list, a);
    const cJSON *ex = json_get(l, "examples");
    assert_int_equal(cJSON_GetArraySize(ex), ARRAY_LEN(rows_order));
    size_t i = 0;
    for (const cJSON *e = ex->child; e; e = e->next)
        assert_string_equal(json_str(e, "exampleId", ""), rows_order[i++]);
    cJSON_Delete(l);

    for (int prev = 0; prev <= 1; prev++) {
        char cursor[1024] = "";
        size_t seen = 0;
        for (int guard = 0; guard < 20; guard++) {
            a = json_obj();
            json_set_str(a, "signatureId", "S");
            json_set_num(a, "limit", 3);
            json_set_str(a, "dir", prev ? "prev" : "next");
            if (cursor[0])
                json_set_str(a, "cursor", cursor);
            cJSON *p = call(st, STORE_OP_x_examples_page, a);
            for (const cJSON *e = json_get(p, "items")->child; e; e = e->next) {
                size_t want = prev ? ARRAY_LEN(rows_order) - 1 - seen : seen;
                assert_string_equal(json_str(e, "exampleId", ""), rows_order[want]);
                seen++;
            }
            const char *next = json_str(p, "nextCursor", NULL);
            snprintf(cursor, sizeof cursor, "%s", next ? next : "");
            cJSON_Delete(p);
            if (!next)
                break;
        }
        assert_int_equal(seen, ARRAY_LEN(rows_order));
    }
    /* the split filter keeps the order */
    a = json_obj();
    json_set_str(a, "signatureId", "S");
    json_set_str(a, "split", "train");
    l = call(st, STORE_OP_examples_list, a);
    const char *last = NULL;
    for (const cJSON *e = json_get(l, "examples")->child; e; e = e->next) {
        const char *id = json_str(e, "exampleId", "");
        if (last)
            assert_true(collate_cmp(last, id) < 0);
        last = id;
    }
    cJSON_Delete(l);
}

static void test_sqlite_order(void **state)
{
    (void)state;
    struct dse_err err;
    char *path = xasprintf("%s/order.db", tmpdir);
    struct store *st = store_open_sqlite(path, 0, &err);
    assert_non_null(st);
    import_rows(st);
    check_order(st);
    store_close(st);
    free(path);
}

static void sql(sqlite3 *db, const char *q)
{
    char *msg = NULL;
    if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", q, msg ? msg : "?");
}

static char *stored_collation(const char *path)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT collation FROM dseMeta", -1, &s, NULL),
                     SQLITE_OK);
    char *v = NULL;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_TEXT)
        v = xstrdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* Keys made by another collator (a store from before ICU, or a new ICU)
 * are rebuilt when the store is next opened for writing. */
static void test_rekey_on_open(void **state)
{
    (void)state;
    struct dse_err err;
    char *path = xasprintf("%s/rekey.db", tmpdir);
    struct store *st = store_open_sqlite(path, 0, &err);
    assert_non_null(st);
    import_rows(st);
    store_close(st);
    char *v = stored_collation(path);
    assert_non_null(v);
    assert_string_equal(v, collate_version());
    free(v);

    /* what a pre-ICU store looks like: byte-order keys, no collation */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sql(db, "UPDATE dseExamples SET sortKey = CAST(exampleId AS BLOB); "
            "UPDATE dseMeta SET collation = NULL");
    sqlite3_close(db);

    /* read-only opens leave the file alone */
    st = store_open_sqlite(path, STORE_READ_ONLY, &err);
    assert_non_null(st);
    store_close(st);
    assert_null(stored_collation(path));

    st = store_open_sqlite(path, 0, &err);
    assert_non_null(st);
    v = stored_collation(path);
    assert_non_null(v);
    assert_string_equal(v, collate_version());
    free(v);
    check_order(st);
    store_close(st);

    /* another collator's name: rebuilt again */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sql(db, "UPDATE dseExamples SET sortKey = CAST(exampleId AS BLOB); "
            "UPDATE dseMeta SET collation = 'icu-root-tertiary-nfd/0.0/icu1.0/k1'");
    sqlite3_close(db);
    st = store_open_sqlite(path, 0, &err);
    assert_non_null(st);
    check_order(st);
    store_close(st);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_icu_root_order),
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_sort_keys_agree),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_dataset_hash_non_ascii),
        cmocka_unit_test(test_sqlite_order),
        cmocka_unit_test(test_rekey_on_open),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
