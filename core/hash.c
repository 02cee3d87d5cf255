/* See hash.h. The constants are the published FNV ones (offset basis and
 * prime); changing any of them changes every graph hash and weight. */
#include "hash.h"

#include <string.h>

#define FNV1A64_PRIME 0x100000001b3ull
#define FNV1A32_INIT 2166136261u
#define FNV1A32_PRIME 16777619u

uint64_t sf_hash_fnv1a64_add(uint64_t h, const void *data, size_t nbytes)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < nbytes; i++)
        h = (h ^ p[i]) * FNV1A64_PRIME;
    return h;
}

uint64_t sf_hash_fnv1a64(const char *s)
{
    return sf_hash_fnv1a64_add(SF_HASH_FNV1A64_INIT, s, strlen(s));
}

uint32_t sf_hash_fnv1a32(const char *s)
{
    uint32_t h = FNV1A32_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        h = (h ^ *p) * FNV1A32_PRIME;
    return h;
}
