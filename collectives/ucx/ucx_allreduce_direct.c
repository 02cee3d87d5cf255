/* all_reduce for two ranks that map each other's shared arena: rank r owns
 * half r. Round 0: each rank offers the peer's half of its input and
 * reduces its own half straight out of the peer's input (the peer's memory,
 * in place: no copy of it first, no pipelining needed since nothing moves
 * before the reduction reads it). Round 1: each rank copies the peer's
 * reduced half out of the peer's output. Two exchanges whatever the size.
 * A buffer outside the arena still works: its reduction reads it by CMA in
 * cache-sized chunks, or, under 32 KiB, from the bytes sent (ucx_comm.c). */
#include "ucx_impl.h"

static sf_status_t allreduce_direct_advance(ucx_coll_t *c, sf_err_t *err)
{
    const int r = c->comm->rank, peer = 1 - r;
    const size_t es = c->esize;
    const uint64_t count = c->args.count, first = count - count / 2;
    /* Half h: [0, first) or [first, count); the first takes the odd element. */
    const uint64_t off[2] = {0, first}, len[2] = {first, count / 2};
    const char *send = c->args.send;
    char *recv = c->args.recv;
    sf_status_t st = SF_OK;
    if (c->round == 0) {
        st = ucx_coll_recv_reduce(c, peer, 0, recv + off[r] * es, send + off[r] * es, len[r] * es,
                                  err);
        if (st == SF_OK)
            st = ucx_coll_send(c, peer, 0, send + off[peer] * es, len[peer] * es, err);
        return st == SF_OK ? SF_INPROGRESS : st;
    }
    if (c->round == 1) {
        /* The peer has read this rank's input (round 0's acknowledgement),
         * so in place the peer's half may now land over it. */
        st = ucx_coll_recv(c, peer, 1, recv + off[peer] * es, len[peer] * es, err);
        if (st == SF_OK)
            st = ucx_coll_send(c, peer, 1, recv + off[r] * es, len[r] * es, err);
        return st == SF_OK ? SF_INPROGRESS : st;
    }
    return SF_OK;
}

const ucx_algo_t ucx_allreduce_direct = {.name = "direct", .advance = allreduce_direct_advance};
