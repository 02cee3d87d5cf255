/* Stage 2 of the loader (load_nodes.c): the YAML entries, read with the
 * final params (read-only), become a graph whose inputs and active nodes
 * are built, plus what validation needs to wire them: each node's tensor
 * names and the outputs as written. Private to the loader. */
#ifndef SF_LOAD_NODES_H
#define SF_LOAD_NODES_H

#include "load_params.h"
#include "load_source.h"

/* A node's tensors while they are still names: validate numbers the values.
 * Parallel to graph->nodes. */
typedef struct gl_bnode {
    char **in_names;  /* owned (strings too): after ${} substitution */
    sf_pos_t *in_pos; /* owned */
    int n_in;
    char **out_names;  /* owned (strings too) */
    sf_pos_t *out_pos; /* owned */
    int n_out;
    sf_pos_t name_pos;
} gl_bnode_t;

/* One entry of `outputs`, its names substituted. */
typedef struct gl_bout {
    char *name; /* owned: the tensor */
    char *as;   /* owned: the name it is written under ({as: tensor}), or NULL */
    sf_pos_t pos; /* of the entry */
} gl_bout_t;

/* What stage 2 returns: the graph so far and the names validate wires. */
typedef struct gl_built {
    sf_graph_t *g;      /* owned: name, inputs (as its first values), active nodes */
    gl_bnode_t *bnodes; /* owned: n_bnodes entries, parallel to g->nodes */
    int n_bnodes;       /* after a failure the last one may be half built */
    gl_bout_t *outs;    /* owned: the outputs read, n_outs of them */
    int n_outs;
    /* Why reading the outputs stopped early (SF_OK when it did not). The
     * original loader read each output while marking it, after the graph
     * checks, so this error is reported then, not before a cycle. */
    sf_status_t outs_st;
    sf_err_t outs_err;
} gl_built_t;

/* Build the graph's name, inputs and active nodes (attrs typed against the
 * ops' descriptors) from e, with params p, for rank of world. *out is
 * filled as far as it got even on failure; finish it with gl_built_fini. */
SF_NODISCARD sf_status_t gl_nodes_build(const gl_entries_t *e, const gl_params_t *p, int rank,
                                        int world, gl_built_t *out, sf_err_t *err);
/* Frees what out still owns (g too, unless the caller took it). */
void gl_built_fini(gl_built_t *out);

#endif
