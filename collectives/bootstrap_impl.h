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

#endif
