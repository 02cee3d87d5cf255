/* chunk_pipe: the double-buffered loop of the chunked ops that exchange as
 * they compute (lm_head_redistribute, teacher_vp). Two slots: chunk c + 1
 * is computed into one while chunk c's collective travels from the other;
 * c's results are unpacked once it has arrived, then c + 1 leaves. One
 * collective is in flight at a time, started in chunk order, so every rank
 * issues the same sequence. The pipe owns the requests; the op owns the
 * slots' buffers and their sf_coll_args_t (borrowed until the request is
 * freed). */
#ifndef SF_CHUNK_PIPE_H
#define SF_CHUNK_PIPE_H
#include <stdbool.h>
#include <stdint.h>

#include "coll.h"

typedef struct sf_chunk_pipe_ops {
    /* Compute chunk c into slot k (0 or 1) and fill its collective args.
     * in_flight is the other slot's request (NULL when none), to pass to
     * sf_comm_test between products. Required. */
    sf_status_t (*compute)(void *ctx, int64_t c, int k, void *in_flight, sf_err_t *err);
    /* Slot k's collective args, as compute filled them. Required. */
    const sf_coll_args_t *(*args)(void *ctx, int k);
    /* Slot k's collective has completed: write its results. Required. */
    sf_status_t (*unpack)(void *ctx, int k, sf_err_t *err);
} sf_chunk_pipe_ops_t;

/* Run chunks 0 .. n_chunks - 1. overlap false: each chunk is waited for
 * before the next is computed (to measure what the overlap buys). Blocks
 * (sf_coll_wait). Every request is freed, also on error. */
SF_NODISCARD sf_status_t sf_chunk_pipe_run(sf_comm_t *comm, int64_t n_chunks, bool overlap,
                                           const sf_chunk_pipe_ops_t *ops, void *ctx,
                                           sf_err_t *err);
#endif
