/* fuzz_dataset: the JSONL import path (dataset_parse_jsonl) against the
 * SelectTool signature.  Either the rows come back (then each must build a
 * dataset: the import and the model agree) or an "invalid_input" error
 * whose message names a line and is terminal-safe. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/hostile_corpus.h"
#include "catalog.h"
#include "dataset.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cJSON *catalog;
static const cJSON *sig;

static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_dataset: invariant broken: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!catalog) {
        struct dse_err err;
        catalog = catalog_load(NULL, &err);
        must(catalog != NULL, "catalog_load");
        const cJSON *s;
        cJSON_ArrayForEach(s, catalog) if (strstr(catalog_id(s), "SelectTool")) sig = s;
        must(sig != NULL, "SelectTool in the catalog");
    }
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    struct dse_err err = {{0}, {0}};
    cJSON *rows = dataset_parse_jsonl(sig, buf, size, &err);
    if (!rows) {
        must(err.code[0] != 0, "error without a code");
        must(hostile_check(err.msg, strlen(err.msg), 0) == NULL, "unsafe error message");
    } else {
        must(cJSON_IsArray(rows), "rows is an array");
        struct dse_err e2;
        struct dataset *d = dataset_build("fuzz", sig, rows, &e2);
        must(d != NULL, "parsed rows do not build a dataset");
        must((int)d->n == cJSON_GetArraySize(rows), "dataset lost rows");
        /* export lines parse back */
        const cJSON *r;
        cJSON_ArrayForEach(r, rows)
        {
            char *line = dataset_row_jsonl(r);
            cJSON *back = json_parse(line, strlen(line), 0, &e2);
            must(back != NULL, "exported line does not parse");
            cJSON_Delete(back);
            free(line);
        }
        dataset_free(d);
        cJSON_Delete(rows);
    }
    free(buf);
    return 0;
}
