/* The UCX backend's tagged point-to-point layer, which the algorithms post
 * on: sends (as bytes, or as a descriptor the receiver reads in place:
 * from its mapping of the sender's arena, else by CMA, then acknowledges),
 * receives, reducing receives, and the poll that advances a collective
 * round by round. Invariant: a request's status leaves SF_INPROGRESS
 * exactly once; a peer failure fails the collective, naming the peer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ucx_impl.h"

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
    int n_before = c->n_ops;
    sf_status_t st = coll_post(c, peer, round, false, land,
                               is_desc ? UCX_DESC_WORDS * sizeof(uint64_t) : nbytes, err);
    ucx_p2p_t *op = c->n_ops > n_before ? &c->ops[c->n_ops - 1] : NULL;
    if (op != NULL && is_desc)
        op->landing = land; /* the op owns it now: freed when read or dropped */
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
void ucx_coll_drop_ops(ucx_coll_t *c)
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
    ucx_coll_drop_ops(c);
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
        ucx_coll_drop_ops(c);
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
        ucx_coll_drop_ops(c);
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
        ucx_coll_drop_ops(c);
        return false;
    }
    op->req = r;
    op->is_acking = true;
    return true;
}

/* Advance c as far as it goes without waiting. */
void ucx_coll_poll(ucx_coll_t *c)
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
                ucx_coll_drop_ops(c);
        }
    }
}
