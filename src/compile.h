/* compile: search the params space of a signature's compile job for the
 * params with the best train reward, check them on holdout, and store the
 * compile report and the compiled artifact (reference dse-spec.md §5.1-5.3,
 * §5.6).
 *
 *   job spec + jobHash (catalog) -> dataset + datasetHash (dataset.h)
 *   -> existing report for (signatureId, jobHash, datasetHash)? existed, no LM calls
 *   -> optimizer over candidates, each scored on train (eval.h)
 *   -> best: highest train reward, ties (1e-12) to the smallest compiled_id
 *   -> best on train (trainReward) and holdout (holdoutReward)
 *   -> putArtifact, then putReport (both insert-if-absent)
 *
 * Optimizers (candidate order is part of the contract):
 *   instruction_grid.v1  one candidate per instruction variant, variants
 *                        sorted by id with collate_cmp ("v1_common_phrasings"
 *                        first for SelectTool); the base params are not a
 *                        candidate when variants exist (only candidate otherwise)
 *   fewshot_greedy_forward.v1  score the base, then add one few-shot id at a
 *                        time (each step tries every remaining id, in order),
 *                        up to kMax, stopping when the best step does not beat
 *                        the current reward by more than 1e-12.  Ids come from
 *                        searchSpace.fewShot.candidateExampleIds (authored
 *                        demos), or, with our extension fewShot.fromSplit:
 *                        "train", from the TRAIN split (never holdout), carried
 *                        in params.fewShot.demos [{id, input, output}].
 *                        fewShot.maxCandidates (1..500, default 24) bounds that
 *                        pool, sampled evenly over the sorted train ids.
 *   joint_instruction_grid_then_fewshot_greedy_forward.v1  grid, then greedy
 *                        from the grid's best
 *   knobs_grid.v1        staged expansion: strategy, instruction, RLM
 *                        controller instructions, chunking policy, sub-role,
 *                        budget profile; each stage maps every seed through
 *                        every variant (sorted by id), stopping at
 *                        maxCandidates (config, clamped 1..500, default 128);
 *                        base prepended; deduplicated; truncated
 *   knobs_grid_refine.v1 knobs_grid, then up to three patches of the best
 *                        (decode failures -> strict controller text; evidence
 *                        misses -> exact-quote rule; budget overruns -> doubled
 *                        budgets), re-picking the best
 *
 * Progress: a callback struct reports the phase, candidates done / known,
 * the current best, LM calls, cache hits and elapsed time.  It is called on
 * the compiling thread or on an evaluation worker (never two at once).
 *
 * Resume: give compile an LM wrapped with lm_cache_wrap(store) (the CLI and
 * compile_run_default do), so a compile killed midway and restarted answers
 * finished calls from the cache and makes provider calls only for the rest.
 *
 * Thread safety: compile_run may run on any thread (the console runs it on a
 * worker).  The store handle may be shared (its lock serialises calls); the
 * LM client must be thread-safe (lm.h clients are).  Cancel by setting
 * *opts->cancel (the compile stops between examples with code "canceled";
 * nothing is stored). */
#ifndef DSE_COMPILE_H
#define DSE_COMPILE_H

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"

struct store;
struct lm_client;
struct eval_set;

#define COMPILE_TIE_EPS 1e-12
#define COMPILE_ARTIFACT_FORMAT "openagents.dse.compiled_artifact"

/* ---- progress ---- */
struct compile_progress {
    const char *phase;      /* "load", "search", "refine", "final", "store", "done" */
    const char *optimizer;  /* optimizer id */
    int done;               /* candidates scored so far */
    int known;              /* candidates known so far (grows during greedy) */
    bool has_best;
    double best_reward;     /* train reward of the best so far */
    char best_id[HASH_ID_LEN + 1];
    uint64_t lm_calls;      /* provider calls since the compile started */
    uint64_t cache_hits;    /* LM cache hits since the compile started */
    int64_t elapsed_ms;
};
typedef void compile_progress_fn(void *user, const struct compile_progress *p);

/* ---- the search core (pure: a scorer supplies rewards) ---- */

/* One candidate: params (owned), its compiled_id and its train reward. */
struct compile_cand {
    cJSON *params;
    char compiled_id[HASH_ID_LEN + 1];
    double reward;
    bool scored;
};

/* Scores candidates (on train).  Must set reward and scored of each; may
 * score them concurrently.  Returns 0 or -1 with err (e.g. canceled). */
struct compile_scorer {
    int (*score)(void *user, struct compile_cand *cands, size_t n, struct dse_err *err);
    /* Per-example train results of one scored candidate (an array of
     * EvalExampleResultV1, caller frees), for knobs_grid_refine.  May be
     * NULL: refine then makes no patches. */
    int (*details)(void *user, const struct compile_cand *c, cJSON **examples,
                   struct dse_err *err);
    void *user;
};

/* Train examples for fewShot.fromSplit = "train" demos (borrowed). */
struct compile_search_in {
    const cJSON *base;         /* default params */
    const cJSON *job;          /* CompileJobSpecV1 */
    const cJSON *prompt_ir;    /* the signature's prompt IR (authored few-shot ids) */
    const struct eval_set *train;
    const struct compile_scorer *scorer;
    compile_progress_fn *progress; /* may be NULL; called after each scored batch */
    void *user;
    struct compile_progress *prog; /* updated by the search (done/known/best) */
};

struct compile_search_out {
    struct compile_cand *cands;  /* every scored candidate, first-seen order, unique ids */
    size_t n;
    size_t best;                 /* index into cands */
    int iterations;
};

int compile_search(const struct compile_search_in *in, struct compile_search_out *out,
                   struct dse_err *err);
void compile_search_out_free(struct compile_search_out *o);

/* The pure pieces, exposed for tests and screens. */
/* Instruction-grid candidates (array of params) in grid order. */
cJSON *compile_instruction_grid(const cJSON *base, const cJSON *search_space);
/* knobs_grid candidates (array of params): staged expansion, base first,
 * deduplicated, at most max_candidates (clamped 1..500; <= 0 -> 128). */
cJSON *compile_knobs_grid(const cJSON *base, const cJSON *search_space, int max_candidates);
/* Shallow per-section merge: each top-level section of patch is spread over
 * base's section (budgets merged key by key).  Returns a new tree. */
cJSON *compile_merge_params(const cJSON *base, const cJSON *patch);
/* Index of the best candidate: highest reward, ties within 1e-12 to the
 * collate-smallest compiled_id.  n must be > 0. */
size_t compile_pick_best(const struct compile_cand *c, size_t n);

/* ---- artifacts ---- */

/* DseCompiledArtifactV1 for params.  eval_summary, optimizer and provenance
 * are copied (NULL -> unscored eval / {} ). */
cJSON *compile_artifact(const cJSON *signature, const cJSON *params, const cJSON *eval_summary,
                        const cJSON *optimizer, const cJSON *provenance);

/* ---- the whole compile ---- */
struct compile_opts {
    const char *signature_id;
    struct lm_client *lm;        /* the caller's client, ideally lm_cache_wrap'd */
    int concurrency;             /* eval workers, default 4 */
    const char *ops_run_id;      /* optional: append ops events */
    compile_progress_fn *progress;
    void *user;
    atomic_int *cancel;          /* may be NULL */
    /* NULL: the signature's own compile job.  "reference" (compat.h): the
     * job restricted to what the reference runtime decodes and renders the
     * same way (few-shot from its authored examples only). */
    const char *profile;
};

struct compile_result {
    char signature_id[256];
    char job_hash[HASH_ID_LEN + 1];
    char dataset_hash[HASH_ID_LEN + 1];
    char dataset_id[300];
    char compiled_id[HASH_ID_LEN + 1];
    char optimizer[96];
    bool existed;
    double train_reward;
    double holdout_reward;
    int candidates;
    uint64_t lm_calls;           /* provider calls made by this compile */
    uint64_t cache_hits;
    int64_t wall_ms;
    cJSON *report;               /* the stored report json (owned) */
};

/* Errors: unknown_signature, no_examples, invalid_job (unknown optimizer or
 * reward, unknown profile), canceled, store errors. */
int compile_run(struct store *st, const struct compile_opts *o, struct compile_result *out,
                struct dse_err *err);
void compile_result_free(struct compile_result *r);
/* The compile result as the CLI prints it with --json:
 * {signatureId, jobHash, datasetId, datasetHash, compiled_id, existed,
 *  trainReward, holdoutReward, candidates, lmCalls, cacheHits, wallMs}. */
cJSON *compile_result_json(const struct compile_result *r);

#endif
