/* SQLite back end: being written (store work).  Stub so that binaries link. */
#include "store.h"

struct store *store_open_sqlite(const char *path, unsigned flags, struct dse_err *err)
{
    (void)flags;
    return dse_fail(err, "unsupported", "the SQLite back end is not built yet (%s)", path), NULL;
}

int store_schema_version(void)
{
    return 1;
}
