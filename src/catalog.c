#include "catalog.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "collate.h"
#include "embedded.h"
#include "json.h"
#include "jsonschema.h"
#include "store.h"
#include "util.h"

#define CATALOG_PREFIX "db/catalog/"
#define CATALOG_FILE_MAX (4u << 20)
#define DATASET_ID_PREFIX "convex:dseExamples:"

static const char *const optimizer_ids[] = {
    "instruction_grid.v1",
    "fewshot_greedy_forward.v1",
    "joint_instruction_grid_then_fewshot_greedy_forward.v1",
    "knobs_grid.v1",
    "knobs_grid_refine.v1",
};

/* DseParamsV1 sections (reference §5.6); anything else is a typo. */
static const char *const params_keys[] = {
    "paramsVersion", "strategy", "instruction", "fewShot", "model", "modelRoles",
    "decode", "tools", "rlmLite", "budgets",
};

static const char *const block_tags[] = {
    "System", "Instruction", "FewShot", "OutputFormat", "Context", "ToolPolicy",
};

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, list[i]))
            return true;
    return false;
}

/* ---- accessors ---- */

const char *catalog_id(const cJSON *sig) { return json_str(sig, "signatureId", NULL); }
const char *catalog_key(const cJSON *sig) { return json_str(sig, "key", NULL); }
const cJSON *catalog_input_schema(const cJSON *sig) { return json_get(sig, "inputSchema"); }
const cJSON *catalog_output_schema(const cJSON *sig) { return json_get(sig, "outputSchema"); }
const cJSON *catalog_prompt_ir(const cJSON *sig) { return json_get(sig, "promptIr"); }
const cJSON *catalog_default_params(const cJSON *sig) { return json_get(sig, "defaultParams"); }

void catalog_default_id(const cJSON *sig, char out[HASH_ID_LEN + 1])
{
    hash_json(catalog_default_params(sig), out);
}

char *catalog_dataset_id(const char *signature_id)
{
    return xasprintf(DATASET_ID_PREFIX "%s", signature_id ? signature_id : "");
}

cJSON *catalog_compile_job(const cJSON *sig)
{
    const cJSON *cj = json_get(sig, "compileJob");
    const char *sid = catalog_id(sig);
    cJSON *job = json_obj();
    json_set_str(job, "format", "openagents.dse.compile_job");
    json_set_num(job, "formatVersion", 1);
    json_set_str(job, "signatureId", sid ? sid : "");
    char *did = catalog_dataset_id(sid);
    json_set_str(job, "datasetId", did);
    free(did);
    /* The reference's default job for signatures without a specific one:
     * exact match, empty search space, instruction grid (base params only). */
    json_set_str(job, "metricId", json_str(cj, "rewardId", "reward_exact_json_match.v1"));
    const cJSON *ss = json_get(cj, "searchSpace");
    json_set(job, "searchSpace", cJSON_IsObject(ss) ? json_dup(ss) : json_obj());
    const cJSON *opt = json_get(cj, "optimizer");
    cJSON *o = json_obj();
    json_set_str(o, "id", json_str(opt, "id", "instruction_grid.v1"));
    const cJSON *cfg = json_get(opt, "config");
    if (cJSON_IsObject(cfg))
        json_set_copy(o, "config", cfg);
    json_set(job, "optimizer", o);
    return job;
}

void catalog_job_hash(const cJSON *sig, char out[HASH_ID_LEN + 1])
{
    cJSON *job = catalog_compile_job(sig);
    hash_json(job, out);
    cJSON_Delete(job);
}

cJSON *catalog_contract(const cJSON *sig)
{
    cJSON *c = json_obj();
    json_set_str(c, "format", "openagents.dse.signature_contract");
    json_set_num(c, "formatVersion", 1);
    json_set_str(c, "signatureId", catalog_id(sig));
    json_set_copy(c, "inputSchemaJson", catalog_input_schema(sig));
    json_set_copy(c, "outputSchemaJson", catalog_output_schema(sig));
    json_set_copy(c, "promptIr", catalog_prompt_ir(sig));
    json_set_copy(c, "defaultParams", catalog_default_params(sig));
    json_set(c, "defaultConstraints", json_obj());
    return c;
}

void catalog_hashes(const cJSON *sig, char in_hash[HASH_ID_LEN + 1], char out_hash[HASH_ID_LEN + 1],
                    char ir_hash[HASH_ID_LEN + 1])
{
    if (in_hash)
        hash_json(catalog_input_schema(sig), in_hash);
    if (out_hash)
        hash_json(catalog_output_schema(sig), out_hash);
    if (ir_hash)
        hash_json(catalog_prompt_ir(sig), ir_hash);
}

/* ---- validation ---- */

#define BAD(...) dse_fail(err, "invalid_catalog", __VA_ARGS__)

static int want_string(const cJSON *obj, const char *key, const char *where, bool required,
                       struct dse_err *err)
{
    const cJSON *v = json_get(obj, key);
    if (!v)
        return required ? BAD("%s%s is required", where, key) : 0;
    if (!cJSON_IsString(v) || !*v->valuestring)
        return BAD("%s%s must be a non-empty string", where, key);
    return 0;
}

/* A prefixed copy of a sub-error ("promptIr.blocks[2].examples[0].output: $.x: ...") */
static int rewrap(struct dse_err *err, const struct dse_err *sub, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int rewrap(struct dse_err *err, const struct dse_err *sub, const char *fmt, ...)
{
    char where[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(where, sizeof where, fmt, ap);
    va_end(ap);
    return BAD("%s: %s", where, sub->msg);
}

static int validate_params(const cJSON *p, struct dse_err *err)
{
    if (!cJSON_IsObject(p))
        return BAD("defaultParams must be an object");
    const cJSON *pv = json_get(p, "paramsVersion");
    if (!cJSON_IsNumber(pv) || pv->valuedouble != 1)
        return BAD("defaultParams.paramsVersion must be 1");
    for (const cJSON *k = p->child; k; k = k->next) {
        if (!in_list(k->string, params_keys, ARRAY_LEN(params_keys)))
            return BAD("defaultParams.%s is not a DseParamsV1 field", k->string);
        if (strcmp(k->string, "paramsVersion") && !cJSON_IsObject(k))
            return BAD("defaultParams.%s must be an object", k->string);
    }
    const cJSON *dec = json_get(p, "decode");
    if (dec) {
        const char *mode = json_str(dec, "mode", "");
        if (strcmp(mode, "strict_json") && strcmp(mode, "jsonish"))
            return BAD("defaultParams.decode.mode must be strict_json or jsonish");
        const cJSON *mr = json_get(dec, "maxRepairs");
        if (mr && (!cJSON_IsNumber(mr) || mr->valuedouble < 0 || mr->valuedouble > 100))
            return BAD("defaultParams.decode.maxRepairs must be a number 0..100");
    }
    const cJSON *strat = json_get(p, "strategy");
    if (strat && want_string(strat, "id", "defaultParams.strategy.", true, err) < 0)
        return -1;
    const cJSON *b = json_get(p, "budgets");
    if (b) {
        for (const cJSON *k = b->child; k; k = k->next)
            if (!cJSON_IsNumber(k) || !isfinite(k->valuedouble) || k->valuedouble < 0)
                return BAD("defaultParams.budgets.%s must be a non-negative number", k->string);
    }
    return 0;
}

/* The authored few-shot ids, for checking candidateExampleIds. */
static const cJSON *find_fewshot(const cJSON *ir, const char *id)
{
    const cJSON *blocks = json_get(ir, "blocks");
    for (const cJSON *b = blocks ? blocks->child : NULL; b; b = b->next) {
        if (strcmp(json_str(b, "_tag", ""), "FewShot"))
            continue;
        const cJSON *exs = json_get(b, "examples");
        for (const cJSON *e = exs ? exs->child : NULL; e; e = e->next)
            if (!strcmp(json_str(e, "id", ""), id))
                return e;
    }
    return NULL;
}

static int validate_prompt(const cJSON *sig, struct dse_err *err)
{
    const cJSON *ir = catalog_prompt_ir(sig);
    if (!cJSON_IsObject(ir))
        return BAD("promptIr must be an object");
    const cJSON *ver = json_get(ir, "version");
    if (!cJSON_IsNumber(ver) || ver->valuedouble != 1)
        return BAD("promptIr.version must be 1");
    const cJSON *blocks = json_get(ir, "blocks");
    if (!cJSON_IsArray(blocks) || !blocks->child)
        return BAD("promptIr.blocks must be a non-empty array");
    int i = 0, instructions = 0;
    for (const cJSON *b = blocks->child; b; b = b->next, i++) {
        if (!cJSON_IsObject(b))
            return BAD("promptIr.blocks[%d] must be an object", i);
        const char *tag = json_str(b, "_tag", NULL);
        if (!tag || !in_list(tag, block_tags, ARRAY_LEN(block_tags)))
            return BAD("promptIr.blocks[%d]._tag must be one of System, Instruction, FewShot, "
                       "OutputFormat, Context, ToolPolicy", i);
        if (!strcmp(tag, "System") || !strcmp(tag, "Instruction")) {
            const cJSON *t = json_get(b, "text");
            if (!cJSON_IsString(t) || !*t->valuestring)
                return BAD("promptIr.blocks[%d].text must be a non-empty string", i);
            instructions += !strcmp(tag, "Instruction");
        }
        if (strcmp(tag, "FewShot"))
            continue;
        const cJSON *exs = json_get(b, "examples");
        if (!cJSON_IsArray(exs))
            return BAD("promptIr.blocks[%d].examples must be an array", i);
        int j = 0;
        for (const cJSON *e = exs->child; e; e = e->next, j++) {
            const char *id = json_str(e, "id", NULL);
            if (!id || !*id)
                return BAD("promptIr.blocks[%d].examples[%d].id must be a non-empty string", i, j);
            if (find_fewshot(ir, id) != e)
                return BAD("promptIr.blocks[%d].examples[%d]: few-shot id \"%s\" is not unique", i,
                           j, id);
            struct dse_err sub;
            const cJSON *in = json_get(e, "input"), *out = json_get(e, "output");
            if (!in || jsonschema_validate(catalog_input_schema(sig), in, &sub) < 0)
                return in ? rewrap(err, &sub, "promptIr.blocks[%d].examples[%d].input", i, j)
                          : BAD("promptIr.blocks[%d].examples[%d].input is required", i, j);
            if (!out || jsonschema_validate(catalog_output_schema(sig), out, &sub) < 0)
                return out ? rewrap(err, &sub, "promptIr.blocks[%d].examples[%d].output", i, j)
                           : BAD("promptIr.blocks[%d].examples[%d].output is required", i, j);
        }
    }
    if (!instructions)
        return BAD("promptIr needs an Instruction block");
    return 0;
}

/* A variant list: array of objects with unique non-empty string ids, each
 * having the listed fields of the listed types ('s' non-empty string,
 * 'o' object, 'n' positive number). */
static int validate_variants(const cJSON *ss, const char *name, const char *fields,
                             struct dse_err *err)
{
    const cJSON *arr = json_get(ss, name);
    if (!arr)
        return 0;
    if (!cJSON_IsArray(arr))
        return BAD("compileJob.searchSpace.%s must be an array", name);
    int i = 0;
    for (const cJSON *v = arr->child; v; v = v->next, i++) {
        const char *id = json_str(v, "id", NULL);
        if (!cJSON_IsObject(v) || !id || !*id)
            return BAD("compileJob.searchSpace.%s[%d] needs a non-empty string id", name, i);
        for (const cJSON *w = arr->child; w != v; w = w->next)
            if (!strcmp(json_str(w, "id", ""), id))
                return BAD("compileJob.searchSpace.%s: duplicate id \"%s\"", name, id);
        /* fields: "text:s,budgets:o" */
        const char *p = fields;
        while (p && *p) {
            const char *colon = strchr(p, ':');
            const char *comma = strchr(p, ',');
            char key[64];
            size_t n = (size_t)(colon - p);
            snprintf(key, sizeof key, "%.*s", (int)n, p);
            const cJSON *f = json_get(v, key);
            bool ok = colon[1] == 's'   ? cJSON_IsString(f) && *f->valuestring
                      : colon[1] == 'n' ? cJSON_IsNumber(f) && f->valuedouble > 0
                                        : cJSON_IsObject(f);
            if (!ok)
                return BAD("compileJob.searchSpace.%s[%d].%s must be a %s", name, i, key,
                           colon[1] == 's'   ? "non-empty string"
                           : colon[1] == 'n' ? "positive number"
                                             : "JSON object");
            p = comma ? comma + 1 : NULL;
        }
    }
    return 0;
}

static int validate_job(const cJSON *sig, struct dse_err *err)
{
    const cJSON *cj = json_get(sig, "compileJob");
    if (!cj)
        return 0;
    if (!cJSON_IsObject(cj))
        return BAD("compileJob must be an object");
    if (want_string(cj, "rewardId", "compileJob.", true, err) < 0)
        return -1;
    const cJSON *opt = json_get(cj, "optimizer");
    if (!cJSON_IsObject(opt))
        return BAD("compileJob.optimizer must be an object {id, config?}");
    const char *oid = json_str(opt, "id", "");
    if (!in_list(oid, optimizer_ids, ARRAY_LEN(optimizer_ids)))
        return BAD("compileJob.optimizer.id \"%s\" is not one of instruction_grid.v1, "
                   "fewshot_greedy_forward.v1, joint_instruction_grid_then_fewshot_greedy_forward.v1, "
                   "knobs_grid.v1, knobs_grid_refine.v1", oid);
    const cJSON *cfg = json_get(opt, "config");
    if (cfg && !cJSON_IsObject(cfg))
        return BAD("compileJob.optimizer.config must be an object");
    const cJSON *ss = json_get(cj, "searchSpace");
    if (!ss)
        return 0;
    if (!cJSON_IsObject(ss))
        return BAD("compileJob.searchSpace must be an object");
    if (validate_variants(ss, "instructionVariants", "text:s", err) < 0 ||
        validate_variants(ss, "strategyVariants", "strategyId:s", err) < 0 ||
        validate_variants(ss, "rlmControllerInstructionVariants", "text:s", err) < 0 ||
        validate_variants(ss, "rlmChunkingPolicyVariants", "chunkChars:n", err) < 0 ||
        validate_variants(ss, "rlmSubRoleVariants", "subRole:s", err) < 0 ||
        validate_variants(ss, "budgetProfiles", "budgets:o", err) < 0)
        return -1;
    const cJSON *fs = json_get(ss, "fewShot");
    if (fs) {
        if (!cJSON_IsObject(fs))
            return BAD("compileJob.searchSpace.fewShot must be an object");
        const cJSON *k = json_get(fs, "kMax");
        if (!cJSON_IsNumber(k) || k->valuedouble < 0 || k->valuedouble > 64)
            return BAD("compileJob.searchSpace.fewShot.kMax must be a number 0..64");
        const cJSON *ids = json_get(fs, "candidateExampleIds");
        const cJSON *from = json_get(fs, "fromSplit");
        if (!ids == !from)
            return BAD("compileJob.searchSpace.fewShot needs exactly one of candidateExampleIds "
                       "(authored demos) or fromSplit (dataset demos)");
        if (from && (!cJSON_IsString(from) || strcmp(from->valuestring, "train")))
            return BAD("compileJob.searchSpace.fewShot.fromSplit must be \"train\" (demos never "
                       "come from holdout)");
        const cJSON *mc = json_get(fs, "maxCandidates");
        if (mc && (!cJSON_IsNumber(mc) || mc->valuedouble < 1 || mc->valuedouble > 500))
            return BAD("compileJob.searchSpace.fewShot.maxCandidates must be a number 1..500");
        if (ids) {
            if (!cJSON_IsArray(ids))
                return BAD("compileJob.searchSpace.fewShot.candidateExampleIds must be an array");
            for (const cJSON *i = ids->child; i; i = i->next)
                if (!cJSON_IsString(i) || !find_fewshot(catalog_prompt_ir(sig), i->valuestring))
                    return BAD("compileJob.searchSpace.fewShot.candidateExampleIds: \"%s\" is not "
                               "an authored few-shot id", cJSON_IsString(i) ? i->valuestring : "?");
        }
    }
    if ((!strncmp(oid, "fewshot", 7) || !strncmp(oid, "joint", 5)) && !fs)
        return BAD("compileJob: optimizer %s needs searchSpace.fewShot", oid);
    return 0;
}

int catalog_validate(const cJSON *sig, struct dse_err *err)
{
    if (!cJSON_IsObject(sig))
        return BAD("a signature must be a JSON object");
    if (strcmp(json_str(sig, "format", ""), "dse.signature"))
        return BAD("format must be \"dse.signature\"");
    const cJSON *fv = json_get(sig, "formatVersion");
    if (!cJSON_IsNumber(fv) || fv->valuedouble != 1)
        return BAD("formatVersion must be 1");
    if (want_string(sig, "signatureId", "", true, err) < 0)
        return -1;
    const char *id = catalog_id(sig);
    if (strlen(id) > 200)
        return BAD("signatureId is longer than 200 bytes");
    for (const char *p = id; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return BAD("signatureId must not contain spaces or control characters");
    if (want_string(sig, "key", "", true, err) < 0)
        return -1;
    const char *key = catalog_key(sig);
    if (strlen(key) > 64)
        return BAD("key is longer than 64 characters");
    for (const char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return BAD("key must use only a-z, 0-9 and _");
    if (want_string(sig, "title", "", true, err) < 0)
        return -1;
    const cJSON *d = json_get(sig, "description");
    if (d && !cJSON_IsString(d))
        return BAD("description must be a string");
    static const char *const schemas[] = {"inputSchema", "outputSchema"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *s = json_get(sig, schemas[i]);
        if (!cJSON_IsObject(s))
            return BAD("%s must be an object", schemas[i]);
        struct dse_err sub;
        if (jsonschema_check(s, &sub) < 0)
            return rewrap(err, &sub, "%s", schemas[i]);
    }
    if (validate_prompt(sig, err) < 0)
        return -1;
    if (validate_params(catalog_default_params(sig), err) < 0)
        return -1;
    if (validate_job(sig, err) < 0)
        return -1;
    const cJSON *lv = json_get(sig, "labelValues");
    if (lv) {
        if (!cJSON_IsArray(lv) || cJSON_GetArraySize(lv) > 9)
            return BAD("labelValues must be an array of at most 9 outputs (keys 1-9)");
        int i = 0;
        for (const cJSON *v = lv->child; v; v = v->next, i++) {
            struct dse_err sub;
            if (jsonschema_validate(catalog_output_schema(sig), v, &sub) < 0)
                return rewrap(err, &sub, "labelValues[%d]", i);
            for (const cJSON *w = lv->child; w != v; w = w->next)
                if (json_equal(w, v))
                    return BAD("labelValues[%d] repeats an earlier value", i);
        }
    }
    return 0;
}

/* ---- loading ---- */

struct src_file {
    char *label; /* path shown in errors */
    char *text;
    size_t len;
};

static int cmp_label(const void *a, const void *b)
{
    return strcmp(((const struct src_file *)a)->label, ((const struct src_file *)b)->label);
}

static bool is_json_name(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && name[0] != '.' && !strcmp(name + n - 5, ".json");
}

static int collect_dir(const char *dir, struct src_file **files, size_t *n, struct dse_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return dse_fail(err, "catalog_not_found", "cannot open catalog directory %s", dir);
    size_t cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (!is_json_name(de->d_name))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *files = xrealloc(*files, cap * sizeof **files);
        }
        struct src_file *f = &(*files)[*n];
        f->label = xasprintf("%s/%s", dir, de->d_name);
        f->text = util_read_file(f->label, CATALOG_FILE_MAX, &f->len);
        (*n)++;
        if (!f->text) {
            rc = dse_fail(err, "invalid_catalog", "%s: cannot read (missing, unreadable or over %u bytes)",
                          f->label, CATALOG_FILE_MAX);
            break;
        }
    }
    closedir(d);
    return rc;
}

static void collect_embedded(struct src_file **files, size_t *n)
{
    size_t cap = 0;
    for (const struct embedded_file *e = embedded_files; e->path; e++) {
        if (strncmp(e->path, CATALOG_PREFIX, strlen(CATALOG_PREFIX)) ||
            !is_json_name(e->path + strlen(CATALOG_PREFIX)) ||
            strchr(e->path + strlen(CATALOG_PREFIX), '/'))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *files = xrealloc(*files, cap * sizeof **files);
        }
        struct src_file *f = &(*files)[(*n)++];
        f->label = xstrdup(e->path);
        f->text = xstrndup(e->data, e->len);
        f->len = e->len;
    }
}

cJSON *catalog_load(const char *dir, struct dse_err *err)
{
    struct src_file *files = NULL;
    size_t n = 0;
    cJSON *out = NULL;
    if (dir) {
        if (collect_dir(dir, &files, &n, err) < 0)
            goto done;
    } else {
        collect_embedded(&files, &n);
    }
    if (!n) {
        dse_fail(err, "catalog_not_found", "no signature files (*.json) in %s",
                 dir ? dir : "the embedded catalog");
        goto done;
    }
    qsort(files, n, sizeof *files, cmp_label);
    out = json_arr();
    for (size_t i = 0; i < n; i++) {
        struct dse_err sub;
        cJSON *sig = json_parse(files[i].text, files[i].len, CATALOG_FILE_MAX, &sub);
        if (!sig || catalog_validate(sig, &sub) < 0) {
            dse_fail(err, sig ? "invalid_catalog" : sub.code, "%s: %s", files[i].label, sub.msg);
            cJSON_Delete(sig);
            cJSON_Delete(out);
            out = NULL;
            goto done;
        }
        /* ids and keys are names users type: both must be unique. */
        size_t j = 0;
        for (const cJSON *prev = out->child; prev; prev = prev->next, j++) {
            const char *what = !strcmp(catalog_id(prev), catalog_id(sig))   ? "signatureId"
                               : !strcmp(catalog_key(prev), catalog_key(sig)) ? "key"
                                                                              : NULL;
            if (what) {
                dse_fail(err, "invalid_catalog", "%s: %s \"%s\" is already used by %s",
                         files[i].label, what,
                         !strcmp(what, "key") ? catalog_key(sig) : catalog_id(sig), files[j].label);
                cJSON_Delete(sig);
                cJSON_Delete(out);
                out = NULL;
                goto done;
            }
        }
        cJSON_AddItemToArray(out, sig);
    }
done:
    for (size_t i = 0; i < n; i++) {
        free(files[i].label);
        free(files[i].text);
    }
    free(files);
    return out;
}

cJSON *catalog_builtin(const char *signature_id, struct dse_err *err)
{
    cJSON *all = catalog_load(NULL, err);
    if (!all)
        return NULL;
    cJSON *found = NULL;
    for (cJSON *s = all->child; s && !found; s = s->next)
        if (signature_id && !strcmp(catalog_id(s), signature_id))
            found = cJSON_DetachItemViaPointer(all, s);
    cJSON_Delete(all);
    if (!found)
        dse_fail(err, "unknown_signature", "signature %s is not in the built-in catalog",
                 signature_id ? signature_id : "?");
    return found;
}

int catalog_install(struct store *st, const char *dir, int *added, int *changed,
                    struct dse_err *err)
{
    if (added)
        *added = 0;
    if (changed)
        *changed = 0;
    cJSON *sigs = catalog_load(dir, err);
    if (!sigs)
        return -1;
    int rc = 0;
    for (const cJSON *s = sigs->child; s && rc == 0; s = s->next) {
        cJSON *args = json_obj(), *res = NULL;
        json_set_copy(args, "signature", s);
        rc = store_call(st, STORE_OP_x_sig_put, args, &res, err);
        cJSON_Delete(args);
        if (rc == 0) {
            bool existed = json_bool(res, "existed", false);
            if (!existed && added)
                (*added)++;
            if (existed && json_bool(res, "changed", false) && changed)
                (*changed)++;
        }
        cJSON_Delete(res);
    }
    cJSON_Delete(sigs);
    return rc;
}

/* ---- resolving names ---- */

/* name is a suffix of id starting at a path segment ("SelectTool.v1",
 * "blueprint/SelectTool.v1"). */
static bool segment_suffix(const char *id, const char *name)
{
    size_t a = strlen(id), b = strlen(name);
    return b < a && !strcmp(id + a - b, name) && id[a - b - 1] == '/';
}

static bool contains_icase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (!n)
        return false;
    for (const char *p = hay; *p; p++)
        if (!strncasecmp(p, needle, n))
            return true;
    return false;
}

char *catalog_resolve(struct store *st, const char *name, struct dse_err *err)
{
    if (!name || !*name)
        return dse_fail(err, "unknown_signature", "no signature name given"), NULL;
    cJSON *res = NULL;
    if (store_call(st, STORE_OP_x_sig_list, NULL, &res, err) < 0)
        return NULL;
    const cJSON *list = json_get(res, "signatures");
    char *found = NULL;
    struct sbuf cands = {0};
    int ncand = 0;
    /* Exact id first: it is what scripts pass, and costs no extra call. */
    for (const cJSON *r = list ? list->child : NULL; r && !found; r = r->next)
        if (!strcmp(json_str(r, "signatureId", ""), name))
            found = xstrdup(name);
    /* Then the key (needs each signature's JSON), then a unique suffix. */
    for (const cJSON *r = list ? list->child : NULL; r && !found; r = r->next) {
        const char *id = json_str(r, "signatureId", "");
        struct dse_err sub;
        cJSON *sig = store_signature(st, id, &sub);
        if (sig && !strcmp(json_str(sig, "key", ""), name))
            found = xstrdup(id);
        cJSON_Delete(sig);
    }
    for (const cJSON *r = list ? list->child : NULL; r && !found; r = r->next) {
        const char *id = json_str(r, "signatureId", "");
        if (segment_suffix(id, name)) {
            sbuf_printf(&cands, "%s%s", ncand ? ", " : "", id);
            ncand++;
        }
    }
    if (!found && ncand == 1) {
        found = xstrdup(cands.s);
    } else if (!found && ncand > 1) {
        dse_fail(err, "unknown_signature", "\"%s\" is ambiguous; it matches %s", name, cands.s);
    } else if (!found) {
        /* Not found: offer the ids that contain the name, if any. */
        for (const cJSON *r = list ? list->child : NULL; r; r = r->next) {
            const char *id = json_str(r, "signatureId", "");
            if (contains_icase(id, name)) {
                sbuf_printf(&cands, "%s%s", ncand ? ", " : "", id);
                ncand++;
            }
        }
        if (ncand)
            dse_fail(err, "unknown_signature", "no signature \"%s\"; did you mean %s?", name,
                     cands.s);
        else
            dse_fail(err, "unknown_signature",
                     "no signature \"%s\" in the catalog (`dse signatures` lists them; `dse init` "
                     "installs the built-in ones)", name);
    }
    sbuf_free(&cands);
    cJSON_Delete(res);
    return found;
}
