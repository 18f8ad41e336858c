/* Commands over the catalog and datasets: init, signatures, examples,
 * dataset.  Import/export/hash logic lives in dataset.c; this file is only
 * argument handling and printing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "cli.h"
#include "cli_commands.h"
#include "dataset.h"
#include "hash.h"
#include "json.h"
#include "store.h"
#include "util.h"

int cmd_init(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] = "dse init [--catalog DIR]";
    const char *dir = NULL;
    struct cli_opt opts[] = {
        {"catalog", 0, CLI_STR, &dir, "DIR", "load signature files from DIR instead of the built-in catalog"},
        {0}};
    int n = cli_parse(ctx, argc, argv, opts, usage,
                      "Create the store (or migrate it to this version) and load the signature\n"
                      "catalog into it.  Safe to run again: unchanged signatures are left alone.",
                      NULL);
    if (n < 0)
        return -n;
    if (n > 0)
        return cli_usage_error(usage, "unexpected argument");
    struct store *st = cli_store(ctx);
    if (!st)
        return EXIT_REFUSED;
    struct dse_err err = {0};
    int added = 0, changed = 0;
    if (catalog_install(st, dir, &added, &changed, &err) < 0)
        return cli_report(&err);
    cJSON *info = NULL;
    if (store_call(st, STORE_OP_x_info, NULL, &info, &err) < 0)
        return cli_report(&err);
    cJSON *list = NULL;
    if (store_call(st, STORE_OP_x_sig_list, NULL, &list, &err) < 0) {
        cJSON_Delete(info);
        return cli_report(&err);
    }
    int total = cJSON_GetArraySize(json_get(list, "signatures"));
    if (ctx->json) {
        cJSON *o = json_obj();
        json_set_bool(o, "ok", true);
        json_set_str(o, "store", st->desc);
        json_set_num(o, "schemaVersion", json_num(info, "schemaVersion", 0));
        json_set_num(o, "signatures", total);
        json_set_num(o, "added", added);
        json_set_num(o, "changed", changed);
        cli_print_json(o);
        cJSON_Delete(o);
    } else {
        printf("store:     %s (schema v%d)\n", cli_cell(st->desc, 0),
               (int)json_num(info, "schemaVersion", 0));
        printf("catalog:   %d signatures (%d added, %d changed)\n", total, added, changed);
    }
    cJSON_Delete(list);
    cJSON_Delete(info);
    return 0;
}

/* One line per signature with the figures an operator checks first. */
int cmd_signatures(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] = "dse signatures [--window-min M]";
    long long window = 5;
    struct cli_opt opts[] = {
        {"window-min", 0, CLI_INT, &window, "M", "window for receipts/min and error rate (default 5)"},
        {0}};
    int n = cli_parse(ctx, argc, argv, opts, usage,
                      "List the signatures in the store with their active pointer, canary,\n"
                      "last compile and recent receipts.",
                      NULL);
    if (n < 0)
        return -n;
    if (n > 0)
        return cli_usage_error(usage, "unexpected argument '%s'", ctx->positional[0]);
    if (window < 1)
        window = 1;
    cJSON *list = NULL;
    int rc = cli_call(ctx, STORE_OP_x_sig_list, NULL, &list);
    if (rc)
        return rc;
    struct store *st = ctx->st;
    int64_t now = util_now_ms();
    cJSON *rows = json_arr();
    const cJSON *s;
    cJSON_ArrayForEach(s, json_get(list, "signatures"))
    {
        const char *id = json_str(s, "signatureId", NULL);
        if (!id)
            continue;
        struct dse_err err = {0};
        cJSON *row = json_obj();
        json_set_str(row, "signatureId", id);
        char active[HASH_ID_LEN + 8] = "";
        if (store_active_id(st, id, active, sizeof active, &err) < 0) {
            cJSON_Delete(row);
            cJSON_Delete(rows);
            cJSON_Delete(list);
            return cli_report(&err);
        }
        if (active[0])
            json_set_str(row, "active", active);
        else
            json_set_null(row, "active");
        int failed = 0;
        cJSON *canary = store_canary(st, id, &failed, &err);
        if (canary) {
            json_set(row, "canary", canary);
        } else {
            json_set_null(row, "canary");
        }
        cJSON *args = json_obj(), *stats = NULL;
        json_set_str(args, "signatureId", id);
        json_set_num(args, "sinceMs", (double)(now - window * 60000));
        if (store_call(st, STORE_OP_x_sig_stats, args, &stats, &err) == 0) {
            json_set(row, "stats", stats);
        }
        cJSON_Delete(args);
        cJSON_AddItemToArray(rows, row);
    }
    if (ctx->json) {
        cli_print_json(rows);
    } else {
        int w = 9;
        const cJSON *row;
        cJSON_ArrayForEach(row, rows)
        {
            int len = (int)util_utf8_len(json_str(row, "signatureId", ""),
                                         strlen(json_str(row, "signatureId", "")));
            if (len > w)
                w = len > 80 ? 80 : len;
        }
        printf("%-*s  %-19s  %-16s  %-8s  %7s  %6s\n", w, "SIGNATURE", "ACTIVE", "CANARY",
               "COMPILED", "RCPT/MIN", "ERR%");
        cJSON_ArrayForEach(row, rows)
        {
            char act[32] = "defaults", can[40] = "-", age[16] = "-", err_pct[16] = "-";
            const char *a = json_str(row, "active", NULL);
            if (a)
                hash_short(a, act, sizeof act, 12);
            const cJSON *c = json_get(row, "canary");
            if (c && cJSON_IsObject(c))
                snprintf(can, sizeof can, "%d%% %d/%d", (int)json_num(c, "rolloutPct", 0),
                         (int)json_num(c, "okCount", 0), (int)json_num(c, "errorCount", 0));
            const cJSON *st2 = json_get(row, "stats");
            double receipts = json_num(st2, "receipts", 0), errors = json_num(st2, "errors", 0);
            int64_t last_compile = json_int(st2, "lastCompileAtMs", -1);
            if (last_compile >= 0)
                util_age(now - last_compile, age);
            if (receipts > 0)
                snprintf(err_pct, sizeof err_pct, "%.1f", 100.0 * errors / receipts);
            printf("%-*s  %-19s  %-16s  %-8s  %7.1f  %6s\n", w,
                   cli_cell(json_str(row, "signatureId", "?"), (unsigned)w), cli_cell(act, 0), can, age,
                   receipts / (double)window, err_pct);
        }
    }
    cJSON_Delete(rows);
    cJSON_Delete(list);
    return 0;
}

/* ---- examples ---- */

static const char examples_usage[] =
    "dse examples import FILE | export | list | put | review | show --signature ID [options]";

static int examples_import(struct cli_ctx *ctx, const char *sig, const char *file,
                           const char *source)
{
    struct dse_err err = {0};
    cJSON *s = store_signature(ctx->st, sig, &err);
    if (!s)
        return cli_report(&err);
    struct dataset_import_result res = {0};
    char *src = source ? xstrdup(source) : xasprintf("import:%s", file);
    int rc = dataset_import_file(ctx->st, s, file, src, &res, &err);
    free(src);
    cJSON_Delete(s);
    if (rc < 0) {
        char buf[600];
        fprintf(stderr, "dse: import of %s refused, nothing was written: %s\n", cli_cell(file, 0),
                dse_err_str(&err, buf, sizeof buf));
        return strcmp(err.code, "invalid_input") == 0 ? EXIT_REFUSED : cli_report(&err);
    }
    if (ctx->json) {
        cJSON *o = json_obj();
        json_set_bool(o, "ok", true);
        json_set_str(o, "signatureId", sig);
        json_set_num(o, "rows", res.rows);
        json_set_num(o, "inserted", res.inserted);
        json_set_num(o, "updated", res.updated);
        json_set_num(o, "total", res.total);
        cli_print_json(o);
        cJSON_Delete(o);
    } else {
        printf("imported %d rows into %s: %d inserted, %d updated, %d examples in total\n", res.rows,
               cli_cell(sig, 0), res.inserted, res.updated, res.total);
    }
    return 0;
}

static int examples_export(struct cli_ctx *ctx, const char *sig, const char *split,
                           const char *output)
{
    struct dse_err err = {0};
    FILE *out = stdout;
    char *tmp = NULL;
    if (output && strcmp(output, "-")) {
        /* Write to a temporary file and rename, so a failed export never
         * leaves a half-written file where the operator expects a dataset. */
        tmp = xasprintf("%s.tmp.%d", output, (int)getpid());
        out = fopen(tmp, "w");
        if (!out) {
            fprintf(stderr, "dse: cannot write %s: %s\n", cli_cell(tmp, 0), strerror(errno));
            free(tmp);
            return EXIT_REFUSED;
        }
    }
    size_t count = 0;
    int rc = dataset_export_jsonl(ctx->st, sig, split, out, &count, &err);
    if (tmp) {
        if (fclose(out) != 0 && rc == 0)
            rc = dse_fail(&err, "io_error", "cannot write %s: %s", output, strerror(errno));
        if (rc == 0 && rename(tmp, output) != 0)
            rc = dse_fail(&err, "io_error", "cannot rename to %s: %s", output, strerror(errno));
        if (rc < 0)
            unlink(tmp);
        free(tmp);
    } else {
        fflush(stdout);
    }
    if (rc < 0)
        return cli_report(&err);
    if (!ctx->quiet)
        fprintf(stderr, "exported %zu examples of %s\n", count, cli_cell(sig, 0));
    return 0;
}

static void print_example_rows(const cJSON *items)
{
    printf("%-52s  %-8s  %-40s  %s\n", "EXAMPLE", "SPLIT", "EXPECTED", "REVIEW");
    const cJSON *row;
    cJSON_ArrayForEach(row, items)
    {
        char *exp = json_canonical(json_get(row, "expectedJson"));
        const char *review = json_str(json_path(row, "meta.review"), "status", "-");
        printf("%-52s  %-8s  %-40s  %s\n", cli_cell(json_str(row, "exampleId", "?"), 52),
               cli_cell(json_str(row, "split", "-"), 8), cli_cell(exp, 40), cli_cell(review, 10));
        free(exp);
    }
}

static cJSON *parse_json_arg(const char *what, const char *arg, struct dse_err *err)
{
    if (arg[0] == '@') {
        size_t len;
        char *text = util_read_file(arg + 1, 16u << 20, &len);
        if (!text) {
            dse_fail(err, "invalid_input", "%s: cannot read %s: %s", what, arg + 1, strerror(errno));
            return NULL;
        }
        cJSON *v = json_parse(text, len, 0, err);
        free(text);
        if (!v)
            dse_fail(err, "invalid_input", "%s (%s): %s", what, arg + 1, err->msg);
        return v;
    }
    cJSON *v = json_parse(arg, strlen(arg), 0, err);
    if (!v)
        dse_fail(err, "invalid_input", "%s: %s", what, err->msg);
    return v;
}

/* `examples put` goes through the same row checks as an import (dataset
 * parse of a one-line JSONL document), then one putExample upsert. */
static int examples_put(struct cli_ctx *ctx, const char *sig, const char *id, const char *input,
                        const char *expected, const char *split, const char *tags,
                        const char *meta)
{
    if (!id || !input || !expected)
        return cli_usage_error(examples_usage, "put needs --id, --input and --expected");
    struct dse_err err = {0};
    cJSON *s = store_signature(ctx->st, sig, &err);
    if (!s)
        return cli_report(&err);
    cJSON *row = json_obj();
    json_set_str(row, "exampleId", id);
    cJSON *in = parse_json_arg("--input", input, &err), *exp = NULL;
    if (in)
        exp = parse_json_arg("--expected", expected, &err);
    if (!in || !exp) {
        cJSON_Delete(in);
        cJSON_Delete(row);
        cJSON_Delete(s);
        return cli_report(&err);
    }
    json_set(row, "inputJson", in);
    json_set(row, "expectedJson", exp);
    json_set_str(row, "split", split);
    if (meta) {
        cJSON *m = parse_json_arg("--meta", meta, &err);
        if (!m || !cJSON_IsObject(m)) {
            if (m)
                dse_fail(&err, "invalid_input", "--meta must be a JSON object");
            cJSON_Delete(m);
            cJSON_Delete(row);
            cJSON_Delete(s);
            return cli_report(&err);
        }
        json_set(row, "meta", m);
    }
    if (tags) {
        cJSON *arr = json_arr();
        char *copy = xstrdup(tags), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
            cJSON_AddItemToArray(arr, cJSON_CreateString(util_trim(t)));
        free(copy);
        json_set(row, "tags", arr);
    }
    char *line = json_canonical(row);
    cJSON_Delete(row);
    cJSON *rows = dataset_parse_jsonl(s, line, strlen(line), &err);
    free(line);
    cJSON_Delete(s);
    if (!rows)
        return cli_report(&err);
    cJSON *args = json_dup(cJSON_GetArrayItem(rows, 0));
    cJSON_Delete(rows);
    json_set_str(args, "signatureId", sig);
    if (!json_get(args, "source"))
        json_set_str(args, "source", "cli:examples put");
    cJSON *out = NULL;
    int rc = cli_call(ctx, STORE_OP_examples_put, args, &out);
    if (!rc) {
        if (ctx->json)
            cli_print_json(out);
        else
            printf("%s %s\n", json_bool(out, "existed", false) ? "updated" : "inserted", cli_cell(id, 0));
    }
    cJSON_Delete(out);
    return rc;
}

/* The labelling decision of the console's a/x keys: meta.review =
 * {status, atMs, by}; "none" removes it.  Everything else is kept. */
static int examples_review(struct cli_ctx *ctx, const char *sig, const char *id,
                           const char *status)
{
    if (!id || !status)
        return cli_usage_error(examples_usage, "review needs --id and --status");
    if (strcmp(status, "accepted") && strcmp(status, "rejected") && strcmp(status, "none"))
        return cli_usage_error(examples_usage,
                               "--status must be accepted, rejected or none, not '%s'", status);
    cJSON *args = json_obj(), *out = NULL;
    json_set_str(args, "signatureId", sig);
    json_set_str(args, "exampleId", id);
    int rc = cli_call(ctx, STORE_OP_examples_get, args, &out);
    if (rc)
        return rc;
    cJSON *ex = cJSON_DetachItemFromObjectCaseSensitive(out, "example");
    cJSON_Delete(out);
    if (!ex || !cJSON_IsObject(ex)) {
        cJSON_Delete(ex);
        fprintf(stderr, "dse: example_not_found: no example %s\n", cli_cell(id, 0));
        return EXIT_REFUSED;
    }
    /* putExample clears absent fields, so send the row back whole. */
    cJSON *put = json_obj();
    static const char *const keep[] = {"signatureId", "exampleId", "inputJson", "expectedJson",
                                       "split", "tags", "source", "meta"};
    for (size_t i = 0; i < ARRAY_LEN(keep); i++) {
        const cJSON *v = json_get(ex, keep[i]);
        if (v && !cJSON_IsNull(v))
            json_set_copy(put, keep[i], v);
    }
    cJSON_Delete(ex);
    cJSON *meta = cJSON_DetachItemFromObjectCaseSensitive(put, "meta");
    if (!cJSON_IsObject(meta)) {
        cJSON_Delete(meta);
        meta = json_obj();
    }
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "review");
    if (strcmp(status, "none")) {
        cJSON *rev = json_obj();
        json_set_str(rev, "status", status);
        json_set_num(rev, "atMs", (double)util_now_ms());
        if (ctx->st->actor[0])
            json_set_str(rev, "by", ctx->st->actor);
        json_set(meta, "review", rev);
    }
    if (meta->child)
        json_set(put, "meta", meta);
    else
        cJSON_Delete(meta);
    rc = cli_call(ctx, STORE_OP_examples_put, put, &out);
    if (!rc) {
        if (ctx->json)
            cli_print_json(out);
        else
            printf("%s: review %s\n", cli_cell(id, 0), status);
    }
    cJSON_Delete(out);
    return rc;
}

int cmd_examples(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *sig_name = NULL, *split = NULL, *output = NULL, *cursor = NULL, *id = NULL,
               *input = NULL, *expected = NULL, *tags = NULL, *source = NULL, *meta = NULL,
               *status = NULL;
    long long limit = 50;
    struct cli_opt opts[] = {
        {"signature", 's', CLI_STR, &sig_name, "ID", "signature id, key or unique suffix"},
        {"split", 0, CLI_STR, &split, "S", "train, holdout, dev or test (export/list/put)"},
        {"output", 'o', CLI_STR, &output, "FILE", "export: write here (atomically) instead of stdout"},
        {"limit", 'n', CLI_INT, &limit, "N", "list: rows per page (default 50, max 500)"},
        {"cursor", 0, CLI_STR, &cursor, "C", "list: continue after this cursor"},
        {"id", 0, CLI_STR, &id, "ID", "put/show: the example id"},
        {"input", 0, CLI_STR, &input, "JSON|@FILE", "put: input JSON"},
        {"expected", 0, CLI_STR, &expected, "JSON|@FILE", "put: expected output JSON"},
        {"tags", 0, CLI_STR, &tags, "A,B", "put: comma-separated tags"},
        {"meta", 0, CLI_STR, &meta, "JSON|@FILE", "put: the example's meta object"},
        {"status", 0, CLI_STR, &status, "S", "review: accepted, rejected or none"},
        {"source", 0, CLI_STR, &source, "TEXT", "import: recorded as each row's source"},
        {0}};
    char **pos;
    int n = cli_parse(ctx, argc, argv, opts, examples_usage,
                      "Manage a signature's labelled examples.\n"
                      "  import FILE  JSONL rows {exampleId, inputJson, expectedJson, split?, tags?};\n"
                      "               every row is checked against the signature's schemas and the\n"
                      "               import is all rows or none (a bad row is named by line)\n"
                      "  export       the same JSONL format, by exampleId (re-import gives the\n"
                      "               same datasetHash)\n"
                      "  list         one page of examples by exampleId\n"
                      "  put          insert or update one example (absent fields are cleared)\n"
                      "  review       set the review status (meta.review) of one example\n"
                      "  show         one example as JSON",
                      &pos);
    if (n < 0)
        return -n;
    if (n < 1)
        return cli_usage_error(examples_usage, "missing subcommand (import, export, list, put, show)");
    const char *verb = pos[0];
    if (split && strcmp(split, "train") && strcmp(split, "holdout") && strcmp(split, "dev") &&
        strcmp(split, "test"))
        return cli_usage_error(examples_usage, "--split must be train, holdout, dev or test, not '%s'",
                               split);
    int rc = 0;
    if (strcmp(verb, "import") && strcmp(verb, "export") && strcmp(verb, "list") &&
        strcmp(verb, "put") && strcmp(verb, "show") && strcmp(verb, "review"))
        return cli_usage_error(examples_usage, "unknown subcommand '%s'", verb);
    if (!strcmp(verb, "import") && n != 2)
        return cli_usage_error(examples_usage, "import needs exactly one FILE (use - for stdin)");
    char *sig = cli_signature(ctx, sig_name, examples_usage, &rc);
    if (!sig)
        return rc;
    if (!strcmp(verb, "import")) {
        rc = examples_import(ctx, sig, pos[1], source);
    } else if (!strcmp(verb, "export")) {
        rc = examples_export(ctx, sig, split, output);
    } else if (!strcmp(verb, "put")) {
        rc = examples_put(ctx, sig, id, input, expected, split, tags, meta);
    } else if (!strcmp(verb, "review")) {
        rc = examples_review(ctx, sig, id ? id : (n > 1 ? pos[1] : NULL), status);
    } else if (!strcmp(verb, "show")) {
        const char *eid = id ? id : (n > 1 ? pos[1] : NULL);
        if (!eid) {
            free(sig);
            return cli_usage_error(examples_usage, "show needs --id");
        }
        cJSON *args = json_obj(), *out = NULL;
        json_set_str(args, "signatureId", sig);
        json_set_str(args, "exampleId", eid);
        rc = cli_call(ctx, STORE_OP_examples_get, args, &out);
        if (!rc) {
            const cJSON *ex = json_get(out, "example");
            if (!ex || cJSON_IsNull(ex)) {
                fprintf(stderr, "dse: example_not_found: no example %s\n", cli_cell(eid, 0));
                rc = EXIT_REFUSED;
            } else {
                cli_print_json(ex);
            }
        }
        cJSON_Delete(out);
    } else { /* list */
        cJSON *args = json_obj(), *out = NULL;
        json_set_str(args, "signatureId", sig);
        json_set_str(args, "split", split);
        json_set_str(args, "cursor", cursor);
        json_set_num(args, "limit", (double)limit);
        rc = cli_call(ctx, STORE_OP_x_examples_page, args, &out);
        if (!rc) {
            if (ctx->json) {
                cli_print_json(out);
            } else {
                print_example_rows(json_get(out, "items"));
                const char *next = json_str(out, "nextCursor", NULL);
                if (next)
                    printf("next: %s\n", cli_cell(next, 0));
            }
        }
        cJSON_Delete(out);
    }
    free(sig);
    return rc;
}

/* ---- dataset ---- */

int cmd_dataset(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] = "dse dataset hash --signature ID [--split S]";
    const char *sig_name = NULL, *split = NULL;
    struct cli_opt opts[] = {
        {"signature", 's', CLI_STR, &sig_name, "ID", "signature id, key or unique suffix"},
        {"split", 0, CLI_STR, &split, "S", "hash only this split (train, holdout/dev, test)"},
        {0}};
    char **pos;
    int n = cli_parse(ctx, argc, argv, opts, usage,
                      "Print the datasetHash of a signature's examples, computed exactly as the\n"
                      "reference does (first 500 examples by exampleId, decoded with the\n"
                      "signature's schemas, meta excluded).  With --split, the hash of that subset\n"
                      "and its selectedExampleIdsHash.",
                      &pos);
    if (n < 0)
        return -n;
    if (n != 1 || strcmp(pos[0], "hash"))
        return cli_usage_error(usage, "expected the subcommand 'hash'");
    int rc = 0;
    char *sig = cli_signature(ctx, sig_name, usage, &rc);
    if (!sig)
        return rc;
    struct dse_err err = {0};
    cJSON *s = store_signature(ctx->st, sig, &err);
    struct dataset *d = s ? dataset_load(ctx->st, s, &err) : NULL;
    if (!d) {
        cJSON_Delete(s);
        free(sig);
        return cli_report(&err);
    }
    struct dataset *sub = split ? dataset_split(d, split) : NULL;
    const struct dataset *show = sub ? sub : d;
    if (ctx->json) {
        cJSON *o = json_obj();
        json_set_bool(o, "ok", true);
        json_set_str(o, "signatureId", sig);
        json_set_str(o, "datasetId", show->id);
        json_set_str(o, "split", split);
        json_set_num(o, "n", (double)show->n);
        json_set_str(o, "datasetHash", show->hash);
        json_set_str(o, "selectedExampleIdsHash", show->ids_hash);
        cli_print_json(o);
        cJSON_Delete(o);
    } else if (split) {
        printf("%s\n", show->hash);
        if (!ctx->quiet)
            fprintf(stderr, "%zu %s examples; selectedExampleIdsHash %s\n", show->n, split,
                    show->ids_hash);
    } else {
        printf("%s\n", show->hash);
        if (!ctx->quiet)
            fprintf(stderr, "%zu examples in %s\n", show->n, cli_cell(show->id, 0));
    }
    if (d->n >= DATASET_LOAD_LIMIT && !ctx->quiet)
        fprintf(stderr, "note: only the first %d examples by exampleId are part of the hash "
                        "(as in the reference)\n", DATASET_LOAD_LIMIT);
    dataset_free(sub);
    dataset_free(d);
    cJSON_Delete(s);
    free(sig);
    return 0;
}
