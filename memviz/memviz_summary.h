/* What memviz derives from a trace: per rank the peak (the maximum of the
 * running sum of counted bytes over allocs and frees in event order, which
 * is exactly how sf_mem computes the runtime's peak_bytes), the node during
 * which it was first reached, what is live there, and run totals. */
#ifndef SF_MEMVIZ_SUMMARY_H
#define SF_MEMVIZ_SUMMARY_H

#include <stdio.h>

#include "memviz_trace.h"

typedef struct sf_mv_peak {
    uint64_t peak_bytes;
    uint32_t peak_ev;        /* event that first reached the peak; UINT32_MAX: no buffers */
    uint32_t peak_buf;       /* the buffer allocated by that event */
    sf_mv_sid_t peak_node;   /* its alloc_node: the node running when the peak was hit */
    uint64_t total_bytes;    /* "bytes moved": sum of the bytes of every allocation */
    uint64_t comm_bytes;     /* of those, allocated by collective nodes (redistribute, ...) */
    uint64_t end_bytes;      /* still live when the trace ends */
} sf_mv_peak_t;

/* Compute the peak figures of one rank. t gives node ops (from spans). */
void sf_mv_peak_compute(const sf_mv_trace_t *t, const sf_mv_rank_t *r, sf_mv_peak_t *out);

/* Buffers live just after event ev, largest first (ties: allocation order).
 * Returns a malloc'd array (caller frees) and its length in *n; NULL with
 * *n = 0 when none or out of memory. */
uint32_t *sf_mv_live_at(const sf_mv_rank_t *r, uint32_t ev, uint32_t *n);

/* The k largest buffers of the run into out[] (largest first); returns how many. */
uint32_t sf_mv_largest(const sf_mv_rank_t *r, uint32_t k, uint32_t *out);

/* Do ranks a and b of trace t hold the same buffers (bytes, tensor, shape,
 * dtype, alloc and free nodes) in the same event order, and the same node
 * spans? Timestamps may differ. Such ranks are shown once, with a note. */
bool sf_mv_rank_same(const sf_mv_rank_t *a, const sf_mv_rank_t *b);

/* "0-7", "0,2,4-5": the pids of t's ranks that are the same as rank
 * `lead` (lead included), into out[n]; returns how many. */
int sf_mv_same_ranks_text(const sf_mv_trace_t *t, int lead, const bool *is_folded, char *out,
                          size_t n);

/* Is op a collective (its outputs are data moved between ranks)? */
bool sf_mv_op_is_collective(const char *op);

/* The --summary report: text for people or one JSON object. top limits the
 * live-at-peak table (0: all). */
SF_NODISCARD sf_status_t sf_mv_summary_print(const sf_mv_trace_t *t, bool json, int top, FILE *f,
                                             sf_err_t *err);

/* --summary with two traces (a plan and a measured run, say): per rank
 * present in either, the peak of each, its node, and the difference
 * (second minus first), as text or one JSON object {"traces":[A,B],
 * "ranks":[{"rank","peak_bytes":[a,b],"peak_node":[a,b],"difference_bytes"}]}
 * (a rank missing from one trace has null there). */
SF_NODISCARD sf_status_t sf_mv_summary_compare_print(const sf_mv_trace_t *a,
                                                     const sf_mv_trace_t *b, bool json, FILE *f,
                                                     sf_err_t *err);

#endif
