/* all_gatherv on a ring: the all_gather ring with a piece of its own size
 * per rank. At round k every rank sends piece (r - k) to its right neighbour
 * and receives piece (r - k - 1) from its left one, straight into its place
 * at recv_displs. n - 1 rounds; a zero-sized piece still travels as an empty
 * message, so both neighbours count the same rounds. */
#include <string.h>

#include "ucx_impl.h"

static sf_status_t allgatherv_ring_advance(ucx_coll_t *c, sf_err_t *err)
{
    const int n = c->comm->world, r = c->comm->rank, k = c->round;
    const sf_coll_args_t *a = &c->args;
    const size_t es = c->esize;
    char *recv = a->recv;
    char *own = recv + a->recv_displs[r] * es;
    const size_t own_bytes = a->recv_counts[r] * es;
    if (k >= n - 1) {
        if (n == 1 && own_bytes > 0 && own != (const char *)a->send)
            memmove(own, a->send, own_bytes);
        return SF_OK;
    }
    const int right = (r + 1) % n, left = (r - 1 + n) % n;
    const int send_piece = ((r - k) % n + n) % n, recv_piece = ((r - k - 1) % n + n) % n;
    const void *src = k == 0 ? a->send : recv + a->recv_displs[send_piece] * es;
    sf_status_t st = ucx_coll_recv(c, left, k, recv + a->recv_displs[recv_piece] * es,
                                   a->recv_counts[recv_piece] * es, err);
    if (st == SF_OK)
        st = ucx_coll_send(c, right, k, src, a->recv_counts[send_piece] * es, err);
    if (st != SF_OK)
        return st;
    /* The local copy overlaps the first transfer instead of delaying it. */
    if (k == 0 && own_bytes > 0 && own != (const char *)a->send)
        memmove(own, a->send, own_bytes);
    return SF_INPROGRESS;
}

const ucx_algo_t ucx_allgatherv_ring = {.name = "ring", .advance = allgatherv_ring_advance};
