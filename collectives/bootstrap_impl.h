/* Private to the bootstrap: the wire formats, the state behind
 * sf_bootstrap_t, and the endpoint and stream layer (bootstrap_conn.c)
 * that the rendezvous (bootstrap.c) and the star collectives
 * (bootstrap_star.c) are built on.
 * Invariant: every wait has a deadline and progresses the worker. */
#ifndef SF_BOOTSTRAP_IMPL_H
#define SF_BOOTSTRAP_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ucp/api/ucp.h>

#include "bootstrap.h"
#include "clock.h" /* every bootstrap step runs against a deadline */

#define BS_MAGIC 0x53464253u /* "SFBS" */
#define BS_REPLY_TEXT 400
#define BS_RETRY_S 0.1  /* between connection attempts */
#define BS_CLOSE_S 2.0  /* bound on a graceful endpoint close */
#define BS_NOTIFY_S 1.0 /* bound on telling peers why rank 0 gave up */

/* The gate (bootstrap_gate.c): the TCP exchange before any UCX endpoint. */
#define BS_GATE_MAGIC 0x53464754u   /* "SFGT" */
#define BS_GATE_MAX_BODY 4096       /* a hello with a UCX worker address fits */
#define BS_GATE_HELLO_S 5.0         /* a connection must say who it is within this */
#define BS_GATE_MAX_STRANGERS 64    /* connections not yet identified, at once */
#define BS_TOKEN_BYTES 128          /* the job token, NUL-padded */
#define BS_TOKEN_ENV SF_BOOTSTRAP_TOKEN_ENV

/* Wire formats. Host byte order: every rank runs the same build. */
typedef struct bs_hello {
    uint32_t magic;
    uint32_t protocol;
    int32_t world;
    int32_t rank;
    uint64_t graph_hash;
    uint64_t inputs_hash;
    uint32_t n_params;    /* entries of param_hash in use */
    uint32_t pad;
    uint64_t param_hash[SF_BOOTSTRAP_MAX_PARAMS]; /* FNV-1a of each "name=value" */
} bs_hello_t;

typedef struct bs_reply {
    uint32_t magic;
    uint32_t status;          /* an sf_status_t: SF_OK, or what the refused rank returns */
    char text[BS_REPLY_TEXT]; /* the refusal, NUL-terminated */
} bs_reply_t;

/* A gate frame: this header, then len bytes of body. */
typedef struct bs_gate_head {
    uint32_t magic;
    uint32_t version; /* SF_BOOTSTRAP_PROTOCOL */
    uint32_t len;     /* body bytes, at most BS_GATE_MAX_BODY */
} bs_gate_head_t;

/* A rank's hello body; its UCX worker address (addr_len bytes) follows. */
typedef struct bs_gate_hello {
    char token[BS_TOKEN_BYTES];
    bs_hello_t hello;
    uint32_t addr_len;
    uint32_t reserved;
} bs_gate_hello_t;

/* Rank 0's answer body; on SF_OK rank 0's worker address follows. */
typedef struct bs_gate_reply {
    uint32_t status;          /* an sf_status_t: SF_OK, or what the refused rank returns */
    uint32_t addr_len;
    char text[BS_REPLY_TEXT]; /* the refusal, NUL-terminated */
} bs_gate_reply_t;

/* Rank 0's view of one TCP connection, from accept to its hello. */
typedef struct bs_gate_peer {
    int fd;             /* owned */
    double deadline;    /* to have said its hello */
    char from[64];      /* "IP:PORT", for the log */
    bs_gate_head_t head;
    uint8_t *body;      /* owned: head.len bytes once the header is in */
    size_t got;         /* bytes read so far, header included */
    bs_gate_hello_t msg; /* copied from body once complete */
} bs_gate_peer_t;

typedef enum bs_gate_read { BS_GATE_MORE, BS_GATE_READY, BS_GATE_DROP } bs_gate_read_t;

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
    struct bs_conn *next; /* owned list link */
} bs_conn_t;

struct sf_bootstrap {
    int rank;
    int world;
    double timeout_s;
    uint64_t graph_hash;
    uint64_t inputs_hash;
    int n_params;
    uint64_t param_hash[SF_BOOTSTRAP_MAX_PARAMS];
    const char *const *param_text; /* borrowed from the job, during sf_bootstrap_new only */
    char where[300];             /* "ADDR:PORT" for messages */
    ucp_context_h ctx;           /* owned */
    ucp_worker_h worker;         /* owned */
    int efd;                     /* the worker's event fd, or -1: poll by sleeping */
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

/* ---- bootstrap_conn.c ----------------------------------------------------- */

/* snprintf that truncates quietly: messages are cut, never overflowed. */
void SF_PRINTF(3, 4) bs_fmt(char *out, size_t n, const char *fmt, ...);

/* Progress once; when nothing moved, sleep on the worker's event fd (at
 * most a few ms) until the deadline. */
void bs_idle(sf_bootstrap_t *bs, double deadline);
/* Keep progressing the worker for the given time. */
void bs_sleep(sf_bootstrap_t *bs, double seconds);

/* A new conn (rank -1, no endpoint) at the head of bs->conns, or NULL
 * when out of memory. */
bs_conn_t *bs_conn_add(sf_bootstrap_t *bs);
/* Unlink dead from bs->conns, close its endpoint (flushing unless force
 * is set or it failed) and free it. */
void bs_conn_remove(sf_bootstrap_t *bs, bs_conn_t *dead, bool force);
/* Endpoint parameters with peer error handling reporting into c; the
 * caller adds the address or connection request. */
ucp_ep_params_t bs_ep_params(bs_conn_t *c);
/* Cancel (if still in flight) and free *req; NULL-safe. */
void bs_request_drop(sf_bootstrap_t *bs, void **req);

/* Post a stream send or a receive of exactly n bytes on c into op; buf
 * stays borrowed until op completes. n == 0 completes at once. */
SF_NODISCARD sf_status_t bs_post(sf_bootstrap_t *bs, bs_conn_t *c, bool is_send, void *buf,
                                 size_t n, bs_op_t *op, sf_err_t *err);
/* Drop every request in ops[0..n) and mark the bootstrap broken. */
void bs_ops_abandon(sf_bootstrap_t *bs, bs_op_t *ops, int n);
/* Wait for every op in ops[0..n) until the deadline. On failure the rest
 * are abandoned and the bootstrap is unusable from then on. */
SF_NODISCARD sf_status_t bs_ops_wait(sf_bootstrap_t *bs, bs_op_t *ops, int n, double deadline,
                                     const char *what, sf_err_t *err);

/* MASTER_ADDR:MASTER_PORT as a socket address. */
SF_NODISCARD sf_status_t bs_resolve(const sf_rank_info_t *ri, struct sockaddr_storage *sa,
                                    socklen_t *len, sf_err_t *err);
/* The UCP context and worker (tcp only, stream + wakeup) and the event fd. */
SF_NODISCARD sf_status_t bs_ucx_init(sf_bootstrap_t *bs, sf_err_t *err);
/* An endpoint to the worker at addr (from the gate), for the peer of rank
 * `rank`, added to bs->conns; NULL and err filled when UCX refuses. */
bs_conn_t *bs_conn_to_address(sf_bootstrap_t *bs, int rank, const void *addr, sf_err_t *err);

/* ---- bootstrap_gate.c ------------------------------------------------------ */

/* The job token from SHARDFLOW_JOB_TOKEN (all zero when unset). */
SF_NODISCARD sf_status_t bs_gate_token(char token[BS_TOKEN_BYTES], sf_err_t *err);
/* A non-blocking TCP listener on sa; "cannot listen on WHERE: ..." on failure. */
SF_NODISCARD sf_status_t bs_gate_listen(const struct sockaddr_storage *sa, socklen_t len,
                                        const char *where, int *out_fd, sf_err_t *err);
/* Accept one waiting connection, or NULL when none waits. Caller owns it. */
bs_gate_peer_t *bs_gate_accept(int listen_fd, double now);
void bs_gate_peer_free(bs_gate_peer_t *p); /* NULL-safe; closes the socket */
/* Read what p has sent so far. READY: p->msg holds a hello with the right
 * token and a worker address in p->body after it. DROP: why says what was
 * wrong (the caller logs it and frees p). MORE: not complete yet. */
bs_gate_read_t bs_gate_read_hello(bs_gate_peer_t *p, const char token[BS_TOKEN_BYTES], double now,
                                  char *why, size_t n);
/* Send one frame (header + n bytes of body) by the deadline. */
SF_NODISCARD sf_status_t bs_gate_send(int fd, const void *body, size_t n, double deadline,
                                      const char *who, sf_err_t *err);
/* Receive rank 0's reply; *addr (owned by the caller) is its worker
 * address when the reply carries one. *closed tells a peer that closed
 * without answering from a timeout. */
SF_NODISCARD sf_status_t bs_gate_recv_reply(int fd, bs_gate_reply_t *reply, uint8_t **addr,
                                            double deadline, bool *closed, sf_err_t *err);
/* A connected non-blocking socket to sa, or -errno (-ETIMEDOUT at the
 * deadline). */
int bs_gate_connect(const struct sockaddr_storage *sa, socklen_t len, double deadline);

#endif
