/* Remote back end: being written (owned by the remote/server work). */
#include "store.h"

struct store *store_open_remote(const char *url, const char *token, unsigned flags,
                                struct dse_err *err)
{
    (void)url;
    (void)token;
    (void)flags;
    return dse_fail(err, "unsupported", "the remote back end is not built yet"), NULL;
}
