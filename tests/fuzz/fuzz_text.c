/* fuzz_text: sanitise + display width (ui/text.c, included as source).
 * Invariants for any bytes and any width 1..200, both alignments, UTF-8 and
 * ASCII modes: the cell is terminal-safe and exactly `width` columns by
 * wcswidth (reliability-anchors §7 item 3). */
#include <locale.h>
#include <stdio.h>
#include <wchar.h>

#include "../../ui/text.c"

#include "../unit/hostile_corpus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_text: invariant broken: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        must(setlocale(LC_ALL, "C.UTF-8") != NULL, "C.UTF-8 locale");
        init = 1;
    }
    if (size < 2)
        return 0;
    int width = 1 + data[0] % 200;
    text_set_ascii(data[1] & 1);
    enum text_align al = (data[1] & 2) ? TEXT_RIGHT : TEXT_LEFT;
    char *s = malloc(size - 1);
    memcpy(s, data + 2, size - 2);
    s[size - 2] = 0;
    char *cell = text_cell(s, width, al);
    must(hostile_check(cell, strlen(cell), 0) == NULL, "unsafe cell");
    size_t n = strlen(cell) + 1;
    wchar_t *w = malloc(n * sizeof *w);
    size_t k = mbstowcs(w, cell, n);
    must(k != (size_t)-1, "cell is not valid in the locale");
    must(wcswidth(w, k) == width, "cell is not exactly width columns");
    free(w);
    free(cell);
    free(s);
    text_set_ascii(false);
    return 0;
}
