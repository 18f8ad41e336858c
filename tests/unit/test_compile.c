/* Compile: candidate order, best pick, greedy forward, knobs expansion and
 * refine against a scripted scorer; then whole compiles with local-knn on
 * the real SelectTool dataset (idempotency, resume after a crash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog.h"
#include "compile.h"
#include "dataset.h"
#include "eval.h"
#include "json.h"
#include "lm.h"
#include "store.h"
#include "util.h"

/* ---- helpers ---- */

static cJSON *parse(const char *text)
{
    struct dse_err err;
    cJSON *v = json_parse_str(text, &err);
    if (!v)
        fail_msg("bad JSON in test: %s", err.msg);
    return v;
}

static cJSON *catalog_sig(const char *suffix)
{
    struct dse_err err = {0};
    cJSON *all = catalog_load(NULL, &err);
    assert_non_null(all);
    cJSON *it, *found = NULL;
    cJSON_ArrayForEach(it, all)
    {
        const char *id = catalog_id(it);
        size_t n = strlen(id), m = strlen(suffix);
        if (n >= m && strcmp(id + n - m, suffix) == 0)
            found = cJSON_DetachItemViaPointer(all, it);
        if (found)
            break;
    }
    cJSON_Delete(all);
    assert_non_null(found);
    return found;
}

/* A scorer that reads rewards from a script: reward = sum of weights of the
 * few-shot ids selected (+ an instruction bonus), so tests can predict every
 * step.  Counts candidates it was asked to score. */
struct script {
    const char *ids[8];
    double w[8];
    int scored;
    int batches;
    const char *fail_error; /* details: errorName for a failing example */
};

static double script_reward(const struct script *s, const cJSON *params)
{
    double r = 0.1;
    const cJSON *it;
    cJSON_ArrayForEach(it, json_path(params, "fewShot.exampleIds"))
    {
        for (int i = 0; i < 8 && s->ids[i]; i++)
            if (cJSON_IsString(it) && !strcmp(it->valuestring, s->ids[i]))
                r += s->w[i];
    }
    return r;
}

static int script_score(void *user, struct compile_cand *c, size_t n, struct dse_err *err)
{
    (void)err;
    struct script *s = user;
    s->batches++;
    for (size_t i = 0; i < n; i++) {
        c[i].reward = script_reward(s, c[i].params);
        c[i].scored = true;
        s->scored++;
    }
    return 0;
}

static int script_details(void *user, const struct compile_cand *c, cJSON **examples,
                          struct dse_err *err)
{
    (void)c;
    (void)err;
    struct script *s = user;
    *examples = json_arr();
    if (s->fail_error) {
        cJSON *e = json_obj(), *er = json_obj();
        json_set_str(e, "exampleId", "x");
        json_set_num(e, "reward", 0);
        json_set_str(er, "errorName", s->fail_error);
        json_set_str(er, "message", "scripted");
        json_set(e, "error", er);
        cJSON_AddItemToArray(*examples, e);
    }
    return 0;
}

static void run_search(const cJSON *base, const cJSON *job, const cJSON *ir,
                       const struct eval_set *train, struct script *s,
                       struct compile_search_out *out)
{
    struct compile_scorer sc = {.score = script_score, .details = script_details, .user = s};
    struct compile_progress prog = {.phase = "search"};
    struct compile_search_in in = {
        .base = base, .job = job, .prompt_ir = ir, .train = train, .scorer = &sc, .prog = &prog};
    struct dse_err err = {0};
    int rc = compile_search(&in, out, &err);
    if (rc != 0)
        fail_msg("compile_search: %s: %s", err.code, err.msg);
    assert_int_equal(prog.done, (int)out->n);
}

/* ---- grid order and best pick ---- */

static void test_instruction_grid_order(void **state)
{
    (void)state;
    cJSON *base = parse("{\"paramsVersion\":1,\"instruction\":{\"text\":\"base\"}}");
    cJSON *space = parse("{\"instructionVariants\":["
                         "{\"id\":\"v1.base_router_rules\",\"text\":\"A\"},"
                         "{\"id\":\"v1.none_by_default_strict\",\"text\":\"B\"},"
                         "{\"id\":\"v1.boundaries_vs_identity\",\"text\":\"C\"},"
                         "{\"id\":\"v1_common_phrasings\",\"text\":\"D\"}]}");
    cJSON *grid = compile_instruction_grid(base, space);
    assert_int_equal(cJSON_GetArraySize(grid), 4);
    /* localeCompare order: '_' sorts before '.', so v1_common_phrasings first */
    const char *want[] = {"D", "A", "C", "B"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(json_str(json_get(cJSON_GetArrayItem(grid, i), "instruction"), "text", ""),
                            want[i]);
    cJSON_Delete(grid);
    /* no variants: the base params are the only candidate */
    cJSON *empty = json_obj();
    grid = compile_instruction_grid(base, empty);
    assert_int_equal(cJSON_GetArraySize(grid), 1);
    assert_true(json_equal(cJSON_GetArrayItem(grid, 0), base));
    cJSON_Delete(grid);
    cJSON_Delete(empty);
    cJSON_Delete(space);
    cJSON_Delete(base);
}

static void test_selecttool_grid_ids(void **state)
{
    (void)state;
    cJSON *sig = catalog_sig("/SelectTool.v1");
    char def[HASH_ID_LEN + 1];
    catalog_default_id(sig, def);
    assert_string_equal(def, "sha256:a76900eb174f20d0364ad84b189228a67958612fa0733c10349c52c439f64525");
    cJSON *job = catalog_compile_job(sig);
    cJSON *grid = compile_instruction_grid(catalog_default_params(sig), json_get(job, "searchSpace"));
    assert_int_equal(cJSON_GetArraySize(grid), 4);
    /* the first candidate carries the v1_common_phrasings text */
    const cJSON *vars = json_path(job, "searchSpace.instructionVariants"), *v;
    const char *common = NULL;
    cJSON_ArrayForEach(v, vars) if (!strcmp(json_str(v, "id", ""), "v1_common_phrasings")) common =
        json_str(v, "text", "");
    assert_non_null(common);
    assert_string_equal(json_str(json_get(cJSON_GetArrayItem(grid, 0), "instruction"), "text", ""),
                        common);
    /* the base is not a candidate */
    const cJSON *c;
    cJSON_ArrayForEach(c, grid)
    {
        char id[HASH_ID_LEN + 1];
        hash_json(c, id);
        assert_string_not_equal(id, def);
    }
    cJSON_Delete(grid);
    cJSON_Delete(job);
    cJSON_Delete(sig);
}

static void test_pick_best(void **state)
{
    (void)state;
    struct compile_cand c[4] = {0};
    snprintf(c[0].compiled_id, sizeof c[0].compiled_id, "sha256:cc");
    snprintf(c[1].compiled_id, sizeof c[1].compiled_id, "sha256:aa");
    snprintf(c[2].compiled_id, sizeof c[2].compiled_id, "sha256:bb");
    snprintf(c[3].compiled_id, sizeof c[3].compiled_id, "sha256:00");
    c[0].reward = 0.5;
    c[1].reward = 0.5 - 1e-13; /* a tie within 1e-12 */
    c[2].reward = 0.5;
    c[3].reward = 0.2;
    assert_int_equal(compile_pick_best(c, 4), 1); /* smallest id among the tied */
    c[2].reward = 0.5 + 1e-11;                    /* a real improvement */
    assert_int_equal(compile_pick_best(c, 4), 2);
    assert_int_equal(compile_pick_best(c, 1), 0);
}

static void test_search_grid_tie_break(void **state)
{
    (void)state;
    cJSON *sig = catalog_sig("/SelectTool.v1");
    cJSON *job = catalog_compile_job(sig);
    /* plain instruction grid: every candidate scores the same */
    cJSON *opt = json_obj();
    json_set_str(opt, "id", "instruction_grid.v1");
    json_set(job, "optimizer", opt);
    struct script s = {.scored = 0};
    struct compile_search_out out;
    run_search(catalog_default_params(sig), job, catalog_prompt_ir(sig), NULL, &s, &out);
    assert_int_equal(out.n, 4);
    assert_int_equal(s.batches, 1); /* one concurrent batch */
    const char *min = out.cands[0].compiled_id;
    for (size_t i = 1; i < out.n; i++)
        if (strcmp(out.cands[i].compiled_id, min) < 0)
            min = out.cands[i].compiled_id;
    assert_string_equal(out.cands[out.best].compiled_id, min);
    compile_search_out_free(&out);
    cJSON_Delete(job);
    cJSON_Delete(sig);
}

/* ---- greedy forward ---- */

static void test_greedy_forward_authored(void **state)
{
    (void)state;
    cJSON *base = parse("{\"paramsVersion\":1}");
    cJSON *ir = parse("{\"version\":1,\"blocks\":[{\"_tag\":\"FewShot\",\"examples\":["
                      "{\"id\":\"a\",\"input\":{},\"output\":{}},{\"id\":\"b\",\"input\":{},\"output\":{}},"
                      "{\"id\":\"c\",\"input\":{},\"output\":{}},{\"id\":\"d\",\"input\":{},\"output\":{}}]}]}");
    cJSON *job = parse("{\"searchSpace\":{\"fewShot\":{\"candidateExampleIds\":[\"d\",\"c\",\"b\",\"a\",\"b\"],"
                       "\"kMax\":3}},\"optimizer\":{\"id\":\"fewshot_greedy_forward.v1\"}}");
    struct script s = {.ids = {"a", "b", "c", "d"}, .w = {0.3, 0.2, 0.0, -0.1}};
    struct compile_search_out out;
    run_search(base, job, ir, NULL, &s, &out);
    /* base, step 1 (4 tries), step 2 (3 tries: a+b wins), step 3 (2 tries, no gain) */
    assert_int_equal(out.n, 1 + 4 + 3 + 2);
    assert_int_equal(s.batches, 4);
    const cJSON *best = out.cands[out.best].params;
    const cJSON *ids = json_path(best, "fewShot.exampleIds");
    assert_int_equal(cJSON_GetArraySize(ids), 2);
    assert_string_equal(cJSON_GetArrayItem(ids, 0)->valuestring, "a");
    assert_string_equal(cJSON_GetArrayItem(ids, 1)->valuestring, "b");
    assert_int_equal(json_int(json_get(best, "fewShot"), "k", 0), 2);
    assert_true(fabs(out.cands[out.best].reward - 0.6) < 1e-9);
    /* the first scored candidate is the base itself */
    assert_true(json_equal(out.cands[0].params, base));
    compile_search_out_free(&out);

    /* kMax bounds the steps; no improvement at all stops after one step */
    struct script flat = {.ids = {"a"}, .w = {0.0}};
    run_search(base, job, ir, NULL, &flat, &out);
    assert_int_equal(out.n, 1 + 4);
    assert_true(json_equal(out.cands[out.best].params, base) ||
                fabs(out.cands[out.best].reward - 0.1) < 1e-12);
    compile_search_out_free(&out);
    cJSON_Delete(job);
    cJSON_Delete(ir);
    cJSON_Delete(base);
}

static void test_greedy_forward_train_demos(void **state)
{
    (void)state;
    cJSON *base = parse("{\"paramsVersion\":1}");
    cJSON *ir = parse("{\"version\":1,\"blocks\":[{\"_tag\":\"FewShot\",\"examples\":["
                      "{\"id\":\"ex1\",\"input\":{},\"output\":{}}]}]}");
    cJSON *job = parse("{\"searchSpace\":{\"fewShot\":{\"fromSplit\":\"train\",\"kMax\":2,"
                       "\"maxCandidates\":3}},\"optimizer\":{\"id\":\"fewshot_greedy_forward.v1\"}}");
    cJSON *in[4], *exp[4];
    struct eval_example ex[4];
    const char *ids[] = {"t1", "t2", "t3", "t4"};
    for (int i = 0; i < 4; i++) {
        in[i] = json_obj();
        json_set_num(in[i], "i", i);
        exp[i] = json_obj();
        json_set_num(exp[i], "o", i);
        ex[i] = (struct eval_example){.id = ids[i], .input = in[i], .expected = exp[i]};
    }
    struct eval_set train = {.dataset_id = "d", .ex = ex, .n = 4};
    /* pool of 3 out of 4, evenly: t1, t2, t3 (indices 0, 1, 2 of 4 * i / 3) */
    struct script s = {.ids = {"t3", "t1", "t4"}, .w = {0.4, 0.1, 0.9}};
    struct compile_search_out out;
    run_search(base, job, ir, &train, &s, &out);
    const cJSON *best = out.cands[out.best].params;
    const cJSON *eids = json_path(best, "fewShot.exampleIds");
    /* authored ids stay in view, then the chosen train demos: t3 then t1 (t4 not in the pool) */
    assert_int_equal(cJSON_GetArraySize(eids), 3);
    assert_string_equal(cJSON_GetArrayItem(eids, 0)->valuestring, "ex1");
    assert_string_equal(cJSON_GetArrayItem(eids, 1)->valuestring, "t3");
    assert_string_equal(cJSON_GetArrayItem(eids, 2)->valuestring, "t1");
    const cJSON *demos = json_path(best, "fewShot.demos");
    assert_int_equal(cJSON_GetArraySize(demos), 2);
    const cJSON *d0 = cJSON_GetArrayItem(demos, 0);
    assert_string_equal(json_str(d0, "id", ""), "t3");
    assert_true(json_equal(json_get(d0, "input"), in[2]));
    assert_true(json_equal(json_get(d0, "output"), exp[2]));
    assert_int_equal(out.n, 1 + 3 + 2);
    compile_search_out_free(&out);
    for (int i = 0; i < 4; i++) {
        cJSON_Delete(in[i]);
        cJSON_Delete(exp[i]);
    }
    cJSON_Delete(job);
    cJSON_Delete(ir);
    cJSON_Delete(base);
}

static void test_joint(void **state)
{
    (void)state;
    cJSON *base = parse("{\"paramsVersion\":1}");
    cJSON *ir = parse("{\"version\":1,\"blocks\":[{\"_tag\":\"FewShot\",\"examples\":["
                      "{\"id\":\"a\",\"input\":{},\"output\":{}},{\"id\":\"b\",\"input\":{},\"output\":{}}]}]}");
    cJSON *job = parse("{\"searchSpace\":{\"instructionVariants\":[{\"id\":\"x\",\"text\":\"X\"},"
                       "{\"id\":\"y\",\"text\":\"Y\"}],\"fewShot\":{\"candidateExampleIds\":[\"a\",\"b\"],"
                       "\"kMax\":2}},\"optimizer\":{\"id\":"
                       "\"joint_instruction_grid_then_fewshot_greedy_forward.v1\"}}");
    struct script s = {.ids = {"a", "b"}, .w = {0.2, 0.3}};
    struct compile_search_out out;
    run_search(base, job, ir, NULL, &s, &out);
    /* grid: 2; greedy from the grid's best (already scored: not again) + 2 + 1 */
    assert_int_equal(out.n, 2 + 2 + 1);
    const cJSON *best = out.cands[out.best].params;
    assert_non_null(json_get(best, "instruction"));
    assert_int_equal(cJSON_GetArraySize(json_path(best, "fewShot.exampleIds")), 2);
    assert_string_equal(cJSON_GetArrayItem(json_path(best, "fewShot.exampleIds"), 0)->valuestring, "b");
    compile_search_out_free(&out);
    cJSON_Delete(job);
    cJSON_Delete(ir);
    cJSON_Delete(base);
}

/* ---- knobs ---- */

static void test_knobs_expansion(void **state)
{
    (void)state;
    cJSON *sig = catalog_sig("/RecapThread.v1");
    cJSON *job = catalog_compile_job(sig);
    const cJSON *base = catalog_default_params(sig), *space = json_get(job, "searchSpace");
    /* 1 strategy x 2 instructions x 2 controllers x 2 chunkings x 2 sub-roles x 2 budgets + base */
    cJSON *grid = compile_knobs_grid(base, space, 96);
    assert_int_equal(cJSON_GetArraySize(grid), 33);
    assert_true(json_equal(cJSON_GetArrayItem(grid, 0), base));
    const cJSON *c1 = cJSON_GetArrayItem(grid, 1);
    assert_string_equal(json_str(json_get(c1, "strategy"), "id", ""), "rlm_lite.v1");
    /* budgets of a profile are merged over the base budgets (maxToolCalls kept) */
    assert_int_equal(json_int(json_get(c1, "budgets"), "maxToolCalls", -1), 0);
    assert_true(json_get(json_get(c1, "rlmLite"), "chunkDefaults") != NULL);
    /* ids are unique */
    for (int i = 0; i < 33; i++)
        for (int j = i + 1; j < 33; j++)
            assert_false(json_equal(cJSON_GetArrayItem(grid, i), cJSON_GetArrayItem(grid, j)));
    cJSON_Delete(grid);
    /* the cap: clamped and applied to the expansion and to the final list */
    grid = compile_knobs_grid(base, space, 10);
    assert_int_equal(cJSON_GetArraySize(grid), 10);
    cJSON_Delete(grid);
    grid = compile_knobs_grid(base, space, 0); /* default 128 */
    assert_int_equal(cJSON_GetArraySize(grid), 33);
    cJSON_Delete(grid);
    grid = compile_knobs_grid(base, space, 1);
    assert_int_equal(cJSON_GetArraySize(grid), 1);
    cJSON_Delete(grid);
    cJSON_Delete(job);
    cJSON_Delete(sig);

    /* duplicates collapse: two variants with the same text, and a variant
     * equal to the base */
    cJSON *b2 = parse("{\"paramsVersion\":1,\"instruction\":{\"text\":\"same\"}}");
    cJSON *sp2 = parse("{\"instructionVariants\":[{\"id\":\"a\",\"text\":\"same\"},"
                       "{\"id\":\"b\",\"text\":\"same\"},{\"id\":\"c\",\"text\":\"other\"}],"
                       "\"budgetProfiles\":[{\"id\":\"p\",\"budgets\":{\"maxLmCalls\":3}}]}");
    grid = compile_knobs_grid(b2, sp2, 128);
    /* base; then 3 instruction seeds -> x1 budget = 3, of which two are equal */
    assert_int_equal(cJSON_GetArraySize(grid), 1 + 2);
    cJSON_Delete(grid);
    cJSON_Delete(sp2);
    cJSON_Delete(b2);
}

static void test_knobs_refine(void **state)
{
    (void)state;
    cJSON *base = parse("{\"paramsVersion\":1,\"budgets\":{\"maxLmCalls\":5}}");
    cJSON *job = parse("{\"searchSpace\":{\"budgetProfiles\":[{\"id\":\"p\",\"budgets\":"
                       "{\"maxLmCalls\":7}}]},\"optimizer\":{\"id\":\"knobs_grid_refine.v1\"}}");
    struct script s = {.fail_error = "BudgetExceededError"};
    struct compile_search_out out;
    run_search(base, job, NULL, NULL, &s, &out);
    /* base + 1 profile, then one budget patch of the best */
    assert_int_equal(out.n, 3);
    const cJSON *patched = out.cands[2].params;
    assert_int_equal(json_int(json_get(patched, "budgets"), "maxTimeMs", 0), 30000);
    assert_int_equal(json_int(json_get(patched, "budgets"), "maxRlmIterations", 0), 12);
    assert_int_equal(json_int(json_get(patched, "budgets"), "maxSubLmCalls", 0), 20);
    assert_int_equal(json_int(json_get(patched, "budgets"), "maxOutputChars", 0), 240000);
    compile_search_out_free(&out);

    struct script d = {.fail_error = "OutputDecodeError"};
    run_search(base, job, NULL, NULL, &d, &out);
    assert_int_equal(out.n, 3);
    assert_non_null(json_str(json_get(out.cands[2].params, "rlmLite"), "controllerInstructions", NULL));
    compile_search_out_free(&out);

    struct script none = {.scored = 0};
    run_search(base, job, NULL, NULL, &none, &out);
    assert_int_equal(out.n, 2); /* no failures, no patches */
    compile_search_out_free(&out);
    cJSON_Delete(job);
    cJSON_Delete(base);
}

static void test_merge(void **state)
{
    (void)state;
    cJSON *base = parse("{\"paramsVersion\":1,\"decode\":{\"mode\":\"jsonish\",\"maxRepairs\":3},"
                        "\"model\":{\"temperature\":0}}");
    cJSON *patch = parse("{\"decode\":{\"maxRepairs\":1},\"instruction\":{\"text\":\"t\"}}");
    cJSON *m = compile_merge_params(base, patch);
    char *c = json_canonical(m);
    assert_string_equal(c, "{\"decode\":{\"maxRepairs\":1,\"mode\":\"jsonish\"},\"instruction\":"
                           "{\"text\":\"t\"},\"model\":{\"temperature\":0},\"paramsVersion\":1}");
    free(c);
    /* key order follows a JS spread: base keys keep their place */
    assert_string_equal(m->child->string, "paramsVersion");
    cJSON_Delete(m);
    cJSON_Delete(patch);
    cJSON_Delete(base);
}

/* ---- whole compiles on the real SelectTool dataset with local-knn ---- */

static char *fixture_path(void)
{
    const char *src = getenv("DSE_SRCDIR");
    return xasprintf("%s/db/datasets/selecttool.dataset.v1.jsonl", src && *src ? src : ".");
}

/* A store at path with the catalog and the SelectTool fixture. */
static struct store *demo_store(const char *path)
{
    struct dse_err err = {0};
    struct store *st = store_open_sqlite(path, 0, &err);
    if (!st)
        fail_msg("open %s: %s", path, err.msg);
    assert_int_equal(catalog_install(st, NULL, NULL, NULL, &err), 0);
    cJSON *sig = store_signature(st, "@openagents/autopilot/blueprint/SelectTool.v1", &err);
    assert_non_null(sig);
    char *fx = fixture_path();
    struct dataset_import_result ir;
    if (dataset_import_file(st, sig, fx, NULL, &ir, &err) != 0)
        fail_msg("import %s: %s", fx, err.msg);
    assert_int_equal(ir.total, 34);
    free(fx);
    cJSON_Delete(sig);
    return st;
}

/* A provider in front of local-knn that counts calls and, when told to,
 * ends the process at its Nth call: a crash in the middle of a compile. */
struct crashy {
    struct lm_client *inner;
    long calls;
    long crash_at; /* 0 = never */
};

static int crashy_complete(struct lm_client *c, const struct lm_request *req,
                           struct lm_response *resp, struct dse_err *err)
{
    struct crashy *k = c->impl;
    long n = __atomic_add_fetch(&k->calls, 1, __ATOMIC_SEQ_CST);
    if (k->crash_at && n == k->crash_at)
        _exit(0);
    return lm_complete(k->inner, req, resp, err);
}

static void crashy_close(struct lm_client *c)
{
    struct crashy *k = c->impl;
    lm_close(k->inner);
    free(k);
}

static const struct lm_provider crashy_provider = {
    .name = "crashy", .complete = crashy_complete, .close = crashy_close};

static struct lm_client *crashy_open(long crash_at, struct crashy **out)
{
    struct dse_err err = {0};
    struct lm_config cfg = {.provider = "local-knn"};
    struct crashy *k = xcalloc(1, sizeof *k);
    k->inner = lm_open(&cfg, &err);
    assert_non_null(k->inner);
    k->crash_at = crash_at;
    struct lm_client *c = xcalloc(1, sizeof *c);
    c->prov = &crashy_provider;
    c->impl = k;
    snprintf(c->desc, sizeof c->desc, "%s", k->inner->desc);
    snprintf(c->default_model, sizeof c->default_model, "%s", k->inner->default_model);
    if (out)
        *out = k;
    return c;
}

static int do_compile(struct store *st, struct lm_client *lm, int conc, struct compile_result *cr)
{
    struct compile_opts o = {.signature_id = "@openagents/autopilot/blueprint/SelectTool.v1",
                             .lm = lm,
                             .concurrency = conc};
    struct dse_err err = {0};
    int rc = compile_run(st, &o, cr, &err);
    if (rc != 0)
        fprintf(stderr, "compile: %s: %s\n", err.code, err.msg);
    return rc;
}

static char *tmp_dir(void)
{
    char tmpl[] = "/tmp/dse-test-compile-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return xstrdup(d);
}

static void rm_store(const char *dir, const char *name)
{
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char *p = xasprintf("%s/%s%s", dir, name, sfx[i]);
        unlink(p);
        free(p);
    }
}

struct progress_log {
    int calls;
    int max_done;
    bool saw_done;
};

static void log_progress(void *user, const struct compile_progress *p)
{
    struct progress_log *l = user;
    l->calls++;
    if (p->done > l->max_done)
        l->max_done = p->done;
    if (!strcmp(p->phase, "done"))
        l->saw_done = true;
}

static void test_compile_idempotent(void **state)
{
    (void)state;
    struct dse_err err = {0};
    struct store *st = demo_store(":memory:");
    struct lm_config cfg = {.provider = "local-knn"};
    struct lm_client *lm = lm_cache_wrap(lm_open(&cfg, &err), st);
    struct progress_log pl = {0};
    struct compile_opts o = {.signature_id = "@openagents/autopilot/blueprint/SelectTool.v1",
                             .lm = lm,
                             .concurrency = 4,
                             .progress = log_progress,
                             .user = &pl};
    struct compile_result a, b;
    assert_int_equal(compile_run(st, &o, &a, &err), 0);
    assert_false(a.existed);
    assert_true(a.candidates > 4);       /* grid + greedy steps */
    assert_true(a.lm_calls > 0);
    assert_true(pl.saw_done && pl.max_done == a.candidates);
    assert_string_equal(a.dataset_hash,
                        "sha256:a0b955178d5b6a32a14dcd6d133c4f70ae3e0580d8e8d6617b186f5bbe54a604");
    /* the report and the artifact are stored */
    const cJSON *rep = json_get(a.report, "report");
    assert_string_equal(json_str(a.report, "format", ""), "openagents.dse.compile_report");
    assert_int_equal(cJSON_GetArraySize(json_get(rep, "evaluatedCandidates")), a.candidates);
    assert_string_equal(json_path(rep, "best.compiled_id")->valuestring, a.compiled_id);
    cJSON *art = store_artifact(st, a.signature_id, a.compiled_id, &err);
    assert_non_null(art);
    assert_string_equal(json_str(art, "compiled_id", ""), a.compiled_id);
    assert_string_equal(json_path(art, "hashes.paramsHash")->valuestring, a.compiled_id);
    assert_true(json_num(json_get(art, "eval"), "reward", -1) == a.holdout_reward);
    assert_int_equal(json_int(json_get(art, "eval"), "n", 0), 10);
    assert_string_equal(json_path(art, "optimizer.id")->valuestring,
                        "joint_instruction_grid_then_fewshot_greedy_forward.v1");
    assert_int_equal(json_int(json_path(art, "optimizer.config"), "candidates", 0), a.candidates);
    assert_string_equal(json_path(art, "provenance.datasetHash")->valuestring, a.dataset_hash);
    /* few-shot demos come from train only */
    const cJSON *d;
    cJSON_ArrayForEach(d, json_path(art, "params.fewShot.demos"))
        assert_non_null(strstr(json_str(d, "id", ""), ".train."));
    cJSON_Delete(art);

    /* the second compile finds the report: no LM call, no cache lookup */
    assert_int_equal(compile_run(st, &o, &b, &err), 0);
    assert_true(b.existed);
    assert_int_equal(b.lm_calls, 0);
    assert_int_equal(b.cache_hits, 0);
    assert_string_equal(b.compiled_id, a.compiled_id);
    assert_true(b.holdout_reward == a.holdout_reward);
    compile_result_free(&a);
    compile_result_free(&b);
    lm_close(lm);
    store_close(st);
}

static void test_compile_errors(void **state)
{
    (void)state;
    struct dse_err err = {0};
    struct store *st = store_open_sqlite(":memory:", 0, &err);
    assert_int_equal(catalog_install(st, NULL, NULL, NULL, &err), 0);
    struct lm_config cfg = {.provider = "local-knn"};
    struct lm_client *lm = lm_open(&cfg, &err);
    struct compile_result r;
    struct compile_opts o = {.signature_id = "@openagents/autopilot/blueprint/SelectTool.v1", .lm = lm};
    assert_int_equal(compile_run(st, &o, &r, &err), -1);
    assert_string_equal(err.code, "no_examples");
    o.signature_id = "@nope/Unknown.v1";
    assert_int_equal(compile_run(st, &o, &r, &err), -1);
    assert_string_equal(err.code, "unknown_signature");
    lm_close(lm);
    store_close(st);
}

/* Kill a compile midway (the process exits inside its Nth provider call),
 * restart it: the report is the same as an uninterrupted compile's, and the
 * restart calls the provider only for the work that had not finished. */
static void test_compile_resume_after_crash(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    char *pa = xasprintf("%s/a.db", dir), *pb = xasprintf("%s/b.db", dir);

    /* reference: one uninterrupted compile */
    struct store *st = demo_store(pa);
    struct crashy *k;
    struct lm_client *lm = lm_cache_wrap(crashy_open(0, &k), st);
    struct compile_result full;
    assert_int_equal(do_compile(st, lm, 1, &full), 0);
    long total = k->calls;
    assert_true(total > 100);
    lm_close(lm);
    store_close(st);

    /* the crashed run: a child process dies inside call number total/2 */
    st = demo_store(pb);
    store_close(st);
    long crash_at = total / 2;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct dse_err e2 = {0};
        struct store *cst = store_open_sqlite(pb, 0, &e2);
        struct lm_client *clm = lm_cache_wrap(crashy_open(crash_at, NULL), cst);
        struct compile_result cr;
        do_compile(cst, clm, 1, &cr);
        _exit(3); /* must not get here */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* the restart */
    struct dse_err err = {0};
    st = store_open_sqlite(pb, 0, &err);
    assert_non_null(st);
    lm = lm_cache_wrap(crashy_open(0, &k), st);
    struct compile_result again;
    assert_int_equal(do_compile(st, lm, 4, &again), 0);
    assert_false(again.existed);
    /* calls 1 .. crash_at-1 had finished and were cached */
    assert_int_equal(k->calls, total - (crash_at - 1));
    assert_int_equal((long)again.lm_calls, total - (crash_at - 1));
    assert_int_equal((long)again.cache_hits, crash_at - 1);
    assert_string_equal(again.compiled_id, full.compiled_id);
    char *r1 = json_canonical(json_get(full.report, "report"));
    char *r2 = json_canonical(json_get(again.report, "report"));
    assert_string_equal(r1, r2);
    free(r1);
    free(r2);
    compile_result_free(&full);
    compile_result_free(&again);
    lm_close(lm);
    store_close(st);
    rm_store(dir, "a.db");
    rm_store(dir, "b.db");
    rmdir(dir);
    free(pa);
    free(pb);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instruction_grid_order),
        cmocka_unit_test(test_selecttool_grid_ids),
        cmocka_unit_test(test_pick_best),
        cmocka_unit_test(test_search_grid_tie_break),
        cmocka_unit_test(test_greedy_forward_authored),
        cmocka_unit_test(test_greedy_forward_train_demos),
        cmocka_unit_test(test_joint),
        cmocka_unit_test(test_knobs_expansion),
        cmocka_unit_test(test_knobs_refine),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_compile_idempotent),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_compile_resume_after_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
