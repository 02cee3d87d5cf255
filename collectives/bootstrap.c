/* Rendezvous: rank 0 listens on MASTER_ADDR:MASTER_PORT behind the gate
 * (bootstrap_gate.c: plain TCP, a framed hello with the job token and the
 * rank's UCX worker address); rank 0 answers only once the whole world is in
 * (or refuses, and then fails itself), with its own worker address, and
 * both sides make UCX endpoints from the addresses. Afterwards the
 * ranks form a star around rank 0 over per-endpoint UCP streams, which
 * carry the small all-gathers and broadcasts the backends need
 * (bootstrap_star.c). Endpoints, stream operations and waiting live in
 * bootstrap_conn.c.
 * Invariant: every wait has a deadline and progresses the worker. */
#include "bootstrap_impl.h"

#include "hash.h"
#include "launch_env.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

int sf_bootstrap_lost_peer(sf_bootstrap_t *bs)
{
    if (bs->worker == NULL)
        return -1;
    (void)ucp_worker_progress(bs->worker);
    for (int p = 0; p < bs->world; p++)
        if (bs->by_rank[p] != NULL && bs->by_rank[p]->is_failed)
            return p;
    return -1;
}

void sf_bootstrap_free(sf_bootstrap_t *bs)
{
    if (bs == NULL)
        return;
    /* Flush-close every live endpoint: the last message (a star collective
     * a peer still reads) may be in flight, and a forced close would drop
     * it. Failed endpoints are forced (bs_conn_close in bootstrap_conn.c). */
    while (bs->conns != NULL)
        bs_conn_remove(bs, bs->conns, false);
    if (bs->worker != NULL)
        ucp_worker_destroy(bs->worker);
    if (bs->ctx != NULL)
        ucp_cleanup(bs->ctx);
    free(bs->by_rank);
    free(bs);
}

/* The first param whose hash differs between rank 0 and h, as " (param
 * 'seq' differs: rank 0 has seq=4096)", into out[n]; "" when none can be
 * named (no params sent, or all agree). */
static void bs_param_diff(const sf_bootstrap_t *bs, const bs_hello_t *h, char *out, size_t n)
{
    out[0] = '\0';
    int common = bs->n_params < (int)h->n_params ? bs->n_params : (int)h->n_params;
    if (common > SF_BOOTSTRAP_MAX_PARAMS)
        common = SF_BOOTSTRAP_MAX_PARAMS;
    for (int k = 0; k < common && bs->param_text != NULL; k++) {
        if (bs->param_hash[k] == h->param_hash[k])
            continue;
        const char *t = bs->param_text[k];
        const char *eq = strchr(t, '=');
        int name_len = eq != NULL ? (int)(eq - t) : (int)strlen(t);
        bs_fmt(out, n, " (param '%.*s' differs: rank 0 has %.80s)", name_len > 60 ? 60 : name_len,
               t, t);
        return;
    }
    if (bs->param_text != NULL && bs->n_params != (int)h->n_params && h->n_params != 0)
        bs_fmt(out, n, " (rank %d has %u params, rank 0 has %d)", h->rank, h->n_params,
               bs->n_params);
}

/* Why the hello h must be refused, into why[n]; false when it is fine.
 * is_taken: another connection already holds h->rank. */
static bool bs_hello_refusal(const sf_bootstrap_t *bs, const bs_hello_t *h, bool is_taken,
                             char *why, size_t n)
{
    if (h->world != bs->world)
        bs_fmt(why, n, "world size mismatch: rank %d has world size %d, rank 0 has %d", h->rank,
               h->world, bs->world);
    else if (h->rank <= 0 || h->rank >= bs->world)
        bs_fmt(why, n, "rank %d is out of range for world size %d", h->rank, bs->world);
    else if (h->graph_hash != bs->graph_hash) {
        char diff[200];
        bs_param_diff(bs, h, diff, sizeof diff);
        bs_fmt(why, n,
               "graph hash mismatch: rank %d has 0x%016llx, rank 0 has 0x%016llx%s",
               h->rank, (unsigned long long)h->graph_hash, (unsigned long long)bs->graph_hash,
               diff[0] != '\0' ? diff : " (the ranks loaded different graphs or parameters)");
    }
    else if (h->inputs_hash != bs->inputs_hash)
        bs_fmt(why, n,
               "inputs mismatch: rank %d read inputs hashing to 0x%016llx, rank 0 to 0x%016llx "
               "(the ranks were given different --inputs files)",
               h->rank, (unsigned long long)h->inputs_hash, (unsigned long long)bs->inputs_hash);
    else if (is_taken)
        bs_fmt(why, n, "duplicate rank: two processes claim rank %d", h->rank);
    else
        return false;
    return true;
}

/* ---- rank 0: the gate, then endpoints to every member ---------------------- */

/* Rank 0's rendezvous state: connections that have not said who they are
 * (strangers) and the ranks that have (members, by rank). */
typedef struct bs_root {
    sf_bootstrap_t *bs;        /* borrowed */
    int listen_fd;             /* owned */
    bs_gate_peer_t *strangers[BS_GATE_MAX_STRANGERS]; /* owned */
    int n_strangers;
    bs_gate_peer_t **members;  /* owned array of owned peers, world entries */
    int n_joined;
} bs_root_t;

static void root_log_drop(const bs_root_t *r, const bs_gate_peer_t *p, const char *why)
{
    /* Logged, not fatal: a stranger must not be able to stop the job. */
    fprintf(stderr, "shardflow: rendezvous at %s: dropped a connection from %s: %s\n",
            r->bs->where, p->from, why);
}

/* Answer one peer: status and text, and rank 0's worker address on OK. */
static sf_status_t root_reply(const bs_root_t *r, bs_gate_peer_t *p, sf_status_t code,
                              const char *text, const void *addr, size_t addr_len,
                              double deadline, sf_err_t *err)
{
    size_t n = sizeof(bs_gate_reply_t) + addr_len;
    uint8_t *body = calloc(1, n);
    if (body == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "bootstrap: out of memory");
    bs_gate_reply_t *reply = (bs_gate_reply_t *)body;
    reply->status = (uint32_t)code;
    reply->addr_len = (uint32_t)addr_len;
    bs_fmt(reply->text, BS_REPLY_TEXT, "%s", text);
    if (addr_len > 0)
        memcpy(body + sizeof *reply, addr, addr_len);
    char who[96];
    bs_fmt(who, sizeof who, "rank %d at %s", p->msg.hello.rank, p->from);
    sf_status_t st = bs_gate_send(p->fd, body, n, deadline, who, err);
    free(body);
    (void)r;
    return st;
}

/* Tell every member, and the offender (if any), why rank 0 gives up, so
 * they fail with the reason at once instead of timing out. Best effort. */
static void root_abort(bs_root_t *r, bs_gate_peer_t *offender, const char *why, sf_status_t code)
{
    double deadline = sf_clock_now_s() + BS_NOTIFY_S;
    sf_err_t ignored = {0};
    char text[BS_REPLY_TEXT];
    bs_fmt(text, sizeof text, "rank 0 aborted the rendezvous: %s", why);
    if (offender != NULL)
        (void)root_reply(r, offender, code, why, NULL, 0, deadline, &ignored);
    for (int k = 1; k < r->bs->world; k++)
        if (r->members[k] != NULL)
            (void)root_reply(r, r->members[k], code, text, NULL, 0, deadline, &ignored);
}

static void root_drop_stranger(bs_root_t *r, int i)
{
    bs_gate_peer_free(r->strangers[i]);
    r->strangers[i] = r->strangers[--r->n_strangers];
}

/* Take every waiting connection; past BS_GATE_MAX_STRANGERS the newest is
 * closed at once (a flood must not cost memory or descriptors). */
static void root_accept(bs_root_t *r, double now)
{
    bs_gate_peer_t *p;
    while ((p = bs_gate_accept(r->listen_fd, now)) != NULL) {
        if (r->n_strangers == BS_GATE_MAX_STRANGERS) {
            root_log_drop(r, p, "too many connections that have not said who they are");
            bs_gate_peer_free(p);
            continue;
        }
        r->strangers[r->n_strangers++] = p;
    }
}

/* A member that closes its connection before the world is complete gave
 * up (or will retry): forget it so its next hello is not a duplicate. */
static void root_check_members(bs_root_t *r)
{
    for (int k = 1; k < r->bs->world; k++) {
        bs_gate_peer_t *m = r->members[k];
        if (m == NULL)
            continue;
        uint8_t byte;
        ssize_t got = recv(m->fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            bs_gate_peer_free(m);
            r->members[k] = NULL;
            r->n_joined--;
        }
    }
}

/* Read every stranger; a complete hello either joins or refuses the job. */
static sf_status_t root_read_strangers(bs_root_t *r, double now, sf_err_t *err,
                                       const char token[BS_TOKEN_BYTES])
{
    for (int i = 0; i < r->n_strangers;) {
        bs_gate_peer_t *p = r->strangers[i];
        char why[BS_REPLY_TEXT];
        bs_gate_read_t res = bs_gate_read_hello(p, token, now, why, sizeof why);
        if (res == BS_GATE_MORE) {
            i++;
            continue;
        }
        if (res == BS_GATE_DROP) {
            root_log_drop(r, p, why);
            root_drop_stranger(r, i);
            continue;
        }
        /* A member of this job (it knows the token): its refusal is the
         * job's, as before the gate existed. */
        const bs_hello_t *h = &p->msg.hello;
        bool is_taken = h->rank > 0 && h->rank < r->bs->world && r->members[h->rank] != NULL;
        if (bs_hello_refusal(r->bs, h, is_taken, why, sizeof why)) {
            root_abort(r, p, why, SF_ERR_INPUT);
            return sf_err_set(err, SF_ERR_INPUT, NULL, "rendezvous at %s refused a rank: %s",
                              r->bs->where, why);
        }
        r->members[h->rank] = p;
        r->n_joined++;
        r->strangers[i] = r->strangers[--r->n_strangers];
    }
    return SF_OK;
}

/* Sleep until a socket has something or 50 ms pass. */
static void root_wait(const bs_root_t *r)
{
    struct pollfd pf[1 + BS_GATE_MAX_STRANGERS];
    int n = 0;
    pf[n++] = (struct pollfd){.fd = r->listen_fd, .events = POLLIN};
    for (int i = 0; i < r->n_strangers; i++)
        pf[n++] = (struct pollfd){.fd = r->strangers[i]->fd, .events = POLLIN};
    (void)poll(pf, (nfds_t)n, 50);
}

/* Everyone is in: an endpoint to each member's worker, then the OK with
 * rank 0's worker address. */
static sf_status_t root_connect_members(bs_root_t *r, sf_err_t *err)
{
    sf_bootstrap_t *bs = r->bs;
    for (int k = 1; k < bs->world; k++) {
        const bs_gate_peer_t *m = r->members[k];
        bs->by_rank[k] = bs_conn_to_address(bs, k, m->body + sizeof m->msg, err);
        if (bs->by_rank[k] == NULL)
            return SF_ERR_COMM;
    }
    ucp_address_t *addr = NULL;
    size_t addr_len = 0;
    ucs_status_t s = ucp_worker_get_address(bs->worker, &addr, &addr_len);
    if (s != UCS_OK)
        return sf_err_set(err, SF_ERR_COMM, NULL, "bootstrap: the worker's address: %s",
                          ucs_status_string(s));
    double deadline = sf_clock_now_s() + bs->timeout_s;
    sf_status_t st = SF_OK;
    for (int k = 1; k < bs->world && st == SF_OK; k++)
        st = root_reply(r, r->members[k], SF_OK, "", addr, addr_len, deadline, err);
    ucp_worker_release_address(bs->worker, addr);
    return st;
}

static sf_status_t bs_rendezvous_root(sf_bootstrap_t *bs, const struct sockaddr_storage *sa,
                                      socklen_t salen, sf_err_t *err)
{
    char token[BS_TOKEN_BYTES];
    bs_root_t r = {.bs = bs, .listen_fd = -1};
    sf_status_t st = bs_gate_token(token, err);
    if (st == SF_OK)
        st = bs_gate_listen(sa, salen, bs->where, &r.listen_fd, err);
    if (st != SF_OK)
        return st;
    r.members = calloc((size_t)bs->world, sizeof *r.members);
    if (r.members == NULL)
        st = sf_err_set(err, SF_ERR_NOMEM, NULL, "bootstrap: out of memory");
    double deadline = sf_clock_now_s() + bs->timeout_s;
    while (st == SF_OK && r.n_joined < bs->world - 1) {
        double now = sf_clock_now_s();
        root_accept(&r, now);
        root_check_members(&r);
        st = root_read_strangers(&r, now, err, token);
        if (st != SF_OK || r.n_joined == bs->world - 1)
            break;
        if (now > deadline) {
            char missing[256] = "";
            size_t used = 0;
            for (int k = 1; k < bs->world && used < sizeof missing; k++)
                if (r.members[k] == NULL)
                    used += (size_t)snprintf(missing + used, sizeof missing - used, "%s%d",
                                             used ? ", " : "", k);
            char why[BS_REPLY_TEXT];
            bs_fmt(why, sizeof why,
                   "rendezvous at %s timed out after %.1f s: rank(s) %s never connected (%d of "
                   "%d ranks joined)",
                   bs->where, bs->timeout_s, missing, r.n_joined + 1, bs->world);
            root_abort(&r, NULL, why, SF_ERR_TIMEOUT);
            st = sf_err_set(err, SF_ERR_TIMEOUT, NULL, "%s", why);
            break;
        }
        root_wait(&r);
    }
    /* No new connections from here on: the job is complete or failed. */
    close(r.listen_fd);
    if (st == SF_OK)
        st = root_connect_members(&r, err);
    for (int i = 0; i < r.n_strangers; i++)
        bs_gate_peer_free(r.strangers[i]);
    for (int k = 0; r.members != NULL && k < bs->world; k++)
        bs_gate_peer_free(r.members[k]);
    free(r.members);
    return st;
}

/* ---- other ranks: through the gate, retrying until rank 0 is up ------------ */

/* Our hello frame body: token, hello, worker address. Owned by the caller. */
static uint8_t *client_hello(sf_bootstrap_t *bs, const char token[BS_TOKEN_BYTES], size_t *n,
                             sf_err_t *err)
{
    ucp_address_t *addr = NULL;
    size_t addr_len = 0;
    ucs_status_t s = ucp_worker_get_address(bs->worker, &addr, &addr_len);
    if (s != UCS_OK) {
        sf_err_set(err, SF_ERR_COMM, NULL, "bootstrap: the worker's address: %s",
                   ucs_status_string(s));
        return NULL;
    }
    *n = sizeof(bs_gate_hello_t) + addr_len;
    uint8_t *body = *n <= BS_GATE_MAX_BODY ? calloc(1, *n) : NULL;
    if (body == NULL) {
        ucp_worker_release_address(bs->worker, addr);
        sf_err_set(err, SF_ERR_COMM, NULL,
                   "bootstrap: the worker's address (%zu bytes) does not fit a hello", addr_len);
        return NULL;
    }
    bs_gate_hello_t *h = (bs_gate_hello_t *)body;
    memcpy(h->token, token, BS_TOKEN_BYTES);
    h->hello = (bs_hello_t){.magic = BS_MAGIC, .protocol = SF_BOOTSTRAP_PROTOCOL,
                            .world = bs->world, .rank = bs->rank, .graph_hash = bs->graph_hash,
                            .inputs_hash = bs->inputs_hash,
                            .n_params = (uint32_t)bs->n_params};
    memcpy(h->hello.param_hash, bs->param_hash, sizeof h->hello.param_hash);
    h->addr_len = (uint32_t)addr_len;
    memcpy(body + sizeof *h, addr, addr_len);
    ucp_worker_release_address(bs->worker, addr);
    return body;
}

/* Whether `run --nproc` bound rank 0's port before starting the ranks
 * (SF_MASTER_LISTENING_ENV): then a refusal is final, and waiting the whole
 * timeout for a rank 0 that has exited only holds the job up (it held a
 * failed CI job for 300 s). */
static bool rank0_listens_from_launch(void)
{
    const char *v = getenv(SF_MASTER_LISTENING_ENV);
    return v != NULL && strcmp(v, "1") == 0;
}

static sf_status_t bs_rendezvous_client(sf_bootstrap_t *bs, const struct sockaddr_storage *sa,
                                        socklen_t salen, sf_err_t *err)
{
    char token[BS_TOKEN_BYTES];
    sf_status_t st = bs_gate_token(token, err);
    if (st != SF_OK)
        return st;
    size_t n = 0;
    uint8_t *hello = client_hello(bs, token, &n, err);
    if (hello == NULL)
        return err->code;
    double deadline = sf_clock_now_s() + bs->timeout_s;
    int last_errno = 0;
    bool was_sent = false, was_closed = false;
    st = SF_ERR_TIMEOUT;
    while (sf_clock_now_s() < deadline) {
        int fd = bs_gate_connect(sa, salen, deadline);
        if (fd == -ECONNREFUSED && rank0_listens_from_launch()) {
            st = sf_err_set(err, SF_ERR_COMM, NULL,
                            "rank %d: rank 0 at %s refused the connection; the launcher had "
                            "bound that port for rank 0 before any rank started, so rank 0 "
                            "has exited",
                            bs->rank, bs->where);
            break;
        }
        if (fd < 0) {
            last_errno = -fd;
            usleep((useconds_t)(BS_RETRY_S * 1e6));
            continue;
        }
        sf_err_t io = {0};
        bs_gate_reply_t reply;
        uint8_t *addr = NULL;
        bool closed = false;
        sf_status_t io_st = bs_gate_send(fd, hello, n, deadline, bs->where, &io);
        if (io_st == SF_OK) {
            was_sent = true;
            io_st = bs_gate_recv_reply(fd, &reply, &addr, deadline, &closed, &io);
        }
        close(fd);
        if (io_st == SF_OK && reply.status != SF_OK) {
            sf_status_t code = reply.status == SF_ERR_TIMEOUT ? SF_ERR_TIMEOUT : SF_ERR_INPUT;
            st = sf_err_set(err, code, NULL, "rank 0 at %s refused rank %d: %s", bs->where,
                            bs->rank, reply.text);
            free(addr);
            break;
        }
        if (io_st == SF_OK && addr != NULL) {
            bs->by_rank[0] = bs_conn_to_address(bs, 0, addr, err);
            st = bs->by_rank[0] != NULL ? SF_OK : SF_ERR_COMM;
            free(addr);
            break;
        }
        free(addr);
        if (io_st == SF_OK) {
            st = sf_err_set(err, SF_ERR_COMM, NULL, "%s accepted rank %d without its address",
                            bs->where, bs->rank);
            break;
        }
        /* Rank 0 went away or dropped us (a wrong token?): try again while
         * time is left, slower after a drop so its log stays readable. */
        was_closed = was_closed || closed;
        usleep((useconds_t)((closed ? 5 : 1) * BS_RETRY_S * 1e6));
    }
    free(hello);
    if (st != SF_ERR_TIMEOUT || err->code != SF_OK)
        return st;
    if (was_closed)
        return sf_err_set(err, SF_ERR_TIMEOUT, NULL,
                          "rank %d reached rank 0 at %s, which closed the connection without "
                          "answering (is %s the same on every rank?) and did not let it in "
                          "within %.1f s",
                          bs->rank, bs->where, BS_TOKEN_ENV, bs->timeout_s);
    if (was_sent)
        return sf_err_set(err, SF_ERR_TIMEOUT, NULL,
                          "rank %d reached rank 0 at %s, but the rendezvous did not "
                          "complete within %.1f s (are all %d ranks started?)",
                          bs->rank, bs->where, bs->timeout_s, bs->world);
    return sf_err_set(err, SF_ERR_TIMEOUT, NULL,
                      "rank %d cannot reach rank 0 at %s within %.1f s (last error: %s)",
                      bs->rank, bs->where, bs->timeout_s,
                      last_errno != 0 ? strerror(last_errno) : "no answer");
}

sf_status_t sf_bootstrap_new(const sf_rank_info_t *ri, const sf_bootstrap_job_t *job,
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
    bs->timeout_s = job->timeout_s;
    bs->graph_hash = job->graph_hash;
    bs->inputs_hash = job->inputs_hash;
    bs->n_params = job->params != NULL && job->n_params > 0 ? job->n_params : 0;
    if (bs->n_params > SF_BOOTSTRAP_MAX_PARAMS)
        bs->n_params = SF_BOOTSTRAP_MAX_PARAMS;
    for (int k = 0; k < bs->n_params; k++)
        bs->param_hash[k] = sf_hash_fnv1a64_add(SF_HASH_FNV1A64_INIT, job->params[k],
                                                strlen(job->params[k]));
    bs->param_text = bs->n_params > 0 ? job->params : NULL;
    bs->efd = -1;
    bs_fmt(bs->where, sizeof bs->where, "%s:%d", ri->master_addr, ri->master_port);
    if (ri->world == 1) { /* nobody to meet */
        bs->param_text = NULL;
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
    bs->param_text = NULL; /* borrowed from the job, which is gone after this call */
    if (st != SF_OK) {
        bs->is_broken = true;
        sf_bootstrap_free(bs);
        return st;
    }
    *out = bs;
    return SF_OK;
}
