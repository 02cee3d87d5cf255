/* cuBLAS, loaded when the cuda device opens rather than linked: mapping
 * libcublas and libcublasLt costs every process about 200 MB of resident
 * memory at start-up (measured: `shardflow --version` 222 MB linked), which
 * a CPU run, each of its ranks, and the launcher must not pay. The entry
 * points are typed from cublas_v2.h itself (__typeof__), so a mismatch
 * with the header is a compile error, as with a link. */
#ifndef SF_CUDA_BLAS_H
#define SF_CUDA_BLAS_H

#include <cublas_v2.h>

#include "status.h"

typedef struct sf_cublas {
    __typeof__(cublasCreate_v2) *create;
    __typeof__(cublasSetStream_v2) *set_stream;
    __typeof__(cublasSetWorkspace_v2) *set_workspace;
    __typeof__(cublasGemmEx) *gemm_ex;
    __typeof__(cublasGemmStridedBatchedEx) *gemm_strided_batched_ex;
    __typeof__(cublasGetStatusString) *status_string;
} sf_cublas_t;

/* The table, loading libcublas.so.<major of the headers> on first call.
 * SF_ERR_DEVICE naming the library and dlerror() when it cannot. */
SF_NODISCARD sf_status_t sf_cublas(const sf_cublas_t **out, sf_err_t *err);

#endif
