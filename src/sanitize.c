#include "sanitize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Decode one UTF-8 character.  Returns its length, or 0 when the bytes at s
 * are not a valid, shortest-form, non-surrogate sequence. */
static size_t decode_utf8(const unsigned char *s, size_t n, unsigned *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    unsigned min, c;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, min = 0x80, c = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, min = 0x800, c = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, min = 0x10000, c = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* Unicode general category Cf (format characters, Unicode 15.1) plus the
 * line and paragraph separators: all invisible or able to reorder or hide
 * text.  U+200D (zero width joiner) is among them: it glues emoji, but it
 * also hides text between look-alike characters. */
int sanitize_is_format_char(unsigned c)
{
    if (c < 0x00ad)
        return 0;
    if (c < 0x2000)
        return c == 0x00ad || (c >= 0x0600 && c <= 0x0605) || c == 0x061c || c == 0x06dd ||
               c == 0x070f || c == 0x0890 || c == 0x0891 || c == 0x08e2 || c == 0x180e;
    if (c < 0xfe00)
        return (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) ||
               (c >= 0x2060 && c <= 0x206f);
    if (c < 0x10000)
        return c == 0xfeff || (c >= 0xfff9 && c <= 0xfffb);
    return c == 0x110bd || c == 0x110cd || (c >= 0x13430 && c <= 0x1343f) ||
           (c >= 0x1bca0 && c <= 0x1bca3) || (c >= 0x1d173 && c <= 0x1d17a) || c == 0xe0001 ||
           (c >= 0xe0020 && c <= 0xe007f);
}

static void emit(struct sbuf *b, const char *s, size_t n, unsigned flags)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    char tmp[16];
    while (i < n) {
        unsigned c;
        size_t len = decode_utf8(p + i, n - i, &c);
        if (len == 0) {
            snprintf(tmp, sizeof tmp, "\\x%02X", p[i]);
            sbuf_adds(b, tmp);
            i++;
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            if (c == '\n' && (flags & SAN_KEEP_NL))
                sbuf_addc(b, '\n');
            else if (c == '\t')
                sbuf_addc(b, (flags & SAN_KEEP_TAB) ? '\t' : ' ');
            else {
                tmp[0] = '^';
                tmp[1] = c == 0x7f ? '?' : (char)(c + 0x40);
                sbuf_add(b, tmp, 2);
            }
        } else if ((c >= 0x80 && c <= 0x9f) || sanitize_is_format_char(c) ||
                   (c >= 0x80 && (flags & SAN_ASCII))) {
            snprintf(tmp, sizeof tmp, "<U+%04X>", c);
            sbuf_adds(b, tmp);
        } else {
            sbuf_add(b, s + i, len);
        }
        i += len;
    }
}

char *sanitize(const char *s, size_t n, unsigned flags)
{
    struct sbuf b = {0};
    sbuf_add(&b, "", 0);
    if (s)
        emit(&b, s, n, flags);
    return sbuf_take(&b);
}

char *sanitize_str(const char *s, unsigned flags) { return sanitize(s, s ? strlen(s) : 0, flags); }

void sanitize_into(char *out, size_t cap, const char *s, size_t n, unsigned flags)
{
    if (!cap)
        return;
    char *t = sanitize(s, n, flags);
    size_t len = strlen(t);
    if (len >= cap)
        len = util_utf8_cut(t, len, cap - 1);
    memcpy(out, t, len);
    out[len] = 0;
    free(t);
}

int sanitize_is_clean(const char *s, size_t n, unsigned flags)
{
    char *t = sanitize(s, n, flags);
    int same = strlen(t) == n && memcmp(t, s, n) == 0;
    free(t);
    return same;
}
