/* Forking the ranks of a multi-process collectives test: each rank is a
 * child process on 127.0.0.1 with torchrun-style identity; the parent waits
 * with a deadline and kills what is left. Shared by the suites in
 * tests/collectives/, as is what the collective suites (conformance and
 * backend-specific) share: a test body run on every rank of one backend's
 * comm, buffers in its memory kind, and an all_gather checked byte by byte. */
#ifndef SF_TEST_RANK_PROCS_H
#define SF_TEST_RANK_PROCS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bootstrap.h"
#include "coll.h"

/* The identity of rank `rank` of `world` rendezvousing at 127.0.0.1:port. */
sf_rank_info_t tu_rank_info(int rank, int world, int port);

/* Body of process i of n; returns the exit code (0: all checks passed). */
typedef int (*tu_proc_fn)(int i, int n, int port, void *arg);

/* Fork n (at most 16) processes running fn, wait up to limit_s, kill what
 * is left. codes[i] is the exit code, or 128 + signal. */
void tu_run_procs(int n, tu_proc_fn fn, void *arg, int port, double limit_s, int *codes);

/* Fail the calling test unless every one of the n codes (from tu_run_procs)
 * is 0, naming the first rank that exited otherwise. */
void tu_expect_all_ok(const int *codes, int n);

/* In a rank's body (which returns its exit code): on cond, print where and
 * why on stderr and return 1. Check's ck_assert only works in the test's
 * own process. */
#define TU_FAIL_IF(cond, ...)                                                                         \
    do {                                                                                           \
        if (cond) {                                                                                \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* Collectives and rendezvous inside a healthy collective test. */
#define TU_COLL_TIMEOUT_S 30.0

/* One backend under test: its name, world size and memory kind. */
typedef struct tu_coll_cfg {
    const char *backend;
    int world;
    sf_memkind_t mem;
} tu_coll_cfg_t;

/* What a test body gets in each rank's process. */
typedef struct tu_rank_ctx {
    sf_comm_t *comm; /* borrowed: tu_run_cfg frees it after the body */
    int r, n;        /* rank and world, from the comm */
    sf_memkind_t mem;
    const tu_coll_cfg_t *cfg; /* borrowed */
} tu_rank_ctx_t;

/* A test body, run in each rank's process; returns its exit code (use
 * TU_FAIL_IF). */
typedef int (*tu_rank_body_fn)(const tu_rank_ctx_t *x);

/* Fork c->world ranks, each bootstrapping (unless the backend is self) and
 * opening a c->backend comm, then running body; fail the calling test unless
 * every rank exits 0 within limit_s. */
void tu_run_cfg(const tu_coll_cfg_t *c, tu_rank_body_fn body, double limit_s);

/* Buffers in the backend's memory kind: a copy of `host` (n bytes) there,
 * or host itself for host memory. */
void *tu_mem_of(const tu_rank_ctx_t *x, void *host, size_t n);
/* Bring n bytes of dev (from tu_mem_of) back into host and release dev. */
void tu_mem_back(const tu_rank_ctx_t *x, void *host, void *dev, size_t n);
/* Release dev (from tu_mem_of) without reading it. */
void tu_mem_drop(const tu_rank_ctx_t *x, void *dev);

/* Bytes that differ by source rank, destination and position, so a piece
 * in the wrong place or from the wrong rank cannot compare equal. */
uint8_t tu_pattern(int src, int dst, uint64_t byte);

/* Every dtype the collectives move. */
extern const sf_dtype_t tu_all_dtypes[6];
#define TU_N_ALL_DTYPES (sizeof tu_all_dtypes / sizeof tu_all_dtypes[0])

/* Arguments of one collective on buffers of memory kind mem (the rest
 * zero); tu_coll_args takes x's memory kind. */
sf_coll_args_t tu_coll_args_on(sf_memkind_t mem, sf_coll_kind_t kind, sf_dtype_t dt,
                               const void *send, void *recv, uint64_t count);
sf_coll_args_t tu_coll_args(const tu_rank_ctx_t *x, sf_coll_kind_t kind, sf_dtype_t dt,
                            const void *send, void *recv, uint64_t count);

/* In a rank's body: run the collective *a on x's comm; on failure print
 * the backend, rank and message and return 1. */
#define TU_RUN_OK(x, a, ...)                                                                       \
    do {                                                                                           \
        sf_err_t err_;                                                                             \
        sf_err_clear(&err_);                                                                       \
        sf_status_t st_ = sf_coll_run((x)->comm, (a), &err_);                                      \
        TU_FAIL_IF(st_ != SF_OK, "%s rank %d of %d: %s: %s", (x)->cfg->backend, (x)->r, (x)->n,    \
                   sf_coll_kind_name((a)->kind), err_.msg);                                        \
    } while (0)

/* all_gather of count elements of dt; every byte and the one after. Returns
 * the rank's exit code. */
int tu_do_allgather(const tu_rank_ctx_t *x, sf_dtype_t dt, uint64_t count);

#endif
