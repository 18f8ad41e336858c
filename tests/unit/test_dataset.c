/* Datasets: JSONL import checks (line numbers and reasons), the §5.2 model
 * and its hashes against the reference's fixture vectors, subsets, and the
 * export/re-import round trip through a real store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "dataset.h"
#include "json.h"
#include "store.h"
#include "util.h"

#define FIXTURE_HASH "sha256:a0b955178d5b6a32a14dcd6d133c4f70ae3e0580d8e8d6617b186f5bbe54a604"
#define HOLDOUT_HASH "sha256:75a184ffb833f9f7871ea165ca57620da6d571d9ad90e60bd0d2cf90dc8e07b7"
#define HOLDOUT_IDS_HASH "sha256:8670788823b8d825d2cc679bc308b1dd888b2f9eb6cf6e4cf24e611cf7f31905"
#define SELECT_ID "@openagents/autopilot/blueprint/SelectTool.v1"

static cJSON *catalog;
static const cJSON *select_sig;
static char *fixture;
static size_t fixture_len;

static int setup(void **state)
{
    (void)state;
    struct dse_err err;
    catalog = catalog_load(NULL, &err);
    if (!catalog)
        return -1;
    for (const cJSON *s = catalog->child; s; s = s->next)
        if (!strcmp(catalog_key(s), "blueprint_select_tool"))
            select_sig = s;
    const char *src = getenv("DSE_SRCDIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/db/datasets/selecttool.dataset.v1.jsonl", src ? src : ".");
    fixture = util_read_file(path, 1 << 20, &fixture_len);
    if (!fixture) {
        fprintf(stderr, "cannot read fixture %s (set DSE_SRCDIR)\n", path);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cJSON_Delete(catalog);
    free(fixture);
    return 0;
}

static struct dataset *build_from_text(const char *text, size_t len)
{
    struct dse_err err;
    cJSON *rows = dataset_parse_jsonl(select_sig, text, len, &err);
    if (!rows)
        fail_msg("parse: %s", err.msg);
    char *did = catalog_dataset_id(SELECT_ID);
    struct dataset *d = dataset_build(did, select_sig, rows, &err);
    free(did);
    cJSON_Delete(rows);
    if (!d)
        fail_msg("build: %s", err.msg);
    return d;
}

static void test_fixture_vectors(void **state)
{
    (void)state;
    struct dataset *d = build_from_text(fixture, fixture_len);
    assert_int_equal(d->n, 34);
    assert_string_equal(d->id, "convex:dseExamples:" SELECT_ID);
    assert_string_equal(d->hash, FIXTURE_HASH);

    struct dataset *h = dataset_holdout(d);
    assert_int_equal(h->n, 10);
    assert_string_equal(h->hash, HOLDOUT_HASH);
    assert_string_equal(h->ids_hash, HOLDOUT_IDS_HASH);
    /* "dev" selects the same examples as "holdout" */
    struct dataset *dev = dataset_split(d, "dev");
    assert_string_equal(dev->hash, HOLDOUT_HASH);

    struct dataset *t = dataset_train(d);
    assert_int_equal(t->n, 24);
    for (size_t i = 0; i < t->n; i++)
        assert_string_equal(t->ex[i].split, "train");
    /* sorted in collate order; tags sorted and unique */
    for (size_t i = 1; i < d->n; i++)
        assert_true(strcmp(d->ex[i - 1].id, d->ex[i].id) != 0);
    assert_true(dataset_find(d, d->ex[7].id) == 7);
    assert_true(dataset_find(d, "nope") == -1);
    for (size_t k = 1; k < d->ex[0].ntags; k++)
        assert_true(json_utf16_cmp(d->ex[0].tags[k - 1], d->ex[0].tags[k]) < 0);

    /* selecting the holdout indices by hand gives the same subset */
    size_t idx[34], n = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->ex[i].split && !strcmp(d->ex[i].split, "holdout"))
            idx[n++] = i;
    /* reversed order and a repeat must not matter */
    size_t rev[35];
    for (size_t i = 0; i < n; i++)
        rev[i] = idx[n - 1 - i];
    rev[n] = idx[0];
    struct dataset *sel = dataset_select(d, rev, n + 1);
    assert_string_equal(sel->hash, HOLDOUT_HASH);
    dataset_free(sel);
    dataset_free(t);
    dataset_free(dev);
    dataset_free(h);
    dataset_free(d);
}

static void test_decode_and_mapping(void **state)
{
    (void)state;
    /* unknown keys in input/expected are dropped before hashing, so they do
     * not change the datasetHash; meta never counts */
    const char *a =
        "{\"exampleId\":\"b\",\"inputJson\":{\"message\":\"hi\",\"blueprintHint\":{\"userHandle\":\"u\",\"agentName\":\"a\"}},"
        "\"expectedJson\":{\"action\":\"none\"},\"split\":\"dev\",\"tags\":[\" x \",\"a\",\"x\",\"\"]}\n"
        "{\"exampleId\":\"a\",\"inputJson\":{\"message\":\"yo\",\"blueprintHint\":{\"userHandle\":\"u\",\"agentName\":\"a\"}},"
        "\"expectedJson\":{\"action\":\"tool\",\"toolName\":\"user_update\"}}\n";
    const char *b =
        "\n  \n{\"exampleId\":\" a \",\"inputJson\":{\"message\":\"yo\",\"extra\":1,\"blueprintHint\":{\"userHandle\":\"u\",\"agentName\":\"a\",\"z\":[]}},"
        "\"expectedJson\":{\"toolName\":\"user_update\",\"action\":\"tool\",\"why\":\"because\"},\"meta\":{\"note\":1},\"source\":\"s\"}\r\n"
        "{\"exampleId\":\"b\",\"inputJson\":{\"message\":\"hi\",\"blueprintHint\":{\"userHandle\":\"u\",\"agentName\":\"a\"}},"
        "\"expectedJson\":{\"action\":\"none\",\"toolName\":\"user_update\"},\"split\":\"holdout\",\"tags\":[\"a\",\"x\"]}";
    struct dataset *da = build_from_text(a, strlen(a)), *db = build_from_text(b, strlen(b));
    assert_string_equal(da->hash, db->hash);
    assert_string_equal(da->ex[0].id, "a");
    assert_null(da->ex[0].split);
    assert_null(da->ex[0].tags);
    assert_string_equal(da->ex[1].split, "holdout"); /* dev -> holdout */
    assert_int_equal(da->ex[1].ntags, 2);
    assert_string_equal(da->ex[1].tags[0], "a");
    assert_string_equal(da->ex[1].tags[1], "x");
    char *c = json_canonical(db->ex[0].input);
    assert_string_equal(c, "{\"blueprintHint\":{\"agentName\":\"a\",\"userHandle\":\"u\"},\"message\":\"yo\"}");
    free(c);
    assert_non_null(db->ex[0].meta);
    /* a holdout exists, no train: train = everything, holdout = the holdout */
    struct dataset *t = dataset_train(da), *h = dataset_holdout(da);
    assert_int_equal(t->n, 2);
    assert_int_equal(h->n, 1);
    assert_string_equal(t->hash, da->hash);
    dataset_free(t);
    dataset_free(h);
    dataset_free(da);
    dataset_free(db);

    /* no splits at all: train = holdout = all; only train: holdout = train */
    const char *none = "{\"exampleId\":\"x\",\"inputJson\":{\"message\":\"m\",\"blueprintHint\":{\"userHandle\":\"u\",\"agentName\":\"a\"}},\"expectedJson\":{\"action\":\"none\"}}\n"
                       "{\"exampleId\":\"y\",\"inputJson\":{\"message\":\"m\",\"blueprintHint\":{\"userHandle\":\"u\",\"agentName\":\"a\"}},\"expectedJson\":{\"action\":\"none\"},\"split\":\"test\"}\n";
    struct dataset *d = build_from_text(none, strlen(none));
    assert_true(dataset_has_splits(d));
    t = dataset_train(d);
    h = dataset_holdout(d);
    assert_int_equal(t->n, 2); /* test is inside train when nothing is labelled train */
    assert_int_equal(h->n, 2);
    assert_string_equal(h->hash, d->hash);
    dataset_free(t);
    dataset_free(h);
    struct dataset *te = dataset_split(d, "test");
    assert_int_equal(te->n, 1);
    dataset_free(te);
    struct dataset *bogus = dataset_split(d, "validation");
    assert_int_equal(bogus->n, 0);
    dataset_free(bogus);
    dataset_free(d);
}

static void test_build_errors(void **state)
{
    (void)state;
    struct dse_err err;
    cJSON *rows = json_parse_str(
        "[{\"exampleId\":\"a\",\"inputJson\":{\"message\":\"m\",\"blueprintHint\":{\"userHandle\":\"u\",\"agentName\":\"a\"}},\"expectedJson\":{\"action\":\"none\"},\"split\":null,\"tags\":null,\"meta\":null},"
        " {\"exampleId\":\" a\\u00a0\",\"inputJson\":{\"message\":\"m\",\"blueprintHint\":{\"userHandle\":\"u\",\"agentName\":\"a\"}},\"expectedJson\":{\"action\":\"none\"}}]",
        &err);
    assert_null(dataset_build("ds", select_sig, rows, &err));
    assert_string_equal(err.code, "invalid_dataset");
    assert_string_equal(err.msg, "duplicate exampleId a");
    cJSON_Delete(rows);
    rows = json_parse_str("[{\"exampleId\":\"q\",\"inputJson\":{\"message\":\"m\",\"blueprintHint\":{\"userHandle\":\"u\",\"agentName\":\"a\"}},\"expectedJson\":{\"action\":\"tool\"}}]", &err);
    assert_null(dataset_build("ds", select_sig, rows, &err));
    assert_string_equal(err.msg, "example q: expectedJson: $.toolName: required property is missing");
    cJSON_Delete(rows);
    rows = json_parse_str("[{\"exampleId\":\"  \",\"inputJson\":{},\"expectedJson\":{}}]", &err);
    assert_null(dataset_build("ds", select_sig, rows, &err));
    assert_string_equal(err.msg, "row 1: exampleId is empty after trimming");
    cJSON_Delete(rows);
    rows = json_parse_str("[]", &err);
    assert_null(dataset_build(" ", select_sig, rows, &err));
    struct dataset *d = dataset_build("ds", select_sig, rows, &err);
    assert_non_null(d);
    assert_int_equal(d->n, 0);
    dataset_free(d);
    cJSON_Delete(rows);
}

/* The message of a failed parse ("" on success). */
static char pmsg[600];
static const char *parse_msg(const char *text)
{
    struct dse_err err;
    cJSON *rows = dataset_parse_jsonl(select_sig, text, strlen(text), &err);
    snprintf(pmsg, sizeof pmsg, "%s", rows ? "" : err.msg);
    if (!rows)
        assert_string_equal(err.code, "invalid_input");
    cJSON_Delete(rows);
    return pmsg;
}

#define OKIN "\"inputJson\":{\"message\":\"m\",\"blueprintHint\":{\"userHandle\":\"u\",\"agentName\":\"a\"}}"
#define OKOUT "\"expectedJson\":{\"action\":\"none\"}"
#define ROW(id) "{\"exampleId\":\"" id "\"," OKIN "," OKOUT "}\n"

static void test_bad_rows(void **state)
{
    (void)state;
    assert_string_equal(parse_msg(ROW("a") ROW("b")), "");
    assert_string_equal(parse_msg(ROW("a") "\n{\"exampleId\":\"b\",\n"),
                        "line 3: invalid JSON at col 17: not valid JSON");
    assert_string_equal(parse_msg(ROW("a") "{" OKIN "," OKOUT "}\n"),
                        "line 2: exampleId is missing");
    assert_string_equal(parse_msg("{\"exampleId\":7," OKIN "," OKOUT "}\n"),
                        "line 1: exampleId must be a string");
    assert_string_equal(parse_msg("{\"exampleId\":\" \\t \"," OKIN "," OKOUT "}\n"),
                        "line 1: exampleId is empty");
    assert_string_equal(parse_msg(ROW("a") ROW("b") ROW("c") ROW("d") ROW("e") ROW("f")
                                  "{\"exampleId\":\"g\"," OKIN ",\"expectedJson\":{\"action\":\"tool\",\"toolName\":\"nuke\"}}\n"),
                        "line 7: expectedJson: $.toolName: expected one of identity_update, user_update, "
                        "character_update, tools_update_notes, heartbeat_set_checklist, memory_append, "
                        "blueprint_export (got \"nuke\")");
    assert_string_equal(parse_msg("{\"exampleId\":\"g\",\"inputJson\":{\"message\":1},\"expectedJson\":{}}\n"),
                        "line 1: inputJson: $.message: expected string, got number");
    assert_string_equal(parse_msg(ROW("a") ROW("b") ROW(" a ")),
                        "line 3: duplicate exampleId \"a\" (first on line 1)");
    assert_string_equal(parse_msg("{\"exampleId\":\"a\"," OKIN "," OKOUT ",\"split\":\"validation\"}\n"),
                        "line 1: split \"validation\" is not one of train, dev, holdout, test");
    assert_string_equal(parse_msg("{\"exampleId\":\"a\"," OKIN "," OKOUT ",\"split\":3}\n"),
                        "line 1: split must be a string (train, dev, holdout or test)");
    assert_string_equal(parse_msg("{\"exampleId\":\"a\"," OKIN "," OKOUT ",\"tags\":\"x\"}\n"),
                        "line 1: tags must be an array of strings");
    assert_string_equal(parse_msg("{\"exampleId\":\"a\"," OKIN "," OKOUT ",\"expected\":1}\n"),
                        "line 1: unknown field \"expected\" (a row has exampleId, inputJson, expectedJson, "
                        "split, tags, source, meta)");
    assert_string_equal(parse_msg("{\"exampleId\":\"a\"," OKIN "}\n"),
                        "line 1: expectedJson is missing");
    assert_string_equal(parse_msg("[1]\n"), "line 1: a row must be a JSON object");
    assert_string_equal(parse_msg("\n \n"), "no rows: the input is empty");
    /* several bad lines: the first is named, the rest counted */
    assert_string_equal(parse_msg("x\n" ROW("a") "y\nz\n"),
                        "line 1: invalid JSON at col 1: invalid literal (JSON has true, false and "
                        "null) (and 2 more bad lines)");
    /* hostile text in a message is sanitised */
    parse_msg("{\"exampleId\":\"a\"," OKIN "," OKOUT ",\"split\":\"\\u001b[2J\"}\n");
    assert_null(strchr(pmsg, 0x1b));
    /* a 201-character id */
    char big[512];
    memset(big, 'x', 201);
    big[201] = 0;
    char line[1024];
    snprintf(line, sizeof line, "{\"exampleId\":\"%s\"," OKIN "," OKOUT "}\n", big);
    assert_string_equal(parse_msg(line), "line 1: exampleId is longer than 200 characters (201)");
}

static void test_row_shaping(void **state)
{
    (void)state;
    /* tags: trimmed, empties dropped, cut to 120 characters, at most 50 */
    struct sbuf b = {0};
    sbuf_adds(&b, "{\"exampleId\":\" id1 \"," OKIN "," OKOUT ",\"split\":null,\"tags\":[\"  t0  \",\"\",");
    for (int i = 1; i < 60; i++)
        sbuf_printf(&b, "\"t%d\",", i);
    sbuf_adds(&b, "\"");
    for (int i = 0; i < 130; i++)
        sbuf_adds(&b, "\xc3\xa9");
    sbuf_adds(&b, "\"],\"source\":\"unit\",\"meta\":{\"k\":[1,2]}}\n");
    struct dse_err err;
    cJSON *rows = dataset_parse_jsonl(select_sig, b.s, b.len, &err);
    assert_non_null(rows);
    const cJSON *row = rows->child;
    assert_string_equal(json_str(row, "exampleId", ""), "id1");
    assert_null(json_get(row, "split"));
    const cJSON *tags = json_get(row, "tags");
    assert_int_equal(cJSON_GetArraySize(tags), 50);
    assert_string_equal(cJSON_GetArrayItem(tags, 0)->valuestring, "t0");
    assert_string_equal(cJSON_GetArrayItem(tags, 49)->valuestring, "t49");
    char *line = dataset_row_jsonl(row);
    const char *head = "{\"exampleId\":\"id1\",\"inputJson\":{\"blueprintHint\":{\"agentName\":\"a\","
                       "\"userHandle\":\"u\"},\"message\":\"m\"},\"expectedJson\":{\"action\":\"none\"},"
                       "\"tags\":[\"t0\",";
    assert_true(!strncmp(line, head, strlen(head)));
    assert_non_null(strstr(line, "],\"source\":\"unit\",\"meta\":{\"k\":[1,2]}}"));
    free(line);
    cJSON_Delete(rows);
    sbuf_free(&b);

    /* a long tag is cut on a character boundary at 120 characters */
    sbuf_adds(&b, "{\"exampleId\":\"x\"," OKIN "," OKOUT ",\"tags\":[\"");
    for (int i = 0; i < 130; i++)
        sbuf_adds(&b, "\xc3\xa9");
    sbuf_adds(&b, "\"]}");
    rows = dataset_parse_jsonl(select_sig, b.s, b.len, &err);
    assert_non_null(rows);
    const char *t = cJSON_GetArrayItem(json_get(rows->child, "tags"), 0)->valuestring;
    assert_int_equal(strlen(t), 240);
    assert_int_equal(util_utf8_len(t, strlen(t)), 120);
    cJSON_Delete(rows);
    sbuf_free(&b);

    /* export lines of a row from the store drop nulls and store-only fields */
    cJSON *srow = json_parse_str("{\"signatureId\":\"s\",\"exampleId\":\"e\",\"inputJson\":{\"b\":1,\"a\":2},"
                                 "\"expectedJson\":{\"action\":\"none\"},\"split\":null,\"tags\":null,"
                                 "\"source\":null,\"meta\":null,\"createdAtMs\":1,\"updatedAtMs\":2,\"cursor\":\"c\"}", &err);
    line = dataset_row_jsonl(srow);
    assert_string_equal(line, "{\"exampleId\":\"e\",\"inputJson\":{\"a\":2,\"b\":1},\"expectedJson\":{\"action\":\"none\"}}");
    free(line);
    cJSON_Delete(srow);
}

static void test_pure_round_trip(void **state)
{
    (void)state;
    /* parse -> rows -> JSONL lines -> parse again: same datasetHash */
    struct dse_err err;
    cJSON *rows = dataset_parse_jsonl(select_sig, fixture, fixture_len, &err);
    assert_non_null(rows);
    struct sbuf b = {0};
    for (const cJSON *r = rows->child; r; r = r->next) {
        char *line = dataset_row_jsonl(r);
        sbuf_adds(&b, line);
        sbuf_addc(&b, '\n');
        free(line);
    }
    cJSON_Delete(rows);
    struct dataset *d = build_from_text(b.s, b.len);
    assert_string_equal(d->hash, FIXTURE_HASH);
    dataset_free(d);
    sbuf_free(&b);
}

/* ---- with a store ---- */

static struct store *open_store(void)
{
    struct dse_err err;
    struct store *st = store_open_sqlite(":memory:", 0, &err);
    if (!st) {
        print_message("store unavailable (%s: %s); skipping\n", err.code, err.msg);
        return NULL;
    }
    if (catalog_install(st, NULL, NULL, NULL, &err) < 0)
        fail_msg("catalog_install: %s", err.msg);
    return st;
}

static int count_examples(struct store *st)
{
    cJSON *args = json_obj(), *res = NULL;
    json_set_str(args, "signatureId", SELECT_ID);
    struct dse_err err;
    assert_int_equal(store_call(st, STORE_OP_x_examples_counts, args, &res, &err), 0);
    int n = (int)json_int(res, "total", -1);
    cJSON_Delete(args);
    cJSON_Delete(res);
    return n;
}

static char *export_text(struct store *st, const char *split, size_t *count)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    struct dse_err err;
    int rc = dataset_export_jsonl(st, SELECT_ID, split, f, count, &err);
    fclose(f);
    if (rc < 0)
        fail_msg("export: %s", err.msg);
    return buf;
}

static void test_store_import_export(void **state)
{
    (void)state;
    struct store *st = open_store();
    if (!st) {
        skip();
        return;
    }
    struct dse_err err;
    struct dataset_import_result res;
    assert_int_equal(dataset_import_jsonl(st, select_sig, fixture, fixture_len, "fixture", &res, &err), 0);
    assert_int_equal(res.rows, 34);
    assert_int_equal(res.inserted, 34);
    assert_int_equal(res.updated, 0);
    assert_int_equal(res.total, 34);

    struct dataset *d = dataset_load(st, select_sig, &err);
    assert_non_null(d);
    assert_string_equal(d->hash, FIXTURE_HASH);
    struct dataset *h = dataset_holdout(d);
    assert_string_equal(h->hash, HOLDOUT_HASH);
    assert_string_equal(h->ids_hash, HOLDOUT_IDS_HASH);
    dataset_free(h);

    /* bad files leave the store exactly as it was */
    const char *bad[] = {
        ROW("new1") "{not json}\n",
        ROW("new1") "{" OKIN "," OKOUT "}\n",
        ROW("new1") "{\"exampleId\":\"new2\"," OKIN ",\"expectedJson\":{\"action\":\"tool\",\"toolName\":\"x\"}}\n",
        ROW("new1") ROW("new1"),
        ROW("new1") "{\"exampleId\":\"new2\"," OKIN "," OKOUT ",\"split\":\"val\"}\n",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_int_equal(dataset_import_jsonl(st, select_sig, bad[i], strlen(bad[i]), NULL, &res, &err), -1);
        assert_non_null(strstr(err.msg, "line 2: "));
        assert_int_equal(count_examples(st), 34);
    }
    struct dataset *d2 = dataset_load(st, select_sig, &err);
    assert_string_equal(d2->hash, FIXTURE_HASH);
    dataset_free(d2);

    /* export, wipe by re-importing into a second store, compare hashes */
    size_t n = 0;
    char *text = export_text(st, NULL, &n);
    assert_int_equal(n, 34);
    size_t nh = 0;
    char *holdout = export_text(st, "holdout", &nh);
    assert_int_equal(nh, 10);
    free(holdout);
    /* re-import into the same store: all updates, same hash */
    assert_int_equal(dataset_import_jsonl(st, select_sig, text, strlen(text), NULL, &res, &err), 0);
    assert_int_equal(res.inserted, 0);
    assert_int_equal(res.updated, 34);
    d2 = dataset_load(st, select_sig, &err);
    assert_string_equal(d2->hash, FIXTURE_HASH);
    dataset_free(d2);
    struct store *st2 = open_store();
    assert_int_equal(dataset_import_jsonl(st2, select_sig, text, strlen(text), NULL, &res, &err), 0);
    assert_int_equal(res.inserted, 34);
    d2 = dataset_load(st2, select_sig, &err);
    assert_string_equal(d2->hash, FIXTURE_HASH);
    /* and the second export is byte-identical */
    char *text2 = export_text(st2, NULL, &n);
    assert_string_equal(text, text2);
    free(text2);
    dataset_free(d2);
    store_close(st2);
    free(text);
    dataset_free(d);
    store_close(st);
}

static void test_store_large_export(void **state)
{
    (void)state;
    struct store *st = open_store();
    if (!st) {
        skip();
        return;
    }
    /* more rows than one page and than the model's 500-row window */
    enum { N = 1234 };
    struct sbuf b = {0};
    for (int i = 0; i < N; i++)
        sbuf_printf(&b, "{\"exampleId\":\"ex-%05d\"," OKIN "," OKOUT ",\"split\":\"%s\"}\n", i,
                    i % 4 ? "train" : "dev");
    struct dse_err err;
    struct dataset_import_result res;
    assert_int_equal(dataset_import_jsonl(st, select_sig, b.s, b.len, NULL, &res, &err), 0);
    assert_int_equal(res.inserted, N);
    size_t n = 0;
    char *text = export_text(st, NULL, &n);
    assert_int_equal(n, N);
    /* in exampleId order */
    const char *p = text;
    for (int i = 0; i < N; i++) {
        char want[64];
        snprintf(want, sizeof want, "{\"exampleId\":\"ex-%05d\"", i);
        assert_true(!strncmp(p, want, strlen(want)));
        p = strchr(p, '\n') + 1;
    }
    free(text);
    text = export_text(st, "dev", &n);
    assert_int_equal(n, (N + 3) / 4);
    free(text);
    struct dataset *d = dataset_load(st, select_sig, &err);
    assert_int_equal(d->n, DATASET_LOAD_LIMIT);
    assert_string_equal(d->ex[0].id, "ex-00000");
    assert_string_equal(d->ex[499].id, "ex-00499");
    dataset_free(d);
    sbuf_free(&b);
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_vectors),
        cmocka_unit_test(test_decode_and_mapping),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_bad_rows),
        cmocka_unit_test(test_row_shaping),
        cmocka_unit_test(test_pure_round_trip),
        cmocka_unit_test(test_store_import_export),
        cmocka_unit_test(test_store_large_export),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
