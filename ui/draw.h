/* draw: the only way console code puts text on a window.
 *
 * Every function writes exactly the width it is given (text is sanitised,
 * measured with wcwidth, truncated with a marker and padded by text.c), so
 * columns stay aligned and nothing wraps or clips mid-glyph.  Colours come
 * from theme roles (ui->attr), never from raw colour numbers. */
#ifndef DSE_UI_DRAW_H
#define DSE_UI_DRAW_H

#include <curses.h>

#include "console.h"
#include "text.h"

/* Untrusted text (sanitised here). */
void draw_text(struct ui *ui, WINDOW *w, int y, int x, int width, int role, const char *s,
               enum text_align al);
/* Text that is already clean (our own labels, sanitised data). */
void draw_clean(struct ui *ui, WINDOW *w, int y, int x, int width, int role, const char *s,
                enum text_align al);
void draw_fill(struct ui *ui, WINDOW *w, int y, int x, int width, int role);
/* Clear the inner area of a framed window. */
void draw_clear_inner(struct ui *ui, WINDOW *w, int h, int wd);
/* A frame with a title in the top border (clean text) and an optional
 * right-aligned note. */
void draw_frame(struct ui *ui, WINDOW *w, int h, int wd, int role, const char *title,
                const char *note);
/* "label  value" on one line: label in ROLE_LABEL (label_w columns), value
 * untrusted in role.  Returns y + 1. */
int draw_kv(struct ui *ui, WINDOW *w, int y, int x, int width, int label_w, const char *label,
            int role, const char *value);
/* A horizontal bar: frac of width filled in fill_role, the rest in
 * ROLE_BAR_EMPTY; mark (0..1, < 0 for none) draws a '|' threshold. */
void draw_bar(struct ui *ui, WINDOW *w, int y, int x, int width, double frac, double mark,
              int fill_role);

/* ---- stale data ----
 * A pane that cannot reload (the store does not answer: a remote server
 * stopped or hung) keeps its last data and marks it, never showing empty
 * values as if they were real.  The pane calls stale_result after each
 * load; while since_ms is set it shows the mark. */
struct stale {
    int64_t since_ms; /* wall clock of the first failed load, 0 = fresh */
    int64_t good_ms;  /* wall clock of the last good load, 0 = never */
};
void stale_result(struct stale *s, bool ok);
/* Append " · STALE since HH:MM:SS" to the pane's subtitle when stale. */
void stale_subtitle(const struct stale *s, struct pane *p);
/* One line "STALE since HH:MM:SS (store not answering); data as of
 * HH:MM:SS" (or "no data read yet") in ROLE_ERROR; returns y + 1 when
 * drawn, y when fresh. */
int draw_stale(struct ui *ui, WINDOW *w, int y, int x, int width, const struct stale *s);

#endif
