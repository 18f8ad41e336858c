/* render: a signature's prompt IR + params + input -> chat messages
 * (reference dse-spec.md §6.1 "Prompt rendering"), with the render
 * statistics and context pressure that go into the receipt.
 *
 * Messages:
 *   system  the System blocks' texts, each trimmed, joined by a blank line
 *           (omitted when empty)
 *   user    these sections, each trimmed, empty ones dropped, joined by a
 *           blank line:
 *             instruction     Instruction blocks (params.instruction.text, when
 *                             set, replaces the text of every one)
 *             "Context:"      key: canonical value (Context blocks, if any)
 *             "Tools:"        tool policy, when params.tools or a ToolPolicy
 *                             block is present: "Tools:", "Allowed tools: a, b"
 *                             (or "(none declared)") and "Max tool calls: N"
 *                             when set, separated by blank lines (reference
 *                             runtime/render.ts)
 *             RENDER_OUTPUT_FORMAT_HEADER + blank line + canonical JSON Schema
 *                             of the signature's output (always present)
 *             RENDER_FEWSHOT_HEADER + one canonical JSON line {id,input,output}
 *                             per demo (see below)
 *             RENDER_INPUT_HEADER + newline + the canonical input (one line)
 *             RENDER_BLOBS_HEADER + one entry per BlobRef found in the input
 *
 * Few-shot demos, in this order:
 *   1. the authored FewShot blocks' examples, in authored order, filtered by
 *      params.fewShot.exampleIds when that is a non-empty array;
 *   2. params.fewShot.demos ([{id, input, output}], our extension: demos drawn
 *      from a dataset's train split).  When `demos` is present, authored
 *      examples are rendered only if exampleIds names them, so an artifact
 *      that carries its own demos gets exactly those.
 *   An id in exampleIds that is neither authored nor in `demos` fails with
 *   PromptRenderError naming the ids.  params.fewShot.k is informational.
 *
 * Input blobs: BlobRefs ({id, hash, size, mime?}) are searched in the input
 * to depth 12, at most 200 are taken (the rest count as blobsDropped).
 *   RENDER_BLOBS_INLINE       each blob's text is loaded from the blob store
 *                             and inlined, cut at 20,000 characters followed
 *                             by "…[truncated]"; a missing blob fails with
 *                             PromptRenderError
 *   RENDER_BLOBS_PLACEHOLDER  (rlm_lite) one line per blob naming its id and
 *                             size and pointing at the RLM actions; no text
 *
 * "Characters" are Unicode code points everywhere in dse (the reference
 * counts UTF-16 units; the two differ only outside the BMP). */
#ifndef DSE_RENDER_H
#define DSE_RENDER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "hash.h"

struct blobstore;
struct lm_message;

#define RENDER_OUTPUT_FORMAT_HEADER "Output format: JSON only. Match this schema:"
#define RENDER_FEWSHOT_HEADER "Few-shot examples:"
#define RENDER_INPUT_HEADER "Input:"
#define RENDER_BLOBS_HEADER "Input blobs:"
#define RENDER_TRUNCATED_MARK "\xE2\x80\xA6[truncated]" /* "…[truncated]" */

#define RENDER_BLOB_MAX_DEPTH 12
#define RENDER_BLOB_MAX_REFS 200
#define RENDER_BLOB_INLINE_CHARS 20000
#define RENDER_SOFT_LIMIT_CHARS 80000

enum render_blob_mode { RENDER_BLOBS_INLINE, RENDER_BLOBS_PLACEHOLDER };

struct render_out {
    char *system;     /* NULL when there is no System text */
    char *user;
    cJSON *stats;     /* promptRenderStats (owned) */
    cJSON *pressure;  /* contextPressure (owned) */
    char rendered_hash[HASH_ID_LEN + 1]; /* sha256 of canonical [{role, content}] */
    int demo_count;
};

/* Render.  `bs` is needed only for INLINE mode with blobs in the input (and
 * for Context blob entries); it may be NULL otherwise.  Returns 0, or -1 with
 * err code "PromptRenderError".  *out is zeroed first; free with
 * render_out_free (also after a failure). */
int render_prompt(const cJSON *signature, const cJSON *params, const cJSON *input,
                  struct blobstore *bs, enum render_blob_mode mode, struct render_out *out,
                  struct dse_err *err);
void render_out_free(struct render_out *out);

/* The rendered messages as an lm_message array (pointers into *r); returns
 * the count (1 or 2).  msgs must have room for 2. */
size_t render_messages(const struct render_out *r, struct lm_message *msgs);

/* sha256 of the canonical JSON of [{role, content}, ...]: renderedPromptHash
 * and the RLM trace's promptHash. */
void render_hash_messages(const struct lm_message *msgs, size_t n, char out[HASH_ID_LEN + 1]);

/* BlobRefs in v, depth-first in document order, to depth max_depth, at most
 * max_refs (*dropped counts the rest; may be NULL).  Returns a new array of
 * copies. */
cJSON *render_find_blobrefs(const cJSON *v, int max_depth, int max_refs, int *dropped);

/* contextPressure for a rendered size. */
cJSON *render_context_pressure(long rendered_chars);

#endif
