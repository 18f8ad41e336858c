/* console: the running console's shared state (struct ui) and the services
 * panes use: store calls that report errors on the message line, the
 * write guard (read-only / armed), confirmations, prompts, the viewer,
 * the command log and background jobs.
 *
 * Threading: everything here runs on the main thread.  Background work
 * (compile, promote, canary) runs in worker.c jobs that talk back through a
 * pipe the main loop polls. */
#ifndef DSE_UI_CONSOLE_H
#define DSE_UI_CONSOLE_H

#include <cjson/cJSON.h>
#include <curses.h>
#include <stdbool.h>
#include <stdint.h>

#include "action.h"
#include "cli.h"
#include "keymap.h"
#include "layout.h"
#include "pane.h"
#include "store.h"
#include "theme.h"

struct viewer;
struct input;
struct job;

#define UI_DEFAULT_REFRESH_MS 1000
#define UI_MIN_REFRESH_MS 50
#define UI_MAX_REFRESH_MS 3600000 /* an hour: benchmarks park the refresh */
#define UI_CMDLOG_MAX 200
#define UI_MSGLOG_MAX 500
#define UI_MSG_MIN_MS 1000

/* One line of the message history (L): a message shown on the message
 * line, or a command run (the full `dse ...` line).  Raw text, sanitised
 * when shown. */
struct ui_msglog {
    int64_t ms;   /* wall clock */
    int role;     /* ROLE_* of a message; -1 for a command */
    int repeat;   /* the same message again right after: counted, not repeated */
    char *text;
};

struct ui {
    struct cli_ctx *ctx;
    struct store *st;
    char store_path[1024];    /* SQLite path ("" for remote) */
    bool remote;
    bool read_only;           /* writes refused until armed */
    bool armed;               /* A pressed in read-only mode */
    bool ro_locked;           /* started with --read-only: A never arms */
    bool ascii;               /* ASCII borders and text */
    bool headless;

    struct keymap *km;
    struct theme theme;
    attr_t attr[ROLE__COUNT]; /* role -> curses attributes incl. colour pair */
    bool color;               /* colours in use */

    int refresh_ms;
    bool frozen;
    int64_t next_poll_ms;     /* monotonic */
    uint64_t changes;         /* last store_poll_changes value */
    bool offline;             /* the last poll could not reach the store */

    struct pane panes[PANE__COUNT];
    int cur;                  /* main pane shown on the right (PANE_OVERVIEW..) */
    bool focus_left;          /* the signature list has focus */
    struct viewer *viewer;    /* open viewer or NULL */
    struct input *input;      /* active input line or NULL */

    char *sig;                /* selected signature id (owned) or NULL */
    cJSON *sig_json;          /* its catalog entry (owned), loaded on demand */
    bool sig_json_loaded;

    struct layout lay;
    WINDOW *w_header, *w_tabs, *w_msg, *w_status, *w_small;
    bool all_dirty;           /* redraw every window */
    bool viewer_dirty;
    bool chrome_dirty;        /* header/tabs/message/status */

    char msg[600];            /* message line (raw text; sanitised when drawn) */
    int msg_role;
    int64_t msg_drawn_ms;     /* monotonic ms it was first drawn, 0 = not yet */
    struct ui_msglog msglog[UI_MSGLOG_MAX]; /* history, oldest first */
    int nmsglog;
    char *cmdlog[UI_CMDLOG_MAX]; /* ring of echoed commands (oldest first) */
    int ncmdlog;

    struct job *jobs;         /* running background jobs */
    int job_pipe[2];          /* workers write a byte to wake the loop */

    bool quit;
    int exit_code;
    long iterations;          /* --iterations: loop passes left (-1 = forever) */
    char *state_path;         /* resume state file */
    bool no_state;
};

/* ---- store access ---- */
/* store_call that consumes args (may be NULL) and puts an error on the
 * message line.  Returns 0 / -1. */
int ui_call(struct ui *ui, enum store_op op, cJSON *args, cJSON **out);
/* Same without reporting (callers that handle the error themselves). */
int ui_call_quiet(struct ui *ui, enum store_op op, cJSON *args, cJSON **out, struct dse_err *err);
/* {signatureId: <selected>} (caller passes it to ui_call). */
cJSON *ui_sig_args(struct ui *ui);

/* ---- selection ---- */
const char *ui_sig(struct ui *ui);        /* NULL when none */
/* Short label for screens ("SelectTool.v1"), clean text in a static buffer. */
const char *ui_sig_label(struct ui *ui);
const char *ui_sig_label_of(const char *id, char *buf, size_t cap);
const cJSON *ui_signature(struct ui *ui); /* catalog JSON or NULL */
void ui_select_signature(struct ui *ui, const char *id);

/* ---- messages and the command log ---- */
/* Show a message on the message line and keep it in the history.  It never
 * goes by itself: the first key pressed once it has been on screen for
 * UI_MSG_MIN_MS clears it (keys typed sooner leave it, so a job's result
 * that lands while the operator types is still seen); L lists the history. */
void ui_msg(struct ui *ui, int role, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ui_err(struct ui *ui, const struct dse_err *err);
/* Record the equivalent CLI command ("dse --db PATH rollback ...") in the
 * command log; returns the short form without the global options
 * ("$ dse rollback ...", static buffer) for the caller's message line.  The format gives the part after the global options; its
 * arguments are shell-quoted by the caller with ui_shq. */
const char *ui_echo(struct ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Shell-quote s into a static ring buffer (4 slots). */
const char *ui_shq(const char *s);

/* ---- safety ---- */
/* True when writes are allowed; otherwise explains on the message line. */
bool ui_can_write(struct ui *ui, const char *what);

/* ---- interaction ---- */
typedef void ui_yes_fn(struct ui *ui, void *arg);
typedef void ui_text_fn(struct ui *ui, const char *text, void *arg);
/* Ask for one key: y runs yes(arg); anything else cancels.  free_arg (may be
 * NULL) releases arg either way. */
void ui_confirm(struct ui *ui, const char *question, ui_yes_fn *yes, void *arg,
                void (*free_arg)(void *));
/* Ask for a line of text; done runs with the text on Enter. */
void ui_prompt(struct ui *ui, const char *label, const char *initial, ui_text_fn *done,
               void *arg, void (*free_arg)(void *));

/* Open the viewer on a JSON tree (owned) or text (owned). */
void ui_view_json(struct ui *ui, cJSON *root, const char *title);
void ui_view_text(struct ui *ui, char *text, const char *title);

/* Run $EDITOR on text; returns the edited text (malloc'd) or NULL when the
 * editor failed (message shown).  Suspends curses meanwhile. */
char *ui_edit_text(struct ui *ui, const char *text, const char *suffix);

/* Load a theme by name ($XDG_CONFIG_HOME/dse/themes/NAME.theme, else the
 * embedded one) over the default theme and apply it.  0 / -1 (message). */
int ui_load_theme(struct ui *ui, const char *name);

/* Recompute the layout and recreate the windows (resize, focus change,
 * viewer open/close); draw the dirty windows now; open help for the
 * current pane. */
void ui_layout(struct ui *ui);
void ui_render(struct ui *ui);
void ui_help(struct ui *ui);

/* Mark panes. */
void ui_dirty(struct ui *ui, int pane);
void ui_reload_visible(struct ui *ui);
struct pane *ui_pane(struct ui *ui, int pane);

/* The CLI prefix for echoes: "dse --db '/path'" or "dse --remote URL". */
const char *ui_cli_prefix(struct ui *ui);

#endif
