/* panes: entry points of individual panes used by the command line and the
 * actions (beyond the generic pane_ops slots). */
#ifndef DSE_UI_PANES_H
#define DSE_UI_PANES_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "pane.h"

/* Move the signature list's cursor to the selected signature. */
void pane_signatures_follow(struct pane *p);
/* `:receipts [error|ok|all] [strategy=S] [compiled=ID] [thread=T]`. */
int pane_receipts_command(struct pane *p, int argc, char **argv);
/* The compile report selected in the compile pane (borrowed), if loaded
 * and for the current signature. */
const cJSON *pane_compile_selected(struct pane *p);
/* The error share of a canary row's control since the canary started (its
 * newest receipts); *n = 0 when not measured. */
void pane_canary_control_rate(struct ui *ui, const cJSON *row, double *rate, long *n);
/* A canary of sig that started at since_ms is gone: when canary history
 * shows it auto-stopped, put a notice on the message line (once). */
void pane_canary_autostop_notice(struct ui *ui, const char *sig, int64_t since_ms);

#endif
