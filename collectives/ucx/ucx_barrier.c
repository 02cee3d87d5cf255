/* barrier by dissemination: in round j every rank sends an empty message
 * to r + 2^j and waits for one from r - 2^j (mod n). After ceil(log2 n)
 * rounds every rank has heard, indirectly, from every other one. */
#include "ucx_impl.h"

static sf_status_t barrier_advance(ucx_coll_t *c, sf_err_t *err)
{
    const int n = c->comm->world, r = c->comm->rank, j = c->round;
    if (j >= 31 || (1 << j) >= n)
        return SF_OK;
    const int d = 1 << j;
    /* Empty messages: the buffers are never touched, but UCX wants some. */
    static char none;
    sf_status_t st = ucx_coll_recv(c, (r - d + n) % n, j, &none, 0, err);
    if (st == SF_OK)
        st = ucx_coll_send(c, (r + d) % n, j, &none, 0, err);
    return st == SF_OK ? SF_INPROGRESS : st;
}

const ucx_algo_t ucx_barrier_dissemination = {.name = "dissemination", .advance = barrier_advance};
