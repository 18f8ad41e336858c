/* pane_receipts: predict receipts of the selected signature, newest first,
 * paged by keyset cursor (dsex/receipts:page) with a bounded window — a
 * million receipts page as fast as ten.  Filters (server-side): result
 * (f cycles all / Error / Ok), strategy, compiled_id, thread
 * (`:receipts error strategy=rlm_lite.v1 compiled=sha256:... thread=T`).
 *
 *   Enter  the receipt JSON (dse/receipts:getPredictReceiptByReceiptIdAdmin)
 *   t      its RLM trace (dse/blobs:getTextAdmin with the row's threadId,
 *          runId and rlmTraceBlobId)
 *   E      make it an example: input and output from the receipt (or its
 *          trace), provenance in meta {receiptId, compiled_id, source:
 *          "receipt"}; refused when the input is already an example — in
 *          holdout that would leak holdout into training. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "console.h"
#include "draw.h"
#include "fmt.h"
#include "json.h"
#include "listview.h"
#include "panes.h"
#include "rules.h"
#include "util.h"

/* Leakage check: examples scanned at most (pages of 500). */
#define SCAN_MAX_PAGES 200

struct receipts {
    struct listview lv;
    char sig[256];
    char *result, *strategy, *compiled, *thread; /* filters (NULL = any) */
    bool filters_changed;
    struct stale stale; /* the store did not answer the last load */
};

/* Columns that do not fit are dropped from the right: most useful first. */
static const struct lv_col cols[] = {
    {"TIME", 14, 0, TEXT_LEFT, 0},     {"RECEIPT", 8, 0, TEXT_LEFT, 0}, {"COMPILED", 8, 0, TEXT_LEFT, 0},
    {"RESULT", 6, 0, TEXT_LEFT, 0},    {"ERROR", 0, 14, TEXT_LEFT, 0},  {"STRATEGY", 11, 0, TEXT_LEFT, 0},
    {"MS", 6, 0, TEXT_RIGHT, 0},       {"THREAD", 0, 8, TEXT_LEFT, 0},
};

static void rc_key(const cJSON *row, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", json_str(row, "receiptId", ""));
}

static void cell(void *ctx, const cJSON *row, int col, struct sbuf *out, int *role)
{
    /* column order on screen -> the cases below */
    static const int order[] = {0, 1, 2, 4, 6, 3, 5, 7};
    col = order[col];
    (void)ctx;
    char buf[128];
    switch (col) {
    case 0: {
        int64_t ms = json_int(row, "createdAtMs", 0);
        fmt_time(ms, buf, sizeof buf);
        char clock[16];
        /* "MM-DD HH:MM:SS": the date matters less than the seconds here. */
        sbuf_printf(out, "%.5s %s", buf + 5, fmt_clock(ms, clock, sizeof clock));
        break;
    }
    case 1: sbuf_adds(out, fmt_hex8(json_str(row, "receiptId", ""), buf, sizeof buf)); break;
    case 2: sbuf_adds(out, fmt_hex8(json_str(row, "compiled_id", NULL), buf, sizeof buf)); break;
    case 3: sbuf_adds(out, json_str(row, "strategyId", "-")); break;
    case 4: {
        const char *r = json_str(row, "resultTag", "-");
        sbuf_adds(out, r);
        *role = !strcmp(r, "Error") ? ROLE_ERROR : !strcmp(r, "Ok") ? ROLE_OK : ROLE_ROW;
        break;
    }
    case 5:
        if (cJSON_IsNumber(json_get(row, "durationMs")))
            sbuf_printf(out, "%lld", (long long)json_int(row, "durationMs", 0));
        break;
    case 6: {
        const char *e = json_str(row, "errorName", NULL);
        if (e) {
            sbuf_adds(out, e);
            *role = ROLE_ERROR;
        }
        if (json_str(row, "rlmTraceBlobId", NULL))
            sbuf_printf(out, "%strace(%lld)", e ? " " : "",
                        (long long)json_int(row, "rlmTraceEventCount", 0));
        break;
    }
    case 7: sbuf_adds(out, json_str(row, "threadId", "-")); break;
    default: break;
    }
}

static int fetch(void *ctx, const char *cursor, enum lv_dir dir, int limit, cJSON **items,
                 char **next, struct dse_err *err)
{
    struct pane *p = ctx;
    struct receipts *r = p->priv;
    cJSON *a = ui_sig_args(p->ui);
    if (r->result)
        json_set_str(a, "resultTag", r->result);
    if (r->strategy)
        json_set_str(a, "strategyId", r->strategy);
    if (r->compiled)
        json_set_str(a, "compiled_id", r->compiled);
    if (r->thread)
        json_set_str(a, "threadId", r->thread);
    return listview_fetch_page(p->ui, STORE_OP_x_receipts_page, a, cursor,
                               dir == LV_FWD ? "older" : "newer", limit, items, next, err);
}

static void init(struct pane *p)
{
    struct receipts *r = p->priv;
    struct listview_cfg cfg = {.cols = cols,
                               .ncols = (int)(sizeof cols / sizeof cols[0]),
                               .cell = cell,
                               .key = rc_key,
                               .fetch = fetch,
                               .paged = true,
                               .page = 100,
                               .ctx = p,
                               .empty = "(no receipts match)"};
    listview_init(&r->lv, &cfg);
}

static void clear_filters(struct receipts *r)
{
    free(r->result);
    free(r->strategy);
    free(r->compiled);
    free(r->thread);
    r->result = r->strategy = r->compiled = r->thread = NULL;
}

static void pfree(struct pane *p)
{
    struct receipts *r = p->priv;
    listview_free(&r->lv);
    clear_filters(r);
}

static int on_data(struct pane *p)
{
    struct receipts *r = p->priv;
    struct ui *ui = p->ui;
    if (!ui->sig)
        return UI_REDRAW;
    if (r->lv.loaded && !strcmp(r->sig, ui->sig) && !r->filters_changed) {
        listview_reload(ui, &r->lv);
    } else {
        snprintf(r->sig, sizeof r->sig, "%s", ui->sig);
        r->filters_changed = false;
        listview_reset(ui, &r->lv);
    }
    /* A failed reload keeps the rows read last; they are marked stale. */
    stale_result(&r->stale, !r->lv.err[0]);
    return UI_REDRAW;
}

static void draw(struct pane *p)
{
    struct receipts *r = p->priv;
    struct sbuf t = {0};
    sbuf_add(&t, "", 0);
    sbuf_adds(&t, ui_sig_label(p->ui));
    if (r->result)
        sbuf_printf(&t, " result=%s", r->result);
    if (r->strategy)
        sbuf_printf(&t, " strategy=%s", r->strategy);
    if (r->compiled)
        sbuf_printf(&t, " compiled=%.15s", r->compiled);
    if (r->thread)
        sbuf_printf(&t, " thread=%s", r->thread);
    if (r->lv.filter)
        sbuf_printf(&t, " /%s", r->lv.filter);
    char *clean = text_clean(t.s);
    snprintf(p->subtitle, sizeof p->subtitle, "%s", clean);
    free(clean);
    sbuf_free(&t);
    stale_subtitle(&r->stale, p);
    int h = r->stale.since_ms && p->ih > 2 ? p->ih - 1 : p->ih;
    listview_draw(p->ui, &r->lv, p->win, 1, 1, h, p->iw, p->focused);
    if (h < p->ih)
        draw_stale(p->ui, p->win, p->ih, 1, p->iw, &r->stale);
    listview_position(&r->lv, p->note, sizeof p->note);
}

static const char *r_sig(struct pane *p) { return ((struct receipts *)p->priv)->sig; }

/* ---- open receipt / trace ---- */

static cJSON *get_receipt(struct ui *ui, const char *id)
{
    cJSON *a = json_obj(), *out = NULL;
    json_set_str(a, "receiptId", id);
    if (ui_call(ui, STORE_OP_receipts_get_admin, a, &out) < 0)
        return NULL;
    /* {ok, receipt: null | {threadId, runId, json, createdAtMs}} */
    cJSON *rec = cJSON_DetachItemFromObjectCaseSensitive(out, "receipt");
    cJSON_Delete(out);
    if (!cJSON_IsObject(rec)) {
        cJSON_Delete(rec);
        ui_msg(ui, ROLE_WARN, "receipt %s is not in the store", id);
        return NULL;
    }
    return rec;
}

static cJSON *get_trace(struct ui *ui, const cJSON *row, char **text_out)
{
    *text_out = NULL;
    const char *blob = json_str(row, "rlmTraceBlobId", NULL);
    if (!blob) {
        ui_msg(ui, ROLE_WARN, "this receipt has no RLM trace (strategy %s)",
               json_str(row, "strategyId", "?"));
        return NULL;
    }
    cJSON *a = json_obj(), *out = NULL;
    json_set_str(a, "threadId", json_str(row, "threadId", ""));
    json_set_str(a, "runId", json_str(row, "runId", ""));
    json_set_str(a, "blobId", blob);
    if (ui_call(ui, STORE_OP_blobs_get_admin, a, &out) < 0)
        return NULL;
    const char *text = json_str(out, "text", NULL);
    if (!text) {
        cJSON_Delete(out);
        ui_msg(ui, ROLE_WARN, "trace blob %s is missing", blob);
        return NULL;
    }
    struct dse_err err;
    cJSON *doc = json_parse_str(text, &err);
    if (!doc)
        *text_out = xstrdup(text);
    cJSON_Delete(out);
    return doc;
}

static void open_trace(struct pane *p, const cJSON *row)
{
    char *text = NULL;
    cJSON *doc = get_trace(p->ui, row, &text);
    char title[200];
    snprintf(title, sizeof title, "trace of receipt %s", json_str(row, "receiptId", ""));
    if (doc)
        ui_view_json(p->ui, doc, title);
    else if (text)
        ui_view_text(p->ui, text, title);
    else
        return;
}

/* ---- receipt -> example ---- */

static const cJSON *first_of(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = json_get(o, a);
    return v && !cJSON_IsNull(v) ? v : json_get(o, b);
}

/* Input and output from the trace: the first Input event, the last Final
 * (either form), as the reference's trace export reads them. */
static void from_trace(const cJSON *trace, const cJSON **in, const cJSON **outv)
{
    const cJSON *ev;
    cJSON_ArrayForEach(ev, json_get(trace, "events"))
    {
        const char *tag = json_str(ev, "_tag", "");
        if (!*in && !strcmp(tag, "Input"))
            *in = json_get(ev, "input");
        if (!strcmp(tag, "Final") && json_get(ev, "output"))
            *outv = json_get(ev, "output");
        const cJSON *act = json_get(ev, "action");
        if (act && !strcmp(json_str(act, "_tag", ""), "Final") && json_get(act, "output"))
            *outv = json_get(act, "output");
    }
}

/* exampleId and split of an example whose input equals `input`, scanning
 * by keyset pages; false when none. */
static bool find_input(struct ui *ui, const char *sig, const cJSON *input, char *id, size_t cap,
                       char *split, size_t scap)
{
    char *cursor = NULL;
    bool found = false;
    for (int page = 0; page < SCAN_MAX_PAGES && !found; page++) {
        cJSON *a = json_obj(), *out = NULL;
        json_set_str(a, "signatureId", sig);
        if (cursor)
            json_set_str(a, "cursor", cursor);
        json_set_num(a, "limit", 500);
        if (ui_call(ui, STORE_OP_x_examples_page, a, &out) < 0)
            break;
        const cJSON *items = json_get(out, "items");
        const char *hit = rules_input_match(input, items);
        if (hit) {
            const cJSON *row;
            cJSON_ArrayForEach(row, items) if (!strcmp(json_str(row, "exampleId", ""), hit))
            {
                snprintf(id, cap, "%s", hit);
                snprintf(split, scap, "%s", json_str(row, "split", "-"));
            }
            found = true;
        }
        const char *nc = json_str(out, "nextCursor", NULL);
        free(cursor);
        cursor = nc ? xstrdup(nc) : NULL;
        cJSON_Delete(out);
        if (!cursor)
            break;
    }
    free(cursor);
    return found;
}

static void make_example(struct pane *p, const cJSON *row)
{
    struct ui *ui = p->ui;
    if (!ui_can_write(ui, "make-example"))
        return;
    const char *rid = json_str(row, "receiptId", "");
    cJSON *val = get_receipt(ui, rid);
    if (!val)
        return;
    const cJSON *rc = json_get(val, "json");
    const cJSON *input = first_of(rc, "input", "inputJson");
    const cJSON *output = first_of(rc, "output", "outputJson");
    cJSON *trace = NULL;
    if (!input || !output) {
        char *text = NULL;
        if (json_str(row, "rlmTraceBlobId", NULL))
            trace = get_trace(ui, row, &text);
        free(text);
        const cJSON *ti = NULL, *to = NULL;
        from_trace(trace, &ti, &to);
        if (!input)
            input = ti;
        if (!output)
            output = to;
    }
    char label[128];
    ui_sig_label_of(r_sig(p), label, sizeof label);
    if (!input) {
        ui_msg(ui, ROLE_WARN,
               "receipt %.8s carries no input (it was over 64 KiB, or written by another "
               "system that keeps only hashes), so it cannot become an example",
               rid);
    } else if (!output || cJSON_IsNull(output)) {
        ui_msg(ui, ROLE_WARN, "receipt %.8s has no decoded output to use as the expected value "
                              "(result %s)",
               rid, json_str(row, "resultTag", "?"));
    } else {
        char exid[300], split[32];
        if (find_input(ui, r_sig(p), input, exid, sizeof exid, split, sizeof split)) {
            if (!strcmp(split, "holdout") || !strcmp(split, "dev"))
                ui_msg(ui, ROLE_ERROR,
                       "refused: adding it to train would leak holdout into training (the input "
                       "is holdout example %s)",
                       exid);
            else
                ui_msg(ui, ROLE_WARN, "refused: this input is already example %s (split %s)",
                       exid, split);
        } else {
            cJSON *ex = json_obj();
            char id[64];
            snprintf(id, sizeof id, "receipt-%s", rid);
            json_set_str(ex, "signatureId", r_sig(p));
            json_set_str(ex, "exampleId", id);
            json_set_copy(ex, "inputJson", input);
            json_set_copy(ex, "expectedJson", output);
            json_set_str(ex, "split", "train");
            json_set_str(ex, "source", "receipt");
            cJSON *meta = json_obj();
            json_set_str(meta, "receiptId", rid);
            json_set_str(meta, "compiled_id", json_str(row, "compiled_id", ""));
            json_set_str(meta, "source", "receipt");
            json_set(ex, "meta", meta);
            char in[400], exp[400];
            fmt_json(input, in, sizeof in);
            fmt_json(output, exp, sizeof exp);
            if (ui_call(ui, STORE_OP_examples_put, ex, NULL) == 0) {
                const char *cmd = ui_echo(ui,
                                          "examples put --signature %s --id %s --input %s "
                                          "--expected %s --split train  # from receipt",
                                          ui_shq(r_sig(p)), ui_shq(id), ui_shq(in), ui_shq(exp));
                ui_msg(ui, ROLE_OK, "example %s added to train (label it in the examples pane)   %s",
                       id, cmd);
                ui_reload_visible(ui);
            }
        }
    }
    cJSON_Delete(trace);
    cJSON_Delete(val);
}

/* ---- keys and commands ---- */

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v && *v ? xstrdup(v) : NULL;
}

int pane_receipts_command(struct pane *p, int argc, char **argv)
{
    struct receipts *r = p->priv;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcasecmp(a, "error") || !strcasecmp(a, "errors"))
            set_str(&r->result, "Error");
        else if (!strcasecmp(a, "ok"))
            set_str(&r->result, "Ok");
        else if (!strcmp(a, "all")) {
            clear_filters(r);
        } else if (!strncmp(a, "strategy=", 9))
            set_str(&r->strategy, a + 9);
        else if (!strncmp(a, "compiled=", 9))
            set_str(&r->compiled, a + 9);
        else if (!strncmp(a, "thread=", 7))
            set_str(&r->thread, a + 7);
        else {
            ui_msg(p->ui, ROLE_ERROR,
                   "usage: :receipts [error|ok|all] [strategy=S] [compiled=ID] [thread=T]");
            return -1;
        }
    }
    r->filters_changed = true;
    p->stale = true;
    p->dirty = true;
    return 0;
}

static int key(struct pane *p, int action, int k)
{
    (void)k;
    struct receipts *r = p->priv;
    listview_seen(&r->lv);
    int res = listview_key(p->ui, &r->lv, action);
    if (res != UI_PASS)
        return res;
    const cJSON *row = listview_selected(&r->lv);
    cJSON *cur = row ? json_dup(row) : NULL;
    res = UI_HANDLED | UI_REDRAW;
    switch (action) {
    case ACT_ENTER:
        if (cur) {
            cJSON *val = get_receipt(p->ui, json_str(cur, "receiptId", ""));
            if (val) {
                char title[200];
                snprintf(title, sizeof title, "receipt %s", json_str(cur, "receiptId", ""));
                ui_view_json(p->ui, val, title);
            }
        }
        break;
    case ACT_TRACE:
        if (cur)
            open_trace(p, cur);
        break;
    case ACT_MAKE_EXAMPLE:
        if (cur)
            make_example(p, cur);
        break;
    case ACT_CYCLE_RESULT:
        set_str(&r->result, !r->result ? "Error" : !strcmp(r->result, "Error") ? "Ok" : NULL);
        r->filters_changed = true;
        ui_msg(p->ui, ROLE_MESSAGE, "result filter: %s", r->result ? r->result : "all");
        res |= UI_RELOAD;
        break;
    case ACT_BACK:
        /* q/Esc: the text filter first (the console clears it), then the
         * receipt filters, one level each; without either, pass on. */
        if (r->lv.filter || !(r->result || r->strategy || r->compiled || r->thread)) {
            res = UI_PASS;
            break;
        }
        /* fall through */
    case ACT_CLEAR_FILTERS:
        clear_filters(r);
        r->filters_changed = true;
        ui_msg(p->ui, ROLE_MESSAGE, "receipt filters cleared");
        res |= UI_RELOAD;
        break;
    default: res = UI_PASS;
    }
    if (!cur && (action == ACT_ENTER || action == ACT_TRACE || action == ACT_MAKE_EXAMPLE))
        ui_msg(p->ui, ROLE_WARN, "no receipt selected");
    cJSON_Delete(cur);
    return res;
}

static int set_filter(struct pane *p, const char *text)
{
    struct receipts *r = p->priv;
    return listview_filter(p->ui, &r->lv, text);
}

static void save(struct pane *p, cJSON *st)
{
    struct receipts *r = p->priv;
    listview_sig_save(&r->lv, r->sig, st);
    json_set_str(st, "result", r->result);
    json_set_str(st, "strategy", r->strategy);
    json_set_str(st, "compiled", r->compiled);
    json_set_str(st, "thread", r->thread);
}

static void restore(struct pane *p, const cJSON *st)
{
    struct receipts *r = p->priv;
    set_str(&r->result, json_str(st, "result", NULL));
    set_str(&r->strategy, json_str(st, "strategy", NULL));
    set_str(&r->compiled, json_str(st, "compiled", NULL));
    set_str(&r->thread, json_str(st, "thread", NULL));
    listview_sig_restore(p->ui, &r->lv, r->sig, sizeof r->sig, st);
}

static bool idle(struct pane *p)
{
    struct receipts *r = p->priv;
    return listview_idle(p->ui, &r->lv);
}

static const int hints[] = {ACT_ENTER, ACT_TRACE, ACT_MAKE_EXAMPLE, ACT_CYCLE_RESULT, ACT_NONE};

const struct pane_ops pane_receipts_ops = {
    .name = "receipts",
    .title = "Receipts",
    .scope = SCOPE_RECEIPTS,
    .priv_size = sizeof(struct receipts),
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
