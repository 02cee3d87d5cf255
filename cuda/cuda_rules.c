/* The cuda kernels' scratch rules, in plain C so a plan for cuda can be
 * made on any machine. Where a cuda kernel works unlike the CPU reference
 * its rule is here; every other op packs or stages like its CPU kernel and
 * keeps the op's own rule. */
#include "cuda_device.h"
#include "lm_head_redistribute.h"
#include "op_ids.h"

/* cuBLAS reads an operand in place when its rows are unit-stride and evenly
 * spaced: contiguous, or a 2-D view with a row stride (a column block).
 * Anything else is first copied into scratch, contiguous. */
bool sf_cuda_blas_reads_in_place(const sf_tensor_t *t)
{
    if (sf_tensor_is_contiguous(t))
        return true;
    return t->ndim == 2 && t->strides[1] == 1 && t->strides[0] >= t->shape[1];
}

/* Bytes a contiguous copy of t takes, at the allocator's alignment so the
 * pieces of one scratch block stay aligned. */
static uint64_t staged_bytes(const sf_tensor_t *t)
{
    return sf_mem_counted_bytes(sf_tensor_nbytes(t));
}

uint64_t sf_cuda_matmul_scratch(const sf_tensor_t *in, const sf_tensor_t *out)
{
    uint64_t bytes = SF_CUDA_BLAS_WORKSPACE;
    for (int k = 0; k < 2; k++)
        if (!sf_cuda_blas_reads_in_place(&in[k]))
            bytes += staged_bytes(&in[k]);
    if (!sf_tensor_is_contiguous(&out[0]))
        bytes += staged_bytes(&out[0]);
    return sf_tensor_numel(&out[0]) == 0 ? 0 : bytes;
}

uint64_t sf_cuda_scratch_bytes(const sf_device_t *dev, const sf_op_desc_t *op,
                               const sf_node_t *node, const void *prepared, const sf_tensor_t *in,
                               int n_in, const sf_tensor_t *out, int n_out)
{
    (void)dev;
    switch (sf_op_id(op)) {
    case SF_OP_ID_matmul:
        return sf_cuda_matmul_scratch(in, out);
    case SF_OP_ID_lm_head_redistribute: /* its block products are cuda matmuls */
        return sf_lhr_scratch_on(dev, prepared, in);
    case SF_OP_ID_attention: /* key/value tiles live in shared memory */
    case SF_OP_ID_softmax:   /* one block per row, its max and sum in registers */
        return 0;
    default:
        return op->scratch_bytes != NULL
                   ? op->scratch_bytes(node, prepared, in, n_in, out, n_out)
                   : 0;
    }
}
