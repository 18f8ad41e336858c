/* json: bounded parsing, canonical serialisation, and small cJSON helpers.
 *
 * Every JSON text that comes from outside the process (files, the network,
 * the store, LLM replies) is parsed with json_parse(), which checks before
 * cJSON ever sees the text:
 *   - the size (caller's limit),
 *   - nesting depth <= JSON_MAX_DEPTH (1000 parses, 1001 is refused),
 *   - strings: valid UTF-8, no raw control characters, no \u0000 (cJSON
 *     would silently truncate the string there), escapes only \" \\ \/ \b
 *     \f \n \r \t and \uXXXX with 4 hex digits (cJSON reads a bad \u escape
 *     as U+0000 and cuts the string), no lone surrogate \uD800-\uDFFF,
 *   - numbers: strict JSON grammar -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)? (cJSON
 *     would take 012, 2., -.5, 0.e1); literals only true, false, null,
 *   - whitespace: only space, tab, LF, CR (cJSON skips every byte <= 0x20,
 *     form feed and vertical tab included),
 * and reports the line and column of the first problem. */
#ifndef DSE_JSON_H
#define DSE_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define JSON_MAX_DEPTH 1000
/* Stored values nest at most this many levels: store_call refuses a
 * mutation whose argument is deeper (invalid_input naming the argument).
 * Replies wrap a stored value in a few levels of envelope (e.g.
 * {status, value:{ok, examples:[{inputJson: v}]}} adds 4); the margin up
 * to JSON_MAX_DEPTH keeps every reply parseable, also over --remote. */
#define JSON_MAX_VALUE_DEPTH 900
#define JSON_MAX_DEFAULT (16u << 20) /* 16 MiB */

/* Parse n bytes (need not be NUL-terminated).  max_bytes 0 = JSON_MAX_DEFAULT.
 * Returns a tree the caller frees with cJSON_Delete, or NULL with err set
 * (code "invalid_json", message "line L col C: why"). */
cJSON *json_parse(const char *text, size_t n, size_t max_bytes, struct dse_err *err);
cJSON *json_parse_str(const char *text, struct dse_err *err);

/* Canonical JSON per the reference: object keys sorted by UTF-16 code units
 * (the last of duplicate keys wins), no whitespace, ECMAScript shortest
 * number form (NaN/Infinity -> null), strings escape only '"', '\\' and
 * controls below 0x20.  Returns malloc'd text. */
char *json_canonical(const cJSON *v);
/* Append the canonical form to an existing buffer. */
struct sbuf;
void json_canonical_into(struct sbuf *b, const cJSON *v);
/* Canonical key order and layout, terminal-safe strings: DEL, C1 controls,
 * bidi/invisible format characters (and non-UTF-8 bytes) are written as
 * \uXXXX.  Parses back to the same value, so the hash of the parsed value
 * is unchanged; use it for text that leaves the process (HTTP bodies,
 * exports).  Not for hashing (the hash is over json_canonical). */
char *json_canonical_safe(const cJSON *v);
void json_canonical_safe_into(struct sbuf *b, const cJSON *v);
/* ECMAScript Number.prototype.toString for a finite double. */
void json_format_number(double d, char out[32]);
/* Compare two strings by UTF-16 code units (JS default sort order). */
int json_utf16_cmp(const char *a, const char *b);

/* Print for people and pipes: keys in document order, 2-space indent when
 * pretty, and terminal-safe: besides the usual escapes, DEL, C1 controls and
 * bidi/invisible format characters are written as \uXXXX, so the text has
 * the same JSON meaning but cannot drive a terminal.  malloc'd. */
char *json_print_safe(const cJSON *v, int pretty);
/* json_print_safe(v, 1). */
char *json_pretty(const cJSON *v);

/* Nesting depth of v as json_parse counts it: a scalar 0, [] 1,
 * {"a":[1]} 2.  Stops descending past cap, so the result is exact up to
 * cap and cap + 1 for anything deeper (the recursion is bounded by cap). */
int json_depth(const cJSON *v, int cap);

/* Deep equality by canonical form. */
bool json_equal(const cJSON *a, const cJSON *b);

/* Field access; each returns the fallback when the key is missing or of
 * another type. */
const char *json_str(const cJSON *obj, const char *key, const char *fallback);
double json_num(const cJSON *obj, const char *key, double fallback);
int64_t json_int(const cJSON *obj, const char *key, int64_t fallback);
bool json_bool(const cJSON *obj, const char *key, bool fallback);
const cJSON *json_get(const cJSON *obj, const char *key); /* case-sensitive */
/* Path like "a.b.c" through objects only. */
const cJSON *json_path(const cJSON *obj, const char *dotted);

/* Builders that never return NULL (die on OOM). */
cJSON *json_obj(void);
cJSON *json_arr(void);
void json_set_str(cJSON *obj, const char *key, const char *val); /* NULL -> omit */
void json_set_num(cJSON *obj, const char *key, double val);
void json_set_bool(cJSON *obj, const char *key, bool val);
void json_set_null(cJSON *obj, const char *key);
void json_set(cJSON *obj, const char *key, cJSON *val);   /* takes ownership; replaces */
void json_set_copy(cJSON *obj, const char *key, const cJSON *val); /* deep copy; NULL -> omit */
cJSON *json_dup(const cJSON *v); /* deep copy; NULL -> NULL */

#endif
