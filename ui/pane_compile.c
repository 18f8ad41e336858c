/* pane_compile: compile reports (newest first) and, for the selected one,
 * its candidates with their train reward, the best, train and holdout
 * reward; Enter opens the report JSON.  A compile started from the console
 * shows its live progress at the top. */
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "draw.h"
#include "fmt.h"
#include "json.h"
#include "listview.h"
#include "panes.h"
#include "util.h"

/* The separator between facts on one line (ASCII in ASCII mode). */
#define DOT text_dot()
#include "worker.h"

struct compile {
    struct listview lv;
    char sig[256];
    cJSON *detail;      /* compile_get value of the selected report */
    char detail_key[200];
    struct stale stale;
};

static const struct lv_col cols[] = {
    {"TIME", 11, 0, TEXT_LEFT, 0}, {"COMPILED", 8, 0, TEXT_LEFT, 0}, {"JOB", 8, 0, TEXT_LEFT, 0},
    {"DATASET", 8, 0, TEXT_LEFT, 0}, {"DATASET ID", 0, 10, TEXT_LEFT, 24},
};

static void report_key(const cJSON *row, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s|%s", json_str(row, "jobHash", ""), json_str(row, "datasetHash", ""));
}

static void cell(void *ctx, const cJSON *row, int col, struct sbuf *out, int *role)
{
    (void)ctx;
    (void)role;
    char buf[128];
    switch (col) {
    case 0: sbuf_adds(out, fmt_mdhm(json_int(row, "createdAtMs", 0), buf, sizeof buf)); break;
    case 1: sbuf_adds(out, fmt_hex8(json_str(row, "compiled_id", NULL), buf, sizeof buf)); break;
    case 2: sbuf_adds(out, fmt_hex8(json_str(row, "jobHash", NULL), buf, sizeof buf)); break;
    case 3: sbuf_adds(out, fmt_hex8(json_str(row, "datasetHash", NULL), buf, sizeof buf)); break;
    case 4: sbuf_adds(out, json_str(row, "datasetId", "")); break;
    default: break;
    }
}

static void init(struct pane *p)
{
    struct compile *c = p->priv;
    struct listview_cfg cfg = {.cols = cols,
                               .ncols = (int)(sizeof cols / sizeof cols[0]),
                               .cell = cell,
                               .key = report_key,
                               .sig_list = {.op = STORE_OP_compile_list, .key = "reports"},
                               .ctx = p,
                               .empty = "(no compile reports: press c to compile)"};
    listview_init(&c->lv, &cfg);
}

static void pfree(struct pane *p)
{
    struct compile *c = p->priv;
    listview_free(&c->lv);
    cJSON_Delete(c->detail);
}

/* Load the selected report's JSON when the selection moved. */
/* The selected report (again when force); false when the store did not
 * answer. */
static bool load_detail(struct pane *p, bool force)
{
    struct compile *c = p->priv;
    const cJSON *row = listview_selected(&c->lv);
    char key[200] = "";
    if (row)
        report_key(row, key, sizeof key);
    if (!strcmp(key, c->detail_key) && c->detail && !force)
        return true;
    bool same = !strcmp(key, c->detail_key);
    if (!same) {
        cJSON_Delete(c->detail);
        c->detail = NULL;
        snprintf(c->detail_key, sizeof c->detail_key, "%s", key);
    }
    if (!row)
        return true;
    cJSON *a = ui_sig_args(p->ui), *out = NULL;
    json_set_str(a, "jobHash", json_str(row, "jobHash", ""));
    json_set_str(a, "datasetHash", json_str(row, "datasetHash", ""));
    if (ui_call(p->ui, STORE_OP_compile_get, a, &out) < 0)
        return false; /* keep the report shown (the pane is marked stale) */
    cJSON_Delete(c->detail);
    c->detail = out;
    return true;
}

const cJSON *pane_compile_selected(struct pane *p)
{
    struct compile *c = p->priv;
    if (!p->ui->sig || strcmp(c->sig, p->ui->sig))
        return NULL;
    return listview_selected(&c->lv);
}

static int on_data(struct pane *p)
{
    struct compile *c = p->priv;
    struct ui *ui = p->ui;
    if (!ui->sig)
        return UI_REDRAW;
    if (listview_sig_load(ui, &c->lv, c->sig, sizeof c->sig))
        c->stale = (struct stale){0};
    bool ok = load_detail(p, true) && !c->lv.err[0];
    stale_result(&c->stale, ok);
    return UI_REDRAW;
}

static int tick(struct pane *p)
{
    /* Job progress moves between store changes. */
    return p->ui->jobs ? UI_REDRAW : 0;
}

static int cmp_reward(const void *a, const void *b)
{
    double ra = json_num(*(const cJSON *const *)a, "reward", 0);
    double rb = json_num(*(const cJSON *const *)b, "reward", 0);
    return ra < rb ? 1 : ra > rb ? -1 : 0;
}

static void draw(struct pane *p)
{
    struct compile *c = p->priv;
    struct ui *ui = p->ui;
    snprintf(p->subtitle, sizeof p->subtitle, "%s", ui_sig_label(ui));
    stale_subtitle(&c->stale, p);
    int y = 1;
    char job[400], line[600], b1[64];
    if (worker_status(ui, ui->sig, job, sizeof job)) {
        draw_text(ui, p->win, y++, 2, p->iw - 1, ROLE_WARN, job, TEXT_LEFT);
    }
    int avail = p->ih - y + 1;
    int list_h = avail >= 16 ? avail * 2 / 5 : avail;
    if (list_h < 3)
        list_h = avail;
    listview_draw(ui, &c->lv, p->win, y, 1, list_h, p->iw, p->focused);
    listview_position(&c->lv, p->note, sizeof p->note);
    y += list_h;
    if (y >= p->ih || !c->detail)
        return;
    const cJSON *rep = json_path(json_get(c->detail, "report"), "json.report");
    const cJSON *best = json_get(rep, "best");
    const char *best_id = json_str(best, "compiled_id", "");
    snprintf(line, sizeof line, "best %s%strain %.4f%sholdout %.4f%soptimizer %s",
             fmt_id(best_id, b1, sizeof b1), DOT, json_num(rep, "trainReward", 0), DOT,
             json_num(rep, "holdoutReward", 0), DOT,
             json_str(json_path(json_get(c->detail, "report"), "json.job.optimizer"), "id", "?"));
    draw_text(ui, p->win, y++, 2, p->iw - 1, ROLE_TITLE, line, TEXT_LEFT);
    if (y > p->ih)
        return;
    const cJSON *cands = json_get(rep, "evaluatedCandidates");
    int n = cJSON_GetArraySize(cands);
    snprintf(line, sizeof line, "%-4s %-17s %12s  %s", "#", "CANDIDATE", "TRAIN REWARD", "");
    draw_clean(ui, p->win, y++, 2, p->iw - 1, ROLE_COLUMN, line, TEXT_LEFT);
    const cJSON **sorted = xcalloc((size_t)n + 1, sizeof *sorted);
    int k = 0;
    const cJSON *cand;
    cJSON_ArrayForEach(cand, cands) sorted[k++] = cand;
    qsort(sorted, (size_t)k, sizeof *sorted, cmp_reward);
    for (int i = 0; i < k && y <= p->ih; i++) {
        const char *id = json_str(sorted[i], "compiled_id", "");
        bool is_best = !strcmp(id, best_id);
        const char *instr = json_str(json_path(sorted[i], "params.instruction"), "text", "");
        snprintf(line, sizeof line, "%-4d %-17s %12.4f  %s%s", i + 1, fmt_id(id, b1, sizeof b1),
                 json_num(sorted[i], "reward", 0), is_best ? "best  " : "", instr);
        draw_text(ui, p->win, y++, 2, p->iw - 1, is_best ? ROLE_OK : ROLE_VALUE, line, TEXT_LEFT);
    }
    free(sorted);
}

static int key(struct pane *p, int action, int k)
{
    (void)k;
    struct compile *c = p->priv;
    listview_seen(&c->lv);
    int r = listview_key(p->ui, &c->lv, action);
    if (r != UI_PASS) {
        load_detail(p, false);
        return r;
    }
    if (action == ACT_ENTER) {
        load_detail(p, false);
        const cJSON *json = json_path(json_get(c->detail, "report"), "json");
        if (!json) {
            ui_msg(p->ui, ROLE_WARN, "no report selected");
            return UI_HANDLED;
        }
        char title[200];
        const cJSON *row = listview_selected(&c->lv);
        snprintf(title, sizeof title, "compile report %s", json_str(row, "compiled_id", ""));
        ui_view_json(p->ui, json_dup(json), title);
        return UI_HANDLED;
    }
    return UI_PASS;
}

static int set_filter(struct pane *p, const char *text)
{
    struct compile *c = p->priv;
    int r = listview_filter(p->ui, &c->lv, text);
    if (r != UI_PASS)
        load_detail(p, false);
    return r;
}

static void save(struct pane *p, cJSON *st)
{
    struct compile *c = p->priv;
    listview_sig_save(&c->lv, c->sig, st);
}

static void restore(struct pane *p, const cJSON *st)
{
    struct compile *c = p->priv;
    listview_sig_restore(p->ui, &c->lv, c->sig, sizeof c->sig, st);
}

static const int hints[] = {ACT_ENTER, ACT_COMPILE, ACT_PROMOTE, ACT_CANARY, ACT_NONE};

const struct pane_ops pane_compile_ops = {
    .name = "compile",
    .title = "Compile",
    .scope = SCOPE_COMPILE,
    .priv_size = sizeof(struct compile),
    .init = init,
    .free = pfree,
    .draw = draw,
    .key = key,
    .on_data = on_data,
    .tick = tick,
    .filter = set_filter,
    .save = save,
    .restore = restore,
    .hints = hints,
};
