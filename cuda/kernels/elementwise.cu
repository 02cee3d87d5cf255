/* add, mul, swiglu and cast: one thread per element of the output (grid
 * stride). Views carry any strides; add/mul get b already spread over a's
 * shape (stride 0 where it repeats). The math is kernel_math.h's. */
#include "cu_view.cuh"
#include "kernel_math.h"

static __global__ void binop_kernel(bool is_mul, sf_cu_view_t out, sf_cu_view_t a,
                                    sf_cu_view_t b, int64_t n)
{
    SF_CU_EACH(i, n)
    sf_km_binop(is_mul, (sf_dtype_t)out.dtype, sf_cu_at(out, i), sf_cu_at(a, i), sf_cu_at(b, i));
}

int sf_cu_binop(int is_mul, sf_cu_view_t out, sf_cu_view_t a, sf_cu_view_t b, void *stream)
{
    int64_t n = sf_cu_numel(out);
    if (n == 0)
        return 0;
    binop_kernel<<<sf_cu_blocks(n), SF_CU_THREADS, 0, (cudaStream_t)stream>>>(is_mul != 0, out,
                                                                              a, b, n);
    return sf_cu_launched();
}

static __global__ void swiglu_kernel(sf_cu_view_t out, sf_cu_view_t gate, sf_cu_view_t up,
                                     int64_t n)
{
    sf_dtype_t dt = (sf_dtype_t)gate.dtype;
    SF_CU_EACH(i, n)
    {
        float g = sf_km_load(dt, sf_cu_at(gate, i)), u = sf_km_load(dt, sf_cu_at(up, i));
        sf_km_store((sf_dtype_t)out.dtype, sf_cu_at(out, i), sf_km_swiglu(g, u, dt));
    }
}

int sf_cu_swiglu(sf_cu_view_t out, sf_cu_view_t gate, sf_cu_view_t up, void *stream)
{
    int64_t n = sf_cu_numel(out);
    if (n == 0)
        return 0;
    swiglu_kernel<<<sf_cu_blocks(n), SF_CU_THREADS, 0, (cudaStream_t)stream>>>(out, gate, up, n);
    return sf_cu_launched();
}

static __global__ void cast_kernel(sf_cu_view_t out, sf_cu_view_t in, int64_t n)
{
    SF_CU_EACH(i, n)
    sf_km_cast((sf_dtype_t)out.dtype, sf_cu_at(out, i), (sf_dtype_t)in.dtype, sf_cu_at(in, i));
}

int sf_cu_cast(sf_cu_view_t out, sf_cu_view_t in, void *stream)
{
    int64_t n = sf_cu_numel(out);
    if (n == 0)
        return 0;
    /* A same-dtype cast is a copy (sf_km_cast would also give the bytes
     * back unchanged, but the plain copy needs no conversion). */
    if (out.dtype == in.dtype)
        return sf_cu_copy(out, in, stream);
    cast_kernel<<<sf_cu_blocks(n), SF_CU_THREADS, 0, (cudaStream_t)stream>>>(out, in, n);
    return sf_cu_launched();
}
