/* embedding_vp on cuda (cuda/kernels/embedding.cu). The ids are read on
 * the host first (T integers, small next to the T x H rows) and checked by
 * the CPU kernel's own check, so a bad id is the same SF_ERR_INPUT on both
 * devices; the gather then runs on the GPU. */
#include <stdlib.h>

#include "cuda_kernels.h"
#include "embedding_vp.h"
#include "graph.h"

sf_status_t sf_cuda_embedding_vp(const sf_kernel_args_t *a, sf_err_t *err)
{
    const sf_node_t *node = a->node;
    sf_tensor_t ids;
    sf_buffer_t ids_buf;
    sf_status_t st = sf_cuda_host_stage(a->dev, &a->in[0], true, &ids, &ids_buf, err);
    if (st == SF_OK)
        st = sf_embedding_vp_check_ids(node, &ids, sf_node_attr_int(node, "vocab"), err);
    free(ids_buf.data);
    void *stream;
    if (st != SF_OK || (st = sf_cuda_stream(a->dev, &stream, err)) != SF_OK)
        return st;
    int e = sf_cu_embedding(sf_cuda_view(&a->out[0]), sf_cuda_view(&a->in[0]),
                            sf_cuda_view(&a->in[1]), sf_node_attr_int(node, "vocab_start"),
                            stream);
    return sf_cuda_check(e, "embedding kernel", node, err);
}
