/* compat: will an artifact dse made decode and render in the reference
 * runtime (`@openagentsinc/dse` served from a plain Convex deployment)?
 *
 * What the reference does with a stored artifact (read in OpenAgentsInc/
 * openagents, the tree the spec describes; paths below are in that repo):
 *
 *   apps/web/src/effuse-host/dse.ts  layerDsePolicyRegistryFromConvex:
 *     getArtifact decodes the stored json with
 *     Schema.decodeUnknownSync(DseCompiledArtifactV1Schema).  A decode
 *     failure is a PolicyRegistryError, so every Predict of the signature
 *     fails while the pointer (or a canary) names that artifact.
 *   packages/dse/src/compiledArtifact.ts  DseCompiledArtifactV1Schema:
 *     format "openagents.dse.compiled_artifact", formatVersion 1,
 *     signatureId, compiled_id, createdAt: strings; hashes {inputSchemaHash,
 *     outputSchemaHash, promptIrHash, paramsHash}: strings; params
 *     (DseParamsV1Schema); eval {evalVersion 1, kind "unscored"|"scored",
 *     reward?, notes?, datasetId?, datasetHash?, metricId?, n?}; optimizer
 *     {id, config?: unknown, iterations?: number}; provenance
 *     {compilerVersion?, gitSha?, datasetId?, datasetHash?, metricId?,
 *     searchSpaceHash?}: strings; compatibility? {requiredTools?,
 *     requiredLanes?, privacyModesAllowed?}: string arrays.
 *     Optional means absent: a JSON null where a string or number is
 *     expected fails the decode.
 *   packages/dse/src/params.ts  DseParamsV1Schema (Effect Schema.Struct):
 *     paramsVersion 1; strategy? {id, config?: unknown}; instruction?
 *     {text?}; fewShot? {exampleIds: string[] (required), k?}; model?
 *     {modelId?, temperature?, topP?, maxTokens?}; modelRoles? {main?, sub?,
 *     repair?, judge?: model}; decode? {mode: "strict_json"|"jsonish"
 *     (required), maxRepairs?}; tools? {allowedToolNames?: string[],
 *     maxToolCalls?, timeoutMsByToolName?: {string: number}}; rlmLite?
 *     {controllerInstructions?, extractionSystem?, chunkDefaults?
 *     {chunkChars (required), overlapChars?, maxChunks?}, subRole?
 *     "sub"|"main"}; budgets? {maxTimeMs?, maxLmCalls?, maxToolCalls?,
 *     maxRlmIterations?, maxSubLmCalls?, maxOutputChars?}.
 *     Effect's decode ignores excess properties by default (it keeps only
 *     the keys the schema names; Effect-TS/effect issue #2008), so a key
 *     dse adds is not an error there: it silently disappears.
 *   packages/dse/src/runtime/predict.ts: params = the DECODED artifact's
 *     params; the receipt records compiled_id = artifact.compiled_id but
 *     hashes.paramsHash = paramsHash(decoded params), so a dropped key also
 *     makes the two disagree.  Strategies: "direct.v1", "rlm_lite.v1",
 *     "distilled.search_line_extract.v1"; anything else is a
 *     PredictStrategyError.  rlm_lite.v1 fails unless budgets.maxRlmIterations
 *     and budgets.maxSubLmCalls are set.
 *   packages/dse/src/runtime/render.ts applyParamsToPromptIr: every id of
 *     params.fewShot.exampleIds must name an example of the signature's
 *     authored FewShot blocks, else PromptRenderError "Few-shot params
 *     referenced unknown example ids"; the selected examples render in
 *     authored order.  There are no inline examples: the authored examples
 *     live in code (apps/autopilot-worker/src/dseCatalog.ts), one fixed list
 *     per signature (compat.c keeps those ids).  Tools render as
 *     joinNonEmpty(["Tools:", "Allowed tools: a, b" | "Allowed tools: (none
 *     declared)", "Max tool calls: N"]), i.e. parts separated by a blank
 *     line (render.c now does the same).
 *
 * What dse emits that differs (src/compile.c, src/render.c, db/catalog):
 *   - fewShot.demos [{id, input, output}]: our few-shot candidates drawn from
 *     the dataset's train split (searchSpace.fewShot.fromSplit "train", used
 *     by SelectTool's job), with their ids in fewShot.exampleIds.  The
 *     reference drops `demos` and then fails on the unknown ids: every
 *     Predict of such an artifact errors there.
 *   - any other key inside params that the schema does not name (dropped).
 *   - authored few-shot ids that exist in our catalog but not in the
 *     reference's (ExtractAgentVibe has ex1 only there).
 *   - a signature the reference runtime does not define at all.
 *   - the envelope and the other params fields: dse's compile writes the
 *     reference shapes; the check still decodes them the reference's way.
 * Not covered (not verified against a reference version we could read):
 *   dse renders BlobRefs found in the input as an "Input blobs:" section
 *   (spec §6.1); the render.ts versions we could read do not.  That depends
 *   on the input, not on the artifact, so no artifact check can decide it.
 *   Likewise a Context blob entry cut at 20,000 characters ends with
 *   "\n...[truncated]" in those versions and with "…[truncated]" (spec
 *   §6.1) in dse; no catalog prompt has Context blocks.
 *   Our catalog's prompt texts are our own: the same artifact renders the
 *   reference's own texts there (its instruction.text and few-shot
 *   selection apply the same way).
 *
 * Plain reference deployment = a remote store whose server lists no dsex/
 * extension (dsex/meta:info missing or empty).  There, promoting or starting
 * a canary with an incompatible artifact is refused (code
 * "incompatible_artifact") unless the caller forces it; SQLite stores and
 * `dse serve` are unaffected.
 *
 * Profile "reference" (dse compile --profile reference): the signature's
 * compile job with searchSpace.fewShot.fromSplit replaced by
 * candidateExampleIds = the authored ids the reference also has (kMax kept),
 * or without few-shot search when there are none (a few-shot optimizer then
 * becomes instruction_grid.v1).  Every candidate then uses only fields and
 * forms the reference decodes and renders the same way, so the best one
 * passes compat_check_reference.  The job (and its jobHash) differ from the
 * default job; the gate looks for a report under either. */
#ifndef DSE_COMPAT_H
#define DSE_COMPAT_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "err.h"

struct store;

#define COMPAT_PROFILE_REFERENCE "reference"

/* Check an artifact against the reference runtime.  Returns 0 when it
 * decodes and renders there, -1 with err "incompatible_artifact" (message:
 * the compiled_id, the field paths, the fix) otherwise.  When issues is not
 * NULL it receives (caller frees) an array of {path, kind, why, fix}, one
 * per problem, kind one of:
 *   decode            the reference's schema rejects the artifact
 *   dropped           the reference's decoder removes the key
 *   render            the reference's renderer fails (unknown few-shot id)
 *   runtime           the reference's Predict fails (strategy, budgets)
 *   hash              compiled_id differs from paramsHash of the params the
 *                     reference decodes
 *   unknown_signature the reference runtime has no such signature
 * (an empty array when compatible). */
int compat_check_reference(const cJSON *artifact, cJSON **issues, struct dse_err *err);

/* The authored few-shot example ids of the reference's signature (NULL-
 * terminated, borrowed; just the NULL when it has no FewShot block), or NULL
 * when the reference has no such signature. */
const char *const *compat_reference_fewshot_ids(const char *signature_id);

/* A copy of the signature (catalog JSON) whose compileJob is restricted to
 * the reference profile (above).  NULL with err "unknown_signature" when the
 * reference runtime has no such signature. */
cJSON *compat_reference_signature(const cJSON *signature, struct dse_err *err);

/* True when st is a remote store without any dsex/ extension. */
bool compat_store_is_plain_reference(struct store *st);

/* The promote / canary-start guard: on a plain reference deployment load
 * the artifact and check it; 0 when the store is not a plain reference
 * deployment, the artifact is missing (the caller's own path reports that),
 * it is compatible, or force is set; -1 with err "incompatible_artifact"
 * (naming the fields and `--force`) otherwise. */
int compat_guard(struct store *st, const char *signature_id, const char *compiled_id, bool force,
                 struct dse_err *err);

#endif
