/* The schedule: a deterministic topological order and, for every buffer,
 * the position after which nothing reads it. A buffer is a tensor that is not a
 * view; a view's readers keep its base alive. Graph outputs (and any buffer
 * an output views) live to the end. */
#ifndef SF_PLAN_H
#define SF_PLAN_H

#include "graph.h"
#include "status.h"

typedef enum sf_free_policy {
    SF_FREE_EAGER = 0, /* free right after the last reader */
    SF_FREE_END,       /* free nothing until the graph ends: the no-liveness baseline */
} sf_free_policy_t;

/* Parse "eager" / "end". */
bool sf_free_policy_parse(const char *s, sf_free_policy_t *out);

typedef struct sf_plan {
    /* A position is an index into order: the plan runs one node at each. */
    int n_positions;  /* = graph's n_nodes */
    const int *order; /* borrowed from the graph (sf_graph_t.order): node index at each position */
    int *base_of;     /* owned: per edge, the edge that owns its buffer (itself unless a view) */
    int *last_pos;    /* owned: per base edge, position after which it is freed;
                       * n_positions = at the end */
    int *free_start;  /* owned: n_positions + 1 offsets into free_vals */
    int *free_vals;   /* owned: base edges freed after each position, ascending edge index */
} sf_plan_t;

/* Build the liveness of g over its order (a validated graph has one, so
 * this cannot fail). The caller owns the result; it borrows g->order, so g
 * must outlive it. */
sf_plan_t *sf_plan_build(const sf_graph_t *g, sf_free_policy_t policy);
void sf_plan_free(sf_plan_t *p); /* NULL-safe */

#endif
