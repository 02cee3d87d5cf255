/* Rendezvous over UCX: rank 0 listens on MASTER_ADDR:MASTER_PORT, the
 * others connect by sockaddr and say hello; rank 0 answers only once the
 * whole world is in (or refuses, and then fails itself). Afterwards the
 * ranks form a star around rank 0 over per-endpoint UCP streams, which
 * carry the small all-gathers and broadcasts the backends need.
 * Invariant: every wait has a deadline and progresses the worker. */
#include "bootstrap.h"

#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <ucp/api/ucp.h>

#define BS_MAGIC 0x53464253u /* "SFBS" */
#define BS_REPLY_TEXT 400
#define BS_RETRY_S 0.1  /* between connection attempts */
#define BS_CLOSE_S 2.0  /* bound on a graceful endpoint close */
#define BS_NOTIFY_S 1.0 /* bound on telling peers why rank 0 gave up */

/* Wire formats. Host byte order: every rank runs the same build. */
typedef struct bs_hello {
    uint32_t magic;
    uint32_t protocol;
    int32_t world;
    int32_t rank;
    uint64_t graph_hash;
} bs_hello_t;

typedef struct bs_reply {
    uint32_t magic;
    uint32_t status;          /* an sf_status_t: SF_OK, or what the refused rank returns */
    char text[BS_REPLY_TEXT]; /* the refusal, NUL-terminated */
} bs_reply_t;

typedef enum bs_opcode { BS_OP_ALLGATHER = 1, BS_OP_BCAST = 2 } bs_opcode_t;

typedef struct bs_header {
    uint32_t magic;
    uint32_t op;
    uint32_t seq;
    uint32_t reserved;
    uint64_t nbytes;
} bs_header_t;

/* One endpoint to a peer. Heap-allocated so the error callback's pointer
 * stays valid while the list changes. */
typedef struct bs_conn {
    ucp_ep_h ep;    /* owned; NULL once closed */
    int rank;       /* the peer's rank; -1 until its hello is accepted */
    bool is_failed; /* set by the UCP error callback */
    ucs_status_t fail_status;
    bs_hello_t hello; /* rank 0: the peer's hello lands here */
    void *hello_req;  /* owned UCP request, or NULL */
    bool has_hello;
    struct bs_conn *next; /* owned list link */
} bs_conn_t;

struct sf_bootstrap {
    int rank;
    int world;
    double timeout_s;
    uint64_t graph_hash;
    char where[300];             /* "ADDR:PORT" for messages */
    ucp_context_h ctx;           /* owned */
    ucp_worker_h worker;         /* owned */
    int efd;                     /* the worker's event fd, or -1: poll by sleeping */
    ucp_listener_h listener;     /* owned; rank 0 during the rendezvous only */
    ucp_conn_request_h *pending; /* owned array: requests the listener queued */
    int n_pending, cap_pending;
    bs_conn_t *conns;    /* owned list of every endpoint */
    bs_conn_t **by_rank; /* owned array of borrowed conns: rank 0 holds
                            world entries, the others only [0] */
    uint32_t seq;        /* collective calls so far, for mismatch checks */
    bool is_broken;      /* a wait failed: requests may be abandoned */
};

/* One posted stream operation waited on as part of a group. */
typedef struct bs_op {
    void *req;       /* owned UCP request; NULL when complete */
    bs_conn_t *conn; /* borrowed */
} bs_op_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* snprintf that truncates quietly: messages are cut, never overflowed. */
static void SF_PRINTF(3, 4) bs_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

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

/* ---- progress and idle waiting ------------------------------------------ */

/* Progress once; when nothing moved, sleep on the worker's event fd (at
 * most a few ms, so a missed wake-up costs little) until the deadline. */
static void bs_idle(sf_bootstrap_t *bs, double deadline)
{
    if (ucp_worker_progress(bs->worker) != 0)
        return;
    double left_ms = (deadline - now_s()) * 1e3;
    int ms = left_ms < 0 ? 0 : left_ms > 5 ? 5 : (int)left_ms;
    if (bs->efd >= 0) {
        if (ucp_worker_arm(bs->worker) != UCS_OK)
            return; /* events arrived meanwhile: progress again */
        struct pollfd pfd = {.fd = bs->efd, .events = POLLIN};
        (void)poll(&pfd, 1, ms);
    } else {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
}

static void bs_sleep(sf_bootstrap_t *bs, double seconds)
{
    double until = now_s() + seconds;
    while (now_s() < until)
        bs_idle(bs, until);
}

/* ---- endpoints ----------------------------------------------------------- */

static void bs_on_ep_error(void *arg, ucp_ep_h ep, ucs_status_t status)
{
    (void)ep;
    bs_conn_t *c = arg;
    /* Callbacks only record: the main loop decides what a failure means. */
    c->is_failed = true;
    c->fail_status = status;
}

static bs_conn_t *bs_conn_add(sf_bootstrap_t *bs)
{
    bs_conn_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->rank = -1;
    c->next = bs->conns;
    bs->conns = c;
    return c;
}

static void bs_request_drop(sf_bootstrap_t *bs, void **req)
{
    if (*req == NULL)
        return;
    if (ucp_request_check_status(*req) == UCS_INPROGRESS)
        ucp_request_cancel(bs->worker, *req);
    ucp_request_free(*req);
    *req = NULL;
}

/* Close c's endpoint: gracefully (flushing what was sent) with a bounded
 * wait, or at once when force is set. */
static void bs_conn_close(sf_bootstrap_t *bs, bs_conn_t *c, bool force)
{
    bs_request_drop(bs, &c->hello_req);
    if (c->ep == NULL)
        return;
    ucp_request_param_t p = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
                             .flags = force || c->is_failed ? UCP_EP_CLOSE_FLAG_FORCE : 0};
    void *r = ucp_ep_close_nbx(c->ep, &p);
    c->ep = NULL;
    if (r == NULL || UCS_PTR_IS_ERR(r))
        return;
    double deadline = now_s() + BS_CLOSE_S;
    while (ucp_request_check_status(r) == UCS_INPROGRESS && now_s() < deadline)
        bs_idle(bs, deadline);
    ucp_request_free(r);
}

static void bs_conn_remove(sf_bootstrap_t *bs, bs_conn_t *dead, bool force)
{
    for (bs_conn_t **pp = &bs->conns; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == dead) {
            *pp = dead->next;
            break;
        }
    }
    bs_conn_close(bs, dead, force);
    free(dead);
}

static ucp_ep_params_t bs_ep_params(bs_conn_t *c)
{
    ucp_ep_params_t p = {0};
    p.field_mask = UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER;
    p.err_mode = UCP_ERR_HANDLING_MODE_PEER;
    p.err_handler.cb = bs_on_ep_error;
    p.err_handler.arg = c;
    return p;
}

/* ---- stream operations and the group wait -------------------------------- */

static sf_status_t bs_post(sf_bootstrap_t *bs, bs_conn_t *c, bool is_send, void *buf, size_t n,
                           bs_op_t *op, sf_err_t *err)
{
    (void)bs;
    op->req = NULL;
    op->conn = c;
    if (n == 0)
        return SF_OK;
    if (c->ep == NULL || c->is_failed)
        return sf_err_set(err, SF_ERR_COMM, NULL, "bootstrap: the connection to rank %d is gone",
                          c->rank);
    ucp_request_param_t p = {0};
    void *r;
    if (is_send) {
        r = ucp_stream_send_nbx(c->ep, buf, n, &p);
    } else {
        size_t got = 0;
        p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
        p.flags = UCP_STREAM_RECV_FLAG_WAITALL;
        r = ucp_stream_recv_nbx(c->ep, buf, n, &got, &p);
    }
    if (UCS_PTR_IS_ERR(r))
        return sf_err_set(err, SF_ERR_COMM, NULL, "bootstrap: cannot %s rank %d: %s",
                          is_send ? "send to" : "receive from", c->rank,
                          ucs_status_string(UCS_PTR_STATUS(r)));
    op->req = r;
    return SF_OK;
}

static void bs_ops_abandon(sf_bootstrap_t *bs, bs_op_t *ops, int n)
{
    for (int i = 0; i < n; i++)
        bs_request_drop(bs, &ops[i].req);
    bs->is_broken = true;
}

/* Wait for every op in ops[0..n) until the deadline. On failure the rest
 * are abandoned and the bootstrap is unusable from then on. */
static sf_status_t bs_ops_wait(sf_bootstrap_t *bs, bs_op_t *ops, int n, double deadline,
                               const char *what, sf_err_t *err)
{
    for (;;) {
        int n_left = 0;
        for (int i = 0; i < n; i++) {
            bs_op_t *op = &ops[i];
            if (op->req == NULL)
                continue;
            ucs_status_t s = ucp_request_check_status(op->req);
            if (s == UCS_INPROGRESS && op->conn->is_failed)
                s = op->conn->fail_status;
            if (s == UCS_INPROGRESS) {
                n_left++;
                continue;
            }
            if (s != UCS_OK) {
                bs_ops_abandon(bs, ops, n);
                return sf_err_set(err, SF_ERR_COMM, NULL, "bootstrap %s: rank %d failed (%s)", what,
                                  op->conn->rank, ucs_status_string(s));
            }
            ucp_request_free(op->req);
            op->req = NULL;
        }
        if (n_left == 0)
            return SF_OK;
        if (now_s() > deadline) {
            char ranks[128] = "";
            size_t used = 0;
            for (int i = 0; i < n && used < sizeof ranks; i++)
                if (ops[i].req != NULL && (i == 0 || ops[i - 1].conn != ops[i].conn))
                    used += (size_t)snprintf(ranks + used, sizeof ranks - used, "%s%d",
                                             used ? ", " : "", ops[i].conn->rank);
            bs_ops_abandon(bs, ops, n);
            return sf_err_set(
                err, SF_ERR_TIMEOUT, NULL,
                "bootstrap %s on rank %d timed out after %.1f s waiting for rank(s) %s", what,
                bs->rank, bs->timeout_s, ranks);
        }
        bs_idle(bs, deadline);
    }
}

/* ---- setup and teardown -------------------------------------------------- */

static sf_status_t bs_resolve(const sf_rank_info_t *ri, struct sockaddr_storage *sa, socklen_t *len,
                              sf_err_t *err)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[16];
    bs_fmt(port, sizeof port, "%d", ri->master_port);
    int rc = getaddrinfo(ri->master_addr, port, &hints, &res);
    if (rc != 0 || res == NULL)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "cannot resolve MASTER_ADDR '%s': %s",
                          ri->master_addr, gai_strerror(rc));
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return SF_OK;
}

static sf_status_t bs_ucx_init(sf_bootstrap_t *bs, sf_err_t *err)
{
    ucp_config_t *config = NULL;
    ucs_status_t s = ucp_config_read(NULL, NULL, &config);
    if (s != UCS_OK)
        return sf_err_set(err, SF_ERR_COMM, NULL, "bootstrap: reading the UCX configuration: %s",
                          ucs_status_string(s));
    /* The rendezvous is over IP by definition, and UCX 1.13 wires a
     * sockaddr endpoint only over tcp (or rdmacm): a UCX_TLS meant for the
     * collectives (say sm) must not starve it. The backends read UCX_TLS. */
    s = ucp_config_modify(config, "TLS", "tcp");
    if (s != UCS_OK) {
        ucp_config_release(config);
        return sf_err_set(err, SF_ERR_COMM, NULL, "bootstrap: selecting tcp: %s",
                          ucs_status_string(s));
    }
    ucp_params_t params = {0};
    params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_NAME;
    params.features = UCP_FEATURE_STREAM | UCP_FEATURE_WAKEUP;
    params.name = "shardflow-bootstrap";
    s = ucp_init(&params, config, &bs->ctx);
    ucp_config_release(config);
    if (s != UCS_OK)
        return sf_err_set(err, SF_ERR_COMM, NULL, "bootstrap: ucp_init: %s", ucs_status_string(s));
    ucp_worker_params_t wp = {0};
    wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
    wp.thread_mode = UCS_THREAD_MODE_SINGLE;
    s = ucp_worker_create(bs->ctx, &wp, &bs->worker);
    if (s != UCS_OK)
        return sf_err_set(err, SF_ERR_COMM, NULL, "bootstrap: ucp_worker_create: %s",
                          ucs_status_string(s));
    if (ucp_worker_get_efd(bs->worker, &bs->efd) != UCS_OK)
        bs->efd = -1;
    return SF_OK;
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
     * would drop it. Failed endpoints are forced (bs_conn_close). */
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
    (void)bs_reply_all(bs, to, replies, n, now_s() + BS_NOTIFY_S, &ignored);
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
    double deadline = now_s() + bs->timeout_s;
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
        if (now_s() > deadline) {
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
        bs_reply_all(bs, bs->by_rank + 1, replies, bs->world - 1, now_s() + bs->timeout_s, err);
    free(replies);
    return st;
}

/* ---- other ranks: connect, retrying until rank 0 is up --------------------- */

static sf_status_t bs_rendezvous_client(sf_bootstrap_t *bs, const struct sockaddr_storage *sa,
                                        socklen_t salen, sf_err_t *err)
{
    double deadline = now_s() + bs->timeout_s;
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
            while (!has_reply && !c->is_failed && now_s() < deadline) {
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
        if (now_s() >= deadline) {
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

/* ---- star collectives ---------------------------------------------------- */

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
    double deadline = now_s() + bs->timeout_s;
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
        st = bs_ops_wait(bs, ops, n_posted, now_s() + bs->timeout_s, what, err);
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
