/* pad on cuda (ops/pad.c): the kept window is copied through the device
 * (skipped when the planner computed the input in place, pad_slot), then
 * the places shifted in are filled with the value encoded on the host.
 * Same clamping and windows as the CPU kernel, in the same order. */
#include "convert.h"
#include "cuda_kernels.h"
#include "graph.h"

/* The window [lo, hi) of t along dim, as a view (always in range here). */
static sf_tensor_t window(const sf_tensor_t *t, int dim, int64_t lo, int64_t hi)
{
    sf_tensor_t v;
    sf_err_t err = {0};
    SF_ASSERT(sf_tensor_view_slice(t, dim, lo, hi, 1, &v, &err) == SF_OK);
    return v;
}

sf_status_t sf_cuda_pad(const sf_kernel_args_t *a, sf_err_t *err)
{
    const sf_tensor_t *in = &a->in[0], *out = &a->out[0];
    int dim = (int)sf_node_attr_int(a->node, "dim");
    if (dim < 0)
        dim += in->ndim;
    int64_t shift = sf_node_attr_int(a->node, "shift");
    int64_t n = in->shape[dim];
    shift = shift > n ? n : shift < -n ? -n : shift;
    int64_t keep_lo = shift > 0 ? shift : 0;
    int64_t keep_hi = shift < 0 ? n + shift : n;
    sf_tensor_t dst = window(out, dim, keep_lo, keep_hi);
    sf_tensor_t src = window(in, dim, keep_lo - shift, keep_hi - shift);
    sf_status_t st = sf_device_copy_tensor(a->dev, &dst, &src, err);
    void *stream;
    if (st != SF_OK || (st = sf_cuda_stream(a->dev, &stream, err)) != SF_OK)
        return st;
    unsigned char elem[8] = {0};
    sf_convert_store(out->dtype, elem, sf_node_attr_float(a->node, "value"));
    sf_tensor_t head = window(out, dim, 0, keep_lo), tail = window(out, dim, keep_hi, n);
    int e = sf_cu_fill(sf_cuda_view(&head), elem, stream);
    if (e == 0)
        e = sf_cu_fill(sf_cuda_view(&tail), elem, stream);
    return sf_cuda_check(e, "pad fill kernel", a->node, err);
}
