/* lm_knn: the built-in "local-knn" model.  Offline, deterministic, and a
 * pure function of the request messages (model, temperature and the other
 * knobs are ignored), so it is cacheable and reproducible.  It is a baseline
 * and a test double, and is named as such everywhere ("local-knn").
 *
 * What it answers, checked in this order:
 *
 *   1. rlm_lite controller: some user message starts with RLM_STATE_PREFIX.
 *      A fixed policy, driven only by the transcript:
 *        - one input blob: Chunk it into var "chunks_<tag>": the system
 *          prompt's chunkChars= when given, but never smaller than what lets
 *          the chunks the sub-call budget can read cover the whole text;
 *          several blobs: WriteVar them as that list;
 *        - Search the first blob for the longest content word of the
 *          question (when iterations allow);
 *        - ExtractOverChunks over the chunks with the question and its
 *          content words ("Keywords:") into "lines_<tag>", as many chunks as
 *          the LM and sub-LM budgets leave room for;
 *        - Preview the "lines_<tag>" var (the BlobRefs of the replies), then
 *          Preview each non-empty reply until 1,200 characters are gathered;
 *        - Final {<key>: matched lines, at most 1,200 characters}, where
 *          <key> is "summary" when the output schema has it, else its first
 *          string property.  No matches: the search snippets; none either:
 *          a sentence saying nothing matched.
 *      It always leaves itself an iteration for Final.  <tag> is 8 hex
 *      digits of the input's hash, so runs sharing a var space (same thread
 *      and run) do not read each other's vars.
 *   2. Extraction helper: a user message containing RLM_CHUNK_MARKER.  The
 *      reply is the chunk's lines that contain a keyword (the instruction's
 *      "Keywords:" line, else its "Question:" line, else all its content
 *      words), one per line, or "" when none do.
 *   3. Judge: the first user message with an "Input:" section whose input has
 *      string predSummary and expectedSummary (ThreadSummaryQuality).  Reply
 *      {"score": token F1 of predSummary against expectedSummary}, F1 over
 *      lowercase word multisets, rounded to 4 decimals (1 when both are
 *      empty, 0 when one is).
 *   4. Nearest demo (direct.v1 and its repairs): the demos are the
 *      canonical JSON lines under "Few-shot examples:" and the query is the
 *      line under "Input:" of the first user message that has one (repairs
 *      resend the original messages, so they get the same answer).  The
 *      reply is the canonical JSON of the output of the demo whose input is
 *      most similar: TF-IDF cosine over lowercase word tokens of all string
 *      values, idf = ln((1+N)/(1+df)) + 1; ties go to the earlier demo.
 *      Instructions do not change the answer; the demos do.  No demos (or no
 *      input): "{}", which honestly fails a schema with required fields.
 *
 * Words: maximal runs of ASCII letters/digits and non-ASCII bytes, ASCII
 * lowercased.  Content words: words of 3+ characters not in a small English
 * stopword list.
 *
 * Usage: token counts are estimates, characters/4 rounded up (prompt =
 * all message contents, completion = the reply); the model is reported as
 * "local-knn". */
#include "lm.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobstore.h"
#include "hash.h"
#include "json.h"
#include "render.h"
#include "rlm.h"
#include "util.h"

#define KNN_SUMMARY_MAX 1200
#define KNN_EXTRACT_MAX 4000
#define KNN_PREVIEW_LEN 4000
#define KNN_MAX_KEYWORDS 8

/* ---- words ---- */

struct words {
    char **v;
    size_t n, cap;
};

static void words_add(struct words *w, const char *s, size_t n)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 16;
        w->v = xrealloc(w->v, w->cap * sizeof *w->v);
    }
    char *t = xstrndup(s, n);
    for (char *p = t; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    w->v[w->n++] = t;
}

static void words_free(struct words *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i]);
    free(w->v);
    memset(w, 0, sizeof *w);
}

static bool is_word_byte(unsigned char c) { return isalnum(c) || c >= 0x80; }

static void words_of(const char *s, size_t n, struct words *w)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && !is_word_byte((unsigned char)s[i]))
            i++;
        size_t st = i;
        while (i < n && is_word_byte((unsigned char)s[i]))
            i++;
        if (i > st)
            words_add(w, s + st, i - st);
    }
}

/* Every string value of v (not keys), in document order. */
static void words_of_json(const cJSON *v, struct words *w)
{
    if (cJSON_IsString(v) && v->valuestring)
        words_of(v->valuestring, strlen(v->valuestring), w);
    else if (cJSON_IsArray(v) || cJSON_IsObject(v))
        for (const cJSON *c = v->child; c; c = c->next)
            words_of_json(c, w);
}

static const char *const stopwords[] = {
    "about", "after", "all", "also", "and", "any", "are", "been", "but", "can", "could",
    "did", "does", "doing", "for", "from", "had", "has", "have", "her", "here", "him",
    "his", "how", "into", "its", "just", "like", "may", "more", "most", "not", "now",
    "off", "once", "only", "other", "our", "out", "over", "own", "please", "same", "she",
    "should", "some", "such", "than", "that", "the", "their", "them", "then", "there",
    "these", "they", "this", "those", "through", "too", "under", "until", "very", "was",
    "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will",
    "with", "would", "you", "your", "yours", "give", "tell", "summarize", "summarise",
    "summary", "thread", "recap", "say", "said", "get", "got", "let", "make",
};

static bool is_content_word(const char *w)
{
    if (strlen(w) < 3)
        return false;
    for (size_t i = 0; i < ARRAY_LEN(stopwords); i++)
        if (strcmp(stopwords[i], w) == 0)
            return false;
    return true;
}

/* Content words of a text, deduplicated, in order of first appearance. */
static void keywords_of(const char *s, size_t n, size_t max, struct words *out)
{
    struct words all = {0};
    words_of(s, n, &all);
    for (size_t i = 0; i < all.n && out->n < max; i++) {
        if (!is_content_word(all.v[i]))
            continue;
        bool dup = false;
        for (size_t j = 0; j < out->n && !dup; j++)
            dup = strcmp(out->v[j], all.v[i]) == 0;
        if (!dup)
            words_add(out, all.v[i], strlen(all.v[i]));
    }
    words_free(&all);
}

/* A word matches a keyword when equal, or when the shorter (4+ chars) is a
 * prefix of the other ("deploy" ~ "deployment"). */
static bool word_matches(const char *w, const char *kw)
{
    if (strcmp(w, kw) == 0)
        return true;
    size_t a = strlen(w), b = strlen(kw);
    if (a >= 4 && b > a && strncmp(w, kw, a) == 0)
        return true;
    if (b >= 4 && a > b && strncmp(w, kw, b) == 0)
        return true;
    return false;
}

static bool line_matches(const char *s, size_t n, const struct words *kw)
{
    struct words lw = {0};
    words_of(s, n, &lw);
    bool hit = false;
    for (size_t i = 0; i < lw.n && !hit; i++)
        for (size_t j = 0; j < kw->n && !hit; j++)
            hit = word_matches(lw.v[i], kw->v[j]);
    words_free(&lw);
    return hit;
}

/* ---- term vectors ---- */

struct tf {
    const char **tok; /* unique, sorted (borrowed from a struct words) */
    double *cnt;
    size_t n;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void tf_build(struct words *w, struct tf *out)
{
    qsort(w->v, w->n, sizeof *w->v, cmp_str);
    out->tok = xcalloc(w->n + 1, sizeof *out->tok);
    out->cnt = xcalloc(w->n + 1, sizeof *out->cnt);
    out->n = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (out->n && strcmp(out->tok[out->n - 1], w->v[i]) == 0) {
            out->cnt[out->n - 1] += 1;
        } else {
            out->tok[out->n] = w->v[i];
            out->cnt[out->n++] = 1;
        }
    }
}

static void tf_free(struct tf *t)
{
    free(t->tok);
    free(t->cnt);
    memset(t, 0, sizeof *t);
}

struct df {
    const char **tok;
    int *df;
    size_t n;
};

static double idf_of(const struct df *d, size_t ndocs, const char *tok)
{
    size_t lo = 0, hi = d->n;
    int df = 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(d->tok[mid], tok);
        if (c == 0) {
            df = d->df[mid];
            break;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return log((1.0 + (double)ndocs) / (1.0 + df)) + 1.0;
}

/* ---- message parsing ---- */

struct line {
    const char *s;
    size_t n;
};

struct lines {
    struct line *v;
    size_t n;
};

static void lines_split(const char *s, struct lines *out)
{
    size_t cap = 16;
    out->v = xmalloc(cap * sizeof *out->v);
    out->n = 0;
    const char *p = s;
    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (out->n == cap) {
            cap *= 2;
            out->v = xrealloc(out->v, cap * sizeof *out->v);
        }
        out->v[out->n++] = (struct line){p, len};
        if (!nl)
            break;
        p = nl + 1;
    }
}

/* l without its leading and trailing white space. */
static struct line line_trimmed(struct line l)
{
    while (l.n && isspace((unsigned char)*l.s))
        l.s++, l.n--;
    while (l.n && isspace((unsigned char)l.s[l.n - 1]))
        l.n--;
    return l;
}

static bool line_is(const struct line *l, const char *text)
{
    size_t n = strlen(text);
    size_t len = l->n;
    while (len > n && (l->s[len - 1] == ' ' || l->s[len - 1] == '\r'))
        len--;
    return len == n && memcmp(l->s, text, n) == 0;
}

static cJSON *line_json(const struct line *l)
{
    struct dse_err err;
    return json_parse(l->s, l->n, 0, &err);
}

/* The rendered sections of a direct-mode user message. */
struct prompt_view {
    cJSON *demos;   /* array of {id, input, output} (owned) */
    cJSON *input;   /* the query input (owned) or NULL */
    cJSON *schema;  /* the output schema (owned) or NULL */
};

static void view_free(struct prompt_view *v)
{
    cJSON_Delete(v->demos);
    cJSON_Delete(v->input);
    cJSON_Delete(v->schema);
    memset(v, 0, sizeof *v);
}

/* Parse one user message; returns true when it has an Input section. */
static bool view_parse(const char *content, struct prompt_view *v)
{
    memset(v, 0, sizeof *v);
    v->demos = json_arr();
    struct lines L;
    lines_split(content, &L);
    size_t scan_from = 0;
    for (size_t i = 0; i + 1 < L.n; i++) {
        if (line_is(&L.v[i], RENDER_OUTPUT_FORMAT_HEADER)) {
            size_t j = i + 1; /* the schema follows a blank line */
            while (j + 1 < L.n && L.v[j].n == 0)
                j++;
            v->schema = line_json(&L.v[j]);
            scan_from = j + 1;
            break;
        }
    }
    for (size_t i = scan_from; i < L.n; i++) {
        if (!line_is(&L.v[i], RENDER_FEWSHOT_HEADER))
            continue;
        size_t j = i + 1;
        for (; j < L.n && L.v[j].n > 0; j++) {
            cJSON *d = line_json(&L.v[j]);
            if (cJSON_IsObject(d) && json_get(d, "input") && json_get(d, "output"))
                cJSON_AddItemToArray(v->demos, d);
            else
                cJSON_Delete(d);
        }
        scan_from = j;
        break;
    }
    for (size_t i = scan_from; i + 1 < L.n; i++) {
        if (!line_is(&L.v[i], RENDER_INPUT_HEADER))
            continue;
        cJSON *in = line_json(&L.v[i + 1]);
        if (in) {
            v->input = in;
            break;
        }
    }
    free(L.v);
    return v->input != NULL;
}

/* The first user message with an Input section. */
static bool find_view(const struct lm_request *req, struct prompt_view *v)
{
    for (size_t i = 0; i < req->n_messages; i++) {
        if (strcmp(req->messages[i].role, "user") != 0)
            continue;
        if (view_parse(req->messages[i].content, v))
            return true;
        view_free(v);
    }
    return false;
}

/* ---- nearest demo ---- */

static char *answer_nearest(const struct prompt_view *v)
{
    size_t nd = (size_t)cJSON_GetArraySize(v->demos);
    if (nd == 0 || !v->input)
        return xstrdup("{}");
    struct words *dw = xcalloc(nd, sizeof *dw);
    struct tf *dt = xcalloc(nd, sizeof *dt);
    size_t k = 0;
    for (const cJSON *d = v->demos->child; d; d = d->next, k++) {
        words_of_json(json_get(d, "input"), &dw[k]);
        tf_build(&dw[k], &dt[k]);
    }
    /* document frequencies */
    struct words all = {0};
    for (size_t i = 0; i < nd; i++)
        for (size_t j = 0; j < dt[i].n; j++)
            words_add(&all, dt[i].tok[j], strlen(dt[i].tok[j]));
    struct tf allt;
    tf_build(&all, &allt);
    struct df df = {allt.tok, xcalloc(allt.n + 1, sizeof(int)), allt.n};
    for (size_t i = 0; i < allt.n; i++)
        df.df[i] = (int)allt.cnt[i];

    struct words qw = {0};
    words_of_json(v->input, &qw);
    struct tf qt;
    tf_build(&qw, &qt);
    double qn = 0;
    double *qwgt = xcalloc(qt.n + 1, sizeof *qwgt);
    for (size_t i = 0; i < qt.n; i++) {
        qwgt[i] = qt.cnt[i] * idf_of(&df, nd, qt.tok[i]);
        qn += qwgt[i] * qwgt[i];
    }
    qn = sqrt(qn);

    size_t best = 0;
    double best_score = -1;
    for (size_t i = 0; i < nd; i++) {
        double dot = 0, dn = 0;
        size_t a = 0;
        for (size_t j = 0; j < dt[i].n; j++) {
            double w = dt[i].cnt[j] * idf_of(&df, nd, dt[i].tok[j]);
            dn += w * w;
            while (a < qt.n && strcmp(qt.tok[a], dt[i].tok[j]) < 0)
                a++;
            if (a < qt.n && strcmp(qt.tok[a], dt[i].tok[j]) == 0)
                dot += w * qwgt[a];
        }
        double score = (qn > 0 && dn > 0) ? dot / (qn * sqrt(dn)) : 0;
        /* Strictly greater (with slack for rounding) keeps the earlier demo
         * on ties. */
        if (score > best_score + 1e-12) {
            best_score = score;
            best = i;
        }
    }
    const cJSON *d = cJSON_GetArrayItem(v->demos, (int)best);
    char *reply = json_canonical(json_get(d, "output"));

    free(qwgt);
    tf_free(&qt);
    words_free(&qw);
    free(df.df);
    tf_free(&allt);
    words_free(&all);
    for (size_t i = 0; i < nd; i++) {
        tf_free(&dt[i]);
        words_free(&dw[i]);
    }
    free(dt);
    free(dw);
    return reply;
}

/* ---- judge ---- */

static double token_f1(const char *pred, const char *gold)
{
    struct words p = {0}, g = {0};
    words_of(pred, strlen(pred), &p);
    words_of(gold, strlen(gold), &g);
    double f1;
    if (p.n == 0 && g.n == 0) {
        f1 = 1;
    } else if (p.n == 0 || g.n == 0) {
        f1 = 0;
    } else {
        qsort(p.v, p.n, sizeof *p.v, cmp_str);
        qsort(g.v, g.n, sizeof *g.v, cmp_str);
        size_t i = 0, j = 0, common = 0;
        while (i < p.n && j < g.n) {
            int c = strcmp(p.v[i], g.v[j]);
            if (c == 0) {
                common++;
                i++;
                j++;
            } else if (c < 0) {
                i++;
            } else {
                j++;
            }
        }
        double prec = (double)common / (double)p.n, rec = (double)common / (double)g.n;
        f1 = common ? 2 * prec * rec / (prec + rec) : 0;
    }
    words_free(&p);
    words_free(&g);
    return round(f1 * 10000) / 10000;
}

static char *answer_judge(const cJSON *input)
{
    cJSON *o = json_obj();
    json_set_num(o, "score",
                 token_f1(json_str(input, "predSummary", ""), json_str(input, "expectedSummary", "")));
    char *s = json_canonical(o);
    cJSON_Delete(o);
    return s;
}

/* ---- extraction helper ---- */

static char *answer_extract(const char *content, const char *marker)
{
    size_t ilen = (size_t)(marker - content);
    const char *chunk = marker + strlen(RLM_CHUNK_MARKER);
    struct words kw = {0};
    /* Prefer an explicit Keywords: line, then a Question: line. */
    struct lines L;
    char *instr = xstrndup(content, ilen);
    lines_split(instr, &L);
    for (size_t i = 0; i < L.n && !kw.n; i++)
        if (L.v[i].n > 9 && memcmp(L.v[i].s, "Keywords:", 9) == 0)
            keywords_of(L.v[i].s + 9, L.v[i].n - 9, 64, &kw);
    for (size_t i = 0; i < L.n && !kw.n; i++)
        if (L.v[i].n > 9 && memcmp(L.v[i].s, "Question:", 9) == 0)
            keywords_of(L.v[i].s + 9, L.v[i].n - 9, 64, &kw);
    if (!kw.n)
        keywords_of(instr, ilen, 64, &kw);
    free(L.v);
    free(instr);

    struct sbuf out = {0};
    lines_split(chunk, &L);
    size_t chars = 0;
    for (size_t i = 0; i < L.n; i++) {
        struct line t = line_trimmed(L.v[i]);
        const char *s = t.s;
        size_t n = t.n;
        if (!n || !line_matches(s, n, &kw))
            continue;
        size_t c = util_utf8_len(s, n);
        if (chars + c + 1 > KNN_EXTRACT_MAX)
            break;
        if (out.len)
            sbuf_addc(&out, '\n');
        sbuf_add(&out, s, n);
        chars += c + 1;
    }
    free(L.v);
    words_free(&kw);
    return sbuf_take(&out);
}

/* ---- rlm controller ---- */

struct ctl {
    struct prompt_view view;
    const char *system;
    cJSON *blobs;           /* BlobRefs of the input */
    char *question;
    struct words kw;
    char chunks_var[40], lines_var[40];
    const char *out_key;
    const cJSON *state;     /* last RLM state (owned by state_doc) */
    cJSON *state_doc;
    cJSON *actions;         /* visible assistant actions, in order */
    cJSON *observations;    /* visible observations, in order */
};

/* Parse an observation message body; a body cut at 10,000 characters is
 * recovered partially: _tag, target and as much of text as survived. */
static char *partial_string(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    struct sbuf b = {0};
    while (*p && *p != '"') {
        if (*p != '\\') {
            sbuf_addc(&b, *p++);
            continue;
        }
        p++;
        switch (*p) {
        case 'n': sbuf_addc(&b, '\n'); break;
        case 't': sbuf_addc(&b, '\t'); break;
        case 'r': sbuf_addc(&b, '\r'); break;
        case 'b': sbuf_addc(&b, '\b'); break;
        case 'f': sbuf_addc(&b, '\f'); break;
        case 'u': {
            unsigned v = 0;
            int k = 1;
            for (; k <= 4 && isxdigit((unsigned char)p[k]); k++)
                v = v * 16 + (unsigned)(isdigit((unsigned char)p[k]) ? p[k] - '0'
                                                                       : (tolower((unsigned char)p[k]) - 'a' + 10));
            if (k <= 4)
                goto done;
            if (v < 0x80)
                sbuf_addc(&b, (char)v);
            else
                sbuf_addc(&b, '?');
            p += 4;
            break;
        }
        case 0: goto done;
        default: sbuf_addc(&b, *p); break;
        }
        p++;
    }
done:
    return sbuf_take(&b);
}

static cJSON *balanced_object_after(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":{", key);
    const char *p = strstr(json, pat);
    if (!p)
        return NULL;
    p += strlen(pat) - 1;
    int depth = 0;
    bool in_str = false, esc = false;
    for (const char *q = p; *q; q++) {
        if (in_str) {
            if (esc)
                esc = false;
            else if (*q == '\\')
                esc = true;
            else if (*q == '"')
                in_str = false;
            continue;
        }
        if (*q == '"')
            in_str = true;
        else if (*q == '{')
            depth++;
        else if (*q == '}' && --depth == 0) {
            struct dse_err err;
            return json_parse(p, (size_t)(q - p + 1), 0, &err);
        }
    }
    return NULL;
}

static cJSON *parse_observation(const char *body)
{
    struct dse_err err;
    cJSON *o = json_parse_str(body, &err);
    if (o)
        return o;
    o = json_obj();
    char *tag = partial_string(body, "_tag");
    json_set_str(o, "_tag", tag ? tag : "");
    free(tag);
    cJSON *target = balanced_object_after(body, "target");
    if (target)
        json_set(o, "target", target);
    char *text = partial_string(body, "text");
    if (text)
        json_set_str(o, "text", text);
    free(text);
    return o;
}

static bool ctl_has_var(const struct ctl *c, const char *name)
{
    const cJSON *vars = json_get(c->state, "vars");
    for (const cJSON *v = vars ? vars->child : NULL; v; v = v->next)
        if (strcmp(json_str(v, "name", ""), name) == 0)
            return true;
    return false;
}

static double ctl_num(const struct ctl *c, const char *path, double fallback)
{
    const cJSON *v = json_path(c->state, path);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

static bool ctl_did(const struct ctl *c, const char *tag)
{
    for (const cJSON *a = c->actions->child; a; a = a->next)
        if (strcmp(json_str(a, "_tag", ""), tag) == 0)
            return true;
    return false;
}

/* The chunk count of the last visible ChunkResult, or -1. */
static int ctl_chunk_count(const struct ctl *c)
{
    int n = -1;
    for (const cJSON *o = c->observations->child; o; o = o->next)
        if (strcmp(json_str(o, "_tag", ""), "ChunkResult") == 0)
            n = (int)json_int(o, "chunkCount", -1);
    return n;
}

static const cJSON *obs_target_of(const cJSON *o, const char *tag)
{
    const cJSON *t = json_get(o, "target");
    return strcmp(json_str(t, "_tag", ""), tag) == 0 ? t : NULL;
}

/* BlobRefs listed by the last visible preview of the lines var (balanced
 * objects scanned out of the previewed text, which may be cut). */
static cJSON *ctl_lines_list(const struct ctl *c)
{
    const char *text = NULL;
    for (const cJSON *o = c->observations->child; o; o = o->next) {
        const cJSON *t = obs_target_of(o, "Var");
        if (t && strcmp(json_str(o, "_tag", ""), "PreviewResult") == 0 &&
            strcmp(json_str(t, "name", ""), c->lines_var) == 0)
            text = json_str(o, "text", NULL);
    }
    if (!text)
        return NULL;
    cJSON *list = json_arr();
    for (const char *p = strchr(text, '{'); p; p = strchr(p + 1, '{')) {
        const char *q = strchr(p, '}');
        if (!q)
            break;
        struct dse_err err;
        cJSON *o = json_parse(p, (size_t)(q - p + 1), 0, &err);
        if (o && blobref_is(o))
            cJSON_AddItemToArray(list, o);
        else
            cJSON_Delete(o);
    }
    return list;
}

/* The previewed text of a blob, if visible. */
static const char *ctl_preview_of(const struct ctl *c, const char *blob_id)
{
    const char *text = NULL;
    for (const cJSON *o = c->observations->child; o; o = o->next) {
        const cJSON *t = obs_target_of(o, "Blob");
        if (t && strcmp(json_str(o, "_tag", ""), "PreviewResult") == 0 &&
            strcmp(json_str(t, "blobId", ""), blob_id) == 0)
            text = json_str(o, "text", NULL);
    }
    return text;
}

/* Append the distinct non-empty lines of text to out (one per line) while
 * the total stays within KNN_SUMMARY_MAX characters. */
static void add_lines(struct sbuf *out, size_t *chars, const char *text)
{
    struct lines L;
    lines_split(text, &L);
    for (size_t i = 0; i < L.n; i++) {
        struct line t = line_trimmed(L.v[i]);
        const char *s = t.s;
        size_t n = t.n;
        if (!n)
            continue;
        char *line = xstrndup(s, n);
        bool dup = false;
        if (out->len) {
            /* exact line already present? */
            const char *p = out->s;
            while (p && *p && !dup) {
                const char *e = strchr(p, '\n');
                size_t len = e ? (size_t)(e - p) : strlen(p);
                dup = len == n && memcmp(p, line, n) == 0;
                p = e ? e + 1 : NULL;
            }
        }
        size_t c = util_utf8_len(line, n);
        if (!dup) {
            size_t sep = out->len ? 1 : 0;
            if (*chars + sep + c > KNN_SUMMARY_MAX) {
                if (*chars == 0) { /* one long line: cut it */
                    sbuf_add(out, line, util_utf8_prefix(line, n, KNN_SUMMARY_MAX));
                    *chars = KNN_SUMMARY_MAX;
                }
                free(line);
                break;
            }
            if (sep)
                sbuf_addc(out, '\n');
            sbuf_add(out, line, n);
            *chars += sep + c;
        }
        free(line);
    }
    free(L.v);
}

static char *ctl_action(cJSON *a)
{
    char *s = json_canonical(a);
    cJSON_Delete(a);
    return s;
}

static cJSON *target_blob(const char *id)
{
    cJSON *t = json_obj();
    json_set_str(t, "_tag", "Blob");
    json_set_str(t, "blobId", id);
    return t;
}

static char *ctl_final(struct ctl *c, const cJSON *lines_list)
{
    struct sbuf s = {0};
    size_t chars = 0;
    for (const cJSON *b = lines_list ? lines_list->child : NULL; b; b = b->next) {
        const char *t = ctl_preview_of(c, json_str(b, "id", ""));
        if (t)
            add_lines(&s, &chars, t);
    }
    if (!s.len) {
        for (const cJSON *o = c->observations->child; o; o = o->next) {
            if (strcmp(json_str(o, "_tag", ""), "SearchResult") != 0)
                continue;
            const cJSON *m = json_get(o, "matches");
            for (const cJSON *x = m ? m->child : NULL; x; x = x->next) {
                char *snip = xstrdup(json_str(x, "snippet", ""));
                for (char *p = snip; *p; p++)
                    if (*p == '\n' || *p == '\r')
                        *p = ' ';
                add_lines(&s, &chars, snip);
                free(snip);
            }
        }
    }
    if (!s.len) {
        sbuf_adds(&s, "Nothing in the provided text matched the question");
        if (c->kw.n) {
            sbuf_adds(&s, " (looked for: ");
            for (size_t i = 0; i < c->kw.n; i++)
                sbuf_printf(&s, "%s%s", i ? ", " : "", c->kw.v[i]);
            sbuf_adds(&s, ")");
        }
        sbuf_adds(&s, ".");
    }
    cJSON *a = json_obj();
    json_set_str(a, "_tag", "Final");
    cJSON *out = json_obj();
    json_set_str(out, c->out_key, s.s);
    json_set(a, "output", out);
    sbuf_free(&s);
    return ctl_action(a);
}

/* How many chunks the sub-call budget allows, keeping `reserve` LM calls for
 * the controller after this one. */
static int ctl_plan_k(const struct ctl *c, int reserve)
{
    double k = RLM_CHUNK_MAX_COUNT;
    double max_sub = ctl_num(c, "budgets.limits.maxSubLmCalls", -1);
    if (max_sub >= 0)
        k = fmin(k, max_sub - ctl_num(c, "budgets.usage.subLmCalls", 0));
    double max_lm = ctl_num(c, "budgets.limits.maxLmCalls", -1);
    if (max_lm >= 0)
        k = fmin(k, max_lm - ctl_num(c, "budgets.usage.lmCalls", 0) - 1 - reserve);
    return k < 0 ? 0 : (int)k;
}

static char *ctl_decide(struct ctl *c)
{
    int iteration = (int)ctl_num(c, "iteration", 1);
    int max_iter = (int)ctl_num(c, "budgets.limits.maxRlmIterations", 10);
    int remaining = max_iter - iteration;
    int nblobs = cJSON_GetArraySize(c->blobs);
    if (remaining <= 0 || nblobs == 0)
        return ctl_final(c, NULL);

    if (!ctl_has_var(c, c->chunks_var)) {
        if (nblobs > 1) {
            cJSON *a = json_obj();
            json_set_str(a, "_tag", "WriteVar");
            json_set_str(a, "name", c->chunks_var);
            cJSON *v = json_obj();
            json_set_str(v, "_tag", "Json");
            cJSON *list = json_arr();
            int i = 0;
            for (const cJSON *b = c->blobs->child; b && i < RLM_CHUNK_MAX_COUNT; b = b->next, i++)
                cJSON_AddItemToArray(list, json_dup(b));
            json_set(v, "value", list);
            json_set(a, "value", v);
            return ctl_action(a);
        }
        const cJSON *b0 = c->blobs->child;
        /* chunk, search, extract + preview var, preview, final */
        int k = ctl_plan_k(c, 5);
        if (k < 1)
            k = 1;
        double size = json_num(b0, "size", 0);
        long chunk = 0;
        const char *cd = c->system ? strstr(c->system, "chunkChars=") : NULL;
        if (cd)
            chunk = strtol(cd + 11, NULL, 10);
        /* The default chunk size, unless the budget cannot cover the whole
         * text with it. */
        if (chunk < (long)ceil(size / k))
            chunk = (long)ceil(size / k);
        if (chunk < 1000)
            chunk = 1000;
        if (chunk > RLM_CHUNK_MAX_CHARS)
            chunk = RLM_CHUNK_MAX_CHARS;
        cJSON *a = json_obj();
        json_set_str(a, "_tag", "Chunk");
        json_set(a, "target", target_blob(json_str(b0, "id", "")));
        json_set_num(a, "chunkChars", (double)chunk);
        json_set_num(a, "overlapChars", 0);
        json_set_num(a, "maxChunks", k);
        json_set_str(a, "intoVar", c->chunks_var);
        return ctl_action(a);
    }

    if (!ctl_has_var(c, c->lines_var)) {
        if (!ctl_did(c, "Search") && c->kw.n && remaining >= 4) {
            size_t best = 0;
            for (size_t i = 1; i < c->kw.n; i++)
                if (strlen(c->kw.v[i]) > strlen(c->kw.v[best]))
                    best = i;
            cJSON *a = json_obj();
            json_set_str(a, "_tag", "Search");
            json_set(a, "target", target_blob(json_str(c->blobs->child, "id", "")));
            json_set_str(a, "query", c->kw.v[best]);
            json_set_num(a, "maxMatches", 20);
            json_set_num(a, "contextChars", 80);
            return ctl_action(a);
        }
        int k = ctl_plan_k(c, 3);
        int have = ctl_chunk_count(c);
        if (have > 0 && k > have)
            k = have;
        if (k < 1 || remaining < 3)
            return ctl_final(c, NULL);
        struct sbuf ins = {0};
        sbuf_adds(&ins, "Copy, word for word, each line of the chunk that bears on the question. "
                        "Reply with those lines only, or with nothing when none does.\n");
        sbuf_printf(&ins, "Question: %s\nKeywords: ", c->question);
        for (size_t i = 0; i < c->kw.n; i++)
            sbuf_printf(&ins, "%s%s", i ? ", " : "", c->kw.v[i]);
        cJSON *a = json_obj();
        json_set_str(a, "_tag", "ExtractOverChunks");
        json_set_str(a, "chunksVar", c->chunks_var);
        json_set_str(a, "instruction", ins.s);
        json_set_num(a, "maxChunks", k);
        json_set_str(a, "intoVar", c->lines_var);
        sbuf_free(&ins);
        return ctl_action(a);
    }

    cJSON *list = ctl_lines_list(c);
    if (!list) {
        if (remaining < 2)
            return ctl_final(c, NULL);
        cJSON *a = json_obj();
        json_set_str(a, "_tag", "Preview");
        cJSON *t = json_obj();
        json_set_str(t, "_tag", "Var");
        json_set_str(t, "name", c->lines_var);
        json_set(a, "target", t);
        json_set_num(a, "offset", 0);
        json_set_num(a, "length", KNN_PREVIEW_LEN);
        return ctl_action(a);
    }
    /* Characters gathered so far decide whether to read more. */
    struct sbuf s = {0};
    size_t chars = 0;
    const char *next = NULL;
    for (const cJSON *b = list->child; b; b = b->next) {
        if (json_num(b, "size", 0) <= 0)
            continue;
        const char *t = ctl_preview_of(c, json_str(b, "id", ""));
        if (t) {
            add_lines(&s, &chars, t);
        } else if (!next) {
            next = json_str(b, "id", "");
        }
    }
    sbuf_free(&s);
    char *reply;
    if (next && chars < KNN_SUMMARY_MAX) {
        cJSON *a = json_obj();
        json_set_str(a, "_tag", "Preview");
        json_set(a, "target", target_blob(next));
        json_set_num(a, "offset", 0);
        json_set_num(a, "length", KNN_PREVIEW_LEN);
        reply = ctl_action(a);
    } else {
        reply = ctl_final(c, list);
    }
    cJSON_Delete(list);
    return reply;
}

/* The output property to fill: "summary" when the schema has it, else the
 * first required string property, else the first string property. */
static const char *pick_out_key(const cJSON *schema)
{
    const cJSON *props = json_get(schema, "properties");
    if (json_get(props, "summary"))
        return "summary";
    const cJSON *req = json_get(schema, "required");
    for (const cJSON *r = req ? req->child : NULL; r; r = r->next)
        if (cJSON_IsString(r) && strcmp(json_str(json_get(props, r->valuestring), "type", ""), "string") == 0)
            return r->valuestring;
    for (const cJSON *p = props ? props->child : NULL; p; p = p->next)
        if (strcmp(json_str(p, "type", ""), "string") == 0)
            return p->string;
    return "summary";
}

static char *answer_controller(const struct lm_request *req)
{
    struct ctl c;
    memset(&c, 0, sizeof c);
    c.actions = json_arr();
    c.observations = json_arr();
    bool have_view = false;
    for (size_t i = 0; i < req->n_messages; i++) {
        const struct lm_message *m = &req->messages[i];
        if (strcmp(m->role, "system") == 0 && !c.system) {
            c.system = m->content;
        } else if (strcmp(m->role, "assistant") == 0) {
            struct dse_err err;
            cJSON *a = json_parse_str(m->content, &err);
            if (cJSON_IsObject(a))
                cJSON_AddItemToArray(c.actions, a);
            else
                cJSON_Delete(a);
        } else if (strcmp(m->role, "user") == 0) {
            const char *s = m->content;
            if (strncmp(s, RLM_STATE_PREFIX, strlen(RLM_STATE_PREFIX)) == 0) {
                struct dse_err err;
                cJSON *st = json_parse_str(s + strlen(RLM_STATE_PREFIX), &err);
                if (st) {
                    cJSON_Delete(c.state_doc);
                    c.state_doc = st;
                }
            } else if (strncmp(s, RLM_OBSERVATION_PREFIX, strlen(RLM_OBSERVATION_PREFIX)) == 0) {
                cJSON_AddItemToArray(c.observations,
                                     parse_observation(s + strlen(RLM_OBSERVATION_PREFIX)));
            } else if (!have_view) {
                have_view = view_parse(s, &c.view);
                if (!have_view)
                    view_free(&c.view);
            }
        }
    }
    c.state = c.state_doc;
    c.blobs = render_find_blobrefs(c.view.input, RENDER_BLOB_MAX_DEPTH, RENDER_BLOB_MAX_REFS, NULL);
    const cJSON *q = json_get(c.view.input, "question");
    if (cJSON_IsString(q)) {
        c.question = xstrdup(q->valuestring);
    } else {
        struct words w = {0};
        words_of_json(c.view.input, &w);
        struct sbuf b = {0};
        for (size_t i = 0; i < w.n && i < 64; i++)
            sbuf_printf(&b, "%s%s", i ? " " : "", w.v[i]);
        words_free(&w);
        c.question = sbuf_take(&b);
    }
    keywords_of(c.question, strlen(c.question), KNN_MAX_KEYWORDS, &c.kw);
    char h[HASH_ID_LEN + 1] = "sha256:00000000";
    if (c.view.input)
        hash_json(c.view.input, h);
    snprintf(c.chunks_var, sizeof c.chunks_var, "chunks_%.8s", h + 7);
    snprintf(c.lines_var, sizeof c.lines_var, "lines_%.8s", h + 7);
    c.out_key = pick_out_key(c.view.schema);

    char *reply = ctl_decide(&c);

    cJSON_Delete(c.blobs);
    free(c.question);
    words_free(&c.kw);
    cJSON_Delete(c.state_doc);
    cJSON_Delete(c.actions);
    cJSON_Delete(c.observations);
    view_free(&c.view);
    return reply;
}

/* ---- provider ---- */

static char *knn_answer(const struct lm_request *req)
{
    for (size_t i = 0; i < req->n_messages; i++)
        if (strcmp(req->messages[i].role, "user") == 0 &&
            strncmp(req->messages[i].content, RLM_STATE_PREFIX, strlen(RLM_STATE_PREFIX)) == 0)
            return answer_controller(req);
    for (size_t i = 0; i < req->n_messages; i++) {
        if (strcmp(req->messages[i].role, "user") != 0)
            continue;
        const char *m = strstr(req->messages[i].content, RLM_CHUNK_MARKER);
        if (m)
            return answer_extract(req->messages[i].content, m);
    }
    struct prompt_view v;
    if (!find_view(req, &v))
        return xstrdup("{}");
    char *reply;
    const cJSON *ps = json_get(v.input, "predSummary"), *es = json_get(v.input, "expectedSummary");
    if (cJSON_IsString(ps) && cJSON_IsString(es))
        reply = answer_judge(v.input);
    else
        reply = answer_nearest(&v);
    view_free(&v);
    return reply;
}

static int tokens_estimate(size_t chars) { return (int)((chars + 3) / 4); }

static int knn_complete(struct lm_client *c, const struct lm_request *req, struct lm_response *resp,
                        struct dse_err *err)
{
    (void)c;
    (void)err;
    resp->text = knn_answer(req);
    size_t prompt = 0;
    for (size_t i = 0; i < req->n_messages; i++)
        prompt += util_utf8_len(req->messages[i].content, strlen(req->messages[i].content));
    resp->prompt_tokens = tokens_estimate(prompt);
    resp->completion_tokens = tokens_estimate(util_utf8_len(resp->text, strlen(resp->text)));
    resp->total_tokens = resp->prompt_tokens + resp->completion_tokens;
    resp->cache_hit = false;
    resp->latency_ms = 0;
    resp->attempts = 0;
    snprintf(resp->model, sizeof resp->model, "local-knn");
    return 0;
}

static void knn_close(struct lm_client *c) { (void)c; }

static const struct lm_provider knn_provider = {
    .name = "local-knn",
    .complete = knn_complete,
    .close = knn_close,
};

struct lm_client *lm_knn_open(const struct lm_config *cfg, struct dse_err *err)
{
    (void)err;
    struct lm_client *c = xcalloc(1, sizeof *c);
    c->prov = &knn_provider;
    c->impl = NULL;
    snprintf(c->desc, sizeof c->desc, "local-knn");
    snprintf(c->default_model, sizeof c->default_model, "%s",
             cfg && cfg->model && cfg->model[0] ? cfg->model : "local-knn");
    return c;
}
