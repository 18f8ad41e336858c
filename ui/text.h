/* text: display-width measurement and fitting for the console.
 *
 * Pure (no curses): unit-tested by tests/unit/test_ui_text.c, which includes
 * this module's .c directly.
 *
 * Every string the console draws goes through text_cell(): the one sanitiser
 * (src/sanitize.h) first, then wcwidth measurement, then truncation with a
 * marker and padding, so a cell is always exactly the width it was given and
 * columns stay aligned whatever the data holds (wide CJK, combining marks,
 * escape sequences, invalid UTF-8).
 *
 * Measurement uses the C library's locale (mbrtowc/wcwidth); callers set
 * LC_CTYPE with setlocale() first.  In ASCII mode (non-UTF-8 locale or
 * --ascii) non-ASCII characters are turned into "<U+XXXX>" by the sanitiser
 * and the truncation marker is "~" instead of "…". */
#ifndef DSE_UI_TEXT_H
#define DSE_UI_TEXT_H

#include <stdbool.h>
#include <stddef.h>

enum text_align { TEXT_LEFT, TEXT_RIGHT };

/* Most combining marks kept on one base character (curses cells hold a
 * few; "zalgo" stacks beyond this are dropped). */
#define TEXT_MAX_COMBINING 3

/* Global mode: true = ASCII output (marker "~", sanitiser SAN_ASCII). */
void text_set_ascii(bool ascii);
bool text_ascii(void);

/* " · " between facts on one line; " - " in ASCII mode. */
const char *text_dot(void);

/* Display columns of already-clean UTF-8 text.  Characters wcwidth calls
 * unprintable count as 1 (text_fit replaces them). */
int text_width(const char *s);

/* Fit clean text into exactly `width` columns: truncated with the marker
 * when too wide, padded with spaces (on the right for TEXT_LEFT, on the left
 * for TEXT_RIGHT).  Unprintable characters become '?', a combining mark
 * with no base becomes '?'.  Returns a malloc'd string; width <= 0 gives "". */
char *text_fit(const char *clean, int width, enum text_align align);

/* Sanitise untrusted text (one line: newlines become "^J") and fit it.
 * NULL gives an empty, padded cell.  malloc'd. */
char *text_cell(const char *untrusted, int width, enum text_align align);

/* Sanitise untrusted text for a single line without fitting (malloc'd). */
char *text_clean(const char *untrusted);

/* Byte length of the longest prefix of clean text that fits in `width`
 * columns (no marker), and its width in *used (may be NULL).  Used for
 * wrapping long lines in the viewer. */
size_t text_prefix(const char *clean, int width, int *used);

/* Case-insensitive (ASCII folding) substring search; NULL when absent. */
const char *text_find(const char *hay, const char *needle);

#endif
