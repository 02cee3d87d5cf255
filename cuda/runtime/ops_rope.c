/* rope on cuda (cuda/kernels/rope.cu): seq and theta as ops/transformer/rope.c reads them. */
#include "cuda_kernels.h"
#include "graph.h"

sf_status_t sf_cuda_rope(const sf_kernel_args_t *a, sf_err_t *err)
{
    void *stream;
    sf_status_t st = sf_cuda_stream(a->dev, &stream, err);
    if (st != SF_OK)
        return st;
    int e = sf_cu_rope(sf_cuda_view(&a->out[0]), sf_cuda_view(&a->in[0]),
                       sf_node_attr_int(a->node, "seq"),
                       (float)sf_node_attr_float(a->node, "theta"), stream);
    return sf_cuda_check(e, "rope kernel", a->node, err);
}
