/* Which ops the cuda device runs, and with what. Ops without an entry are
 * refused before a run starts ("op 'x' has no kernel for device 'cuda'"). */
#include "cuda_kernels.h"
#include "op_ids.h"

static const sf_cuda_kernel_t table[SF_OP_ID_COUNT] = {
    [SF_OP_ID_matmul] = {.run = sf_cuda_matmul},
};

const sf_cuda_kernel_t *sf_cuda_kernel_for(int op_id)
{
    static const sf_cuda_kernel_t none = {0};
    if (op_id < 0 || op_id >= SF_OP_ID_COUNT)
        return &none;
    return &table[op_id];
}
