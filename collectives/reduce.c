/* Host-side reductions for backends that reduce in host memory. bf16 and
 * f16 go through f32 and are rounded once per step, as NCCL does. */
#include <stdint.h>
#include <string.h>

#include "coll.h"

#define REDUCE_LOOP(T)                                                                        \
    do {                                                                                      \
        T *a = acc;                                                                           \
        const T *b = in;                                                                      \
        if (op == SF_REDUCE_SUM)                                                              \
            for (uint64_t i = 0; i < count; i++)                                              \
                a[i] = (T)(a[i] + b[i]);                                                      \
        else                                                                                  \
            for (uint64_t i = 0; i < count; i++)                                              \
                a[i] = a[i] > b[i] ? a[i] : b[i];                                             \
    } while (0)

static void reduce_half(sf_reduce_op_t op, bool is_bf16, uint16_t *a, const uint16_t *b,
                        uint64_t count)
{
    for (uint64_t i = 0; i < count; i++) {
        float x = is_bf16 ? sf_bf16_to_f32(a[i]) : sf_f16_to_f32(a[i]);
        float y = is_bf16 ? sf_bf16_to_f32(b[i]) : sf_f16_to_f32(b[i]);
        float r = op == SF_REDUCE_SUM ? x + y : (x > y ? x : y);
        a[i] = is_bf16 ? sf_f32_to_bf16(r) : sf_f32_to_f16(r);
    }
}

/* Integer sums wrap (two's complement), as NCCL's do; computed unsigned so
 * the wrap is defined behaviour. */
static void reduce_int_sum_wrap(void *acc, const void *in, uint64_t count, size_t size)
{
    if (size == 4) {
        uint32_t *a = acc;
        const uint32_t *b = in;
        for (uint64_t i = 0; i < count; i++)
            a[i] += b[i];
    } else {
        uint64_t *a = acc;
        const uint64_t *b = in;
        for (uint64_t i = 0; i < count; i++)
            a[i] += b[i];
    }
}

void sf_reduce_host(sf_reduce_op_t op, sf_dtype_t dtype, void *acc, const void *in, uint64_t count)
{
    switch (dtype) {
    case SF_DTYPE_F32: REDUCE_LOOP(float); break;
    case SF_DTYPE_BF16: reduce_half(op, true, acc, in, count); break;
    case SF_DTYPE_F16: reduce_half(op, false, acc, in, count); break;
    case SF_DTYPE_I32:
        if (op == SF_REDUCE_SUM)
            reduce_int_sum_wrap(acc, in, count, 4);
        else
            REDUCE_LOOP(int32_t);
        break;
    case SF_DTYPE_I64:
        if (op == SF_REDUCE_SUM)
            reduce_int_sum_wrap(acc, in, count, 8);
        else
            REDUCE_LOOP(int64_t);
        break;
    case SF_DTYPE_U8: REDUCE_LOOP(uint8_t); break;
    default: SF_ASSERT(!"unknown dtype");
    }
}
