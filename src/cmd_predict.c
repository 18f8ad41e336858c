/* `dse predict`: run a signature once on the live path (policy routing,
 * canary counting, receipt recording) and print the output. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobstore.h"
#include "catalog.h"
#include "cli.h"
#include "cli_commands.h"
#include "hash.h"
#include "json.h"
#include "lm.h"
#include "lmopts.h"
#include "predict.h"
#include "store.h"
#include "util.h"

#define INPUT_MAX_BYTES (16u << 20)
#define RUN_ID_MAX 128

static bool valid_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t k = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
        if (k == 9 || (k == 1 && c < 0xc2) || (k && i + k >= n))
            return false;
        for (size_t j = 1; j <= k; j++)
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
        i += k + 1;
    }
    return true;
}

/* Replace {"$blobFile": PATH} and {"$blobText": TEXT} nodes by the BlobRef
 * of that text, collecting {text, mime} seeds into blobs.  -1 with err. */
static int expand_blobs(cJSON *v, cJSON *blobs, int depth, struct dse_err *err)
{
    if (depth > 64 || (!cJSON_IsObject(v) && !cJSON_IsArray(v)))
        return 0;
    for (cJSON *c = v->child; c; c = c->next) {
        const cJSON *file = json_get(c, "$blobFile"), *text = json_get(c, "$blobText");
        bool single = cJSON_IsObject(c) && c->child && !c->child->next;
        if (single && (cJSON_IsString(file) || cJSON_IsString(text))) {
            char *t;
            size_t len;
            if (file) {
                t = util_read_file(file->valuestring, INPUT_MAX_BYTES, &len);
                if (!t)
                    return dse_fail(err, "invalid_input", "cannot read blob file %s: %s",
                                    file->valuestring, strerror(errno));
                if (memchr(t, 0, len) || !valid_utf8(t, len)) {
                    free(t);
                    return dse_fail(err, "invalid_input", "blob file %s is not UTF-8 text",
                                    file->valuestring);
                }
            } else {
                t = xstrdup(text->valuestring);
                len = strlen(t);
            }
            cJSON *seed = json_obj();
            json_set_str(seed, "text", t);
            json_set_str(seed, "mime", "text/plain");
            cJSON_AddItemToArray(blobs, seed);
            cJSON *ref = blobref_of(t, len, "text/plain");
            free(t);
            /* swap the node's contents for the BlobRef, keeping its place */
            cJSON *kids = c->child;
            c->child = ref->child;
            ref->child = kids;
            cJSON_Delete(ref);
            continue;
        }
        if (expand_blobs(c, blobs, depth + 1, err) < 0)
            return -1;
    }
    return 0;
}

int cmd_predict(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] =
        "dse predict --signature ID --thread T [--run R] --input JSON|@FILE [LM options]";
    const char *sig_name = NULL, *thread = NULL, *run = NULL, *input_arg = NULL;
    struct lmopts lo = {0};
    struct cli_opt opts[] = {
        {"signature", 's', CLI_STR, &sig_name, "ID", "signature id, key or unique suffix"},
        {"thread", 't', CLI_STR, &thread, "T", "thread id (canary bucketing is sticky per thread)"},
        {"run", 'r', CLI_STR, &run, "R", "run id the receipt and blobs are filed under (default: new UUID)"},
        {"input", 'i', CLI_STR, &input_arg, "JSON|@FILE", "the signature input, inline or from a file"},
        LMOPTS_CLI(lo),
        {0}};
    int n = cli_parse(
        ctx, argc, argv, opts, usage,
        "Run a signature once the way production does: route by the active pointer or\n"
        "the canary (bucket of salt:thread:signature), run the artifact's strategy,\n"
        "record a receipt (counted toward the canary), and print the output.\n\n"
        "Long texts can be passed as blobs inside the input: an object\n"
        "{\"$blobFile\": PATH} or {\"$blobText\": TEXT} is stored as a blob of the run\n"
        "and replaced by its BlobRef, e.g.\n"
        "  --input '{\"question\":\"What was decided?\",\"threadChunks\":[{\"$blobFile\":\"chat.txt\"}]}'\n\n"
        "Exit status: 0 when the prediction succeeded, 1 when it failed (the receipt\n"
        "records why), 2 for bad usage or an input that is not JSON.",
        NULL);
    if (n < 0)
        return -n;
    if (n > 0)
        return cli_usage_error(usage, "unexpected argument");
    if (!thread || !thread[0])
        return cli_usage_error(usage, "--thread is required");
    if (!input_arg)
        return cli_usage_error(usage, "--input is required");
    if (run && strlen(run) > RUN_ID_MAX)
        return cli_usage_error(usage, "--run is longer than %d bytes", RUN_ID_MAX);

    /* Parse the input before touching the store: a typo is a usage error. */
    struct dse_err err = {0};
    char *text = NULL;
    size_t len = 0;
    if (input_arg[0] == '@') {
        text = util_read_file(input_arg + 1, INPUT_MAX_BYTES, &len);
        if (!text)
            return cli_usage_error(usage, "cannot read %s: %s", input_arg + 1, strerror(errno));
    } else {
        text = xstrdup(input_arg);
        len = strlen(text);
    }
    cJSON *input = json_parse(text, len, INPUT_MAX_BYTES, &err);
    free(text);
    if (!input)
        return cli_usage_error(usage, "--input is not valid JSON: %s", err.msg);
    cJSON *blobs = json_arr();
    if (expand_blobs(input, blobs, 0, &err) < 0) {
        cJSON_Delete(input);
        cJSON_Delete(blobs);
        return cli_report(&err);
    }

    int rc = 0;
    char *sig_id = cli_signature(ctx, sig_name, usage, &rc);
    if (!sig_id) {
        cJSON_Delete(input);
        cJSON_Delete(blobs);
        return rc;
    }
    struct store *st = cli_store(ctx);
    cJSON *sig = st ? store_signature(st, sig_id, &err) : NULL;
    if (!sig) {
        free(sig_id);
        cJSON_Delete(input);
        cJSON_Delete(blobs);
        return st ? cli_report(&err) : EXIT_REFUSED;
    }
    struct lm_client *lm = lmopts_open(&lo, st, &err);
    if (!lm) {
        cJSON_Delete(sig);
        free(sig_id);
        cJSON_Delete(input);
        cJSON_Delete(blobs);
        return cli_report(&err);
    }
    char run_id[RUN_ID_MAX + 1];
    if (run && run[0])
        snprintf(run_id, sizeof run_id, "%s", run);
    else
        util_uuid(run_id);

    struct predict_result res;
    struct predict_live_opts po = {.blobs = cJSON_GetArraySize(blobs) ? blobs : NULL};
    int live = predict_live_ex(st, lm, sig, thread, run_id, input, &po, &res, &err);

    const cJSON *lmj = json_get(res.receipt, "lm");
    if (ctx->json) {
        cJSON *o = json_obj();
        json_set_bool(o, "ok", res.ok);
        if (res.output)
            json_set_copy(o, "output", res.output);
        else
            json_set_null(o, "output");
        json_set_str(o, "receiptId", res.receipt_id);
        json_set_bool(o, "recorded", live == 0);
        json_set_str(o, "signatureId", sig_id);
        json_set_str(o, "threadId", thread);
        json_set_str(o, "runId", run_id);
        json_set_str(o, "compiled_id", res.compiled_id);
        json_set_bool(o, "canary", res.canary);
        json_set_str(o, "route", res.route);
        json_set_str(o, "strategyId", json_str(res.receipt, "strategyId", ""));
        json_set_copy(o, "lm", lmj);
        json_set_num(o, "durationMs", (double)res.duration_ms);
        if (!res.ok) {
            cJSON *e = json_obj();
            json_set_str(e, "errorName", res.error.code);
            json_set_str(e, "message", res.error.msg);
            json_set(o, "error", e);
        }
        cli_print_json(o);
        cJSON_Delete(o);
    } else {
        if (res.ok) {
            char *out = json_print_safe(res.output, 1);
            printf("%s\n", out);
            free(out);
        } else {
            fprintf(stderr, "dse: predict failed: %s: %s\n", cli_cell(res.error.code, 0),
                    cli_cell(res.error.msg, 0));
        }
        char cid[32];
        hash_short(res.compiled_id, cid, sizeof cid, 12);
        printf("receipt %s%s  %s %s  %s  %s %s  lm %d call%s%s\n", res.receipt_id,
               live == 0 ? "" : " (NOT recorded)", res.route[0] ? res.route : "policy", cid,
               cli_cell(json_str(res.receipt, "strategyId", ""), 0),
               cli_cell(json_str(lmj, "provider", ""), 0), cli_cell(json_str(lmj, "model", ""), 0),
               res.lm_calls, res.lm_calls == 1 ? "" : "s",
               res.cache_hits ? " (from cache)" : "");
    }
    int code = res.ok && live == 0 ? EXIT_OK : EXIT_REFUSED;
    predict_result_free(&res);
    lm_close(lm);
    cJSON_Delete(sig);
    free(sig_id);
    cJSON_Delete(input);
    cJSON_Delete(blobs);
    return code;
}
