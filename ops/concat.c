/* concat: join inputs along one dim into a fresh contiguous tensor.
 * Every input has the output's dtype and rank, and equal sizes in every
 * other dim; inputs may be strided views. */
#include "graph.h"
#include "op.h"
#include "op_shape.h"

static const sf_op_attr_desc_t concat_attrs[] = {
    {"dim", SF_ATTR_INT, "0", "dim to join along; negative counts from the end"},
};

static sf_status_t concat_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_out;
    int dim;
    sf_status_t st = sf_op_shape_dim_attr(node, "dim", in[0].ndim, &dim, err);
    if (st != SF_OK)
        return st;
    int64_t shape[SF_MAX_DIMS];
    for (int d = 0; d < in[0].ndim; d++)
        shape[d] = in[0].shape[d];
    shape[dim] = 0;
    for (int i = 0; i < n_in; i++) {
        if (in[i].dtype != in[0].dtype)
            return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                              "node '%s': input %d has dtype %s, expected %s (the dtype of "
                              "input 0)",
                              node->name, i, sf_dtype_name(in[i].dtype),
                              sf_dtype_name(in[0].dtype));
        bool is_ok = in[i].ndim == in[0].ndim;
        for (int d = 0; is_ok && d < in[0].ndim; d++)
            is_ok = d == dim || in[i].shape[d] == in[0].shape[d];
        if (!is_ok)
            return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                              "node '%s': input %d has shape %s, expected input 0's shape %s "
                              "except in dim %d",
                              node->name, i, sf_op_shape_str(&in[i]).s,
                              sf_op_shape_str(&in[0]).s, dim);
        shape[dim] += in[i].shape[dim];
    }
    out[0] = sf_tensor_make(in[0].dtype, in[0].ndim, shape);
    return SF_OK;
}

static sf_status_t concat_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    const sf_tensor_t *out = &a->out[0];
    int dim = (int)sf_node_attr_int(a->node, "dim");
    if (dim < 0)
        dim += out->ndim;
    /* Each input is copied into the window of the output it lands in,
     * through the device (on the host: sf_tensor_copy_host, which memcpy's
     * unit-stride runs), so this kernel is cuda's too. An input already in
     * its window (concat_slot) is skipped by the copy. */
    sf_tensor_t window = *out;
    uint64_t dim_bytes = (uint64_t)out->strides[dim] * sf_dtype_size(out->dtype);
    for (int i = 0; i < a->n_in; i++) {
        window.shape[dim] = a->in[i].shape[dim];
        sf_status_t st = sf_device_copy_tensor(a->dev, &window, &a->in[i], err);
        if (st != SF_OK)
            return st;
        window.offset += (uint64_t)a->in[i].shape[dim] * dim_bytes;
    }
    return SF_OK;
}

/* Input k's slot: its window of the output along dim, which it can be
 * computed into directly (the kernel then finds it in place). */
static bool concat_slot(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                        const sf_tensor_t *out, int k, int64_t *offset_bytes, int64_t *strides)
{
    (void)n_in;
    int dim = (int)sf_node_attr_int(node, "dim");
    if (dim < 0)
        dim += out->ndim;
    int64_t start = 0;
    for (int i = 0; i < k; i++)
        start += in[i].shape[dim];
    *offset_bytes = start * out->strides[dim] * (int64_t)sf_dtype_size(out->dtype);
    for (int d = 0; d < out->ndim; d++)
        strides[d] = out->strides[d];
    return true;
}

const sf_op_desc_t sf_op_concat = {
    .name = "concat",
    .doc = "join inputs along `dim` (same dtype, equal other dims)",
    .min_inputs = 1,
    .max_inputs = -1,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = concat_attrs,
    .n_attrs = sizeof concat_attrs / sizeof concat_attrs[0],
    .infer = concat_infer,
    .writes_strided = true,
    .input_slot = concat_slot,
    .cpu_kernel = concat_cpu,
};
