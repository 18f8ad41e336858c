#include "collate.h"

#include "util.h"

#include <pthread.h>
#include <string.h>

/* Primary weights for ASCII in ICU root (CLDR/DUCET) order.  Whitespace and
 * controls first, then punctuation and symbols in DUCET order, then digits,
 * then letters (upper and lower share a primary weight). */
static const char ascii_order[] =
    "\t\n\v\f\r "
    "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$"
    "0123456789"
    "aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTuUvVwWxXyYzZ";

static unsigned primary[128];
static unsigned char tertiary[128];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void init_tables(void)
{
    unsigned w = 1;
    for (const char *p = ascii_order; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 'A' && c <= 'Z') {
            primary[c] = primary[c + 32];
            tertiary[c] = 1; /* uppercase after lowercase */
            continue;
        }
        primary[c] = w++;
    }
    /* Remaining controls are ignorable in ICU; weight 0 means "skip". */
}

/* Next weight at the given level; 0 at end of string.  Non-ASCII bytes get
 * weights above every ASCII letter, in byte (thus code point) order. */
static unsigned next_weight(const unsigned char **p, int level)
{
    while (**p) {
        unsigned char c = *(*p)++;
        if (c >= 128)
            return level == 0 ? 1000u + c : 1u;
        if (primary[c] == 0)
            continue;
        return level == 0 ? primary[c] : 1u + tertiary[c];
    }
    return 0;
}

static int compare_level(const char *a, const char *b, int level)
{
    const unsigned char *pa = (const unsigned char *)a, *pb = (const unsigned char *)b;
    for (;;) {
        unsigned wa = next_weight(&pa, level), wb = next_weight(&pb, level);
        if (wa != wb)
            return wa < wb ? -1 : 1;
        if (!wa)
            return 0;
    }
}

int collate_cmp(const char *a, const char *b)
{
    pthread_once(&tables_once, init_tables);
    int c = compare_level(a, b, 0);
    if (!c)
        c = compare_level(a, b, 2);
    if (!c) {
        c = strcmp(a, b);
        c = c < 0 ? -1 : c > 0;
    }
    return c;
}

int collate_qsort_cmp(const void *a, const void *b)
{
    return collate_cmp(*(const char *const *)a, *(const char *const *)b);
}

void collate_sort_key(const char *s, struct sbuf *b)
{
    pthread_once(&tables_once, init_tables);
    for (int level = 0; level <= 2; level += 2) {
        const unsigned char *p = (const unsigned char *)s;
        unsigned w;
        while ((w = next_weight(&p, level)) != 0) {
            /* Primary ASCII weights are < 100 and non-ASCII bytes map to
             * 1000 + byte; both fit one byte above the 0x01 separator. */
            unsigned char byte = (unsigned char)(w >= 1000 ? w - 1000 : w + 1);
            sbuf_addc(b, (char)byte);
        }
        sbuf_addc(b, 1);
    }
    sbuf_adds(b, s);
}
