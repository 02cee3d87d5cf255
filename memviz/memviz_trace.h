/* memviz's model of a Chrome trace written by `run`/`plan` (formats/trace.c):
 * per rank (pid) the buffer lifetimes ("b"/"e" events of cat "buffer"),
 * their event order and timestamps, and the node spans ("X", cat "node").
 * The file is read with an incremental scanner (no DOM), so a trace of
 * millions of events costs memory in proportion to its buffers only.
 * Invariant: for every rank, buffers are in allocation order and the event
 * sequence (allocs and frees only) is the file order of that pid. */
#ifndef SF_MEMVIZ_TRACE_H
#define SF_MEMVIZ_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "memviz_scan.h"
#include "status.h"

/* String ids index sf_mv_trace_t.strs; id 0 is always "". */
typedef uint32_t sf_mv_sid_t;

typedef struct sf_mv_buffer {
    uint64_t bytes;           /* counted bytes: what the runtime's peak sums */
    uint64_t requested_bytes; /* what the tensor needed */
    uint32_t alloc_ev;        /* index into the rank's event sequence */
    uint32_t free_ev;         /* n_events when never freed */
    sf_mv_sid_t tensor, shape, dtype, alloc_node, free_node;
} sf_mv_buffer_t;

typedef struct sf_mv_span {
    sf_mv_sid_t name, op;
    double ts_us, dur_us;
} sf_mv_span_t;

typedef struct sf_mv_rank {
    int64_t pid;
    sf_mv_sid_t label;     /* process_name, or 0 */
    sf_mv_buffer_t *bufs;  /* owned; allocation order */
    uint32_t n_bufs;
    double *ev_ts_us;      /* owned; one per alloc/free event */
    uint32_t *ev_buf;      /* owned; the buffer of each event (alloc iff bufs[].alloc_ev == k) */
    uint32_t n_events;
    sf_mv_span_t *spans;   /* owned; file order */
    uint32_t n_spans;
    uint32_t n_unfreed;    /* buffers with no "e": live at the end of the trace */
} sf_mv_rank_t;

typedef struct sf_mv_trace {
    char *path;            /* owned: as given */
    sf_mv_rank_t *ranks;   /* owned; sorted by pid */
    int n_ranks;
    char **strs;           /* owned: interned strings, strs[0] = "" */
    uint32_t n_strs;
    void *intern;          /* owned: the string table's index (private) */
} sf_mv_trace_t;

/* Read a trace. Malformed JSON, a truncated file or an event that breaks
 * the trace shape (a free without its alloc, a buffer without bytes) is
 * SF_ERR_PARSE with file:line:col and the byte offset in the message; a
 * missing file is SF_ERR_INPUT. *out owned by the caller (sf_mv_trace_free). */
SF_NODISCARD sf_status_t sf_mv_trace_load(const char *path, sf_mv_trace_t **out, sf_err_t *err);
void sf_mv_trace_free(sf_mv_trace_t *t);

/* Keep only the rank whose pid is `pid` (memviz --rank): the others are
 * freed. A pid the trace does not hold is SF_ERR_INPUT naming the ones it
 * does; t is unchanged then. */
SF_NODISCARD sf_status_t sf_mv_trace_keep_rank(sf_mv_trace_t *t, int64_t pid, sf_err_t *err);

static inline const char *sf_mv_str(const sf_mv_trace_t *t, sf_mv_sid_t id)
{
    return t->strs[id];
}

#endif
