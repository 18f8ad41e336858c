/* demo: build (or reuse) a store that shows every part of dse with real
 * data, offline, in a few seconds, using the local-knn model.
 *
 *   catalog             every built-in signature (catalog_install)
 *   dataset             the real SelectTool fixture (34 rows, 24 train / 10
 *                       holdout), imported all-or-nothing
 *   compile             SelectTool with local-knn: compile report + artifact
 *   active pointer      seeded from the defaults, then promoted through the
 *                       holdout gate (history: set seed, set promote)
 *   broken canary       an artifact whose budget allows 0 LM calls, canaried
 *                       at 100%: every receipt errors, and after minSamples
 *                       (10) errors it auto-stops (history: start, auto_stop);
 *                       the pointer is untouched
 *   running canary      a runner-up candidate at 50% with minSamples 200 and a
 *                       salt that routes some demo threads to it, plus a
 *                       little traffic so its counters are not zero
 *   rlm_lite receipt    RecapThread with a built-in long thread (stored as a
 *                       blob) and an rlm_lite.v1 artifact: a receipt whose
 *                       trace document is a blob
 *   ops run             "demo-setup", with an event per step and a summary
 *
 * Idempotent: when the "demo-setup" run finished before, nothing is
 * rebuilt (result.reused).  The console's live traffic is separate
 * (demo_traffic_start/stop).
 *
 * Thread safety: demo_build blocks its caller.  The live traffic runs on
 * its own thread over the shared store handle (whose lock serialises calls). */
#ifndef DSE_DEMO_H
#define DSE_DEMO_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"

struct store;
struct lm_client;

#define DEMO_RUN_ID "demo-setup"
#define DEMO_DATASET_NAME "selecttool.dataset.v1.jsonl"
/* The copy compiled into the binary (db/datasets/, see src/embedded.h). */
#define DEMO_DATASET_BUILTIN "db/datasets/" DEMO_DATASET_NAME
#define DEMO_SELECT_TOOL "@openagents/autopilot/blueprint/SelectTool.v1"
#define DEMO_RECAP "@openagents/autopilot/canary/RecapThread.v1"

typedef void demo_progress_fn(void *user, const char *step, const char *message);

struct demo_opts {
    const char *dataset_path;    /* NULL: the built-in copy of the SelectTool fixture */
    struct lm_client *lm;        /* local-knn, cache-wrapped by the caller */
    int concurrency;             /* default 4 */
    demo_progress_fn *progress;  /* may be NULL */
    void *user;
};

struct demo_result {
    bool reused;
    char dataset_path[1024];
    char default_id[HASH_ID_LEN + 1];
    char best_id[HASH_ID_LEN + 1];
    char broken_id[HASH_ID_LEN + 1];
    char canary_id[HASH_ID_LEN + 1];
    char recap_id[HASH_ID_LEN + 1];
    char recap_receipt[40];
    double train_reward, holdout_reward, default_holdout;
    int candidates;
    int64_t compile_ms, total_ms;
};

int demo_build(struct store *st, const struct demo_opts *o, struct demo_result *r,
               struct dse_err *err);


/* Live traffic for the console: a few predicts per second on SelectTool from
 * a few stable threads (some in the demo canary's bucket), until stopped. */
struct demo_traffic;
struct demo_traffic *demo_traffic_start(struct store *st, struct lm_client *lm, double rate,
                                        int threads);
/* Stops, joins and frees; returns the number of predicts made. */
long demo_traffic_stop(struct demo_traffic *t);

#endif
