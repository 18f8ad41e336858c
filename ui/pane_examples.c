/* pane_examples: keyboard labeling of a signature's examples.
 *
 *   a / x     accept / reject (meta.review.status)
 *   ! @ # $ % ^ & * (   (Shift+1..9; label-1..label-9 in the keymap)
 *             expected output := the signature's value N (catalog
 *             labelValues, else values enumerable from the output schema,
 *             else the dataset's most frequent expected values)
 *   e         edit the expected JSON in $EDITOR; the result must parse and
 *             match the output schema, otherwise the editor reopens with the
 *             error on top; nothing is written until it is valid
 *   s         cycle the split train <-> holdout
 *   Space     skip;  u  undo (several levels)
 *
 * Each decision is one dse/examples:putExample of the whole row (an
 * upsert), remembered with the row as it was, so undo writes that row
 * back.  The cursor advances after every decision; progress (labeled /
 * total from dsex/examples:counts) is always on screen.  The list pages by
 * exampleId (keyset) and keeps a bounded window. */
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "draw.h"
#include "fmt.h"
#include "json.h"
#include "jsonschema.h"
#include "listview.h"
#include "rules.h"
#include "util.h"

/* The separator between facts on one line (ASCII in ASCII mode). */
#define DOT text_dot()

#define UNDO_MAX 100
#define NVALUES 9

struct examples {
    struct listview lv;
    char sig[256];
    cJSON *counts;
    cJSON *values;          /* label values for 1..9 */
    const char *values_src; /* "catalog", "schema", "dataset", NULL */
    cJSON *undo[UNDO_MAX];  /* rows as they were before each decision */
    int nundo;
    struct stale stale; /* the store did not answer the last load */
};

static const struct lv_col cols[] = {
    {"EXAMPLE", 0, 12, TEXT_LEFT, 30}, {"SPLIT", 7, 0, TEXT_LEFT, 0}, {"REVIEW", 8, 0, TEXT_LEFT, 0},
    {"EXPECTED", 0, 16, TEXT_LEFT, 30},
};

static void ex_key(const cJSON *row, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", json_str(row, "exampleId", ""));
}

static const char *review_of(const cJSON *row)
{
    return json_str(json_path(row, "meta.review"), "status", NULL);
}

/* A short label for a value: the scalar values of a flat object joined by
 * '/' ({"action":"tool","toolName":"user_update"} -> tool/user_update),
 * else canonical JSON. */
static const char *value_label(const cJSON *v, char *buf, size_t cap)
{
    if (cJSON_IsObject(v) && v->child) {
        struct sbuf b = {0};
        sbuf_add(&b, "", 0);
        bool flat = true;
        for (const cJSON *c = v->child; c && flat; c = c->next) {
            char one[128];
            if (cJSON_IsObject(c) || cJSON_IsArray(c))
                flat = false;
            else
                sbuf_printf(&b, "%s%s", b.len ? "/" : "", cJSON_IsString(c) ? c->valuestring
                                                         : fmt_json(c, one, sizeof one));
        }
        if (flat) {
            snprintf(buf, cap, "%s", b.s);
            sbuf_free(&b);
            return buf;
        }
        sbuf_free(&b);
    }
    return fmt_json(v, buf, cap);
}

static void cell(void *ctx, const cJSON *row, int col, struct sbuf *out, int *role)
{
    (void)ctx;
    char buf[512];
    switch (col) {
    case 0: sbuf_adds(out, json_str(row, "exampleId", "?")); break;
    case 1: {
        const char *s = json_str(row, "split", "-");
        sbuf_adds(out, s);
        if (!strcmp(s, "holdout") || !strcmp(s, "dev"))
            *role = ROLE_WARN;
        break;
    }
    case 2: {
        const char *r = review_of(row);
        sbuf_adds(out, r ? r : "-");
        *role = !r ? ROLE_DIM : !strcmp(r, "accepted") ? ROLE_OK : ROLE_ERROR;
        break;
    }
    case 3: sbuf_adds(out, value_label(json_get(row, "expectedJson"), buf, sizeof buf)); break;
    default: break;
    }
}

static int fetch(void *ctx, const char *cursor, enum lv_dir dir, int limit, cJSON **items,
                 char **next, struct dse_err *err)
{
    struct pane *p = ctx;
    return listview_fetch_page(p->ui, STORE_OP_x_examples_page, ui_sig_args(p->ui), cursor,
                               dir == LV_FWD ? "next" : "prev", limit, items, next, err);
}

static void init(struct pane *p)
{
    struct examples *e = p->priv;
    struct listview_cfg cfg = {.cols = cols,
                               .ncols = (int)(sizeof cols / sizeof cols[0]),
                               .cell = cell,
                               .key = ex_key,
                               .fetch = fetch,
                               .paged = true,
                               .page = 100,
                               .ctx = p,
                               .empty = "(no examples: dse examples import FILE --signature ID)"};
    listview_init(&e->lv, &cfg);
}

static void clear_undo(struct examples *e)
{
    for (int i = 0; i < e->nundo; i++)
        cJSON_Delete(e->undo[i]);
    e->nundo = 0;
}

static void pfree(struct pane *p)
{
    struct examples *e = p->priv;
    listview_free(&e->lv);
    cJSON_Delete(e->counts);
    cJSON_Delete(e->values);
    clear_undo(e);
}

/* Values for label-1..label-9: catalog, schema, else the most frequent expected
 * values among the first 500 examples. */
static void load_values(struct pane *p)
{
    struct examples *e = p->priv;
    cJSON_Delete(e->values);
    e->values = rules_label_values(ui_signature(p->ui), NVALUES, &e->values_src);
    if (e->values)
        return;
    cJSON *a = ui_sig_args(p->ui), *out = NULL;
    json_set_num(a, "limit", 500);
    if (ui_call(p->ui, STORE_OP_examples_list, a, &out) == 0) {
        cJSON *vals = json_arr();
        const cJSON *row;
        cJSON_ArrayForEach(row, json_get(out, "examples"))
            if (json_get(row, "expectedJson"))
                cJSON_AddItemToArray(vals, json_dup(json_get(row, "expectedJson")));
        e->values = rules_top_values(vals, NVALUES);
        e->values_src = e->values ? "dataset" : NULL;
        cJSON_Delete(vals);
    }
    cJSON_Delete(out);
}

/* Counts of the selected signature.  When the store does not answer, the
 * counts read last stay (the pane is marked stale) rather than zeros. */
static bool load_counts(struct pane *p)
{
    struct examples *e = p->priv;
    cJSON *c = NULL;
    if (ui_call(p->ui, STORE_OP_x_examples_counts, ui_sig_args(p->ui), &c) < 0)
        return false;
    cJSON_Delete(e->counts);
    e->counts = c;
    return true;
}

static int on_data(struct pane *p)
{
    struct examples *e = p->priv;
    struct ui *ui = p->ui;
    if (!ui->sig)
        return UI_REDRAW;
    if (listview_sig_load(ui, &e->lv, e->sig, sizeof e->sig)) {
        clear_undo(e);
        load_values(p);
        cJSON_Delete(e->counts); /* another signature: old counts are not its */
        e->counts = NULL;
    }
    bool ok = load_counts(p);
    stale_result(&e->stale, ok && !e->lv.err[0]);
    return UI_REDRAW;
}

/* ---- writing ---- */

static cJSON *put_args(const char *sig, const cJSON *row)
{
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", sig);
    json_set_str(a, "exampleId", json_str(row, "exampleId", ""));
    static const char *const fields[] = {"inputJson", "expectedJson", "split", "tags", "source",
                                         "meta"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const cJSON *v = json_get(row, fields[i]);
        if (v && !cJSON_IsNull(v))
            json_set_copy(a, fields[i], v);
    }
    return a;
}

/* Echo the CLI command equivalent to writing `row`: a bare review change
 * is `examples review`; anything else is the whole row as `examples put`
 * (putExample clears absent fields, so split, tags and meta go along). */
static const char *echo_put(struct ui *ui, const char *sig, const cJSON *row, const char *what)
{
    const char *id = json_str(row, "exampleId", "");
    if (!strcmp(what, "accepted") || !strcmp(what, "rejected"))
        return ui_echo(ui, "examples review --signature %s --id %s --status %s", ui_shq(sig),
                       ui_shq(id), what);
    char in[400], ex[400], meta[600], tags[300];
    char split[40] = "", metaarg[620] = "", tagarg[320] = "";
    const char *sp = json_str(row, "split", NULL);
    if (sp)
        snprintf(split, sizeof split, " --split %s", sp);
    const cJSON *m = json_get(row, "meta");
    if (cJSON_IsObject(m) && m->child)
        snprintf(metaarg, sizeof metaarg, " --meta %s", ui_shq(fmt_json(m, meta, sizeof meta)));
    const cJSON *t = json_get(row, "tags");
    if (cJSON_IsArray(t) && t->child) {
        size_t off = 0;
        const cJSON *tag;
        tags[0] = 0;
        cJSON_ArrayForEach(tag, t)
        {
            if (cJSON_IsString(tag) && off + strlen(tag->valuestring) + 2 < sizeof tags)
                off += (size_t)snprintf(tags + off, sizeof tags - off, "%s%s", off ? "," : "",
                                        tag->valuestring);
        }
        snprintf(tagarg, sizeof tagarg, " --tags %s", ui_shq(tags));
    }
    return ui_echo(ui, "examples put --signature %s --id %s --input %s --expected %s%s%s%s  # %s",
                   ui_shq(sig), ui_shq(id), ui_shq(fmt_json(json_get(row, "inputJson"), in, sizeof in)),
                   ui_shq(fmt_json(json_get(row, "expectedJson"), ex, sizeof ex)), split, tagarg,
                   metaarg, what);
}

/* Write `after` (consumed) in place of `before`, remember `before` for
 * undo, echo the CLI equivalent, advance.  Returns true when written. */
static bool decide(struct pane *p, const cJSON *before, cJSON *after, const char *what,
                   bool advance)
{
    struct examples *e = p->priv;
    struct ui *ui = p->ui;
    if (!ui_can_write(ui, "labeling")) {
        cJSON_Delete(after);
        return false;
    }
    if (ui_call(ui, STORE_OP_examples_put, put_args(e->sig, after), NULL) < 0) {
        cJSON_Delete(after);
        return false;
    }
    if (e->nundo == UNDO_MAX) {
        cJSON_Delete(e->undo[0]);
        memmove(e->undo, e->undo + 1, (UNDO_MAX - 1) * sizeof *e->undo);
        e->nundo--;
    }
    e->undo[e->nundo++] = json_dup(before);
    const char *cmd = echo_put(ui, e->sig, after, what);
    ui_msg(ui, ROLE_OK, "%s: %s   %s", json_str(after, "exampleId", ""), what, cmd);
    cJSON_Delete(after);
    if (advance)
        listview_move(ui, &e->lv, 1);
    p->stale = true;
    return true;
}

static cJSON *with_review(const cJSON *row, const char *status, struct ui *ui)
{
    cJSON *after = json_dup(row);
    cJSON_DeleteItemFromObjectCaseSensitive(after, "cursor");
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(after, "meta");
    if (!cJSON_IsObject(meta)) {
        cJSON_DeleteItemFromObjectCaseSensitive(after, "meta");
        meta = json_obj();
        cJSON_AddItemToObject(after, "meta", meta);
    }
    cJSON *rev = json_obj();
    json_set_str(rev, "status", status);
    json_set_num(rev, "atMs", (double)util_now_ms());
    if (ui->st->actor[0])
        json_set_str(rev, "by", ui->st->actor);
    json_set(meta, "review", rev);
    return after;
}

static void label_value(struct pane *p, const cJSON *row, int n)
{
    struct examples *e = p->priv;
    const cJSON *v = cJSON_GetArrayItem(e->values, n - 1);
    if (!v) {
        ui_msg(p->ui, ROLE_WARN, "no output value %d for this signature (%d known%s%s)", n,
               cJSON_GetArraySize(e->values), e->values_src ? ", from " : "",
               e->values_src ? e->values_src : "");
        return;
    }
    cJSON *after = with_review(row, "accepted", p->ui);
    json_set_copy(after, "expectedJson", v);
    char what[300], vb[200];
    snprintf(what, sizeof what, "expected := %s (value %d), accepted", fmt_json(v, vb, sizeof vb), n);
    decide(p, row, after, what, true);
}

static void edit_expected(struct pane *p, const cJSON *row)
{
    struct ui *ui = p->ui;
    struct examples *e = p->priv;
    if (!ui_can_write(ui, "labeling"))
        return;
    const cJSON *cur = json_get(row, "expectedJson");
    char *pretty = cur ? json_pretty(cur) : xstrdup("{}");
    char what[400];
    snprintf(what, sizeof what, "the expected output of %s (%s)", json_str(row, "exampleId", "?"),
             ui_sig_label(ui));
    char *text = rules_edit_compose(what, NULL, pretty);
    free(pretty);
    const cJSON *schema = json_get(ui_signature(ui), "outputSchema");
    for (int round = 0; round < 20; round++) {
        char *edited = ui_edit_text(ui, text, ".json");
        if (!edited)
            break;
        if (!strcmp(edited, text)) {
            free(edited);
            ui_msg(ui, ROLE_MESSAGE, "unchanged: nothing saved");
            break;
        }
        char *body = rules_edit_strip(edited);
        free(edited);
        if (rules_edit_empty(body)) {
            free(body);
            ui_msg(ui, ROLE_MESSAGE, "edit cancelled: nothing saved");
            break;
        }
        struct dse_err err = {0};
        cJSON *v = json_parse_str(body, &err);
        if (v && schema && jsonschema_validate(schema, v, &err) < 0) {
            cJSON_Delete(v);
            v = NULL;
        }
        if (!v) {
            char msg[600];
            dse_err_str(&err, msg, sizeof msg);
            free(text);
            text = rules_edit_compose(what, msg, body);
            free(body);
            continue;
        }
        free(body);
        if (cur && json_equal(v, cur)) {
            cJSON_Delete(v);
            ui_msg(ui, ROLE_MESSAGE, "unchanged: nothing saved");
            break;
        }
        cJSON *after = with_review(row, "accepted", ui);
        json_set(after, "expectedJson", v);
        char w[300], vb[200];
        snprintf(w, sizeof w, "expected := %s (edited), accepted",
                 fmt_json(json_get(after, "expectedJson"), vb, sizeof vb));
        decide(p, row, after, w, true);
        break;
    }
    free(text);
    (void)e;
}

static void cycle_split(struct pane *p, const cJSON *row)
{
    const char *next = rules_next_split(json_str(row, "split", NULL));
    cJSON *after = json_dup(row);
    cJSON_DeleteItemFromObjectCaseSensitive(after, "cursor");
    json_set_str(after, "split", next);
    char what[64];
    snprintf(what, sizeof what, "split := %s", next);
    /* The split is not a judgement of the example: no auto-advance, so the
     * operator can press s again. */
    decide(p, row, after, what, false);
}

static void undo(struct pane *p)
{
    struct examples *e = p->priv;
    struct ui *ui = p->ui;
    if (!e->nundo) {
        ui_msg(ui, ROLE_WARN, "nothing to undo");
        return;
    }
    if (!ui_can_write(ui, "undo"))
        return;
    cJSON *before = e->undo[e->nundo - 1];
    if (ui_call(ui, STORE_OP_examples_put, put_args(e->sig, before), NULL) < 0)
        return;
    e->nundo--;
    const char *cmd = echo_put(ui, e->sig, before, "undo");
    ui_msg(ui, ROLE_OK, "undone: %s restored (%d more undo%s)   %s",
           json_str(before, "exampleId", ""), e->nundo, e->nundo == 1 ? "" : "s", cmd);
    listview_select_key(&e->lv, json_str(before, "exampleId", ""));
    cJSON_Delete(before);
    p->stale = true;
}

static int key(struct pane *p, int action, int k)
{
    (void)k;
    struct examples *e = p->priv;
    listview_seen(&e->lv);
    int r = listview_key(p->ui, &e->lv, action);
    if (r != UI_PASS)
        return r;
    const cJSON *row = listview_selected(&e->lv);
    if (action == ACT_LABEL_UNDO) {
        undo(p);
        return UI_HANDLED | UI_REDRAW;
    }
    bool labeling = (action >= ACT_LABEL_ACCEPT && action <= ACT_LABEL_SKIP) || action == ACT_ENTER;
    if (labeling && !row) {
        ui_msg(p->ui, ROLE_WARN, "no example selected");
        return UI_HANDLED;
    }
    /* Work on a copy: a write reloads the list under us. */
    cJSON *cur = row ? json_dup(row) : NULL;
    int res = UI_HANDLED | UI_REDRAW;
    switch (action) {
    case ACT_LABEL_ACCEPT: decide(p, cur, with_review(cur, "accepted", p->ui), "accepted", true); break;
    case ACT_LABEL_REJECT: decide(p, cur, with_review(cur, "rejected", p->ui), "rejected", true); break;
    case ACT_LABEL_EDIT: edit_expected(p, cur); res |= UI_RELAYOUT; break;
    case ACT_LABEL_SPLIT: cycle_split(p, cur); break;
    case ACT_LABEL_SKIP: listview_move(p->ui, &e->lv, 1); break;
    case ACT_ENTER: {
        cJSON *v = json_dup(cur);
        cJSON_DeleteItemFromObjectCaseSensitive(v, "cursor");
        char title[300];
        snprintf(title, sizeof title, "example %s", json_str(cur, "exampleId", ""));
        ui_view_json(p->ui, v, title);
        break;
    }
    default:
        if (action >= ACT_LABEL_1 && action <= ACT_LABEL_9)
            label_value(p, cur, action - ACT_LABEL_1 + 1);
        else
            res = UI_PASS;
    }
    cJSON_Delete(cur);
    return res;
}

static void draw(struct pane *p)
{
    struct examples *e = p->priv;
    struct ui *ui = p->ui;
    char line[1200], b1[600];
    snprintf(p->subtitle, sizeof p->subtitle, "%s", ui_sig_label(ui));
    stale_subtitle(&e->stale, p);
    const cJSON *c = e->counts, *sp = json_get(c, "splits");
    double acc = json_num(c, "accepted", 0), rej = json_num(c, "rejected", 0);
    if (c)
        snprintf(line, sizeof line,
                 "labeled %.0f/%.0f (accepted %.0f, rejected %.0f)%strain %.0f holdout %.0f%sundo %d",
                 acc + rej, json_num(c, "total", 0), acc, rej, DOT, json_num(sp, "train", 0),
                 json_num(sp, "holdout", 0) + json_num(sp, "dev", 0), DOT, e->nundo);
    else
        snprintf(line, sizeof line, "labeled (unavailable: the store did not answer)%sundo %d", DOT,
                 e->nundo);
    draw_clean(ui, p->win, 1, 2, p->iw - 1, ROLE_TITLE, line, TEXT_LEFT);
    int top = draw_stale(ui, p->win, 2, 2, p->iw - 1, &e->stale);
    int avail = p->ih - (top - 1);
    int list_h = avail >= 14 ? avail / 2 : avail;
    listview_draw(ui, &e->lv, p->win, top, 1, list_h, p->iw, p->focused);
    listview_position(&e->lv, p->note, sizeof p->note);
    int y = top + list_h;
    const cJSON *row = listview_selected(&e->lv);
    if (y > p->ih || !row)
        return;
    int w = p->iw - 1;
    /* Values legend first: it is what the keys do (flowed over up to four
     * lines; compact labels, the exact JSON is in the expected line). */
    int lines = 0, x = 0;
    char item[200], lab[160];
    draw_clean(ui, p->win, y, 2, 10, ROLE_LABEL, "keys", TEXT_LEFT);
    int i = 1;
    const cJSON *v;
    cJSON_ArrayForEach(v, e->values)
    {
        /* the key bound to label-i here (Shift+digit by default) */
        char kn[32] = "";
        if (i <= NVALUES)
            keymap_key_for(ui->km, SCOPE_EXAMPLES, ACT_LABEL_1 + i - 1, kn, sizeof kn);
        if (!kn[0]) {
            i++;
            continue; /* unbound: no key picks this value */
        }
        i++;
        snprintf(item, sizeof item, "%s %s", kn, value_label(v, lab, sizeof lab));
        char *clean = text_clean(item);
        int iw = text_width(clean) + 2, room = w - 10;
        if (x && x + iw > room) {
            if (++lines >= 4 || y + 1 > p->ih) {
                free(clean);
                break;
            }
            y++;
            x = 0;
        }
        draw_clean(ui, p->win, y, 12 + x, iw > room ? room : iw, ROLE_KEY, clean, TEXT_LEFT);
        free(clean);
        x += iw;
    }
    if (!e->values)
        draw_clean(ui, p->win, y, 12, w - 10, ROLE_DIM,
                   "(no enumerable output values: e edits the expected JSON)", TEXT_LEFT);
    y++;
    if (y > p->ih)
        return;
    const char *rev = review_of(row);
    snprintf(line, sizeof line, "%s%ssplit %s%sreview %s%ssource %s",
             json_str(row, "exampleId", "?"), DOT, json_str(row, "split", "-"), DOT, rev ? rev : "-", DOT,
             json_str(row, "source", "-"));
    y = draw_kv(ui, p->win, y, 2, w, 10, "example", ROLE_VALUE, line);
    if (y > p->ih)
        return;
    y = draw_kv(ui, p->win, y, 2, w, 10, "expected", ROLE_JSON_STRING,
                fmt_json(json_get(row, "expectedJson"), b1, sizeof b1));
    /* The input, pretty-printed, in the remaining rows. */
    char *pretty = json_pretty(json_get(row, "inputJson"));
    const char *s = pretty;
    bool first = true;
    while (s && *s && y <= p->ih) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        char *l = xstrndup(s, len);
        draw_kv(ui, p->win, y++, 2, w, 10, first ? "input" : "", ROLE_VALUE, l);
        free(l);
        first = false;
        s = nl ? nl + 1 : NULL;
    }
    free(pretty);
}

static int set_filter(struct pane *p, const char *text)
{
    struct examples *e = p->priv;
    return listview_filter(p->ui, &e->lv, text);
}

static void save(struct pane *p, cJSON *st)
{
    struct examples *e = p->priv;
    listview_sig_save(&e->lv, e->sig, st);
}

static void restore(struct pane *p, const cJSON *st)
{
    struct examples *e = p->priv;
    if (listview_sig_restore(p->ui, &e->lv, e->sig, sizeof e->sig, st))
        load_values(p);
}

static bool idle(struct pane *p)
{
    struct examples *e = p->priv;
    return listview_idle(p->ui, &e->lv);
}

static const int hints[] = {ACT_LABEL_ACCEPT, ACT_LABEL_REJECT, ACT_LABEL_1, ACT_LABEL_EDIT,
                            ACT_LABEL_SPLIT,  ACT_LABEL_SKIP,   ACT_LABEL_UNDO, ACT_NONE};

const struct pane_ops pane_examples_ops = {
    .name = "examples",
    .title = "Examples",
    .scope = SCOPE_EXAMPLES,
    .priv_size = sizeof(struct examples),
    .init = init,
    .free = pfree,
    .draw = draw,
    .key = key,
    .on_data = on_data,
    .save = save,
    .restore = restore,
    .filter = set_filter,
    .idle = idle,
    .hints = hints,
};
