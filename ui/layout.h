/* layout: where every window goes, as a pure function of the terminal size.
 *
 * Pure (no curses): unit-tested by tests/unit/test_ui_layout.c.  The console
 * calls layout_compute() on start and on every resize, then moves and
 * resizes its existing windows to the rectangles; nothing else decides
 * geometry.
 *
 *   row 0            header  (store, mode, refresh, clock)
 *   row 1            tabs    (the eight panes)
 *   rows 2..h-3      left: signature list | main: current pane or viewer
 *   row h-2          message line (last message / command echo)
 *   row h-1          status line (key hints, or the input line)
 *
 * Narrow terminals show only the focused one of left/main.  Below
 * LAYOUT_MIN_COLS x LAYOUT_MIN_ROWS the layout says too_small and the
 * console shows a notice instead of drawing garbage. */
#ifndef DSE_UI_LAYOUT_H
#define DSE_UI_LAYOUT_H

#include <stdbool.h>

#define LAYOUT_MIN_COLS 40
#define LAYOUT_MIN_ROWS 10
/* Below this width the signature list and the main pane do not share. */
#define LAYOUT_SPLIT_COLS 72

struct rect {
    int y, x, h, w;
};

struct layout_cfg {
    bool focus_left;  /* the signature list has focus */
    bool wide_main;   /* the viewer takes the whole body */
};

struct layout {
    bool too_small;
    bool show_left, show_main;
    struct rect header, tabs, left, main, message, status;
};

void layout_compute(int rows, int cols, const struct layout_cfg *cfg, struct layout *out);

#endif
