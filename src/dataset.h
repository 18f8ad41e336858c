/* dataset: a signature's labelled examples.
 *
 * Three jobs:
 *  1. JSONL import.  One row per line in the reference's row format
 *       {exampleId, inputJson, expectedJson, split?, tags?, source?, meta?}
 *     Every line is parsed with json_parse (DATASET_LINE_MAX bytes at most);
 *     blank lines are skipped; each row is checked (exampleId trimmed,
 *     1..200 characters, unique in the file; split one of train, dev,
 *     holdout, test; tags trimmed, empty ones dropped, each cut to 120
 *     characters, at most 50 kept; inputJson decoded with the signature's
 *     input schema, expectedJson with its output schema).  Errors name the
 *     line: "line 7: expectedJson: $.toolName: expected one of ...".  Then
 *     ONE STORE_OP_x_examples_import call writes all rows or none.  The rows
 *     are stored as written (inputJson/expectedJson not rewritten), so an
 *     import of the reference fixture hashes like the reference.
 *  2. JSONL export in the same row format, ordered by exampleId (collate
 *     order), paged with STORE_OP_x_examples_page so it streams any size.
 *     Re-importing an export gives the same datasetHash.
 *  3. The reference's dataset model (dse-spec.md §5.2): up to 500 rows by
 *     exampleId, input/expected decoded (unknown keys dropped), split mapped
 *     (dev -> holdout; train, holdout, test kept; anything else absent),
 *     tags trimmed + sorted by UTF-16 units + deduplicated (empty -> absent),
 *     sorted by exampleId with collate_cmp, and
 *       datasetHash = sha256 canonical {format:"openagents.dse.dataset",
 *         formatVersion:1, datasetId, examples:[{exampleId, split?, tags?,
 *         input, expected}]}            (meta is not part of it)
 *       selectedExampleIdsHash = sha256 canonical {exampleIds:[...]}
 *     Subsets (a split, train/holdout per the compile rules, or any index
 *     selection) are datasets of their own with their own hashes and the
 *     same datasetId.
 *
 * Ownership: a struct dataset owns everything it points to; subsets are
 * deep copies, so any of them may be freed in any order. */
#ifndef DSE_DATASET_H
#define DSE_DATASET_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"
#include "hash.h"

struct store;

#define DATASET_FORMAT "openagents.dse.dataset"
#define DATASET_LOAD_LIMIT 500          /* rows the model loads (listExamples max) */
#define DATASET_LINE_MAX (8u << 20)     /* bytes per JSONL line */
#define DATASET_FILE_MAX (512u << 20)   /* bytes per JSONL file (dataset_import_file) */
#define DATASET_ID_MAX_CHARS 200
#define DATASET_TAG_MAX_CHARS 120
#define DATASET_TAGS_MAX 50

/* ---- the model ---- */

struct dataset_example {
    char *id;          /* trimmed exampleId */
    const char *split; /* "train", "holdout", "test" (static strings) or NULL */
    char **tags;       /* sorted, unique; NULL when none */
    size_t ntags;
    cJSON *input;      /* decoded with the input schema */
    cJSON *expected;   /* decoded with the output schema */
    cJSON *meta;       /* as stored, or NULL */
};

struct dataset {
    char *id;                              /* datasetId */
    struct dataset_example *ex;            /* sorted by id (collate_cmp) */
    size_t n;
    char hash[HASH_ID_LEN + 1];            /* datasetHash of exactly these examples */
    char ids_hash[HASH_ID_LEN + 1];        /* selectedExampleIdsHash of their ids */
};

/* Build from store rows (the value of examples_list: objects with
 * exampleId, inputJson, expectedJson, split, tags, meta; null = absent).
 * sig supplies the schemas.  Errors (code "invalid_dataset"): an empty id,
 * a duplicate id, a row that does not decode ("example X: expectedJson:
 * $.toolName: ...").  Returns NULL with err on failure. */
struct dataset *dataset_build(const char *dataset_id, const cJSON *sig, const cJSON *rows,
                              struct dse_err *err);
/* listExamples(limit 500) for the signature, then dataset_build with
 * datasetId catalog_dataset_id(signatureId). */
struct dataset *dataset_load(struct store *st, const cJSON *sig, struct dse_err *err);
void dataset_free(struct dataset *d);

/* The examples whose (mapped) split equals split; "dev" means "holdout".
 * May be empty (n == 0). */
struct dataset *dataset_split(const struct dataset *d, const char *split);
/* Compile's rules: no example has a split -> everything; else the train
 * examples, or everything when there are none. */
struct dataset *dataset_train(const struct dataset *d);
/* No split anywhere -> everything; else the holdout examples, or the train
 * set (dataset_train) when there are none. */
struct dataset *dataset_holdout(const struct dataset *d);
/* The examples at the given indices (any order, repeats ignored), kept in
 * dataset order: for sampling. */
struct dataset *dataset_select(const struct dataset *d, const size_t *idx, size_t n);
/* Index of an example id, or -1. */
long dataset_find(const struct dataset *d, const char *example_id);
/* true when at least one example has a split. */
bool dataset_has_splits(const struct dataset *d);
/* The canonical document datasetHash is taken over (caller frees). */
cJSON *dataset_hash_doc(const struct dataset *d);

/* ---- import ---- */

struct dataset_import_result {
    int rows;      /* rows parsed from the file */
    int inserted;  /* from the store */
    int updated;
    int total;     /* examples of the signature after the import */
};

/* Parse and check JSONL text against sig without touching a store.  Returns
 * the rows array exactly as it will be sent to x_examples_import, or NULL
 * with err (code "invalid_input", "line N: ...").  When several lines are
 * bad the message names the first and counts the rest. */
cJSON *dataset_parse_jsonl(const cJSON *sig, const char *text, size_t len, struct dse_err *err);
/* Parse, check, and import in one store call (all rows or none).  source
 * (may be NULL) is recorded on rows that carry none. */
int dataset_import_jsonl(struct store *st, const cJSON *sig, const char *text, size_t len,
                         const char *source, struct dataset_import_result *res,
                         struct dse_err *err);
/* Same, reading path ("-" = stdin) up to DATASET_FILE_MAX bytes. */
int dataset_import_file(struct store *st, const cJSON *sig, const char *path, const char *source,
                        struct dataset_import_result *res, struct dse_err *err);

/* ---- export ---- */

/* One JSONL line (no newline) for a store row: keys in the row-format order,
 * values in canonical JSON, absent/null fields omitted.  Caller frees. */
char *dataset_row_jsonl(const cJSON *row);
/* Write every example of signature_id (only those whose stored split equals
 * split, when split != NULL) as JSONL to out, by exampleId, paging 500 rows
 * at a time.  *count (may be NULL) receives the rows written. */
int dataset_export_jsonl(struct store *st, const char *signature_id, const char *split, FILE *out,
                         size_t *count, struct dse_err *err);

#endif
