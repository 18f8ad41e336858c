#include "theme.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sanitize.h"
#include "util.h"

static const struct {
    const char *name;
    unsigned mono;
} roles[ROLE__COUNT] = {
#define THEME_X_INFO(id, n, m) [ROLE_##id] = {n, m},
    THEME_ROLES(THEME_X_INFO)
#undef THEME_X_INFO
};

const char *theme_role_name(int role)
{
    return role >= 0 && role < ROLE__COUNT ? roles[role].name : NULL;
}

unsigned theme_role_mono(int role) { return role >= 0 && role < ROLE__COUNT ? roles[role].mono : 0; }

int theme_role_parse(const char *name)
{
    for (int r = 0; r < ROLE__COUNT; r++)
        if (!strcmp(roles[r].name, name))
            return r;
    return -1;
}

void theme_init(struct theme *t, const char *name)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name ? name : "");
    for (int r = 0; r < ROLE__COUNT; r++)
        t->e[r] = (struct theme_entry){.fg = THEME_COLOR_DEFAULT, .bg = THEME_COLOR_DEFAULT};
}

static const char *const basic[8] = {"black", "red",     "green", "yellow",
                                     "blue",  "magenta", "cyan",  "white"};

int theme_color_parse(const char *s)
{
    if (!strcmp(s, "default") || !strcmp(s, "-1"))
        return THEME_COLOR_DEFAULT;
    for (int i = 0; i < 8; i++) {
        if (!strcmp(s, basic[i]))
            return i;
        if (!strncmp(s, "bright-", 7) && !strcmp(s + 7, basic[i]))
            return i + 8;
    }
    if (!strcmp(s, "gray") || !strcmp(s, "grey"))
        return 8;
    const char *num = !strncmp(s, "color", 5) ? s + 5 : s;
    int64_t v;
    if (*num && util_parse_i64(num, &v) && v >= 0 && v <= 255)
        return (int)v;
    return -2;
}

static const struct {
    const char *name;
    unsigned bit;
} attr_names[] = {
    {"normal", 0},
    {"bold", THEME_A_BOLD},
    {"dim", THEME_A_DIM},
    {"reverse", THEME_A_REVERSE},
    {"underline", THEME_A_UNDERLINE},
    {"standout", THEME_A_STANDOUT},
    {"italic", THEME_A_ITALIC},
    {"blink", THEME_A_BLINK},
};

/* RGB of a 256-colour index (xterm palette). */
static void rgb_of(int c, int rgb[3])
{
    static const int base[16][3] = {
        {0, 0, 0},       {205, 0, 0},   {0, 205, 0},   {205, 205, 0},
        {0, 0, 238},     {205, 0, 205}, {0, 205, 205}, {229, 229, 229},
        {127, 127, 127}, {255, 0, 0},   {0, 255, 0},   {255, 255, 0},
        {92, 92, 255},   {255, 0, 255}, {0, 255, 255}, {255, 255, 255}};
    if (c < 16) {
        memcpy(rgb, base[c], sizeof base[c]);
    } else if (c < 232) {
        static const int steps[6] = {0, 95, 135, 175, 215, 255};
        c -= 16;
        rgb[0] = steps[c / 36];
        rgb[1] = steps[(c / 6) % 6];
        rgb[2] = steps[c % 6];
    } else {
        int g = 8 + (c - 232) * 10;
        rgb[0] = rgb[1] = rgb[2] = g;
    }
}

int theme_color_reduce(int c, int colors, bool *bold)
{
    if (bold)
        *bold = false;
    if (c < 0 || c < colors)
        return c;
    if (c >= 16) {
        /* Nearest of the 16 basic colours; bright ones fold below. */
        int want[3], best = 0;
        long best_d = -1;
        rgb_of(c, want);
        for (int i = 0; i < 16; i++) {
            int have[3];
            rgb_of(i, have);
            long d = 0;
            for (int k = 0; k < 3; k++)
                d += (long)(want[k] - have[k]) * (want[k] - have[k]);
            if (best_d < 0 || d < best_d)
                best_d = d, best = i;
        }
        c = best;
        if (c < colors)
            return c;
    }
    /* 8-colour terminal: bright colours are the basic ones in bold. */
    if (bold)
        *bold = true;
    return c - 8;
}

int theme_parse(struct theme *t, const char *text, const char *path, theme_warn_fn *warn,
                void *ctx)
{
    int bad = 0, lineno = 0;
    const char *p = text;
    char msg[400];
#define BAD(...)                                                         \
    do {                                                                 \
        char what_[300];                                                 \
        snprintf(what_, sizeof what_, __VA_ARGS__);                      \
        snprintf(msg, sizeof msg, "%s:%d: %s", path, lineno, what_);     \
        if (warn) {                                                      \
            char *clean_ = sanitize_str(msg, 0);                         \
            warn(ctx, clean_);                                           \
            free(clean_);                                                \
        }                                                                \
        bad++;                                                           \
    } while (0)
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = xstrndup(p, len);
        p = nl ? nl + 1 : NULL;
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *w[16], *save = NULL;
        int nw = 0;
        for (char *tok = strtok_r(line, " \t\r", &save); tok && nw < 16;
             tok = strtok_r(NULL, " \t\r", &save))
            w[nw++] = tok;
        if (nw == 0) {
            free(line);
            continue;
        }
        int role, fg, bg;
        if (strcmp(w[0], "color") != 0) {
            BAD("unknown command '%s' (expected: color <role> <fg> <bg> [attrs])", w[0]);
        } else if (nw < 4) {
            BAD("expected: color <role> <fg> <bg> [attrs]");
        } else if ((role = theme_role_parse(w[1])) < 0) {
            BAD("unknown role '%s'", w[1]);
        } else if ((fg = theme_color_parse(w[2])) < -1) {
            BAD("unknown colour '%s'", w[2]);
        } else if ((bg = theme_color_parse(w[3])) < -1) {
            BAD("unknown colour '%s'", w[3]);
        } else {
            unsigned attrs = 0;
            bool ok = true;
            for (int i = 4; i < nw && ok; i++) {
                size_t k;
                for (k = 0; k < ARRAY_LEN(attr_names); k++)
                    if (!strcmp(attr_names[k].name, w[i]))
                        break;
                if (k == ARRAY_LEN(attr_names)) {
                    BAD("unknown attribute '%s'", w[i]);
                    ok = false;
                } else {
                    attrs |= attr_names[k].bit;
                }
            }
            if (ok)
                t->e[role] = (struct theme_entry){
                    .fg = (short)fg, .bg = (short)bg, .attrs = attrs, .set = true};
        }
        free(line);
    }
#undef BAD
    return bad;
}
