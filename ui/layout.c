#include "layout.h"

#include <string.h>

static int clamp(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

void layout_compute(int rows, int cols, const struct layout_cfg *cfg, struct layout *out)
{
    memset(out, 0, sizeof *out);
    if (rows < LAYOUT_MIN_ROWS || cols < LAYOUT_MIN_COLS) {
        out->too_small = true;
        return;
    }
    out->header = (struct rect){0, 0, 1, cols};
    out->tabs = (struct rect){1, 0, 1, cols};
    out->message = (struct rect){rows - 2, 0, 1, cols};
    out->status = (struct rect){rows - 1, 0, 1, cols};
    int body_y = 2, body_h = rows - 4;
    struct rect body = {body_y, 0, body_h, cols};
    bool split = cols >= LAYOUT_SPLIT_COLS && !cfg->wide_main;
    if (split) {
        /* Enough for id, pointer, canary and rates at 120 columns. */
        int lw = clamp(cols * 41 / 100, 30, 60);
        out->show_left = out->show_main = true;
        out->left = (struct rect){body_y, 0, body_h, lw};
        out->main = (struct rect){body_y, lw, body_h, cols - lw};
    } else if (cfg->focus_left && !cfg->wide_main) {
        out->show_left = true;
        out->left = body;
    } else {
        out->show_main = true;
        out->main = body;
    }
}
