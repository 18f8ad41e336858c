#include "fmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "json.h"
#include "util.h"

const char *fmt_id(const char *id, char *buf, size_t cap)
{
    if (!id || !*id)
        snprintf(buf, cap, "-");
    else
        hash_short(id, buf, cap, 8);
    return buf;
}

const char *fmt_hex8(const char *id, char *buf, size_t cap)
{
    if (!id || !*id)
        snprintf(buf, cap, "-");
    else {
        /* 8 characters, never half of one */
        const char *s = strncmp(id, "sha256:", 7) == 0 ? id + 7 : id;
        size_t n = util_utf8_prefix(s, strlen(s), 8);
        snprintf(buf, cap, "%.*s", (int)n, s);
    }
    return buf;
}

const char *fmt_time(int64_t ms, char *buf, size_t cap)
{
    if (ms <= 0) {
        snprintf(buf, cap, "-");
        return buf;
    }
    char t[32];
    util_short_time(ms, t);
    snprintf(buf, cap, "%s", t);
    return buf;
}

const char *fmt_mdhm(int64_t ms, char *buf, size_t cap)
{
    if (ms <= 0) {
        snprintf(buf, cap, "-");
        return buf;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, cap, "%m-%d %H:%M", &tm);
    return buf;
}

const char *fmt_clock(int64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, cap, "%H:%M:%S", &tm);
    return buf;
}

const char *fmt_age(int64_t ms, char *buf, size_t cap)
{
    if (ms <= 0) {
        snprintf(buf, cap, "-");
        return buf;
    }
    char a[16];
    util_age(util_now_ms() - ms, a);
    snprintf(buf, cap, "%s", a);
    return buf;
}

const char *fmt_json(const cJSON *v, char *buf, size_t cap)
{
    if (!v) {
        snprintf(buf, cap, "-");
        return buf;
    }
    char *c = json_canonical(v);
    size_t n = strlen(c);
    if (n >= cap)
        n = util_utf8_cut(c, n, cap - 1);
    memcpy(buf, c, n);
    buf[n] = 0;
    free(c);
    return buf;
}

const char *fmt_field(const cJSON *row, const char *key, char *buf, size_t cap)
{
    const cJSON *v = json_get(row, key);
    if (cJSON_IsString(v))
        snprintf(buf, cap, "%s", v->valuestring);
    else if (cJSON_IsNumber(v)) {
        char num[32];
        json_format_number(v->valuedouble, num);
        snprintf(buf, cap, "%s", num);
    } else if (cJSON_IsBool(v))
        snprintf(buf, cap, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (!v || cJSON_IsNull(v))
        snprintf(buf, cap, "-");
    else
        fmt_json(v, buf, cap);
    return buf;
}
