/* Private to the UCX backend: the communicator state, the collective
 * request every algorithm advances, and the tagged point-to-point layer.
 * A collective is a state machine: the algorithm's `advance` hook posts
 * one round's sends and receives; the common code calls it again once every
 * operation of that round completed, until the hook returns SF_OK. */
#ifndef SF_UCX_IMPL_H
#define SF_UCX_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <ucp/api/ucp.h>

#include "coll.h"
#include "shm_arena.h"

/* Tag layout, most significant first: 22 bits of collective sequence
 * number, 2 control bits (a single-copy descriptor instead of the bytes;
 * its acknowledgement), 4 bits of kind, 16 bits of round, 20 bits of
 * source rank. Every message of one collective round from one sender has
 * its own tag, so back-to-back collectives never match each other's
 * messages. */
#define SF_UCX_TAG_SEQ_BITS 22
#define SF_UCX_TAG_CTL_BITS 2
#define SF_UCX_TAG_KIND_BITS 4
#define SF_UCX_TAG_STEP_BITS 16
#define SF_UCX_TAG_SRC_BITS 20
#define SF_UCX_MAX_WORLD (1 << SF_UCX_TAG_SRC_BITS)
#define SF_UCX_MAX_ROUNDS (1 << SF_UCX_TAG_STEP_BITS)
#define SF_UCX_CTL_DESC 1u /* the message is a descriptor: {address, bytes, arena
                              offset or UCX_NO_ARENA} to read in place */
#define SF_UCX_CTL_ACK 2u  /* the receiver read it: the send buffer is free */

/* A descriptor's arena offset when the bytes are not in the shared arena. */
#define UCX_NO_ARENA UINT64_MAX
#define UCX_DESC_WORDS 3

/* Sends of at least this many bytes to a rank that can read this one's
 * memory go as a descriptor (ucx_cma.c); smaller ones as the bytes. */
#define SF_UCX_CMA_MIN_BYTES (32u * 1024u)

typedef struct ucx_peer {
    ucp_ep_h ep; /* owned; NULL for this rank itself */
    int rank;
    bool is_failed; /* set by the UCP error callback */
    ucs_status_t fail_status;
} ucx_peer_t;

typedef struct ucx_coll ucx_coll_t;

typedef struct ucx_comm {
    ucp_context_h ctx;                /* owned */
    ucp_worker_h worker;              /* owned */
    ucx_peer_t *peers;                /* owned array of world entries */
    sf_bootstrap_t *bs;               /* borrowed; valid until finalize */
    uint32_t seq;                     /* collectives started so far */
    int failed_rank;                  /* the first peer seen failing, or -1 */
    bool is_ready;                    /* init finished: teardown meets the peers */
    ucp_err_handling_mode_t err_mode; /* PEER, or NONE when no transport allows it */
    ucx_coll_t *active;               /* borrowed list of started, unfreed requests */
    double bs_checked_s;              /* when the bootstrap was last asked for a lost peer */
    pid_t *cma_pid;                   /* owned, world entries: the pid to read rank p's
                                         memory from, or 0 (no single copy from p) */
    bool *cma_to;                     /* owned, world entries: rank p reads this rank's memory */
    uint64_t cma_nonce[2];            /* read by the peers' probe */
    const char **peer_arena;          /* owned, world entries: rank p's shared arena mapped
                                         read-only here, or NULL (read it by CMA) */
    sf_shm_arena_card_t *peer_card;   /* owned, world entries: what peer_arena[p] maps */
    bool *maps_both;                  /* owned, world entries: this rank and rank p each
                                         mapped the other's arena (agreed by both) */
    uint64_t sent_bytes;              /* payload posted to peers (sf_comm_sent_bytes) */
    uint64_t mapped_bytes;            /* received by memcpy from a peer's arena */
    uint64_t cma_bytes;               /* received by process_vm_readv */
} ucx_comm_t;

/* One posted tag send or receive. A single-copy send is two UCP requests
 * (the descriptor out, the acknowledgement in); a receive that finds a
 * descriptor reads the bytes, then acknowledges. */
typedef struct ucx_p2p {
    void *req;      /* owned UCP request; NULL once complete */
    void *req2;     /* owned: a single-copy send's descriptor send, or NULL */
    uint64_t *desc; /* owned: a single-copy send's {address, bytes}, or NULL */
    void *buf;      /* borrowed: the receive buffer */
    size_t nbytes;
    int peer;
    int round;
    bool is_send;
    bool is_acking; /* a receive that read by CMA and now acknowledges */
    const void *reduce_with; /* borrowed: a reducing receive's own operand, or NULL */
    void *landed;  /* borrowed: where a reducing receive's message lands (landing,
                      or the scratch for bytes); NULL: in buf */
    uint64_t *landing; /* owned: a reducing receive's descriptor, or NULL */
} ucx_p2p_t;

typedef struct ucx_algo {
    const char *name;
    /* Post the next round (c->round counts the calls so far) and return
     * SF_INPROGRESS, or return SF_OK when the collective is complete, or
     * an error. Called at start and then each time all operations posted
     * by the previous call completed. Never blocks. */
    sf_status_t (*advance)(ucx_coll_t *c, sf_err_t *err);
} ucx_algo_t;

struct ucx_coll {
    sf_comm_t *comm;        /* borrowed */
    ucx_comm_t *ux;         /* borrowed: comm->impl */
    const ucx_algo_t *algo; /* borrowed: a static table entry */
    sf_coll_args_t args;    /* a copy; the buffers in it stay borrowed */
    size_t esize;           /* bytes per element */
    uint32_t seq;
    int round;           /* advance calls so far */
    sf_status_t status; /* SF_INPROGRESS until done or failed */
    sf_err_t err;       /* the failure, when status is an error */
    ucx_p2p_t *ops;     /* owned: operations of the current round */
    int n_ops, cap_ops;
    void *scratch; /* owned: reduction scratch, or NULL */
    size_t scratch_bytes;
    ucx_coll_t *next; /* links in ux->active */
    ucx_coll_t *prev;
};

/* Post a tagged send of nbytes from buf to peer for round `round` of c.
 * buf stays borrowed until the round completes. */
SF_NODISCARD sf_status_t ucx_coll_send(ucx_coll_t *c, int peer, int round, const void *buf,
                                       size_t nbytes, sf_err_t *err);
/* Post a tagged receive of exactly nbytes from peer into buf. */
SF_NODISCARD sf_status_t ucx_coll_recv(ucx_coll_t *c, int peer, int round, void *buf, size_t nbytes,
                                       sf_err_t *err);
/* Post a receive of exactly nbytes from peer that reduces them into out:
 * out = with op (the peer's bytes), element-wise in c's dtype and op. out
 * may equal with. When the peer sent a descriptor into its mapped arena,
 * the reduction reads the peer's memory in place (no copy first); by CMA
 * it reads cache-sized chunks into the scratch; bytes land in out and are
 * reduced there. Both buffers stay borrowed until the round completes. */
SF_NODISCARD sf_status_t ucx_coll_recv_reduce(ucx_coll_t *c, int peer, int round, void *out,
                                              const void *with, size_t nbytes, sf_err_t *err);
/* Advance c as far as it goes without waiting (ucx_p2p.c). */
void ucx_coll_poll(ucx_coll_t *c);
/* Cancel and free every operation of c's current round. */
void ucx_coll_drop_ops(ucx_coll_t *c);
/* The request's scratch buffer of at least nbytes (kept for its life), or
 * NULL when out of memory. */
void *ucx_coll_scratch(ucx_coll_t *c, size_t nbytes);
/* "all_gather 'what'" for messages. */
const char *ucx_coll_label(const ucx_coll_t *c, char *buf, size_t n);

/* ucx_cma.c: probe which peers can read this rank's memory and whose
 * memory it can read (fills ux->cma_pid and ux->cma_to; collective over
 * the bootstrap), and map the shared arena of each peer that allows it
 * (ux->peer_arena; SF_UCX_MAP=0 leaves every arena unmapped). A failed
 * probe only leaves single copy off. */
SF_NODISCARD sf_status_t ucx_cma_probe(ucx_comm_t *ux, int rank, int world, sf_err_t *err);
/* Read nbytes at src_addr in process pid into dst: 0, or an errno (ESRCH:
 * the process is gone). */
int ucx_cma_read(pid_t pid, void *dst, uint64_t src_addr, size_t nbytes);
/* Unmap the peers' arenas and free the probe's tables. */
void ucx_cma_release(ucx_comm_t *ux, int world);

/* The algorithms, one per file. */
extern const ucx_algo_t ucx_allgather_ring;
extern const ucx_algo_t ucx_allreduce_direct;
extern const ucx_algo_t ucx_allgatherv_ring;
extern const ucx_algo_t ucx_alltoallv_pairwise;
extern const ucx_algo_t ucx_allreduce_ring;
extern const ucx_algo_t ucx_allreduce_halves;
extern const ucx_algo_t ucx_broadcast_binomial;
extern const ucx_algo_t ucx_barrier_dissemination;

/* The communicator hooks (ucx_comm.c), gathered into the table by
 * ucx_backend.c. Which algorithm runs is the rule table's choice
 * (collectives/coll_rules.c); each row's start calls ucx_coll_start. */
sf_status_t ucx_comm_init(sf_comm_t *comm, sf_bootstrap_t *bs, sf_err_t *err);
/* Post one collective run by algo. Never blocks; on SF_OK *req is owned by
 * the caller. */
sf_status_t ucx_coll_start(sf_comm_t *comm, const sf_coll_args_t *args, const ucx_algo_t *algo,
                           void **req, sf_err_t *err);
sf_status_t ucx_comm_progress(sf_comm_t *comm, sf_err_t *err);
sf_status_t ucx_comm_test(sf_comm_t *comm, void *req, sf_err_t *err);
void ucx_comm_req_free(sf_comm_t *comm, void *req);
void ucx_comm_finalize(sf_comm_t *comm);
uint64_t ucx_comm_sent_bytes(const sf_comm_t *comm);
uint64_t ucx_comm_read_in_place_bytes(const sf_comm_t *comm);

#endif
