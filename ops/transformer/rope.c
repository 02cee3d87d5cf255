/* rope: rotary position embedding, HF's rotate_half (non-interleaved)
 * convention, on x (T, heads, head_dim) where T = B * seq and token t sits
 * at position t % seq of its sequence. Pair i (< hd/2) is (x[i], x[i+hd/2])
 * rotated by pos * theta^(-2i/hd).
 *
 * Everything is f32 and the result is rounded once into x's dtype. HF
 * (and SGLang's cos_sin_cache) first round cos and sin to the model dtype
 * and, in eager bf16, round each product and the sum as well; those extra
 * bf16 roundings make HF's bf16 output differ from ours by up to about one
 * bf16 ulp of max(|x[i]|, |x[i+hd/2]|) (relative 2^-8), the same order as
 * the final rounding itself. In f32 the two agree to f32 rounding. */
#include <math.h>
#include <stdint.h>

#include "graph.h"
#include "kernel_math.h"
#include "op.h"
#include "op_shape.h"

static const sf_op_attr_desc_t rope_attrs[] = {
    {"seq", SF_ATTR_INT, NULL, "tokens per sequence S: token t has position t % S"},
    {"theta", SF_ATTR_FLOAT, "10000.0", "rope_theta, the base of the frequencies"},
};

static sf_status_t rope_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                              sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    (void)n_out;
    const sf_tensor_t *x = &in[0];
    sf_status_t st;
    if ((st = sf_op_shape_need_float(node, in, 0, err)) != SF_OK)
        return st;
    if (x->ndim != 3 || x->shape[2] % 2 != 0)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': input 'x' has shape %s, expected [T,heads,head_dim] "
                          "with an even head_dim",
                          node->name, sf_op_shape_str(x).s);
    int64_t seq = sf_node_attr_int(node, "seq");
    if (seq <= 0 || x->shape[0] % seq != 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "seq"),
                          "node '%s': seq %lld, expected a positive divisor of T = %lld (the "
                          "tokens of 'x' %s)",
                          node->name, (long long)seq, (long long)x->shape[0],
                          sf_op_shape_str(x).s);
    double theta = sf_node_attr_float(node, "theta");
    if (!(theta > 0.0))
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "theta"),
                          "node '%s': theta %g, expected a number > 0", node->name, theta);
    out[0] = sf_tensor_make(x->dtype, 3, x->shape);
    return SF_OK;
}

static sf_status_t rope_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    (void)err;
    const sf_tensor_t *x = &a->in[0], *y = &a->out[0];
    int64_t n_tok = x->shape[0], heads = x->shape[1], hd = x->shape[2], half = hd / 2;
    int64_t seq = sf_node_attr_int(a->node, "seq");
    float theta = (float)sf_node_attr_float(a->node, "theta");
    int64_t xes = (int64_t)sf_dtype_size(x->dtype), yes = (int64_t)sf_dtype_size(y->dtype);
    const char *xd = sf_tensor_data(x);
    char *yd = sf_tensor_data(y);
    for (int64_t t = 0; t < n_tok; t++) {
        float pos = (float)(t % seq);
        for (int64_t i = 0; i < half; i++) {
            /* HF: freqs = inv_freq * position in f32, then cos/sin. */
            float ang = pos * sf_km_rope_inv_freq(theta, i, hd);
            float c = cosf(ang), s = sinf(ang);
            for (int64_t h = 0; h < heads; h++) {
                const char *xr = xd + (t * x->strides[0] + h * x->strides[1]) * xes;
                char *yr = yd + (t * y->strides[0] + h * y->strides[1]) * yes;
                float x0 = sf_km_load(x->dtype, xr + i * x->strides[2] * xes);
                float x1 = sf_km_load(x->dtype, xr + (i + half) * x->strides[2] * xes);
                float y0, y1;
                sf_km_rope_pair(x0, x1, c, s, &y0, &y1);
                sf_km_store(y->dtype, yr + i * y->strides[2] * yes, y0);
                sf_km_store(y->dtype, yr + (i + half) * y->strides[2] * yes, y1);
            }
        }
    }
    return SF_OK;
}

const sf_op_desc_t sf_op_rope = {
    .name = "rope",
    .doc = "rotary embedding of x (T,heads,head_dim), rotate_half convention, position t % seq",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = rope_attrs,
    .n_attrs = sizeof rope_attrs / sizeof rope_attrs[0],
    .infer = rope_infer,
    .cpu_kernel = rope_cpu,
};
