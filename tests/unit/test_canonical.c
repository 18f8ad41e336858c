/* Canonical JSON, hashes, canary buckets and collation against the
 * reference's test vectors (dse-spec.md §0, §10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "collate.h"
#include "hash.h"
#include "json.h"
#include "util.h"

static char *canon_of(const char *text)
{
    struct dse_err err;
    cJSON *v = json_parse_str(text, &err);
    assert_non_null(v);
    char *c = json_canonical(v);
    cJSON_Delete(v);
    return c;
}

static void test_reference_sample(void **state)
{
    (void)state;
    /* b=1, a=[undefined, NaN, "é\u2028\n"], c={z: undefined, y: 1.5e21, x: 1e-7}.
     * JSON cannot carry undefined/NaN, so we build the tree by hand: an
     * undefined array slot and NaN both serialise as null; the undefined key
     * is simply absent. */
    cJSON *o = json_obj();
    json_set_num(o, "b", 1);
    cJSON *a = json_arr();
    cJSON_AddItemToArray(a, cJSON_CreateNull());
    cJSON_AddItemToArray(a, cJSON_CreateNumber(0.0 / 0.0));
    cJSON_AddItemToArray(a, cJSON_CreateString("\xc3\xa9\xe2\x80\xa8\n"));
    json_set(o, "a", a);
    cJSON *c = json_obj();
    json_set_num(c, "y", 1.5e21);
    json_set_num(c, "x", 1e-7);
    json_set(o, "c", c);
    char *s = json_canonical(o);
    assert_string_equal(s, "{\"a\":[null,null,\"\xc3\xa9\xe2\x80\xa8\\n\"],\"b\":1,\"c\":{\"x\":1e-7,\"y\":1.5e+21}}");
    free(s);
    cJSON_Delete(o);
}

static void test_numbers(void **state)
{
    (void)state;
    struct { double d; const char *want; } cases[] = {
        {0, "0"}, {-0.0, "0"}, {256, "256"}, {1e-7, "1e-7"}, {1.5e21, "1.5e+21"},
        {1e21, "1e+21"}, {1e20, "100000000000000000000"}, {0.1, "0.1"}, {-2.5, "-2.5"},
        {0.000001, "0.000001"}, {1.0 / 3, "0.3333333333333333"}, {123456789012, "123456789012"},
        {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
        {0.2, "0.2"}, {100, "100"}, {1.25e-6, "0.00000125"}, {9007199254740993.0, "9007199254740992"},
    };
    char out[32];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        json_format_number(cases[i].d, out);
        assert_string_equal(out, cases[i].want);
    }
}

static void test_escapes_and_keys(void **state)
{
    (void)state;
    char *s = canon_of("{\"b\":\"q\\\"\\\\\\u0001\\t\\b\\f\\r\",\"a\":\"\\u00e9\\u2028/\",\"B\":true}");
    assert_string_equal(s, "{\"B\":true,\"a\":\"\xc3\xa9\xe2\x80\xa8/\",\"b\":\"q\\\"\\\\\\u0001\\t\\b\\f\\r\"}");
    free(s);
    /* duplicate keys: last wins, as JSON.parse */
    s = canon_of("{\"k\":1,\"k\":2}");
    assert_string_equal(s, "{\"k\":2}");
    free(s);
    /* UTF-16 order: U+FF5E (one unit 0xFF5E) sorts after U+1F600 (0xD83D ...) */
    s = canon_of("{\"\xef\xbd\x9e\":1,\"\xf0\x9f\x98\x80\":2}");
    assert_string_equal(s, "{\"\xf0\x9f\x98\x80\":2,\"\xef\xbd\x9e\":1}");
    free(s);
}

static void test_judge_params_hash(void **state)
{
    (void)state;
    const char *canon = "{\"budgets\":{\"maxLmCalls\":5,\"maxOutputChars\":20000,\"maxTimeMs\":10000},"
                        "\"decode\":{\"maxRepairs\":0,\"mode\":\"strict_json\"},\"model\":{\"maxTokens\":256,"
                        "\"temperature\":0},\"paramsVersion\":1,\"strategy\":{\"id\":\"direct.v1\"}}";
    /* Build it in a different key order to prove sorting. */
    char *c = canon_of("{\"paramsVersion\":1,\"strategy\":{\"id\":\"direct.v1\"},\"model\":{\"temperature\":0,"
                       "\"maxTokens\":256},\"decode\":{\"mode\":\"strict_json\",\"maxRepairs\":0},"
                       "\"budgets\":{\"maxTimeMs\":10000,\"maxLmCalls\":5,\"maxOutputChars\":20000}}");
    assert_string_equal(c, canon);
    char id[HASH_ID_LEN + 1];
    hash_text(c, id);
    assert_string_equal(id, "sha256:c287f9f20d8683469f4418ffeefada8dcce77a89e08b57f71d7c6a19cbb7bd6c");
    free(c);
}

static void test_default_compiled_ids(void **state)
{
    (void)state;
    struct { const char *params, *want; } cases[] = {
        {"{\"paramsVersion\":1,\"decode\":{\"mode\":\"strict_json\",\"maxRepairs\":0}}",
         "sha256:af8fd5003b0420ca094a438788e3059bfa8199f5f11a6b3da1adf245a573948f"},
        {"{\"paramsVersion\":1,\"decode\":{\"mode\":\"jsonish\",\"maxRepairs\":3},\"model\":{\"temperature\":0,\"maxTokens\":256}}",
         "sha256:a76900eb174f20d0364ad84b189228a67958612fa0733c10349c52c439f64525"},
        {"{\"paramsVersion\":1,\"strategy\":{\"id\":\"direct.v1\"},\"decode\":{\"mode\":\"strict_json\",\"maxRepairs\":0},"
         "\"budgets\":{\"maxTimeMs\":15000,\"maxLmCalls\":20,\"maxToolCalls\":0,\"maxOutputChars\":60000,"
         "\"maxRlmIterations\":10,\"maxSubLmCalls\":20}}",
         "sha256:bd6b188cb34f3fc1857bb30b9e48612883194ba2930573d214c1e6b2ccb54a7e"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct dse_err err;
        cJSON *v = json_parse_str(cases[i].params, &err);
        char id[HASH_ID_LEN + 1];
        hash_json(v, id);
        assert_string_equal(id, cases[i].want);
        cJSON_Delete(v);
    }
}

static void test_canary_buckets(void **state)
{
    (void)state;
    assert_int_equal(hash_bucket100("salt:thread-1:@openagents/autopilot/blueprint/SelectTool.v1"), 65);
    assert_int_equal(hash_bucket100("s:t:x"), 78);
    assert_int_equal(hash_canary_bucket("", "thread_abc", "@openagents/autopilot/canary/RecapThread.v1"), 58);
}

static void test_collation(void **state)
{
    (void)state;
    const char *ids[] = {"v1.none_by_default_strict", "v1.base_router_rules", "v1_common_phrasings",
                         "v1.boundaries_vs_identity"};
    qsort(ids, 4, sizeof ids[0], collate_qsort_cmp);
    assert_string_equal(ids[0], "v1_common_phrasings");
    assert_string_equal(ids[1], "v1.base_router_rules");
    assert_string_equal(ids[2], "v1.boundaries_vs_identity");
    assert_string_equal(ids[3], "v1.none_by_default_strict");
    assert_true(collate_cmp("a", "B") < 0);
    assert_true(collate_cmp("a", "A") < 0);
    assert_true(collate_cmp("Aa", "ab") < 0);
    assert_true(collate_cmp("x-1", "x.1") < 0);
    assert_true(collate_cmp("9", "a") < 0);
    assert_true(collate_cmp("ab", "ab") == 0);
    /* sort keys agree with the comparator */
    const char *words[] = {"b", "A", "a", "a_b", "a.b", "a-b", "10", "9", "Zed", "zed", "é", "a b", ""};
    for (size_t i = 0; i < ARRAY_LEN(words); i++)
        for (size_t j = 0; j < ARRAY_LEN(words); j++) {
            struct sbuf ka = {0}, kb = {0};
            collate_sort_key(words[i], &ka);
            collate_sort_key(words[j], &kb);
            size_t n = ka.len < kb.len ? ka.len : kb.len;
            int m = memcmp(ka.s, kb.s, n);
            if (!m)
                m = ka.len < kb.len ? -1 : ka.len > kb.len;
            int c = collate_cmp(words[i], words[j]);
            assert_int_equal(m < 0 ? -1 : m > 0, c);
            sbuf_free(&ka);
            sbuf_free(&kb);
        }
}

static void test_parse_limits(void **state)
{
    (void)state;
    struct dse_err err;
    /* depth 1000 parses, 1001 refused */
    struct sbuf b = {0};
    for (int i = 0; i < 1000; i++)
        sbuf_addc(&b, '[');
    for (int i = 0; i < 1000; i++)
        sbuf_addc(&b, ']');
    cJSON *v = json_parse(b.s, b.len, 0, &err);
    assert_non_null(v);
    cJSON_Delete(v);
    sbuf_reset(&b);
    for (int i = 0; i < 1001; i++)
        sbuf_addc(&b, '[');
    for (int i = 0; i < 1001; i++)
        sbuf_addc(&b, ']');
    assert_null(json_parse(b.s, b.len, 0, &err));
    assert_string_equal(err.code, "invalid_json");
    assert_non_null(strstr(err.msg, "1000"));
    sbuf_free(&b);
    /* \u0000 is refused rather than truncated */
    assert_null(json_parse_str("{\"a\":\"ab\\u0000cd\"}", &err));
    assert_non_null(strstr(err.msg, "u0000"));
    /* but an escaped backslash followed by u0000 text is fine */
    v = json_parse_str("\"\\\\u0000\"", &err);
    assert_non_null(v);
    assert_string_equal(v->valuestring, "\\u0000");
    cJSON_Delete(v);
    /* raw control characters and invalid UTF-8 in strings */
    assert_null(json_parse_str("\"a\x1b[2J\"", &err));
    assert_null(json_parse_str("\"\xff\xfe\"", &err));
    assert_null(json_parse_str("\"\xc0\xaf\"", &err));
    /* unterminated buffer without NUL: exact-size copy */
    char *raw = xmalloc(4);
    memcpy(raw, "[1,2", 4);
    assert_null(json_parse(raw, 4, 0, &err));
    free(raw);
    /* size cap */
    assert_null(json_parse("[1]", 3, 2, &err));
    assert_string_equal(err.code, "too_large");
    /* trailing junk */
    assert_null(json_parse_str("{} x", &err));
    /* line and column in the message */
    assert_null(json_parse_str("{\n  \"a\": tru\n}", &err));
    assert_non_null(strstr(err.msg, "line 2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_sample),   cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_escapes_and_keys),   cmocka_unit_test(test_judge_params_hash),
        cmocka_unit_test(test_default_compiled_ids), cmocka_unit_test(test_canary_buckets),
        cmocka_unit_test(test_collation),          cmocka_unit_test(test_parse_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
