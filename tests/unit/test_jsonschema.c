/* JSON Schema subset: validation paths and messages, decode dropping
 * unknown keys, and hostile schemas/values failing cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jsonschema.h"
#include "util.h"

static const char *SELECT_OUT =
    "{\"anyOf\":["
    "{\"type\":\"object\",\"required\":[\"action\"],\"properties\":{\"action\":{\"type\":\"string\","
    "\"enum\":[\"none\"]}},\"additionalProperties\":false},"
    "{\"type\":\"object\",\"required\":[\"action\",\"toolName\"],\"properties\":{\"action\":"
    "{\"type\":\"string\",\"enum\":[\"tool\"]},\"toolName\":{\"type\":\"string\",\"enum\":["
    "\"identity_update\",\"user_update\",\"character_update\",\"tools_update_notes\","
    "\"heartbeat_set_checklist\",\"memory_append\",\"blueprint_export\"]}},"
    "\"additionalProperties\":false}]}";

static const char *RECAP_IN =
    "{\"type\":\"object\",\"required\":[\"question\",\"threadChunks\"],\"properties\":{"
    "\"question\":{\"type\":\"string\"},"
    "\"threadChunks\":{\"type\":\"array\",\"maxItems\":3,\"items\":{\"$ref\":\"#/definitions/BlobRef\"}}},"
    "\"additionalProperties\":false,"
    "\"definitions\":{\"BlobRef\":{\"type\":\"object\",\"required\":[\"id\",\"hash\",\"size\"],"
    "\"properties\":{\"id\":{\"type\":\"string\",\"minLength\":1},\"hash\":{\"type\":\"string\"},"
    "\"size\":{\"type\":\"integer\",\"minimum\":0},\"mime\":{\"type\":\"string\"}},"
    "\"additionalProperties\":false}}}";

static cJSON *P(const char *text)
{
    struct dse_err err;
    cJSON *v = json_parse_str(text, &err);
    if (!v)
        fail_msg("bad test JSON: %s: %s", err.msg, text);
    return v;
}

/* Validate (or decode) and return the error message, "" on success. */
static char last_msg[512];
static char last_code[64];

static const char *check(const char *schema, const char *value, int decode)
{
    cJSON *s = P(schema), *v = P(value);
    struct dse_err err = {{0}, {0}};
    int rc;
    if (decode) {
        cJSON *o = jsonschema_decode(s, v, &err);
        rc = o ? 0 : -1;
        cJSON_Delete(o);
    } else {
        rc = jsonschema_validate(s, v, &err);
    }
    cJSON_Delete(s);
    cJSON_Delete(v);
    snprintf(last_msg, sizeof last_msg, "%s", rc ? err.msg : "");
    snprintf(last_code, sizeof last_code, "%s", rc ? err.code : "");
    return last_msg;
}

static char *decoded(const char *schema, const char *value)
{
    cJSON *s = P(schema), *v = P(value);
    struct dse_err err;
    cJSON *o = jsonschema_decode(s, v, &err);
    if (!o)
        fail_msg("decode failed: %s", err.msg);
    char *c = json_canonical(o);
    cJSON_Delete(o);
    cJSON_Delete(s);
    cJSON_Delete(v);
    return c;
}

static void test_types(void **state)
{
    (void)state;
    assert_string_equal(check("{\"type\":\"string\"}", "\"x\"", 0), "");
    assert_string_equal(check("{\"type\":\"string\"}", "1", 0), "$: expected string, got number");
    assert_string_equal(last_code, "invalid_input");
    assert_string_equal(check("{\"type\":\"integer\"}", "3", 0), "");
    assert_string_equal(check("{\"type\":\"integer\"}", "3.5", 0), "$: expected integer, got number");
    assert_string_equal(check("{\"type\":[\"string\",\"null\"]}", "null", 0), "");
    assert_string_equal(check("{\"type\":[\"string\",\"null\"]}", "true", 0),
                        "$: expected string or null, got boolean");
    assert_string_equal(check("{\"type\":\"object\"}", "[]", 0), "$: expected object, got array");
    assert_string_equal(check("true", "[1]", 0), "");
    assert_string_equal(check("false", "1", 0), "$: no value is allowed here");
}

static void test_objects(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"object\",\"required\":[\"message\",\"blueprintHint\"],\"properties\":{"
                    "\"message\":{\"type\":\"string\"},\"blueprintHint\":{\"type\":\"object\","
                    "\"required\":[\"userHandle\",\"agentName\"],\"properties\":{\"userHandle\":"
                    "{\"type\":\"string\"},\"agentName\":{\"type\":\"string\"}},"
                    "\"additionalProperties\":false}},\"additionalProperties\":false}";
    assert_string_equal(check(s, "{\"message\":\"hi\",\"blueprintHint\":{\"userHandle\":\"a\",\"agentName\":\"b\"}}", 0), "");
    assert_string_equal(check(s, "{\"message\":\"hi\",\"blueprintHint\":{\"userHandle\":\"a\"}}", 0),
                        "$.blueprintHint.agentName: required property is missing");
    assert_string_equal(check(s, "{\"message\":\"hi\",\"blueprintHint\":{\"userHandle\":\"a\",\"agentName\":7}}", 0),
                        "$.blueprintHint.agentName: expected string, got number");
    assert_string_equal(check(s, "{\"message\":\"hi\",\"blueprintHint\":{\"userHandle\":\"a\",\"agentName\":\"b\"},\"x y\":1}", 0),
                        "$[\"x y\"]: unknown property (additionalProperties is false)");
    /* decode drops the unknown keys instead, at every level */
    assert_string_equal(check(s, "{\"message\":\"hi\",\"blueprintHint\":{\"userHandle\":\"a\",\"agentName\":\"b\",\"z\":1},\"x\":1}", 1), "");
    char *c = decoded(s, "{\"extra\":[1,2],\"message\":\"hi\",\"blueprintHint\":{\"userHandle\":\"a\",\"agentName\":\"b\",\"z\":1}}");
    assert_string_equal(c, "{\"blueprintHint\":{\"agentName\":\"b\",\"userHandle\":\"a\"},\"message\":\"hi\"}");
    free(c);
    /* Without additionalProperties:false, validate allows extras and decode
     * still drops them (the reference's struct decoding). */
    const char *open = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"}}}";
    assert_string_equal(check(open, "{\"a\":1,\"b\":2}", 0), "");
    c = decoded(open, "{\"a\":1,\"b\":2}");
    assert_string_equal(c, "{\"a\":1}");
    free(c);
    /* An object schema without properties keeps everything; a schema for
     * additional properties keeps and checks them. */
    c = decoded("{\"type\":\"object\"}", "{\"a\":{\"b\":1}}");
    assert_string_equal(c, "{\"a\":{\"b\":1}}");
    free(c);
    const char *rec = "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":{\"type\":\"number\"}}";
    c = decoded(rec, "{\"x\":1,\"y\":2}");
    assert_string_equal(c, "{\"x\":1,\"y\":2}");
    free(c);
    assert_string_equal(check(rec, "{\"x\":1,\"y\":\"2\"}", 1), "$.y: expected number, got string");
}

static void test_select_tool_output(void **state)
{
    (void)state;
    assert_string_equal(check(SELECT_OUT, "{\"action\":\"none\"}", 0), "");
    assert_string_equal(check(SELECT_OUT, "{\"action\":\"tool\",\"toolName\":\"user_update\"}", 0), "");
    assert_string_equal(check(SELECT_OUT, "{\"action\":\"tool\",\"toolName\":\"bogus\"}", 0),
                        "$.toolName: expected one of identity_update, user_update, character_update, "
                        "tools_update_notes, heartbeat_set_checklist, memory_append, blueprint_export "
                        "(got \"bogus\")");
    assert_string_equal(check(SELECT_OUT, "{\"action\":\"bogus\"}", 0),
                        "$.action: expected one of none, tool (got \"bogus\")");
    assert_string_equal(check(SELECT_OUT, "{\"action\":\"tool\"}", 0),
                        "$.toolName: required property is missing");
    assert_string_equal(check(SELECT_OUT, "[]", 0), "$: expected object, got array");
    /* decode: {action:"none", toolName:...} matches the first alternative
     * once the unknown key is dropped */
    char *c = decoded(SELECT_OUT, "{\"action\":\"none\",\"toolName\":\"user_update\",\"why\":\"x\"}");
    assert_string_equal(c, "{\"action\":\"none\"}");
    free(c);
    c = decoded(SELECT_OUT, "{\"toolName\":\"memory_append\",\"action\":\"tool\",\"confidence\":0.9}");
    assert_string_equal(c, "{\"action\":\"tool\",\"toolName\":\"memory_append\"}");
    free(c);
    /* validate (no dropping) refuses the extra key with the best branch's path */
    assert_string_equal(check(SELECT_OUT, "{\"action\":\"none\",\"why\":1}", 0),
                        "$.why: unknown property (additionalProperties is false)");
}

static void test_arrays_strings_numbers_refs(void **state)
{
    (void)state;
    const char *ok = "{\"question\":\"q\",\"threadChunks\":[{\"id\":\"sha256:1\",\"hash\":\"sha256:1\",\"size\":10}]}";
    assert_string_equal(check(RECAP_IN, ok, 0), "");
    assert_string_equal(check(RECAP_IN, "{\"question\":\"q\",\"threadChunks\":[{\"id\":\"a\",\"hash\":\"a\",\"size\":1},{\"id\":\"\",\"hash\":\"a\",\"size\":1}]}", 0),
                        "$.threadChunks[1].id: expected at least 1 characters, got 0");
    assert_string_equal(check(RECAP_IN, "{\"question\":\"q\",\"threadChunks\":[{\"id\":\"a\",\"hash\":\"a\",\"size\":-1}]}", 0),
                        "$.threadChunks[0].size: expected a number >= 0, got -1");
    assert_string_equal(check(RECAP_IN, "{\"question\":\"q\",\"threadChunks\":[{\"id\":\"a\",\"hash\":\"a\",\"size\":1.5}]}", 0),
                        "$.threadChunks[0].size: expected integer, got number");
    assert_string_equal(check(RECAP_IN, "{\"question\":\"q\",\"threadChunks\":[1,2,3,4]}", 0),
                        "$.threadChunks: expected at most 3 items, got 4");
    char *c = decoded(RECAP_IN, "{\"question\":\"q\",\"threadChunks\":[{\"id\":\"a\",\"hash\":\"a\",\"size\":1,\"text\":\"dropped\"}]}");
    assert_string_equal(c, "{\"question\":\"q\",\"threadChunks\":[{\"hash\":\"a\",\"id\":\"a\",\"size\":1}]}");
    free(c);
    /* maxLength counts code points, not bytes: "é" x 3 is 3 characters */
    assert_string_equal(check("{\"type\":\"string\",\"maxLength\":3}", "\"\xc3\xa9\xc3\xa9\xc3\xa9\"", 0), "");
    assert_string_equal(check("{\"type\":\"string\",\"maxLength\":2}", "\"\xc3\xa9\xc3\xa9\xc3\xa9\"", 0),
                        "$: expected at most 2 characters, got 3");
    assert_string_equal(check("{\"type\":\"number\",\"minimum\":0,\"maximum\":1}", "1.5", 0),
                        "$: expected a number <= 1, got 1.5");
    assert_string_equal(check("{\"const\":\"none\"}", "\"x\"", 0), "$: expected none (got \"x\")");
    assert_string_equal(check("{\"enum\":[1,\"a b\",null]}", "2", 0),
                        "$: expected one of 1, \"a b\", null (got 2)");
    assert_string_equal(check("{\"oneOf\":[{\"type\":\"number\"},{\"type\":\"integer\"}]}", "1", 0),
                        "$: matches 2 of the oneOf alternatives (exactly one allowed)");
    assert_string_equal(check("{\"oneOf\":[{\"type\":\"number\"},{\"type\":\"string\"}]}", "1", 0), "");
}

static void test_messages_are_sanitised(void **state)
{
    (void)state;
    /* an ESC and a bidi override in an untrusted value never reach the message raw */
    check("{\"enum\":[\"a\"]}", "\"\\u001b[31mred\\u202e\"", 0);
    assert_null(strchr(last_msg, 0x1b));
    assert_null(strstr(last_msg, "\xe2\x80\xae"));
    assert_non_null(strstr(last_msg, "expected a (got"));
    /* a hostile key in the path */
    check("{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}", "{\"\\u001b]0;x\\u0007\":1}", 0);
    assert_null(strchr(last_msg, 0x1b));
    assert_null(strchr(last_msg, 0x07));
}

static void test_hostile_schemas(void **state)
{
    (void)state;
    /* self-referencing $ref: bounded, a schema error */
    check("{\"$ref\":\"#/definitions/a\",\"definitions\":{\"a\":{\"$ref\":\"#/definitions/a\"}}}", "1", 0);
    assert_string_equal(last_code, "invalid_schema");
    /* a schema error says where in the value it showed */
    assert_string_equal(check("{\"properties\":{\"a\":{\"items\":{\"type\":\"strung\"}}}}", "{\"a\":[1]}", 0),
                        "unknown type \"strung\" (at value path $.a[0])");
    assert_string_equal(last_code, "invalid_schema");
    /* unresolvable and external refs */
    check("{\"$ref\":\"http://example.com/x\"}", "1", 0);
    assert_string_equal(last_code, "invalid_schema");
    check("{\"$ref\":\"#/definitions/nope\"}", "1", 0);
    assert_string_equal(last_code, "invalid_schema");
    /* wrong keyword types */
    const char *bad[] = {
        "{\"type\":7}", "{\"type\":[]}", "{\"type\":\"strung\"}", "{\"properties\":[]}",
        "{\"required\":\"x\"}", "{\"required\":[1]}", "{\"enum\":{}}", "{\"enum\":[]}",
        "{\"anyOf\":{}}", "{\"anyOf\":[]}", "{\"minLength\":\"3\"}", "{\"maximum\":\"1\"}",
        "{\"pattern\":\"^a\"}", "{\"items\":[{}]}", "{\"additionalProperties\":3}", "7", "\"x\"",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        cJSON *s = P(bad[i]);
        struct dse_err err;
        assert_int_equal(jsonschema_check(s, &err), -1);
        assert_string_equal(err.code, "invalid_schema");
        cJSON_Delete(s);
    }
    /* validating with those never crashes: every one is an error or a pass */
    const char *vals[] = {"1", "\"abc\"", "{\"x\":[1]}", "[1,{}]", "null"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        for (size_t j = 0; j < ARRAY_LEN(vals); j++)
            check(bad[i], vals[j], (int)(j & 1));
    /* exponential anyOf nesting through a ref: stops on the step budget or depth */
    check("{\"definitions\":{\"a\":{\"anyOf\":[{\"$ref\":\"#/definitions/a\"},{\"$ref\":\"#/definitions/a\"},{\"$ref\":\"#/definitions/a\"}]}},"
          "\"$ref\":\"#/definitions/a\"}", "1", 0);
    assert_string_equal(last_code, "invalid_schema");
    /* the catalog-style schema checks clean */
    cJSON *s = P(SELECT_OUT);
    struct dse_err err;
    assert_int_equal(jsonschema_check(s, &err), 0);
    cJSON_Delete(s);
    s = P(RECAP_IN);
    assert_int_equal(jsonschema_check(s, &err), 0);
    cJSON_Delete(s);
    /* check names the schema path */
    s = P("{\"properties\":{\"a\":{\"type\":\"object\",\"properties\":{\"b\":{\"enum\":[]}}}}}");
    assert_int_equal(jsonschema_check(s, &err), -1);
    assert_string_equal(err.msg, "#/properties/a/properties/b: enum must be a non-empty array");
    cJSON_Delete(s);
}

static void test_deep_values(void **state)
{
    (void)state;
    /* a value nested 900 levels deep against a recursive schema stops at
     * the depth limit instead of recursing 900 times */
    struct sbuf b = {0};
    for (int i = 0; i < 900; i++)
        sbuf_adds(&b, "{\"a\":");
    sbuf_adds(&b, "1");
    for (int i = 0; i < 900; i++)
        sbuf_addc(&b, '}');
    check("{\"definitions\":{\"n\":{\"type\":[\"object\",\"number\"],\"properties\":{\"a\":{\"$ref\":\"#/definitions/n\"}}}},\"$ref\":\"#/definitions/n\"}",
          b.s, 1);
    assert_string_equal(last_code, "invalid_schema");
    /* a plain schema never descends, whatever the value depth */
    assert_string_equal(check("{\"type\":\"object\"}", b.s, 1), "");
    sbuf_free(&b);
    /* a long array against items: fine */
    struct sbuf a = {0};
    sbuf_addc(&a, '[');
    for (int i = 0; i < 20000; i++)
        sbuf_adds(&a, i ? ",1" : "1");
    sbuf_addc(&a, ']');
    assert_string_equal(check("{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}", a.s, 1), "");
    sbuf_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_objects),
        cmocka_unit_test(test_select_tool_output),
        cmocka_unit_test(test_arrays_strings_numbers_refs),
        cmocka_unit_test(test_messages_are_sanitised),
        cmocka_unit_test(test_hostile_schemas),
        cmocka_unit_test(test_deep_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
