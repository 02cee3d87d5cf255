/* cast: convert input 0 to `dtype` into a fresh contiguous tensor.
 * Floats round to nearest even (bf16, f16); float -> integer truncates
 * toward zero and saturates (NaN -> 0); integer -> float goes through f32
 * as torch does; integer -> narrower integer wraps. */
#include <string.h>

#include "graph.h"
#include "op.h"
#include "convert.h"
#include "op_shape.h"
#include "kernel_math.h"
#include "walk.h"

static const sf_op_attr_desc_t cast_attrs[] = {
    {"dtype", SF_ATTR_DTYPE, NULL, "dtype of the output"},
};

static sf_status_t cast_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                              sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    (void)n_out;
    (void)err;
    out[0] = sf_tensor_make(sf_node_attr_dtype(node, "dtype"), in[0].ndim, in[0].shape);
    return SF_OK;
}

/* One run of len elements. The pairs the Eagle3 step uses on whole logits
 * tensors get tight loops; everything else goes element by element. */
static void cast_run(sf_dtype_t ddt, char *d, int64_t dstep, sf_dtype_t sdt, const char *s,
                     int64_t sstep, int64_t len)
{
    if (ddt == sdt) {
        size_t esize = sf_dtype_size(ddt);
        if (dstep == (int64_t)esize && sstep == (int64_t)esize) {
            memcpy(d, s, (size_t)len * esize);
            return;
        }
        for (int64_t j = 0; j < len; j++, d += dstep, s += sstep)
            memcpy(d, s, esize);
        return;
    }
    if (sdt == SF_DTYPE_BF16 && ddt == SF_DTYPE_F32) {
        for (int64_t j = 0; j < len; j++, d += dstep, s += sstep) {
            uint16_t h;
            memcpy(&h, s, 2);
            float f = sf_bf16_to_f32(h);
            memcpy(d, &f, 4);
        }
        return;
    }
    if (sdt == SF_DTYPE_F32 && ddt == SF_DTYPE_BF16) {
        for (int64_t j = 0; j < len; j++, d += dstep, s += sstep) {
            float f;
            memcpy(&f, s, 4);
            uint16_t h = sf_f32_to_bf16(f);
            memcpy(d, &h, 2);
        }
        return;
    }
    for (int64_t j = 0; j < len; j++, d += dstep, s += sstep)
        sf_km_cast(ddt, d, sdt, s); /* shared with the cuda cast */
}

static sf_status_t cast_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    (void)err;
    const sf_tensor_t *in = &a->in[0];
    const sf_tensor_t *out = &a->out[0];
    if (sf_tensor_numel(in) == 0)
        return SF_OK;
    /* A same-dtype cast whose input the planner put in its output's place
     * (cast_slot) has nothing left to do. */
    if (in->dtype == out->dtype && sf_tensor_data(in) == sf_tensor_data(out) &&
        memcmp(in->strides, out->strides, sizeof(int64_t) * (size_t)in->ndim) == 0)
        return SF_OK;
    const char *s = sf_tensor_data(in);
    char *d = sf_tensor_data(out);
    sf_walk_t w;
    sf_walk_init(&w, in->ndim, in->shape, in->ndim - 1);
    int si = sf_walk_add_tensor(&w, in);
    int di = sf_walk_add_tensor(&w, out);
    while (sf_walk_next(&w))
        cast_run(out->dtype, d + w.off[di], w.stride[di], in->dtype, s + w.off[si], w.stride[si],
                 w.len);
    return SF_OK;
}

/* A cast to the input's own dtype is a copy: its input may be computed
 * straight into the output (so a received bf16 target lands in place).
 * A cast that converts reads one dtype and writes another: no slot. */
static bool cast_slot(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                      const sf_tensor_t *out, int k, int64_t *offset_bytes, int64_t *strides)
{
    (void)node;
    (void)n_in;
    (void)k;
    if (in[0].dtype != out->dtype)
        return false;
    return sf_op_shape_slot_whole(out, offset_bytes, strides);
}

const sf_op_desc_t sf_op_cast = {
    .name = "cast",
    .doc = "convert to `dtype` (round to nearest even; float->int truncates, saturates)",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = cast_attrs,
    .n_attrs = sizeof cast_attrs / sizeof cast_attrs[0],
    .infer = cast_infer,
    .writes_strided = true,
    .input_slot = cast_slot,
    .cpu_kernel = cast_cpu,
};
