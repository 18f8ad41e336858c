/* console: `dse console` — start-up, the main loop, key dispatch, and the
 * services of console.h.
 *
 * The loop waits in one place: a poll() over stdin, the signal self-pipe
 * and the worker pipe, with the refresh timer as its timeout.  Each pass:
 * load the data of visible panes marked stale, draw every dirty window into
 * its own WINDOW, one doupdate(), then wait.  Store reads run on this
 * thread but are bounded (keyed pages, single rows), so a key press costs
 * milliseconds even on a million receipts; anything long (compile, the
 * holdout gate) runs in a worker job.  Key handlers and data callbacks only
 * return intent bits. */
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actions.h"
#include "catalog.h"
#include "commands.h"
#include "draw.h"
#include "embedded.h"
#include "input.h"
#include "jdoc.h"
#include "json.h"
#include "sanitize.h"
#include "state.h"
#include "term.h"
#include "ui.h"
#include "util.h"
#include "viewer.h"
#include "worker.h"

static const struct pane_ops *const pane_table[PANE__COUNT] = {
    [PANE_SIGNATURES] = &pane_signatures_ops, [PANE_OVERVIEW] = &pane_overview_ops,
    [PANE_HISTORY] = &pane_history_ops,       [PANE_CANARY] = &pane_canary_ops,
    [PANE_COMPILE] = &pane_compile_ops,       [PANE_EXAMPLES] = &pane_examples_ops,
    [PANE_RECEIPTS] = &pane_receipts_ops,     [PANE_RUNS] = &pane_runs_ops,
};

/* Repeated "readable but no key" passes before we decide the terminal is
 * gone (when it is no longer a tty) / regardless. */
#define GONE_CHECK_PASSES 20
#define GONE_FORCE_PASSES 500

/* ---- services ---- */

struct pane *ui_pane(struct ui *ui, int pane) { return &ui->panes[pane]; }

void ui_dirty(struct ui *ui, int pane)
{
    if (pane >= 0 && pane < PANE__COUNT)
        ui->panes[pane].dirty = true;
}

void ui_reload_visible(struct ui *ui)
{
    for (int i = 0; i < PANE__COUNT; i++)
        ui->panes[i].stale = true;
}

int ui_call_quiet(struct ui *ui, enum store_op op, cJSON *args, cJSON **out, struct dse_err *err)
{
    int rc = store_call(ui->st, op, args, out, err);
    cJSON_Delete(args);
    return rc;
}

int ui_call(struct ui *ui, enum store_op op, cJSON *args, cJSON **out)
{
    struct dse_err err = {0};
    int rc = ui_call_quiet(ui, op, args, out, &err);
    if (rc < 0)
        ui_err(ui, &err);
    return rc;
}

cJSON *ui_sig_args(struct ui *ui)
{
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", ui->sig ? ui->sig : "");
    return a;
}

const char *ui_sig(struct ui *ui) { return ui->sig; }

const char *ui_sig_label_of(const char *id, char *buf, size_t cap)
{
    if (!id) {
        snprintf(buf, cap, "(no signature)");
        return buf;
    }
    const char *slash = strrchr(id, '/');
    sanitize_into(buf, cap, slash && slash[1] ? slash + 1 : id, strlen(slash && slash[1] ? slash + 1 : id), 0);
    return buf;
}

const char *ui_sig_label(struct ui *ui)
{
    static char buf[128];
    return ui_sig_label_of(ui->sig, buf, sizeof buf);
}

const cJSON *ui_signature(struct ui *ui)
{
    if (!ui->sig)
        return NULL;
    if (!ui->sig_json_loaded) {
        ui->sig_json_loaded = true;
        cJSON *out = NULL;
        cJSON *a = json_obj();
        json_set_str(a, "signatureId", ui->sig);
        if (ui_call(ui, STORE_OP_x_sig_get, a, &out) == 0) {
            const cJSON *s = json_get(out, "signature");
            if (cJSON_IsObject(s))
                ui->sig_json = json_dup(s);
        }
        cJSON_Delete(out);
    }
    return ui->sig_json;
}

void ui_select_signature(struct ui *ui, const char *id)
{
    if (util_streq(id, ui->sig))
        return;
    free(ui->sig);
    ui->sig = id ? xstrdup(id) : NULL;
    cJSON_Delete(ui->sig_json);
    ui->sig_json = NULL;
    ui->sig_json_loaded = false;
    for (int i = PANE_OVERVIEW; i < PANE__COUNT; i++)
        ui->panes[i].stale = true;
    ui->chrome_dirty = true;
}

/* Append to the message history (text copied), dropping the oldest. */
static void msglog_add(struct ui *ui, int role, const char *text)
{
    int64_t now = util_now_ms();
    struct ui_msglog *last = ui->nmsglog ? &ui->msglog[ui->nmsglog - 1] : NULL;
    if (last && last->role == role && !strcmp(last->text, text)) {
        last->repeat++;
        last->ms = now;
        return;
    }
    if (ui->nmsglog == UI_MSGLOG_MAX) {
        free(ui->msglog[0].text);
        memmove(ui->msglog, ui->msglog + 1, (UI_MSGLOG_MAX - 1) * sizeof *ui->msglog);
        ui->nmsglog--;
    }
    ui->msglog[ui->nmsglog++] = (struct ui_msglog){now, role, 0, xstrdup(text)};
}

void ui_msg(struct ui *ui, int role, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ui->msg, sizeof ui->msg, fmt, ap);
    va_end(ap);
    ui->msg_role = role;
    ui->msg_drawn_ms = 0;
    ui->chrome_dirty = true;
    if (ui->msg[0])
        msglog_add(ui, role, ui->msg);
}

void ui_err(struct ui *ui, const struct dse_err *err)
{
    char buf[600];
    ui_msg(ui, ROLE_ERROR, "%s", dse_err_str(err, buf, sizeof buf));
}

const char *ui_shq(const char *s)
{
    static char bufs[4][700];
    static unsigned n;
    char *b = bufs[n++ % 4];
    if (!s)
        s = "";
    bool plain = *s != 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("@%+=:,./_-", *p)))
            plain = false;
    if (plain) {
        snprintf(b, 700, "%s", s);
        return b;
    }
    size_t k = 0;
    b[k++] = '\'';
    for (const char *p = s; *p && k < 690; p++) {
        if (*p == '\'') {
            memcpy(b + k, "'\\''", 4);
            k += 4;
        } else {
            b[k++] = *p;
        }
    }
    b[k++] = '\'';
    b[k] = 0;
    return b;
}

const char *ui_cli_prefix(struct ui *ui)
{
    static char buf[1200];
    if (ui->remote)
        snprintf(buf, sizeof buf, "dse --remote %s", ui_shq(ui->st->desc + 7));
    else
        snprintf(buf, sizeof buf, "dse --db %s", ui_shq(ui->store_path));
    return buf;
}

const char *ui_echo(struct ui *ui, const char *fmt, ...)
{
    static char shown[1400];
    char tail[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tail, sizeof tail, fmt, ap);
    va_end(ap);
    char *line = xasprintf("%s %s", ui_cli_prefix(ui), tail);
    if (ui->ncmdlog == UI_CMDLOG_MAX) {
        free(ui->cmdlog[0]);
        memmove(ui->cmdlog, ui->cmdlog + 1, (UI_CMDLOG_MAX - 1) * sizeof *ui->cmdlog);
        ui->ncmdlog--;
    }
    char when[32];
    util_short_time(util_now_ms(), when);
    ui->cmdlog[ui->ncmdlog++] = xasprintf("%s  $ %s", when, line);
    char *cmd = xasprintf("$ %s", line);
    msglog_add(ui, -1, cmd);
    free(cmd);
    /* The message line shows it without the --db/--remote prefix (the log
     * keeps the full, copyable command). */
    snprintf(shown, sizeof shown, "$ dse %s", tail);
    /* ... and with the signature as its unique suffix, which the CLI
     * resolves too ("--signature SelectTool.v1"). */
    char *sigarg = strstr(shown, "--signature ");
    if (sigarg) {
        char *val = sigarg + 12, *end = val + strcspn(val, " ");
        char *slash = NULL;
        for (char *q = val; q < end; q++)
            if (*q == '/')
                slash = q;
        if (slash && *val != '\'')
            memmove(val, slash + 1, strlen(slash + 1) + 1);
    }
    free(line);
    return shown;
}

bool ui_can_write(struct ui *ui, const char *what)
{
    if (!ui->read_only || ui->armed)
        return true;
    if (ui->ro_locked) {
        ui_msg(ui, ROLE_WARN, "read-only: %s refused (the console was started with --read-only)",
               what);
        return false;
    }
    char key[32];
    keymap_key_for(ui->km, SCOPE_GLOBAL, ACT_ARM, key, sizeof key);
    ui_msg(ui, ROLE_WARN, "read-only: %s refused (press %s to arm writes for this session)", what,
           key[0] ? key : ":arm");
    return false;
}

void ui_confirm(struct ui *ui, const char *question, ui_yes_fn *yes, void *arg,
                void (*free_arg)(void *))
{
    input_free(ui->input);
    ui->input = input_new_confirm(question, yes, arg, free_arg);
    ui->chrome_dirty = true;
}

void ui_prompt(struct ui *ui, const char *label, const char *initial, ui_text_fn *done,
               void *arg, void (*free_arg)(void *))
{
    input_free(ui->input);
    ui->input = input_new_text(label, initial, done, arg, free_arg);
    ui->chrome_dirty = true;
}

static void open_viewer(struct ui *ui, struct jdoc *d)
{
    viewer_free(ui->viewer);
    ui->viewer = viewer_new(d);
    ui_layout(ui); /* the viewer takes the body: new geometry */
}

void ui_view_json(struct ui *ui, cJSON *root, const char *title)
{
    open_viewer(ui, jdoc_new_json(root, title));
}

void ui_view_text(struct ui *ui, char *text, const char *title)
{
    open_viewer(ui, jdoc_new_text(text, title));
}

char *ui_edit_text(struct ui *ui, const char *text, const char *suffix)
{
    if (ui->headless) {
        ui_msg(ui, ROLE_ERROR, "no editor in headless mode");
        return NULL;
    }
    const char *tmp = getenv("TMPDIR");
    char path[600];
    snprintf(path, sizeof path, "%s/dse-edit-XXXXXX%s", tmp && *tmp ? tmp : "/tmp",
             suffix ? suffix : "");
    int fd = mkstemps(path, suffix ? (int)strlen(suffix) : 0);
    if (fd < 0) {
        ui_msg(ui, ROLE_ERROR, "cannot create a temp file: %s", strerror(errno));
        return NULL;
    }
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t)len;
    close(fd);
    if (!ok) {
        unlink(path);
        ui_msg(ui, ROLE_ERROR, "cannot write the temp file");
        return NULL;
    }
    const char *editor = getenv("VISUAL");
    if (!editor || !*editor)
        editor = getenv("EDITOR");
    if (!editor || !*editor)
        editor = "vi";
    term_suspend();
    pid_t pid = fork();
    int status = -1;
    if (pid == 0) {
        /* $EDITOR may carry arguments ("code -w"); the shell splits them. */
        execl("/bin/sh", "sh", "-c", "exec $0 \"$1\"", editor, path, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    term_resume();
    ui->all_dirty = true;
    term_take_signals(); /* a resize while editing is handled by the relayout */
    if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        unlink(path);
        ui_msg(ui, ROLE_ERROR, "editor '%s' failed (exit %d); nothing saved", editor,
               WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return NULL;
    }
    size_t n;
    char *out = util_read_file(path, 16u << 20, &n);
    unlink(path);
    if (!out)
        ui_msg(ui, ROLE_ERROR, "cannot read the edited file");
    return out;
}

/* ---- themes and keymaps ---- */

static const char *config_dir(char *buf, size_t cap)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(buf, cap, "%s/dse", xdg);
    else
        snprintf(buf, cap, "%s/.config/dse", home && *home ? home : ".");
    return buf;
}

/* Warnings before curses starts go to stderr; later to the message line. */
static void warn_cb(void *ctx, const char *msg)
{
    struct ui *ui = ctx;
    char *clean = sanitize_str(msg, 0);
    /* Before the screen starts: stderr (seen after exit) and the message
     * line (seen now). */
    if (!term_active())
        fprintf(stderr, "dse: %s\n", clean);
    ui_msg(ui, ROLE_WARN, "%s", clean);
    free(clean);
}

static const struct embedded_file *embedded(const char *path)
{
    for (const struct embedded_file *f = embedded_files; f->path; f++)
        if (!strcmp(f->path, path))
            return f;
    return NULL;
}

int ui_load_theme(struct ui *ui, const char *name)
{
    if (!name || !*name || strchr(name, '/') || strlen(name) > 60) {
        ui_msg(ui, ROLE_ERROR, "bad theme name");
        return -1;
    }
    struct theme t;
    theme_init(&t, name);
    /* The default theme first, so a partial theme only changes some roles. */
    const struct embedded_file *def = embedded("themes/default.theme");
    if (def)
        theme_parse(&t, def->data, def->path, NULL, NULL);
    char dir[800], path[900];
    config_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/themes/%s.theme", dir, name);
    size_t len;
    char *text = util_read_file(path, 1 << 20, &len);
    if (text) {
        theme_parse(&t, text, path, warn_cb, ui);
        free(text);
    } else {
        char epath[200];
        snprintf(epath, sizeof epath, "themes/%s.theme", name);
        const struct embedded_file *f = embedded(epath);
        if (!f) {
            ui_msg(ui, ROLE_ERROR, "no theme '%s' (built in: default, light, high-contrast, mono)",
                   name);
            return -1;
        }
        if (f != def)
            theme_parse(&t, f->data, f->path, warn_cb, ui);
    }
    snprintf(t.name, sizeof t.name, "%s", name);
    ui->theme = t;
    if (term_active())
        term_apply_theme(ui);
    ui->all_dirty = true;
    return 0;
}

static void load_keymap(struct ui *ui)
{
    ui->km = keymap_new();
    if (keymap_load_text(ui->km, keymap_default_text, "builtin-keymap", warn_cb, ui) != 0)
        die("the built-in keymap has errors (see above)");
    char dir[800], path[900];
    config_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/keymap", dir);
    size_t len;
    char *text = util_read_file(path, 1 << 20, &len);
    if (text) {
        keymap_load_text(ui->km, text, path, warn_cb, ui);
        free(text);
    }
}

/* ---- layout ---- */

static void del(WINDOW **w)
{
    if (*w) {
        delwin(*w);
        *w = NULL;
    }
}

static WINDOW *mk(struct rect r)
{
    if (r.h <= 0 || r.w <= 0)
        return NULL;
    WINDOW *w = newwin(r.h, r.w, r.y, r.x);
    if (w)
        leaveok(w, TRUE);
    return w;
}

static WINDOW *w_keys; /* where keys are read from */
static WINDOW *w_viewer;

void ui_layout(struct ui *ui)
{
    struct layout_cfg cfg = {.focus_left = ui->focus_left && !ui->viewer,
                             .wide_main = ui->viewer != NULL};
    layout_compute(LINES, COLS, &cfg, &ui->lay);
    del(&ui->w_header);
    del(&ui->w_tabs);
    del(&ui->w_msg);
    del(&ui->w_status);
    del(&ui->w_small);
    del(&w_viewer);
    for (int i = 0; i < PANE__COUNT; i++) {
        del(&ui->panes[i].win);
        ui->panes[i].visible = false;
    }
    if (ui->lay.too_small) {
        ui->w_small = newwin(LINES > 0 ? LINES : 1, COLS > 0 ? COLS : 1, 0, 0);
        w_keys = ui->w_small;
    } else {
        ui->w_header = mk(ui->lay.header);
        ui->w_tabs = mk(ui->lay.tabs);
        ui->w_msg = mk(ui->lay.message);
        ui->w_status = mk(ui->lay.status);
        if (ui->w_status)
            leaveok(ui->w_status, FALSE);
        w_keys = ui->w_status;
        for (int i = 0; i < PANE__COUNT; i++) {
            struct pane *p = &ui->panes[i];
            struct rect r = i == PANE_SIGNATURES ? ui->lay.left : ui->lay.main;
            bool show = i == PANE_SIGNATURES ? ui->lay.show_left
                                             : (ui->lay.show_main && i == ui->cur && !ui->viewer);
            p->r = r;
            p->ih = r.h - 2 > 0 ? r.h - 2 : 0;
            p->iw = r.w - 2 > 0 ? r.w - 2 : 0;
            if (r.h > 0 && r.w > 0)
                p->win = mk(r);
            p->visible = show && p->win;
            p->dirty = true;
            if (p->ops->resize)
                p->ops->resize(p);
        }
        if (ui->viewer)
            w_viewer = mk(ui->lay.main);
    }
    if (w_keys) {
        keypad(w_keys, TRUE);
        nodelay(w_keys, TRUE);
    }
    for (int i = 0; i < PANE__COUNT; i++)
        ui->panes[i].focused =
            !ui->viewer && (i == PANE_SIGNATURES ? ui->focus_left : (!ui->focus_left && i == ui->cur));
    ui->all_dirty = true;
    ui->chrome_dirty = true;
}

/* After a resize, an editor, or C-l the terminal may not show what curses
 * believes: repaint every cell once. */
static void full_repaint(struct ui *ui)
{
    ui_layout(ui);
    clearok(curscr, TRUE);
}

/* ---- drawing ---- */

static void draw_header(struct ui *ui)
{
    WINDOW *w = ui->w_header;
    int wd = ui->lay.header.w;
    int role = ui->armed ? ROLE_HEADER_ARMED : ROLE_HEADER;
    draw_fill(ui, w, 0, 0, wd, role);
    const char *mode = ui->armed ? "ARMED (writes on)" : ui->read_only ? "READ-ONLY" : "read-write";
    char clock[32];
    util_short_time(util_now_ms(), clock);
    char right[200], jobs[40] = "";
    int njobs = worker_count(ui);
    if (njobs)
        snprintf(jobs, sizeof jobs, "%d job%s running  ", njobs, njobs == 1 ? "" : "s");
    /* OFFLINE stays up while the store does not answer; the message line
     * that said so first may since show other things. */
    snprintf(right, sizeof right, "%s%s%srefresh %dms  %s ", jobs,
             ui->offline ? "OFFLINE  " : "", ui->frozen ? "FROZEN  " : "", ui->refresh_ms,
             clock + 11);
    char *left = xasprintf(" dse  %s  [%s]", ui->st->desc, mode);
    int rw = text_width(right);
    if (rw > wd / 2)
        rw = wd / 2;
    draw_text(ui, w, 0, 0, wd - rw, role, left, TEXT_LEFT);
    draw_clean(ui, w, 0, wd - rw, rw, ui->offline ? ROLE_ERROR : ui->frozen ? ROLE_WARN : role,
               right, TEXT_RIGHT);
    free(left);
}

static void draw_tabs(struct ui *ui)
{
    WINDOW *w = ui->w_tabs;
    int wd = ui->lay.tabs.w;
    draw_fill(ui, w, 0, 0, wd, ROLE_TAB);
    int x = 0;
    for (int i = 0; i < PANE__COUNT && x < wd; i++) {
        char key[32];
        keymap_key_for(ui->km, SCOPE_GLOBAL, ACT_PANE_SIGNATURES + i, key, sizeof key);
        char *t = xasprintf(" %s%s%s ", key, key[0] ? " " : "", ui->panes[i].ops->title);
        int tw = text_width(t);
        bool active = i == PANE_SIGNATURES ? ui->focus_left : (!ui->focus_left && i == ui->cur);
        if (x + tw > wd)
            tw = wd - x;
        draw_clean(ui, w, 0, x, tw, active ? ROLE_TAB_ACTIVE : ROLE_TAB, t, TEXT_LEFT);
        free(t);
        x += tw;
    }
    if (x < wd && ui->sig) {
        char *s = xasprintf("  %s", ui_sig_label(ui));
        draw_clean(ui, w, 0, x, wd - x, ROLE_TITLE, s, TEXT_RIGHT);
        free(s);
    }
}

static void draw_status(struct ui *ui)
{
    WINDOW *w = ui->w_status;
    int wd = ui->lay.status.w;
    if (ui->input) {
        curs_set(1);
        input_draw(ui, w, wd);
        return;
    }
    curs_set(0);
    int scope = ui->viewer ? SCOPE_VIEWER
                : ui->focus_left ? SCOPE_SIGNATURES
                                 : ui->panes[ui->cur].ops->scope;
    static const int viewer_hints[] = {ACT_FILTER, ACT_SEARCH_NEXT, ACT_FOLD, ACT_RAW, ACT_WRAP,
                                       ACT_SAVE, ACT_BACK, ACT_NONE};
    static const int global_hints[] = {ACT_HELP, ACT_COMMAND, ACT_FILTER, ACT_NEXT_PANE,
                                       ACT_NONE};
    const int *ph = ui->viewer ? viewer_hints
                    : ui->focus_left ? ui->panes[PANE_SIGNATURES].ops->hints
                                     : ui->panes[ui->cur].ops->hints;
    struct sbuf b = {0};
    sbuf_add(&b, "", 0);
    for (int pass = 0; pass < 2; pass++) {
        const int *list = pass == 0 ? global_hints : ph;
        for (int i = 0; list && list[i] != ACT_NONE; i++) {
            if (pass == 0 && ui->viewer && list[i] != ACT_HELP)
                continue;
            char key[32];
            if (list[i] == ACT_LABEL_1) {
                /* the nine value keys as one hint: "!@#$%^&*( label-1..9" */
                struct sbuf k = {0};
                sbuf_add(&k, "", 0);
                for (int a = ACT_LABEL_1; a <= ACT_LABEL_9; a++) {
                    keymap_key_for(ui->km, scope, a, key, sizeof key);
                    sbuf_adds(&k, key);
                }
                if (k.len)
                    sbuf_printf(&b, "%s label-1..9  ", k.s);
                sbuf_free(&k);
                continue;
            }
            keymap_key_for(ui->km, scope, list[i], key, sizeof key);
            if (!key[0])
                continue;
            sbuf_printf(&b, "%s %s  ", key, action_name(list[i]));
        }
    }
    if (ui->read_only && !ui->armed && !ui->ro_locked) {
        char key[32];
        keymap_key_for(ui->km, SCOPE_GLOBAL, ACT_ARM, key, sizeof key);
        sbuf_printf(&b, "%s arm  ", key);
    }
    if (!ui->viewer) {
        char key[32];
        keymap_key_for(ui->km, scope, ACT_BACK, key, sizeof key);
        /* q quits only at the top (the signature list); elsewhere it goes back */
        if (key[0])
            sbuf_printf(&b, "%s %s", key, ui->focus_left ? "quit" : "back");
    }
    draw_clean(ui, w, 0, 0, wd, ROLE_STATUS, b.s, TEXT_LEFT);
    sbuf_free(&b);
}

static void draw_pane(struct ui *ui, struct pane *p)
{
    if (!p->win)
        return;
    int frame = ui->armed ? ROLE_FRAME_ARMED : p->focused ? ROLE_FRAME_FOCUS : ROLE_FRAME;
    p->subtitle[0] = 0;
    p->note[0] = 0;
    draw_clear_inner(ui, p->win, p->r.h, p->r.w);
    if (p->ops->draw && p->ih > 0 && p->iw > 0)
        p->ops->draw(p);
    char *title = p->subtitle[0] ? xasprintf("%s %s %s", p->ops->title, ui->ascii ? "-" : "\xc2\xb7", p->subtitle)
                                 : xstrdup(p->ops->title);
    draw_frame(ui, p->win, p->r.h, p->r.w, frame, title, p->note);
    free(title);
    wnoutrefresh(p->win);
}

void ui_render(struct ui *ui)
{
    if (ui->lay.too_small) {
        WINDOW *w = ui->w_small;
        if (!w)
            return;
        werase(w);
        char msg[128];
        snprintf(msg, sizeof msg, "terminal too small (need >= %dx%d, have %dx%d)", LAYOUT_MIN_COLS,
                 LAYOUT_MIN_ROWS, COLS, LINES);
        /* Wrap the notice by hand: curses must not wrap it mid-glyph. */
        int y = 0;
        const char *p = msg;
        while (*p && y < LINES) {
            int used;
            size_t n = text_prefix(p, COLS, &used);
            if (!n)
                break;
            char *part = xstrndup(p, n);
            mvwaddstr(w, y++, 0, part);
            free(part);
            p += n;
        }
        wnoutrefresh(w);
        doupdate();
        ui->all_dirty = false;
        return;
    }
    if (ui->all_dirty) {
        ui->chrome_dirty = true;
        for (int i = 0; i < PANE__COUNT; i++)
            ui->panes[i].dirty = true;
    }
    if (ui->chrome_dirty) {
        if (ui->w_header) {
            draw_header(ui);
            wnoutrefresh(ui->w_header);
        }
        if (ui->w_tabs) {
            draw_tabs(ui);
            wnoutrefresh(ui->w_tabs);
        }
        if (ui->w_msg) {
            draw_text(ui, ui->w_msg, 0, 0, ui->lay.message.w, ui->msg_role, ui->msg, TEXT_LEFT);
            wnoutrefresh(ui->w_msg);
            if (ui->msg[0] && !ui->msg_drawn_ms)
                ui->msg_drawn_ms = util_mono_ms();
        }
    }
    for (int i = 0; i < PANE__COUNT; i++) {
        struct pane *p = &ui->panes[i];
        if (p->visible && (p->dirty || ui->all_dirty))
            draw_pane(ui, p);
        p->dirty = false;
    }
    if (ui->viewer && w_viewer && (ui->all_dirty || ui->viewer_dirty)) {
        ui->viewer_dirty = false;
        viewer_draw(ui, ui->viewer, w_viewer, ui->lay.main.h, ui->lay.main.w);
        wnoutrefresh(w_viewer);
    }
    /* The status line goes last so the cursor ends up in the input. */
    if (ui->w_status) {
        draw_status(ui);
        wnoutrefresh(ui->w_status);
    }
    doupdate();
    ui->all_dirty = false;
    ui->chrome_dirty = false;
}

/* ---- data ---- */

static void load_stale(struct ui *ui)
{
    for (int i = 0; i < PANE__COUNT; i++) {
        struct pane *p = &ui->panes[i];
        /* Only what is on screen is loaded; the rest waits until shown. */
        bool shown = p->visible || (i == ui->cur && ui->viewer);
        if (!p->stale || !shown)
            continue;
        p->stale = false;
        int r = p->ops->on_data ? p->ops->on_data(p) : 0;
        p->dirty = true;
        if (r & UI_SIGNATURE)
            ui->chrome_dirty = true;
    }
}

static void poll_store(struct ui *ui)
{
    uint64_t c = store_poll_changes(ui->st);
    /* 0 means the store could not be asked (a remote server down).  Say so
     * once, keep polling, and say when it answers again so an old error on
     * the message line is not mistaken for the current state. */
    if (c == 0 && !ui->offline) {
        ui->offline = true;
        ui_msg(ui, ROLE_ERROR, "cannot reach the store %s; retrying in the background",
               ui->st->desc);
    } else if (c != 0 && ui->offline) {
        ui->offline = false;
        ui_msg(ui, ROLE_OK, "reconnected to %s", ui->st->desc);
    }
    if (c != ui->changes) {
        ui->changes = c;
        for (int i = 0; i < PANE__COUNT; i++)
            ui->panes[i].stale = true;
    }
    for (int i = 0; i < PANE__COUNT; i++) {
        struct pane *p = &ui->panes[i];
        if (p->visible && p->ops->tick && (p->ops->tick(p) & UI_REDRAW))
            p->dirty = true;
    }
    ui->chrome_dirty = true; /* the clock */
}

/* ---- keys ---- */

static void focus(struct ui *ui, bool left, int pane)
{
    bool changed = ui->focus_left != left || (pane >= PANE_OVERVIEW && ui->cur != pane);
    ui->focus_left = left;
    if (pane >= PANE_OVERVIEW && pane < PANE__COUNT)
        ui->cur = pane;
    if (changed)
        ui_layout(ui);
}

static void apply(struct ui *ui, struct pane *p, int r)
{
    if (r & UI_QUIT)
        ui->quit = true;
    if (r & UI_RELAYOUT)
        ui_layout(ui);
    if (r & UI_REDRAW) {
        if (p)
            p->dirty = true;
        ui->chrome_dirty = true;
    }
    if (r & UI_RELOAD && p)
        p->stale = true;
    if (r & UI_RELOAD_ALL)
        ui_reload_visible(ui);
    if (r & UI_SIGNATURE)
        ui->chrome_dirty = true;
}

static void show_help(struct ui *ui, int scope)
{
    char *keys = keymap_help(ui->km, scope);
    char *text = xasprintf("Keys of the %s pane (and the global keys it does not override).\n"
                           "Rebind in $XDG_CONFIG_HOME/dse/keymap: bind <pane> <key> <action>\n\n"
                           "%s\n"
                           "Commands (:): signature ID, pane NAME, receipts [error|ok|all] "
                           "[strategy=S] [compiled=ID] [thread=T],\n"
                           "  theme NAME, refresh MS, filter TEXT, arm, log, messages, "
                           "save-screen PATH, help, q\n",
                           scope_name(scope), keys);
    free(keys);
    char title[64];
    snprintf(title, sizeof title, "help: %s", scope_name(scope));
    ui_view_text(ui, text, title);
    ui_layout(ui);
}

void ui_help(struct ui *ui)
{
    int scope = ui->viewer ? SCOPE_VIEWER
                : ui->focus_left ? SCOPE_SIGNATURES
                                 : ui->panes[ui->cur].ops->scope;
    show_help(ui, scope);
}

static void on_filter(struct ui *ui, const char *text, void *arg)
{
    struct pane *p = arg;
    if (p->ops->filter)
        apply(ui, p, p->ops->filter(p, text));
}

static int global_action(struct ui *ui, int action, int key)
{
    struct pane *p = ui->focus_left ? &ui->panes[PANE_SIGNATURES] : &ui->panes[ui->cur];
    switch (action) {
    case ACT_HELP: show_help(ui, p->ops->scope); return UI_HANDLED;
    case ACT_COMMAND: commands_prompt(ui); return UI_HANDLED;
    case ACT_FILTER:
        if (!p->ops->filter) {
            ui_msg(ui, ROLE_WARN, "the %s pane has no list to filter", p->ops->name);
            return UI_HANDLED;
        }
        ui_prompt(ui, "filter: ", "", on_filter, p, NULL);
        return UI_HANDLED;
    case ACT_BACK:
        /* q/Esc go back one level: the viewer, a prompt and a pane's own
         * sub-focus (an opened run, receipt filters) were handled before we
         * get here; then the list filter; then a pane on the right goes back
         * to the signature list.  Only q there, at the top, quits. */
        if (p->ops->filter) {
            int fr = p->ops->filter(p, NULL);
            if (fr != UI_PASS) {
                apply(ui, p, fr);
                ui_msg(ui, ROLE_MESSAGE, "filter cleared");
                return UI_HANDLED;
            }
        }
        if (!ui->focus_left) {
            focus(ui, true, -1);
            ui_msg(ui, ROLE_MESSAGE, "back to the signature list (q there quits)");
            return UI_HANDLED;
        }
        if (key == UI_KEY_ESC) {
            ui_msg(ui, ROLE_MESSAGE, "press q to quit");
            return UI_HANDLED;
        }
        ui->quit = true;
        return UI_HANDLED;
    case ACT_QUIT: ui->quit = true; return UI_HANDLED;
    case ACT_NEXT_PANE:
    case ACT_PREV_PANE: {
        int d = action == ACT_NEXT_PANE ? 1 : PANE__COUNT - 1;
        int cur = ui->focus_left ? PANE_SIGNATURES : ui->cur;
        int next = (cur + d) % PANE__COUNT;
        focus(ui, next == PANE_SIGNATURES, next);
        return UI_HANDLED;
    }
    case ACT_LEFT:
        if (!ui->focus_left) {
            focus(ui, true, -1);
            return UI_HANDLED;
        }
        return UI_PASS;
    case ACT_RIGHT:
        if (ui->focus_left) {
            focus(ui, false, -1);
            return UI_HANDLED;
        }
        return UI_PASS;
    case ACT_REFRESH:
        ui_reload_visible(ui);
        ui_msg(ui, ROLE_MESSAGE, "reloaded");
        return UI_HANDLED;
    case ACT_REDRAW: full_repaint(ui); return UI_HANDLED;
    case ACT_FREEZE:
        ui->frozen = !ui->frozen;
        ui_msg(ui, ROLE_MESSAGE, ui->frozen ? "frozen: the screen holds still (F resumes)"
                                            : "live refresh resumed");
        if (!ui->frozen)
            ui_reload_visible(ui);
        ui->chrome_dirty = true;
        return UI_HANDLED;
    case ACT_FASTER:
    case ACT_SLOWER: {
        int ms = action == ACT_FASTER ? ui->refresh_ms / 2 : ui->refresh_ms * 2;
        commands_set_refresh(ui, ms);
        return UI_HANDLED;
    }
    case ACT_ARM: commands_arm(ui); return UI_HANDLED;
    case ACT_LOG: commands_log(ui); return UI_HANDLED;
    case ACT_MESSAGES: commands_messages(ui); return UI_HANDLED;
    default:
        if (action >= ACT_PANE_SIGNATURES && action <= ACT_PANE_RUNS) {
            int pane = action - ACT_PANE_SIGNATURES;
            focus(ui, pane == PANE_SIGNATURES, pane);
            return UI_HANDLED;
        }
        return actions_global(ui, action);
    }
}

static void ui_dispatch(struct ui *ui, int key)
{
    if (ui->lay.too_small) {
        /* Nothing to see, so nothing to go back to: q leaves. */
        if (key == 'q' || key == 'Q')
            ui->quit = true;
        return;
    }
    /* A message that has been on screen a moment goes with the next key
     * (the history keeps it: L). */
    if (ui->msg[0] && ui->msg_drawn_ms && util_mono_ms() - ui->msg_drawn_ms >= UI_MSG_MIN_MS) {
        ui->msg[0] = 0;
        ui->msg_drawn_ms = 0;
        ui->chrome_dirty = true;
    }
    if (ui->input) {
        input_key(ui, key);
        ui->chrome_dirty = true;
        ui->viewer_dirty = true;
        return;
    }
    if (ui->viewer) {
        int action = keymap_lookup(ui->km, SCOPE_VIEWER, key);
        int r = viewer_key(ui, ui->viewer, action, key);
        if (r & UI_QUIT) {
            viewer_free(ui->viewer);
            ui->viewer = NULL;
            ui_layout(ui);
            return;
        }
        if (r == UI_PASS && action != ACT_NONE) {
            if (action == ACT_HELP)
                show_help(ui, SCOPE_VIEWER);
            else if (action == ACT_COMMAND)
                commands_prompt(ui);
            else if (action >= ACT_PANE_SIGNATURES && action <= ACT_PANE_RUNS) {
                viewer_free(ui->viewer);
                ui->viewer = NULL;
                global_action(ui, action, key);
                ui_layout(ui);
            }
        }
        ui->viewer_dirty = true;
        ui->chrome_dirty = true;
        return;
    }
    struct pane *p = ui->focus_left ? &ui->panes[PANE_SIGNATURES] : &ui->panes[ui->cur];
    int action = keymap_lookup(ui->km, p->ops->scope, key);
    int r = p->ops->key ? p->ops->key(p, action, key) : UI_PASS;
    if (r == UI_PASS && action != ACT_NONE)
        r = global_action(ui, action, key);
    else if (r == UI_PASS && action == ACT_NONE) {
        char name[32];
        keymap_key_name(key, name, sizeof name);
        ui_msg(ui, ROLE_DIM, "%s: no action here (? lists the keys)", name);
    }
    apply(ui, p, r);
}

/* ---- scripted keys (--keys, for headless runs) ---- */

/* Parse "jj<Enter>:q<Enter>" into keys; <Name> uses keymap names. */
static int *parse_script(const char *s, int *n)
{
    int cap = 64, k = 0;
    int *keys = xmalloc(sizeof(int) * (size_t)cap);
    while (*s) {
        int key = -1;
        if (*s == '<') {
            const char *e = strchr(s, '>');
            if (e && e - s < 20) {
                char name[24];
                snprintf(name, sizeof name, "%.*s", (int)(e - s - 1), s + 1);
                key = keymap_key_parse(name);
                if (key >= 0) {
                    s = e + 1;
                }
            }
            if (key < 0)
                key = *s++;
        } else {
            const unsigned char *u = (const unsigned char *)s;
            int len = u[0] < 0x80 ? 1 : (u[0] & 0xe0) == 0xc0 ? 2 : (u[0] & 0xf0) == 0xe0 ? 3 : 4;
            char one[5] = {0};
            memcpy(one, s, (size_t)len);
            key = keymap_key_parse(one);
            if (key < 0)
                key = u[0];
            s += len;
        }
        if (k == cap)
            keys = xrealloc(keys, sizeof(int) * (size_t)(cap *= 2));
        keys[k++] = key;
    }
    *n = k;
    return keys;
}

/* ---- resume state ---- */

static void save_state(struct ui *ui)
{
    if (ui->no_state || !ui->state_path)
        return;
    cJSON *e = json_obj();
    json_set_str(e, "pane", ui->panes[ui->cur].ops->name);
    json_set_bool(e, "focusLeft", ui->focus_left);
    if (ui->sig)
        json_set_str(e, "signatureId", ui->sig);
    json_set_num(e, "refreshMs", ui->refresh_ms);
    json_set_str(e, "theme", ui->theme.name);
    cJSON *panes = json_obj();
    for (int i = 0; i < PANE__COUNT; i++) {
        struct pane *p = &ui->panes[i];
        if (!p->ops->save)
            continue;
        cJSON *ps = json_obj();
        p->ops->save(p, ps);
        json_set(panes, p->ops->name, ps);
    }
    json_set(e, "panes", panes);
    state_save(ui->state_path, ui->st->desc, e);
}

static cJSON *restore_state(struct ui *ui, const char *want_pane, const char *want_sig)
{
    cJSON *e = ui->no_state ? NULL : state_load(ui->state_path, ui->st->desc);
    if (!e)
        return NULL;
    const char *pane = json_str(e, "pane", NULL);
    for (int i = PANE_OVERVIEW; i < PANE__COUNT && pane && !want_pane; i++)
        if (!strcmp(ui->panes[i].ops->name, pane))
            ui->cur = i;
    if (!want_pane)
        ui->focus_left = json_bool(e, "focusLeft", ui->focus_left);
    const char *sig = json_str(e, "signatureId", NULL);
    if (sig && !want_sig)
        ui_select_signature(ui, sig);
    double ms = json_num(e, "refreshMs", 0);
    if (ms >= UI_MIN_REFRESH_MS && ms <= UI_MAX_REFRESH_MS && ui->refresh_ms == UI_DEFAULT_REFRESH_MS)
        ui->refresh_ms = (int)ms;
    return e;
}

/* ---- entry ---- */

static const char usage[] =
    "dse console [--read-only] [--signature ID] [--pane NAME] [--refresh-ms N] [--theme NAME]\n"
    "            [--ascii] [--iterations N] [--headless] [--keys KEYS] [--no-state]";

static bool locale_is_utf8(void)
{
    const char *cs = nl_langinfo(CODESET);
    return cs && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8") || !strcmp(cs, "UTF8"));
}

static void main_loop(struct ui *ui, int *script, int nscript)
{
    int si = 0;
    int idle_reads = 0;
    while (!ui->quit) {
        load_stale(ui);
        ui_render(ui);
        if (ui->iterations == 0)
            break;
        if (ui->iterations > 0)
            ui->iterations--;
        int64_t now = util_mono_ms();
        int timeout = (int)(ui->next_poll_ms - now);
        if (timeout < 0)
            timeout = 0;
        if (si < nscript)
            timeout = 0;
        /* Idle work on the shown pane: one step per pass, input first. */
        struct pane *shown = ui->viewer || ui->lay.too_small ? NULL : &ui->panes[ui->cur];
        if (shown && shown->visible && shown->ops->idle && shown->ops->idle(shown)) {
            shown->dirty = true;
            timeout = 0;
        }
        if (ui->jobs && timeout > 250)
            timeout = 250; /* job ages tick on screen */
        if (ui->iterations >= 0 && timeout > 100)
            timeout = 100; /* --iterations: passes at most 100 ms apart */
        struct pollfd fds[3];
        int nfds = 0;
        int in_i = -1, job_i;
        if (!ui->headless) {
            in_i = nfds;
            fds[nfds++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
        }
        /* the self-pipe only wakes us; the bits are read below either way */
        fds[nfds++] = (struct pollfd){.fd = term_signal_fd(), .events = POLLIN};
        job_i = nfds;
        fds[nfds++] = (struct pollfd){.fd = ui->job_pipe[0], .events = POLLIN};
        int pr = poll(fds, (nfds_t)nfds, timeout);
        if (pr < 0 && errno != EINTR)
            break;
        unsigned sigs = term_take_signals();
        if (sigs & TERM_SIG_HUP) {
            ui->exit_code = 128 + 1;
            break;
        }
        if (sigs & (TERM_SIG_TERM | TERM_SIG_INT)) {
            ui->exit_code = 128 + ((sigs & TERM_SIG_TERM) ? 15 : 2);
            break;
        }
        if (sigs & TERM_SIG_WINCH) {
            term_resize();
            full_repaint(ui);
        }
        if (pr > 0 && (fds[job_i].revents & POLLIN))
            worker_poll(ui);
        if (in_i >= 0 && pr > 0 && fds[in_i].revents) {
            if (fds[in_i].revents & (POLLHUP | POLLERR | POLLNVAL)) {
                ui->exit_code = 128 + 1; /* the terminal is gone */
                break;
            }
            int key, got = 0;
            while (!ui->quit && term_get_key(w_keys, &key) == 1) {
                got++;
                if (key == UI_KEY_FN(KEY_RESIZE)) {
                    full_repaint(ui);
                    continue;
                }
                ui_dispatch(ui, key);
                if (ui->lay.too_small)
                    ui->all_dirty = true;
                load_stale(ui);
            }
            /* Readable but nothing to read, over and over: EOF on a dead
             * terminal.  Never spin; save state and leave. */
            idle_reads = got ? 0 : idle_reads + 1;
            if (idle_reads >= GONE_FORCE_PASSES ||
                (idle_reads >= GONE_CHECK_PASSES && !isatty(STDIN_FILENO))) {
                ui->exit_code = 128 + 1;
                break;
            }
            if (idle_reads >= GONE_CHECK_PASSES) {
                struct pollfd one = {.fd = STDIN_FILENO, .events = POLLIN};
                poll(&one, 1, 20); /* back off: at most ~50 checks a second */
            }
        } else if (si < nscript) {
            ui_dispatch(ui, script[si++]);
        }
        if (util_mono_ms() >= ui->next_poll_ms) {
            if (!ui->frozen)
                poll_store(ui);
            else
                ui->chrome_dirty = true;
            ui->next_poll_ms = util_mono_ms() + ui->refresh_ms;
        }
    }
}

int ui_console_main(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *sig_name = NULL, *pane_name = NULL, *theme_name = NULL, *keys = NULL;
    long long refresh = UI_DEFAULT_REFRESH_MS, iterations = -1;
    bool ascii = false, headless = false, no_state = false, ro = false;
    struct cli_opt opts[] = {
        {"read-only", 0, CLI_FLAG, &ro, NULL,
         "refuse every write for the session (A cannot arm; a --remote store starts "
         "read-only but A arms it)"},
        {"signature", 's', CLI_STR, &sig_name, "ID", "open on this signature (id, key or suffix)"},
        {"pane", 0, CLI_STR, &pane_name, "NAME",
         "open on a pane: overview history canary compile examples receipts runs"},
        {"refresh-ms", 0, CLI_INT, &refresh, "N", "live refresh interval (default 1000)"},
        {"theme", 0, CLI_STR, &theme_name, "NAME", "default, light, high-contrast, mono, or yours"},
        {"ascii", 0, CLI_FLAG, &ascii, NULL, "ASCII borders and text (automatic without UTF-8)"},
        {"iterations", 0, CLI_INT, &iterations, "N",
         "exit after N loop passes, at most 100 ms apart (tests)"},
        {"headless", 0, CLI_FLAG, &headless, NULL, "no terminal: draw to /dev/null (tests, CI)"},
        {"keys", 0, CLI_STR, &keys, "KEYS", "type these keys first, e.g. 'jj<Enter>:q<Enter>'"},
        {"no-state", 0, CLI_FLAG, &no_state, NULL, "do not read or write the resume state"},
        LMOPTS_CLI(actions_lmopts),
        {0}};
    char **pos;
    int n = cli_parse(ctx, argc, argv, opts, usage,
                      "The full-screen operator console: signatures, active pointer, canary, "
                      "compile reports, labeling, receipts and ops runs, live.",
                      &pos);
    if (n < 0)
        return -n;
    if (n > 0)
        return cli_usage_error(usage, "unexpected argument '%s'", pos[0]);
    if (refresh < UI_MIN_REFRESH_MS || refresh > UI_MAX_REFRESH_MS)
        return cli_usage_error(usage, "--refresh-ms must be %d..%d", UI_MIN_REFRESH_MS,
                               UI_MAX_REFRESH_MS);

    setlocale(LC_ALL, "");
    struct ui *ui = xcalloc(1, sizeof *ui);
    ui->ctx = ctx;
    ui->ascii = ascii || !locale_is_utf8();
    text_set_ascii(ui->ascii);
    ui->headless = headless;
    ui->refresh_ms = (int)refresh;
    ui->iterations = iterations;
    ui->no_state = no_state;
    ui->cur = PANE_OVERVIEW;
    ui->focus_left = true;
    ui->job_pipe[0] = ui->job_pipe[1] = -1;

    /* --read-only (the console's or the global one) holds for the whole
     * session: arming is refused (commands_arm).  A remote store starts
     * read-only and A arms it. */
    ro = ro || ctx->read_only;
    ctx->interactive = true;
    struct store *st = cli_store(ctx);
    if (!st) {
        free(ui);
        return EXIT_REFUSED;
    }
    ui->st = st;
    ui->remote = ctx->remote != NULL;
    ui->read_only = ro || ui->remote;
    ui->ro_locked = ro; /* --read-only was asked for: arming is refused */
    if (ui->remote)
        st->read_only = true; /* default for remote stores: arm to write */
    if (!ui->remote) {
        char *path = ctx->db_path ? xstrdup(ctx->db_path) : cli_default_db_path();
        snprintf(ui->store_path, sizeof ui->store_path, "%s", path);
        free(path);
    }
    if (pipe(ui->job_pipe) < 0)
        die("pipe: %s", strerror(errno));
    for (int i = 0; i < 2; i++) {
        fcntl(ui->job_pipe[i], F_SETFL, fcntl(ui->job_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(ui->job_pipe[i], F_SETFD, FD_CLOEXEC);
    }

    load_keymap(ui);
    theme_init(&ui->theme, "default");
    for (int i = 0; i < PANE__COUNT; i++) {
        struct pane *p = &ui->panes[i];
        p->ops = pane_table[i];
        p->ui = ui;
        p->priv = p->ops->priv_size ? xcalloc(1, p->ops->priv_size) : NULL;
        p->stale = true;
        if (p->ops->init)
            p->ops->init(p);
    }
    ui->state_path = state_default_path();
    cJSON *saved = restore_state(ui, pane_name, sig_name);
    int code = EXIT_OK, nscript = 0, *script = NULL;
    bool started = false;
    const char *saved_theme = json_str(saved, "theme", NULL);
    if (ui_load_theme(ui, theme_name ? theme_name : saved_theme ? saved_theme : "default") < 0) {
        fprintf(stderr, "dse: %s\n", ui->msg);
        if (theme_name) {
            code = EXIT_USAGE;
            goto out;
        }
        ui_load_theme(ui, "default");
    }
    if (sig_name) {
        struct dse_err err = {0};
        char *id = catalog_resolve(st, sig_name, &err);
        if (!id) {
            code = cli_report(&err);
            goto out;
        }
        ui_select_signature(ui, id);
        free(id);
    }
    if (pane_name) {
        bool found = false;
        for (int i = 0; i < PANE__COUNT; i++)
            if (!strcmp(ui->panes[i].ops->name, pane_name)) {
                ui->cur = i == PANE_SIGNATURES ? ui->cur : i;
                ui->focus_left = i == PANE_SIGNATURES;
                found = true;
            }
        if (!found) {
            code = cli_usage_error(usage, "unknown pane '%s'", pane_name);
            goto out;
        }
    } else if (sig_name) {
        ui->focus_left = false;
    }

    struct dse_err err = {0};
    if (term_start(ui, &err) < 0) {
        code = cli_report(&err);
        goto out;
    }
    started = true;
    term_apply_theme(ui);
    ui_layout(ui);
    ui->changes = store_poll_changes(st);
    /* Panes restore their lists (filters, cursors) before the first frame. */
    const cJSON *pstates = json_get(saved, "panes");
    for (int i = 0; i < PANE__COUNT; i++) {
        struct pane *p = &ui->panes[i];
        const cJSON *ps = json_get(pstates, p->ops->name);
        if (p->ops->restore && ps)
            p->ops->restore(p, ps);
    }
    if (!ui->msg[0])
        ui_msg(ui, ROLE_DIM, "%s",
               ui->ro_locked   ? "read-only (--read-only): writes are off for this session; ? help"
               : ui->read_only ? "read-only: press A to arm writes; ? for help"
                               : "? for help, : for commands, q to quit");
    ui->next_poll_ms = util_mono_ms() + ui->refresh_ms;
    script = keys ? parse_script(keys, &nscript) : NULL;

    main_loop(ui, script, nscript);
    code = ui->exit_code;

out:
    cJSON_Delete(saved);
    free(script);
    if (started)
        save_state(ui);
    worker_stop_all(ui);
    viewer_free(ui->viewer);
    input_free(ui->input);
    if (started)
        term_stop(ui);
    for (int i = 0; i < PANE__COUNT; i++) {
        struct pane *p = &ui->panes[i];
        if (p->ops->free)
            p->ops->free(p);
        free(p->priv);
    }
    for (int i = 0; i < ui->ncmdlog; i++) {
        /* Printed after the screen is gone so the session's commands can be
         * copied into a runbook. */
        if (!ui->headless) {
            /* ids and JSON in it came from the store: sanitise */
            char *clean = sanitize_str(ui->cmdlog[i], 0);
            printf("%s\n", clean);
            free(clean);
        }
        free(ui->cmdlog[i]);
    }
    for (int i = 0; i < ui->nmsglog; i++)
        free(ui->msglog[i].text);
    keymap_free(ui->km);
    free(ui->sig);
    cJSON_Delete(ui->sig_json);
    free(ui->state_path);
    close(ui->job_pipe[0]);
    close(ui->job_pipe[1]);
    /* cli_main closes ctx->st; if arming replaced it, ctx points at ours. */
    ctx->st = ui->st;
    free(ui);
    return code;
}
