#include "compat.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "hash.h"
#include "json.h"
#include "store.h"
#include "util.h"

/* ---- the reference's schemas, as Effect's Schema.Struct decodes them ---- */

enum ftype {
    T_STR,     /* Schema.String */
    T_NUM,     /* Schema.Number */
    T_ANY,     /* Schema.Unknown */
    T_STRARR,  /* Schema.Array(Schema.String) */
    T_NUMREC,  /* Schema.Record({key: String, value: Number}) */
    T_LIT,     /* Schema.Literal(...): strings, or the number 1 when lits is NULL */
    T_STRUCT,  /* Schema.Struct(sub) */
};

struct field {
    const char *name;
    enum ftype type;
    bool required;
    const struct field *sub;
    const char *const *lits;
};

static const char *const lit_format[] = {"openagents.dse.compiled_artifact", NULL};
static const char *const lit_kind[] = {"unscored", "scored", NULL};
static const char *const lit_mode[] = {"strict_json", "jsonish", NULL};
static const char *const lit_role[] = {"sub", "main", NULL};

#define END {NULL, T_ANY, false, NULL, NULL}
#define OPT(n, t) {n, t, false, NULL, NULL}
#define REQ(n, t) {n, t, true, NULL, NULL}

static const struct field model_f[] = {OPT("modelId", T_STR), OPT("temperature", T_NUM),
                                        OPT("topP", T_NUM), OPT("maxTokens", T_NUM), END};
static const struct field roles_f[] = {
    {"main", T_STRUCT, false, model_f, NULL}, {"sub", T_STRUCT, false, model_f, NULL},
    {"repair", T_STRUCT, false, model_f, NULL}, {"judge", T_STRUCT, false, model_f, NULL}, END};
static const struct field chunk_f[] = {REQ("chunkChars", T_NUM), OPT("overlapChars", T_NUM),
                                        OPT("maxChunks", T_NUM), END};
static const struct field rlm_f[] = {OPT("controllerInstructions", T_STR),
                                      OPT("extractionSystem", T_STR),
                                      {"chunkDefaults", T_STRUCT, false, chunk_f, NULL},
                                      {"subRole", T_LIT, false, NULL, lit_role},
                                      END};
static const struct field budgets_f[] = {OPT("maxTimeMs", T_NUM),        OPT("maxLmCalls", T_NUM),
                                          OPT("maxToolCalls", T_NUM),     OPT("maxRlmIterations", T_NUM),
                                          OPT("maxSubLmCalls", T_NUM),    OPT("maxOutputChars", T_NUM),
                                          END};
static const struct field strategy_f[] = {REQ("id", T_STR), OPT("config", T_ANY), END};
static const struct field instruction_f[] = {OPT("text", T_STR), END};
static const struct field fewshot_f[] = {REQ("exampleIds", T_STRARR), OPT("k", T_NUM), END};
static const struct field decode_f[] = {{"mode", T_LIT, true, NULL, lit_mode},
                                         OPT("maxRepairs", T_NUM), END};
static const struct field tools_f[] = {OPT("allowedToolNames", T_STRARR), OPT("maxToolCalls", T_NUM),
                                        OPT("timeoutMsByToolName", T_NUMREC), END};
static const struct field params_f[] = {
    {"paramsVersion", T_LIT, true, NULL, NULL},
    {"strategy", T_STRUCT, false, strategy_f, NULL},
    {"instruction", T_STRUCT, false, instruction_f, NULL},
    {"fewShot", T_STRUCT, false, fewshot_f, NULL},
    {"model", T_STRUCT, false, model_f, NULL},
    {"modelRoles", T_STRUCT, false, roles_f, NULL},
    {"decode", T_STRUCT, false, decode_f, NULL},
    {"tools", T_STRUCT, false, tools_f, NULL},
    {"rlmLite", T_STRUCT, false, rlm_f, NULL},
    {"budgets", T_STRUCT, false, budgets_f, NULL},
    END};
static const struct field hashes_f[] = {REQ("inputSchemaHash", T_STR), REQ("outputSchemaHash", T_STR),
                                         REQ("promptIrHash", T_STR), REQ("paramsHash", T_STR), END};
static const struct field eval_f[] = {{"evalVersion", T_LIT, true, NULL, NULL},
                                       {"kind", T_LIT, true, NULL, lit_kind},
                                       OPT("reward", T_NUM),
                                       OPT("notes", T_STR),
                                       OPT("datasetId", T_STR),
                                       OPT("datasetHash", T_STR),
                                       OPT("metricId", T_STR),
                                       OPT("n", T_NUM),
                                       END};
static const struct field optimizer_f[] = {REQ("id", T_STR), OPT("config", T_ANY),
                                            OPT("iterations", T_NUM), END};
static const struct field provenance_f[] = {OPT("compilerVersion", T_STR), OPT("gitSha", T_STR),
                                             OPT("datasetId", T_STR),       OPT("datasetHash", T_STR),
                                             OPT("metricId", T_STR),        OPT("searchSpaceHash", T_STR),
                                             END};
static const struct field compat_f[] = {OPT("requiredTools", T_STRARR), OPT("requiredLanes", T_STRARR),
                                         OPT("privacyModesAllowed", T_STRARR), END};
static const struct field artifact_f[] = {
    {"format", T_LIT, true, NULL, lit_format},
    {"formatVersion", T_LIT, true, NULL, NULL},
    REQ("signatureId", T_STR),
    REQ("compiled_id", T_STR),
    REQ("createdAt", T_STR),
    {"hashes", T_STRUCT, true, hashes_f, NULL},
    {"params", T_STRUCT, true, params_f, NULL},
    {"eval", T_STRUCT, true, eval_f, NULL},
    {"optimizer", T_STRUCT, true, optimizer_f, NULL},
    {"provenance", T_STRUCT, true, provenance_f, NULL},
    {"compatibility", T_STRUCT, false, compat_f, NULL},
    END};

/* The authored few-shot ids of the reference's signatures
 * (apps/autopilot-worker/src/dseCatalog.ts). */
static const char *const fs_none[] = {NULL};
static const char *const fs_ex12[] = {"ex1", "ex2", NULL};
static const char *const fs_ex1[] = {"ex1", NULL};
static const char *const fs_ex1_5[] = {"ex1", "ex2", "ex3", "ex4", "ex5", NULL};
static const char *const fs_ex1_4[] = {"ex1", "ex2", "ex3", "ex4", NULL};
static const struct {
    const char *id;
    const char *const *fewshot;
} reference_sigs[] = {
    {"@openagents/autopilot/bootstrap/ExtractUserHandle.v1", fs_ex12},
    {"@openagents/autopilot/bootstrap/ExtractAgentName.v1", fs_ex12},
    {"@openagents/autopilot/bootstrap/ExtractAgentVibe.v1", fs_ex1},
    {"@openagents/autopilot/blueprint/SelectTool.v1", fs_ex1_5},
    {"@openagents/autopilot/feedback/DetectUpgradeRequest.v1", fs_ex1_4},
    {"@openagents/autopilot/rlm/SummarizeThread.v1", fs_none},
    {"@openagents/autopilot/judge/ThreadSummaryQuality.v1", fs_none},
    {"@openagents/autopilot/canary/RecapThread.v1", fs_none},
};

static const char *const reference_strategies[] = {"direct.v1", "rlm_lite.v1",
                                                   "distilled.search_line_extract.v1", NULL};

const char *const *compat_reference_fewshot_ids(const char *signature_id)
{
    for (size_t i = 0; signature_id && i < ARRAY_LEN(reference_sigs); i++)
        if (!strcmp(reference_sigs[i].id, signature_id))
            return reference_sigs[i].fewshot;
    return NULL;
}

static bool in_strs(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (!strcmp(*list, s))
            return true;
    return false;
}

/* ---- issues ---- */

#define FIX_PROFILE "recompile with `dse compile --profile reference`"

static void issue(cJSON *issues, const char *path, const char *kind, const char *fix,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void issue(cJSON *issues, const char *path, const char *kind, const char *fix,
                  const char *fmt, ...)
{
    char why[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    cJSON *o = json_obj();
    json_set_str(o, "path", path);
    json_set_str(o, "kind", kind);
    json_set_str(o, "why", why);
    json_set_str(o, "fix", fix);
    cJSON_AddItemToArray(issues, o);
}

static const char *type_name(const struct field *f)
{
    switch (f->type) {
    case T_STR:
        return "a string";
    case T_NUM:
        return "a number";
    case T_STRARR:
        return "an array of strings";
    case T_NUMREC:
        return "an object of numbers";
    case T_STRUCT:
        return "an object";
    case T_LIT:
        return f->lits ? "one of its literals" : "1";
    case T_ANY:
        break;
    }
    return "any value";
}

static bool type_ok(const struct field *f, const cJSON *v)
{
    switch (f->type) {
    case T_STR:
        return cJSON_IsString(v);
    case T_NUM:
        return cJSON_IsNumber(v);
    case T_ANY:
        return true;
    case T_STRUCT:
        return cJSON_IsObject(v);
    case T_LIT:
        return f->lits ? cJSON_IsString(v) && in_strs(f->lits, v->valuestring)
                       : cJSON_IsNumber(v) && v->valuedouble == 1;
    case T_STRARR:
    case T_NUMREC:
        if (f->type == T_STRARR ? !cJSON_IsArray(v) : !cJSON_IsObject(v))
            return false;
        for (const cJSON *e = v->child; e; e = e->next)
            if (f->type == T_STRARR ? !cJSON_IsString(e) : !cJSON_IsNumber(e))
                return false;
        return true;
    }
    return false;
}

/* Decode v against fields the way the reference does: type errors and
 * missing required fields are "decode" issues; with in_params, keys the
 * schema does not name are "dropped" issues.  Returns the decoded copy
 * (unknown keys removed), or NULL after a decode issue. */
static cJSON *decode_struct(cJSON *issues, const cJSON *v, const struct field *fs, const char *path,
                            bool in_params)
{
    bool ok = true;
    cJSON *out = json_obj();
    char sub[200];
    for (const struct field *f = fs; f->name; f++) {
        snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", f->name);
        const cJSON *x = json_get(v, f->name);
        if (!x) {
            if (f->required) {
                issue(issues, sub, "decode", FIX_PROFILE,
                      "required by the reference's schema and missing: the reference fails to "
                      "decode the artifact, so every Predict errors");
                ok = false;
            }
            continue;
        }
        if (!type_ok(f, x)) {
            issue(issues, sub, "decode", FIX_PROFILE,
                  "must be %s for the reference's schema%s: the reference fails to decode the "
                  "artifact, so every Predict errors",
                  type_name(f), cJSON_IsNull(x) ? " (null is not accepted for optional fields)" : "");
            ok = false;
            continue;
        }
        if (f->type == T_STRUCT) {
            /* keys inside params are dropped for real; elsewhere they are
             * metadata nobody reads back */
            bool ip = in_params || (fs == artifact_f && !strcmp(f->name, "params"));
            cJSON *d = decode_struct(issues, x, f->sub, sub, ip);
            if (!d)
                ok = false;
            else
                json_set(out, f->name, d);
        } else {
            json_set_copy(out, f->name, x);
        }
    }
    if (in_params) {
        for (const cJSON *k = v->child; k; k = k->next) {
            bool named = false;
            for (const struct field *f = fs; f->name && !named; f++)
                named = !strcmp(f->name, k->string);
            if (named)
                continue;
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", k->string);
            if (!strcmp(sub, "params.fewShot.demos"))
                issue(issues, sub, "dropped",
                      FIX_PROFILE " (few-shot from the authored examples only)",
                      "dse's train-split demos: the reference's decoder drops them, so it renders "
                      "none of them and fails on their ids in fewShot.exampleIds");
            else
                issue(issues, sub, "dropped", FIX_PROFILE,
                      "not in the reference's DseParamsV1 schema: its decoder drops the key, so "
                      "it runs other params than dse evaluated");
        }
    }
    if (!ok) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

static void check_runtime(cJSON *issues, const char *sig_id, const cJSON *params)
{
    const char *const *authored = compat_reference_fewshot_ids(sig_id);
    if (!authored) {
        issue(issues, "signatureId", "unknown_signature",
              "serve this signature from a dse store (SQLite or `dse serve`)",
              "the reference runtime defines no signature %.150s, so it can never render this "
              "artifact",
              sig_id);
        return;
    }
    const cJSON *ids = json_path(params, "fewShot.exampleIds");
    struct sbuf missing = {0}, known = {0};
    for (const char *const *a = authored; *a; a++)
        sbuf_printf(&known, "%s%s", a == authored ? "" : ", ", *a);
    for (const cJSON *e = cJSON_IsArray(ids) ? ids->child : NULL; e; e = e->next)
        if (cJSON_IsString(e) && !in_strs(authored, e->valuestring) && missing.len < 160)
            sbuf_printf(&missing, "%s%s", missing.len ? ", " : "", e->valuestring);
    if (missing.len) {
        char fix[200];
        snprintf(fix, sizeof fix, FIX_PROFILE " (authored ids there: %s)",
                 known.len ? known.s : "none");
        issue(issues, "params.fewShot.exampleIds", "render", fix,
              "names %s, not authored examples of the reference's signature: its renderer fails "
              "(PromptRenderError: Few-shot params referenced unknown example ids)",
              missing.s);
    }
    sbuf_free(&missing);
    sbuf_free(&known);

    const cJSON *sid = json_path(params, "strategy.id");
    const char *strategy = cJSON_IsString(sid) ? sid->valuestring : "direct.v1";
    if (!in_strs(reference_strategies, strategy))
        issue(issues, "params.strategy.id", "runtime", "use direct.v1 or rlm_lite.v1",
              "%.100s is not a strategy the reference's Predict knows (PredictStrategyError)",
              strategy);
    if (!strcmp(strategy, "rlm_lite.v1") &&
        (!cJSON_IsNumber(json_path(params, "budgets.maxRlmIterations")) ||
         !cJSON_IsNumber(json_path(params, "budgets.maxSubLmCalls"))))
        issue(issues, "params.budgets", "runtime",
              "set budgets.maxRlmIterations and budgets.maxSubLmCalls",
              "rlm_lite.v1 needs maxRlmIterations and maxSubLmCalls in the reference "
              "(PredictStrategyError)");
}

int compat_check_reference(const cJSON *artifact, cJSON **issues, struct dse_err *err)
{
    cJSON *iss = json_arr();
    const char *cid = json_str(artifact, "compiled_id", "?");
    if (!cJSON_IsObject(artifact)) {
        issue(iss, "", "decode", FIX_PROFILE, "the artifact is not a JSON object");
    } else {
        cJSON *env = decode_struct(iss, artifact, artifact_f, "", false);
        /* the params the reference would run, decoded on their own so the
         * hash check works even when the envelope fails elsewhere */
        const cJSON *params = json_get(artifact, "params");
        cJSON *dp = NULL;
        if (cJSON_IsObject(params)) {
            cJSON *scratch = json_arr();
            dp = decode_struct(scratch, params, params_f, "params", true);
            cJSON_Delete(scratch);
        }
        if (cJSON_IsObject(params))
            check_runtime(iss, json_str(artifact, "signatureId", ""), params);
        if (dp && cJSON_IsString(json_get(artifact, "compiled_id"))) {
            char h[HASH_ID_LEN + 1];
            hash_json(dp, h);
            if (strcmp(h, cid) != 0)
                issue(iss, "compiled_id", "hash", FIX_PROFILE,
                      "differs from paramsHash of the params the reference decodes (%s): its "
                      "receipts would pair this compiled_id with that paramsHash",
                      h);
        }
        cJSON_Delete(dp);
        cJSON_Delete(env);
    }
    int n = cJSON_GetArraySize(iss);
    if (n > 0) {
        struct sbuf paths = {0};
        int shown = 0;
        for (const cJSON *e = iss->child; e; e = e->next) {
            const char *p = json_str(e, "path", "");
            if (paths.len > 200) {
                sbuf_printf(&paths, ", ...");
                break;
            }
            sbuf_printf(&paths, "%s%s (%s)", shown++ ? ", " : "", *p ? p : "(artifact)",
                        json_str(e, "kind", ""));
        }
        dse_fail(err, "incompatible_artifact",
                 "%.80s would not run on a plain reference deployment: %s; fix: %s", cid, paths.s,
                 json_str(iss->child, "fix", FIX_PROFILE));
        sbuf_free(&paths);
    }
    if (issues)
        *issues = iss;
    else
        cJSON_Delete(iss);
    return n > 0 ? -1 : 0;
}

/* ---- the reference profile ---- */

cJSON *compat_reference_signature(const cJSON *signature, struct dse_err *err)
{
    const char *sid = catalog_id(signature);
    const char *const *ref = compat_reference_fewshot_ids(sid);
    if (!ref) {
        dse_fail(err, "unknown_signature",
                 "the reference runtime defines no signature %s: no artifact of it can run on a "
                 "plain reference deployment, so --profile reference cannot compile it",
                 sid ? sid : "?");
        return NULL;
    }
    cJSON *s = json_dup(signature);
    cJSON *cj = cJSON_GetObjectItemCaseSensitive(s, "compileJob");
    cJSON *ss = cJSON_GetObjectItemCaseSensitive(cj, "searchSpace");
    cJSON *fs = cJSON_GetObjectItemCaseSensitive(ss, "fewShot");
    if (!cJSON_IsObject(fs))
        return s;
    /* the pool: the ids the job named, or every authored id of our prompt,
     * kept only when the reference's prompt has the same id */
    cJSON *ids = json_arr();
    const cJSON *named = json_get(fs, "candidateExampleIds");
    if (!json_get(fs, "fromSplit") && cJSON_IsArray(named)) {
        for (const cJSON *e = named->child; e; e = e->next)
            if (cJSON_IsString(e) && in_strs(ref, e->valuestring))
                cJSON_AddItemToArray(ids, json_dup(e));
    } else {
        const cJSON *blk;
        cJSON_ArrayForEach(blk, json_get(catalog_prompt_ir(signature), "blocks"))
        {
            if (strcmp(json_str(blk, "_tag", ""), "FewShot") != 0)
                continue;
            const cJSON *e;
            cJSON_ArrayForEach(e, json_get(blk, "examples"))
            {
                const char *id = json_str(e, "id", NULL);
                if (id && in_strs(ref, id))
                    cJSON_AddItemToArray(ids, cJSON_CreateString(id));
            }
        }
    }
    if (cJSON_GetArraySize(ids) > 0) {
        cJSON *nfs = json_obj();
        json_set(nfs, "candidateExampleIds", ids);
        json_set_copy(nfs, "kMax", json_get(fs, "kMax"));
        json_set(ss, "fewShot", nfs);
    } else {
        cJSON_Delete(ids);
        cJSON_DeleteItemFromObjectCaseSensitive(ss, "fewShot");
        cJSON *opt = cJSON_GetObjectItemCaseSensitive(cj, "optimizer");
        const char *oid = json_str(opt, "id", "");
        if (!strcmp(oid, "fewshot_greedy_forward.v1") ||
            !strcmp(oid, "joint_instruction_grid_then_fewshot_greedy_forward.v1"))
            json_set_str(opt, "id", "instruction_grid.v1");
    }
    return s;
}

/* ---- the store side ---- */

bool compat_store_is_plain_reference(struct store *st)
{
    /* decided once, when the remote store was opened (remote_probe) */
    return st && st->plain_reference;
}

int compat_guard(struct store *st, const char *signature_id, const char *compiled_id, bool force,
                 struct dse_err *err)
{
    if (force || !compat_store_is_plain_reference(st))
        return 0;
    struct dse_err aerr = {0};
    cJSON *art = store_artifact(st, signature_id, compiled_id, &aerr);
    if (!art)
        return 0;
    struct dse_err cerr = {0};
    int rc = compat_check_reference(art, NULL, &cerr);
    cJSON_Delete(art);
    if (rc == 0)
        return 0;
    return dse_fail(err, "incompatible_artifact", "%s; or pass --force to override", cerr.msg);
}
