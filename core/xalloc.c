/* See xalloc.h. */
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

#include "status.h"

void *sf_xalloc_calloc(size_t n, size_t size)
{
    void *p = calloc(n == 0 ? 1 : n, size);
    SF_ASSERT(p != NULL);
    return p;
}

char *sf_xalloc_strdup(const char *s)
{
    char *d = strdup(s);
    SF_ASSERT(d != NULL);
    return d;
}
