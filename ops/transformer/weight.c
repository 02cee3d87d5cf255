/* weight: one rank's slice of one checkpoint tensor, kept to the end of
 * the run. Synthetic models compute it (the same numbers as the same slice
 * of a tp = 1 run); Hugging Face folders copy it out of mapped safetensors
 * files, which stay mapped in a per-process cache until exit. */
#include "weight.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "file_read.h"
#include "graph.h"
#include "model_config.h"
#include "model_index.h"
#include "model_tensors.h"
#include "op.h"
#include "op_shape.h"
#include "safetensors.h"

static const sf_op_attr_desc_t weight_attrs[] = {
    {"model", SF_ATTR_STRING, NULL, "synthetic:NAME or a checkpoint folder (the model param)"},
    {"name", SF_ATTR_STRING, NULL, "checkpoint tensor name, e.g. model.layers.${layer}.mlp.up_proj.weight"},
    {"shape", SF_ATTR_INTS, NULL, "the full, unpadded checkpoint shape"},
    {"shard", SF_ATTR_STRING, "replicated", "replicated | shard(0) | shard(1)"},
    {"pad_rows", SF_ATTR_INT, "0", "zero-pad dim 0 to this many rows before sharding (vocab); 0: none"},
    {"head_dim", SF_ATTR_INT, "0", "shard(0) in whole heads of this many rows; fewer heads than ranks: replicated (kv)"},
    {"dtype", SF_ATTR_DTYPE, "bf16", "the model dtype (checkpoint values are converted)"},
    {"init", SF_ATTR_STRING, "auto", "synthetic init: normal | ones | auto (norm weights: ones)"},
    {"seed", SF_ATTR_INT, "0", "synthetic seed (the synthetic_seed param)"},
    {"fallback", SF_ATTR_STRING, "\"\"", "tensor to read when `name` is absent (tied lm_head: embed_tokens)"},
    {"tied", SF_ATTR_BOOL, "false", "synthetic: take the values of `fallback` (tie_word_embeddings)"},
};

static int node_world(const sf_node_t *node)
{
    return node->world > 0 ? node->world : 1;
}

static sf_status_t weight_slice(const sf_node_t *node, sf_weight_slice_t *s, sf_err_t *err)
{
    int ndim;
    int64_t shape[SF_MAX_DIMS];
    sf_status_t st = sf_op_shape_attr(node, "shape", &ndim, shape, err);
    if (st != SF_OK)
        return st;
    const char *shard = sf_node_attr_str(node, "shard");
    int shard_dim;
    if (!sf_model_shard_parse(shard, &shard_dim))
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "shard"),
                          "node '%s': shard '%s', expected replicated, shard(0) or shard(1)",
                          node->name, shard);
    int64_t pad_rows = sf_node_attr_int(node, "pad_rows");
    int64_t head_rows = sf_node_attr_int(node, "head_dim");
    if (pad_rows < 0 || head_rows < 0 || (pad_rows > 0 && ndim == 0))
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': pad_rows %lld and head_dim %lld, expected >= 0 (and a "
                          "tensor with a dim 0 to pad)",
                          node->name, (long long)pad_rows, (long long)head_rows);
    const char *init = sf_node_attr_str(node, "init");
    if (strcmp(init, "auto") != 0 && strcmp(init, "normal") != 0 && strcmp(init, "ones") != 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "init"),
                          "node '%s': init '%s', expected normal, ones or auto", node->name, init);
    char why[200];
    if (!sf_weight_slice_make(ndim, shape, pad_rows, shard_dim, head_rows, node->rank,
                              node_world(node), s, why, sizeof why))
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "shard"),
                          "node '%s': %s %s of %s: %s", node->name, shard,
                          sf_node_attr_str(node, "name"), sf_op_shape_ints_str(ndim, shape).s, why);
    return SF_OK;
}

static sf_status_t weight_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)in;
    (void)n_in;
    (void)n_out;
    sf_dtype_t dt = sf_node_attr_dtype(node, "dtype");
    if (!sf_dtype_is_float(dt))
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "dtype"),
                          "node '%s': dtype %s, expected a float dtype (bf16, f16, f32)",
                          node->name, sf_dtype_name(dt));
    sf_weight_slice_t s;
    sf_status_t st = weight_slice(node, &s, err);
    if (st != SF_OK)
        return st;
    out[0] = sf_tensor_make(dt, s.ndim, s.local);
    return SF_OK;
}

/* --- the checkpoint cache ------------------------------------------------------ */

typedef struct cache_file {
    char *path;         /* owned */
    sf_st_file_t *file; /* owned: mapped until sf_weight_cache_clear */
} cache_file_t;

typedef struct cache_folder {
    char *folder;  /* owned */
    sf_model_index_t *index; /* owned: model.safetensors.index.json; NULL for one model.safetensors */
} cache_folder_t;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cache_file_t *cache_files; /* owned */
static int n_cache_files;
static cache_folder_t *cache_folders; /* owned */
static int n_cache_folders;
static bool is_atexit_set;

void sf_weight_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < n_cache_files; i++) {
        sf_st_close(cache_files[i].file);
        free(cache_files[i].path);
    }
    free(cache_files);
    cache_files = NULL;
    n_cache_files = 0;
    for (int i = 0; i < n_cache_folders; i++) {
        sf_model_index_free(cache_folders[i].index);
        free(cache_folders[i].folder);
    }
    free(cache_folders);
    cache_folders = NULL;
    n_cache_folders = 0;
    pthread_mutex_unlock(&cache_lock);
}

/* Called with cache_lock held. */
static sf_status_t cache_open(const char *path, sf_st_file_t **out, sf_err_t *err)
{
    for (int i = 0; i < n_cache_files; i++)
        if (strcmp(cache_files[i].path, path) == 0) {
            *out = cache_files[i].file;
            return SF_OK;
        }
    sf_st_file_t *f = NULL;
    sf_status_t st = sf_st_open(path, &f, err);
    if (st != SF_OK)
        return st;
    cache_file_t *grown = realloc(cache_files, (size_t)(n_cache_files + 1) * sizeof *grown);
    char *p = strdup(path);
    if (grown == NULL || p == NULL) {
        free(p);
        if (grown != NULL)
            cache_files = grown;
        sf_st_close(f);
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "out of host memory caching %s", path);
    }
    cache_files = grown;
    cache_files[n_cache_files++] = (cache_file_t){p, f};
    if (!is_atexit_set) {
        is_atexit_set = true;
        atexit(sf_weight_cache_clear);
    }
    *out = f;
    return SF_OK;
}

/* The folder's layout, with cache_lock held: *index is its weight_map
 * index or NULL for a single model.safetensors. */
static sf_status_t cache_folder(const char *folder, const sf_model_index_t **index, sf_err_t *err)
{
    for (int i = 0; i < n_cache_folders; i++)
        if (strcmp(cache_folders[i].folder, folder) == 0) {
            *index = cache_folders[i].index;
            return SF_OK;
        }
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", folder);
    sf_model_index_t *root = NULL;
    struct stat sb;
    if (stat(path, &sb) == 0) {
        char *text = NULL;
        size_t len = 0;
        sf_status_t got = sf_file_load(path, (size_t)64 << 20, &text, &len, err);
        if (got == SF_OK)
            got = sf_model_index_parse(text, len, path, &root, err);
        free(text);
        if (got != SF_OK)
            return got;
    } else {
        snprintf(path, sizeof path, "%s/model.safetensors", folder);
        if (stat(path, &sb) != 0)
            return sf_err_set(err, SF_ERR_INPUT, NULL,
                              "model '%s' has neither model.safetensors nor "
                              "model.safetensors.index.json",
                              folder);
    }
    cache_folder_t *grown = realloc(cache_folders, (size_t)(n_cache_folders + 1) * sizeof *grown);
    char *f = strdup(folder);
    if (grown == NULL || f == NULL) {
        free(f);
        if (grown != NULL)
            cache_folders = grown;
        sf_model_index_free(root);
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "out of host memory caching %s", folder);
    }
    cache_folders = grown;
    cache_folders[n_cache_folders++] = (cache_folder_t){f, root};
    *index = root;
    return SF_OK;
}

/* Find `name` in the folder: *entry -1 when the checkpoint lacks it.
 * *file_name is the shard file's base name (for messages). */
static sf_status_t locate(const char *folder, const char *name, sf_st_file_t **file, int *entry,
                          char *file_name, size_t fn_n, sf_err_t *err)
{
    *entry = -1;
    const sf_model_index_t *index = NULL;
    sf_status_t st = cache_folder(folder, &index, err);
    if (st != SF_OK)
        return st;
    const char *base = "model.safetensors";
    if (index != NULL) {
        if ((st = sf_model_index_file(index, name, &base, err)) != SF_OK)
            return st;
        if (base == NULL)
            return SF_OK;
    }
    snprintf(file_name, fn_n, "%s", base);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", folder, base);
    if ((st = cache_open(path, file, err)) != SF_OK)
        return st;
    *entry = sf_st_find(*file, name);
    if (*entry < 0 && index != NULL)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "the index of %s maps %s to %s, which has no such tensor", folder, name,
                          base);
    return SF_OK;
}

static sf_status_t weight_read(const sf_kernel_args_t *a, const sf_weight_slice_t *s,
                               sf_err_t *err)
{
    const sf_node_t *node = a->node;
    const char *folder = sf_node_attr_str(node, "model");
    const char *name = sf_node_attr_str(node, "name");
    const char *fallback = sf_node_attr_str(node, "fallback");
    sf_st_file_t *file = NULL;
    int entry = -1;
    char file_name[1024] = "";
    const char *found = name;
    pthread_mutex_lock(&cache_lock);
    sf_status_t st = locate(folder, name, &file, &entry, file_name, sizeof file_name, err);
    if (st == SF_OK && entry < 0 && fallback[0] != '\0') {
        found = fallback;
        st = locate(folder, fallback, &file, &entry, file_name, sizeof file_name, err);
    }
    pthread_mutex_unlock(&cache_lock);
    if (st != SF_OK)
        return st;
    if (entry < 0) {
        if (fallback[0] != '\0')
            return sf_err_set(err, SF_ERR_INPUT, &node->pos,
                              "node '%s': neither %s nor its fallback %s is in the checkpoint %s",
                              node->name, name, fallback, folder);
        return sf_err_set(err, SF_ERR_INPUT, &node->pos,
                          "node '%s': %s is not in the checkpoint %s", node->name, name, folder);
    }
    sf_tensor_t layout;
    const void *data = NULL;
    sf_st_get(file, entry, &layout, &data);
    bool is_same = layout.ndim == s->ndim;
    for (int d = 0; is_same && d < s->ndim; d++)
        is_same = layout.shape[d] == s->full[d];
    if (!is_same)
        return sf_err_set(err, SF_ERR_INPUT, &node->pos,
                          "node '%s': %s in %s has shape %s, expected %s", node->name, found,
                          file_name, sf_op_shape_str(&layout).s,
                          sf_op_shape_ints_str(s->ndim, s->full).s);
    if (!sf_dtype_is_float(layout.dtype))
        return sf_err_set(err, SF_ERR_INPUT, &node->pos,
                          "node '%s': %s in %s has dtype %s, expected BF16, F16 or F32",
                          node->name, found, file_name, sf_dtype_st_name(layout.dtype));
    sf_weight_slice_copy(s, data, layout.dtype, &a->out[0]);
    return SF_OK;
}

static sf_status_t weight_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    const sf_node_t *node = a->node;
    sf_weight_slice_t s;
    sf_status_t st = weight_slice(node, &s, err);
    if (st != SF_OK)
        return st;
    const char *model = sf_node_attr_str(node, "model");
    if (!sf_model_is_synthetic(model))
        return weight_read(a, &s, err);
    const char *name = sf_node_attr_str(node, "name");
    const char *fallback = sf_node_attr_str(node, "fallback");
    /* A tied synthetic lm_head is the embedding, as in the exported checkpoint. */
    if (sf_node_attr_bool(node, "tied") && fallback[0] != '\0')
        name = fallback;
    const char *init = sf_node_attr_str(node, "init");
    sf_weight_init_t how = strcmp(init, "ones") == 0     ? SF_WEIGHT_INIT_ONES
                           : strcmp(init, "normal") == 0 ? SF_WEIGHT_INIT_NORMAL
                                                         : sf_model_tensor_default_init(name);
    sf_weight_synth_fill(&s, (uint64_t)sf_node_attr_int(node, "seed"), name, how, &a->out[0]);
    return SF_OK;
}

const sf_op_desc_t sf_op_weight = {
    .name = "weight",
    .doc = "this rank's slice of a model weight: synthetic (counter-based) or read from a "
           "Hugging Face checkpoint",
    .min_inputs = 0,
    .max_inputs = 0,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = weight_attrs,
    .n_attrs = sizeof weight_attrs / sizeof weight_attrs[0],
    .infer = weight_infer,
    .outputs_persist = true,
    .cpu_kernel = weight_cpu,
};
