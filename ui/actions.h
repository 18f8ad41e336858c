/* actions: the operator actions on the selected signature — rollback (R),
 * promote (p), canary start/stop (C), compile (c).
 *
 * Each checks the write guard, asks for confirmation with the exact state
 * change (rollback: from -> to computed with the store's own rule), then
 * runs: rollback and canary stop as one store call on the main thread;
 * promote, canary start (the holdout gate evaluates the control) and compile
 * as background jobs (worker.c), their progress shown live.  Every write is
 * echoed as the equivalent dse CLI command in the command log. */
#ifndef DSE_UI_ACTIONS_H
#define DSE_UI_ACTIONS_H

#include "console.h"
#include "lmopts.h"

/* ACT_ROLLBACK, ACT_PROMOTE, ACT_CANARY, ACT_COMPILE; UI_PASS for others. */
int actions_global(struct ui *ui, int action);

/* LM settings for jobs: the console's --provider/--model/... options, the
 * same flags and environment fallbacks as the CLI's engine commands. */
extern struct lmopts actions_lmopts;

#endif
