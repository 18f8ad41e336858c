/* ui/theme.c: every shipped theme (embedded in the binary) parses cleanly
 * and sets every role; bad lines warn and are skipped; colours degrade to
 * 16 and 8 colour terminals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"
#include "theme.c"

static int nwarn;
static char last[512];

static void collect(void *ctx, const char *msg)
{
    (void)ctx;
    nwarn++;
    snprintf(last, sizeof last, "%s", msg);
}

static void test_shipped_themes(void **state)
{
    (void)state;
    const char *want[] = {"themes/default.theme", "themes/light.theme",
                          "themes/high-contrast.theme", "themes/mono.theme"};
    for (size_t w = 0; w < 4; w++) {
        const struct embedded_file *f = NULL;
        for (const struct embedded_file *e = embedded_files; e->path; e++)
            if (!strcmp(e->path, want[w]))
                f = e;
        assert_non_null(f);
        struct theme t;
        theme_init(&t, want[w]);
        nwarn = 0;
        assert_int_equal(theme_parse(&t, f->data, f->path, collect, NULL), 0);
        assert_int_equal(nwarn, 0);
        for (int r = 0; r < ROLE__COUNT; r++) {
            if (!t.e[r].set)
                fail_msg("%s does not set role %s", want[w], theme_role_name(r));
        }
    }
}

static void test_parse_and_errors(void **state)
{
    (void)state;
    struct theme t;
    theme_init(&t, "x");
    nwarn = 0;
    const char *text = "# comment\n"
                       "color header black cyan bold\n"
                       "color row-selected color208 default reverse underline\n"
                       "color nosuchrole red blue\n"
                       "color title chartreuse default\n"
                       "color error red default sparkly\n"
                       "colour ok green default\n"
                       "color ok\n";
    assert_int_equal(theme_parse(&t, text, "my.theme", collect, NULL), 5);
    assert_int_equal(nwarn, 5);
    assert_string_equal(last, "my.theme:8: expected: color <role> <fg> <bg> [attrs]");
    assert_true(t.e[ROLE_HEADER].set);
    assert_int_equal(t.e[ROLE_HEADER].fg, 0);
    assert_int_equal(t.e[ROLE_HEADER].bg, 6);
    assert_int_equal(t.e[ROLE_HEADER].attrs, THEME_A_BOLD);
    assert_int_equal(t.e[ROLE_ROW_SELECTED].fg, 208);
    assert_int_equal(t.e[ROLE_ROW_SELECTED].bg, -1);
    assert_int_equal(t.e[ROLE_ROW_SELECTED].attrs, THEME_A_REVERSE | THEME_A_UNDERLINE);
    assert_false(t.e[ROLE_TITLE].set);
    assert_false(t.e[ROLE_ERROR].set);
}

static void test_colour_reduction(void **state)
{
    (void)state;
    bool bold;
    assert_int_equal(theme_color_reduce(3, 8, &bold), 3);
    assert_false(bold);
    assert_int_equal(theme_color_reduce(9, 8, &bold), 1); /* bright red -> red + bold */
    assert_true(bold);
    assert_int_equal(theme_color_reduce(9, 16, &bold), 9);
    assert_int_equal(theme_color_reduce(196, 16, &bold), 9);  /* pure red */
    assert_int_equal(theme_color_reduce(196, 8, &bold), 1);
    assert_int_equal(theme_color_reduce(16, 8, &bold), 0);    /* black */
    assert_int_equal(theme_color_reduce(-1, 8, &bold), -1);
    assert_int_equal(theme_color_reduce(200, 256, &bold), 200);
    assert_int_equal(theme_color_parse("bright-white"), 15);
    assert_int_equal(theme_color_parse("color255"), 255);
    assert_int_equal(theme_color_parse("256"), -2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_themes),
        cmocka_unit_test(test_parse_and_errors),
        cmocka_unit_test(test_colour_reduction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
