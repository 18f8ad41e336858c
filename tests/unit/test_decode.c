/* decode: code fences, strict_json vs jsonish, schema decode, repair prompt,
 * and the budget counter rules (reference dse-spec.md §6.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "decode.h"
#include "json.h"
#include "util.h"

static cJSON *parse(const char *s)
{
    struct dse_err err;
    cJSON *v = json_parse_str(s, &err);
    assert_non_null(v);
    return v;
}

static void assert_canon(const cJSON *v, const char *want)
{
    char *c = json_canonical(v);
    assert_string_equal(c, want);
    free(c);
}

static void test_strip_fences(void **state)
{
    (void)state;
    char *s = decode_strip_fences("  ```json\n{\"a\":1}\n```  ");
    assert_string_equal(s, "{\"a\":1}");
    free(s);
    s = decode_strip_fences("```\n{\"a\":1}\n```\ntrailing ``` text");
    /* cut at the LAST fence */
    assert_string_equal(s, "{\"a\":1}\n```\ntrailing");
    free(s);
    s = decode_strip_fences("```{\"a\":1}```"); /* one line: untouched */
    assert_string_equal(s, "```{\"a\":1}```");
    free(s);
    s = decode_strip_fences("```json\n{\"a\":2}"); /* no closing fence */
    assert_string_equal(s, "{\"a\":2}");
    free(s);
    s = decode_strip_fences("\n {\"b\":3} \n");
    assert_string_equal(s, "{\"b\":3}");
    free(s);
}

static void test_find_json(void **state)
{
    (void)state;
    const char *t = "Sure! {\"text\":\"a } and { and \\\" quote\",\"n\":{\"x\":[1,{\"y\":2}]}} done }";
    size_t st, len;
    assert_true(decode_find_json(t, strlen(t), &st, &len));
    assert_int_equal(st, 6);
    char *slice = xstrndup(t + st, len);
    assert_string_equal(slice, "{\"text\":\"a } and { and \\\" quote\",\"n\":{\"x\":[1,{\"y\":2}]}}");
    free(slice);
    /* array first */
    const char *a = "list: [1, \"]\", [2]] {\"no\":1}";
    assert_true(decode_find_json(a, strlen(a), &st, &len));
    assert_int_equal(len, strlen("[1, \"]\", [2]]"));
    /* unclosed */
    assert_false(decode_find_json("x {\"a\": 1", 9, &st, &len));
    assert_false(decode_find_json("nothing here", 12, &st, &len));
}

static void test_modes(void **state)
{
    (void)state;
    struct dse_err err;
    const char *chatty = "Here you go:\n{\"action\":\"none\",\"note\":\"{braces}\"}\nHope it helps";
    cJSON *v = decode_json(chatty, DECODE_STRICT_JSON, &err);
    assert_null(v);
    assert_string_equal(err.code, "OutputDecodeError");
    assert_string_equal(err.msg, "Failed to parse JSON output");
    v = decode_json(chatty, DECODE_JSONISH, &err);
    assert_non_null(v);
    assert_canon(v, "{\"action\":\"none\",\"note\":\"{braces}\"}");
    cJSON_Delete(v);
    /* fenced strict JSON parses in strict mode */
    v = decode_json("```json\n[1,2]\n```", DECODE_STRICT_JSON, &err);
    assert_non_null(v);
    cJSON_Delete(v);
    /* jsonish with nothing parseable */
    assert_null(decode_json("no json at all", DECODE_JSONISH, &err));
    assert_string_equal(err.msg, "Failed to parse JSON output");
    /* a broken first object is not skipped for a later one */
    assert_null(decode_json("{\"a\": nope} {\"b\":1}", DECODE_JSONISH, &err));
}

static void test_schema(void **state)
{
    (void)state;
    cJSON *schema = parse("{\"type\":\"object\",\"required\":[\"action\"],\"properties\":{"
                          "\"action\":{\"enum\":[\"none\",\"tool\"]},\"toolName\":{\"type\":\"string\"}}}");
    struct dse_err err;
    cJSON *v = decode_output(schema, "{\"action\":\"tool\",\"toolName\":\"x\",\"extra\":1}",
                             DECODE_STRICT_JSON, &err);
    assert_non_null(v);
    assert_canon(v, "{\"action\":\"tool\",\"toolName\":\"x\"}"); /* unknown key dropped */
    cJSON_Delete(v);
    v = decode_output(schema, "{\"action\":\"maybe\"}", DECODE_STRICT_JSON, &err);
    assert_null(v);
    assert_string_equal(err.code, "OutputDecodeError");
    assert_true(strncmp(err.msg, "Output did not match schema: $.action", 37) == 0);
    v = decode_output(schema, "{}", DECODE_JSONISH, &err);
    assert_null(v);
    assert_non_null(strstr(err.msg, "Output did not match schema"));
    cJSON_Delete(schema);
}

static void test_params_and_repair_prompt(void **state)
{
    (void)state;
    enum decode_mode m;
    int r;
    decode_params(NULL, &m, &r);
    assert_int_equal(m, DECODE_STRICT_JSON);
    assert_int_equal(r, 0);
    cJSON *p = parse("{\"decode\":{\"mode\":\"jsonish\",\"maxRepairs\":2.9}}");
    decode_params(p, &m, &r);
    assert_int_equal(m, DECODE_JSONISH);
    assert_int_equal(r, 2);
    cJSON_Delete(p);
    p = parse("{\"decode\":{\"maxRepairs\":-3}}");
    decode_params(p, &m, &r);
    assert_int_equal(r, 0);
    cJSON_Delete(p);

    cJSON *schema = parse("{\"properties\":{\"b\":{},\"a\":{}},\"type\":\"object\"}");
    struct sbuf raw = {0};
    sbuf_adds(&raw, "   ");
    for (int i = 0; i < 3000; i++)
        sbuf_addc(&raw, 'x');
    char *prompt = decode_repair_prompt(schema, raw.s, "Failed to parse JSON output");
    assert_non_null(strstr(prompt, "{\"properties\":{\"a\":{},\"b\":{}},\"type\":\"object\"}"));
    assert_non_null(strstr(prompt, "Failed to parse JSON output"));
    /* the preview is the trimmed reply cut at 2000 characters */
    const char *x = strstr(prompt, "xxxx");
    assert_non_null(x);
    size_t run = strspn(x, "x");
    assert_int_equal(run, 2000);
    free(prompt);
    sbuf_free(&raw);
    cJSON_Delete(schema);
    char *pre = decode_prefix("h\xc3\xa9llo", 2);
    assert_string_equal(pre, "h\xc3\xa9");
    free(pre);
}

static void test_budget_semantics(void **state)
{
    (void)state;
    setenv("DSE_FAKE_NOW_MS", "1000000", 1);
    cJSON *lim = parse("{\"maxLmCalls\":2.7,\"maxOutputChars\":10,\"maxTimeMs\":500,"
                       "\"maxToolCalls\":-4,\"maxSubLmCalls\":\"x\"}");
    struct budget b;
    struct dse_err err;
    budget_start(&b, lim, util_now_ms());
    cJSON *l = budget_limits_json(&b);
    /* floored, >= 0; non-numbers dropped */
    assert_canon(l, "{\"maxLmCalls\":2,\"maxOutputChars\":10,\"maxTimeMs\":500,\"maxToolCalls\":0}");
    cJSON_Delete(l);
    assert_int_equal(budget_count(&b, BUDGET_LM_CALLS, 1, &err), 0);
    assert_int_equal(budget_count(&b, BUDGET_LM_CALLS, 1, &err), 0); /* == limit: fine */
    assert_int_equal(budget_count(&b, BUDGET_LM_CALLS, 1, &err), -1); /* 3 > 2 */
    assert_string_equal(err.code, "BudgetExceededError");
    assert_non_null(strstr(err.msg, "maxLmCalls"));
    assert_non_null(strstr(err.msg, "3"));
    assert_non_null(strstr(err.msg, "2"));
    assert_int_equal(budget_count(&b, BUDGET_OUTPUT_CHARS, 10, &err), 0);
    assert_int_equal(budget_count(&b, BUDGET_OUTPUT_CHARS, 1, &err), -1);
    assert_int_equal(budget_count(&b, BUDGET_TOOL_CALLS, 1, &err), -1); /* limit 0 */
    assert_int_equal(budget_count(&b, BUDGET_SUB_LM_CALLS, 1000, &err), 0); /* no limit */
    /* time: elapsed == limit passes, limit + 1 fails */
    setenv("DSE_FAKE_NOW_MS", "1000500", 1);
    assert_int_equal(budget_check_time(&b, &err), 0);
    setenv("DSE_FAKE_NOW_MS", "1000501", 1);
    assert_int_equal(budget_check_time(&b, &err), -1);
    assert_non_null(strstr(err.msg, "maxTimeMs"));
    /* every counting step checks the time too */
    assert_int_equal(budget_count(&b, BUDGET_SUB_LM_CALLS, 1, &err), -1);
    cJSON *snap = budget_snapshot_json(&b, true);
    assert_int_equal(json_int(json_get(snap, "usage"), "lmCalls", -1), 3);
    assert_int_equal(json_int(json_get(snap, "usage"), "elapsedMs", -1), 501);
    cJSON_Delete(snap);
    cJSON *u = budget_usage_json(&b, false);
    assert_null(json_get(u, "elapsedMs"));
    cJSON_Delete(u);
    cJSON_Delete(lim);

    /* zero LM budget refuses the first call */
    lim = parse("{\"maxLmCalls\":0}");
    budget_start(&b, lim, util_now_ms());
    assert_int_equal(budget_count(&b, BUDGET_LM_CALLS, 1, &err), -1);
    assert_string_equal(err.code, "BudgetExceededError");
    cJSON_Delete(lim);
    unsetenv("DSE_FAKE_NOW_MS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strip_fences),
        cmocka_unit_test(test_find_json),
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_params_and_repair_prompt),
        cmocka_unit_test(test_budget_semantics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
