/* matmul on cuda: cublasGemmEx (or its strided-batched form) with f32
 * accumulation, reading bf16/f16/f32 operands in place. cuBLAS is
 * column-major: a row-major (r, c) matrix with row stride ld is the
 * column-major (c, r) matrix with the same ld, so C = A @ B is computed as
 * C^T = B^T @ A^T with A and B swapped and nothing moved. The workspace is
 * the node's tracked scratch (cuda_rules.c), followed by contiguous copies
 * of whatever cuBLAS cannot read in place. */
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <limits.h>

#include "cuda_blas.h"
#include "cuda_kernels.h"
#include "graph.h"

static cudaDataType_t blas_type(sf_dtype_t dt)
{
    return dt == SF_DTYPE_BF16 ? CUDA_R_16BF : dt == SF_DTYPE_F16 ? CUDA_R_16F : CUDA_R_32F;
}

/* A contiguous tensor of t's shape at *cursor in scratch (advanced past it). */
static sf_tensor_t staged(const sf_tensor_t *t, char **cursor, sf_buffer_t *buf)
{
    sf_tensor_t c = sf_tensor_make(t->dtype, t->ndim, t->shape);
    buf->data = *cursor;
    c.buf = buf;
    *cursor += sf_mem_counted_bytes(sf_tensor_nbytes(t));
    return c;
}

static sf_status_t blas_fail(const sf_cublas_t *blas, const sf_node_t *node, cublasStatus_t s,
                             sf_err_t *err)
{
    return sf_err_set(err, SF_ERR_DEVICE, &node->pos, "cuda: node '%s': cuBLAS failed: %s",
                      node->name, blas->status_string(s));
}

sf_status_t sf_cuda_matmul(const sf_kernel_args_t *a, sf_err_t *err)
{
    const sf_node_t *node = a->node;
    sf_tensor_t A = a->in[0], B = a->in[1], C = a->out[0];
    if (sf_tensor_numel(&C) == 0)
        return SF_OK;
    void *stream, *handle;
    const sf_cublas_t *blas;
    sf_status_t st;
    if ((st = sf_cuda_stream(a->dev, &stream, err)) != SF_OK ||
        (st = sf_cuda_blas(a->dev, &handle, err)) != SF_OK || (st = sf_cublas(&blas, err)) != SF_OK)
        return st;
    SF_ASSERT(a->scratch_bytes >= sf_cuda_matmul_scratch(a->in, a->out));
    char *cursor = (char *)a->scratch + SF_CUDA_BLAS_WORKSPACE;
    sf_buffer_t bufs[3];
    sf_tensor_t out_final = C;
    if (!sf_cuda_blas_reads_in_place(&A)) {
        sf_tensor_t c = staged(&A, &cursor, &bufs[0]);
        if ((st = sf_device_copy_tensor(a->dev, &c, &A, err)) != SF_OK)
            return st;
        A = c;
    }
    if (!sf_cuda_blas_reads_in_place(&B)) {
        sf_tensor_t c = staged(&B, &cursor, &bufs[1]);
        if ((st = sf_device_copy_tensor(a->dev, &c, &B, err)) != SF_OK)
            return st;
        B = c;
    }
    if (!sf_tensor_is_contiguous(&C))
        C = staged(&C, &cursor, &bufs[2]);

    bool trans_b = sf_node_attr_bool(node, "transpose_b");
    int64_t k = A.shape[A.ndim - 1];
    int64_t n = C.shape[C.ndim - 1];
    int64_t m = A.ndim == 2 || B.ndim == 2 ? sf_tensor_numel(&A) / (k > 0 ? k : 1)
                                           : A.shape[A.ndim - 2];
    int64_t batch = B.ndim == 2 ? 1 : sf_tensor_numel(&C) / (m * n);
    int64_t lda = A.ndim == 2 ? A.strides[0] : k;
    int64_t ldb = B.ndim == 2 ? B.strides[0] : (trans_b ? k : n);
    /* cuBLAS takes f32 operands only with an f32 result, and int dims. */
    if ((A.dtype == SF_DTYPE_F32 && C.dtype != SF_DTYPE_F32) || m > INT_MAX || n > INT_MAX ||
        k > INT_MAX || lda > INT_MAX || ldb > INT_MAX)
        return sf_err_set(err, SF_ERR_UNSUPPORTED, &node->pos,
                          "cuda: node '%s': matmul of %s operands into %s, M=%lld N=%lld K=%lld: "
                          "cuBLAS takes f32 operands with an f32 result only, and dims below "
                          "2^31",
                          node->name, sf_dtype_name(A.dtype), sf_dtype_name(C.dtype),
                          (long long)m, (long long)n, (long long)k);
    if (k == 0) /* an empty sum: C is zero */
        return sf_device_fill(a->dev, sf_tensor_data(&C), 0, sf_tensor_nbytes(&C), err);
    cublasHandle_t h = handle;
    cublasStatus_t s = blas->set_workspace(h, a->scratch, SF_CUDA_BLAS_WORKSPACE);
    if (s != CUBLAS_STATUS_SUCCESS)
        return blas_fail(blas, node, s, err);
    const float one = 1.0f, zero = 0.0f;
    cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (batch == 1) {
        s = blas->gemm_ex(h, op_b, CUBLAS_OP_N, (int)n, (int)m, (int)k, &one, sf_tensor_data(&B),
                         blas_type(B.dtype), (int)ldb, sf_tensor_data(&A), blas_type(A.dtype),
                         (int)lda, &zero, sf_tensor_data(&C), blas_type(C.dtype), (int)n,
                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    } else {
        s = blas->gemm_strided_batched_ex(h, op_b, CUBLAS_OP_N, (int)n, (int)m, (int)k, &one,
                                       sf_tensor_data(&B), blas_type(B.dtype), (int)ldb, k * n,
                                       sf_tensor_data(&A), blas_type(A.dtype), (int)lda, m * k,
                                       &zero, sf_tensor_data(&C), blas_type(C.dtype), (int)n,
                                       m * n, (int)batch, CUBLAS_COMPUTE_32F,
                                       CUBLAS_GEMM_DEFAULT);
    }
    if (s != CUBLAS_STATUS_SUCCESS)
        return blas_fail(blas, node, s, err);
    if (sf_tensor_data(&C) != sf_tensor_data(&out_final))
        return sf_device_copy_tensor(a->dev, &out_final, &C, err);
    return SF_OK;
}

