/* all_reduce for two ranks, pipelined: rank r owns half r of the buffer.
 * The halves go in chunks; at round k each rank sends the peer's chunk k
 * of its own input, reduces chunk k-1 of its half (its input op what the
 * peer sent, straight into recv: no copy of the input first) and sends the
 * result back, while the peer's reduced chunk k-1 lands in place. So the
 * reduction of one chunk runs while the next chunk moves (over CMA the peer
 * pulls it), and the incoming chunks cycle through two cache-sized scratch
 * buffers instead of a half-buffer one. Other world sizes: the ring. */
#include "ucx_impl.h"

/* Bytes per chunk: 256 KiB pairs stay in L2 while they are reduced, and a
 * 64 MiB buffer is still only 128 rounds (collbench rows in the README). */
#define HALVES_CHUNK_BYTES (256u * 1024u)

typedef struct halves_span {
    uint64_t off, len; /* elements */
} halves_span_t;

/* Half h (0 or 1) of count: the first half takes the odd element. */
static halves_span_t half_of(uint64_t count, int h)
{
    uint64_t first = count - count / 2;
    return h == 0 ? (halves_span_t){0, first} : (halves_span_t){first, count / 2};
}

static uint64_t chunk_elems(const ucx_coll_t *c)
{
    uint64_t e = HALVES_CHUNK_BYTES / c->esize;
    return e > 0 ? e : 1;
}

static uint64_t n_chunks(const ucx_coll_t *c)
{
    uint64_t len = half_of(c->args.count, 0).len, e = chunk_elems(c);
    return len == 0 ? 1 : (len + e - 1) / e;
}

/* Chunk k of half h, clipped (the peer's half may be one element shorter,
 * so its last chunk can be shorter or empty). */
static halves_span_t chunk_of(const ucx_coll_t *c, int h, uint64_t k)
{
    halves_span_t half = half_of(c->args.count, h);
    uint64_t e = chunk_elems(c), lo = k * e;
    if (lo >= half.len)
        return (halves_span_t){half.off + half.len, 0};
    return (halves_span_t){half.off + lo, half.len - lo < e ? half.len - lo : e};
}

static sf_status_t allreduce_halves_advance(ucx_coll_t *c, sf_err_t *err)
{
    const int r = c->comm->rank, peer = 1 - r;
    const size_t es = c->esize;
    const uint64_t k = (uint64_t)c->round, n = n_chunks(c);
    const char *send = c->args.send;
    char *recv = c->args.recv;
    sf_status_t st = SF_OK;
    if (k > n)
        return SF_OK;
    char *scratch = ucx_coll_scratch(c, 2 * chunk_elems(c) * es);
    if (scratch == NULL) {
        char label[128];
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "%s: out of memory for the chunk buffers",
                          ucx_coll_label(c, label, sizeof label));
    }
    /* Tags: 2k carries input chunk k, 2k+1 the reduced chunk k. */
    if (k < n) {
        halves_span_t mine = chunk_of(c, r, k), theirs = chunk_of(c, peer, k);
        st = ucx_coll_recv(c, peer, (int)(2 * k), scratch + (k % 2) * chunk_elems(c) * es,
                           mine.len * es, err);
        if (st == SF_OK)
            st = ucx_coll_send(c, peer, (int)(2 * k), send + theirs.off * es, theirs.len * es,
                               err);
    }
    if (st == SF_OK && k > 0) {
        halves_span_t mine = chunk_of(c, r, k - 1), theirs = chunk_of(c, peer, k - 1);
        st = ucx_coll_recv(c, peer, (int)(2 * k - 1), recv + theirs.off * es, theirs.len * es,
                           err);
        if (st == SF_OK) {
            /* Posted before this: the transfers above run while it reduces. */
            sf_reduce_host_to(c->args.op, c->args.dtype, recv + mine.off * es,
                              send + mine.off * es, scratch + ((k - 1) % 2) * chunk_elems(c) * es,
                              mine.len);
            st = ucx_coll_send(c, peer, (int)(2 * k - 1), recv + mine.off * es, mine.len * es,
                               err);
        }
    }
    return st == SF_OK ? SF_INPROGRESS : st;
}

const ucx_algo_t ucx_allreduce_halves = {.name = "halves", .advance = allreduce_halves_advance};
