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
    struct store *st;      /* opened on first cli_store() */
    const char *argv0;
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

#endif
