/* Host allocations that cannot return NULL: for the small, bounded tables of
 * the loader and the planner, where running out of memory is not a case we
 * recover from (SF_ASSERT aborts). Anything sized by user data (tensors,
 * files) goes through a fallible path instead and reports SF_ERR_NOMEM. */
#ifndef SF_XALLOC_H
#define SF_XALLOC_H

#include <stddef.h>

/* calloc(n, size); n == 0 still gives a unique pointer, so callers never
 * special-case empty graphs. Caller frees. */
void *sf_xalloc_calloc(size_t n, size_t size);

/* strdup(s). Caller frees. */
char *sf_xalloc_strdup(const char *s);

#endif
