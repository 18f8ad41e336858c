/* traffic: replay example inputs as live predicts so canaries collect
 * samples (the reference's /api/dse/exercise/predict, generalised).
 *
 * K worker threads each own one or more stable thread ids
 * ("<prefix>-<k>"), so canary bucketing (FNV of salt:threadId:signatureId)
 * sends each id consistently to the canary or to the control.  Inputs cycle
 * through the examples of one split.  Every call is predict_live(): the
 * policy is resolved per call (a promotion or rollback takes effect on the
 * next call) and the receipt is recorded together with the canary counting,
 * in one store transaction — so two traffic processes on one SQLite file
 * neither lose nor double-count samples.
 *
 * Pace: `count` calls in total, or until `duration_ms`, or until *stop is
 * set; `rate` calls per second across all threads (0 = as fast as the
 * threads go).  A stop lets in-flight calls finish and record.
 *
 * Thread safety: traffic_run blocks its caller; the store handle may be
 * shared (its lock serialises calls) and the LM client must be thread-safe.
 * The progress callback runs on the calling thread. */
#ifndef DSE_TRAFFIC_H
#define DSE_TRAFFIC_H

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"

struct store;
struct lm_client;

#define TRAFFIC_MAX_IDS 16

struct traffic_stats {
    long calls;            /* predicts attempted */
    long ok;               /* receipts with result Ok */
    long errors;           /* receipts with result Error */
    long unrecorded;       /* predicts whose receipt could not be recorded */
    long canary;           /* receipts served by the canary artifact */
    long canary_ok, canary_errors;
    int n_ids;             /* distinct compiled_ids seen (<= TRAFFIC_MAX_IDS) */
    struct {
        char compiled_id[HASH_ID_LEN + 1];
        long ok, errors;
    } by_id[TRAFFIC_MAX_IDS];
    int64_t elapsed_ms;
    char run_id[96];
    char last_error[200];  /* last unrecorded failure, for the summary */
};

typedef void traffic_progress_fn(void *user, const struct traffic_stats *s);

struct traffic_opts {
    const char *signature_id;
    struct lm_client *lm;
    long count;              /* total calls; 0 = no count limit (needs duration or stop) */
    int64_t duration_ms;     /* 0 = no time limit */
    double rate;             /* calls per second across threads; 0 = unpaced */
    int threads;             /* default 4, 1..64 */
    int ids_per_thread;      /* thread ids per worker, default 1, 1..64 */
    const char *split;       /* default "train"; "all" = every example */
    const char *run_id;      /* receipts' autopilot run id; default dse_traffic_<uuid> */
    const char *thread_prefix; /* default "traffic" */
    atomic_int *stop;        /* may be NULL */
    traffic_progress_fn *progress; /* may be NULL; about every progress_ms */
    void *user;
    int progress_ms;         /* default 1000 */
};

/* Errors: unknown_signature, no_examples.  Returns 0 when the replay ran
 * (individual predict errors are counted, not returned). */
int traffic_run(struct store *st, const struct traffic_opts *o, struct traffic_stats *out,
                struct dse_err *err);

/* The thread id of worker k's j-th id: "<prefix>-<k>" (j = 0) or
 * "<prefix>-<k>.<j>".  out needs 96 bytes. */
void traffic_thread_id(const char *prefix, int k, int j, char out[96]);

/* A salt that puts at least `want` of the ids traffic would use (threads x
 * ids_per_thread with this prefix) into the canary bucket for rollout_pct:
 * tries "<seed>-0", "<seed>-1", ... up to 500 and returns the first that
 * works (else the best found).  Deterministic for a given seed. */
void traffic_pick_salt(const char *seed, const char *signature_id, const char *prefix,
                       int threads, int ids_per_thread, int rollout_pct, int want,
                       char out[128]);

/* Summary JSON: {runId, calls, ok, errors, unrecorded, canary, canaryOk,
 * canaryErrors, byCompiledId:{id: {ok, errors}}, elapsedMs}. */
cJSON *traffic_stats_json(const struct traffic_stats *s);

#endif
