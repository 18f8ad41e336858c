#include "state.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

#define STATE_FILE_MAX (4u << 20)

char *state_default_path(void)
{
    const char *xdg = getenv("XDG_STATE_HOME");
    if (xdg && *xdg)
        return xasprintf("%s/dse/console.json", xdg);
    const char *home = getenv("HOME");
    return xasprintf("%s/.local/state/dse/console.json", home && *home ? home : ".");
}

static cJSON *read_all(const char *path)
{
    size_t len;
    char *text = util_read_file(path, STATE_FILE_MAX, &len);
    if (!text)
        return NULL;
    struct dse_err err;
    cJSON *root = json_parse(text, len, STATE_FILE_MAX, &err);
    free(text);
    if (root && !cJSON_IsObject(json_get(root, "stores"))) {
        cJSON_Delete(root);
        root = NULL;
    }
    return root;
}

cJSON *state_load(const char *path, const char *desc)
{
    cJSON *root = read_all(path);
    if (!root)
        return NULL;
    const cJSON *e = json_get(json_get(root, "stores"), desc);
    cJSON *out = cJSON_IsObject(e) ? json_dup(e) : NULL;
    cJSON_Delete(root);
    return out;
}

int state_save(const char *path, const char *desc, cJSON *entry)
{
    cJSON *root = read_all(path);
    if (!root) {
        root = json_obj();
        json_set_num(root, "formatVersion", 1);
        json_set(root, "stores", json_obj());
    }
    cJSON *stores = cJSON_GetObjectItemCaseSensitive(root, "stores");
    json_set_num(entry, "savedAtMs", (double)util_now_ms());
    cJSON_DeleteItemFromObjectCaseSensitive(stores, desc);
    cJSON_AddItemToObject(stores, desc, entry);
    /* Forget the stores seen least recently beyond the cap. */
    while (cJSON_GetArraySize(stores) > STATE_MAX_STORES) {
        cJSON *oldest = NULL;
        for (cJSON *s = stores->child; s; s = s->next)
            if (!oldest || json_num(s, "savedAtMs", 0) < json_num(oldest, "savedAtMs", 0))
                oldest = s;
        cJSON_Delete(cJSON_DetachItemViaPointer(stores, oldest));
    }
    char *text = json_pretty(root);
    cJSON_Delete(root);
    int rc = util_mkdirs_for(path) < 0 ? -1 : util_write_file_atomic(path, text, strlen(text));
    free(text);
    return rc;
}
