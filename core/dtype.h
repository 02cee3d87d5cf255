/* Element types and the per-element conversions every kernel shares.
 * The inline converters are the single definition of bf16/f16 rounding:
 * CPU kernels call them today, CUDA kernels will include the same header. */
#ifndef SF_DTYPE_H
#define SF_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SF_MAX_DIMS 8

/* The converters below are the single definition of bf16/f16 rounding for
 * host and device code alike: under nvcc they compile for both. */
#ifdef __CUDACC__
#define SF_HOSTDEV __host__ __device__
#else
#define SF_HOSTDEV
#endif

typedef enum sf_dtype {
    SF_DTYPE_F32 = 0,
    SF_DTYPE_BF16,
    SF_DTYPE_F16,
    SF_DTYPE_I32,
    SF_DTYPE_I64,
    SF_DTYPE_U8, /* also the bool type: 0 or 1 */
    SF_DTYPE_COUNT,
} sf_dtype_t;

size_t sf_dtype_size(sf_dtype_t dt);
/* The same, inline, for device code (dtype.c's table is host memory). */
static inline SF_HOSTDEV size_t sf_dtype_size_dev(int dt)
{
    return dt == SF_DTYPE_BF16 || dt == SF_DTYPE_F16 ? 2
           : dt == SF_DTYPE_I64                    ? 8
           : dt == SF_DTYPE_U8                     ? 1
                                                   : 4;
}
const char *sf_dtype_name(sf_dtype_t dt); /* "f32", "bf16", ... */
/* Parse our names ("f32") and the usual aliases ("float32", "bfloat16",
 * "bool"). Returns false for anything else. */
bool sf_dtype_parse(const char *s, sf_dtype_t *out);
bool sf_dtype_is_float(sf_dtype_t dt);
/* The same, inline, for device code. */
static inline SF_HOSTDEV bool sf_dtype_is_float_dev(int dt)
{
    return dt == SF_DTYPE_F32 || dt == SF_DTYPE_BF16 || dt == SF_DTYPE_F16;
}

/* safetensors spells dtypes "F32", "BF16", "F16", "I32", "I64", "U8", "BOOL". */
const char *sf_dtype_st_name(sf_dtype_t dt);
bool sf_dtype_from_st_name(const char *s, sf_dtype_t *out);

static inline SF_HOSTDEV float sf_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Round to nearest even, as torch does; NaN stays NaN (quiet). */
static inline SF_HOSTDEV uint16_t sf_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u);
    uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)((u + rounding) >> 16);
}

static inline SF_HOSTDEV float sf_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while ((man & 0x400u) == 0) {
                man <<= 1;
                exp--;
            }
            man &= 0x3ffu;
            u = sign | (exp << 23) | (man << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Round to nearest even, with overflow to infinity and gradual underflow. */
static inline SF_HOSTDEV uint16_t sf_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t absu = u & 0x7fffffffu;
    if (absu > 0x7f800000u)
        return (uint16_t)(sign | 0x7e00u);
    if (absu >= 0x477ff000u) /* rounds to >= 65520: infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (absu < 0x38800000u) { /* below the smallest normal f16 */
        if (absu < 0x33000000u)
            return (uint16_t)sign;
        /* The f16 subnormal is round(x * 2^24) = round(m * 2^(e-126)). */
        uint32_t e = absu >> 23;
        uint32_t m = (absu & 0x7fffffu) | 0x800000u;
        uint32_t sh = 126 - e; /* 14..24 bits dropped */
        uint32_t res = m >> sh;
        uint32_t rem = m & ((1u << sh) - 1u);
        uint32_t half = 1u << (sh - 1);
        if (rem > half || (rem == half && (res & 1u)))
            res++;
        return (uint16_t)(sign | res);
    }
    uint32_t r = absu + 0xfffu + ((absu >> 13) & 1u);
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

/* Generic element access through double: exact for every dtype we have
 * except i64 beyond 2^53, which the generic ops do not promise. */
static inline SF_HOSTDEV double sf_dtype_load(sf_dtype_t dt, const void *p)
{
    switch (dt) {
    case SF_DTYPE_F32: { float v; memcpy(&v, p, 4); return v; }
    case SF_DTYPE_BF16: { uint16_t v; memcpy(&v, p, 2); return sf_bf16_to_f32(v); }
    case SF_DTYPE_F16: { uint16_t v; memcpy(&v, p, 2); return sf_f16_to_f32(v); }
    case SF_DTYPE_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case SF_DTYPE_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case SF_DTYPE_U8: return *(const uint8_t *)p;
    default: return 0.0;
    }
}

/* Store with the dtype's rounding; integer targets truncate toward zero
 * (C's conversion), u8 wraps like torch's uint8 cast. */
static inline SF_HOSTDEV void sf_dtype_store(sf_dtype_t dt, void *p, double v)
{
    switch (dt) {
    case SF_DTYPE_F32: { float f = (float)v; memcpy(p, &f, 4); break; }
    case SF_DTYPE_BF16: { uint16_t h = sf_f32_to_bf16((float)v); memcpy(p, &h, 2); break; }
    case SF_DTYPE_F16: { uint16_t h = sf_f32_to_f16((float)v); memcpy(p, &h, 2); break; }
    case SF_DTYPE_I32: { int32_t i = (int32_t)(int64_t)v; memcpy(p, &i, 4); break; }
    case SF_DTYPE_I64: { int64_t i = (int64_t)v; memcpy(p, &i, 8); break; }
    case SF_DTYPE_U8: *(uint8_t *)p = (uint8_t)(int64_t)v; break;
    default: break;
    }
}

#endif
