/* pane_overview: the selected signature at a glance — active pointer and
 * its last move, canary verdict with the measured numbers, last compile,
 * traffic over the last five minutes, examples and labeling progress, the
 * last ops run, and any background job. */
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "draw.h"
#include "fmt.h"
#include "gate.h"
#include "json.h"
#include "panes.h"
#include "util.h"

/* The separator between facts on one line (ASCII in ASCII mode). */
#define DOT text_dot()
#include "worker.h"

#define RATE_WINDOW_MS (5 * 60 * 1000)
#define LABEL_W 12
/* A value the store did not give us this time (never shown as "none"). */
#define UNAVAILABLE "(unavailable: the store did not answer)"

struct overview {
    cJSON *d; /* everything gathered by on_data (with "sig": whose) */
    struct stale stale;
};

static void pfree(struct pane *p)
{
    struct overview *o = p->priv;
    cJSON_Delete(o->d);
    o->d = NULL;
}

/* Put the value of op(args) under key (or its error text: the key stays
 * absent and the section says "unavailable", never "none"). */
static cJSON *get(struct ui *ui, cJSON *d, const char *key, enum store_op op, cJSON *args)
{
    cJSON *out = NULL;
    struct dse_err err = {0};
    if (ui_call_quiet(ui, op, args, &out, &err) < 0) {
        char buf[600];
        json_set_str(d, "error", dse_err_str(&err, buf, sizeof buf));
        return NULL;
    }
    json_set(d, key, out);
    return out;
}

static int on_data(struct pane *p)
{
    struct overview *o = p->priv;
    struct ui *ui = p->ui;
    if (!ui->sig) {
        cJSON_Delete(o->d);
        o->d = NULL;
        return UI_REDRAW;
    }
    cJSON *d = json_obj();
    json_set_str(d, "sig", ui->sig);
    get(ui, d, "active", STORE_OP_active_get, ui_sig_args(ui));
    cJSON *a = ui_sig_args(ui);
    json_set_num(a, "limit", 1);
    get(ui, d, "history", STORE_OP_active_history, a);
    cJSON *can = get(ui, d, "canary", STORE_OP_canary_get, ui_sig_args(ui));
    const cJSON *row = json_get(can, "canary");
    if (cJSON_IsObject(row)) {
        double rate;
        long n;
        pane_canary_control_rate(ui, row, &rate, &n);
        json_set_num(d, "controlRate", rate);
        json_set_num(d, "controlN", (double)n);
    }
    a = ui_sig_args(ui);
    json_set_num(a, "limit", 50);
    get(ui, d, "canaryHistory", STORE_OP_canary_history, a);
    a = ui_sig_args(ui);
    json_set_num(a, "limit", 1);
    cJSON *cl = get(ui, d, "compiles", STORE_OP_compile_list, a);
    const cJSON *last = cJSON_GetArrayItem(json_get(cl, "reports"), 0);
    if (last) {
        a = ui_sig_args(ui);
        json_set_str(a, "jobHash", json_str(last, "jobHash", ""));
        json_set_str(a, "datasetHash", json_str(last, "datasetHash", ""));
        get(ui, d, "report", STORE_OP_compile_get, a);
    }
    a = ui_sig_args(ui);
    json_set_num(a, "sinceMs", (double)(util_now_ms() - RATE_WINDOW_MS));
    cJSON *stats = get(ui, d, "stats", STORE_OP_x_sig_stats, a);
    get(ui, d, "counts", STORE_OP_x_examples_counts, ui_sig_args(ui));
    const char *run = json_str(stats, "lastRunId", NULL);
    if (run) {
        a = json_obj();
        json_set_str(a, "runId", run);
        get(ui, d, "run", STORE_OP_runs_get, json_dup(a));
        json_set_num(a, "limit", 1);
        get(ui, d, "events", STORE_OP_runs_events, a);
    }
    bool ok = !json_get(d, "error");
    /* The store did not answer: keep the last full read of this signature
     * (marked stale) rather than show the gaps as real values. */
    if (!ok && o->d && util_streq(json_str(o->d, "sig", NULL), ui->sig) &&
        !json_get(o->d, "error")) {
        cJSON_Delete(d);
    } else {
        if (o->d && !util_streq(json_str(o->d, "sig", NULL), ui->sig))
            o->stale = (struct stale){0};
        cJSON_Delete(o->d);
        o->d = d;
    }
    stale_result(&o->stale, ok);
    return UI_REDRAW;
}

static int tick(struct pane *p)
{
    (void)p;
    return UI_REDRAW; /* ages */
}

static int section(struct pane *p, int y, const char *title)
{
    if (y > p->ih)
        return y;
    draw_clean(p->ui, p->win, y, 1, p->iw, ROLE_TITLE, title, TEXT_LEFT);
    return y + 1;
}

static int kv(struct pane *p, int y, const char *label, int role, const char *value)
{
    if (y > p->ih)
        return y;
    return draw_kv(p->ui, p->win, y, 2, p->iw - 1, LABEL_W, label, role, value);
}

static void draw(struct pane *p)
{
    struct overview *o = p->priv;
    struct ui *ui = p->ui;
    char b1[64], b2[64], b3[64], line[1024];
    int y = 1;
    snprintf(p->subtitle, sizeof p->subtitle, "%s", ui_sig_label(ui));
    stale_subtitle(&o->stale, p);
    if (!ui->sig) {
        draw_clean(ui, p->win, 1, 2, p->iw - 1, ROLE_DIM, "no signature selected", TEXT_LEFT);
        return;
    }
    if (!o->d) {
        draw_clean(ui, p->win, 1, 2, p->iw - 1, ROLE_DIM, "loading...", TEXT_LEFT);
        return;
    }
    const cJSON *sig = ui_signature(ui);
    y = draw_stale(ui, p->win, y, 2, p->iw - 1, &o->stale);
    y = kv(p, y, "signature", ROLE_VALUE, ui->sig);
    if (sig && json_str(sig, "title", NULL))
        y = kv(p, y, "", ROLE_DIM, json_str(sig, "title", ""));
    const char *e = json_str(o->d, "error", NULL);
    if (e)
        y = kv(p, y, "error", ROLE_ERROR, e);

    y = section(p, y + 1, "Active pointer");
    const cJSON *act = json_get(o->d, "active");
    const char *cid = json_str(act, "compiled_id", NULL);
    snprintf(line, sizeof line, "%s%sset %s (%s ago)", fmt_id(cid, b3, sizeof b3), DOT,
             fmt_time(json_int(act, "updatedAtMs", 0), b1, sizeof b1),
             fmt_age(json_int(act, "updatedAtMs", 0), b2, sizeof b2));
    y = kv(p, y, "pointer", cid ? ROLE_VALUE : ROLE_DIM,
           cid ? line : act ? "(none: signature defaults)" : UNAVAILABLE);
    const cJSON *h = cJSON_GetArrayItem(json_get(json_get(o->d, "history"), "history"), 0);
    if (h) {
        const char *to = json_str(h, "toCompiledId", NULL);
        snprintf(line, sizeof line, "%s %s -> %s by %s", json_str(h, "action", "?"),
                 fmt_hex8(json_str(h, "fromCompiledId", NULL), b1, sizeof b1),
                 to ? fmt_hex8(to, b2, sizeof b2) : "(cleared)", json_str(h, "actorUserId", "?"));
        y = kv(p, y, "last move", ROLE_VALUE, line);
        y = kv(p, y, "reason", ROLE_DIM, json_str(h, "reason", ""));
    }

    y = section(p, y + 1, "Canary");
    const cJSON *can = json_get(json_get(o->d, "canary"), "canary");
    struct canary_verdict v;
    gate_canary_verdict(cJSON_IsObject(can) ? can : NULL, &v);
    char vtext[200];
    enum fmt_canary judged = fmt_canary_judge(
        cJSON_IsObject(can) ? can : NULL, json_num(o->d, "controlRate", 0),
        (long)json_num(o->d, "controlN", 0), vtext, sizeof vtext, NULL, NULL);
    int vrole = judged == FMT_CANARY_FAILING      ? ROLE_VERDICT_FAILING
                : judged == FMT_CANARY_HEALTHY    ? ROLE_VERDICT_HEALTHY
                : judged == FMT_CANARY_COLLECTING ? ROLE_VERDICT_COLLECTING
                                                  : ROLE_DIM;
    if (!json_get(o->d, "canary"))
        y = kv(p, y, "verdict", ROLE_DIM, UNAVAILABLE);
    else
        y = kv(p, y, "verdict", vrole, vtext);
    if (cJSON_IsObject(can)) {
        snprintf(line, sizeof line, "%s at %lld%% (control %s)%sok %ld err %ld",
                 fmt_hex8(json_str(can, "canary_compiled_id", NULL), b1, sizeof b1),
                 (long long)json_int(can, "rolloutPct", 0),
                 fmt_hex8(json_str(can, "control_compiled_id", NULL), b2, sizeof b2), DOT, v.ok,
                 v.errors);
        y = kv(p, y, "canary", ROLE_VALUE, line);
    }
    const cJSON *as = fmt_last_auto_stop(json_get(json_get(o->d, "canaryHistory"), "history"));
    if (as) {
        char what[200];
        snprintf(line, sizeof line, "last %s", fmt_auto_stop(as, what, sizeof what));
        y = kv(p, y, "auto-stop", ROLE_ERROR, line);
    }

    y = section(p, y + 1, "Last compile");
    const cJSON *last = cJSON_GetArrayItem(json_get(json_get(o->d, "compiles"), "reports"), 0);
    if (last) {
        const cJSON *rep = json_path(json_get(json_get(o->d, "report"), "report"), "json.report");
        snprintf(line, sizeof line, "%s %s ago%strain %.4f%sholdout %.4f%s%d candidates",
                 fmt_hex8(json_str(last, "compiled_id", NULL), b1, sizeof b1),
                 fmt_age(json_int(last, "createdAtMs", 0), b3, sizeof b3), DOT,
                 json_num(rep, "trainReward", 0), DOT, json_num(rep, "holdoutReward", 0), DOT,
                 cJSON_GetArraySize(json_get(rep, "evaluatedCandidates")));
        y = kv(p, y, "compiled", ROLE_VALUE, line);
    } else {
        y = kv(p, y, "compiled", ROLE_DIM,
               json_get(o->d, "compiles") ? "never (press c to compile)" : UNAVAILABLE);
    }
    char job[400];
    if (worker_status(ui, ui->sig, job, sizeof job))
        y = kv(p, y, "running", ROLE_WARN, job);

    y = section(p, y + 1, "Traffic (last 5 minutes)");
    const cJSON *st = json_get(o->d, "stats");
    double rc = json_num(st, "receipts", 0), ec = json_num(st, "errors", 0);
    snprintf(line, sizeof line, "%.0f (%.1f/min)%s%.0f errors (%.1f%%)%slast %s ago", rc,
             rc * 60000.0 / RATE_WINDOW_MS, DOT, ec, rc > 0 ? 100.0 * ec / rc : 0.0, DOT,
             fmt_age(json_int(st, "lastReceiptAtMs", 0), b1, sizeof b1));
    y = kv(p, y, "receipts", !st ? ROLE_DIM : ec > 0 ? ROLE_WARN : ROLE_VALUE,
           st ? line : UNAVAILABLE);

    y = section(p, y + 1, "Examples");
    const cJSON *c = json_get(o->d, "counts");
    const cJSON *sp = json_get(c, "splits");
    bool have_counts = c != NULL;
    double acc = json_num(c, "accepted", 0), rej = json_num(c, "rejected", 0),
           tot = json_num(c, "total", 0);
    snprintf(line, sizeof line, "%.0f (train %.0f, holdout %.0f)%slabeled %.0f/%.0f (%.0f acc., %.0f rej.)",
             tot, json_num(sp, "train", 0), json_num(sp, "holdout", 0) + json_num(sp, "dev", 0),
             DOT, acc + rej, tot, acc, rej);
    y = kv(p, y, "examples", have_counts ? ROLE_VALUE : ROLE_DIM, have_counts ? line : UNAVAILABLE);

    y = section(p, y + 1, "Last ops run");
    const cJSON *run = json_get(json_get(o->d, "run"), "run");
    if (cJSON_IsObject(run)) {
        snprintf(line, sizeof line, "%s %s%s%s -> %s", json_str(run, "runId", "?"),
                 json_str(run, "status", "?"), DOT,
                 fmt_time(json_int(run, "startedAtMs", 0), b1, sizeof b1),
                 json_int(run, "endedAtMs", 0) > 0
                     ? fmt_clock(json_int(run, "endedAtMs", 0), b2, sizeof b2)
                     : "(running)");
        const char *status = json_str(run, "status", "");
        y = kv(p, y, "run", !strcmp(status, "failed") ? ROLE_ERROR : ROLE_VALUE, line);
        const cJSON *ev = cJSON_GetArrayItem(json_get(json_get(o->d, "events"), "events"), 0);
        if (ev) {
            snprintf(line, sizeof line, "%s [%s] %s: %s",
                     fmt_clock(json_int(ev, "tsMs", 0), b1, sizeof b1), json_str(ev, "level", "?"),
                     json_str(ev, "phase", "-"), json_str(ev, "message", ""));
            y = kv(p, y, "last event", ROLE_VALUE, line);
        }
    } else {
        bool known = st && !json_str(st, "lastRunId", NULL);
        y = kv(p, y, "run", ROLE_DIM, known ? "(none)" : UNAVAILABLE);
    }
}

static const int hints[] = {ACT_ROLLBACK, ACT_PROMOTE, ACT_COMPILE, ACT_CANARY, ACT_NONE};

const struct pane_ops pane_overview_ops = {
    .name = "overview",
    .title = "Overview",
    .scope = SCOPE_OVERVIEW,
    .priv_size = sizeof(struct overview),
    .free = pfree,
    .draw = draw,
    .on_data = on_data,
    .tick = tick,
    .hints = hints,
};
