/* attention: causal grouped-query attention over B sequences of `seq`
 * tokens laid end to end (T = B * seq), the way a flash kernel computes it:
 * query and key blocks of `block` rows, an online softmax in f32 (running
 * max, running sum, rescaled accumulator), never an (S, S) matrix; each
 * block pair's scores and weighted values are two sgemm calls. Query
 * head h reads kv head h / (nh / nkv). A token sees the keys at or before
 * it in its own sequence, and with a key_mask (B, S) only those marked
 * non-zero; a query that sees no key at all outputs zeros. The result is
 * rounded once into q's dtype, as SDPA / flash attention do in bf16. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "blas.h"
#include "graph.h"
#include "kernel_math.h"
#include "op.h"
#include "convert.h"
#include "op_shape.h"

static const sf_op_attr_desc_t attention_attrs[] = {
    {"seq", SF_ATTR_INT, NULL, "tokens per sequence S (T = B * S); no attention across sequences"},
    {"scale", SF_ATTR_FLOAT, "0.0", "score scale; 0 means 1 / sqrt(head_dim)"},
    {"block", SF_ATTR_INT, "64", "query and key rows per block of the online softmax"},
};

static const char *const attn_names[] = {"q", "k", "v", "key_mask"};

static sf_status_t attention_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                   sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_out;
    const sf_tensor_t *q = &in[0];
    sf_status_t st;
    if ((st = sf_op_shape_need_float(node, in, 0, err)) != SF_OK)
        return st;
    for (int i = 0; i < 3; i++)
        if (in[i].ndim != 3)
            return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                              "node '%s': input '%s' has shape %s, expected [T,%s,head_dim]",
                              node->name, attn_names[i], sf_op_shape_str(&in[i]).s,
                              i == 0 ? "heads" : "kv_heads");
    for (int i = 1; i < 3; i++) {
        if (in[i].dtype != q->dtype)
            return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                              "node '%s': input '%s' has dtype %s, expected %s (the dtype of "
                              "'q')",
                              node->name, attn_names[i], sf_dtype_name(in[i].dtype),
                              sf_dtype_name(q->dtype));
        if (in[i].shape[0] != q->shape[0] || in[i].shape[2] != q->shape[2] ||
            in[i].shape[1] == 0 || q->shape[1] % in[i].shape[1] != 0)
            return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                              "node '%s': input '%s' has shape %s, expected [%lld,kv_heads,%lld] "
                              "with kv_heads > 0 dividing the %lld heads of 'q'",
                              node->name, attn_names[i], sf_op_shape_str(&in[i]).s,
                              (long long)q->shape[0], (long long)q->shape[2],
                              (long long)q->shape[1]);
    }
    if (!sf_tensor_same_shape(&in[1], &in[2]))
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': input 'v' has shape %s, expected %s (the shape of 'k')",
                          node->name, sf_op_shape_str(&in[2]).s, sf_op_shape_str(&in[1]).s);
    int64_t seq = sf_node_attr_int(node, "seq");
    if (seq <= 0 || q->shape[0] % seq != 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "seq"),
                          "node '%s': seq %lld, expected a positive divisor of T = %lld (the "
                          "tokens of 'q' %s)",
                          node->name, (long long)seq, (long long)q->shape[0],
                          sf_op_shape_str(q).s);
    double scale = sf_node_attr_float(node, "scale");
    if (!(scale >= 0.0))
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "scale"),
                          "node '%s': scale %g, expected a number >= 0 (0: 1/sqrt(head_dim))",
                          node->name, scale);
    int64_t block = sf_node_attr_int(node, "block");
    if (block <= 0 || block > 4096)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "block"),
                          "node '%s': block %lld, expected 1..4096", node->name,
                          (long long)block);
    if (n_in == 4) {
        const sf_tensor_t *mk = &in[3];
        sf_dtype_t dt = mk->dtype;
        int64_t n_seq = q->shape[0] / seq;
        if (mk->ndim != 2 || mk->shape[0] != n_seq || mk->shape[1] != seq ||
            (dt != SF_DTYPE_I32 && dt != SF_DTYPE_I64 && dt != SF_DTYPE_U8))
            return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                              "node '%s': input 'key_mask' is %s %s, expected i32, i64 or u8 "
                              "[%lld,%lld] (B, S)",
                              node->name, sf_dtype_name(dt), sf_op_shape_str(mk).s,
                              (long long)n_seq, (long long)seq);
    }
    out[0] = sf_tensor_make(q->dtype, 3, q->shape);
    return SF_OK;
}

/* Block rows actually used: a block longer than a sequence buys nothing. */
static int64_t attn_block(const sf_node_t *node)
{
    int64_t block = sf_node_attr_int(node, "block");
    int64_t seq = sf_node_attr_int(node, "seq");
    return block < seq ? block : seq;
}

/* f32 tiles: q, k, v and the accumulator (blk x hd each), the scores
 * (blk x blk), and each query row's running max and sum. */
static uint64_t attn_scratch_floats(int64_t blk, int64_t hd)
{
    return (uint64_t)(4 * blk * hd + blk * blk + 2 * blk);
}

static uint64_t attention_scratch(const sf_node_t *node, const void *prepared,
                                  const sf_tensor_t *in, int n_in, const sf_tensor_t *out,
                                  int n_out)
{
    (void)prepared;
    (void)n_in;
    (void)out;
    (void)n_out;
    if (sf_tensor_numel(&in[0]) == 0)
        return 0;
    return attn_scratch_floats(attn_block(node), in[0].shape[2]) * sizeof(float);
}

/* Copy rows [t0, t0 + n) of head h of t (T, heads, hd) into dense f32. */
static void attn_load_tile(float *dst, const sf_tensor_t *t, int64_t t0, int64_t n, int64_t h)
{
    int64_t hd = t->shape[2], es = (int64_t)sf_dtype_size(t->dtype);
    const char *base = (const char *)sf_tensor_data(t) + h * t->strides[1] * es;
    for (int64_t r = 0; r < n; r++) {
        const char *row = base + (t0 + r) * t->strides[0] * es;
        for (int64_t d = 0; d < hd; d++)
            dst[r * hd + d] = sf_km_load(t->dtype, row + d * t->strides[2] * es);
    }
}

static bool attn_key_live(const sf_tensor_t *mask, int64_t b, int64_t j)
{
    if (mask == NULL)
        return true;
    int64_t es = (int64_t)sf_dtype_size(mask->dtype);
    const char *p = (const char *)sf_tensor_data(mask) +
                    (b * mask->strides[0] + j * mask->strides[1]) * es;
    return sf_convert_load_int(mask->dtype, p) != 0;
}

static sf_status_t attention_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    const sf_tensor_t *q = &a->in[0], *k = &a->in[1], *v = &a->in[2], *o = &a->out[0];
    const sf_tensor_t *mask = a->n_in == 4 ? &a->in[3] : NULL;
    if (sf_tensor_numel(q) == 0)
        return SF_OK;
    sf_status_t st = sf_blas_load(err);
    if (st != SF_OK)
        return st;
    int64_t n_tok = q->shape[0], nh = q->shape[1], hd = q->shape[2], nkv = k->shape[1];
    int64_t seq = sf_node_attr_int(a->node, "seq"), n_seq = n_tok / seq;
    int64_t group = nh / nkv, blk = attn_block(a->node);
    double scale_attr = sf_node_attr_float(a->node, "scale");
    float scale = scale_attr > 0.0 ? (float)scale_attr : 1.0f / sqrtf((float)hd);
    SF_ASSERT(a->scratch_bytes >= attn_scratch_floats(blk, hd) * sizeof(float));
    float *qt = a->scratch, *kt = qt + blk * hd, *vt = kt + blk * hd, *acc = vt + blk * hd;
    float *sc = acc + blk * hd, *row_max = sc + blk * blk, *row_sum = row_max + blk;
    int64_t oes = (int64_t)sf_dtype_size(o->dtype);
    char *od = sf_tensor_data(o);
    for (int64_t b = 0; b < n_seq; b++) {
        int64_t t_base = b * seq;
        for (int64_t h = 0; h < nh; h++) {
            int64_t kvh = h / group;
            for (int64_t q0 = 0; q0 < seq; q0 += blk) {
                int64_t nq = seq - q0 < blk ? seq - q0 : blk;
                attn_load_tile(qt, q, t_base + q0, nq, h);
                for (int64_t r = 0; r < nq; r++) {
                    row_max[r] = -INFINITY;
                    row_sum[r] = 0.0f;
                }
                memset(acc, 0, (size_t)(nq * hd) * sizeof *acc);
                /* Causal: the last query of this block sees keys < q0 + nq. */
                for (int64_t k0 = 0; k0 < q0 + nq; k0 += blk) {
                    int64_t nk = q0 + nq - k0 < blk ? q0 + nq - k0 : blk;
                    attn_load_tile(kt, k, t_base + k0, nk, kvh);
                    attn_load_tile(vt, v, t_base + k0, nk, kvh);
                    /* The block's scores and its weighted values are two
                     * small matrix products: BLAS's kernel, not a scalar dot
                     * per pair (the loop it replaced ran at ~1 GFLOP/s). */
                    sf_blas_sgemm(true, (int)nq, (int)nk, (int)hd, qt, (int)hd, kt, (int)hd,
                                  0.0f, sc, (int)blk);
                    for (int64_t r = 0; r < nq; r++) {
                        float *s = sc + r * blk;
                        for (int64_t c = 0; c < nk; c++) {
                            if (k0 + c > q0 + r || !attn_key_live(mask, b, k0 + c))
                                s[c] = -INFINITY;
                            else
                                s[c] *= scale;
                        }
                        /* Leaves every s[c] finite: 0 for masked keys. */
                        float factor = sf_km_softmax_step(&row_max[r], &row_sum[r], s, nk);
                        float *ar = acc + r * hd;
                        for (int64_t d = 0; d < hd; d++)
                            ar[d] *= factor;
                    }
                    sf_blas_sgemm(false, (int)nq, (int)hd, (int)nk, sc, (int)blk, vt, (int)hd,
                                  1.0f, acc, (int)hd);
                }
                for (int64_t r = 0; r < nq; r++) {
                    float inv = row_sum[r] > 0.0f ? 1.0f / row_sum[r] : 0.0f;
                    char *orow = od + ((t_base + q0 + r) * o->strides[0] + h * o->strides[1]) * oes;
                    for (int64_t d = 0; d < hd; d++)
                        sf_km_store(o->dtype, orow + d * o->strides[2] * oes,
                                    acc[r * hd + d] * inv);
                }
            }
        }
    }
    return SF_OK;
}

const sf_op_desc_t sf_op_attention = {
    .name = "attention",
    .doc = "causal GQA attention per sequence of `seq` tokens, blocked online softmax in f32",
    .min_inputs = 3,
    .max_inputs = 4,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = attention_attrs,
    .n_attrs = sizeof attention_attrs / sizeof attention_attrs[0],
    .infer = attention_infer,
    .scratch_bytes = attention_scratch,
    .cpu_kernel = attention_cpu,
};
