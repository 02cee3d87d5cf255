/* The UCX communicator: one context and worker per rank, an endpoint to
 * every peer (worker addresses swapped over the bootstrap), peer-mode error
 * handling, failure notes gathered after each progress call, and the
 * hooks the collectives interface calls. The point-to-point layer is
 * ucx_p2p.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap.h"
#include "clock.h"
#include "ucx_impl.h"

#define UCX_CLOSE_MAX_S 5.0 /* bound on flushing the endpoints at teardown */

/* ---- the hooks ------------------------------------------------------------- */

static void ucx_on_ep_error(void *arg, ucp_ep_h ep, ucs_status_t status)
{
    (void)ep;
    ucx_peer_t *peer = arg;
    /* Only record here: the request that notices decides what it means. */
    peer->is_failed = true;
    peer->fail_status = status;
}

#define UCX_BS_CHECK_S 0.01 /* how often progress asks the bootstrap for a lost peer */

/* The error callback cannot reach the comm, so failures are collected
 * after each progress call. UCX 1.13's keepalive over shared memory (a pid
 * check) sometimes never runs while a rendezvous waits on the dead peer, so
 * the bootstrap's TCP connections (closed by the kernel when a process
 * dies) are a second channel. Asking them costs a syscall; every 10 ms is
 * enough for "named within seconds". */
static void ucx_note_failures(ucx_comm_t *ux, int world)
{
    if (ux->failed_rank >= 0)
        return;
    if (ux->bs != NULL && ux->is_ready && world > 1) {
        double now = sf_clock_now_s();
        if (now - ux->bs_checked_s >= UCX_BS_CHECK_S) {
            ux->bs_checked_s = now;
            int lost = sf_bootstrap_lost_peer(ux->bs);
            if (lost >= 0 && !ux->peers[lost].is_failed) {
                ux->peers[lost].is_failed = true;
                ux->peers[lost].fail_status = UCS_ERR_CONNECTION_RESET;
            }
        }
    }
    for (int p = 0; p < world; p++)
        if (ux->peers[p].is_failed) {
            ux->failed_rank = p;
            return;
        }
}

static sf_status_t ucx_status(ucs_status_t s, const char *what, sf_err_t *err)
{
    return sf_err_set(err, SF_ERR_COMM, NULL, "ucx backend: %s: %s", what, ucs_status_string(s));
}

static sf_status_t ucx_open_worker(ucx_comm_t *ux, int world, sf_err_t *err)
{
    ucp_config_t *config = NULL;
    ucs_status_t s = ucp_config_read(NULL, NULL, &config);
    if (s != UCS_OK)
        return ucx_status(s, "reading the UCX configuration", err);
    /* UCX checks peers every 20 s by default; a collective stalled on a
     * dead rank should fail within seconds. The environment still wins. */
    if (getenv("UCX_KEEPALIVE_INTERVAL") == NULL)
        (void)ucp_config_modify(config, "KEEPALIVE_INTERVAL", "1s");
    /* UCX 1.13's shared-memory transports (posix, sysv) offer peer-failure
     * reporting only when asked (openucx/ucx#6595): their keepalive then
     * checks the peer's pid. Without it, peer mode leaves only tcp between
     * local ranks, 3-5x slower. "MM_" is the table both share; a value from
     * the environment is kept (UCX applies this after reading it). */
    if (getenv("UCX_MM_ERROR_HANDLING") == NULL && getenv("UCX_POSIX_ERROR_HANDLING") == NULL &&
        getenv("UCX_SYSV_ERROR_HANDLING") == NULL)
        (void)ucp_config_modify(config, "MM_ERROR_HANDLING", "y");
    ucp_params_t params = {0};
    params.field_mask =
        UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_ESTIMATED_NUM_EPS | UCP_PARAM_FIELD_NAME;
    params.features = UCP_FEATURE_TAG;
    params.estimated_num_eps = (size_t)world;
    params.name = "shardflow";
    s = ucp_init(&params, config, &ux->ctx);
    ucp_config_release(config);
    if (s != UCS_OK) {
        ux->ctx = NULL;
        return ucx_status(s, "ucp_init", err);
    }
    ucp_worker_params_t wp = {0};
    wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
    wp.thread_mode = UCS_THREAD_MODE_SINGLE;
    s = ucp_worker_create(ux->ctx, &wp, &ux->worker);
    if (s != UCS_OK) {
        ux->worker = NULL;
        return ucx_status(s, "ucp_worker_create", err);
    }
    return SF_OK;
}

/* Swap worker addresses over the bootstrap (padded to the longest, since
 * the bootstrap gathers equal sizes) and connect to every peer. */
static sf_status_t ucx_connect_all(ucx_comm_t *ux, int rank, int world, sf_err_t *err)
{
    ucp_address_t *addr = NULL;
    size_t addr_len = 0;
    ucs_status_t s = ucp_worker_get_address(ux->worker, &addr, &addr_len);
    if (s != UCS_OK)
        return ucx_status(s, "ucp_worker_get_address", err);
    uint64_t *lens = calloc((size_t)world, sizeof *lens);
    uint64_t mine = addr_len;
    sf_status_t st = lens == NULL
                         ? sf_err_set(err, SF_ERR_NOMEM, NULL, "ucx backend: out of memory")
                         : sf_bootstrap_allgather(ux->bs, &mine, sizeof mine, lens, err);
    uint64_t max_len = 0;
    for (int p = 0; st == SF_OK && p < world; p++)
        max_len = lens[p] > max_len ? lens[p] : max_len;
    char *mine_padded = NULL, *all = NULL;
    if (st == SF_OK) {
        mine_padded = calloc(1, max_len);
        all = calloc((size_t)world, max_len);
        if (mine_padded == NULL || all == NULL)
            st = sf_err_set(err, SF_ERR_NOMEM, NULL, "ucx backend: out of memory");
    }
    if (st == SF_OK) {
        memcpy(mine_padded, addr, addr_len);
        st = sf_bootstrap_allgather(ux->bs, mine_padded, max_len, all, err);
    }
    ucp_worker_release_address(ux->worker, addr);
    ux->err_mode = UCP_ERR_HANDLING_MODE_PEER;
    bool is_first = true;
    for (int p = 0; st == SF_OK && p < world; p++) {
        if (p == rank)
            continue;
        ucp_ep_params_t ep = {0};
        ep.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                        UCP_EP_PARAM_FIELD_ERR_HANDLER;
        ep.address = (const ucp_address_t *)(all + (size_t)p * max_len);
        ep.err_mode = ux->err_mode;
        ep.err_handler.cb = ucx_on_ep_error;
        ep.err_handler.arg = &ux->peers[p];
        s = ucp_ep_create(ux->worker, &ep, &ux->peers[p].ep);
        if (s == UCS_ERR_UNREACHABLE && is_first) {
            /* UCX 1.13's shared-memory transports cannot report a dead
             * peer, so with UCX_TLS=sm peer mode finds no transport. Run
             * anyway: a dead peer then shows as sf_coll_wait's timeout.
             * Every rank reads the same UCX_TLS, so all fall back alike. */
            ux->err_mode = UCP_ERR_HANDLING_MODE_NONE;
            ep.err_mode = ux->err_mode;
            ep.field_mask &= ~(uint64_t)UCP_EP_PARAM_FIELD_ERR_HANDLER;
            s = ucp_ep_create(ux->worker, &ep, &ux->peers[p].ep);
        }
        is_first = false;
        if (s != UCS_OK) {
            ux->peers[p].ep = NULL;
            st = sf_err_set(err, SF_ERR_COMM, NULL,
                            "ucx backend: rank %d cannot create an endpoint to rank %d: %s", rank,
                            p, ucs_status_string(s));
        }
    }
    free(lens);
    free(mine_padded);
    free(all);
    return st;
}

/* SF_UCX_CMA=0 turns single copy off (for comparisons, or where a policy
 * forbids process_vm_readv and the probe's failure is not wanted). */
static bool ucx_cma_is_off(void)
{
    const char *v = getenv("SF_UCX_CMA");
    return v != NULL && strcmp(v, "0") == 0;
}

sf_status_t ucx_comm_init(sf_comm_t *comm, sf_bootstrap_t *bs, sf_err_t *err)
{
    if (comm->world > SF_UCX_MAX_WORLD / 2)
        return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL,
                          "ucx backend: world size %d is above the supported %d", comm->world,
                          SF_UCX_MAX_WORLD / 2);
    ucx_comm_t *ux = calloc(1, sizeof *ux);
    if (ux == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "ucx backend: out of memory");
    ux->bs = bs;
    ux->failed_rank = -1;
    ux->peers = calloc((size_t)comm->world, sizeof *ux->peers);
    comm->impl = ux;
    sf_status_t st = ux->peers == NULL
                         ? sf_err_set(err, SF_ERR_NOMEM, NULL, "ucx backend: out of memory")
                         : SF_OK;
    for (int p = 0; st == SF_OK && p < comm->world; p++)
        ux->peers[p].rank = p;
    if (st == SF_OK)
        st = ucx_open_worker(ux, comm->world, err);
    /* A lone rank (bs may be NULL then) has nobody to connect to. */
    if (st == SF_OK && comm->world > 1)
        st = ucx_connect_all(ux, comm->rank, comm->world, err);
    if (st == SF_OK && comm->world > 1 && !ucx_cma_is_off())
        st = ucx_cma_probe(ux, comm->rank, comm->world, err);
    if (st != SF_OK) {
        ucx_comm_finalize(comm);
        return st;
    }
    ux->is_ready = true;
    return SF_OK;
}

sf_status_t ucx_coll_start(sf_comm_t *comm, const sf_coll_args_t *args, const ucx_algo_t *algo,
                           void **req, sf_err_t *err)
{
    ucx_comm_t *ux = comm->impl;
    *req = NULL;
    ucx_coll_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "%s: out of memory",
                          sf_coll_kind_name(args->kind));
    c->comm = comm;
    c->ux = ux;
    c->algo = algo;
    c->args = *args;
    c->esize = sf_dtype_size(args->dtype);
    c->seq = ux->seq++;
    c->status = SF_INPROGRESS;
    c->next = ux->active;
    if (ux->active != NULL)
        ux->active->prev = c;
    ux->active = c;
    (void)ucp_worker_progress(ux->worker);
    ucx_note_failures(ux, comm->world);
    ucx_coll_poll(c);
    *req = c;
    return SF_OK;
}

sf_status_t ucx_comm_progress(sf_comm_t *comm, sf_err_t *err)
{
    (void)err;
    ucx_comm_t *ux = comm->impl;
    (void)ucp_worker_progress(ux->worker);
    ucx_note_failures(ux, comm->world);
    for (ucx_coll_t *c = ux->active; c != NULL; c = c->next)
        ucx_coll_poll(c);
    return SF_OK;
}

uint64_t ucx_comm_sent_bytes(const sf_comm_t *comm)
{
    const ucx_comm_t *ux = comm->impl;
    return ux->sent_bytes;
}

uint64_t ucx_comm_read_in_place_bytes(const sf_comm_t *comm)
{
    const ucx_comm_t *ux = comm->impl;
    return ux->mapped_bytes;
}

sf_status_t ucx_comm_test(sf_comm_t *comm, void *req, sf_err_t *err)
{
    (void)comm;
    ucx_coll_t *c = req;
    ucx_coll_poll(c);
    if (c->status != SF_OK && c->status != SF_INPROGRESS)
        return sf_err_set(err, c->status, NULL, "%s", c->err.msg);
    return c->status;
}

void ucx_comm_req_free(sf_comm_t *comm, void *req)
{
    ucx_comm_t *ux = comm->impl;
    ucx_coll_t *c = req;
    ucx_coll_drop_ops(c);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        ux->active = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    free(c->ops);
    free(c->scratch);
    free(c);
}

void ucx_comm_finalize(sf_comm_t *comm)
{
    ucx_comm_t *ux = comm->impl;
    if (ux == NULL)
        return;
    SF_ASSERT(ux->active == NULL); /* every request is freed before its comm */
    bool is_clean = ux->is_ready;
    if (is_clean) {
        ucx_note_failures(ux, comm->world);
        /* Nobody tears down while a peer may still be receiving from it:
         * an endpoint closing under a live collective reads as a failure. */
        sf_err_t ignored = {0};
        is_clean = comm->world == 1 ||
                   (ux->failed_rank < 0 && sf_bootstrap_barrier(ux->bs, &ignored) == SF_OK);
    }
    void **closing = ux->peers != NULL ? calloc((size_t)comm->world, sizeof *closing) : NULL;
    for (int p = 0; ux->peers != NULL && p < comm->world; p++) {
        if (ux->peers[p].ep == NULL)
            continue;
        ucp_request_param_t param = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
                                     .flags = is_clean || ux->err_mode != UCP_ERR_HANDLING_MODE_PEER
                                                  ? 0
                                                  : UCP_EP_CLOSE_FLAG_FORCE};
        void *r = ucp_ep_close_nbx(ux->peers[p].ep, &param);
        ux->peers[p].ep = NULL;
        if (UCS_PTR_IS_PTR(r)) {
            if (closing != NULL)
                closing[p] = r;
            else
                ucp_request_free(r);
        }
    }
    double limit = comm->timeout_s < UCX_CLOSE_MAX_S ? comm->timeout_s : UCX_CLOSE_MAX_S;
    double deadline = sf_clock_now_s() + limit;
    for (int p = 0; closing != NULL && p < comm->world; p++) {
        while (closing[p] != NULL && ucp_request_check_status(closing[p]) == UCS_INPROGRESS &&
               sf_clock_now_s() < deadline)
            (void)ucp_worker_progress(ux->worker);
        if (closing[p] != NULL)
            ucp_request_free(closing[p]);
    }
    free(closing);
    if (ux->worker != NULL)
        ucp_worker_destroy(ux->worker);
    if (ux->ctx != NULL)
        ucp_cleanup(ux->ctx);
    free(ux->peers);
    ucx_cma_release(ux, comm->world);
    free(ux);
    comm->impl = NULL;
}
