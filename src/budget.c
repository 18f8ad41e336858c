/* budget: per-call limits (contract in budget.h). */
#include "budget.h"

#include <math.h>

#include "json.h"
#include "util.h"

static const char *const limit_names[BUDGET__COUNT] = {
    [BUDGET_TIME_MS] = "maxTimeMs",
    [BUDGET_LM_CALLS] = "maxLmCalls",
    [BUDGET_TOOL_CALLS] = "maxToolCalls",
    [BUDGET_RLM_ITERATIONS] = "maxRlmIterations",
    [BUDGET_SUB_LM_CALLS] = "maxSubLmCalls",
    [BUDGET_OUTPUT_CHARS] = "maxOutputChars",
};

static const char *const usage_names[BUDGET__COUNT] = {
    [BUDGET_TIME_MS] = "elapsedMs",
    [BUDGET_LM_CALLS] = "lmCalls",
    [BUDGET_TOOL_CALLS] = "toolCalls",
    [BUDGET_RLM_ITERATIONS] = "rlmIterations",
    [BUDGET_SUB_LM_CALLS] = "subLmCalls",
    [BUDGET_OUTPUT_CHARS] = "outputChars",
};

const char *budget_limit_name(enum budget_kind k)
{
    return (unsigned)k < BUDGET__COUNT ? limit_names[k] : "?";
}

const char *budget_usage_name(enum budget_kind k)
{
    return (unsigned)k < BUDGET__COUNT ? usage_names[k] : "?";
}

void budget_start(struct budget *b, const cJSON *limits, int64_t started_at_ms)
{
    for (int k = 0; k < BUDGET__COUNT; k++) {
        b->has[k] = false;
        b->limit[k] = 0;
        b->used[k] = 0;
        const cJSON *v = json_get(limits, limit_names[k]);
        if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
            double d = floor(v->valuedouble);
            if (d < 0)
                d = 0;
            if (d > 9e15)
                d = 9e15;
            b->has[k] = true;
            b->limit[k] = (int64_t)d;
        }
    }
    b->started_at_ms = started_at_ms;
}

int64_t budget_elapsed_ms(const struct budget *b)
{
    int64_t e = util_now_ms() - b->started_at_ms;
    return e < 0 ? 0 : e;
}

int budget_check_time(struct budget *b, struct dse_err *err)
{
    if (!b->has[BUDGET_TIME_MS])
        return 0;
    int64_t e = budget_elapsed_ms(b);
    if (e > b->limit[BUDGET_TIME_MS])
        return dse_fail(err, "BudgetExceededError",
                        "budget maxTimeMs exceeded: %lld ms elapsed, limit %lld ms", (long long)e,
                        (long long)b->limit[BUDGET_TIME_MS]);
    return 0;
}

int budget_count(struct budget *b, enum budget_kind k, int64_t n, struct dse_err *err)
{
    if ((unsigned)k >= BUDGET__COUNT || k == BUDGET_TIME_MS)
        return budget_check_time(b, err);
    b->used[k] += n > 0 ? n : 0;
    if (budget_check_time(b, err) < 0)
        return -1;
    if (b->has[k] && b->used[k] > b->limit[k])
        return dse_fail(err, "BudgetExceededError", "budget %s exceeded: observed %lld > limit %lld",
                        limit_names[k], (long long)b->used[k], (long long)b->limit[k]);
    return 0;
}

cJSON *budget_limits_json(const struct budget *b)
{
    cJSON *o = json_obj();
    for (int k = 0; k < BUDGET__COUNT; k++)
        if (b->has[k])
            json_set_num(o, limit_names[k], (double)b->limit[k]);
    return o;
}

cJSON *budget_usage_json(const struct budget *b, bool with_elapsed)
{
    cJSON *o = json_obj();
    if (with_elapsed)
        json_set_num(o, "elapsedMs", (double)budget_elapsed_ms(b));
    for (int k = 1; k < BUDGET__COUNT; k++)
        json_set_num(o, usage_names[k], (double)b->used[k]);
    return o;
}

cJSON *budget_snapshot_json(const struct budget *b, bool with_elapsed)
{
    cJSON *o = json_obj();
    json_set(o, "limits", budget_limits_json(b));
    json_set(o, "usage", budget_usage_json(b, with_elapsed));
    return o;
}
