/* reward: the reward bundles of reference dse-spec.md §5.4, which turn one
 * prediction of an example into a number in [0, 1].
 *
 *   reward_exact_json_match.v1 (version 1)
 *     format_validity.v1          w 0.2  1 if the prediction decoded
 *     exact_json_match.signal.v1  w 0.8  canonical JSON of prediction ==
 *                                        canonical JSON of expected; note "mismatch"
 *   reward_thread_summary_judge.v1 (version 1)
 *     format_validity.v1          w 0.2
 *     thread_summary_judge.v1     w 0.8  the judge signature ThreadSummaryQuality.v1,
 *                                        pinned to its default params, scores
 *                                        {question, predSummary, expectedSummary};
 *                                        its `score` clamped to 0..1
 *     predict_cost.v1             w 0.05 targets 800 ms, 2 LM calls, 0 tool calls
 *
 * example reward = clamp01( Σ clamp01(score_i)·w_i / Σ w_i ).  A signal that
 * fails scores 0 and carries the error text in `notes`.
 *
 * Thread safety: reward_score may run on several threads at once; the judge's
 * LM client must allow that (lm.h says it does). */
#ifndef DSE_REWARD_H
#define DSE_REWARD_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "hash.h"

struct lm_client;
struct predict_result;

#define REWARD_EXACT_JSON_MATCH "reward_exact_json_match.v1"
#define REWARD_THREAD_SUMMARY_JUDGE "reward_thread_summary_judge.v1"
#define REWARD_JUDGE_SIGNATURE_ID "@openagents/autopilot/judge/ThreadSummaryQuality.v1"

struct reward_bundle {
    const char *id;       /* rewardId (= metricId in summaries and job specs) */
    int version;          /* rewardVersion */
    int needs_judge;      /* 1 when a judge signature must be supplied */
};

/* The bundle with this id, or NULL when unknown. */
const struct reward_bundle *reward_find(const char *reward_id);

/* The pinned judge: its catalog signature, compiled_id and params (all
 * borrowed) and the LM that answers it. */
struct reward_judge {
    const cJSON *signature;
    const char *compiled_id;
    const cJSON *params;
    struct lm_client *lm;
};

/* What one example produced. */
struct reward_input {
    const cJSON *input;                 /* example input (judge reads `question`) */
    const cJSON *expected;              /* decoded expected output */
    const struct predict_result *pred;  /* the prediction (ok/output/receipt) */
    const struct reward_judge *judge;   /* NULL when the bundle needs none */
};

/* Score one example.  Returns the example reward; *signals (when non-NULL)
 * receives a JSON array [{signalId, weight, score, notes?, metric?}] the
 * caller frees.  *judge_calls (when non-NULL) receives the LM calls the judge
 * made (so evaluation can count them).  Never fails: a signal that cannot be
 * computed scores 0 with a note. */
double reward_score(const struct reward_bundle *b, const struct reward_input *in,
                    cJSON **signals, int *judge_calls);

/* The combination rule on its own (for tests and for screens). */
double reward_combine(const double *scores, const double *weights, size_t n);
/* predict_cost.v1's score for the measured usage (0 usage counts as 1). */
double reward_predict_cost(double duration_ms, double lm_calls, double tool_calls);

#endif
