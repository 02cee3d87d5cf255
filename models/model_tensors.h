/* An architecture's checkpoint tensors: names, full shapes, how tensor
 * parallelism shards each one (as SGLang does) and how synthetic weights
 * are initialised; plus the slice geometry and the synthetic values that
 * the weight op and `shardflow export-model` share, so an exported
 * checkpoint and a synthetic run hold the same numbers bit for bit. */
#ifndef SF_MODEL_TENSORS_H
#define SF_MODEL_TENSORS_H

#include <stdbool.h>
#include <stdint.h>

#include "model_config.h"
#include "tensor.h"

typedef enum sf_weight_init {
    SF_WEIGHT_INIT_NORMAL = 0, /* N(0, 0.02^2): projections, embeddings */
    SF_WEIGHT_INIT_ONES,       /* 1 + N(0, 0.02^2): RMSNorm weights */
} sf_weight_init_t;

#define SF_WEIGHT_STD 0.02
#define SF_MODEL_TENSOR_NAME_MAX 128

typedef struct sf_model_tensor {
    char name[SF_MODEL_TENSOR_NAME_MAX];
    int ndim;
    int64_t shape[2];  /* full, unpadded checkpoint shape (out, in) */
    int shard_dim;     /* -1 replicated; 0 column-parallel and vocab-parallel; 1 row-parallel */
    int64_t pad_rows;  /* 0, or dim 0 is zero-padded to this many rows first (vocab) */
    int64_t head_rows; /* shard(0) in whole heads of this many rows (q/k/v), else 0 */
    sf_weight_init_t init;
} sf_model_tensor_t;

/* The table in checkpoint order: embed_tokens, then per layer
 * input_layernorm, q/k/v/o_proj, q/k_norm (qwen3), post_attention_layernorm,
 * gate/up/down_proj, then norm and lm_head (absent when tied). *out is
 * malloc'd (caller frees), *n entries; aborts on host OOM. */
void sf_model_tensors_list(const sf_model_config_t *c, sf_model_tensor_t **out, int *n);

/* The init a tensor name gets under init: auto (norm weights: ONES). */
sf_weight_init_t sf_model_tensor_default_init(const char *name);

/* "replicated", "shard(0)", "shard(1)" <-> -1, 0, 1. parse: false if unknown. */
const char *sf_model_shard_name(int shard_dim);
bool sf_model_shard_parse(const char *s, int *shard_dim);

/* Which part of a (padded) full tensor one rank holds. */
typedef struct sf_weight_slice {
    int ndim;
    int64_t full[SF_MAX_DIMS];  /* the unpadded checkpoint shape */
    int shard_dim;              /* -1: the whole (padded) tensor */
    int64_t start;              /* first index of this rank's part along shard_dim */
    int64_t local[SF_MAX_DIMS]; /* this rank's shape */
} sf_weight_slice_t;

/* Geometry of rank `rank` of `world` (world 1: the whole padded tensor).
 * pad_rows 0 = no padding, else >= full[0]. head_rows > 0 (shard(0) only):
 * dim 0 is heads of that many rows, split whole; with fewer heads than
 * ranks each head goes to world/heads consecutive ranks. On a split that
 * does not divide, returns false with a message in why (naming both
 * numbers) for the caller to place. */
bool sf_weight_slice_make(int ndim, const int64_t *full, int64_t pad_rows, int shard_dim,
                          int64_t head_rows, int rank, int world, sf_weight_slice_t *s,
                          char *why, size_t why_n);

/* Synthetic values: element e (row-major index in the FULL unpadded
 * tensor) is a function of (seed, FNV-1a of name, e) only, so any rank's
 * slice equals the same slice of the whole. Padded rows are 0. out has
 * s->local's shape, any float dtype, host memory, contiguous. */
void sf_weight_synth_fill(const sf_weight_slice_t *s, uint64_t seed, const char *name,
                          sf_weight_init_t init, sf_tensor_t *out);

/* Copy this rank's slice out of a contiguous full tensor src (dtype
 * src_dt, shape s->full), converting to out's dtype; padded rows are 0. */
void sf_weight_slice_copy(const sf_weight_slice_t *s, const void *src, sf_dtype_t src_dt,
                          sf_tensor_t *out);

#endif
