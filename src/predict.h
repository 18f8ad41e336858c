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
 * ReceiptRecorderError).  Any other failure is named "PredictError" with the
 * original code in its message.
 *
 * Run order (both paths): the input is checked against the signature's
 * inputSchema (PromptRenderError, as the reference's input encoding fails),
 * then strategyId = params.strategy.id or "direct.v1":
 *   direct.v1    render (render.h, blobs inlined) -> check time, count an LM
 *                call, call the main model, count output chars -> decode
 *                (decode.h) -> while repairs < decode.maxRepairs: repair call
 *                (original messages + assistant turn with the first 5,000
 *                chars of the reply + user turn from decode_repair_prompt;
 *                temperature 0, topP 1, maxTokens min(256, repair or main
 *                maxTokens, else 256)) -> outputHash
 *   rlm_lite.v1  budgets.maxRlmIterations and maxSubLmCalls required
 *                (PredictStrategyError), render with blob placeholders,
 *                rlm_loop_run (rlm.h), trace blob, outputHash
 *   other        PredictStrategyError
 *
 * The receipt is PredictReceiptV1 (reference §6.2): format, formatVersion 1,
 * receiptId (random UUID) = runId, createdAt, signatureId, compiled_id,
 * strategyId, hashes {inputSchemaHash, outputSchemaHash, promptIrHash,
 * renderedPromptHash?, paramsHash, outputHash? (Ok only)}, model (main role),
 * usage? (first LM call, direct.v1), timing, promptRenderStats?,
 * contextPressure?, repairCount? (> 0 only), rlmTrace? {blob, eventCount},
 * budget {limits, usage}, result {_tag:"Ok"} | {_tag:"Error", errorName,
 * message}.  Our extension, so every screen can name the model:
 *   "lm": {"provider": "local-knn"|"openai"|..., "model": the model that
 *          answered the first call (else the client's default),
 *          "calls": LM requests made (provider calls + cache hits),
 *          "cacheHits": n}
 * and, so a live receipt can be replayed or turned into a labelled example,
 *   "input": the signature input, "output": the decoded output (Ok only),
 * each kept when its canonical JSON is at most 64 KiB.
 *
 * Few-shot extension: params.fewShot.demos ([{id, input, output}]) are
 * rendered after the authored demos; see render.h for the selection rule.
 *
 * Thread safety: predict_run may run on many threads at once (eval/compile
 * pools) as long as the LM client allows it (lm.h says it does). */
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
    /* Added: how it was chosen, for screens and logs: "canary", "control"
     * (a canary runs but this thread's bucket is outside it), "active" or
     * "default". */
    char route[12];
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
    char route[12];         /* predict_live: the policy route (see above); "" otherwise */
};

/* Resolve the policy for (signature, thread) exactly as reference §3:
 * enabled canary with rolloutPct > 0 and both ids -> bucket < rolloutPct ?
 * canary : control (the pointer is not consulted); else the active pointer;
 * else the signature's default params.  A pointer whose artifact is missing
 * fails with PolicyRegistryError. */
int predict_resolve_policy(struct store *st, const cJSON *signature, const char *thread_id,
                           struct predict_policy *out, struct dse_err *err);
void predict_policy_free(struct predict_policy *p);

/* Run with fixed params (no routing, nothing persisted).  compiled_id NULL
 * or "" means paramsHash(params).  `blobs` may be
 * NULL or an array of {id, text, mime?} seeding the in-memory blob store
 * (dataset meta.blobs).  Fills *res (caller frees with predict_result_free);
 * returns 0 when the call produced a receipt (check res->ok for the
 * outcome), -1 only for programming errors. */
int predict_run(const cJSON *signature, const char *compiled_id, const cJSON *params,
                const cJSON *input, struct lm_client *lm, const cJSON *blobs,
                struct predict_result *res);

/* The live path: resolve, run, write trace blob, record the receipt under
 * (thread_id, run_id).  Returns 0 when a receipt was recorded (res->ok tells
 * success), -1 with err when even recording failed.
 *
 * Details: a policy that cannot be resolved (PolicyRegistryError) is still
 * receipted, under the compiled_id that failed (else the defaults' id), so
 * a canary whose artifact is broken accumulates errors and auto-stops.  Blobs
 * and the RLM var space live in the store under (thread_id, run_id).  When
 * recording fails, res->ok is false, res->error and err are
 * ReceiptRecorderError, res->output is dropped and res->receipt (never
 * stored) has result {_tag:"Error", errorName:"ReceiptRecorderError"}. */
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

#endif
