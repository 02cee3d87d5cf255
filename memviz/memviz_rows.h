/* The rows of a picture (the SVG and the page share them): the union of
 * the runs' ranks, sorted by pid, with ranks that are the same in every
 * run as an earlier rank folded into it. A folded row is drawn once, with
 * a note naming the ranks it stands for. */
#ifndef SF_MEMVIZ_ROWS_H
#define SF_MEMVIZ_ROWS_H

#include <stdint.h>

#include "memviz_trace.h"

enum { SF_MV_ROWS_MAX = 256, SF_MV_ROW_NOTE = 96 };

typedef struct sf_mv_rows {
    int64_t pids[SF_MV_ROWS_MAX];               /* the kept rows (leaders), by pid */
    char notes[SF_MV_ROWS_MAX][SF_MV_ROW_NOTE]; /* "ranks 0-7 identical", or "" alone */
    int n;
} sf_mv_rows_t;

/* Fill rows from the runs (at most SF_MV_ROWS_MAX distinct pids are kept). */
void sf_mv_rows_build(sf_mv_trace_t *const *runs, int n_runs, sf_mv_rows_t *rows);

/* The rank of t whose pid is pid, or NULL. */
const sf_mv_rank_t *sf_mv_rows_rank(const sf_mv_trace_t *t, int64_t pid);

#endif
