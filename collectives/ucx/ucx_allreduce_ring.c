/* all_reduce on a ring: a reduce-scatter (n - 1 rounds, each rank adds the
 * chunk its left neighbour sends into its own copy) then an all-gather of
 * the reduced chunks (n - 1 rounds, straight into recv). The count splits
 * into n chunks whose sizes differ by at most one element (the first
 * count % n are longer), so counts below n leave some chunks empty.
 * Only the incoming chunk of the reduce-scatter goes through scratch. */
#include <string.h>

#include "ucx_impl.h"

static void chunk_of(const ucx_coll_t *c, int i, uint64_t *off, uint64_t *len)
{
    const uint64_t n = (uint64_t)c->comm->world, base = c->args.count / n,
                   extra = c->args.count % n, ui = (uint64_t)i;
    *len = base + (ui < extra ? 1 : 0);
    *off = ui * base + (ui < extra ? ui : extra);
}

static int mod(int a, int n)
{
    return ((a % n) + n) % n;
}

static sf_status_t allreduce_ring_advance(ucx_coll_t *c, sf_err_t *err)
{
    const int n = c->comm->world, r = c->comm->rank, s = c->round;
    const size_t es = c->esize;
    char *acc = c->args.recv;
    uint64_t off, len;
    if (s == 0 && acc != (const char *)c->args.send && c->args.count > 0)
        memmove(acc, c->args.send, c->args.count * es);
    /* The previous round's incoming chunk is reduced before it moves on. */
    if (s >= 1 && s <= n - 1) {
        chunk_of(c, mod(r - s, n), &off, &len);
        sf_reduce_host(c->args.op, c->args.dtype, acc + off * es, c->scratch, len);
    }
    if (s >= 2 * (n - 1))
        return SF_OK;
    const int right = (r + 1) % n, left = (r - 1 + n) % n;
    sf_status_t st;
    if (s < n - 1) { /* reduce-scatter round s */
        uint64_t roff, rlen;
        chunk_of(c, mod(r - s - 1, n), &roff, &rlen);
        uint64_t max_len = c->args.count / (uint64_t)n + 1;
        void *scratch = ucx_coll_scratch(c, max_len * es);
        if (scratch == NULL) {
            char label[128];
            return sf_err_set(err, SF_ERR_NOMEM, NULL, "%s: out of memory for a %llu-byte chunk",
                              ucx_coll_label(c, label, sizeof label),
                              (unsigned long long)(max_len * es));
        }
        chunk_of(c, mod(r - s, n), &off, &len);
        st = ucx_coll_recv(c, left, s, scratch, rlen * es, err);
        if (st == SF_OK)
            st = ucx_coll_send(c, right, s, acc + off * es, len * es, err);
    } else { /* all-gather round k of the reduced chunks */
        const int k = s - (n - 1);
        uint64_t roff, rlen;
        chunk_of(c, mod(r - k, n), &roff, &rlen);
        chunk_of(c, mod(r + 1 - k, n), &off, &len);
        st = ucx_coll_recv(c, left, s, acc + roff * es, rlen * es, err);
        if (st == SF_OK)
            st = ucx_coll_send(c, right, s, acc + off * es, len * es, err);
    }
    return st == SF_OK ? SF_INPROGRESS : st;
}

const ucx_algo_t ucx_allreduce_ring = {.name = "ring", .advance = allreduce_ring_advance};
