/* predict: run a signature once (reference dse-spec.md §6).
 *
 *   policy lookup (canary-aware, §3) -> params -> budget -> strategy
 *   (direct.v1 | rlm_lite.v1) -> decode + validate -> PredictReceiptV1
 *
 * Two ways in:
 *   predict_live()  the production path: resolves the policy from the store
 *                   (canary routing by FNV bucket of salt:threadId:signatureId),
 *                   writes blobs (RLM trace) to the store and records the
 *                   receipt with STORE_OP_receipts_record, whose transaction
 *                   also counts the receipt toward a canary.
 *   predict_run()   the pinned path used by eval/compile: given params, no
 *                   routing, nothing persisted (blobs in memory), the receipt
 *                   is returned to the caller.
 *
 * A receipt is produced on success and on error; errors carry the reference
 * names (BudgetExceededError, LmClientError, PolicyRegistryError,
 * PromptRenderError, OutputDecodeError, RlmKernelError, PredictStrategyError,
 * ReceiptRecorderError). */
#ifndef DSE_PREDICT_H
#define DSE_PREDICT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"

struct store;
struct lm_client;

/* The policy a call resolved to. */
struct predict_policy {
    char compiled_id[HASH_ID_LEN + 1];
    cJSON *params;      /* owned */
    bool canary;        /* routed to the canary artifact */
    bool from_default;  /* no active pointer: signature defaults */
    unsigned bucket;    /* canary bucket (0..99) when a canary is enabled */
};

struct predict_result {
    bool ok;
    cJSON *output;          /* decoded, schema-valid output (owned); NULL on error */
    cJSON *receipt;         /* PredictReceiptV1 (owned), always set after a run */
    char receipt_id[40];
    struct dse_err error;   /* when !ok: code = errorName, msg = message */
    int lm_calls;           /* provider calls + cache hits */
    int cache_hits;
    int64_t duration_ms;
    /* Added: the policy that served the call (predict_live: after routing;
     * predict_run: the compiled_id given) and, for rlm_lite.v1, the trace
     * document that was written as a blob (owned; NULL otherwise). */
    char compiled_id[HASH_ID_LEN + 1];
    bool canary;
    cJSON *trace;
};

/* Resolve the policy for (signature, thread) exactly as reference §3:
 * enabled canary with rolloutPct > 0 and both ids -> bucket < rolloutPct ?
 * canary : control (the pointer is not consulted); else the active pointer;
 * else the signature's default params.  A pointer whose artifact is missing
 * fails with PolicyRegistryError. */
int predict_resolve_policy(struct store *st, const cJSON *signature, const char *thread_id,
                           struct predict_policy *out, struct dse_err *err);
void predict_policy_free(struct predict_policy *p);

/* Run with fixed params (no routing, nothing persisted).  `blobs` may be
 * NULL or an array of {id, text, mime?} seeding the in-memory blob store
 * (dataset meta.blobs).  Fills *res (caller frees with predict_result_free);
 * returns 0 when the call produced a receipt (check res->ok for the
 * outcome), -1 only for programming errors. */
int predict_run(const cJSON *signature, const char *compiled_id, const cJSON *params,
                const cJSON *input, struct lm_client *lm, const cJSON *blobs,
                struct predict_result *res);

/* The live path: resolve, run, write trace blob, record the receipt under
 * (thread_id, run_id).  Returns 0 when a receipt was recorded (res->ok tells
 * success), -1 with err when even recording failed. */
int predict_live(struct store *st, struct lm_client *lm, const cJSON *signature,
                 const char *thread_id, const char *run_id, const cJSON *input,
                 struct predict_result *res, struct dse_err *err);

void predict_result_free(struct predict_result *res);

/* predict_live with options.  `blobs` ([{id?, text, mime?}], may be NULL) are
 * written to the store's blob scope (threadId, runId) before the run, so
 * BlobRefs in the input resolve. */
struct predict_live_opts {
    const cJSON *blobs;
};
int predict_live_ex(struct store *st, struct lm_client *lm, const cJSON *signature,
                    const char *thread_id, const char *run_id, const cJSON *input,
                    const struct predict_live_opts *opts, struct predict_result *res,
                    struct dse_err *err);

/* ---- params helpers (shared by the strategies) ----
 *
 * The model settings for a role ("main", "sub", "repair", "judge"):
 * params.model overlaid field by field with params.modelRoles[role]. */
struct predict_model {
    char model_id[128];   /* "" = the client's default */
    bool has_temperature;
    double temperature;
    bool has_top_p;
    double top_p;
    int max_tokens;       /* 0 = unset */
};
void predict_model_resolve(const cJSON *params, const char *role, struct predict_model *out);
/* {modelId?, temperature?, topP?, maxTokens?} (receipt.model). */
cJSON *predict_model_json(const struct predict_model *m);

/* Receipt fields of the few-shot extension: params.fewShot.demos
 * ([{id, input, output}]) are rendered after the authored demos; see
 * render.h for the exact selection rule. */

#endif
