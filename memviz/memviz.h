/* The outputs of `shardflow memviz`: the HTML page, the SVG picture, the
 * merged trace, and the temporary-file-then-rename writer they share (a
 * failed command leaves no output file behind). */
#ifndef SF_MEMVIZ_H
#define SF_MEMVIZ_H

#include <stdio.h>

#include "memviz_summary.h"
#include "outfile.h"
#include "memviz_trace.h"

#define SF_MV_MAX_RUNS 2

/* `shardflow memviz ...`: argv from "memviz" on; returns the exit status. */
int sf_cmd_memviz(int argc, char **argv);

typedef enum sf_mv_xaxis {
    SF_MV_X_EVENTS, /* x = allocation/free event index */
    SF_MV_X_TIME,   /* x = trace time */
} sf_mv_xaxis_t;

typedef struct sf_mv_opts {
    sf_mv_xaxis_t x;
    const char *title;                   /* borrowed; NULL: derived from the files */
    const char *labels[SF_MV_MAX_RUNS];  /* borrowed; run names (file names by default) */
    int width_px;                        /* SVG width; 0: default */
    bool zoom_peak;                      /* --zoom peak: x around each rank's peak */
    bool colour_category;                /* --color category (SVG): bands by category */
} sf_mv_opts_t;

/* ---- output file -------------------------------------------------------------- */

typedef struct sf_mv_out {
    sf_outfile_t out; /* owned: the temporary and the final name */
    FILE *fp;         /* borrowed: out.fp, for the writers */
} sf_mv_out_t;

SF_NODISCARD sf_status_t sf_mv_out_open(const char *path, sf_mv_out_t *o, sf_err_t *err);
/* Flush and rename into place; on failure nothing is left at path. */
SF_NODISCARD sf_status_t sf_mv_out_commit(sf_mv_out_t *o, sf_err_t *err);
/* Remove the temporary file. Safe after commit and on a zeroed struct. */
void sf_mv_out_abort(sf_mv_out_t *o);

/* ---- writers ------------------------------------------------------------------ */

/* The self-contained HTML page for one trace (timeline) or two (comparison). */
SF_NODISCARD sf_status_t sf_mv_html_write(sf_mv_trace_t *const *runs, int n_runs,
                                          const sf_mv_opts_t *o, FILE *f, sf_err_t *err);

/* The same as a static SVG. */
SF_NODISCARD sf_status_t sf_mv_svg_write(sf_mv_trace_t *const *runs, int n_runs,
                                         const sf_mv_opts_t *o, FILE *f, sf_err_t *err);

/* Join traces into one, run k's pid p becoming k * stride + p (stride 1000,
 * or the next power of ten above the largest pid) and its processes named
 * "<label>: <name>". Validates each input fully before writing. */
SF_NODISCARD sf_status_t sf_mv_merge_write(const char *const *paths, const char *const *labels,
                                           int n, FILE *f, sf_err_t *err);

/* The page script (memviz_page.c, generated from memviz_page.js). */
extern const char sf_mv_page_js[];
extern const char sf_mv_page_css[];

#endif
