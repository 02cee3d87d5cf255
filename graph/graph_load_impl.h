/* Private to the loader (graph_load.c, graph_params.c, graph_sets.c,
 * graph_nodes.c, validate.c): the state of one sf_graph_load_* call. The YAML documents
 * stay alive until the graph is built, so raw ynode pointers are borrowed
 * from them; the file names are handed to the graph on success. */
#ifndef SF_GRAPH_LOAD_IMPL_H
#define SF_GRAPH_LOAD_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "graph.h"
#include "graph_names.h"
#include "xalloc.h"
#include "yaml_doc.h"

#define SF_GRAPH_MAX_INCLUDE_DEPTH 16

/* Grow a (ptr, n, cap) array by one slot; aborts on host OOM (inputs are
 * bounded by the file size limit). Evaluates to the new slot. */
#define GL_PUSH(arr, n, cap)                                                   \
    (*(gl_grow((void **)&(arr), &(cap), (n) + 1, sizeof *(arr)), &(arr)[(n)++]))

void gl_grow(void **arr, int *cap, int need, size_t elem);

typedef struct gl_ctx {
    sf_err_t *err;
    int rank;  /* the builtin params */
    int world;
    char **files; /* owned; every file read; handed to the graph on success */
    int n_files, cap_files;
    char **real_paths; /* owned: canonical path per loaded file (include once) */
    int n_real, cap_real;
    const char **chain; /* borrowed from files: the include stack, for loops */
    int n_chain, cap_chain;
    sf_ydoc_t **docs; /* owned */
    int n_docs, cap_docs;
    const sf_ynode_t *name; /* borrowed: the root file's `name` value */
    const sf_ynode_t *root; /* borrowed: the root file's top mapping */
    sf_param_t *params;     /* owned; handed to the graph */
    int n_params, cap_params;
    sf_graph_names_t param_names; /* keys borrowed from params[].name */
    const sf_ynode_t **in_keys; /* borrowed: `inputs` entries, include-first */
    const sf_ynode_t **in_vals;
    int n_ins, cap_ins, cap_ins2;
    const sf_ynode_t **nodes; /* borrowed: `nodes` items, include-first */
    int n_nodes, cap_nodes;
    const sf_ynode_t **outs; /* borrowed: `outputs` items, include-first */
    int n_outs, cap_outs;
    const sf_ynode_t **checks; /* borrowed: `checks` items, include-first */
    int n_checks, cap_checks;
    /* The variable of the `repeat` block being built, seen by ${} and
     * expressions before params. scope_var borrowed; NULL outside a block. */
    const char *scope_var;
    sf_value_t scope_val;
} gl_ctx_t;

/* A node while it is being built: tensor names stay names until validate
 * numbers the values. Parallel to graph->nodes. */
typedef struct gl_bnode {
    char **in_names; /* owned (strings too): after ${} substitution */
    sf_pos_t *in_pos; /* owned */
    int n_in;
    char **out_names; /* owned (strings too) */
    sf_pos_t *out_pos; /* owned */
    int n_out;
    sf_pos_t name_pos;
} gl_bnode_t;

/* graph_params.c ------------------------------------------------------------- */

/* Type a YAML node as a param value (plain scalars become int, float or
 * bool when they read as one; quoted ones stay strings). what names it in
 * errors. On success *out is owned by the caller. */
SF_NODISCARD sf_status_t gl_value_from_ynode(gl_ctx_t *c, const sf_ynode_t *y, const char *what,
                                             sf_value_t *out);
/* Define or override a param. Takes v. */
void gl_param_set(gl_ctx_t *c, const char *name, sf_value_t v, sf_pos_t pos);
SF_NODISCARD sf_status_t gl_apply_sets(gl_ctx_t *c, const sf_param_set_t *sets, int n_sets);
const sf_value_t *gl_lookup(void *ctx, const char *name, size_t len);

/* Readers for typed slots; every scalar goes through ${param} substitution
 * first. what prefixes error messages ("node 'a': attr 'dim'"). */
SF_NODISCARD sf_status_t gl_subst(gl_ctx_t *c, const sf_ynode_t *y, char **out, bool *is_changed);
SF_NODISCARD sf_status_t gl_read_string(gl_ctx_t *c, const sf_ynode_t *y, const char *what,
                                        char **out);
SF_NODISCARD sf_status_t gl_read_int(gl_ctx_t *c, const sf_ynode_t *y, const char *what,
                                     int64_t *out);
SF_NODISCARD sf_status_t gl_read_ints(gl_ctx_t *c, const sf_ynode_t *y, const char *what,
                                      int64_t **out, int *n, sf_pos_t **item_pos);
SF_NODISCARD sf_status_t gl_read_float(gl_ctx_t *c, const sf_ynode_t *y, const char *what,
                                       double *out);
SF_NODISCARD sf_status_t gl_read_bool(gl_ctx_t *c, const sf_ynode_t *y, const char *what,
                                      bool *out);
SF_NODISCARD sf_status_t gl_read_dtype(gl_ctx_t *c, const sf_ynode_t *y, const char *what,
                                       sf_dtype_t *out);
SF_NODISCARD sf_status_t gl_read_cond(gl_ctx_t *c, const sf_ynode_t *y, const char *what,
                                      bool *out);

/* graph_sets.c ---------------------------------------------------------------- */

/* Check every --set key before any is applied or any param is read, so a
 * typo is not hidden behind what the default value of the meant param
 * breaks. A key may name a param of the file or one of model_params (the
 * names the model provider declares; NULL when it will not run), never
 * `rank` or `world`. The first bad key in command-line order is the error:
 * SF_ERR_INPUT with no position, the closest settable name when one is
 * close, and the settable names. */
SF_NODISCARD sf_status_t gl_sets_check_keys(const gl_ctx_t *c, const sf_param_set_t *sets,
                                            int n_sets, const char *const *model_params,
                                            int n_model_params);

/* graph_nodes.c ---------------------------------------------------------------- */

/* Build g's inputs (as its first values) and active nodes from c. On
 * success *bnodes (owned, g->n_nodes entries) holds the nodes' tensor names. */
SF_NODISCARD sf_status_t gl_build_nodes(gl_ctx_t *c, sf_graph_t *g, gl_bnode_t **bnodes);
void gl_bnodes_free(gl_bnode_t *b, int n);

/* validate.c ---------------------------------------------------------------- */

/* Wire the values (producers, views, outputs), check the graph (every tensor
 * produced once, defined before use, no cycle, outputs produced) and infer
 * every layout in a topological order. */
SF_NODISCARD sf_status_t gl_validate(gl_ctx_t *c, sf_graph_t *g, const gl_bnode_t *bnodes);

#endif
