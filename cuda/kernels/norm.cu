/* rmsnorm: one block per row of x's last dim. Pass 1 sums squares in f32
 * (a tree over the threads' partial sums, where the CPU adds in order: the
 * results agree to f32 rounding of the sum); pass 2 applies the shared
 * per-element rule (sf_km_rms_inv, sf_km_rms_apply). */
#include "cu_rows.cuh"
#include "kernel_math.h"

struct sum_op {
    __device__ float operator()(float a, float b) const { return a + b; }
};

static __global__ void rmsnorm_kernel(sf_cu_view_t y, sf_cu_view_t x, sf_cu_view_t w, float eps,
                                      int64_t rows, int64_t d)
{
    __shared__ float sh[SF_CU_THREADS];
    sf_dtype_t xdt = (sf_dtype_t)x.dtype, wdt = (sf_dtype_t)w.dtype, ydt = (sf_dtype_t)y.dtype;
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        float part = 0.0f;
        for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
            float v = sf_km_load(xdt, sf_cu_at(x, r * d + j));
            part += v * v;
        }
        float inv = sf_km_rms_inv(sf_cu_block_reduce(part, sh, sum_op()), d, eps);
        for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
            float v = sf_km_load(xdt, sf_cu_at(x, r * d + j));
            float wv = sf_km_load(wdt, sf_cu_at(w, j));
            sf_km_store(ydt, sf_cu_at(y, r * d + j), sf_km_rms_apply(v, inv, wv, xdt));
        }
    }
}

int sf_cu_rmsnorm(sf_cu_view_t y, sf_cu_view_t x, sf_cu_view_t w, float eps, void *stream)
{
    int64_t n = sf_cu_numel(x);
    int64_t d = x.shape[x.ndim - 1];
    if (n == 0)
        return 0;
    int64_t rows = n / d;
    rmsnorm_kernel<<<sf_cu_row_blocks(rows), SF_CU_THREADS, 0, (cudaStream_t)stream>>>(
        y, x, w, eps, rows, d);
    return sf_cu_launched();
}
