/* loop: the overnight self-improvement loop for one signature, recorded as
 * an ops run (reference dse-spec.md §2.1 ops runs, §3 "How the overnight
 * runner used it").
 *
 *   ops run start (runId opsrun_<uuid>)
 *   -> compile                      events compile.start / compile.progress / compile.finish
 *                                   (profile "reference" on a plain reference
 *                                   deployment, compat.h, so the canary and the
 *                                   promotion are artifacts its runtime serves)
 *   -> eval holdout (eval report)   events phase7.eval.start / .finish
 *   -> gate (minDelta, default 0)   event gate
 *   -> canary start (salt chosen so some of the loop's own traffic threads
 *      land in the canary bucket)   event canary.start
 *   -> wait: the loop's own traffic runs while it polls the canary row
 *      (traffic from elsewhere counts too) until total >= minSamples, the
 *      row disappears (auto-stop), or the timeout     events canary.wait
 *   -> clean (row still ours, total >= minSamples, errorRate <= maxErrorRate)
 *      ? promote (event promote) : stop the canary (event canary.stop)
 *   -> ops run finish with summaryJson  event finish (+ the store's phase1.finish)
 *
 * Outcomes (summary.outcome): "promoted", "auto_stopped", "stopped_unclean",
 * "timeout", "gate_failed", "already_active", "canceled", "error".  The run
 * status is "failed" only for "error"; a refused gate is a normal finish.
 *
 * Thread safety: loop_run blocks its caller; it may run on a worker thread
 * (the console).  The store handle may be shared. */
#ifndef DSE_LOOP_H
#define DSE_LOOP_H

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "compile.h"
#include "err.h"

struct store;
struct lm_client;

/* One line of progress for the CLI/console: the phase and a sentence. */
typedef void loop_progress_fn(void *user, const char *phase, const char *message);

struct loop_opts {
    const char *signature_id;
    struct lm_client *lm;
    const char *run_id;          /* default opsrun_<uuid> */
    const char *commit_sha;      /* optional, recorded on the run */
    int rollout_pct;             /* default 20 */
    int min_samples;             /* default 20 */
    double max_error_rate;       /* default 0.2 (NaN -> default) */
    double min_delta;            /* default 0 (NaN -> default) */
    int64_t timeout_ms;          /* canary wait limit, default 180000 */
    int traffic_threads;         /* default 4 */
    double traffic_rate;         /* calls/s, 0 = unpaced (default) */
    int concurrency;             /* compile/eval workers, default 4 */
    int poll_ms;                 /* canary poll interval, default 100 */
    compile_progress_fn *compile_progress; /* optional, passed to compile */
    loop_progress_fn *progress;  /* optional */
    void *user;
    atomic_int *cancel;          /* optional */
};
void loop_opts_init(struct loop_opts *o);

struct loop_result {
    char run_id[96];
    char outcome[32];
    char compiled_id[HASH_ID_LEN + 1];
    char promoted_from[HASH_ID_LEN + 1];
    bool promoted;
    long ok, errors;             /* final canary counters */
    cJSON *summary;              /* the run's summaryJson (owned) */
};

/* Returns 0 when the loop ran to a decision (whatever the outcome); -1 with
 * err when a step failed (the run is then finished with status "failed"). */
int loop_run(struct store *st, const struct loop_opts *o, struct loop_result *res,
             struct dse_err *err);
void loop_result_free(struct loop_result *r);

#endif
