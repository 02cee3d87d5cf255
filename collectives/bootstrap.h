/* Rank identity and rendezvous. A rank learns who it is from whatever
 * launcher started it (torchrun, mpirun, srun, or `shardflow run --nproc`),
 * then meets the others at MASTER_ADDR:MASTER_PORT: rank 0 listens on a
 * plain TCP socket (the gate), every other rank connects and sends one
 * framed hello: the job token, protocol version, world size, rank, graph
 * hash and its UCX worker address. Strangers (garbage, a wrong token, an
 * oversized frame, silence) are dropped and logged; a member's mismatch is
 * refused with a clear error on every rank. UCX endpoints are made from
 * the exchanged worker addresses only. After the rendezvous the
 * bootstrap offers small all-gathers and broadcasts for backends to swap
 * worker addresses or the NCCL unique id. */
#ifndef SF_BOOTSTRAP_H
#define SF_BOOTSTRAP_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define SF_BOOTSTRAP_PROTOCOL 2

typedef struct sf_rank_info {
    int rank;
    int world;
    int local_rank;
    char master_addr[256];
    int master_port;
    char source[32]; /* "torchrun", "mpirun", "slurm", "single" */
} sf_rank_info_t;

/* Read identity from the environment: RANK/WORLD_SIZE/LOCAL_RANK/
 * MASTER_ADDR/MASTER_PORT (torchrun), else OMPI_COMM_WORLD_RANK/SIZE
 * (mpirun), else SLURM_PROCID/SLURM_NTASKS (srun), else a single rank.
 * MASTER_ADDR/PORT are required when world > 1 (mpirun/srun included).
 * Malformed values are SF_ERR_INPUT naming the variable. */
SF_NODISCARD sf_status_t sf_rank_info_from_env(sf_rank_info_t *out, sf_err_t *err);

/* Only processes that know the job token get into a rendezvous: rank 0
 * drops (and logs) any connection whose hello carries another. Unset is
 * the empty token, which matches only itself. */
#define SF_BOOTSTRAP_TOKEN_ENV "SHARDFLOW_JOB_TOKEN"

/* Put a fresh random token (32 hex digits) in the environment unless one
 * is set, so the ranks a launcher then starts share it and nobody else
 * knows it. SF_ERR_INPUT when the one set is too long. */
SF_NODISCARD sf_status_t sf_bootstrap_token_ensure(sf_err_t *err);

typedef struct sf_bootstrap sf_bootstrap_t;

/* How many params a hello carries hashes of. */
#define SF_BOOTSTRAP_MAX_PARAMS 48

/* What every rank of one job must agree on, checked at the rendezvous. */
typedef struct sf_bootstrap_job {
    uint64_t graph_hash;  /* the graph and its params */
    uint64_t inputs_hash; /* the bytes of the inputs the ranks read (0: none) */
    double timeout_s;     /* the rendezvous and every later wait */
    /* (optional) The params behind graph_hash as "name=value" texts, in the
     * graph's order (borrowed, read only during sf_bootstrap_new; the first
     * SF_BOOTSTRAP_MAX_PARAMS count). Each rank sends a hash of each, so a
     * graph hash mismatch names the first param that differs. NULL/0: the
     * message gives the hashes only. */
    const char *const *params;
    int n_params;
} sf_bootstrap_job_t;

/* Rendezvous. Blocks until all world ranks said hello or job->timeout_s
 * passed (SF_ERR_TIMEOUT naming the missing ranks on rank 0, or the address
 * on the others). A rank whose hashes differ from rank 0's is refused on
 * every rank (SF_ERR_INPUT naming it and what differs). */
SF_NODISCARD sf_status_t sf_bootstrap_new(const sf_rank_info_t *ri, const sf_bootstrap_job_t *job,
                                          sf_bootstrap_t **out, sf_err_t *err);
void sf_bootstrap_free(sf_bootstrap_t *bs); /* NULL-safe */

int sf_bootstrap_rank(const sf_bootstrap_t *bs);
int sf_bootstrap_world(const sf_bootstrap_t *bs);
double sf_bootstrap_timeout(const sf_bootstrap_t *bs);

/* Every rank contributes n bytes; all receives world * n bytes in rank
 * order. Blocks, bounded by the timeout. */
SF_NODISCARD sf_status_t sf_bootstrap_allgather(sf_bootstrap_t *bs, const void *mine, size_t n,
                                                void *all, sf_err_t *err);
/* root's n bytes land in buf on every rank. */
SF_NODISCARD sf_status_t sf_bootstrap_bcast(sf_bootstrap_t *bs, void *buf, size_t n, int root,
                                            sf_err_t *err);
SF_NODISCARD sf_status_t sf_bootstrap_barrier(sf_bootstrap_t *bs, sf_err_t *err);
/* Progress the rendezvous connections once (never blocks) and return the
 * rank of a peer whose connection broke, or -1. A process that dies, even
 * by SIGKILL, has its socket closed by the kernel, so this is a second
 * channel for a death a collectives transport cannot report. Rank 0 watches
 * every rank, the others only rank 0 (the star): a death elsewhere reaches
 * them when rank 0 fails and exits. */
int sf_bootstrap_lost_peer(sf_bootstrap_t *bs);

#endif
