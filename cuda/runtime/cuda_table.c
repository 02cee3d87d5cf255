/* Which ops the cuda device runs, and with what. Ops without an entry are
 * refused before a run starts ("op 'x' has no kernel for device 'cuda'"). */
#include "cuda_kernels.h"
#include "op_ids.h"

/* Not here: the view ops (reshape, slice, split: no kernel runs) and the
 * fused teacher ops teacher, teacher_vp and teacher_probs (not yet). */
static const sf_cuda_kernel_t table[SF_OP_ID_COUNT] = {
    [SF_OP_ID_add] = {.run = sf_cuda_add},
    [SF_OP_ID_arange] = {.run = sf_cuda_arange},
    [SF_OP_ID_argmax] = {.run = sf_cuda_argmax},
    [SF_OP_ID_attention] = {.run = sf_cuda_attention},
    [SF_OP_ID_capture_concat] = {.run = sf_cuda_agnostic},
    [SF_OP_ID_cast] = {.run = sf_cuda_cast},
    [SF_OP_ID_concat] = {.run = sf_cuda_agnostic},
    [SF_OP_ID_draft_mask] = {.run = sf_cuda_on_host},
    [SF_OP_ID_embedding_vp] = {.run = sf_cuda_embedding_vp},
    [SF_OP_ID_fill] = {.run = sf_cuda_fill},
    /* Device-agnostic: products through the device's matmul, rows through
     * its copies and fills, a device sync before each exchange. */
    [SF_OP_ID_lm_head_redistribute] = {.run = sf_cuda_agnostic},
    [SF_OP_ID_matmul] = {.run = sf_cuda_matmul},
    [SF_OP_ID_mul] = {.run = sf_cuda_mul},
    [SF_OP_ID_pad] = {.run = sf_cuda_pad},
    [SF_OP_ID_random] = {.run = sf_cuda_on_host},
    /* Device-agnostic: it moves data only through sf_device_copy_tensor
     * and the comm (NCCL on device memory), so its CPU kernel is cuda's. */
    [SF_OP_ID_redistribute] = {.run = sf_cuda_agnostic},
    [SF_OP_ID_rmsnorm] = {.run = sf_cuda_rmsnorm},
    [SF_OP_ID_rope] = {.run = sf_cuda_rope},
    [SF_OP_ID_softmax] = {.run = sf_cuda_softmax},
    [SF_OP_ID_swiglu] = {.run = sf_cuda_swiglu},
    [SF_OP_ID_weight] = {.run = sf_cuda_on_host},
};

const sf_cuda_kernel_t *sf_cuda_kernel_for(int op_id)
{
    static const sf_cuda_kernel_t none = {0};
    if (op_id < 0 || op_id >= SF_OP_ID_COUNT)
        return &none;
    return &table[op_id];
}
