/* chunk_pipe: two chunks in flight (see chunk_pipe.h). */
#include "chunk_pipe.h"

#include <stddef.h>

static sf_status_t chunk_pipe_finish(sf_comm_t *comm, const sf_chunk_pipe_ops_t *ops,
                                     void *ctx, int k, void **req, sf_err_t *err)
{
    sf_status_t st = sf_coll_wait(comm, req[k], ops->args(ctx, k), err);
    sf_comm_req_free(comm, req[k]);
    req[k] = NULL;
    return st != SF_OK ? st : ops->unpack(ctx, k, err);
}

sf_status_t sf_chunk_pipe_run(sf_comm_t *comm, int64_t n_chunks, bool overlap,
                              const sf_chunk_pipe_ops_t *ops, void *ctx, sf_err_t *err)
{
    void *req[2] = {NULL, NULL};
    sf_status_t st = SF_OK;
    if (n_chunks > 0 && (st = ops->compute(ctx, 0, 0, NULL, err)) == SF_OK)
        st = sf_comm_start(comm, ops->args(ctx, 0), &req[0], err);
    for (int64_t c = 0; st == SF_OK && c < n_chunks; c++) {
        int cur = (int)(c % 2), next = 1 - cur;
        bool more = c + 1 < n_chunks;
        /* Compute the next chunk now; start its exchange only after this
         * one's wait (one collective in flight at a time). */
        if (!overlap)
            st = chunk_pipe_finish(comm, ops, ctx, cur, req, err);
        if (st == SF_OK && more)
            st = ops->compute(ctx, c + 1, next, req[cur], err);
        if (st == SF_OK && overlap)
            st = chunk_pipe_finish(comm, ops, ctx, cur, req, err);
        if (st == SF_OK && more)
            st = sf_comm_start(comm, ops->args(ctx, next), &req[next], err);
    }
    for (int k = 0; k < 2; k++)
        if (req[k] != NULL)
            sf_comm_req_free(comm, req[k]);
    return st;
}
