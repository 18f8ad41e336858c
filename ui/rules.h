/* rules: decisions the console computes itself, kept pure (no curses, no
 * store) so they are unit-tested (tests/unit/test_ui_rules.c):
 *
 *   - the rollback target, found exactly as the store will find it
 *     (reference dse-spec.md §4, Convex rules), for the confirmation line;
 *   - the time to the canary's sample minimum at a measured rate (the
 *     verdict itself is gate_canary_verdict in src/gate.h);
 *   - the values keys 1-9 assign while labeling: catalog labelValues, else
 *     the values enumerable from the output JSON Schema, else the dataset's
 *     most frequent expected values;
 *   - the $EDITOR round trip: an error header on top of the file that is
 *     stripped again before parsing. */
#ifndef DSE_UI_RULES_H
#define DSE_UI_RULES_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* ---- rollback (reference §4) ---- */
struct rollback_plan {
    char from[128];       /* current pointer ("" = none) */
    char to[128];         /* target ("" = the pointer is cleared) */
    bool found;           /* a history row supplied the target */
    bool changes;         /* from != to */
    int64_t set_at_ms;    /* createdAtMs of the row that supplied the target */
    char set_action[16];  /* its action (set / rollback / clear) */
    char set_by[128];     /* its actorUserId ("" = unknown) */
};
/* current: the pointer's compiled_id or NULL; history: the rows of
 * listActiveHistory (newest first).  Only the 50 newest rows count, as in
 * the store. */
void rules_rollback_plan(const char *current, const cJSON *history, struct rollback_plan *out);
/* "rollback SelectTool.v1: sha256:1a2b… -> sha256:9f8e… (set 2026-11-27
 * 23:10 by ops@box)" into buf (clean text; ids and actor are sanitised). */
void rules_rollback_text(const char *sig_label, const struct rollback_plan *p, bool ascii,
                         char *buf, size_t cap);

/* ---- canary ---- */
/* Minutes until min samples at rate_per_min counted receipts per minute:
 * "~4m", "~2h", "now", "?" (rate unknown or zero). */
void rules_eta(long remaining, double rate_per_min, char *buf, size_t cap);

/* ---- label values ---- */
/* Values of a JSON Schema when it is a finite set (enum, const, boolean,
 * oneOf/anyOf of such, objects whose required properties are all finite —
 * the cartesian product), up to max; local $ref ("#/definitions/X",
 * "#/$defs/X") are followed.  NULL when not enumerable.  Caller frees. */
cJSON *rules_schema_values(const cJSON *schema, int max);
/* The most frequent values of an array (by canonical JSON), most frequent
 * first, ties by first appearance; at most max.  Caller frees. */
cJSON *rules_top_values(const cJSON *values, int max);
/* labelValues from the signature, else rules_schema_values of its
 * outputSchema; NULL when neither gives anything (the caller then falls back
 * to rules_top_values over the dataset).  *source names where they came
 * from ("catalog", "schema").  Caller frees. */
cJSON *rules_label_values(const cJSON *signature, int max, const char **source);

/* ---- editing JSON in $EDITOR ---- */
/* File text: header lines (each starting with "# dse:"), including the
 * error when not NULL, then the body.  malloc'd. */
char *rules_edit_compose(const char *what, const char *error, const char *body);
/* Drop the leading lines that start with '#' (JSON text never does).
 * malloc'd. */
char *rules_edit_strip(const char *text);
/* 1 when the stripped text is only whitespace (the user cancelled). */
bool rules_edit_empty(const char *stripped);

/* ---- leakage guard ---- */
/* exampleId of the first row in examples (array of example rows) whose
 * inputJson equals input (canonical JSON), or NULL. */
const char *rules_input_match(const cJSON *input, const cJSON *examples);
/* Next split when cycling: train -> holdout -> train (anything else ->
 * train). */
const char *rules_next_split(const char *split);

#endif
