/* The cuda device: one GPU per process (LOCAL_RANK modulo the GPUs seen,
 * the rule the NCCL backend uses too), one stream, and a stream-ordered
 * caching allocator (cudaMallocAsync on a pool that keeps what it got from
 * the driver: PyTorch's allocated vs reserved). Kernels are enqueued on the
 * stream; the device syncs only where the host needs results (a download,
 * a collective, the end of a run). The device opens lazily on first use,
 * so a launcher that forks ranks never touches CUDA before the fork. */
#ifndef SF_CUDA_DEVICE_H
#define SF_CUDA_DEVICE_H

#include <stdbool.h>

#include "cuda_launch.h"
#include "op.h"
#include "tensor.h"

/* Register the cuda device (sf_device_by_name("cuda")) when this binary was
 * built with CUDA. Registration touches no GPU; cheap; idempotent. */
void sf_cuda_register(void);

/* Is a usable GPU present? Asks the driver once (no context is created
 * beyond what cudaGetDeviceCount makes). False in a build without CUDA. */
bool sf_cuda_available(void);

/* For kernels: the device's stream (a cudaStream_t) and cuBLAS handle (a
 * cublasHandle_t), opening the device if needed. */
SF_NODISCARD sf_status_t sf_cuda_stream(sf_device_t *dev, void **stream, sf_err_t *err);
SF_NODISCARD sf_status_t sf_cuda_blas(sf_device_t *dev, void **handle, sf_err_t *err);

/* A tensor as a launcher takes it. */
sf_cu_view_t sf_cuda_view(const sf_tensor_t *t);

/* A launcher's return value (a cudaError_t) as our error: SF_ERR_DEVICE
 * naming what was launched and the node. */
SF_NODISCARD sf_status_t sf_cuda_check(int cuda_error, const char *what, const sf_node_t *node,
                                       sf_err_t *err);

/* The scratch the cuda kernels need (a cuBLAS workspace for a product; none
 * for attention, whose tiles live in shared memory); the op's own rule for
 * ops whose cuda kernel packs like the CPU one. Pure: no GPU needed, so a
 * plan for cuda is made anywhere (sf_cuda_plan_device). */
uint64_t sf_cuda_scratch_bytes(const sf_device_t *dev, const sf_op_desc_t *op,
                               const sf_node_t *node, const void *prepared, const sf_tensor_t *in,
                               int n_in, const sf_tensor_t *out, int n_out);

/* Can cuBLAS read t in place: contiguous, or a 2-D view with unit-stride,
 * evenly spaced rows (a column block)? The rule and the kernel both ask. */
bool sf_cuda_blas_reads_in_place(const sf_tensor_t *t);

/* A product's scratch on cuda: the cuBLAS workspace plus contiguous
 * copies of operands cuBLAS cannot read in place. */
uint64_t sf_cuda_matmul_scratch(const sf_tensor_t *in, const sf_tensor_t *out);

/* The cuBLAS workspace a product gets from the tracked allocator: cuBLAS's
 * recommendation for Hopper (32 MiB; 4 MiB would do before sm_90). */
#define SF_CUDA_BLAS_WORKSPACE (UINT64_C(32) << 20)

/* A planning device for cuda: accounts like meta (no memory, no kernels)
 * with the cuda kernels' scratch rules, so `plan --device cuda` equals a
 * cuda run's tracked peak. Available in every build. */
sf_device_t *sf_cuda_plan_device(void);

#endif
