/* Private layouts behind include/shardflow.h and the one translation of
 * internal errors (sf_err_t) into public ones. */
#ifndef SF_API_IMPL_H
#define SF_API_IMPL_H

#include "exec.h"
#include "graph.h"
#include "shardflow.h"

struct shardflow_error {
    shardflow_code_t code;
    int exit_status;
    char file[256];
    int line;
    int col;
    char message[1024];
};

struct shardflow_graph {
    sf_graph_t *g; /* owned */
};

struct shardflow_run {
    const shardflow_graph_t *graph; /* borrowed: the caller keeps it alive */
    sf_exec_t *ex;                  /* owned */
    sf_tensor_t *inputs;            /* owned: per graph input, the caller's data described */
    sf_buffer_t *input_bufs;        /* owned: records pointing at the caller's data */
    bool has_outputs;               /* a step succeeded and nothing was released since */
};

/* Hand err to the caller as a new public error (when out is not NULL) and
 * return its public code. */
shardflow_code_t sf_api_fail(const sf_err_t *err, shardflow_error_t **out);
/* The public code of an internal status. */
shardflow_code_t sf_api_code(sf_status_t st);
/* *out = NULL, the success half of every entry point's contract. */
void sf_api_clear(shardflow_error_t **out);
/* "eager" / "end" / NULL (eager) into a policy; INPUT otherwise. */
sf_status_t sf_api_free_policy(const char *name, sf_free_policy_t *out, sf_err_t *err);
/* The layout of t as the public struct (nbytes as if contiguous). */
void sf_api_tensor_info(const sf_tensor_t *t, shardflow_tensor_info_t *info);

/* An executor's figures as the public struct, for g's rank. */
void sf_api_stats_out(const sf_graph_t *g, const sf_exec_stats_t *s, shardflow_stats_t *out);

#endif
