#include "hash.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

void hash_bytes(const void *data, size_t n, char out[HASH_ID_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (EVP_Digest(data, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
        die("SHA-256 failed");
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "sha256:", 7);
    for (unsigned i = 0; i < 32; i++) {
        out[7 + 2 * i] = hex[md[i] >> 4];
        out[8 + 2 * i] = hex[md[i] & 15];
    }
    out[HASH_ID_LEN] = 0;
}

void hash_text(const char *s, char out[HASH_ID_LEN + 1]) { hash_bytes(s, strlen(s), out); }

void hash_json(const cJSON *v, char out[HASH_ID_LEN + 1])
{
    char *c = json_canonical(v);
    hash_text(c, out);
    free(c);
}

int hash_is_id(const char *s)
{
    if (!s || strlen(s) != HASH_ID_LEN || strncmp(s, "sha256:", 7) != 0)
        return 0;
    for (const char *p = s + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

void hash_short(const char *id, char *out, size_t cap, int n)
{
    if (!id) {
        snprintf(out, cap, "-");
        return;
    }
    if (strncmp(id, "sha256:", 7) == 0)
        snprintf(out, cap, "%.*s", 7 + n, id);
    else
        snprintf(out, cap, "%s", id);
}

unsigned hash_bucket100(const char *key)
{
    uint32_t h = 2166136261u;
    const unsigned char *p = (const unsigned char *)key;
    while (*p) {
        /* Decode UTF-8 to code points, then feed UTF-16 code units. */
        unsigned c = *p, len = 1;
        if (c >= 0xf0 && p[1] && p[2] && p[3]) {
            c = ((c & 7u) << 18) | ((p[1] & 63u) << 12) | ((p[2] & 63u) << 6) | (p[3] & 63u);
            len = 4;
        } else if (c >= 0xe0 && p[1] && p[2]) {
            c = ((c & 15u) << 12) | ((p[1] & 63u) << 6) | (p[2] & 63u);
            len = 3;
        } else if (c >= 0xc0 && p[1]) {
            c = ((c & 31u) << 6) | (p[1] & 63u);
            len = 2;
        }
        p += len;
        unsigned units[2];
        int nu = 1;
        if (c >= 0x10000) {
            c -= 0x10000;
            units[0] = 0xd800 + (c >> 10);
            units[1] = 0xdc00 + (c & 0x3ff);
            nu = 2;
        } else {
            units[0] = c;
        }
        for (int i = 0; i < nu; i++) {
            h ^= units[i];
            h *= 16777619u;
        }
    }
    return h % 100u;
}

unsigned hash_canary_bucket(const char *salt, const char *thread_id, const char *signature_id)
{
    char *key = xasprintf("%s:%s:%s", salt ? salt : "", thread_id ? thread_id : "",
                          signature_id ? signature_id : "");
    unsigned b = hash_bucket100(key);
    free(key);
    return b;
}
