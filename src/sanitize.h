/* sanitize: the one filter every untrusted string passes before it reaches
 * a terminal, a log line, an export meant for reading, or an error body.
 *
 * Untrusted means LLM output, user messages, and any JSON from disk or the
 * network.  Nothing is deleted: each dangerous character is replaced by a
 * visible marker so the reader can tell something was there.
 *
 *   C0 controls and DEL        caret notation: ESC -> "^[", CR -> "^M", DEL -> "^?"
 *   newline, tab               kept when SAN_KEEP_NL / SAN_KEEP_TAB, else "^J" / " "
 *   C1 controls U+0080-U+009F  "<U+009B>"
 *   bidi and invisible format  "<U+202E>" (U+061C, U+200B-U+200F, U+2028-U+202E,
 *   characters                 U+2060-U+2069, U+FEFF)
 *   invalid UTF-8 bytes        "\xNN"
 *
 * The output is always valid UTF-8 and contains no byte < 0x20 except the
 * kept newline/tab, and no 0x7f. */
#ifndef DSE_SANITIZE_H
#define DSE_SANITIZE_H

#include <stddef.h>

enum {
    SAN_KEEP_NL = 1 << 0,  /* keep '\n' (multi-line viewers, logs of blocks) */
    SAN_KEEP_TAB = 1 << 1, /* keep '\t' */
    SAN_ASCII = 1 << 2,    /* replace every non-ASCII character by "<U+XXXX>" */
};

/* Sanitise n bytes of s; returns a malloc'd NUL-terminated string. */
char *sanitize(const char *s, size_t n, unsigned flags);
/* Convenience for NUL-terminated input; NULL gives "". */
char *sanitize_str(const char *s, unsigned flags);
/* Sanitise into a fixed buffer (truncated on a character boundary). */
void sanitize_into(char *out, size_t cap, const char *s, size_t n, unsigned flags);
/* 1 if s (n bytes) would come out of sanitize() unchanged. */
int sanitize_is_clean(const char *s, size_t n, unsigned flags);

#endif
