/* See model_index.h. The index is kept as parsed cJSON: lookups walk the
 * weight_map object, which holds a few hundred entries for an 8B model. */
#include "model_index.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

struct sf_model_index {
    cJSON *root;      /* owned */
    const cJSON *map; /* borrowed from root: the "weight_map" object */
    char *path;       /* owned: for messages */
};

sf_status_t sf_model_index_parse(const char *text, size_t len, const char *path,
                                 sf_model_index_t **out, sf_err_t *err)
{
    *out = NULL;
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(root);
        return sf_err_set(err, SF_ERR_PARSE, NULL,
                          "%s: expected a JSON object with a \"weight_map\" object", path);
    }
    sf_model_index_t *ix = calloc(1, sizeof *ix);
    char *p = strdup(path);
    if (ix == NULL || p == NULL) {
        free(ix);
        free(p);
        cJSON_Delete(root);
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "out of host memory reading %s", path);
    }
    ix->root = root;
    ix->map = map;
    ix->path = p;
    *out = ix;
    return SF_OK;
}

void sf_model_index_free(sf_model_index_t *ix)
{
    if (ix == NULL)
        return;
    cJSON_Delete(ix->root);
    free(ix->path);
    free(ix);
}

sf_status_t sf_model_index_file(const sf_model_index_t *ix, const char *name, const char **file,
                                sf_err_t *err)
{
    *file = NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ix->map, name);
    if (v == NULL)
        return SF_OK;
    /* The file is opened inside the folder: a path, "..", or a hidden name
     * would reach outside what the user pointed us at. */
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0' || v->valuestring[0] == '.' ||
        strchr(v->valuestring, '/') != NULL)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "%s: weight_map[\"%s\"] is not a file name in the folder", ix->path,
                          name);
    *file = v->valuestring;
    return SF_OK;
}

int sf_model_index_count(const sf_model_index_t *ix)
{
    return cJSON_GetArraySize(ix->map);
}

const char *sf_model_index_name(const sf_model_index_t *ix, int i)
{
    const cJSON *item = cJSON_GetArrayItem(ix->map, i);
    return item != NULL ? item->string : NULL;
}
