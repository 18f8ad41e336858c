/* lmopts: the LM flags every command that calls a model takes, in one
 * place, so `dse predict`, compile, eval and traffic read them the same way.
 *
 *   struct lmopts lo = {0};
 *   struct cli_opt opts[] = {
 *       {"signature", 's', CLI_STR, &sig, "ID", "..."},
 *       LMOPTS_CLI(lo),
 *       {0}};
 *   ...
 *   struct lm_client *lm = lmopts_open(&lo, st, &err);   // cache-wrapped
 *
 * Flags: --provider NAME, --base-url URL, --model ID, --api-key-env VAR,
 * --api-key-file PATH, --concurrency/-j N, --timeout-ms MS, --no-cache.
 * Unset flags fall back to the environment (DSE_LM_PROVIDER,
 * DSE_LM_BASE_URL, DSE_LM_MODEL, DSE_LM_API_KEY_ENV), then to lm.h's
 * defaults (provider local-knn).  The key itself is never a flag: it comes
 * from the named environment variable or file. */
#ifndef DSE_LMOPTS_H
#define DSE_LMOPTS_H

#include <stdbool.h>

#include "cli.h"
#include "err.h"
#include "lm.h"

struct store;

struct lmopts {
    const char *provider, *base_url, *model, *api_key_env, *api_key_file;
    long long concurrency; /* 0 = default (4); clamped to 1..256 */
    long long timeout_ms;  /* 0 = default */
    bool no_cache;
};

/* The option table entries (a comma-separated fragment for a cli_opt
 * array initialiser); `o` is a struct lmopts lvalue. */
#define LMOPTS_CLI(o)                                                                         \
    {"provider", 0, CLI_STR, &(o).provider, "NAME",                                           \
     "LM provider: local-knn (default, offline) or openai (env DSE_LM_PROVIDER)"},            \
    {"base-url", 0, CLI_STR, &(o).base_url, "URL",                                            \
     "openai: endpoint base, e.g. https://openrouter.ai/api (env DSE_LM_BASE_URL)"},          \
    {"model", 0, CLI_STR, &(o).model, "ID", "model id (env DSE_LM_MODEL)"},                  \
    {"api-key-env", 0, CLI_STR, &(o).api_key_env, "VAR",                                      \
     "openai: env var holding the key (default OPENAI_API_KEY)"},                             \
    {"api-key-file", 0, CLI_STR, &(o).api_key_file, "PATH", "openai: file holding the key"},  \
    {"concurrency", 'j', CLI_INT, &(o).concurrency, "N", "requests in flight (default 4)"},   \
    {"timeout-ms", 0, CLI_INT, &(o).timeout_ms, "MS", "openai: per-attempt timeout"},         \
    {"no-cache", 0, CLI_FLAG, &(o).no_cache, NULL, "bypass the store-backed LM response cache"}

/* Fill cfg from the flags and the environment (pointers borrow from o and
 * from getenv; keep both alive while cfg is used). */
void lmopts_config(const struct lmopts *o, struct lm_config *cfg);
/* lm_open with those settings, wrapped in the response cache over st unless
 * --no-cache (or st is NULL).  NULL with err on failure. */
struct lm_client *lmopts_open(const struct lmopts *o, struct store *st, struct dse_err *err);

#endif
