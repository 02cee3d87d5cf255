/* The per-element math of the transformer ops (rmsnorm, rope, swiglu,
 * attention): small inline functions that the CPU reference kernels call
 * today and CUDA kernels will include, so the CPU tests cover the math a
 * GPU runs. Everything computes in f32; sf_km_round says where a result is
 * rounded to a storage dtype, which is where HF/torch round in bf16. */
#ifndef SF_KERNEL_MATH_H
#define SF_KERNEL_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dtype.h"

#define SF_KM_FN static inline SF_HOSTDEV

/* Load one float element (f32, bf16, f16) as f32. */
SF_KM_FN float sf_km_load(sf_dtype_t dt, const void *p)
{
    uint16_t h;
    float f;
    switch (dt) {
    case SF_DTYPE_BF16: memcpy(&h, p, 2); return sf_bf16_to_f32(h);
    case SF_DTYPE_F16: memcpy(&h, p, 2); return sf_f16_to_f32(h);
    default: memcpy(&f, p, 4); return f;
    }
}

/* Store v with the dtype's rounding (round to nearest even). */
SF_KM_FN void sf_km_store(sf_dtype_t dt, void *p, float v)
{
    uint16_t h;
    switch (dt) {
    case SF_DTYPE_BF16: h = sf_f32_to_bf16(v); memcpy(p, &h, 2); break;
    case SF_DTYPE_F16: h = sf_f32_to_f16(v); memcpy(p, &h, 2); break;
    default: memcpy(p, &v, 4); break;
    }
}

/* v as the dtype would hold it, back in f32: an intermediate torch keeps
 * in a bf16 tensor passes through here. Identity for f32. */
SF_KM_FN float sf_km_round(sf_dtype_t dt, float v)
{
    switch (dt) {
    case SF_DTYPE_BF16: return sf_bf16_to_f32(sf_f32_to_bf16(v));
    case SF_DTYPE_F16: return sf_f16_to_f32(sf_f32_to_f16(v));
    default: return v;
    }
}

/* --- RMSNorm (HF LlamaRMSNorm / Qwen3RMSNorm) ---------------------------- */

/* The factor rsqrt(mean(x^2) + eps) from the f32 sum of squares of n values. */
SF_KM_FN float sf_km_rms_inv(float sum_sq, int64_t n, float eps)
{
    return 1.0f / sqrtf(sum_sq / (float)n + eps);
}

/* One normalised element: weight * round(x * inv). HF casts the normalised
 * f32 row back to the input dtype before the weight multiply, and the
 * product (computed in f32) is rounded once more by the caller's store. */
SF_KM_FN float sf_km_rms_apply(float x, float inv, float weight, sf_dtype_t x_dtype)
{
    return weight * sf_km_round(x_dtype, x * inv);
}

/* --- RoPE, rotate_half convention (HF, non-interleaved) ------------------ */

/* inv_freq[i] = theta^(-2i/hd), computed in f32 as HF's
 * 1.0 / (base ** (arange(0, hd, 2).float() / hd)). */
SF_KM_FN float sf_km_rope_inv_freq(float theta, int64_t i, int64_t head_dim)
{
    return 1.0f / powf(theta, (float)(2 * i) / (float)head_dim);
}

/* Rotate the pair (x[i], x[i + hd/2]) by the angle whose cos/sin are c, s:
 * out[i] = x0 c - x1 s, out[i + hd/2] = x1 c + x0 s. */
SF_KM_FN void sf_km_rope_pair(float x0, float x1, float c, float s, float *y0, float *y1)
{
    *y0 = x0 * c - x1 * s;
    *y1 = x1 * c + x0 * s;
}

/* --- SwiGLU (HF act_fn(gate) * up with act_fn = SiLU) -------------------- */

SF_KM_FN float sf_km_silu(float x)
{
    return x / (1.0f + expf(-x));
}

/* torch evaluates silu(gate) in f32 and stores it in gate's dtype, then
 * multiplies by up in f32 and rounds again (the caller's store). */
SF_KM_FN float sf_km_swiglu(float gate, float up, sf_dtype_t dt)
{
    return sf_km_round(dt, sf_km_silu(gate)) * up;
}

/* --- Online softmax (flash-attention style) ------------------------------ */

/* Fold one block of n scores into a row's running max *m and running sum
 * *l. A masked score is -INFINITY. On return s[j] holds exp(s[j] - m_new)
 * (0 for masked), and the result is the factor the row's accumulator must
 * be scaled by before the block's p @ V is added. While every score so far
 * is masked the row stays (m = -inf, l = 0) and the factor is 1, so no
 * inf - inf NaN appears. */
SF_KM_FN float sf_km_softmax_step(float *m, float *l, float *s, int64_t n)
{
    float m_blk = -INFINITY;
    for (int64_t j = 0; j < n; j++)
        m_blk = s[j] > m_blk ? s[j] : m_blk;
    float m_new = m_blk > *m ? m_blk : *m;
    if (m_new == -INFINITY) {
        for (int64_t j = 0; j < n; j++)
            s[j] = 0.0f;
        return 1.0f;
    }
    float factor = expf(*m - m_new); /* exp(-inf) = 0 on the first live block */
    float sum = 0.0f;
    for (int64_t j = 0; j < n; j++) {
        s[j] = expf(s[j] - m_new);
        sum += s[j];
    }
    *l = *l * factor + sum;
    *m = m_new;
    return factor;
}

#endif
