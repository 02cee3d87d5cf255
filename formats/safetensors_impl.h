/* Private to the safetensors reader and writer (safetensors_read.c,
 * safetensors_write.c): what both sides share. */
#ifndef SF_SAFETENSORS_IMPL_H
#define SF_SAFETENSORS_IMPL_H

#include "safetensors.h"

/* Set err with the path as its file and no line (a binary file has none);
 * returns code. Defined in safetensors_read.c. */
sf_status_t st_fail(sf_err_t *err, const char *path, sf_status_t code, const char *fmt, ...)
    SF_PRINTF(4, 5);

#endif
