/* Merging per-rank Chrome traces into one file: each rank of a local
 * group writes its own (so no rank waits on another's disk), and the
 * launcher joins them, one process per rank, as if one writer had. */
#ifndef SF_TRACE_MERGE_H
#define SF_TRACE_MERGE_H

#include <stdbool.h>

#include "status.h"

/* Join the traceEvents arrays of parts[0..n) into out (temporary file, then
 * rename). Each part must be a trace object {"traceEvents":[...], ...}; a
 * malformed or missing part is SF_ERR_INPUT naming it, and then nothing is
 * written. remove_parts deletes the parts after a successful merge. */
SF_NODISCARD sf_status_t sf_trace_merge(const char *const *parts, int n, const char *out,
                                        bool remove_parts, sf_err_t *err);

#endif
