/* cli_commands: the table of CLI commands.  One X line per command; the
 * function cmd_<name> lives in src/cmd_<area>.c.  The order here is the
 * order of `dse --help`.
 *
 * X(name, function, one-line summary) */
#ifndef DSE_CLI_COMMANDS_H
#define DSE_CLI_COMMANDS_H

#include "cli.h"

#define CLI_COMMANDS(X)                                                                \
    X("console", cmd_console, "Open the full-screen operator console (default)")       \
    X("demo", cmd_demo, "Build (or reuse) an offline demo store; --console opens it")  \
    X("init", cmd_init, "Create the store and load the signature catalog")             \
    X("signatures", cmd_signatures, "List signatures with their active pointer")       \
    X("examples", cmd_examples, "import | export | list | put | show dataset examples")\
    X("dataset", cmd_dataset, "hash: print a signature's datasetHash")                 \
    X("compile", cmd_compile, "Compile a signature (optimizer search, report, artifact)")\
    X("eval", cmd_eval, "Evaluate an artifact on a split and store the eval report")  \
    X("promote", cmd_promote, "Promote an artifact behind the holdout gate")           \
    X("active", cmd_active, "show | set | clear | rollback | history of the pointer")  \
    X("rollback", cmd_rollback, "Roll the active pointer back (reference rules)")      \
    X("artifacts", cmd_artifacts, "list | show compiled artifacts")                    \
    X("canary", cmd_canary, "status | history | start | stop canary rollouts")         \
    X("predict", cmd_predict, "Run a signature once (routing, receipt, canary count)")  \
    X("traffic", cmd_traffic, "Replay examples as live predicts (canary samples)")     \
    X("loop", cmd_loop, "compile -> gate -> canary -> promote or stop, as an ops run") \
    X("receipts", cmd_receipts, "List predict receipts (newest first, filterable)")    \
    X("receipt", cmd_receipt, "Show one receipt")                                      \
    X("blob", cmd_blob, "Show a blob (e.g. an RLM trace) of a receipt")                \
    X("runs", cmd_runs, "List ops runs")                                               \
    X("run", cmd_run, "Show an ops run and its events")                                \
    X("serve", cmd_serve, "Serve the local store over HTTP (Convex function API)")

#define CLI_X_DECL(name, fn, summary) int fn(struct cli_ctx *ctx, int argc, char **argv);
CLI_COMMANDS(CLI_X_DECL)
#undef CLI_X_DECL

#endif
