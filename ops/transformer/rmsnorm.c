/* rmsnorm: HF LlamaRMSNorm / Qwen3RMSNorm over the last dim. In f32:
 * h = x * rsqrt(mean(x^2) + eps); h is rounded to x's dtype (HF's
 * `.to(input_dtype)`), multiplied by the weight in f32 and rounded once
 * more into the output (x's dtype). Qwen3's per-head q/k norm is this op on
 * a (T, heads, head_dim) tensor with a (head_dim) weight. */
#include <stdint.h>

#include "graph.h"
#include "kernel_math.h"
#include "op.h"
#include "op_shape.h"
#include "walk.h"

static const sf_op_attr_desc_t rmsnorm_attrs[] = {
    {"eps", SF_ATTR_FLOAT, "1e-6", "added to mean(x^2) before the rsqrt (rms_norm_eps)"},
};

static sf_status_t rmsnorm_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                 sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    (void)n_out;
    const sf_tensor_t *x = &in[0], *w = &in[1];
    sf_status_t st;
    if ((st = sf_op_shape_need_ndim(node, in, 0, 1, err)) != SF_OK ||
        (st = sf_op_shape_need_float(node, in, 0, err)) != SF_OK ||
        (st = sf_op_shape_need_float(node, in, 1, err)) != SF_OK)
        return st;
    int64_t d = x->shape[x->ndim - 1];
    if (w->ndim != 1 || w->shape[0] != d)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': input 'weight' has shape %s, expected [%lld] (the last "
                          "dim of 'x' %s)",
                          node->name, sf_op_shape_str(w).s, (long long)d, sf_op_shape_str(x).s);
    double eps = sf_node_attr_float(node, "eps");
    if (!(eps >= 0.0))
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "eps"),
                          "node '%s': eps %g, expected a number >= 0", node->name, eps);
    out[0] = sf_tensor_make(x->dtype, x->ndim, x->shape);
    return SF_OK;
}

static sf_status_t rmsnorm_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    (void)err;
    const sf_tensor_t *x = &a->in[0], *w = &a->in[1], *y = &a->out[0];
    if (sf_tensor_numel(x) == 0)
        return SF_OK;
    float eps = (float)sf_node_attr_float(a->node, "eps");
    int64_t d = x->shape[x->ndim - 1];
    sf_walk_t walk;
    sf_walk_init(&walk, x->ndim, x->shape, x->ndim - 1);
    int xi = sf_walk_add_tensor(&walk, x);
    int yi = sf_walk_add_tensor(&walk, y);
    const char *xd = sf_tensor_data(x), *wd = sf_tensor_data(w);
    char *yd = sf_tensor_data(y);
    int64_t w_step = w->strides[0] * (int64_t)sf_dtype_size(w->dtype);
    /* Two passes over x (sum of squares, then apply): no scratch needed. */
    while (sf_walk_next(&walk)) {
        const char *xr = xd + walk.off[xi];
        float sum_sq = 0.0f;
        for (int64_t j = 0; j < d; j++) {
            float v = sf_km_load(x->dtype, xr + j * walk.stride[xi]);
            sum_sq += v * v;
        }
        float inv = sf_km_rms_inv(sum_sq, d, eps);
        char *yr = yd + walk.off[yi];
        for (int64_t j = 0; j < d; j++) {
            float v = sf_km_load(x->dtype, xr + j * walk.stride[xi]);
            float wv = sf_km_load(w->dtype, wd + j * w_step);
            sf_km_store(y->dtype, yr + j * walk.stride[yi], sf_km_rms_apply(v, inv, wv, x->dtype));
        }
    }
    return SF_OK;
}

const sf_op_desc_t sf_op_rmsnorm = {
    .name = "rmsnorm",
    .doc = "RMSNorm over the last dim (HF Llama/Qwen3): weight * round(x * rsqrt(mean(x^2)+eps))",
    .min_inputs = 2,
    .max_inputs = 2,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = rmsnorm_attrs,
    .n_attrs = sizeof rmsnorm_attrs / sizeof rmsnorm_attrs[0],
    .infer = rmsnorm_infer,
    .cpu_kernel = rmsnorm_cpu,
};
