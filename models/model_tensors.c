/* The checkpoint tensor table of llama and qwen3, the per-rank slice
 * geometry, and the synthetic weight values. Invariant: a synthetic
 * element depends only on (seed, name, its index in the full tensor), so
 * tp = N slices concatenate to exactly the tp = 1 tensor. */
#include "model_tensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "rng.h"

static void table_add(sf_model_tensor_t *t, int *n, const char *name, int64_t d0, int64_t d1,
                      int shard_dim, int64_t pad_rows, int64_t head_rows)
{
    sf_model_tensor_t *e = &t[(*n)++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ndim = d1 > 0 ? 2 : 1;
    e->shape[0] = d0;
    e->shape[1] = d1 > 0 ? d1 : 0;
    e->shard_dim = shard_dim;
    e->pad_rows = pad_rows;
    e->head_rows = head_rows;
    e->init = sf_model_tensor_default_init(name);
}

void sf_model_tensors_list(const sf_model_config_t *c, sf_model_tensor_t **out, int *n)
{
    int per_layer = c->arch == SF_MODEL_ARCH_QWEN3 ? 11 : 9;
    int cap = 3 + per_layer * (int)c->num_hidden_layers;
    sf_model_tensor_t *t = calloc((size_t)cap, sizeof *t);
    SF_ASSERT(t != NULL);
    int k = 0;
    int64_t H = c->hidden_size, I = c->intermediate_size, hd = c->head_dim;
    int64_t q_rows = c->num_attention_heads * hd, kv_rows = c->num_key_value_heads * hd;
    char name[SF_MODEL_TENSOR_NAME_MAX];
    /* Vocab-parallel embedding: rows padded to vocab_padded, then split. */
    table_add(t, &k, "model.embed_tokens.weight", c->vocab_size, H, 0, c->vocab_padded, 0);
    for (int64_t i = 0; i < c->num_hidden_layers; i++) {
#define LAYER(suffix) (snprintf(name, sizeof name, "model.layers.%lld.%s", (long long)i, suffix), name)
        table_add(t, &k, LAYER("input_layernorm.weight"), H, 0, -1, 0, 0);
        /* Column-parallel (out, in) weights split their rows, by heads. */
        table_add(t, &k, LAYER("self_attn.q_proj.weight"), q_rows, H, 0, 0, hd);
        table_add(t, &k, LAYER("self_attn.k_proj.weight"), kv_rows, H, 0, 0, hd);
        table_add(t, &k, LAYER("self_attn.v_proj.weight"), kv_rows, H, 0, 0, hd);
        /* Row-parallel: split the input columns; the sum is an all_reduce. */
        table_add(t, &k, LAYER("self_attn.o_proj.weight"), H, q_rows, 1, 0, 0);
        if (c->arch == SF_MODEL_ARCH_QWEN3) {
            table_add(t, &k, LAYER("self_attn.q_norm.weight"), hd, 0, -1, 0, 0);
            table_add(t, &k, LAYER("self_attn.k_norm.weight"), hd, 0, -1, 0, 0);
        }
        table_add(t, &k, LAYER("post_attention_layernorm.weight"), H, 0, -1, 0, 0);
        table_add(t, &k, LAYER("mlp.gate_proj.weight"), I, H, 0, 0, 0);
        table_add(t, &k, LAYER("mlp.up_proj.weight"), I, H, 0, 0, 0);
        table_add(t, &k, LAYER("mlp.down_proj.weight"), H, I, 1, 0, 0);
#undef LAYER
    }
    table_add(t, &k, "model.norm.weight", H, 0, -1, 0, 0);
    if (!c->tie_word_embeddings)
        table_add(t, &k, "lm_head.weight", c->vocab_size, H, 0, c->vocab_padded, 0);
    SF_ASSERT(k <= cap);
    *out = t;
    *n = k;
}

sf_weight_init_t sf_model_tensor_default_init(const char *name)
{
    /* Every RMSNorm weight in both families ends in "norm.weight"
     * (input_layernorm, post_attention_layernorm, q_norm, k_norm, norm). */
    size_t n = strlen(name);
    const char *suffix = "norm.weight";
    size_t sn = strlen(suffix);
    if (n >= sn && strcmp(name + n - sn, suffix) == 0)
        return SF_WEIGHT_INIT_ONES;
    return SF_WEIGHT_INIT_NORMAL;
}

const char *sf_model_shard_name(int shard_dim)
{
    return shard_dim < 0 ? "replicated" : shard_dim == 0 ? "shard(0)" : "shard(1)";
}

bool sf_model_shard_parse(const char *s, int *shard_dim)
{
    if (strcmp(s, "replicated") == 0)
        *shard_dim = -1;
    else if (strcmp(s, "shard(0)") == 0)
        *shard_dim = 0;
    else if (strcmp(s, "shard(1)") == 0)
        *shard_dim = 1;
    else
        return false;
    return true;
}

bool sf_weight_slice_make(int ndim, const int64_t *full, int64_t pad_rows, int shard_dim,
                          int64_t head_rows, int rank, int world, sf_weight_slice_t *s,
                          char *why, size_t why_n)
{
    memset(s, 0, sizeof *s);
    s->ndim = ndim;
    s->shard_dim = shard_dim;
    for (int d = 0; d < ndim; d++)
        s->full[d] = s->local[d] = full[d];
    if (ndim > 0 && pad_rows > 0) {
        if (pad_rows < full[0]) {
            snprintf(why, why_n, "pad_rows %lld is below the %lld rows of the tensor",
                     (long long)pad_rows, (long long)full[0]);
            return false;
        }
        s->local[0] = pad_rows;
    }
    if (shard_dim < 0 || world <= 1)
        return true;
    if (shard_dim >= ndim) {
        snprintf(why, why_n, "shard(%d) of a %d-dim tensor", shard_dim, ndim);
        return false;
    }
    int64_t size = s->local[shard_dim];
    if (head_rows > 0 && shard_dim == 0) {
        if (size % head_rows != 0) {
            snprintf(why, why_n, "%lld rows are not whole heads of %lld rows", (long long)size,
                     (long long)head_rows);
            return false;
        }
        int64_t heads = size / head_rows;
        if (heads < world) {
            /* SGLang's kv replication: rank r holds head r / (world / heads). */
            if (world % heads != 0) {
                snprintf(why, why_n, "tp %d does not divide by the %lld heads", world,
                         (long long)heads);
                return false;
            }
            s->start = (int64_t)(rank / (world / heads)) * head_rows;
            s->local[0] = head_rows;
            return true;
        }
        if (heads % world != 0) {
            snprintf(why, why_n, "%lld heads do not divide by tp %d", (long long)heads, world);
            return false;
        }
    }
    if (size % world != 0) {
        snprintf(why, why_n, "dim %d of size %lld does not divide by tp %d", shard_dim,
                 (long long)size, world);
        return false;
    }
    s->local[shard_dim] = size / world;
    s->start = (int64_t)rank * s->local[shard_dim];
    return true;
}

/* A standard-normal-ish draw from one 64-bit word: the sum of four 16-bit
 * uniforms (b + 0.5) / 2^16 (Irwin-Hall), centred and scaled to variance 1.
 * No log or cos, so an 8B model's weights are cheap. The four are summed
 * as integers: (sum b) / 2^16 + 4 * 0.5 / 2^16 is exact in a double (19
 * significant bits), as every partial sum of the uniforms was, so this is
 * bit for bit the per-term double sum, at half the cost, on every machine. */
static inline double synth_normal(uint64_t bits)
{
    uint32_t sum = (uint32_t)(bits & 0xffffu) + (uint32_t)((bits >> 16) & 0xffffu) +
                   (uint32_t)((bits >> 32) & 0xffffu) + (uint32_t)(bits >> 48);
    return ((double)sum * 0x1p-16 + 0x1p-15 - 2.0) * 1.7320508075688772; /* sqrt(12 / 4) */
}

static inline double synth_value(uint64_t stream, uint64_t e, sf_weight_init_t init)
{
    double z = synth_normal(sf_rng_splitmix64(stream, e));
    return (init == SF_WEIGHT_INIT_ONES ? 1.0 : 0.0) + SF_WEIGHT_STD * z;
}

/* Walk out's elements by rows of its last dim; for each run, the index in
 * the full tensor of its first element (or -1 for a padded row). */
typedef void (*slice_run_fn)(void *ctx, char *dst, int64_t count, int64_t full_index);

static void slice_walk(const sf_weight_slice_t *s, sf_tensor_t *out, slice_run_fn fn, void *ctx)
{
    int nd = s->ndim;
    size_t esize = sf_dtype_size(out->dtype);
    char *base = sf_tensor_data(out);
    if (nd == 0) {
        fn(ctx, base, 1, 0);
        return;
    }
    if (nd == 1) {
        /* The run is dim 0 itself: it may end in padding. */
        int64_t n = s->local[0], valid = s->full[0] - s->start;
        valid = valid < 0 ? 0 : valid > n ? n : valid;
        if (base != NULL && valid > 0)
            fn(ctx, base, valid, s->start);
        if (base != NULL && n > valid)
            fn(ctx, base + (size_t)valid * esize, n - valid, -1);
        return;
    }
    int64_t run = s->local[nd - 1];
    int64_t n_rows = 1;
    for (int d = 0; d < nd - 1; d++)
        n_rows *= s->local[d];
    if (run == 0 || base == NULL)
        return;
    int64_t idx[SF_MAX_DIMS] = {0};
    for (int64_t r = 0; r < n_rows; r++) {
        /* idx[0..nd-2] is this row's local index; map it to the full one. */
        int64_t flat = 0;
        bool is_pad = false;
        for (int d = 0; d < nd; d++) {
            int64_t g = (d < nd - 1 ? idx[d] : 0) + (d == s->shard_dim ? s->start : 0);
            if (d == 0 && g >= s->full[0])
                is_pad = true;
            flat = flat * s->full[d] + g;
        }
        fn(ctx, base + (size_t)(r * run) * esize, run, is_pad ? -1 : flat);
        for (int d = nd - 2; d >= 0; d--) {
            if (++idx[d] < s->local[d])
                break;
            idx[d] = 0;
        }
    }
}

typedef struct synth_ctx {
    uint64_t stream;
    sf_weight_init_t init;
    sf_dtype_t dt;
} synth_ctx_t;

static void synth_run(void *vctx, char *dst, int64_t count, int64_t full_index)
{
    const synth_ctx_t *c = vctx;
    size_t esize = sf_dtype_size(c->dt);
    if (full_index < 0) {
        memset(dst, 0, (size_t)count * esize);
        return;
    }
    /* The two dtypes checkpoints use get their own loop, so the per-element
     * dtype switch is out of the loop that runs billions of times. */
    if (c->dt == SF_DTYPE_BF16) {
        uint16_t *d = (uint16_t *)(void *)dst;
        for (int64_t j = 0; j < count; j++)
            d[j] = sf_f32_to_bf16((float)synth_value(c->stream, (uint64_t)(full_index + j), c->init));
        return;
    }
    if (c->dt == SF_DTYPE_F32) {
        float *d = (float *)(void *)dst;
        for (int64_t j = 0; j < count; j++)
            d[j] = (float)synth_value(c->stream, (uint64_t)(full_index + j), c->init);
        return;
    }
    for (int64_t j = 0; j < count; j++)
        sf_dtype_store(c->dt, dst + (size_t)j * esize,
                       synth_value(c->stream, (uint64_t)(full_index + j), c->init));
}

void sf_weight_synth_fill(const sf_weight_slice_t *s, uint64_t seed, const char *name,
                          sf_weight_init_t init, sf_tensor_t *out)
{
    SF_ASSERT(sf_tensor_is_contiguous(out));
    synth_ctx_t c = {sf_rng_mix64(seed ^ sf_rng_mix64(sf_hash_fnv1a64(name))), init, out->dtype};
    slice_walk(s, out, synth_run, &c);
}

typedef struct copy_ctx {
    const char *src;
    sf_dtype_t src_dt;
    sf_dtype_t dt;
} copy_ctx_t;

static void copy_run(void *vctx, char *dst, int64_t count, int64_t full_index)
{
    const copy_ctx_t *c = vctx;
    size_t esize = sf_dtype_size(c->dt), src_esize = sf_dtype_size(c->src_dt);
    if (full_index < 0) {
        memset(dst, 0, (size_t)count * esize);
        return;
    }
    const char *from = c->src + (size_t)full_index * src_esize;
    if (c->src_dt == c->dt) {
        memcpy(dst, from, (size_t)count * esize);
        return;
    }
    for (int64_t j = 0; j < count; j++)
        sf_dtype_store(c->dt, dst + (size_t)j * esize,
                       sf_dtype_load(c->src_dt, from + (size_t)j * src_esize));
}

void sf_weight_slice_copy(const sf_weight_slice_t *s, const void *src, sf_dtype_t src_dt,
                          sf_tensor_t *out)
{
    SF_ASSERT(sf_tensor_is_contiguous(out));
    copy_ctx_t c = {src, src_dt, out->dtype};
    slice_walk(s, out, copy_run, &c);
}
