/* pane: the interface every console pane implements.
 *
 * One file per pane (ui/pane_*.c), each defining a `const struct pane_ops`
 * with designated initialisers.  The framework (console.c) owns the generic
 * struct pane — its WINDOW, rectangle, focus and dirty bits — allocates
 * `priv` from priv_size, draws the frame and title, and calls the slots.
 * Optional slots are NULL and callers check them.
 *
 * Handlers never act on the screen or the loop directly: key() and on_data()
 * return intent bits (enum ui_result) and only the main loop acts on them. */
#ifndef DSE_UI_PANE_H
#define DSE_UI_PANE_H

#include <cjson/cJSON.h>
#include <curses.h>
#include <stdbool.h>

#include "layout.h"

struct ui;

enum pane_id {
    PANE_SIGNATURES,
    PANE_OVERVIEW,
    PANE_HISTORY,
    PANE_CANARY,
    PANE_COMPILE,
    PANE_EXAMPLES,
    PANE_RECEIPTS,
    PANE_RUNS,
    PANE__COUNT
};

/* Intent bits returned by handlers. */
enum ui_result {
    UI_PASS = 0,             /* not handled: try the next handler */
    UI_HANDLED = 1 << 0,
    UI_REDRAW = 1 << 1,      /* this pane needs drawing */
    UI_RELAYOUT = 1 << 2,    /* geometry changed: layout and redraw everything */
    UI_RELOAD = 1 << 3,      /* reload this pane's data */
    UI_RELOAD_ALL = 1 << 4,  /* reload every visible pane (after a write) */
    UI_QUIT = 1 << 5,
    UI_SIGNATURE = 1 << 6,   /* the selected signature changed */
};

struct pane;

struct pane_ops {
    const char *name;   /* keymap scope and :pane name, "receipts" */
    const char *title;  /* tab title, "Receipts" */
    int scope;          /* enum ui_scope for key lookup */
    size_t priv_size;   /* bytes of zeroed private state */
    void (*init)(struct pane *p);
    void (*free)(struct pane *p);
    /* The inner area changed size (p->ih, p->iw already updated). */
    void (*resize)(struct pane *p);
    /* Draw the inner area (rows 1..ih, cols 1..iw of p->win) and set
     * p->subtitle.  Called only when dirty. */
    void (*draw)(struct pane *p);
    /* An action (enum ui_action, or ACT_NONE) and the raw key. */
    int (*key)(struct pane *p, int action, int key);
    /* Reload from the store (the data changed, or the signature did). */
    int (*on_data)(struct pane *p);
    /* Periodic tick while visible (ages, rates); may return UI_REDRAW. */
    int (*tick)(struct pane *p);
    /* Incremental work between key presses (e.g. a filter looking a page
     * further); true when it did some (the loop redraws and calls again
     * before waiting). */
    bool (*idle)(struct pane *p);
    /* Resume state: write into / read from a JSON object. */
    void (*save)(struct pane *p, cJSON *state);
    void (*restore)(struct pane *p, const cJSON *state);
    /* The list filter ("/"): set the text; NULL clears it and returns
     * UI_PASS when there was no filter to clear. */
    int (*filter)(struct pane *p, const char *text);
    /* Actions shown as hints in the status line, ACT_NONE-terminated. */
    const int *hints;
};

struct pane {
    const struct pane_ops *ops;
    struct ui *ui;
    WINDOW *win;        /* the whole framed rectangle */
    struct rect r;      /* screen position of win */
    int ih, iw;         /* inner size (inside the frame) */
    bool visible;
    bool focused;
    bool dirty;         /* needs drawing */
    bool stale;         /* needs on_data before the next draw */
    char subtitle[256]; /* shown in the frame title (clean text) */
    char note[96];      /* right side of the frame title (clean text) */
    void *priv;
};

extern const struct pane_ops pane_signatures_ops;
extern const struct pane_ops pane_overview_ops;
extern const struct pane_ops pane_history_ops;
extern const struct pane_ops pane_canary_ops;
extern const struct pane_ops pane_compile_ops;
extern const struct pane_ops pane_examples_ops;
extern const struct pane_ops pane_receipts_ops;
extern const struct pane_ops pane_runs_ops;

#endif
