/* The graph IR: params, named tensors (edges), nodes, inputs and outputs,
 * every shape and attr already evaluated. A loaded graph is valid: ops
 * exist, attrs are typed, every input is defined exactly once, there is no
 * cycle, and every tensor's layout came from its op's shape rule. */
#ifndef SF_GRAPH_H
#define SF_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "op.h"
#include "status.h"
#include "tensor.h"
#include "value.h"

typedef struct sf_param {
    char *name; /* owned */
    sf_value_t value;
    sf_pos_t pos; /* where the value came from: a file, or "--set" */
} sf_param_t;

/* A named tensor: one edge of the graph. */
typedef struct sf_edge {
    char *name;         /* owned */
    sf_tensor_t layout; /* dtype, shape, strides, offset; buf is NULL */
    int producer;       /* node index; -1 for a graph input */
    int producer_slot;  /* which output of the producer */
    int view_of;        /* edge index this is a view of (producer's input 0), or -1 */
    bool is_input;
    bool is_output;
    sf_pos_t pos;       /* where it is declared (input) or produced (node's out list) */
} sf_edge_t;

struct sf_node {
    char *name; /* owned */
    const sf_op_desc_t *op; /* borrowed from the registry */
    int *in;    /* owned: edge indices, n_in of them */
    int n_in;
    int *out;   /* owned: edge indices, n_out of them */
    int n_out;
    sf_attr_t *attrs; /* owned: op->n_attrs entries, in the descriptor's order */
    sf_pos_t pos;     /* of the node's mapping in the YAML */
    /* The rank this graph was loaded for, of how many: the shape rules of
     * communication ops need them (a shard's size, an uneven chunk). */
    int rank;
    int world;
};

typedef struct sf_graph {
    char *name;           /* owned */
    sf_param_t *params;   /* owned, n_params, in first-seen order */
    int n_params;
    sf_edge_t *edges;   /* owned: every tensor, inputs first, then in production order */
    int n_edges;
    sf_node_t *nodes;     /* owned: the active nodes (their `when` held), in file order */
    int n_nodes;
    /* owned: n_nodes node indices in the one topological order everything
     * uses (shape inference, edge numbering, the plan): among ready nodes,
     * the one written first in the file. */
    int *order;
    int *inputs;          /* owned: edge indices of graph inputs */
    int n_inputs;
    int *outputs;         /* owned: edge indices of graph outputs */
    char **output_names;  /* owned: the name each output is written under */
    int n_outputs;
    char **files;         /* owned: every file read (positions point into these) */
    int n_files;
    int rank;             /* loaded for this rank of `world` (builtin params) */
    int world;
} sf_graph_t;

/* A `--set key=value` override. value is parsed like a YAML scalar (int,
 * float, bool, string, or a flow list "[1,2]"). Both strings borrowed. */
typedef struct sf_param_set {
    const char *key;
    const char *value;
} sf_param_set_t;

#define SF_GRAPH_MAX_FILE_BYTES (4u << 20)  /* a bigger YAML file is refused */
#define SF_GRAPH_MAX_ALIAS_NODES 100000     /* YAML alias expansion budget */

/* Load, check and shape-infer a graph from a buffer (which need not be
 * NUL-terminated). file_name is used in errors and to resolve includes
 * relative to its folder. sets override params; a key that names no
 * settable param is an error before anything else is checked.
 * On success *out is owned by the caller (sf_graph_free). On failure *out
 * is NULL and err names file:line:col. The op registry must be filled. */
SF_NODISCARD sf_status_t sf_graph_load_buffer(const char *buf, size_t len, const char *file_name,
                                              const sf_param_set_t *sets, int n_sets,
                                              sf_graph_t **out, sf_err_t *err);
/* Same, reading the file (size limit, UTF-8 and NUL checks included). */
SF_NODISCARD sf_status_t sf_graph_load_file(const char *path, const sf_param_set_t *sets,
                                            int n_sets, sf_graph_t **out, sf_err_t *err);

/* The same for one rank of a group: the builtin params `rank` and `world`
 * take these values (the plain loaders use rank 0 of 1). A graph file may
 * not define params with those names, and --set may not change them. */
SF_NODISCARD sf_status_t sf_graph_load_file_ranked(const char *path, const sf_param_set_t *sets,
                                                   int n_sets, int rank, int world,
                                                   sf_graph_t **out, sf_err_t *err);

/* A model provider turns the value of a graph's `model` param (say
 * "synthetic:tiny" or a checkpoint folder) into params: the config's sizes
 * (hidden_size, num_hidden_layers, ...). It runs after the file's params and
 * the --set of keys the file defines, and before the --set of keys it
 * defines; a param the file already defines is kept. graph_dir is the
 * folder of the root graph file. On success *defs (n entries) is owned by
 * the caller: names malloc'd, values finished with sf_value_fini. Errors
 * name the model (SF_ERR_INPUT).
 * param_names (borrowed, static: n_param_names entries) lists every name fn
 * may define, whatever the model: the loader checks --set keys against it
 * before fn runs, so a typo is reported instead of what fn finds wrong with
 * the default model. Defining a name not listed is the provider's bug
 * (SF_ASSERT). Set once at start-up; NULL fn for none. */
typedef struct sf_param_def {
    char *name;
    sf_value_t value;
} sf_param_def_t;
typedef sf_status_t (*sf_model_provider_fn)(const char *model, const char *graph_dir, int world,
                                            sf_param_def_t **defs, int *n, sf_err_t *err);
void sf_graph_set_model_provider(sf_model_provider_fn fn, const char *const *param_names,
                                 int n_param_names);

/* A hash of what every rank must agree on: the name, the params (all but
 * `rank`), the nodes' names, ops and tensors, the inputs and outputs. */
uint64_t sf_graph_hash(const sf_graph_t *g);

void sf_graph_free(sf_graph_t *g); /* NULL-safe */

/* Lookups; -1 / NULL when absent. */
int sf_graph_find_edge(const sf_graph_t *g, const char *name);
int sf_graph_find_node(const sf_graph_t *g, const char *name);
const sf_param_t *sf_graph_find_param(const sf_graph_t *g, const char *name);

/* (graph/node_attr.c) */
/* Typed attr access for shape rules and kernels. Asking for an attr the op
 * does not declare, or with the wrong type, is our bug (asserts). */
const sf_attr_t *sf_node_attr(const sf_node_t *node, const char *name);
int64_t sf_node_attr_int(const sf_node_t *node, const char *name);
double sf_node_attr_float(const sf_node_t *node, const char *name);
bool sf_node_attr_bool(const sf_node_t *node, const char *name);
const char *sf_node_attr_str(const sf_node_t *node, const char *name);
const int64_t *sf_node_attr_ints(const sf_node_t *node, const char *name, int *n);
sf_dtype_t sf_node_attr_dtype(const sf_node_t *node, const char *name);

#endif
