#include "collate.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucol.h>
#include <unicode/ustring.h>
#include <unicode/uvernum.h>

#include "util.h"

/* One root collator, set up like V8's Intl.Collator for localeCompare:
 * tertiary strength ("variant" sensitivity), normalization on, no numeric
 * ordering, no case-first.  It is only ever cloned, never used to compare. */
static UCollator *proto;
static char version[96];
static pthread_once_t proto_once = PTHREAD_ONCE_INIT;
static pthread_key_t clone_key;

/* ICU documents a UCollator as safe to clone from any thread but does not
 * promise that comparing on one collator from several threads at once is
 * safe in its C API, so every thread compares with its own clone (cheap:
 * clones share the immutable root data).  The thread-local pointer keeps the
 * clone reachable; the key's destructor closes it when a thread ends. */
static _Thread_local UCollator *mine;

static void close_clone(void *p)
{
    ucol_close(p);
}

static void proto_init(void)
{
    UErrorCode st = U_ZERO_ERROR;
    proto = ucol_open("", &st);
    if (U_FAILURE(st) || !proto)
        die("dse: cannot open the ICU root collator: %s", u_errorName(st));
    ucol_setAttribute(proto, UCOL_STRENGTH, UCOL_TERTIARY, &st);
    ucol_setAttribute(proto, UCOL_NORMALIZATION_MODE, UCOL_ON, &st);
    ucol_setAttribute(proto, UCOL_NUMERIC_COLLATION, UCOL_OFF, &st);
    ucol_setAttribute(proto, UCOL_CASE_FIRST, UCOL_OFF, &st);
    if (U_FAILURE(st))
        die("dse: cannot configure the ICU root collator: %s", u_errorName(st));
    if (pthread_key_create(&clone_key, close_clone) != 0)
        die("dse: pthread_key_create failed");
    UVersionInfo v;
    char vs[U_MAX_VERSION_STRING_LENGTH];
    ucol_getVersion(proto, v);
    u_versionToString(v, vs);
    snprintf(version, sizeof version, "icu-root-tertiary-nfd/%s/icu%s/k1", vs, U_ICU_VERSION);
}

static UCollator *coll(void)
{
    if (mine)
        return mine;
    pthread_once(&proto_once, proto_init);
    UErrorCode st = U_ZERO_ERROR;
    mine = ucol_clone(proto, &st);
    if (U_FAILURE(st) || !mine)
        die("dse: cannot clone the ICU collator: %s", u_errorName(st));
    pthread_setspecific(clone_key, mine);
    return mine;
}

const char *collate_version(void)
{
    pthread_once(&proto_once, proto_init);
    return version;
}

int collate_cmp(const char *a, const char *b)
{
    int c = strcmp(a, b);
    if (c == 0)
        return 0;
    UErrorCode st = U_ZERO_ERROR;
    UCollationResult r = ucol_strcollUTF8(coll(), a, -1, b, -1, &st);
    if (U_SUCCESS(st) && r != UCOL_EQUAL)
        return r == UCOL_LESS ? -1 : 1;
    return c < 0 ? -1 : 1;
}

int collate_qsort_cmp(const void *a, const void *b)
{
    return collate_cmp(*(const char *const *)a, *(const char *const *)b);
}

void collate_sort_key(const char *s, struct sbuf *b)
{
    UCollator *cl = coll();
    UChar ustack[256], *u = ustack;
    int32_t ulen = 0;
    UErrorCode st = U_ZERO_ERROR;
    /* Ill-formed UTF-8 becomes U+FFFD per maximal subpart, as
     * ucol_strcollUTF8 reads it, so keys and comparisons agree. */
    u_strFromUTF8WithSub(u, (int32_t)ARRAY_LEN(ustack), &ulen, s, -1, 0xFFFD, NULL, &st);
    if (st == U_BUFFER_OVERFLOW_ERROR || st == U_STRING_NOT_TERMINATED_WARNING) {
        u = xmalloc(((size_t)ulen + 1) * sizeof *u);
        st = U_ZERO_ERROR;
        u_strFromUTF8WithSub(u, ulen + 1, &ulen, s, -1, 0xFFFD, NULL, &st);
    }
    if (U_FAILURE(st))
        ulen = 0;
    uint8_t kstack[512], *k = kstack;
    int32_t klen = ucol_getSortKey(cl, u, ulen, k, (int32_t)sizeof kstack);
    if (klen > (int32_t)sizeof kstack) {
        k = xmalloc((size_t)klen);
        klen = ucol_getSortKey(cl, u, ulen, k, klen);
    }
    /* The key ends with its 0x00 terminator (the only zero byte in it);
     * the id's own bytes follow, so equal keys fall back to byte order. */
    if (klen > 0)
        sbuf_add(b, (const char *)k, (size_t)klen);
    else
        sbuf_addc(b, 0);
    sbuf_adds(b, s);
    if (k != kstack)
        free(k);
    if (u != ustack)
        free(u);
}
