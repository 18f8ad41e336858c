/* gate: the holdout gate, promotion, canary start/stop behind the gate, and
 * the canary verdict (reference dse-spec.md §3, §5.7).
 *
 * Holdout gate, for a candidate compiled_id of a signature:
 *   1. load the dataset (500 rows) and its full datasetHash
 *   2. holdout = examples whose split is holdout (stored "holdout" or "dev");
 *      none and requireHoldout -> holdout_required
 *   3. the CURRENT jobHash; getReport(signatureId, jobHash, datasetHash):
 *      missing -> compile_report_not_found; report's compiled_id differs ->
 *      compiled_id_mismatch; holdoutReward not finite -> invalid_compile_report.
 *      When that report is missing or names another id, the job of the
 *      reference profile (`dse compile --profile reference`, compat.h) is
 *      looked up too, and its report used when it names the candidate
 *   4. baseline = 0 with no active pointer, else the control artifact
 *      (control_artifact_missing / invalid_control_artifact) evaluated live
 *      on holdout
 *   5. delta = candidateHoldout - baseline >= minHoldoutDelta (default 0.05),
 *      else insufficient_improvement, whose message carries the measured
 *      numbers: "baseline=0.6000 candidate=0.6200 delta=0.0200 < 0.0500"
 *
 * Promotion = gate, then setActive with reason "promote baselineHoldout=<4dp>
 * candidateHoldout=<4dp> delta=<4dp> minDelta=<4dp> jobHash=<h>
 * datasetHash=<h>", then stopCanary(reason "promoted"), best effort.
 *
 * Canary start = seed a control from the signature defaults when there is
 * no pointer (optimizer seed_control_defaults.v1, setActive reason
 * "seed_control_defaults"; stays even if the gate then fails), gate (unless
 * skipped: the reason then records "skip-gate"), then startCanary with the
 * salt honoured.
 *
 * On a plain reference deployment (compat.h), promote and canary start first
 * check that the candidate decodes and renders in the reference runtime and
 * refuse with "incompatible_artifact" otherwise (gate_opts.force overrides).
 *
 * Thread safety: every function may run on any thread; the store handle's
 * lock serialises store calls and the LM client must be thread-safe. */
#ifndef DSE_GATE_H
#define DSE_GATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "err.h"
#include "hash.h"

struct store;
struct lm_client;

#define GATE_DEFAULT_MIN_DELTA 0.05

struct gate_opts {
    const char *signature_id;
    const char *compiled_id;     /* the candidate */
    double min_delta;            /* NaN -> default 0.05 */
    bool require_holdout;        /* default true: set by gate_opts_init */
    struct lm_client *lm;        /* evaluates the control on holdout */
    int concurrency;             /* eval workers, default 4 */
    const char *ops_run_id;      /* optional: ops events */
    /* Promote / canary start on a plain reference deployment even when the
     * artifact fails compat_check_reference (compat.h).  Without it such a
     * request fails "incompatible_artifact" before anything is evaluated or
     * written.  Other stores never check. */
    bool force;
};
void gate_opts_init(struct gate_opts *o);

struct gate_result {
    bool passed;
    char job_hash[HASH_ID_LEN + 1];
    char dataset_hash[HASH_ID_LEN + 1];
    char control_id[HASH_ID_LEN + 1]; /* "" when there is no pointer */
    double baseline;                  /* control's live holdout reward (0 without control) */
    double candidate;                 /* report.holdoutReward */
    double delta;
    double min_delta;
    int holdout_n;
};

/* Run the gate.  Returns 0 when it passed; -1 with err otherwise (the
 * measured values are in *res whenever they were computed). */
int gate_check(struct store *st, const struct gate_opts *o, struct gate_result *res,
               struct dse_err *err);

/* Promote: the gate (always; require_holdout=false only lets an empty
 * holdout through), setActive, stopCanary("promoted").  *from receives the
 * previous pointer ("" when none). */
int gate_promote(struct store *st, const struct gate_opts *o, struct gate_result *res,
                 char from[HASH_ID_LEN + 1], struct dse_err *err);

struct canary_start_opts {
    struct gate_opts gate;       /* signature, candidate, min delta, lm */
    double rollout_pct;          /* required, finite */
    int min_samples;             /* <= 0 -> store default (20) */
    double max_error_rate;       /* NaN -> store default (0.2) */
    const char *salt;            /* NULL/"" -> random */
    bool skip_gate;
    /* The caller already ran the gate (seeded control first): do not run
     * it again; its numbers go into the reason.  NULL = gate here. */
    const struct gate_result *pre_gated;
    const char *reason;          /* optional */
};
void canary_start_opts_init(struct canary_start_opts *o);

struct canary_start_result {
    bool seeded;                 /* a control was seeded from the defaults */
    bool gated;                  /* the gate ran (and passed) */
    struct gate_result gate;
    cJSON *canary;               /* the startCanary value (owned) */
};

int gate_canary_start(struct store *st, const struct canary_start_opts *o,
                      struct canary_start_result *res, struct dse_err *err);
void canary_start_result_free(struct canary_start_result *r);
/* stopCanary; *existed tells whether there was one. */
int gate_canary_stop(struct store *st, const char *signature_id, const char *reason,
                     bool *existed, struct dse_err *err);

/* Seed the control from the signature defaults when there is no pointer:
 * store the seed_control_defaults.v1 artifact and setActive(reason
 * "seed_control_defaults").  *seeded tells whether it did. */
int gate_seed_control(struct store *st, const cJSON *signature, bool *seeded,
                      struct dse_err *err);

/* ---- canary verdict (pure) ---- */
enum canary_state { CANARY_NONE, CANARY_COLLECTING, CANARY_HEALTHY, CANARY_FAILING };

struct canary_verdict {
    enum canary_state state;
    long ok, errors, total;
    long min_samples;
    double error_rate;           /* errors / total (0 when total = 0) */
    double max_error_rate;
    char text[160];              /* "failing: error rate 0.350 > 0.200 (n=20, min 20)" */
};

/* From a canary row (NULL -> CANARY_NONE, "no active canary").  Settings are
 * read as the store counts them: minSamples max(1, floor) default 20;
 * maxErrorRate clamped 0..1 default 0.2.
 *   collecting  total < minSamples   ("collecting: 12/20 samples, error rate 0.083 (max 0.200)")
 *   failing     errorRate > maxErrorRate ("failing: error rate 0.350 > 0.200 (n=20, min 20)")
 *   healthy     otherwise             ("healthy: error rate 0.050 <= 0.200 (n=20, min 20)") */
void gate_canary_verdict(const cJSON *canary, struct canary_verdict *v);
const char *gate_canary_state_name(enum canary_state s);

#endif
