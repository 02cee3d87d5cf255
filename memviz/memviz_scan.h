/* The incremental reader of Chrome trace JSON behind memviz (the model in
 * memviz_trace.c and --merge): one flat record per event, handed to a
 * callback in file order; no DOM, so memory does not grow with the file. */
#ifndef SF_MEMVIZ_SCAN_H
#define SF_MEMVIZ_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* One event as the scanner sees it. String fields point into the scanner's
 * scratch and live until the next event; absent strings are NULL. */
typedef struct sf_mv_event {
    char ph;
    bool has_pid, has_ts, has_bytes, has_sort_index;
    int64_t pid;
    double ts_us, dur_us;
    const char *name, *cat, *id, *tensor, *shape, *dtype, *alloc_node, *free_node, *op,
        *label;
    uint64_t bytes, requested_bytes;
    int64_t sort_index;
    /* For --merge: the raw text of the event and where its pid value sits. */
    const char *raw;      /* NULL unless capturing */
    size_t raw_len, pid_at, pid_len;
    uint64_t offset;      /* byte offset of the event's '{' in the file */
    int line, col;
} sf_mv_event_t;

typedef struct sf_mv_scan sf_mv_scan_t;

/* Called once per event in file order; a non-OK status stops the scan and
 * is returned by sf_mv_scan_file (fill err with sf_mv_scan_error). */
typedef sf_status_t (*sf_mv_event_fn)(void *ctx, sf_mv_scan_t *s, const sf_mv_event_t *ev,
                                      sf_err_t *err);

/* Scan path, calling fn for every element of "traceEvents" (or of a bare
 * top-level array). capture_raw fills ev->raw. */
SF_NODISCARD sf_status_t sf_mv_scan_file(const char *path, bool capture_raw, sf_mv_event_fn fn,
                                         void *ctx, sf_err_t *err);

/* A parse error at the event ev (file:line:col, byte offset appended). */
sf_status_t sf_mv_scan_error(sf_mv_scan_t *s, const sf_mv_event_t *ev, sf_err_t *err,
                             const char *fmt, ...) SF_PRINTF(4, 5);

#endif
