/* pane_canary: one signature's canary — settings, ok/error counters, the
 * error rate as a bar against the threshold, min-samples progress with an
 * ETA at the measured rate, the verdict (collecting / healthy / failing)
 * with its numbers (gate.h, the same rule as auto-stop), and the canary
 * history (start / update / stop / auto_stop with reasons).
 *
 * The ETA uses the counted-receipt rate this pane observed (counter deltas
 * over the last minutes); before two observations it estimates from the
 * signature's receipts/min times the rollout share. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "draw.h"
#include "fmt.h"
#include "gate.h"
#include "json.h"
#include "listview.h"
#include "panes.h"
#include "rules.h"
#include "util.h"

/* The separator between facts on one line (ASCII in ASCII mode). */
#define DOT text_dot()

#define RATE_WINDOW_MS (5 * 60 * 1000)
#define NSAMPLES 32
#define TOP_LINES 8

struct sample {
    int64_t ms;
    long total;
};

struct canary {
    struct listview lv;
    char sig[256];
    cJSON *row;       /* the canary row or NULL */
    double stats_rpm; /* signature receipts per minute (estimate) */
    struct sample s[NSAMPLES];
    int ns;
    char salt_canary[HASH_ID_LEN + 1];
    double ctl_rate;  /* the control's error share since the canary started */
    long ctl_n;       /* its receipts counted (0 = not measured) */
    bool known;       /* the store answered for this signature's canary */
    struct stale stale;
};

/* Receipts of the control read to measure its error rate (newest first). */
#define CONTROL_SAMPLE 200

#define OKERR_W 9
static const struct lv_col cols[] = {
    {"TIME", 11, 0, TEXT_LEFT, 0},  {"ACTION", 9, 0, TEXT_LEFT, 0},   {"CANARY", 8, 0, TEXT_LEFT, 0},
    {"PCT", 4, 0, TEXT_RIGHT, 0},   {"OK/ERR", OKERR_W, 0, TEXT_RIGHT, 0},  {"REASON", 0, 14, TEXT_LEFT, 30},
    {"ACTOR", 0, 6, TEXT_LEFT, 0},
};

static void cell(void *ctx, const cJSON *row, int col, struct sbuf *out, int *role)
{
    /* column order on screen -> the cases below */
    static const int order[] = {0, 1, 2, 3, 4, 6, 5};
    col = order[col];
    (void)ctx;
    char buf[128];
    switch (col) {
    case 0: sbuf_adds(out, fmt_mdhm(json_int(row, "createdAtMs", 0), buf, sizeof buf)); break;
    case 1: {
        const char *a = json_str(row, "action", "?");
        sbuf_adds(out, a);
        if (!strcmp(a, "auto_stop"))
            *role = ROLE_ERROR;
        else if (!strcmp(a, "stop"))
            *role = ROLE_WARN;
        break;
    }
    case 2: sbuf_adds(out, fmt_hex8(json_str(row, "canary_compiled_id", NULL), buf, sizeof buf)); break;
    case 3:
        if (cJSON_IsNumber(json_get(row, "rolloutPct")))
            sbuf_printf(out, "%lld%%", (long long)json_int(row, "rolloutPct", 0));
        break;
    case 4:
        if (cJSON_IsNumber(json_get(row, "okCount")))
            sbuf_adds(out, fmt_ratio(json_num(row, "okCount", 0), json_num(row, "errorCount", 0),
                                     OKERR_W, buf, sizeof buf));
        break;
    case 5: sbuf_adds(out, json_str(row, "actorUserId", "-")); break;
    case 6: sbuf_adds(out, json_str(row, "reason", "")); break;
    default: break;
    }
}

static void init(struct pane *p)
{
    struct canary *c = p->priv;
    struct listview_cfg cfg = {.cols = cols,
                               .ncols = (int)(sizeof cols / sizeof cols[0]),
                               .cell = cell,
                               .sig_list = {.op = STORE_OP_canary_history, .key = "history"},
                               .ctx = p,
                               .empty = "(no canary history)"};
    listview_init(&c->lv, &cfg);
}

static void pfree(struct pane *p)
{
    struct canary *c = p->priv;
    listview_free(&c->lv);
    cJSON_Delete(c->row);
}

static void observe(struct canary *c, long total)
{
    int64_t now = util_mono_ms();
    if (c->ns && c->s[c->ns - 1].total == total && now - c->s[c->ns - 1].ms < 60000)
        return; /* nothing new: keep the older point so the window stays long */
    if (c->ns == NSAMPLES) {
        memmove(c->s, c->s + 1, (NSAMPLES - 1) * sizeof *c->s);
        c->ns--;
    }
    c->s[c->ns++] = (struct sample){now, total};
}

/* Counted receipts per minute over the observed window, or -1. */
static double observed_rate(const struct canary *c)
{
    if (c->ns < 2)
        return -1;
    const struct sample *a = &c->s[0], *b = &c->s[c->ns - 1];
    for (int i = 0; i < c->ns; i++)
        if (b->ms - c->s[i].ms <= RATE_WINDOW_MS) {
            a = &c->s[i];
            break;
        }
    if (b->ms - a->ms < 2000 || b->total < a->total)
        return -1;
    return (double)(b->total - a->total) * 60000.0 / (double)(b->ms - a->ms);
}

void pane_canary_control_rate(struct ui *ui, const cJSON *row, double *rate, long *n)
{
    *rate = 0;
    *n = 0;
    const char *ctl = json_str(row, "control_compiled_id", NULL);
    if (!ctl || !*ctl || util_streq(ctl, json_str(row, "canary_compiled_id", NULL)))
        return;
    int64_t since = json_int(row, "createdAtMs", 0);
    cJSON *a = json_obj(), *out = NULL;
    json_set_str(a, "signatureId", json_str(row, "signatureId", ui->sig ? ui->sig : ""));
    json_set_str(a, "compiled_id", ctl);
    json_set_num(a, "limit", CONTROL_SAMPLE);
    struct dse_err err = {0};
    if (ui_call_quiet(ui, STORE_OP_x_receipts_page, a, &out, &err) < 0)
        return;
    long errors = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, json_get(out, "items"))
    {
        if (json_int(r, "createdAtMs", 0) < since)
            break; /* newest first: the rest predate the canary */
        const char *tag = json_str(r, "resultTag", "");
        if (!strcmp(tag, "Error"))
            errors++;
        else if (strcmp(tag, "Ok"))
            continue;
        (*n)++;
    }
    if (*n)
        *rate = (double)errors / (double)*n;
    cJSON_Delete(out);
}

void pane_canary_autostop_notice(struct ui *ui, const char *sig, int64_t since_ms)
{
    /* One notice per auto-stop, whichever pane noticed it first. */
    static char last_sig[256];
    static int64_t last_ms;
    cJSON *a = json_obj(), *out = NULL;
    json_set_str(a, "signatureId", sig);
    json_set_num(a, "limit", 10);
    struct dse_err err = {0};
    if (ui_call_quiet(ui, STORE_OP_canary_history, a, &out, &err) < 0)
        return;
    const cJSON *row = fmt_last_auto_stop(json_get(out, "history"));
    int64_t at = json_int(row, "createdAtMs", 0);
    if (row && at >= since_ms && !(at == last_ms && !strcmp(last_sig, sig))) {
        snprintf(last_sig, sizeof last_sig, "%s", sig);
        last_ms = at;
        char label[128], what[300];
        ui_sig_label_of(sig, label, sizeof label);
        ui_msg(ui, ROLE_ERROR, "canary AUTO-STOPPED for %s: %s; %s", label,
               fmt_auto_stop(row, what, sizeof what),
               "the active pointer serves all traffic again");
    }
    cJSON_Delete(out);
}

static int on_data(struct pane *p)
{
    struct canary *c = p->priv;
    struct ui *ui = p->ui;
    if (!ui->sig)
        return UI_REDRAW;
    bool same = c->lv.loaded && !strcmp(c->sig, ui->sig);
    if (!same) {
        snprintf(c->sig, sizeof c->sig, "%s", ui->sig);
        c->ns = 0;
        cJSON_Delete(c->row);
        c->row = NULL;
        c->ctl_n = 0;
        c->known = false;
        c->stale = (struct stale){0};
    }
    bool ok = true;
    cJSON *out = NULL;
    if (ui_call(ui, STORE_OP_canary_get, ui_sig_args(ui), &out) == 0) {
        const cJSON *r = json_get(out, "canary");
        c->known = true;
        cJSON *old = c->row;
        c->row = cJSON_IsObject(r) ? json_dup(r) : NULL;
        /* The canary we showed is gone (or replaced): say if it auto-stopped. */
        if (old && (!c->row || json_int(old, "createdAtMs", 0) != json_int(c->row, "createdAtMs", 0) ||
                    !util_streq(json_str(old, "canary_compiled_id", ""),
                                json_str(c->row, "canary_compiled_id", ""))))
            pane_canary_autostop_notice(ui, c->sig, json_int(old, "createdAtMs", 0));
        cJSON_Delete(old);
    } else {
        ok = false; /* keep the last row we read, marked stale */
    }
    cJSON_Delete(out);
    if (ok && c->row) {
        /* A restarted canary (counters reset) starts a new rate window. */
        const char *cid = json_str(c->row, "canary_compiled_id", "");
        long total = (long)(json_num(c->row, "okCount", 0) + json_num(c->row, "errorCount", 0));
        if (strcmp(c->salt_canary, cid) || (c->ns && total < c->s[c->ns - 1].total))
            c->ns = 0;
        snprintf(c->salt_canary, sizeof c->salt_canary, "%s", cid);
        observe(c, total);
        pane_canary_control_rate(ui, c->row, &c->ctl_rate, &c->ctl_n);
    } else if (ok) {
        c->ns = 0;
        c->ctl_n = 0;
    }
    cJSON *a = ui_sig_args(ui);
    json_set_num(a, "sinceMs", (double)(util_now_ms() - RATE_WINDOW_MS));
    out = NULL;
    if (ui_call(ui, STORE_OP_x_sig_stats, a, &out) == 0)
        c->stats_rpm = json_num(out, "receipts", 0) * 60000.0 / RATE_WINDOW_MS;
    else
        ok = false;
    cJSON_Delete(out);
    if (same)
        listview_reload(ui, &c->lv);
    else
        listview_reset(ui, &c->lv);
    if (c->lv.err[0])
        ok = false;
    stale_result(&c->stale, ok);
    return UI_REDRAW;
}

static int tick(struct pane *p)
{
    (void)p;
    return UI_REDRAW;
}

static const cJSON *last_auto_stop(const struct canary *c)
{
    for (int i = 0; i < c->lv.n; i++)
        if (!strcmp(json_str(c->lv.rows[i], "action", ""), "auto_stop"))
            return c->lv.rows[i];
    return NULL;
}

static void draw(struct pane *p)
{
    struct canary *c = p->priv;
    struct ui *ui = p->ui;
    char b1[64], b2[64], b3[64], line[600], vtext[200];
    snprintf(p->subtitle, sizeof p->subtitle, "%s", ui_sig_label(ui));
    stale_subtitle(&c->stale, p);
    int w = p->iw - 1, lw = 12, y = 1;
    y = draw_stale(ui, p->win, y, 2, w, &c->stale);
    struct canary_verdict v;
    gate_canary_verdict(c->row, &v);
    enum fmt_canary judged =
        fmt_canary_judge(c->row, c->ctl_rate, c->ctl_n, vtext, sizeof vtext, NULL, NULL);
    bool failing = judged == FMT_CANARY_FAILING;
    int vrole = failing                            ? ROLE_VERDICT_FAILING
                : judged == FMT_CANARY_HEALTHY     ? ROLE_VERDICT_HEALTHY
                : judged == FMT_CANARY_COLLECTING  ? ROLE_VERDICT_COLLECTING
                                                   : ROLE_DIM;
    bool unknown = !c->known && c->stale.since_ms;
    if (unknown)
        y = draw_kv(ui, p->win, y, 2, w, lw, "verdict", ROLE_DIM,
                    "(unavailable: the store did not answer)");
    else
        y = draw_kv(ui, p->win, y, 2, w, lw, "verdict", vrole, vtext);
    if (unknown) {
        /* nothing read yet: no claim either way */
    } else if (c->row) {
        const cJSON *r = c->row;
        /* Most telling first: a short pane keeps the bars. */
        /* error rate bar: the scale is twice the threshold so both show */
        int bar = w - lw - 38;
        draw_clean(ui, p->win, y, 2, lw, ROLE_LABEL, "error rate", TEXT_LEFT);
        if (bar >= 8) {
            double scale = v.max_error_rate > 0 ? v.max_error_rate * 2 : 1;
            if (scale > 1)
                scale = 1;
            draw_bar(ui, p->win, y, 2 + lw, bar, v.error_rate / scale,
                     v.max_error_rate / scale, failing ? ROLE_BAR_ERROR : ROLE_BAR_OK);
        }
        char ctl[64] = "";
        if (c->ctl_n > 0)
            snprintf(ctl, sizeof ctl, "%scontrol %.3f (n=%ld)", DOT, c->ctl_rate, c->ctl_n);
        snprintf(line, sizeof line, " %.3f %s max %.3f%s", v.error_rate,
                 v.error_rate > v.max_error_rate ? ">" : "<=", v.max_error_rate, ctl);
        draw_clean(ui, p->win, y, 2 + lw + (bar >= 8 ? bar : 0), w - lw - (bar >= 8 ? bar : 0),
                   failing ? ROLE_ERROR : ROLE_VALUE, line, TEXT_LEFT);
        y++;
        /* samples progress + ETA */
        draw_clean(ui, p->win, y, 2, lw, ROLE_LABEL, "samples", TEXT_LEFT);
        double frac = v.min_samples ? (double)v.total / (double)v.min_samples : 1;
        if (bar >= 8)
            draw_bar(ui, p->win, y, 2 + lw, bar, frac, -1, ROLE_BAR_OK);
        double rate = observed_rate(c);
        bool estimated = rate < 0;
        if (estimated)
            rate = c->stats_rpm * json_num(c->row, "rolloutPct", 0) / 100.0;
        char eta[32];
        rules_eta(v.min_samples - v.total, rate, eta, sizeof eta);
        snprintf(line, sizeof line, " %ld/%ld%sETA %s at %.1f/min%s", v.total, v.min_samples, DOT,
                 eta, rate, estimated ? " (est.)" : "");
        draw_clean(ui, p->win, y, 2 + lw + (bar >= 8 ? bar : 0), w - lw - (bar >= 8 ? bar : 0),
                   ROLE_VALUE, line, TEXT_LEFT);
        y++;
        snprintf(line, sizeof line, "ok %ld%serror %ld%stotal %ld%supdated %s ago", v.ok, DOT,
                 v.errors, DOT, v.total, DOT, fmt_age(json_int(r, "updatedAtMs", 0), b2, sizeof b2));
        y = draw_kv(ui, p->win, y, 2, w, lw, "counters", ROLE_VALUE, line);
        snprintf(line, sizeof line, "%s at %lld%% of threads%scontrol %s%ssalt %s",
                 fmt_id(json_str(r, "canary_compiled_id", NULL), b1, sizeof b1),
                 (long long)json_int(r, "rolloutPct", 0), DOT,
                 fmt_id(json_str(r, "control_compiled_id", NULL), b2, sizeof b2), DOT,
                 json_str(r, "salt", "-"));
        y = draw_kv(ui, p->win, y, 2, w, lw, "canary", ROLE_VALUE, line);
        snprintf(line, sizeof line, "min samples %ld%smax error rate %.3f%sstarted %s (%s ago)",
                 v.min_samples, DOT, v.max_error_rate, DOT,
                 fmt_time(json_int(r, "createdAtMs", 0), b1, sizeof b1),
                 fmt_age(json_int(r, "createdAtMs", 0), b3, sizeof b3));
        y = draw_kv(ui, p->win, y, 2, w, lw, "settings", ROLE_VALUE, line);
    } else {
        y = draw_kv(ui, p->win, y, 2, w, lw, "canary", ROLE_DIM,
                    "no active canary (C starts one with the latest compile)");
    }
    const cJSON *as = last_auto_stop(c);
    if (as) {
        char what[200];
        snprintf(line, sizeof line, "last %s", fmt_auto_stop(as, what, sizeof what));
        y = draw_kv(ui, p->win, y, 2, w, lw, "auto-stop", ROLE_ERROR, line);
    }
    int top = y + 1 > TOP_LINES ? y + 1 : TOP_LINES;
    if (top > p->ih / 2)
        top = p->ih / 2;
    draw_clean(ui, p->win, top, 1, p->iw, ROLE_TITLE, "History", TEXT_LEFT);
    listview_draw(ui, &c->lv, p->win, top + 1, 1, p->ih - top, p->iw, p->focused);
    listview_position(&c->lv, p->note, sizeof p->note);
}

static int key(struct pane *p, int action, int k)
{
    (void)k;
    struct canary *c = p->priv;
    listview_seen(&c->lv);
    int r = listview_key(p->ui, &c->lv, action);
    if (r != UI_PASS)
        return r;
    if (action == ACT_ENTER) {
        const cJSON *row = listview_selected(&c->lv);
        if (row) {
            ui_view_json(p->ui, json_dup(row), "canary history row");
        }
        return UI_HANDLED;
    }
    return UI_PASS;
}

static int set_filter(struct pane *p, const char *text)
{
    struct canary *c = p->priv;
    return listview_filter(p->ui, &c->lv, text);
}

static void save(struct pane *p, cJSON *st)
{
    struct canary *c = p->priv;
    listview_sig_save(&c->lv, c->sig, st);
}

static void restore(struct pane *p, const cJSON *st)
{
    struct canary *c = p->priv;
    listview_sig_restore(p->ui, &c->lv, c->sig, sizeof c->sig, st);
}

static const int hints[] = {ACT_CANARY, ACT_ENTER, ACT_NONE};

const struct pane_ops pane_canary_ops = {
    .name = "canary",
    .title = "Canary",
    .scope = SCOPE_CANARY,
    .priv_size = sizeof(struct canary),
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
