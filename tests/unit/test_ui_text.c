/* ui/text.c: sanitise + wcwidth measurement + fit to an exact width.
 * The module is pure, so the test includes its source (unit tests link only
 * libdse.a). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "fmt.c"
#include "text.c"

static int setup(void **state)
{
    (void)state;
    if (!setlocale(LC_ALL, "C.UTF-8"))
        return -1;
    text_set_ascii(false);
    return 0;
}

/* Every cell must be exactly `w` columns, whatever the input. */
static void assert_width(const char *s, int w)
{
    wchar_t wbuf[1024];
    size_t n = mbstowcs(wbuf, s, 1024);
    assert_true(n != (size_t)-1);
    assert_int_equal(wcswidth(wbuf, n), w);
}

static void test_ascii_fit(void **state)
{
    (void)state;
    char *s = text_fit("hello", 8, TEXT_LEFT);
    assert_string_equal(s, "hello   ");
    free(s);
    s = text_fit("hello", 8, TEXT_RIGHT);
    assert_string_equal(s, "   hello");
    free(s);
    s = text_fit("hello world", 8, TEXT_LEFT);
    assert_string_equal(s, "hello w\xe2\x80\xa6");
    free(s);
    s = text_fit("abc", 0, TEXT_LEFT);
    assert_string_equal(s, "");
    free(s);
    s = text_fit("abc", 1, TEXT_LEFT);
    assert_width(s, 1);
    free(s);
}

static void test_wide_and_combining(void **state)
{
    (void)state;
    /* 漢字 = 4 columns; e + combining acute = 1 column. */
    assert_int_equal(text_width("\xe6\xbc\xa2\xe5\xad\x97"), 4);
    assert_int_equal(text_width("e\xcc\x81"), 1);
    for (int w = 1; w <= 8; w++) {
        char *s = text_fit("\xe6\xbc\xa2\xe5\xad\x97\xe6\xbc\xa2", w, TEXT_LEFT);
        assert_width(s, w);
        free(s);
        s = text_fit("e\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81x", w, TEXT_RIGHT);
        assert_width(s, w);
        free(s);
    }
    /* A combining mark with no base gets a visible stand-in. */
    char *s = text_fit("\xcc\x81x", 4, TEXT_LEFT);
    assert_string_equal(s, "?x  ");
    free(s);
    /* Zalgo stacks are capped. */
    s = text_fit("a\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81", 3, TEXT_LEFT);
    assert_int_equal(strlen(s), 1 + 2 * TEXT_MAX_COMBINING + 2);
    free(s);
}

static void test_hostile_cells(void **state)
{
    (void)state;
    const char *bad[] = {
        "\x1b[2J\x1b[H",        "\x1b]0;pwned\x07",  "approve\rDENY", "ok\b\bNO",
        "\xc2\x9b" "31m",       "\xe2\x80\xae" "evil", "\xff\xfe", "tab\there",
        "line\nbreak",          "\xe2\x80\x8bzw",   "\xef\xbb\xbf" "bom", "\x1b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int w = 1; w < 30; w += 3) {
            char *c = text_cell(bad[i], w, TEXT_LEFT);
            assert_width(c, w);
            for (const unsigned char *p = (const unsigned char *)c; *p; p++) {
                assert_true(*p >= 0x20 && *p != 0x7f);
            }
            assert_null(strstr(c, "\xe2\x80\xae"));
            assert_null(strstr(c, "\xc2\x9b"));
            free(c);
        }
    }
    char *c = text_cell("\x1b[2J", 10, TEXT_LEFT);
    assert_string_equal(c, "^[[2J     ");
    free(c);
    c = text_cell("approve\rDENY", 14, TEXT_LEFT);
    assert_string_equal(c, "approve^MDENY ");
    free(c);
}

static void test_ascii_mode(void **state)
{
    (void)state;
    text_set_ascii(true);
    char *c = text_cell("caf\xc3\xa9 au lait", 8, TEXT_LEFT);
    assert_string_equal(c, "caf<U+0~");
    free(c);
    text_set_ascii(false);
}

static void test_prefix_and_find(void **state)
{
    (void)state;
    int used;
    size_t n = text_prefix("\xe6\xbc\xa2\xe5\xad\x97x", 3, &used);
    assert_int_equal(n, 3);
    assert_int_equal(used, 2);
    assert_non_null(text_find("Hello World", "wor"));
    assert_null(text_find("Hello", "xyz"));
}

static void test_fmt_ids(void **state)
{
    (void)state;
    char b[64];
    assert_string_equal(fmt_hex8("sha256:2cf87193997dd957", b, sizeof b), "2cf87193");
    assert_string_equal(fmt_hex8(NULL, b, sizeof b), "-");
    /* never half a character */
    assert_string_equal(fmt_hex8("sha256:\xe6\xbc\xa2\xe5\xad\x97\xe6\xbc\xa2\xe5\xad\x97"
                                 "\xe6\xbc\xa2\xe5\xad\x97\xe6\xbc\xa2\xe5\xad\x97\xe6\xbc\xa2",
                                 b, sizeof b),
                        "\xe6\xbc\xa2\xe5\xad\x97\xe6\xbc\xa2\xe5\xad\x97\xe6\xbc\xa2\xe5\xad\x97"
                        "\xe6\xbc\xa2\xe5\xad\x97");
    assert_string_equal(fmt_id("sha256:2cf87193997dd957", b, sizeof b), "sha256:2cf87193");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", 1.5);
    assert_string_equal(fmt_field(o, "n", b, sizeof b), "1.5");
    assert_string_equal(fmt_field(o, "missing", b, sizeof b), "-");
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii_fit),      cmocka_unit_test(test_wide_and_combining),
        cmocka_unit_test(test_hostile_cells),  cmocka_unit_test(test_ascii_mode),
        cmocka_unit_test(test_prefix_and_find), cmocka_unit_test(test_fmt_ids),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
