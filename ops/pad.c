/* pad: shift input 0 along `dim` by `shift` places and fill the places
 * left open with `value`; the output has the input's shape and is a fresh
 * buffer. shift -1 is SpecForge's padding(t, left=False): drop the first
 * token, fill one at the end. */
#include "graph.h"
#include "op.h"
#include "op_shape.h"
#include "walk.h"

static const sf_op_attr_desc_t pad_attrs[] = {
    /* Defaults are SpecForge's: shift the sequence dim of (B, S, ...) left. */
    {"dim", SF_ATTR_INT, "1", "dim to shift along; negative counts from the end"},
    {"shift", SF_ATTR_INT, "-1", "out[i] = in[i - shift]; negative shifts toward index 0"},
    {"value", SF_ATTR_FLOAT, "0.0", "fill for the places shifted in"},
};

static sf_status_t pad_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                             sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    (void)n_out;
    int dim;
    sf_status_t st = sf_op_shape_dim_attr(node, "dim", in[0].ndim, &dim, err);
    if (st != SF_OK)
        return st;
    /* Any shift is valid: one of magnitude >= the dim's size fills it all. */
    out[0] = sf_tensor_make(in[0].dtype, in[0].ndim, in[0].shape);
    return SF_OK;
}

/* The window [lo, hi) of t along dim, as a view. */
static sf_tensor_t pad_window(const sf_tensor_t *t, int dim, int64_t lo, int64_t hi)
{
    sf_tensor_t v = *t;
    v.shape[dim] = hi - lo;
    if (hi > lo)
        v.offset += (uint64_t)(lo * t->strides[dim]) * sf_dtype_size(t->dtype);
    return v;
}

static sf_status_t pad_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    (void)err;
    const sf_tensor_t *in = &a->in[0];
    const sf_tensor_t *out = &a->out[0];
    int dim = (int)sf_node_attr_int(a->node, "dim");
    if (dim < 0)
        dim += in->ndim;
    int64_t shift = sf_node_attr_int(a->node, "shift");
    double value = sf_node_attr_float(a->node, "value");
    int64_t n = in->shape[dim];
    /* Clamping keeps the windows valid and the arithmetic free of overflow
     * for any user shift. */
    if (shift > n)
        shift = n;
    if (shift < -n)
        shift = -n;
    /* Kept: out[max(shift,0) .. n+min(shift,0)) = in[max(-shift,0) .. n-max(shift,0)). */
    int64_t keep_lo = shift > 0 ? shift : 0;
    int64_t keep_hi = shift < 0 ? n + shift : n;
    sf_tensor_t dst = pad_window(out, dim, keep_lo, keep_hi);
    sf_tensor_t src = pad_window(in, dim, keep_lo - shift, keep_hi - shift);
    sf_tensor_copy_host(&dst, &src);
    sf_tensor_t head = pad_window(out, dim, 0, keep_lo);
    sf_tensor_t tail = pad_window(out, dim, keep_hi, n);
    sf_walk_fill(&head, value);
    sf_walk_fill(&tail, value);
    return SF_OK;
}

/* The input's slot: the output itself, moved by the shift (in[i] is
 * out[i + shift]), so the kernel is left only the places it fills. Its
 * first |shift| slices (dropped by the pad) land before the output (a margin
 * the planner allocates) or on other slices' filled places. Shifts as large
 * as the dim keep a copy. */
static bool pad_slot(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                     const sf_tensor_t *out, int k, int64_t *offset_bytes, int64_t *strides)
{
    (void)n_in;
    (void)k;
    int dim = (int)sf_node_attr_int(node, "dim");
    if (dim < 0)
        dim += in->ndim;
    int64_t shift = sf_node_attr_int(node, "shift");
    if (shift >= in->shape[dim] || shift <= -in->shape[dim])
        return false;
    *offset_bytes = shift * out->strides[dim] * (int64_t)sf_dtype_size(out->dtype);
    for (int d = 0; d < out->ndim; d++)
        strides[d] = out->strides[d];
    return true;
}

const sf_op_desc_t sf_op_pad = {
    .name = "pad",
    .doc = "shift along `dim` by `shift`, filling with `value` (same shape, fresh buffer)",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = pad_attrs,
    .n_attrs = sizeof pad_attrs / sizeof pad_attrs[0],
    .infer = pad_infer,
    .writes_strided = true,
    .input_slot = pad_slot,
    .cpu_kernel = pad_cpu,
};
