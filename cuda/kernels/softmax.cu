/* softmax over one dim: one block per line. Max, then the sum of
 * exp(x - max), each a block reduction in f32, then every element divided
 * once and stored in the output dtype, as the CPU kernel does. A line of
 * all -inf gives NaN (exp(-inf - -inf)), as on the CPU and in torch. */
#include "cu_rows.cuh"
#include "kernel_math.h"

struct max_op {
    __device__ float operator()(float a, float b) const { return b > a ? b : a; }
};
struct add_op {
    __device__ float operator()(float a, float b) const { return a + b; }
};

static __global__ void softmax_kernel(sf_cu_view_t y, sf_cu_view_t x, int64_t rows, int64_t n)
{
    __shared__ float sh[SF_CU_THREADS];
    sf_dtype_t xdt = (sf_dtype_t)x.dtype, ydt = (sf_dtype_t)y.dtype;
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        float mx = -INFINITY;
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
            float v = sf_km_load(xdt, sf_cu_at(x, r * n + j));
            mx = v > mx ? v : mx;
        }
        mx = sf_cu_block_reduce(mx, sh, max_op());
        float part = 0.0f;
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
            part += expf(sf_km_load(xdt, sf_cu_at(x, r * n + j)) - mx);
        float sum = sf_cu_block_reduce(part, sh, add_op());
        /* exp is evaluated again rather than kept: no scratch (cuda_rules.c). */
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
            sf_km_store(ydt, sf_cu_at(y, r * n + j),
                        expf(sf_km_load(xdt, sf_cu_at(x, r * n + j)) - mx) / sum);
    }
}

int sf_cu_softmax(sf_cu_view_t y, sf_cu_view_t x, int dim, void *stream)
{
    int64_t total = sf_cu_numel(x);
    int64_t n = x.shape[dim];
    if (total == 0)
        return 0;
    int64_t rows = total / n;
    softmax_kernel<<<sf_cu_row_blocks(rows), SF_CU_THREADS, 0, (cudaStream_t)stream>>>(
        sf_cu_dim_last(y, dim), sf_cu_dim_last(x, dim), rows, n);
    return sf_cu_launched();
}
