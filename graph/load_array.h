/* The loader's growable arrays: (ptr, n, cap) triples that grow by
 * doubling. Private to the loader (graph/load_*.c). Growth aborts on host
 * OOM instead of threading a status through: the loader's inputs are
 * bounded by the file size limit and the alias budget. */
#ifndef SF_LOAD_ARRAY_H
#define SF_LOAD_ARRAY_H

#include <stdlib.h>

#include "status.h"

/* Make room for need elements of elem bytes in *arr (capacity *cap). */
static inline void gl_grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return;
    int grown_cap = *cap == 0 ? 8 : *cap;
    while (grown_cap < need)
        grown_cap *= 2;
    void *grown = realloc(*arr, (size_t)grown_cap * elem);
    SF_ASSERT(grown != NULL);
    *arr = grown;
    *cap = grown_cap;
}

/* Grow a (ptr, n, cap) array by one slot. Evaluates to the new slot. */
#define GL_PUSH(arr, n, cap)                                                   \
    (*(gl_grow((void **)&(arr), &(cap), (n) + 1, sizeof *(arr)), &(arr)[(n)++]))

#endif
