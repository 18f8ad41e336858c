#include "viewer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "util.h"

struct viewer {
    struct jdoc *doc;
    size_t cur, top;
    bool wrap;
    char *search;
    int height;
};

struct viewer *viewer_new(struct jdoc *doc)
{
    struct viewer *v = xcalloc(1, sizeof *v);
    v->doc = doc;
    v->wrap = !jdoc_is_json(doc); /* prose and logs read best wrapped */
    return v;
}

void viewer_free(struct viewer *v)
{
    if (!v)
        return;
    jdoc_free(v->doc);
    free(v->search);
    free(v);
}

const char *viewer_title(const struct viewer *v) { return jdoc_title(v->doc); }

/* ---- drawing ---- */

struct piece {
    int role;
    size_t off, len;
};

/* Split segments so the first match of the search is its own piece. */
static int pieces_of(const char *line, const struct jseg *segs, int nseg, const char *search,
                     struct piece *out, int max)
{
    size_t ms = 0, me = 0;
    if (search && *search) {
        const char *m = text_find(line, search);
        if (m) {
            ms = (size_t)(m - line);
            me = ms + strlen(search);
        }
    }
    int n = 0;
    for (int i = 0; i < nseg && n < max - 3; i++) {
        size_t a = segs[i].off, b = segs[i].off + segs[i].len;
        if (me > ms && ms < b && me > a) {
            size_t x = ms > a ? ms : a, y = me < b ? me : b;
            if (x > a)
                out[n++] = (struct piece){segs[i].role, a, x - a};
            out[n++] = (struct piece){ROLE_MATCH, x, y - x};
            if (b > y)
                out[n++] = (struct piece){segs[i].role, y, b - y};
        } else {
            out[n++] = (struct piece){segs[i].role, a, b - a};
        }
    }
    return n;
}

/* Draw one logical line from row y; returns rows used (>= 1).  Without
 * wrap it uses one row and ends with a marker when cut. */
static int draw_line(struct ui *ui, WINDOW *w, int y, int x, int width, int max_rows,
                     const char *line, const struct piece *p, int np, bool wrap)
{
    int row = 0, col = 0;
    bool cut = !wrap && text_width(line) > width;
    int limit = cut ? width - 1 : width;
    for (int i = 0; i < np; i++) {
        char *text = xstrndup(line + p[i].off, p[i].len);
        const char *t = text;
        bool stop = false;
        while (*t) {
            if (row >= max_rows) {
                stop = true;
                break;
            }
            int used = 0;
            size_t n = text_prefix(t, limit - col, &used);
            if (n == 0) {
                if (!wrap) {
                    stop = true;
                    break;
                }
                if (col == 0) { /* wider than the whole row: drop it */
                    t++;
                    while ((*t & 0xc0) == 0x80)
                        t++;
                    continue;
                }
                draw_fill(ui, w, y + row, x + col, width - col, ROLE_DEFAULT);
                row++;
                col = 0;
                continue;
            }
            char *part = xstrndup(t, n);
            draw_clean(ui, w, y + row, x + col, used, p[i].role, part, TEXT_LEFT);
            free(part);
            col += used;
            t += n;
        }
        free(text);
        if (stop)
            break;
    }
    if (row < max_rows) {
        draw_fill(ui, w, y + row, x + col, limit - col, ROLE_DEFAULT);
        if (cut)
            draw_clean(ui, w, y + row, x + limit, 1, ROLE_DIM, ui->ascii ? "~" : "\xe2\x80\xa6",
                       TEXT_LEFT);
        row++;
    }
    return row;
}

static int rows_of(const struct viewer *v, const char *line, int width)
{
    if (!v->wrap || width <= 0)
        return 1;
    int tw = text_width(line);
    return tw <= width ? 1 : (tw + width - 1) / width;
}

static void keep_visible(struct viewer *v, int width)
{
    size_t n = jdoc_count(v->doc);
    if (n == 0) {
        v->cur = v->top = 0;
        return;
    }
    if (v->cur >= n)
        v->cur = n - 1;
    if (v->top > v->cur)
        v->top = v->cur;
    int h = v->height > 0 ? v->height : 10;
    if (!v->wrap) {
        if (v->cur >= v->top + (size_t)h)
            v->top = v->cur - (size_t)h + 1;
        return;
    }
    /* Wrapped: advance top until the cursor's line fits on screen. */
    struct sbuf b = {0};
    struct jseg segs[JDOC_MAX_SEGS];
    for (;;) {
        int used = 0;
        for (size_t i = v->top; i <= v->cur; i++) {
            jdoc_line(v->doc, i, &b, segs);
            used += rows_of(v, b.s, width);
        }
        if (used <= h || v->top == v->cur)
            break;
        v->top++;
    }
    sbuf_free(&b);
}

void viewer_draw(struct ui *ui, struct viewer *v, WINDOW *w, int h, int wd)
{
    char note[160];
    snprintf(note, sizeof note, "%zu/%zu%s%s%s%s", jdoc_count(v->doc) ? v->cur + 1 : 0,
             jdoc_count(v->doc), jdoc_raw(v->doc) ? " raw" : "", v->wrap ? " wrap" : "",
             v->search ? " /" : "", v->search ? v->search : "");
    char *clean_note = text_clean(note);
    char *title = text_clean(jdoc_title(v->doc));
    draw_frame(ui, w, h, wd, ROLE_FRAME_FOCUS, title, clean_note);
    free(title);
    free(clean_note);
    int ih = h - 2, iw = wd - 2;
    if (ih <= 0 || iw <= 3)
        return;
    v->height = ih;
    int tw = iw - 2; /* gutter for the cursor marker */
    keep_visible(v, tw);
    struct sbuf b = {0};
    struct jseg segs[JDOC_MAX_SEGS];
    struct piece pieces[3 * JDOC_MAX_SEGS];
    int y = 0;
    size_t n = jdoc_count(v->doc);
    for (size_t i = v->top; y < ih; i++) {
        if (i >= n) {
            draw_fill(ui, w, 1 + y, 1, iw, ROLE_DEFAULT);
            y++;
            continue;
        }
        int ns = jdoc_line(v->doc, i, &b, segs);
        int np = pieces_of(b.s, segs, ns, v->search, pieces, 3 * JDOC_MAX_SEGS);
        bool sel = i == v->cur;
        draw_clean(ui, w, 1 + y, 1, 2, sel ? ROLE_ROW_SELECTED : ROLE_DEFAULT,
                   sel ? (ui->ascii ? ">" : "\xe2\x96\xb8") : "", TEXT_LEFT);
        int used = draw_line(ui, w, 1 + y, 3, tw, ih - y, b.s, pieces, np, v->wrap);
        for (int k = 1; k < used; k++)
            draw_fill(ui, w, 1 + y + k, 1, 2, ROLE_DEFAULT);
        y += used;
    }
    sbuf_free(&b);
}

/* ---- keys ---- */

void viewer_search(struct ui *ui, struct viewer *v, const char *needle)
{
    free(v->search);
    v->search = needle && *needle ? xstrdup(needle) : NULL;
    if (!v->search)
        return;
    size_t found;
    size_t from = v->cur == 0 ? jdoc_count(v->doc) - 1 : v->cur - 1;
    if (jdoc_count(v->doc) && jdoc_search(v->doc, v->search, from, 1, &found)) {
        v->cur = found;
        ui_msg(ui, ROLE_MESSAGE, "/%s", v->search);
    } else {
        ui_msg(ui, ROLE_WARN, "not found: %s", v->search);
    }
}

static void on_search(struct ui *ui, const char *text, void *arg)
{
    viewer_search(ui, arg, text);
}

static void on_save(struct ui *ui, const char *path, void *arg)
{
    struct viewer *v = arg;
    if (!path || !*path)
        return;
    char *text = jdoc_export(v->doc);
    if (util_write_file_atomic(path, text, strlen(text)) < 0)
        ui_msg(ui, ROLE_ERROR, "cannot write %s: %s", path, strerror(errno));
    else
        ui_msg(ui, ROLE_OK, "saved %zu bytes to %s", strlen(text), path);
    free(text);
}

int viewer_key(struct ui *ui, struct viewer *v, int action, int key)
{
    (void)key;
    size_t n = jdoc_count(v->doc);
    int h = v->height > 0 ? v->height : 10;
    switch (action) {
    case ACT_BACK:
    case ACT_QUIT: return UI_HANDLED | UI_QUIT;
    case ACT_UP:
        if (v->cur > 0)
            v->cur--;
        break;
    case ACT_DOWN:
        if (v->cur + 1 < n)
            v->cur++;
        break;
    case ACT_PAGE_UP:
        v->cur = v->cur > (size_t)h ? v->cur - (size_t)h : 0;
        v->top = v->top > (size_t)h ? v->top - (size_t)h : 0;
        break;
    case ACT_PAGE_DOWN:
        v->cur = v->cur + (size_t)h < n ? v->cur + (size_t)h : (n ? n - 1 : 0);
        if (v->top + 2 * (size_t)h <= n)
            v->top += (size_t)h;
        break;
    case ACT_TOP: v->cur = v->top = 0; break;
    case ACT_BOTTOM: v->cur = n ? n - 1 : 0; break;
    case ACT_ENTER:
    case ACT_FOLD: v->cur = jdoc_toggle(v->doc, v->cur); break;
    case ACT_LEFT: v->cur = jdoc_fold(v->doc, v->cur); break;
    case ACT_RIGHT: v->cur = jdoc_unfold(v->doc, v->cur); break;
    case ACT_FOLD_ALL:
        jdoc_fold_all(v->doc);
        v->cur = v->top = 0;
        break;
    case ACT_UNFOLD_ALL: v->cur = jdoc_unfold_all(v->doc, v->cur); break;
    case ACT_RAW:
        if (!jdoc_is_json(v->doc)) {
            ui_msg(ui, ROLE_WARN, "this document is text already");
            return UI_HANDLED;
        }
        jdoc_set_raw(v->doc, !jdoc_raw(v->doc));
        v->cur = v->top = 0;
        break;
    case ACT_WRAP: v->wrap = !v->wrap; break;
    case ACT_FILTER:
        ui_prompt(ui, "/", "", on_search, v, NULL); /* n repeats the last */
        return UI_HANDLED | UI_REDRAW;
    case ACT_SEARCH_NEXT:
    case ACT_SEARCH_PREV: {
        if (!v->search) {
            ui_msg(ui, ROLE_WARN, "no search yet (press /)");
            return UI_HANDLED;
        }
        size_t found;
        if (jdoc_search(v->doc, v->search, v->cur, action == ACT_SEARCH_NEXT ? 1 : -1, &found)) {
            v->cur = found;
            ui_msg(ui, ROLE_MESSAGE, "/%s", v->search);
        } else {
            ui_msg(ui, ROLE_WARN, "not found: %s", v->search);
        }
        break;
    }
    case ACT_SAVE: {
        char def[300];
        const char *t = jdoc_title(v->doc);
        size_t k = 0;
        /* A file name from the title: keep it tame. */
        for (const char *p = t; *p && k < 60; p++)
            def[k++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                               (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'
                           ? *p
                           : '_';
        def[k] = 0;
        snprintf(def + k, sizeof def - k, "%s", jdoc_is_json(v->doc) ? ".json" : ".txt");
        ui_prompt(ui, "save to: ", def, on_save, v, NULL);
        return UI_HANDLED | UI_REDRAW;
    }
    default: return UI_PASS;
    }
    return UI_HANDLED | UI_REDRAW;
}
