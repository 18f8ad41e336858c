/* decode: reply text -> output (contract in decode.h). */
#include "decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jsonschema.h"
#include "util.h"

void decode_params(const cJSON *params, enum decode_mode *mode, int *max_repairs)
{
    const cJSON *d = json_get(params, "decode");
    *mode = strcmp(json_str(d, "mode", "strict_json"), "jsonish") == 0 ? DECODE_JSONISH
                                                                        : DECODE_STRICT_JSON;
    const cJSON *r = json_get(d, "maxRepairs");
    double n = cJSON_IsNumber(r) && isfinite(r->valuedouble) ? floor(r->valuedouble) : 0;
    *max_repairs = n < 0 ? 0 : n > 100 ? 100 : (int)n;
}

const char *decode_mode_name(enum decode_mode m)
{
    return m == DECODE_JSONISH ? "jsonish" : "strict_json";
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static char *trimmed_copy(const char *s, size_t n)
{
    while (n && is_ws(*s))
        s++, n--;
    while (n && is_ws(s[n - 1]))
        n--;
    return xstrndup(s, n);
}

char *decode_strip_fences(const char *text)
{
    char *t = trimmed_copy(text ? text : "", text ? strlen(text) : 0);
    if (strncmp(t, "```", 3) != 0)
        return t;
    char *nl = strchr(t, '\n');
    if (!nl)
        return t; /* a single line: nothing to strip */
    const char *body = nl + 1;
    const char *end = NULL;
    for (const char *p = strstr(body, "```"); p; p = strstr(p + 1, "```"))
        end = p;
    char *r = trimmed_copy(body, end ? (size_t)(end - body) : strlen(body));
    free(t);
    return r;
}

bool decode_find_json(const char *s, size_t n, size_t *start, size_t *len)
{
    size_t i = 0;
    while (i < n && s[i] != '{' && s[i] != '[')
        i++;
    if (i >= n)
        return false;
    char open = s[i], close = open == '{' ? '}' : ']';
    int depth = 0;
    bool in_str = false, esc = false;
    for (size_t j = i; j < n; j++) {
        char c = s[j];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if (c == open)
            depth++;
        else if (c == close && --depth == 0) {
            *start = i;
            *len = j - i + 1;
            return true;
        }
    }
    return false;
}

cJSON *decode_json(const char *raw, enum decode_mode mode, struct dse_err *err)
{
    char *s = decode_strip_fences(raw);
    size_t n = strlen(s);
    struct dse_err perr = {0};
    cJSON *v = json_parse(s, n, 0, &perr);
    if (!v && mode == DECODE_JSONISH) {
        size_t st, len;
        if (decode_find_json(s, n, &st, &len))
            v = json_parse(s + st, len, 0, &perr);
    }
    free(s);
    if (!v)
        dse_fail(err, "OutputDecodeError", "%s", DECODE_ERR_PARSE);
    return v;
}

cJSON *decode_value(const cJSON *schema, const cJSON *value, struct dse_err *err)
{
    struct dse_err serr = {0};
    cJSON *out = jsonschema_decode(schema, value, &serr);
    if (!out)
        dse_fail(err, "OutputDecodeError", "%s: %s", DECODE_ERR_SCHEMA, serr.msg);
    return out;
}

cJSON *decode_output(const cJSON *schema, const char *raw, enum decode_mode mode,
                     struct dse_err *err)
{
    cJSON *v = decode_json(raw, mode, err);
    if (!v)
        return NULL;
    cJSON *out = decode_value(schema, v, err);
    cJSON_Delete(v);
    return out;
}

char *decode_prefix(const char *s, size_t max_chars)
{
    if (!s)
        return xstrdup("");
    size_t n = strlen(s);
    return xstrndup(s, util_utf8_prefix(s, n, max_chars));
}

char *decode_repair_prompt(const cJSON *schema, const char *raw, const char *error)
{
    char *t = trimmed_copy(raw ? raw : "", raw ? strlen(raw) : 0);
    char *preview = decode_prefix(t, DECODE_REPAIR_PREVIEW_CHARS);
    char *canon = json_canonical(schema);
    char *msg = xasprintf("That reply could not be used: %s\n"
                          "Answer again with one JSON value only: no markdown fences, no "
                          "commentary, and no keys the schema does not define.\n\n"
                          "Required schema:\n%s\n\n"
                          "Your previous reply (first %d characters):\n%s",
                          error ? error : "", canon, DECODE_REPAIR_PREVIEW_CHARS, preview);
    free(t);
    free(preview);
    free(canon);
    return msg;
}
