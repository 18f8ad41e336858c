/* state: resume where the operator left off.
 *
 * One JSON file, $XDG_STATE_HOME/dse/console.json (else
 * ~/.local/state/dse/console.json), holding an entry per store (keyed by
 * the store's description, "sqlite:/path" or "remote:URL"): the pane and
 * focus, the signature, refresh interval, theme, and each pane's own state
 * (filter, the selected row's key and keyset cursor, receipt filters).
 * Written atomically on every exit path that can still run code (quit,
 * SIGHUP, SIGTERM, terminal gone).  A missing or corrupt file means "start
 * fresh", never an error. */
#ifndef DSE_UI_STATE_H
#define DSE_UI_STATE_H

#include <cjson/cJSON.h>

#define STATE_MAX_STORES 32

/* malloc'd default path. */
char *state_default_path(void);
/* The entry for desc (caller frees) or NULL. */
cJSON *state_load(const char *path, const char *desc);
/* Replace the entry for desc (consumed).  Returns 0 / -1. */
int state_save(const char *path, const char *desc, cJSON *entry);

#endif
