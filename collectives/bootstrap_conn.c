/* The bootstrap's transport: progress and idle waiting on the worker,
 * endpoints to peers, UCP stream sends and receives waited on as a group
 * with a deadline, and the UCP context and worker setup. */
#include "bootstrap_impl.h"

#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* snprintf that truncates quietly: messages are cut, never overflowed. */
void bs_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

/* ---- progress and idle waiting ------------------------------------------ */

/* Progress once; when nothing moved, sleep on the worker's event fd (at
 * most a few ms, so a missed wake-up costs little) until the deadline. */
void bs_idle(sf_bootstrap_t *bs, double deadline)
{
    if (ucp_worker_progress(bs->worker) != 0)
        return;
    double left_ms = (deadline - sf_clock_now_s()) * 1e3;
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

void bs_sleep(sf_bootstrap_t *bs, double seconds)
{
    double until = sf_clock_now_s() + seconds;
    while (sf_clock_now_s() < until)
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

bs_conn_t *bs_conn_add(sf_bootstrap_t *bs)
{
    bs_conn_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->rank = -1;
    c->next = bs->conns;
    bs->conns = c;
    return c;
}

void bs_request_drop(sf_bootstrap_t *bs, void **req)
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
    if (c->ep == NULL)
        return;
    ucp_request_param_t p = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
                             .flags = force || c->is_failed ? UCP_EP_CLOSE_FLAG_FORCE : 0};
    void *r = ucp_ep_close_nbx(c->ep, &p);
    c->ep = NULL;
    if (r == NULL || UCS_PTR_IS_ERR(r))
        return;
    double deadline = sf_clock_now_s() + BS_CLOSE_S;
    while (ucp_request_check_status(r) == UCS_INPROGRESS && sf_clock_now_s() < deadline)
        bs_idle(bs, deadline);
    ucp_request_free(r);
}

void bs_conn_remove(sf_bootstrap_t *bs, bs_conn_t *dead, bool force)
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

ucp_ep_params_t bs_ep_params(bs_conn_t *c)
{
    ucp_ep_params_t p = {0};
    p.field_mask = UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER;
    p.err_mode = UCP_ERR_HANDLING_MODE_PEER;
    p.err_handler.cb = bs_on_ep_error;
    p.err_handler.arg = c;
    return p;
}

bs_conn_t *bs_conn_to_address(sf_bootstrap_t *bs, int rank, const void *addr, sf_err_t *err)
{
    bs_conn_t *c = bs_conn_add(bs);
    if (c == NULL) {
        sf_err_set(err, SF_ERR_NOMEM, NULL, "bootstrap: out of memory");
        return NULL;
    }
    c->rank = rank;
    ucp_ep_params_t p = bs_ep_params(c);
    p.field_mask |= UCP_EP_PARAM_FIELD_REMOTE_ADDRESS;
    p.address = (const ucp_address_t *)addr;
    ucs_status_t s = ucp_ep_create(bs->worker, &p, &c->ep);
    if (s != UCS_OK) {
        c->ep = NULL;
        bs_conn_remove(bs, c, true);
        sf_err_set(err, SF_ERR_COMM, NULL, "bootstrap: an endpoint to rank %d: %s", rank,
                   ucs_status_string(s));
        return NULL;
    }
    return c;
}

/* ---- stream operations and the group wait -------------------------------- */

sf_status_t bs_post(sf_bootstrap_t *bs, bs_conn_t *c, bool is_send, void *buf, size_t n,
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

void bs_ops_abandon(sf_bootstrap_t *bs, bs_op_t *ops, int n)
{
    for (int i = 0; i < n; i++)
        bs_request_drop(bs, &ops[i].req);
    bs->is_broken = true;
}

/* Wait for every op in ops[0..n) until the deadline. On failure the rest
 * are abandoned and the bootstrap is unusable from then on. */
sf_status_t bs_ops_wait(sf_bootstrap_t *bs, bs_op_t *ops, int n, double deadline,
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
        if (sf_clock_now_s() > deadline) {
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

sf_status_t bs_resolve(const sf_rank_info_t *ri, struct sockaddr_storage *sa, socklen_t *len,
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

sf_status_t bs_ucx_init(sf_bootstrap_t *bs, sf_err_t *err)
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
