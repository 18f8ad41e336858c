/* decode: LLM reply text -> schema-valid JSON output (reference dse-spec.md
 * §6.1 "Decode modes", and the repair prompt of step 4).
 *
 *   1. strip a code fence: if the trimmed text starts with ``` the first line
 *      is dropped and the rest is cut at the last ``` (then trimmed);
 *   2. strict_json: the stripped text must parse as JSON;
 *      jsonish: if it does not, the first '{' or '[' is scanned to its
 *      matching bracket (string and escape aware) and that slice is parsed;
 *   3. schema decode (jsonschema_decode: unknown keys dropped, then
 *      validated).
 * Errors are "OutputDecodeError" with message "Failed to parse JSON output"
 * (step 1-2) or "Output did not match schema: <$.path: why>" (step 3).
 * All parsing goes through json_parse (size/depth/UTF-8 limits). */
#ifndef DSE_DECODE_H
#define DSE_DECODE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

enum decode_mode { DECODE_STRICT_JSON, DECODE_JSONISH };

#define DECODE_ERR_PARSE "Failed to parse JSON output"
#define DECODE_ERR_SCHEMA "Output did not match schema"
#define DECODE_REPAIR_RAW_CHARS 5000     /* assistant turn of a repair call */
#define DECODE_REPAIR_PREVIEW_CHARS 2000 /* preview quoted in the repair prompt */
#define DECODE_REPAIR_MAX_TOKENS 256

/* params.decode: mode "jsonish" -> DECODE_JSONISH, anything else strict;
 * maxRepairs floored, clamped to 0..100 (default 0). */
void decode_params(const cJSON *params, enum decode_mode *mode, int *max_repairs);
const char *decode_mode_name(enum decode_mode m);

/* Step 1; returns a malloc'd string. */
char *decode_strip_fences(const char *text);
/* The first JSON object/array of s[0..n): its offset and length.  False when
 * there is no '{'/'[' or it is never closed. */
bool decode_find_json(const char *s, size_t n, size_t *start, size_t *len);
/* Steps 1-2.  Returns a tree or NULL with OutputDecodeError. */
cJSON *decode_json(const char *raw, enum decode_mode mode, struct dse_err *err);
/* Step 3 on a value. */
cJSON *decode_value(const cJSON *schema, const cJSON *value, struct dse_err *err);
/* Steps 1-3. */
cJSON *decode_output(const cJSON *schema, const char *raw, enum decode_mode mode,
                     struct dse_err *err);

/* The user turn of a repair call: quotes the canonical schema, the first
 * 2000 characters of the trimmed reply and the error message.  malloc'd. */
char *decode_repair_prompt(const cJSON *schema, const char *raw, const char *error);
/* The first `max_chars` characters of s (whole UTF-8 sequences). malloc'd. */
char *decode_prefix(const char *s, size_t max_chars);

#endif
