/* Commands that read or move stored state directly: active pointer and
 * rollback, artifacts, receipts, blobs, ops runs.  Every value that came from
 * the store is printed through the sanitiser (cli_cell / cli_out), or as
 * terminal-safe JSON with --json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_commands.h"
#include "hash.h"
#include "json.h"
#include "store.h"
#include "util.h"

/* ---- small helpers ---- */

static const char *short_id(const char *id) { return cli_short_id(id, "-"); }

static const char *when(const cJSON *row, const char *key)
{
    static char bufs[4][32];
    static unsigned n;
    char *b = bufs[n++ % 4];
    int64_t ms = json_int(row, key, -1);
    if (ms < 0)
        return "-";
    util_short_time(ms, b);
    return b;
}

static cJSON *sig_args(const char *sig)
{
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", sig);
    return a;
}

/* Print --json output or nothing; returns whether it printed. */
static int maybe_json(struct cli_ctx *ctx, const cJSON *v)
{
    if (!ctx->json)
        return 0;
    cli_print_json(v);
    return 1;
}

/* ---- active ---- */

static const char active_usage[] =
    "dse active show|set|clear|rollback|history --signature ID [--compiled-id ID] "
    "[--reason R] [--limit N]";

static void print_active_history(const cJSON *hist)
{
    printf("%-16s  %-8s  %-40s  %-18s  %s\n", "TIME", "ACTION", "FROM -> TO", "ACTOR", "REASON");
    const cJSON *row;
    cJSON_ArrayForEach(row, hist)
    {
        char move[128];
        const char *from = json_str(row, "fromCompiledId", NULL);
        const char *to = json_str(row, "toCompiledId", NULL);
        snprintf(move, sizeof move, "%s -> %s", short_id(from),
                 to ? short_id(to) : "(cleared)");
        printf("%-16s  %-8s  %-40s  %-18s  %s\n", when(row, "createdAtMs"),
               cli_cell(json_str(row, "action", "?"), 8), move,
               cli_cell(json_str(row, "actorUserId", "-"), 18),
               cli_cell(json_str(row, "reason", ""), 80));
    }
}

int cmd_active(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *sig_name = NULL, *compiled = NULL, *reason = NULL;
    long long limit = 50;
    struct cli_opt opts[] = {
        {"signature", 's', CLI_STR, &sig_name, "ID", "signature id, key or unique suffix"},
        {"compiled-id", 0, CLI_STR, &compiled, "ID", "artifact to point at (set)"},
        {"reason", 0, CLI_STR, &reason, "TEXT", "recorded in the pointer history"},
        {"limit", 'n', CLI_INT, &limit, "N", "history rows (default 50, max 200)"},
        {0}};
    char **pos;
    int n = cli_parse(ctx, argc, argv, opts, active_usage,
                      "Show or move a signature's active pointer, or list its history.\n"
                      "  show      the pointer (default)\n"
                      "  set       point at --compiled-id (the artifact must exist)\n"
                      "  clear     remove the pointer (runtime falls back to defaults)\n"
                      "  rollback  reference rollback rule (see `dse rollback --help`)\n"
                      "  history   pointer history, newest first",
                      &pos);
    if (n < 0)
        return -n;
    const char *verb = n > 0 ? pos[0] : "show";
    if (n > 1)
        return cli_usage_error(active_usage, "unexpected argument '%s'", pos[1]);
    int rc = 0;
    char *sig = cli_signature(ctx, sig_name, active_usage, &rc);
    if (!sig)
        return rc;
    cJSON *args = sig_args(sig), *out = NULL;
    if (!strcmp(verb, "show")) {
        rc = cli_call(ctx, STORE_OP_active_get, args, &out);
        if (!rc && !maybe_json(ctx, out)) {
            const char *id = json_str(out, "compiled_id", NULL);
            printf("%s\n  active: %s\n", cli_cell(sig, 0), id ? cli_cell(id, 0) : "(none: defaults)");
            if (id)
                printf("  since:  %s\n", when(out, "updatedAtMs"));
        }
    } else if (!strcmp(verb, "set")) {
        if (!compiled) {
            cJSON_Delete(args);
            free(sig);
            return cli_usage_error(active_usage, "set needs --compiled-id");
        }
        json_set_str(args, "compiled_id", compiled);
        json_set_str(args, "reason", reason);
        rc = cli_call(ctx, STORE_OP_active_set, args, &out);
        if (!rc && !maybe_json(ctx, out))
            printf("%s: %s -> %s\n", cli_cell(sig, 0), short_id(json_str(out, "from", NULL)),
                   short_id(json_str(out, "compiled_id", NULL)));
    } else if (!strcmp(verb, "clear")) {
        json_set_str(args, "reason", reason);
        rc = cli_call(ctx, STORE_OP_active_clear, args, &out);
        if (!rc && !maybe_json(ctx, out))
            printf("%s: %s -> (cleared)\n", cli_cell(sig, 0), short_id(json_str(out, "from", NULL)));
    } else if (!strcmp(verb, "rollback")) {
        json_set_str(args, "reason", reason);
        rc = cli_call(ctx, STORE_OP_active_rollback, args, &out);
        if (!rc && !maybe_json(ctx, out)) {
            const char *to = json_str(out, "compiled_id", NULL);
            printf("%s: rollback %s -> %s\n", cli_cell(sig, 0), short_id(json_str(out, "from", NULL)),
                   to ? short_id(to) : "(cleared)");
        }
    } else if (!strcmp(verb, "history")) {
        json_set_num(args, "limit", (double)limit);
        rc = cli_call(ctx, STORE_OP_active_history, args, &out);
        if (!rc && !maybe_json(ctx, out))
            print_active_history(json_get(out, "history"));
    } else {
        cJSON_Delete(args);
        free(sig);
        return cli_usage_error(active_usage, "unknown subcommand '%s'", verb);
    }
    cJSON_Delete(out);
    free(sig);
    return rc;
}

int cmd_rollback(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] = "dse rollback --signature ID [--reason R]";
    const char *sig_name = NULL, *reason = NULL;
    struct cli_opt opts[] = {
        {"signature", 's', CLI_STR, &sig_name, "ID", "signature id, key or unique suffix"},
        {"reason", 0, CLI_STR, &reason, "TEXT", "recorded in the pointer history"},
        {0}};
    int n = cli_parse(ctx, argc, argv, opts, usage,
                      "Move the active pointer back to the most recent different id in its\n"
                      "history (the reference rule: it toggles between the last two ids; after a\n"
                      "clear it restores the last set id; with no history it clears the pointer).\n"
                      "Prints from -> to and appends a `rollback` history row.",
                      NULL);
    if (n < 0)
        return -n;
    if (n > 0)
        return cli_usage_error(usage, "unexpected argument");
    int rc = 0;
    char *sig = cli_signature(ctx, sig_name, usage, &rc);
    if (!sig)
        return rc;
    cJSON *args = sig_args(sig), *out = NULL;
    json_set_str(args, "reason", reason);
    rc = cli_call(ctx, STORE_OP_active_rollback, args, &out);
    if (!rc && !maybe_json(ctx, out)) {
        const char *to = json_str(out, "compiled_id", NULL);
        printf("rollback %s: %s -> %s\n", cli_cell(sig, 0), short_id(json_str(out, "from", NULL)),
               to ? short_id(to) : "(cleared)");
    }
    cJSON_Delete(out);
    free(sig);
    return rc;
}

/* ---- artifacts ---- */

int cmd_artifacts(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] = "dse artifacts list|show --signature ID [--compiled-id ID] [--limit N]";
    const char *sig_name = NULL, *compiled = NULL;
    long long limit = 50;
    struct cli_opt opts[] = {
        {"signature", 's', CLI_STR, &sig_name, "ID", "signature id, key or unique suffix"},
        {"compiled-id", 0, CLI_STR, &compiled, "ID", "artifact to show"},
        {"limit", 'n', CLI_INT, &limit, "N", "rows (default 50, max 200)"},
        {0}};
    char **pos;
    int n = cli_parse(ctx, argc, argv, opts, usage,
                      "List a signature's compiled artifacts (newest first) or show one as JSON.", &pos);
    if (n < 0)
        return -n;
    const char *verb = n > 0 ? pos[0] : "list";
    int rc = 0;
    char *sig = cli_signature(ctx, sig_name, usage, &rc);
    if (!sig)
        return rc;
    cJSON *args = sig_args(sig), *out = NULL;
    if (!strcmp(verb, "list")) {
        json_set_num(args, "limit", (double)limit);
        rc = cli_call(ctx, STORE_OP_artifacts_list, args, &out);
        if (!rc && !maybe_json(ctx, out)) {
            char active[HASH_ID_LEN + 8] = "";
            struct dse_err err;
            store_active_id(ctx->st, sig, active, sizeof active, &err);
            printf("%-16s  %-71s\n", "CREATED", "COMPILED_ID");
            const cJSON *row;
            cJSON_ArrayForEach(row, json_get(out, "artifacts"))
            {
                const char *id = json_str(row, "compiled_id", "");
                printf("%-16s  %s%s\n", when(row, "createdAtMs"), cli_cell(id, 0),
                       strcmp(id, active) == 0 ? "  (active)" : "");
            }
        }
    } else if (!strcmp(verb, "show")) {
        const char *id = compiled ? compiled : (n > 1 ? pos[1] : NULL);
        if (!id) {
            cJSON_Delete(args);
            free(sig);
            return cli_usage_error(usage, "show needs --compiled-id");
        }
        json_set_str(args, "compiled_id", id);
        rc = cli_call(ctx, STORE_OP_artifacts_get, args, &out);
        if (!rc) {
            const cJSON *art = json_get(out, "artifact");
            if (!art || cJSON_IsNull(art)) {
                fprintf(stderr, "dse: artifact_not_found: no artifact %s for %s\n", cli_cell(id, 0),
                        cli_cell(sig, 0));
                rc = EXIT_REFUSED;
            } else {
                cli_print_json(art);
            }
        }
    } else {
        cJSON_Delete(args);
        free(sig);
        return cli_usage_error(usage, "unknown subcommand '%s'", verb);
    }
    cJSON_Delete(out);
    free(sig);
    return rc;
}

/* ---- receipts ---- */

int cmd_receipts(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] =
        "dse receipts [list] [--signature ID] [--result Ok|Error] [--strategy S] "
        "[--compiled-id ID] [--thread T] [--limit N] [--cursor C] [--oldest-first]";
    const char *sig_name = NULL, *result = NULL, *strategy = NULL, *compiled = NULL,
               *thread = NULL, *cursor = NULL;
    long long limit = 50;
    bool oldest = false;
    struct cli_opt opts[] = {
        {"signature", 's', CLI_STR, &sig_name, "ID", "only this signature"},
        {"result", 'r', CLI_STR, &result, "Ok|Error", "only this result"},
        {"strategy", 0, CLI_STR, &strategy, "ID", "only this strategy (direct.v1, rlm_lite.v1)"},
        {"compiled-id", 0, CLI_STR, &compiled, "ID", "only receipts served by this artifact"},
        {"thread", 't', CLI_STR, &thread, "T", "only this thread"},
        {"limit", 'n', CLI_INT, &limit, "N", "rows per page (default 50, max 500)"},
        {"cursor", 0, CLI_STR, &cursor, "C", "continue after this cursor (printed as next:)"},
        {"oldest-first", 0, CLI_FLAG, &oldest, NULL, "walk from the oldest receipt"},
        {0}};
    char **pos;
    int n = cli_parse(ctx, argc, argv, opts, usage,
                      "List predict receipts, newest first, one page at a time (keyed paging:\n"
                      "pass the printed cursor to --cursor for the next page).",
                      &pos);
    if (n < 0)
        return -n;
    if (n > 1 || (n == 1 && strcmp(pos[0], "list")))
        return cli_usage_error(usage, "unexpected argument '%s'", pos[n - 1]);
    if (result && strcmp(result, "Ok") && strcmp(result, "Error"))
        return cli_usage_error(usage, "--result must be Ok or Error, not '%s'", result);
    int rc = 0;
    char *sig = NULL;
    if (sig_name && !(sig = cli_signature(ctx, sig_name, usage, &rc)))
        return rc;
    cJSON *args = json_obj(), *out = NULL;
    json_set_str(args, "signatureId", sig);
    json_set_str(args, "resultTag", result);
    json_set_str(args, "strategyId", strategy);
    json_set_str(args, "compiled_id", compiled);
    json_set_str(args, "threadId", thread);
    json_set_str(args, "cursor", cursor);
    json_set_str(args, "dir", oldest ? "newer" : "older");
    json_set_num(args, "limit", (double)limit);
    rc = cli_call(ctx, STORE_OP_x_receipts_page, args, &out);
    if (!rc && !maybe_json(ctx, out)) {
        printf("%-16s  %-36s  %-6s  %-11s  %-19s  %-18s  %s\n", "TIME", "RECEIPT", "RESULT",
               "STRATEGY", "COMPILED_ID", "THREAD", "ERROR");
        const cJSON *row;
        int count = 0;
        cJSON_ArrayForEach(row, json_get(out, "items"))
        {
            count++;
            printf("%-16s  %-36s  %-6s  %-11s  %-19s  %-18s  %s\n", when(row, "createdAtMs"),
                   cli_cell(json_str(row, "receiptId", "-"), 36),
                   cli_cell(json_str(row, "resultTag", "-"), 6),
                   cli_cell(json_str(row, "strategyId", "-"), 11),
                   short_id(json_str(row, "compiled_id", NULL)),
                   cli_cell(json_str(row, "threadId", "-"), 18),
                   cli_cell(json_str(row, "errorName", ""), 40));
        }
        const char *next = json_str(out, "nextCursor", NULL);
        printf("(%d receipt%s)%s%s\n", count, count == 1 ? "" : "s", next ? "  next: " : "",
               next ? cli_cell(next, 0) : "");
    }
    cJSON_Delete(out);
    free(sig);
    return rc;
}

int cmd_receipt(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] = "dse receipt [show] RECEIPT_ID";
    struct cli_opt opts[] = {{0}};
    char **pos;
    int n = cli_parse(ctx, argc, argv, opts, usage,
                      "Show one predict receipt as JSON (with its thread, run and time).", &pos);
    if (n < 0)
        return -n;
    if (n >= 1 && !strcmp(pos[0], "show")) {
        pos++;
        n--;
    }
    if (n != 1)
        return cli_usage_error(usage, "expected one receipt id");
    cJSON *args = json_obj(), *out = NULL;
    json_set_str(args, "receiptId", pos[0]);
    int rc = cli_call(ctx, STORE_OP_receipts_get_admin, args, &out);
    if (!rc) {
        const cJSON *rec = json_get(out, "receipt"); /* {ok, receipt: null | {...}} */
        if (!cJSON_IsObject(rec)) {
            fprintf(stderr, "dse: receipt_not_found: no receipt %s\n", cli_cell(pos[0], 0));
            rc = EXIT_REFUSED;
        } else {
            cli_print_json(rec);
        }
    }
    cJSON_Delete(out);
    return rc;
}

int cmd_blob(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] = "dse blob [show] RECEIPT_ID BLOB_ID";
    bool raw = false;
    struct cli_opt opts[] = {
        {"raw", 0, CLI_FLAG, &raw, NULL, "write the exact bytes (for redirecting to a file)"},
        {0}};
    char **pos;
    int n = cli_parse(ctx, argc, argv, opts, usage,
                      "Print a blob stored in a receipt's run scope (e.g. an RLM trace).  The\n"
                      "text goes through the sanitiser unless --raw is given and stdout is not\n"
                      "a terminal.",
                      &pos);
    if (n < 0)
        return -n;
    if (n >= 1 && !strcmp(pos[0], "show")) {
        pos++;
        n--;
    }
    if (n != 2)
        return cli_usage_error(usage, "expected a receipt id and a blob id");
    cJSON *args = json_obj(), *got = NULL;
    json_set_str(args, "receiptId", pos[0]);
    int rc = cli_call(ctx, STORE_OP_receipts_get_admin, args, &got);
    if (rc)
        return rc;
    /* {ok, receipt: null | {threadId, runId, json, createdAtMs}} */
    cJSON *rec = cJSON_DetachItemFromObjectCaseSensitive(got, "receipt");
    cJSON_Delete(got);
    if (!cJSON_IsObject(rec)) {
        cJSON_Delete(rec);
        fprintf(stderr, "dse: receipt_not_found: no receipt %s\n", cli_cell(pos[0], 0));
        return EXIT_REFUSED;
    }
    const char *thread = json_str(rec, "threadId", NULL), *run = json_str(rec, "runId", NULL);
    if (!thread || !run) {
        cJSON_Delete(rec);
        fprintf(stderr, "dse: receipt_missing_scope: receipt %s has no thread/run scope\n",
                cli_cell(pos[0], 0));
        return EXIT_REFUSED;
    }
    args = json_obj();
    json_set_str(args, "threadId", thread);
    json_set_str(args, "runId", run);
    json_set_str(args, "blobId", pos[1]);
    cJSON *out = NULL;
    rc = cli_call(ctx, STORE_OP_blobs_get_admin, args, &out);
    cJSON_Delete(rec);
    if (rc)
        return rc;
    const char *text = json_str(out, "text", NULL);
    if (!text) {
        fprintf(stderr, "dse: blob_not_found: no blob %s in that receipt's scope\n", cli_cell(pos[1], 0));
        rc = EXIT_REFUSED;
    } else if (raw && !isatty(1)) {
        fputs(text, stdout);
    } else {
        cli_out(text);
        if (!*text || text[strlen(text) - 1] != '\n')
            fputc('\n', stdout);
    }
    cJSON_Delete(out);
    return rc;
}

/* ---- ops runs ---- */

int cmd_runs(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] = "dse runs [list] [--limit N]";
    long long limit = 50;
    struct cli_opt opts[] = {{"limit", 'n', CLI_INT, &limit, "N", "rows (default 50, max 200)"}, {0}};
    char **pos;
    int n = cli_parse(ctx, argc, argv, opts, usage, "List ops runs (overnight loops), newest first.",
                      &pos);
    if (n < 0)
        return -n;
    if (n > 1 || (n == 1 && strcmp(pos[0], "list")))
        return cli_usage_error(usage, "unexpected argument '%s'", pos[n - 1]);
    cJSON *args = json_obj(), *out = NULL;
    json_set_num(args, "limit", (double)limit);
    int rc = cli_call(ctx, STORE_OP_runs_list, args, &out);
    if (!rc && !maybe_json(ctx, out)) {
        printf("%-16s  %-9s  %-44s  %-16s  %s\n", "STARTED", "STATUS", "RUN", "ENDED", "SIGNATURES");
        const cJSON *row;
        cJSON_ArrayForEach(row, json_get(out, "runs"))
        {
            struct sbuf sigs = {0};
            const cJSON *s;
            cJSON_ArrayForEach(s, json_get(row, "signatureIds"))
            {
                if (sigs.len)
                    sbuf_adds(&sigs, ", ");
                if (cJSON_IsString(s))
                    sbuf_adds(&sigs, s->valuestring);
            }
            printf("%-16s  %-9s  %-44s  %-16s  %s\n", when(row, "startedAtMs"),
                   cli_cell(json_str(row, "status", "?"), 9), cli_cell(json_str(row, "runId", "?"), 44),
                   when(row, "endedAtMs"), cli_cell(sigs.s ? sigs.s : "", 60));
            sbuf_free(&sigs);
        }
    }
    cJSON_Delete(out);
    return rc;
}

int cmd_run(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] = "dse run [show] RUN_ID [--limit N]";
    long long limit = 500;
    struct cli_opt opts[] = {{"limit", 'n', CLI_INT, &limit, "N", "events (default 500, max 500)"}, {0}};
    char **pos;
    int n = cli_parse(ctx, argc, argv, opts, usage,
                      "Show an ops run: its fields, summary, and event timeline (oldest first).", &pos);
    if (n < 0)
        return -n;
    if (n >= 1 && !strcmp(pos[0], "show")) {
        pos++;
        n--;
    }
    if (n != 1)
        return cli_usage_error(usage, "expected one run id");
    cJSON *args = json_obj(), *run = NULL, *events = NULL;
    json_set_str(args, "runId", pos[0]);
    int rc = cli_call(ctx, STORE_OP_runs_get, args, &run);
    if (rc)
        return rc;
    const cJSON *r = json_get(run, "run");
    if (!r || cJSON_IsNull(r)) {
        cJSON_Delete(run);
        fprintf(stderr, "dse: run_not_found: no ops run %s\n", cli_cell(pos[0], 0));
        return EXIT_REFUSED;
    }
    args = json_obj();
    json_set_str(args, "runId", pos[0]);
    json_set_num(args, "limit", (double)limit);
    rc = cli_call(ctx, STORE_OP_runs_events, args, &events);
    if (rc) {
        cJSON_Delete(run);
        return rc;
    }
    /* The reference timeline re-sorts events ascending by tsMs; the list
     * comes newest first, so walk it backwards (stable for equal tsMs). */
    cJSON *evs = cJSON_DetachItemFromObjectCaseSensitive(events, "events");
    int count = cJSON_GetArraySize(evs);
    cJSON **arr = xcalloc((size_t)(count ? count : 1), sizeof *arr);
    for (int i = 0; i < count; i++)
        arr[i] = cJSON_GetArrayItem(evs, count - 1 - i);
    for (int i = 1; i < count; i++) {
        cJSON *cur = arr[i];
        int j = i;
        while (j > 0 && json_int(arr[j - 1], "tsMs", 0) > json_int(cur, "tsMs", 0)) {
            arr[j] = arr[j - 1];
            j--;
        }
        arr[j] = cur;
    }
    if (ctx->json) {
        cJSON *o = json_obj();
        json_set_copy(o, "run", r);
        cJSON *a = json_arr();
        for (int i = 0; i < count; i++)
            cJSON_AddItemToArray(a, json_dup(arr[i]));
        json_set(o, "events", a);
        cli_print_json(o);
        cJSON_Delete(o);
    } else {
        printf("run:      %s\n", cli_cell(json_str(r, "runId", "?"), 0));
        printf("status:   %s\n", cli_cell(json_str(r, "status", "?"), 0));
        printf("started:  %s\n", when(r, "startedAtMs"));
        printf("ended:    %s\n", when(r, "endedAtMs"));
        printf("commit:   %s\n", cli_cell(json_str(r, "commitSha", "-"), 0));
        printf("actor:    %s\n", cli_cell(json_str(r, "actorUserId", "-"), 0));
        const cJSON *notes = json_get(r, "notes");
        if (notes && cJSON_IsString(notes)) {
            printf("notes:    ");
            cli_out(notes->valuestring);
            printf("\n");
        }
        const cJSON *summary = json_get(r, "summaryJson");
        if (summary && !cJSON_IsNull(summary)) {
            char *s = json_pretty(summary);
            printf("summary:\n%s\n", s);
            free(s);
        }
        printf("\nevents (%d):\n", count);
        for (int i = 0; i < count; i++) {
            char t[32];
            util_iso_time(json_int(arr[i], "tsMs", 0), t);
            printf("  %s  %-5s  %-22s  %s\n", t, cli_cell(json_str(arr[i], "level", "info"), 5),
                   cli_cell(json_str(arr[i], "phase", "-"), 22),
                   cli_cell(json_str(arr[i], "message", ""), 200));
        }
    }
    free(arr);
    cJSON_Delete(evs);
    cJSON_Delete(events);
    cJSON_Delete(run);
    return 0;
}
