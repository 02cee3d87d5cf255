/* Overflow-checked integer arithmetic: the one home for sizes computed from
 * user-controlled numbers (shapes, counts, offsets). Each returns true and
 * stores the result when it fits, false (out unspecified) when it does not,
 * so `if (!sf_checked_mul_u64(a, b, &n)) return error;` reads as the rule. */
#ifndef SF_CHECKED_H
#define SF_CHECKED_H

#include <stdbool.h>
#include <stdint.h>

static inline bool sf_checked_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static inline bool sf_checked_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

static inline bool sf_checked_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static inline bool sf_checked_add_i64(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

static inline bool sf_checked_sub_i64(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_sub_overflow(a, b, out);
}

#endif
