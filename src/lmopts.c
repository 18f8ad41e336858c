/* lmopts: shared LM flags (contract in lmopts.h). */
#include "lmopts.h"

#include <stdlib.h>
#include <string.h>

static const char *flag_or_env(const char *flag, const char *env)
{
    if (flag && flag[0])
        return flag;
    const char *v = getenv(env);
    return v && v[0] ? v : NULL;
}

void lmopts_config(const struct lmopts *o, struct lm_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->provider = flag_or_env(o->provider, "DSE_LM_PROVIDER");
    cfg->base_url = flag_or_env(o->base_url, "DSE_LM_BASE_URL");
    cfg->model = flag_or_env(o->model, "DSE_LM_MODEL");
    cfg->api_key_env = flag_or_env(o->api_key_env, "DSE_LM_API_KEY_ENV");
    cfg->api_key_file = o->api_key_file && o->api_key_file[0] ? o->api_key_file : NULL;
    long long c = o->concurrency;
    cfg->concurrency = c <= 0 ? 0 : c > 256 ? 256 : (int)c;
    long long t = o->timeout_ms;
    cfg->timeout_ms = t <= 0 ? 0 : t > 3600000 ? 3600000 : (int)t;
}

struct lm_client *lmopts_open(const struct lmopts *o, struct store *st, struct dse_err *err)
{
    struct lm_config cfg;
    lmopts_config(o, &cfg);
    struct lm_client *lm = lm_open(&cfg, err);
    if (!lm)
        return NULL;
    return o->no_cache || !st ? lm : lm_cache_wrap(lm, st);
}
