/* ui/rules.c: rollback target exactly as reference §4 (toggle, clear rows,
 * no history), canary verdicts at the auto-stop boundary, label values
 * from catalog / schema / frequency, the $EDITOR header round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "rules.c"

static cJSON *parse(const char *s)
{
    struct dse_err err;
    cJSON *v = json_parse_str(s, &err);
    if (!v)
        fail_msg("bad test JSON: %s", err.msg);
    return v;
}

/* History rows newest first, as listActiveHistory returns them. */
static cJSON *hist(const char *rows) { return parse(rows); }

static void test_rollback_toggles(void **state)
{
    (void)state;
    struct rollback_plan p;
    /* set c1, set c2 -> rollback goes to c1 */
    cJSON *h = hist("[{\"action\":\"set\",\"fromCompiledId\":\"c1\",\"toCompiledId\":\"c2\",\"createdAtMs\":2000,\"actorUserId\":\"ops@a\"},"
                    " {\"action\":\"set\",\"fromCompiledId\":null,\"toCompiledId\":\"c1\",\"createdAtMs\":1000,\"actorUserId\":\"ops@b\"}]");
    rules_rollback_plan("c2", h, &p);
    assert_string_equal(p.from, "c2");
    assert_string_equal(p.to, "c1");
    assert_true(p.found && p.changes);
    assert_int_equal(p.set_at_ms, 1000);
    assert_string_equal(p.set_by, "ops@b");
    cJSON_Delete(h);
    /* ... after that rollback, a second one goes back to c2 (toggle) */
    h = hist("[{\"action\":\"rollback\",\"fromCompiledId\":\"c2\",\"toCompiledId\":\"c1\",\"createdAtMs\":3000},"
             " {\"action\":\"set\",\"toCompiledId\":\"c2\",\"createdAtMs\":2000},"
             " {\"action\":\"set\",\"toCompiledId\":\"c1\",\"createdAtMs\":1000}]");
    rules_rollback_plan("c1", h, &p);
    assert_string_equal(p.to, "c2");
    assert_string_equal(p.set_action, "set");
    cJSON_Delete(h);
}

static void test_rollback_clear_rows(void **state)
{
    (void)state;
    struct rollback_plan p;
    /* after a clear (current null) the clear rows are skipped */
    cJSON *h = hist("[{\"action\":\"clear\",\"fromCompiledId\":\"c2\",\"toCompiledId\":null,\"createdAtMs\":3},"
                    " {\"action\":\"set\",\"toCompiledId\":\"c2\",\"createdAtMs\":2}]");
    rules_rollback_plan(NULL, h, &p);
    assert_string_equal(p.from, "");
    assert_string_equal(p.to, "c2");
    cJSON_Delete(h);
    /* set c2, clear, set c3: the clear row differs first -> pointer cleared */
    h = hist("[{\"action\":\"set\",\"toCompiledId\":\"c3\",\"createdAtMs\":3},"
             " {\"action\":\"clear\",\"createdAtMs\":2},"
             " {\"action\":\"set\",\"toCompiledId\":\"c2\",\"createdAtMs\":1}]");
    rules_rollback_plan("c3", h, &p);
    assert_true(p.found);
    assert_string_equal(p.to, "");
    assert_true(p.changes);
    char buf[256];
    rules_rollback_text("SelectTool.v1", &p, true, buf, sizeof buf);
    assert_non_null(strstr(buf, "rollback SelectTool.v1: c3 -> (cleared) (cleared "));
    cJSON_Delete(h);
    /* no history: a pointer is cleared; nothing changes without one */
    h = hist("[]");
    rules_rollback_plan("c1", h, &p);
    assert_false(p.found);
    assert_string_equal(p.to, "");
    assert_true(p.changes);
    rules_rollback_plan(NULL, h, &p);
    assert_false(p.changes);
    cJSON_Delete(h);
}

static void test_rollback_window_and_text(void **state)
{
    (void)state;
    /* only the 50 newest rows count */
    cJSON *h = json_arr();
    for (int i = 0; i < 50; i++) {
        cJSON *r = json_obj();
        json_set_str(r, "action", "set");
        json_set_str(r, "toCompiledId", "cur");
        cJSON_AddItemToArray(h, r);
    }
    cJSON *old = json_obj();
    json_set_str(old, "toCompiledId", "ancient");
    cJSON_AddItemToArray(h, old);
    struct rollback_plan p;
    rules_rollback_plan("cur", h, &p);
    assert_false(p.found);
    assert_string_equal(p.to, "");
    cJSON_Delete(h);

    setenv("TZ", "UTC", 1);
    h = hist("[{\"action\":\"set\",\"toCompiledId\":\"sha256:9f8e0000000000000000000000000000000000000000000000000000000000ff\",\"createdAtMs\":1795821000000,\"actorUserId\":\"ops@\\u001b]0;x\\u0007\"},"
             " {\"action\":\"set\",\"toCompiledId\":\"sha256:1a2b0000000000000000000000000000000000000000000000000000000000aa\",\"createdAtMs\":1795800000000,\"actorUserId\":\"night@box\"}]");
    rules_rollback_plan("sha256:9f8e0000000000000000000000000000000000000000000000000000000000ff", h, &p);
    char buf[256];
    rules_rollback_text("SelectTool.v1", &p, false, buf, sizeof buf);
    assert_string_equal(buf, "rollback SelectTool.v1: sha256:9f8e0000\xe2\x80\xa6 -> sha256:1a2b0000\xe2\x80\xa6 "
                             "(set 2026-11-27 17:20 by night@box)");
    cJSON_Delete(h);
}

static void test_eta(void **state)
{
    (void)state;
    char eta[16];
    rules_eta(10, 0, eta, sizeof eta);
    assert_string_equal(eta, "?");
    rules_eta(10, 2, eta, sizeof eta);
    assert_string_equal(eta, "~5m");
    rules_eta(0, 2, eta, sizeof eta);
    assert_string_equal(eta, "now");
}

static const char *select_tool_schema =
    "{\"oneOf\":[{\"type\":\"object\",\"properties\":{\"action\":{\"const\":\"none\"}},\"required\":[\"action\"]},"
    "{\"type\":\"object\",\"properties\":{\"action\":{\"const\":\"tool\"},\"toolName\":{\"$ref\":\"#/definitions/tool\"}},"
    "\"required\":[\"action\",\"toolName\"]}],"
    "\"definitions\":{\"tool\":{\"type\":\"string\",\"enum\":[\"identity_update\",\"user_update\",\"character_update\"]}}}";

static void test_label_values(void **state)
{
    (void)state;
    cJSON *schema = parse(select_tool_schema);
    cJSON *v = rules_schema_values(schema, 16);
    assert_non_null(v);
    assert_int_equal(cJSON_GetArraySize(v), 4);
    char *c = json_canonical(cJSON_GetArrayItem(v, 0));
    assert_string_equal(c, "{\"action\":\"none\"}");
    free(c);
    c = json_canonical(cJSON_GetArrayItem(v, 3));
    assert_string_equal(c, "{\"action\":\"tool\",\"toolName\":\"character_update\"}");
    free(c);
    cJSON_Delete(v);
    /* over the limit -> not enumerable */
    assert_null(rules_schema_values(schema, 3));
    /* free-text output is not enumerable */
    cJSON *free_text = parse("{\"type\":\"object\",\"properties\":{\"summary\":{\"type\":\"string\"}},\"required\":[\"summary\"]}");
    assert_null(rules_schema_values(free_text, 9));
    cJSON *bools = parse("{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}},\"required\":[\"ok\"]}");
    v = rules_schema_values(bools, 9);
    assert_int_equal(cJSON_GetArraySize(v), 2);
    cJSON_Delete(v);

    /* signature: labelValues win over the schema */
    cJSON *sig = json_obj();
    json_set(sig, "outputSchema", json_dup(schema));
    const char *src = NULL;
    v = rules_label_values(sig, 9, &src);
    assert_string_equal(src, "schema");
    assert_int_equal(cJSON_GetArraySize(v), 4);
    cJSON_Delete(v);
    json_set(sig, "labelValues", parse("[{\"action\":\"none\"},{\"action\":\"tool\",\"toolName\":\"memory_append\"}]"));
    v = rules_label_values(sig, 9, &src);
    assert_string_equal(src, "catalog");
    assert_int_equal(cJSON_GetArraySize(v), 2);
    cJSON_Delete(v);
    cJSON_Delete(sig);
    sig = json_obj();
    json_set(sig, "outputSchema", json_dup(free_text));
    assert_null(rules_label_values(sig, 9, &src));
    cJSON_Delete(sig);

    /* dataset frequency fallback */
    cJSON *vals = parse("[{\"s\":\"b\"},{\"s\":\"a\"},{\"s\":\"a\"},{\"s\":\"c\"},{\"s\":\"b\"},{\"s\":\"a\"}]");
    v = rules_top_values(vals, 2);
    assert_int_equal(cJSON_GetArraySize(v), 2);
    c = json_canonical(v);
    assert_string_equal(c, "[{\"s\":\"a\"},{\"s\":\"b\"}]");
    free(c);
    cJSON_Delete(v);
    cJSON_Delete(vals);
    cJSON_Delete(schema);
    cJSON_Delete(free_text);
    cJSON_Delete(bools);
}

static void test_edit_round_trip(void **state)
{
    (void)state;
    char *f = rules_edit_compose("expected output of ex1", "line 1 col 3: bad\x1b[2J", "{\"a\":\n  1}\n");
    assert_non_null(strstr(f, "# dse: ERROR: line 1 col 3: bad^[[2J\n"));
    char *s = rules_edit_strip(f);
    assert_string_equal(s, "{\"a\":\n  1}\n");
    free(s);
    free(f);
    s = rules_edit_strip("# dse: x\n# dse: y\n\n  \n");
    assert_true(rules_edit_empty(s));
    free(s);
    assert_false(rules_edit_empty("{}"));
    assert_string_equal(rules_next_split("train"), "holdout");
    assert_string_equal(rules_next_split("holdout"), "train");
    assert_string_equal(rules_next_split(NULL), "train");
    cJSON *rows = parse("[{\"exampleId\":\"h1\",\"inputJson\":{\"b\":2,\"a\":1}}]");
    cJSON *in = parse("{\"a\":1,\"b\":2}");
    assert_string_equal(rules_input_match(in, rows), "h1");
    cJSON_Delete(in);
    in = parse("{\"a\":2}");
    assert_null(rules_input_match(in, rows));
    cJSON_Delete(in);
    cJSON_Delete(rows);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rollback_toggles),  cmocka_unit_test(test_rollback_clear_rows),
        cmocka_unit_test(test_rollback_window_and_text), cmocka_unit_test(test_eta),
        cmocka_unit_test(test_label_values),      cmocka_unit_test(test_edit_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
