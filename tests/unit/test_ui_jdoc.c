/* ui/jdoc.c: the viewer's document model — folding, search that unfolds,
 * raw text, sanitised line rendering, bounded work per line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "jdoc.c"
#include "text.c"

static cJSON *parse(const char *s)
{
    struct dse_err err;
    cJSON *v = json_parse_str(s, &err);
    assert_non_null(v);
    return v;
}

static char *line(struct jdoc *d, size_t i)
{
    struct sbuf b = {0};
    struct jseg segs[JDOC_MAX_SEGS];
    jdoc_line(d, i, &b, segs);
    return sbuf_take(&b);
}

static void test_tree_lines_and_folding(void **state)
{
    (void)state;
    struct jdoc *d = jdoc_new_json(parse("{\"a\":1,\"b\":{\"c\":[true,null],\"d\":\"x\"},\"e\":[]}"), "t");
    /* { a b{ c[ true null ] d } e[] } */
    assert_int_equal(jdoc_count(d), 11);
    char *l = line(d, 1);
    assert_string_equal(l, "  \"a\": 1,");
    free(l);
    l = line(d, 4);
    assert_string_equal(l, "      true,");
    free(l);
    size_t cur = jdoc_toggle(d, 2); /* fold "b" */
    assert_int_equal(cur, 2);
    assert_int_equal(jdoc_count(d), 5);
    l = line(d, 2);
    assert_non_null(strstr(l, "\"b\": {\xe2\x80\xa6},  2 keys"));
    free(l);
    assert_int_equal(jdoc_unfold_all(d, 2), 2); /* the cursor stays on "b" */
    assert_int_equal(jdoc_count(d), 11);
    jdoc_fold_all(d);
    assert_int_equal(jdoc_count(d), 5);
    /* search unfolds the container that holds the match */
    size_t found;
    assert_true(jdoc_search(d, "NULL", 0, 1, &found));
    l = line(d, found);
    assert_string_equal(l, "      null");
    free(l);
    assert_false(jdoc_search(d, "zzz", 0, 1, &found));
    /* leaf h (fold) goes to its parent */
    cur = jdoc_fold(d, found);
    l = line(d, cur);
    assert_non_null(strstr(l, "\"c\": ["));
    free(l);
    jdoc_free(d);
}

static void test_hostile_strings_and_raw(void **state)
{
    (void)state;
    cJSON *o = json_obj();
    json_set_str(o, "out\x1b[31m", "\x1b]0;pwned\x07 and \xe2\x80\xae rtl\r\n");
    struct jdoc *d = jdoc_new_json(o, "r");
    char *l = line(d, 1);
    assert_string_equal(l, "  \"out^[[31m\": \"^[]0;pwned^G and <U+202E> rtl^M^J\"");
    free(l);
    jdoc_set_raw(d, true);
    assert_true(jdoc_raw(d));
    for (size_t i = 0; i < jdoc_count(d); i++) {
        l = line(d, i);
        for (const unsigned char *p = (const unsigned char *)l; *p; p++)
            assert_true(*p >= 0x20 && *p != 0x7f);
        assert_null(strstr(l, "\xe2\x80\xae"));
        free(l);
    }
    size_t found;
    assert_true(jdoc_search(d, "pwned", 0, 1, &found));
    char *exp = jdoc_export(d);
    assert_non_null(strstr(exp, "\"out"));
    free(exp);
    jdoc_free(d);
}

static void test_text_and_large(void **state)
{
    (void)state;
    struct jdoc *d = jdoc_new_text(xstrdup("one\ntwo\nthree\n"), "txt");
    assert_int_equal(jdoc_count(d), 3);
    size_t found;
    assert_true(jdoc_search(d, "thr", 0, 1, &found));
    assert_int_equal(found, 2);
    assert_true(jdoc_search(d, "one", 2, 1, &found)); /* wraps */
    assert_int_equal(found, 0);
    assert_true(jdoc_search(d, "three", 0, -1, &found));
    assert_int_equal(found, 2);
    jdoc_free(d);
    /* a large array opens folded below the top level */
    cJSON *a = json_arr();
    for (int i = 0; i < 30000; i++) {
        cJSON *e = json_obj();
        json_set_num(e, "i", i);
        cJSON_AddItemToArray(a, e);
    }
    d = jdoc_new_json(a, "big");
    assert_int_equal(jdoc_count(d), 30002);
    char *l = line(d, 29000);
    assert_non_null(strstr(l, "{\xe2\x80\xa6}"));
    free(l);
    assert_true(jdoc_search(d, "29999", 0, 1, &found));
    l = line(d, found);
    assert_string_equal(l, "    \"i\": 29999");
    free(l);
    jdoc_free(d);
}

int main(void)
{
    setlocale(LC_ALL, "C.UTF-8");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_lines_and_folding),
        cmocka_unit_test(test_hostile_strings_and_raw),
        cmocka_unit_test(test_text_and_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
