/* libshardflow: the public C interface. Load a graph with param overrides,
 * plan it (a rank's peak, the node at the peak and the bytes live at the
 * end, on the meta device: no memory touched, equal to a real run to the
 * byte), run it on the cpu with inputs from memory, step after step, and
 * read its outputs.
 *
 * Every type here is opaque or a plain struct of numbers and text, and the
 * error codes keep their values across releases, so the ABI is what this
 * file says (SHARDFLOW_API_VERSION grows when it changes). Nothing here is
 * thread-safe: use the library from one thread at a time. */
#ifndef SHARDFLOW_H
#define SHARDFLOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHARDFLOW_API_VERSION 1
#define SHARDFLOW_MAX_DIMS 8

/* What went wrong, by who can fix it. The values never change. */
typedef enum shardflow_code {
    SHARDFLOW_OK = 0,
    SHARDFLOW_ERR_PARSE = 1,       /* a file is not well formed (YAML, JSON, a header) */
    SHARDFLOW_ERR_GRAPH = 2,       /* well formed, not a valid graph: op, shape, cycle, param */
    SHARDFLOW_ERR_INPUT = 3,       /* another bad argument: a path, a name, a size, a dtype */
    SHARDFLOW_ERR_IO = 4,          /* the OS refused a read or write */
    SHARDFLOW_ERR_NOMEM = 5,       /* an allocation failed */
    SHARDFLOW_ERR_UNSUPPORTED = 6, /* valid, but this library cannot do it (e.g. run world > 1) */
    SHARDFLOW_ERR_OTHER = 7,       /* a device, a peer, a timeout */
} shardflow_code_t;

/* An error: its code, a message rendered like a compiler's
 * ("graph.yaml:14:9: error: node 'mm1': ..."), and where in the user's
 * file it points when known. Every fallible function takes
 * `shardflow_error_t **err` last: on failure, when err is not NULL, *err
 * receives a new error the caller frees; on success *err is set to NULL. */
typedef struct shardflow_error shardflow_error_t;

shardflow_code_t shardflow_error_code(const shardflow_error_t *e); /* SHARDFLOW_OK for NULL */
const char *shardflow_error_message(const shardflow_error_t *e);   /* "" for NULL; owned by e */
const char *shardflow_error_file(const shardflow_error_t *e);      /* "" when unknown */
int shardflow_error_line(const shardflow_error_t *e);              /* 1-based; 0 when unknown */
int shardflow_error_column(const shardflow_error_t *e);            /* 1-based; 0 when unknown */
/* The shardflow command's exit status for it: 2 for bad input (parse,
 * graph, input), 1 for anything else, 0 for NULL. */
int shardflow_error_exit_status(const shardflow_error_t *e);
void shardflow_error_free(shardflow_error_t *e); /* NULL-safe */

/* "0.1.0": the library's version. */
const char *shardflow_version(void);

/* One `--set KEY=VALUE`: value is read like a YAML scalar ("8", "0.5",
 * "all_to_all", "[1, 2]"). Both strings are borrowed for the call. */
typedef struct shardflow_set {
    const char *key;
    const char *value;
} shardflow_set_t;

/* A loaded, validated graph for one rank of `world` (every shape is known). */
typedef struct shardflow_graph shardflow_graph_t;

/* Load the graph file at path with sets applied, for rank `rank` of
 * `world` (1 and 0 for a single process). Errors: PARSE or GRAPH with the
 * file, line and column; INPUT for a bad rank/world or an unknown --set key. */
shardflow_code_t shardflow_graph_load(const char *path, const shardflow_set_t *sets, int n_sets,
                                      int rank, int world, shardflow_graph_t **out,
                                      shardflow_error_t **err);
void shardflow_graph_free(shardflow_graph_t *g); /* NULL-safe */

const char *shardflow_graph_name(const shardflow_graph_t *g); /* owned by g */
int shardflow_graph_n_inputs(const shardflow_graph_t *g);
const char *shardflow_graph_input_name(const shardflow_graph_t *g, int i); /* NULL past the end */
int shardflow_graph_n_outputs(const shardflow_graph_t *g);
/* The name an output is written under (a renamed output's new name). */
const char *shardflow_graph_output_name(const shardflow_graph_t *g, int i);

/* A tensor's description: dtype by name ("f32", "bf16", "f16", "i32",
 * "i64", "u8", ...), shape, and its bytes when contiguous. */
typedef struct shardflow_tensor_info {
    char dtype[16];
    int ndim;
    int64_t shape[SHARDFLOW_MAX_DIMS];
    uint64_t nbytes;
} shardflow_tensor_info_t;

/* The layout of the graph input or output (by its written name) `name`.
 * INPUT when no input or output has that name. */
shardflow_code_t shardflow_graph_tensor(const shardflow_graph_t *g, const char *name,
                                        shardflow_tensor_info_t *info, shardflow_error_t **err);

/* One rank's memory figures, planned or measured (counted bytes: every
 * buffer rounded up to 256). */
typedef struct shardflow_stats {
    int rank;
    uint64_t peak_bytes;    /* most bytes live at once */
    char peak_node[256];    /* the node during which the peak was first reached ("" if none) */
    uint64_t end_bytes;     /* live after the last node: outputs and weights */
    int64_t n_allocs;       /* allocations made */
    double wall_s;          /* executor time (plans: near 0) */
} shardflow_stats_t;

/* Plan g's rank on the meta device. free_policy: "eager" (NULL: eager) or
 * "end". steps >= 1: with steps > 1 the figures are those of the second
 * step (step 1, numbered from 0 as `run` numbers steps), which holds the
 * weights from its start and which every later step repeats (step 0's are
 * those of steps == 1). */
shardflow_code_t shardflow_plan(const shardflow_graph_t *g, const char *free_policy, int steps,
                                shardflow_stats_t *out, shardflow_error_t **err);

/* An executor of one graph on the cpu, kept across steps: weights are made
 * in the first step and kept. One rank only: a graph loaded with world > 1
 * is UNSUPPORTED here (use `shardflow run --nproc N`). g is borrowed and
 * must outlive the run. */
typedef struct shardflow_run shardflow_run_t;

shardflow_code_t shardflow_run_new(const shardflow_graph_t *g, const char *free_policy,
                                   shardflow_run_t **out, shardflow_error_t **err);
/* Give graph input `name`: C-contiguous data of nbytes, borrowed until the
 * last shardflow_run_step that reads it (an input given once serves every
 * later step). dtype and shape must match the graph's (i32 and i64 convert
 * into each other); INPUT otherwise, naming the tensor. */
shardflow_code_t shardflow_run_set_input(shardflow_run_t *r, const char *name, const char *dtype,
                                         int ndim, const int64_t *shape, const void *data,
                                         size_t nbytes, shardflow_error_t **err);
/* Run every node once (one step). Outputs of the previous step are released
 * first. stats (may be NULL) receives this step's figures. On failure
 * nothing is held, and the next step starts over. */
shardflow_code_t shardflow_run_step(shardflow_run_t *r, shardflow_stats_t *stats,
                                    shardflow_error_t **err);
/* After a successful step: output `name`'s layout, and its bytes copied
 * into dst (C-contiguous; nbytes must equal info.nbytes). */
shardflow_code_t shardflow_run_output(const shardflow_run_t *r, const char *name,
                                      shardflow_tensor_info_t *info, shardflow_error_t **err);
shardflow_code_t shardflow_run_output_copy(const shardflow_run_t *r, const char *name, void *dst,
                                           size_t nbytes, shardflow_error_t **err);
void shardflow_run_free(shardflow_run_t *r); /* NULL-safe; releases every buffer */

#ifdef __cplusplus
}
#endif

#endif
