/* Temporary entry point until the console lands (owned by the console work). */
#include <stdio.h>

#include "ui.h"

int ui_console_main(struct cli_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    (void)argc;
    (void)argv;
    fprintf(stderr, "dse: the console is not built yet\n");
    return 1;
}
