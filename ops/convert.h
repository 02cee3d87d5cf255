/* Element stores with a defined result for every double. sf_dtype_store
 * converts with C casts, which are undefined for NaN or out-of-range values
 * going to an integer type; ops that store user-controlled values (a fill
 * value, a cast of arbitrary floats) go through here instead. Host and
 * device (SF_HOSTDEV): the cuda cast and arange store through these too. */
#ifndef SF_CONVERT_H
#define SF_CONVERT_H

#include <math.h>
#include <stdint.h>

#include "dtype.h"

/* Truncate toward zero, saturating at the int64 range; NaN becomes 0. */
static inline SF_HOSTDEV int64_t sf_convert_f2i64(double v)
{
    if (isnan(v))
        return 0;
    if (v >= 9223372036854775807.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

/* sf_dtype_store, except: float -> i32/i64 truncates and saturates (NaN ->
 * 0), float -> u8 truncates then wraps (torch's uint8 cast). */
static inline SF_HOSTDEV void sf_convert_store(sf_dtype_t dt, void *p, double v)
{
    switch (dt) {
    case SF_DTYPE_I32: {
        int64_t i = sf_convert_f2i64(v);
        int32_t s = i > INT32_MAX ? INT32_MAX : i < INT32_MIN ? INT32_MIN : (int32_t)i;
        memcpy(p, &s, sizeof s);
        break;
    }
    case SF_DTYPE_I64: {
        int64_t i = sf_convert_f2i64(v);
        memcpy(p, &i, sizeof i);
        break;
    }
    case SF_DTYPE_U8:
        *(uint8_t *)p = (uint8_t)(uint64_t)sf_convert_f2i64(v);
        break;
    default:
        sf_dtype_store(dt, p, v);
        break;
    }
}

/* Exact integer load (sf_dtype_load goes through double and rounds i64
 * beyond 2^53). Only for integer dtypes. */
static inline SF_HOSTDEV int64_t sf_convert_load_int(sf_dtype_t dt, const void *p)
{
    switch (dt) {
    case SF_DTYPE_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case SF_DTYPE_I64: { int64_t v; memcpy(&v, p, 8); return v; }
    case SF_DTYPE_U8: return *(const uint8_t *)p;
    default: return 0;
    }
}

#endif
