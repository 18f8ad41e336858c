/* lm: one interface to language models, two providers.
 *
 *   openai     any OpenAI-compatible POST {base}/v1/chat/completions over
 *              libcurl (lm_openai.c).  Requests from any number of threads
 *              are driven by one curl multi handle on an I/O thread, so
 *              `--concurrency N` callers means N requests in flight.
 *   local-knn  built in, offline, deterministic (lm_knn.c): reads the
 *              rendered prompt's few-shot demos and answers with the output
 *              of the demo whose input is most similar to the query; as an
 *              rlm_lite controller it runs a fixed chunk/search/extract/final
 *              policy.  It never leaves the process.
 *
 * A response cache (lm_cache_wrap) sits in front of either provider: the key
 * is sha256 of the canonical request {model, messages, temperature, topP,
 * maxTokens}; entries live in the store (dsex/lmCache), so a repeated or
 * resumed compile makes no new calls.  Cache hits are reported per response.
 *
 * Thread safety: lm_complete may be called from several threads at once on
 * the same client. */
#ifndef DSE_LM_H
#define DSE_LM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct store;

struct lm_message {
    const char *role;    /* "system" | "user" | "assistant" */
    const char *content;
};

struct lm_request {
    const char *model;            /* model id; NULL = the client's default */
    const struct lm_message *messages;
    size_t n_messages;
    bool has_temperature;
    double temperature;
    bool has_top_p;
    double top_p;
    int max_tokens;               /* 0 = unset */
    /* Hints that do not go over the wire (not part of the cache key):
     * signature id and the role of this call ("main", "repair",
     * "controller", "sub", "judge") for local-knn and for logs. */
    const char *signature_id;
    const char *role;
};

struct lm_response {
    char *text;                   /* malloc'd reply content; caller frees (lm_response_free) */
    int prompt_tokens;            /* -1 when the provider did not say */
    int completion_tokens;
    int total_tokens;
    bool cache_hit;               /* served from the response cache */
    int64_t latency_ms;           /* wall time of the call (0 for cache hits) */
    int attempts;                 /* HTTP attempts made (retries + 1); 0 for cache/local */
    char model[128];              /* model that answered (as reported) */
};

/* Per-client settings.  Unset numbers take the documented defaults. */
struct lm_config {
    const char *provider;         /* "openai" | "local-knn" (default "local-knn") */
    const char *base_url;         /* openai: e.g. https://openrouter.ai/api (default
                                     https://api.openai.com); a trailing /v1 is not doubled */
    const char *model;            /* default model id */
    const char *api_key_env;      /* name of the env var holding the key (default OPENAI_API_KEY).
                                     Named but unset: lm_open fails.  Default unset: no
                                     Authorization header (local servers). */
    const char *api_key_file;     /* or a file holding the key */
    int concurrency;              /* max requests in flight (default 4, 1..256) */
    int connect_timeout_ms;       /* default 10000 */
    int timeout_ms;               /* total per attempt, default 60000 */
    size_t max_response_bytes;    /* default 4 MiB, enforced while receiving */
    int max_retries;              /* on 408/429/5xx/timeouts: 0 = default 4, < 0 = none */
    int backoff_base_ms;          /* default 500; doubles, with jitter, capped */
    int backoff_max_ms;           /* default 20000 */
};

struct lm_client;

/* Create a client.  For openai, the key is read from the environment or file
 * now; it is kept only in memory and never printed, logged or stored. */
struct lm_client *lm_open(const struct lm_config *cfg, struct dse_err *err);
/* Wrap a client with the store-backed response cache (the wrapper owns
 * inner).  st must outlive the wrapper; access to st is serialised by the
 * store's own lock. */
struct lm_client *lm_cache_wrap(struct lm_client *inner, struct store *st);
void lm_close(struct lm_client *c);

/* One completion.  Blocks the calling thread; other threads may call too.
 * Returns 0 and fills *resp, or -1 with err code "LmClientError" and a
 * message such as "HTTP 429 after 5 attempts", "timed out after 60000 ms",
 * "connect timed out after 10000 ms",
 * "response larger than 4194304 bytes", "reply is not JSON: line 1 col 1 ...". */
int lm_complete(struct lm_client *c, const struct lm_request *req, struct lm_response *resp,
                struct dse_err *err);
void lm_response_free(struct lm_response *resp);

/* "local-knn" or "openai:<model>", for receipts, reports and screens. */
const char *lm_describe(const struct lm_client *c);
/* Counters since open: calls that reached the provider, cache hits. */
void lm_stats(const struct lm_client *c, uint64_t *calls, uint64_t *cache_hits);

/* Canonical request JSON and its hash (the cache key). */
char *lm_request_canonical(const struct lm_request *req, const char *default_model);

/* ---- provider vtable (for lm_openai.c, lm_knn.c, the cache wrapper) ----
 * provider->close frees only c->impl; lm_close frees the client itself.
 * Providers do not touch c->calls (lm_complete counts); the cache wrapper
 * bumps cache_hits. */
struct lm_provider {
    const char *name;
    int (*complete)(struct lm_client *c, const struct lm_request *req, struct lm_response *resp,
                    struct dse_err *err);
    void (*close)(struct lm_client *c);
};

struct lm_client {
    const struct lm_provider *prov;
    void *impl;
    char desc[160];               /* lm_describe() */
    char default_model[128];
    /* counters, updated atomically */
    uint64_t calls, cache_hits;
};

/* Provider constructors (used by lm_open). */
struct lm_client *lm_openai_open(const struct lm_config *cfg, struct dse_err *err);
struct lm_client *lm_knn_open(const struct lm_config *cfg, struct dse_err *err);

#endif
