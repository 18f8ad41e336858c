/* keymap: key -> action bindings per scope, loaded from text.
 *
 * Pure (no curses calls): unit-tested by tests/unit/test_ui_keymap.c.
 *
 * The default keymap is text compiled into the binary (keymap_default_text)
 * and parsed by the same parser as the user's file
 * ($XDG_CONFIG_HOME/dse/keymap), which is loaded afterwards and overrides it.
 * Syntax, one binding per line, '#' starts a comment:
 *
 *     bind <scope> <key> <action>
 *
 *   scope   global | signatures | overview | history | canary | compile |
 *           examples | receipts | runs | viewer   (a pane binding overrides
 *           global; binding `none` in a pane hides the global binding there)
 *   key     a character (`a`, `?`, `é`, `#`, `^`), or Space Enter Tab BackTab Esc
 *           Up Down Left Right PgUp PgDn Home End Backspace Del Ins F1..F12, or
 *           C-x / ^X
 *
 * Digits 1-8 are global pane keys and no pane rebinds them; the examples
 * pane picks output value N with Shift+N (! @ # $ % ^ & * ().
 *   action  a name from action.h, or `none`
 *
 * A bad line is reported through the warn callback as "path:line: message"
 * and skipped; the rest of the file still loads. */
#ifndef DSE_UI_KEYMAP_H
#define DSE_UI_KEYMAP_H

#include <stddef.h>

#include "action.h"

struct keymap;

typedef void keymap_warn_fn(void *ctx, const char *msg);

struct keymap *keymap_new(void);
void keymap_free(struct keymap *km);

/* Parse text (path is only used in messages).  Returns the number of bad
 * lines (0 = all good). */
int keymap_load_text(struct keymap *km, const char *text, const char *path,
                     keymap_warn_fn *warn, void *ctx);
/* The built-in bindings as text. */
extern const char keymap_default_text[];

/* Set one binding (ACT_NONE unbinds in that scope). */
void keymap_bind(struct keymap *km, int scope, int key, int action);
/* Action for a key in scope, falling back to global; ACT_NONE if unbound. */
int keymap_lookup(const struct keymap *km, int scope, int key);

/* Key names. keymap_key_parse returns -1 for an unknown name. */
int keymap_key_parse(const char *name);
void keymap_key_name(int key, char *buf, size_t cap);

/* Help text for a scope: one line per bound action, in action order,
 * "  keys          action-name      help" (malloc'd).  Lists the scope's own
 * bindings and the global ones it does not shadow. */
char *keymap_help(const struct keymap *km, int scope);
/* First key bound to action in scope (or global) as a name, for hints;
 * "" when unbound. */
void keymap_key_for(const struct keymap *km, int scope, int action, char *buf, size_t cap);

#endif
