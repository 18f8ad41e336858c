#include "draw.h"

#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "util.h"

static void put(struct ui *ui, WINDOW *w, int y, int x, int role, const char *fitted)
{
    wattrset(w, ui->attr[role]);
    mvwaddstr(w, y, x, fitted);
    wattrset(w, A_NORMAL);
}

void draw_clean(struct ui *ui, WINDOW *w, int y, int x, int width, int role, const char *s,
                enum text_align al)
{
    if (width <= 0)
        return;
    char *f = text_fit(s, width, al);
    put(ui, w, y, x, role, f);
    free(f);
}

void draw_text(struct ui *ui, WINDOW *w, int y, int x, int width, int role, const char *s,
               enum text_align al)
{
    if (width <= 0)
        return;
    char *f = text_cell(s, width, al);
    put(ui, w, y, x, role, f);
    free(f);
}

void draw_fill(struct ui *ui, WINDOW *w, int y, int x, int width, int role)
{
    draw_clean(ui, w, y, x, width, role, "", TEXT_LEFT);
}

void draw_clear_inner(struct ui *ui, WINDOW *w, int h, int wd)
{
    for (int y = 1; y < h - 1; y++)
        draw_fill(ui, w, y, 1, wd - 2, ROLE_DEFAULT);
}

void draw_frame(struct ui *ui, WINDOW *w, int h, int wd, int role, const char *title,
                const char *note)
{
    if (h < 2 || wd < 2)
        return;
    wattrset(w, ui->attr[role]);
    if (ui->ascii)
        wborder(w, '|', '|', '-', '-', '+', '+', '+', '+');
    else
        wborder_set(w, WACS_VLINE, WACS_VLINE, WACS_HLINE, WACS_HLINE, WACS_ULCORNER,
                    WACS_URCORNER, WACS_LLCORNER, WACS_LRCORNER);
    wattrset(w, A_NORMAL);
    int room = wd - 4;
    if (room <= 2)
        return;
    int nw = 0;
    if (note && *note) {
        nw = text_width(note) + 2;
        if (nw > room / 2)
            nw = room / 2;
        char *n = xasprintf(" %s ", note);
        draw_clean(ui, w, 0, wd - 2 - nw, nw, role, n, TEXT_RIGHT);
        free(n);
    }
    if (title && *title) {
        char *t = xasprintf(" %s ", title);
        int tw = text_width(t);
        int avail = room - nw - 1;
        if (tw > avail)
            tw = avail;
        draw_clean(ui, w, 0, 2, tw, ROLE_TITLE, t, TEXT_LEFT);
        free(t);
    }
}

int draw_kv(struct ui *ui, WINDOW *w, int y, int x, int width, int label_w, const char *label,
            int role, const char *value)
{
    if (label_w > width)
        label_w = width;
    draw_clean(ui, w, y, x, label_w, ROLE_LABEL, label, TEXT_LEFT);
    draw_text(ui, w, y, x + label_w, width - label_w, role, value, TEXT_LEFT);
    return y + 1;
}

void draw_bar(struct ui *ui, WINDOW *w, int y, int x, int width, double frac, double mark,
              int fill_role)
{
    if (width <= 0)
        return;
    if (!(frac >= 0))
        frac = 0;
    if (frac > 1)
        frac = 1;
    int filled = (int)(frac * width + 0.5);
    int mark_at = mark >= 0 ? (int)(mark * width + 0.5) : -1;
    if (mark_at >= width)
        mark_at = width - 1;
    for (int i = 0; i < width; i++) {
        bool in = i < filled;
        const char *ch = in ? (ui->ascii || !ui->color ? "#" : " ") : (ui->ascii ? "." : "\xc2\xb7");
        if (i == mark_at)
            ch = "|";
        draw_clean(ui, w, y, x + i, 1, in ? fill_role : ROLE_BAR_EMPTY, ch, TEXT_LEFT);
    }
}

void stale_result(struct stale *s, bool ok)
{
    int64_t now = util_now_ms();
    if (ok) {
        s->since_ms = 0;
        s->good_ms = now;
    } else if (!s->since_ms) {
        s->since_ms = now;
    }
}

void stale_subtitle(const struct stale *s, struct pane *p)
{
    if (!s->since_ms)
        return;
    char t[16];
    size_t n = strlen(p->subtitle);
    snprintf(p->subtitle + n, sizeof p->subtitle - n, "%sSTALE since %s",
             n ? (p->ui->ascii ? " - " : " \xc2\xb7 ") : "", fmt_clock(s->since_ms, t, sizeof t));
}

int draw_stale(struct ui *ui, WINDOW *w, int y, int x, int width, const struct stale *s)
{
    if (!s->since_ms)
        return y;
    char t1[16], t2[16], line[200];
    if (s->good_ms)
        snprintf(line, sizeof line, "STALE since %s (store not answering); data as of %s",
                 fmt_clock(s->since_ms, t1, sizeof t1), fmt_clock(s->good_ms, t2, sizeof t2));
    else
        snprintf(line, sizeof line, "STALE since %s (store not answering); no data read yet",
                 fmt_clock(s->since_ms, t1, sizeof t1));
    draw_clean(ui, w, y, x, width, ROLE_ERROR, line, TEXT_LEFT);
    return y + 1;
}
