/* ui: the full-screen console.  This header is included by src/main.c and
 * therefore must not include curses. */
#ifndef DSE_UI_H
#define DSE_UI_H

#include "cli.h"

/* `dse console [--read-only] [--signature ID] [--refresh-ms N] ...`
 * Returns an exit code. */
int ui_console_main(struct cli_ctx *ctx, int argc, char **argv);

#endif
