/* bench_gen: build a large store reproducibly, through the store API only.
 *
 *   bench_gen DB [--receipts N] [--examples N] [--seed S] [--days D]
 *
 * Defaults: 1,000,000 receipts, 100,000 examples, seed 1, 30 days.  The same
 * seed gives the same store contents (ids, shapes, splits; only the
 * wall-clock stamps of history rows differ).  What goes in:
 *   - the built-in catalog (catalog_install);
 *   - per signature (SelectTool, RecapThread, SummarizeThread,
 *     DetectUpgradeRequest): its default artifact plus 4 variants, an active
 *     pointer history (sets, a rollback, a clear and a set again) and canary
 *     history (start, update, stop, start); SelectTool ends with a running
 *     canary (large minSamples, never auto-stops) so recording counts;
 *   - examples for SelectTool in x_examples_import batches of 5,000 (70%
 *     train, 20% holdout, 10% none; 1 in 50 labelled accepted/rejected);
 *   - receipts in x_receipts_batch calls of 10,000, spread over the
 *     signatures and their compiled_ids and over `days` of createdAtMs
 *     (DSE_FAKE_NOW_MS moved per batch): 6% Error results (various
 *     errorNames), 3% rlm_lite.v1 with a trace blob written by blobs_put.
 * Prints a ROW for batched recording throughput and a summary line
 * "GEN receipts=N examples=N blobs=N seconds=S". */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "catalog.h"
#include "compile.h"
#include "store.h"

#define VARIANTS 5

static const char *const SIGS[] = {
    "@openagents/autopilot/blueprint/SelectTool.v1",
    "@openagents/autopilot/canary/RecapThread.v1",
    "@openagents/autopilot/rlm/SummarizeThread.v1",
    "@openagents/autopilot/feedback/DetectUpgradeRequest.v1",
};
#define NSIGS (sizeof SIGS / sizeof SIGS[0])

static const char *const ERRORS[] = {"OutputDecodeError", "LmClientError", "BudgetExceededError",
                                     "RlmKernelError"};
static const char *const TOOLS[] = {"identity_update",    "user_update",
                                    "character_update",   "tools_update_notes",
                                    "heartbeat_set_checklist", "memory_append",
                                    "blueprint_export"};

static struct store *st;

static cJSON *call(enum store_op op, cJSON *args)
{
    struct dse_err err = {0};
    cJSON *out = NULL;
    if (store_call(st, op, args, &out, &err) < 0) {
        fprintf(stderr, "bench_gen: %s: %s: %s\n", store_op_info(op)->name, err.code, err.msg);
        exit(1);
    }
    cJSON_Delete(args);
    return out;
}

static void call0(enum store_op op, cJSON *args)
{
    cJSON_Delete(call(op, args));
}

static void set_now(int64_t ms)
{
    char b[32];
    snprintf(b, sizeof b, "%" PRId64, ms);
    setenv("DSE_FAKE_NOW_MS", b, 1);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: bench_gen DB [--receipts N] [--examples N] [--seed S] [--days D]\n");
        return 2;
    }
    const char *db = argv[1];
    long n_receipts = 1000000, n_examples = 100000, days = 30;
    uint64_t seed = 1;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--receipts") == 0)
            n_receipts = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--examples") == 0)
            n_examples = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--seed") == 0)
            seed = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--days") == 0)
            days = atol(argv[i + 1]);
        else {
            fprintf(stderr, "bench_gen: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    struct bench_rng rng = {seed};
    struct dse_err err = {0};
    double t0 = bench_now_s();
    int64_t end_ms = 1764300000000LL; /* fixed epoch: reproducible createdAtMs */
    int64_t start_ms = end_ms - days * 86400000LL;
    set_now(start_ms - 3600000);

    st = store_open_sqlite(db, 0, &err);
    if (!st) {
        fprintf(stderr, "bench_gen: %s: %s\n", err.code, err.msg);
        return 1;
    }
    if (catalog_install(st, NULL, NULL, NULL, &err) < 0) {
        fprintf(stderr, "bench_gen: catalog: %s\n", err.msg);
        return 1;
    }

    /* artifacts, pointer and canary history */
    char cids[NSIGS][VARIANTS][HASH_ID_LEN + 1];
    for (size_t s = 0; s < NSIGS; s++) {
        cJSON *sig = store_signature(st, SIGS[s], &err);
        if (!sig) {
            fprintf(stderr, "bench_gen: %s: %s\n", SIGS[s], err.msg);
            return 1;
        }
        for (int v = 0; v < VARIANTS; v++) {
            cJSON *params = json_dup(catalog_default_params(sig));
            if (v > 0) {
                cJSON *ins = json_obj();
                char *text = xasprintf("Benchmark variant %d of %s: answer in the output "
                                       "schema, nothing else.", v, SIGS[s]);
                json_set_str(ins, "text", text);
                free(text);
                json_set(params, "instruction", ins);
            }
            hash_json(params, cids[s][v]);
            cJSON *art = compile_artifact(sig, params, NULL, NULL, NULL);
            cJSON *a = json_obj();
            json_set_str(a, "signatureId", SIGS[s]);
            json_set_str(a, "compiled_id", cids[s][v]);
            json_set(a, "json", art);
            call0(STORE_OP_artifacts_put, a);
            cJSON_Delete(params);
        }
        cJSON_Delete(sig);
        static const int order[] = {0, 1, 2, 1, 3};
        for (size_t k = 0; k < ARRAY_LEN(order); k++) {
            cJSON *a = json_obj();
            json_set_str(a, "signatureId", SIGS[s]);
            json_set_str(a, "compiled_id", cids[s][order[k]]);
            json_set_str(a, "reason", "bench: promote");
            call0(STORE_OP_active_set, a);
        }
        cJSON *a = json_obj();
        json_set_str(a, "signatureId", SIGS[s]);
        json_set_str(a, "reason", "bench: rollback");
        call0(STORE_OP_active_rollback, a);
        for (int round = 0; round < 2; round++) {
            a = json_obj();
            json_set_str(a, "signatureId", SIGS[s]);
            json_set_str(a, "canary_compiled_id", cids[s][4]);
            json_set_num(a, "rolloutPct", 10 + 10 * round);
            json_set_str(a, "salt", "bench-salt");
            json_set_num(a, "minSamples", 10000);
            json_set_num(a, "maxErrorRate", 1);
            call0(STORE_OP_canary_start, a);
            if (s == 0 && round == 1)
                break; /* SelectTool keeps a running canary */
            a = json_obj();
            json_set_str(a, "signatureId", SIGS[s]);
            json_set_str(a, "reason", "bench: stop");
            call0(STORE_OP_canary_stop, a);
        }
    }

    /* examples */
    double tex = bench_now_s();
    long done_ex = 0;
    while (done_ex < n_examples) {
        cJSON *rows = json_arr();
        long chunk = n_examples - done_ex < 5000 ? n_examples - done_ex : 5000;
        for (long i = 0; i < chunk; i++, done_ex++) {
            cJSON *r = json_obj();
            char id[64];
            unsigned pick = bench_rng_below(&rng, 100);
            const char *split = pick < 70 ? "train" : pick < 90 ? "holdout" : NULL;
            snprintf(id, sizeof id, "bench.%s.%07ld", split ? split : "none", done_ex);
            json_set_str(r, "exampleId", id);
            cJSON *in = json_obj();
            char *msg = xasprintf("Benchmark message %ld: please %s the %s (token %08x)", done_ex,
                                  pick % 2 ? "update" : "change",
                                  TOOLS[pick % ARRAY_LEN(TOOLS)],
                                  (unsigned)bench_rng_next(&rng));
            json_set_str(in, "message", msg);
            free(msg);
            cJSON *hint = json_obj();
            json_set_str(hint, "userHandle", "Ada");
            json_set_str(hint, "agentName", "Autopilot");
            json_set(in, "blueprintHint", hint);
            json_set(r, "inputJson", in);
            cJSON *exp = json_obj();
            if (pick % 10 == 9) {
                json_set_str(exp, "action", "none");
            } else {
                json_set_str(exp, "action", "tool");
                json_set_str(exp, "toolName", TOOLS[pick % ARRAY_LEN(TOOLS)]);
            }
            json_set(r, "expectedJson", exp);
            if (split)
                json_set_str(r, "split", split);
            cJSON *tags = json_arr();
            cJSON_AddItemToArray(tags, cJSON_CreateString("bench"));
            json_set(r, "tags", tags);
            if (pick % 50 == 0) {
                cJSON *meta = json_obj(), *rev = json_obj();
                json_set_str(rev, "status", pick % 100 == 0 ? "accepted" : "rejected");
                json_set(meta, "review", rev);
                json_set(r, "meta", meta);
            }
            cJSON_AddItemToArray(rows, r);
        }
        cJSON *a = json_obj();
        json_set_str(a, "signatureId", SIGS[0]);
        json_set(a, "rows", rows);
        json_set_str(a, "source", "bench_gen");
        call0(STORE_OP_x_examples_import, a);
    }
    tex = bench_now_s() - tex;

    /* receipts */
    long done = 0, blobs = 0, errors = 0;
    double trc = 0;
    int64_t span = end_ms - start_ms;
    while (done < n_receipts) {
        long chunk = n_receipts - done < 10000 ? n_receipts - done : 10000;
        int64_t batch_ms = start_ms + (int64_t)((double)span * (double)done / (double)n_receipts);
        cJSON *items = json_arr();
        for (long i = 0; i < chunk; i++) {
            /* SelectTool gets half the traffic, like a busy router. */
            unsigned r = bench_rng_below(&rng, 100);
            size_t s = r < 50 ? 0 : 1 + r % (NSIGS - 1);
            unsigned v = bench_rng_below(&rng, 100);
            int vi = v < 70 ? 3 : v < 85 ? 4 : (int)(v % 3);
            char rid[37], thread[48];
            bench_rng_uuid(&rng, rid);
            snprintf(thread, sizeof thread, "thread-%05u", bench_rng_below(&rng, 20000));
            unsigned e = bench_rng_below(&rng, 1000);
            const char *ename = e < 60 ? ERRORS[e % ARRAY_LEN(ERRORS)] : NULL;
            errors += ename != NULL;
            cJSON *blob = NULL;
            int events = 0;
            if (s >= 1 && s <= 2 && bench_rng_below(&rng, 100) < 6) {
                /* rlm_lite: the trace is written first, as predict does */
                events = 4 + (int)bench_rng_below(&rng, 20);
                struct sbuf tr = {0};
                sbuf_printf(&tr, "{\"format\":\"openagents.dse.rlm_trace\",\"events\":[");
                for (int k = 0; k < events; k++)
                    sbuf_printf(&tr, "%s{\"i\":%d,\"op\":\"%s\",\"chars\":%u}", k ? "," : "", k,
                                k % 3 == 0 ? "search" : k % 3 == 1 ? "extract" : "chunk",
                                bench_rng_below(&rng, 4000));
                sbuf_adds(&tr, "]}");
                cJSON *a = json_obj();
                json_set_str(a, "threadId", thread);
                json_set_str(a, "runId", rid);
                json_set_str(a, "text", tr.s);
                json_set_str(a, "mime", "application/json");
                sbuf_free(&tr);
                set_now(batch_ms);
                cJSON *out = call(STORE_OP_blobs_put, a);
                blob = json_dup(json_get(out, "blob"));
                cJSON_Delete(out);
                blobs++;
            }
            int dur = 40 + (int)bench_rng_below(&rng, 900);
            cJSON *rc = bench_receipt(rid, SIGS[s], cids[s][vi], batch_ms + i, dur, ename, blob,
                                      events);
            cJSON_Delete(blob);
            cJSON_AddItemToArray(items, bench_receipt_item(thread, rc));
        }
        cJSON *a = json_obj();
        json_set(a, "items", items);
        set_now(batch_ms);
        double tb = bench_now_s();
        call0(STORE_OP_x_receipts_batch, a);
        trc += bench_now_s() - tb;
        done += chunk;
        if (done % 100000 == 0)
            fprintf(stderr, "bench_gen: %ld receipts\n", done);
    }
    /* the last operator action happens "now" */
    set_now(end_ms + 1000);
    {
        cJSON *a = json_obj();
        json_set_str(a, "runId", "bench-run-1");
        json_set_str(a, "notes", "bench_gen");
        call0(STORE_OP_runs_start, a);
        for (int k = 0; k < 50; k++) {
            a = json_obj();
            json_set_str(a, "runId", "bench-run-1");
            json_set_str(a, "level", k % 10 == 9 ? "warn" : "info");
            json_set_str(a, "phase", k < 25 ? "compile" : "canary");
            json_set_str(a, "message", "bench event");
            call0(STORE_OP_runs_event, a);
        }
        a = json_obj();
        json_set_str(a, "runId", "bench-run-1");
        json_set_str(a, "status", "finished");
        call0(STORE_OP_runs_finish, a);
    }
    store_close(st);
    unsetenv("DSE_FAKE_NOW_MS");
    double total = bench_now_s() - t0;
    if (n_receipts > 0 && trc > 0)
        bench_row("generator: receipts recorded, batched 10,000/txn (large store)",
                  ">= 50,000/s", 50000, (double)n_receipts / trc, "/s", 0,
                  "x_receipts_batch into a store growing to the full size");
    printf("GEN receipts=%ld errors=%ld examples=%ld blobs=%ld examples_s=%.1f receipts_s=%.1f "
           "seconds=%.1f\n",
           n_receipts, errors, n_examples, blobs, tex, trc, total);
    return 0;
}
