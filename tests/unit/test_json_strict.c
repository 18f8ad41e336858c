/* json_parse is strict JSON (RFC 8259, JSONTestSuite y_/n_ cases) where
 * cJSON alone is lenient: \u escapes, numbers, whitespace.  Every refusal
 * is invalid_json with "line L col C: why"; nothing is ever truncated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

/* text must parse; returns the tree. */
static cJSON *ok(const char *text)
{
    struct dse_err err = {0};
    cJSON *v = json_parse(text, strlen(text), 0, &err);
    if (!v)
        fail_msg("refused %s: %s", text, err.msg);
    return v;
}

/* text must be refused as invalid_json with a located message holding why
 * (NULL: any reason). */
static void bad(const char *text, const char *why)
{
    struct dse_err err = {0};
    cJSON *v = json_parse(text, strlen(text), 0, &err);
    if (v) {
        char *c = json_canonical(v);
        cJSON_Delete(v);
        fail_msg("accepted %s as %s", text, c);
    }
    assert_string_equal(err.code, "invalid_json");
    if (strncmp(err.msg, "line ", 5) != 0 || !strstr(err.msg, " col "))
        fail_msg("%s: message without line/col: %s", text, err.msg);
    if (why && !strstr(err.msg, why))
        fail_msg("%s: message \"%s\" lacks \"%s\"", text, err.msg, why);
}

/* A string value must come back byte-exact. */
static void str_is(const char *text, const char *want)
{
    cJSON *v = ok(text);
    assert_true(cJSON_IsString(v));
    assert_string_equal(v->valuestring, want);
    cJSON_Delete(v);
}

/* ---- 1. \u escapes ---- */

static void test_bad_unicode_escapes(void **state)
{
    (void)state;
    /* cJSON reads these as U+0000 and cuts the string there: "a\uZZZZb"
     * became "a" and overwrote another example's id. */
    bad("\"a\\uZZZZb\"", "\\u escape");
    bad("{\"exampleId\":\"a\\uZZZZb\"}", "\\u escape");
    bad("\"\\u12\"", "\\u escape");
    bad("[\"\\u12\",\"x\"]", "\\u escape");
    bad("\"\\u00ZZ\"", "\\u escape");
    bad("\"\\u\"", "\\u escape");
    bad("\"\\u1", NULL);
    bad("\"\\uD800\\u\"", NULL);
    bad("\"\\u-123\"", "\\u escape");
    bad("\"\\u 123\"", "\\u escape");
    /* other escapes JSON does not have */
    bad("\"\\x41\"", "invalid escape");
    bad("\"\\'\"", "invalid escape");
    bad("\"\\a\"", "invalid escape");
    bad("\"\\U0041\"", "invalid escape");
    bad("\"\\", NULL);
    /* the located column points at the escape */
    struct dse_err err;
    assert_null(json_parse_str("{\"a\":\"x\\uZZZZ\"}", &err));
    assert_non_null(strstr(err.msg, "line 1 col 8:"));
    /* valid escapes pass, case-insensitive hex */
    str_is("\"\\u0041\\u00e9\\u00E9\"", "A\xc3\xa9\xc3\xa9");
    str_is("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t");
    str_is("\"\\u20AC\"", "\xe2\x82\xac");
    str_is("\"\\uFFFF\"", "\xef\xbf\xbf");
}

static void test_surrogates(void **state)
{
    (void)state;
    /* a pair is one astral character */
    str_is("\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80");
    str_is("\"\\ud834\\udd1e x\"", "\xf0\x9d\x84\x9e x");
    str_is("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf");
    /* lone surrogates (implementation-defined in JSONTestSuite) have no
     * UTF-8 form: refused cleanly, never truncated or mangled */
    bad("\"\\uD800\"", "lone high surrogate");
    bad("\"a\\uD800b\"", "lone high surrogate");
    bad("\"\\uD800\\u0041\"", "lone high surrogate");
    bad("\"\\uD800\\uD800\"", "lone high surrogate");
    bad("\"\\uDBFF\\n\"", "lone high surrogate");
    bad("\"\\uDC00\"", "lone low surrogate");
    bad("\"\\uDFFF\\uD800\"", "lone low surrogate");
    bad("{\"\\uDD1E\":1}", "lone low surrogate");
}

/* ---- 2. numbers ---- */

static void test_bad_numbers(void **state)
{
    (void)state;
    static const char *const n_numbers[] = {
        "-01", "012", "2.", "0.e1", "-.123", "1.e5", ".5", "+1", "0x1", "1e", "1e+", "1E-",
        "-", "Infinity", "-Infinity", "NaN", "-NaN", "00", "-00", "01.5", "1.2.3", "1ee2",
        "1e2e3", "0.", "-2.", "1.5e", "0x42", "1_000", "1f", "2e+-1", "--1", "- 1", "1e1.5",
        "\xef\xbc\x91", /* fullwidth digit one */
    };
    char buf[128];
    for (size_t i = 0; i < ARRAY_LEN(n_numbers); i++) {
        bad(n_numbers[i], NULL);
        snprintf(buf, sizeof buf, "[%s]", n_numbers[i]);
        bad(buf, NULL);
        snprintf(buf, sizeof buf, "{\"a\":%s}", n_numbers[i]);
        bad(buf, NULL);
        snprintf(buf, sizeof buf, "[1,%s,2]", n_numbers[i]);
        bad(buf, NULL);
    }
    bad("[012]", "leading zero");
    bad("[-01]", "leading zero");
    bad("[2.]", "decimal point");
    bad("[1e+]", "exponent");
    bad("[-]", "sign");
    bad("[+1]", "invalid number");
    bad("[NaN]", "invalid literal");
    bad("[tru]", "invalid literal");
    bad("[nulll]", "invalid literal");
    bad("[True]", "invalid literal");
}

static void test_good_numbers(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        double v;
    } y_numbers[] = {
        {"0", 0},          {"-0", -0.0},     {"1", 1},           {"-1", -1},
        {"123", 123},      {"1E+2", 100},    {"1e+2", 100},      {"1E2", 100},
        {"1e-2", 0.01},    {"1E-2", 0.01},   {"0e1", 0},         {"0E+1", 0},
        {"-0e-1", -0.0},   {"1.5e-3", 0.0015}, {"0.5", 0.5},     {"-0.5", -0.5},
        {"123.456789", 123.456789}, {"1e0", 1}, {"20e1", 200},   {"123e65", 123e65},
        {"-123.123e-2", -1.23123}, {"1.0", 1}, {"100000000000000000000", 1e20},
        {"1E400", 0 /* overflows: parses, value not compared */},
    };
    char buf[128];
    for (size_t i = 0; i < ARRAY_LEN(y_numbers); i++) {
        cJSON *v = ok(y_numbers[i].text);
        assert_true(cJSON_IsNumber(v));
        if (strcmp(y_numbers[i].text, "1E400") != 0)
            assert_true(v->valuedouble == y_numbers[i].v);
        cJSON_Delete(v);
        snprintf(buf, sizeof buf, "[%s, %s ,%s]", y_numbers[i].text, y_numbers[i].text,
                 y_numbers[i].text);
        cJSON_Delete(ok(buf));
        snprintf(buf, sizeof buf, "{\"a\":%s}", y_numbers[i].text);
        cJSON_Delete(ok(buf));
    }
    /* literals and structure around them */
    cJSON *v = ok("[true,false,null,{\"a\":[1,-2.5e3,\"x\"]}]");
    char *c = json_canonical(v);
    assert_string_equal(c, "[true,false,null,{\"a\":[1,-2500,\"x\"]}]");
    free(c);
    cJSON_Delete(v);
}

/* ---- 3. whitespace ---- */

static void test_whitespace(void **state)
{
    (void)state;
    /* only space, tab, LF and CR */
    cJSON_Delete(ok(" \t\r\n[ \t\r\n1 \t\r\n, \t\r\n{ \"a\" \t: \r\n2 } ] \t\r\n"));
    static const char *const n_ws[] = {
        "[\f1]", "[1\f]", "\f[1]", "[1]\f", "{\"a\":\f1}", "[\v1]", "[1\v]", "\v[1]",
        "[\x01" "1]", "[1,\x1f" "2]", "[\x7f" "1]",
        "[\xc2\xa0" "1]",          /* U+00A0 no-break space */
        "[1\xc2\xa0]", "\xc2\xa0[1]",
        "[\xe2\x80\x80" "1]",      /* U+2000 en quad */
        "[\xe3\x80\x80" "1]",      /* U+3000 ideographic space */
        "\xef\xbb\xbf[1]",         /* a byte order mark is not whitespace either */
        "[\xe2\x80\xa8" "1]",      /* U+2028 */
    };
    for (size_t i = 0; i < ARRAY_LEN(n_ws); i++)
        bad(n_ws[i], NULL);
    bad("[\f1]", "only space, tab, CR and LF");
    struct dse_err err;
    assert_null(json_parse_str("{\n  \"a\":\f1}", &err));
    assert_non_null(strstr(err.msg, "line 2 col 7:"));
    /* inside strings a form feed must be escaped (raw controls refused) */
    bad("[\"a\fb\"]", "raw control character");
    str_is("\"a\\fb\"", "a\fb");
}

/* ---- json_depth, as json_parse counts nesting ---- */

static void test_depth(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int depth;
    } cases[] = {
        {"1", 0}, {"\"s\"", 0}, {"[]", 1}, {"{}", 1}, {"[1,[2]]", 2},
        {"{\"a\":[1],\"b\":{\"c\":{}}}", 3}, {"[[],[[[]]],[]]", 4},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        cJSON *v = ok(cases[i].text);
        assert_int_equal(json_depth(v, 100), cases[i].depth);
        cJSON_Delete(v);
    }
    /* exact up to the cap, cap + 1 beyond; the value JSON_MAX_DEPTH parses */
    struct sbuf b = {0};
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        sbuf_addc(&b, '[');
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        sbuf_addc(&b, ']');
    cJSON *v = ok(b.s);
    assert_int_equal(json_depth(v, JSON_MAX_DEPTH), JSON_MAX_DEPTH);
    assert_int_equal(json_depth(v, JSON_MAX_VALUE_DEPTH), JSON_MAX_VALUE_DEPTH + 1);
    assert_int_equal(json_depth(v, 0), 1);
    assert_int_equal(json_depth(v->child, JSON_MAX_DEPTH), JSON_MAX_DEPTH - 1);
    cJSON_Delete(v);
    sbuf_free(&b);
    /* the stored-value limit leaves room for a reply's envelope */
    assert_true(JSON_MAX_VALUE_DEPTH + 8 <= JSON_MAX_DEPTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_unicode_escapes), cmocka_unit_test(test_surrogates),
        cmocka_unit_test(test_bad_numbers),         cmocka_unit_test(test_good_numbers),
        cmocka_unit_test(test_whitespace),          cmocka_unit_test(test_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
