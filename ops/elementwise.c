/* add and mul: out = a op b, elementwise, in a's shape and dtype. b has
 * a's shape or a suffix of it (b (V) against a (T, V)): it repeats along
 * a's leading dims. Floats compute in f32 and round once, as torch does
 * for bf16/f16; integers compute in wrapping 64-bit arithmetic. */
#include "graph.h"
#include "kernel_math.h"
#include "op.h"
#include "op_shape.h"
#include "walk.h"

typedef enum ew_kind { EW_ADD, EW_MUL } ew_kind_t;

static const sf_op_attr_desc_t add_attrs[] = {
    {"in_place", SF_ATTR_BOOL, "false",
     "b may be computed straight into the output when nothing else reads it (a residual "
     "add); off by default so graphs that do not ask keep their planned figures"},
};

static sf_status_t ew_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                            sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    (void)n_out;
    const sf_tensor_t *a = &in[0], *b = &in[1];
    if (b->dtype != a->dtype)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': input 'b' has dtype %s, expected %s (the dtype of 'a')",
                          node->name, sf_dtype_name(b->dtype), sf_dtype_name(a->dtype));
    bool is_ok = b->ndim <= a->ndim;
    for (int d = 0; is_ok && d < b->ndim; d++)
        is_ok = b->shape[d] == a->shape[a->ndim - b->ndim + d];
    if (!is_ok)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': input 'b' has shape %s, expected the shape of 'a' %s or "
                          "a suffix of it",
                          node->name, sf_op_shape_str(b).s, sf_op_shape_str(a).s);
    out[0] = sf_tensor_make(a->dtype, a->ndim, a->shape);
    return SF_OK;
}

static void ew_run(ew_kind_t kind, sf_dtype_t dt, char *o, int64_t os, const char *x, int64_t xs,
                   const char *y, int64_t ys, int64_t len)
{
    /* The element's math is shared with the cuda kernel (kernel_math.h). */
    for (int64_t j = 0; j < len; j++, o += os, x += xs, y += ys)
        sf_km_binop(kind == EW_MUL, dt, o, x, y);
}

static sf_status_t ew_cpu(const sf_kernel_args_t *args, ew_kind_t kind)
{
    const sf_tensor_t *a = &args->in[0], *b = &args->in[1];
    const sf_tensor_t *o = &args->out[0];
    if (sf_tensor_numel(o) == 0)
        return SF_OK;
    /* b's strides over a's shape: 0 along the leading dims it repeats over. */
    int64_t b_strides[SF_MAX_DIMS] = {0};
    int lead = a->ndim - b->ndim;
    for (int d = 0; d < b->ndim; d++)
        b_strides[lead + d] = b->strides[d];
    sf_walk_t w;
    sf_walk_init(&w, a->ndim, a->shape, a->ndim - 1);
    int oi = sf_walk_add_tensor(&w, o);
    int ai = sf_walk_add_tensor(&w, a);
    int bi = sf_walk_add(&w, b_strides, sf_dtype_size(b->dtype));
    char *od = sf_tensor_data(o);
    const char *ad = sf_tensor_data(a), *bd = sf_tensor_data(b);
    while (sf_walk_next(&w))
        ew_run(kind, o->dtype, od + w.off[oi], w.stride[oi], ad + w.off[ai], w.stride[ai],
               bd + w.off[bi], w.stride[bi], w.len);
    return SF_OK;
}

static sf_status_t add_cpu(const sf_kernel_args_t *args, sf_err_t *err)
{
    (void)err;
    return ew_cpu(args, EW_ADD);
}

static sf_status_t mul_cpu(const sf_kernel_args_t *args, sf_err_t *err)
{
    (void)err;
    return ew_cpu(args, EW_MUL);
}

/* Each element of b is read once, just before the same element of the
 * output is written, so b may already sit in the output. Only b (the
 * freshly computed addend; a, the residual stream, has other readers) and
 * only when it is not repeated over a's leading dims. */
static bool add_slot(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                     const sf_tensor_t *out, int k, int64_t *offset_bytes, int64_t *strides)
{
    (void)n_in;
    if (k != 1 || !sf_node_attr_bool(node, "in_place") || in[1].ndim != out->ndim ||
        in[1].dtype != out->dtype)
        return false;
    for (int d = 0; d < out->ndim; d++)
        if (in[1].shape[d] != out->shape[d])
            return false;
    return sf_op_shape_slot_whole(out, offset_bytes, strides);
}

const sf_op_desc_t sf_op_add = {
    .name = "add",
    .doc = "a + b (b: a's shape or a suffix of it, repeated)",
    .min_inputs = 2,
    .max_inputs = 2,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = add_attrs,
    .n_attrs = sizeof add_attrs / sizeof add_attrs[0],
    .infer = ew_infer,
    .input_slot = add_slot,
    .cpu_kernel = add_cpu,
};

const sf_op_desc_t sf_op_mul = {
    .name = "mul",
    .doc = "a * b (b: a's shape or a suffix of it, repeated)",
    .min_inputs = 2,
    .max_inputs = 2,
    .min_outputs = 1,
    .max_outputs = 1,
    .infer = ew_infer,
    .cpu_kernel = mul_cpu,
};
