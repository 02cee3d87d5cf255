/* fill and arange on cuda (ops/fill.c): the fill value is encoded once on
 * the host with the CPU's store, so every element gets the CPU's bytes. */
#include "convert.h"
#include "cuda_kernels.h"
#include "graph.h"

sf_status_t sf_cuda_fill(const sf_kernel_args_t *a, sf_err_t *err)
{
    const sf_tensor_t *out = &a->out[0];
    unsigned char elem[8] = {0};
    sf_convert_store(out->dtype, elem, sf_node_attr_float(a->node, "value"));
    void *stream;
    sf_status_t st = sf_cuda_stream(a->dev, &stream, err);
    if (st != SF_OK)
        return st;
    return sf_cuda_check(sf_cu_fill(sf_cuda_view(out), elem, stream), "fill kernel", a->node,
                         err);
}

sf_status_t sf_cuda_arange(const sf_kernel_args_t *a, sf_err_t *err)
{
    void *stream;
    sf_status_t st = sf_cuda_stream(a->dev, &stream, err);
    if (st != SF_OK)
        return st;
    int e = sf_cu_arange(sf_cuda_view(&a->out[0]), sf_node_attr_float(a->node, "start"),
                         sf_node_attr_float(a->node, "step"), stream);
    return sf_cuda_check(e, "arange kernel", a->node, err);
}
