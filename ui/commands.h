/* commands: the ':' command line and the settings it shares with keys.
 *
 *   :signature ID        select a signature (id, key or unique suffix)
 *   :pane NAME           show a pane (overview history canary compile
 *                        examples receipts runs signatures)
 *   :receipts [error|ok|all] [strategy=S] [compiled=ID] [thread=T]
 *                        receipt filters (server-side, keyed paging)
 *   :theme NAME          switch theme (default light high-contrast mono)
 *   :refresh MS          live refresh interval
 *   :filter TEXT         filter the current list (empty clears)
 *   :search TEXT         search in the viewer
 *   :arm                 enable writes for this session (read-only mode;
 *                        refused when started with --read-only)
 *   :log                 the command log (equivalent dse commands)
 *   :messages            the message history (also L)
 *   :save-screen PATH    write the screen as text
 *   :help                keys of the current pane
 *   :q / :quit           leave */
#ifndef DSE_UI_COMMANDS_H
#define DSE_UI_COMMANDS_H

#include "console.h"

void commands_prompt(struct ui *ui);
/* Run one command line (without the ':').  Returns 0 / -1 (message shown). */
int commands_run(struct ui *ui, const char *line);
void commands_set_refresh(struct ui *ui, int ms);
void commands_arm(struct ui *ui);
void commands_log(struct ui *ui);
/* The message history (newest first) with the commands run: a viewer. */
void commands_messages(struct ui *ui);

#endif
