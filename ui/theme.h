/* theme: named colour roles and theme files.
 *
 * Pure (no curses): unit-tested by tests/unit/test_ui_theme.c.  term.c turns
 * a parsed theme into curses colour pairs and attributes.
 *
 * Draw code uses roles only.  A theme file sets roles, one per line:
 *
 *     color <role> <fg> <bg> [attr ...]
 *
 *   colour  default | black red green yellow blue magenta cyan white |
 *           bright-black ... bright-white | gray | color0..color255 | 0..255
 *   attr    normal bold dim reverse underline standout italic blink
 *
 * Themes ship in themes/ (default, light, high-contrast, mono) and are
 * embedded in the binary (src/embedded.h, path "themes/NAME.theme"); a file
 * $XDG_CONFIG_HOME/dse/themes/NAME.theme overrides the embedded one.  Each
 * role also has a monochrome attribute used when colour is off (NO_COLOR,
 * a terminal without colours) so the screen stays readable. */
#ifndef DSE_UI_THEME_H
#define DSE_UI_THEME_H

#include <stdbool.h>

enum {
    THEME_A_BOLD = 1 << 0,
    THEME_A_DIM = 1 << 1,
    THEME_A_REVERSE = 1 << 2,
    THEME_A_UNDERLINE = 1 << 3,
    THEME_A_STANDOUT = 1 << 4,
    THEME_A_ITALIC = 1 << 5,
    THEME_A_BLINK = 1 << 6,
};

/* X(id, name, mono attributes) */
#define THEME_ROLES(X)                                                            \
    X(DEFAULT, "default", 0)                                                  \
    X(HEADER, "header", THEME_A_REVERSE)                                      \
    X(HEADER_ARMED, "header-armed", THEME_A_REVERSE | THEME_A_BOLD)           \
    X(TAB, "tab", 0)                                                          \
    X(TAB_ACTIVE, "tab-active", THEME_A_REVERSE | THEME_A_BOLD)               \
    X(FRAME, "frame", 0)                                                      \
    X(FRAME_FOCUS, "frame-focus", THEME_A_BOLD)                               \
    X(FRAME_ARMED, "frame-armed", THEME_A_BOLD)                               \
    X(TITLE, "title", THEME_A_BOLD)                                           \
    X(COLUMN, "column", THEME_A_UNDERLINE)                                    \
    X(ROW, "row", 0)                                                          \
    X(ROW_SELECTED, "row-selected", THEME_A_REVERSE)                          \
    X(ROW_SELECTED_DIM, "row-selected-dim", THEME_A_UNDERLINE)                \
    X(ROW_CHANGED, "row-changed", THEME_A_BOLD)                               \
    X(LABEL, "label", THEME_A_BOLD)                                           \
    X(VALUE, "value", 0)                                                      \
    X(DIM, "dim", THEME_A_DIM)                                                \
    X(OK, "ok", THEME_A_BOLD)                                                 \
    X(ERROR, "error", THEME_A_BOLD | THEME_A_REVERSE)                         \
    X(WARN, "warn", THEME_A_BOLD)                                             \
    X(MESSAGE, "message", 0)                                                  \
    X(STATUS, "status", THEME_A_REVERSE)                                      \
    X(INPUT, "input", THEME_A_BOLD)                                           \
    X(KEY, "key", THEME_A_BOLD)                                               \
    X(BAR_OK, "bar-ok", THEME_A_REVERSE)                                      \
    X(BAR_ERROR, "bar-error", THEME_A_REVERSE | THEME_A_BOLD)                 \
    X(BAR_EMPTY, "bar-empty", THEME_A_DIM)                                    \
    X(VERDICT_COLLECTING, "verdict-collecting", THEME_A_BOLD)                 \
    X(VERDICT_HEALTHY, "verdict-healthy", THEME_A_BOLD)                       \
    X(VERDICT_FAILING, "verdict-failing", THEME_A_BOLD | THEME_A_REVERSE)     \
    X(JSON_KEY, "json-key", THEME_A_BOLD)                                     \
    X(JSON_STRING, "json-string", 0)                                          \
    X(JSON_NUMBER, "json-number", 0)                                          \
    X(JSON_LITERAL, "json-literal", 0)                                        \
    X(JSON_PUNCT, "json-punct", THEME_A_DIM)                                  \
    X(MATCH, "match", THEME_A_REVERSE | THEME_A_UNDERLINE)

enum theme_role {
#define THEME_X_ENUM(id, name, mono) ROLE_##id,
    THEME_ROLES(THEME_X_ENUM)
#undef THEME_X_ENUM
    ROLE__COUNT
};

#define THEME_COLOR_DEFAULT (-1)

struct theme_entry {
    short fg, bg;    /* -1 = terminal default, 0..255 */
    unsigned attrs;  /* THEME_A_* */
    bool set;        /* given by the theme file */
};

struct theme {
    char name[64];
    struct theme_entry e[ROLE__COUNT];
};

typedef void theme_warn_fn(void *ctx, const char *msg);

/* Reset to "everything default colour, no attributes". */
void theme_init(struct theme *t, const char *name);
/* Parse theme text; bad lines are reported as "path:line: message" and
 * skipped.  Returns the number of bad lines. */
int theme_parse(struct theme *t, const char *text, const char *path, theme_warn_fn *warn,
                void *ctx);

const char *theme_role_name(int role);
int theme_role_parse(const char *name); /* -1 unknown */
unsigned theme_role_mono(int role);
/* -2 on junk; -1 default; 0..255. */
int theme_color_parse(const char *s);
/* Map a 256-colour index onto a palette of `colors` (8 or 16): the nearest
 * of the basic colours.  *bold is set when an 8-colour terminal needs bold
 * to show a bright colour. */
int theme_color_reduce(int c, int colors, bool *bold);

#endif
