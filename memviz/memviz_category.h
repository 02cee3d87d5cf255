/* What a buffer is for: weights, activations, logits/target,
 * communication, kernel scratch, outputs. One rule table, whose first
 * matching row wins, serves both plan's pre-launch report (from the graph:
 * cmd/mem_category.c) and the memory pictures (from a trace), so the table
 * and the legend always agree. A trace knows less than the graph: the
 * allocating node's op (from the node spans), the tensor's name, and
 * whether the buffer lived to the end ("<end>" or never freed), which
 * stands in for "a graph output". */
#ifndef SF_MEMVIZ_CATEGORY_H
#define SF_MEMVIZ_CATEGORY_H

#include <stdbool.h>

#include "memviz_trace.h"

typedef enum sf_mv_cat {
    SF_MV_CAT_WEIGHTS = 0,
    SF_MV_CAT_ACTIVATIONS,
    SF_MV_CAT_LOGITS,
    SF_MV_CAT_COMM,
    SF_MV_CAT_SCRATCH,
    SF_MV_CAT_OUTPUTS,
    SF_MV_CAT_COUNT
} sf_mv_cat_t;

/* "weights", ..., as plan prints them. */
const char *sf_mv_cat_name(sf_mv_cat_t c);
/* The category's fixed colour (CSS). */
const char *sf_mv_cat_colour(sf_mv_cat_t c);

/* What the rules look at. */
typedef struct sf_mv_cat_facts {
    const char *tensor; /* the tensor's name; "<scratch>" for kernel scratch */
    const char *op;     /* the op of the node that made the buffer, or "" */
    bool is_kept;       /* kept to the end: a graph output */
} sf_mv_cat_facts_t;

/* The category the first matching rule gives (activations when none does). */
sf_mv_cat_t sf_mv_category_of(const sf_mv_cat_facts_t *f);

/* Per buffer of r, its category, into out (r->n_bufs entries). */
void sf_mv_categorize(const sf_mv_trace_t *t, const sf_mv_rank_t *r, uint8_t *out);

#endif
