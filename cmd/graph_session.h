/* One rank's execution of a loaded graph, as `run` and `plan` both do it:
 * inputs from a safetensors file, a trace, outputs to DIR/rank<R>.safetensors.
 * Figures go into an sf_rank_report_t for the shared report printer. */
#ifndef SF_GRAPH_SESSION_H
#define SF_GRAPH_SESSION_H

#include <stdbool.h>

#include "exec.h"
#include "graph.h"
#include "trace.h"

typedef struct sf_session_opts {
    sf_device_t *dev;          /* borrowed */
    sf_free_policy_t free_policy;
    int rank;
    int world;
    const char *inputs_path;   /* NULL: no inputs file */
    const char *out_dir;       /* NULL: outputs are not written */
    bool overwrite;
    sf_trace_t *trace;         /* borrowed, NULL for none */
    struct sf_comm *comm;      /* borrowed; NULL for none (one rank) */
    int step;                  /* which batch of the inputs file this run takes */
    int n_steps;               /* how many steps the whole run has (1: no step folders) */
    uint64_t mem_limit;        /* --mem-limit: most bytes live at once; 0 for none */
    bool no_alias;             /* --alias off: no buffer computed in place */
    /* (optional) Also sees every alloc and free of the run (after the
     * trace, when there is one): plan's per-category breakdown. NULL: none. */
    sf_mem_observer_fn observer;
    void *observer_ctx;        /* borrowed: passed to observer */
} sf_session_opts_t;

/* One in-place placement as the report names it. */
typedef struct sf_report_alias {
    char tensor[96];  /* the buffer computed in place */
    char host[96];    /* the tensor it lives in */
    char node[96];    /* the reader whose slot it is */
    int64_t offset_bytes;
} sf_report_alias_t;

/* How many placements a report names; more are counted, not named. */
#define SF_REPORT_MAX_ALIASES 32

typedef struct sf_rank_report {
    int rank;
    sf_exec_stats_t stats;
    char peak_node[256];
    double *node_us;           /* owned: per graph node, NULL unless asked */
    /* The live set at the peak after a run that succeeded; at the failed
     * allocation when one failed with SF_ERR_NOMEM (mem_failed). Its names
     * are borrowed from the graph. */
    sf_mem_snapshot_t mem_snap;
    bool mem_failed;
    char floor_node[256];      /* stats.floor_node points here */
    int n_aliases;             /* placements the plan made */
    sf_report_alias_t aliases[SF_REPORT_MAX_ALIASES]; /* the first of them */
    /* run only: payload bytes this rank's collectives sent to other ranks
     * during the steps, as the comm counted them (sf_comm_sent_bytes);
     * has_sent_bytes false for a plan or a backend that cannot tell. */
    uint64_t sent_bytes;
    bool has_sent_bytes;
} sf_rank_report_t;

/* Run g once for one rank. Fills report. want_node_times keeps per-node
 * times (caller frees report->node_us). */
SF_NODISCARD sf_status_t sf_session_run(const sf_graph_t *g, const sf_session_opts_t *o,
                                        bool want_node_times, sf_rank_report_t *report,
                                        sf_err_t *err);

/* One rank's executor kept across the steps of a run: the inputs file is
 * opened once, persistent buffers (weights) are made in the first step and
 * kept, and each step writes its own outputs. */
typedef struct sf_session sf_session_t;

/* Prepare g (borrowed, as are o's pointers: both must outlive the session)
 * and open the inputs file. Nothing runs yet. */
SF_NODISCARD sf_status_t sf_session_open(const sf_graph_t *g, const sf_session_opts_t *o,
                                         sf_session_t **out, sf_err_t *err);
/* Run step `step` (batch `step` of the inputs file, outputs to its step
 * folder); the report's figures are this step's alone (its peak, wall time
 * and allocations). On failure nothing is held, and report->mem_snap tells
 * what was live at a failed allocation (mem_failed). */
SF_NODISCARD sf_status_t sf_session_step(sf_session_t *s, int step, bool want_node_times,
                                         sf_rank_report_t *report, sf_err_t *err);
void sf_session_close(sf_session_t *s); /* NULL-safe */

/* The first step of g and, when n_steps > 1, the second (which every later
 * step repeats: the same buffers, the weights kept) on one executor, into
 * steps[0] and steps[1] (zeroed when not run). With o->dev meta this is the
 * plan of a multi-step run. Step 2 holds every weight from its first
 * position on, so its peak may pass step 1's, never the reverse. */
SF_NODISCARD sf_status_t sf_session_plan_steps(const sf_graph_t *g, const sf_session_opts_t *o,
                                               int n_steps, sf_rank_report_t steps[2],
                                               sf_err_t *err);

/* --mem-limit, before anything runs: plan g on meta for o->rank (two
 * steps when o->n_steps > 1, keeping the higher peak; no
 * inputs, no outputs, no trace: plan == run to the byte) into *planned.
 * A planned peak over limit is SF_ERR_INPUT naming the rank, the peak, the
 * limit and the node at the peak; planned->mem_snap then holds the largest
 * buffers live there, for sf_report_print_mem_snapshot. */
SF_NODISCARD sf_status_t sf_session_check_mem_limit(const sf_graph_t *g,
                                                    const sf_session_opts_t *o, uint64_t limit,
                                                    sf_rank_report_t *planned, sf_err_t *err);

/* DIR/rank<R>.safetensors, or DIR/step<K>/rank<R>.safetensors when a run
 * has several steps, into out. */
void sf_session_output_path(const char *dir, int rank, int step, int n_steps, char *out, size_t n);

/* Refuse early (before anything runs) an output that exists without
 * --overwrite, or an output folder that is not a folder. Creates nothing:
 * missing folders are made when the outputs are written (and removed again
 * if that write fails), so a failed run leaves no empty --out folder. */
SF_NODISCARD sf_status_t sf_session_check_out(const char *dir, int rank, int n_steps,
                                              bool overwrite, sf_err_t *err);

/* FNV-1a 64 of the bytes of the inputs file at path: every rank of a job
 * must read the same batch, and the rendezvous compares this. */
SF_NODISCARD sf_status_t sf_session_inputs_hash(const char *path, uint64_t *hash, sf_err_t *err);

/* How many batches the inputs file holds for g: each graph input's rows
 * (dim 0) may repeat K times in the file; every input must agree on K.
 * Errors name the tensor and both shapes (SF_ERR_INPUT). */
SF_NODISCARD sf_status_t sf_session_count_batches(const sf_graph_t *g, const char *inputs_path,
                                                  int *n_batches, sf_err_t *err);

#endif
