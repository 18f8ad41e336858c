#include "reward.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "predict.h"
#include "util.h"

static const struct reward_bundle bundles[] = {
    {.id = REWARD_EXACT_JSON_MATCH, .version = 1, .needs_judge = 0},
    {.id = REWARD_THREAD_SUMMARY_JUDGE, .version = 1, .needs_judge = 1},
};

const struct reward_bundle *reward_find(const char *reward_id)
{
    if (!reward_id)
        return NULL;
    for (size_t i = 0; i < ARRAY_LEN(bundles); i++)
        if (strcmp(bundles[i].id, reward_id) == 0)
            return &bundles[i];
    return NULL;
}

static double clamp01(double x)
{
    if (!isfinite(x) || x < 0)
        return 0;
    return x > 1 ? 1 : x;
}

double reward_combine(const double *scores, const double *weights, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += clamp01(scores[i]) * weights[i];
        den += weights[i];
    }
    return den > 0 ? clamp01(num / den) : 0;
}

double reward_predict_cost(double duration_ms, double lm_calls, double tool_calls)
{
    double t = duration_ms > 0 ? fmin(1.0, 800.0 / duration_ms) : 1.0;
    double l = lm_calls > 0 ? fmin(1.0, 2.0 / lm_calls) : 1.0;
    double c = tool_calls > 0 ? fmin(1.0, 1.0 / (tool_calls + 1.0)) : 1.0;
    return t * l * c;
}

/* One signal under construction. */
struct sig {
    const char *id;
    double weight;
    double score;
    char *notes;   /* owned, may be NULL */
    cJSON *metric; /* owned, may be NULL */
};

static void sig_note(struct sig *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sig_note(struct sig *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(s->notes);
    s->notes = xvasprintf(fmt, ap);
    va_end(ap);
}

static void signal_format(const struct reward_input *in, struct sig *s)
{
    s->id = "format_validity.v1";
    s->weight = 0.2;
    const struct predict_result *p = in->pred;
    s->score = (p && p->ok && p->output) ? 1 : 0;
    if (s->score == 0)
        sig_note(s, "no decoded prediction%s%s", p && p->error.code[0] ? ": " : "",
                 p ? p->error.code : "");
}

static void signal_exact(const struct reward_input *in, struct sig *s)
{
    s->id = "exact_json_match.signal.v1";
    s->weight = 0.8;
    s->score = 0;
    const struct predict_result *p = in->pred;
    if (!p || !p->ok || !p->output) {
        sig_note(s, "no prediction");
        return;
    }
    if (!in->expected) {
        sig_note(s, "example has no expected output");
        return;
    }
    char *a = json_canonical(p->output), *b = json_canonical(in->expected);
    int eq = strcmp(a, b) == 0;
    free(a);
    free(b);
    s->score = eq ? 1 : 0;
    if (!eq)
        sig_note(s, "mismatch");
    s->metric = json_obj();
    json_set_str(s->metric, "metricId", "exact_json_match.v1");
    json_set_num(s->metric, "metricVersion", 1);
    json_set_num(s->metric, "score", s->score);
}

static const char *str_field(const cJSON *o, const char *key)
{
    const cJSON *v = json_get(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void signal_judge(const struct reward_input *in, struct sig *s, int *judge_calls)
{
    s->id = "thread_summary_judge.v1";
    s->weight = 0.8;
    s->score = 0;
    const struct predict_result *p = in->pred;
    if (!p || !p->ok || !p->output) {
        sig_note(s, "no prediction");
        return;
    }
    const struct reward_judge *j = in->judge;
    if (!j || !j->signature || !j->params || !j->lm) {
        sig_note(s, "judge unavailable: %s is not in the catalog", REWARD_JUDGE_SIGNATURE_ID);
        return;
    }
    const char *pred = str_field(p->output, "summary");
    const char *want = str_field(in->expected, "summary");
    if (!pred || !want) {
        sig_note(s, "judge input: %s",
                 !pred ? "prediction has no summary" : "expected has no summary");
        return;
    }
    const char *question = str_field(in->input, "question");
    cJSON *jin = json_obj();
    json_set_str(jin, "question", question ? question : "");
    json_set_str(jin, "predSummary", pred);
    json_set_str(jin, "expectedSummary", want);
    struct predict_result jr = {0};
    predict_run(j->signature, j->compiled_id, j->params, jin, j->lm, NULL, &jr);
    cJSON_Delete(jin);
    if (judge_calls)
        *judge_calls += jr.lm_calls;
    if (!jr.ok || !jr.output) {
        sig_note(s, "judge failed: %s: %s", jr.error.code[0] ? jr.error.code : "PredictError",
                 jr.error.msg);
    } else {
        const cJSON *sc = json_get(jr.output, "score");
        if (!cJSON_IsNumber(sc)) {
            sig_note(s, "judge output has no numeric score");
        } else {
            s->score = clamp01(sc->valuedouble);
            const char *notes = str_field(jr.output, "notes");
            if (notes && *notes)
                sig_note(s, "%s", notes);
        }
        s->metric = json_obj();
        json_set_str(s->metric, "metricId", "thread_summary_judge.v1");
        json_set_num(s->metric, "metricVersion", 1);
        json_set_str(s->metric, "judgeSignatureId", REWARD_JUDGE_SIGNATURE_ID);
        json_set_str(s->metric, "judgeCompiledId", j->compiled_id);
        json_set_num(s->metric, "score", s->score);
    }
    predict_result_free(&jr);
}

static void signal_cost(const struct reward_input *in, struct sig *s)
{
    s->id = "predict_cost.v1";
    s->weight = 0.05;
    s->score = 0;
    const struct predict_result *p = in->pred;
    const cJSON *receipt = p ? p->receipt : NULL;
    if (!receipt) {
        sig_note(s, "no receipt");
        return;
    }
    const cJSON *usage = json_path(receipt, "budget.usage");
    double dur = json_num(json_get(receipt, "timing"), "durationMs",
                          p ? (double)p->duration_ms : 0);
    double lm = json_num(usage, "lmCalls", p ? p->lm_calls : 0);
    double tools = json_num(usage, "toolCalls", 0);
    s->score = reward_predict_cost(dur, lm, tools);
    s->metric = json_obj();
    json_set_str(s->metric, "metricId", "predict_cost.v1");
    json_set_num(s->metric, "durationMs", dur);
    json_set_num(s->metric, "lmCalls", lm);
    json_set_num(s->metric, "toolCalls", tools);
}

double reward_score(const struct reward_bundle *b, const struct reward_input *in, cJSON **signals,
                    int *judge_calls)
{
    struct sig sigs[3];
    memset(sigs, 0, sizeof sigs);
    size_t n = 0;
    if (judge_calls)
        *judge_calls = 0;
    if (b && strcmp(b->id, REWARD_THREAD_SUMMARY_JUDGE) == 0) {
        signal_format(in, &sigs[n++]);
        signal_judge(in, &sigs[n++], judge_calls);
        signal_cost(in, &sigs[n++]);
    } else {
        signal_format(in, &sigs[n++]);
        signal_exact(in, &sigs[n++]);
    }
    double scores[3], weights[3];
    for (size_t i = 0; i < n; i++) {
        scores[i] = sigs[i].score;
        weights[i] = sigs[i].weight;
    }
    double r = reward_combine(scores, weights, n);
    cJSON *arr = signals ? json_arr() : NULL;
    for (size_t i = 0; i < n; i++) {
        if (arr) {
            cJSON *o = json_obj();
            json_set_str(o, "signalId", sigs[i].id);
            json_set_num(o, "weight", sigs[i].weight);
            json_set_num(o, "score", sigs[i].score);
            if (sigs[i].notes)
                json_set_str(o, "notes", sigs[i].notes);
            if (sigs[i].metric) {
                json_set(o, "metric", sigs[i].metric);
                sigs[i].metric = NULL;
            }
            cJSON_AddItemToArray(arr, o);
        }
        free(sigs[i].notes);
        cJSON_Delete(sigs[i].metric);
    }
    if (signals)
        *signals = arr;
    return r;
}
