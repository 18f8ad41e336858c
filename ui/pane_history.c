/* pane_history: the active pointer's append-only history (newest first):
 * action, from -> to, reason, actor, time.  Enter opens the artifact the
 * row moved to (or from, for a clear). */
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "draw.h"
#include "fmt.h"
#include "json.h"
#include "listview.h"
#include "util.h"

struct history {
    struct listview lv;
    cJSON *active; /* getActive value */
    char sig[256]; /* signature the list holds */
    char active_sig[256]; /* signature of active */
    struct stale stale;
};

static const struct lv_col cols[] = {
    {"TIME", 11, 0, TEXT_LEFT, 0},  {"ACTION", 8, 0, TEXT_LEFT, 0},  {"FROM", 8, 0, TEXT_LEFT, 0},
    {"TO", 9, 0, TEXT_LEFT, 0},     {"REASON", 0, 12, TEXT_LEFT, 30}, {"ACTOR", 0, 8, TEXT_LEFT, 0},
};

static void cell(void *ctx, const cJSON *row, int col, struct sbuf *out, int *role)
{
    /* column order on screen -> the cases below */
    static const int order[] = {0, 1, 2, 3, 5, 4};
    col = order[col];
    (void)ctx;
    char buf[128];
    switch (col) {
    case 0: sbuf_adds(out, fmt_mdhm(json_int(row, "createdAtMs", 0), buf, sizeof buf)); break;
    case 1: {
        const char *a = json_str(row, "action", "?");
        sbuf_adds(out, a);
        if (!strcmp(a, "rollback"))
            *role = ROLE_WARN;
        else if (!strcmp(a, "clear"))
            *role = ROLE_ERROR;
        break;
    }
    case 2: sbuf_adds(out, fmt_hex8(json_str(row, "fromCompiledId", NULL), buf, sizeof buf)); break;
    case 3: {
        const char *to = json_str(row, "toCompiledId", NULL);
        sbuf_adds(out, to ? fmt_hex8(to, buf, sizeof buf) : "(cleared)");
        break;
    }
    case 4: sbuf_adds(out, json_str(row, "actorUserId", "-")); break;
    case 5: sbuf_adds(out, json_str(row, "reason", "")); break;
    default: break;
    }
}

static void init(struct pane *p)
{
    struct history *h = p->priv;
    struct listview_cfg cfg = {.cols = cols,
                               .ncols = (int)(sizeof cols / sizeof cols[0]),
                               .cell = cell,
                               .sig_list = {.op = STORE_OP_active_history, .key = "history"},
                               .ctx = p,
                               .empty = "(no pointer history yet)"};
    listview_init(&h->lv, &cfg);
}

static void pfree(struct pane *p)
{
    struct history *h = p->priv;
    listview_free(&h->lv);
    cJSON_Delete(h->active);
}

static int on_data(struct pane *p)
{
    struct history *h = p->priv;
    if (!p->ui->sig)
        return UI_REDRAW;
    cJSON *act = NULL;
    bool ok = ui_call(p->ui, STORE_OP_active_get, ui_sig_args(p->ui), &act) == 0;
    bool same = util_streq(h->active_sig, p->ui->sig);
    if (!same)
        h->stale = (struct stale){0};
    /* Not answered: keep the pointer we read last (marked stale). */
    if (ok || !same) {
        cJSON_Delete(h->active);
        h->active = act;
        snprintf(h->active_sig, sizeof h->active_sig, "%s", p->ui->sig);
    }
    listview_sig_load(p->ui, &h->lv, h->sig, sizeof h->sig);
    stale_result(&h->stale, ok && !h->lv.err[0]);
    return UI_REDRAW;
}

static void draw(struct pane *p)
{
    struct history *h = p->priv;
    struct ui *ui = p->ui;
    char t[64], line[400];
    snprintf(p->subtitle, sizeof p->subtitle, "%s", ui_sig_label(ui));
    stale_subtitle(&h->stale, p);
    const char *cid = json_str(h->active, "compiled_id", NULL);
    snprintf(line, sizeof line, "%s (since %s)", cid ? cid : "(none)",
             fmt_time(json_int(h->active, "updatedAtMs", 0), t, sizeof t));
    draw_kv(ui, p->win, 1, 1, p->iw, 9, "active", cid ? ROLE_VALUE : ROLE_DIM,
            h->active ? line : "(unavailable: the store did not answer)");
    draw_stale(ui, p->win, 2, 1, p->iw, &h->stale);
    listview_draw(ui, &h->lv, p->win, 3, 1, p->ih - 2, p->iw, p->focused);
    listview_position(&h->lv, p->note, sizeof p->note);
}

static int key(struct pane *p, int action, int k)
{
    (void)k;
    struct history *h = p->priv;
    listview_seen(&h->lv);
    int r = listview_key(p->ui, &h->lv, action);
    if (r != UI_PASS)
        return r;
    if (action == ACT_ENTER) {
        const cJSON *row = listview_selected(&h->lv);
        if (!row)
            return UI_HANDLED;
        const char *id = json_str(row, "toCompiledId", NULL);
        if (!id)
            id = json_str(row, "fromCompiledId", NULL);
        if (!id) {
            ui_msg(p->ui, ROLE_WARN, "this row names no artifact");
            return UI_HANDLED;
        }
        cJSON *a = ui_sig_args(p->ui), *out = NULL;
        json_set_str(a, "compiled_id", id);
        if (ui_call(p->ui, STORE_OP_artifacts_get, a, &out) == 0) {
            cJSON *art = cJSON_DetachItemFromObjectCaseSensitive(out, "artifact");
            if (!art || cJSON_IsNull(art)) {
                cJSON_Delete(art);
                ui_msg(p->ui, ROLE_WARN, "artifact %s is not in the store", id);
            } else {
                char title[200];
                snprintf(title, sizeof title, "artifact %s", id);
                ui_view_json(p->ui, art, title);
            }
        }
        cJSON_Delete(out);
        return UI_HANDLED;
    }
    return UI_PASS;
}

static int set_filter(struct pane *p, const char *text)
{
    struct history *h = p->priv;
    return listview_filter(p->ui, &h->lv, text);
}

static void save(struct pane *p, cJSON *st)
{
    struct history *h = p->priv;
    listview_sig_save(&h->lv, h->sig, st);
}

static void restore(struct pane *p, const cJSON *st)
{
    struct history *h = p->priv;
    listview_sig_restore(p->ui, &h->lv, h->sig, sizeof h->sig, st);
}

static const int hints[] = {ACT_ENTER, ACT_ROLLBACK, ACT_NONE};

const struct pane_ops pane_history_ops = {
    .name = "history",
    .title = "History",
    .scope = SCOPE_HISTORY,
    .priv_size = sizeof(struct history),
    .init = init,
    .free = pfree,
    .draw = draw,
    .key = key,
    .on_data = on_data,
    .filter = set_filter,
    .save = save,
    .restore = restore,
    .hints = hints,
};
