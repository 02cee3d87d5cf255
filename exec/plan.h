/* The schedule: a deterministic topological order and, for every buffer,
 * when it is allocated and the position after which nothing reads it. A
 * buffer is a tensor that is not a view; a view's readers keep its base
 * alive. Graph outputs (and any buffer an output views) live to the end.
 *
 * In place (the default): a buffer whose only reader is a concat or a pad
 * (an op with an input_slot hook) is computed straight into its slot of
 * that reader's output, so the copy never exists: the buffer becomes part
 * of its host's allocation (its "root"), which is allocated when the first
 * thing living in it is produced. */
#ifndef SF_PLAN_H
#define SF_PLAN_H

#include "graph.h"
#include "status.h"
#include "tensor.h"

typedef enum sf_free_policy {
    SF_FREE_EAGER = 0, /* free right after the last reader */
    SF_FREE_END,       /* free nothing until the graph ends: the no-liveness baseline */
} sf_free_policy_t;

/* Parse "eager" / "end". */
bool sf_free_policy_parse(const char *s, sf_free_policy_t *out);

/* One buffer the planner put inside another's allocation. */
typedef struct sf_alias {
    int edge;             /* the buffer placed (a base edge) */
    int host;             /* the output it was placed in (the reader's output 0) */
    int node;             /* graph index of the reader that gives the slot */
    int input;            /* which of that node's inputs reads it */
    int64_t offset_bytes; /* from host's element 0; negative: in a margin before it */
} sf_alias_t;

typedef struct sf_plan {
    /* A position is an index into order: the plan runs one node at each. */
    int n_positions;  /* = graph's n_nodes */
    const int *order; /* borrowed from the graph (sf_graph_t.order): node index at each position */
    bool in_place;    /* aliasing was on */
    int *base_of;     /* owned: per edge, the root edge whose allocation holds it
                       * (itself for a root: neither a view nor placed) */
    sf_tensor_t *layout; /* owned: per edge, its layout inside its root's allocation
                          * (offset in bytes from the allocation's start; buf NULL) */
    uint64_t *alloc_bytes; /* owned: per root edge, bytes to allocate (its own and any margin) */
    int *alloc_pos;   /* owned: per root edge, position it is allocated before (-1:
                       * a graph input, allocated before position 0) */
    int *alloc_start; /* owned: n_positions + 1 offsets into alloc_vals */
    int *alloc_vals;  /* owned: roots allocated just before each position runs (graph
                       * inputs are not listed: they are allocated before position 0) */
    bool *kept;       /* owned: per root edge, true when an output or a persistent
                       * tensor lives in it (kept to the end whatever the policy) */
    int *last_pos;    /* owned: per root edge, position after which it is freed;
                       * n_positions = at the end */
    int *free_start;  /* owned: n_positions + 1 offsets into free_vals */
    int *free_vals;   /* owned: root edges freed after each position, ascending edge index */
    sf_alias_t *aliases; /* owned: in the order they were made (last reader first) */
    int n_aliases;
} sf_plan_t;

/* Build the plan of g over its order (a validated graph has one, so this
 * cannot fail). in_place false keeps every buffer in an allocation of its
 * own (`--alias off`). The caller owns the result; it borrows g->order, so
 * g must outlive it. */
sf_plan_t *sf_plan_build(const sf_graph_t *g, sf_free_policy_t policy, bool in_place);
void sf_plan_free(sf_plan_t *p); /* NULL-safe */

/* The floor of plan p (see plan_floor.c): at each node, the kept roots
 * made so far plus the node's own inputs, outputs and scratch; the largest
 * of those and of all kept bytes. Counted bytes (sf_mem_counted_bytes). */
typedef struct sf_plan_floor {
    uint64_t kept_bytes;       /* roots kept to the end: outputs and persistent tensors */
    uint64_t output_bytes;     /* of those, roots holding a graph output */
    uint64_t persistent_bytes; /* the rest: persistent tensors (weights) */
    uint64_t floor_bytes;
    const char *node;          /* where the floor is reached; "<end>": the kept bytes */
} sf_plan_floor_t;

/* node_scratch: per graph node, the scratch bytes it asked for. */
sf_plan_floor_t sf_plan_floor(const sf_graph_t *g, const sf_plan_t *p,
                              const uint64_t *node_scratch);

#endif
