/* Row kernels (rmsnorm, softmax, argmax): one block of SF_CU_THREADS per
 * row, the row's elements split over the threads, partial results combined
 * by a shared-memory tree. A view is first turned so that the reduced dim
 * is last: row r, element j is then linear index r * n + j (sf_cu_at), and
 * rows come in row-major order of the other dims, the CPU walk's order. */
#ifndef SF_CU_ROWS_CUH
#define SF_CU_ROWS_CUH

#include "cu_view.cuh"

/* v with dim moved to the end (the others keep their order). Host side. */
static inline sf_cu_view_t sf_cu_dim_last(sf_cu_view_t v, int dim)
{
    sf_cu_view_t r = v;
    int k = 0;
    for (int d = 0; d < v.ndim; d++) {
        if (d == dim)
            continue;
        r.shape[k] = v.shape[d];
        r.strides[k] = v.strides[d];
        k++;
    }
    r.shape[k] = v.shape[dim];
    r.strides[k] = v.strides[dim];
    return r;
}

/* Blocks for `rows` rows: one each, capped; a kernel loops r += gridDim.x. */
static inline unsigned sf_cu_row_blocks(int64_t rows)
{
    return (unsigned)(rows < 1 ? 1 : rows > 65535 * 8 ? 65535 * 8 : rows);
}

/* Combine every thread's v with op (associative, commutative) over the
 * block; every thread gets the result. sh holds SF_CU_THREADS values and
 * blockDim.x must be SF_CU_THREADS (a power of two). Every thread of the
 * block must call it: it synchronises. */
template <typename T, typename Op>
static __device__ T sf_cu_block_reduce(T v, T *sh, Op op)
{
    unsigned t = threadIdx.x;
    sh[t] = v;
    __syncthreads();
    for (unsigned s = SF_CU_THREADS / 2; s > 0; s >>= 1) {
        if (t < s)
            sh[t] = op(sh[t], sh[t + s]);
        __syncthreads();
    }
    T r = sh[0];
    __syncthreads(); /* sh is free again once everyone has read r */
    return r;
}

#endif
