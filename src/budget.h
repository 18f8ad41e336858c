/* budget: the execution limits of one predict call (reference dse-spec.md
 * §6.1 step 2).
 *
 * Limits come from params.budgets: maxTimeMs, maxLmCalls, maxToolCalls,
 * maxRlmIterations, maxSubLmCalls, maxOutputChars.  A limit that is present
 * and a finite number is floored and raised to >= 0; anything else means
 * "no limit".  Each counter is incremented *before* it is checked and the
 * check is `used > limit`, so maxLmCalls: 0 refuses the very first call and
 * maxLmCalls: 2 allows exactly two.  Time fails when elapsed > maxTimeMs;
 * every counting step checks the time too.  Elapsed time is measured with
 * util_now_ms (tests pin it with DSE_FAKE_NOW_MS).
 *
 * Failures are "BudgetExceededError" with a message naming the budget, the
 * limit and the observed value. */
#ifndef DSE_BUDGET_H
#define DSE_BUDGET_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

enum budget_kind {
    BUDGET_TIME_MS,
    BUDGET_LM_CALLS,
    BUDGET_TOOL_CALLS,
    BUDGET_RLM_ITERATIONS,
    BUDGET_SUB_LM_CALLS,
    BUDGET_OUTPUT_CHARS,
    BUDGET__COUNT
};

struct budget {
    bool has[BUDGET__COUNT];
    int64_t limit[BUDGET__COUNT];
    int64_t used[BUDGET__COUNT]; /* used[BUDGET_TIME_MS] is unused */
    int64_t started_at_ms;
};

/* The limit's name in params ("maxLmCalls") and the usage field ("lmCalls"). */
const char *budget_limit_name(enum budget_kind k);
const char *budget_usage_name(enum budget_kind k);

/* Start with params.budgets (may be NULL) at started_at_ms (wall clock). */
void budget_start(struct budget *b, const cJSON *limits, int64_t started_at_ms);
int64_t budget_elapsed_ms(const struct budget *b);
int budget_check_time(struct budget *b, struct dse_err *err);
/* Add n (floored, >= 0) to counter k, then check the time, then the limit. */
int budget_count(struct budget *b, enum budget_kind k, int64_t n, struct dse_err *err);

/* Normalised limits {maxTimeMs?, maxLmCalls?, ...}. */
cJSON *budget_limits_json(const struct budget *b);
/* {elapsedMs?, lmCalls, toolCalls, rlmIterations, subLmCalls, outputChars} */
cJSON *budget_usage_json(const struct budget *b, bool with_elapsed);
/* {limits, usage} (receipt.budget). */
cJSON *budget_snapshot_json(const struct budget *b, bool with_elapsed);

#endif
