/* The emulate backend: one process stands in for rank R of a world of N that
 * does not exist. Every collective completes inside start with exactly the
 * sizes the real one writes and values that are not real: each slot the rank
 * would receive from a peer gets what the rank itself sends (to that peer, or
 * to all), cut or zero-padded to the slot's size. It allocates nothing and
 * writes only into the caller's buffers (the executor's tracked outputs and
 * scratch), as the real backends do, so rank R's plan is the run's peak. */
#include <string.h>

#include "coll.h"

/* Collectives finish inside start; every request is this one token. */
static char emulate_done_token;

/* Host memory, and GPU memory where the build has CUDA (sf_coll_copy). */
static bool emulate_supports(sf_coll_kind_t kind, sf_memkind_t mem)
{
    return (unsigned)kind < SF_COLL_KIND_COUNT && sf_coll_copy_supports(mem);
}

static sf_status_t emulate_init(sf_comm_t *comm, sf_bootstrap_t *bs, sf_err_t *err)
{
    if (bs != NULL)
        return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL,
                          "backend 'emulate' has no peers to meet: it stands in for one rank alone "
                          "(shardflow run --emulate-world N --emulate-rank R)");
    if (comm->world < 1 || comm->rank < 0 || comm->rank >= comm->world)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "backend 'emulate': rank %d is not a rank of a world of %d", comm->rank,
                          comm->world);
    /* No algorithm runs, so one forced by SF_COLL_ALGO for the real
     * backends has nothing to pick; keeping it would refuse every
     * collective (the rule walk finds no row of that name here). */
    for (int k = 0; k < SF_COLL_KIND_COUNT; k++)
        comm->forced[k] = NULL;
    comm->impl = NULL;
    return SF_OK;
}

/* Every byte an emulated collective writes goes through here: dst gets the
 * first min(dst_bytes, src_bytes) bytes of src (src NULL: none) and zeros
 * after them, on host or GPU memory (sf_coll_copy: overlap allowed, as an
 * in-place collective may hand overlapping send and receive). */
static sf_status_t emulate_fill(sf_memkind_t mem, void *dst, uint64_t dst_bytes, const void *src,
                                uint64_t src_bytes, sf_err_t *err)
{
    uint64_t n = src == NULL ? 0 : src_bytes < dst_bytes ? src_bytes : dst_bytes;
    sf_status_t st = sf_coll_copy(mem, dst, src, n, err);
    if (st == SF_OK && dst_bytes > n)
        st = sf_coll_zero(mem, (char *)dst + n, dst_bytes - n, err);
    return st;
}

/* The first failed fill ends the collective with its error. */
#define FILL(...)                                                              \
    do {                                                                       \
        sf_status_t fill_st = emulate_fill(__VA_ARGS__, err);                  \
        if (fill_st != SF_OK)                                                  \
            return fill_st;                                                    \
    } while (0)

static sf_status_t emulate_start(sf_comm_t *comm, const sf_coll_args_t *a, void **req,
                                 sf_err_t *err)
{
    uint64_t es = sf_dtype_size(a->dtype);
    const char *send = a->send;
    char *recv = a->recv;
    int me = comm->rank;
    switch (a->kind) {
    case SF_COLL_ALLGATHER:
        /* Own slot first: an in-place send sits there, and the other
         * slots copy from it. */
        FILL(a->mem, recv + (uint64_t)me * a->count * es, a->count * es, send,
                     a->count * es);
        for (int p = 0; p < comm->world; p++)
            if (p != me)
                FILL(a->mem, recv + (uint64_t)p * a->count * es, a->count * es,
                             recv + (uint64_t)me * a->count * es, a->count * es);
        break;
    case SF_COLL_ALLGATHERV:
        FILL(a->mem, recv + a->recv_displs[me] * es, a->recv_counts[me] * es, send,
                     a->recv_counts[me] * es);
        for (int p = 0; p < comm->world; p++)
            if (p != me)
                FILL(a->mem, recv + a->recv_displs[p] * es, a->recv_counts[p] * es,
                             recv + a->recv_displs[me] * es, a->recv_counts[me] * es);
        break;
    case SF_COLL_ALLTOALLV:
        /* Peer p would send its own piece; what this rank sends p stands
         * in for it, at the size p's piece has. */
        for (int p = 0; p < comm->world; p++)
            FILL(a->mem, recv + a->recv_displs[p] * es, a->recv_counts[p] * es,
                         send + a->send_displs[p] * es, a->send_counts[p] * es);
        break;
    case SF_COLL_ALLREDUCE:
        /* This rank's values stand for the reduction of every rank's. */
        FILL(a->mem, recv, a->count * es, send, a->count * es);
        break;
    case SF_COLL_BROADCAST:
        /* The root's data is nowhere here: zeros, the same on every run. */
        if (me != a->root)
            FILL(a->mem, recv, a->count * es, NULL, 0);
        break;
    case SF_COLL_BARRIER:
    default:
        break;
    }
    *req = &emulate_done_token;
    return SF_OK;
}

static sf_status_t emulate_test(sf_comm_t *comm, void *req, sf_err_t *err)
{
    (void)comm;
    (void)req;
    (void)err;
    return SF_OK;
}

static void emulate_req_free(sf_comm_t *comm, void *req)
{
    (void)comm;
    (void)req;
}

static void emulate_finalize(sf_comm_t *comm)
{
    (void)comm;
}

const sf_comm_iface_t sf_comm_emulate = {
    .name = "emulate",
    .supports = emulate_supports,
    .init = emulate_init,
    /* No rule rows: emulation is not an algorithm to choose, so the
     * wrapper falls back to this start for every collective. */
    .start = emulate_start,
    .progress = NULL,
    .test = emulate_test,
    .req_free = emulate_req_free,
    .finalize = emulate_finalize,
};
