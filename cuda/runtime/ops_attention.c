/* attention on cuda (cuda/kernels/attention.cu): attrs and the optional
 * key_mask as ops/transformer/attention.c reads them. The `block` attr
 * sizes the CPU kernel's tiles; the cuda kernel has its own (results
 * agree to rounding: the online softmax is exact in real arithmetic for
 * any blocking). Shapes the kernel cannot take are refused here with
 * SF_ERR_UNSUPPORTED, since supports() sees attrs but not shapes. */
#include <math.h>

#include "cuda_kernels.h"
#include "graph.h"

sf_status_t sf_cuda_attention(const sf_kernel_args_t *a, sf_err_t *err)
{
    const sf_node_t *node = a->node;
    const sf_tensor_t *q = &a->in[0];
    if (sf_tensor_numel(q) == 0)
        return SF_OK;
    int64_t hd = q->shape[2], seq = sf_node_attr_int(node, "seq");
    int64_t n_seq = q->shape[0] / seq;
    if (hd > SF_CU_ATT_MAX_HEAD_DIM || n_seq > 65535 || q->shape[1] > 65535)
        return sf_err_set(err, SF_ERR_UNSUPPORTED, &node->pos,
                          "cuda: node '%s': attention with head_dim %lld, %lld sequences and "
                          "%lld heads: the cuda kernel takes head_dim <= %d and at most 65535 "
                          "sequences and heads",
                          node->name, (long long)hd, (long long)n_seq, (long long)q->shape[1],
                          SF_CU_ATT_MAX_HEAD_DIM);
    void *stream;
    sf_status_t st = sf_cuda_stream(a->dev, &stream, err);
    if (st != SF_OK)
        return st;
    double scale_attr = sf_node_attr_float(node, "scale");
    sf_cu_attention_t args = {
        .q = sf_cuda_view(q),
        .k = sf_cuda_view(&a->in[1]),
        .v = sf_cuda_view(&a->in[2]),
        .o = sf_cuda_view(&a->out[0]),
        .seq = seq,
        /* The CPU's scale, computed the same way on the host. */
        .scale = scale_attr > 0.0 ? (float)scale_attr : 1.0f / sqrtf((float)hd),
    };
    if (a->n_in == 4)
        args.mask = sf_cuda_view(&a->in[3]);
    return sf_cuda_check(sf_cu_attention(&args, stream), "attention kernel", node, err);
}
