/* cli: `dse [global options] COMMAND [options]`.
 *
 * Global options are parsed once into a cli_ctx; each command gets the
 * remaining argv (argv[0] = command name) and opens the store through
 * cli_store(), so local, remote and read-only modes work for every command
 * alike.  Exit codes: 0 success, 1 refused (gate failed, not found, ...),
 * 2 bad usage. */
#ifndef DSE_CLI_H
#define DSE_CLI_H

#include <stdbool.h>

#include "err.h"

struct store;

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2 };

struct cli_ctx {
    const char *db_path;   /* --db, else $DSE_DB, else $XDG_DATA_HOME/dse/dse.db */
    const char *remote;    /* --remote URL (or $DSE_REMOTE) */
    const char *token_env; /* --token-env VAR (default DSE_TOKEN) */
    const char *token_file;/* --token-file PATH */
    bool json;             /* --json: machine-readable output */
    bool read_only;        /* --read-only */
    bool quiet;            /* --quiet: no progress lines */
    bool interactive;      /* a screen waits on the store: STORE_INTERACTIVE */
    struct store *st;      /* opened on first cli_store() */
    const char *argv0;
    int (*console)(struct cli_ctx *ctx, int argc, char **argv); /* from ui/ */
    char **positional;     /* owned: last cli_parse() result, freed by cli_main */
};

/* The console entry point, provided by ui/ (kept out of src/ so src/ never
 * links curses).  argv[0] is "console". */
typedef int cli_console_fn(struct cli_ctx *ctx, int argc, char **argv);

int cli_main(int argc, char **argv, cli_console_fn *console);

/* Open (once) the store the global options name.  On failure prints the
 * error to stderr and returns NULL. */
struct store *cli_store(struct cli_ctx *ctx);
/* Resolved default database path (malloc'd). */
char *cli_default_db_path(void);

/* Print an error as "dse: code: message" to stderr (sanitised) and return
 * the exit code for it: EXIT_USAGE for invalid_input/usage, else EXIT_REFUSED. */
int cli_report(const struct dse_err *err);

/* ---- per-command option parsing (cli_opts.c) ----
 *
 * Each command describes its options in a table and its usage in text:
 *
 *   const char *sig = NULL; bool dry = false;
 *   struct cli_opt opts[] = {
 *       {"signature", 's', CLI_STR, &sig, "ID", "signature id, key or unique suffix"},
 *       {"dry-run", 0, CLI_FLAG, &dry, NULL, "show what would happen"},
 *       {0}};
 *   int n = cli_parse(ctx, argc, argv, opts, "dse examples list --signature ID",
 *                     "List a signature's examples.", &pos);
 *   if (n < 0) return -n;      // usage error: -EXIT_USAGE
 *
 * `--name value`, `--name=value` and `-s value` are accepted; global options
 * (--json, --db, ...) are also accepted after the command.  `--help`/`-h`
 * prints the usage, the description and the option table, and exits the
 * process with status 0 (call cli_parse before opening anything).  An unknown option or a missing value prints a one-line error
 * naming it plus the usage line and returns -EXIT_USAGE.  On success the
 * return value is the number of positional arguments, collected in *pos
 * (pointers into argv; pos[0] is the first argument after the command). */
enum cli_opt_type { CLI_FLAG, CLI_STR, CLI_INT, CLI_DOUBLE };

struct cli_opt {
    const char *name;       /* long name without "--"; NULL ends the table */
    char short_name;        /* 0 for none */
    enum cli_opt_type type;
    void *target;           /* bool*, const char**, long long*, double* */
    const char *metavar;    /* "ID", "N", ... (NULL for flags) */
    const char *help;
};

int cli_parse(struct cli_ctx *ctx, int argc, char **argv, const struct cli_opt *opts,
              const char *usage, const char *description, char ***pos);
/* Print a usage error ("dse CMD: what was wrong") and the usage line; returns EXIT_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print a JSON value to stdout (pretty) followed by a newline.  JSON output
 * is for machines: strings keep their content (escaped by the JSON printer),
 * so no terminal control byte can come through raw. */
struct cJSON;
void cli_print_json(const struct cJSON *v);

/* Call a store operation; args is consumed (freed).  On failure reports the
 * error (cli_report) and returns its exit code; on success 0 with *out set
 * (may be NULL to discard). */
enum store_op;
int cli_call(struct cli_ctx *ctx, enum store_op op, struct cJSON *args, struct cJSON **out);
/* Resolve --signature (id, key or unique suffix) to a full id (malloc'd);
 * NULL after reporting the error (*rc set to the exit code). */
char *cli_signature(struct cli_ctx *ctx, const char *name, const char *usage, int *rc);
/* Print untrusted text to stdout through the sanitiser (no newline added). */
void cli_out(const char *s);
/* A sanitised, width-limited copy for table cells (static rotating buffers:
 * valid until 8 further calls).  max_chars 0 = no limit. */
const char *cli_cell(const char *s, unsigned max_chars);
/* "sha256:1a2b3c4d5e6f" (12 hex digits) for a hash id, the id itself
 * otherwise (sanitised), `none` for NULL/"" (same buffer rules as cli_cell). */
const char *cli_short_id(const char *id, const char *none);

#endif
