/* Sizes given on the command line in bytes: "80G", "141G", "512M", "1024".
 * Shared by every flag that takes a memory size (run/plan --mem-limit, and
 * later plan --device-mem), so they all read the same syntax. */
#ifndef SF_BYTE_SIZE_H
#define SF_BYTE_SIZE_H

#include <stdint.h>

#include "status.h"

/* Parse text as a positive byte count: decimal digits, then an optional
 * K, M, G or T (powers of 1024, either case), then an optional "B", or
 * "iB" after a suffix letter. Zero, anything else, or more than 2^64-1
 * bytes is SF_ERR_INPUT naming flag (the option as the user typed it). */
SF_NODISCARD sf_status_t sf_byte_size_parse(const char *flag, const char *text, uint64_t *out,
                                            sf_err_t *err);

#endif
