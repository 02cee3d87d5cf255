/* What a buffer of a trace is for, as plan's pre-launch report splits a
 * peak (cmd/mem_category.c): weights, activations, logits/target,
 * communication, kernel scratch, outputs. A trace knows less than the
 * graph: the allocating node's op (from the node spans), the tensor's name,
 * and whether the buffer lived to the end ("<end>" or never freed), which
 * stands in for "a graph output". The first matching row of a rule table
 * wins, in plan's order. */
#ifndef SF_MEMVIZ_CATEGORY_H
#define SF_MEMVIZ_CATEGORY_H

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

/* Per buffer of r, its category, into out (r->n_bufs entries). */
void sf_mv_categorize(const sf_mv_trace_t *t, const sf_mv_rank_t *r, uint8_t *out);

#endif
