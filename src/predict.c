/* predict: policy routing, strategies and receipts (contract in predict.h). */
#include "predict.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobstore.h"
#include "budget.h"
#include "catalog.h"
#include "decode.h"
#include "json.h"
#include "jsonschema.h"
#include "lm.h"
#include "render.h"
#include "rlm.h"
#include "store.h"
#include "util.h"

/* ---- params helpers ---- */

static void overlay_model(const cJSON *m, struct predict_model *out)
{
    if (!cJSON_IsObject(m))
        return;
    const cJSON *id = json_get(m, "modelId");
    if (cJSON_IsString(id) && id->valuestring[0])
        snprintf(out->model_id, sizeof out->model_id, "%s", id->valuestring);
    const cJSON *t = json_get(m, "temperature");
    if (cJSON_IsNumber(t) && isfinite(t->valuedouble)) {
        out->has_temperature = true;
        out->temperature = t->valuedouble;
    }
    const cJSON *p = json_get(m, "topP");
    if (cJSON_IsNumber(p) && isfinite(p->valuedouble)) {
        out->has_top_p = true;
        out->top_p = p->valuedouble;
    }
    const cJSON *mt = json_get(m, "maxTokens");
    if (cJSON_IsNumber(mt) && isfinite(mt->valuedouble) && mt->valuedouble >= 1 &&
        mt->valuedouble < 1e9)
        out->max_tokens = (int)mt->valuedouble;
}

void predict_model_resolve(const cJSON *params, const char *role, struct predict_model *out)
{
    memset(out, 0, sizeof *out);
    overlay_model(json_get(params, "model"), out);
    if (role)
        overlay_model(json_get(json_get(params, "modelRoles"), role), out);
}

cJSON *predict_model_json(const struct predict_model *m)
{
    cJSON *o = json_obj();
    if (m->model_id[0])
        json_set_str(o, "modelId", m->model_id);
    if (m->has_temperature)
        json_set_num(o, "temperature", m->temperature);
    if (m->has_top_p)
        json_set_num(o, "topP", m->top_p);
    if (m->max_tokens > 0)
        json_set_num(o, "maxTokens", m->max_tokens);
    return o;
}

/* ---- policy ---- */

void predict_policy_free(struct predict_policy *p)
{
    if (!p)
        return;
    cJSON_Delete(p->params);
    p->params = NULL;
}

/* Load an artifact's params; PolicyRegistryError when it is missing. */
static int load_params(struct store *st, const char *sig_id, const char *compiled_id,
                       const char *what, struct predict_policy *out, struct dse_err *err)
{
    struct dse_err e = {0};
    cJSON *art = store_artifact(st, sig_id, compiled_id, &e);
    if (!art) {
        if (strcmp(e.code, "artifact_not_found") == 0)
            return dse_fail(err, "PolicyRegistryError", "%s artifact %s of %s is missing", what,
                            compiled_id, sig_id);
        return dse_fail(err, "PolicyRegistryError", "cannot read %s artifact %s: %s", what,
                        compiled_id, e.msg);
    }
    const cJSON *params = json_get(art, "params");
    if (!cJSON_IsObject(params)) {
        cJSON_Delete(art);
        return dse_fail(err, "PolicyRegistryError", "%s artifact %s has no params object", what,
                        compiled_id);
    }
    out->params = json_dup(params);
    cJSON_Delete(art);
    return 0;
}

int predict_resolve_policy(struct store *st, const cJSON *signature, const char *thread_id,
                           struct predict_policy *out, struct dse_err *err)
{
    memset(out, 0, sizeof *out);
    const char *sig_id = json_str(signature, "signatureId", "");
    int failed = 0;
    struct dse_err e = {0};
    cJSON *canary = store_canary(st, sig_id, &failed, &e);
    if (failed)
        return dse_fail(err, "PolicyRegistryError", "cannot read the canary of %s: %s", sig_id, e.msg);
    const char *cid = json_str(canary, "canary_compiled_id", "");
    const char *ctl = json_str(canary, "control_compiled_id", "");
    double pct = json_num(canary, "rolloutPct", 0);
    if (canary && json_bool(canary, "enabled", false) && pct > 0 && cid[0] && ctl[0]) {
        out->bucket = hash_canary_bucket(json_str(canary, "salt", ""), thread_id ? thread_id : "",
                                         sig_id);
        out->canary = out->bucket < pct;
        snprintf(out->route, sizeof out->route, "%s", out->canary ? "canary" : "control");
        const char *chosen = out->canary ? cid : ctl;
        snprintf(out->compiled_id, sizeof out->compiled_id, "%s", chosen);
        int rc = load_params(st, sig_id, chosen, out->canary ? "canary" : "control", out, err);
        cJSON_Delete(canary);
        return rc;
    }
    cJSON_Delete(canary);

    char active[HASH_ID_LEN + 8] = "";
    if (store_active_id(st, sig_id, active, sizeof active, &e) < 0)
        return dse_fail(err, "PolicyRegistryError", "cannot read the active pointer of %s: %s",
                        sig_id, e.msg);
    if (active[0]) {
        size_t n = strlen(active);
        if (n > HASH_ID_LEN)
            return dse_fail(err, "PolicyRegistryError", "active pointer of %s is not a compiled id",
                            sig_id);
        memcpy(out->compiled_id, active, n + 1);
        snprintf(out->route, sizeof out->route, "active");
        return load_params(st, sig_id, active, "active", out, err);
    }
    const cJSON *defaults = json_get(signature, "defaultParams");
    if (!cJSON_IsObject(defaults))
        return dse_fail(err, "PolicyRegistryError", "%s has no defaultParams", sig_id);
    out->params = json_dup(defaults);
    hash_json(defaults, out->compiled_id);
    out->from_default = true;
    snprintf(out->route, sizeof out->route, "default");
    return 0;
}

/* ---- one run ---- */

static const char *const error_names[] = {
    "BudgetExceededError", "LmClientError",        "PolicyRegistryError",
    "PromptRenderError",   "OutputDecodeError",    "RlmKernelError",
    "PredictStrategyError", "ReceiptRecorderError", "HashError",
};

/* Keep the reference's error names; anything else is a PredictError whose
 * message keeps the original code. */
static void normalise_error(struct dse_err *e)
{
    for (size_t i = 0; i < ARRAY_LEN(error_names); i++)
        if (strcmp(e->code, error_names[i]) == 0)
            return;
    struct dse_err orig = *e;
    if (orig.code[0])
        dse_fail(e, "PredictError", "%s: %s", orig.code, orig.msg);
    else
        dse_fail(e, "PredictError", "%s", orig.msg[0] ? orig.msg : "unknown failure");
}

struct run {
    /* in */
    const cJSON *sig;
    const char *compiled_id;
    const cJSON *params;
    const cJSON *input;
    struct lm_client *lm;
    struct blobstore *bs;
    /* state */
    char receipt_id[40];
    int64_t started_at;
    struct budget budget;
    struct rlm_kernel k;
    const char *strategy;
    char rendered_hash[HASH_ID_LEN + 1];
    char output_hash[HASH_ID_LEN + 1];
    cJSON *stats, *pressure, *usage, *trace, *trace_doc;
    int repairs;
};

static cJSON *usage_json(const struct lm_response *r)
{
    cJSON *u = json_obj();
    if (r->prompt_tokens >= 0)
        json_set_num(u, "promptTokens", r->prompt_tokens);
    if (r->completion_tokens >= 0)
        json_set_num(u, "completionTokens", r->completion_tokens);
    if (r->total_tokens >= 0)
        json_set_num(u, "totalTokens", r->total_tokens);
    if (!u->child) { /* the provider said nothing: no usage field */
        cJSON_Delete(u);
        return NULL;
    }
    return u;
}

/* Render the prompt into *ro (freed by the caller on success) and take its
 * stats, pressure and rendered hash into the run.  0 / -1 with err. */
static int render_run(struct run *r, enum render_blob_mode blobs, struct render_out *ro,
                      struct dse_err *err)
{
    if (render_prompt(r->sig, r->params, r->input, r->bs, blobs, ro, err) < 0) {
        render_out_free(ro);
        return -1;
    }
    r->stats = ro->stats;
    r->pressure = ro->pressure;
    ro->stats = ro->pressure = NULL;
    snprintf(r->rendered_hash, sizeof r->rendered_hash, "%s", ro->rendered_hash);
    return 0;
}

static cJSON *run_direct(struct run *r, struct dse_err *err)
{
    struct render_out ro;
    if (render_run(r, RENDER_BLOBS_INLINE, &ro, err) < 0)
        return NULL;

    struct predict_model main_m, repair_m;
    predict_model_resolve(r->params, "main", &main_m);
    predict_model_resolve(r->params, "repair", &repair_m);
    enum decode_mode mode;
    int max_repairs;
    decode_params(r->params, &mode, &max_repairs);
    const cJSON *schema = json_get(r->sig, "outputSchema");

    struct lm_message msgs[4];
    size_t n = render_messages(&ro, msgs);
    cJSON *out = NULL;
    if (budget_check_time(&r->budget, err) < 0)
        goto done;
    struct lm_request req = {.messages = msgs, .n_messages = n, .role = "main"};
    req.model = main_m.model_id[0] ? main_m.model_id : NULL;
    req.has_temperature = main_m.has_temperature;
    req.temperature = main_m.temperature;
    req.has_top_p = main_m.has_top_p;
    req.top_p = main_m.top_p;
    req.max_tokens = main_m.max_tokens;
    struct lm_response resp;
    if (rlm_lm_call(&r->k, &req, false, &resp, err) < 0)
        goto done;
    r->usage = usage_json(&resp);
    char *raw = resp.text;
    resp.text = NULL;

    for (;;) {
        struct dse_err derr = {0};
        out = decode_output(schema, raw, mode, &derr);
        if (out)
            break;
        if (r->repairs >= max_repairs) {
            *err = derr;
            break;
        }
        char *assistant = decode_prefix(raw, DECODE_REPAIR_RAW_CHARS);
        char *prompt = decode_repair_prompt(schema, raw, derr.msg);
        msgs[n] = (struct lm_message){"assistant", assistant};
        msgs[n + 1] = (struct lm_message){"user", prompt};
        struct lm_request rq = {.messages = msgs, .n_messages = n + 2, .role = "repair"};
        rq.model = repair_m.model_id[0] ? repair_m.model_id : req.model;
        rq.has_temperature = true;
        rq.temperature = 0;
        rq.has_top_p = true;
        rq.top_p = 1;
        int mt = repair_m.max_tokens > 0 ? repair_m.max_tokens
                 : main_m.max_tokens > 0 ? main_m.max_tokens
                                         : DECODE_REPAIR_MAX_TOKENS;
        rq.max_tokens = mt < DECODE_REPAIR_MAX_TOKENS ? mt : DECODE_REPAIR_MAX_TOKENS;
        struct lm_response rr;
        int rc = rlm_lm_call(&r->k, &rq, false, &rr, err);
        free(assistant);
        free(prompt);
        if (rc < 0)
            break;
        free(raw);
        raw = rr.text;
        rr.text = NULL;
        r->repairs++;
    }
    free(raw);
    if (out)
        hash_json(out, r->output_hash);
done:
    render_out_free(&ro);
    return out;
}

static cJSON *run_rlm(struct run *r, struct dse_err *err)
{
    /* The strategy's own precondition comes before any work. */
    if (!r->budget.has[BUDGET_RLM_ITERATIONS] || !r->budget.has[BUDGET_SUB_LM_CALLS]) {
        dse_fail(err, "PredictStrategyError",
                 "rlm_lite.v1 needs params.budgets.maxRlmIterations and maxSubLmCalls set, so "
                 "its loop and sub-calls are bounded");
        return NULL;
    }
    struct render_out ro;
    if (render_run(r, RENDER_BLOBS_PLACEHOLDER, &ro, err) < 0)
        return NULL;

    struct rlm_loop L = {
        .signature = r->sig,
        .input = r->input,
        .receipt_id = r->receipt_id,
        .strategy_id = r->strategy,
        .base_system = ro.system,
        .base_user = ro.user,
        .k = &r->k,
    };
    int rc = rlm_loop_run(&L, err);
    render_out_free(&ro);
    r->trace = L.trace;
    r->trace_doc = L.trace_doc;
    if (rc < 0) {
        cJSON_Delete(L.output);
        return NULL;
    }
    hash_json(L.output, r->output_hash);
    return L.output;
}

/* "local-knn" / "openai:<model>" -> provider and model names. */
static cJSON *lm_json(const struct run *r)
{
    const char *desc = r->lm ? lm_describe(r->lm) : "";
    const char *colon = strchr(desc, ':');
    cJSON *o = json_obj();
    char provider[64];
    snprintf(provider, sizeof provider, "%.*s", colon ? (int)(colon - desc) : (int)strlen(desc),
             desc);
    json_set_str(o, "provider", provider[0] ? provider : "unknown");
    const char *model = r->k.model[0] ? r->k.model
                        : colon       ? colon + 1
                        : r->lm       ? r->lm->default_model
                                      : "";
    json_set_str(o, "model", model);
    json_set_num(o, "calls", r->k.lm_calls);
    json_set_num(o, "cacheHits", r->k.cache_hits);
    return o;
}

/* Our extension: the receipt keeps the input and the decoded output (when
 * each fits in RECEIPT_IO_MAX canonical characters) so a live receipt can be
 * replayed or turned into a labelled example; the reference keeps only
 * their hashes. */
#define RECEIPT_IO_MAX 65536

static void set_io(cJSON *rc, const char *key, const cJSON *v)
{
    if (!v)
        return;
    char *c = json_canonical(v);
    if (strlen(c) <= RECEIPT_IO_MAX)
        json_set_copy(rc, key, v);
    free(c);
}

static cJSON *build_receipt(struct run *r, const struct dse_err *error, const cJSON *output,
                            int64_t ended_at)
{
    char in_h[HASH_ID_LEN + 1], out_h[HASH_ID_LEN + 1], ir_h[HASH_ID_LEN + 1],
        params_h[HASH_ID_LEN + 1];
    catalog_hashes(r->sig, in_h, out_h, ir_h);
    hash_json(r->params, params_h);
    char created[32];
    util_iso_time(util_now_ms(), created);

    cJSON *rc = json_obj();
    json_set_str(rc, "format", "openagents.dse.predict_receipt");
    json_set_num(rc, "formatVersion", 1);
    json_set_str(rc, "receiptId", r->receipt_id);
    json_set_str(rc, "runId", r->receipt_id);
    json_set_str(rc, "createdAt", created);
    json_set_str(rc, "signatureId", json_str(r->sig, "signatureId", ""));
    json_set_str(rc, "compiled_id", r->compiled_id);
    json_set_str(rc, "strategyId", r->strategy);
    cJSON *h = json_obj();
    json_set_str(h, "inputSchemaHash", in_h);
    json_set_str(h, "outputSchemaHash", out_h);
    json_set_str(h, "promptIrHash", ir_h);
    if (r->rendered_hash[0])
        json_set_str(h, "renderedPromptHash", r->rendered_hash);
    json_set_str(h, "paramsHash", params_h);
    if (!error && r->output_hash[0])
        json_set_str(h, "outputHash", r->output_hash);
    json_set(rc, "hashes", h);
    struct predict_model m;
    predict_model_resolve(r->params, "main", &m);
    json_set(rc, "model", predict_model_json(&m));
    if (r->usage)
        json_set_copy(rc, "usage", r->usage);
    cJSON *t = json_obj();
    json_set_num(t, "startedAtMs", (double)r->started_at);
    json_set_num(t, "endedAtMs", (double)ended_at);
    json_set_num(t, "durationMs", (double)(ended_at > r->started_at ? ended_at - r->started_at : 0));
    json_set(rc, "timing", t);
    if (r->stats)
        json_set_copy(rc, "promptRenderStats", r->stats);
    if (r->pressure)
        json_set_copy(rc, "contextPressure", r->pressure);
    if (r->repairs > 0)
        json_set_num(rc, "repairCount", r->repairs);
    if (r->trace) {
        cJSON *tr = json_obj();
        json_set_copy(tr, "blob", json_get(r->trace, "blob"));
        json_set_copy(tr, "eventCount", json_get(r->trace, "eventCount"));
        if (json_get(tr, "blob"))
            json_set(rc, "rlmTrace", tr);
        else
            cJSON_Delete(tr);
    }
    json_set(rc, "budget", budget_snapshot_json(&r->budget, true));
    cJSON *res = json_obj();
    if (error) {
        json_set_str(res, "_tag", "Error");
        json_set_str(res, "errorName", error->code);
        json_set_str(res, "message", error->msg);
    } else {
        json_set_str(res, "_tag", "Ok");
    }
    json_set(rc, "result", res);
    json_set(rc, "lm", lm_json(r));
    set_io(rc, "input", r->input);
    if (!error)
        set_io(rc, "output", output);
    return rc;
}

/* The input must satisfy the signature's input schema before anything is
 * rendered. */
static int check_input(const struct run *r, struct dse_err *err)
{
    const cJSON *schema = json_get(r->sig, "inputSchema");
    if (!schema)
        return 0;
    struct dse_err e = {0};
    if (jsonschema_validate(schema, r->input, &e) < 0)
        return dse_fail(err, "PromptRenderError", "input does not match the input schema: %s", e.msg);
    return 0;
}

/* Run a strategy on fixed params and fill res (receipt included).
 * `pre_error` (may be NULL) is a failure that happened before the run
 * (policy lookup, blob seeding): it is receipted without running. */
static void run_once(struct run *r, const struct dse_err *pre_error, struct predict_result *res)
{
    memset(res, 0, sizeof *res);
    util_uuid(r->receipt_id);
    r->started_at = util_now_ms();
    budget_start(&r->budget, json_get(r->params, "budgets"), r->started_at);
    r->k = (struct rlm_kernel){
        .bs = r->bs,
        .budget = &r->budget,
        .lm = r->lm,
        .params = r->params,
        .signature_id = json_str(r->sig, "signatureId", ""),
    };
    const cJSON *sid = json_path(r->params, "strategy.id");
    r->strategy = cJSON_IsString(sid) && sid->valuestring[0] ? sid->valuestring : "direct.v1";

    struct dse_err err = {0};
    cJSON *out = NULL;
    if (pre_error) {
        err = *pre_error;
    } else if (check_input(r, &err) < 0) {
        /* the reference fails encoding the input the same way */
    } else if (strcmp(r->strategy, "direct.v1") == 0) {
        out = run_direct(r, &err);
    } else if (strcmp(r->strategy, "rlm_lite.v1") == 0) {
        out = run_rlm(r, &err);
    } else {
        dse_fail(&err, "PredictStrategyError", "unknown predict strategy %s", r->strategy);
    }
    if (!out)
        normalise_error(&err);

    int64_t ended = util_now_ms();
    res->ok = out != NULL;
    res->output = out;
    res->receipt = build_receipt(r, out ? NULL : &err, out, ended);
    snprintf(res->receipt_id, sizeof res->receipt_id, "%s", r->receipt_id);
    if (!out)
        res->error = err;
    res->lm_calls = r->k.lm_calls;
    res->cache_hits = r->k.cache_hits;
    res->duration_ms = ended > r->started_at ? ended - r->started_at : 0;
    snprintf(res->compiled_id, sizeof res->compiled_id, "%s", r->compiled_id);
    res->trace = r->trace_doc;
    cJSON_Delete(r->stats);
    cJSON_Delete(r->pressure);
    cJSON_Delete(r->usage);
    cJSON_Delete(r->trace);
}

int predict_run(const cJSON *signature, const char *compiled_id, const cJSON *params,
                const cJSON *input, struct lm_client *lm, const cJSON *blobs,
                struct predict_result *res)
{
    if (!res)
        return -1;
    memset(res, 0, sizeof *res);
    if (!signature || !params)
        return -1;
    char cid[HASH_ID_LEN + 1];
    if (!compiled_id || !compiled_id[0]) {
        hash_json(params, cid);
        compiled_id = cid;
    }
    struct blobstore *bs = blobstore_new_mem();
    struct dse_err seed = {0};
    bool seed_failed = blobstore_seed(bs, blobs, &seed) < 0;
    if (seed_failed) {
        struct dse_err e = seed;
        dse_fail(&seed, "PromptRenderError", "cannot seed input blobs: %s", e.msg);
    }
    cJSON *null_input = NULL;
    if (!input)
        input = null_input = cJSON_CreateNull();
    struct run r = {
        .sig = signature,
        .compiled_id = compiled_id,
        .params = params,
        .input = input,
        .lm = lm,
        .bs = bs,
    };
    run_once(&r, seed_failed ? &seed : NULL, res);
    cJSON_Delete(null_input);
    blobstore_free(bs);
    return 0;
}

int predict_live_ex(struct store *st, struct lm_client *lm, const cJSON *signature,
                    const char *thread_id, const char *run_id, const cJSON *input,
                    const struct predict_live_opts *opts, struct predict_result *res,
                    struct dse_err *err)
{
    memset(res, 0, sizeof *res);
    if (!st || !signature || !thread_id || !thread_id[0] || !run_id || !run_id[0])
        return dse_fail(err, "invalid_input", "predict needs a store, a signature, a threadId and a runId");

    struct predict_policy pol;
    struct dse_err pre = {0};
    bool pre_failed = predict_resolve_policy(st, signature, thread_id, &pol, &pre) < 0;
    cJSON *params = pol.params;
    cJSON *fallback = NULL;
    if (!params) {
        /* A policy failure is still receipted, under the id that failed (or
         * the defaults' id), with the defaults as the params shown. */
        const cJSON *d = json_get(signature, "defaultParams");
        params = fallback = d ? json_dup(d) : json_obj();
        if (!pol.compiled_id[0])
            hash_json(params, pol.compiled_id);
    }
    struct blobstore *bs = blobstore_new_store(st, thread_id, run_id);
    if (!pre_failed && opts && opts->blobs) {
        struct dse_err se = {0};
        if (blobstore_seed(bs, opts->blobs, &se) < 0) {
            pre_failed = true;
            dse_fail(&pre, "PromptRenderError", "cannot store input blobs: %s", se.msg);
        }
    }
    cJSON *null_input = NULL;
    if (!input)
        input = null_input = cJSON_CreateNull();
    struct run r = {
        .sig = signature,
        .compiled_id = pol.compiled_id,
        .params = params,
        .input = input,
        .lm = lm,
        .bs = bs,
    };
    run_once(&r, pre_failed ? &pre : NULL, res);
    res->canary = pol.canary;
    snprintf(res->route, sizeof res->route, "%s", pol.route);
    cJSON_Delete(null_input);
    blobstore_free(bs);
    cJSON_Delete(fallback);
    predict_policy_free(&pol);

    cJSON *args = json_obj();
    json_set_str(args, "threadId", thread_id);
    json_set_str(args, "runId", run_id);
    json_set_copy(args, "receipt", res->receipt);
    struct dse_err rerr = {0};
    int rc = store_call(st, STORE_OP_receipts_record, args, NULL, &rerr);
    cJSON_Delete(args);
    if (rc < 0) {
        res->ok = false;
        cJSON_Delete(res->output);
        res->output = NULL;
        dse_fail(&res->error, "ReceiptRecorderError", "could not record receipt %s: %s%s%s",
                 res->receipt_id, rerr.code, rerr.msg[0] ? ": " : "", rerr.msg);
        cJSON *result = json_obj();
        json_set_str(result, "_tag", "Error");
        json_set_str(result, "errorName", res->error.code);
        json_set_str(result, "message", res->error.msg);
        json_set(res->receipt, "result", result);
        if (err)
            *err = res->error;
        return -1;
    }
    return 0;
}

int predict_live(struct store *st, struct lm_client *lm, const cJSON *signature,
                 const char *thread_id, const char *run_id, const cJSON *input,
                 struct predict_result *res, struct dse_err *err)
{
    return predict_live_ex(st, lm, signature, thread_id, run_id, input, NULL, res, err);
}

void predict_result_free(struct predict_result *res)
{
    if (!res)
        return;
    cJSON_Delete(res->output);
    cJSON_Delete(res->receipt);
    cJSON_Delete(res->trace);
    res->output = res->receipt = res->trace = NULL;
}
