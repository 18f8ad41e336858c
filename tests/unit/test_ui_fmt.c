/* ui/fmt.c: numbers in fixed-width columns are abbreviated, never cut
 * (the signatures pane's R/M and CANARY columns, the canary history's
 * OK/ERR), and the canary judgement shown on screen: FAILING as soon as
 * the error rate is above the maximum (before minSamples too) or above the
 * control's; the last auto-stop line from canary history.
 * The module is pure, so the test includes its source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.c"

static cJSON *parse(const char *s)
{
    struct dse_err err;
    cJSON *v = json_parse_str(s, &err);
    if (!v)
        fail_msg("bad test JSON: %s", err.msg);
    return v;
}

/* The signatures pane's columns: R/M 4 wide (one decimal), CANARY 7. */
#define RM_W 4
#define CANARY_W 7

static void test_num_fits(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(fmt_num(8.0, RM_W, 1, b, sizeof b), "8.0");
    assert_string_equal(fmt_num(12.34, RM_W, 1, b, sizeof b), "12.3");
    assert_string_equal(fmt_num(120.2, RM_W, 1, b, sizeof b), "120");
    assert_string_equal(fmt_num(1234, RM_W, 1, b, sizeof b), "1234");
    assert_string_equal(fmt_num(12345, RM_W, 1, b, sizeof b), "12k");
    assert_string_equal(fmt_num(1234567, RM_W, 1, b, sizeof b), "1.2M");
    assert_string_equal(fmt_num(3.4e9, RM_W, 1, b, sizeof b), "3.4G");
    assert_string_equal(fmt_num(999999, RM_W, 0, b, sizeof b), "1.0M");
    assert_string_equal(fmt_num(1234567, 7, 0, b, sizeof b), "1234567");
    assert_string_equal(fmt_num(1234567, 3, 0, b, sizeof b), "1M");
    /* every value from 0 to 1e15 fits 4 columns */
    for (double v = 0; v < 1e15; v = v * 1.37 + 1) {
        fmt_num(v, RM_W, 1, b, sizeof b);
        if (strlen(b) > RM_W)
            fail_msg("%.0f -> \"%s\" is wider than %d", v, b, RM_W);
    }
}

static void test_ratio_fits(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(fmt_ratio(11, 200, CANARY_W, b, sizeof b), "11/200");
    assert_string_equal(fmt_ratio(1234, 20, CANARY_W, b, sizeof b), "1234/20");
    assert_string_equal(fmt_ratio(12345, 20, CANARY_W, b, sizeof b), "12k/20");
    assert_string_equal(fmt_ratio(1234567, 20, CANARY_W, b, sizeof b), "1.2M/20");
    assert_string_equal(fmt_ratio(1200, 10000, CANARY_W, b, sizeof b), "1k/10k");
    assert_string_equal(fmt_ratio(1234567, 10000, CANARY_W, b, sizeof b), "1M/10k");
    assert_string_equal(fmt_ratio(1234567, 89, 10, b, sizeof b), "1234567/89");
    for (double a = 0; a < 1e13; a = a * 1.9 + 1)
        for (double m = 1; m <= 10000; m *= 7) {
            fmt_ratio(a, m, CANARY_W, b, sizeof b);
            if (strlen(b) > CANARY_W)
                fail_msg("%.0f/%.0f -> \"%s\" is wider than %d", a, m, b, CANARY_W);
        }
}

static enum fmt_canary judge(const char *row, double crate, long cn, char *text)
{
    cJSON *r = parse(row);
    enum fmt_canary s = fmt_canary_judge(r, crate, cn, text, 200, NULL, NULL);
    cJSON_Delete(r);
    return s;
}

static void test_judge(void **state)
{
    (void)state;
    char t[200];
    assert_int_equal(fmt_canary_judge(NULL, 0, 0, t, sizeof t, NULL, NULL), FMT_CANARY_NONE);
    /* collecting with an error rate above the maximum is failing already */
    assert_int_equal(judge("{\"okCount\":2,\"errorCount\":2,\"minSamples\":20,\"maxErrorRate\":0.2}",
                           0, 0, t),
                     FMT_CANARY_FAILING);
    assert_non_null(strstr(t, "FAILING: error rate 0.500 > max 0.200"));
    /* at or below the maximum, no control measured: collecting / healthy */
    assert_int_equal(judge("{\"okCount\":4,\"errorCount\":1,\"minSamples\":20,\"maxErrorRate\":0.2}",
                           0, 0, t),
                     FMT_CANARY_COLLECTING);
    assert_int_equal(judge("{\"okCount\":19,\"errorCount\":1,\"minSamples\":20,\"maxErrorRate\":0.2}",
                           0, 0, t),
                     FMT_CANARY_HEALTHY);
    /* above the control's error rate */
    assert_int_equal(judge("{\"okCount\":19,\"errorCount\":1,\"minSamples\":20,\"maxErrorRate\":0.2}",
                           0.01, 100, t),
                     FMT_CANARY_FAILING);
    assert_non_null(strstr(t, "FAILING: error rate 0.050 > control 0.010"));
    /* no errors is never failing, whatever the control */
    assert_int_equal(judge("{\"okCount\":20,\"errorCount\":0,\"minSamples\":20}", 0, 100, t),
                     FMT_CANARY_HEALTHY);
    /* the engine's failing state (settings changed under a counted row) */
    assert_int_equal(judge("{\"okCount\":10,\"errorCount\":10,\"minSamples\":20,\"maxErrorRate\":0.2}",
                           0, 0, t),
                     FMT_CANARY_FAILING);
}

static void test_auto_stop(void **state)
{
    (void)state;
    cJSON *h = parse("[{\"action\":\"start\",\"createdAtMs\":3},"
                     "{\"action\":\"auto_stop\",\"createdAtMs\":1764855060000,\"okCount\":3,"
                     "\"errorCount\":7,\"canary_compiled_id\":\"sha256:09d58657320a2655\","
                     "\"reason\":\"error_rate_exceeded errorRate=0.700 maxErrorRate=0.200 "
                     "minSamples=10\"},{\"action\":\"auto_stop\",\"createdAtMs\":1}]");
    const cJSON *a = fmt_last_auto_stop(h);
    assert_non_null(a);
    assert_int_equal(json_int(a, "okCount", 0), 3);
    char b[200];
    fmt_auto_stop(a, b, sizeof b);
    assert_non_null(strstr(b, " ok=3 err=7 rate=0.700 (max 0.200) canary sha256:09d58657"));
    cJSON_Delete(h);
    h = parse("[{\"action\":\"start\"},{\"action\":\"stop\"}]");
    assert_null(fmt_last_auto_stop(h));
    cJSON_Delete(h);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_num_fits),
        cmocka_unit_test(test_ratio_fits),
        cmocka_unit_test(test_judge),
        cmocka_unit_test(test_auto_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
