/* The gate: the rendezvous's first exchange, over a plain TCP socket, before
 * any UCX endpoint exists. Rank 0 listens on MASTER_ADDR:MASTER_PORT; a rank
 * connects and sends one framed message (magic, version, a bounded length,
 * then the job token, its hello and its UCX worker address); rank 0 answers
 * each member once the whole world is in. Anything else that connects (a
 * port scanner, zero bytes, a wrong token, an oversized frame, a socket held
 * open without a word) is dropped and logged, and the job goes on: UCX's own
 * connection manager asserted on such input, which is why UCX only ever
 * sees worker addresses that came through here.
 * Invariant: no read or write blocks past its deadline; no frame is larger
 * than BS_GATE_MAX_BODY. */
#include "bootstrap_impl.h"

#include "launch_env.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

/* Milliseconds until deadline for poll(), at least 0, at most 50 so the
 * callers' loops look at their other deadlines often. */
static int ms_until(double deadline)
{
    double ms = (deadline - sf_clock_now_s()) * 1e3;
    return ms <= 0 ? 0 : ms > 50 ? 50 : (int)ms + 1;
}

sf_status_t bs_gate_token(char token[BS_TOKEN_BYTES], sf_err_t *err)
{
    memset(token, 0, BS_TOKEN_BYTES);
    const char *t = getenv(BS_TOKEN_ENV);
    if (t == NULL)
        return SF_OK;
    if (strlen(t) >= BS_TOKEN_BYTES)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "%s is %zu bytes long, at most %d allowed",
                          BS_TOKEN_ENV, strlen(t), BS_TOKEN_BYTES - 1);
    memcpy(token, t, strlen(t));
    return SF_OK;
}

static int sockaddr_port(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return -1;
}

/* A copy of the socket the launcher bound for us (SF_MASTER_LISTEN_FD_ENV),
 * when it is a listening socket of sa's family on sa's port; else -1 and we
 * bind ourselves. A copy, so each rendezvous of the process can close its
 * own while the inherited one keeps the port. */
static int inherited_listener(const struct sockaddr_storage *sa)
{
    const char *env = getenv(SF_MASTER_LISTEN_FD_ENV);
    if (env == NULL || env[0] == '\0')
        return -1;
    char *end = NULL;
    long fd = strtol(env, &end, 10);
    if (*end != '\0' || fd < 3 || fd > 1 << 20)
        return -1;
    int listening = 0;
    socklen_t n = sizeof listening;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &n) != 0 || !listening ||
        getsockname((int)fd, (struct sockaddr *)&bound, &blen) != 0 ||
        bound.ss_family != sa->ss_family || sockaddr_port(&bound) != sockaddr_port(sa))
        return -1;
    return fcntl((int)fd, F_DUPFD_CLOEXEC, 3);
}

sf_status_t bs_gate_listen(const struct sockaddr_storage *sa, socklen_t len, const char *where,
                           int *out_fd, sf_err_t *err)
{
    *out_fd = -1;
    int given = inherited_listener(sa);
    if (given >= 0) {
        if (!set_nonblocking(given)) {
            int e = errno;
            close(given);
            return sf_err_set(err, SF_ERR_COMM, NULL, "cannot listen on %s: %s", where,
                              strerror(e));
        }
        *out_fd = given;
        return SF_OK;
    }
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sf_err_set(err, SF_ERR_COMM, NULL, "cannot listen on %s: %s", where,
                          strerror(errno));
    /* A port in TIME_WAIT from the last job is free to reuse; one another
     * process listens on is not (Linux refuses that bind either way). */
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)sa, len) != 0 || listen(fd, 128) != 0 ||
        !set_nonblocking(fd)) {
        int e = errno;
        close(fd);
        return sf_err_set(err, SF_ERR_COMM, NULL, "cannot listen on %s: %s", where, strerror(e));
    }
    *out_fd = fd;
    return SF_OK;
}

/* ---- rank 0: connections that have not said who they are yet --------------- */

bs_gate_peer_t *bs_gate_accept(int listen_fd, double now)
{
    struct sockaddr_storage from;
    socklen_t len = sizeof from;
    int fd = accept4(listen_fd, (struct sockaddr *)&from, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return NULL;
    bs_gate_peer_t *p = calloc(1, sizeof *p);
    if (p == NULL) {
        close(fd);
        return NULL;
    }
    p->fd = fd;
    p->deadline = now + BS_GATE_HELLO_S;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (from.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&from;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
    } else if (from.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&from;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    }
    bs_fmt(p->from, sizeof p->from, "%s:%d", host, port);
    return p;
}

void bs_gate_peer_free(bs_gate_peer_t *p)
{
    if (p == NULL)
        return;
    if (p->fd >= 0)
        close(p->fd);
    free(p->body);
    free(p);
}

/* Validate the frame header once it is all in; false (why filled) drops. */
static bool head_ok(const bs_gate_peer_t *p, char *why, size_t n)
{
    if (p->head.magic != BS_GATE_MAGIC) {
        bs_fmt(why, n, "not the shardflow bootstrap (first bytes 0x%08x)", p->head.magic);
        return false;
    }
    if (p->head.version != SF_BOOTSTRAP_PROTOCOL) {
        bs_fmt(why, n, "bootstrap protocol version %u, this build speaks %d", p->head.version,
               SF_BOOTSTRAP_PROTOCOL);
        return false;
    }
    if (p->head.len < sizeof(bs_gate_hello_t) || p->head.len > BS_GATE_MAX_BODY) {
        bs_fmt(why, n, "a frame of %u bytes (a hello is %zu to %d)", p->head.len,
               sizeof(bs_gate_hello_t), BS_GATE_MAX_BODY);
        return false;
    }
    return true;
}

/* Equal without an early exit, so the time taken says nothing of where a
 * guessed token first differs. */
static bool token_equal(const char *a, const char *b)
{
    unsigned char diff = 0;
    for (int i = 0; i < BS_TOKEN_BYTES; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

bs_gate_read_t bs_gate_read_hello(bs_gate_peer_t *p, const char token[BS_TOKEN_BYTES], double now,
                                  char *why, size_t n)
{
    for (;;) {
        uint8_t *dst;
        size_t want;
        if (p->got < sizeof p->head) {
            dst = (uint8_t *)&p->head + p->got;
            want = sizeof p->head - p->got;
        } else {
            size_t body_got = p->got - sizeof p->head;
            dst = p->body + body_got;
            want = p->head.len - body_got;
        }
        if (want == 0)
            break;
        ssize_t r = read(p->fd, dst, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (now > p->deadline) {
                bs_fmt(why, n, "no hello within %.0f s", BS_GATE_HELLO_S);
                return BS_GATE_DROP;
            }
            return BS_GATE_MORE;
        }
        if (r <= 0) {
            bs_fmt(why, n, "closed after %zu bytes", p->got);
            return BS_GATE_DROP;
        }
        p->got += (size_t)r;
        if (p->got == sizeof p->head) {
            if (!head_ok(p, why, n))
                return BS_GATE_DROP;
            p->body = malloc(p->head.len);
            if (p->body == NULL) {
                bs_fmt(why, n, "out of memory");
                return BS_GATE_DROP;
            }
        }
    }
    memcpy(&p->msg, p->body, sizeof p->msg);
    if (!token_equal(p->msg.token, token)) {
        bs_fmt(why, n, "a wrong job token (%s must match on every rank)", BS_TOKEN_ENV);
        return BS_GATE_DROP;
    }
    if (p->msg.addr_len == 0 || p->msg.addr_len != p->head.len - sizeof p->msg) {
        bs_fmt(why, n, "a hello whose worker address is %u of %zu bytes", p->msg.addr_len,
               (size_t)(p->head.len - sizeof p->msg));
        return BS_GATE_DROP;
    }
    return BS_GATE_READY;
}

/* ---- both sides: whole frames with a deadline ----------------------------- */

static sf_status_t write_all(int fd, const void *buf, size_t n, double deadline, const char *who,
                             sf_err_t *err)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return sf_err_set(err, SF_ERR_COMM, NULL, "bootstrap: writing to %s: %s", who,
                              strerror(errno));
        if (sf_clock_now_s() > deadline)
            return sf_err_set(err, SF_ERR_TIMEOUT, NULL, "bootstrap: writing to %s timed out",
                              who);
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        (void)poll(&pf, 1, ms_until(deadline));
    }
    return SF_OK;
}

sf_status_t bs_gate_send(int fd, const void *body, size_t n, double deadline, const char *who,
                         sf_err_t *err)
{
    bs_gate_head_t head = {.magic = BS_GATE_MAGIC, .version = SF_BOOTSTRAP_PROTOCOL,
                           .len = (uint32_t)n};
    sf_status_t st = write_all(fd, &head, sizeof head, deadline, who, err);
    return st == SF_OK ? write_all(fd, body, n, deadline, who, err) : st;
}

/* Read exactly n bytes. SF_ERR_COMM when the peer closed first (*closed
 * set), SF_ERR_TIMEOUT at the deadline. */
static sf_status_t read_all(int fd, void *buf, size_t n, double deadline, bool *closed,
                            sf_err_t *err)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            *closed = true;
            return sf_err_set(err, SF_ERR_COMM, NULL, "closed");
        }
        if (sf_clock_now_s() > deadline)
            return sf_err_set(err, SF_ERR_TIMEOUT, NULL, "timed out");
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        (void)poll(&pf, 1, ms_until(deadline));
    }
    return SF_OK;
}

sf_status_t bs_gate_recv_reply(int fd, bs_gate_reply_t *reply, uint8_t **addr, double deadline,
                               bool *closed, sf_err_t *err)
{
    *addr = NULL;
    *closed = false;
    bs_gate_head_t head;
    sf_status_t st = read_all(fd, &head, sizeof head, deadline, closed, err);
    if (st != SF_OK)
        return st;
    if (head.magic != BS_GATE_MAGIC || head.version != SF_BOOTSTRAP_PROTOCOL ||
        head.len < sizeof *reply || head.len > BS_GATE_MAX_BODY)
        return sf_err_set(err, SF_ERR_COMM, NULL,
                          "the answer is not a shardflow bootstrap reply of this version");
    if ((st = read_all(fd, reply, sizeof *reply, deadline, closed, err)) != SF_OK)
        return st;
    reply->text[BS_REPLY_TEXT - 1] = '\0';
    size_t addr_len = head.len - sizeof *reply;
    if (addr_len != reply->addr_len)
        return sf_err_set(err, SF_ERR_COMM, NULL, "a reply whose worker address is %u of %zu bytes",
                          reply->addr_len, addr_len);
    if (addr_len == 0)
        return SF_OK;
    *addr = malloc(addr_len);
    if (*addr == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "bootstrap: out of memory");
    st = read_all(fd, *addr, addr_len, deadline, closed, err);
    if (st != SF_OK) {
        free(*addr);
        *addr = NULL;
    }
    return st;
}

/* ---- other ranks: reach rank 0 ------------------------------------------- */

int bs_gate_connect(const struct sockaddr_storage *sa, socklen_t len, double deadline)
{
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (const struct sockaddr *)sa, len) == 0)
        return fd;
    if (errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        int n = poll(&pf, 1, ms_until(deadline));
        if (n > 0) {
            int e = 0;
            socklen_t el = sizeof e;
            (void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
            if (e == 0)
                return fd;
            close(fd);
            return -e;
        }
        if (sf_clock_now_s() > deadline) {
            close(fd);
            return -ETIMEDOUT;
        }
    }
}
