/* pane_signatures: the signature list on the left — id, active pointer,
 * canary at a glance, last compile age, receipts per minute and error rate
 * over the last five minutes (dsex/stats:signatureStats).  Moving the
 * cursor selects the signature every other pane shows. */
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "draw.h"
#include "fmt.h"
#include "json.h"
#include "listview.h"
#include "panes.h"
#include "util.h"

/* Receipts/min and error rate are measured over this window. */
#define RATE_WINDOW_MS (5 * 60 * 1000)
/* The window slides even without writes: reload this often anyway. */
#define STATS_REFRESH_MS 5000

struct sigs {
    struct listview lv;
    int64_t loaded_ms;
    struct stale stale;
};

/* Numbers are abbreviated to their column (fmt_num), never cut. */
#define CANARY_W 7
#define RM_W 4

/* Most useful first: columns that do not fit are dropped from the right. */
static const struct lv_col cols[] = {
    {"SIGNATURE", 0, 12, TEXT_LEFT, 0}, {"ACTIVE", 8, 0, TEXT_LEFT, 0}, {"CANARY", CANARY_W, 0, TEXT_RIGHT, 0},
    {"R/M", RM_W, 0, TEXT_RIGHT, 0},    {"ERR%", 4, 0, TEXT_RIGHT, 0},  {"CMP", 4, 0, TEXT_RIGHT, 0},
};

static void sig_key(const cJSON *row, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", json_str(row, "signatureId", ""));
}

static void cell(void *ctx, const cJSON *row, int col, struct sbuf *out, int *role)
{
    (void)ctx;
    char buf[128];
    const cJSON *canary = json_get(row, "canary");
    double receipts = json_num(row, "receipts", 0), errors = json_num(row, "errors", 0);
    switch (col) {
    case 0: {
        const char *id = json_str(row, "signatureId", "");
        const char *slash = strrchr(id, '/');
        sbuf_adds(out, slash && slash[1] ? slash + 1 : id);
        break;
    }
    case 1: {
        const char *c = json_str(row, "compiled_id", NULL);
        sbuf_adds(out, fmt_hex8(c, buf, sizeof buf));
        if (!c)
            *role = ROLE_DIM;
        break;
    }
    case 2:
        if (cJSON_IsObject(canary)) {
            /* samples so far / needed; the colour says the verdict */
            char text[200];
            enum fmt_canary j = fmt_canary_judge(canary, 0, 0, text, sizeof text, NULL, NULL);
            double ok = json_num(canary, "okCount", 0), err = json_num(canary, "errorCount", 0);
            sbuf_adds(out, fmt_ratio(ok + err, json_num(canary, "minSamples", 20), CANARY_W, buf,
                                     sizeof buf));
            *role = j == FMT_CANARY_FAILING   ? ROLE_VERDICT_FAILING
                    : j == FMT_CANARY_HEALTHY ? ROLE_OK
                                              : ROLE_WARN;
        } else {
            sbuf_adds(out, "-");
            *role = ROLE_DIM;
        }
        break;
    case 3:
        if (receipts > 0)
            sbuf_adds(out, fmt_num(receipts * 60000.0 / RATE_WINDOW_MS, RM_W, 1, buf, sizeof buf));
        else
            sbuf_adds(out, "-");
        break;
    case 4:
        if (receipts > 0) {
            sbuf_printf(out, "%.0f", 100.0 * errors / receipts);
            if (errors > 0)
                *role = ROLE_ERROR;
        } else {
            sbuf_adds(out, "-");
        }
        break;
    case 5: sbuf_adds(out, fmt_age(json_int(row, "lastCompileAtMs", 0), buf, sizeof buf)); break;
    default: break;
    }
}

/* The row of signature id from the previous load, or NULL. */
static const cJSON *old_row(const struct sigs *s, const char *id)
{
    for (int i = 0; i < s->lv.n; i++)
        if (!strcmp(json_str(s->lv.rows[i], "signatureId", ""), id))
            return s->lv.rows[i];
    return NULL;
}

/* One row per catalog signature, joined with its pointer, canary and
 * stats (a handful of signatures: a few small queries each). */
static int fetch(void *ctx, const char *cursor, enum lv_dir dir, int limit, cJSON **items,
                 char **next, struct dse_err *err)
{
    (void)cursor;
    (void)dir;
    (void)limit;
    *next = NULL;
    struct pane *p = ctx;
    struct ui *ui = p->ui;
    cJSON *list = NULL;
    if (store_call(ui->st, STORE_OP_x_sig_list, NULL, &list, err) < 0)
        return -1;
    struct sigs *sg = p->priv;
    cJSON *rows = json_arr();
    int64_t since = util_now_ms() - RATE_WINDOW_MS;
    int failed = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, json_get(list, "signatures"))
    {
        const char *id = json_str(s, "signatureId", NULL);
        if (!id)
            continue;
        cJSON *row = json_obj();
        json_set_str(row, "signatureId", id);
        cJSON *a = json_obj(), *out = NULL;
        json_set_str(a, "signatureId", id);
        /* A failed read fails the whole load: the list keeps its last rows
         * (marked stale) instead of showing "-" as if it were real. */
        if (store_call(ui->st, STORE_OP_active_get, a, &out, err) == 0)
            json_set_copy(row, "compiled_id", json_get(out, "compiled_id"));
        else
            failed = 1;
        cJSON_Delete(out);
        out = NULL;
        if (!failed && store_call(ui->st, STORE_OP_canary_get, a, &out, err) == 0) {
            const cJSON *now = json_get(out, "canary");
            json_set_copy(row, "canary", now);
            const cJSON *was = json_get(old_row(sg, id), "canary");
            if (cJSON_IsObject(was) &&
                (!cJSON_IsObject(now) ||
                 json_int(was, "createdAtMs", 0) != json_int(now, "createdAtMs", 0)))
                pane_canary_autostop_notice(ui, id, json_int(was, "createdAtMs", 0));
        } else {
            failed = 1;
        }
        cJSON_Delete(out);
        out = NULL;
        json_set_num(a, "sinceMs", (double)since);
        if (!failed && store_call(ui->st, STORE_OP_x_sig_stats, a, &out, err) == 0) {
            json_set_copy(row, "receipts", json_get(out, "receipts"));
            json_set_copy(row, "errors", json_get(out, "errors"));
            json_set_copy(row, "lastCompileAtMs", json_get(out, "lastCompileAtMs"));
        } else {
            failed = 1;
        }
        cJSON_Delete(out);
        cJSON_Delete(a);
        cJSON_AddItemToArray(rows, row);
        if (failed)
            break;
    }
    cJSON_Delete(list);
    if (failed) {
        cJSON_Delete(rows);
        return -1;
    }
    dse_err_clear(err);
    *items = rows;
    return 0;
}

static void init(struct pane *p)
{
    struct sigs *s = p->priv;
    struct listview_cfg cfg = {.cols = cols,
                               .ncols = (int)(sizeof cols / sizeof cols[0]),
                               .cell = cell,
                               .key = sig_key,
                               .fetch = fetch,
                               .ctx = p,
                               .empty = "(no signatures: run `dse init`)"};
    listview_init(&s->lv, &cfg);
}

static void pfree(struct pane *p)
{
    struct sigs *s = p->priv;
    listview_free(&s->lv);
}

static void select_current(struct pane *p)
{
    struct sigs *s = p->priv;
    const cJSON *row = listview_selected(&s->lv);
    if (row)
        ui_select_signature(p->ui, json_str(row, "signatureId", NULL));
}

void pane_signatures_follow(struct pane *p)
{
    struct sigs *s = p->priv;
    if (p->ui->sig)
        listview_select_key(&s->lv, p->ui->sig);
    p->dirty = true;
}

static int on_data(struct pane *p)
{
    struct sigs *s = p->priv;
    if (s->lv.loaded)
        listview_reload(p->ui, &s->lv);
    else
        listview_reset(p->ui, &s->lv);
    stale_result(&s->stale, !s->lv.err[0]);
    s->loaded_ms = util_mono_ms();
    /* Keep the list on the selected signature; pick the first otherwise. */
    if (!p->ui->sig || !listview_select_key(&s->lv, p->ui->sig)) {
        if (!p->ui->sig)
            select_current(p);
    }
    return UI_REDRAW | UI_SIGNATURE;
}

static int tick(struct pane *p)
{
    struct sigs *s = p->priv;
    if (util_mono_ms() - s->loaded_ms >= STATS_REFRESH_MS)
        p->stale = true;
    return 0;
}

static void draw(struct pane *p)
{
    struct sigs *s = p->priv;
    /* Stale: the last line says since when (the rows are the last read). */
    int h = s->stale.since_ms && p->ih > 2 ? p->ih - 1 : p->ih;
    listview_draw(p->ui, &s->lv, p->win, 1, 1, h, p->iw, p->focused);
    if (h < p->ih)
        draw_stale(p->ui, p->win, p->ih, 1, p->iw, &s->stale);
    listview_position(&s->lv, p->note, sizeof p->note);
    if (s->lv.filter) {
        char *f = text_clean(s->lv.filter);
        snprintf(p->subtitle, sizeof p->subtitle, "/%s", f);
        free(f);
    }
    stale_subtitle(&s->stale, p);
}

static int key(struct pane *p, int action, int k)
{
    (void)k;
    struct sigs *s = p->priv;
    listview_seen(&s->lv);
    int r = listview_key(p->ui, &s->lv, action);
    if (r != UI_PASS) {
        select_current(p);
        return r | UI_SIGNATURE;
    }
    if (action == ACT_ENTER) {
        select_current(p);
        p->ui->focus_left = false;
        return UI_HANDLED | UI_RELAYOUT;
    }
    return UI_PASS;
}

static int set_filter(struct pane *p, const char *text)
{
    struct sigs *s = p->priv;
    bool had = s->lv.filter != NULL;
    int r = listview_set_filter(p->ui, &s->lv, text);
    if (!text && !had)
        return UI_PASS;
    select_current(p);
    return r | UI_SIGNATURE;
}

static void save(struct pane *p, cJSON *st)
{
    struct sigs *s = p->priv;
    if (s->lv.filter)
        json_set_str(st, "filter", s->lv.filter);
}

static void restore(struct pane *p, const cJSON *st)
{
    struct sigs *s = p->priv;
    const char *f = json_str(st, "filter", NULL);
    if (f)
        s->lv.filter = xstrdup(f);
}

static const int hints[] = {ACT_ENTER, ACT_ROLLBACK, ACT_PROMOTE, ACT_COMPILE, ACT_CANARY, ACT_NONE};

const struct pane_ops pane_signatures_ops = {
    .name = "signatures",
    .title = "Signatures",
    .scope = SCOPE_SIGNATURES,
    .priv_size = sizeof(struct sigs),
    .init = init,
    .free = pfree,
    .draw = draw,
    .key = key,
    .on_data = on_data,
    .tick = tick,
    .save = save,
    .restore = restore,
    .filter = set_filter,
    .hints = hints,
};
