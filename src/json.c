#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sanitize.h"
#include "util.h"

/* ---- bounded parse ---- */

static int prescan_fail(struct dse_err *err, const char *text, size_t at, const char *why)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at; i++) {
        if (text[i] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)text[i] & 0xc0) != 0x80) {
            col++;
        }
    }
    return dse_fail(err, "invalid_json", "line %zu col %zu: %s", line, col, why);
}

/* Validates one UTF-8 sequence at p; returns its length or 0. */
static size_t utf8_ok(const unsigned char *p, size_t n)
{
    unsigned c, min;
    size_t len;
    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xe0) == 0xc0)
        len = 2, min = 0x80, c = p[0] & 0x1f;
    else if ((p[0] & 0xf0) == 0xe0)
        len = 3, min = 0x800, c = p[0] & 0x0f;
    else if ((p[0] & 0xf8) == 0xf0)
        len = 4, min = 0x10000, c = p[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return len;
}

static int hex4(const unsigned char *p, size_t avail, unsigned *cp)
{
    if (avail < 4)
        return -1;
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char h = p[k];
        unsigned d = h >= '0' && h <= '9'   ? (unsigned)(h - '0')
                     : h >= 'a' && h <= 'f' ? (unsigned)(h - 'a' + 10)
                     : h >= 'A' && h <= 'F' ? (unsigned)(h - 'A' + 10)
                                            : 16u;
        if (d == 16)
            return -1;
        v = v << 4 | d;
    }
    *cp = v;
    return 0;
}

/* The escape at p[i] == '\\': its length, or 0 with err set.  cJSON reads
 * a bad \u escape as U+0000 (cutting the string short there), so every
 * escape is checked here.  Lone surrogates are refused: they have no UTF-8
 * form, and cJSON would reject them without saying why. */
static size_t check_escape(const char *text, size_t n, size_t i, struct dse_err *err)
{
    const unsigned char *p = (const unsigned char *)text;
    if (i + 1 >= n) {
        prescan_fail(err, text, i, "unterminated escape");
        return 0;
    }
    if (strchr("\"\\/bfnrt", p[i + 1]) && p[i + 1])
        return 2;
    if (p[i + 1] != 'u') {
        prescan_fail(err, text, i, "invalid escape (JSON has \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
        return 0;
    }
    unsigned cp, lo;
    if (hex4(p + i + 2, n - i - 2, &cp) < 0) {
        prescan_fail(err, text, i, "invalid \\u escape (needs 4 hex digits)");
        return 0;
    }
    if (cp == 0) {
        prescan_fail(err, text, i, "\\u0000 in string is not accepted");
        return 0;
    }
    if (cp >= 0xdc00 && cp <= 0xdfff) {
        prescan_fail(err, text, i, "lone low surrogate \\u escape (no high surrogate before it)");
        return 0;
    }
    if (cp < 0xd800 || cp > 0xdbff)
        return 6;
    if (i + 7 >= n || p[i + 6] != '\\' || p[i + 7] != 'u' || hex4(p + i + 8, n - i - 8, &lo) < 0 ||
        lo < 0xdc00 || lo > 0xdfff) {
        prescan_fail(err, text, i, "lone high surrogate \\u escape (no low surrogate after it)");
        return 0;
    }
    return 12;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* A number or literal starting at p[i] (outside strings): its length, or 0
 * with err set.  JSON numbers are -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?;
 * cJSON hands the text to strtod and so would take 012, 2., -.5 and 0.e1. */
static size_t check_token(const char *text, size_t n, size_t i, struct dse_err *err)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t j = i;
    if ((p[j] >= 'a' && p[j] <= 'z') || (p[j] >= 'A' && p[j] <= 'Z')) {
        while (j < n && ((p[j] >= 'a' && p[j] <= 'z') || (p[j] >= 'A' && p[j] <= 'Z') ||
                         is_digit(p[j])))
            j++;
        size_t len = j - i;
        if ((len == 4 && (memcmp(p + i, "true", 4) == 0 || memcmp(p + i, "null", 4) == 0)) ||
            (len == 5 && memcmp(p + i, "false", 5) == 0))
            return len;
        prescan_fail(err, text, i, "invalid literal (JSON has true, false and null)");
        return 0;
    }
    const char *why = NULL;
    if (p[j] == '-')
        j++;
    if (j >= n || !is_digit(p[j])) {
        why = "invalid number: a digit must follow the sign";
    } else if (p[j] == '0' && j + 1 < n && is_digit(p[j + 1])) {
        why = "invalid number: leading zero";
    } else {
        while (j < n && is_digit(p[j]))
            j++;
        if (j < n && p[j] == '.') {
            if (++j >= n || !is_digit(p[j]))
                why = "invalid number: a digit must follow the decimal point";
            while (j < n && is_digit(p[j]))
                j++;
        }
        if (!why && j < n && (p[j] == 'e' || p[j] == 'E')) {
            if (++j < n && (p[j] == '+' || p[j] == '-'))
                j++;
            if (j >= n || !is_digit(p[j]))
                why = "invalid number: a digit must follow the exponent";
            while (j < n && is_digit(p[j]))
                j++;
        }
        if (!why && j < n &&
            (is_digit(p[j]) || p[j] == '.' || p[j] == '+' || p[j] == '-' ||
             (p[j] >= 'a' && p[j] <= 'z') || (p[j] >= 'A' && p[j] <= 'Z')))
            why = "invalid number";
    }
    if (why) {
        prescan_fail(err, text, j < n ? j : n, why);
        return 0;
    }
    return j - i;
}

/* One pass over the text tracking strings and nesting, so the problems
 * cJSON would not report (or would crash on, or would accept though JSON
 * does not) are refused up front. */
static int prescan(const char *text, size_t n, struct dse_err *err)
{
    const unsigned char *p = (const unsigned char *)text;
    int depth = 0;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c == 0)
            return prescan_fail(err, text, i, "NUL byte in JSON text");
        if (c == '[' || c == '{') {
            if (++depth > JSON_MAX_DEPTH)
                return prescan_fail(err, text, i, "nesting deeper than 1000 levels");
            i++;
        } else if (c == ']' || c == '}') {
            depth--;
            i++;
        } else if (c == '"') {
            i++;
            for (;;) {
                if (i >= n)
                    return prescan_fail(err, text, i, "unterminated string");
                c = p[i];
                if (c == '"') {
                    i++;
                    break;
                }
                if (c < 0x20)
                    return prescan_fail(err, text, i, "raw control character in string");
                if (c == '\\') {
                    size_t len = check_escape(text, n, i, err);
                    if (!len)
                        return -1;
                    i += len;
                    continue;
                }
                size_t len = utf8_ok(p + i, n - i);
                if (!len)
                    return prescan_fail(err, text, i, "invalid UTF-8 in string");
                i += len;
            }
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ':') {
            i++;
        } else if (c == '-' || is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            size_t len = check_token(text, n, i, err);
            if (!len)
                return -1;
            i += len;
        } else if (c < 0x20 || c == 0x7f) {
            return prescan_fail(err, text, i,
                                "control character outside a string (JSON whitespace is only "
                                "space, tab, CR and LF)");
        } else if (c >= 0x80) {
            return prescan_fail(err, text, i, "unexpected non-ASCII byte outside a string");
        } else if (c == '+' || c == '.') {
            return prescan_fail(err, text, i, "invalid number: no leading '+' or '.'");
        } else {
            return prescan_fail(err, text, i, "unexpected character");
        }
    }
    return 0;
}

cJSON *json_parse(const char *text, size_t n, size_t max_bytes, struct dse_err *err)
{
    if (!max_bytes)
        max_bytes = JSON_MAX_DEFAULT;
    if (n > max_bytes) {
        dse_fail(err, "too_large", "JSON text of %zu bytes exceeds the limit of %zu bytes", n,
                 max_bytes);
        return NULL;
    }
    if (prescan(text, n, err) < 0)
        return NULL;
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    if (!v) {
        size_t at = end && end >= text && end <= text + n ? (size_t)(end - text) : 0;
        const char *e = cJSON_GetErrorPtr();
        if (e && e >= text && e <= text + n)
            at = (size_t)(e - text);
        prescan_fail(err, text, at, "not valid JSON");
        return NULL;
    }
    /* Allow trailing whitespace only. */
    if (end) {
        for (const char *q = end; q < text + n; q++) {
            if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r' && *q != 0) {
                cJSON_Delete(v);
                prescan_fail(err, text, (size_t)(q - text), "trailing characters after JSON value");
                return NULL;
            }
            if (*q == 0)
                break;
        }
    }
    return v;
}

cJSON *json_parse_str(const char *text, struct dse_err *err)
{
    return json_parse(text, strlen(text), 0, err);
}

/* ---- canonical serialisation ---- */

void json_format_number(double d, char out[32])
{
    if (!isfinite(d)) {
        strcpy(out, "null");
        return;
    }
    if (d == 0) {
        strcpy(out, "0");
        return;
    }
    /* Integers below 2^53 are exact: print them directly (the common case
     * in receipts: timestamps, counters, token counts). */
    if (d == floor(d) && fabs(d) < 9007199254740992.0) {
        long long v = (long long)d;
        char tmp[24];
        int n = 0;
        unsigned long long u = v < 0 ? (unsigned long long)(-v) : (unsigned long long)v;
        do {
            tmp[n++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        char *o = out;
        if (v < 0)
            *o++ = '-';
        while (n)
            *o++ = tmp[--n];
        *o = 0;
        return;
    }
    /* Shortest digit string that round-trips.  Any value whose shortest
     * form has at most 15 significant digits is printed exactly that way by
     * a 15-digit rounding (DBL_DIG), so only 15, 16 and 17 need trying.
     * Subnormals carry fewer digits and take the full search. */
    char buf[40];
    int prec;
    for (prec = fabs(d) < 2.2250738585072014e-308 ? 1 : 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    /* buf is [-]d[.ddd]e[+-]xx */
    const char *p = buf;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    char digits[24];
    int k = 0;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[k++] = *p;
    while (k > 1 && digits[k - 1] == '0')
        k--;
    digits[k] = 0;
    int e = atoi(p + 1);
    int nexp = e + 1; /* position of the decimal point relative to digits */

    char *o = out;
    if (neg)
        *o++ = '-';
    if (k <= nexp && nexp <= 21) {
        memcpy(o, digits, (size_t)k);
        o += k;
        for (int i = 0; i < nexp - k; i++)
            *o++ = '0';
    } else if (0 < nexp && nexp <= 21) {
        memcpy(o, digits, (size_t)nexp);
        o += nexp;
        *o++ = '.';
        memcpy(o, digits + nexp, (size_t)(k - nexp));
        o += k - nexp;
    } else if (-6 < nexp && nexp <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -nexp; i++)
            *o++ = '0';
        memcpy(o, digits, (size_t)k);
        o += k;
    } else {
        *o++ = digits[0];
        if (k > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)(k - 1));
            o += k - 1;
        }
        o += sprintf(o, "e%c%d", nexp - 1 >= 0 ? '+' : '-', abs(nexp - 1));
    }
    *o = 0;
}

int json_utf16_cmp(const char *a, const char *b)
{
    /* UTF-8 byte order equals code point order; UTF-16 code unit order
     * differs only between U+E000..U+FFFF (lead bytes 0xEE, 0xEF) and
     * astral characters (lead 0xF0..0xF4), whose surrogates sort lower.
     * With equal prefixes both strings are at the same position within a
     * character, so looking at the first differing byte is enough. */
    const unsigned char *pa = (const unsigned char *)a, *pb = (const unsigned char *)b;
    while (*pa && *pa == *pb) {
        pa++;
        pb++;
    }
    unsigned ca = *pa, cb = *pb;
    if (ca == cb)
        return 0;
    if (ca >= 0xee && cb >= 0xee && ((ca <= 0xef) != (cb <= 0xef)))
        return ca <= 0xef ? 1 : -1;
    return ca < cb ? -1 : 1;
}

/* Characters that are legal in JSON strings but unsafe on a terminal: DEL,
 * C1 controls and the sanitiser's format characters (sanitize.h). */
static int unsafe_cp(unsigned c)
{
    return c == 0x7f || (c >= 0x80 && c <= 0x9f) || sanitize_is_format_char(c);
}

/* Write s as a JSON string.  Canonical form (safe == 0) escapes only '"',
 * '\\' and controls below 0x20, as JSON.stringify does.  Terminal-safe form
 * also writes DEL, C1 and bidi/invisible format characters as \uXXXX, and
 * bytes that are not UTF-8 as \ufffd; the JSON meaning is unchanged. */
static void put_string(struct sbuf *b, const char *s, int safe)
{
    sbuf_addc(b, '"');
    const unsigned char *p = (const unsigned char *)s, *run = p;
    while (*p) {
        unsigned c = *p;
        size_t len = 1;
        const char *esc = NULL;
        unsigned code = 0;
        if (c < 0x20 || c == '"' || c == '\\') {
            switch (c) {
            case '"': esc = "\\\""; break;
            case '\\': esc = "\\\\"; break;
            case '\b': esc = "\\b"; break;
            case '\f': esc = "\\f"; break;
            case '\n': esc = "\\n"; break;
            case '\r': esc = "\\r"; break;
            case '\t': esc = "\\t"; break;
            default: code = c; break;
            }
        } else if (safe && c >= 0x7f) {
            len = c == 0x7f ? 1 : utf8_ok(p, strlen((const char *)p));
            if (len == 0) {
                len = 1;
                code = 0xfffd;
            } else {
                unsigned cp = len == 1   ? c
                              : len == 2 ? ((p[0] & 0x1fu) << 6) | (p[1] & 0x3fu)
                              : len == 3 ? ((p[0] & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) |
                                               (p[2] & 0x3fu)
                                         : ((p[0] & 0x07u) << 18) | ((p[1] & 0x3fu) << 12) |
                                               ((p[2] & 0x3fu) << 6) | (p[3] & 0x3fu);
                if (unsafe_cp(cp))
                    code = cp;
            }
        }
        if (esc || code) {
            sbuf_add(b, (const char *)run, (size_t)(p - run));
            if (esc)
                sbuf_adds(b, esc);
            else if (code > 0xffff) /* a surrogate pair, as JSON spells astral characters */
                sbuf_printf(b, "\\u%04x\\u%04x", 0xd800 + ((code - 0x10000) >> 10),
                            0xdc00 + ((code - 0x10000) & 0x3ff));
            else
                sbuf_printf(b, "\\u%04x", code);
            run = p + len;
        }
        p += len;
    }
    sbuf_add(b, (const char *)run, (size_t)(p - run));
    sbuf_addc(b, '"');
}

/* The text of a null, boolean, number or string (a missing or invalid
 * node prints as null); false, writing nothing, for anything else. */
static bool put_scalar(struct sbuf *b, const cJSON *v, int safe)
{
    char num[32];
    if (!v || cJSON_IsNull(v) || cJSON_IsInvalid(v)) {
        sbuf_adds(b, "null");
    } else if (cJSON_IsFalse(v)) {
        sbuf_adds(b, "false");
    } else if (cJSON_IsTrue(v)) {
        sbuf_adds(b, "true");
    } else if (cJSON_IsNumber(v)) {
        json_format_number(v->valuedouble, num);
        sbuf_adds(b, num);
    } else if (cJSON_IsString(v)) {
        put_string(b, v->valuestring ? v->valuestring : "", safe);
    } else {
        return false;
    }
    return true;
}

static void canonical_into(struct sbuf *b, const cJSON *v, int safe)
{
    if (put_scalar(b, v, safe)) {
        /* done */
    } else if (cJSON_IsRaw(v)) {
        sbuf_adds(b, v->valuestring ? v->valuestring : "null");
    } else if (cJSON_IsArray(v)) {
        sbuf_addc(b, '[');
        int first = 1;
        for (const cJSON *c = v->child; c; c = c->next) {
            if (!first)
                sbuf_addc(b, ',');
            first = 0;
            canonical_into(b, c, safe);
        }
        sbuf_addc(b, ']');
    } else if (cJSON_IsObject(v)) {
        size_t n = 0;
        for (const cJSON *c = v->child; c; c = c->next)
            n++;
        /* Most objects are small: sort on the stack. */
        const cJSON *small[32];
        const cJSON **kids = n <= 32 ? small : xmalloc(sizeof(*kids) * n);
        size_t i = 0;
        for (const cJSON *c = v->child; c; c = c->next)
            kids[i++] = c;
        /* Insertion sort keeps equal keys in document order (stable), and
         * objects are small. */
        for (size_t a = 1; a < n; a++) {
            const cJSON *cur = kids[a];
            size_t j = a;
            while (j > 0 && json_utf16_cmp(kids[j - 1]->string ? kids[j - 1]->string : "",
                                           cur->string ? cur->string : "") > 0) {
                kids[j] = kids[j - 1];
                j--;
            }
            kids[j] = cur;
        }
        sbuf_addc(b, '{');
        int first = 1;
        for (i = 0; i < n; i++) {
            /* Duplicate keys: only the last occurrence counts (JSON.parse). */
            if (i + 1 < n && json_utf16_cmp(kids[i]->string ? kids[i]->string : "",
                                            kids[i + 1]->string ? kids[i + 1]->string : "") == 0)
                continue;
            if (!first)
                sbuf_addc(b, ',');
            first = 0;
            put_string(b, kids[i]->string ? kids[i]->string : "", safe);
            sbuf_addc(b, ':');
            canonical_into(b, kids[i], safe);
        }
        sbuf_addc(b, '}');
        if (kids != small)
            free(kids);
    } else {
        sbuf_adds(b, "null");
    }
}

void json_canonical_into(struct sbuf *b, const cJSON *v) { canonical_into(b, v, 0); }
void json_canonical_safe_into(struct sbuf *b, const cJSON *v) { canonical_into(b, v, 1); }

char *json_canonical_safe(const cJSON *v)
{
    struct sbuf b = {0};
    canonical_into(&b, v, 1);
    return sbuf_take(&b);
}

char *json_canonical(const cJSON *v)
{
    struct sbuf b = {0};
    json_canonical_into(&b, v);
    return sbuf_take(&b);
}

static void indent(struct sbuf *b, int pretty, int depth)
{
    if (!pretty)
        return;
    sbuf_addc(b, '\n');
    for (int i = 0; i < depth; i++)
        sbuf_adds(b, "  ");
}

static void print_safe(struct sbuf *b, const cJSON *v, int pretty, int depth)
{
    if (put_scalar(b, v, 1)) {
        /* done */
    } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        int obj = cJSON_IsObject(v);
        sbuf_addc(b, obj ? '{' : '[');
        if (!v->child) {
            sbuf_addc(b, obj ? '}' : ']');
            return;
        }
        for (const cJSON *c = v->child; c; c = c->next) {
            indent(b, pretty, depth + 1);
            if (obj) {
                put_string(b, c->string ? c->string : "", 1);
                sbuf_adds(b, pretty ? ": " : ":");
            }
            print_safe(b, c, pretty, depth + 1);
            if (c->next)
                sbuf_addc(b, ',');
        }
        indent(b, pretty, depth);
        sbuf_addc(b, obj ? '}' : ']');
    } else {
        sbuf_adds(b, "null");
    }
}

char *json_print_safe(const cJSON *v, int pretty)
{
    struct sbuf b = {0};
    print_safe(&b, v, pretty, 0);
    return sbuf_take(&b);
}

char *json_pretty(const cJSON *v) { return json_print_safe(v, 1); }

int json_depth(const cJSON *v, int cap)
{
    if (!v || !(cJSON_IsArray(v) || cJSON_IsObject(v)))
        return 0;
    int deepest = 0;
    for (const cJSON *c = v->child; c && deepest < cap; c = c->next) {
        int d = json_depth(c, cap - 1);
        if (d > deepest)
            deepest = d;
    }
    return 1 + deepest;
}

bool json_equal(const cJSON *a, const cJSON *b)
{
    char *x = json_canonical(a), *y = json_canonical(b);
    bool eq = strcmp(x, y) == 0;
    free(x);
    free(y);
    return eq;
}

/* ---- access ---- */

const cJSON *json_get(const cJSON *obj, const char *key)
{
    if (!obj || !cJSON_IsObject(obj))
        return NULL;
    const cJSON *found = NULL;
    for (const cJSON *c = obj->child; c; c = c->next)
        if (c->string && strcmp(c->string, key) == 0)
            found = c; /* last duplicate wins, as in JSON.parse */
    return found;
}

const char *json_str(const cJSON *obj, const char *key, const char *fallback)
{
    const cJSON *v = json_get(obj, key);
    return v && cJSON_IsString(v) && v->valuestring ? v->valuestring : fallback;
}

double json_num(const cJSON *obj, const char *key, double fallback)
{
    const cJSON *v = json_get(obj, key);
    return v && cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

int64_t json_int(const cJSON *obj, const char *key, int64_t fallback)
{
    const cJSON *v = json_get(obj, key);
    if (!v || !cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return fallback;
    double d = v->valuedouble;
    if (d > 9.2e18 || d < -9.2e18)
        return fallback;
    return (int64_t)d;
}

bool json_bool(const cJSON *obj, const char *key, bool fallback)
{
    const cJSON *v = json_get(obj, key);
    return v && cJSON_IsBool(v) ? cJSON_IsTrue(v) : fallback;
}

const cJSON *json_path(const cJSON *obj, const char *dotted)
{
    char key[256];
    const char *p = dotted;
    const cJSON *cur = obj;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof key)
            return NULL;
        memcpy(key, p, n);
        key[n] = 0;
        cur = json_get(cur, key);
        p = dot ? dot + 1 : p + n;
    }
    return cur;
}

/* ---- builders ---- */

static cJSON *chk(cJSON *v)
{
    if (!v)
        die("out of memory building JSON");
    return v;
}

cJSON *json_obj(void) { return chk(cJSON_CreateObject()); }
cJSON *json_arr(void) { return chk(cJSON_CreateArray()); }

void json_set(cJSON *obj, const char *key, cJSON *val)
{
    if (!val)
        return;
    if (json_get(obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, val);
    else
        cJSON_AddItemToObject(obj, key, val);
}

void json_set_str(cJSON *obj, const char *key, const char *val)
{
    if (val)
        json_set(obj, key, chk(cJSON_CreateString(val)));
}

void json_set_num(cJSON *obj, const char *key, double val)
{
    json_set(obj, key, chk(cJSON_CreateNumber(val)));
}

void json_set_bool(cJSON *obj, const char *key, bool val)
{
    json_set(obj, key, chk(cJSON_CreateBool(val)));
}

void json_set_null(cJSON *obj, const char *key) { json_set(obj, key, chk(cJSON_CreateNull())); }

cJSON *json_dup(const cJSON *v) { return v ? chk(cJSON_Duplicate(v, 1)) : NULL; }

void json_set_copy(cJSON *obj, const char *key, const cJSON *val)
{
    if (val)
        json_set(obj, key, json_dup(val));
}
