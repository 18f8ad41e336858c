/* input: the one-line editor on the status line, used for the : command
 * line, / filters and searches, text prompts and y/N confirmations.
 *
 * While an input is open it receives every key before the keymap does.
 * Enter submits (the callback runs after the input is closed, so it may
 * open another), Esc cancels, Backspace / C-u / C-w edit.  A confirmation
 * takes one key: y confirms, anything else cancels. */
#ifndef DSE_UI_INPUT_H
#define DSE_UI_INPUT_H

#include <curses.h>

#include "console.h"

struct input;

struct input *input_new_text(const char *prompt, const char *initial, ui_text_fn *done,
                             void *arg, void (*free_arg)(void *));
struct input *input_new_confirm(const char *question, ui_yes_fn *yes, void *arg,
                                void (*free_arg)(void *));
void input_free(struct input *in);
/* Handle a key; closes ui->input when finished.  Returns ui_result bits. */
int input_key(struct ui *ui, int key);
/* Draw on the status window; leaves the cursor at the insertion point. */
void input_draw(struct ui *ui, WINDOW *w, int width);

#endif
