/* bench_receipts: receipt recording with canary counting.
 *
 *   bench_receipts (--db PATH | --remote URL [--token T]) [--batched N] [--single N]
 *                  [--label TEXT]
 *
 * Sets up SelectTool with an active pointer and a running canary (large
 * minSamples, maxErrorRate 1: it counts but never auto-stops), then records
 *   - N receipts with x_receipts_batch, 10,000 per call (default 200,000),
 *   - N receipts one receipts_record call each (default 20,000),
 * timing only the store calls (receipts are built beforehand, per batch).
 * Receipts alternate between the control and canary compiled_ids, 5% Error.
 * Afterwards it checks that the canary's okCount + errorCount equals the
 * number of canary-served receipts recorded (a mismatch exits 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "catalog.h"
#include "compile.h"
#include "store.h"

#define SIG "@openagents/autopilot/blueprint/SelectTool.v1"

static struct store *st;

/* Runs one store call; *secs, when given, is the time of the call alone
 * (building and freeing the caller's arguments are not part of it). */
static cJSON *call_timed(enum store_op op, cJSON *args, double *secs)
{
    struct dse_err err = {0};
    cJSON *out = NULL;
    double t = bench_now_s();
    int rc = store_call(st, op, args, &out, &err);
    if (secs)
        *secs = bench_now_s() - t;
    if (rc < 0) {
        fprintf(stderr, "bench_receipts: %s: %s: %s\n", store_op_info(op)->name, err.code,
                err.msg);
        exit(1);
    }
    cJSON_Delete(args);
    return out;
}

static cJSON *call(enum store_op op, cJSON *args) { return call_timed(op, args, NULL); }

static void put_artifact(const cJSON *sig, const char *text, char cid[HASH_ID_LEN + 1])
{
    cJSON *params = json_dup(catalog_default_params(sig));
    if (text) {
        cJSON *ins = json_obj();
        json_set_str(ins, "text", text);
        json_set(params, "instruction", ins);
    }
    hash_json(params, cid);
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", SIG);
    json_set_str(a, "compiled_id", cid);
    json_set(a, "json", compile_artifact(sig, params, NULL, NULL, NULL));
    cJSON_Delete(call(STORE_OP_artifacts_put, a));
    cJSON_Delete(params);
}

int main(int argc, char **argv)
{
    const char *db = NULL, *remote = NULL, *token = NULL, *label = "local";
    long n_batched = 200000, n_single = 20000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--db") == 0)
            db = argv[i + 1];
        else if (strcmp(argv[i], "--remote") == 0)
            remote = argv[i + 1];
        else if (strcmp(argv[i], "--token") == 0)
            token = argv[i + 1];
        else if (strcmp(argv[i], "--batched") == 0)
            n_batched = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--single") == 0)
            n_single = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--label") == 0)
            label = argv[i + 1];
        else {
            fprintf(stderr, "bench_receipts: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!db == !remote) {
        fprintf(stderr, "usage: bench_receipts (--db PATH | --remote URL [--token T]) "
                        "[--batched N] [--single N] [--label TEXT]\n");
        return 2;
    }
    struct dse_err err = {0};
    st = db ? store_open_sqlite(db, 0, &err) : store_open_remote(remote, token, 0, &err);
    if (!st) {
        fprintf(stderr, "bench_receipts: open: %s: %s\n", err.code, err.msg);
        return 1;
    }
    if (catalog_install(st, NULL, NULL, NULL, &err) < 0) {
        fprintf(stderr, "bench_receipts: catalog: %s\n", err.msg);
        return 1;
    }
    cJSON *sig = store_signature(st, SIG, &err);
    if (!sig) {
        fprintf(stderr, "bench_receipts: %s\n", err.msg);
        return 1;
    }
    char control[HASH_ID_LEN + 1], canary[HASH_ID_LEN + 1];
    put_artifact(sig, NULL, control);
    put_artifact(sig, "Bench canary: answer with the output JSON only.", canary);
    cJSON_Delete(sig);
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", SIG);
    json_set_str(a, "compiled_id", control);
    cJSON_Delete(call(STORE_OP_active_set, a));
    a = json_obj();
    json_set_str(a, "signatureId", SIG);
    json_set_str(a, "canary_compiled_id", canary);
    json_set_num(a, "rolloutPct", 50);
    json_set_num(a, "minSamples", 10000);
    json_set_num(a, "maxErrorRate", 1);
    cJSON_Delete(call(STORE_OP_canary_start, a));

    struct bench_rng rng = {(uint64_t)util_now_ms()};
    long recorded = 0, on_canary = 0;
    double t_batched = 0;
    int64_t now = util_now_ms();
    for (long done = 0; done < n_batched;) {
        long chunk = n_batched - done < 10000 ? n_batched - done : 10000;
        cJSON *items = json_arr();
        for (long i = 0; i < chunk; i++) {
            char rid[37], thread[32];
            bench_rng_uuid(&rng, rid);
            snprintf(thread, sizeof thread, "t-%u", bench_rng_below(&rng, 5000));
            const char *e = bench_rng_below(&rng, 100) < 5 ? "OutputDecodeError" : NULL;
            cJSON *rc = bench_receipt(rid, SIG, (done + i) % 2 ? canary : control, now + i,
                                      50 + (int)(i % 400), e, NULL, 0);
            cJSON_AddItemToArray(items, bench_receipt_item(thread, rc));
        }
        a = json_obj();
        json_set(a, "items", items);
        double t = bench_now_s();
        cJSON *out = call_timed(STORE_OP_x_receipts_batch, a, &t);
        t_batched += t;
        recorded += (long)json_num(out, "recorded", 0);
        on_canary += (long)json_num(out, "counted", 0);
        cJSON_Delete(out);
        done += chunk;
    }
    double t_single = 0;
    for (long i = 0; i < n_single; i++) {
        char rid[37], thread[32];
        bench_rng_uuid(&rng, rid);
        snprintf(thread, sizeof thread, "t-%u", bench_rng_below(&rng, 5000));
        const char *e = bench_rng_below(&rng, 100) < 5 ? "OutputDecodeError" : NULL;
        cJSON *rc = bench_receipt(rid, SIG, i % 2 ? canary : control, now + i, 50, e, NULL, 0);
        cJSON *item = bench_receipt_item(thread, rc);
        double t;
        cJSON *out = call_timed(STORE_OP_receipts_record, item, &t);
        t_single += t;
        recorded += !json_bool(out, "existed", true);
        on_canary += i % 2 == 1;
        cJSON_Delete(out);
    }
    int failed = 0;
    cJSON *c = store_canary(st, SIG, &failed, &err);
    long counted = c ? (long)(json_num(c, "okCount", 0) + json_num(c, "errorCount", 0)) : -1;
    cJSON_Delete(c);
    store_close(st);

    char fig[160];
    if (n_batched > 0) {
        snprintf(fig, sizeof fig, "receipts/s with canary counting, batched 10,000/call (%s)",
                 label);
        bench_row(fig, ">= 50,000/s", 50000, (double)n_batched / t_batched, "/s", 0,
                  remote ? "no target over HTTP; shown against the local one" : NULL);
    }
    if (n_single > 0) {
        snprintf(fig, sizeof fig, "receipts/s with canary counting, one per call (%s)", label);
        printf("ROW|%s|(none)|%.0f /s|-|%.1f us per receipt\n", fig,
               (double)n_single / t_single, t_single / (double)n_single * 1e6);
    }
    /* Only receipts served by the canary artifact count (reference §3). */
    printf("receipts recorded %ld (%ld served by the canary), canary counters %ld\n", recorded,
           on_canary, counted);
    if (counted != on_canary) {
        fprintf(stderr, "bench_receipts: canary counters say %ld, expected %ld\n", counted,
                on_canary);
        return 1;
    }
    return 0;
}
