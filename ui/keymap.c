#include "keymap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sanitize.h"
#include "util.h"

static const char *const action_names[] = {
#define UI_X_NAME(id, name, help) [ACT_##id - ACT__BASE - 1] = name,
    UI_ACTIONS(UI_X_NAME)
#undef UI_X_NAME
};
static const char *const action_helps[] = {
#define UI_X_HELP(id, name, help) [ACT_##id - ACT__BASE - 1] = help,
    UI_ACTIONS(UI_X_HELP)
#undef UI_X_HELP
};
static const char *const scope_names[] = {
#define UI_X_SNAME(id, name) [SCOPE_##id] = name,
    UI_SCOPES(UI_X_SNAME)
#undef UI_X_SNAME
};

const char *action_name(int act)
{
    if (act == ACT_NONE)
        return "none";
    if (act <= ACT__BASE || act >= ACT__END)
        return NULL;
    return action_names[act - ACT__BASE - 1];
}

const char *action_help(int act)
{
    if (act <= ACT__BASE || act >= ACT__END)
        return "";
    return action_helps[act - ACT__BASE - 1];
}

int action_parse(const char *name)
{
    if (!strcmp(name, "none"))
        return ACT_NONE;
    for (int a = ACT__BASE + 1; a < ACT__END; a++)
        if (!strcmp(action_names[a - ACT__BASE - 1], name))
            return a;
    return -1;
}

const char *scope_name(int scope)
{
    return scope >= 0 && scope < SCOPE__COUNT ? scope_names[scope] : NULL;
}

int scope_parse(const char *name)
{
    for (int s = 0; s < SCOPE__COUNT; s++)
        if (!strcmp(scope_names[s], name))
            return s;
    return -1;
}

/* ---- key names ---- */

static const struct {
    const char *name;
    int key;
} named_keys[] = {
    {"Space", ' '},
    {"Enter", UI_KEY_ENTER},
    {"Tab", '\t'},
    {"BackTab", UI_KEY_FN(KEY_BTAB)},
    {"Esc", UI_KEY_ESC},
    {"Up", UI_KEY_FN(KEY_UP)},
    {"Down", UI_KEY_FN(KEY_DOWN)},
    {"Left", UI_KEY_FN(KEY_LEFT)},
    {"Right", UI_KEY_FN(KEY_RIGHT)},
    {"PgUp", UI_KEY_FN(KEY_PPAGE)},
    {"PgDn", UI_KEY_FN(KEY_NPAGE)},
    {"PageUp", UI_KEY_FN(KEY_PPAGE)},
    {"PageDown", UI_KEY_FN(KEY_NPAGE)},
    {"Home", UI_KEY_FN(KEY_HOME)},
    {"End", UI_KEY_FN(KEY_END)},
    {"Backspace", UI_KEY_FN(KEY_BACKSPACE)},
    {"Del", UI_KEY_FN(KEY_DC)},
    {"Delete", UI_KEY_FN(KEY_DC)},
    {"Ins", UI_KEY_FN(KEY_IC)},
    {"Insert", UI_KEY_FN(KEY_IC)},
};

/* Decode exactly one UTF-8 character; -1 if s is not exactly one. */
static int one_char(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    int len, c;
    if (p[0] < 0x80)
        len = 1, c = p[0];
    else if ((p[0] & 0xe0) == 0xc0)
        len = 2, c = p[0] & 0x1f;
    else if ((p[0] & 0xf0) == 0xe0)
        len = 3, c = p[0] & 0x0f;
    else if ((p[0] & 0xf8) == 0xf0)
        len = 4, c = p[0] & 0x07;
    else
        return -1;
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return -1;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (p[len] != 0 || c < 0x20 || c == 0x7f)
        return -1;
    return c;
}

int keymap_key_parse(const char *name)
{
    if (!name || !*name || !sanitize_is_clean(name, strlen(name), 0))
        return -1; /* controls, C1, bidi and format characters are not keys */
    for (size_t i = 0; i < ARRAY_LEN(named_keys); i++)
        if (!strcmp(named_keys[i].name, name))
            return named_keys[i].key;
    /* "C-x" and "^X" are control keys; a lone "^" is the caret itself. */
    if ((name[0] == 'C' && name[1] == '-') || (name[0] == '^' && name[1])) {
        const char *r = name + (name[0] == '^' ? 1 : 2);
        char c = r[0];
        if (c && !r[1]) {
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            if (c >= 'a' && c <= 'z')
                return c - 'a' + 1;
        }
        return -1;
    }
    if (name[0] == 'F' && name[1] >= '1' && name[1] <= '9') {
        int n = atoi(name + 1);
        char chk[8];
        snprintf(chk, sizeof chk, "F%d", n);
        if (n >= 1 && n <= 12 && !strcmp(chk, name))
            return UI_KEY_FN(KEY_F(n));
        return -1;
    }
    return one_char(name);
}

void keymap_key_name(int key, char *buf, size_t cap)
{
    for (size_t i = 0; i < ARRAY_LEN(named_keys); i++)
        if (named_keys[i].key == key) {
            snprintf(buf, cap, "%s", named_keys[i].name);
            return;
        }
    if (key & UI_KEY_FN_BIT) {
        int code = key & ~UI_KEY_FN_BIT;
        if (code >= KEY_F(1) && code <= KEY_F(12))
            snprintf(buf, cap, "F%d", code - KEY_F0);
        else
            snprintf(buf, cap, "<%d>", code);
        return;
    }
    if (key >= 1 && key <= 26) {
        snprintf(buf, cap, "C-%c", 'a' + key - 1);
        return;
    }
    /* Encode the code point as UTF-8. */
    char u[5] = {0};
    unsigned c = (unsigned)key;
    if (c < 0x80)
        u[0] = (char)c;
    else if (c < 0x800)
        u[0] = (char)(0xc0 | (c >> 6)), u[1] = (char)(0x80 | (c & 0x3f));
    else if (c < 0x10000)
        u[0] = (char)(0xe0 | (c >> 12)), u[1] = (char)(0x80 | ((c >> 6) & 0x3f)),
        u[2] = (char)(0x80 | (c & 0x3f));
    else
        u[0] = (char)(0xf0 | (c >> 18)), u[1] = (char)(0x80 | ((c >> 12) & 0x3f)),
        u[2] = (char)(0x80 | ((c >> 6) & 0x3f)), u[3] = (char)(0x80 | (c & 0x3f));
    snprintf(buf, cap, "%s", u);
}

/* ---- bindings ---- */

struct binding {
    int scope, key, action;
};

struct keymap {
    struct binding *b; /* later entries never duplicate (scope, key) */
    size_t n, cap;
};

struct keymap *keymap_new(void) { return xcalloc(1, sizeof(struct keymap)); }

void keymap_free(struct keymap *km)
{
    if (!km)
        return;
    free(km->b);
    free(km);
}

void keymap_bind(struct keymap *km, int scope, int key, int action)
{
    for (size_t i = 0; i < km->n; i++)
        if (km->b[i].scope == scope && km->b[i].key == key) {
            km->b[i].action = action;
            return;
        }
    if (km->n == km->cap) {
        km->cap = km->cap ? km->cap * 2 : 128;
        km->b = xrealloc(km->b, km->cap * sizeof *km->b);
    }
    km->b[km->n++] = (struct binding){scope, key, action};
}

static const struct binding *find(const struct keymap *km, int scope, int key)
{
    for (size_t i = 0; i < km->n; i++)
        if (km->b[i].scope == scope && km->b[i].key == key)
            return &km->b[i];
    return NULL;
}

int keymap_lookup(const struct keymap *km, int scope, int key)
{
    const struct binding *b = find(km, scope, key);
    if (b)
        return b->action; /* may be ACT_NONE: unbound here on purpose */
    if (scope != SCOPE_GLOBAL && (b = find(km, SCOPE_GLOBAL, key)))
        return b->action;
    return ACT_NONE;
}

/* what: a message with one %s for arg. */
static void warnf(keymap_warn_fn *warn, void *ctx, const char *path, int line, const char *what,
                  const char *arg)
{
    if (!warn)
        return;
    char msg[400];
    const char *pct = strstr(what, "%s");
    if (pct)
        snprintf(msg, sizeof msg, "%s:%d: %.*s%s%s", path, line, (int)(pct - what), what, arg,
                 pct + 2);
    else
        snprintf(msg, sizeof msg, "%s:%d: %s", path, line, what);
    /* The words quoted come from the user's file: never raw to a terminal. */
    char *clean = sanitize_str(msg, 0);
    warn(ctx, clean);
    free(clean);
}

int keymap_load_text(struct keymap *km, const char *text, const char *path,
                     keymap_warn_fn *warn, void *ctx)
{
    int bad = 0, lineno = 0;
    const char *p = text;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = xstrndup(p, len);
        p = nl ? nl + 1 : NULL;
        lineno++;
        /* A word starting with '#' begins a comment, except a lone "#" in
         * the key position ("bind global # help"). */
        char *words[8];
        int nw = 0;
        char *save = NULL;
        for (char *t = strtok_r(line, " \t\r", &save); t && nw < 8; t = strtok_r(NULL, " \t\r", &save)) {
            if (t[0] == '#' && !(nw == 2 && t[1] == 0))
                break;
            words[nw++] = t;
        }
        if (nw == 0) {
            free(line);
            continue;
        }
        int scope, key, act;
        if (strcmp(words[0], "bind") != 0) {
            warnf(warn, ctx, path, lineno, "unknown command '%s' (expected: bind <scope> <key> <action>)",
                  words[0]);
            bad++;
        } else if (nw != 4) {
            warnf(warn, ctx, path, lineno, "%s", "expected: bind <scope> <key> <action>");
            bad++;
        } else if ((scope = scope_parse(words[1])) < 0) {
            warnf(warn, ctx, path, lineno, "unknown scope '%s'", words[1]);
            bad++;
        } else if ((key = keymap_key_parse(words[2])) < 0) {
            warnf(warn, ctx, path, lineno, "unknown key '%s'", words[2]);
            bad++;
        } else if ((act = action_parse(words[3])) < 0) {
            warnf(warn, ctx, path, lineno, "unknown action '%s'", words[3]);
            bad++;
        } else {
            keymap_bind(km, scope, key, act);
        }
        free(line);
    }
    return bad;
}

static void keys_for(const struct keymap *km, int scope, int action, struct sbuf *out, int max)
{
    int count = 0;
    for (int pass = 0; pass < 2; pass++) {
        int s = pass == 0 ? scope : SCOPE_GLOBAL;
        if (pass == 1 && scope == SCOPE_GLOBAL)
            break;
        for (size_t i = 0; i < km->n; i++) {
            const struct binding *b = &km->b[i];
            if (b->scope != s || b->action != action)
                continue;
            /* A global key shadowed by the pane's own binding is not live. */
            if (pass == 1 && find(km, scope, b->key))
                continue;
            if (count == max)
                return;
            char name[32];
            keymap_key_name(b->key, name, sizeof name);
            if (count++)
                sbuf_adds(out, " ");
            sbuf_adds(out, name);
        }
    }
}

void keymap_key_for(const struct keymap *km, int scope, int action, char *buf, size_t cap)
{
    struct sbuf b = {0};
    sbuf_add(&b, "", 0);
    keys_for(km, scope, action, &b, 1);
    snprintf(buf, cap, "%s", b.s);
    sbuf_free(&b);
}

/* One line per action with at least one live key among `keys_for`'s
 * candidates; own = true lists only the scope's own bindings. */
static void help_section(const struct keymap *km, int scope, bool own, struct sbuf *out)
{
    for (int a = ACT__BASE + 1; a < ACT__END; a++) {
        struct sbuf keys = {0};
        sbuf_add(&keys, "", 0);
        if (own) {
            for (size_t i = 0; i < km->n; i++)
                if (km->b[i].scope == scope && km->b[i].action == a) {
                    char name[32];
                    keymap_key_name(km->b[i].key, name, sizeof name);
                    sbuf_printf(&keys, "%s%s", keys.len ? " " : "", name);
                }
        } else {
            /* global keys still live in this scope */
            for (size_t i = 0; i < km->n; i++)
                if (km->b[i].scope == SCOPE_GLOBAL && km->b[i].action == a &&
                    (scope == SCOPE_GLOBAL || !find(km, scope, km->b[i].key))) {
                    char name[32];
                    keymap_key_name(km->b[i].key, name, sizeof name);
                    sbuf_printf(&keys, "%s%s", keys.len ? " " : "", name);
                }
        }
        if (keys.len)
            sbuf_printf(out, "  %-16s %-16s %s\n", keys.s, action_name(a), action_help(a));
        sbuf_free(&keys);
    }
}

char *keymap_help(const struct keymap *km, int scope)
{
    struct sbuf out = {0};
    sbuf_add(&out, "", 0);
    if (scope != SCOPE_GLOBAL) {
        sbuf_printf(&out, "%s keys:\n", scope_name(scope));
        size_t before = out.len;
        help_section(km, scope, true, &out);
        if (out.len == before)
            sbuf_adds(&out, "  (none of its own)\n");
        sbuf_adds(&out, "\nglobal keys:\n");
    }
    help_section(km, scope, false, &out);
    return sbuf_take(&out);
}

/* The built-in bindings.  The same parser reads this and the user's file; a
 * mistake here is a programming error caught at startup and in the tests. */
const char keymap_default_text[] =
    "# dse console default keymap (override in $XDG_CONFIG_HOME/dse/keymap)\n"
    "bind global ? help\n"
    "bind global F1 help\n"
    "bind global : command\n"
    "bind global / filter\n"
    "bind global q back\n"
    "bind global Esc back\n"
    "bind global Q quit\n"
    "bind global Tab next-pane\n"
    "bind global BackTab prev-pane\n"
    "bind global 1 pane-signatures\n"
    "bind global 2 pane-overview\n"
    "bind global 3 pane-history\n"
    "bind global 4 pane-canary\n"
    "bind global 5 pane-compile\n"
    "bind global 6 pane-examples\n"
    "bind global 7 pane-receipts\n"
    "bind global 8 pane-runs\n"
    "bind global k up\n"
    "bind global Up up\n"
    "bind global j down\n"
    "bind global Down down\n"
    "bind global PgUp page-up\n"
    "bind global C-b page-up\n"
    "bind global PgDn page-down\n"
    "bind global C-f page-down\n"
    "bind global g top\n"
    "bind global Home top\n"
    "bind global G bottom\n"
    "bind global End bottom\n"
    "bind global h left\n"
    "bind global Left left\n"
    "bind global l right\n"
    "bind global Right right\n"
    "bind global Enter open\n"
    "bind global C-r refresh\n"
    "bind global C-l redraw\n"
    "bind global F freeze\n"
    "bind global + refresh-faster\n"
    "bind global - refresh-slower\n"
    "bind global A arm\n"
    "bind global L messages\n"
    "bind global R rollback\n"
    "bind global p promote\n"
    "bind global c compile\n"
    "bind global C canary\n"
    "# examples: one key per labeling decision.  The digits stay pane keys\n"
    "# everywhere; output value N is Shift+N on a US keyboard (! @ # $ % ^ & * ()\n"
    "# and the pane's legend shows whichever keys are bound.\n"
    "bind examples a label-accept\n"
    "bind examples x label-reject\n"
    "bind examples ! label-1\n"
    "bind examples @ label-2\n"
    "bind examples # label-3\n"
    "bind examples $ label-4\n"
    "bind examples % label-5\n"
    "bind examples ^ label-6\n"
    "bind examples & label-7\n"
    "bind examples * label-8\n"
    "bind examples ( label-9\n"
    "bind examples e label-edit\n"
    "bind examples s label-split\n"
    "bind examples Space label-skip\n"
    "bind examples u label-undo\n"
    "# receipts\n"
    "bind receipts t open-trace\n"
    "bind receipts E make-example\n"
    "bind receipts f cycle-result\n"
    "bind receipts X clear-filters\n"
    "# runs\n"
    "bind runs f follow\n"
    "# viewer\n"
    "bind viewer n search-next\n"
    "bind viewer N search-prev\n"
    "bind viewer Enter fold\n"
    "bind viewer Space fold\n"
    "bind viewer z fold-all\n"
    "bind viewer Z unfold-all\n"
    "bind viewer r raw\n"
    "bind viewer w wrap\n"
    "bind viewer S save\n"
    "bind viewer R none\n"
    "bind viewer p none\n"
    "bind viewer c none\n"
    "bind viewer C none\n";
