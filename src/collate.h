/* collate: the order JavaScript's String.prototype.localeCompare gives
 * (ICU root collation), which the reference uses for example ids, grid
 * variant ids and variable names.  It is not strcmp: punctuation sorts before
 * digits and letters, '_' before '-' before '.', letters compare
 * case-insensitively first and lowercase before uppercase only as a
 * tie-break.  So "v1_common_phrasings" < "v1.base_router_rules".
 *
 * We reproduce ICU exactly for printable ASCII; other characters sort after
 * ASCII letters by code point.  A full tie falls back to byte order so the
 * order is total. */
#ifndef DSE_COLLATE_H
#define DSE_COLLATE_H

int collate_cmp(const char *a, const char *b);
/* qsort comparator over an array of const char *. */
int collate_qsort_cmp(const void *a, const void *b);

/* A byte string whose memcmp order equals collate_cmp order, for indexed
 * ORDER BY and keyset paging in SQL (stored as a BLOB).  Appends to b; the
 * key contains no NUL bytes in its weight sections. */
struct sbuf;
void collate_sort_key(const char *s, struct sbuf *b);

#endif
