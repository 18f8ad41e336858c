#include "commands.h"

#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "fmt.h"
#include "json.h"
#include "panes.h"
#include "sanitize.h"
#include "term.h"
#include "util.h"
#include "viewer.h"

static void on_command(struct ui *ui, const char *text, void *arg)
{
    (void)arg;
    if (text && *text)
        commands_run(ui, text);
}

void commands_prompt(struct ui *ui) { ui_prompt(ui, ":", "", on_command, NULL, NULL); }

void commands_set_refresh(struct ui *ui, int ms)
{
    if (ms < UI_MIN_REFRESH_MS)
        ms = UI_MIN_REFRESH_MS;
    if (ms > UI_MAX_REFRESH_MS)
        ms = UI_MAX_REFRESH_MS;
    ui->refresh_ms = ms;
    ui->next_poll_ms = util_mono_ms() + ms;
    ui_msg(ui, ROLE_MESSAGE, "refresh every %d ms", ms);
    ui->chrome_dirty = true;
}

void commands_arm(struct ui *ui)
{
    if (!ui->read_only) {
        ui_msg(ui, ROLE_MESSAGE, "writes are already enabled (the store is not read-only)");
        return;
    }
    if (ui->armed) {
        ui_msg(ui, ROLE_MESSAGE, "already armed");
        return;
    }
    if (ui->ro_locked) {
        /* --read-only is a promise to whoever started the console. */
        ui_msg(ui, ROLE_ERROR, "cannot arm: this console was started with --read-only, so writes "
                               "stay off (restart it without --read-only to make changes)");
        return;
    }
    ui->st->read_only = false;
    ui->armed = true;
    ui->all_dirty = true;
    ui_reload_visible(ui);
    ui_msg(ui, ROLE_WARN, "ARMED: writes are enabled for this session");
}

/* A log viewer's text: the intro, then "(nothing yet)" when empty. */
static void log_start(struct sbuf *b, const char *intro, int n)
{
    sbuf_add(b, "", 0);
    sbuf_adds(b, intro);
    if (!n)
        sbuf_adds(b, "(nothing yet)\n");
}

void commands_log(struct ui *ui)
{
    struct sbuf b = {0};
    log_start(&b,
              "Commands run from this console, as dse CLI commands (oldest first).\n"
              "They are also printed when the console exits.\n\n",
              ui->ncmdlog);
    for (int i = 0; i < ui->ncmdlog; i++) {
        sbuf_adds(&b, ui->cmdlog[i]);
        sbuf_addc(&b, '\n');
    }
    ui_view_text(ui, sbuf_take(&b), "command log");
    ui->all_dirty = true;
}

static const char *level_of(int role)
{
    switch (role) {
    case -1: return "cmd";
    case ROLE_ERROR: return "error";
    case ROLE_WARN: return "warn";
    case ROLE_OK: return "ok";
    default: return "info";
    }
}

void commands_messages(struct ui *ui)
{
    struct sbuf b = {0};
    log_start(&b,
              "Messages shown on the message line and commands run, newest first.\n"
              "A message stays up until a key is pressed a second or more after it\n"
              "appeared; they are all kept here.  q or Esc closes this.\n\n",
              ui->nmsglog);
    for (int i = ui->nmsglog - 1; i >= 0; i--) {
        const struct ui_msglog *m = &ui->msglog[i];
        char day[32], clock[16];
        fmt_time(m->ms, day, sizeof day);
        fmt_clock(m->ms, clock, sizeof clock);
        /* The text came from the store, the LM or the user: one line,
         * sanitised (a newline in it must not fake another entry). */
        char *clean = sanitize_str(m->text, 0);
        sbuf_printf(&b, "%.10s %s  %-5s  %s", day, clock, level_of(m->role), clean);
        if (m->repeat)
            sbuf_printf(&b, "  (x%d)", m->repeat + 1);
        sbuf_addc(&b, '\n');
        free(clean);
    }
    ui_view_text(ui, sbuf_take(&b), "messages & command log");
    ui->all_dirty = true;
}

static int set_pane(struct ui *ui, const char *name)
{
    for (int i = 0; i < PANE__COUNT; i++)
        if (!strcmp(ui->panes[i].ops->name, name)) {
            if (ui->viewer) {
                viewer_free(ui->viewer);
                ui->viewer = NULL;
            }
            ui->focus_left = i == PANE_SIGNATURES;
            if (i != PANE_SIGNATURES)
                ui->cur = i;
            ui_layout(ui);
            return 0;
        }
    ui_msg(ui, ROLE_ERROR, "unknown pane '%s'", name);
    return -1;
}

int commands_run(struct ui *ui, const char *line)
{
    char *copy = xstrdup(line);
    char *argv[16], *save = NULL;
    int argc = 0;
    for (char *t = strtok_r(copy, " \t", &save); t && argc < 16; t = strtok_r(NULL, " \t", &save))
        argv[argc++] = t;
    int rc = 0;
    if (argc == 0) {
        free(copy);
        return 0;
    }
    const char *cmd = argv[0];
    /* The rest of the line, for commands that take free text. */
    const char *rest = line + strspn(line, " \t");
    rest += strcspn(rest, " \t");
    rest += strspn(rest, " \t");
    if (!strcmp(cmd, "q") || !strcmp(cmd, "quit") || !strcmp(cmd, "q!")) {
        ui->quit = true;
    } else if (!strcmp(cmd, "signature") || !strcmp(cmd, "sig")) {
        if (argc < 2) {
            ui_msg(ui, ROLE_ERROR, "usage: :signature ID");
            rc = -1;
        } else {
            struct dse_err err = {0};
            char *id = catalog_resolve(ui->st, argv[1], &err);
            if (!id) {
                ui_err(ui, &err);
                rc = -1;
            } else {
                ui_select_signature(ui, id);
                pane_signatures_follow(ui_pane(ui, PANE_SIGNATURES));
                ui_msg(ui, ROLE_MESSAGE, "signature %s", id);
                free(id);
            }
        }
    } else if (!strcmp(cmd, "pane")) {
        rc = argc < 2 ? (ui_msg(ui, ROLE_ERROR, "usage: :pane NAME"), -1) : set_pane(ui, argv[1]);
    } else if (!strcmp(cmd, "receipts")) {
        set_pane(ui, "receipts");
        rc = pane_receipts_command(ui_pane(ui, PANE_RECEIPTS), argc - 1, argv + 1);
    } else if (!strcmp(cmd, "theme")) {
        if (argc < 2) {
            ui_msg(ui, ROLE_MESSAGE, "theme %s (try default, light, high-contrast, mono)",
                   ui->theme.name);
        } else if (ui_load_theme(ui, argv[1]) == 0) {
            ui_msg(ui, ROLE_MESSAGE, "theme %s", argv[1]);
        } else {
            rc = -1;
        }
    } else if (!strcmp(cmd, "refresh")) {
        int64_t ms;
        if (argc < 2 || !util_parse_i64(argv[1], &ms)) {
            ui_msg(ui, ROLE_ERROR, "usage: :refresh MS (%d..%d)", UI_MIN_REFRESH_MS,
                   UI_MAX_REFRESH_MS);
            rc = -1;
        } else {
            commands_set_refresh(ui, (int)ms);
        }
    } else if (!strcmp(cmd, "filter")) {
        struct pane *p = ui->focus_left ? ui_pane(ui, PANE_SIGNATURES) : ui_pane(ui, ui->cur);
        if (p->ops->filter) {
            p->ops->filter(p, *rest ? rest : NULL);
            p->dirty = true;
        } else {
            ui_msg(ui, ROLE_WARN, "the %s pane has no list to filter", p->ops->name);
        }
    } else if (!strcmp(cmd, "search")) {
        if (!ui->viewer)
            ui_msg(ui, ROLE_WARN, ":search works in the viewer (open a row with Enter)");
        else
            viewer_search(ui, ui->viewer, rest);
        ui->viewer_dirty = true;
    } else if (!strcmp(cmd, "arm")) {
        commands_arm(ui);
    } else if (!strcmp(cmd, "log")) {
        commands_log(ui);
        ui_layout(ui);
    } else if (!strcmp(cmd, "messages") || !strcmp(cmd, "msgs")) {
        commands_messages(ui);
        ui_layout(ui);
    } else if (!strcmp(cmd, "save-screen")) {
        if (argc < 2) {
            ui_msg(ui, ROLE_ERROR, "usage: :save-screen PATH");
            rc = -1;
        } else {
            struct dse_err err = {0};
            /* Draw the current state first so the dump is what is shown. */
            ui_render(ui);
            if (term_save_screen(rest, &err) < 0) {
                ui_err(ui, &err);
                rc = -1;
            } else {
                ui_msg(ui, ROLE_OK, "screen saved to %s", rest);
            }
        }
    } else if (!strcmp(cmd, "help")) {
        ui_help(ui);
    } else {
        ui_msg(ui, ROLE_ERROR, "unknown command '%s' (:help lists them)", cmd);
        rc = -1;
    }
    ui->chrome_dirty = true;
    free(copy);
    return rc;
}
