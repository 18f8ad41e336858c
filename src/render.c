/* render: prompt IR -> messages (contract in render.h). */
#include "render.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobstore.h"
#include "json.h"
#include "lm.h"
#include "util.h"

static size_t chars_of(const char *s) { return s ? util_utf8_len(s, strlen(s)) : 0; }

/* Append a section: trimmed, skipped when empty, blank line between. */
static void add_section(struct sbuf *b, const char *text)
{
    if (!text)
        return;
    const char *s = text;
    size_t n = strlen(s);
    while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    if (!n)
        return;
    if (b->len)
        sbuf_adds(b, "\n\n");
    sbuf_add(b, s, n);
}

static void find_refs(const cJSON *v, int depth, int max_depth, int max_refs, cJSON *out,
                      int *dropped)
{
    if (blobref_is(v)) {
        if (cJSON_GetArraySize(out) < max_refs)
            cJSON_AddItemToArray(out, json_dup(v));
        else if (dropped)
            (*dropped)++;
        return;
    }
    if ((cJSON_IsArray(v) || cJSON_IsObject(v)) && depth < max_depth)
        for (const cJSON *c = v->child; c; c = c->next)
            find_refs(c, depth + 1, max_depth, max_refs, out, dropped);
}

cJSON *render_find_blobrefs(const cJSON *v, int max_depth, int max_refs, int *dropped)
{
    cJSON *out = json_arr();
    if (dropped)
        *dropped = 0;
    if (v)
        find_refs(v, 0, max_depth, max_refs, out, dropped);
    return out;
}

cJSON *render_context_pressure(long rendered_chars)
{
    if (rendered_chars < 0)
        rendered_chars = 0;
    double p = (double)rendered_chars / RENDER_SOFT_LIMIT_CHARS;
    if (p < 0)
        p = 0;
    if (p > 1)
        p = 1;
    cJSON *o = json_obj();
    json_set_str(o, "format", "openagents.dse.context_pressure");
    json_set_num(o, "formatVersion", 1);
    json_set_num(o, "pressure01", p);
    json_set_num(o, "renderedChars", (double)rendered_chars);
    json_set_num(o, "softLimitChars", RENDER_SOFT_LIMIT_CHARS);
    char *reason = xasprintf("rendered prompt chars / soft limit, clamped to [0,1]: %ld / %d",
                             rendered_chars, RENDER_SOFT_LIMIT_CHARS);
    json_set_str(o, "reason", reason);
    free(reason);
    return o;
}

void render_hash_messages(const struct lm_message *msgs, size_t n, char out[HASH_ID_LEN + 1])
{
    cJSON *arr = json_arr();
    for (size_t i = 0; i < n; i++) {
        cJSON *m = json_obj();
        json_set_str(m, "role", msgs[i].role);
        json_set_str(m, "content", msgs[i].content);
        cJSON_AddItemToArray(arr, m);
    }
    hash_json(arr, out);
    cJSON_Delete(arr);
}

size_t render_messages(const struct render_out *r, struct lm_message *msgs)
{
    size_t n = 0;
    if (r->system)
        msgs[n++] = (struct lm_message){.role = "system", .content = r->system};
    msgs[n++] = (struct lm_message){.role = "user", .content = r->user ? r->user : ""};
    return n;
}

void render_out_free(struct render_out *out)
{
    if (!out)
        return;
    free(out->system);
    free(out->user);
    cJSON_Delete(out->stats);
    cJSON_Delete(out->pressure);
    memset(out, 0, sizeof *out);
}

/* Counters for promptRenderStats.context. */
struct ctx_stats {
    long inline_entries, inline_chars;
    long blob_entries, blob_chars, blob_preview_chars, blobs_dropped;
    cJSON *blobs;
};

/* Inline a blob's text (cut at RENDER_BLOB_INLINE_CHARS) into b, with its
 * stats entry.  -1 with PromptRenderError when the blob is missing. */
static int inline_blob(struct blobstore *bs, const cJSON *ref, const char *label,
                       const char *sig_id, struct sbuf *b, struct ctx_stats *cs,
                       struct dse_err *err)
{
    const char *id = json_str(ref, "id", "");
    char *text = NULL;
    size_t len = 0;
    struct dse_err berr = {0};
    if (!bs || blobstore_get(bs, id, &text, &len, &berr) < 0)
        return dse_fail(err, "PromptRenderError", "%s: cannot read blob %s: %s", sig_id, id,
                        bs ? berr.msg : "no blob store");
    if (!text)
        return dse_fail(err, "PromptRenderError", "%s: missing blob %s", sig_id, id);
    size_t chars = util_utf8_len(text, len);
    bool cut = chars > RENDER_BLOB_INLINE_CHARS;
    size_t keep = cut ? util_utf8_prefix(text, len, RENDER_BLOB_INLINE_CHARS) : len;
    size_t preview_chars = cut ? RENDER_BLOB_INLINE_CHARS + chars_of(RENDER_TRUNCATED_MARK) : chars;

    sbuf_printf(b, "%s (blobId=%s", label, id);
    const char *mime = json_str(ref, "mime", NULL);
    if (mime)
        sbuf_printf(b, " mime=%s", mime);
    sbuf_printf(b, " size=%.0f):\n", json_num(ref, "size", 0));
    sbuf_add(b, text, keep);
    if (cut)
        sbuf_adds(b, RENDER_TRUNCATED_MARK);
    free(text);

    cs->blob_entries++;
    cs->blob_chars += (long)chars;
    cs->blob_preview_chars += (long)preview_chars;
    if (cJSON_GetArraySize(cs->blobs) < RENDER_BLOB_MAX_REFS) {
        cJSON *st = json_obj();
        json_set_str(st, "blobId", id);
        if (mime)
            json_set_str(st, "mime", mime);
        json_set_num(st, "declaredSize", json_num(ref, "size", 0));
        json_set_num(st, "contentChars", (double)chars);
        json_set_num(st, "previewChars", (double)preview_chars);
        json_set_bool(st, "truncated", cut);
        cJSON_AddItemToArray(cs->blobs, st);
    } else {
        cs->blobs_dropped++;
    }
    return 0;
}

static bool str_in(const cJSON *arr, const char *s)
{
    for (const cJSON *c = arr ? arr->child : NULL; c; c = c->next)
        if (cJSON_IsString(c) && strcmp(c->valuestring, s) == 0)
            return true;
    return false;
}

/* The demos to render, in order (see render.h).  Returns a new array of
 * {id, input, output} or NULL with err. */
static cJSON *select_demos(const char *sig_id, const cJSON *blocks, const cJSON *params,
                           struct dse_err *err)
{
    const cJSON *fs = json_get(params, "fewShot");
    const cJSON *ids = json_get(fs, "exampleIds");
    const cJSON *extra = json_get(fs, "demos");
    if (ids && !cJSON_IsArray(ids)) {
        dse_fail(err, "PromptRenderError", "%s: params.fewShot.exampleIds must be an array", sig_id);
        return NULL;
    }
    if (extra && !cJSON_IsArray(extra) && !cJSON_IsNull(extra)) {
        dse_fail(err, "PromptRenderError", "%s: params.fewShot.demos must be an array", sig_id);
        return NULL;
    }
    if (cJSON_IsNull(extra))
        extra = NULL;
    bool filter = cJSON_GetArraySize(ids) > 0;

    /* unknown ids */
    struct sbuf missing = {0};
    int nmissing = 0;
    for (const cJSON *id = ids ? ids->child : NULL; id; id = id->next) {
        const char *s = cJSON_IsString(id) ? id->valuestring : "";
        bool found = false;
        for (const cJSON *b = blocks ? blocks->child : NULL; b && !found; b = b->next) {
            if (strcmp(json_str(b, "_tag", ""), "FewShot") != 0)
                continue;
            const cJSON *ex = json_get(b, "examples");
            for (const cJSON *e = ex ? ex->child : NULL; e && !found; e = e->next)
                found = strcmp(json_str(e, "id", ""), s) == 0;
        }
        for (const cJSON *e = extra ? extra->child : NULL; e && !found; e = e->next)
            found = strcmp(json_str(e, "id", ""), s) == 0;
        if (!found) {
            sbuf_printf(&missing, "%s%s", nmissing ? ", " : "", s);
            nmissing++;
        }
    }
    if (nmissing) {
        dse_fail(err, "PromptRenderError", "%s: few-shot params name unknown example id%s: %s",
                 sig_id, nmissing > 1 ? "s" : "", missing.s);
        sbuf_free(&missing);
        return NULL;
    }

    cJSON *out = json_arr();
    for (const cJSON *b = blocks ? blocks->child : NULL; b; b = b->next) {
        if (strcmp(json_str(b, "_tag", ""), "FewShot") != 0)
            continue;
        const cJSON *ex = json_get(b, "examples");
        for (const cJSON *e = ex ? ex->child : NULL; e; e = e->next) {
            const char *id = json_str(e, "id", "");
            if (filter ? !str_in(ids, id) : extra != NULL)
                continue;
            cJSON_AddItemToArray(out, json_dup(e));
        }
    }
    int i = 0;
    for (const cJSON *e = extra ? extra->child : NULL; e; e = e->next, i++) {
        if (!cJSON_IsObject(e) || !json_get(e, "input") || !json_get(e, "output")) {
            dse_fail(err, "PromptRenderError", "%s: params.fewShot.demos[%d] needs input and output",
                     sig_id, i);
            cJSON_Delete(out);
            return NULL;
        }
        cJSON_AddItemToArray(out, json_dup(e));
    }
    return out;
}

static void render_tools(struct sbuf *user, const cJSON *blocks, const cJSON *params)
{
    const cJSON *tools = json_get(params, "tools");
    const cJSON *policy = NULL;
    for (const cJSON *b = blocks ? blocks->child : NULL; b; b = b->next)
        if (strcmp(json_str(b, "_tag", ""), "ToolPolicy") == 0)
            policy = json_get(b, "policy");
    if (!cJSON_IsObject(tools) && !policy)
        return;
    const cJSON *allowed = json_get(tools, "allowedToolNames");
    if (!cJSON_IsArray(allowed))
        allowed = json_get(policy, "allowedToolNames");
    const cJSON *max = json_get(tools, "maxToolCalls");
    if (!cJSON_IsNumber(max))
        max = json_get(policy, "maxToolCalls");
    struct sbuf t = {0};
    /* as the reference's joinNonEmpty(["Tools:", allowed, maxCalls]): the
     * parts are separated by a blank line */
    sbuf_adds(&t, "Tools:\n\nAllowed tools: ");
    if (cJSON_GetArraySize(allowed) > 0) {
        int i = 0;
        for (const cJSON *a = allowed->child; a; a = a->next)
            if (cJSON_IsString(a))
                sbuf_printf(&t, "%s%s", i++ ? ", " : "", a->valuestring);
    } else {
        sbuf_adds(&t, "(none declared)");
    }
    if (cJSON_IsNumber(max)) {
        char num[32];
        json_format_number(max->valuedouble, num);
        sbuf_printf(&t, "\n\nMax tool calls: %s", num);
    }
    add_section(user, t.s);
    sbuf_free(&t);
}

int render_prompt(const cJSON *signature, const cJSON *params, const cJSON *input,
                  struct blobstore *bs, enum render_blob_mode mode, struct render_out *out,
                  struct dse_err *err)
{
    memset(out, 0, sizeof *out);
    const char *sig_id = json_str(signature, "signatureId", "?");
    const cJSON *blocks = json_get(json_get(signature, "promptIr"), "blocks");
    if (blocks && !cJSON_IsArray(blocks))
        return dse_fail(err, "PromptRenderError", "%s: promptIr.blocks is not an array", sig_id);
    const cJSON *itext = json_path(params, "instruction.text");
    const char *instruction =
        cJSON_IsString(itext) && itext->valuestring[0] ? itext->valuestring : NULL;

    cJSON *demos = select_demos(sig_id, blocks, params, err);
    if (!demos)
        return -1;

    struct ctx_stats cs = {.blobs = json_arr()};
    struct sbuf sys = {0}, user = {0}, sec = {0};
    int rc = 0;

    /* system */
    for (const cJSON *b = blocks ? blocks->child : NULL; b; b = b->next)
        if (strcmp(json_str(b, "_tag", ""), "System") == 0)
            add_section(&sys, json_str(b, "text", ""));

    /* instruction */
    for (const cJSON *b = blocks ? blocks->child : NULL; b; b = b->next)
        if (strcmp(json_str(b, "_tag", ""), "Instruction") == 0)
            add_section(&sec, instruction ? instruction : json_str(b, "text", ""));
    add_section(&user, sec.s);
    sbuf_reset(&sec);

    /* context */
    for (const cJSON *b = blocks ? blocks->child : NULL; b && rc == 0; b = b->next) {
        if (strcmp(json_str(b, "_tag", ""), "Context") != 0)
            continue;
        struct sbuf c = {0};
        const cJSON *entries = json_get(b, "entries");
        for (const cJSON *e = entries ? entries->child : NULL; e && rc == 0; e = e->next) {
            sbuf_adds(&c, c.len ? "\n" : "Context:\n");
            const char *key = json_str(e, "key", "");
            const cJSON *blob = json_get(e, "blob");
            if (blob && blobref_is(blob)) {
                rc = inline_blob(bs, blob, key, sig_id, &c, &cs, err);
            } else {
                char *v = json_canonical(json_get(e, "value"));
                sbuf_printf(&c, "%s: %s", key, v);
                cs.inline_entries++;
                cs.inline_chars += (long)chars_of(v);
                free(v);
            }
        }
        add_section(&sec, c.s);
        sbuf_free(&c);
    }
    add_section(&user, sec.s);
    sbuf_reset(&sec);

    /* tools */
    if (rc == 0)
        render_tools(&user, blocks, params);

    /* output format */
    if (rc == 0) {
        char *schema = json_canonical(json_get(signature, "outputSchema"));
        /* the reference joins the header and the schema as two parts of
         * joinNonEmpty: a blank line between them */
        sbuf_printf(&sec, "%s\n\n%s", RENDER_OUTPUT_FORMAT_HEADER, schema);
        free(schema);
        add_section(&user, sec.s);
        sbuf_reset(&sec);
    }

    /* few-shot */
    long fewshot_chars = 0;
    out->demo_count = cJSON_GetArraySize(demos);
    if (rc == 0 && out->demo_count > 0) {
        sbuf_adds(&sec, RENDER_FEWSHOT_HEADER);
        for (const cJSON *d = demos->child; d; d = d->next) {
            cJSON *line = json_obj();
            json_set_copy(line, "id", json_get(d, "id"));
            json_set_copy(line, "input", json_get(d, "input"));
            json_set_copy(line, "output", json_get(d, "output"));
            char *s = json_canonical(line);
            sbuf_printf(&sec, "\n%s", s);
            free(s);
            cJSON_Delete(line);
        }
        fewshot_chars = (long)chars_of(sec.s);
        add_section(&user, sec.s);
        sbuf_reset(&sec);
    }

    /* input */
    if (rc == 0) {
        char *in = json_canonical(input);
        sbuf_printf(&sec, "%s\n%s", RENDER_INPUT_HEADER, in);
        free(in);
        add_section(&user, sec.s);
        sbuf_reset(&sec);
    }

    /* input blobs */
    if (rc == 0) {
        int dropped = 0;
        cJSON *refs = render_find_blobrefs(input, RENDER_BLOB_MAX_DEPTH, RENDER_BLOB_MAX_REFS,
                                           &dropped);
        cs.blobs_dropped += dropped;
        if (cJSON_GetArraySize(refs) > 0) {
            sbuf_adds(&sec, RENDER_BLOBS_HEADER);
            int i = 0;
            for (const cJSON *r = refs->child; r && rc == 0; r = r->next, i++) {
                sbuf_addc(&sec, '\n');
                if (mode == RENDER_BLOBS_INLINE) {
                    char label[32];
                    snprintf(label, sizeof label, "[%d]", i + 1);
                    rc = inline_blob(bs, r, label, sig_id, &sec, &cs, err);
                } else {
                    const char *id = json_str(r, "id", "");
                    sbuf_printf(&sec,
                                "[%d] blobId=%s size=%.0f bytes: not inlined; read it with "
                                "Preview, Search, Chunk or Load on target "
                                "{\"_tag\":\"Blob\",\"blobId\":\"%s\"}",
                                i + 1, id, json_num(r, "size", 0), id);
                    cs.blob_entries++;
                    if (cJSON_GetArraySize(cs.blobs) < RENDER_BLOB_MAX_REFS) {
                        cJSON *st = json_obj();
                        json_set_str(st, "blobId", id);
                        json_set_str(st, "mime", json_str(r, "mime", NULL));
                        json_set_num(st, "declaredSize", json_num(r, "size", 0));
                        json_set_num(st, "contentChars", 0);
                        json_set_num(st, "previewChars", 0);
                        json_set_bool(st, "truncated", false);
                        cJSON_AddItemToArray(cs.blobs, st);
                    } else {
                        cs.blobs_dropped++;
                    }
                }
            }
            if (rc == 0)
                add_section(&user, sec.s);
        }
        cJSON_Delete(refs);
        sbuf_reset(&sec);
    }
    sbuf_free(&sec);
    cJSON_Delete(demos);

    if (rc < 0) {
        sbuf_free(&sys);
        sbuf_free(&user);
        cJSON_Delete(cs.blobs);
        return -1;
    }

    out->system = sys.len ? sbuf_take(&sys) : (sbuf_free(&sys), NULL);
    out->user = sbuf_take(&user);
    long sys_chars = (long)chars_of(out->system), user_chars = (long)chars_of(out->user);

    cJSON *st = json_obj();
    json_set_str(st, "format", "openagents.dse.prompt_render_stats");
    json_set_num(st, "formatVersion", 1);
    json_set_num(st, "messageCount", out->system ? 2 : 1);
    json_set_num(st, "totalChars", (double)(sys_chars + user_chars));
    cJSON *by = json_obj();
    json_set_num(by, "systemChars", (double)sys_chars);
    json_set_num(by, "userChars", (double)user_chars);
    json_set(st, "byRole", by);
    cJSON *ctx = json_obj();
    json_set_num(ctx, "inlineEntryCount", (double)cs.inline_entries);
    json_set_num(ctx, "inlineValueChars", (double)cs.inline_chars);
    json_set_num(ctx, "blobEntryCount", (double)cs.blob_entries);
    json_set_num(ctx, "blobContentChars", (double)cs.blob_chars);
    json_set_num(ctx, "blobContentPreviewChars", (double)cs.blob_preview_chars);
    json_set_num(ctx, "blobsDropped", (double)cs.blobs_dropped);
    json_set(ctx, "blobs", cs.blobs);
    json_set(st, "context", ctx);
    cJSON *fs = json_obj();
    json_set_num(fs, "exampleCount", out->demo_count);
    json_set_num(fs, "totalChars", (double)fewshot_chars);
    json_set(st, "fewShot", fs);
    out->stats = st;
    out->pressure = render_context_pressure(sys_chars + user_chars);

    struct lm_message msgs[2];
    size_t n = render_messages(out, msgs);
    render_hash_messages(msgs, n, out->rendered_hash);
    return 0;
}
