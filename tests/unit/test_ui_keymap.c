/* ui/keymap.c: the built-in keymap parses cleanly, user lines override it,
 * bad lines warn "path:line: message" and loading continues. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "keymap.c"

static char warned[2048];
static int nwarn;

static void collect(void *ctx, const char *msg)
{
    (void)ctx;
    nwarn++;
    strncat(warned, msg, sizeof warned - strlen(warned) - 2);
    strcat(warned, "\n");
}

static void test_builtin(void **state)
{
    (void)state;
    struct keymap *km = keymap_new();
    nwarn = 0;
    assert_int_equal(keymap_load_text(km, keymap_default_text, "builtin", collect, NULL), 0);
    assert_int_equal(nwarn, 0);
    assert_int_equal(keymap_lookup(km, SCOPE_RECEIPTS, 'j'), ACT_DOWN);
    assert_int_equal(keymap_lookup(km, SCOPE_EXAMPLES, 'a'), ACT_LABEL_ACCEPT);
    /* 1 switches panes everywhere, the examples pane too; Shift+1 labels. */
    assert_int_equal(keymap_lookup(km, SCOPE_HISTORY, '1'), ACT_PANE_SIGNATURES);
    assert_int_equal(keymap_lookup(km, SCOPE_EXAMPLES, '1'), ACT_PANE_SIGNATURES);
    assert_int_equal(keymap_lookup(km, SCOPE_EXAMPLES, '!'), ACT_LABEL_1);
    assert_int_equal(keymap_lookup(km, SCOPE_EXAMPLES, '#'), ACT_LABEL_3);
    assert_int_equal(keymap_lookup(km, SCOPE_EXAMPLES, '^'), ACT_LABEL_6);
    assert_int_equal(keymap_lookup(km, SCOPE_EXAMPLES, '('), ACT_LABEL_9);
    assert_int_equal(keymap_lookup(km, SCOPE_EXAMPLES, ' '), ACT_LABEL_SKIP);
    assert_int_equal(keymap_lookup(km, SCOPE_SIGNATURES, 'R'), ACT_ROLLBACK);
    /* the viewer unbinds R on purpose */
    assert_int_equal(keymap_lookup(km, SCOPE_VIEWER, 'R'), ACT_NONE);
    assert_int_equal(keymap_lookup(km, SCOPE_GLOBAL, UI_KEY_FN(KEY_DOWN)), ACT_DOWN);
    /* every action is numbered past the curses key codes */
    assert_true(ACT_HELP > KEY_MAX);
    keymap_free(km);
}

static void test_user_overrides_and_errors(void **state)
{
    (void)state;
    struct keymap *km = keymap_new();
    keymap_load_text(km, keymap_default_text, "builtin", NULL, NULL);
    warned[0] = 0;
    nwarn = 0;
    const char *user = "# my keys\n"
                       "bind receipts J down   # trailing comment\n"
                       "bind global j none\n"
                       "bind nowhere a help\n"
                       "bind global Nope help\n"
                       "bind global a launch-missiles\n"
                       "frobnicate\n"
                       "bind global\n"
                       "bind global # help\n"
                       "bind examples C-a label-accept\n";
    int bad = keymap_load_text(km, user, "/home/u/.config/dse/keymap", collect, NULL);
    assert_int_equal(bad, 5);
    assert_int_equal(nwarn, 5);
    assert_non_null(strstr(warned, "/home/u/.config/dse/keymap:4: unknown scope 'nowhere'"));
    assert_non_null(strstr(warned, ":5: unknown key 'Nope'"));
    assert_non_null(strstr(warned, ":6: unknown action 'launch-missiles'"));
    assert_non_null(strstr(warned, ":7: unknown command 'frobnicate'"));
    assert_non_null(strstr(warned, ":8: expected: bind"));
    assert_int_equal(keymap_lookup(km, SCOPE_RECEIPTS, 'J'), ACT_DOWN);
    assert_int_equal(keymap_lookup(km, SCOPE_RECEIPTS, 'j'), ACT_NONE);
    assert_int_equal(keymap_lookup(km, SCOPE_GLOBAL, '#'), ACT_HELP);
    assert_int_equal(keymap_lookup(km, SCOPE_EXAMPLES, 1), ACT_LABEL_ACCEPT);
    /* words quoted back from the file are sanitised; bidi chars are no key */
    warned[0] = 0;
    assert_int_equal(keymap_load_text(km, "bind global \x1b[2J help\nbind global \xe2\x80\xae help\n",
                                      "k", collect, NULL), 2);
    assert_null(strchr(warned, 0x1b));
    assert_non_null(strstr(warned, "unknown key '^[[2J'"));
    assert_null(strstr(warned, "\xe2\x80\xae"));
    keymap_free(km);
}

/* Digits 1-8 switch panes in every scope, and no pane's own key shadows a
 * global key it would need (the label keys clash with nothing global). */
static void test_digits_everywhere(void **state)
{
    (void)state;
    struct keymap *km = keymap_new();
    keymap_load_text(km, keymap_default_text, "builtin", NULL, NULL);
    for (int sc = 0; sc < SCOPE__COUNT; sc++)
        for (int d = 0; d < 8; d++)
            assert_int_equal(keymap_lookup(km, sc, '1' + d), ACT_PANE_SIGNATURES + d);
    for (int a = ACT_LABEL_1; a <= ACT_LABEL_9; a++) {
        char k[32];
        keymap_key_for(km, SCOPE_EXAMPLES, a, k, sizeof k);
        assert_int_equal(strlen(k), 1);
        assert_true(k[0] < '0' || k[0] > '9');
        assert_int_equal(keymap_lookup(km, SCOPE_GLOBAL, k[0]), ACT_NONE);
    }
    keymap_free(km);
}

static void test_key_names(void **state)
{
    (void)state;
    const char *names[] = {"a", "?", "Space", "Enter", "Tab", "BackTab", "Esc", "Up", "PgDn",
                           "F5", "C-x", "\xc3\xa9", "Home", "Backspace", "^", "#", "!"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int k = keymap_key_parse(names[i]);
        assert_true(k > 0);
        char back[32];
        keymap_key_name(k, back, sizeof back);
        assert_string_equal(back, names[i]);
    }
    assert_int_equal(keymap_key_parse("F13"), -1);
    assert_int_equal(keymap_key_parse("ab"), -1);
    assert_int_equal(keymap_key_parse("C-"), -1);
    assert_int_equal(keymap_key_parse("^X"), 24); /* a control key; "^" alone is the caret */
    /* a Latin-1 letter must not collide with a curses function key */
    assert_true(keymap_key_parse("\xc4\x81") != UI_KEY_FN(0x101));
}

static void test_help_from_table(void **state)
{
    (void)state;
    struct keymap *km = keymap_new();
    keymap_load_text(km, keymap_default_text, "builtin", NULL, NULL);
    char *h = keymap_help(km, SCOPE_EXAMPLES);
    assert_non_null(strstr(h, "label-accept"));
    assert_non_null(strstr(h, "label-undo"));
    assert_non_null(strstr(h, "rollback"));
    /* the digits are pane keys here too; the value keys are listed */
    assert_non_null(strstr(h, "  1                pane-signatures"));
    assert_non_null(strstr(h, "  !                label-1"));
    assert_non_null(strstr(h, "  (                label-9"));
    free(h);
    h = keymap_help(km, SCOPE_RECEIPTS);
    assert_null(strstr(h, "label-accept"));
    assert_non_null(strstr(h, "open-trace"));
    free(h);
    char key[16];
    keymap_key_for(km, SCOPE_RECEIPTS, ACT_TRACE, key, sizeof key);
    assert_string_equal(key, "t");
    keymap_free(km);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin),
        cmocka_unit_test(test_user_overrides_and_errors),
        cmocka_unit_test(test_digits_everywhere),
        cmocka_unit_test(test_key_names),
        cmocka_unit_test(test_help_from_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
