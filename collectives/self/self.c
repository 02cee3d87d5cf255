/* The loopback backend: one rank, so every collective is a local copy (or
 * nothing). It is the reference the other backends are compared with, and
 * what a single-rank run uses without any network setup. */
#include <string.h>

#include "coll_rules.h"

/* Collectives finish inside start; every request is this one token. */
static char self_done_token;

static bool self_supports(sf_coll_kind_t kind, sf_memkind_t mem)
{
    /* One rank on a GPU copies on the device where the build has CUDA. */
    return (unsigned)kind < SF_COLL_KIND_COUNT && sf_coll_copy_supports(mem);
}

static sf_status_t self_init(sf_comm_t *comm, sf_bootstrap_t *bs, sf_err_t *err)
{
    (void)bs;
    if (comm->world != 1)
        return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL,
                          "backend 'self' runs a single rank, but the world has %d", comm->world);
    comm->impl = NULL;
    return SF_OK;
}

sf_status_t sf_self_start(sf_comm_t *comm, const sf_coll_args_t *a, void **req, sf_err_t *err)
{
    (void)comm;
    size_t es = sf_dtype_size(a->dtype);
    const char *what = a->what != NULL ? a->what : "";
    sf_status_t st = SF_OK;
    switch (a->kind) {
    case SF_COLL_ALLGATHER:
    case SF_COLL_ALLREDUCE:
        st = sf_coll_copy(a->mem, a->recv, a->send, a->count * es, err);
        break;
    case SF_COLL_ALLTOALLV:
        if (a->send_counts[0] != a->recv_counts[0])
            return sf_err_set(err, SF_ERR_INPUT, NULL,
                              "all_to_all %s: rank 0 sends itself %llu elements but expects %llu",
                              what, (unsigned long long)a->send_counts[0],
                              (unsigned long long)a->recv_counts[0]);
        st = sf_coll_copy(a->mem, (char *)a->recv + a->recv_displs[0] * es,
                       (const char *)a->send + a->send_displs[0] * es, a->send_counts[0] * es, err);
        break;
    case SF_COLL_ALLGATHERV:
        st = sf_coll_copy(a->mem, (char *)a->recv + a->recv_displs[0] * es, a->send,
                       a->recv_counts[0] * es, err);
        break;
    case SF_COLL_BROADCAST: /* the root's buffer is already everyone's */
    case SF_COLL_BARRIER:
    default:
        break;
    }
    if (st != SF_OK)
        return st;
    *req = &self_done_token;
    return SF_OK;
}

static sf_status_t self_test(sf_comm_t *comm, void *req, sf_err_t *err)
{
    (void)comm;
    (void)req;
    (void)err;
    return SF_OK;
}

static void self_req_free(sf_comm_t *comm, void *req)
{
    (void)comm;
    (void)req;
}

static void self_finalize(sf_comm_t *comm)
{
    (void)comm;
}

/* One rank has no one to send to. */
static uint64_t self_sent_bytes(const sf_comm_t *comm)
{
    (void)comm;
    return 0;
}

const sf_comm_iface_t sf_comm_self = {
    .name = "self",
    .supports = self_supports,
    .init = self_init,
    .start = NULL, /* every collective has a rule row: sf_self_start */
    .progress = NULL,
    .test = self_test,
    .req_free = self_req_free,
    .finalize = self_finalize,
    .sent_bytes = self_sent_bytes,
};
