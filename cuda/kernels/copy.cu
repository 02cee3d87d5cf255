/* The strided, converting copy: one thread per element of dst. */
#include "cu_view.cuh"

static __global__ void copy_kernel(sf_cu_view_t dst, sf_cu_view_t src, int64_t n)
{
    bool same = dst.dtype == src.dtype;
    size_t es = sf_dtype_size_dev(dst.dtype);
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        char *d = sf_cu_at(dst, i);
        const char *s = sf_cu_at(src, i);
        if (same) {
            for (size_t b = 0; b < es; b++)
                d[b] = s[b];
        } else {
            sf_dtype_store((sf_dtype_t)dst.dtype, d, sf_dtype_load((sf_dtype_t)src.dtype, s));
        }
    }
}

int sf_cu_copy(sf_cu_view_t dst, sf_cu_view_t src, void *stream)
{
    int64_t n = sf_cu_numel(dst);
    if (n == 0)
        return 0;
    copy_kernel<<<sf_cu_blocks(n), SF_CU_THREADS, 0, (cudaStream_t)stream>>>(dst, src, n);
    return sf_cu_launched();
}
