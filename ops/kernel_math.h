/* The per-element math of the ops (add/mul, cast, argmax, rmsnorm, rope,
 * swiglu, softmax, attention): small inline functions that the CPU
 * reference kernels and the CUDA kernels (cuda/kernels/) both call, so
 * the CPU tests cover the math a GPU runs. Everything computes in f32;
 * sf_km_round says where a result is rounded to a storage dtype, which is
 * where HF/torch round in bf16. */
#ifndef SF_KERNEL_MATH_H
#define SF_KERNEL_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "convert.h"
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

/* The same fold for one score s (-INFINITY: masked, no change), for a
 * kernel that walks keys one at a time (the cuda attention: one warp per
 * query row). *p is exp(s - m_new), the weight of this key's value row;
 * the result scales the accumulator before p * v is added. Folding a block
 * key by key gives sf_km_softmax_step's (m, l) up to f32 rounding. */
SF_KM_FN float sf_km_softmax_push(float *m, float *l, float s, float *p)
{
    if (s == -INFINITY) {
        *p = 0.0f;
        return 1.0f;
    }
    float m_new = s > *m ? s : *m;
    float factor = expf(*m - m_new); /* exp(-inf) = 0 on the first live key */
    *p = expf(s - m_new);
    *l = *l * factor + *p;
    *m = m_new;
    return factor;
}

/* --- add, mul, cast, argmax: one element ---------------------------------- */

/* o = x + y (or x * y) for one element of dtype dt. Floats compute in f32
 * and round once into dt, as torch does for bf16/f16; integers in wrapping
 * 64-bit arithmetic (unsigned: no signed overflow), keeping the low bytes. */
SF_KM_FN void sf_km_binop(bool is_mul, sf_dtype_t dt, void *o, const void *x, const void *y)
{
    if (sf_dtype_is_float_dev(dt)) {
        float u = (float)sf_dtype_load(dt, x), v = (float)sf_dtype_load(dt, y);
        float r = is_mul ? u * v : u + v;
        sf_dtype_store(dt, o, r);
        return;
    }
    uint64_t u = (uint64_t)sf_convert_load_int(dt, x), v = (uint64_t)sf_convert_load_int(dt, y);
    uint64_t r = is_mul ? u * v : u + v;
    if (dt == SF_DTYPE_I32) {
        uint32_t r32 = (uint32_t)r;
        memcpy(o, &r32, 4);
    } else if (dt == SF_DTYPE_I64) {
        memcpy(o, &r, 8);
    } else {
        *(uint8_t *)o = (uint8_t)r;
    }
}

/* One element of cast: float -> float rounds to nearest even (loading a
 * float dtype into double is exact, so the store is the only rounding);
 * float -> integer truncates and saturates (NaN -> 0); integer -> float
 * goes through f32 as torch does; integer -> narrower integer wraps. */
SF_KM_FN void sf_km_cast(sf_dtype_t ddt, void *d, sf_dtype_t sdt, const void *s)
{
    if (sf_dtype_is_float_dev(sdt)) {
        sf_convert_store(ddt, d, sf_dtype_load(sdt, s));
        return;
    }
    int64_t i = sf_convert_load_int(sdt, s);
    if (sf_dtype_is_float_dev(ddt)) {
        sf_dtype_store(ddt, d, (double)(float)i);
        return;
    }
    switch (ddt) {
    case SF_DTYPE_I32: { int32_t v = (int32_t)(uint32_t)(uint64_t)i; memcpy(d, &v, 4); break; }
    case SF_DTYPE_I64: memcpy(d, &i, 8); break;
    case SF_DTYPE_U8: *(uint8_t *)d = (uint8_t)(uint64_t)i; break;
    default: break;
    }
}

/* Does (v, j) win over (best, best_j) as argmax? torch's rule as a total
 * order, so a sequential scan and a tree reduction agree: a NaN beats any
 * number, then the larger value, and on a tie (two NaNs too) the lower
 * index. */
SF_KM_FN bool sf_km_argmax_better(double v, int64_t j, double best, int64_t best_j)
{
    bool v_nan = v != v, b_nan = best != best;
    if (v_nan || b_nan)
        return v_nan && (!b_nan || j < best_j);
    return v > best || (v == best && j < best_j);
}

#endif
