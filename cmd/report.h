/* What `run` and `plan` print at the end: every rank's peak as a table or
 * one JSON object, and on request one rank's per-node wall times. */
#ifndef SF_REPORT_H
#define SF_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "graph_session.h"

/* What the report says about the run as a whole. */
typedef struct sf_report_how {
    const char *device;
    sf_free_policy_t policy;
    int world;
    bool in_place; /* --alias on */
    bool explain;  /* also list each rank's in-place placements (text) */
    /* run --emulate-world: reports holds one entry, the emulated rank of a
     * world of `world` whose other ranks never ran; its outputs have real
     * sizes but not real values, and the report says so. */
    bool is_emulated;
} sf_report_how_t;

/* Print the per-rank table (text) or the JSON object on stdout. */
void sf_report_print(const sf_graph_t *g, const sf_report_how_t *how,
                     const sf_rank_report_t *reports, bool json);
/* Per-node wall times of one rank, slowest first. */
void sf_report_print_profile(const sf_graph_t *g, const sf_rank_report_t *r);

/* The largest buffers of a live set (at a peak, or at a failed
 * allocation), one line each: tensor, shape, dtype, bytes. */
void sf_report_print_mem_snapshot(FILE *f, const sf_mem_snapshot_t *s, bool at_failure);

#endif
