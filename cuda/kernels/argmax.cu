/* argmax over one dim: one block per line, each thread the best of its
 * strided share, then a tree over (value, index) pairs with the shared
 * order sf_km_argmax_better (NaN first, then larger, ties to the lower
 * index), which is a total order: any tree gives the sequential scan's
 * answer. Values compare in double, as the CPU loads them. */
#include "cu_rows.cuh"
#include "kernel_math.h"

struct best_t {
    double v;
    int64_t j;
};

struct better_op {
    __device__ best_t operator()(best_t a, best_t b) const
    {
        return sf_km_argmax_better(b.v, b.j, a.v, a.j) ? b : a;
    }
};

static __global__ void argmax_kernel(int64_t *out, sf_cu_view_t x, int64_t rows, int64_t n)
{
    __shared__ best_t sh[SF_CU_THREADS];
    sf_dtype_t dt = (sf_dtype_t)x.dtype;
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        /* A thread with no element holds index n: it loses to any real one. */
        best_t b = {-INFINITY, n};
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
            double v = sf_dtype_load(dt, sf_cu_at(x, r * n + j));
            if (b.j == n || sf_km_argmax_better(v, j, b.v, b.j))
                b = best_t{v, j};
        }
        b = sf_cu_block_reduce(b, sh, better_op());
        if (threadIdx.x == 0)
            out[r] = b.j;
    }
}

int sf_cu_argmax(int64_t *out, sf_cu_view_t x, int dim, void *stream)
{
    int64_t total = sf_cu_numel(x);
    int64_t n = x.shape[dim];
    if (total == 0)
        return 0;
    int64_t rows = total / n;
    argmax_kernel<<<sf_cu_row_blocks(rows), SF_CU_THREADS, 0, (cudaStream_t)stream>>>(
        out, sf_cu_dim_last(x, dim), rows, n);
    return sf_cu_launched();
}
