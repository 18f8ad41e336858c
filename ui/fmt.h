/* fmt: small formatting helpers shared by the panes (pure).  Output is
 * plain text that still goes through the sanitiser when drawn. */
#ifndef DSE_UI_FMT_H
#define DSE_UI_FMT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* "sha256:1a2b3c4d" (8 hex digits), "-" for NULL/empty. */
const char *fmt_id(const char *id, char *buf, size_t cap);
/* "1a2b3c4d": the first 8 hex digits of a sha256 id, for table columns
 * (other ids are cut to 8 characters); "-" for NULL/empty. */
const char *fmt_hex8(const char *id, char *buf, size_t cap);
/* Local "YYYY-MM-DD HH:MM", "-" for ms <= 0. */
const char *fmt_time(int64_t ms, char *buf, size_t cap);
/* Local "MM-DD HH:MM" for table columns, "-" for ms <= 0. */
const char *fmt_mdhm(int64_t ms, char *buf, size_t cap);
/* Local "HH:MM:SS". */
const char *fmt_clock(int64_t ms, char *buf, size_t cap);
/* Age since ms ("5m"), "-" for ms <= 0. */
const char *fmt_age(int64_t ms, char *buf, size_t cap);
/* Canonical JSON of v, cut to cap-1 bytes on a character boundary. */
const char *fmt_json(const cJSON *v, char *buf, size_t cap);
/* A row field as text: strings as is, numbers, null -> "-". */
const char *fmt_field(const cJSON *row, const char *key, char *buf, size_t cap);

#endif
