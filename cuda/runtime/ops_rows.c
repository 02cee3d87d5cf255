/* The row ops on cuda, one block per row (cuda/kernels/norm.cu,
 * softmax.cu, argmax.cu): rmsnorm over the last dim, softmax and argmax
 * over `dim`, attrs read as the CPU kernels read them. */
#include "cuda_kernels.h"
#include "graph.h"

/* The node's `dim` attr for a tensor of ndim dims, negatives from the end. */
static int node_dim(const sf_node_t *node, int ndim)
{
    int dim = (int)sf_node_attr_int(node, "dim");
    return dim < 0 ? dim + ndim : dim;
}

sf_status_t sf_cuda_rmsnorm(const sf_kernel_args_t *a, sf_err_t *err)
{
    void *stream;
    sf_status_t st = sf_cuda_stream(a->dev, &stream, err);
    if (st != SF_OK)
        return st;
    int e = sf_cu_rmsnorm(sf_cuda_view(&a->out[0]), sf_cuda_view(&a->in[0]),
                          sf_cuda_view(&a->in[1]), (float)sf_node_attr_float(a->node, "eps"),
                          stream);
    return sf_cuda_check(e, "rmsnorm kernel", a->node, err);
}

sf_status_t sf_cuda_softmax(const sf_kernel_args_t *a, sf_err_t *err)
{
    void *stream;
    sf_status_t st = sf_cuda_stream(a->dev, &stream, err);
    if (st != SF_OK)
        return st;
    int e = sf_cu_softmax(sf_cuda_view(&a->out[0]), sf_cuda_view(&a->in[0]),
                          node_dim(a->node, a->in[0].ndim), stream);
    return sf_cuda_check(e, "softmax kernel", a->node, err);
}

sf_status_t sf_cuda_argmax(const sf_kernel_args_t *a, sf_err_t *err)
{
    void *stream;
    sf_status_t st = sf_cuda_stream(a->dev, &stream, err);
    if (st != SF_OK)
        return st;
    /* The output is fresh and contiguous (argmax writes no strided slot). */
    int e = sf_cu_argmax(sf_tensor_data(&a->out[0]), sf_cuda_view(&a->in[0]),
                         node_dim(a->node, a->in[0].ndim), stream);
    return sf_cuda_check(e, "argmax kernel", a->node, err);
}
