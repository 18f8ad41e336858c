#include "jdoc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "sanitize.h"
#include "text.h"
#include "theme.h"

enum { JL_OPEN, JL_CLOSE, JL_LEAF };

struct jline {
    const cJSON *node;
    int depth;
    unsigned char kind;
    bool last; /* no trailing comma */
};

/* Pointer set for folded containers (open addressing, never shrinks). */
struct pset {
    const void **slot;
    size_t cap, n;
};

static size_t phash(const void *p, size_t cap)
{
    uintptr_t v = (uintptr_t)p;
    v ^= v >> 17;
    v *= 0x9E3779B97F4A7C15ull;
    return (size_t)(v >> 7) & (cap - 1);
}

static bool pset_has(const struct pset *s, const void *p)
{
    if (!s->cap)
        return false;
    for (size_t i = phash(p, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (!s->slot[i])
            return false;
        if (s->slot[i] == p)
            return true;
    }
}

static void pset_add(struct pset *s, const void *p);

static void pset_grow(struct pset *s)
{
    struct pset old = *s;
    s->cap = old.cap ? old.cap * 2 : 64;
    s->slot = xcalloc(s->cap, sizeof *s->slot);
    s->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slot[i])
            pset_add(s, old.slot[i]);
    free(old.slot);
}

static void pset_add(struct pset *s, const void *p)
{
    if (pset_has(s, p))
        return;
    if ((s->n + 1) * 2 > s->cap)
        pset_grow(s);
    size_t i = phash(p, s->cap);
    while (s->slot[i])
        i = (i + 1) & (s->cap - 1);
    s->slot[i] = p;
    s->n++;
}

/* Removal rebuilds the table without p (folds change rarely). */
static void pset_del(struct pset *s, const void *p)
{
    if (!pset_has(s, p))
        return;
    struct pset old = *s;
    s->slot = xcalloc(old.cap, sizeof *s->slot);
    s->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slot[i] && old.slot[i] != p)
            pset_add(s, old.slot[i]);
    free(old.slot);
}

static void pset_clear(struct pset *s)
{
    free(s->slot);
    memset(s, 0, sizeof *s);
}

struct jdoc {
    char *title;
    cJSON *root;        /* JSON document (NULL for text) */
    struct jline *lines;
    size_t nlines, cap;
    struct pset folded;
    bool raw;
    char *text;         /* text document, or the raw rendering of root */
    size_t *off;        /* line start offsets into text */
    size_t ntext;
};

static bool is_container(const cJSON *n) { return cJSON_IsObject(n) || cJSON_IsArray(n); }

static void push_line(struct jdoc *d, const cJSON *n, int depth, int kind, bool last)
{
    if (d->nlines == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 256;
        d->lines = xrealloc(d->lines, d->cap * sizeof *d->lines);
    }
    d->lines[d->nlines++] = (struct jline){n, depth, (unsigned char)kind, last};
}

static void flatten(struct jdoc *d, const cJSON *n, int depth, bool last)
{
    if (!is_container(n) || !n->child || pset_has(&d->folded, n)) {
        push_line(d, n, depth, is_container(n) ? JL_OPEN : JL_LEAF, last);
        return;
    }
    push_line(d, n, depth, JL_OPEN, last);
    for (const cJSON *c = n->child; c; c = c->next)
        flatten(d, c, depth + 1, c->next == NULL);
    push_line(d, n, depth, JL_CLOSE, last);
}

static void rebuild(struct jdoc *d)
{
    d->nlines = 0;
    if (d->root)
        flatten(d, d->root, 0, true);
}

static void index_text(struct jdoc *d)
{
    free(d->off);
    d->off = NULL;
    d->ntext = 0;
    size_t cap = 0;
    const char *t = d->text ? d->text : "";
    size_t i = 0, n = strlen(t);
    for (;;) {
        if (d->ntext == cap) {
            cap = cap ? cap * 2 : 256;
            d->off = xrealloc(d->off, cap * sizeof *d->off);
        }
        d->off[d->ntext++] = i;
        const char *nl = memchr(t + i, '\n', n - i);
        if (!nl)
            break;
        i = (size_t)(nl - t) + 1;
        if (i >= n)
            break;
    }
}

static size_t count_nodes(const cJSON *n, size_t limit)
{
    size_t c = 1;
    for (const cJSON *k = n->child; k && c < limit; k = k->next)
        c += count_nodes(k, limit - c);
    return c;
}

static void fold_below(struct jdoc *d, const cJSON *n, int depth, int min_depth)
{
    if (!is_container(n))
        return;
    if (depth >= min_depth && n->child)
        pset_add(&d->folded, n);
    for (const cJSON *c = n->child; c; c = c->next)
        fold_below(d, c, depth + 1, min_depth);
}

struct jdoc *jdoc_new_json(cJSON *root, const char *title)
{
    struct jdoc *d = xcalloc(1, sizeof *d);
    d->title = xstrdup(title ? title : "");
    d->root = root ? root : cJSON_CreateNull();
    /* A subtree detached or copied from an object keeps its key; the
     * document's root has none. */
    if (d->root->string && !(d->root->type & cJSON_StringIsConst))
        cJSON_free(d->root->string);
    d->root->string = NULL;
    if (count_nodes(d->root, JDOC_AUTOFOLD_NODES + 1) > JDOC_AUTOFOLD_NODES)
        fold_below(d, d->root, 0, 1);
    rebuild(d);
    return d;
}

struct jdoc *jdoc_new_text(char *text, const char *title)
{
    struct jdoc *d = xcalloc(1, sizeof *d);
    d->title = xstrdup(title ? title : "");
    d->text = text ? text : xstrdup("");
    index_text(d);
    return d;
}

void jdoc_free(struct jdoc *d)
{
    if (!d)
        return;
    free(d->title);
    cJSON_Delete(d->root);
    free(d->lines);
    pset_clear(&d->folded);
    free(d->text);
    free(d->off);
    free(d);
}

const char *jdoc_title(const struct jdoc *d) { return d->title; }
bool jdoc_is_json(const struct jdoc *d) { return d->root != NULL; }
bool jdoc_raw(const struct jdoc *d) { return d->raw; }

static bool text_view(const struct jdoc *d) { return !d->root || d->raw; }

size_t jdoc_count(const struct jdoc *d) { return text_view(d) ? d->ntext : d->nlines; }

void jdoc_set_raw(struct jdoc *d, bool raw)
{
    if (!d->root || raw == d->raw)
        return;
    d->raw = raw;
    free(d->text);
    d->text = NULL;
    if (raw) {
        d->text = json_pretty(d->root);
        index_text(d);
    } else {
        free(d->off);
        d->off = NULL;
        d->ntext = 0;
    }
}

/* ---- rendering ---- */

static int seg(struct sbuf *b, struct jseg *segs, int n, int role, const char *clean)
{
    if (n >= JDOC_MAX_SEGS)
        return n;
    size_t start = b->len;
    sbuf_adds(b, clean);
    segs[n] = (struct jseg){role, start, b->len - start};
    return n + 1;
}

static int seg_untrusted(struct sbuf *b, struct jseg *segs, int n, int role, const char *s)
{
    char *c = text_clean(s);
    n = seg(b, segs, n, role, c);
    free(c);
    return n;
}

static void scalar_text(const cJSON *n, struct sbuf *out, int *role)
{
    if (cJSON_IsString(n)) {
        *role = ROLE_JSON_STRING;
        char *c = text_clean(n->valuestring);
        sbuf_addc(out, '"');
        sbuf_adds(out, c);
        sbuf_addc(out, '"');
        free(c);
    } else if (cJSON_IsNumber(n)) {
        char num[32];
        json_format_number(n->valuedouble, num);
        *role = ROLE_JSON_NUMBER;
        sbuf_adds(out, num);
    } else if (cJSON_IsTrue(n)) {
        *role = ROLE_JSON_LITERAL;
        sbuf_adds(out, "true");
    } else if (cJSON_IsFalse(n)) {
        *role = ROLE_JSON_LITERAL;
        sbuf_adds(out, "false");
    } else {
        *role = ROLE_JSON_LITERAL;
        sbuf_adds(out, "null");
    }
}

int jdoc_line(const struct jdoc *d, size_t i, struct sbuf *b, struct jseg *segs)
{
    sbuf_reset(b);
    sbuf_add(b, "", 0);
    if (text_view(d)) {
        if (i >= d->ntext)
            return 0;
        size_t start = d->off[i];
        size_t end = i + 1 < d->ntext ? d->off[i + 1] : strlen(d->text);
        if (end > start && d->text[end - 1] == '\n')
            end--;
        char *c = sanitize(d->text + start, end - start, text_ascii() ? SAN_ASCII : 0);
        int n = seg(b, segs, 0, ROLE_VALUE, c);
        free(c);
        return n;
    }
    if (i >= d->nlines)
        return 0;
    const struct jline *l = &d->lines[i];
    int n = 0;
    char indent[2 * 64 + 1];
    int ind = l->depth > 64 ? 64 : l->depth;
    memset(indent, ' ', (size_t)ind * 2);
    indent[ind * 2] = 0;
    n = seg(b, segs, n, ROLE_DEFAULT, indent);
    if (l->kind != JL_CLOSE && l->node->string) {
        struct sbuf k = {0};
        sbuf_addc(&k, '"');
        sbuf_adds(&k, l->node->string);
        sbuf_addc(&k, '"');
        n = seg_untrusted(b, segs, n, ROLE_JSON_KEY, k.s);
        sbuf_free(&k);
        n = seg(b, segs, n, ROLE_JSON_PUNCT, ": ");
    }
    const char *comma = l->last ? "" : ",";
    bool obj = cJSON_IsObject(l->node);
    if (l->kind == JL_CLOSE) {
        n = seg(b, segs, n, ROLE_JSON_PUNCT, obj ? "}" : "]");
        n = seg(b, segs, n, ROLE_JSON_PUNCT, comma);
    } else if (l->kind == JL_OPEN) {
        int count = cJSON_GetArraySize(l->node);
        if (count == 0) {
            n = seg(b, segs, n, ROLE_JSON_PUNCT, obj ? "{}" : "[]");
            n = seg(b, segs, n, ROLE_JSON_PUNCT, comma);
        } else if (pset_has(&d->folded, l->node)) {
            char more[64];
            snprintf(more, sizeof more, obj ? "{%s}" : "[%s]", text_ascii() ? "..." : "\xe2\x80\xa6");
            n = seg(b, segs, n, ROLE_JSON_PUNCT, more);
            n = seg(b, segs, n, ROLE_JSON_PUNCT, comma);
            snprintf(more, sizeof more, "  %d %s", count,
                     obj ? (count == 1 ? "key" : "keys") : (count == 1 ? "item" : "items"));
            n = seg(b, segs, n, ROLE_DIM, more);
        } else {
            n = seg(b, segs, n, ROLE_JSON_PUNCT, obj ? "{" : "[");
        }
    } else {
        struct sbuf v = {0};
        sbuf_add(&v, "", 0);
        int role;
        scalar_text(l->node, &v, &role);
        n = seg(b, segs, n, role, v.s); /* already clean */
        sbuf_free(&v);
        n = seg(b, segs, n, ROLE_JSON_PUNCT, comma);
    }
    return n;
}

/* ---- folding ---- */

static size_t line_of(const struct jdoc *d, const cJSON *node, int kind)
{
    for (size_t i = 0; i < d->nlines; i++)
        if (d->lines[i].node == node && d->lines[i].kind == kind)
            return i;
    return 0;
}

static size_t parent_line(const struct jdoc *d, size_t line)
{
    int depth = d->lines[line].depth;
    for (size_t i = line; i-- > 0;)
        if (d->lines[i].depth < depth && d->lines[i].kind == JL_OPEN)
            return i;
    return 0;
}

size_t jdoc_toggle(struct jdoc *d, size_t line)
{
    if (text_view(d) || line >= d->nlines)
        return line;
    const struct jline *l = &d->lines[line];
    const cJSON *n = l->node;
    if (!is_container(n) || !n->child) {
        /* A leaf: fold its parent. */
        if (l->depth == 0)
            return line;
        return jdoc_fold(d, parent_line(d, line));
    }
    if (pset_has(&d->folded, n))
        pset_del(&d->folded, n);
    else
        pset_add(&d->folded, n);
    rebuild(d);
    return line_of(d, n, JL_OPEN);
}

size_t jdoc_fold(struct jdoc *d, size_t line)
{
    if (text_view(d) || line >= d->nlines)
        return line;
    const struct jline *l = &d->lines[line];
    const cJSON *n = l->node;
    if (l->kind == JL_OPEN && is_container(n) && n->child && !pset_has(&d->folded, n)) {
        pset_add(&d->folded, n);
        rebuild(d);
        return line_of(d, n, JL_OPEN);
    }
    if (l->kind == JL_CLOSE)
        return line_of(d, n, JL_OPEN);
    return parent_line(d, line);
}

size_t jdoc_unfold(struct jdoc *d, size_t line)
{
    if (text_view(d) || line >= d->nlines)
        return line;
    const cJSON *n = d->lines[line].node;
    if (pset_has(&d->folded, n)) {
        pset_del(&d->folded, n);
        rebuild(d);
        return line_of(d, n, JL_OPEN);
    }
    return line + 1 < d->nlines ? line + 1 : line;
}

void jdoc_fold_all(struct jdoc *d)
{
    if (!d->root)
        return;
    pset_clear(&d->folded);
    fold_below(d, d->root, 0, 1);
    rebuild(d);
}

size_t jdoc_unfold_all(struct jdoc *d, size_t line)
{
    if (!d->root || text_view(d))
        return line;
    const cJSON *n = line < d->nlines ? d->lines[line].node : NULL;
    int kind = line < d->nlines ? d->lines[line].kind : JL_OPEN;
    pset_clear(&d->folded);
    rebuild(d);
    return n ? line_of(d, n, kind) : 0;
}

/* ---- search ---- */

static bool node_matches(const cJSON *n, const char *needle)
{
    if (n->string) {
        char *k = text_clean(n->string);
        bool hit = text_find(k, needle) != NULL;
        free(k);
        if (hit)
            return true;
    }
    if (is_container(n))
        return false;
    struct sbuf v = {0};
    sbuf_add(&v, "", 0);
    int role;
    scalar_text(n, &v, &role);
    bool hit = text_find(v.s, needle) != NULL;
    sbuf_free(&v);
    return hit;
}

/* Document-order walk collecting every node with its parent index, so a
 * match inside folded containers can be unfolded along its ancestry. */
struct walk {
    const cJSON **node;
    size_t *parent;
    size_t n, cap;
};

static void walk_add(struct walk *w, const cJSON *n, size_t parent)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 1024;
        w->node = xrealloc(w->node, w->cap * sizeof *w->node);
        w->parent = xrealloc(w->parent, w->cap * sizeof *w->parent);
    }
    w->node[w->n] = n;
    w->parent[w->n] = parent;
    size_t me = w->n++;
    for (const cJSON *c = n->child; c && is_container(n); c = c->next)
        walk_add(w, c, me);
}

static bool search_text(struct jdoc *d, const char *needle, size_t from, int dir, size_t *found)
{
    size_t n = d->ntext;
    if (!n)
        return false;
    struct sbuf b = {0};
    struct jseg segs[JDOC_MAX_SEGS];
    for (size_t step = 1; step <= n; step++) {
        size_t i = dir > 0 ? (from + step) % n : (from + n - step % n) % n;
        jdoc_line(d, i, &b, segs);
        if (text_find(b.s, needle)) {
            *found = i;
            sbuf_free(&b);
            return true;
        }
    }
    sbuf_free(&b);
    return false;
}

bool jdoc_search(struct jdoc *d, const char *needle, size_t from, int dir, size_t *found)
{
    if (!needle || !*needle)
        return false;
    if (text_view(d))
        return search_text(d, needle, from, dir, found);
    struct walk w = {0};
    walk_add(&w, d->root, (size_t)-1);
    /* Position of the cursor's node in document order. */
    size_t start = 0;
    if (from < d->nlines) {
        const cJSON *cur = d->lines[from].node;
        for (size_t i = 0; i < w.n; i++)
            if (w.node[i] == cur) {
                start = i;
                break;
            }
    }
    bool ok = false;
    for (size_t step = 1; step <= w.n; step++) {
        size_t i = dir > 0 ? (start + step) % w.n : (start + w.n - step % w.n) % w.n;
        if (!node_matches(w.node[i], needle))
            continue;
        for (size_t p = w.parent[i]; p != (size_t)-1; p = w.parent[p])
            pset_del(&d->folded, w.node[p]);
        rebuild(d);
        *found = line_of(d, w.node[i], is_container(w.node[i]) ? JL_OPEN : JL_LEAF);
        ok = true;
        break;
    }
    free(w.node);
    free(w.parent);
    return ok;
}

char *jdoc_export(const struct jdoc *d)
{
    if (d->root) {
        char *s = json_pretty(d->root);
        char *out = xasprintf("%s\n", s);
        free(s);
        return out;
    }
    return xstrdup(d->text ? d->text : "");
}
