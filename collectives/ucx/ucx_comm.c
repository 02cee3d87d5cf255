/* The UCX communicator: one context and worker per rank, an endpoint to
 * every peer (worker addresses swapped over the bootstrap), peer-mode error
 * handling, and the tagged point-to-point layer the algorithms post on.
 * Invariant: a request's status leaves SF_INPROGRESS exactly once; a peer
 * failure fails every collective still in flight, naming the peer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "bootstrap.h"
#include "clock.h"
#include "ucx_impl.h"

#define UCX_CLOSE_MAX_S 5.0 /* bound on flushing the endpoints at teardown */

static uint64_t ucx_tag(uint32_t seq, unsigned ctl, sf_coll_kind_t kind, int round, int src)
{
    const int kind_shift = SF_UCX_TAG_SRC_BITS + SF_UCX_TAG_STEP_BITS;
    const int ctl_shift = kind_shift + SF_UCX_TAG_KIND_BITS;
    const int seq_shift = ctl_shift + SF_UCX_TAG_CTL_BITS;
    return ((uint64_t)(seq & ((1u << SF_UCX_TAG_SEQ_BITS) - 1u)) << seq_shift) |
           ((uint64_t)(ctl & ((1u << SF_UCX_TAG_CTL_BITS) - 1u)) << ctl_shift) |
           ((uint64_t)((unsigned)kind & ((1u << SF_UCX_TAG_KIND_BITS) - 1u)) << kind_shift) |
           ((uint64_t)((unsigned)round & (SF_UCX_MAX_ROUNDS - 1u)) << SF_UCX_TAG_SRC_BITS) |
           (uint64_t)((unsigned)src & (SF_UCX_MAX_WORLD - 1u));
}

/* A receive matches the bytes or a descriptor for them alike. */
static const uint64_t ucx_tag_desc_bit = (uint64_t)SF_UCX_CTL_DESC
                                         << (SF_UCX_TAG_SRC_BITS + SF_UCX_TAG_STEP_BITS +
                                             SF_UCX_TAG_KIND_BITS);

const char *ucx_coll_label(const ucx_coll_t *c, char *buf, size_t n)
{
    const char *what = c->args.what;
    if (what != NULL && what[0] != '\0')
        snprintf(buf, n, "%s '%s'", sf_coll_kind_name(c->args.kind), what);
    else
        snprintf(buf, n, "%s", sf_coll_kind_name(c->args.kind));
    return buf;
}

/* ---- point to point -------------------------------------------------------- */

static ucx_p2p_t *coll_op_slot(ucx_coll_t *c)
{
    if (c->n_ops == c->cap_ops) {
        int cap = c->cap_ops ? 2 * c->cap_ops : 4;
        ucx_p2p_t *grown = realloc(c->ops, (size_t)cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        c->ops = grown;
        c->cap_ops = cap;
    }
    ucx_p2p_t *op = &c->ops[c->n_ops++];
    memset(op, 0, sizeof *op);
    return op;
}

static sf_status_t coll_post_failed(ucx_coll_t *c, int peer, bool is_send, ucs_status_t s,
                                    sf_err_t *err)
{
    char label[128];
    /* An endpoint that refuses a post has lost its peer: over shared memory
     * a dead peer's segment no longer attaches ("Shared memory error")
     * before any keepalive round noticed. Say which rank, as a failure. */
    return sf_err_set(err, SF_ERR_COMM, NULL, "rank %d failed during %s: cannot %s it (%s)", peer,
                      ucx_coll_label(c, label, sizeof label),
                      is_send ? "send to" : "receive from", ucs_status_string(s));
}

static sf_status_t coll_post(ucx_coll_t *c, int peer, int round, bool is_send, void *buf,
                             size_t nbytes, sf_err_t *err)
{
    char label[128];
    SF_ASSERT(peer >= 0 && peer < c->comm->world && peer != c->comm->rank);
    SF_ASSERT(round >= 0 && round < SF_UCX_MAX_ROUNDS);
    ucx_p2p_t *op = coll_op_slot(c);
    if (op == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "%s: out of memory",
                          ucx_coll_label(c, label, sizeof label));
    op->peer = peer;
    op->round = round;
    op->is_send = is_send;
    op->buf = buf;
    op->nbytes = nbytes;
    ucp_request_param_t p = {0};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_MEMORY_TYPE;
    p.memory_type = UCS_MEMORY_TYPE_HOST;
    const int me = c->comm->rank;
    const sf_coll_kind_t kind = c->args.kind;
    void *r;
    if (is_send && nbytes >= SF_UCX_CMA_MIN_BYTES && c->ux->cma_to != NULL &&
        c->ux->cma_to[peer]) {
        /* Single copy: the peer reads buf and says so; buf stays borrowed
         * until then, as for any send. */
        op->desc = malloc(UCX_DESC_WORDS * sizeof *op->desc);
        if (op->desc == NULL)
            return sf_err_set(err, SF_ERR_NOMEM, NULL, "%s: out of memory",
                              ucx_coll_label(c, label, sizeof label));
        op->desc[0] = (uint64_t)(uintptr_t)buf;
        op->desc[1] = nbytes;
        if (!sf_shm_arena_offset_of(buf, nbytes, &op->desc[2]))
            op->desc[2] = UCX_NO_ARENA;
        r = ucp_tag_recv_nbx(c->ux->worker, NULL, 0,
                             ucx_tag(c->seq, SF_UCX_CTL_ACK, kind, round, peer), UINT64_MAX, &p);
        if (UCS_PTR_IS_ERR(r))
            return coll_post_failed(c, peer, false, UCS_PTR_STATUS(r), err);
        op->req = r;
        r = ucp_tag_send_nbx(c->ux->peers[peer].ep, op->desc, UCX_DESC_WORDS * sizeof *op->desc,
                             ucx_tag(c->seq, SF_UCX_CTL_DESC, kind, round, me), &p);
        if (UCS_PTR_IS_ERR(r))
            return coll_post_failed(c, peer, true, UCS_PTR_STATUS(r), err);
        op->req2 = r;
        return SF_OK;
    }
    if (is_send) {
        r = ucp_tag_send_nbx(c->ux->peers[peer].ep, buf, nbytes,
                             ucx_tag(c->seq, 0, kind, round, me), &p);
    } else {
        /* Always a request, so its completion can say what arrived. */
        p.op_attr_mask |= UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
        r = ucp_tag_recv_nbx(c->ux->worker, buf, nbytes, ucx_tag(c->seq, 0, kind, round, peer),
                             ~ucx_tag_desc_bit, &p);
    }
    if (UCS_PTR_IS_ERR(r))
        return coll_post_failed(c, peer, is_send, UCS_PTR_STATUS(r), err);
    op->req = r; /* NULL: a send completed in place */
    return SF_OK;
}

sf_status_t ucx_coll_send(ucx_coll_t *c, int peer, int round, const void *buf, size_t nbytes,
                          sf_err_t *err)
{
    /* Counted when posted: a send that later fails fails the collective,
     * and then nobody reads the count. */
    c->ux->sent_bytes += nbytes;
    /* UCX takes a non-const pointer for sends; it never writes through it. */
    return coll_post(c, peer, round, true, (void *)buf, nbytes, err);
}

sf_status_t ucx_coll_recv(ucx_coll_t *c, int peer, int round, void *buf, size_t nbytes,
                          sf_err_t *err)
{
    return coll_post(c, peer, round, false, buf, nbytes, err);
}

sf_status_t ucx_coll_recv_reduce(ucx_coll_t *c, int peer, int round, void *out, const void *with,
                                 size_t nbytes, sf_err_t *err)
{
    /* Nothing may land in out before the reduction: out may be `with`.
     * The peer sends a descriptor exactly when ucx_coll_send would (the
     * probe's rows are agreed), so that lands in the op itself; bytes land
     * in the scratch (under SF_UCX_CMA_MIN_BYTES, unless no single copy). */
    bool is_desc = nbytes >= SF_UCX_CMA_MIN_BYTES && c->ux->cma_pid != NULL &&
                   c->ux->cma_pid[peer] != 0;
    void *land = is_desc ? malloc(UCX_DESC_WORDS * sizeof(uint64_t)) : ucx_coll_scratch(c, nbytes);
    if (land == NULL) {
        char label[128];
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "%s: out of memory",
                          ucx_coll_label(c, label, sizeof label));
    }
    sf_status_t st = coll_post(c, peer, round, false, land,
                               is_desc ? UCX_DESC_WORDS * sizeof(uint64_t) : nbytes, err);
    ucx_p2p_t *op = st == SF_OK || c->n_ops > 0 ? &c->ops[c->n_ops - 1] : NULL;
    if (is_desc && op != NULL && op->buf == land)
        op->landing = land; /* owned by the op from here, freed with it */
    else if (is_desc)
        free(land);
    if (st != SF_OK)
        return st;
    op->landed = land;
    op->buf = out;
    op->nbytes = nbytes;
    op->reduce_with = with;
    return SF_OK;
}

/* Chunks of a reducing receive read by CMA: cache-sized, so each chunk is
 * reduced while it is still in cache. */
#define UCX_REDUCE_CHUNK_BYTES (256u * 1024u)

/* A reducing receive whose peer cannot be mapped: read the peer's bytes
 * chunk by chunk into the scratch and reduce each. 0 or an errno. */
static int coll_cma_reduce(ucx_coll_t *c, ucx_p2p_t *op, pid_t pid, uint64_t src)
{
    size_t chunk = op->nbytes < UCX_REDUCE_CHUNK_BYTES ? op->nbytes : UCX_REDUCE_CHUNK_BYTES;
    chunk = chunk / c->esize * c->esize;
    char *scratch = ucx_coll_scratch(c, chunk);
    if (scratch == NULL)
        return ENOMEM;
    for (size_t done = 0; done < op->nbytes; done += chunk) {
        size_t n = op->nbytes - done < chunk ? op->nbytes - done : chunk;
        int e = ucx_cma_read(pid, scratch, src + done, n);
        if (e != 0)
            return e;
        sf_reduce_host_to(c->args.op, c->args.dtype, (char *)op->buf + done,
                          (const char *)op->reduce_with + done, scratch, n / c->esize);
    }
    return 0;
}

void *ucx_coll_scratch(ucx_coll_t *c, size_t nbytes)
{
    if (c->scratch_bytes >= nbytes && c->scratch != NULL)
        return c->scratch;
    void *p = realloc(c->scratch, nbytes > 0 ? nbytes : 1);
    if (p == NULL)
        return NULL;
    c->scratch = p;
    c->scratch_bytes = nbytes;
    return p;
}

/* Cancel *req if it is still in flight (a receive must not land in a
 * buffer the caller is about to free) and release it; NULL-safe. */
static void request_drop(ucx_coll_t *c, void **req)
{
    if (*req == NULL)
        return;
    if (ucp_request_check_status(*req) == UCS_INPROGRESS)
        ucp_request_cancel(c->ux->worker, *req);
    ucp_request_free(*req);
    *req = NULL;
}

/* Drop every operation of the current round. */
static void coll_ops_drop(ucx_coll_t *c)
{
    for (int i = 0; i < c->n_ops; i++) {
        request_drop(c, &c->ops[i].req);
        request_drop(c, &c->ops[i].req2);
        free(c->ops[i].desc);
        c->ops[i].desc = NULL;
        free(c->ops[i].landing);
        c->ops[i].landing = NULL;
    }
    c->n_ops = 0;
}

static void coll_fail_peer(ucx_coll_t *c, int peer, ucs_status_t s)
{
    char label[128];
    if (s == UCS_ERR_MESSAGE_TRUNCATED)
        sf_err_set(&c->err, SF_ERR_COMM, NULL,
                   "%s: rank %d sent more than rank %d expects (%s): the ranks disagree on counts",
                   ucx_coll_label(c, label, sizeof label), peer, c->comm->rank,
                   ucs_status_string(s));
    else
        sf_err_set(&c->err, SF_ERR_COMM, NULL, "rank %d failed during %s (%s)", peer,
                   ucx_coll_label(c, label, sizeof label), ucs_status_string(s));
    c->status = SF_ERR_COMM;
    coll_ops_drop(c);
}

/* A receive that got a descriptor instead of the bytes: check it, read the
 * bytes from the sender's memory into place (over the descriptor, which
 * landed at the start of the buffer), and acknowledge. */
static bool coll_read_desc(ucx_coll_t *c, ucx_p2p_t *op)
{
    char label[128];
    uint64_t d[UCX_DESC_WORDS];
    memcpy(d, op->landed != NULL ? op->landed : op->buf, sizeof d);
    free(op->landing); /* read: the descriptor's landing place is done with */
    op->landing = NULL;
    op->landed = NULL;
    pid_t pid = c->ux->cma_pid != NULL ? c->ux->cma_pid[op->peer] : 0;
    if (d[1] != op->nbytes || pid == 0) {
        sf_err_set(&c->err, SF_ERR_COMM, NULL,
                   "%s: rank %d sends %llu bytes but rank %d expects %zu: the ranks disagree on "
                   "counts",
                   ucx_coll_label(c, label, sizeof label), op->peer, (unsigned long long)d[1],
                   c->comm->rank, op->nbytes);
        c->status = SF_ERR_COMM;
        coll_ops_drop(c);
        return false;
    }
    const char *arena = c->ux->peer_arena != NULL ? c->ux->peer_arena[op->peer] : NULL;
    int e = 0;
    if (arena != NULL && d[2] != UCX_NO_ARENA && d[2] <= c->ux->peer_card[op->peer].size &&
        op->nbytes <= c->ux->peer_card[op->peer].size - d[2]) {
        /* The sender's tensor, in place: the sender keeps it until our ack. */
        if (op->reduce_with != NULL)
            sf_reduce_host_to(c->args.op, c->args.dtype, op->buf, op->reduce_with, arena + d[2],
                              op->nbytes / c->esize);
        else
            memcpy(op->buf, arena + d[2], op->nbytes);
        c->ux->mapped_bytes += op->nbytes;
    } else {
        e = op->reduce_with != NULL ? coll_cma_reduce(c, op, pid, d[0])
                                    : ucx_cma_read(pid, op->buf, d[0], op->nbytes);
        c->ux->cma_bytes += op->nbytes;
    }
    if (e != 0) {
        sf_err_set(&c->err, SF_ERR_COMM, NULL,
                   "rank %d failed during %s: cannot read its memory (%s)", op->peer,
                   ucx_coll_label(c, label, sizeof label), strerror(e));
        c->status = SF_ERR_COMM;
        coll_ops_drop(c);
        return false;
    }
    ucp_request_param_t p = {0};
    void *r = ucp_tag_send_nbx(c->ux->peers[op->peer].ep, NULL, 0,
                               ucx_tag(c->seq, SF_UCX_CTL_ACK, c->args.kind, op->round,
                                       c->comm->rank),
                               &p);
    if (UCS_PTR_IS_ERR(r)) {
        (void)coll_post_failed(c, op->peer, true, UCS_PTR_STATUS(r), &c->err);
        c->status = SF_ERR_COMM;
        coll_ops_drop(c);
        return false;
    }
    op->req = r;
    op->is_acking = true;
    return true;
}

/* Advance c as far as it goes without waiting. */
static void coll_poll(ucx_coll_t *c)
{
    while (c->status == SF_INPROGRESS) {
        int n_left = 0;
        for (int i = 0; i < c->n_ops; i++) {
            ucx_p2p_t *op = &c->ops[i];
            if (op->req2 != NULL) {
                ucs_status_t s2 = ucp_request_check_status(op->req2);
                if (s2 == UCS_INPROGRESS) {
                    n_left++;
                } else {
                    ucp_request_free(op->req2);
                    op->req2 = NULL;
                    if (s2 != UCS_OK) {
                        coll_fail_peer(c, op->peer, s2);
                        return;
                    }
                }
            }
            if (op->req2 == NULL && op->desc != NULL) { /* the descriptor is out */
                free(op->desc);
                op->desc = NULL;
            }
            if (op->req == NULL)
                continue;
            bool is_data_recv = !op->is_send && !op->is_acking;
            ucp_tag_recv_info_t info = {0};
            ucs_status_t s = is_data_recv ? ucp_tag_recv_request_test(op->req, &info)
                                          : ucp_request_check_status(op->req);
            if (s == UCS_INPROGRESS) {
                n_left++;
                continue;
            }
            ucp_request_free(op->req);
            op->req = NULL;
            if (s != UCS_OK) {
                coll_fail_peer(c, op->peer, s);
                return;
            }
            if (is_data_recv && (info.sender_tag & ucx_tag_desc_bit) != 0) {
                if (!coll_read_desc(c, op))
                    return;
                if (op->req != NULL)
                    n_left++;
            } else if (is_data_recv && op->reduce_with != NULL) {
                /* The bytes themselves came (into the scratch). */
                if (info.length != op->nbytes) {
                    coll_fail_peer(c, op->peer, UCS_ERR_MESSAGE_TRUNCATED);
                    return;
                }
                sf_reduce_host_to(c->args.op, c->args.dtype, op->buf, op->reduce_with,
                                  op->landed, op->nbytes / c->esize);
            }
        }
        /* A dead rank stalls the whole collective even when this rank only
         * waits on a live neighbour, so any failure fails it, but only
         * while something is still outstanding: a rank that sent its last
         * message and exited (its socket closing at once) must not fail a
         * collective whose every operation here already completed. */
        if (n_left > 0) {
            int dead = c->ux->failed_rank;
            if (dead >= 0)
                coll_fail_peer(c, dead, c->ux->peers[dead].fail_status);
            return;
        }
        c->n_ops = 0;
        sf_status_t st = c->algo->advance(c, &c->err);
        c->round++;
        if (st != SF_INPROGRESS) {
            c->status = st;
            if (st != SF_OK)
                coll_ops_drop(c);
        }
    }
}

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
    coll_poll(c);
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
        coll_poll(c);
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
    coll_poll(c);
    if (c->status != SF_OK && c->status != SF_INPROGRESS)
        return sf_err_set(err, c->status, NULL, "%s", c->err.msg);
    return c->status;
}

void ucx_comm_req_free(sf_comm_t *comm, void *req)
{
    ucx_comm_t *ux = comm->impl;
    ucx_coll_t *c = req;
    coll_ops_drop(c);
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
