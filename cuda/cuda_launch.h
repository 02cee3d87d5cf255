/* What the .cu files export to the C side: plain launchers, one per kernel
 * family, taking device pointers as strided views and a stream. This header
 * is read by both the C compiler and nvcc (C++), so it holds only plain
 * structs and extern "C" declarations. A launcher enqueues its work on the
 * stream and returns the CUDA error code of the launch (0: cudaSuccess) as
 * an int, so no CUDA type crosses into C; cuda/runtime turns it into an
 * sf_err_t. The .cu files only map threads to elements: the math is in
 * ops/kernel_math.h and core/dtype.h, shared with the CPU kernels. */
#ifndef SF_CUDA_LAUNCH_H
#define SF_CUDA_LAUNCH_H

#include <stdint.h>

#include "dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A tensor as a kernel sees it: element 0's device address, its dtype and
 * its strided layout (strides in elements, as sf_tensor_t). */
typedef struct sf_cu_view {
    void *data;
    int dtype; /* sf_dtype_t */
    int ndim;
    int64_t shape[SF_MAX_DIMS];
    int64_t strides[SF_MAX_DIMS];
} sf_cu_view_t;

/* dst[i] = src[i] for every multi-index i of dst's shape (src has the same
 * shape), converting dtypes with the CPU copy's rules: the strided copy
 * behind concat, slice/split copies, pad's body, cast and the device's
 * copy_tensor. */
int sf_cu_copy(sf_cu_view_t dst, sf_cu_view_t src, void *stream);

#ifdef __cplusplus
}
#endif

#endif
