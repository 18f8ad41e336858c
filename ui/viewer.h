/* viewer: a scrollable, foldable view of one jdoc (JSON tree or text) —
 * receipts, traces, reports, artifacts, examples, help, the command log.
 *
 * Only the lines on screen are rendered, so a large document costs the
 * same per key press as a small one.  Keys (scope "viewer"): j/k/PgUp/PgDn/
 * g/G move, Enter/Space fold, h/l fold to parent / unfold, z/Z fold / unfold
 * all, / search, n/N next/previous match, r raw JSON text, w wrap long
 * lines, S save to a file, q/Esc close. */
#ifndef DSE_UI_VIEWER_H
#define DSE_UI_VIEWER_H

#include <curses.h>

#include "console.h"
#include "jdoc.h"

struct viewer;

/* Takes ownership of doc. */
struct viewer *viewer_new(struct jdoc *doc);
void viewer_free(struct viewer *v);
void viewer_draw(struct ui *ui, struct viewer *v, WINDOW *w, int h, int wd);
/* Returns ui_result bits; UI_QUIT here means "close the viewer". */
int viewer_key(struct ui *ui, struct viewer *v, int action, int key);
const char *viewer_title(const struct viewer *v);
/* Jump to the first match of needle (used by tests and :search). */
void viewer_search(struct ui *ui, struct viewer *v, const char *needle);

#endif
