/* The executor: runs a plan on one device, allocating each buffer when its
 * producer runs (inputs before the first position) and releasing it after the
 * position the plan names. On `meta` no memory is touched and no kernel runs,
 * but every allocation is counted the same, so plan == run to the byte. */
#ifndef SF_EXEC_H
#define SF_EXEC_H

#include "graph.h"
#include "mem.h"
#include "plan.h"
#include "trace.h"

typedef struct sf_exec_opts {
    sf_free_policy_t free_policy;
    sf_trace_t *trace; /* borrowed; NULL for none. Events carry the graph's rank
                        * (sf_graph_t.rank), the one the shapes were made for. */
    struct sf_comm *comm; /* borrowed; collectives backend (NULL: one rank, and
                           * the executor gives kernels the self comm) */
    bool no_alias;        /* true: every buffer its own allocation (`--alias off`);
                           * false (the default): the plan computes in place */
} sf_exec_opts_t;

typedef struct sf_exec_stats {
    uint64_t peak_bytes;
    const char *peak_node; /* borrowed from the graph; "" if nothing was allocated */
    uint64_t end_bytes;    /* live after the last position: outputs and kept buffers */
    int64_t n_allocs;
    double wall_s;         /* the steps, from first allocation to last free */
    /* The floor: what any schedule of this graph on this rank must hold at
     * its fullest moment. kept_bytes (outputs and persistent tensors, held
     * to the end) plus the largest set one node needs at once (its inputs,
     * outputs and scratch that are not kept). All counted bytes, as
     * peak_bytes is. */
    uint64_t kept_bytes;
    uint64_t output_bytes;     /* of kept_bytes, the outputs' */
    uint64_t persistent_bytes; /* of kept_bytes, persistent tensors' (weights) */
    uint64_t floor_bytes;
    const char *floor_node; /* borrowed: the node whose set is largest; "<end>": the kept bytes */
    /* The device allocator's highest reserved bytes (cuda: the pool's; 0 on
     * cpu and meta, whose allocators cache nothing). */
    uint64_t reserved_peak_bytes;
    /* The driver's used bytes at their highest (cuda: cudaMemGetInfo, the
     * context and library workspaces included; 0 where not known). */
    uint64_t device_used_peak_bytes;
} sf_exec_stats_t;

typedef struct sf_exec sf_exec_t;

/* Prepare to run g (borrowed, must outlive the executor) on dev. */
SF_NODISCARD sf_status_t sf_exec_new(const sf_graph_t *g, sf_device_t *dev,
                                     const sf_exec_opts_t *opts, sf_exec_t **out, sf_err_t *err);
/* Give the data of graph input `name` (a host tensor, borrowed until
 * sf_exec_run returns). The shape must match; i32 and i64 convert into each
 * other, other dtype differences are refused. */
SF_NODISCARD sf_status_t sf_exec_set_input(sf_exec_t *ex, const char *name,
                                           const sf_tensor_t *host, sf_err_t *err);
/* Run every node once, in the plan's order. On a device that touches memory every input must
 * have been given. On failure every buffer is already released.
 *
 * May be called again, once per step (give new inputs with sf_exec_set_input
 * in between; the old ones stay bound otherwise). A later run first releases
 * the previous run's buffers (its outputs: read them before), except the
 * persistent ones (outputs of an op with outputs_persist, e.g. `weight`),
 * which stay live and whose producers do not run again (no kernel, no trace
 * event). The stats then describe that run alone: its peak counts the
 * persistent buffers from its first position on, n_allocs and wall_s are its
 * own. After a failed run nothing is held, and the next run starts as the
 * first did. */
SF_NODISCARD sf_status_t sf_exec_run(sf_exec_t *ex, sf_err_t *err);

/* After a successful run: the bound tensor of edge e (outputs stay valid
 * until the next sf_exec_run or sf_exec_free; persistent ones until
 * sf_exec_free), and the figures. */
const sf_tensor_t *sf_exec_tensor(const sf_exec_t *ex, int v);
sf_exec_stats_t sf_exec_stats(const sf_exec_t *ex);
/* Wall time of the node at graph index i during the run, in microseconds. */
double sf_exec_node_us(const sf_exec_t *ex, int i);
const sf_plan_t *sf_exec_plan(const sf_exec_t *ex);
/* How many times sf_exec_run has been called. */
int sf_exec_n_runs(const sf_exec_t *ex);
/* Counted bytes of the persistent buffers held now (kept for the next run). */
uint64_t sf_exec_persistent_bytes(const sf_exec_t *ex);
sf_mem_t *sf_exec_mem(sf_exec_t *ex);

/* Releases every buffer still held (recorded as freed by "<end>") and the
 * executor. NULL-safe. */
void sf_exec_free(sf_exec_t *ex);

#endif
