/* blobstore: the text blobs and the variable space an RLM run works in
 * (reference dse-spec.md §6.3, the VarSpace limits of §9.5).
 *
 * Two back ends behind one handle:
 *   memory  blobs and vars live in the handle (predict_run: eval, compile,
 *           tests).  Nothing is persisted.
 *   store   blobs go to dse/blobs:putText|getText and vars to dse/varSpace:*,
 *           scoped to (threadId, runId) of the caller's run (predict_live).
 *
 * BlobRef = {id, hash, size, mime?}: id = hash = "sha256:" + hex of the
 * text's UTF-8 bytes, size = byte count.  Equal texts are one blob.
 *
 * Variable space: names are trimmed, 1..128 characters; at most 200
 * variables per handle (store: per run); a JSON value's canonical form is at
 * most 50,000 characters.  A var is {_tag:"Json", value, approxChars} or
 * {_tag:"Blob", blob: BlobRef}.  Lists come in localeCompare order of name.
 *
 * Errors: code "invalid_input" for a bad name/value or a limit, the store's
 * code for store failures.  The RLM kernel wraps them into RlmKernelError.
 *
 * Not thread safe: one handle per predict call. */
#ifndef DSE_BLOBSTORE_H
#define DSE_BLOBSTORE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct store;
struct blobstore;

#define BLOBSTORE_VAR_NAME_MAX 128
#define BLOBSTORE_VAR_MAX_COUNT 200
#define BLOBSTORE_VAR_VALUE_MAX_CHARS 50000

struct blobstore *blobstore_new_mem(void);
/* thread_id and run_id are copied.  st must outlive the handle. */
struct blobstore *blobstore_new_store(struct store *st, const char *thread_id, const char *run_id);
void blobstore_free(struct blobstore *bs);
/* 1 for the store back end. */
bool blobstore_is_persistent(const struct blobstore *bs);

/* 1 if v has the BlobRef shape: string id and hash, finite number size >= 0,
 * optional string mime. */
bool blobref_is(const cJSON *v);
/* The BlobRef of a text (not stored). */
cJSON *blobref_of(const char *text, size_t len, const char *mime);

/* Store a text; *ref (when non-NULL) receives its BlobRef (caller frees). */
int blobstore_put(struct blobstore *bs, const char *text, size_t len, const char *mime,
                  cJSON **ref, struct dse_err *err);
/* Read a text: 0 with *text malloc'd (NUL-terminated, *len bytes), or 0 with
 * *text NULL when the blob is absent; -1 on store failure. */
int blobstore_get(struct blobstore *bs, const char *id, char **text, size_t *len,
                  struct dse_err *err);
/* Seed blobs from [{id?, text, mime?}] (dataset meta.blobs).  A given id
 * must be the text's hash. */
int blobstore_seed(struct blobstore *bs, const cJSON *blobs, struct dse_err *err);

/* Variables.  var_get: *out = NULL when absent, else the var (caller frees). */
int blobstore_var_get(struct blobstore *bs, const char *name, cJSON **out, struct dse_err *err);
int blobstore_var_put_json(struct blobstore *bs, const char *name, const cJSON *value,
                           struct dse_err *err);
int blobstore_var_put_blob(struct blobstore *bs, const char *name, const cJSON *blobref,
                           struct dse_err *err);
int blobstore_var_del(struct blobstore *bs, const char *name, bool *existed,
                      struct dse_err *err);
/* [{name, kind:"json", approxChars} | {name, kind:"blob", blob}] */
int blobstore_var_list(struct blobstore *bs, cJSON **out, struct dse_err *err);

#endif
