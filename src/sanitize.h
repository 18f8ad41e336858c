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
 *   bidi and invisible format  "<U+202E>": every Unicode format character (Cf:
 *   characters                 U+00AD, U+0600-U+0605, U+061C, U+06DD, U+070F,
 *                              U+0890-U+0891, U+08E2, U+180E, U+200B-U+200F
 *                              (U+200D, the zero width joiner, included),
 *                              U+202A-U+202E, U+2060-U+206F, U+FEFF,
 *                              U+FFF9-U+FFFB, U+110BD, U+110CD, U+13430-U+1343F,
 *                              U+1BCA0-U+1BCA3, U+1D173-U+1D17A, U+E0001,
 *                              U+E0020-U+E007F tags) and U+2028, U+2029
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
/* 1 if code point c is one of the format characters above (shared with
 * the terminal-safe JSON writers in json.c). */
int sanitize_is_format_char(unsigned c);
/* 1 if s (n bytes) would come out of sanitize() unchanged. */
int sanitize_is_clean(const char *s, size_t n, unsigned flags);

#endif
