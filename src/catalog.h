/* catalog: signature definitions (db/catalog/NAME.json) and what is derived
 * from them: default params and their compiled_id, the compile job spec and
 * its jobHash, the contract export, schema hashes.
 *
 * A signature file is one JSON object:
 *
 *   {
 *     "format": "dse.signature", "formatVersion": 1,
 *     "signatureId": "@openagents/autopilot/blueprint/SelectTool.v1",
 *     "key": "blueprint_select_tool",            short name for screens/CLI
 *     "title": "...", "description": "...",
 *     "inputSchema":  { JSON Schema draft-07 },
 *     "outputSchema": { JSON Schema draft-07 },
 *     "promptIr": { "version": 1, "blocks": [
 *         {"_tag": "System", "text": "..."},
 *         {"_tag": "Instruction", "text": "..."},
 *         {"_tag": "FewShot", "examples": [{"id": "ex1", "input": {..}, "output": {..}}]},
 *         {"_tag": "OutputFormat"} ] },
 *     "defaultParams": { DseParamsV1 },           paramsHash = default compiled_id
 *     "compileJob": {                             -> CompileJobSpecV1 (reference §5.1)
 *         "rewardId": "reward_exact_json_match.v1",
 *         "searchSpace": { instructionVariants: [{id, text}], fewShot: {...}, ... },
 *         "optimizer": {"id": "instruction_grid.v1", "config": {...}} },
 *     "labelValues": [ {output JSON}, ... ]       optional: values for keys 1-9
 *   }
 *
 * Our extension to the reference's fewShot search space:
 *   "fewShot": {"fromSplit": "train", "kMax": 4, "maxCandidates": 24}
 * draws few-shot candidates from the dataset's train split (never holdout);
 * such candidates are carried in params.fewShot.demos ([{id, input, output}])
 * so an artifact is self-contained.
 *
 * The signature JSON is stored in the store catalog (dsex/catalog) by
 * `dse init`; engine code reads it back with store_signature(). */
#ifndef DSE_CATALOG_H
#define DSE_CATALOG_H

#include <cjson/cJSON.h>

#include "err.h"
#include "hash.h"

struct store;

/* Load every built-in signature (embedded db/catalog/NAME.json), or the files
 * of dir when dir != NULL.  Returns a JSON array of signature objects, each
 * validated (catalog_validate); NULL with err naming the file on failure. */
cJSON *catalog_load(const char *dir, struct dse_err *err);
/* Check a signature object's shape: required fields and types, schemas are
 * objects, defaultParams is an object with paramsVersion 1, few-shot ids
 * unique.  err names the field. */
int catalog_validate(const cJSON *sig, struct dse_err *err);
/* The built-in (embedded) signature with this id, or NULL with err
 * "unknown_signature".  store_signature() answers with it on a store without
 * the dsex/ catalog (a plain reference deployment). */
cJSON *catalog_builtin(const char *signature_id, struct dse_err *err);
/* Put every signature of catalog_load() into the store (dsex/catalog).
 * *added and *changed count new and modified entries (may be NULL). */
int catalog_install(struct store *st, const char *dir, int *added, int *changed,
                    struct dse_err *err);

/* Accessors on a signature object (borrowed pointers into it). */
const char *catalog_id(const cJSON *sig);
const char *catalog_key(const cJSON *sig);
const cJSON *catalog_input_schema(const cJSON *sig);
const cJSON *catalog_output_schema(const cJSON *sig);
const cJSON *catalog_prompt_ir(const cJSON *sig);
const cJSON *catalog_default_params(const cJSON *sig);
/* compiled_id of the default params. */
void catalog_default_id(const cJSON *sig, char out[HASH_ID_LEN + 1]);

/* CompileJobSpecV1: {format:"openagents.dse.compile_job", formatVersion:1,
 * signatureId, datasetId:"convex:dseExamples:"+signatureId, metricId,
 * searchSpace, optimizer:{id, config?}}.  Caller frees. */
cJSON *catalog_compile_job(const cJSON *sig);
void catalog_job_hash(const cJSON *sig, char out[HASH_ID_LEN + 1]);
/* "convex:dseExamples:" + signatureId, as the reference's dataset id. */
char *catalog_dataset_id(const char *signature_id);

/* Contract export: {format:"openagents.dse.signature_contract", formatVersion:1,
 * signatureId, inputSchemaJson, outputSchemaJson, promptIr, defaultParams,
 * defaultConstraints:{}}. */
cJSON *catalog_contract(const cJSON *sig);
/* inputSchemaHash / outputSchemaHash / promptIrHash (sha256 of canonical JSON). */
void catalog_hashes(const cJSON *sig, char in_hash[HASH_ID_LEN + 1],
                    char out_hash[HASH_ID_LEN + 1], char ir_hash[HASH_ID_LEN + 1]);

/* Resolve a user-supplied signature name: a full id, a key
 * ("blueprint_select_tool"), or a unique suffix ("SelectTool.v1").  Looks in
 * the store catalog.  Returns malloc'd full id or NULL with err
 * "unknown_signature" (listing close matches when ambiguous). */
char *catalog_resolve(struct store *st, const char *name, struct dse_err *err);

#endif
