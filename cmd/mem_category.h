/* What a buffer is for, as plan's pre-launch report splits a peak: weights,
 * activations, logits/target, communication buffers, kernel scratch and the
 * outputs. A buffer's category comes from its tensor: the op that produced
 * it, whether the graph keeps it as an output, and its name, by a rule table
 * (mem_category.c) whose first matching row wins. */
#ifndef SF_MEM_CATEGORY_H
#define SF_MEM_CATEGORY_H

#include <stdint.h>

#include "graph.h"
#include "mem.h"
#include "memviz_category.h"

/* The categories and their names are memviz's (memviz/memviz_category.h),
 * so a trace's legend and plan's table say the same words. */

/* The same as one word for JSON keys: "weights", "activations", "logits",
 * "communication", "scratch", "outputs". */
const char *sf_mem_cat_key(sf_mv_cat_t c);

/* Per-category live bytes of one allocator, and their split when the peak
 * was first reached (the rule of core/mem.c: a later equal total does not
 * move it). Feed it every event (sf_mem_cat_observe has the shape of
 * sf_mem_observer_fn). */
typedef struct sf_mem_cat_tally {
    const sf_graph_t *g;             /* borrowed */
    sf_mv_cat_t *edge_cat;          /* owned: per edge of g */
    const char **by_name;            /* owned: edge names sorted by address, for the lookup */
    int *by_name_edge;               /* owned: the edge of each by_name entry */
    uint64_t live[SF_MV_CAT_COUNT];
    uint64_t at_peak[SF_MV_CAT_COUNT];
    uint64_t peak_bytes;
} sf_mem_cat_tally_t;

/* Classify every edge of g (borrowed: it must outlive the tally). */
void sf_mem_cat_tally_init(sf_mem_cat_tally_t *t, const sf_graph_t *g);
void sf_mem_cat_tally_fini(sf_mem_cat_tally_t *t);
/* The category of edge v of g. */
sf_mv_cat_t sf_mem_cat_of_edge(const sf_mem_cat_tally_t *t, int v);
/* The category of a buffer made for the tensor named `tensor`. */
sf_mv_cat_t sf_mem_cat_of_tensor(const sf_mem_cat_tally_t *t, const char *tensor);
/* ctx: an sf_mem_cat_tally_t. */
void sf_mem_cat_observe(void *ctx, const sf_mem_event_t *ev);

#endif
