/* fuzz_json: json_parse on arbitrary bytes, then everything we print from a
 * parsed tree.  Invariants checked (abort on violation, so libFuzzer keeps
 * the input):
 *   - json_parse never reads past n (ASan) and either returns a tree or an
 *     "invalid_json" error whose message is terminal-safe;
 *   - json_print_safe output (compact and pretty) is terminal-safe and
 *     parses back to an equal tree;
 *   - json_canonical output parses back to an equal tree (canonical form is
 *     a fixed point: canonical(parse(canonical(v))) == canonical(v));
 *   - sanitize() of the raw input is terminal-safe for every flag set. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/hostile_corpus.h"
#include "json.h"
#include "sanitize.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_json: invariant broken: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy without a NUL, so ASan sees any over-read. */
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    struct dse_err err = {{0}, {0}};
    cJSON *v = json_parse(buf, size, 1u << 20, &err);
    if (!v) {
        must(strcmp(err.code, "invalid_json") == 0 || strcmp(err.code, "too_large") == 0 ||
                 err.code[0] != 0,
             "error without a code");
        must(hostile_check(err.msg, strlen(err.msg), 0) == NULL, "unsafe parse error message");
    } else {
        for (int pretty = 0; pretty < 2; pretty++) {
            char *s = json_print_safe(v, pretty);
            must(hostile_check(s, strlen(s), pretty ? HOSTILE_ALLOW_NL : 0) == NULL,
                 "json_print_safe output is not terminal-safe");
            struct dse_err e2;
            cJSON *back = json_parse(s, strlen(s), 0, &e2);
            must(back != NULL, "json_print_safe output does not parse");
            must(json_equal(v, back), "json_print_safe changed the meaning");
            cJSON_Delete(back);
            free(s);
        }
        char *c1 = json_canonical(v);
        struct dse_err e3;
        cJSON *back = json_parse(c1, strlen(c1), 0, &e3);
        must(back != NULL, "canonical output does not parse");
        char *c2 = json_canonical(back);
        must(strcmp(c1, c2) == 0, "canonical form is not a fixed point");
        free(c2);
        cJSON_Delete(back);
        free(c1);
        cJSON_Delete(v);
    }
    static const unsigned flags[] = {0, SAN_KEEP_NL, SAN_KEEP_NL | SAN_KEEP_TAB, SAN_ASCII};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        char *s = sanitize(buf, size, flags[i]);
        unsigned allow = ((flags[i] & SAN_KEEP_NL) ? HOSTILE_ALLOW_NL : 0) |
                         ((flags[i] & SAN_KEEP_TAB) ? HOSTILE_ALLOW_TAB : 0);
        must(hostile_check(s, strlen(s), allow) == NULL, "sanitize output is not terminal-safe");
        must(sanitize_is_clean(s, strlen(s), flags[i]), "sanitize is not idempotent");
        free(s);
    }
    free(buf);
    return 0;
}
