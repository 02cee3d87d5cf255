/* Chrome trace JSON writer (opens in ui.perfetto.dev). Events are streamed
 * to a temporary file as they happen, so a million-event trace costs no
 * memory; sf_trace_close renames it into place, so a failed run leaves no
 * half-written trace. One process per rank (pid = rank). */
#ifndef SF_TRACE_H
#define SF_TRACE_H

#include <stdint.h>

#include "mem.h"
#include "status.h"

typedef struct sf_trace sf_trace_t;

/* Start writing to path (via a temporary: see outfile.h). Fails with
 * SF_ERR_IO naming the path, or SF_ERR_INPUT for a path that may not be
 * replaced (a device, a FIFO, a folder). *out owned by the caller: sf_trace_close or sf_trace_abort. */
SF_NODISCARD sf_status_t sf_trace_open(const char *path, sf_trace_t **out, sf_err_t *err);

/* Metadata: name the process of a rank ("rank 0", and the graph name). */
void sf_trace_process(sf_trace_t *tr, int rank, const char *name);

/* A complete span ("X" event) for a node on the rank's main thread. */
void sf_trace_node(sf_trace_t *tr, int rank, const char *node, const char *op,
                   double start_us, double end_us);

/* An alloc/free: a counter sample "allocated bytes" and the begin or end of
 * an async span for the buffer (id = buffer id; args on begin: tensor,
 * shape, dtype, bytes, alloc_node; on end: free_node). Matches
 * sf_mem_observer_fn when ctx points at an sf_trace_rank_t. */
void sf_trace_mem_event(sf_trace_t *tr, int rank, const sf_mem_event_t *ev);

/* Adapter so a trace can observe an allocator directly. */
typedef struct sf_trace_rank {
    sf_trace_t *tr; /* borrowed */
    int rank;
} sf_trace_rank_t;
void sf_trace_mem_observer(void *ctx, const sf_mem_event_t *ev);

/* Finish the JSON, flush, rename into place. Reports any write error that
 * happened along the way (SF_ERR_IO); then nothing is left at path. Frees tr. */
SF_NODISCARD sf_status_t sf_trace_close(sf_trace_t *tr, sf_err_t *err);
/* Drop the temporary file and free tr. NULL-safe. */
void sf_trace_abort(sf_trace_t *tr);

#endif
