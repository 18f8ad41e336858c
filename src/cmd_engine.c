/* Engine commands: compile, eval, promote, canary, traffic, loop, demo.
 * Each is a thin shell over compile.h / eval.h / gate.h / traffic.h /
 * loop.h / demo.h: parse options, open the store and the LM, call the
 * engine, print.  Values that came from the store or a model are printed
 * through the sanitiser (cli_cell / cli_out), or as JSON with --json. */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_commands.h"
#include "compat.h"
#include "compile.h"
#include "demo.h"
#include "eval.h"
#include "gate.h"
#include "hash.h"
#include "json.h"
#include "lm.h"
#include "lmopts.h"
#include "loop.h"
#include "sanitize.h"
#include "store.h"
#include "traffic.h"
#include "util.h"

/* ---- shared pieces ---- */

/* The engine's worker pools follow --concurrency too (default 4, at most 64). */
static int flags_concurrency(const struct lmopts *f)
{
    long long c = f->concurrency > 0 ? f->concurrency : 4;
    return (int)(c > 64 ? 64 : c);
}

/* Open the LM named by the flags (cache-wrapped over the store unless
 * --no-cache); NULL after reporting the error. */
static struct lm_client *open_lm(struct cli_ctx *ctx, const struct lmopts *f)
{
    struct store *st = cli_store(ctx);
    if (!st)
        return NULL;
    struct dse_err err = {0};
    struct lm_client *lm = lmopts_open(f, st, &err);
    if (!lm)
        cli_report(&err);
    return lm;
}

/* The signature named by --signature and the LM named by the flags, both
 * or neither: the signature id (malloc'd) with *lm open, or NULL with *rc
 * the exit code (the error already reported). */
static char *open_sig_lm(struct cli_ctx *ctx, const char *sig_name, const char *usage,
                         const struct lmopts *f, struct lm_client **lm, int *rc)
{
    char *sig = cli_signature(ctx, sig_name, usage, rc);
    if (!sig)
        return NULL;
    *lm = open_lm(ctx, f);
    if (!*lm) {
        free(sig);
        *rc = EXIT_REFUSED;
        return NULL;
    }
    return sig;
}

static const char *short_id(const char *id) { return cli_short_id(id, "(none)"); }

/* SIGINT/SIGTERM set a flag the long-running commands poll. */
static atomic_int stop_flag;

static void on_stop_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_flag, 1);
}

/* Clears the flag, then catches the signals. */
static void install_stop_handlers(void)
{
    atomic_store(&stop_flag, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void restore_stop_handlers(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

/* ---- compile ---- */

struct progress_out {
    bool tty;
    int64_t last_ms;
    const char *last_phase;
};

static void print_compile_progress(void *user, const struct compile_progress *p)
{
    struct progress_out *po = user;
    bool phase_changed = po->last_phase != p->phase;
    int64_t now = util_mono_ms();
    if (!po->tty && !phase_changed && now - po->last_ms < 1000 && strcmp(p->phase, "done"))
        return;
    po->last_ms = now;
    po->last_phase = p->phase;
    char best[48] = "-";
    if (p->has_best)
        snprintf(best, sizeof best, "%.4f %s", p->best_reward, short_id(p->best_id));
    fprintf(stderr, "%scompile %-6s %d/%d candidates  best %s  lm %llu  cache %llu  %.1fs%s",
            po->tty ? "\r\033[K" : "", p->phase, p->done, p->known, best,
            (unsigned long long)p->lm_calls, (unsigned long long)p->cache_hits,
            (double)p->elapsed_ms / 1000.0, po->tty ? "" : "\n");
    if (po->tty && !strcmp(p->phase, "done"))
        fputc('\n', stderr);
    fflush(stderr);
}

int cmd_compile(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] =
        "dse compile --signature ID [--profile reference] [--concurrency N] [--run-id R] "
        "[--provider P --model M ...]";
    const char *sig_name = NULL, *run_id = NULL, *profile = NULL;
    struct lmopts lf = {0};
    struct cli_opt opts[] = {
        {"signature", 's', CLI_STR, &sig_name, "ID", "signature id, key or unique suffix"},
        {"profile", 0, CLI_STR, &profile, "reference",
         "search only what the reference runtime renders the same way (plain reference store)"},
        {"run-id", 0, CLI_STR, &run_id, "R", "append progress events to this ops run"},
        LMOPTS_CLI(lf),
        {0}};
    int n = cli_parse(ctx, argc, argv, opts, usage,
                      "Compile a signature: search its compile job's params space on the train\n"
                      "split, score the best on holdout, and store the compile report and the\n"
                      "artifact.  Idempotent: the same job on the same examples returns the stored\n"
                      "report (existed) without any LM call.  LM replies are cached in the store,\n"
                      "so a killed compile restarts where it stopped.  Progress goes to stderr\n"
                      "(not with --quiet or --json).",
                      NULL);
    if (n < 0)
        return -n;
    if (n > 0)
        return cli_usage_error(usage, "unexpected argument");
    if (profile && strcmp(profile, COMPAT_PROFILE_REFERENCE) != 0)
        return cli_usage_error(usage, "--profile must be \"%s\"", COMPAT_PROFILE_REFERENCE);
    int rc = 0;
    struct lm_client *lm;
    char *sig = open_sig_lm(ctx, sig_name, usage, &lf, &lm, &rc);
    if (!sig)
        return rc;
    struct progress_out po = {.tty = isatty(2) != 0};
    struct compile_opts co = {.signature_id = sig,
                              .lm = lm,
                              .concurrency = flags_concurrency(&lf),
                              .ops_run_id = run_id,
                              .progress = (ctx->quiet || ctx->json) ? NULL : print_compile_progress,
                              .user = &po,
                              .profile = profile};
    struct compile_result cr;
    struct dse_err err = {0};
    if (compile_run(ctx->st, &co, &cr, &err) < 0) {
        if (po.tty && !ctx->quiet && !ctx->json)
            fputc('\n', stderr);
        rc = cli_report(&err);
    } else if (ctx->json) {
        cJSON *j = compile_result_json(&cr);
        cli_print_json(j);
        cJSON_Delete(j);
    } else {
        printf("%s %s\n", cr.existed ? "already compiled" : "compiled", cli_cell(cr.signature_id, 0));
        printf("  optimizer    %s\n", cli_cell(cr.optimizer, 0));
        printf("  jobHash      %s\n", cr.job_hash);
        printf("  datasetHash  %s\n", cr.dataset_hash);
        printf("  compiled_id  %s%s\n", cr.compiled_id, cr.existed ? "  (existed)" : "");
        printf("  train        %.4f\n  holdout      %.4f\n", cr.train_reward, cr.holdout_reward);
        printf("  candidates   %d   lm calls %llu   cache hits %llu   wall %.2fs   (%s)\n",
               cr.candidates, (unsigned long long)cr.lm_calls, (unsigned long long)cr.cache_hits,
               (double)cr.wall_ms / 1000.0, cli_cell(lm_describe(lm), 0));
    }
    compile_result_free(&cr);
    lm_close(lm);
    free(sig);
    return rc;
}

/* ---- eval ---- */

int cmd_eval(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] = "dse eval --signature ID --compiled-id ID [--split holdout] [--limit 500]";
    const char *sig_name = NULL, *compiled = NULL, *split = "holdout", *run_id = NULL;
    long long limit = 500;
    bool no_details = false;
    struct lmopts lf = {0};
    struct cli_opt opts[] = {
        {"signature", 's', CLI_STR, &sig_name, "ID", "signature id, key or unique suffix"},
        {"compiled-id", 0, CLI_STR, &compiled, "ID", "artifact to evaluate"},
        {"split", 0, CLI_STR, &split, "NAME", "train | holdout (default; dev means holdout) | test"},
        {"limit", 'n', CLI_INT, &limit, "N", "examples loaded, 1..500 (default 500)"},
        {"no-details", 0, CLI_FLAG, &no_details, NULL, "store the summary without per-example results"},
        {"run-id", 0, CLI_STR, &run_id, "R", "append events to this ops run"},
        LMOPTS_CLI(lf),
        {0}};
    int n = cli_parse(ctx, argc, argv, opts, usage,
                      "Evaluate a stored artifact on a split of the signature's examples with the\n"
                      "signature's reward bundle, and store the eval report (keyed by evalHash;\n"
                      "an existing report is returned without LM calls).",
                      NULL);
    if (n < 0)
        return -n;
    if (n > 0)
        return cli_usage_error(usage, "unexpected argument");
    if (!compiled)
        return cli_usage_error(usage, "--compiled-id is required");
    if (limit < 1 || limit > 500)
        return cli_usage_error(usage, "--limit must be 1..500");
    int rc = 0;
    struct lm_client *lm;
    char *sig = open_sig_lm(ctx, sig_name, usage, &lf, &lm, &rc);
    if (!sig)
        return rc;
    struct eval_request req = {.signature_id = sig,
                               .compiled_id = compiled,
                               .split = split,
                               .limit = (int)limit,
                               .concurrency = flags_concurrency(&lf),
                               .include_details = !no_details,
                               .ops_run_id = run_id};
    struct eval_outcome eo;
    struct dse_err err = {0};
    if (eval_report(ctx->st, lm, &req, &eo, &err) < 0) {
        rc = cli_report(&err);
    } else if (ctx->json) {
        cJSON *j = json_obj();
        json_set_str(j, "signatureId", sig);
        json_set_str(j, "compiled_id", compiled);
        json_set_str(j, "split", split);
        json_set_str(j, "evalHash", eo.eval_hash);
        json_set_bool(j, "existed", eo.existed);
        json_set_num(j, "reward", eo.reward);
        json_set_num(j, "n", eo.n);
        json_set_num(j, "errors", eo.errors);
        json_set_copy(j, "summary", eo.summary);
        cli_print_json(j);
        cJSON_Delete(j);
    } else {
        printf("eval %s %s on %s\n", cli_cell(sig, 0), short_id(compiled), cli_cell(split, 20));
        printf("  evalHash  %s%s\n", eo.eval_hash, eo.existed ? "  (existed)" : "");
        printf("  reward    %.4f over n=%d (%d predict errors)\n", eo.reward, eo.n, eo.errors);
    }
    eval_outcome_free(&eo);
    lm_close(lm);
    free(sig);
    return rc;
}

/* ---- promote ---- */

/* After an "incompatible_artifact" refusal: one line per problem on stderr. */
static void explain_incompatible(struct cli_ctx *ctx, const char *sig, const char *compiled,
                                 const struct dse_err *err)
{
    if (strcmp(err->code, "incompatible_artifact") != 0 || ctx->quiet)
        return;
    struct dse_err e = {0};
    cJSON *art = store_artifact(ctx->st, sig, compiled, &e), *issues = NULL;
    if (!art)
        return;
    compat_check_reference(art, &issues, &e);
    for (const cJSON *i = issues ? issues->child : NULL; i; i = i->next) {
        fprintf(stderr, "  %s: %s\n", cli_cell(json_str(i, "path", ""), 0),
                cli_cell(json_str(i, "why", ""), 0));
        fprintf(stderr, "    fix: %s\n", cli_cell(json_str(i, "fix", ""), 0));
    }
    cJSON_Delete(issues);
    cJSON_Delete(art);
}

int cmd_promote(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] =
        "dse promote --signature ID --compiled-id ID [--min-delta 0.05] [--no-require-holdout] "
        "[--force]";
    const char *sig_name = NULL, *compiled = NULL, *run_id = NULL;
    double min_delta = NAN;
    bool no_holdout = false, force = false;
    struct lmopts lf = {0};
    struct cli_opt opts[] = {
        {"signature", 's', CLI_STR, &sig_name, "ID", "signature id, key or unique suffix"},
        {"compiled-id", 0, CLI_STR, &compiled, "ID", "the compile report's best artifact"},
        {"min-delta", 0, CLI_DOUBLE, &min_delta, "D", "required holdout improvement (default 0.05)"},
        {"no-require-holdout", 0, CLI_FLAG, &no_holdout, NULL, "allow a dataset without holdout"},
        {"force", 0, CLI_FLAG, &force, NULL,
         "on a plain reference deployment, promote even an artifact its runtime cannot run"},
        {"run-id", 0, CLI_STR, &run_id, "R", "append events to this ops run"},
        LMOPTS_CLI(lf),
        {0}};
    int n = cli_parse(ctx, argc, argv, opts, usage,
                      "Promote a compiled artifact behind the holdout gate: the compile report for\n"
                      "the current job and examples must name it, and its holdout reward must beat\n"
                      "the live control's holdout reward by --min-delta.  On success the active\n"
                      "pointer moves (the reason records the numbers) and any canary is stopped.\n"
                      "A refusal prints the measured values and exits 1.",
                      NULL);
    if (n < 0)
        return -n;
    if (n > 0)
        return cli_usage_error(usage, "unexpected argument");
    if (!compiled)
        return cli_usage_error(usage, "--compiled-id is required");
    int rc = 0;
    struct lm_client *lm;
    char *sig = open_sig_lm(ctx, sig_name, usage, &lf, &lm, &rc);
    if (!sig)
        return rc;
    struct gate_opts go;
    gate_opts_init(&go);
    go.signature_id = sig;
    go.compiled_id = compiled;
    go.min_delta = min_delta;
    go.require_holdout = !no_holdout;
    go.lm = lm;
    go.concurrency = flags_concurrency(&lf);
    go.ops_run_id = run_id;
    go.force = force;
    struct gate_result gr;
    char from[HASH_ID_LEN + 1];
    struct dse_err err = {0};
    if (gate_promote(ctx->st, &go, &gr, from, &err) < 0) {
        rc = cli_report(&err);
        explain_incompatible(ctx, sig, compiled, &err);
    } else if (ctx->json) {
        cJSON *j = json_obj();
        json_set_bool(j, "ok", true);
        json_set_str(j, "signatureId", sig);
        if (from[0])
            json_set_str(j, "from", from);
        else
            json_set_null(j, "from");
        json_set_str(j, "to", compiled);
        json_set_str(j, "jobHash", gr.job_hash);
        json_set_str(j, "datasetHash", gr.dataset_hash);
        json_set_num(j, "baselineHoldoutReward", gr.baseline);
        json_set_num(j, "candidateHoldoutReward", gr.candidate);
        json_set_num(j, "delta", gr.delta);
        cli_print_json(j);
        cJSON_Delete(j);
    } else {
        printf("promoted %s: %s -> %s\n", cli_cell(sig, 0), short_id(from), short_id(compiled));
        printf("  baseline=%.4f candidate=%.4f delta=%.4f >= %.4f\n", gr.baseline, gr.candidate,
               gr.delta, gr.min_delta);
    }
    lm_close(lm);
    free(sig);
    return rc;
}

/* ---- canary ---- */

static const char canary_usage[] =
    "dse canary status|history|start|stop --signature ID [--compiled-id ID --pct P ...]";

static void print_canary_history(const cJSON *hist)
{
    printf("%-16s  %-9s  %-14s  %5s  %9s  %s\n", "TIME", "ACTION", "CANARY", "PCT", "OK/ERR",
           "REASON");
    const cJSON *row;
    cJSON_ArrayForEach(row, hist)
    {
        char when[32] = "-", counts[32] = "-", pct[16] = "-";
        int64_t ms = json_int(row, "createdAtMs", -1);
        if (ms >= 0)
            util_short_time(ms, when);
        if (cJSON_IsNumber(json_get(row, "okCount")))
            snprintf(counts, sizeof counts, "%lld/%lld", (long long)json_int(row, "okCount", 0),
                     (long long)json_int(row, "errorCount", 0));
        if (cJSON_IsNumber(json_get(row, "rolloutPct")))
            snprintf(pct, sizeof pct, "%lld%%", (long long)json_int(row, "rolloutPct", 0));
        printf("%-16s  %-9s  %-14s  %5s  %9s  %s\n", when, cli_cell(json_str(row, "action", "?"), 9),
               short_id(json_str(row, "canary_compiled_id", NULL)), pct, counts,
               cli_cell(json_str(row, "reason", ""), 100));
    }
}

static cJSON *canary_history(struct cli_ctx *ctx, const char *sig, long long limit, int *rc)
{
    cJSON *a = json_obj(), *out = NULL;
    json_set_str(a, "signatureId", sig);
    json_set_num(a, "limit", (double)limit);
    *rc = cli_call(ctx, STORE_OP_canary_history, a, &out);
    return out;
}

static int canary_status(struct cli_ctx *ctx, const char *sig)
{
    int failed = 0;
    struct dse_err err = {0};
    cJSON *row = store_canary(ctx->st, sig, &failed, &err);
    if (failed)
        return cli_report(&err);
    struct canary_verdict v;
    gate_canary_verdict(row, &v);
    /* the last auto-stop, if the history has one among recent rows */
    int rc = 0;
    cJSON *hist = canary_history(ctx, sig, 50, &rc);
    const cJSON *auto_stop = NULL, *h;
    cJSON_ArrayForEach(h, json_get(hist, "history")) if (!auto_stop &&
                                                         !strcmp(json_str(h, "action", ""), "auto_stop"))
        auto_stop = h;
    if (ctx->json) {
        cJSON *j = json_obj();
        json_set_str(j, "signatureId", sig);
        json_set_copy(j, "canary", row);
        if (!row)
            json_set_null(j, "canary");
        cJSON *vj = json_obj();
        json_set_str(vj, "state", gate_canary_state_name(v.state));
        json_set_str(vj, "text", v.text);
        if (row) {
            json_set_num(vj, "total", (double)v.total);
            json_set_num(vj, "errorRate", v.error_rate);
            json_set_num(vj, "maxErrorRate", v.max_error_rate);
            json_set_num(vj, "minSamples", (double)v.min_samples);
        }
        json_set(j, "verdict", vj);
        json_set_copy(j, "lastAutoStop", auto_stop);
        cli_print_json(j);
        cJSON_Delete(j);
    } else {
        printf("canary %s\n", cli_cell(sig, 0));
        if (row) {
            printf("  canary      %s\n", cli_cell(json_str(row, "canary_compiled_id", "-"), 0));
            printf("  control     %s\n", cli_cell(json_str(row, "control_compiled_id", "-"), 0));
            printf("  rollout     %lld%%   salt %s\n", (long long)json_int(row, "rolloutPct", 0),
                   cli_cell(json_str(row, "salt", "-"), 40));
            printf("  counters    ok %ld  error %ld  total %ld/%ld  error rate %.3f (max %.3f)\n",
                   v.ok, v.errors, v.total, v.min_samples, v.error_rate, v.max_error_rate);
            char t[32] = "-";
            util_short_time(json_int(row, "updatedAtMs", 0), t);
            printf("  updated     %s\n", t);
        }
        printf("  verdict     %s\n", v.text);
        if (auto_stop) {
            char t[32] = "-";
            util_short_time(json_int(auto_stop, "createdAtMs", 0), t);
            printf("  last auto-stop  %s  %s  ok %lld err %lld  %s\n", t,
                   short_id(json_str(auto_stop, "canary_compiled_id", NULL)),
                   (long long)json_int(auto_stop, "okCount", 0),
                   (long long)json_int(auto_stop, "errorCount", 0),
                   cli_cell(json_str(auto_stop, "reason", ""), 100));
        }
    }
    cJSON_Delete(hist);
    cJSON_Delete(row);
    return rc;
}

int cmd_canary(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *sig_name = NULL, *compiled = NULL, *salt = NULL, *reason = NULL, *run_id = NULL;
    double pct = NAN, max_err = NAN, min_delta = NAN;
    long long min_samples = 0, limit = 50;
    bool skip_gate = false, no_holdout = false, force = false;
    struct lmopts lf = {0};
    struct cli_opt opts[] = {
        {"signature", 's', CLI_STR, &sig_name, "ID", "signature id, key or unique suffix"},
        {"compiled-id", 0, CLI_STR, &compiled, "ID", "start: the canary artifact"},
        {"pct", 0, CLI_DOUBLE, &pct, "P", "start: rollout percentage 0..100"},
        {"min-samples", 0, CLI_INT, &min_samples, "N", "start: samples before judging (default 20)"},
        {"max-error-rate", 0, CLI_DOUBLE, &max_err, "R", "start: auto-stop above this (default 0.2)"},
        {"salt", 0, CLI_STR, &salt, "S", "start: bucketing salt (default random)"},
        {"min-delta", 0, CLI_DOUBLE, &min_delta, "D", "start: holdout gate delta (default 0.05)"},
        {"skip-gate", 0, CLI_FLAG, &skip_gate, NULL, "start: no holdout gate (recorded in the reason)"},
        {"no-require-holdout", 0, CLI_FLAG, &no_holdout, NULL, "start: allow a dataset without holdout"},
        {"force", 0, CLI_FLAG, &force, NULL,
         "start: on a plain reference deployment, even an artifact its runtime cannot run"},
        {"reason", 0, CLI_STR, &reason, "TEXT", "start/stop: recorded in the canary history"},
        {"limit", 'n', CLI_INT, &limit, "N", "history: rows (default 50, max 200)"},
        {"run-id", 0, CLI_STR, &run_id, "R", "start: append events to this ops run"},
        LMOPTS_CLI(lf),
        {0}};
    char **pos;
    int n = cli_parse(ctx, argc, argv, opts, canary_usage,
                      "Canary rollouts.\n"
                      "  status   settings, counters and the verdict: collecting (fewer than\n"
                      "           minSamples), healthy, or failing, with the measured error rate\n"
                      "           (default)\n"
                      "  history  start/update/stop/auto_stop rows, newest first\n"
                      "  start    seed a control from the defaults when there is no pointer, run the\n"
                      "           holdout gate (unless --skip-gate), then route --pct of threads to\n"
                      "           --compiled-id; auto-stops when the error rate exceeds the maximum\n"
                      "           after --min-samples receipts\n"
                      "  stop     remove the canary (the control serves everything)",
                      &pos);
    if (n < 0)
        return -n;
    const char *verb = n > 0 ? pos[0] : "status";
    if (n > 1)
        return cli_usage_error(canary_usage, "unexpected argument '%s'", pos[1]);
    int rc = 0;
    char *sig = cli_signature(ctx, sig_name, canary_usage, &rc);
    if (!sig)
        return rc;
    if (!strcmp(verb, "status")) {
        rc = canary_status(ctx, sig);
    } else if (!strcmp(verb, "history")) {
        cJSON *out = canary_history(ctx, sig, limit, &rc);
        if (!rc) {
            if (ctx->json)
                cli_print_json(out);
            else
                print_canary_history(json_get(out, "history"));
        }
        cJSON_Delete(out);
    } else if (!strcmp(verb, "stop")) {
        bool existed = false;
        struct dse_err err = {0};
        if (gate_canary_stop(ctx->st, sig, reason, &existed, &err) < 0) {
            rc = cli_report(&err);
        } else if (ctx->json) {
            cJSON *j = json_obj();
            json_set_bool(j, "ok", true);
            json_set_str(j, "signatureId", sig);
            json_set_bool(j, "existed", existed);
            cli_print_json(j);
            cJSON_Delete(j);
        } else {
            printf(existed ? "stopped the canary of %s\n" : "%s had no canary\n", cli_cell(sig, 0));
        }
    } else if (!strcmp(verb, "start")) {
        if (!compiled || isnan(pct)) {
            free(sig);
            return cli_usage_error(canary_usage, "start needs --compiled-id and --pct");
        }
        if (!isfinite(pct) || pct < 0 || pct > 100) {
            free(sig);
            return cli_usage_error(canary_usage, "--pct must be 0..100");
        }
        struct lm_client *lm = open_lm(ctx, &lf);
        if (!lm) {
            free(sig);
            return EXIT_REFUSED;
        }
        struct canary_start_opts so;
        canary_start_opts_init(&so);
        so.gate.signature_id = sig;
        so.gate.compiled_id = compiled;
        so.gate.min_delta = min_delta;
        so.gate.require_holdout = !no_holdout;
        so.gate.lm = lm;
        so.gate.concurrency = flags_concurrency(&lf);
        so.gate.ops_run_id = run_id;
        so.rollout_pct = pct;
        so.min_samples = (int)(min_samples > 10000 ? 10000 : min_samples);
        so.max_error_rate = max_err;
        so.salt = salt;
        so.skip_gate = skip_gate;
        so.reason = reason;
        so.gate.force = force;
        struct canary_start_result res;
        struct dse_err err = {0};
        if (gate_canary_start(ctx->st, &so, &res, &err) < 0) {
            rc = cli_report(&err);
            explain_incompatible(ctx, sig, compiled, &err);
        } else if (ctx->json) {
            cJSON *j = json_dup(res.canary);
            json_set_bool(j, "seededControl", res.seeded);
            json_set_bool(j, "gated", res.gated);
            if (res.gated) {
                json_set_num(j, "baselineHoldoutReward", res.gate.baseline);
                json_set_num(j, "candidateHoldoutReward", res.gate.candidate);
                json_set_num(j, "delta", res.gate.delta);
                json_set_str(j, "jobHash", res.gate.job_hash);
                json_set_str(j, "datasetHash", res.gate.dataset_hash);
            }
            cli_print_json(j);
            cJSON_Delete(j);
        } else {
            const cJSON *c = res.canary;
            if (res.seeded)
                printf("seeded the control from the defaults (seed_control_defaults)\n");
            printf("canary %s %s: %s at %lld%% (control %s)\n", json_str(c, "action", "start"),
                   cli_cell(sig, 0), short_id(compiled), (long long)json_int(c, "rolloutPct", 0),
                   short_id(json_str(c, "control_compiled_id", NULL)));
            if (res.gated)
                printf("  gate: baseline=%.4f candidate=%.4f delta=%.4f >= %.4f\n", res.gate.baseline,
                       res.gate.candidate, res.gate.delta, res.gate.min_delta);
            else
                printf("  gate skipped (recorded as skip-gate)\n");
            printf("  salt %s\n", cli_cell(json_str(c, "salt", "-"), 60));
        }
        canary_start_result_free(&res);
        lm_close(lm);
    } else {
        free(sig);
        return cli_usage_error(canary_usage, "unknown subcommand '%s'", verb);
    }
    free(sig);
    return rc;
}

/* ---- traffic ---- */

static void print_traffic_progress(void *user, const struct traffic_stats *s)
{
    bool tty = *(bool *)user;
    fprintf(stderr, "%straffic %ld calls  ok %ld  error %ld  canary %ld  %.1fs%s", tty ? "\r\033[K" : "",
            s->calls, s->ok, s->errors, s->canary, (double)s->elapsed_ms / 1000.0, tty ? "" : "\n");
    fflush(stderr);
}

int cmd_traffic(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] = "dse traffic --signature ID [--count N | --duration S] [--rate R] "
                                "[--threads K] [--split train] [--run-id R]";
    const char *sig_name = NULL, *split = "train", *run_id = NULL, *prefix = "traffic";
    long long count = 0, threads = 4, ids = 1;
    double duration = 0, rate = 0;
    struct lmopts lf = {0};
    struct cli_opt opts[] = {
        {"signature", 's', CLI_STR, &sig_name, "ID", "signature id, key or unique suffix"},
        {"count", 'n', CLI_INT, &count, "N", "predicts in total (default 20 unless --duration)"},
        {"duration", 0, CLI_DOUBLE, &duration, "S", "run for S seconds"},
        {"rate", 0, CLI_DOUBLE, &rate, "R", "predicts per second across threads (default: unpaced)"},
        {"threads", 't', CLI_INT, &threads, "K", "worker threads, each a stable thread id (default 4)"},
        {"ids-per-thread", 0, CLI_INT, &ids, "M", "thread ids each worker cycles through (default 1)"},
        {"thread-prefix", 0, CLI_STR, &prefix, "P", "thread ids are P-<k> (default traffic)"},
        {"split", 0, CLI_STR, &split, "NAME", "examples to replay: train (default), holdout, test, all"},
        {"run-id", 0, CLI_STR, &run_id, "R", "receipts' run id (default dse_traffic_<uuid>)"},
        LMOPTS_CLI(lf),
        {0}};
    int n = cli_parse(ctx, argc, argv, opts, usage,
                      "Replay example inputs as live predicts (canary routing, receipts, canary\n"
                      "counters), cycling through the split, from K threads with stable thread ids.\n"
                      "Stops after --count, after --duration, or on SIGINT/SIGTERM (in-flight calls\n"
                      "finish and are recorded).  Prints ok/error counts, counts per compiled_id and\n"
                      "how many calls the canary served.",
                      NULL);
    if (n < 0)
        return -n;
    if (n > 0)
        return cli_usage_error(usage, "unexpected argument");
    if (count < 0 || duration < 0 || rate < 0 || threads < 1 || threads > 64 || ids < 1 || ids > 64)
        return cli_usage_error(usage, "bad --count/--duration/--rate/--threads/--ids-per-thread");
    if (count == 0 && duration == 0)
        count = 20;
    int rc = 0;
    struct lm_client *lm;
    char *sig = open_sig_lm(ctx, sig_name, usage, &lf, &lm, &rc);
    if (!sig)
        return rc;
    install_stop_handlers();
    bool tty = isatty(2) != 0;
    struct traffic_opts to = {.signature_id = sig,
                              .lm = lm,
                              .count = count,
                              .duration_ms = (int64_t)(duration * 1000),
                              .rate = rate,
                              .threads = (int)threads,
                              .ids_per_thread = (int)ids,
                              .split = split,
                              .run_id = run_id,
                              .thread_prefix = prefix,
                              .stop = &stop_flag,
                              .progress = (ctx->quiet || ctx->json) ? NULL : print_traffic_progress,
                              .user = &tty};
    struct traffic_stats ts;
    struct dse_err err = {0};
    if (traffic_run(ctx->st, &to, &ts, &err) < 0) {
        rc = cli_report(&err);
    } else {
        if (tty && !ctx->quiet && !ctx->json && ts.elapsed_ms >= 1000)
            fputc('\n', stderr);
        if (ctx->json) {
            cJSON *j = traffic_stats_json(&ts);
            json_set_bool(j, "interrupted", atomic_load(&stop_flag) != 0);
            cli_print_json(j);
            cJSON_Delete(j);
        } else {
            printf("traffic %s: %ld calls in %.1fs%s\n", cli_cell(sig, 0), ts.calls,
                   (double)ts.elapsed_ms / 1000.0, atomic_load(&stop_flag) ? " (interrupted)" : "");
            printf("  ok %ld  error %ld  unrecorded %ld\n", ts.ok, ts.errors, ts.unrecorded);
            printf("  canary-routed %ld (ok %ld, error %ld)\n", ts.canary, ts.canary_ok,
                   ts.canary_errors);
            for (int i = 0; i < ts.n_ids; i++)
                printf("  %s  ok %ld  error %ld\n", short_id(ts.by_id[i].compiled_id), ts.by_id[i].ok,
                       ts.by_id[i].errors);
            printf("  run id %s\n", cli_cell(ts.run_id, 0));
            if (ts.last_error[0])
                printf("  last unrecorded error: %s\n", cli_cell(ts.last_error, 200));
        }
        if (ts.unrecorded > 0 && ts.ok + ts.errors == 0)
            rc = EXIT_REFUSED;
    }
    restore_stop_handlers();
    lm_close(lm);
    free(sig);
    return rc;
}

/* ---- loop ---- */

static void print_loop_progress(void *user, const char *phase, const char *message)
{
    (void)user;
    char *s = sanitize_str(message, 0);
    fprintf(stderr, "loop %-14s %s\n", phase, s);
    fflush(stderr);
    free(s);
}

int cmd_loop(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] =
        "dse loop --signature ID [--pct 20] [--min-samples 20] [--max-error-rate 0.2] "
        "[--min-delta 0] [--timeout S] [--traffic-threads K]";
    const char *sig_name = NULL, *run_id = NULL, *commit = NULL;
    long long pct = 20, min_samples = 20, threads = 4;
    double max_err = 0.2, min_delta = 0, timeout = 180, rate = 0;
    struct lmopts lf = {0};
    struct cli_opt opts[] = {
        {"signature", 's', CLI_STR, &sig_name, "ID", "signature id, key or unique suffix"},
        {"pct", 0, CLI_INT, &pct, "P", "canary rollout percentage (default 20)"},
        {"min-samples", 0, CLI_INT, &min_samples, "N", "canary samples to wait for (default 20)"},
        {"max-error-rate", 0, CLI_DOUBLE, &max_err, "R", "clean means error rate <= R (default 0.2)"},
        {"min-delta", 0, CLI_DOUBLE, &min_delta, "D", "holdout gate delta (default 0)"},
        {"timeout", 0, CLI_DOUBLE, &timeout, "S", "give up waiting for samples after S seconds (default 180)"},
        {"traffic-threads", 0, CLI_INT, &threads, "K", "the loop's own traffic threads (default 4)"},
        {"traffic-rate", 0, CLI_DOUBLE, &rate, "R", "the loop's own traffic, calls/s (default unpaced)"},
        {"run-id", 0, CLI_STR, &run_id, "R", "ops run id (default opsrun_<uuid>)"},
        {"commit-sha", 0, CLI_STR, &commit, "SHA", "recorded on the ops run"},
        LMOPTS_CLI(lf),
        {0}};
    int n = cli_parse(ctx, argc, argv, opts, usage,
                      "One round of the overnight loop, recorded as an ops run with an event per\n"
                      "phase: compile -> eval holdout -> gate -> canary start -> wait for\n"
                      "--min-samples (generating its own traffic; other traffic counts too) ->\n"
                      "promote when clean, else stop the canary -> finish with a summary.\n"
                      "SIGINT/SIGTERM cancel cleanly (the canary is stopped, the run finished).",
                      NULL);
    if (n < 0)
        return -n;
    if (n > 0)
        return cli_usage_error(usage, "unexpected argument");
    if (pct < 1 || pct > 100 || min_samples < 1 || min_samples > 10000 || threads < 1 ||
        threads > 64 || timeout <= 0 || max_err < 0 || max_err > 1)
        return cli_usage_error(usage, "an option is out of range");
    int rc = 0;
    struct lm_client *lm;
    char *sig = open_sig_lm(ctx, sig_name, usage, &lf, &lm, &rc);
    if (!sig)
        return rc;
    install_stop_handlers();
    struct loop_opts lo;
    loop_opts_init(&lo);
    lo.signature_id = sig;
    lo.lm = lm;
    lo.run_id = run_id;
    lo.commit_sha = commit;
    lo.rollout_pct = (int)pct;
    lo.min_samples = (int)min_samples;
    lo.max_error_rate = max_err;
    lo.min_delta = min_delta;
    lo.timeout_ms = (int64_t)(timeout * 1000);
    lo.traffic_threads = (int)threads;
    lo.traffic_rate = rate;
    lo.concurrency = flags_concurrency(&lf);
    lo.progress = (ctx->quiet || ctx->json) ? NULL : print_loop_progress;
    lo.cancel = &stop_flag;
    struct loop_result res;
    struct dse_err err = {0};
    int lrc = loop_run(ctx->st, &lo, &res, &err);
    if (ctx->json) {
        cli_print_json(res.summary);
    } else {
        printf("loop %s: %s\n", cli_cell(res.run_id, 0), cli_cell(res.outcome, 0));
        if (res.compiled_id[0])
            printf("  compiled_id %s\n", res.compiled_id);
        if (res.promoted)
            printf("  promoted %s -> %s\n", short_id(res.promoted_from), short_id(res.compiled_id));
        if (res.ok + res.errors > 0)
            printf("  canary ok %ld error %ld\n", res.ok, res.errors);
        printf("  see `dse run %s`\n", cli_cell(res.run_id, 0));
    }
    if (lrc < 0) {
        rc = cli_report(&err);
    } else if (!strcmp(res.outcome, "canceled")) {
        fprintf(stderr, "dse: canceled: the loop was interrupted (the canary was stopped, the run "
                        "finished)\n");
        rc = EXIT_REFUSED;
    }
    loop_result_free(&res);
    restore_stop_handlers();
    lm_close(lm);
    free(sig);
    return rc;
}

/* ---- demo ---- */

static void print_demo_progress(void *user, const char *stepname, const char *message)
{
    (void)user;
    char *s = sanitize_str(message, 0);
    fprintf(stderr, "demo %-16s %s\n", stepname, s);
    free(s);
}

int cmd_demo(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] = "dse demo [--dataset PATH] [--console] [--no-traffic]";
    const char *dataset = NULL;
    bool console = false, no_traffic = false;
    double rate = 4;
    long long threads = 3;
    struct cli_opt opts[] = {
        {"dataset", 0, CLI_STR, &dataset, "PATH", "the SelectTool JSONL fixture (default: the built-in copy)"},
        {"console", 0, CLI_FLAG, &console, NULL, "open the console on the demo store afterwards"},
        {"no-traffic", 0, CLI_FLAG, &no_traffic, NULL, "with --console: no live background traffic"},
        {"rate", 0, CLI_DOUBLE, &rate, "R", "live traffic predicts per second (default 4)"},
        {"threads", 0, CLI_INT, &threads, "K", "live traffic threads (default 3)"},
        {0}};
    int n = cli_parse(ctx, argc, argv, opts, usage,
                      "Build (or reuse) a demo store in --db with the offline local-knn model: the\n"
                      "catalog, the real SelectTool dataset, a compile report and artifacts, an\n"
                      "active pointer seeded then promoted, a canary that auto-stopped on a broken\n"
                      "artifact, a running canary, an rlm_lite.v1 receipt with its trace blob, and\n"
                      "an ops run with events.  With --console, opens the console while a little\n"
                      "traffic keeps the canary counters moving.",
                      NULL);
    if (n < 0)
        return -n;
    if (n > 0)
        return cli_usage_error(usage, "unexpected argument");
    struct store *st = cli_store(ctx);
    if (!st)
        return EXIT_REFUSED;
    struct lmopts lf = {.provider = "local-knn"};
    struct lm_client *lm = open_lm(ctx, &lf);
    if (!lm)
        return EXIT_REFUSED;
    struct demo_opts dopt = {.dataset_path = dataset,
                             .lm = lm,
                             .concurrency = 4,
                             .progress = (ctx->quiet || ctx->json) ? NULL : print_demo_progress};
    struct demo_result dr;
    struct dse_err err = {0};
    int rc = 0;
    if (demo_build(st, &dopt, &dr, &err) < 0) {
        rc = cli_report(&err);
    } else if (ctx->json && !console) {
        cJSON *j = json_obj();
        json_set_bool(j, "reused", dr.reused);
        json_set_str(j, "db", st->desc);
        json_set_str(j, "dataset", dr.dataset_path);
        json_set_str(j, "bestCompiledId", dr.best_id);
        if (!dr.reused) {
            json_set_str(j, "defaultCompiledId", dr.default_id);
            json_set_str(j, "brokenCompiledId", dr.broken_id);
            json_set_str(j, "canaryCompiledId", dr.canary_id);
            json_set_str(j, "recapCompiledId", dr.recap_id);
            json_set_str(j, "recapReceiptId", dr.recap_receipt);
            json_set_num(j, "trainReward", dr.train_reward);
            json_set_num(j, "holdoutReward", dr.holdout_reward);
            json_set_num(j, "defaultHoldoutReward", dr.default_holdout);
            json_set_num(j, "candidates", dr.candidates);
            json_set_num(j, "compileMs", (double)dr.compile_ms);
        }
        json_set_num(j, "setupMs", (double)dr.total_ms);
        cli_print_json(j);
        cJSON_Delete(j);
    } else if (!console) {
        if (dr.reused)
            printf("demo store %s is ready (reused)\n", cli_cell(st->desc, 0));
        else
            printf("demo store %s is ready in %.2fs: %d candidates, train %.4f, holdout %.4f "
                   "(defaults %.4f)\n",
                   cli_cell(st->desc, 0), (double)dr.total_ms / 1000.0, dr.candidates,
                   dr.train_reward, dr.holdout_reward, dr.default_holdout);
        printf("  try: dse --db %s canary status --signature SelectTool.v1\n",
               cli_cell(ctx->db_path ? ctx->db_path : "<db>", 0));
    }
    if (rc == 0 && console) {
        struct demo_traffic *t = no_traffic ? NULL
                                            : demo_traffic_start(st, lm, rate, (int)(threads > 0 ? threads : 3));
        char *cargv[] = {(char *)"console", NULL};
        rc = cmd_console(ctx, 1, cargv);
        demo_traffic_stop(t);
    }
    lm_close(lm);
    return rc;
}
