/* Host-side reductions for backends that reduce in host memory:
 * out[i] = a[i] op b[i], where out may be a (accumulate) or neither input.
 * bf16 and f16 go through f32 and are rounded once per step, as NCCL does. */
#include <stdint.h>
#include <string.h>

#include "coll.h"

#define REDUCE_LOOP(T)                                                                        \
    do {                                                                                      \
        T *o = out;                                                                           \
        const T *x = a, *y = b;                                                               \
        if (op == SF_REDUCE_SUM)                                                              \
            for (uint64_t i = 0; i < count; i++)                                              \
                o[i] = (T)(x[i] + y[i]);                                                      \
        else                                                                                  \
            for (uint64_t i = 0; i < count; i++)                                              \
                o[i] = x[i] > y[i] ? x[i] : y[i];                                             \
    } while (0)

static void reduce_half(sf_reduce_op_t op, bool is_bf16, uint16_t *o, const uint16_t *a,
                        const uint16_t *b, uint64_t count)
{
    for (uint64_t i = 0; i < count; i++) {
        float x = is_bf16 ? sf_bf16_to_f32(a[i]) : sf_f16_to_f32(a[i]);
        float y = is_bf16 ? sf_bf16_to_f32(b[i]) : sf_f16_to_f32(b[i]);
        float r = op == SF_REDUCE_SUM ? x + y : (x > y ? x : y);
        o[i] = is_bf16 ? sf_f32_to_bf16(r) : sf_f32_to_f16(r);
    }
}

/* Integer sums wrap (two's complement), as NCCL's do; computed unsigned so
 * the wrap is defined behaviour. */
static void reduce_int_sum_wrap(void *out, const void *a, const void *b, uint64_t count,
                                size_t size)
{
    if (size == 4) {
        uint32_t *o = out;
        const uint32_t *x = a, *y = b;
        for (uint64_t i = 0; i < count; i++)
            o[i] = x[i] + y[i];
    } else {
        uint64_t *o = out;
        const uint64_t *x = a, *y = b;
        for (uint64_t i = 0; i < count; i++)
            o[i] = x[i] + y[i];
    }
}

void sf_reduce_host_to(sf_reduce_op_t op, sf_dtype_t dtype, void *out, const void *a,
                       const void *b, uint64_t count)
{
    switch (dtype) {
    case SF_DTYPE_F32: REDUCE_LOOP(float); break;
    case SF_DTYPE_BF16: reduce_half(op, true, out, a, b, count); break;
    case SF_DTYPE_F16: reduce_half(op, false, out, a, b, count); break;
    case SF_DTYPE_I32:
        if (op == SF_REDUCE_SUM)
            reduce_int_sum_wrap(out, a, b, count, 4);
        else
            REDUCE_LOOP(int32_t);
        break;
    case SF_DTYPE_I64:
        if (op == SF_REDUCE_SUM)
            reduce_int_sum_wrap(out, a, b, count, 8);
        else
            REDUCE_LOOP(int64_t);
        break;
    case SF_DTYPE_U8: REDUCE_LOOP(uint8_t); break;
    default: SF_ASSERT(!"unknown dtype");
    }
}

void sf_reduce_host(sf_reduce_op_t op, sf_dtype_t dtype, void *acc, const void *in, uint64_t count)
{
    sf_reduce_host_to(op, dtype, acc, acc, in, count);
}
