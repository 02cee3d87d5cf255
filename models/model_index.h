/* A sharded checkpoint's model.safetensors.index.json: which shard file
 * holds each tensor. Read once per folder; the weight op asks it by name.
 * Every name it returns is a plain file name inside the folder. */
#ifndef SF_MODEL_INDEX_H
#define SF_MODEL_INDEX_H

#include <stddef.h>

#include "status.h"

typedef struct sf_model_index sf_model_index_t;

/* Parse len bytes of index text read from path (for messages). SF_ERR_PARSE
 * when it is not a JSON object with a "weight_map" object. *out owned by the
 * caller (sf_model_index_free). */
SF_NODISCARD sf_status_t sf_model_index_parse(const char *text, size_t len, const char *path,
                                              sf_model_index_t **out, sf_err_t *err);
void sf_model_index_free(sf_model_index_t *ix); /* NULL-safe */

/* The shard file holding tensor `name`: *file is NULL when the index does
 * not list it, else a file name borrowed from ix. SF_ERR_INPUT when the
 * entry is not a string, is empty, or names anything but a file in the
 * folder ('/' or a leading "."). */
SF_NODISCARD sf_status_t sf_model_index_file(const sf_model_index_t *ix, const char *name,
                                             const char **file, sf_err_t *err);

/* The tensors the index lists, in file order: count, and the i-th name
 * (borrowed from ix). */
int sf_model_index_count(const sf_model_index_t *ix);
const char *sf_model_index_name(const sf_model_index_t *ix, int i);

#endif
