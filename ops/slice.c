/* slice: a strided window of input 0 along one dim, with Python's rules
 * for negative and out-of-range start/stop (they clamp, never fail). The
 * output is a view: no memory, no kernel. */
#include <stdint.h>

#include "graph.h"
#include "op.h"
#include "op_shape.h"

static const sf_op_attr_desc_t slice_attrs[] = {
    {"dim", SF_ATTR_INT, "0", "dim to slice; negative counts from the end"},
    {"start", SF_ATTR_INT, "0", "first index; negative counts from the end"},
    /* INT64_MAX stands for Python's `None`: it clamps to the dim's size. */
    {"stop", SF_ATTR_INT, "9223372036854775807",
     "one past the last index; negative counts from the end (default: the end)"},
    {"step", SF_ATTR_INT, "1", "stride between taken indices, >= 1"},
};

/* Python's slice.indices() for a positive step: negative values count from
 * the end, then both ends clamp to [0, n]. */
static int64_t slice_clamp(int64_t v, int64_t n)
{
    if (v < 0) {
        v = v < -n ? 0 : v + n;
    }
    return v > n ? n : v;
}

static sf_status_t slice_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                               sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    (void)n_out;
    int dim;
    sf_status_t st = sf_op_shape_dim_attr(node, "dim", in[0].ndim, &dim, err);
    if (st != SF_OK)
        return st;
    int64_t step = sf_node_attr_int(node, "step");
    if (step < 1)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "step"),
                          "node '%s': step %lld, expected >= 1", node->name, (long long)step);
    int64_t n = in[0].shape[dim];
    int64_t start = slice_clamp(sf_node_attr_int(node, "start"), n);
    int64_t stop = slice_clamp(sf_node_attr_int(node, "stop"), n);
    /* Written so a huge step cannot overflow. */
    int64_t count = stop > start ? (stop - start - 1) / step + 1 : 0;
    out[0] = in[0];
    out[0].buf = NULL;
    out[0].shape[dim] = count;
    out[0].strides[dim] = in[0].strides[dim] * step;
    /* An empty slice keeps the base offset, so the view never points past
     * the end of its buffer. */
    if (count > 0)
        out[0].offset =
            in[0].offset + (uint64_t)(start * in[0].strides[dim]) * sf_dtype_size(in[0].dtype);
    return SF_OK;
}

const sf_op_desc_t sf_op_slice = {
    .name = "slice",
    .doc = "view: input[start:stop:step] along `dim`, Python's clamping",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = slice_attrs,
    .n_attrs = sizeof slice_attrs / sizeof slice_attrs[0],
    .infer = slice_infer,
    .outputs_are_views = true,
};
