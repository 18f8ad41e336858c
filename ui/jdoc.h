/* jdoc: the document behind the viewer — a JSON tree shown as foldable
 * lines, or plain text — addressed by line number so the viewer draws only
 * the lines on screen, whatever the document's size.
 *
 * Pure (no curses): unit-tested by tests/unit/test_ui_jdoc.c.
 *
 * Memory: a JSON document keeps its cJSON tree plus one 16-byte record per
 * visible line (rebuilt on fold changes); text keeps one offset per line.
 * Line text is produced on demand, sanitised, into a caller's buffer. */
#ifndef DSE_UI_JDOC_H
#define DSE_UI_JDOC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "util.h"

struct jdoc;

/* A piece of a rendered line: clean text (sanitised) and its theme role. */
struct jseg {
    int role;
    size_t off, len; /* into the line buffer */
};
#define JDOC_MAX_SEGS 8

/* Takes ownership of root / text.  Documents with more than
 * JDOC_AUTOFOLD_NODES values open with every container below the top level
 * folded. */
#define JDOC_AUTOFOLD_NODES 20000
struct jdoc *jdoc_new_json(cJSON *root, const char *title);
struct jdoc *jdoc_new_text(char *text, const char *title);
void jdoc_free(struct jdoc *d);

const char *jdoc_title(const struct jdoc *d);
bool jdoc_is_json(const struct jdoc *d);
size_t jdoc_count(const struct jdoc *d); /* lines in the current view */

/* Render line i into buf (reset first) as segments; returns the number of
 * segments (0 when i is out of range). */
int jdoc_line(const struct jdoc *d, size_t i, struct sbuf *buf, struct jseg *segs);

/* Raw mode shows the JSON document as pretty-printed text. */
void jdoc_set_raw(struct jdoc *d, bool raw);
bool jdoc_raw(const struct jdoc *d);

/* Folding (JSON tree mode only; no-ops otherwise).  Each returns the line
 * the cursor should move to. */
size_t jdoc_toggle(struct jdoc *d, size_t line);
size_t jdoc_fold(struct jdoc *d, size_t line);   /* fold, or go to parent */
size_t jdoc_unfold(struct jdoc *d, size_t line);
void jdoc_fold_all(struct jdoc *d);
/* Unfold everything; returns the new line of the node that was at `line`. */
size_t jdoc_unfold_all(struct jdoc *d, size_t line);

/* Search for needle (case-insensitive) from line `from` (exclusive) in
 * direction dir (+1 / -1), wrapping.  Folded nodes holding a match are
 * unfolded.  Returns true and the line in *found. */
bool jdoc_search(struct jdoc *d, const char *needle, size_t from, int dir, size_t *found);

/* The document as text for saving: pretty JSON, or the text.  malloc'd. */
char *jdoc_export(const struct jdoc *d);

#endif
