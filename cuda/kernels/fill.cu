/* fill and arange: sources, one thread per output element. fill writes an
 * element the host already encoded (sf_convert_store of the value), so its
 * bytes are the CPU's by construction; arange encodes start + i * step on
 * the device with the same store (kernel_math.h pulls in convert.h). */
#include "cu_view.cuh"
#include "kernel_math.h"

static __global__ void fill_kernel(sf_cu_view_t out, uint64_t elem, int64_t n)
{
    size_t es = sf_dtype_size_dev(out.dtype);
    SF_CU_EACH(i, n)
    memcpy(sf_cu_at(out, i), &elem, es); /* little-endian: the low es bytes */
}

int sf_cu_fill(sf_cu_view_t out, const void *elem, void *stream)
{
    int64_t n = sf_cu_numel(out);
    if (n == 0)
        return 0;
    uint64_t bits = 0;
    memcpy(&bits, elem, sf_dtype_size_dev(out.dtype));
    fill_kernel<<<sf_cu_blocks(n), SF_CU_THREADS, 0, (cudaStream_t)stream>>>(out, bits, n);
    return sf_cu_launched();
}

static __global__ void arange_kernel(sf_cu_view_t out, double start, double step, int64_t n)
{
    SF_CU_EACH(i, n)
    {
        /* Two roundings, as on the host: the build passes --fmad=false so
         * nvcc does not fuse this into one fma. */
        double v = start + (double)i * step;
        sf_convert_store((sf_dtype_t)out.dtype, sf_cu_at(out, i), v);
    }
}

int sf_cu_arange(sf_cu_view_t out, double start, double step, void *stream)
{
    int64_t n = sf_cu_numel(out);
    if (n == 0)
        return 0;
    arange_kernel<<<sf_cu_blocks(n), SF_CU_THREADS, 0, (cudaStream_t)stream>>>(out, start, step,
                                                                                n);
    return sf_cu_launched();
}
