/* bench_compile: compile wall time against the ideal.
 *
 *   bench_compile DATASET.jsonl [--latency MS] [--concurrency 1,4,16]
 *
 * 1. For each concurrency C: a fresh in-memory store with the catalog and
 *    the SelectTool dataset; compile_run through the openai provider
 *    against support_fakelm's fixed-latency server (every call answers
 *    {"action":"none"} after MS ms, so there are no repairs and each call is
 *    exactly one request); no response cache, so every call reaches the
 *    server.  ratio = wall / (provider calls x latency / C)  (target <= 1.25).
 *    The fake's highest observed requests-in-flight is printed too.
 * 2. local-knn compile of the same dataset, wall time (target < 1 s). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/support_fakelm.h"
#include "bench_common.h"
#include "catalog.h"
#include "compile.h"
#include "dataset.h"
#include "lm.h"
#include "store.h"

#define SIG "@openagents/autopilot/blueprint/SelectTool.v1"

static struct store *fresh_store(const char *dataset)
{
    struct dse_err err = {0};
    struct store *st = store_open_sqlite(":memory:", 0, &err);
    if (!st || catalog_install(st, NULL, NULL, NULL, &err) < 0) {
        fprintf(stderr, "bench_compile: store: %s\n", err.msg);
        exit(1);
    }
    cJSON *sig = store_signature(st, SIG, &err);
    struct dataset_import_result res;
    if (!sig || dataset_import_file(st, sig, dataset, "bench", &res, &err) < 0) {
        fprintf(stderr, "bench_compile: import %s: %s\n", dataset, err.msg);
        exit(1);
    }
    cJSON_Delete(sig);
    return st;
}

static int run_compile(struct store *st, struct lm_client *lm, int conc, struct compile_result *cr)
{
    struct dse_err err = {0};
    struct compile_opts o = {.signature_id = SIG, .lm = lm, .concurrency = conc};
    if (compile_run(st, &o, cr, &err) < 0) {
        fprintf(stderr, "bench_compile: compile (concurrency %d): %s: %s\n", conc, err.code,
                err.msg);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_compile DATASET.jsonl [--latency MS] [--concurrency LIST]\n");
        return 2;
    }
    const char *dataset = argv[1];
    int latency = 50;
    char conc_list[64] = "1,4,16";
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--latency") == 0)
            latency = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--concurrency") == 0)
            snprintf(conc_list, sizeof conc_list, "%s", argv[i + 1]);
    }
    int status = 0;
    struct fakelm *f = fakelm_start_latency(0, latency);
    if (!f)
        return 1;
    fakelm_set_default(f, (struct fakelm_step){.kind = FAKELM_OK,
                                               .content = "{\"action\":\"none\"}",
                                               .delay_ms = latency});
    setenv("DSE_BENCH_LM_KEY", "bench-key-not-secret", 1);
    for (char *save = NULL, *tok = strtok_r(conc_list, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int conc = atoi(tok);
        struct store *st = fresh_store(dataset);
        struct dse_err err = {0};
        struct lm_config cfg = {.provider = "openai",
                                .base_url = fakelm_url(f),
                                .model = "fake-fixed-latency",
                                .api_key_env = "DSE_BENCH_LM_KEY",
                                .concurrency = conc,
                                .max_retries = 0};
        struct lm_client *lm = lm_open(&cfg, &err);
        if (!lm) {
            fprintf(stderr, "bench_compile: lm: %s\n", err.msg);
            return 1;
        }
        fakelm_reset_stats(f);
        struct compile_result cr;
        double t0 = bench_now_s();
        if (run_compile(st, lm, conc, &cr) < 0) {
            status = 1;
        } else {
            double wall = bench_now_s() - t0;
            uint64_t calls = 0, hits = 0;
            lm_stats(lm, &calls, &hits);
            int served = fakelm_requests(f);
            double ideal = (double)served * latency / 1000.0 / conc;
            char fig[160], note[200];
            snprintf(fig, sizeof fig, "compile wall / ideal, %d ms LM, concurrency %d", latency,
                     conc);
            snprintf(note, sizeof note,
                     "%d LM calls, %d candidates, wall %.2f s vs ideal %.2f s, max in flight %d",
                     served, cr.candidates, wall, ideal, fakelm_max_in_flight(f));
            bench_row(fig, "<= 1.25", 1.25, wall / ideal, "x", 1, note);
            compile_result_free(&cr);
        }
        lm_close(lm);
        store_close(st);
    }
    fakelm_stop(f);

    /* local-knn: offline, deterministic */
    struct store *st = fresh_store(dataset);
    struct dse_err err = {0};
    struct lm_config kcfg = {.provider = "local-knn"};
    struct lm_client *lm = lm_open(&kcfg, &err);
    if (!lm) {
        fprintf(stderr, "bench_compile: local-knn: %s\n", err.msg);
        return 1;
    }
    struct compile_result cr;
    double t0 = bench_now_s();
    if (run_compile(st, lm, 4, &cr) < 0) {
        status = 1;
    } else {
        double wall = bench_now_s() - t0;
        char note[160];
        snprintf(note, sizeof note, "%d candidates, train %.3f, holdout %.3f", cr.candidates,
                 cr.train_reward, cr.holdout_reward);
        bench_row("local-knn compile of SelectTool (34 rows)", "< 1 s", 1.0, wall, "s", 1,
                  note);
        compile_result_free(&cr);
    }
    lm_close(lm);
    store_close(st);
    return status;
}
