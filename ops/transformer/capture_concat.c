/* capture_concat: the Eagle3 aux hidden states. SGLang captures the
 * residual stream entering each layer i with `i in layers_to_capture`, so a
 * layer listed twice (as [2, L/2, L-3] lists layer 2 twice when L = 4) is
 * captured once, and captures come in layer order whatever the list order.
 * Here the inputs are those tensors: the distinct ones (by graph value) are
 * joined along the last dim in the order they were produced (ascending value
 * index), each once. Inputs share one shape and dtype. */
#include <stdint.h>

#include "graph.h"
#include "op.h"
#include "op_shape.h"

/* Position k in node->in of the smallest value index above `after`, or -1. */
static int capture_next(const sf_node_t *node, int after)
{
    int best = -1;
    for (int k = 0; k < node->n_in; k++)
        if (node->in[k] > after && (best < 0 || node->in[k] < node->in[best]))
            best = k;
    return best;
}

static int capture_count(const sf_node_t *node)
{
    int n = 0;
    for (int k = capture_next(node, -1); k >= 0; k = capture_next(node, node->in[k]))
        n++;
    return n;
}

static sf_status_t capture_concat_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                        sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_out;
    sf_status_t st;
    if ((st = sf_op_shape_need_ndim(node, in, 0, 1, err)) != SF_OK)
        return st;
    for (int i = 1; i < n_in; i++) {
        if (in[i].dtype != in[0].dtype)
            return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                              "node '%s': input %d has dtype %s, expected %s (the dtype of "
                              "input 0)",
                              node->name, i, sf_dtype_name(in[i].dtype),
                              sf_dtype_name(in[0].dtype));
        if (!sf_tensor_same_shape(&in[i], &in[0]))
            return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                              "node '%s': input %d has shape %s, expected %s (the shape of "
                              "input 0)",
                              node->name, i, sf_op_shape_str(&in[i]).s,
                              sf_op_shape_str(&in[0]).s);
    }
    /* The loader fills node->in before any shape rule runs. */
    SF_ASSERT(node->in != NULL && node->n_in == n_in);
    int64_t shape[SF_MAX_DIMS];
    for (int d = 0; d < in[0].ndim; d++)
        shape[d] = in[0].shape[d];
    shape[in[0].ndim - 1] *= capture_count(node);
    out[0] = sf_tensor_make(in[0].dtype, in[0].ndim, shape);
    return SF_OK;
}

static sf_status_t capture_concat_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    const sf_node_t *node = a->node;
    const sf_tensor_t *out = &a->out[0];
    int last = out->ndim - 1;
    /* Copy each distinct input into its window of the output through the
     * device (on the host: sf_tensor_copy_host), so this kernel is cuda's
     * too. */
    sf_tensor_t window = *out;
    window.shape[last] = a->in[0].shape[last];
    uint64_t step = (uint64_t)window.shape[last] * sf_dtype_size(out->dtype);
    for (int k = capture_next(node, -1); k >= 0; k = capture_next(node, node->in[k])) {
        sf_status_t st = sf_device_copy_tensor(a->dev, &window, &a->in[k], err);
        if (st != SF_OK)
            return st;
        window.offset += step;
    }
    return SF_OK;
}

/* Input k's slot: its column block of the output, at its rank among the
 * distinct inputs. A tensor listed twice is read twice, so the planner
 * never asks for it. */
static bool capture_concat_slot(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                const sf_tensor_t *out, int k, int64_t *offset_bytes,
                                int64_t *strides)
{
    (void)n_in;
    int last = out->ndim - 1, before = 0;
    for (int j = capture_next(node, -1); j >= 0 && j != k; j = capture_next(node, node->in[j]))
        before++;
    *offset_bytes = before * in[k].shape[last] * (int64_t)sf_dtype_size(out->dtype);
    for (int d = 0; d < out->ndim; d++)
        strides[d] = out->strides[d];
    return true;
}

const sf_op_desc_t sf_op_capture_concat = {
    .name = "capture_concat",
    .doc = "Eagle3 aux states: distinct inputs joined on the last dim in production order",
    .min_inputs = 1,
    .max_inputs = -1,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = NULL,
    .n_attrs = 0,
    .infer = capture_concat_infer,
    .writes_strided = true,
    .input_slot = capture_concat_slot,
    .cpu_kernel = capture_concat_cpu,
};
