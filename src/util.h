/* util: allocation, growable strings, time, ids, files.
 *
 * Allocation failure is not recoverable here: x*alloc print a message and
 * abort (after running the registered cleanup hook, which the console uses to
 * restore the terminal).  Everything returned by x* is freed with free(). */
#ifndef DSE_UTIL_H
#define DSE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define DSE_VERSION "0.1.0"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Called once before abort() on allocation failure (e.g. endwin). */
void util_set_die_hook(void (*hook)(void));
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Growable NUL-terminated byte string.  A zeroed struct is an empty buffer;
 * sbuf_free releases it; sbuf_take hands the buffer to the caller. */
struct sbuf {
    char *s;
    size_t len, cap;
};
void sbuf_add(struct sbuf *b, const char *s, size_t n);
void sbuf_adds(struct sbuf *b, const char *s);
void sbuf_addc(struct sbuf *b, char c);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_reset(struct sbuf *b);
char *sbuf_take(struct sbuf *b); /* never NULL; caller frees */
void sbuf_free(struct sbuf *b);

/* Wall clock in ms since the epoch.  Tests may pin it with DSE_FAKE_NOW_MS
 * (read once per call, so a test can move time by setting the variable). */
int64_t util_now_ms(void);
/* Monotonic clock in ms, for durations and timeouts. */
int64_t util_mono_ms(void);
/* ISO-8601 UTC with milliseconds, as JS Date.toISOString: 2026-11-28T06:27:16.123Z */
void util_iso_time(int64_t ms, char out[32]);
/* Short local "YYYY-MM-DD HH:MM" for screens. */
void util_short_time(int64_t ms, char out[32]);
/* "3s", "5m", "2h", "4d" for ages. */
void util_age(int64_t ms, char out[16]);
/* Random UUID v4 (from /dev/urandom via libcrypto RAND_bytes). */
void util_uuid(char out[37]);

/* Read a whole file (at most max bytes; -1 with errno=EFBIG if larger).
 * Returns a NUL-terminated malloc'd buffer and its length in *len. */
char *util_read_file(const char *path, size_t max, size_t *len);
/* Write atomically: temp file in the same directory, fsync, rename. */
int util_write_file_atomic(const char *path, const char *data, size_t len);
/* mkdir -p for the directory part of path. */
int util_mkdirs_for(const char *path);

/* Trim ASCII whitespace in place; returns s. */
char *util_trim(char *s);
bool util_streq(const char *a, const char *b); /* NULL-safe */
/* Parse a whole decimal integer / double; false on junk or overflow. */
bool util_parse_i64(const char *s, int64_t *out);
bool util_parse_double(const char *s, double *out);

/* Count UTF-8 code points (invalid bytes count one each). */
size_t util_utf8_len(const char *s, size_t n);
/* Length of the longest prefix of s with at most max code points that does
 * not split a UTF-8 sequence. */
size_t util_utf8_prefix(const char *s, size_t n, size_t max_chars);
/* Length of the longest prefix of s (n bytes) that is at most max_bytes
 * long and does not end inside a UTF-8 sequence. */
size_t util_utf8_cut(const char *s, size_t n, size_t max_bytes);

#endif
