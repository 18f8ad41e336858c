#include "actions.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "compile.h"
#include "fmt.h"
#include "gate.h"
#include "hash.h"
#include "json.h"
#include "panes.h"
#include "rules.h"
#include "util.h"
#include "worker.h"

struct lmopts actions_lmopts;

#define DEFAULT_ROLLOUT 20

static const char *short_id(const char *id, char *buf, size_t cap)
{
    if (!id || !*id)
        snprintf(buf, cap, "(none)");
    else
        hash_short(id, buf, cap, 8);
    return buf;
}

static bool need_sig(struct ui *ui)
{
    if (ui->sig)
        return true;
    ui_msg(ui, ROLE_WARN, "select a signature first (1 focuses the list)");
    return false;
}

/* The worker's LM: the configured provider behind the store-backed cache,
 * so a compile restarted after a crash answers finished calls for free. */
static struct lm_client *job_lm(struct store *st, struct dse_err *err)
{
    return lmopts_open(&actions_lmopts, st, err);
}

struct act_arg {
    char sig[256];
    char compiled[128];
    char from[128];
    double pct;
    /* results (written by the worker, read in done) */
    struct gate_result gate;
    bool seeded;
    struct compile_result cres;
    bool has_cres;
    char outcome[300];
};

static void free_arg(void *p)
{
    struct act_arg *a = p;
    if (a && a->has_cres)
        compile_result_free(&a->cres);
    free(a);
}

static struct act_arg *new_arg(struct ui *ui)
{
    struct act_arg *a = xcalloc(1, sizeof *a);
    snprintf(a->sig, sizeof a->sig, "%s", ui->sig);
    return a;
}

/* Run a confirmed action as a background job titled "<what> <signature>"
 * on a copy of its argument (the confirmation frees the original).  True
 * when the job started. */
static bool start_job(struct ui *ui, const struct act_arg *a, const char *what, job_run_fn *run,
                      job_done_fn *done)
{
    char title[300];
    snprintf(title, sizeof title, "%s %s", what, ui_sig_label(ui));
    struct act_arg *copy = xcalloc(1, sizeof *copy);
    *copy = *a;
    struct job *j = job_new(title, a->sig, run, done, copy, free_arg);
    return worker_start(ui, j) == 0;
}

/* ---- who serves traffic ----
 * Routing (reference §3, src/predict.c): while a canary row is enabled with
 * rolloutPct > 0 and both ids, its canary id serves that share of threads
 * and its control id (pinned when the canary started) the rest; the active
 * pointer is not consulted.  Otherwise the active pointer serves, and with
 * no pointer the signature's default params. */

/* The selected signature's canary row when it routes traffic (caller
 * frees), NULL when none; *failed when it could not be read (message). */
static cJSON *routing_canary(struct ui *ui, bool *failed)
{
    struct dse_err err = {0};
    int f = 0;
    cJSON *row = store_canary(ui->st, ui->sig, &f, &err);
    *failed = f != 0;
    if (f) {
        ui_err(ui, &err);
        return NULL;
    }
    if (row && (!json_bool(row, "enabled", false) || json_num(row, "rolloutPct", 0) <= 0 ||
                !*json_str(row, "canary_compiled_id", "") ||
                !*json_str(row, "control_compiled_id", ""))) {
        cJSON_Delete(row);
        row = NULL;
    }
    return row;
}

/* "sha256:1a2b3c4d (previous active)" (hex8: "1a2b3c4d (...)", for lines
 * that must fit the message line with more ids) or "the signature defaults
 * (no pointer)" for the pointer value id. */
static const char *pointer_desc(const char *id, const char *what, bool hex8, char *buf,
                                size_t cap)
{
    char s[40];
    if (!id || !*id)
        snprintf(buf, cap, "the signature defaults (no pointer)");
    else
        snprintf(buf, cap, "%s (%s)", hex8 ? fmt_hex8(id, s, sizeof s) : short_id(id, s, sizeof s),
                 what);
    return buf;
}

/* ---- rollback ---- */

static void rollback_yes(struct ui *ui, void *p)
{
    struct act_arg *a = p;
    if (!ui_can_write(ui, "rollback"))
        return;
    const char *reason = "console rollback";
    cJSON *args = json_obj();
    json_set_str(args, "signatureId", a->sig);
    json_set_str(args, "reason", reason);
    cJSON *out = NULL;
    if (ui_call(ui, STORE_OP_active_rollback, args, &out) < 0)
        return;
    const char *to = json_str(out, "compiled_id", NULL);
    char f[40], t[40], label[128];
    ui_sig_label_of(a->sig, label, sizeof label);
    const char *cmd =
        ui_echo(ui, "rollback --signature %s --reason %s", ui_shq(a->sig), ui_shq(reason));
    /* The store decides at write time; say so if someone moved it since. */
    bool moved = !util_streq(to ? to : "", a->compiled);
    ui_msg(ui, moved ? ROLE_WARN : ROLE_OK, "rolled back %s: %s -> %s%s   %s", label,
           short_id(json_str(out, "from", a->from), f, sizeof f),
           to ? short_id(to, t, sizeof t) : "(cleared)",
           moved ? " (the history changed since the confirmation)" : "", cmd);
    cJSON_Delete(out);
    ui_reload_visible(ui);
}

static void rollback_begin(struct ui *ui)
{
    if (!need_sig(ui) || !ui_can_write(ui, "rollback"))
        return;
    cJSON *act = NULL, *hist = NULL;
    if (ui_call(ui, STORE_OP_active_get, ui_sig_args(ui), &act) < 0)
        return;
    cJSON *ha = ui_sig_args(ui);
    json_set_num(ha, "limit", 50);
    if (ui_call(ui, STORE_OP_active_history, ha, &hist) < 0) {
        cJSON_Delete(act);
        return;
    }
    struct rollback_plan plan;
    rules_rollback_plan(json_str(act, "compiled_id", NULL), json_get(hist, "history"), &plan);
    cJSON_Delete(act);
    cJSON_Delete(hist);
    if (!plan.changes) {
        ui_msg(ui, ROLE_WARN, "nothing to roll back for %s: no pointer and no earlier one",
               ui_sig_label(ui));
        return;
    }
    bool failed;
    cJSON *can = routing_canary(ui, &failed);
    if (failed)
        return;
    char q[1300], rb[600], to[120], c1[40], c2[40], after[600];
    rules_rollback_text(ui_sig_label(ui), &plan, ui->ascii, rb, sizeof rb);
    if (can) {
        /* The pointer moves, but the canary's routing does not look at it. */
        pointer_desc(plan.to, "previous active", true, to, sizeof to);
        snprintf(after, sizeof after,
                 "canary %s (%lld%%) and its control %s keep serving; %s serves once the canary "
                 "stops",
                 fmt_hex8(json_str(can, "canary_compiled_id", ""), c1, sizeof c1),
                 (long long)json_int(can, "rolloutPct", 0),
                 fmt_hex8(json_str(can, "control_compiled_id", ""), c2, sizeof c2), to);
    } else {
        pointer_desc(plan.to, "previous active", false, to, sizeof to);
        snprintf(after, sizeof after, "after the rollback traffic will be served by %s", to);
    }
    cJSON_Delete(can);
    snprintf(q, sizeof q, "%s; %s?", rb, after);
    ui_msg(ui, ROLE_WARN, "%s", after);
    struct act_arg *a = new_arg(ui);
    snprintf(a->from, sizeof a->from, "%s", plan.from);
    snprintf(a->compiled, sizeof a->compiled, "%s", plan.to);
    ui_confirm(ui, q, rollback_yes, a, free_arg);
}

/* ---- candidate for promote / canary ---- */

static bool pick_candidate(struct ui *ui, char *out, size_t cap)
{
    const cJSON *sel = ui->cur == PANE_COMPILE && !ui->focus_left
                           ? pane_compile_selected(ui_pane(ui, PANE_COMPILE))
                           : NULL;
    if (sel && json_str(sel, "compiled_id", NULL)) {
        snprintf(out, cap, "%s", json_str(sel, "compiled_id", ""));
        return true;
    }
    cJSON *args = ui_sig_args(ui), *res = NULL;
    json_set_num(args, "limit", 1);
    if (ui_call(ui, STORE_OP_compile_list, args, &res) < 0)
        return false;
    const cJSON *first = cJSON_GetArrayItem(json_get(res, "reports"), 0);
    bool ok = first && json_str(first, "compiled_id", NULL);
    if (ok)
        snprintf(out, cap, "%s", json_str(first, "compiled_id", ""));
    else
        ui_msg(ui, ROLE_WARN, "no compile report for %s yet: compile first (c)", ui_sig_label(ui));
    cJSON_Delete(res);
    return ok;
}

static void current_pointer(struct ui *ui, char *out, size_t cap)
{
    cJSON *act = NULL;
    out[0] = 0;
    if (ui_call(ui, STORE_OP_active_get, ui_sig_args(ui), &act) == 0)
        snprintf(out, cap, "%s", json_str(act, "compiled_id", ""));
    cJSON_Delete(act);
}

static void gate_numbers(const struct gate_result *g, char *buf, size_t cap)
{
    snprintf(buf, cap, "baseline %.4f candidate %.4f delta %+.4f %s %.4f, holdout n=%d",
             g->baseline, g->candidate, g->delta, g->delta >= g->min_delta ? ">=" : "<",
             g->min_delta, g->holdout_n);
}

/* ---- promote ---- */

static int promote_run(struct job *j, struct store *st, struct dse_err *err)
{
    struct act_arg *a = j->arg;
    struct lm_client *lm = job_lm(st, err);
    if (!lm)
        return -1;
    struct gate_opts o;
    gate_opts_init(&o);
    o.signature_id = a->sig;
    o.compiled_id = a->compiled;
    o.lm = lm;
    job_progress(j, "holdout gate: evaluating the control on holdout");
    char from[HASH_ID_LEN + 1] = "";
    int rc = gate_promote(st, &o, &a->gate, from, err);
    lm_close(lm);
    return rc;
}

static void promote_done(struct ui *ui, struct job *j, int rc, const struct dse_err *err)
{
    struct act_arg *a = j->arg;
    char label[128], nums[200], f[40], t[40];
    ui_sig_label_of(a->sig, label, sizeof label);
    gate_numbers(&a->gate, nums, sizeof nums);
    if (rc == 0) {
        const char *cmd = ui_echo(ui, "promote --signature %s --compiled-id %s", ui_shq(a->sig),
                                  ui_shq(a->compiled));
        ui_msg(ui, ROLE_OK, "promoted %s: %s -> %s (%s)   %s", label,
               short_id(a->from, f, sizeof f), short_id(a->compiled, t, sizeof t), nums, cmd);
    } else {
        char e[600];
        ui_msg(ui, ROLE_ERROR, "promote refused: %s%s%s", dse_err_str(err, e, sizeof e),
               a->gate.holdout_n ? " | " : "", a->gate.holdout_n ? nums : "");
    }
    ui_reload_visible(ui);
}

static void promote_yes(struct ui *ui, void *p)
{
    struct act_arg *a = p;
    if (!ui_can_write(ui, "promote"))
        return;
    if (start_job(ui, a, "promote", promote_run, promote_done))
        ui_msg(ui, ROLE_MESSAGE, "promote %s running (holdout gate)...", ui_sig_label(ui));
}

static void promote_begin(struct ui *ui)
{
    if (!need_sig(ui) || !ui_can_write(ui, "promote"))
        return;
    struct act_arg *a = new_arg(ui);
    if (!pick_candidate(ui, a->compiled, sizeof a->compiled)) {
        free_arg(a);
        return;
    }
    current_pointer(ui, a->from, sizeof a->from);
    char q[600], f[40], t[40];
    snprintf(q, sizeof q,
             "promote %s: %s -> %s through the holdout gate (min delta %.2f; evaluates the "
             "control)?",
             ui_sig_label(ui), short_id(a->from, f, sizeof f), short_id(a->compiled, t, sizeof t),
             GATE_DEFAULT_MIN_DELTA);
    ui_confirm(ui, q, promote_yes, a, free_arg);
}

/* ---- canary ---- */

static int canary_start_run(struct job *j, struct store *st, struct dse_err *err)
{
    struct act_arg *a = j->arg;
    struct lm_client *lm = job_lm(st, err);
    if (!lm)
        return -1;
    struct canary_start_opts o;
    canary_start_opts_init(&o);
    o.gate.signature_id = a->sig;
    o.gate.compiled_id = a->compiled;
    o.gate.lm = lm;
    o.rollout_pct = a->pct;
    o.reason = "console canary start";
    job_progress(j, "holdout gate: evaluating the control on holdout");
    struct canary_start_result res = {0};
    int rc = gate_canary_start(st, &o, &res, err);
    a->gate = res.gate;
    a->seeded = res.seeded;
    canary_start_result_free(&res);
    lm_close(lm);
    return rc;
}

static void canary_start_done(struct ui *ui, struct job *j, int rc, const struct dse_err *err)
{
    struct act_arg *a = j->arg;
    char label[128], nums[200], t[40];
    ui_sig_label_of(a->sig, label, sizeof label);
    gate_numbers(&a->gate, nums, sizeof nums);
    if (rc == 0) {
        const char *cmd = ui_echo(ui, "canary start --signature %s --compiled-id %s --pct %g",
                                  ui_shq(a->sig), ui_shq(a->compiled), a->pct);
        ui_msg(ui, ROLE_OK, "canary started for %s: %s at %g%%%s (%s)   %s", label,
               short_id(a->compiled, t, sizeof t), a->pct,
               a->seeded ? ", control seeded from defaults" : "", nums, cmd);
    } else {
        char e[600];
        ui_msg(ui, ROLE_ERROR, "canary start refused: %s%s%s", dse_err_str(err, e, sizeof e),
               a->gate.holdout_n ? " | " : "", a->gate.holdout_n ? nums : "");
    }
    ui_reload_visible(ui);
}

static void canary_start_yes(struct ui *ui, void *p)
{
    struct act_arg *a = p;
    if (!ui_can_write(ui, "canary start"))
        return;
    if (start_job(ui, a, "canary start", canary_start_run, canary_start_done))
        ui_msg(ui, ROLE_MESSAGE, "canary start %s running (holdout gate)...", ui_sig_label(ui));
}

static void canary_pct_entered(struct ui *ui, const char *text, void *p)
{
    struct act_arg *a = p;
    double pct;
    if (!util_parse_double(text, &pct) || !isfinite(pct) || pct <= 0 || pct > 100) {
        ui_msg(ui, ROLE_ERROR, "rollout must be a number in (0, 100]");
        return;
    }
    struct act_arg *c = xcalloc(1, sizeof *c);
    *c = *a;
    c->pct = floor(pct);
    char q[600], f[40], t[40];
    snprintf(q, sizeof q,
             "start canary %s: %s at %g%% of threads, control %s (holdout gate first; defaults "
             "min 20 samples, max error 0.20)?",
             ui_sig_label(ui), short_id(c->compiled, t, sizeof t), c->pct,
             short_id(c->from, f, sizeof f));
    ui_confirm(ui, q, canary_start_yes, c, free_arg);
}

static void canary_stop_yes(struct ui *ui, void *p)
{
    struct act_arg *a = p;
    if (!ui_can_write(ui, "canary stop"))
        return;
    const char *reason = "console canary stop";
    struct dse_err err = {0};
    bool existed = false;
    if (gate_canary_stop(ui->st, a->sig, reason, &existed, &err) < 0) {
        ui_err(ui, &err);
        return;
    }
    char label[128];
    ui_sig_label_of(a->sig, label, sizeof label);
    const char *cmd =
        ui_echo(ui, "canary stop --signature %s --reason %s", ui_shq(a->sig), ui_shq(reason));
    ui_msg(ui, existed ? ROLE_OK : ROLE_WARN, "%s %s   %s",
           existed ? "canary stopped for" : "no canary was running for", label, cmd);
    ui_reload_visible(ui);
}

static void canary_begin(struct ui *ui)
{
    if (!need_sig(ui) || !ui_can_write(ui, "canary"))
        return;
    struct dse_err err = {0};
    int failed = 0;
    cJSON *row = store_canary(ui->st, ui->sig, &failed, &err);
    if (failed) {
        ui_err(ui, &err);
        return;
    }
    struct act_arg *a = new_arg(ui);
    if (row) {
        /* Stopped, routing falls back to the active pointer, which is the
         * control only if nobody moved it while the canary ran. */
        char q[900], c[40], k[40], ptr[HASH_ID_LEN + 8], serve[120], after[400];
        current_pointer(ui, ptr, sizeof ptr);
        const char *ctl = json_str(row, "control_compiled_id", "");
        if (!ptr[0])
            snprintf(serve, sizeof serve, "the signature defaults (no pointer)");
        else
            snprintf(serve, sizeof serve, "the active pointer %s", fmt_hex8(ptr, k, sizeof k));
        if (util_streq(ptr, ctl))
            snprintf(after, sizeof after, "after the stop traffic goes to %s (the canary control)",
                     serve);
        else
            snprintf(after, sizeof after,
                     "after the stop traffic goes to %s, NOT the canary control %s (the pointer "
                     "moved)",
                     serve, fmt_hex8(ctl, k, sizeof k));
        snprintf(q, sizeof q, "stop canary %s: %s at %lld%% (ok %lld, err %lld); %s?",
                 ui_sig_label(ui), short_id(json_str(row, "canary_compiled_id", ""), c, sizeof c),
                 (long long)json_int(row, "rolloutPct", 0), (long long)json_int(row, "okCount", 0),
                 (long long)json_int(row, "errorCount", 0), after);
        ui_msg(ui, ROLE_WARN, "%s", after);
        cJSON_Delete(row);
        ui_confirm(ui, q, canary_stop_yes, a, free_arg);
        return;
    }
    if (!pick_candidate(ui, a->compiled, sizeof a->compiled)) {
        free_arg(a);
        return;
    }
    current_pointer(ui, a->from, sizeof a->from);
    char label[200], t[40], def[16];
    snprintf(label, sizeof label, "canary %s rollout %% for %s: ", ui_sig_label(ui),
             short_id(a->compiled, t, sizeof t));
    snprintf(def, sizeof def, "%d", DEFAULT_ROLLOUT);
    ui_prompt(ui, label, def, canary_pct_entered, a, free_arg);
}

/* ---- compile ---- */

static void compile_progress(void *user, const struct compile_progress *p)
{
    struct job *j = user;
    char best[64] = "-";
    if (p->has_best) {
        char s[40];
        hash_short(p->best_id, s, sizeof s, 8);
        snprintf(best, sizeof best, "%.4f %s", p->best_reward, s);
    }
    job_progress(j, "%s %d/%d candidates, best %s, lm %llu (+%llu cached), %.1fs", p->phase,
                 p->done, p->known, best, (unsigned long long)p->lm_calls,
                 (unsigned long long)p->cache_hits, (double)p->elapsed_ms / 1000.0);
}

static int compile_job(struct job *j, struct store *st, struct dse_err *err)
{
    struct act_arg *a = j->arg;
    struct lm_client *lm = job_lm(st, err);
    if (!lm)
        return -1;
    struct compile_opts o = {.signature_id = a->sig,
                             .lm = lm,
                             .concurrency = actions_lmopts.concurrency > 0
                                                ? (int)actions_lmopts.concurrency
                                                : 4,
                             .progress = compile_progress,
                             .user = j,
                             .cancel = &j->cancel,
                             /* as dse loop: a plain reference deployment only
                              * serves what its runtime renders */
                             .profile = compat_store_is_plain_reference(st)
                                            ? COMPAT_PROFILE_REFERENCE
                                            : NULL};
    int rc = compile_run(st, &o, &a->cres, err);
    a->has_cres = rc == 0;
    lm_close(lm);
    return rc;
}

static void compile_done(struct ui *ui, struct job *j, int rc, const struct dse_err *err)
{
    struct act_arg *a = j->arg;
    char label[128], t[40];
    ui_sig_label_of(a->sig, label, sizeof label);
    if (rc == 0) {
        const char *cmd = ui_echo(ui, "compile --signature %s", ui_shq(a->sig));
        ui_msg(ui, ROLE_OK, "compiled %s%s: %s train %.4f holdout %.4f (%d cand., %.1fs)   %s",
               label, a->cres.existed ? " (already compiled: report reused)" : "",
               short_id(a->cres.compiled_id, t, sizeof t), a->cres.train_reward,
               a->cres.holdout_reward, a->cres.candidates, (double)a->cres.wall_ms / 1000.0, cmd);
    } else {
        char e[600];
        ui_msg(ui, ROLE_ERROR, "compile %s failed: %s", label, dse_err_str(err, e, sizeof e));
    }
    ui_reload_visible(ui);
}

static void compile_yes(struct ui *ui, void *p)
{
    struct act_arg *a = p;
    if (!ui_can_write(ui, "compile"))
        return;
    for (struct job *j = ui->jobs; j; j = j->next)
        if (!strcmp(j->signature_id, a->sig)) {
            ui_msg(ui, ROLE_WARN, "a job is already running for %s", ui_sig_label(ui));
            return;
        }
    if (start_job(ui, a, "compile", compile_job, compile_done))
        ui_msg(ui, ROLE_MESSAGE, "compiling %s in the background (progress in the compile pane)",
               ui_sig_label(ui));
}

static void compile_begin(struct ui *ui)
{
    if (!need_sig(ui) || !ui_can_write(ui, "compile"))
        return;
    const cJSON *sig = ui_signature(ui);
    const char *opt = json_str(json_path(sig, "compileJob.optimizer"), "id", "?");
    cJSON *counts = NULL;
    long total = -1;
    if (ui_call(ui, STORE_OP_x_examples_counts, ui_sig_args(ui), &counts) == 0)
        total = (long)json_num(counts, "total", -1);
    cJSON_Delete(counts);
    char q[600];
    struct lm_config cfg;
    lmopts_config(&actions_lmopts, &cfg);
    snprintf(q, sizeof q, "compile %s: optimizer %s over %ld examples with %s?", ui_sig_label(ui),
             opt, total, cfg.provider ? cfg.provider : "local-knn");
    ui_confirm(ui, q, compile_yes, new_arg(ui), free_arg);
}

int actions_global(struct ui *ui, int action)
{
    switch (action) {
    case ACT_ROLLBACK: rollback_begin(ui); return UI_HANDLED;
    case ACT_PROMOTE: promote_begin(ui); return UI_HANDLED;
    case ACT_CANARY: canary_begin(ui); return UI_HANDLED;
    case ACT_COMPILE: compile_begin(ui); return UI_HANDLED;
    default: return UI_PASS;
    }
}
