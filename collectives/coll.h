/* Collectives: a backend is a read-only table of hooks registered by name
 * (self, ucx, nccl). Every collective is started, then progressed and
 * tested until done, as UCC's tasks are; sf_coll_wait is the one place that
 * blocks, and it has a deadline. Callers use the sf_comm_* wrappers only. */
#ifndef SF_COLL_H
#define SF_COLL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "device.h"
#include "dtype.h"
#include "status.h"

typedef struct sf_bootstrap sf_bootstrap_t;

typedef enum sf_coll_kind {
    SF_COLL_ALLGATHER = 0,
    SF_COLL_ALLTOALLV,
    SF_COLL_ALLREDUCE,
    SF_COLL_BROADCAST,
    SF_COLL_BARRIER,
    SF_COLL_ALLGATHERV, /* after the others: UCX tags carry the kind's number */
    SF_COLL_KIND_COUNT,
} sf_coll_kind_t;

const char *sf_coll_kind_name(sf_coll_kind_t k); /* "all_gather", "all_to_all", ... */

typedef enum sf_reduce_op { SF_REDUCE_SUM = 0, SF_REDUCE_MAX } sf_reduce_op_t;

/* Where the buffers live: decides the backend under --backend auto. */
/* sf_memkind_t (host or cuda memory) comes from device.h. */

/* One collective's arguments. Counts and displacements are in ELEMENTS of
 * dtype. Buffers and count arrays are borrowed until the request is freed.
 *   all_gather: send has `count` elements; recv has count * world, rank r's
 *               piece at r * count.
 *   all_to_all: send_counts[p]/send_displs[p] = what goes to rank p from
 *               send; recv_counts[p]/recv_displs[p] = what arrives from p
 *               into recv. Counts may differ per peer and may be 0.
 *   all_reduce: send and recv have `count` elements (send == recv allowed).
 *   all_gatherv: send has recv_counts[rank] elements; rank p's piece lands
 *               at recv + recv_displs[p] (recv_counts[p] elements, may be
 *               0). count and the send arrays are unused.
 *   broadcast:  recv has `count` elements; root's recv is the source.
 *   barrier:    no buffers. */
typedef struct sf_coll_args {
    sf_coll_kind_t kind;
    sf_memkind_t mem;
    sf_dtype_t dtype;
    const void *send;
    void *recv;
    uint64_t count;
    const uint64_t *send_counts, *send_displs; /* world entries each */
    const uint64_t *recv_counts, *recv_displs;
    sf_reduce_op_t op;
    int root;
    const char *what; /* borrowed: names the node/tensor in errors; may be NULL */
} sf_coll_args_t;

typedef struct sf_comm sf_comm_t;

/* The backend table. Every hook gets the comm; `impl` state hangs off it.
 * Requests are opaque backend objects. */
typedef struct sf_comm_iface {
    const char *name; /* "self", "ucx", "nccl", "emulate" */
    /* Whether this backend can run kind on mem. Required. */
    bool (*supports)(sf_coll_kind_t kind, sf_memkind_t mem);
    /* Create backend state for comm->rank of comm->world, exchanging what
     * it needs over bs (borrowed; valid until finalize). May block for the
     * exchange, bounded by comm->timeout_s. Required. */
    sf_status_t (*init)(sf_comm_t *comm, sf_bootstrap_t *bs, sf_err_t *err);
    /* Post one collective; returns at once with *req owned by the caller
     * (release with req_free). Optional: the rule table (coll_rules.c)
     * names each algorithm's start; this one runs only when no row of this
     * backend matches (default: SF_ERR_UNSUPPORTED). */
    sf_status_t (*start)(sf_comm_t *comm, const sf_coll_args_t *args, void **req, sf_err_t *err);
    /* Advance all work in flight; never blocks. Optional (default: no-op). */
    sf_status_t (*progress)(sf_comm_t *comm, sf_err_t *err);
    /* SF_OK when req is complete, SF_INPROGRESS if not, or an error (a peer
     * failed: the message names the peer rank and the collective). Never
     * blocks. Required. */
    sf_status_t (*test)(sf_comm_t *comm, void *req, sf_err_t *err);
    /* Release a request (complete or not: an abandoned request is cancelled
     * as far as the backend can). Required. */
    void (*req_free)(sf_comm_t *comm, void *req);
    /* Tear the backend down. Must not block past comm->timeout_s. Required. */
    void (*finalize)(sf_comm_t *comm);
    /* Payload bytes this rank has handed to point-to-point sends to other
     * ranks since init, whichever transport carries them (a single-copy
     * send counts its bytes, not its descriptor): what the collectives
     * really sent, for checking the figures computed from op counts. Never
     * blocks. Optional (default: unknown, SF_COMM_BYTES_UNKNOWN: NCCL does
     * not say). */
    uint64_t (*sent_bytes)(const sf_comm_t *comm);
    /* Payload bytes this rank received by copying them straight out of a
     * peer's memory mapped here (the sender's tensor in its shared arena,
     * core/shm_arena.h) since init. Optional (default 0). */
    uint64_t (*read_in_place_bytes)(const sf_comm_t *comm);
} sf_comm_iface_t;

struct sf_comm {
    const sf_comm_iface_t *iface; /* borrowed: a static table */
    void *impl;                   /* owned by the backend */
    int rank;
    int world;
    double timeout_s;             /* every wait gives up after this */
    /* SF_COLL_ALGO as read at sf_comm_new: the algorithm forced per kind,
     * or NULL (the first matching rule). Points into forced_buf. */
    const char *forced[SF_COLL_KIND_COUNT];
    char forced_buf[256];
};

/* Backends by name, and the registry the tools fill at start. */
void sf_comm_register(const sf_comm_iface_t *iface);
const sf_comm_iface_t *sf_comm_find(const char *name);
/* Names of the registered backends, comma-separated, for messages. */
void sf_comm_list(char *out, size_t n);
/* Fills the registry with every backend built in (self, emulate, ucx, nccl
 * when built). Idempotent. Defined in collectives/registry.c. */
void sf_comm_register_all(void);

/* Create a communicator with backend `name` over bs (NULL: a single rank,
 * for the self backend). On failure *out is NULL. */
SF_NODISCARD sf_status_t sf_comm_new(const char *name, sf_bootstrap_t *bs, double timeout_s,
                                     sf_comm_t **out, sf_err_t *err);
void sf_comm_free(sf_comm_t *comm); /* NULL-safe; calls finalize */
/* A communicator on the emulate backend (collectives/emulate/) standing in
 * for rank `rank` of `world` in one process, with no peer and no
 * rendezvous: every collective completes locally with the sizes the real
 * one produces, not its values. Host memory only. A rank outside
 * 0..world-1 is SF_ERR_INPUT. On failure *out is NULL. */
SF_NODISCARD sf_status_t sf_comm_new_emulated(int rank, int world, double timeout_s,
                                              sf_comm_t **out, sf_err_t *err);

/* This rank's number and the number of ranks: the one place kernels read
 * them from. */
int sf_comm_rank(const sf_comm_t *comm);
int sf_comm_size(const sf_comm_t *comm);
/* The process's one-rank comm on the self backend, for a caller that was
 * given no comm (one rank alone). Static: never freed; host memory only. */
sf_comm_t *sf_comm_solo(void);

/* See sf_comm_iface_t.sent_bytes; SF_COMM_BYTES_UNKNOWN when the backend
 * cannot tell. */
#define SF_COMM_BYTES_UNKNOWN UINT64_MAX
uint64_t sf_comm_sent_bytes(const sf_comm_t *comm);
/* See sf_comm_iface_t.read_in_place_bytes. */
uint64_t sf_comm_read_in_place_bytes(const sf_comm_t *comm);

/* Print the algorithm rule table (collectives/coll_rules.c): which
 * (collective, memory kind, byte range) runs which backend's algorithm. */
void sf_comm_dump_rules(FILE *f);
/* Check SF_COLL_ALGO=KIND:ALGO[,KIND:ALGO...] (e.g. all_gather:ring), which
 * forces each named collective to the rule row of that algorithm. An
 * unknown collective or algorithm is SF_ERR_INPUT naming the valid ones.
 * sf_comm_new checks it too; commands call this first to fail before any
 * rank starts. */
SF_NODISCARD sf_status_t sf_coll_algo_check_env(sf_err_t *err);

/* Wrappers: argument checks, then the first rule row of the comm's backend
 * that matches (and whose start does not answer SF_ERR_UNSUPPORTED). */
SF_NODISCARD sf_status_t sf_comm_start(sf_comm_t *comm, const sf_coll_args_t *args, void **req,
                                       sf_err_t *err);
SF_NODISCARD sf_status_t sf_comm_test(sf_comm_t *comm, void *req, sf_err_t *err);
void sf_comm_req_free(sf_comm_t *comm, void *req);
/* Progress and test until done or comm->timeout_s passes (SF_ERR_TIMEOUT
 * naming the collective and `what`). The only blocking call. */
SF_NODISCARD sf_status_t sf_coll_wait(sf_comm_t *comm, void *req, const sf_coll_args_t *args,
                                      sf_err_t *err);
/* start + wait + req_free. */
SF_NODISCARD sf_status_t sf_coll_run(sf_comm_t *comm, const sf_coll_args_t *args, sf_err_t *err);

/* Apply a reduction element-wise: acc[i] = acc[i] op in[i], in dtype
 * (bf16/f16 through f32, rounded once per step). Used by backends that
 * reduce on the host. */
void sf_reduce_host(sf_reduce_op_t op, sf_dtype_t dtype, void *acc, const void *in, uint64_t count);
/* out[i] = a[i] op b[i]: the same reduction with the result elsewhere, so a
 * backend need not copy an input before reducing into it. out may equal a
 * or b; any other overlap is not allowed. */
void sf_reduce_host_to(sf_reduce_op_t op, sf_dtype_t dtype, void *out, const void *a,
                       const void *b, uint64_t count);

/* Local copies for backends without a network (self, emulate), on host
 * or, where built with the CUDA runtime, GPU memory. Complete on return. */
bool sf_coll_copy_supports(sf_memkind_t mem);
SF_NODISCARD sf_status_t sf_coll_copy(sf_memkind_t mem, void *dst, const void *src,
                                      uint64_t nbytes, sf_err_t *err);
SF_NODISCARD sf_status_t sf_coll_zero(sf_memkind_t mem, void *dst, uint64_t nbytes,
                                      sf_err_t *err);

#endif
