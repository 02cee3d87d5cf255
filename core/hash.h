/* FNV-1a, the one string hash of the project: graph identities for the
 * rendezvous, name tables, synthetic-weight streams and memviz colours all
 * depend on its exact bits, so the constants live here and nowhere else.
 * Every function is pure and thread-safe. */
#ifndef SF_HASH_H
#define SF_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The 64-bit offset basis: the hash of no bytes, and the seed of a chain of
 * sf_hash_fnv1a64_add calls. */
#define SF_HASH_FNV1A64_INIT 0xcbf29ce484222325ull

/* FNV-1a 64 of the NUL-terminated string s (its bytes, not the NUL). */
uint64_t sf_hash_fnv1a64(const char *s);

/* Continue hash h over nbytes of data: hashing a then b with this equals
 * hashing their concatenation. data may be NULL when nbytes is 0. */
uint64_t sf_hash_fnv1a64_add(uint64_t h, const void *data, size_t nbytes);

/* FNV-1a 32 of the string s: what the memviz page's script computes in
 * JavaScript, so the SVG and the page colour a node alike. */
uint32_t sf_hash_fnv1a32(const char *s);

#endif
