/* rope: one thread per rotated pair (token t, head h, i < head_dim / 2),
 * the angle and the rotation from kernel_math.h as on the CPU. cosf, sinf
 * and powf are CUDA's (within 2 ulp of the host's), so an f32 result can
 * differ from the CPU's in its last bits; a bf16 one rarely by one ulp. */
#include "cu_view.cuh"
#include "kernel_math.h"

/* Address of element (t, h, d) of a (T, heads, hd) view. */
static __device__ __forceinline__ char *at3(const sf_cu_view_t &v, int64_t t, int64_t h, int64_t d)
{
    return (char *)v.data +
           (t * v.strides[0] + h * v.strides[1] + d * v.strides[2]) *
               (int64_t)sf_dtype_size_dev(v.dtype);
}

static __global__ void rope_kernel(sf_cu_view_t y, sf_cu_view_t x, int64_t seq, float theta,
                                   int64_t n)
{
    int64_t heads = x.shape[1], hd = x.shape[2], half = hd / 2;
    sf_dtype_t xdt = (sf_dtype_t)x.dtype, ydt = (sf_dtype_t)y.dtype;
    SF_CU_EACH(k, n)
    {
        int64_t i = k % half, h = (k / half) % heads, t = k / (half * heads);
        float pos = (float)(t % seq);
        float ang = pos * sf_km_rope_inv_freq(theta, i, hd);
        float c = cosf(ang), s = sinf(ang);
        float x0 = sf_km_load(xdt, at3(x, t, h, i));
        float x1 = sf_km_load(xdt, at3(x, t, h, i + half));
        float y0, y1;
        sf_km_rope_pair(x0, x1, c, s, &y0, &y1);
        sf_km_store(ydt, at3(y, t, h, i), y0);
        sf_km_store(ydt, at3(y, t, h, i + half), y1);
    }
}

int sf_cu_rope(sf_cu_view_t y, sf_cu_view_t x, int64_t seq, float theta, void *stream)
{
    int64_t n = x.shape[0] * x.shape[1] * (x.shape[2] / 2);
    if (n == 0)
        return 0;
    rope_kernel<<<sf_cu_blocks(n), SF_CU_THREADS, 0, (cudaStream_t)stream>>>(y, x, seq, theta, n);
    return sf_cu_launched();
}
