/* Hostile input through every in-process output path (reliability-anchors
 * §7 items 1-5, 7, 10): the sanitiser, list cells (ui/text.c), the JSON
 * viewer (ui/jdoc.c), terminal-safe JSON printing (CLI --json, exports),
 * error messages, json_parse limits, and the store (labels and reasons
 * stored through bound parameters, read back byte-identical; batches all
 * or nothing).  The pure ui modules are included as source, as the ui unit
 * tests do, because unit tests link only libdse.a. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "hostile_corpus.h"
#include "jdoc.c"
#include "text.c"

#include "err.h"
#include "json.h"
#include "sanitize.h"
#include "store.h"
#include "util.h"

static int setup(void **state)
{
    (void)state;
    if (!setlocale(LC_ALL, "C.UTF-8"))
        return -1;
    text_set_ascii(false);
    return 0;
}

static void assert_safe(const char *what, const char *s, size_t n, unsigned allow)
{
    const char *why = hostile_check(s, n, allow);
    if (why)
        fail_msg("%s: %s in output", what, why);
}

/* ---- sanitiser ---- */

static void test_corpus_size(void **state)
{
    (void)state;
    assert_true(HOSTILE_N >= 40);
}

static void test_sanitize_corpus(void **state)
{
    (void)state;
    static const unsigned flag_sets[] = {0, SAN_KEEP_NL, SAN_KEEP_NL | SAN_KEEP_TAB, SAN_ASCII};
    for (size_t i = 0; i < HOSTILE_N; i++) {
        const struct hostile_payload *p = &hostile_corpus[i];
        size_t n = hostile_len(p);
        for (size_t f = 0; f < ARRAY_LEN(flag_sets); f++) {
            unsigned fl = flag_sets[f];
            char *out = sanitize(p->s, n, fl);
            unsigned allow = ((fl & SAN_KEEP_NL) ? HOSTILE_ALLOW_NL : 0) |
                             ((fl & SAN_KEEP_TAB) ? HOSTILE_ALLOW_TAB : 0);
            assert_safe(p->name, out, strlen(out), allow);
            /* Replaced, never deleted: unsafe input always changes. */
            if (hostile_check(p->s, n, allow))
                assert_false(strlen(out) == n && memcmp(out, p->s, n) == 0);
            /* Idempotent: clean output stays as it is. */
            assert_true(sanitize_is_clean(out, strlen(out), fl));
            if (memchr(p->s, 0x1b, n))
                assert_non_null(strstr(out, "^["));
            free(out);
        }
    }
}

static void test_sanitize_visible_markers(void **state)
{
    (void)state;
    char *s = sanitize_str("approve\rDENY", 0);
    assert_string_equal(s, "approve^MDENY");
    free(s);
    s = sanitize_str("ok\b\bNO", 0);
    assert_string_equal(s, "ok^H^HNO");
    free(s);
    s = sanitize("a\xc2\x9b" "b", 4, 0);
    assert_string_equal(s, "a<U+009B>b");
    free(s);
    s = sanitize("a\x9b" "b", 3, 0);
    assert_string_equal(s, "a\\x9Bb");
    free(s);
    s = sanitize_str("evil\xe2\x80\xae" "gpj", 0);
    assert_string_equal(s, "evil<U+202E>gpj");
    free(s);
    s = sanitize("ab\0cd", 5, 0);
    assert_string_equal(s, "ab^@cd");
    free(s);
}

/* 200,000 random byte strings biased toward the dangerous ranges. */
static void test_sanitize_random(void **state)
{
    (void)state;
    static const unsigned char pool[] = {0x1b, 0x07, 0x08, 0x0d, 0x0a, 0x09, 0x00, 0x7f,
                                         0x9b, 0x9d, 0xc2, 0xe2, 0x80, 0xae, 0xa8, 0xef,
                                         0xbb, 0xbf, 0xf0, 0x9f, 0xd8, 0x9c, 0xed, 0xa0,
                                         '[', ']', ';', 'a', 'Z', '\\', 0xc0, 0xff};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    unsigned char buf[96];
    for (int iter = 0; iter < 200000; iter++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = (size_t)(x % sizeof buf);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = (x & 3) ? pool[(x >> 8) % sizeof pool] : (unsigned char)(x >> 16);
        }
        unsigned fl = (unsigned)(x >> 40) & (SAN_KEEP_NL | SAN_KEEP_TAB | SAN_ASCII);
        char *out = sanitize((const char *)buf, n, fl);
        unsigned allow = ((fl & SAN_KEEP_NL) ? HOSTILE_ALLOW_NL : 0) |
                         ((fl & SAN_KEEP_TAB) ? HOSTILE_ALLOW_TAB : 0);
        const char *why = hostile_check(out, strlen(out), allow);
        if (why)
            fail_msg("iteration %d: %s", iter, why);
        free(out);
    }
}

/* ---- list cells: exactly `width` columns, nothing raw ---- */

static int cell_columns(const char *s)
{
    wchar_t w[2048];
    size_t n = mbstowcs(w, s, ARRAY_LEN(w));
    assert_true(n != (size_t)-1);
    int cols = wcswidth(w, n);
    assert_true(cols >= 0);
    return cols;
}

static void test_list_cells(void **state)
{
    (void)state;
    static const int widths[] = {1, 2, 3, 7, 16, 40};
    for (int ascii = 0; ascii < 2; ascii++) {
        text_set_ascii(ascii);
        for (size_t i = 0; i < HOSTILE_N; i++) {
            const struct hostile_payload *p = &hostile_corpus[i];
            /* text_cell takes a C string: NUL-bearing payloads are seen
             * up to the NUL, as a cJSON string would be. */
            for (size_t w = 0; w < ARRAY_LEN(widths); w++) {
                for (int al = 0; al < 2; al++) {
                    char *c = text_cell(p->s, widths[w], al ? TEXT_RIGHT : TEXT_LEFT);
                    assert_safe(p->name, c, strlen(c), 0);
                    if (cell_columns(c) != widths[w])
                        fail_msg("%s: cell of width %d has %d columns: '%s'", p->name, widths[w],
                                 cell_columns(c), c);
                    free(c);
                }
            }
            char *cl = text_clean(p->s);
            assert_safe(p->name, cl, strlen(cl), 0);
            free(cl);
        }
    }
    text_set_ascii(false);
}

/* ---- the JSON viewer: every rendered line, tree and raw ---- */

static cJSON *hostile_doc(void)
{
    cJSON *root = json_obj();
    cJSON *arr = json_arr();
    for (size_t i = 0; i < HOSTILE_N; i++) {
        const struct hostile_payload *p = &hostile_corpus[i];
        cJSON *o = json_obj();
        json_set_str(o, "name", p->name);
        json_set_str(o, p->s, p->s); /* hostile key and value */
        cJSON_AddItemToArray(arr, o);
    }
    json_set(root, "payloads", arr);
    json_set_str(root, "message", "approve\rDENY\x1b]0;x\x07");
    return root;
}

static void check_viewer_lines(struct jdoc *d)
{
    struct sbuf b = {0};
    struct jseg segs[JDOC_MAX_SEGS];
    size_t n = jdoc_count(d);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        int ns = jdoc_line(d, i, &b, segs);
        assert_true(ns >= 0 && ns <= JDOC_MAX_SEGS);
        assert_safe("viewer line", b.s ? b.s : "", b.len, 0);
    }
    sbuf_free(&b);
}

static void test_viewer(void **state)
{
    (void)state;
    /* The title is the caller's text, drawn (and sanitised) by the pane. */
    struct jdoc *d = jdoc_new_json(hostile_doc(), "hostile");
    jdoc_unfold_all(d, 0);
    check_viewer_lines(d);
    jdoc_set_raw(d, true);
    check_viewer_lines(d);
    jdoc_set_raw(d, false);
    size_t found;
    for (size_t i = 0; i < HOSTILE_N; i++)
        (void)jdoc_search(d, hostile_corpus[i].s, 0, 1, &found);
    char *ex = jdoc_export(d);
    assert_safe("viewer export", ex, strlen(ex), HOSTILE_ALLOW_NL);
    free(ex);
    jdoc_free(d);
    /* A text document (a trace blob) with every payload, one per line. */
    struct sbuf t = {0};
    for (size_t i = 0; i < HOSTILE_N; i++) {
        sbuf_add(&t, hostile_corpus[i].s, hostile_len(&hostile_corpus[i]));
        sbuf_addc(&t, '\n');
    }
    d = jdoc_new_text(sbuf_take(&t), "blob");
    check_viewer_lines(d);
    jdoc_free(d);
}

/* ---- terminal-safe JSON printing (CLI --json, exports, HTTP bodies) ---- */

static void test_print_safe(void **state)
{
    (void)state;
    cJSON *doc = hostile_doc();
    for (int pretty = 0; pretty < 2; pretty++) {
        char *s = json_print_safe(doc, pretty);
        assert_safe("json_print_safe", s, strlen(s), pretty ? HOSTILE_ALLOW_NL : 0);
        free(s);
    }
    /* Same meaning: every payload that is valid UTF-8 without NUL survives
     * a print/parse round trip byte for byte. */
    for (size_t i = 0; i < HOSTILE_N; i++) {
        const struct hostile_payload *p = &hostile_corpus[i];
        cJSON *o = json_obj();
        json_set_str(o, "v", p->s);
        char *s = json_print_safe(o, 0);
        assert_safe(p->name, s, strlen(s), 0);
        struct dse_err err;
        cJSON *back = json_parse(s, strlen(s), 0, &err);
        unsigned cp;
        int valid = 1;
        for (size_t k = 0; k < strlen(p->s);) {
            size_t l = hostile_utf8((const unsigned char *)p->s + k, strlen(p->s) - k, &cp);
            if (!l) {
                valid = 0;
                break;
            }
            k += l;
        }
        if (valid) {
            if (!back)
                fail_msg("%s: printed JSON does not parse: %s", p->name, err.msg);
            assert_string_equal(json_str(back, "v", "?"), p->s);
        }
        cJSON_Delete(back);
        free(s);
        cJSON_Delete(o);
    }
    cJSON_Delete(doc);
}

/* Every format character (Cf) -- the zero width joiner U+200D and its
 * siblings included -- is shown as a marker by the sanitiser and written
 * as a \u escape (a surrogate pair above U+FFFF) by both terminal-safe JSON
 * writers, and parses back to the same string. */
static void test_format_chars(void **state)
{
    (void)state;
    static const unsigned cps[] = {
        0x200d, 0x200b, 0x200c, 0x200e, 0x200f, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064,
        0xfeff, 0x061c, 0x180e, 0x2066, 0x2067, 0x2068, 0x2069, 0x202a, 0x202b, 0x202c,
        0x202d, 0x202e, 0x00ad, 0x0600, 0x0605, 0x06dd, 0x070f, 0x08e2, 0x206a, 0x206f,
        0xfff9, 0xfffb, 0x110bd, 0x13430, 0x1bca0, 0x1d173, 0xe0001, 0xe0020, 0xe007f,
    };
    for (size_t i = 0; i < ARRAY_LEN(cps); i++) {
        unsigned c = cps[i];
        assert_true(hostile_format_cp(c));
        char u8[5] = {0};
        if (c < 0x800) {
            u8[0] = (char)(0xc0 | c >> 6);
            u8[1] = (char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) {
            u8[0] = (char)(0xe0 | c >> 12);
            u8[1] = (char)(0x80 | ((c >> 6) & 0x3f));
            u8[2] = (char)(0x80 | (c & 0x3f));
        } else {
            u8[0] = (char)(0xf0 | c >> 18);
            u8[1] = (char)(0x80 | ((c >> 12) & 0x3f));
            u8[2] = (char)(0x80 | ((c >> 6) & 0x3f));
            u8[3] = (char)(0x80 | (c & 0x3f));
        }
        char in[16], want[64], esc[32];
        snprintf(in, sizeof in, "a%sb", u8);
        /* sanitiser */
        snprintf(want, sizeof want, "a<U+%04X>b", c);
        char *s = sanitize_str(in, 0);
        if (strcmp(s, want) != 0)
            fail_msg("sanitize U+%04X: got %s", c, s);
        free(s);
        /* terminal-safe JSON, canonical and printed */
        if (c > 0xffff)
            snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xd800 + ((c - 0x10000) >> 10),
                     0xdc00 + ((c - 0x10000) & 0x3ff));
        else
            snprintf(esc, sizeof esc, "\\u%04x", c);
        snprintf(want, sizeof want, "[\"a%sb\"]", esc);
        cJSON *arr = json_arr();
        cJSON_AddItemToArray(arr, cJSON_CreateString(in));
        char *outs[2] = {json_canonical_safe(arr), json_print_safe(arr, 0)};
        for (int k = 0; k < 2; k++) {
            if (strcmp(outs[k], want) != 0)
                fail_msg("%s U+%04X: got %s, want %s",
                         k ? "json_print_safe" : "json_canonical_safe", c, outs[k], want);
            struct dse_err err;
            cJSON *back = json_parse(outs[k], strlen(outs[k]), 0, &err);
            if (!back)
                fail_msg("U+%04X: %s", c, err.msg);
            assert_true(json_equal(back, arr));
            cJSON_Delete(back);
            free(outs[k]);
        }
        /* the hashed canonical form keeps the character as it is */
        char *canon = json_canonical(arr);
        assert_non_null(strstr(canon, u8));
        free(canon);
        cJSON_Delete(arr);
    }
    /* an emoji ZWJ sequence: the joiner is escaped, the emoji are kept */
    char *s = sanitize_str("\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9", 0);
    assert_string_equal(s, "\xf0\x9f\x91\xa8<U+200D>\xf0\x9f\x91\xa9");
    free(s);
    /* neighbours that are not format characters pass unchanged */
    static const char *const plain[] = {"\xe2\x80\x90", "\xe2\x80\xaf", "\xe2\x81\x9f",
                                        "\xd8\x9b", "\xef\xbb\xbe", "\xf3\xa0\x84\x80"};
    for (size_t i = 0; i < ARRAY_LEN(plain); i++)
        assert_true(sanitize_is_clean(plain[i], strlen(plain[i]), 0));
}

/* ---- error messages ---- */

static void test_error_messages(void **state)
{
    (void)state;
    for (size_t i = 0; i < HOSTILE_N; i++) {
        struct dse_err err;
        dse_fail(&err, "invalid_input", "bad label '%s'", hostile_corpus[i].s);
        assert_safe(hostile_corpus[i].name, err.msg, strlen(err.msg), 0);
        char buf[600];
        const char *s = dse_err_str(&err, buf, sizeof buf);
        assert_safe(hostile_corpus[i].name, s, strlen(s), 0);
    }
    /* A message far longer than the buffer is cut on a character boundary. */
    struct sbuf big = {0};
    for (int i = 0; i < 400; i++)
        sbuf_adds(&big, "\xe6\xbc\xa2\x1b[2J");
    struct dse_err err;
    dse_fail(&err, "x", "%s", big.s);
    assert_safe("long message", err.msg, strlen(err.msg), 0);
    sbuf_free(&big);
}

/* A cut at a buffer's end must not split a UTF-8 sequence: a lone lead
 * byte is invalid UTF-8 on a terminal and in a JSON error body.  Found by
 * fuzz_lmreply (the model name). */
static void test_cut_on_character_boundary(void **state)
{
    (void)state;
    int broken = 0;
    char out[8];
    sanitize_into(out, sizeof out, "abcdef\xc3\xa9", 8, 0); /* "abcdefé" */
    broken += hostile_check(out, strlen(out), 0) != NULL;
    /* ESC grows to "^[" (one byte more): 1 + 239 x 2 bytes in, 480 out,
     * so the 479-byte cut falls inside the last "é" */
    struct sbuf b = {0};
    sbuf_addc(&b, '\x1b');
    for (int i = 0; i < 239; i++)
        sbuf_adds(&b, "\xc3\xa9");
    struct dse_err err;
    dse_fail(&err, "invalid_input", "%s", b.s);
    broken += hostile_check(err.msg, strlen(err.msg), 0) != NULL;
    sbuf_free(&b);
    if (broken)
        fail_msg("sanitize_into split a UTF-8 sequence (%d of 2 cases)", broken);
}

/* ---- json_parse limits ---- */

static char *nested(size_t depth)
{
    char *s = xmalloc(2 * depth + 1);
    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    s[2 * depth] = 0;
    return s;
}

static void test_json_limits(void **state)
{
    (void)state;
    struct dse_err err;
    char *s = nested(1000);
    cJSON *v = json_parse(s, strlen(s), 0, &err);
    assert_non_null(v);
    cJSON_Delete(v);
    free(s);
    s = nested(1001);
    assert_null(json_parse(s, strlen(s), 0, &err));
    assert_string_equal(err.code, "invalid_json");
    free(s);
    s = nested(1000000);
    assert_null(json_parse(s, strlen(s), 0, &err));
    free(s);
    /* objects nest too */
    struct sbuf b = {0};
    for (int i = 0; i < 1001; i++)
        sbuf_adds(&b, "{\"a\":");
    sbuf_adds(&b, "1");
    for (int i = 0; i < 1001; i++)
        sbuf_addc(&b, '}');
    assert_null(json_parse(b.s, b.len, 0, &err));
    sbuf_free(&b);

    static const char *const refused[] = {
        "\"ab\\u0000cd\"",  /* cJSON would truncate to "ab" */
        "{\"k\\u0000\":1}", /* in a key */
        "\"a\x1b[2Jb\"",    /* raw ESC inside a string */
        "\"a\x07\"",        /* raw BEL */
        "\"a\nb\"",         /* raw newline */
        "\"\xff\xfe\"",     /* invalid UTF-8 */
        "\"\xc0\xaf\"",     /* overlong */
        "\"\xed\xa0\x80\"", /* surrogate encoded in UTF-8 */
        "\"\\ud800\"",      /* lone surrogate escape */
        "[1,2",             /* unterminated */
        "",                 /* empty */
        "{\"a\":1} x",      /* trailing garbage */
    };
    for (size_t i = 0; i < ARRAY_LEN(refused); i++) {
        v = json_parse(refused[i], strlen(refused[i]), 0, &err);
        if (v)
            fail_msg("accepted refused[%zu]", i);
        assert_safe("parse error message", err.msg, strlen(err.msg), 0);
    }
    /* Escaped controls are data, and come back out escaped. */
    static const char esc[] = "\"\\u001b[2J\\u009b\\u202e\"";
    v = json_parse(esc, strlen(esc), 0, &err);
    assert_non_null(v);
    char *p = json_print_safe(v, 0);
    assert_safe("escaped controls", p, strlen(p), 0);
    free(p);
    cJSON_Delete(v);
    /* size cap */
    assert_null(json_parse("[1,2,3]", 7, 4, &err));
    /* exact-size heap buffer without a NUL (ASan checks the reads) */
    static const char txt[] = "{\"a\":[1,2,{\"b\":\"c\"}]}";
    char *exact = xmalloc(sizeof txt - 1);
    memcpy(exact, txt, sizeof txt - 1);
    v = json_parse(exact, sizeof txt - 1, 0, &err);
    assert_non_null(v);
    cJSON_Delete(v);
    for (size_t n = 0; n < sizeof txt - 1; n++)
        cJSON_Delete(json_parse(exact, n, 0, &err)); /* every prefix */
    free(exact);
}

/* ---- the store: bound parameters, byte-identical, all or nothing ---- */

static struct store *open_store(void)
{
    struct dse_err err;
    struct store *st = store_open_sqlite(":memory:", 0, &err);
    if (!st)
        fail_msg("open: %s", err.msg);
    return st;
}

static cJSON *call_ok(struct store *st, enum store_op op, cJSON *args)
{
    struct dse_err err;
    cJSON *out = NULL;
    if (store_call(st, op, args, &out, &err) < 0)
        fail_msg("%s: %s: %s", store_op_info(op)->name, err.code, err.msg);
    cJSON_Delete(args);
    return out;
}

static char *megabyte(void)
{
    size_t n = 1u << 20;
    char *s = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = "'\";--)( DROP\\%_"[i % 16];
    s[n] = 0;
    return s;
}

static void test_store_labels(void **state)
{
    (void)state;
    struct store *st = open_store();
    const char *sig = "hostile/Sig.v1'; DROP TABLE dseArtifacts; --";
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", sig);
    json_set_str(a, "compiled_id", "c1\"); DELETE FROM receipts; --");
    json_set(a, "json", json_obj());
    cJSON_Delete(call_ok(st, STORE_OP_artifacts_put, a));

    char *mb = megabyte();
    const char *reasons[HOSTILE_N + 2];
    size_t nr = 0;
    for (size_t i = 0; i < HOSTILE_N; i++)
        if (strlen(hostile_corpus[i].s) == hostile_len(&hostile_corpus[i]) &&
            !hostile_check(hostile_corpus[i].s, hostile_len(&hostile_corpus[i]),
                           HOSTILE_ALLOW_NL | HOSTILE_ALLOW_TAB))
            reasons[nr++] = hostile_corpus[i].s; /* printable payloads */
    reasons[nr++] = "\x1b]0;pwned\x07 and \xe2\x80\xae"; /* controls, valid UTF-8 */
    reasons[nr++] = mb;
    for (size_t i = 0; i < nr; i++) {
        a = json_obj();
        json_set_str(a, "signatureId", sig);
        json_set_str(a, "compiled_id", "c1\"); DELETE FROM receipts; --");
        json_set_str(a, "reason", reasons[i]);
        cJSON_Delete(call_ok(st, STORE_OP_active_set, a));
    }
    a = json_obj();
    json_set_str(a, "signatureId", sig);
    json_set_num(a, "limit", 200);
    cJSON *h = call_ok(st, STORE_OP_active_history, a);
    const cJSON *rows = json_get(h, "history");
    assert_int_equal(cJSON_GetArraySize(rows), (int)nr);
    /* newest first */
    for (size_t i = 0; i < nr; i++) {
        const cJSON *r = cJSON_GetArrayItem(rows, (int)(nr - 1 - i));
        assert_string_equal(json_str(r, "reason", "?"), reasons[i]);
        assert_string_equal(json_str(r, "signatureId", "?"), sig);
    }
    cJSON_Delete(h);

    /* examples: hostile ids, a megabyte label in meta, read back exactly */
    for (size_t i = 0; i < nr; i++) {
        char id[64];
        snprintf(id, sizeof id, "ex'%zu\"; DROP TABLE dseExamples; --", i);
        a = json_obj();
        json_set_str(a, "signatureId", sig);
        json_set_str(a, "exampleId", id);
        cJSON *in = json_obj();
        json_set_str(in, "message", reasons[i]);
        json_set(a, "inputJson", in);
        json_set(a, "expectedJson", json_obj());
        cJSON *meta = json_obj();
        json_set_str(meta, "note", reasons[i]);
        json_set(a, "meta", meta);
        cJSON_Delete(call_ok(st, STORE_OP_examples_put, a));
        a = json_obj();
        json_set_str(a, "signatureId", sig);
        json_set_str(a, "exampleId", id);
        cJSON *g = call_ok(st, STORE_OP_examples_get, a);
        const cJSON *ex = json_get(g, "example");
        assert_non_null(ex);
        assert_string_equal(json_str(json_get(ex, "inputJson"), "message", "?"), reasons[i]);
        assert_string_equal(json_str(json_get(ex, "meta"), "note", "?"), reasons[i]);
        cJSON_Delete(g);
    }
    /* a receipt whose error message is hostile */
    cJSON *rc = json_obj();
    json_set_str(rc, "receiptId", "r-1");
    json_set_str(rc, "signatureId", sig);
    json_set_str(rc, "compiled_id", "c1");
    json_set_str(rc, "strategyId", "direct.v1");
    cJSON *res = json_obj();
    json_set_str(res, "_tag", "Error");
    json_set_str(res, "errorName", "Output\x1b[2JError");
    json_set_str(res, "message", mb);
    json_set(rc, "result", res);
    a = json_obj();
    json_set_str(a, "threadId", "t'1");
    json_set_str(a, "runId", "r-1");
    json_set(a, "receipt", rc);
    cJSON_Delete(call_ok(st, STORE_OP_receipts_record, a));
    a = json_obj();
    json_set_str(a, "receiptId", "r-1");
    cJSON *g = call_ok(st, STORE_OP_receipts_get_admin, a);
    const cJSON *back = json_path(g, "receipt.json.result");
    assert_string_equal(json_str(back, "message", "?"), mb);
    assert_string_equal(json_str(back, "errorName", "?"), "Output\x1b[2JError");
    cJSON_Delete(g);
    free(mb);
    store_close(st);
}

static int receipt_count(struct store *st, const char *sig)
{
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", sig);
    json_set_num(a, "sinceMs", 0);
    cJSON *o = call_ok(st, STORE_OP_x_sig_stats, a);
    int n = (int)json_num(o, "receipts", -1);
    cJSON_Delete(o);
    return n;
}

static void test_store_all_or_nothing(void **state)
{
    (void)state;
    struct store *st = open_store();
    const char *sig = "hostile/Batch.v1";
    struct dse_err err;
    /* examples import: row 57 of 100 is bad -> nothing lands */
    cJSON *rows = json_arr();
    for (int i = 0; i < 100; i++) {
        cJSON *r = json_obj();
        char id[32];
        snprintf(id, sizeof id, "ex-%03d", i);
        json_set_str(r, "exampleId", i == 57 ? "" : id);
        json_set(r, "inputJson", json_obj());
        json_set(r, "expectedJson", json_obj());
        cJSON_AddItemToArray(rows, r);
    }
    cJSON *a = json_obj();
    json_set_str(a, "signatureId", sig);
    json_set(a, "rows", rows);
    cJSON *out = NULL;
    assert_int_equal(store_call(st, STORE_OP_x_examples_import, a, &out, &err), -1);
    assert_null(out);
    cJSON_Delete(a);
    a = json_obj();
    json_set_str(a, "signatureId", sig);
    cJSON *c = call_ok(st, STORE_OP_x_examples_counts, a);
    assert_int_equal((int)json_num(c, "total", -1), 0);
    cJSON_Delete(c);

    /* receipts batch: item 5000 of 10,000 is bad -> none recorded */
    cJSON *items = json_arr();
    for (int i = 0; i < 10000; i++) {
        cJSON *rc = json_obj();
        char id[32];
        snprintf(id, sizeof id, "rc-%05d", i);
        json_set_str(rc, "receiptId", id);
        json_set_str(rc, "signatureId", sig);
        json_set_str(rc, "compiled_id", "c1");
        cJSON *it = json_obj();
        json_set_str(it, "threadId", "t");
        json_set_str(it, "runId", i == 5000 ? "" : id);
        json_set(it, "receipt", rc);
        cJSON_AddItemToArray(items, it);
    }
    a = json_obj();
    json_set(a, "items", items);
    assert_int_equal(store_call(st, STORE_OP_x_receipts_batch, a, &out, &err), -1);
    assert_string_equal(err.code, "invalid_input");
    assert_int_equal(receipt_count(st, sig), 0);
    /* fix the bad item: all 10,000 land; add one more: refused as too many */
    cJSON *bad = cJSON_GetArrayItem(json_get(a, "items"), 5000);
    json_set_str(bad, "runId", "rc-05000");
    cJSON_Delete(call_ok(st, STORE_OP_x_receipts_batch, json_dup(a)));
    assert_int_equal(receipt_count(st, sig), 10000);
    cJSON *extra = json_dup(bad);
    json_set_str((cJSON *)json_get(extra, "receipt"), "receiptId", "rc-10000");
    cJSON_AddItemToArray((cJSON *)json_get(a, "items"), extra);
    assert_int_equal(store_call(st, STORE_OP_x_receipts_batch, a, &out, &err), -1);
    assert_non_null(strstr(err.msg, "10000"));
    assert_int_equal(receipt_count(st, sig), 10000);
    cJSON_Delete(a);
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_size),
        cmocka_unit_test(test_sanitize_corpus),
        cmocka_unit_test(test_sanitize_visible_markers),
        cmocka_unit_test(test_sanitize_random),
        cmocka_unit_test(test_list_cells),
        cmocka_unit_test(test_viewer),
        cmocka_unit_test(test_print_safe),
        cmocka_unit_test(test_format_chars),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_cut_on_character_boundary),
        cmocka_unit_test(test_json_limits),
        cmocka_unit_test(test_store_labels),
        cmocka_unit_test(test_store_all_or_nothing),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
