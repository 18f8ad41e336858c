#include "compile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "catalog.h"
#include "collate.h"
#include "compat.h"
#include "dataset.h"
#include "eval.h"
#include "json.h"
#include "lm.h"
#include "store.h"
#include "util.h"

/* ---- params ---- */

static const char *const sections[] = {"strategy", "instruction", "fewShot", "model", "modelRoles",
                                       "decode",   "tools",       "rlmLite", "budgets"};

static bool is_section(const char *key)
{
    for (size_t i = 0; i < ARRAY_LEN(sections); i++)
        if (strcmp(sections[i], key) == 0)
            return true;
    return false;
}

/* {...a, ...b} for two objects: keys of a keep their place, b's new keys
 * follow, as a JavaScript object spread does. */
static cJSON *spread(const cJSON *a, const cJSON *b)
{
    cJSON *out = cJSON_IsObject(a) ? json_dup(a) : json_obj();
    const cJSON *it;
    cJSON_ArrayForEach(it, b) json_set(out, it->string, json_dup(it));
    return out;
}

cJSON *compile_merge_params(const cJSON *base, const cJSON *patch)
{
    cJSON *out = json_dup(base);
    if (!out)
        out = json_obj();
    const cJSON *it;
    cJSON_ArrayForEach(it, patch)
    {
        const cJSON *cur = json_get(out, it->string);
        if (is_section(it->string) && cJSON_IsObject(it))
            json_set(out, it->string, spread(cJSON_IsObject(cur) ? cur : NULL, it));
        else
            json_set(out, it->string, json_dup(it));
    }
    return out;
}

/* patch = {section: {key: value}} with value borrowed. */
static cJSON *patch1(const cJSON *base, const char *section, const char *key, const cJSON *value)
{
    cJSON *p = json_obj(), *s = json_obj();
    json_set_copy(s, key, value);
    json_set(p, section, s);
    cJSON *out = compile_merge_params(base, p);
    cJSON_Delete(p);
    return out;
}

static cJSON *patch_str(const cJSON *base, const char *section, const char *key, const char *v)
{
    cJSON *s = cJSON_CreateString(v);
    cJSON *out = patch1(base, section, key, s);
    cJSON_Delete(s);
    return out;
}

/* ---- grids ---- */

static int variant_cmp(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return collate_cmp(json_str(x, "id", ""), json_str(y, "id", ""));
}

/* The variants of one search-space list, sorted by id (borrowed pointers;
 * caller frees the array).  Entries that are not objects are skipped. */
static const cJSON **sorted_variants(const cJSON *list, size_t *n)
{
    size_t cap = (size_t)cJSON_GetArraySize(list), k = 0;
    const cJSON **v = xcalloc(cap + 1, sizeof *v);
    const cJSON *it;
    cJSON_ArrayForEach(it, list) if (cJSON_IsObject(it)) v[k++] = it;
    /* insertion sort: stable, and the lists are short */
    for (size_t i = 1; i < k; i++) {
        const cJSON *x = v[i];
        size_t j = i;
        while (j > 0 && variant_cmp(&v[j - 1], &x) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
    *n = k;
    return v;
}

cJSON *compile_instruction_grid(const cJSON *base, const cJSON *search_space)
{
    cJSON *out = json_arr();
    size_t n;
    const cJSON **v = sorted_variants(json_get(search_space, "instructionVariants"), &n);
    if (n == 0)
        cJSON_AddItemToArray(out, json_dup(base));
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(out, patch_str(base, "instruction", "text", json_str(v[i], "text", "")));
    free(v);
    return out;
}

/* Apply one knobs variant of a stage to seed. */
enum stage { ST_STRATEGY, ST_INSTRUCTION, ST_CONTROLLER, ST_CHUNKING, ST_SUBROLE, ST_BUDGET };

static cJSON *apply_variant(const cJSON *seed, enum stage st, const cJSON *v)
{
    switch (st) {
    case ST_STRATEGY: {
        cJSON *p = json_obj(), *s = json_obj();
        json_set_str(s, "id", json_str(v, "strategyId", json_str(v, "id", "direct.v1")));
        json_set_copy(s, "config", json_get(v, "config"));
        json_set(p, "strategy", s);
        cJSON *out = compile_merge_params(seed, p);
        cJSON_Delete(p);
        return out;
    }
    case ST_INSTRUCTION:
        return patch_str(seed, "instruction", "text", json_str(v, "text", ""));
    case ST_CONTROLLER:
        return patch_str(seed, "rlmLite", "controllerInstructions",
                         json_str(v, "text", json_str(v, "controllerInstructions", "")));
    case ST_CHUNKING: {
        const cJSON *cd = json_get(v, "chunkDefaults");
        cJSON *c = json_obj();
        const char *keys[] = {"chunkChars", "overlapChars", "maxChunks"};
        for (size_t i = 0; i < ARRAY_LEN(keys); i++)
            json_set_copy(c, keys[i], json_get(cd ? cd : v, keys[i]));
        cJSON *out = patch1(seed, "rlmLite", "chunkDefaults", c);
        cJSON_Delete(c);
        return out;
    }
    case ST_SUBROLE:
        return patch_str(seed, "rlmLite", "subRole",
                         json_str(v, "subRole", json_str(v, "role", "sub")));
    case ST_BUDGET: {
        const cJSON *b = json_get(v, "budgets");
        if (!b)
            b = v;
        cJSON *bud = json_obj();
        const cJSON *it;
        cJSON_ArrayForEach(it, b) if (strcmp(it->string, "id") != 0)
            json_set_copy(bud, it->string, it);
        cJSON *p = json_obj();
        json_set(p, "budgets", bud);
        cJSON *out = compile_merge_params(seed, p);
        cJSON_Delete(p);
        return out;
    }
    }
    return json_dup(seed);
}

static int clamp_max_candidates(double v)
{
    if (!isfinite(v) || v <= 0)
        return 128;
    v = floor(v);
    if (v < 1)
        v = 1;
    if (v > 500)
        v = 500;
    return (int)v;
}

cJSON *compile_knobs_grid(const cJSON *base, const cJSON *space, int max_candidates)
{
    int maxc = clamp_max_candidates(max_candidates);
    static const struct {
        const char *key;
        enum stage st;
    } stages[] = {
        {"strategyVariants", ST_STRATEGY},
        {"instructionVariants", ST_INSTRUCTION},
        {"rlmControllerInstructionVariants", ST_CONTROLLER},
        {"rlmChunkingPolicyVariants", ST_CHUNKING},
        {"rlmSubRoleVariants", ST_SUBROLE},
        {"budgetProfiles", ST_BUDGET},
    };
    cJSON *seeds = json_arr();
    cJSON_AddItemToArray(seeds, json_dup(base));
    for (size_t s = 0; s < ARRAY_LEN(stages); s++) {
        size_t nv;
        const cJSON **v = sorted_variants(json_get(space, stages[s].key), &nv);
        if (nv == 0) {
            free(v);
            continue;
        }
        cJSON *next = json_arr();
        int count = 0;
        const cJSON *seed;
        cJSON_ArrayForEach(seed, seeds)
        {
            for (size_t i = 0; i < nv && count < maxc; i++, count++)
                cJSON_AddItemToArray(next, apply_variant(seed, stages[s].st, v[i]));
            if (count >= maxc)
                break;
        }
        free(v);
        cJSON_Delete(seeds);
        seeds = next;
    }
    /* base first, then the expansion; dedupe by serialisation */
    cJSON *all = json_arr();
    cJSON_AddItemToArray(all, json_dup(base));
    const cJSON *it;
    cJSON_ArrayForEach(it, seeds) cJSON_AddItemToArray(all, json_dup(it));
    cJSON_Delete(seeds);
    cJSON *out = json_arr();
    char **seen = xcalloc((size_t)cJSON_GetArraySize(all) + 1, sizeof *seen);
    size_t ns = 0;
    cJSON_ArrayForEach(it, all)
    {
        if (cJSON_GetArraySize(out) >= maxc)
            break;
        char *s = cJSON_PrintUnformatted(it);
        if (!s)
            die("out of memory");
        bool dup = false;
        for (size_t i = 0; i < ns && !dup; i++)
            dup = strcmp(seen[i], s) == 0;
        if (dup) {
            free(s);
            continue;
        }
        seen[ns++] = s;
        cJSON_AddItemToArray(out, json_dup(it));
    }
    for (size_t i = 0; i < ns; i++)
        free(seen[i]);
    free(seen);
    cJSON_Delete(all);
    return out;
}

size_t compile_pick_best(const struct compile_cand *c, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++) {
        double d = c[i].reward - c[best].reward;
        if (d > COMPILE_TIE_EPS ||
            (fabs(d) <= COMPILE_TIE_EPS && collate_cmp(c[i].compiled_id, c[best].compiled_id) < 0))
            best = i;
    }
    return best;
}

/* ---- the search ---- */

struct search {
    const struct compile_search_in *in;
    struct compile_search_out *out;
    size_t cap;
};

static void report(struct search *s)
{
    struct compile_progress *p = s->in->prog;
    if (!p)
        return;
    if (s->out->n) {
        size_t b = compile_pick_best(s->out->cands, s->out->n);
        p->has_best = true;
        p->best_reward = s->out->cands[b].reward;
        snprintf(p->best_id, sizeof p->best_id, "%s", s->out->cands[b].compiled_id);
    }
    if (s->in->progress)
        s->in->progress(s->in->user, p);
}

static ssize_t find_cand(const struct compile_search_out *o, const char *id)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->cands[i].compiled_id, id) == 0)
            return (ssize_t)i;
    return -1;
}

/* Score an array of params: candidates already scored keep their reward;
 * new ones are scored as one batch and appended.  rewards[i] receives the
 * reward of params[i]; ids[i] (optional) its compiled_id. */
static int score_params(struct search *s, const cJSON *params_arr, double *rewards,
                        char (*ids)[HASH_ID_LEN + 1], struct dse_err *err)
{
    size_t n = (size_t)cJSON_GetArraySize(params_arr);
    struct compile_cand *batch = xcalloc(n + 1, sizeof *batch);
    size_t nb = 0;
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, params_arr)
    {
        char id[HASH_ID_LEN + 1];
        hash_json(it, id);
        if (ids)
            snprintf(ids[i], HASH_ID_LEN + 1, "%s", id);
        bool fresh = find_cand(s->out, id) < 0;
        for (size_t k = 0; k < nb && fresh; k++)
            fresh = strcmp(batch[k].compiled_id, id) != 0;
        if (fresh) {
            batch[nb].params = json_dup(it);
            snprintf(batch[nb].compiled_id, sizeof batch[nb].compiled_id, "%s", id);
            nb++;
        }
        i++;
    }
    if (s->in->prog)
        s->in->prog->known += (int)nb;
    int rc = 0;
    if (nb)
        rc = s->in->scorer->score(s->in->scorer->user, batch, nb, err);
    if (rc == 0) {
        if (s->out->n + nb > s->cap) {
            s->cap = (s->out->n + nb) * 2 + 8;
            s->out->cands = xrealloc(s->out->cands, s->cap * sizeof *s->out->cands);
        }
        for (size_t k = 0; k < nb; k++) {
            s->out->cands[s->out->n++] = batch[k];
            batch[k].params = NULL;
        }
        if (s->in->prog)
            s->in->prog->done += (int)nb;
        report(s);
        i = 0;
        cJSON_ArrayForEach(it, params_arr)
        {
            char id[HASH_ID_LEN + 1];
            hash_json(it, id);
            ssize_t at = find_cand(s->out, id);
            rewards[i++] = at >= 0 ? s->out->cands[at].reward : 0;
        }
    }
    for (size_t k = 0; k < nb; k++)
        cJSON_Delete(batch[k].params);
    free(batch);
    return rc;
}

static int run_grid(struct search *s, const cJSON *grid, cJSON **best_params, struct dse_err *err)
{
    size_t n = (size_t)cJSON_GetArraySize(grid);
    double *r = xcalloc(n + 1, sizeof *r);
    char(*ids)[HASH_ID_LEN + 1] = xcalloc(n + 1, sizeof *ids);
    int rc = score_params(s, grid, r, ids, err);
    if (rc == 0 && best_params) {
        /* the best among this grid's candidates, by the global rule */
        struct compile_cand *tmp = xcalloc(n + 1, sizeof *tmp);
        for (size_t i = 0; i < n; i++) {
            tmp[i].reward = r[i];
            snprintf(tmp[i].compiled_id, sizeof tmp[i].compiled_id, "%s", ids[i]);
        }
        size_t b = n ? compile_pick_best(tmp, n) : 0;
        *best_params = json_dup(cJSON_GetArrayItem(grid, (int)b));
        free(tmp);
    }
    free(r);
    free(ids);
    return rc;
}

/* The few-shot pool: ids and (for train demos) the demo objects. */
struct fs_pool {
    char **ids;
    cJSON **demos; /* NULL entries for authored ids */
    size_t n;
    int k_max;
    bool from_train;
};

static void fs_pool_free(struct fs_pool *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->ids[i]);
        if (p->demos)
            cJSON_Delete(p->demos[i]);
    }
    free(p->ids);
    free(p->demos);
}

static int utf16_qsort(const void *a, const void *b)
{
    return json_utf16_cmp(*(char *const *)a, *(char *const *)b);
}

static void fs_pool_build(const cJSON *fs, const struct eval_set *train, struct fs_pool *p)
{
    memset(p, 0, sizeof *p);
    const char *from = json_str(fs, "fromSplit", NULL);
    if (from && strcmp(from, "train") == 0 && train && train->n) {
        double mc = json_num(fs, "maxCandidates", 24);
        int maxc = isfinite(mc) && mc >= 1 ? (int)fmin(500, floor(mc)) : 24;
        size_t n = train->n < (size_t)maxc ? train->n : (size_t)maxc;
        p->from_train = true;
        p->ids = xcalloc(n + 1, sizeof *p->ids);
        p->demos = xcalloc(n + 1, sizeof *p->demos);
        /* evenly over the sorted train ids, so a small pool still covers
         * every label group rather than the first few ids */
        for (size_t i = 0; i < n; i++) {
            const struct eval_example *ex = &train->ex[(i * train->n) / n];
            p->ids[i] = xstrdup(ex->id);
            cJSON *d = json_obj();
            json_set_str(d, "id", ex->id);
            json_set_copy(d, "input", ex->input);
            json_set_copy(d, "output", ex->expected);
            p->demos[i] = d;
        }
        p->n = n;
    } else {
        const cJSON *ids = json_get(fs, "candidateExampleIds");
        size_t cap = (size_t)cJSON_GetArraySize(ids);
        p->ids = xcalloc(cap + 1, sizeof *p->ids);
        const cJSON *it;
        cJSON_ArrayForEach(it, ids) if (cJSON_IsString(it) && it->valuestring[0])
            p->ids[p->n++] = xstrdup(it->valuestring);
        qsort(p->ids, p->n, sizeof *p->ids, utf16_qsort);
        size_t w = 0;
        for (size_t i = 0; i < p->n; i++) {
            if (w && strcmp(p->ids[w - 1], p->ids[i]) == 0) {
                free(p->ids[i]);
                continue;
            }
            p->ids[w++] = p->ids[i];
        }
        p->n = w;
    }
    double km = json_num(fs, "kMax", 4);
    p->k_max = isfinite(km) && km > 0 ? (int)fmin(floor(km), 500) : 0;
}

/* The authored few-shot ids the start params show: its fewShot.exampleIds,
 * or every id of the prompt's FewShot blocks.  Train demos are added on top
 * of these, so the demos the signature was written with stay in view. */
static cJSON *authored_ids(const cJSON *start, const cJSON *prompt_ir)
{
    const cJSON *ex = json_path(start, "fewShot.exampleIds");
    if (cJSON_IsArray(ex))
        return json_dup(ex);
    cJSON *out = json_arr();
    const cJSON *blk;
    cJSON_ArrayForEach(blk, json_get(prompt_ir, "blocks"))
    {
        if (strcmp(json_str(blk, "_tag", ""), "FewShot") != 0)
            continue;
        const cJSON *e;
        cJSON_ArrayForEach(e, json_get(blk, "examples"))
        {
            const char *id = json_str(e, "id", NULL);
            if (id)
                cJSON_AddItemToArray(out, cJSON_CreateString(id));
        }
    }
    return out;
}

static cJSON *fewshot_params(const cJSON *start, const struct fs_pool *p, const cJSON *authored,
                             const size_t *sel, size_t k)
{
    cJSON *fs = json_obj(), *ids = json_arr();
    if (p->from_train) {
        const cJSON *it;
        cJSON_ArrayForEach(it, authored) cJSON_AddItemToArray(ids, json_dup(it));
    }
    for (size_t i = 0; i < k; i++)
        cJSON_AddItemToArray(ids, cJSON_CreateString(p->ids[sel[i]]));
    json_set_num(fs, "k", cJSON_GetArraySize(ids));
    json_set(fs, "exampleIds", ids);
    if (p->from_train) {
        cJSON *demos = json_arr();
        for (size_t i = 0; i < k; i++)
            cJSON_AddItemToArray(demos, json_dup(p->demos[sel[i]]));
        json_set(fs, "demos", demos);
    }
    cJSON *patch = json_obj();
    json_set(patch, "fewShot", fs);
    cJSON *out = compile_merge_params(start, patch);
    cJSON_Delete(patch);
    return out;
}

static int run_greedy(struct search *s, const cJSON *start, const cJSON *prompt_ir,
                      struct dse_err *err)
{
    const cJSON *fs = json_path(s->in->job, "searchSpace.fewShot");
    double cur;
    cJSON *one = json_arr();
    cJSON_AddItemToArray(one, json_dup(start));
    int rc = score_params(s, one, &cur, NULL, err);
    cJSON_Delete(one);
    if (rc < 0 || !cJSON_IsObject(fs))
        return rc;
    struct fs_pool pool;
    fs_pool_build(fs, s->in->train, &pool);
    cJSON *authored = authored_ids(start, prompt_ir);
    size_t *sel = xcalloc(pool.n + 1, sizeof *sel);
    bool *used = xcalloc(pool.n + 1, sizeof *used);
    size_t k = 0;
    while (rc == 0 && k < (size_t)pool.k_max && k < pool.n) {
        cJSON *step = json_arr();
        size_t *which = xcalloc(pool.n + 1, sizeof *which);
        size_t nw = 0;
        for (size_t i = 0; i < pool.n; i++) {
            if (used[i])
                continue;
            sel[k] = i;
            cJSON_AddItemToArray(step, fewshot_params(start, &pool, authored, sel, k + 1));
            which[nw++] = i;
        }
        double *r = xcalloc(nw + 1, sizeof *r);
        rc = score_params(s, step, r, NULL, err);
        if (rc == 0) {
            size_t b = 0;
            for (size_t i = 1; i < nw; i++)
                if (r[i] > r[b] + COMPILE_TIE_EPS)
                    b = i;
            if (nw == 0 || !(r[b] > cur + COMPILE_TIE_EPS)) {
                free(r);
                free(which);
                cJSON_Delete(step);
                break;
            }
            sel[k++] = which[b];
            used[which[b]] = true;
            cur = r[b];
        }
        free(r);
        free(which);
        cJSON_Delete(step);
    }
    free(sel);
    free(used);
    cJSON_Delete(authored);
    fs_pool_free(&pool);
    return rc;
}

#define STRICT_CONTROLLER_TEXT                                                                 \
    "Reply with exactly one valid JSON action object that matches the action schema, and "    \
    "nothing else: no prose, no code fences, no trailing text."
#define EVIDENCE_CONTROLLER_TEXT                                                               \
    "When you cite evidence, copy it as an exact substring of the blob text you read (same "  \
    "characters, same spacing); never paraphrase a quote."

static int run_refine(struct search *s, const struct compile_scorer *sc, struct dse_err *err)
{
    if (!s->out->n || !sc->details)
        return 0;
    size_t b = compile_pick_best(s->out->cands, s->out->n);
    cJSON *details = NULL;
    if (sc->details(sc->user, &s->out->cands[b], &details, err) < 0)
        return -1;
    bool decode = false, evidence = false, budget = false;
    const cJSON *ex;
    cJSON_ArrayForEach(ex, details)
    {
        if (json_num(ex, "reward", 0) >= 1)
            continue;
        const char *en = json_str(json_get(ex, "error"), "errorName", "");
        if (strncmp(en, "OutputDecode", 12) == 0)
            decode = true;
        if (strncmp(en, "BudgetExceeded", 14) == 0)
            budget = true;
        const cJSON *sig;
        cJSON_ArrayForEach(sig, json_get(ex, "signals"))
        {
            if (strcmp(json_str(sig, "signalId", ""), "evidence_quote_in_blob.v1") == 0 &&
                json_num(sig, "score", 0) <= 0)
                evidence = true;
        }
    }
    cJSON_Delete(details);
    const cJSON *best = s->out->cands[b].params;
    cJSON *patches = json_arr();
    if (decode)
        cJSON_AddItemToArray(patches,
                             patch_str(best, "rlmLite", "controllerInstructions", STRICT_CONTROLLER_TEXT));
    if (evidence)
        cJSON_AddItemToArray(patches, patch_str(best, "rlmLite", "controllerInstructions",
                                                EVIDENCE_CONTROLLER_TEXT));
    if (budget) {
        const cJSON *bud = json_get(best, "budgets");
        cJSON *nb = json_obj();
        json_set_num(nb, "maxTimeMs", json_num(bud, "maxTimeMs", 15000) * 2);
        json_set_num(nb, "maxLmCalls", json_num(bud, "maxLmCalls", 20) * 2);
        json_set_num(nb, "maxOutputChars", json_num(bud, "maxOutputChars", 120000) * 2);
        json_set_num(nb, "maxRlmIterations", json_num(bud, "maxRlmIterations", 6) + 6);
        json_set_num(nb, "maxSubLmCalls", json_num(bud, "maxSubLmCalls", 10) + 10);
        cJSON *p = json_obj();
        json_set(p, "budgets", nb);
        cJSON_AddItemToArray(patches, compile_merge_params(best, p));
        cJSON_Delete(p);
    }
    int rc = 0;
    if (cJSON_GetArraySize(patches) > 0) {
        double *r = xcalloc((size_t)cJSON_GetArraySize(patches) + 1, sizeof *r);
        rc = score_params(s, patches, r, NULL, err);
        free(r);
    }
    cJSON_Delete(patches);
    return rc;
}

int compile_search(const struct compile_search_in *in, struct compile_search_out *out,
                   struct dse_err *err)
{
    memset(out, 0, sizeof *out);
    struct search s = {.in = in, .out = out};
    const char *opt = json_str(json_get(in->job, "optimizer"), "id", "instruction_grid.v1");
    const cJSON *space = json_get(in->job, "searchSpace");
    const cJSON *prompt_ir = in->prompt_ir;
    int rc;
    if (!strcmp(opt, "instruction_grid.v1")) {
        cJSON *grid = compile_instruction_grid(in->base, space);
        rc = run_grid(&s, grid, NULL, err);
        cJSON_Delete(grid);
    } else if (!strcmp(opt, "fewshot_greedy_forward.v1")) {
        rc = run_greedy(&s, in->base, prompt_ir, err);
    } else if (!strcmp(opt, "joint_instruction_grid_then_fewshot_greedy_forward.v1")) {
        cJSON *grid = compile_instruction_grid(in->base, space), *best = NULL;
        rc = run_grid(&s, grid, &best, err);
        cJSON_Delete(grid);
        if (rc == 0)
            rc = run_greedy(&s, best, prompt_ir, err);
        cJSON_Delete(best);
    } else if (!strcmp(opt, "knobs_grid.v1") || !strcmp(opt, "knobs_grid_refine.v1")) {
        double mc = json_num(json_path(in->job, "optimizer.config"), "maxCandidates", 128);
        cJSON *grid = compile_knobs_grid(in->base, space, clamp_max_candidates(mc));
        rc = run_grid(&s, grid, NULL, err);
        cJSON_Delete(grid);
        if (rc == 0 && !strcmp(opt, "knobs_grid_refine.v1")) {
            if (in->prog)
                in->prog->phase = "refine";
            rc = run_refine(&s, in->scorer, err);
        }
    } else {
        return dse_fail(err, "invalid_job", "unknown optimizer %s", opt);
    }
    if (rc < 0) {
        compile_search_out_free(out);
        return -1;
    }
    if (out->n == 0) {
        compile_search_out_free(out);
        return dse_fail(err, "invalid_job", "the optimizer produced no candidates");
    }
    out->best = compile_pick_best(out->cands, out->n);
    out->iterations = (int)out->n;
    return 0;
}

void compile_search_out_free(struct compile_search_out *o)
{
    for (size_t i = 0; i < o->n; i++)
        cJSON_Delete(o->cands[i].params);
    free(o->cands);
    memset(o, 0, sizeof *o);
}

/* ---- artifacts ---- */

cJSON *compile_artifact(const cJSON *signature, const cJSON *params, const cJSON *eval_summary,
                        const cJSON *optimizer, const cJSON *provenance)
{
    char id[HASH_ID_LEN + 1], in_h[HASH_ID_LEN + 1], out_h[HASH_ID_LEN + 1], ir_h[HASH_ID_LEN + 1];
    char created[32];
    hash_json(params, id);
    catalog_hashes(signature, in_h, out_h, ir_h);
    util_iso_time(util_now_ms(), created);
    cJSON *a = json_obj();
    json_set_str(a, "format", COMPILE_ARTIFACT_FORMAT);
    json_set_num(a, "formatVersion", 1);
    json_set_str(a, "signatureId", catalog_id(signature));
    json_set_str(a, "compiled_id", id);
    json_set_str(a, "createdAt", created);
    cJSON *h = json_obj();
    json_set_str(h, "inputSchemaHash", in_h);
    json_set_str(h, "outputSchemaHash", out_h);
    json_set_str(h, "promptIrHash", ir_h);
    json_set_str(h, "paramsHash", id);
    json_set(a, "hashes", h);
    json_set_copy(a, "params", params);
    if (eval_summary) {
        json_set_copy(a, "eval", eval_summary);
    } else {
        cJSON *e = json_obj();
        json_set_num(e, "evalVersion", 1);
        json_set_str(e, "kind", "unscored");
        json_set(a, "eval", e);
    }
    if (optimizer) {
        json_set_copy(a, "optimizer", optimizer);
    } else {
        cJSON *o = json_obj();
        json_set_str(o, "id", "none");
        json_set(a, "optimizer", o);
    }
    json_set(a, "provenance", provenance ? json_dup(provenance) : json_obj());
    return a;
}

/* ---- the whole compile ---- */

struct run {
    struct store *st;
    const struct compile_opts *o;
    const cJSON *sig;
    const struct reward_bundle *rw;
    struct eval_judge judge;
    struct eval_cache *cache;
    struct eval_set train, holdout;
    struct compile_progress prog;
    int64_t t0;
    uint64_t calls0, hits0;
    /* per-batch progress (eval workers, serialised by the eval pool) */
    int batch_done;
    struct compile_progress live;
};

static void fill_stats(struct run *r, struct compile_progress *p)
{
    uint64_t calls = 0, hits = 0;
    if (r->o->lm)
        lm_stats(r->o->lm, &calls, &hits);
    p->lm_calls = calls - r->calls0;
    p->cache_hits = hits - r->hits0;
    p->elapsed_ms = util_mono_ms() - r->t0;
}

static void emit(struct run *r, struct compile_progress *p)
{
    fill_stats(r, p);
    if (r->o->progress)
        r->o->progress(r->o->user, p);
}

/* The last progress report: phase "done" with the chosen artifact. */
static void emit_done(struct run *r, double reward, const char *compiled_id)
{
    r->prog.phase = "done";
    r->prog.has_best = true;
    r->prog.best_reward = reward;
    snprintf(r->prog.best_id, sizeof r->prog.best_id, "%s", compiled_id);
    emit(r, &r->prog);
}

/* Every evaluation of a compile runs with the same signature, reward,
 * judge, LM, cache, concurrency and cancel flag; no per-candidate hook. */
static struct eval_ctx run_eval_ctx(const struct run *r)
{
    return (struct eval_ctx){.signature = r->sig,
                             .reward = r->rw,
                             .judge = r->rw->needs_judge ? &r->judge.j : NULL,
                             .lm = r->o->lm,
                             .cache = r->cache,
                             .concurrency = r->o->concurrency,
                             .cancel = r->o->cancel};
}

static void on_cand_done(void *user, size_t idx, const struct eval_candidate *c)
{
    (void)idx;
    struct run *r = user;
    r->batch_done++;
    struct compile_progress *p = &r->live;
    p->done = r->prog.done + r->batch_done;
    double d = c->reward - p->best_reward;
    if (!p->has_best || d > COMPILE_TIE_EPS ||
        (fabs(d) <= COMPILE_TIE_EPS && collate_cmp(c->compiled_id, p->best_id) < 0)) {
        p->has_best = true;
        p->best_reward = c->reward;
        snprintf(p->best_id, sizeof p->best_id, "%s", c->compiled_id);
    }
    emit(r, p);
}

static int score_train(void *user, struct compile_cand *cands, size_t n, struct dse_err *err)
{
    struct run *r = user;
    struct eval_candidate *ec = xcalloc(n + 1, sizeof *ec);
    for (size_t i = 0; i < n; i++) {
        ec[i].compiled_id = cands[i].compiled_id;
        ec[i].params = cands[i].params;
    }
    r->batch_done = 0;
    r->live = r->prog;
    struct eval_ctx ctx = run_eval_ctx(r);
    ctx.on_done = on_cand_done;
    ctx.user = r;
    int rc = eval_candidates(&ctx, ec, n, &r->train, false, err);
    for (size_t i = 0; i < n; i++) {
        cands[i].reward = ec[i].reward;
        cands[i].scored = rc == 0;
        eval_candidate_clear(&ec[i]);
    }
    free(ec);
    return rc;
}

static int details_train(void *user, const struct compile_cand *c, cJSON **examples,
                         struct dse_err *err)
{
    struct run *r = user;
    struct eval_candidate ec = {.compiled_id = c->compiled_id, .params = c->params};
    struct eval_ctx ctx = run_eval_ctx(r);
    int rc = eval_candidates(&ctx, &ec, 1, &r->train, true, err);
    *examples = rc == 0 ? ec.examples : NULL;
    if (rc < 0)
        eval_candidate_clear(&ec);
    return rc;
}

static void on_batch(void *user, const struct compile_progress *p)
{
    struct run *r = user;
    struct compile_progress q = *p;
    emit(r, &q);
    cJSON *j = json_obj();
    json_set_num(j, "done", q.done);
    json_set_num(j, "known", q.known);
    if (q.has_best) {
        json_set_num(j, "bestReward", q.best_reward);
        json_set_str(j, "bestCompiledId", q.best_id);
    }
    json_set_num(j, "lmCalls", (double)q.lm_calls);
    json_set_num(j, "cacheHits", (double)q.cache_hits);
    json_set_num(j, "elapsedMs", (double)q.elapsed_ms);
    eval_ops_event(r->st, r->o->ops_run_id, "info", "compile.progress", j,
                   "compile %s: %d/%d candidates, best %.4f", q.phase, q.done, q.known,
                   q.has_best ? q.best_reward : 0.0);
}

static int final_eval(struct run *r, const struct compile_cand *best, struct eval_set *set,
                      double *reward, struct dse_err *err)
{
    struct eval_candidate ec = {.compiled_id = best->compiled_id, .params = best->params};
    struct eval_ctx ctx = run_eval_ctx(r);
    int rc = eval_candidates(&ctx, &ec, 1, set, false, err);
    *reward = ec.reward;
    eval_candidate_clear(&ec);
    return rc;
}

void compile_result_free(struct compile_result *r)
{
    cJSON_Delete(r->report);
    r->report = NULL;
}

cJSON *compile_result_json(const struct compile_result *r)
{
    cJSON *o = json_obj();
    json_set_str(o, "signatureId", r->signature_id);
    json_set_str(o, "jobHash", r->job_hash);
    json_set_str(o, "datasetId", r->dataset_id);
    json_set_str(o, "datasetHash", r->dataset_hash);
    json_set_str(o, "compiled_id", r->compiled_id);
    json_set_str(o, "optimizer", r->optimizer);
    json_set_bool(o, "existed", r->existed);
    json_set_num(o, "trainReward", r->train_reward);
    json_set_num(o, "holdoutReward", r->holdout_reward);
    json_set_num(o, "candidates", r->candidates);
    json_set_num(o, "lmCalls", (double)r->lm_calls);
    json_set_num(o, "cacheHits", (double)r->cache_hits);
    json_set_num(o, "wallMs", (double)r->wall_ms);
    return o;
}

/* Fill *out from an existing report row (idempotent path). */
static void result_from_row(const cJSON *row, struct compile_result *out)
{
    const cJSON *rep = json_path(row, "json.report");
    snprintf(out->compiled_id, sizeof out->compiled_id, "%s", json_str(row, "compiled_id", ""));
    out->train_reward = json_num(rep, "trainReward", 0);
    out->holdout_reward = json_num(rep, "holdoutReward", 0);
    out->candidates = cJSON_GetArraySize(json_get(rep, "evaluatedCandidates"));
    out->report = json_dup(json_get(row, "json"));
}

int compile_run(struct store *st, const struct compile_opts *o, struct compile_result *out,
                struct dse_err *err)
{
    memset(out, 0, sizeof *out);
    if (!o->lm)
        return dse_fail(err, "invalid_input", "compile needs an LM client (lmopts_open)");
    struct run r = {.st = st, .o = o};
    r.t0 = util_mono_ms();
    if (o->lm)
        lm_stats(o->lm, &r.calls0, &r.hits0);
    r.prog.phase = "load";
    cJSON *sig = store_signature(st, o->signature_id, err);
    if (!sig)
        return -1;
    if (o->profile && strcmp(o->profile, COMPAT_PROFILE_REFERENCE) != 0) {
        cJSON_Delete(sig);
        return dse_fail(err, "invalid_job", "unknown compile profile \"%s\" (known: %s)",
                        o->profile, COMPAT_PROFILE_REFERENCE);
    }
    if (o->profile) {
        cJSON *ps = compat_reference_signature(sig, err);
        cJSON_Delete(sig);
        if (!ps)
            return -1;
        sig = ps;
    }
    r.sig = sig;
    snprintf(out->signature_id, sizeof out->signature_id, "%s", catalog_id(sig));
    int rc = -1;
    cJSON *job = catalog_compile_job(sig);
    struct dataset *all = NULL, *train = NULL, *holdout = NULL;
    struct compile_search_out so = {0};
    cJSON *report = NULL, *artifact = NULL;
    const char *opt_id = json_str(json_get(job, "optimizer"), "id", "instruction_grid.v1");
    snprintf(out->optimizer, sizeof out->optimizer, "%s", opt_id);
    r.prog.optimizer = out->optimizer;
    catalog_job_hash(sig, out->job_hash);
    if (!(r.rw = eval_reward_for(sig, err)))
        goto done;
    if (!(all = dataset_load(st, sig, err)))
        goto done;
    snprintf(out->dataset_hash, sizeof out->dataset_hash, "%s", all->hash);
    snprintf(out->dataset_id, sizeof out->dataset_id, "%s", all->id);
    if (all->n == 0) {
        dse_fail(err, "no_examples",
                 "%s has no examples to compile on (import some with `dse examples import`)",
                 out->signature_id);
        goto done;
    }

    /* idempotency: the same job on the same data was compiled before */
    cJSON *ga = json_obj(), *got = NULL;
    json_set_str(ga, "signatureId", out->signature_id);
    json_set_str(ga, "jobHash", out->job_hash);
    json_set_str(ga, "datasetHash", out->dataset_hash);
    int grc = store_call(st, STORE_OP_compile_get, ga, &got, err);
    cJSON_Delete(ga);
    if (grc < 0)
        goto done;
    if (cJSON_IsObject(json_get(got, "report"))) {
        result_from_row(json_get(got, "report"), out);
        out->existed = true;
        cJSON_Delete(got);
        eval_ops_event(st, o->ops_run_id, "info", "compile.existed", NULL,
                       "compile report exists for jobHash=%s datasetHash=%s: %s", out->job_hash,
                       out->dataset_hash, out->compiled_id);
        emit_done(&r, out->train_reward, out->compiled_id);
        rc = 0;
        goto done;
    }
    cJSON_Delete(got);

    if (r.rw->needs_judge)
        eval_judge_load(st, o->lm, &r.judge);
    train = dataset_train(all);
    holdout = dataset_holdout(all);
    eval_set_view(&r.train, train);
    eval_set_view(&r.holdout, holdout);
    r.cache = eval_cache_new();
    {
        cJSON *j = json_obj();
        json_set_str(j, "signatureId", out->signature_id);
        json_set_str(j, "jobHash", out->job_hash);
        json_set_str(j, "datasetHash", out->dataset_hash);
        json_set_str(j, "optimizer", opt_id);
        json_set_num(j, "train", (double)train->n);
        json_set_num(j, "holdout", (double)holdout->n);
        eval_ops_event(st, o->ops_run_id, "info", "compile.start", j,
                       "compile %s with %s: %zu train, %zu holdout", out->signature_id, opt_id,
                       train->n, holdout->n);
    }

    r.prog.phase = "search";
    emit(&r, &r.prog);
    struct compile_scorer scorer = {.score = score_train, .details = details_train, .user = &r};
    struct compile_search_in in = {.base = catalog_default_params(sig),
                                   .job = job,
                                   .prompt_ir = catalog_prompt_ir(sig),
                                   .train = &r.train,
                                   .scorer = &scorer,
                                   .progress = on_batch,
                                   .user = &r,
                                   .prog = &r.prog};
    if (compile_search(&in, &so, err) < 0)
        goto done;
    const struct compile_cand *best = &so.cands[so.best];

    r.prog.phase = "final";
    emit(&r, &r.prog);
    if (final_eval(&r, best, &r.train, &out->train_reward, err) < 0 ||
        final_eval(&r, best, &r.holdout, &out->holdout_reward, err) < 0)
        goto done;
    snprintf(out->compiled_id, sizeof out->compiled_id, "%s", best->compiled_id);
    out->candidates = (int)so.n;

    /* the report */
    report = json_obj();
    json_set_str(report, "format", "openagents.dse.compile_report");
    json_set_num(report, "formatVersion", 1);
    json_set_copy(report, "job", job);
    cJSON *rep = json_obj();
    json_set_str(rep, "jobHash", out->job_hash);
    json_set_str(rep, "datasetHash", out->dataset_hash);
    cJSON *evc = json_arr();
    for (size_t i = 0; i < so.n; i++) {
        cJSON *c = json_obj();
        json_set_str(c, "compiled_id", so.cands[i].compiled_id);
        json_set_copy(c, "params", so.cands[i].params);
        json_set_num(c, "reward", so.cands[i].reward);
        cJSON_AddItemToArray(evc, c);
    }
    json_set(rep, "evaluatedCandidates", evc);
    cJSON *b = json_obj();
    json_set_str(b, "compiled_id", best->compiled_id);
    json_set_copy(b, "params", best->params);
    json_set_num(b, "reward", best->reward);
    json_set(rep, "best", b);
    json_set_num(rep, "trainReward", out->train_reward);
    json_set_num(rep, "holdoutReward", out->holdout_reward);
    json_set(report, "report", rep);

    /* the artifact */
    cJSON *hsum = eval_summary(&r.holdout, r.rw, out->holdout_reward);
    cJSON *optj = json_obj(), *cfg = json_obj();
    json_set_str(optj, "id", opt_id);
    json_set_copy(cfg, "config", json_path(job, "optimizer.config"));
    json_set_num(cfg, "trainReward", out->train_reward);
    json_set_num(cfg, "holdoutReward", out->holdout_reward);
    json_set_num(cfg, "candidates", (double)so.n);
    json_set(optj, "config", cfg);
    json_set_num(optj, "iterations", so.iterations);
    cJSON *prov = json_obj();
    char ss_hash[HASH_ID_LEN + 1];
    hash_json(json_get(job, "searchSpace"), ss_hash);
    json_set_str(prov, "compilerVersion", "dse " DSE_VERSION);
    json_set_str(prov, "datasetId", out->dataset_id);
    json_set_str(prov, "datasetHash", out->dataset_hash);
    json_set_str(prov, "metricId", r.rw->id);
    json_set_str(prov, "searchSpaceHash", ss_hash);
    artifact = compile_artifact(sig, best->params, hsum, optj, prov);
    cJSON_Delete(hsum);
    cJSON_Delete(optj);
    cJSON_Delete(prov);

    if (o->cancel && atomic_load(o->cancel)) {
        dse_fail(err, "canceled", "compile canceled");
        goto done;
    }
    r.prog.phase = "store";
    emit(&r, &r.prog);
    cJSON *pa = json_obj();
    json_set_str(pa, "signatureId", out->signature_id);
    json_set_str(pa, "compiled_id", out->compiled_id);
    json_set(pa, "json", artifact);
    artifact = NULL;
    int prc = store_call(st, STORE_OP_artifacts_put, pa, NULL, err);
    cJSON_Delete(pa);
    if (prc < 0)
        goto done;
    cJSON *pr = json_obj();
    json_set_str(pr, "signatureId", out->signature_id);
    json_set_str(pr, "jobHash", out->job_hash);
    json_set_str(pr, "datasetId", out->dataset_id);
    json_set_str(pr, "datasetHash", out->dataset_hash);
    json_set_str(pr, "compiled_id", out->compiled_id);
    json_set_copy(pr, "json", report);
    cJSON *pres = NULL;
    prc = store_call(st, STORE_OP_compile_put, pr, &pres, err);
    cJSON_Delete(pr);
    if (prc < 0)
        goto done;
    /* a concurrent compile of the same key may have won: report what is stored */
    out->existed = json_bool(pres, "existed", false);
    cJSON_Delete(pres);
    out->report = report;
    report = NULL;
    {
        cJSON *j = json_obj();
        json_set_str(j, "compiled_id", out->compiled_id);
        json_set_str(j, "jobHash", out->job_hash);
        json_set_str(j, "datasetHash", out->dataset_hash);
        json_set_num(j, "trainReward", out->train_reward);
        json_set_num(j, "holdoutReward", out->holdout_reward);
        json_set_num(j, "candidates", out->candidates);
        eval_ops_event(st, o->ops_run_id, "info", "compile.finish", j,
                       "compiled %s: train %.4f holdout %.4f over %d candidates", out->compiled_id,
                       out->train_reward, out->holdout_reward, out->candidates);
    }
    emit_done(&r, best->reward, best->compiled_id);
    rc = 0;
done:
    fill_stats(&r, &r.prog);
    out->lm_calls = r.prog.lm_calls;
    out->cache_hits = r.prog.cache_hits;
    out->wall_ms = r.prog.elapsed_ms;
    if (rc < 0) {
        compile_result_free(out);
        eval_ops_event(st, o->ops_run_id, "error", "compile.error", NULL, "compile failed: %s: %s",
                       err ? err->code : "error", err ? err->msg : "");
    }
    cJSON_Delete(report);
    cJSON_Delete(artifact);
    compile_search_out_free(&so);
    eval_cache_free(r.cache);
    eval_set_release(&r.train);
    eval_set_release(&r.holdout);
    dataset_free(train);
    dataset_free(holdout);
    dataset_free(all);
    eval_judge_free(&r.judge);
    cJSON_Delete(job);
    cJSON_Delete(sig);
    return rc;
}
