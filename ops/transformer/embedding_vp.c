/* embedding_vp: one rank's part of a vocab-parallel embedding (SGLang's
 * VocabParallelEmbedding). The rank holds rows [vocab_start, vocab_start +
 * Vlocal) of the table; a token whose id falls there gets its row, any
 * other token a zero row, so an all_reduce (sum) over the group completes
 * the lookup. Ids outside [0, vocab) are bad input, reported by the kernel
 * (SF_ERR_INPUT) rather than silently giving a zero row on every rank. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "embedding_vp.h"
#include "graph.h"
#include "op.h"
#include "convert.h"
#include "op_shape.h"

static const sf_op_attr_desc_t embedding_vp_attrs[] = {
    {"vocab_start", SF_ATTR_INT, "0", "first vocab row this rank holds (rank * Vlocal)"},
    {"vocab", SF_ATTR_INT, NULL, "the real vocab size: ids must lie in [0, vocab)"},
};

static sf_status_t embedding_vp_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                      sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    (void)n_out;
    const sf_tensor_t *ids = &in[0], *w = &in[1];
    if ((ids->dtype != SF_DTYPE_I32 && ids->dtype != SF_DTYPE_I64) || ids->ndim < 1 ||
        ids->ndim > 2)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': input 'input_ids' is %s %s, expected i32 or i64 [B,S] "
                          "(or [T])",
                          node->name, sf_dtype_name(ids->dtype), sf_op_shape_str(ids).s);
    sf_status_t st;
    if ((st = sf_op_shape_need_float(node, in, 1, err)) != SF_OK)
        return st;
    if (w->ndim != 2)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': input 'weight' has shape %s, expected [Vlocal,H]",
                          node->name, sf_op_shape_str(w).s);
    int64_t start = sf_node_attr_int(node, "vocab_start");
    int64_t vocab = sf_node_attr_int(node, "vocab");
    if (start < 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "vocab_start"),
                          "node '%s': vocab_start %lld, expected >= 0", node->name,
                          (long long)start);
    if (vocab <= 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "vocab"),
                          "node '%s': vocab %lld, expected > 0", node->name, (long long)vocab);
    int64_t shape[2] = {sf_tensor_numel(ids), w->shape[1]};
    out[0] = sf_tensor_make(w->dtype, 2, shape);
    return SF_OK;
}

/* Element t (row-major) of ids, any strides. */
static int64_t embedding_vp_id(const sf_tensor_t *ids, int64_t t)
{
    int64_t cols = ids->shape[ids->ndim - 1], r = t / cols, c = t % cols;
    int64_t off = ids->ndim == 2 ? r * ids->strides[0] + c * ids->strides[1] : t * ids->strides[0];
    return sf_convert_load_int(ids->dtype, (const char *)sf_tensor_data(ids) +
                                               off * (int64_t)sf_dtype_size(ids->dtype));
}

sf_status_t sf_embedding_vp_check_ids(const sf_node_t *node, const sf_tensor_t *ids,
                                      int64_t vocab, sf_err_t *err)
{
    int64_t n_tok = sf_tensor_numel(ids), cols = ids->shape[ids->ndim - 1];
    for (int64_t t = 0; t < n_tok; t++) {
        int64_t id = embedding_vp_id(ids, t);
        if (id >= 0 && id < vocab)
            continue;
        char where[64];
        if (ids->ndim == 2)
            snprintf(where, sizeof where, "[%lld, %lld]", (long long)(t / cols),
                     (long long)(t % cols));
        else
            snprintf(where, sizeof where, "[%lld]", (long long)t);
        return sf_err_set(err, SF_ERR_INPUT, &node->pos,
                          "node '%s': input_ids%s = %" PRId64 " is outside the vocab (%lld)",
                          node->name, where, id, (long long)vocab);
    }
    return SF_OK;
}

static sf_status_t embedding_vp_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    const sf_tensor_t *ids = &a->in[0], *w = &a->in[1], *y = &a->out[0];
    const sf_node_t *node = a->node;
    int64_t start = sf_node_attr_int(node, "vocab_start");
    int64_t v_local = w->shape[0], hidden = w->shape[1];
    int64_t n_tok = sf_tensor_numel(ids);
    size_t es = sf_dtype_size(w->dtype);
    const char *wd = sf_tensor_data(w);
    char *yd = sf_tensor_data(y);
    bool is_w_dense = w->strides[1] == 1 || hidden <= 1;
    /* Every id is checked before any row is written. */
    sf_status_t st = sf_embedding_vp_check_ids(node, ids, sf_node_attr_int(node, "vocab"), err);
    if (st != SF_OK)
        return st;
    for (int64_t t = 0; t < n_tok; t++) {
        int64_t id = embedding_vp_id(ids, t);
        char *yr = yd + (size_t)(t * hidden) * es;
        if (id < start || id >= start + v_local) {
            memset(yr, 0, (size_t)hidden * es);
            continue;
        }
        const char *wr = wd + (id - start) * w->strides[0] * (int64_t)es;
        if (is_w_dense) {
            memcpy(yr, wr, (size_t)hidden * es);
        } else {
            for (int64_t j = 0; j < hidden; j++)
                memcpy(yr + (size_t)j * es, wr + j * w->strides[1] * (int64_t)es, es);
        }
    }
    return SF_OK;
}

const sf_op_desc_t sf_op_embedding_vp = {
    .name = "embedding_vp",
    .doc = "vocab-parallel embedding: ids in [vocab_start, +Vlocal) looked up, others 0 rows",
    .min_inputs = 2,
    .max_inputs = 2,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = embedding_vp_attrs,
    .n_attrs = sizeof embedding_vp_attrs / sizeof embedding_vp_attrs[0],
    .infer = embedding_vp_infer,
    .cpu_kernel = embedding_vp_cpu,
};
