/* jsonschema: validation of JSON values against the draft-07 subset our
 * signature catalog uses, and the reference's "decode" (unknown object keys
 * dropped, then validated).
 *
 * Supported keywords:
 *   type (a name or an array of names; "integer" = a number without a
 *   fractional part), properties, required, additionalProperties (boolean or
 *   schema), enum, const, anyOf, oneOf, items (one schema), minItems,
 *   maxItems, minLength/maxLength (UTF-8 code points), minimum, maximum,
 *   exclusiveMinimum, exclusiveMaximum (numbers, draft-07 style), $ref to
 *   "#/definitions/NAME" or "#/$defs/NAME", and the boolean schemas true/false.
 * Annotations are accepted and ignored: $schema, $id, $comment, title,
 * description, default, examples, format, readOnly, writeOnly, definitions,
 * $defs.  Any other keyword is refused (code "invalid_schema") instead of
 * being silently ignored, so a constraint never goes unchecked.
 *
 * Errors on values have code "invalid_input" and a message that starts with
 * a JSON path into the value:
 *   "$.toolName: expected one of identity_update, user_update, ... (got \"x\")"
 *   "$.blueprintHint.agentName: required property is missing"
 *   "$.threadChunks[2].size: expected number, got string"
 * For anyOf/oneOf the message is the one of the alternative that matched the
 * value furthest (most properties and items accepted before the failure);
 * alternatives failing at the same place on a const/enum or a type are
 * merged ("expected one of none, tool").  Messages pass through dse_fail,
 * which sanitises the quoted untrusted text.
 *
 * Hostile inputs: recursion is bounded by JSONSCHEMA_MAX_DEPTH (schema
 * nesting, including $ref chains) and total work by a step budget, so a
 * self-referencing or exponentially branching schema fails cleanly with
 * "invalid_schema" instead of running away.  Nothing here crashes on wrong
 * keyword types; they are schema errors. */
#ifndef DSE_JSONSCHEMA_H
#define DSE_JSONSCHEMA_H

#include <cjson/cJSON.h>

#include "err.h"

#define JSONSCHEMA_MAX_DEPTH 64

/* Check that schema uses only supported keywords with values of the right
 * types and that every $ref resolves.  The message is a schema path:
 * "#/properties/toolName/enum: must be a non-empty array". */
int jsonschema_check(const cJSON *schema, struct dse_err *err);

/* 0 if value satisfies schema, else -1 with err (see above).  Unknown keys
 * are allowed unless additionalProperties is false. */
int jsonschema_validate(const cJSON *schema, const cJSON *value, struct dse_err *err);

/* The reference's decode: a deep copy of value in which object keys that the
 * schema does not declare are dropped (an object schema with "properties"
 * keeps only those, plus extra keys when additionalProperties is true or a
 * schema; an object schema without "properties" keeps everything), then
 * validated.  For anyOf the first alternative that decodes wins; for oneOf
 * exactly one must.  Returns a new tree (caller frees) or NULL with err. */
cJSON *jsonschema_decode(const cJSON *schema, const cJSON *value, struct dse_err *err);

#endif
