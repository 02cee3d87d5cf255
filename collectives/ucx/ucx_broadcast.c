/* broadcast down a binomial tree rooted at args.root: in ranks relative to
 * the root, v receives from v minus its lowest set bit, then sends to
 * v + 2^j for every 2^j below that bit. Two rounds per rank: receive, then
 * forward; log2(n) rounds end to end. */
#include "ucx_impl.h"

static sf_status_t broadcast_advance(ucx_coll_t *c, sf_err_t *err)
{
    const int n = c->comm->world, r = c->comm->rank, root = c->args.root;
    const int v = (r - root + n) % n;
    const size_t nbytes = (size_t)c->args.count * c->esize;
    int low = 1; /* v's lowest set bit; for the root, the first power >= n */
    while (low < n && (v & low) == 0)
        low <<= 1;
    if (v != 0 && c->round == 0) {
        int parent = ((v - low) + root) % n;
        sf_status_t st = ucx_coll_recv(c, parent, 0, c->args.recv, nbytes, err);
        return st == SF_OK ? SF_INPROGRESS : st;
    }
    const bool is_forward_round = v == 0 ? c->round == 0 : c->round == 1;
    if (!is_forward_round)
        return SF_OK;
    for (int m = low >> 1; m >= 1; m >>= 1) {
        if (v + m >= n)
            continue;
        sf_status_t st = ucx_coll_send(c, (v + m + root) % n, 0, c->args.recv, nbytes, err);
        if (st != SF_OK)
            return st;
    }
    return SF_INPROGRESS;
}

const ucx_algo_t ucx_broadcast_binomial = {.name = "binomial", .advance = broadcast_advance};
