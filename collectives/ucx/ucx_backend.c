/* The UCX backend's table, and its algorithm choice as data: the first row
 * matching the collective wins. Host memory only (device buffers go to
 * NCCL). */
#include <stddef.h>

#include "ucx_impl.h"

typedef struct ucx_rule {
    sf_coll_kind_t kind;
    const ucx_algo_t *algo; /* borrowed: a static table */
} ucx_rule_t;

static const ucx_rule_t ucx_rules[] = {
    {SF_COLL_ALLGATHER, &ucx_allgather_ring},      {SF_COLL_ALLTOALLV, &ucx_alltoallv_pairwise},
    {SF_COLL_ALLREDUCE, &ucx_allreduce_ring},      {SF_COLL_BROADCAST, &ucx_broadcast_binomial},
    {SF_COLL_BARRIER, &ucx_barrier_dissemination},
};

const ucx_algo_t *ucx_algo_select(const sf_coll_args_t *args)
{
    for (size_t i = 0; i < sizeof ucx_rules / sizeof ucx_rules[0]; i++)
        if (ucx_rules[i].kind == args->kind)
            return ucx_rules[i].algo;
    SF_ASSERT(!"a collective kind without a UCX algorithm"); /* the wrapper checked the kind */
    return NULL;
}

static bool ucx_supports(sf_coll_kind_t kind, sf_memkind_t mem)
{
    return (unsigned)kind < SF_COLL_KIND_COUNT && mem == SF_MEMKIND_HOST;
}

const sf_comm_iface_t sf_comm_ucx = {
    .name = "ucx",
    .supports = ucx_supports,
    .init = ucx_comm_init,
    .start = ucx_comm_start,
    .progress = ucx_comm_progress,
    .test = ucx_comm_test,
    .req_free = ucx_comm_req_free,
    .finalize = ucx_comm_finalize,
};
