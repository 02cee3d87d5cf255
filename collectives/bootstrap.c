/* Rendezvous over UCX: rank 0 listens on MASTER_ADDR:MASTER_PORT, the
 * others connect by sockaddr and say hello; rank 0 answers only once the
 * whole world is in (or refuses, and then fails itself). Afterwards the
 * ranks form a star around rank 0 over per-endpoint UCP streams, which
 * carry the small all-gathers and broadcasts the backends need
 * (bootstrap_star.c). Endpoints, stream operations and waiting live in
 * bootstrap_conn.c.
 * Invariant: every wait has a deadline and progresses the worker. */
#include "bootstrap_impl.h"

#include <stdio.h>
#include <stdlib.h>

int sf_bootstrap_rank(const sf_bootstrap_t *bs)
{
    return bs->rank;
}
int sf_bootstrap_world(const sf_bootstrap_t *bs)
{
    return bs->world;
}
double sf_bootstrap_timeout(const sf_bootstrap_t *bs)
{
    return bs->timeout_s;
}

void sf_bootstrap_free(sf_bootstrap_t *bs)
{
    if (bs == NULL)
        return;
    if (bs->listener != NULL) {
        for (int i = 0; i < bs->n_pending; i++)
            (void)ucp_listener_reject(bs->listener, bs->pending[i]);
        ucp_listener_destroy(bs->listener);
    }
    free(bs->pending);
    /* Flush-close every live endpoint: the last reply rank 0 sent (an OK,
     * or the reason it refused) may still be in flight, and a forced close
     * would drop it. Failed endpoints are forced (bs_conn_close in
     * bootstrap_conn.c). */
    while (bs->conns != NULL)
        bs_conn_remove(bs, bs->conns, false);
    if (bs->worker != NULL)
        ucp_worker_destroy(bs->worker);
    if (bs->ctx != NULL)
        ucp_cleanup(bs->ctx);
    free(bs->by_rank);
    free(bs);
}

/* ---- rank 0: listen, collect hellos, answer ------------------------------ */

static void bs_on_conn_request(ucp_conn_request_h req, void *arg)
{
    sf_bootstrap_t *bs = arg;
    if (bs->n_pending == bs->cap_pending) {
        int cap = bs->cap_pending ? 2 * bs->cap_pending : 8;
        ucp_conn_request_h *grown = realloc(bs->pending, (size_t)cap * sizeof *grown);
        if (grown == NULL) {
            (void)ucp_listener_reject(bs->listener, req);
            return;
        }
        bs->pending = grown;
        bs->cap_pending = cap;
    }
    bs->pending[bs->n_pending++] = req;
}

/* Why the hello h must be refused, into why[n]; false when it is fine. */
static bool bs_hello_refusal(const sf_bootstrap_t *bs, const bs_hello_t *h, char *why, size_t n)
{
    if (h->magic != BS_MAGIC)
        bs_fmt(why, n, "a connection to %s did not speak the shardflow bootstrap protocol",
               bs->where);
    else if (h->protocol != SF_BOOTSTRAP_PROTOCOL)
        bs_fmt(why, n, "bootstrap protocol mismatch: rank %d speaks version %u, rank 0 speaks %d",
               h->rank, h->protocol, SF_BOOTSTRAP_PROTOCOL);
    else if (h->world != bs->world)
        bs_fmt(why, n, "world size mismatch: rank %d has world size %d, rank 0 has %d", h->rank,
               h->world, bs->world);
    else if (h->rank <= 0 || h->rank >= bs->world)
        bs_fmt(why, n, "rank %d is out of range for world size %d", h->rank, bs->world);
    else if (h->graph_hash != bs->graph_hash)
        bs_fmt(why, n,
               "graph hash mismatch: rank %d has 0x%016llx, rank 0 has 0x%016llx (the ranks "
               "loaded different graphs or parameters)",
               h->rank, (unsigned long long)h->graph_hash, (unsigned long long)bs->graph_hash);
    else if (bs->by_rank[h->rank] != NULL)
        bs_fmt(why, n, "duplicate rank: two processes claim rank %d", h->rank);
    else
        return false;
    return true;
}

/* Send one reply to each of conns[0..n) and wait (bounded) until sent. */
static sf_status_t bs_reply_all(sf_bootstrap_t *bs, bs_conn_t **conns, bs_reply_t *replies, int n,
                                double deadline, sf_err_t *err)
{
    bs_op_t *ops = calloc((size_t)(n > 0 ? n : 1), sizeof *ops);
    if (ops == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "bootstrap: out of memory");
    sf_status_t st = SF_OK;
    int n_posted = 0;
    for (int i = 0; i < n && st == SF_OK; i++, n_posted++)
        st = bs_post(bs, conns[i], true, &replies[i], sizeof replies[i], &ops[i], err);
    if (st == SF_OK)
        st = bs_ops_wait(bs, ops, n_posted, deadline, "reply", err);
    else
        bs_ops_abandon(bs, ops, n_posted);
    free(ops);
    return st;
}

/* Tell every connected rank, joined or still saying hello, why rank 0
 * gives up, so they fail with the reason at once instead of timing out.
 * The offender (if any) gets the refusal itself. Best effort. */
static void bs_abort_rendezvous(sf_bootstrap_t *bs, bs_conn_t *offender, const char *why,
                                sf_status_t code)
{
    int n = 0;
    for (bs_conn_t *c = bs->conns; c != NULL; c = c->next)
        n++;
    bs_conn_t **to = calloc((size_t)n + 1, sizeof *to);
    bs_reply_t *replies = calloc((size_t)n + 1, sizeof *replies);
    if (to == NULL || replies == NULL) {
        free(to);
        free(replies);
        return;
    }
    n = 0;
    for (bs_conn_t *c = bs->conns; c != NULL; c = c->next) {
        if (c->ep == NULL || c->is_failed)
            continue;
        replies[n].magic = BS_MAGIC;
        replies[n].status = (uint32_t)code;
        if (c == offender)
            bs_fmt(replies[n].text, BS_REPLY_TEXT, "%s", why);
        else
            bs_fmt(replies[n].text, BS_REPLY_TEXT, "rank 0 aborted the rendezvous: %s", why);
        to[n++] = c;
    }
    sf_err_t ignored = {0};
    (void)bs_reply_all(bs, to, replies, n, sf_clock_now_s() + BS_NOTIFY_S, &ignored);
    free(to);
    free(replies);
}

static sf_status_t bs_accept_pending(sf_bootstrap_t *bs, sf_err_t *err)
{
    while (bs->n_pending > 0) {
        ucp_conn_request_h req = bs->pending[--bs->n_pending];
        bs_conn_t *c = bs_conn_add(bs);
        if (c == NULL) {
            (void)ucp_listener_reject(bs->listener, req);
            return sf_err_set(err, SF_ERR_NOMEM, NULL, "bootstrap: out of memory");
        }
        ucp_ep_params_t p = bs_ep_params(c);
        p.field_mask |= UCP_EP_PARAM_FIELD_CONN_REQUEST;
        p.conn_request = req;
        ucs_status_t s = ucp_ep_create(bs->worker, &p, &c->ep);
        if (s != UCS_OK) {
            c->ep = NULL;
            bs_conn_remove(bs, c, true); /* the client will retry */
            continue;
        }
        bs_op_t op;
        sf_status_t st = bs_post(bs, c, false, &c->hello, sizeof c->hello, &op, err);
        if (st != SF_OK) {
            sf_err_clear(err);
            bs_conn_remove(bs, c, true);
            continue;
        }
        c->hello_req = op.req;
        c->has_hello = op.req == NULL;
    }
    return SF_OK;
}

static sf_status_t bs_rendezvous_root(sf_bootstrap_t *bs, const struct sockaddr_storage *sa,
                                      socklen_t salen, sf_err_t *err)
{
    ucp_listener_params_t lp = {0};
    lp.field_mask = UCP_LISTENER_PARAM_FIELD_SOCK_ADDR | UCP_LISTENER_PARAM_FIELD_CONN_HANDLER;
    lp.sockaddr.addr = (const struct sockaddr *)sa;
    lp.sockaddr.addrlen = salen;
    lp.conn_handler.cb = bs_on_conn_request;
    lp.conn_handler.arg = bs;
    ucs_status_t s = ucp_listener_create(bs->worker, &lp, &bs->listener);
    if (s != UCS_OK) {
        bs->listener = NULL;
        return sf_err_set(err, SF_ERR_COMM, NULL, "cannot listen on %s: %s", bs->where,
                          ucs_status_string(s));
    }
    double deadline = sf_clock_now_s() + bs->timeout_s;
    int n_joined = 0;
    while (n_joined < bs->world - 1) {
        sf_status_t st = bs_accept_pending(bs, err);
        if (st != SF_OK)
            return st;
        bs_conn_t *next = NULL;
        for (bs_conn_t *c = bs->conns; c != NULL; c = next) {
            next = c->next;
            if (c->hello_req != NULL) {
                ucs_status_t hs = ucp_request_check_status(c->hello_req);
                if (hs != UCS_INPROGRESS) {
                    ucp_request_free(c->hello_req);
                    c->hello_req = NULL;
                    c->has_hello = hs == UCS_OK;
                    if (hs != UCS_OK)
                        c->is_failed = true;
                }
            }
            if (c->is_failed) {
                /* A client whose attempt broke reconnects; forget this one,
                 * joined or not, so its next hello is not a duplicate. */
                if (c->rank > 0) {
                    bs->by_rank[c->rank] = NULL;
                    n_joined--;
                }
                bs_conn_remove(bs, c, true);
                continue;
            }
            if (c->rank < 0 && c->has_hello) {
                char why[BS_REPLY_TEXT];
                if (bs_hello_refusal(bs, &c->hello, why, sizeof why)) {
                    bs_abort_rendezvous(bs, c, why, SF_ERR_INPUT);
                    return sf_err_set(err, SF_ERR_INPUT, NULL,
                                      "rendezvous at %s refused a rank: %s", bs->where, why);
                }
                c->rank = c->hello.rank;
                bs->by_rank[c->rank] = c;
                n_joined++;
            }
        }
        if (n_joined == bs->world - 1)
            break;
        if (sf_clock_now_s() > deadline) {
            char missing[256] = "";
            size_t used = 0;
            for (int r = 1; r < bs->world && used < sizeof missing; r++)
                if (bs->by_rank[r] == NULL)
                    used += (size_t)snprintf(missing + used, sizeof missing - used, "%s%d",
                                             used ? ", " : "", r);
            char why[BS_REPLY_TEXT];
            bs_fmt(why, sizeof why,
                   "rendezvous at %s timed out after %.1f s: rank(s) %s never connected (%d of "
                   "%d ranks joined)",
                   bs->where, bs->timeout_s, missing, n_joined + 1, bs->world);
            bs_abort_rendezvous(bs, NULL, why, SF_ERR_TIMEOUT);
            return sf_err_set(err, SF_ERR_TIMEOUT, NULL, "%s", why);
        }
        bs_idle(bs, deadline);
    }
    /* Everyone is in: no more connections, and every rank hears OK. */
    for (int i = 0; i < bs->n_pending; i++)
        (void)ucp_listener_reject(bs->listener, bs->pending[i]);
    bs->n_pending = 0;
    ucp_listener_destroy(bs->listener);
    bs->listener = NULL;
    bs_reply_t *replies = calloc((size_t)bs->world, sizeof *replies);
    if (replies == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "bootstrap: out of memory");
    for (int r = 0; r < bs->world; r++) {
        replies[r].magic = BS_MAGIC;
        replies[r].status = SF_OK;
    }
    sf_status_t st =
        bs_reply_all(bs, bs->by_rank + 1, replies, bs->world - 1,
                     sf_clock_now_s() + bs->timeout_s, err);
    free(replies);
    return st;
}

/* ---- other ranks: connect, retrying until rank 0 is up --------------------- */

static sf_status_t bs_rendezvous_client(sf_bootstrap_t *bs, const struct sockaddr_storage *sa,
                                        socklen_t salen, sf_err_t *err)
{
    double deadline = sf_clock_now_s() + bs->timeout_s;
    ucs_status_t last = UCS_OK;
    bool was_sent = false;
    bs_hello_t hello = {.magic = BS_MAGIC,
                        .protocol = SF_BOOTSTRAP_PROTOCOL,
                        .world = bs->world,
                        .rank = bs->rank,
                        .graph_hash = bs->graph_hash};
    bs_reply_t reply;
    for (;;) {
        bs_conn_t *c = bs_conn_add(bs);
        if (c == NULL)
            return sf_err_set(err, SF_ERR_NOMEM, NULL, "bootstrap: out of memory");
        c->rank = 0;
        ucp_ep_params_t p = bs_ep_params(c);
        p.field_mask |= UCP_EP_PARAM_FIELD_SOCK_ADDR | UCP_EP_PARAM_FIELD_FLAGS;
        p.flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER;
        p.sockaddr.addr = (const struct sockaddr *)sa;
        p.sockaddr.addrlen = salen;
        ucs_status_t s = ucp_ep_create(bs->worker, &p, &c->ep);
        bs_op_t ops[2] = {{0}, {0}};
        sf_err_t post_err = {0};
        if (s != UCS_OK) {
            c->ep = NULL;
            last = s;
        } else if (bs_post(bs, c, true, &hello, sizeof hello, &ops[0], &post_err) != SF_OK ||
                   bs_post(bs, c, false, &reply, sizeof reply, &ops[1], &post_err) != SF_OK) {
            last = UCS_ERR_IO_ERROR;
        } else {
            /* Wait for the answer, noting whether the hello left, which
             * tells "rank 0 is not up" from "rank 0 is waiting for others".
             * A reply wins over a failure seen in the same progress call:
             * rank 0 closes right after sending a refusal. */
            bool has_reply = ops[1].req == NULL;
            while (!has_reply && !c->is_failed && sf_clock_now_s() < deadline) {
                bs_idle(bs, deadline);
                if (ops[0].req != NULL) {
                    ucs_status_t ss = ucp_request_check_status(ops[0].req);
                    if (ss != UCS_INPROGRESS) {
                        ucp_request_free(ops[0].req);
                        ops[0].req = NULL;
                        if (ss != UCS_OK) {
                            c->is_failed = true;
                            c->fail_status = ss;
                        }
                    }
                }
                if (ops[0].req == NULL && !c->is_failed)
                    was_sent = true;
                ucs_status_t rs = ucp_request_check_status(ops[1].req);
                if (rs != UCS_INPROGRESS) {
                    ucp_request_free(ops[1].req);
                    ops[1].req = NULL;
                    has_reply = rs == UCS_OK;
                    if (rs != UCS_OK) {
                        c->is_failed = true;
                        c->fail_status = rs;
                    }
                }
            }
            if (has_reply) {
                bs_request_drop(bs, &ops[0].req);
                if (reply.magic != BS_MAGIC) {
                    bs->is_broken = true;
                    return sf_err_set(err, SF_ERR_COMM, NULL,
                                      "%s answered with something other than a shardflow "
                                      "bootstrap reply",
                                      bs->where);
                }
                if (reply.status != SF_OK) {
                    sf_status_t code =
                        reply.status == SF_ERR_TIMEOUT ? SF_ERR_TIMEOUT : SF_ERR_INPUT;
                    reply.text[BS_REPLY_TEXT - 1] = '\0';
                    bs->is_broken = true;
                    return sf_err_set(err, code, NULL, "rank 0 at %s refused rank %d: %s",
                                      bs->where, bs->rank, reply.text);
                }
                bs->by_rank[0] = c;
                return SF_OK;
            }
            if (c->is_failed)
                last = c->fail_status;
        }
        bs_request_drop(bs, &ops[0].req);
        bs_request_drop(bs, &ops[1].req);
        bs_conn_remove(bs, c, true);
        if (sf_clock_now_s() >= deadline) {
            if (was_sent && last == UCS_OK)
                return sf_err_set(err, SF_ERR_TIMEOUT, NULL,
                                  "rank %d reached rank 0 at %s, but the rendezvous did not "
                                  "complete within %.1f s (are all %d ranks started?)",
                                  bs->rank, bs->where, bs->timeout_s, bs->world);
            return sf_err_set(err, SF_ERR_TIMEOUT, NULL,
                              "rank %d cannot reach rank 0 at %s within %.1f s (last error: %s)",
                              bs->rank, bs->where, bs->timeout_s,
                              last == UCS_OK ? "no answer" : ucs_status_string(last));
        }
        was_sent = false;
        bs_sleep(bs, BS_RETRY_S);
    }
}

sf_status_t sf_bootstrap_new(const sf_rank_info_t *ri, uint64_t graph_hash, double timeout_s,
                             sf_bootstrap_t **out, sf_err_t *err)
{
    *out = NULL;
    if (ri->world < 1 || ri->rank < 0 || ri->rank >= ri->world)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "rank %d is out of range for world size %d",
                          ri->rank, ri->world);
    sf_bootstrap_t *bs = calloc(1, sizeof *bs);
    if (bs == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "bootstrap: out of memory");
    bs->rank = ri->rank;
    bs->world = ri->world;
    bs->timeout_s = timeout_s;
    bs->graph_hash = graph_hash;
    bs->efd = -1;
    bs_fmt(bs->where, sizeof bs->where, "%s:%d", ri->master_addr, ri->master_port);
    if (ri->world == 1) { /* nobody to meet */
        *out = bs;
        return SF_OK;
    }
    bs->by_rank = calloc((size_t)ri->world, sizeof *bs->by_rank);
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    sf_status_t st = bs->by_rank == NULL
                         ? sf_err_set(err, SF_ERR_NOMEM, NULL, "bootstrap: out of memory")
                         : bs_resolve(ri, &sa, &salen, err);
    if (st == SF_OK)
        st = bs_ucx_init(bs, err);
    if (st == SF_OK)
        st = bs->rank == 0 ? bs_rendezvous_root(bs, &sa, salen, err)
                           : bs_rendezvous_client(bs, &sa, salen, err);
    if (st != SF_OK) {
        bs->is_broken = true;
        sf_bootstrap_free(bs);
        return st;
    }
    *out = bs;
    return SF_OK;
}
