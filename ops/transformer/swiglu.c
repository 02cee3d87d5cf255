/* swiglu: the Llama/Qwen3 MLP activation, silu(gate) * up, elementwise.
 * As torch computes HF's act_fn(gate) * up on bf16 tensors: silu in f32
 * rounded to the dtype, then the product in f32 rounded once more (both
 * roundings vanish in f32). Inputs may be strided views of equal shape. */
#include <stdint.h>

#include "graph.h"
#include "kernel_math.h"
#include "op.h"
#include "op_shape.h"
#include "walk.h"

static sf_status_t swiglu_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    (void)n_out;
    const sf_tensor_t *g = &in[0], *u = &in[1];
    sf_status_t st;
    if ((st = sf_op_shape_need_float(node, in, 0, err)) != SF_OK)
        return st;
    if (u->dtype != g->dtype)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': input 'up' has dtype %s, expected %s (the dtype of "
                          "'gate')",
                          node->name, sf_dtype_name(u->dtype), sf_dtype_name(g->dtype));
    if (!sf_tensor_same_shape(g, u))
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': input 'up' has shape %s, expected %s (the shape of "
                          "'gate')",
                          node->name, sf_op_shape_str(u).s, sf_op_shape_str(g).s);
    out[0] = sf_tensor_make(g->dtype, g->ndim, g->shape);
    return SF_OK;
}

static sf_status_t swiglu_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    (void)err;
    const sf_tensor_t *g = &a->in[0], *u = &a->in[1], *y = &a->out[0];
    if (sf_tensor_numel(g) == 0)
        return SF_OK;
    sf_dtype_t dt = g->dtype;
    sf_walk_t w;
    sf_walk_init(&w, g->ndim, g->shape, g->ndim - 1);
    int gi = sf_walk_add_tensor(&w, g);
    int ui = sf_walk_add_tensor(&w, u);
    int yi = sf_walk_add_tensor(&w, y);
    const char *gd = sf_tensor_data(g), *ud = sf_tensor_data(u);
    char *yd = sf_tensor_data(y);
    while (sf_walk_next(&w)) {
        for (int64_t j = 0; j < w.len; j++) {
            float gv = sf_km_load(dt, gd + w.off[gi] + j * w.stride[gi]);
            float uv = sf_km_load(dt, ud + w.off[ui] + j * w.stride[ui]);
            sf_km_store(dt, yd + w.off[yi] + j * w.stride[yi], sf_km_swiglu(gv, uv, dt));
        }
    }
    return SF_OK;
}

const sf_op_desc_t sf_op_swiglu = {
    .name = "swiglu",
    .doc = "silu(gate) * up (HF act_fn(gate) * up: silu rounded to the dtype, then the product)",
    .min_inputs = 2,
    .max_inputs = 2,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = NULL,
    .n_attrs = 0,
    .infer = swiglu_infer,
    .cpu_kernel = swiglu_cpu,
};
