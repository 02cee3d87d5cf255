/* The UCX backend's table, and one start per algorithm for the rule table
 * (collectives/coll_rules.c), which decides which runs. Host memory only
 * (device buffers go to NCCL). */
#include "coll_rules.h"
#include "ucx_impl.h"

sf_status_t sf_ucx_allgather_ring_start(sf_comm_t *comm, const sf_coll_args_t *args, void **req,
                                        sf_err_t *err)
{
    return ucx_coll_start(comm, args, &ucx_allgather_ring, req, err);
}

sf_status_t sf_ucx_allgatherv_ring_start(sf_comm_t *comm, const sf_coll_args_t *args, void **req,
                                         sf_err_t *err)
{
    return ucx_coll_start(comm, args, &ucx_allgatherv_ring, req, err);
}

sf_status_t sf_ucx_alltoallv_pairwise_start(sf_comm_t *comm, const sf_coll_args_t *args,
                                            void **req, sf_err_t *err)
{
    return ucx_coll_start(comm, args, &ucx_alltoallv_pairwise, req, err);
}

sf_status_t sf_ucx_allreduce_ring_start(sf_comm_t *comm, const sf_coll_args_t *args, void **req,
                                        sf_err_t *err)
{
    return ucx_coll_start(comm, args, &ucx_allreduce_ring, req, err);
}

sf_status_t sf_ucx_allreduce_direct_start(sf_comm_t *comm, const sf_coll_args_t *args,
                                          void **req, sf_err_t *err)
{
    /* Both ranks decide alike: maps_both was agreed at the probe. */
    const ucx_comm_t *ux = comm->impl;
    if (comm->world != 2 || ux->maps_both == NULL || !ux->maps_both[1 - comm->rank])
        return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL,
                          "all_reduce 'direct' needs 2 ranks that map each other's arena");
    return ucx_coll_start(comm, args, &ucx_allreduce_direct, req, err);
}

sf_status_t sf_ucx_allreduce_halves_start(sf_comm_t *comm, const sf_coll_args_t *args,
                                          void **req, sf_err_t *err)
{
    /* Two halves need two ranks; the next rule row (the ring) takes the rest. */
    if (comm->world != 2)
        return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL, "all_reduce 'halves' needs 2 ranks, not %d",
                          comm->world);
    return ucx_coll_start(comm, args, &ucx_allreduce_halves, req, err);
}

sf_status_t sf_ucx_broadcast_binomial_start(sf_comm_t *comm, const sf_coll_args_t *args,
                                            void **req, sf_err_t *err)
{
    return ucx_coll_start(comm, args, &ucx_broadcast_binomial, req, err);
}

sf_status_t sf_ucx_barrier_dissemination_start(sf_comm_t *comm, const sf_coll_args_t *args,
                                               void **req, sf_err_t *err)
{
    return ucx_coll_start(comm, args, &ucx_barrier_dissemination, req, err);
}

static bool ucx_supports(sf_coll_kind_t kind, sf_memkind_t mem)
{
    return (unsigned)kind < SF_COLL_KIND_COUNT && mem == SF_MEMKIND_HOST;
}

const sf_comm_iface_t sf_comm_ucx = {
    .name = "ucx",
    .supports = ucx_supports,
    .init = ucx_comm_init,
    .start = NULL, /* every collective has a rule row */
    .progress = ucx_comm_progress,
    .test = ucx_comm_test,
    .req_free = ucx_comm_req_free,
    .finalize = ucx_comm_finalize,
    .sent_bytes = ucx_comm_sent_bytes,
    .read_in_place_bytes = ucx_comm_read_in_place_bytes,
};
