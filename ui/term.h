/* term: the terminal under the console — curses start and stop, signals,
 * stderr capture, colours, raw key reading, suspending for $EDITOR, and
 * screen dumps.
 *
 * Start order: stderr goes to an unlinked temp file (so nothing a library
 * prints can scribble over the screen), newterm() (never initscr(), which
 * exits on an unknown TERM), our own SIGWINCH handler (installed before
 * newterm so ncurses leaves it alone), then SIGINT/SIGTERM/SIGHUP handlers
 * (after newterm, replacing ncurses' own).  Handlers only set a bit and
 * write a byte to a self-pipe that the main loop polls.  A crash handler
 * (SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL) restores the saved termios and
 * leaves the alternate screen with async-signal-safe calls before the
 * signal proceeds.  Stop: endwin, stderr restored, captured text replayed
 * (sanitised). */
#ifndef DSE_UI_TERM_H
#define DSE_UI_TERM_H

#include <stdbool.h>

#include "console.h"

enum {
    TERM_SIG_HUP = 1 << 0,
    TERM_SIG_INT = 1 << 1,
    TERM_SIG_TERM = 1 << 2,
    TERM_SIG_WINCH = 1 << 3,
};

/* Returns 0, or -1 with err (code "terminal": unknown TERM, no tty). */
int term_start(struct ui *ui, struct dse_err *err);
void term_stop(struct ui *ui);
bool term_active(void);

/* Colours and attributes for every role from ui->theme (honours NO_COLOR
 * and the terminal's colour count). */
void term_apply_theme(struct ui *ui);

/* Self-pipe read end (poll it) and the pending signal bits (cleared). */
int term_signal_fd(void);
unsigned term_take_signals(void);

/* Read the new size from the tty and resize curses. */
void term_resize(void);

/* Read one key without blocking.  Returns 1 with *key (action.h encoding),
 * 0 when none is waiting. */
int term_get_key(WINDOW *w, int *key);

/* Leave curses for a child process (editor) and come back. */
void term_suspend(void);
void term_resume(void);

/* Dump the screen as text (trailing blanks trimmed) to path. */
int term_save_screen(const char *path, struct dse_err *err);

#endif
