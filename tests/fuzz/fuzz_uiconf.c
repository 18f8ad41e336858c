/* fuzz_uiconf: the console's theme and keymap file parsers (ui/theme.c,
 * ui/keymap.c: pure modules, included as source because the fuzz build
 * links only libdse.a).  Input: one byte chooses the parser, the rest is
 * the file.  Invariants: no crash or leak; every warning is terminal-safe
 * (it is printed on stderr); after a keymap load every lookup is in range
 * and the help text is terminal-safe (newlines kept). */
#include "../../ui/keymap.c"
#include "../../ui/theme.c"

#include "../unit/hostile_corpus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_uiconf: invariant broken: %s\n", what);
        abort();
    }
}

static void on_warn(void *ctx, const char *msg)
{
    (*(int *)ctx)++;
    if (hostile_check(msg, strlen(msg), 0))
        fprintf(stderr, "warning: %s (%s)\n", msg, hostile_check(msg, strlen(msg), 0));
    must(hostile_check(msg, strlen(msg), 0) == NULL, "unsafe warning");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0; /* the parsers take C strings (files are read whole) */
    int warnings = 0;
    if (data[0] & 1) {
        struct theme t;
        theme_init(&t, "fuzz");
        theme_parse(&t, text, "fuzz.theme", on_warn, &warnings);
        for (int r = 0; r < ROLE__COUNT; r++) {
            must(t.e[r].fg >= -1 && t.e[r].fg <= 255, "fg out of range");
            must(t.e[r].bg >= -1 && t.e[r].bg <= 255, "bg out of range");
        }
    } else {
        struct keymap *km = keymap_new();
        int bad = keymap_load_text(km, text, "fuzz.keymap", on_warn, &warnings);
        must(bad == warnings, "bad-line count differs from warnings");
        for (int scope = 0; scope < 3; scope++) {
            char *help = keymap_help(km, scope);
            must(hostile_check(help, strlen(help), HOSTILE_ALLOW_NL) == NULL, "unsafe help");
            free(help);
        }
        keymap_free(km);
    }
    free(text);
    return 0;
}
