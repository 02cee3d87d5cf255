/* split: cut input 0 along `dim` into len(sizes) consecutive pieces. The
 * outputs are views of the input: no memory, no kernel; the planner keeps
 * the input alive while any piece is. */
#include "graph.h"
#include "op.h"
#include "op_shape.h"

static const sf_op_attr_desc_t split_attrs[] = {
    {"dim", SF_ATTR_INT, "0", "dim to cut along; negative counts from the end"},
    {"sizes", SF_ATTR_INTS, NULL, "size of each piece along dim; one output per entry"},
};

static sf_status_t split_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                               sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    int dim;
    sf_status_t st = sf_op_shape_dim_attr(node, "dim", in[0].ndim, &dim, err);
    if (st != SF_OK)
        return st;
    int n_sizes;
    const int64_t *sizes = sf_node_attr_ints(node, "sizes", &n_sizes);
    const sf_pos_t *pos = sf_op_shape_attr_pos(node, "sizes");
    if (n_sizes != n_out)
        return sf_err_set(err, SF_ERR_GRAPH, pos,
                          "node '%s': sizes %s has %d entries but the node has %d outputs "
                          "(expected one output per size)",
                          node->name, sf_op_shape_ints_str(n_sizes, sizes).s, n_sizes, n_out);
    int64_t total = 0;
    for (int i = 0; i < n_sizes; i++) {
        if (sizes[i] < 0)
            return sf_err_set(err, SF_ERR_GRAPH, pos,
                              "node '%s': sizes %s has negative entry %lld at %d", node->name,
                              sf_op_shape_ints_str(n_sizes, sizes).s, (long long)sizes[i], i);
        total += sizes[i];
    }
    if (total != in[0].shape[dim])
        return sf_err_set(err, SF_ERR_GRAPH, pos,
                          "node '%s': sizes %s sum to %lld, expected %lld (dim %d of input "
                          "shape %s)",
                          node->name, sf_op_shape_ints_str(n_sizes, sizes).s, (long long)total,
                          (long long)in[0].shape[dim], dim, sf_op_shape_str(&in[0]).s);
    uint64_t dim_bytes = (uint64_t)in[0].strides[dim] * sf_dtype_size(in[0].dtype);
    int64_t start = 0;
    for (int i = 0; i < n_out; i++) {
        out[i] = in[0];
        out[i].buf = NULL;
        out[i].shape[dim] = sizes[i];
        /* An empty piece keeps the base offset, so no view ever points past
         * the end of its buffer. */
        if (sizes[i] > 0)
            out[i].offset = in[0].offset + (uint64_t)start * dim_bytes;
        start += sizes[i];
    }
    return SF_OK;
}

const sf_op_desc_t sf_op_split = {
    .name = "split",
    .doc = "views: cut input along `dim` into pieces of `sizes`",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = -1,
    .attrs = split_attrs,
    .n_attrs = sizeof split_attrs / sizeof split_attrs[0],
    .infer = split_infer,
    .outputs_are_views = true,
};
