/* Device-side helpers every kernel shares: where element i (row-major
 * linear index over a view's shape) sits, the grid size for n elements, and
 * the launch error as the int cuda_launch.h promises. */
#ifndef SF_CU_VIEW_CUH
#define SF_CU_VIEW_CUH

#include <cuda_runtime.h>

#include "cuda_launch.h"

/* Byte address of the element at linear index i of v's shape. */
static __device__ __forceinline__ char *sf_cu_at(const sf_cu_view_t &v, int64_t i)
{
    int64_t off = 0;
    for (int d = v.ndim - 1; d >= 0; d--) {
        int64_t n = v.shape[d];
        off += (i % n) * v.strides[d];
        i /= n;
    }
    return (char *)v.data + off * (int64_t)sf_dtype_size_dev(v.dtype);
}

static inline int64_t sf_cu_numel(const sf_cu_view_t &v)
{
    int64_t n = 1;
    for (int d = 0; d < v.ndim; d++)
        n *= v.shape[d];
    return n;
}

/* Threads per block for element-wise kernels, and blocks for n elements
 * (grid-stride loops cover what one launch's grid does not). */
enum { SF_CU_THREADS = 256 };
static inline unsigned sf_cu_blocks(int64_t n)
{
    int64_t b = (n + SF_CU_THREADS - 1) / SF_CU_THREADS;
    return (unsigned)(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
}

/* Each element index i < n this thread handles (a grid-stride loop). */
#define SF_CU_EACH(i, n)                                                                       \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n);                  \
         i += (int64_t)gridDim.x * blockDim.x)

static inline int sf_cu_launched(void)
{
    return (int)cudaGetLastError();
}

#endif
