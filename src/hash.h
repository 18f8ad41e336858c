/* hash: SHA-256 ids ("sha256:" + 64 lowercase hex) and the FNV-1a canary
 * bucket.  All ids in dse are one of these. */
#ifndef DSE_HASH_H
#define DSE_HASH_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define HASH_ID_LEN 71 /* "sha256:" + 64 hex */

/* out receives "sha256:<hex>" (HASH_ID_LEN + 1 bytes). */
void hash_bytes(const void *data, size_t n, char out[HASH_ID_LEN + 1]);
void hash_text(const char *s, char out[HASH_ID_LEN + 1]);
/* sha256 of the canonical JSON of v: paramsHash / compiled_id, jobHash,
 * datasetHash, evalHash, selectedExampleIdsHash, cache keys. */
void hash_json(const cJSON *v, char out[HASH_ID_LEN + 1]);
/* 1 if s looks like a hash id. */
int hash_is_id(const char *s);
/* "sha256:1a2b3c4d" style short form for screens (first n hex digits). */
void hash_short(const char *id, char *out, size_t cap, int n);

/* FNV-1a 32-bit over the UTF-16 code units of key, mod 100 (reference §3). */
unsigned hash_bucket100(const char *key);
/* The canary key "salt:threadId:signatureId". */
unsigned hash_canary_bucket(const char *salt, const char *thread_id, const char *signature_id);

#endif
