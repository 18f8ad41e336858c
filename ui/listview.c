#include "listview.h"

#include <stdlib.h>
#include <string.h>

#include "action.h"
#include "draw.h"
#include "hash.h"
#include "json.h"
#include "util.h"

/* A mark survives user activity for this long, so a change that lands just
 * before a key press is still seen. */
#define LV_MARK_GRACE_MS 2000
/* A filtered list fetches at most this many pages per action looking for
 * matches. */
#define LV_FILTER_PAGES 10

/* ---- key -> hash map (open addressing) ---- */

struct lv_map {
    char **key;
    uint32_t *hash;
    size_t cap, n;
};

static uint32_t fnv(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static struct lv_map *map_new(size_t want)
{
    struct lv_map *m = xcalloc(1, sizeof *m);
    m->cap = 64;
    while (m->cap < want * 2)
        m->cap *= 2;
    m->key = xcalloc(m->cap, sizeof *m->key);
    m->hash = xcalloc(m->cap, sizeof *m->hash);
    return m;
}

static void map_free(struct lv_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        free(m->key[i]);
    free(m->key);
    free(m->hash);
    free(m);
}

static void map_put(struct lv_map *m, const char *k, uint32_t h);

static void map_grow(struct lv_map *m)
{
    struct lv_map old = *m;
    m->cap *= 2;
    m->n = 0;
    m->key = xcalloc(m->cap, sizeof *m->key);
    m->hash = xcalloc(m->cap, sizeof *m->hash);
    for (size_t i = 0; i < old.cap; i++)
        if (old.key[i]) {
            map_put(m, old.key[i], old.hash[i]);
            free(old.key[i]);
        }
    free(old.key);
    free(old.hash);
}

static void map_put(struct lv_map *m, const char *k, uint32_t h)
{
    if ((m->n + 1) * 2 > m->cap)
        map_grow(m);
    size_t i = fnv(k) & (m->cap - 1);
    while (m->key[i]) {
        if (!strcmp(m->key[i], k)) {
            m->hash[i] = h;
            return;
        }
        i = (i + 1) & (m->cap - 1);
    }
    m->key[i] = xstrdup(k);
    m->hash[i] = h;
    m->n++;
}

static bool map_get(const struct lv_map *m, const char *k, uint32_t *h)
{
    if (!m)
        return false;
    size_t i = fnv(k) & (m->cap - 1);
    while (m->key[i]) {
        if (!strcmp(m->key[i], k)) {
            *h = m->hash[i];
            return true;
        }
        i = (i + 1) & (m->cap - 1);
    }
    return false;
}

/* ---- rows ---- */

static void row_key(const struct listview *lv, const cJSON *row, char *buf, size_t cap)
{
    if (lv->cfg.key) {
        lv->cfg.key(row, buf, cap);
        return;
    }
    char *c = json_canonical(row);
    char h[HASH_ID_LEN + 1];
    hash_text(c, h);
    free(c);
    snprintf(buf, cap, "%s", h);
}

/* FNV-1a over a JSON tree in document order, without serialising it: rows
 * of one list come from one query shape, so their member order is stable,
 * and this runs for every row fetched. */
static uint32_t fnv_bytes(uint32_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 16777619u;
    }
    return h;
}

static uint32_t tree_hash(const cJSON *v, uint32_t h)
{
    for (; v; v = v->next) {
        int type = v->type & 0xff;
        h = fnv_bytes(h, &type, sizeof type);
        if (v->string)
            h = fnv_bytes(h, v->string, strlen(v->string) + 1);
        if (cJSON_IsString(v) && v->valuestring)
            h = fnv_bytes(h, v->valuestring, strlen(v->valuestring) + 1);
        else if (cJSON_IsNumber(v))
            h = fnv_bytes(h, &v->valuedouble, sizeof v->valuedouble);
        else if (cJSON_IsArray(v) || cJSON_IsObject(v))
            h = tree_hash(v->child, h) * 16777619u;
    }
    return h;
}

static uint32_t row_hash(const cJSON *row)
{
    return row ? tree_hash(row->child, (uint32_t)(row->type & 0xff) ^ 2166136261u) : 0;
}

static const char *row_cursor(const cJSON *row) { return json_str(row, "cursor", NULL); }

static void clear_rows(struct listview *lv)
{
    for (int i = 0; i < lv->n; i++)
        cJSON_Delete(lv->rows[i]);
    lv->n = 0;
    lv->sel = -1;
    lv->top = 0;
    lv->nvis = 0;
}

static void reserve(struct listview *lv, int n)
{
    if (n <= lv->cap)
        return;
    int cap = lv->cap ? lv->cap : 64;
    while (cap < n)
        cap *= 2;
    lv->rows = xrealloc(lv->rows, (size_t)cap * sizeof *lv->rows);
    lv->mark = xrealloc(lv->mark, (size_t)cap * sizeof *lv->mark);
    lv->vis = xrealloc(lv->vis, (size_t)cap * sizeof *lv->vis);
    lv->cap = cap;
}

void listview_init(struct listview *lv, const struct listview_cfg *cfg)
{
    memset(lv, 0, sizeof *lv);
    lv->cfg = *cfg;
    if (lv->cfg.page <= 0)
        lv->cfg.page = LV_PAGE_DEFAULT;
    lv->sel = -1;
}

void listview_free(struct listview *lv)
{
    clear_rows(lv);
    free(lv->rows);
    free(lv->mark);
    free(lv->vis);
    free(lv->filter);
    map_free(lv->seen);
    memset(lv, 0, sizeof *lv);
}

/* Concatenated cell text of a row, for the filter. */
static bool row_matches(struct listview *lv, const cJSON *row)
{
    if (!lv->filter || !*lv->filter)
        return true;
    struct sbuf b = {0};
    sbuf_add(&b, "", 0);
    for (int c = 0; c < lv->cfg.ncols; c++) {
        int role = ROLE_ROW;
        lv->cfg.cell(lv->cfg.ctx, row, c, &b, &role);
        sbuf_addc(&b, '\x1f');
    }
    bool hit = text_find(b.s, lv->filter) != NULL;
    sbuf_free(&b);
    return hit;
}

static int vis_pos(const struct listview *lv, int row)
{
    for (int i = 0; i < lv->nvis; i++)
        if (lv->vis[i] == row)
            return i;
    return -1;
}

/* Recompute the visible list and keep the selection on a visible row. */
static void refilter(struct listview *lv)
{
    lv->nvis = 0;
    for (int i = 0; i < lv->n; i++)
        if (row_matches(lv, lv->rows[i]))
            lv->vis[lv->nvis++] = i;
    if (lv->nvis == 0) {
        lv->sel = -1;
        lv->top = 0;
        return;
    }
    if (lv->sel < 0 || lv->sel >= lv->n) {
        lv->sel = lv->vis[0];
    } else if (vis_pos(lv, lv->sel) < 0) {
        int best = lv->vis[lv->nvis - 1];
        for (int i = 0; i < lv->nvis; i++)
            if (lv->vis[i] >= lv->sel) {
                best = lv->vis[i];
                break;
            }
        lv->sel = best;
    }
    if (lv->top > lv->nvis - 1)
        lv->top = lv->nvis - 1;
    if (lv->top < 0)
        lv->top = 0;
}

/* Remember the content of rows [from, to) for change marking. */
static void remember_rows(struct listview *lv, int from, int to)
{
    if (!lv->seen)
        lv->seen = map_new((size_t)lv->n + 16);
    char key[512];
    for (int i = from; i < to; i++) {
        row_key(lv, lv->rows[i], key, sizeof key);
        map_put(lv->seen, key, row_hash(lv->rows[i]));
    }
}

/* Remember the content of the current rows (after a full load). */
static void remember(struct listview *lv)
{
    map_free(lv->seen);
    lv->seen = NULL;
    remember_rows(lv, 0, lv->n);
}

/* Rows appended at [from, n): extend the visible list without re-testing
 * the rows already filtered. */
static void filter_appended(struct listview *lv, int from)
{
    for (int i = from; i < lv->n; i++)
        if (row_matches(lv, lv->rows[i]))
            lv->vis[lv->nvis++] = i;
    if (lv->sel < 0 && lv->nvis)
        lv->sel = lv->vis[0];
}

/* Replace the rows with items (consumed), carrying marks over and marking
 * rows that are new or changed when `mark` is set. */
static void install_rows(struct listview *lv, cJSON *items, bool mark)
{
    char selkey[512] = "";
    if (lv->sel >= 0 && lv->sel < lv->n)
        row_key(lv, lv->rows[lv->sel], selkey, sizeof selkey);
    int oldsel = lv->sel;
    /* old marks by key */
    struct lv_map *oldmarks = NULL;
    if (mark) {
        oldmarks = map_new((size_t)lv->n + 16);
        char key[512];
        for (int i = 0; i < lv->n; i++)
            if (lv->mark[i]) {
                row_key(lv, lv->rows[i], key, sizeof key);
                map_put(oldmarks, key, (uint32_t)(lv->mark[i] & 0x7fffffff));
            }
    }
    int64_t now = util_mono_ms();
    clear_rows(lv);
    int n = cJSON_GetArraySize(items);
    reserve(lv, n);
    while (items->child) {
        cJSON *row = cJSON_DetachItemViaPointer(items, items->child);
        lv->rows[lv->n] = row;
        lv->mark[lv->n] = 0;
        if (mark) {
            char key[512];
            row_key(lv, row, key, sizeof key);
            uint32_t h, m;
            if (map_get(oldmarks, key, &m))
                lv->mark[lv->n] = now; /* still unseen */
            else if (!map_get(lv->seen, key, &h) || h != row_hash(row))
                lv->mark[lv->n] = now;
        }
        lv->n++;
    }
    cJSON_Delete(items);
    map_free(oldmarks);
    lv->sel = -1;
    if (selkey[0])
        for (int i = 0; i < lv->n; i++) {
            char key[512];
            row_key(lv, lv->rows[i], key, sizeof key);
            if (!strcmp(key, selkey)) {
                lv->sel = i;
                break;
            }
        }
    if (lv->sel < 0 && lv->n)
        lv->sel = oldsel < 0 ? 0 : oldsel >= lv->n ? lv->n - 1 : oldsel;
    refilter(lv);
    remember(lv);
}

static int fetch(struct ui *ui, struct listview *lv, const char *cursor, enum lv_dir dir,
                 int limit, cJSON **items, char **next)
{
    struct dse_err err = {0};
    *items = NULL;
    *next = NULL;
    int rc = lv->cfg.fetch ? lv->cfg.fetch(lv->cfg.ctx, cursor, dir, limit, items, next, &err)
                           : listview_fetch_all(ui, lv->cfg.sig_list.op, ui_sig_args(ui),
                                                lv->cfg.sig_list.key, items, next, &err);
    if (rc < 0) {
        char buf[600];
        snprintf(lv->err, sizeof lv->err, "%s", dse_err_str(&err, buf, sizeof buf));
        ui_err(ui, &err);
        return -1;
    }
    if (!*items)
        *items = json_arr();
    lv->err[0] = 0;
    return 0;
}

int listview_reset(struct ui *ui, struct listview *lv)
{
    cJSON *items;
    char *next;
    clear_rows(lv);
    map_free(lv->seen);
    lv->seen = NULL;
    lv->more_back = lv->more_fwd = false;
    lv->loaded = true;
    if (fetch(ui, lv, NULL, LV_FWD, lv->cfg.page, &items, &next) < 0)
        return -1;
    lv->more_fwd = lv->cfg.paged && next != NULL;
    free(next);
    install_rows(lv, items, false);
    return 0;
}

static int reset_marked(struct ui *ui, struct listview *lv);

int listview_reload(struct ui *ui, struct listview *lv)
{
    if (!lv->loaded || !lv->n)
        return lv->loaded ? reset_marked(ui, lv) : listview_reset(ui, lv);
    cJSON *items, *more;
    char *next = NULL;
    if (!lv->cfg.paged) {
        if (fetch(ui, lv, NULL, LV_FWD, 0, &items, &next) < 0)
            return -1;
        free(next);
        install_rows(lv, items, true);
        return 0;
    }
    /* Re-read the same window: from the row above the first one (or the
     * head), as many rows as we hold, in pages the store accepts. */
    char *start = NULL;
    if (lv->more_back) {
        const char *c0 = row_cursor(lv->rows[0]);
        if (fetch(ui, lv, c0, LV_BACK, 1, &more, &next) < 0)
            return -1;
        free(next);
        next = NULL;
        if (cJSON_GetArraySize(more) > 0 && row_cursor(more->child))
            start = xstrdup(row_cursor(more->child));
        cJSON_Delete(more);
    }
    /* Rows that arrived above push the window's rows down: read on until
     * the selected row is back in (bounded), so the cursor stays on its row
     * (same key) rather than on its index. */
    int want = lv->n < lv->cfg.page ? lv->cfg.page : lv->n;
    char selkey[512] = "";
    if (lv->sel >= 0 && lv->sel < lv->n)
        row_key(lv, lv->rows[lv->sel], selkey, sizeof selkey);
    bool seen_sel = !selkey[0];
    items = json_arr();
    char *cur = start;
    bool end = false;
    int count = 0;
    while (count < want || (!seen_sel && count < want + LV_WINDOW_MAX)) {
        int lim = (count < want ? want : count + lv->cfg.page) - count;
        if (lim > 500)
            lim = 500;
        if (fetch(ui, lv, cur, LV_FWD, lim, &more, &next) < 0) {
            cJSON_Delete(items);
            free(cur);
            return -1;
        }
        while (more->child) {
            cJSON *row = cJSON_DetachItemViaPointer(more, more->child);
            if (!seen_sel) {
                char k[512];
                row_key(lv, row, k, sizeof k);
                seen_sel = !strcmp(k, selkey);
            }
            cJSON_AddItemToArray(items, row);
            count++;
        }
        cJSON_Delete(more);
        free(cur);
        cur = next;
        if (!next) {
            end = true;
            break;
        }
    }
    free(cur);
    /* Over the window bound: rows at the top give way, down to the
     * selected one; then rows at the bottom. */
    bool dropped = false;
    while (count > LV_WINDOW_MAX) {
        char k[512];
        row_key(lv, items->child, k, sizeof k);
        if (strcmp(k, selkey) != 0) {
            cJSON_DeleteItemFromArray(items, 0);
            dropped = true;
        } else {
            cJSON_DeleteItemFromArray(items, count - 1);
            end = false;
        }
        count--;
    }
    lv->more_fwd = !end;
    lv->more_back = start != NULL || dropped;
    install_rows(lv, items, true);
    return 0;
}

/* A list that loaded empty: reload it whole but mark what appears. */
static int reset_marked(struct ui *ui, struct listview *lv)
{
    cJSON *items;
    char *next;
    if (fetch(ui, lv, NULL, LV_FWD, lv->cfg.page, &items, &next) < 0)
        return -1;
    lv->more_fwd = lv->cfg.paged && next != NULL;
    lv->more_back = false;
    free(next);
    install_rows(lv, items, lv->seen != NULL);
    return 0;
}

void listview_seen(struct listview *lv)
{
    int64_t now = util_mono_ms();
    for (int i = 0; i < lv->n; i++)
        if (lv->mark[i] && now - lv->mark[i] >= LV_MARK_GRACE_MS)
            lv->mark[i] = 0;
}

/* ---- paging at the window edges ---- */

/* Rows that left the window must not keep the change map growing: rebuild
 * it from the window when it holds twice as many keys (amortised). */
static void prune_seen(struct listview *lv)
{
    if (lv->seen && lv->seen->n > 2 * (size_t)lv->n + 256)
        remember(lv);
}

static void drop_front(struct listview *lv, int k)
{
    if (k <= 0)
        return;
    for (int i = 0; i < k; i++)
        cJSON_Delete(lv->rows[i]);
    memmove(lv->rows, lv->rows + k, (size_t)(lv->n - k) * sizeof *lv->rows);
    memmove(lv->mark, lv->mark + k, (size_t)(lv->n - k) * sizeof *lv->mark);
    lv->n -= k;
    lv->sel -= k;
    if (lv->sel < 0)
        lv->sel = lv->n ? 0 : -1;
    lv->more_back = true;
    prune_seen(lv);
}

static void drop_back(struct listview *lv, int k)
{
    if (k <= 0)
        return;
    for (int i = lv->n - k; i < lv->n; i++)
        cJSON_Delete(lv->rows[i]);
    lv->n -= k;
    if (lv->sel >= lv->n)
        lv->sel = lv->n - 1;
    lv->more_fwd = true;
    prune_seen(lv);
}

static int load_fwd(struct ui *ui, struct listview *lv)
{
    if (!lv->cfg.paged || !lv->more_fwd || !lv->n)
        return 0;
    cJSON *items;
    char *next;
    if (fetch(ui, lv, row_cursor(lv->rows[lv->n - 1]), LV_FWD, lv->cfg.page, &items, &next) < 0)
        return -1;
    lv->more_fwd = next != NULL;
    free(next);
    int add = cJSON_GetArraySize(items);
    reserve(lv, lv->n + add);
    int first = lv->n;
    while (items->child) {
        lv->rows[lv->n] = cJSON_DetachItemViaPointer(items, items->child);
        lv->mark[lv->n] = 0;
        lv->n++;
    }
    cJSON_Delete(items);
    remember_rows(lv, first, lv->n);
    if (lv->n > LV_WINDOW_MAX) {
        int pos = vis_pos(lv, lv->sel);
        int k = lv->n - LV_WINDOW_MAX;
        drop_front(lv, k);
        refilter(lv);
        int np = vis_pos(lv, lv->sel);
        lv->top -= (pos - np);
        if (lv->top < 0)
            lv->top = 0;
    } else {
        filter_appended(lv, first);
    }
    return add;
}

/* BACK pages come nearest-first: the rows of items (consumed), reversed,
 * into rows[0 .. size of items), unmarked. */
static void put_back_page(struct listview *lv, cJSON *items)
{
    int i = cJSON_GetArraySize(items) - 1;
    while (items->child) {
        lv->rows[i] = cJSON_DetachItemViaPointer(items, items->child);
        lv->mark[i] = 0;
        i--;
    }
    cJSON_Delete(items);
}

static int load_back(struct ui *ui, struct listview *lv)
{
    if (!lv->cfg.paged || !lv->more_back || !lv->n)
        return 0;
    cJSON *items;
    char *next;
    if (fetch(ui, lv, row_cursor(lv->rows[0]), LV_BACK, lv->cfg.page, &items, &next) < 0)
        return -1;
    int add = cJSON_GetArraySize(items);
    lv->more_back = next != NULL && add > 0;
    free(next);
    reserve(lv, lv->n + add);
    memmove(lv->rows + add, lv->rows, (size_t)lv->n * sizeof *lv->rows);
    memmove(lv->mark + add, lv->mark, (size_t)lv->n * sizeof *lv->mark);
    put_back_page(lv, items); /* the first item goes just above row 0 */
    lv->n += add;
    lv->sel += add;
    int oldtop_row = lv->nvis ? lv->vis[lv->top < lv->nvis ? lv->top : 0] + add : 0;
    if (lv->n > LV_WINDOW_MAX)
        drop_back(lv, lv->n - LV_WINDOW_MAX);
    refilter(lv);
    int tp = vis_pos(lv, oldtop_row);
    lv->top = tp >= 0 ? tp : 0;
    remember_rows(lv, 0, add < lv->n ? add : lv->n);
    return add;
}

static int load_end(struct ui *ui, struct listview *lv)
{
    cJSON *items;
    char *next;
    if (fetch(ui, lv, NULL, LV_BACK, lv->cfg.page, &items, &next) < 0)
        return -1;
    clear_rows(lv);
    int add = cJSON_GetArraySize(items);
    reserve(lv, add);
    put_back_page(lv, items);
    lv->n = add;
    lv->more_back = next != NULL;
    lv->more_fwd = false;
    free(next);
    lv->sel = add - 1;
    refilter(lv);
    remember(lv);
    return 0;
}

/* ---- navigation ---- */

static void scroll_to_sel(struct listview *lv)
{
    int h = lv->height > 0 ? lv->height : 10;
    int pos = vis_pos(lv, lv->sel);
    if (pos < 0)
        return;
    if (pos < lv->top)
        lv->top = pos;
    if (pos >= lv->top + h)
        lv->top = pos - h + 1;
    if (lv->top < 0)
        lv->top = 0;
}

void listview_move(struct ui *ui, struct listview *lv, int delta)
{
    if (lv->nvis == 0)
        return;
    int pos = vis_pos(lv, lv->sel);
    if (pos < 0)
        pos = 0;
    int target = pos + delta;
    int h = lv->height > 0 ? lv->height : 10;
    /* Fetch ahead when the target nears a window edge. */
    for (int tries = 0; target > lv->nvis - 1 - h && lv->more_fwd && tries < LV_FILTER_PAGES;
         tries++) {
        if (load_fwd(ui, lv) < 0)
            break;
        pos = vis_pos(lv, lv->sel);
        target = pos + delta;
    }
    for (int tries = 0; target < h && lv->more_back && tries < LV_FILTER_PAGES; tries++) {
        int before = vis_pos(lv, lv->sel);
        if (load_back(ui, lv) <= 0)
            break;
        int after = vis_pos(lv, lv->sel);
        target += after - before;
        pos = after;
    }
    if (target < 0)
        target = 0;
    if (target > lv->nvis - 1)
        target = lv->nvis - 1;
    lv->sel = lv->vis[target];
    scroll_to_sel(lv);
}

int listview_key(struct ui *ui, struct listview *lv, int action)
{
    int h = lv->height > 0 ? lv->height : 10;
    switch (action) {
    case ACT_UP: listview_move(ui, lv, -1); break;
    case ACT_DOWN: listview_move(ui, lv, 1); break;
    case ACT_PAGE_UP:
        listview_move(ui, lv, -h);
        break;
    case ACT_PAGE_DOWN:
        listview_move(ui, lv, h);
        break;
    case ACT_TOP:
        if (lv->cfg.paged && lv->more_back)
            listview_reset(ui, lv);
        if (lv->nvis) {
            lv->sel = lv->vis[0];
            lv->top = 0;
        }
        break;
    case ACT_BOTTOM:
        if (lv->cfg.paged && lv->more_fwd)
            load_end(ui, lv);
        if (lv->nvis) {
            lv->sel = lv->vis[lv->nvis - 1];
            scroll_to_sel(lv);
        }
        break;
    default: return UI_PASS;
    }
    return UI_HANDLED | UI_REDRAW;
}

bool listview_idle(struct ui *ui, struct listview *lv)
{
    if (lv->fill <= 0)
        return false;
    if (!lv->filter || !lv->more_fwd || lv->nvis >= (lv->height > 0 ? lv->height : 10)) {
        lv->fill = 0;
        return false;
    }
    lv->fill--;
    if (load_fwd(ui, lv) < 0)
        lv->fill = 0;
    return true;
}

const cJSON *listview_selected(const struct listview *lv)
{
    if (lv->sel < 0 || lv->sel >= lv->n || vis_pos(lv, lv->sel) < 0)
        return NULL;
    return lv->rows[lv->sel];
}

/* Set the filter text without moving the window (resume restores the
 * selected row itself). */
static void put_filter(struct listview *lv, const char *text)
{
    free(lv->filter);
    lv->filter = text && *text ? xstrdup(text) : NULL;
    refilter(lv);
    /* A filter over a paged source looks a few pages ahead for matches, one
     * page per loop pass (listview_idle), never all at once. */
    lv->fill = lv->filter && lv->cfg.paged ? LV_FILTER_PAGES : 0;
}

int listview_set_filter(struct ui *ui, struct listview *lv, const char *text)
{
    bool filtering = text && *text;
    /* A filter searches the whole list from the top, wherever the cursor
     * was: a window that no longer starts at the head is read again from
     * it, and the cursor goes to the first match.  Clearing the filter
     * keeps the cursor on its row. */
    if (filtering && lv->cfg.paged && lv->more_back) {
        free(lv->filter);
        lv->filter = NULL;
        listview_reset(ui, lv);
    }
    put_filter(lv, text);
    if (filtering) {
        lv->sel = lv->nvis ? lv->vis[0] : -1;
        lv->top = 0;
    }
    scroll_to_sel(lv);
    return UI_HANDLED | UI_REDRAW;
}

bool listview_select_key(struct listview *lv, const char *key)
{
    char k[512];
    for (int i = 0; i < lv->n; i++) {
        row_key(lv, lv->rows[i], k, sizeof k);
        if (!strcmp(k, key) && vis_pos(lv, i) >= 0) {
            lv->sel = i;
            scroll_to_sel(lv);
            return true;
        }
    }
    return false;
}

/* ---- drawing ---- */

/* Column widths for w columns; a column that does not fit gets 0. */
static void layout_cols(const struct listview *lv, int w, int *out)
{
    int n = lv->cfg.ncols;
    int used = 2; /* marker + space */
    int shown = n;
    for (;;) {
        used = 2;
        for (int c = 0; c < shown; c++) {
            const struct lv_col *col = &lv->cfg.cols[c];
            int need = col->width ? col->width : col->min;
            /* while columns to its right compete, the main text asks for more */
            if (!col->width && col->want > need && c < shown - 1)
                need = col->want;
            used += need + (c ? 1 : 0);
        }
        if (used <= w || shown == 1)
            break;
        shown--;
    }
    /* Room beyond the minimum widths of the shown columns. */
    int base = 2;
    for (int c = 0; c < shown; c++)
        base += (lv->cfg.cols[c].width ? lv->cfg.cols[c].width : lv->cfg.cols[c].min) + (c ? 1 : 0);
    int extra = w - base;
    /* Spare room goes to the shown flexible columns in proportion to what
     * they want (want, else min). */
    int total_want = 0, last_flex = -1;
    for (int c = 0; c < shown; c++) {
        const struct lv_col *col = &lv->cfg.cols[c];
        if (!col->width) {
            total_want += col->want > col->min ? col->want : col->min;
            last_flex = c;
        }
    }
    int left = extra > 0 ? extra : 0;
    for (int c = 0; c < n; c++) {
        const struct lv_col *col = &lv->cfg.cols[c];
        if (c >= shown) {
            out[c] = 0;
            continue;
        }
        out[c] = col->width ? col->width : col->min;
        if (!col->width && total_want > 0 && extra > 0) {
            int wnt = col->want > col->min ? col->want : col->min;
            int share = c == last_flex ? left : extra * wnt / total_want;
            out[c] += share;
            left -= share;
        }
    }
    if (last_flex >= 0)
        extra = 0;
    if (shown == 1 && used > w)
        out[0] = w - 2 > 0 ? w - 2 : 0;
    /* Leftover (no flexible column) goes to the last shown column. */
    if (extra > 0 && shown > 0 && lv->cfg.cols[shown - 1].width)
        out[shown - 1] += extra;
}

void listview_draw(struct ui *ui, struct listview *lv, WINDOW *win, int y, int x, int h, int w,
                   bool focused)
{
    if (h <= 0 || w <= 0)
        return;
    int widths[32];
    int n = lv->cfg.ncols < 32 ? lv->cfg.ncols : 32;
    layout_cols(lv, w, widths);
    /* header */
    draw_fill(ui, win, y, x, w, ROLE_COLUMN);
    int cx = x + 2;
    for (int c = 0; c < n; c++) {
        if (!widths[c])
            continue;
        draw_clean(ui, win, y, cx, widths[c], ROLE_COLUMN, lv->cfg.cols[c].title,
                   lv->cfg.cols[c].align);
        cx += widths[c] + 1;
    }
    int rows = h - 1;
    lv->height = rows;
    scroll_to_sel(lv);
    if (lv->nvis == 0) {
        for (int r = 0; r < rows; r++)
            draw_fill(ui, win, y + 1 + r, x, w, ROLE_DEFAULT);
        if (rows > 0) {
            const char *msg = lv->err[0] ? lv->err : lv->filter ? "(no rows match the filter)"
                              : lv->cfg.empty                 ? lv->cfg.empty
                                                              : "(no rows)";
            draw_text(ui, win, y + 1, x + 2, w - 2, lv->err[0] ? ROLE_ERROR : ROLE_DIM, msg,
                      TEXT_LEFT);
        }
        return;
    }
    struct sbuf cell = {0};
    for (int r = 0; r < rows; r++) {
        int pos = lv->top + r;
        int ry = y + 1 + r;
        if (pos >= lv->nvis) {
            draw_fill(ui, win, ry, x, w, ROLE_DEFAULT);
            continue;
        }
        int idx = lv->vis[pos];
        const cJSON *row = lv->rows[idx];
        bool sel = idx == lv->sel;
        bool marked = lv->mark[idx] != 0;
        int base = sel ? (focused ? ROLE_ROW_SELECTED : ROLE_ROW_SELECTED_DIM)
                   : marked ? ROLE_ROW_CHANGED
                            : ROLE_ROW;
        draw_fill(ui, win, ry, x, w, base);
        draw_clean(ui, win, ry, x, 2, marked ? ROLE_ROW_CHANGED : base, marked ? "*" : "",
                   TEXT_LEFT);
        if (sel)
            draw_clean(ui, win, ry, x, 2, base, marked ? "*" : (ui->ascii ? ">" : "\xe2\x96\xb8"),
                       TEXT_LEFT);
        cx = x + 2;
        for (int c = 0; c < n; c++) {
            if (!widths[c])
                continue;
            sbuf_reset(&cell);
            sbuf_add(&cell, "", 0);
            int role = base;
            lv->cfg.cell(lv->cfg.ctx, row, c, &cell, &role);
            if (sel || marked)
                role = base;
            draw_text(ui, win, ry, cx, widths[c], role, cell.s, lv->cfg.cols[c].align);
            cx += widths[c] + 1;
        }
    }
    sbuf_free(&cell);
}

void listview_position(const struct listview *lv, char *buf, size_t cap)
{
    int pos = vis_pos(lv, lv->sel);
    if (lv->nvis == 0) {
        snprintf(buf, cap, "0 rows");
        return;
    }
    snprintf(buf, cap, "%s%d/%d%s", lv->more_back ? "..." : "", pos + 1, lv->nvis,
             lv->more_fwd ? "+" : "");
}

/* ---- resume ---- */

char *listview_anchor(const struct listview *lv, char **key)
{
    *key = NULL;
    const cJSON *row = listview_selected(lv);
    if (!row)
        return NULL;
    char k[512];
    row_key(lv, row, k, sizeof k);
    *key = xstrdup(k);
    const char *c = lv->cfg.paged ? row_cursor(row) : NULL;
    return c ? xstrdup(c) : NULL;
}

int listview_restore(struct ui *ui, struct listview *lv, const char *anchor, const char *key)
{
    if (!lv->cfg.paged || !anchor) {
        if (!lv->loaded && listview_reset(ui, lv) < 0)
            return -1;
        if (key)
            listview_select_key(lv, key);
        return 0;
    }
    /* Rows above the saved one (keyset, so this is as fast deep in the
     * table), then a page from the saved row down. */
    cJSON *back, *items;
    char *next = NULL, *start = NULL;
    clear_rows(lv);
    map_free(lv->seen);
    lv->seen = NULL;
    lv->loaded = true;
    if (fetch(ui, lv, anchor, LV_BACK, lv->cfg.page / 2, &back, &next) < 0)
        return -1;
    lv->more_back = next != NULL && cJSON_GetArraySize(back) > 0;
    free(next);
    next = NULL;
    if (cJSON_GetArraySize(back) > 0 && row_cursor(back->child))
        start = xstrdup(row_cursor(back->child));
    if (fetch(ui, lv, start, LV_FWD, lv->cfg.page, &items, &next) < 0) {
        free(start);
        cJSON_Delete(back);
        return -1;
    }
    lv->more_fwd = next != NULL;
    free(next);
    free(start);
    /* back is nearest-first: prepend it reversed */
    while (back->child) {
        cJSON *r = cJSON_DetachItemViaPointer(back, back->child);
        cJSON_InsertItemInArray(items, 0, r);
    }
    cJSON_Delete(back);
    install_rows(lv, items, false);
    if (key)
        listview_select_key(lv, key);
    return 0;
}

void listview_state_save(const struct listview *lv, cJSON *st)
{
    char *key = NULL, *anchor = listview_anchor(lv, &key);
    if (key)
        json_set_str(st, "key", key);
    if (anchor)
        json_set_str(st, "anchor", anchor);
    if (lv->filter)
        json_set_str(st, "filter", lv->filter);
    free(key);
    free(anchor);
}

int listview_state_restore(struct ui *ui, struct listview *lv, const cJSON *st)
{
    int rc = listview_restore(ui, lv, json_str(st, "anchor", NULL), json_str(st, "key", NULL));
    const char *f = json_str(st, "filter", NULL);
    if (rc == 0 && f) {
        const char *key = json_str(st, "key", NULL);
        put_filter(lv, f);
        if (key)
            listview_select_key(lv, key);
        scroll_to_sel(lv);
    }
    return rc;
}

/* ---- shared bodies of the panes' list callbacks ---- */

int listview_fetch_all(struct ui *ui, enum store_op op, cJSON *args, const char *key,
                       cJSON **items, char **next, struct dse_err *err)
{
    *next = NULL;
    cJSON *out = NULL;
    json_set_num(args, "limit", 200);
    int rc = store_call(ui->st, op, args, &out, err);
    cJSON_Delete(args);
    if (rc < 0)
        return -1;
    *items = cJSON_DetachItemFromObjectCaseSensitive(out, key);
    cJSON_Delete(out);
    return 0;
}

int listview_fetch_page(struct ui *ui, enum store_op op, cJSON *args, const char *cursor,
                        const char *dir, int limit, cJSON **items, char **next,
                        struct dse_err *err)
{
    cJSON *out = NULL;
    if (cursor)
        json_set_str(args, "cursor", cursor);
    json_set_str(args, "dir", dir);
    json_set_num(args, "limit", limit > 0 ? limit : 100);
    int rc = store_call(ui->st, op, args, &out, err);
    cJSON_Delete(args);
    if (rc < 0)
        return -1;
    *items = cJSON_DetachItemFromObjectCaseSensitive(out, "items");
    const char *nc = json_str(out, "nextCursor", NULL);
    *next = nc ? xstrdup(nc) : NULL;
    cJSON_Delete(out);
    return 0;
}

int listview_filter(struct ui *ui, struct listview *lv, const char *text)
{
    if (!text && !lv->filter)
        return UI_PASS;
    return listview_set_filter(ui, lv, text);
}

bool listview_sig_load(struct ui *ui, struct listview *lv, char *sig, size_t cap)
{
    /* Same signature: reload in place (marks changes); another: start over. */
    if (lv->loaded && !strcmp(sig, ui->sig)) {
        listview_reload(ui, lv);
        return false;
    }
    snprintf(sig, cap, "%s", ui->sig);
    listview_reset(ui, lv);
    return true;
}

void listview_sig_save(const struct listview *lv, const char *sig, cJSON *st)
{
    listview_state_save(lv, st);
    json_set_str(st, "signatureId", sig);
}

bool listview_sig_restore(struct ui *ui, struct listview *lv, char *sig, size_t cap,
                          const cJSON *st)
{
    if (!ui->sig || strcmp(json_str(st, "signatureId", ""), ui->sig))
        return false;
    snprintf(sig, cap, "%s", ui->sig);
    listview_state_restore(ui, lv, st);
    return true;
}
