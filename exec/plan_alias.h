/* The in-place decision of the plan (plan_alias.c): which buffers are
 * computed straight into a slot of their one reader's output. Internal to
 * exec/: plan.c turns the decisions into roots, layouts and lifetimes. */
#ifndef SF_PLAN_ALIAS_H
#define SF_PLAN_ALIAS_H

#include "graph.h"
#include "plan.h"

typedef struct sf_placement {
    int *host;                           /* per edge: the edge it sits in, or -1 */
    int64_t *slot_offset;                /* per edge: bytes from host's element 0 */
    int64_t (*slot_strides)[SF_MAX_DIMS]; /* per edge: its strides there */
    uint64_t *front, *back;              /* per edge: margin bytes a root needs around it */
    sf_alias_t *aliases;
    int n_aliases;
} sf_placement_t;

/* Decide the placements over g's order (none when in_place is false).
 * view_base: per edge, the edge that owns its memory before placement
 * (itself unless a view). Every array of pl is allocated here (per edge,
 * host -1 and margins 0 where nothing is placed); free with
 * sf_placement_free. */
void sf_placement_decide(const sf_graph_t *g, const int *view_base, bool in_place,
                         sf_placement_t *pl);
void sf_placement_free(sf_placement_t *pl);

#endif
