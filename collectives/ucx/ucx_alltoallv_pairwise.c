/* all_to_all (per-peer counts) by pairwise exchange: at round k = 1..n-1
 * rank r sends to (r + k) % n and receives from (r - k + n) % n, so every
 * rank has exactly one partner in each direction and no two ranks wait on
 * each other. Received chunks land in place; the self chunk is copied
 * after the first exchange is posted. */
#include <string.h>

#include "ucx_impl.h"

static sf_status_t alltoallv_pairwise_advance(ucx_coll_t *c, sf_err_t *err)
{
    const int n = c->comm->world, r = c->comm->rank, k = c->round + 1;
    const sf_coll_args_t *a = &c->args;
    const size_t es = c->esize;
    if (c->round == 0 && a->send_counts[r] != a->recv_counts[r]) {
        char label[128];
        return sf_err_set(
            err, SF_ERR_INPUT, NULL, "%s: rank %d sends itself %llu elements but expects %llu",
            ucx_coll_label(c, label, sizeof label), r, (unsigned long long)a->send_counts[r],
            (unsigned long long)a->recv_counts[r]);
    }
    if (k < n) {
        const int to = (r + k) % n, from = (r - k + n) % n;
        sf_status_t st = ucx_coll_recv(c, from, k, (char *)a->recv + a->recv_displs[from] * es,
                                       a->recv_counts[from] * es, err);
        if (st == SF_OK)
            st = ucx_coll_send(c, to, k, (const char *)a->send + a->send_displs[to] * es,
                               a->send_counts[to] * es, err);
        if (st != SF_OK)
            return st;
    }
    if (c->round == 0 && a->send_counts[r] > 0) {
        char *dst = (char *)a->recv + a->recv_displs[r] * es;
        const char *src = (const char *)a->send + a->send_displs[r] * es;
        if (dst != src)
            memmove(dst, src, a->send_counts[r] * es);
    }
    return k < n ? SF_INPROGRESS : SF_OK;
}

const ucx_algo_t ucx_alltoallv_pairwise = {.name = "pairwise",
                                           .advance = alltoallv_pairwise_advance};
