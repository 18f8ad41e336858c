/* store: one operations table over every piece of dse state, with two back
 * ends: SQLite (store_sqlite.c, the default) and a remote server speaking the
 * Convex HTTP function API (store_remote.c).
 *
 * Every operation takes a JSON object of arguments and yields a JSON value,
 * exactly the `args` and `value` of the Convex function of the same path
 * (reference dse-spec.md §2.1).  That makes the three users one shape:
 *   - callers (engine, CLI, console) call store_call(st, STORE_OP_x, args, ..)
 *   - `dse serve` maps {"path": ..., "args": ...} to store_call on a local store
 *   - the remote back end forwards store_call to POST /api/query|mutation
 * so one store test suite runs unchanged against both back ends.
 *
 * Conventions for every operation:
 *   - returns 0 and sets *out (caller frees with cJSON_Delete), or -1 with
 *     *err set and *out == NULL.  `out` may be NULL when the caller does not
 *     want the value.
 *   - bad or missing arguments: code "invalid_input", message naming the
 *     argument and what was wrong.
 *   - `limit` arguments: non-finite or absent -> default; otherwise floored
 *     and clamped to [0, max] (reference §1).  Defaults/maxima are noted below
 *     as (default/max).
 *   - absent optional fields come back as JSON null in list rows.
 *   - every mutation is one transaction and bumps the change counter.
 *   - history rows carry actorUserId = st->actor (when non-empty).
 *
 * Paging: nextCursor is null unless more rows exist; "prev"/"newer" return
 * rows in the order walked.  Over-long optional ops-run strings (commitSha,
 * baseUrl, notes, signatureIds, phase) are cut to their limits like message.
 * createdAtMs is read after the write lock is taken, so time order matches
 * commit order across processes.
 *
 * Paths beginning "dse/" are the reference's functions; "dsex/" are our
 * extensions (keyed paging, batches, catalog, stats, change counter, LM
 * cache).  A remote server may lack the extensions: the remote back end then
 * emulates the ones it can from the reference's functions and sets
 * store.plain_reference. */
#ifndef DSE_STORE_H
#define DSE_STORE_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

enum store_kind { STORE_QUERY, STORE_MUTATION };

/* X(id, path, kind).  Arguments -> value for each:
 *
 * artifacts
 *   artifacts_put   {signatureId, compiled_id, json} -> {ok, existed}   (first write wins)
 *   artifacts_get   {signatureId, compiled_id} -> {ok, artifact: json|null}
 *   artifacts_list  {signatureId, limit?(50/200)} ->
 *                   {ok, artifacts:[{signatureId, compiled_id, createdAtMs}]} newest first
 * active pointer (reference §4, Convex rules)
 *   active_get      {signatureId} -> {ok, compiled_id|null, updatedAtMs|null}
 *   active_set      {signatureId, compiled_id, reason?} -> {ok, from|null, compiled_id}
 *                   fails artifact_not_found; appends history "set" even when unchanged
 *   active_clear    {signatureId, reason?} -> {ok, from|null}; always appends "clear"
 *   active_rollback {signatureId, reason?} -> {ok, from|null, compiled_id: target|null}
 *   active_history  {signatureId, limit?(50/200)} -> {ok, history:[{signatureId, action,
 *                   fromCompiledId, toCompiledId, reason, actorUserId, createdAtMs}]}
 * canary (reference §3)
 *   canary_get      {signatureId, threadId?} -> {ok, canary: null|{signatureId, enabled,
 *                   control_compiled_id, canary_compiled_id, rolloutPct, salt, okCount,
 *                   errorCount, minSamples, maxErrorRate, createdAtMs, updatedAtMs}}
 *   canary_start    {signatureId, canary_compiled_id, rolloutPct, salt?, minSamples?(20,
 *                   1..10000), maxErrorRate?(0.2, 0..1), reason?} -> {ok, signatureId,
 *                   control_compiled_id, canary_compiled_id, rolloutPct, salt, action:
 *                   "start"|"update"}; fails control_missing, control_artifact_missing,
 *                   canary_artifact_missing.  The salt given is kept (the reference drops it).
 *   canary_stop     {signatureId, reason?} -> {ok, existed:false} | {ok, existed:true,
 *                   signatureId, control_compiled_id, canary_compiled_id, rolloutPct,
 *                   okCount, errorCount}
 *   canary_history  {signatureId, limit?(50/200)} -> {ok, history:[{signatureId, action,
 *                   control_compiled_id, canary_compiled_id, rolloutPct, okCount,
 *                   errorCount, reason, actorUserId, createdAtMs}]}
 * examples
 *   examples_put    {signatureId, exampleId, inputJson, expectedJson, split?, tags?,
 *                   source?, meta?} -> {ok, existed}  (upsert; absent fields cleared)
 *   examples_get    {signatureId, exampleId} -> {ok, example: null|{signatureId, exampleId,
 *                   inputJson, expectedJson, split, tags, source, meta, createdAtMs,
 *                   updatedAtMs}}.  tags as stored minus empty strings (the
 *                   reference's asStringArray: no trim, sort or dedupe; [] stays [],
 *                   absent is null); the same in every example row below.
 *   examples_list   {signatureId, split?, limit?(200/500)} -> {ok, examples:[...]}
 *                   ordered by exampleId in localeCompare order (collate.h: ICU root)
 * compile reports
 *   compile_put     {signatureId, jobHash, datasetId, datasetHash, compiled_id, json}
 *                   -> {ok, existed}
 *   compile_get     {signatureId, jobHash, datasetHash} -> {ok, report: null|{signatureId,
 *                   jobHash, datasetId, datasetHash, compiled_id, json, createdAtMs}}
 *   compile_list    {signatureId, limit?(50/200)} -> {ok, reports:[{signatureId, jobHash,
 *                   datasetId, datasetHash, compiled_id, createdAtMs}]} newest first
 * eval reports
 *   eval_put        {signatureId, evalHash, compiled_id, datasetId, datasetHash, rewardId,
 *                   rewardVersion, split?, selectedExampleIdsHash?, n?, json} -> {ok, existed}
 *   eval_get        {signatureId, evalHash} -> {ok, report: null|{...all fields, json,
 *                   createdAtMs}}
 *   eval_list       {signatureId, compiled_id?, limit?(50/200)} -> {ok, reports:[{all
 *                   fields but json}]} newest first; compiled_id "" = no filter
 * receipts
 *   receipts_record {threadId, runId, receipt} -> {ok, existed, counted: "ok"|"error"|null,
 *                   autoStopped}.  receiptId is unique: a repeat is stored and counted
 *                   once (existed:true).  Canary counting and auto-stop run in the same
 *                   transaction as the insert.
 *   receipts_get / receipts_get_admin  {receiptId} -> {ok, receipt: null | {threadId,
 *                   runId, json, createdAtMs}}
 *   receipts_list_admin {signatureId, limit?(50/200)} -> {ok, receipts:[{receiptId,
 *                   signatureId, compiled_id, threadId, runId, createdAtMs, strategyId,
 *                   resultTag, rlmTraceBlobId, rlmTraceEventCount}]}  newest first
 * blobs (scoped by the autopilot run's threadId + runId)
 *   blobs_put       {threadId, runId, text, mime?} -> {ok, blob:{id, hash, size, mime?}}
 *   blobs_get / blobs_get_admin  {threadId, runId, blobId} -> {ok, text|null}
 * var space (limits: names 1..128 chars after trim, 200 vars per run, 50,000 chars
 * of canonical JSON per value)
 *   var_get         {threadId, runId, name} -> {ok, value: null | {_tag:"Json", value,
 *                   approxChars} | {_tag:"Blob", blob}}
 *   var_put_json    {threadId, runId, name, value} -> {ok}
 *   var_put_blob    {threadId, runId, name, blob} -> {ok}
 *   var_del         {threadId, runId, name} -> {ok, existed}
 *   var_list        {threadId, runId} -> {ok, vars:[{name, kind:"json", approxChars} |
 *                   {name, kind:"blob", blob}]}  in localeCompare order of name
 * ops runs
 *   runs_start      {runId, commitSha?, baseUrl?, signatureIds?, notes?, links?}
 *                   -> {ok, existed, runId}
 *   runs_event      {runId, level, phase?, message, json?, tsMs?} -> {ok}; run_not_found
 *   runs_finish     {runId, status: finished|failed, summaryJson?} -> {ok}
 *   runs_list       {limit?(50/200)} -> {ok, runs:[{runId, status, startedAtMs, endedAtMs,
 *                   commitSha, baseUrl, actorUserId, signatureIds, createdAtMs,
 *                   updatedAtMs}]} newest first
 *   runs_get        {runId} -> {ok, run: null|{...everything}}
 *   runs_events     {runId, limit?(200/500)} -> {ok, events:[{runId, tsMs, level, phase,
 *                   message, json, createdAtMs}]} newest first
 *
 * extensions (dsex/)
 *   x_info          {} -> {ok, backend, schemaVersion, changeCounter, extensions:[paths]}
 *   x_changes       {} -> {ok, counter}   (bumped by every committed mutation)
 *   x_sig_put       {signature} -> {ok, existed, changed}  (catalog JSON, see catalog.h;
 *                   changed is true only when an existing entry was modified)
 *   x_sig_get       {signatureId} -> {ok, signature: json|null}
 *   x_sig_list      {} -> {ok, signatures:[{signatureId, updatedAtMs}]} sorted by id
 *   x_sig_stats     {signatureId, sinceMs} -> {ok, receipts, errors (receipts since
 *                   sinceMs), lastReceiptAtMs|null, lastCompileAtMs|null,
 *                   lastRunId|null (newest ops run listing the signature), examples}
 *   x_receipts_page {signatureId?, resultTag?, strategyId?, compiled_id?, threadId?,
 *                   cursor?, dir?: "older"(default)|"newer", limit?(50/500)} ->
 *                   {ok, items:[receipts_list_admin row + errorName, durationMs,
 *                   cursor], nextCursor|null}.  "older" walks newest -> oldest starting
 *                   below cursor (or at the newest); "newer" walks oldest -> newest
 *                   starting above cursor (or at the oldest).  Cursors are opaque
 *                   strings; keyset on (createdAtMs, row id), never OFFSET.
 *   x_receipts_batch {items:[{threadId, runId, receipt}]} -> {ok, recorded, duplicates,
 *                   counted, autoStopped (number of canaries stopped)}  (one
 *                   transaction, at most 10,000 items)
 *   x_examples_page {signatureId, split?, cursor?, dir?: "next"(default)|"prev",
 *                   limit?(50/500)} -> {ok, items:[example rows + cursor], nextCursor|null}
 *                   in localeCompare order of exampleId ("prev" walks backwards)
 *   x_examples_import {signatureId, rows:[{exampleId, inputJson, expectedJson, split?,
 *                   tags?, source?, meta?}], source?} -> {ok, inserted, updated, total}
 *                   all rows or none
 *   x_examples_delete {signatureId, exampleId} -> {ok, existed}
 *   x_examples_counts {signatureId} -> {ok, total, splits:{train, holdout, dev, test,
 *                   none}, accepted, rejected}  (review status from meta.review.status)
 *   x_events_page   {runId, cursor?, limit?(200/1000)} -> {ok, items:[event + cursor],
 *                   nextCursor|null}  oldest first in insertion order, after cursor
 *   x_lm_get        {key} -> {ok, entry: null|{model, response, createdAtMs}}  (a query:
 *                   writes nothing, so no per-entry hit count; runs count hits)
 *   x_lm_put        {key, model, response} -> {ok, existed}
 */
#define STORE_OPS(X)                                                              \
    X(artifacts_put, "dse/artifacts:putArtifact", STORE_MUTATION)                 \
    X(artifacts_get, "dse/artifacts:getArtifact", STORE_QUERY)                    \
    X(artifacts_list, "dse/artifacts:listArtifacts", STORE_QUERY)                 \
    X(active_get, "dse/active:getActive", STORE_QUERY)                            \
    X(active_set, "dse/active:setActive", STORE_MUTATION)                         \
    X(active_clear, "dse/active:clearActive", STORE_MUTATION)                     \
    X(active_rollback, "dse/active:rollbackActive", STORE_MUTATION)               \
    X(active_history, "dse/active:listActiveHistory", STORE_QUERY)                \
    X(canary_get, "dse/canary:getCanary", STORE_QUERY)                            \
    X(canary_start, "dse/canary:startCanary", STORE_MUTATION)                     \
    X(canary_stop, "dse/canary:stopCanary", STORE_MUTATION)                       \
    X(canary_history, "dse/canary:listCanaryHistory", STORE_QUERY)                \
    X(examples_put, "dse/examples:putExample", STORE_MUTATION)                    \
    X(examples_get, "dse/examples:getExample", STORE_QUERY)                       \
    X(examples_list, "dse/examples:listExamples", STORE_QUERY)                    \
    X(compile_put, "dse/compileReports:putReport", STORE_MUTATION)               \
    X(compile_get, "dse/compileReports:getReport", STORE_QUERY)                   \
    X(compile_list, "dse/compileReports:listReports", STORE_QUERY)                \
    X(eval_put, "dse/evalReports:putReport", STORE_MUTATION)                      \
    X(eval_get, "dse/evalReports:getReport", STORE_QUERY)                         \
    X(eval_list, "dse/evalReports:listReports", STORE_QUERY)                      \
    X(receipts_record, "dse/receipts:recordPredictReceipt", STORE_MUTATION)       \
    X(receipts_get, "dse/receipts:getPredictReceiptByReceiptId", STORE_QUERY)     \
    X(receipts_get_admin, "dse/receipts:getPredictReceiptByReceiptIdAdmin", STORE_QUERY) \
    X(receipts_list_admin, "dse/receipts:listPredictReceiptsBySignatureIdAdmin", STORE_QUERY) \
    X(blobs_put, "dse/blobs:putText", STORE_MUTATION)                             \
    X(blobs_get, "dse/blobs:getText", STORE_QUERY)                                \
    X(blobs_get_admin, "dse/blobs:getTextAdmin", STORE_QUERY)                     \
    X(var_get, "dse/varSpace:getVar", STORE_QUERY)                                \
    X(var_put_json, "dse/varSpace:putJson", STORE_MUTATION)                       \
    X(var_put_blob, "dse/varSpace:putBlob", STORE_MUTATION)                       \
    X(var_del, "dse/varSpace:del", STORE_MUTATION)                                \
    X(var_list, "dse/varSpace:list", STORE_QUERY)                                 \
    X(runs_start, "dse/opsRuns:startRun", STORE_MUTATION)                         \
    X(runs_event, "dse/opsRuns:appendEvent", STORE_MUTATION)                      \
    X(runs_finish, "dse/opsRuns:finishRun", STORE_MUTATION)                       \
    X(runs_list, "dse/opsRuns:listRuns", STORE_QUERY)                             \
    X(runs_get, "dse/opsRuns:getRun", STORE_QUERY)                                \
    X(runs_events, "dse/opsRuns:listRunEvents", STORE_QUERY)                      \
    X(x_info, "dsex/meta:info", STORE_QUERY)                                      \
    X(x_changes, "dsex/meta:changeCounter", STORE_QUERY)                          \
    X(x_sig_put, "dsex/catalog:putSignature", STORE_MUTATION)                     \
    X(x_sig_get, "dsex/catalog:getSignature", STORE_QUERY)                        \
    X(x_sig_list, "dsex/catalog:listSignatures", STORE_QUERY)                     \
    X(x_sig_stats, "dsex/stats:signatureStats", STORE_QUERY)                      \
    X(x_receipts_page, "dsex/receipts:page", STORE_QUERY)                         \
    X(x_receipts_batch, "dsex/receipts:recordBatch", STORE_MUTATION)              \
    X(x_examples_page, "dsex/examples:page", STORE_QUERY)                         \
    X(x_examples_import, "dsex/examples:importBatch", STORE_MUTATION)             \
    X(x_examples_delete, "dsex/examples:deleteExample", STORE_MUTATION)           \
    X(x_examples_counts, "dsex/examples:counts", STORE_QUERY)                     \
    X(x_events_page, "dsex/opsRuns:eventsPage", STORE_QUERY)                      \
    X(x_lm_get, "dsex/lmCache:get", STORE_QUERY)                                  \
    X(x_lm_put, "dsex/lmCache:put", STORE_MUTATION)

enum store_op {
#define STORE_X_ENUM(id, path, kind) STORE_OP_##id,
    STORE_OPS(STORE_X_ENUM)
#undef STORE_X_ENUM
    STORE_OP__COUNT
};

struct store;

/* One operation: args is a JSON object (never NULL when called through
 * store_call); *out receives the value. */
typedef int store_fn(struct store *st, const cJSON *args, cJSON **out, struct dse_err *err);

struct store_ops {
    const char *backend;            /* "sqlite" or "remote" */
    store_fn *fn[STORE_OP__COUNT];  /* indexed by enum store_op; NULL = unsupported */
    /* Cheap change detection for live screens: returns a value that differs
     * after any committed change by anyone (0 on error).  SQLite combines
     * PRAGMA data_version with this connection's own commits; remote polls
     * dsex/meta:changeCounter. */
    uint64_t (*poll_changes)(struct store *st);
    /* Release back-end state (st->impl); must not free st itself. */
    void (*close)(struct store *st);
};

struct store {
    const struct store_ops *ops;
    void *impl;          /* back-end state */
    char desc[512];      /* "sqlite:/path/to/dse.db" or "remote:https://host" */
    char actor[128];     /* actorUserId for history rows; "" = none */
    bool read_only;      /* store_call refuses mutations with code "read_only" */
    /* A remote server that listed no dsex/ extension when the store was
     * opened: a plain deployment of the reference functions, where dse
     * emulates what it can (store_remote.c) and artifacts must be ones the
     * reference runtime renders (compat.h). */
    bool plain_reference;
    /* store_call holds this for the duration of an operation, so one handle
     * may be shared by threads (e.g. compile workers and the LM cache).
     * Servers give each worker thread its own handle instead. */
    pthread_mutex_t lock;
};

/* For back ends: initialise the common fields (lock, desc, read_only from
 * flags).  store_close() destroys the lock after ops->close ran. */
void store_base_init(struct store *st, const struct store_ops *ops, void *impl,
                     const char *desc, unsigned flags);

struct store_op_info {
    enum store_op op;
    const char *name; /* "active_get" */
    const char *path; /* "dse/active:getActive" */
    enum store_kind kind;
};

/* Open flags. */
enum {
    STORE_READ_ONLY = 1 << 0, /* open read-only: no migration, mutations refused */
    STORE_NO_CREATE = 1 << 1, /* fail with "store_not_found" if the file is absent */
    /* Remote: a screen waits on every call (the console).  A request that
     * moves no byte for 2 s is given up, and after such a wait calls fail
     * at once with "remote_unreachable" until a back-off (2 s, doubling to
     * 15 s) has passed; then one call tries again.  So a hung server costs
     * the screen at most 2 s per back-off instead of the full timeout on
     * every call.  A refused connection fails fast anyway: no back-off. */
    STORE_INTERACTIVE = 1 << 2,
};

/* SQLite back end (store_sqlite.c).  Creates the file and its directory when
 * absent (unless STORE_NO_CREATE), enables WAL and busy_timeout, applies
 * forward migrations in one transaction.  A database whose user_version is
 * newer than this build knows is refused (code "schema_too_new") and never
 * modified.  path ":memory:" works for tests. */
struct store *store_open_sqlite(const char *path, unsigned flags, struct dse_err *err);
/* Remote back end (store_remote.c).  token may be NULL. */
struct store *store_open_remote(const char *url, const char *token, unsigned flags,
                                struct dse_err *err);
void store_close(struct store *st);

/* Schema version this build writes (PRAGMA user_version). */
int store_schema_version(void);

/* Dispatch one operation.  Refuses mutations on a read-only store (code
 * "read_only"), unsupported operations ("unsupported"), and mutations with
 * an argument nested deeper than JSON_MAX_VALUE_DEPTH (900; "invalid_input"
 * naming the argument), so every stored value reads back inside a reply.
 * args NULL means {}.  On success *out is set when out != NULL. */
int store_call(struct store *st, enum store_op op, const cJSON *args, cJSON **out,
               struct dse_err *err);
/* Same, by function path (for the server). NULL info if unknown. */
const struct store_op_info *store_op_by_path(const char *path);
const struct store_op_info *store_op_info(enum store_op op);
/* 1 if the store answers this operation (remote: the server listed it). */
int store_has_op(struct store *st, enum store_op op);
uint64_t store_poll_changes(struct store *st);
void store_set_actor(struct store *st, const char *actor);

/* ---- argument helpers for back ends (store.c) ----
 * Each returns 0 or -1 with err "invalid_input: <name> ...". */
int store_arg_str(const cJSON *args, const char *name, bool required, size_t max_len,
                  const char **out, struct dse_err *err);
/* Trimmed copy into buf; required means non-empty after trimming. */
int store_arg_trimmed(const cJSON *args, const char *name, bool required, char *buf,
                      size_t cap, struct dse_err *err);
int store_arg_num(const cJSON *args, const char *name, bool required, double *out,
                  bool *present, struct dse_err *err);
/* Reference limit rule: absent/non-finite -> def; else floor, clamp [0, max]. */
int store_arg_limit(const cJSON *args, const char *name, int def, int max);
const cJSON *store_arg(const cJSON *args, const char *name); /* NULL if absent */

/* The buckets of x_examples_counts.splits, in this order; the slot of an
 * example's split ("none" for an absent or unknown one). */
#define STORE_SPLIT_SLOTS 5
extern const char *const store_split_slots[STORE_SPLIT_SLOTS];
int store_split_slot(const char *split);

/* ---- small typed conveniences over store_call (store.c) ----
 * Each returns 0 / -1 like an operation. */
/* compiled_id of the active pointer into out ("" when none). */
int store_active_id(struct store *st, const char *sig, char *out, size_t cap,
                    struct dse_err *err);
/* The artifact JSON (owned by caller) or NULL with err "artifact_not_found". */
cJSON *store_artifact(struct store *st, const char *sig, const char *compiled_id,
                      struct dse_err *err);
/* The catalog signature JSON or NULL with err "unknown_signature".  On a
 * plain reference deployment the remote back end answers from the built-in
 * catalog (catalog_builtin). */
cJSON *store_signature(struct store *st, const char *sig, struct dse_err *err);
/* The canary row (caller frees) or NULL when none; -1 via err on failure
 * (then *failed is set). */
cJSON *store_canary(struct store *st, const char *sig, int *failed, struct dse_err *err);

#endif
