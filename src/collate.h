/* collate: the order JavaScript's String.prototype.localeCompare gives,
 * which the reference uses for example ids (listExamples, the dataset and
 * so datasetHash), grid variant ids and VarSpace names.
 *
 * It is ICU's root collation (CLDR root = DUCET with CLDR tweaks), set up
 * as V8 sets up Intl.Collator for localeCompare: tertiary strength,
 * normalization on, no numeric ordering, no case-first.  It is not strcmp:
 * punctuation sorts before digits and letters ('_' before '-' before '.'),
 * letters compare case- and accent-insensitively first, accents before case
 * as tie-breaks (e < é < E < f), so "v1_common_phrasings" <
 * "v1.base_router_rules".  Ill-formed UTF-8 reads as U+FFFD.
 *
 * Where ICU finds two different strings equal (canonically equivalent
 * forms such as NFC and NFD "é", or ignorable control characters) we break
 * the tie by byte order so the order is total; JavaScript's stable sort
 * would keep them in input order instead.
 *
 * Thread-safe: each thread compares on its own clone of one root collator
 * (closed when the thread ends). */
#ifndef DSE_COLLATE_H
#define DSE_COLLATE_H

int collate_cmp(const char *a, const char *b);
/* qsort comparator over an array of const char *. */
int collate_qsort_cmp(const void *a, const void *b);

/* A byte string whose memcmp order (shorter first on a common prefix, as
 * SQLite compares BLOBs) equals collate_cmp order, for indexed ORDER BY and
 * keyset paging in SQL.  It is the ICU sort key (ending in its single 0x00
 * byte) followed by the UTF-8 of s.  Appends to b. */
struct sbuf;
void collate_sort_key(const char *s, struct sbuf *b);

/* Names the collator behind collate_sort_key ("icu-root-tertiary-nfd/
 * <collator version>/icu<ICU version>/k<key format>").  Stored sort keys
 * made under another name must be rebuilt (store_sqlite.c does this when it
 * opens a store for writing). */
const char *collate_version(void);

#endif
