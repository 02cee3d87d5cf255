/* all_gather on a ring: at round k every rank sends block (r - k) to its
 * right neighbour and receives block (r - k - 1) from its left one, straight
 * into its place in recv. n - 1 rounds; each forwards what the last one
 * brought. The rank's own block is copied once round 0 is on the wire. */
#include <string.h>

#include "ucx_impl.h"

static sf_status_t allgather_ring_advance(ucx_coll_t *c, sf_err_t *err)
{
    const int n = c->comm->world, r = c->comm->rank, k = c->round;
    const size_t block = (size_t)c->args.count * c->esize;
    char *recv = c->args.recv;
    if (k >= n - 1) {
        if (n == 1 && block > 0 && recv != c->args.send)
            memmove(recv, c->args.send, block);
        return SF_OK;
    }
    const int right = (r + 1) % n, left = (r - 1 + n) % n;
    const int send_block = ((r - k) % n + n) % n, recv_block = ((r - k - 1) % n + n) % n;
    const void *src = k == 0 ? c->args.send : recv + (size_t)send_block * block;
    sf_status_t st = ucx_coll_recv(c, left, k, recv + (size_t)recv_block * block, block, err);
    if (st == SF_OK)
        st = ucx_coll_send(c, right, k, src, block, err);
    if (st != SF_OK)
        return st;
    /* The local copy overlaps the first transfer instead of delaying it. */
    if (k == 0 && block > 0 && recv + (size_t)r * block != (const char *)c->args.send)
        memmove(recv + (size_t)r * block, c->args.send, block);
    return SF_INPROGRESS;
}

const ucx_algo_t ucx_allgather_ring = {.name = "ring", .advance = allgather_ring_advance};
