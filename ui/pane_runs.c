/* pane_runs: ops runs (newest first) and the event timeline of the
 * selected run, oldest first, following new events as they arrive
 * (dsex/opsRuns:eventsPage from the last cursor).  Enter on a run moves to
 * its timeline, q/Esc back; f toggles follow; Enter on an event opens it.
 *
 * Memory: the timeline keeps the newest EVENTS_MAX events of the run. */
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "draw.h"
#include "fmt.h"
#include "json.h"
#include "listview.h"
#include "util.h"

#define EVENTS_MAX 2000
#define EVENTS_PAGE 1000
#define EVENTS_MAX_PAGES 50

struct runs {
    struct listview runs, events;
    bool in_events;      /* the timeline has the keys */
    bool follow;         /* keep the newest event selected */
    char run_id[256];    /* run whose events are loaded */
    cJSON *ev;           /* accumulated events (array, oldest first) */
    char *cursor;        /* after the last event loaded */
    struct stale stale;
};

static const struct lv_col run_cols[] = {
    {"RUN", 0, 12, TEXT_LEFT, 0},     {"STATUS", 8, 0, TEXT_LEFT, 0},
    {"STARTED", 11, 0, TEXT_LEFT, 0}, {"ENDED", 11, 0, TEXT_LEFT, 0},
    {"ACTOR", 0, 6, TEXT_LEFT, 0},    {"SIGNATURES", 0, 10, TEXT_LEFT, 0},
};

static const struct lv_col ev_cols[] = {
    {"TIME", 8, 0, TEXT_LEFT, 0},  {"LEVEL", 5, 0, TEXT_LEFT, 0}, {"PHASE", 14, 0, TEXT_LEFT, 0},
    {"MESSAGE", 0, 20, TEXT_LEFT, 30}, {"JSON", 0, 10, TEXT_LEFT, 0},
};

static void run_key(const cJSON *row, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", json_str(row, "runId", ""));
}

static void ev_key(const cJSON *row, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", json_str(row, "cursor", ""));
}

static void run_cell(void *ctx, const cJSON *row, int col, struct sbuf *out, int *role)
{
    (void)ctx;
    char buf[256];
    switch (col) {
    case 0: sbuf_adds(out, json_str(row, "runId", "?")); break;
    case 1: {
        const char *s = json_str(row, "status", "?");
        sbuf_adds(out, s);
        *role = !strcmp(s, "failed") ? ROLE_ERROR : !strcmp(s, "running") ? ROLE_WARN : ROLE_OK;
        break;
    }
    case 2: sbuf_adds(out, fmt_mdhm(json_int(row, "startedAtMs", 0), buf, sizeof buf)); break;
    case 3: sbuf_adds(out, fmt_mdhm(json_int(row, "endedAtMs", 0), buf, sizeof buf)); break;
    case 4: sbuf_adds(out, json_str(row, "actorUserId", "-")); break;
    case 5: {
        const cJSON *s;
        bool first = true;
        cJSON_ArrayForEach(s, json_get(row, "signatureIds")) if (cJSON_IsString(s))
        {
            const char *slash = strrchr(s->valuestring, '/');
            sbuf_printf(out, "%s%s", first ? "" : ",", slash ? slash + 1 : s->valuestring);
            first = false;
        }
        break;
    }
    default: break;
    }
}

static void ev_cell(void *ctx, const cJSON *row, int col, struct sbuf *out, int *role)
{
    (void)ctx;
    char buf[256];
    switch (col) {
    case 0: sbuf_adds(out, fmt_clock(json_int(row, "tsMs", 0), buf, sizeof buf)); break;
    case 1: {
        const char *l = json_str(row, "level", "?");
        sbuf_adds(out, l);
        *role = !strcmp(l, "error") ? ROLE_ERROR : !strcmp(l, "warn") ? ROLE_WARN : ROLE_ROW;
        break;
    }
    case 2: sbuf_adds(out, json_str(row, "phase", "-")); break;
    case 3: sbuf_adds(out, json_str(row, "message", "")); break;
    case 4: {
        const cJSON *j = json_get(row, "json");
        if (j && !cJSON_IsNull(j)) {
            sbuf_adds(out, fmt_json(j, buf, sizeof buf));
            *role = ROLE_DIM;
        }
        break;
    }
    default: break;
    }
}

static int run_fetch(void *ctx, const char *cursor, enum lv_dir dir, int limit, cJSON **items,
                     char **next, struct dse_err *err)
{
    (void)cursor;
    (void)dir;
    (void)limit;
    struct pane *p = ctx;
    return listview_fetch_all(p->ui, STORE_OP_runs_list, json_obj(), "runs", items, next, err);
}

/* The timeline list shows the accumulated window. */
static int ev_fetch(void *ctx, const char *cursor, enum lv_dir dir, int limit, cJSON **items,
                    char **next, struct dse_err *err)
{
    (void)cursor;
    (void)dir;
    (void)limit;
    (void)err;
    struct pane *p = ctx;
    struct runs *r = p->priv;
    *next = NULL;
    *items = r->ev ? json_dup(r->ev) : json_arr();
    return 0;
}

static void init(struct pane *p)
{
    struct runs *r = p->priv;
    struct listview_cfg rc = {.cols = run_cols,
                              .ncols = (int)(sizeof run_cols / sizeof run_cols[0]),
                              .cell = run_cell,
                              .key = run_key,
                              .fetch = run_fetch,
                              .ctx = p,
                              .empty = "(no ops runs: `dse loop` records one)"};
    listview_init(&r->runs, &rc);
    struct listview_cfg ec = {.cols = ev_cols,
                              .ncols = (int)(sizeof ev_cols / sizeof ev_cols[0]),
                              .cell = ev_cell,
                              .key = ev_key,
                              .fetch = ev_fetch,
                              .ctx = p,
                              .empty = "(no events)"};
    listview_init(&r->events, &ec);
    r->follow = true;
}

static void pfree(struct pane *p)
{
    struct runs *r = p->priv;
    listview_free(&r->runs);
    listview_free(&r->events);
    cJSON_Delete(r->ev);
    free(r->cursor);
}

/* Fetch events after the cursor, append, trim to EVENTS_MAX. */
static void pull_events(struct pane *p)
{
    struct runs *r = p->priv;
    if (!r->ev)
        r->ev = json_arr();
    for (int page = 0; page < EVENTS_MAX_PAGES; page++) {
        cJSON *a = json_obj(), *out = NULL;
        json_set_str(a, "runId", r->run_id);
        if (r->cursor)
            json_set_str(a, "cursor", r->cursor);
        json_set_num(a, "limit", EVENTS_PAGE);
        if (ui_call(p->ui, STORE_OP_x_events_page, a, &out) < 0)
            return;
        cJSON *items = cJSON_GetObjectItemCaseSensitive(out, "items");
        int n = cJSON_GetArraySize(items);
        while (items && items->child) {
            cJSON *e = cJSON_DetachItemViaPointer(items, items->child);
            const char *c = json_str(e, "cursor", NULL);
            if (c) {
                free(r->cursor);
                r->cursor = xstrdup(c);
            }
            cJSON_AddItemToArray(r->ev, e);
        }
        while (cJSON_GetArraySize(r->ev) > EVENTS_MAX)
            cJSON_DeleteItemFromArray(r->ev, 0);
        bool more = json_str(out, "nextCursor", NULL) != NULL && n > 0;
        cJSON_Delete(out);
        if (!more)
            break;
    }
}

static void load_events(struct pane *p)
{
    struct runs *r = p->priv;
    const cJSON *row = listview_selected(&r->runs);
    const char *id = row ? json_str(row, "runId", "") : "";
    if (strcmp(id, r->run_id)) {
        snprintf(r->run_id, sizeof r->run_id, "%s", id);
        cJSON_Delete(r->ev);
        r->ev = NULL;
        free(r->cursor);
        r->cursor = NULL;
        if (*id)
            pull_events(p);
        listview_reset(p->ui, &r->events);
    } else if (*id) {
        pull_events(p);
        listview_reload(p->ui, &r->events);
    }
    if (r->follow && r->events.nvis)
        listview_key(p->ui, &r->events, ACT_BOTTOM);
}

static int on_data(struct pane *p)
{
    struct runs *r = p->priv;
    if (r->runs.loaded)
        listview_reload(p->ui, &r->runs);
    else
        listview_reset(p->ui, &r->runs);
    load_events(p);
    stale_result(&r->stale, !r->runs.err[0] && !r->events.err[0]);
    return UI_REDRAW;
}

static void draw(struct pane *p)
{
    struct runs *r = p->priv;
    int top = p->ih / 3;
    if (top < 4)
        top = p->ih >= 8 ? 4 : p->ih / 2;
    listview_draw(p->ui, &r->runs, p->win, 1, 1, top, p->iw, p->focused && !r->in_events);
    char title[400];
    snprintf(title, sizeof title, "Timeline %s%s", r->run_id[0] ? r->run_id : "",
             r->follow ? "  (following)" : "");
    char *clean = text_clean(title);
    draw_clean(p->ui, p->win, top + 1, 1, p->iw, ROLE_TITLE, clean, TEXT_LEFT);
    free(clean);
    listview_draw(p->ui, &r->events, p->win, top + 2, 1, p->ih - top - 1, p->iw,
                  p->focused && r->in_events);
    listview_position(r->in_events ? &r->events : &r->runs, p->note, sizeof p->note);
    stale_subtitle(&r->stale, p);
}

static int key(struct pane *p, int action, int k)
{
    (void)k;
    struct runs *r = p->priv;
    struct listview *lv = r->in_events ? &r->events : &r->runs;
    listview_seen(lv);
    int res = listview_key(p->ui, lv, action);
    if (res != UI_PASS) {
        if (r->in_events) {
            /* Moving off the newest event stops following; G resumes. */
            r->follow = listview_selected(lv) &&
                        lv->nvis && lv->sel == lv->vis[lv->nvis - 1];
        } else {
            load_events(p);
        }
        return res;
    }
    switch (action) {
    case ACT_ENTER:
        if (!r->in_events) {
            r->in_events = true;
            return UI_HANDLED | UI_REDRAW;
        }
        if (listview_selected(lv)) {
            cJSON *v = json_dup(listview_selected(lv));
            ui_view_json(p->ui, v, "ops run event");
        }
        return UI_HANDLED;
    case ACT_BACK:
        if (r->in_events) {
            r->in_events = false;
            return UI_HANDLED | UI_REDRAW;
        }
        return UI_PASS;
    case ACT_FOLLOW:
        r->follow = !r->follow;
        if (r->follow)
            listview_key(p->ui, &r->events, ACT_BOTTOM);
        ui_msg(p->ui, ROLE_MESSAGE, r->follow ? "following new events" : "not following");
        return UI_HANDLED | UI_REDRAW;
    default: return UI_PASS;
    }
}

static int set_filter(struct pane *p, const char *text)
{
    struct runs *r = p->priv;
    return listview_filter(p->ui, r->in_events ? &r->events : &r->runs, text);
}

static void save(struct pane *p, cJSON *st)
{
    struct runs *r = p->priv;
    if (r->run_id[0])
        json_set_str(st, "runId", r->run_id);
    json_set_bool(st, "follow", r->follow);
}

static void restore(struct pane *p, const cJSON *st)
{
    struct runs *r = p->priv;
    r->follow = json_bool(st, "follow", true);
    const char *id = json_str(st, "runId", NULL);
    if (id && listview_reset(p->ui, &r->runs) == 0)
        listview_select_key(&r->runs, id);
}

static const int hints[] = {ACT_ENTER, ACT_FOLLOW, ACT_NONE};

const struct pane_ops pane_runs_ops = {
    .name = "runs",
    .title = "Runs",
    .scope = SCOPE_RUNS,
    .priv_size = sizeof(struct runs),
    .init = init,
    .free = pfree,
    .draw = draw,
    .key = key,
    .on_data = on_data,
    .save = save,
    .restore = restore,
    .filter = set_filter,
    .hints = hints,
};
