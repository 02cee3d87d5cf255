/* SplitMix64 as a counter: output n of the stream seeded with seed is a pure
 * function of (seed, n), so any slice of a random tensor or of a synthetic
 * weight can be made on any rank without the rest, with the same bits on
 * every machine. Inline because both run once per element of tensors of
 * billions of elements. Pure and thread-safe. */
#ifndef SF_RNG_H
#define SF_RNG_H

#include <stdint.h>

/* SplitMix64's finaliser: a bijection on 64 bits that scatters nearby
 * inputs (Steele, Lea, Flood 2014; the constants are Stafford's Mix13). */
static inline uint64_t sf_rng_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Output n (0-based) of SplitMix64 seeded with seed: what the n+1-th call
 * of the usual stateful next() returns. Seed 0 starts 0xe220a8397b1dcdaf,
 * 0x6e789e6aa1b965f4. */
static inline uint64_t sf_rng_splitmix64(uint64_t seed, uint64_t n)
{
    return sf_rng_mix64(seed + (n + 1) * 0x9e3779b97f4a7c15ull);
}

#endif
