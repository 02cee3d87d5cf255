/* argmax over one dim, as i64 indices. The first maximum wins; a NaN
 * counts as larger than any number (the first NaN wins), as in torch. An
 * empty dim has no argmax, so it is a shape error. */
#include <math.h>

#include "graph.h"
#include "kernel_math.h"
#include "op.h"
#include "op_shape.h"
#include "walk.h"

static const sf_op_attr_desc_t argmax_attrs[] = {
    {"dim", SF_ATTR_INT, "-1", "dim to search; negative counts from the end"},
    {"keepdim", SF_ATTR_BOOL, "false", "keep `dim` as size 1 instead of dropping it"},
};

static sf_status_t argmax_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    (void)n_out;
    int dim;
    sf_status_t st = sf_op_shape_dim_attr(node, "dim", in[0].ndim, &dim, err);
    if (st != SF_OK)
        return st;
    if (in[0].shape[dim] == 0)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': input 0 has shape %s, expected dim %d to be non-empty "
                          "(argmax of nothing)",
                          node->name, sf_op_shape_str(&in[0]).s, dim);
    bool keepdim = sf_node_attr_bool(node, "keepdim");
    int64_t shape[SF_MAX_DIMS];
    int ndim = 0;
    for (int d = 0; d < in[0].ndim; d++) {
        if (d != dim)
            shape[ndim++] = in[0].shape[d];
        else if (keepdim)
            shape[ndim++] = 1;
    }
    out[0] = sf_tensor_make(SF_DTYPE_I64, ndim, shape);
    return SF_OK;
}

static sf_status_t argmax_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    (void)err;
    const sf_tensor_t *in = &a->in[0];
    const sf_tensor_t *out = &a->out[0];
    int dim = (int)sf_node_attr_int(a->node, "dim");
    if (dim < 0)
        dim += in->ndim;
    /* The walk visits lines in row-major order of the other dims, which is
     * exactly the order of the contiguous output, with or without keepdim. */
    sf_walk_t w;
    sf_walk_init(&w, in->ndim, in->shape, dim);
    int ii = sf_walk_add_tensor(&w, in);
    const char *id = sf_tensor_data(in);
    int64_t *o = sf_tensor_data(out);
    int64_t k = 0;
    while (sf_walk_next(&w)) {
        const char *x = id + w.off[ii];
        double best = sf_dtype_load(in->dtype, x);
        int64_t best_j = 0;
        x += w.stride[ii];
        /* The order is shared with the cuda kernel's tree (kernel_math.h);
         * nothing beats a NaN, so the scan stops at the first. */
        for (int64_t j = 1; j < w.len && !isnan(best); j++, x += w.stride[ii]) {
            double v = sf_dtype_load(in->dtype, x);
            if (sf_km_argmax_better(v, j, best, best_j)) {
                best = v;
                best_j = j;
            }
        }
        o[k++] = best_j;
    }
    return SF_OK;
}

const sf_op_desc_t sf_op_argmax = {
    .name = "argmax",
    .doc = "index (i64) of the first maximum along `dim`",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = argmax_attrs,
    .n_attrs = sizeof argmax_attrs / sizeof argmax_attrs[0],
    .infer = argmax_infer,
    .cpu_kernel = argmax_cpu,
};
