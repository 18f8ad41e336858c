/* eval: score compiled params on a set of examples (reference dse-spec.md
 * §5.4, §5.5).
 *
 * Each example runs predict_run() with the candidate's params pinned (no
 * canary routing, nothing persisted), then the reward bundle scores it.
 * Work is spread over a pool of `concurrency` threads; when several
 * candidates are evaluated together (compile), the pool takes
 * (candidate, example) pairs from one queue, so N threads stay busy across
 * candidates.
 *
 * Per-example results (EvalExampleResultV1):
 *   {exampleId, signatureId, compiled_id, datasetHash, rewardId, rewardVersion,
 *    reward, signals, predictMeta:{strategyId, durationMs, contextPressure,
 *    budgetUsage}, outputHash?, error?:{errorName, message}}
 * Summary (EvalSummaryV1):
 *   {evalVersion:1, kind:"scored", reward, datasetId, datasetHash, metricId,
 *    metricVersion, n, selectedExampleIdsHash}
 *
 * The eval cache (in memory, shared by the threads of one compile) keys an
 * example result by sha256 of canonical {signatureId, compiled_id,
 * datasetHash, metricId, metricVersion, exampleId,
 * format:"openagents.dse.eval_cache_key", formatVersion:1}; datasetHash is
 * the hash of the evaluated subset, as in the reference.
 *
 * Thread safety: one eval_ctx is used by one caller at a time; the cache is
 * internally locked and may be shared. */
#ifndef DSE_EVAL_H
#define DSE_EVAL_H

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "hash.h"
#include "reward.h"

struct lm_client;
struct store;
struct dataset;

/* A borrowed view of one example. */
struct eval_example {
    const char *id;
    const cJSON *input;
    const cJSON *expected;
    const cJSON *blobs; /* meta.blobs ([{id, text, mime?}]) or NULL */
};

/* The examples being evaluated, with the hashes of exactly this subset. */
struct eval_set {
    const char *dataset_id;
    char dataset_hash[HASH_ID_LEN + 1];
    char selected_ids_hash[HASH_ID_LEN + 1]; /* "" when the whole dataset */
    const struct eval_example *ex;
    size_t n;
};

/* A view of a dataset (dataset.h): borrowed example pointers, its hashes.
 * Free with eval_set_release (the dataset must outlive the view). */
void eval_set_view(struct eval_set *set, const struct dataset *d);
void eval_set_release(struct eval_set *set);

struct eval_cache;
struct eval_cache *eval_cache_new(void);
void eval_cache_free(struct eval_cache *c);
/* Entries stored so far (for progress and tests). */
size_t eval_cache_size(struct eval_cache *c);

/* One candidate to score.  `examples` and `reward` are outputs. */
struct eval_candidate {
    const char *compiled_id;
    const cJSON *params;
    double reward;      /* mean example reward (0 when n = 0) */
    cJSON *examples;    /* array of EvalExampleResultV1 (owned; NULL unless details) */
    int errors;         /* examples whose predict failed */
    int cached;         /* examples answered by the eval cache */
};

/* Called (from a worker thread, serialised) when a candidate's last example
 * is done.  idx is the candidate's index in the batch. */
typedef void eval_done_fn(void *user, size_t idx, const struct eval_candidate *c);

struct eval_ctx {
    const cJSON *signature;
    const struct reward_bundle *reward;
    const struct reward_judge *judge;   /* NULL unless the bundle needs one */
    struct lm_client *lm;
    struct eval_cache *cache;           /* NULL: no caching */
    int concurrency;                    /* worker threads, default 4, 1..64 */
    eval_done_fn *on_done;              /* may be NULL */
    void *user;
    atomic_int *cancel;                 /* may be NULL; nonzero stops early ("canceled") */
};

/* Evaluate every candidate on every example of set.  details: keep each
 * candidate's per-example results.  Returns 0, or -1 when canceled. */
int eval_candidates(const struct eval_ctx *ctx, struct eval_candidate *cands, size_t n,
                    const struct eval_set *set, bool details, struct dse_err *err);
void eval_candidate_clear(struct eval_candidate *c);

/* EvalSummaryV1 for a candidate's reward on set. */
cJSON *eval_summary(const struct eval_set *set, const struct reward_bundle *reward, double mean);

/* evalHash = sha256 canonical {signatureId, compiled_id, datasetHash, rewardId,
 * rewardVersion, split, selectedExampleIdsHash (or "")}. */
void eval_hash(const char *signature_id, const char *compiled_id, const char *dataset_hash,
               const char *reward_id, int reward_version, const char *split,
               const char *selected_ids_hash, char out[HASH_ID_LEN + 1]);

/* The reward bundle of a signature's compile job (its metricId); NULL with
 * err "invalid_job" when the catalog names an unknown bundle. */
const struct reward_bundle *eval_reward_for(const cJSON *signature, struct dse_err *err);

/* The pinned judge for reward_thread_summary_judge.v1: the judge signature
 * from the store catalog at its default params (sha256:c287f9f2... for the
 * reference judge), its artifact stored (insert-if-absent, best effort).
 * When the catalog lacks it, j.signature stays NULL and the judge signal
 * scores 0 with a note. */
struct eval_judge {
    struct reward_judge j;    /* pass &j as eval_ctx.judge */
    cJSON *signature;         /* owned (j.signature points here) */
    char compiled_id[HASH_ID_LEN + 1];
};
void eval_judge_load(struct store *st, struct lm_client *lm, struct eval_judge *out);
void eval_judge_free(struct eval_judge *j);

/* Append an ops event when run_id is set (best effort: failures are
 * ignored).  json (may be NULL) is consumed. */
void eval_ops_event(struct store *st, const char *run_id, const char *level, const char *phase,
                    cJSON *json, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* ---- the `dse eval` operation ----
 * Load the dataset (up to limit rows), keep the requested split ("dev"
 * means holdout), evaluate the stored artifact (artifact_not_found /
 * invalid_artifact), and store the report insert-if-absent as
 * {format:"openagents.dse.eval_report", formatVersion:1, summary, examples}. */
struct eval_request {
    const char *signature_id;
    const char *compiled_id;
    const char *split;       /* raw request string; default "holdout" */
    int limit;               /* 1..500, default 500 */
    int concurrency;
    bool include_details;    /* default true */
    const char *ops_run_id;  /* optional: ops events eval.start/finish */
};

struct eval_outcome {
    char eval_hash[HASH_ID_LEN + 1];
    bool existed;
    double reward;
    int n;
    int errors;
    cJSON *summary; /* owned */
};

int eval_report(struct store *st, struct lm_client *lm, const struct eval_request *req,
                struct eval_outcome *out, struct dse_err *err);
void eval_outcome_free(struct eval_outcome *o);

#endif
