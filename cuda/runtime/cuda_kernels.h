/* The cuda device's kernel table: one entry per op id (ops/op_ids.h) that
 * has a cuda kernel. An adapter (cuda/runtime/ops_*.c) reads the node's
 * tensors and attrs, as the CPU kernel does, and calls a launcher from
 * cuda_launch.h on the device's stream. */
#ifndef SF_CUDA_KERNELS_H
#define SF_CUDA_KERNELS_H

#include "cuda_device.h"

typedef struct sf_cuda_kernel {
    sf_kernel_fn run; /* NULL: no cuda kernel for this op */
    /* (optional) Does the kernel take this node (dtypes, layouts)? node is
     * never NULL here. NULL: every node the op's shape rule accepts. */
    bool (*supports)(const sf_node_t *node);
} sf_cuda_kernel_t;

/* The entry for an op id (SF_OP_ID_NONE and out-of-range ids: no kernel). */
const sf_cuda_kernel_t *sf_cuda_kernel_for(int op_id);

/* The adapters, one per op. */
sf_status_t sf_cuda_matmul(const sf_kernel_args_t *a, sf_err_t *err);

#endif
