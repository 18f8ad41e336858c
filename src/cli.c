#include "cli.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "cli_commands.h"
#include "hash.h"
#include "json.h"
#include "sanitize.h"
#include "store.h"
#include "util.h"

struct command {
    const char *name;
    int (*fn)(struct cli_ctx *, int, char **);
    const char *summary;
};

static const struct command commands[] = {
#define CLI_X_TABLE(n, f, s) {n, f, s},
    CLI_COMMANDS(CLI_X_TABLE)
#undef CLI_X_TABLE
};

static void print_help(FILE *f)
{
    fprintf(f,
            "dse %s: operator console and engine for self-improving LLM signatures\n\n"
            "usage: dse [--db PATH | --remote URL [--token-env VAR]] [--json] [--read-only]\n"
            "           COMMAND [options]\n\n"
            "Global options:\n"
            "  --db PATH          SQLite store (default $DSE_DB, else $XDG_DATA_HOME/dse/dse.db)\n"
            "  --remote URL       use a remote store served by `dse serve` (or $DSE_REMOTE)\n"
            "  --token-env VAR    environment variable holding the bearer token (default DSE_TOKEN)\n"
            "  --token-file PATH  file holding the bearer token\n"
            "  --json             machine-readable output\n"
            "  --read-only        refuse every write\n"
            "  --quiet            no progress lines\n"
            "  --version          print the version\n\n"
            "Commands:\n",
            DSE_VERSION);
    for (size_t i = 0; i < ARRAY_LEN(commands); i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun `dse COMMAND --help` for a command's options.  Exit codes: 0 ok, "
               "1 refused, 2 bad usage.\n");
}

char *cli_default_db_path(void)
{
    const char *env = getenv("DSE_DB");
    if (env && *env)
        return xstrdup(env);
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && *xdg)
        return xasprintf("%s/dse/dse.db", xdg);
    const char *home = getenv("HOME");
    return xasprintf("%s/.local/share/dse/dse.db", home && *home ? home : ".");
}

int cli_report(const struct dse_err *err)
{
    char buf[600];
    fprintf(stderr, "dse: %s\n", dse_err_str(err, buf, sizeof buf));
    if (strcmp(err->code, "invalid_input") == 0 || strcmp(err->code, "usage") == 0)
        return EXIT_USAGE;
    return EXIT_REFUSED;
}

/* Read a token from a file: first line, trimmed.  The token is never
 * printed; errors mention only the path. */
static char *read_token_file(const char *path, struct dse_err *err)
{
    size_t len;
    char *text = util_read_file(path, 65536, &len);
    if (!text) {
        dse_fail(err, "usage", "cannot read token file %s: %s", path, strerror(errno));
        return NULL;
    }
    char *nl = strchr(text, '\n');
    if (nl)
        *nl = 0;
    char *t = xstrdup(util_trim(text));
    free(text);
    return t;
}

struct store *cli_store(struct cli_ctx *ctx)
{
    if (ctx->st)
        return ctx->st;
    struct dse_err err = {0};
    unsigned flags = (ctx->read_only ? STORE_READ_ONLY : 0) |
                     (ctx->interactive ? STORE_INTERACTIVE : 0);
    if (ctx->remote) {
        char *token = NULL;
        if (ctx->token_file) {
            token = read_token_file(ctx->token_file, &err);
            if (!token) {
                cli_report(&err);
                return NULL;
            }
        } else {
            const char *var = ctx->token_env ? ctx->token_env : "DSE_TOKEN";
            const char *t = getenv(var);
            if (t && *t)
                token = xstrdup(t);
        }
        ctx->st = store_open_remote(ctx->remote, token, flags, &err);
        if (token) {
            memset(token, 0, strlen(token));
            free(token);
        }
    } else {
        char *path = ctx->db_path ? xstrdup(ctx->db_path) : cli_default_db_path();
        ctx->st = store_open_sqlite(path, flags, &err);
        free(path);
    }
    if (!ctx->st) {
        cli_report(&err);
        return NULL;
    }
    const char *user = getenv("USER");
    if (!user || !*user) {
        struct passwd *pw = getpwuid(getuid());
        user = pw ? pw->pw_name : NULL;
    }
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    char actor[128];
    snprintf(actor, sizeof actor, "%s@%s", user && *user ? user : "unknown", host[0] ? host : "local");
    if (!ctx->st->actor[0])
        store_set_actor(ctx->st, actor);
    return ctx->st;
}

void cli_print_json(const cJSON *v)
{
    char *s = json_print_safe(v, 1);
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
}

int cli_call(struct cli_ctx *ctx, enum store_op op, cJSON *args, cJSON **out)
{
    struct dse_err err = {0};
    if (out)
        *out = NULL;
    struct store *st = cli_store(ctx);
    if (!st) {
        cJSON_Delete(args);
        return EXIT_REFUSED;
    }
    int rc = store_call(st, op, args, out, &err);
    cJSON_Delete(args);
    return rc < 0 ? cli_report(&err) : EXIT_OK;
}

char *cli_signature(struct cli_ctx *ctx, const char *name, const char *usage, int *rc)
{
    if (!name) {
        *rc = cli_usage_error(usage, "--signature is required");
        return NULL;
    }
    struct store *st = cli_store(ctx);
    if (!st) {
        *rc = EXIT_REFUSED;
        return NULL;
    }
    struct dse_err err = {0};
    char *id = catalog_resolve(st, name, &err);
    if (!id)
        *rc = cli_report(&err);
    return id;
}

void cli_out(const char *s)
{
    char *t = sanitize_str(s, SAN_KEEP_NL | SAN_KEEP_TAB);
    fputs(t, stdout);
    free(t);
}

const char *cli_cell(const char *s, unsigned max_chars)
{
    static char bufs[8][512];
    static unsigned next;
    char *b = bufs[next++ % 8];
    char *t = sanitize_str(s ? s : "-", 0);
    size_t len = strlen(t);
    if (max_chars && util_utf8_len(t, len) > max_chars) {
        size_t cut = util_utf8_prefix(t, len, max_chars > 1 ? max_chars - 1 : 1);
        snprintf(b, 512, "%.*s~", (int)cut, t);
    } else {
        snprintf(b, 512, "%s", t);
    }
    free(t);
    return b;
}

const char *cli_short_id(const char *id, const char *none)
{
    if (!id || !*id)
        return none;
    char b[40];
    hash_short(id, b, sizeof b, 12);
    return cli_cell(b, 0);
}

int cmd_console(struct cli_ctx *ctx, int argc, char **argv)
{
    if (!ctx->console) {
        fprintf(stderr, "dse: this build has no console\n");
        return EXIT_REFUSED;
    }
    return ctx->console(ctx, argc, argv);
}

/* Global options may come before the command; returns the index of the
 * command word, or -exit code. */
static int parse_globals(struct cli_ctx *ctx, int argc, char **argv)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-')
            break;
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        char name[32];
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (nlen >= sizeof name)
            nlen = sizeof name - 1;
        memcpy(name, a, nlen);
        name[nlen] = 0;
        int takes = !strcmp(name, "--db") || !strcmp(name, "--remote") ||
                    !strcmp(name, "--token-env") || !strcmp(name, "--token-file");
        if (takes) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                fprintf(stderr, "dse: %s needs a value\n", name);
                return -EXIT_USAGE;
            }
        }
        if (!strcmp(name, "--db"))
            ctx->db_path = val;
        else if (!strcmp(name, "--remote"))
            ctx->remote = val;
        else if (!strcmp(name, "--token-env"))
            ctx->token_env = val;
        else if (!strcmp(name, "--token-file"))
            ctx->token_file = val;
        else if (!strcmp(a, "--json"))
            ctx->json = true;
        else if (!strcmp(a, "--read-only"))
            ctx->read_only = true;
        else if (!strcmp(a, "--quiet") || !strcmp(a, "-q"))
            ctx->quiet = true;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_help(stdout);
            fflush(stdout);
            exit(EXIT_OK);
        } else if (!strcmp(a, "--version")) {
            printf("dse %s\n", DSE_VERSION);
            fflush(stdout);
            exit(EXIT_OK);
        } else {
            char *s = sanitize_str(a, 0);
            fprintf(stderr, "dse: unknown option %s (see `dse --help`)\n", s);
            free(s);
            return -EXIT_USAGE;
        }
    }
    return i;
}

int cli_main(int argc, char **argv, cli_console_fn *console)
{
    struct cli_ctx ctx = {.argv0 = argv[0], .console = console};
    /* libcurl and the server write to sockets; a closed peer must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    int i = parse_globals(&ctx, argc, argv);
    if (i < 0)
        return -i;
    const char *env_remote = getenv("DSE_REMOTE");
    if (!ctx.remote && !ctx.db_path && env_remote && *env_remote)
        ctx.remote = env_remote;
    if (ctx.remote && ctx.db_path) {
        fprintf(stderr, "dse: --db and --remote cannot be used together\n");
        return EXIT_USAGE;
    }
    int rc;
    if (i >= argc) {
        char *cargv[] = {(char *)"console", NULL};
        rc = cmd_console(&ctx, 1, cargv);
    } else {
        const struct command *cmd = NULL;
        for (size_t k = 0; k < ARRAY_LEN(commands); k++)
            if (!strcmp(commands[k].name, argv[i]))
                cmd = &commands[k];
        if (!cmd && !strcmp(argv[i], "help")) {
            print_help(stdout);
            return EXIT_OK;
        }
        if (!cmd) {
            char *s = sanitize_str(argv[i], 0);
            fprintf(stderr, "dse: unknown command '%s' (see `dse --help`)\n", s);
            free(s);
            return EXIT_USAGE;
        }
        rc = cmd->fn(&ctx, argc - i, argv + i);
    }
    if (ctx.st)
        store_close(ctx.st);
    free(ctx.positional);
    return rc;
}
