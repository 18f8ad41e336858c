#include "fmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gate.h"
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

/* ---- numbers in fixed-width columns ---- */

const char *fmt_num(double v, int maxw, int decimals, char *buf, size_t cap)
{
    static const char units[] = "kMGTP";
    if (!isfinite(v)) {
        snprintf(buf, cap, "?");
        return buf;
    }
    const char *sign = v < 0 ? "-" : "";
    double a = fabs(v);
    if (decimals > 0 && a < 99.95) {
        snprintf(buf, cap, "%s%.1f", sign, a);
        if ((int)strlen(buf) <= maxw)
            return buf;
    }
    snprintf(buf, cap, "%s%.0f", sign, a);
    if ((int)strlen(buf) <= maxw)
        return buf;
    double unit = 1;
    for (const char *u = units; *u; u++) {
        unit *= 1000;
        double x = a / unit;
        if (x < 9.95) {
            snprintf(buf, cap, "%s%.1f%c", sign, x, *u);
            if ((int)strlen(buf) <= maxw)
                return buf;
        }
        if (x < 999.5) {
            snprintf(buf, cap, "%s%.0f%c", sign, x, *u);
            if ((int)strlen(buf) <= maxw)
                return buf;
        }
    }
    /* Nothing fits: the shortest form, whole (never a cut number). */
    unit = 1;
    for (const char *u = units; *u; u++) {
        unit *= 1000;
        if (a / unit < 999.5 || !u[1]) {
            snprintf(buf, cap, "%s%.0f%c", sign, a / unit, *u);
            break;
        }
    }
    return buf;
}

const char *fmt_ratio(double a, double b, int maxw, char *buf, size_t cap)
{
    char sa[32], sb[32];
    fmt_num(a, 1000, 0, sa, sizeof sa);
    fmt_num(b, 1000, 0, sb, sizeof sb);
    int lb = (int)strlen(sb);
    if ((int)strlen(sa) + 1 + lb <= maxw) {
        snprintf(buf, cap, "%s/%s", sa, sb);
        return buf;
    }
    /* The denominator whole, then shorter and shorter. */
    for (int wb = lb; wb >= 1; wb--) {
        fmt_num(b, wb, 0, sb, sizeof sb);
        int room = maxw - 1 - (int)strlen(sb);
        if (room < 1)
            continue;
        fmt_num(a, room, 0, sa, sizeof sa);
        if ((int)strlen(sa) <= room) {
            snprintf(buf, cap, "%s/%s", sa, sb);
            return buf;
        }
    }
    /* Too narrow for both: the count alone, abbreviated. */
    fmt_num(a, maxw, 0, buf, cap);
    return buf;
}

/* ---- canary judgement ---- */

enum fmt_canary fmt_canary_judge(const cJSON *canary, double control_rate, long control_n,
                                 char *text, size_t cap, double *rate, double *max)
{
    struct canary_verdict v;
    gate_canary_verdict(canary, &v);
    if (rate)
        *rate = v.error_rate;
    if (max)
        *max = v.max_error_rate;
    switch (v.state) {
    case CANARY_NONE: snprintf(text, cap, "%s", v.text); return FMT_CANARY_NONE;
    case CANARY_FAILING:
        snprintf(text, cap, "FAILING: error rate %.3f > max %.3f (n=%ld, min %ld: auto-stops on the "
                            "next counted receipt)",
                 v.error_rate, v.max_error_rate, v.total, v.min_samples);
        return FMT_CANARY_FAILING;
    case CANARY_COLLECTING:
        if (v.errors > 0 && v.error_rate > v.max_error_rate) {
            snprintf(text, cap, "FAILING: error rate %.3f > max %.3f (%ld/%ld samples, auto-stop "
                                "at %ld if it stays above)",
                     v.error_rate, v.max_error_rate, v.total, v.min_samples, v.min_samples);
            return FMT_CANARY_FAILING;
        }
        break;
    case CANARY_HEALTHY: break;
    }
    if (v.errors > 0 && control_n > 0 && v.error_rate > control_rate) {
        snprintf(text, cap, "FAILING: error rate %.3f > control %.3f (canary n=%ld, control n=%ld; "
                            "max %.3f)",
                 v.error_rate, control_rate, v.total, control_n, v.max_error_rate);
        return FMT_CANARY_FAILING;
    }
    snprintf(text, cap, "%s", v.text);
    return v.state == CANARY_HEALTHY ? FMT_CANARY_HEALTHY : FMT_CANARY_COLLECTING;
}

const cJSON *fmt_last_auto_stop(const cJSON *history)
{
    const cJSON *row;
    cJSON_ArrayForEach(row, history)
    {
        if (!strcmp(json_str(row, "action", ""), "auto_stop"))
            return row;
    }
    return NULL;
}

const char *fmt_auto_stop(const cJSON *row, char *buf, size_t cap)
{
    char t[32], id[64], max[32] = "";
    double ok = json_num(row, "okCount", 0), er = json_num(row, "errorCount", 0);
    const char *m = strstr(json_str(row, "reason", ""), "maxErrorRate=");
    double mx;
    if (m && sscanf(m + 13, "%lf", &mx) == 1 && isfinite(mx))
        snprintf(max, sizeof max, " (max %.3f)", mx);
    snprintf(buf, cap, "%s ok=%.0f err=%.0f rate=%.3f%s canary %s",
             fmt_time(json_int(row, "createdAtMs", 0), t, sizeof t), ok, er,
             ok + er > 0 ? er / (ok + er) : 0.0, max,
             fmt_id(json_str(row, "canary_compiled_id", NULL), id, sizeof id));
    return buf;
}
