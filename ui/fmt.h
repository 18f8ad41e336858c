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

/* ---- numbers in fixed-width columns: never cut, abbreviated instead ---- */
/* v in at most maxw characters, as precise as fits: "8.5", "120", "1234",
 * "12k", "1.2M", "3.4G" (k/M/G/T/P by 1000s; one decimal when it fits and
 * the value is below 10 of its unit).  decimals: digits after the point for
 * plain values below 100 (0 or 1).  When even the shortest form is wider
 * than maxw it is returned whole (the caller's column is then too narrow). */
const char *fmt_num(double v, int maxw, int decimals, char *buf, size_t cap);
/* "a/b" in at most maxw characters: whole when it fits, else b whole and a
 * abbreviated, else both abbreviated ("1.2M/10k"). */
const char *fmt_ratio(double a, double b, int maxw, char *buf, size_t cap);

/* ---- canary judgement for display ---- */
enum fmt_canary { FMT_CANARY_NONE, FMT_CANARY_COLLECTING, FMT_CANARY_HEALTHY, FMT_CANARY_FAILING };
/* The canary row's state for the screen: the engine's verdict (gate.h:
 * failing only from minSamples on, the auto-stop rule), and FAILING as well
 * while still collecting when the error rate is already above maxErrorRate,
 * or when the canary has errors at a higher rate than its control measured
 * over the same time (control_n > 0 receipts, control_rate their error
 * share; control_n <= 0: not measured).  text: "FAILING: error rate 0.500 >
 * max 0.200 (4/20 samples, auto-stop at 20)".  *rate and *max (may be NULL)
 * get the canary's error rate and maximum. */
enum fmt_canary fmt_canary_judge(const cJSON *canary, double control_rate, long control_n,
                                 char *text, size_t cap, double *rate, double *max);
/* The newest auto_stop row in canary history rows (newest first), or NULL. */
const cJSON *fmt_last_auto_stop(const cJSON *history);
/* "2026-12-04 13:31 ok=0 err=10 rate=1.000 (max 0.200) canary sha256:09d58657"
 * for an auto_stop history row (max from its reason when present). */
const char *fmt_auto_stop(const cJSON *row, char *buf, size_t cap);

#endif
