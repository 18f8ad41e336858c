/* listview: the one list widget every list pane uses.
 *
 * Rows are JSON objects from the store (owned by the widget).  A pane gives
 * columns, a cell callback (untrusted text; the widget sanitises and fits
 * it), a key callback (row identity) and a fetch callback, or for a list of
 * the selected signature's rows from one store call, that call (sig_list).
 *
 * Paged sources (receipts, examples) are read by keyset cursor, never by
 * offset, and the widget keeps only a window of at most LV_WINDOW_MAX rows
 * around the cursor: scrolling past either end fetches the next page in that
 * direction and drops rows from the far end, so memory and the cost of a
 * key press do not depend on the table size.  Non-paged sources return all
 * their rows (the store caps them at 200).
 *
 * Rows that are new or changed since the previous load are marked ('*' and
 * ROLE_ROW_CHANGED) until the user next works in the list a little later
 * ("since the last look").  The filter ("/") keeps rows whose cells contain
 * the text (case-insensitive). */
#ifndef DSE_UI_LISTVIEW_H
#define DSE_UI_LISTVIEW_H

#include <cjson/cJSON.h>
#include <curses.h>
#include <stdbool.h>
#include <stdint.h>

#include "console.h"
#include "text.h"
#include "util.h"

#define LV_WINDOW_MAX 1000
#define LV_PAGE_DEFAULT 100

enum lv_dir { LV_FWD, LV_BACK };

struct lv_col {
    const char *title;
    int width;          /* fixed width, or 0 for flexible */
    int min;            /* flexible: minimum width */
    enum text_align align;
    int want;           /* flexible: columns to the right are dropped rather
                         * than squeeze this one below `want` (0 = min);
                         * spare room is shared in proportion to it */
};

/* Fetch rows.  cursor NULL = from the start of dir (FWD: head, BACK: end).
 * Returns 0 with *items (a JSON array, ownership passes to the widget) and
 * *next (malloc'd, NULL at the end), or -1 with err. */
typedef int lv_fetch_fn(void *ctx, const char *cursor, enum lv_dir dir, int limit, cJSON **items,
                        char **next, struct dse_err *err);
/* Text of one cell (untrusted is fine) appended to out; may set *role. */
typedef void lv_cell_fn(void *ctx, const cJSON *row, int col, struct sbuf *out, int *role);
/* Row identity into buf. */
typedef void lv_key_fn(const cJSON *row, char *buf, size_t cap);

struct listview_cfg {
    const struct lv_col *cols;
    int ncols;
    lv_cell_fn *cell;
    lv_key_fn *key;
    lv_fetch_fn *fetch;
    /* Without fetch: a non-paged list of the selected signature's rows,
     * read by listview_fetch_all with {signatureId} as the arguments. */
    struct {
        enum store_op op;
        const char *key; /* the answer's array */
    } sig_list;
    bool paged;
    int page;             /* rows per fetch (paged) */
    void *ctx;
    const char *empty;    /* shown when there are no rows */
};

struct lv_map;

struct listview {
    struct listview_cfg cfg;
    cJSON **rows;
    int64_t *mark;        /* monotonic ms when marked changed, 0 = not */
    int n, cap;
    int sel;              /* index into rows, -1 when empty */
    int top;              /* first shown position in the visible list */
    int *vis;             /* indices of rows passing the filter */
    int nvis;
    char *filter;
    bool more_fwd, more_back;
    bool loaded;
    int height;           /* rows shown at the last draw */
    struct lv_map *seen;  /* key -> content hash at the previous load */
    int fill;             /* pages still to fetch for a filter (idle work) */
    char err[300];
};

void listview_init(struct listview *lv, const struct listview_cfg *cfg);
void listview_free(struct listview *lv);

/* Drop everything and load from the head (new signature, new server-side
 * filter).  No change marks on the first load.  0 / -1 (err in lv->err). */
int listview_reset(struct ui *ui, struct listview *lv);
/* Reload the current window in place (live refresh), keeping the selection
 * and marking changed rows. */
int listview_reload(struct ui *ui, struct listview *lv);

/* Navigation actions (ACT_UP, ..., ACT_BOTTOM); returns ui_result bits. */
int listview_key(struct ui *ui, struct listview *lv, int action);
/* Clear change marks older than a moment (called when the user acts). */
void listview_seen(struct listview *lv);

/* Idle work: fetch one more page while a filter over a paged source shows
 * fewer rows than fit (a page per loop pass, so keys stay instant).
 * Returns true when it did something (redraw, and call again). */
bool listview_idle(struct ui *ui, struct listview *lv);

const cJSON *listview_selected(const struct listview *lv);
int listview_set_filter(struct ui *ui, struct listview *lv, const char *text);
/* Select the row with this key if loaded; returns true when found. */
bool listview_select_key(struct listview *lv, const char *key);
/* Move the selection by delta rows (used by auto-advance). */
void listview_move(struct ui *ui, struct listview *lv, int delta);

/* Draw at (y, x) with h rows (first is the column header) and w columns. */
void listview_draw(struct ui *ui, struct listview *lv, WINDOW *win, int y, int x, int h, int w,
                   bool focused);
/* "12/340" style position note (clean text). */
void listview_position(const struct listview *lv, char *buf, size_t cap);

/* Resume: the selected row's key, and for paged lists the cursor of the
 * row above it (NULL at the head).  Restore loads the window that starts
 * at that row.  Both strings malloc'd / borrowed as named. */
char *listview_anchor(const struct listview *lv, char **key);
int listview_restore(struct ui *ui, struct listview *lv, const char *anchor, const char *key);
/* The same as JSON fields of a pane's state object: "key", "anchor",
 * "filter". */
void listview_state_save(const struct listview *lv, cJSON *st);
int listview_state_restore(struct ui *ui, struct listview *lv, const cJSON *st);

/* ---- shared bodies of the panes' list callbacks ---- */

/* A non-paged fetch: store op `op` with args (consumed) plus "limit": 200
 * (the store's cap); the array under `key` of the answer goes to *items
 * (owned by the caller, NULL when the answer has none) and *next is NULL.
 * 0 / -1 with err. */
int listview_fetch_all(struct ui *ui, enum store_op op, cJSON *args, const char *key,
                       cJSON **items, char **next, struct dse_err *err);
/* A paged fetch: args (consumed) plus "cursor" (when not NULL), "dir" (the
 * op's word for the direction) and "limit" (100 when limit <= 0); the
 * answer's "items" go to *items (owned by the caller) and its "nextCursor"
 * to *next (malloc'd, NULL at the end).  0 / -1 with err. */
int listview_fetch_page(struct ui *ui, enum store_op op, cJSON *args, const char *cursor,
                        const char *dir, int limit, cJSON **items, char **next,
                        struct dse_err *err);
/* pane_ops.filter for a pane whose filter is this list's: NULL when no
 * filter is set is UI_PASS (nothing to clear), anything else is
 * listview_set_filter. */
int listview_filter(struct ui *ui, struct listview *lv, const char *text);

/* ---- lists of the selected signature's rows ---- */
/* `sig` is the pane's buffer (cap bytes) naming the signature whose rows
 * the list holds. */

/* on_data: reload in place when the list already holds ui->sig's rows
 * (ui->sig must be set), otherwise copy ui->sig into sig and start over.
 * Returns true when it started over. */
bool listview_sig_load(struct ui *ui, struct listview *lv, char *sig, size_t cap);
/* Resume state: listview_state_save plus "signatureId": sig. */
void listview_sig_save(const struct listview *lv, const char *sig, cJSON *st);
/* Restore only a state saved for the selected signature: copies ui->sig
 * into sig and restores the list.  Returns true when it did. */
bool listview_sig_restore(struct ui *ui, struct listview *lv, char *sig, size_t cap,
                          const cJSON *st);

#endif
