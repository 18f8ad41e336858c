#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sanitize.h"

int dse_fail(struct dse_err *err, const char *code, const char *fmt, ...)
{
    if (!err)
        return -1;
    char raw[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    sanitize_into(err->code, sizeof err->code, code, strlen(code), 0);
    sanitize_into(err->msg, sizeof err->msg, raw, strlen(raw), 0);
    return -1;
}

void dse_err_clear(struct dse_err *err)
{
    if (err) {
        err->code[0] = 0;
        err->msg[0] = 0;
    }
}

const char *dse_err_str(const struct dse_err *err, char *buf, unsigned cap)
{
    if (!err->msg[0] || strcmp(err->msg, err->code) == 0)
        snprintf(buf, cap, "%s", err->code[0] ? err->code : "error");
    else
        snprintf(buf, cap, "%s: %s", err->code[0] ? err->code : "error", err->msg);
    return buf;
}
