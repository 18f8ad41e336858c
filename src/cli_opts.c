/* Option parsing shared by every command (contract in cli.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sanitize.h"
#include "util.h"

int cli_usage_error(const char *usage, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *safe = sanitize_str(buf, 0);
    fprintf(stderr, "dse: %s\nusage: %s\n", safe, usage);
    free(safe);
    return EXIT_USAGE;
}

static void print_usage(const char *usage, const char *description, const struct cli_opt *opts)
{
    printf("usage: %s\n\n%s\n", usage, description);
    if (opts && opts[0].name) {
        printf("\nOptions:\n");
        for (const struct cli_opt *o = opts; o->name; o++) {
            char left[64];
            if (o->short_name)
                snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name,
                         o->metavar ? " " : "", o->metavar ? o->metavar : "");
            else
                snprintf(left, sizeof left, "    --%s%s%s", o->name, o->metavar ? " " : "",
                         o->metavar ? o->metavar : "");
            printf("  %-28s %s\n", left, o->help ? o->help : "");
        }
    }
    printf("\nGlobal options (--db, --remote, --json, --read-only, ...): see `dse --help`.\n");
}

static const struct cli_opt *find_long(const struct cli_opt *opts, const char *name, size_t n)
{
    for (const struct cli_opt *o = opts; o && o->name; o++)
        if (strlen(o->name) == n && strncmp(o->name, name, n) == 0)
            return o;
    return NULL;
}

static const struct cli_opt *find_short(const struct cli_opt *opts, char c)
{
    for (const struct cli_opt *o = opts; o && o->name; o++)
        if (o->short_name == c)
            return o;
    return NULL;
}

/* Global options repeated after the command word. */
static int global_opt(struct cli_ctx *ctx, const char *name, size_t n, const char *inline_val,
                      int argc, char **argv, int *i)
{
    static const char *const with_val[] = {"db", "remote", "token-env", "token-file"};
    for (size_t k = 0; k < ARRAY_LEN(with_val); k++) {
        if (strlen(with_val[k]) == n && !strncmp(name, with_val[k], n)) {
            const char *v = inline_val;
            if (!v) {
                if (*i + 1 >= argc)
                    return -1;
                v = argv[++*i];
            }
            if (k == 0)
                ctx->db_path = v;
            else if (k == 1)
                ctx->remote = v;
            else if (k == 2)
                ctx->token_env = v;
            else
                ctx->token_file = v;
            return 1;
        }
    }
    if (n == 4 && !strncmp(name, "json", 4)) {
        ctx->json = true;
        return 1;
    }
    if (n == 9 && !strncmp(name, "read-only", 9)) {
        ctx->read_only = true;
        return 1;
    }
    if (n == 5 && !strncmp(name, "quiet", 5)) {
        ctx->quiet = true;
        return 1;
    }
    return 0;
}

static int set_value(const struct cli_opt *o, const char *v, const char *usage)
{
    switch (o->type) {
    case CLI_FLAG:
        *(bool *)o->target = true;
        return 0;
    case CLI_STR:
        *(const char **)o->target = v;
        return 0;
    case CLI_INT: {
        int64_t x;
        if (!util_parse_i64(v, &x))
            return -cli_usage_error(usage, "--%s expects a whole number, got '%s'", o->name, v);
        *(long long *)o->target = (long long)x;
        return 0;
    }
    case CLI_DOUBLE: {
        double d;
        if (!util_parse_double(v, &d))
            return -cli_usage_error(usage, "--%s expects a number, got '%s'", o->name, v);
        *(double *)o->target = d;
        return 0;
    }
    }
    return 0;
}

int cli_parse(struct cli_ctx *ctx, int argc, char **argv, const struct cli_opt *opts,
              const char *usage, const char *description, char ***pos)
{
    static char *none[1];
    char **positional = xcalloc((size_t)argc + 1, sizeof(char *));
    int npos = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == 0) {
            positional[npos++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = true;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            /* Help ends the command; nothing has been opened yet. */
            print_usage(usage, description, opts);
            free(positional);
            free(ctx->positional);
            fflush(stdout);
            exit(EXIT_OK);
        }
        const struct cli_opt *o;
        const char *inline_val = NULL;
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            if (eq)
                inline_val = eq + 1;
            o = find_long(opts, name, n);
            if (!o) {
                int g = global_opt(ctx, name, n, inline_val, argc, argv, &i);
                if (g == 1)
                    continue;
                free(positional);
                if (g < 0)
                    return -cli_usage_error(usage, "--%.*s needs a value", (int)n, name);
                return -cli_usage_error(usage, "unknown option --%.*s", (int)n, name);
            }
        } else {
            o = find_short(opts, a[1]);
            if (!o || a[2]) {
                free(positional);
                return -cli_usage_error(usage, "unknown option %s", a);
            }
        }
        if (o->type == CLI_FLAG) {
            if (inline_val) {
                free(positional);
                return -cli_usage_error(usage, "--%s takes no value", o->name);
            }
            *(bool *)o->target = true;
            continue;
        }
        const char *v = inline_val;
        if (!v) {
            if (i + 1 >= argc) {
                free(positional);
                return -cli_usage_error(usage, "--%s needs a value (%s)", o->name,
                                        o->metavar ? o->metavar : "value");
            }
            v = argv[++i];
        }
        int rc = set_value(o, v, usage);
        if (rc < 0) {
            free(positional);
            return rc;
        }
    }
    /* The array lives until cli_main returns (pointers refer into argv). */
    free(ctx->positional);
    ctx->positional = positional;
    if (pos)
        *pos = npos ? positional : none;
    return npos;
}
