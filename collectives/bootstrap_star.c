/* The star collectives: once the rendezvous is done every rank holds an
 * endpoint to rank 0, which gathers and forwards. Each message is a
 * header (op, sequence number, size) then the payload, so ranks that call
 * the bootstrap in different orders fail with a clear error. */
#include "bootstrap_impl.h"

#include <stdlib.h>
#include <string.h>

static sf_status_t bs_usable(const sf_bootstrap_t *bs, const char *what, sf_err_t *err)
{
    if (bs->is_broken)
        return sf_err_set(err, SF_ERR_COMM, NULL,
                          "bootstrap %s on rank %d: an earlier bootstrap exchange failed", what,
                          bs->rank);
    return SF_OK;
}

static const char *bs_op_name(uint32_t op)
{
    return op == BS_OP_ALLGATHER ? "allgather" : op == BS_OP_BCAST ? "bcast" : "?";
}

static sf_status_t bs_header_check(sf_bootstrap_t *bs, const bs_header_t *h, int from, uint32_t op,
                                   uint64_t nbytes, sf_err_t *err)
{
    if (h->magic == BS_MAGIC && h->op == op && h->seq == bs->seq && h->nbytes == nbytes)
        return SF_OK;
    bs->is_broken = true;
    return sf_err_set(err, SF_ERR_COMM, NULL,
                      "bootstrap: rank %d sent %s #%u of %llu bytes while rank %d expected %s #%u "
                      "of %llu bytes (the ranks called the bootstrap in different orders)",
                      from, bs_op_name(h->op), h->seq, (unsigned long long)h->nbytes, bs->rank,
                      bs_op_name(op), bs->seq, (unsigned long long)nbytes);
}

/* Receive one message (header, then payload once the header checked out)
 * from each of conns[0..n) into bufs[i]. */
static sf_status_t bs_recv_many(sf_bootstrap_t *bs, bs_conn_t **conns, void **bufs, int n,
                                uint32_t op, uint64_t nbytes, const char *what, sf_err_t *err)
{
    double deadline = sf_clock_now_s() + bs->timeout_s;
    bs_header_t *hdrs = calloc((size_t)n, sizeof *hdrs);
    bs_op_t *ops = calloc((size_t)n, sizeof *ops);
    sf_status_t st = hdrs == NULL || ops == NULL
                         ? sf_err_set(err, SF_ERR_NOMEM, NULL, "bootstrap: out of memory")
                         : SF_OK;
    int n_posted = 0;
    for (; st == SF_OK && n_posted < n; n_posted++)
        st = bs_post(bs, conns[n_posted], false, &hdrs[n_posted], sizeof hdrs[0], &ops[n_posted],
                     err);
    if (st == SF_OK)
        st = bs_ops_wait(bs, ops, n, deadline, what, err);
    else if (ops != NULL)
        bs_ops_abandon(bs, ops, n_posted);
    for (int i = 0; st == SF_OK && i < n; i++)
        st = bs_header_check(bs, &hdrs[i], conns[i]->rank, op, nbytes, err);
    for (n_posted = 0; st == SF_OK && n_posted < n; n_posted++)
        st = bs_post(bs, conns[n_posted], false, bufs[n_posted], nbytes, &ops[n_posted], err);
    if (st == SF_OK)
        st = bs_ops_wait(bs, ops, n, deadline, what, err);
    else if (ops != NULL && n_posted > 0)
        bs_ops_abandon(bs, ops, n_posted);
    free(hdrs);
    free(ops);
    return st;
}

/* Send the same message to each of conns[0..n). */
static sf_status_t bs_send_many(sf_bootstrap_t *bs, bs_conn_t **conns, int n, uint32_t op,
                                const void *buf, uint64_t nbytes, const char *what, sf_err_t *err)
{
    bs_header_t hdr = {.magic = BS_MAGIC, .op = op, .seq = bs->seq, .nbytes = nbytes};
    bs_op_t *ops = calloc((size_t)(2 * n), sizeof *ops);
    if (ops == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "bootstrap: out of memory");
    sf_status_t st = SF_OK;
    int n_posted = 0;
    for (int i = 0; st == SF_OK && i < n; i++) {
        st = bs_post(bs, conns[i], true, &hdr, sizeof hdr, &ops[n_posted++], err);
        if (st == SF_OK)
            st = bs_post(bs, conns[i], true, (void *)buf, nbytes, &ops[n_posted++], err);
    }
    if (st == SF_OK)
        st = bs_ops_wait(bs, ops, n_posted, sf_clock_now_s() + bs->timeout_s, what, err);
    else
        bs_ops_abandon(bs, ops, n_posted);
    free(ops);
    return st;
}

sf_status_t sf_bootstrap_allgather(sf_bootstrap_t *bs, const void *mine, size_t n, void *all,
                                   sf_err_t *err)
{
    sf_status_t st = bs_usable(bs, "allgather", err);
    if (st != SF_OK)
        return st;
    if (n > 0)
        memmove((char *)all + (size_t)bs->rank * n, mine, n);
    if (bs->world == 1)
        return SF_OK;
    bs->seq++;
    size_t total = n * (size_t)bs->world;
    if (bs->rank != 0) {
        st = bs_send_many(bs, bs->by_rank, 1, BS_OP_ALLGATHER, mine, n, "allgather", err);
        if (st == SF_OK)
            st = bs_recv_many(bs, bs->by_rank, &all, 1, BS_OP_ALLGATHER, total, "allgather", err);
        return st;
    }
    void **bufs = calloc((size_t)bs->world, sizeof *bufs);
    if (bufs == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "bootstrap: out of memory");
    for (int r = 1; r < bs->world; r++)
        bufs[r - 1] = (char *)all + (size_t)r * n;
    st = bs_recv_many(bs, bs->by_rank + 1, bufs, bs->world - 1, BS_OP_ALLGATHER, n, "allgather",
                      err);
    free(bufs);
    if (st == SF_OK)
        st = bs_send_many(bs, bs->by_rank + 1, bs->world - 1, BS_OP_ALLGATHER, all, total,
                          "allgather", err);
    return st;
}

sf_status_t sf_bootstrap_bcast(sf_bootstrap_t *bs, void *buf, size_t n, int root, sf_err_t *err)
{
    sf_status_t st = bs_usable(bs, "bcast", err);
    if (st != SF_OK)
        return st;
    if (root < 0 || root >= bs->world)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "bootstrap bcast: root %d out of range (world %d)", root, bs->world);
    if (bs->world == 1)
        return SF_OK;
    bs->seq++;
    if (bs->rank != 0) {
        /* A root other than 0 hands its bytes to the hub first. */
        if (bs->rank == root)
            return bs_send_many(bs, bs->by_rank, 1, BS_OP_BCAST, buf, n, "bcast", err);
        return bs_recv_many(bs, bs->by_rank, &buf, 1, BS_OP_BCAST, n, "bcast", err);
    }
    if (root != 0) {
        st = bs_recv_many(bs, &bs->by_rank[root], &buf, 1, BS_OP_BCAST, n, "bcast", err);
        if (st != SF_OK)
            return st;
    }
    bs_conn_t **to = calloc((size_t)bs->world, sizeof *to);
    if (to == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "bootstrap: out of memory");
    int n_to = 0;
    for (int r = 1; r < bs->world; r++)
        if (r != root)
            to[n_to++] = bs->by_rank[r];
    st = bs_send_many(bs, to, n_to, BS_OP_BCAST, buf, n, "bcast", err);
    free(to);
    return st;
}

sf_status_t sf_bootstrap_barrier(sf_bootstrap_t *bs, sf_err_t *err)
{
    if (bs->world == 1)
        return bs_usable(bs, "barrier", err);
    char *all = malloc((size_t)bs->world);
    if (all == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "bootstrap: out of memory");
    char mine = 1;
    sf_status_t st = sf_bootstrap_allgather(bs, &mine, 1, all, err);
    free(all);
    return st;
}
