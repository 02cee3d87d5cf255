/* add, mul, swiglu and cast on cuda: the tensors and attrs as the CPU
 * kernels read them (ops/elementwise.c, ops/transformer/swiglu.c,
 * ops/cast.c), one launcher each from cuda/kernels/elementwise.cu. */
#include <string.h>

#include "cuda_kernels.h"
#include "graph.h"

static sf_status_t binop(const sf_kernel_args_t *a, int is_mul, sf_err_t *err)
{
    const sf_tensor_t *x = &a->in[0], *y = &a->in[1];
    void *stream;
    sf_status_t st = sf_cuda_stream(a->dev, &stream, err);
    if (st != SF_OK)
        return st;
    /* b over a's shape: stride 0 along the leading dims it repeats over,
     * as the CPU walk adds it. */
    sf_cu_view_t b = sf_cuda_view(x);
    b.data = sf_tensor_data(y);
    b.dtype = (int)y->dtype;
    int lead = x->ndim - y->ndim;
    for (int d = 0; d < x->ndim; d++)
        b.strides[d] = d < lead ? 0 : y->strides[d - lead];
    int e = sf_cu_binop(is_mul, sf_cuda_view(&a->out[0]), sf_cuda_view(x), b, stream);
    return sf_cuda_check(e, is_mul ? "mul kernel" : "add kernel", a->node, err);
}

sf_status_t sf_cuda_add(const sf_kernel_args_t *a, sf_err_t *err)
{
    return binop(a, 0, err);
}

sf_status_t sf_cuda_mul(const sf_kernel_args_t *a, sf_err_t *err)
{
    return binop(a, 1, err);
}

sf_status_t sf_cuda_swiglu(const sf_kernel_args_t *a, sf_err_t *err)
{
    void *stream;
    sf_status_t st = sf_cuda_stream(a->dev, &stream, err);
    if (st != SF_OK)
        return st;
    int e = sf_cu_swiglu(sf_cuda_view(&a->out[0]), sf_cuda_view(&a->in[0]),
                         sf_cuda_view(&a->in[1]), stream);
    return sf_cuda_check(e, "swiglu kernel", a->node, err);
}

sf_status_t sf_cuda_cast(const sf_kernel_args_t *a, sf_err_t *err)
{
    const sf_tensor_t *in = &a->in[0];
    sf_tensor_t *out = &a->out[0];
    /* A same-dtype cast is a copy, skipped when the planner put the input
     * in the output's place (cast_slot), as on the CPU. */
    if (in->dtype == out->dtype)
        return sf_device_copy_tensor(a->dev, out, in, err);
    void *stream;
    sf_status_t st = sf_cuda_stream(a->dev, &stream, err);
    if (st != SF_OK)
        return st;
    return sf_cuda_check(sf_cu_cast(sf_cuda_view(out), sf_cuda_view(in), stream), "cast kernel",
                         a->node, err);
}
