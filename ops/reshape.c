/* reshape: the same elements under a new shape, as a view of input 0.
 * Only a contiguous input can be reshaped without a copy, so a strided one
 * is a graph error (insert a copy, e.g. a cast to the same dtype). */
#include "graph.h"
#include "op.h"
#include "op_shape.h"

static const sf_op_attr_desc_t reshape_attrs[] = {
    {"shape", SF_ATTR_INTS, NULL, "new shape; at most one -1, inferred from the element count"},
};

static sf_status_t reshape_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                 sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    (void)n_out;
    int n;
    const int64_t *want = sf_node_attr_ints(node, "shape", &n);
    const sf_pos_t *pos = sf_op_shape_attr_pos(node, "shape");
    if (n > SF_MAX_DIMS)
        return sf_err_set(err, SF_ERR_GRAPH, pos,
                          "node '%s': shape %s has %d dims, at most %d are supported",
                          node->name, sf_op_shape_ints_str(n, want).s, n, SF_MAX_DIMS);
    if (!sf_tensor_is_contiguous(&in[0]))
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': input 0 (shape %s) is a non-contiguous view, expected a "
                          "contiguous tensor (reshape never copies)",
                          node->name, sf_op_shape_str(&in[0]).s);
    int64_t shape[SF_MAX_DIMS];
    int infer_at = -1;
    int64_t known = 1;
    for (int i = 0; i < n; i++) {
        shape[i] = want[i];
        if (want[i] == -1 && infer_at < 0) {
            infer_at = i;
            continue;
        }
        if (want[i] < 0)
            return sf_err_set(err, SF_ERR_GRAPH, pos,
                              "node '%s': shape %s has entry %lld at %d, expected sizes >= 0 "
                              "and at most one -1",
                              node->name, sf_op_shape_ints_str(n, want).s, (long long)want[i], i);
        if (__builtin_mul_overflow(known, want[i], &known))
            return sf_err_set(err, SF_ERR_GRAPH, pos,
                              "node '%s': shape %s has more than 2^63 elements", node->name,
                              sf_op_shape_ints_str(n, want).s);
    }
    int64_t numel = sf_tensor_numel(&in[0]);
    if (infer_at >= 0) {
        /* With a 0 among the known sizes, -1 could be anything, as torch says. */
        if (known == 0)
            return sf_err_set(err, SF_ERR_GRAPH, pos,
                              "node '%s': shape %s: -1 is ambiguous next to a 0 size",
                              node->name, sf_op_shape_ints_str(n, want).s);
        shape[infer_at] = numel / known;
        known *= shape[infer_at];
    }
    if (known != numel)
        return sf_err_set(err, SF_ERR_GRAPH, pos,
                          "node '%s': cannot reshape input 0 of shape %s (%lld elements) to %s",
                          node->name, sf_op_shape_str(&in[0]).s, (long long)numel,
                          sf_op_shape_ints_str(n, want).s);
    out[0] = sf_tensor_make(in[0].dtype, n, shape);
    out[0].offset = in[0].offset;
    return SF_OK;
}

const sf_op_desc_t sf_op_reshape = {
    .name = "reshape",
    .doc = "view: same elements under `shape` (input must be contiguous)",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = reshape_attrs,
    .n_attrs = sizeof reshape_attrs / sizeof reshape_attrs[0],
    .infer = reshape_infer,
    .outputs_are_views = true,
};
