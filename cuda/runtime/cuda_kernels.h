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

/* The adapters, one per op (cuda_matmul.c, ops_<family>.c). */
sf_status_t sf_cuda_matmul(const sf_kernel_args_t *a, sf_err_t *err);
sf_status_t sf_cuda_add(const sf_kernel_args_t *a, sf_err_t *err);
sf_status_t sf_cuda_mul(const sf_kernel_args_t *a, sf_err_t *err);
sf_status_t sf_cuda_swiglu(const sf_kernel_args_t *a, sf_err_t *err);
sf_status_t sf_cuda_cast(const sf_kernel_args_t *a, sf_err_t *err);
sf_status_t sf_cuda_fill(const sf_kernel_args_t *a, sf_err_t *err);
sf_status_t sf_cuda_arange(const sf_kernel_args_t *a, sf_err_t *err);
sf_status_t sf_cuda_pad(const sf_kernel_args_t *a, sf_err_t *err);
sf_status_t sf_cuda_rmsnorm(const sf_kernel_args_t *a, sf_err_t *err);
sf_status_t sf_cuda_softmax(const sf_kernel_args_t *a, sf_err_t *err);
sf_status_t sf_cuda_argmax(const sf_kernel_args_t *a, sf_err_t *err);
sf_status_t sf_cuda_rope(const sf_kernel_args_t *a, sf_err_t *err);
sf_status_t sf_cuda_attention(const sf_kernel_args_t *a, sf_err_t *err);
sf_status_t sf_cuda_embedding_vp(const sf_kernel_args_t *a, sf_err_t *err);
/* Run the op's CPU kernel on the host (the inputs downloaded, the outputs
 * uploaded): ops whose values the host makes by definition (weight,
 * random, draft_mask), bit for bit the CPU's. */
sf_status_t sf_cuda_on_host(const sf_kernel_args_t *a, sf_err_t *err);
/* Run the op's CPU kernel as it is: it moves data only through the device
 * (sf_device_copy_tensor) and the comm (concat, capture_concat,
 * redistribute). */
sf_status_t sf_cuda_agnostic(const sf_kernel_args_t *a, sf_err_t *err);

/* A host copy of device tensor t: *host has t's shape and strides at
 * offset 0 of *buf, whose data (owned by the caller: free() it, also on
 * error) spans t's elements; downloaded when is_download, else left
 * unset. Blocks. */
SF_NODISCARD sf_status_t sf_cuda_host_stage(sf_device_t *dev, const sf_tensor_t *t,
                                            bool is_download, sf_tensor_t *host,
                                            sf_buffer_t *buf, sf_err_t *err);

#endif
