#include "text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "sanitize.h"
#include "util.h"

static bool ascii_mode;

void text_set_ascii(bool ascii) { ascii_mode = ascii; }
bool text_ascii(void) { return ascii_mode; }
const char *text_dot(void) { return ascii_mode ? " - " : " \xc2\xb7 "; }

/* One character of clean text: its byte length and display width.  Invalid
 * bytes (which the sanitiser never emits) decode as one byte of width 1 and
 * are flagged so text_fit can replace them. */
struct ch {
    size_t len;
    int width; /* -1 unprintable, 0 combining, 1 or 2 */
};

static struct ch next_ch(const char *s, size_t n)
{
    mbstate_t st;
    memset(&st, 0, sizeof st);
    wchar_t wc;
    size_t r = mbrtowc(&wc, s, n, &st);
    if (r == (size_t)-1 || r == (size_t)-2 || r == 0)
        return (struct ch){1, -1};
    int w = wcwidth(wc);
    return (struct ch){r, w < 0 ? -1 : w};
}

int text_width(const char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s), i = 0;
    int w = 0;
    while (i < n) {
        struct ch c = next_ch(s + i, n - i);
        w += c.width < 0 ? 1 : c.width;
        i += c.len;
    }
    return w;
}

size_t text_prefix(const char *s, int width, int *used)
{
    size_t n = strlen(s), i = 0;
    int w = 0;
    while (i < n) {
        struct ch c = next_ch(s + i, n - i);
        int cw = c.width < 0 ? 1 : c.width;
        if (w + cw > width)
            break;
        w += cw;
        i += c.len;
    }
    /* Trailing combining marks belong to the last base character. */
    while (i < n) {
        struct ch c = next_ch(s + i, n - i);
        if (c.width != 0)
            break;
        i += c.len;
    }
    if (used)
        *used = w;
    return i;
}

char *text_fit(const char *s, int width, enum text_align align)
{
    if (width <= 0)
        return xstrdup("");
    if (!s)
        s = "";
    const char *marker = ascii_mode ? "~" : "\xe2\x80\xa6"; /* U+2026 */
    struct sbuf body = {0};
    sbuf_add(&body, "", 0);
    size_t n = strlen(s), i = 0;
    int w = 0, total = text_width(s);
    bool cut = total > width;
    int limit = cut ? width - 1 : width; /* room left for the marker */
    int combining = 0;
    bool have_base = false;
    while (i < n) {
        struct ch c = next_ch(s + i, n - i);
        if (c.width == 0) {
            /* A combining mark with nothing to sit on would merge into the
             * neighbouring cell; an overlong stack is noise. */
            if (have_base && combining < TEXT_MAX_COMBINING) {
                sbuf_add(&body, s + i, c.len);
                combining++;
            } else if (!have_base) {
                if (w + 1 > limit)
                    break;
                sbuf_addc(&body, '?');
                w++;
            }
            i += c.len;
            continue;
        }
        int cw = c.width < 0 ? 1 : c.width;
        if (w + cw > limit)
            break;
        if (c.width < 0)
            sbuf_addc(&body, '?');
        else
            sbuf_add(&body, s + i, c.len);
        have_base = true;
        combining = 0;
        w += cw;
        i += c.len;
    }
    if (cut) {
        sbuf_adds(&body, marker);
        w++;
    }
    struct sbuf out = {0};
    sbuf_add(&out, "", 0);
    int pad = width - w;
    if (align == TEXT_RIGHT)
        for (int k = 0; k < pad; k++)
            sbuf_addc(&out, ' ');
    sbuf_add(&out, body.s, body.len);
    if (align == TEXT_LEFT)
        for (int k = 0; k < pad; k++)
            sbuf_addc(&out, ' ');
    sbuf_free(&body);
    return sbuf_take(&out);
}

char *text_clean(const char *untrusted)
{
    return sanitize_str(untrusted ? untrusted : "", ascii_mode ? SAN_ASCII : 0);
}

char *text_cell(const char *untrusted, int width, enum text_align align)
{
    char *clean = text_clean(untrusted);
    char *out = text_fit(clean, width, align);
    free(clean);
    return out;
}

const char *text_find(const char *hay, const char *needle)
{
    if (!hay || !needle)
        return NULL;
    size_t nl = strlen(needle);
    if (nl == 0)
        return hay;
    for (const char *p = hay; *p; p++) {
        size_t k = 0;
        while (k < nl && p[k] &&
               tolower((unsigned char)p[k]) == tolower((unsigned char)needle[k]))
            k++;
        if (k == nl)
            return p;
    }
    return NULL;
}
