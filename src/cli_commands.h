/* cli_commands: the table of CLI commands.  One X line per command; the
 * function cmd_<name> lives in src/cmd_<area>.c.  The order here is the
 * order of `dse --help`.
 *
 * X(name, function, one-line summary) */
#ifndef DSE_CLI_COMMANDS_H
#define DSE_CLI_COMMANDS_H

#include "cli.h"

#define CLI_COMMANDS(X)                                                                \
    X("console", cmd_console, "Open the full-screen operator console (default)")

#define CLI_X_DECL(name, fn, summary) int fn(struct cli_ctx *ctx, int argc, char **argv);
CLI_COMMANDS(CLI_X_DECL)
#undef CLI_X_DECL

#endif
