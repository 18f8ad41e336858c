/* err: the error vocabulary shared by store, engine, CLI and server.
 *
 * Operations return 0 on success or -1 with *err filled.  `code` is a short
 * machine name taken from the reference where it has one (artifact_not_found,
 * control_missing, invalid_input, ...); `msg` is a human sentence.  Messages
 * pass through the sanitiser when they are set, so an error is always safe
 * to print, log or send even when it quotes untrusted input. */
#ifndef DSE_ERR_H
#define DSE_ERR_H

struct dse_err {
    char code[48];
    char msg[480];
};

/* Fill err (may be NULL) and return -1.  The formatted text is sanitised. */
int dse_fail(struct dse_err *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void dse_err_clear(struct dse_err *err);
/* "code: msg" (or just code), for one-line reports. */
const char *dse_err_str(const struct dse_err *err, char *buf, unsigned cap);

#endif
