/* See rank_procs.h. */
#include "rank_procs.h"

#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef SF_HAVE_NCCL
#include <cuda_runtime.h>
#endif

#include "clock.h"
#include "test_util.h"

/* The graph hash every rank of a tu_run_cfg job rendezvouses with. */
#define HASH 0x5eed5eed12345678ull

sf_rank_info_t tu_rank_info(int rank, int world, int port)
{
    sf_rank_info_t ri;
    memset(&ri, 0, sizeof ri);
    ri.rank = rank;
    ri.world = world;
    ri.local_rank = rank;
    snprintf(ri.master_addr, sizeof ri.master_addr, "127.0.0.1");
    ri.master_port = port;
    snprintf(ri.source, sizeof ri.source, "torchrun");
    return ri;
}

void tu_run_procs(int n, tu_proc_fn fn, void *arg, int port, double limit_s, int *codes)
{
    pid_t pids[16];
    ck_assert_int_le(n, 16);
    fflush(NULL);
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            alarm((unsigned)limit_s + 5); /* belt and braces if the parent dies */
            /* exit, not _exit: the leak checker of a sanitized build runs at exit. */
            exit(fn(i, n, port, arg));
        }
    }
    double deadline = sf_clock_now_s() + limit_s;
    int n_left = n;
    for (int i = 0; i < n; i++)
        codes[i] = -1;
    while (n_left > 0) {
        int status;
        pid_t p = waitpid(-1, &status, WNOHANG);
        if (p > 0) {
            for (int i = 0; i < n; i++)
                if (pids[i] == p) {
                    codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                    n_left--;
                }
            continue;
        }
        if (sf_clock_now_s() > deadline) {
            for (int i = 0; i < n; i++)
                if (codes[i] == -1) {
                    kill(pids[i], SIGKILL);
                    waitpid(pids[i], &status, 0);
                    codes[i] = 128 + SIGKILL;
                    fprintf(stderr, "process %d of %d killed after %.0f s\n", i, n, limit_s);
                }
            break;
        }
        usleep(2000);
    }
}

void tu_expect_all_ok(const int *codes, int n)
{
    for (int i = 0; i < n; i++)
        ck_assert_msg(codes[i] == 0, "rank %d of %d exited with %d", i, n, codes[i]);
}

/* ---- one test body on every rank of a backend's comm --------------------- */

typedef struct job {
    tu_rank_body_fn body;
    const tu_coll_cfg_t *cfg;
} job_t;

void *tu_mem_of(const tu_rank_ctx_t *x, void *host, size_t n)
{
    if (x->mem == SF_MEMKIND_HOST)
        return host;
#ifdef SF_HAVE_NCCL
    void *d = NULL;
    if (cudaMalloc(&d, n + 1) != cudaSuccess ||
        cudaMemcpy(d, host, n, cudaMemcpyHostToDevice) != cudaSuccess)
        exit(3);
    return d;
#else
    (void)n;
    exit(3);
#endif
}

void tu_mem_back(const tu_rank_ctx_t *x, void *host, void *dev, size_t n)
{
    if (x->mem == SF_MEMKIND_HOST)
        return;
#ifdef SF_HAVE_NCCL
    if (cudaDeviceSynchronize() != cudaSuccess ||
        cudaMemcpy(host, dev, n, cudaMemcpyDeviceToHost) != cudaSuccess)
        exit(3);
    cudaFree(dev);
#else
    (void)host;
    (void)dev;
    (void)n;
#endif
}

void tu_mem_drop(const tu_rank_ctx_t *x, void *dev)
{
#ifdef SF_HAVE_NCCL
    if (x->mem == SF_MEMKIND_CUDA)
        cudaFree(dev);
#else
    (void)x;
    (void)dev;
#endif
}

static int comm_proc(int i, int n, int port, void *arg)
{
    const job_t *job = arg;
    const tu_coll_cfg_t *c = job->cfg;
    sf_err_t err;
    sf_err_clear(&err);
    sf_comm_register_all();
    char v[16];
    snprintf(v, sizeof v, "%d", i);
    setenv("LOCAL_RANK", v, 1); /* nccl: one device per local rank */
    sf_bootstrap_t *bs = NULL;
    sf_comm_t *comm = NULL;
    if (strcmp(c->backend, "self") != 0) {
        sf_rank_info_t ri = tu_rank_info(i, n, port);
        if (n == 1)
            snprintf(ri.source, sizeof ri.source, "single");
        sf_status_t st = sf_bootstrap_new(&ri, &(sf_bootstrap_job_t){.graph_hash = HASH,
                                                   .timeout_s = TU_COLL_TIMEOUT_S}, &bs, &err);
        TU_FAIL_IF(st != SF_OK, "rank %d: bootstrap: %s", i, err.msg);
    }
    sf_status_t st = sf_comm_new(c->backend, bs, TU_COLL_TIMEOUT_S, &comm, &err);
    TU_FAIL_IF(st != SF_OK, "rank %d: %s comm: %s", i, c->backend, err.msg);
    tu_rank_ctx_t x = {comm, sf_comm_rank(comm), sf_comm_size(comm), c->mem, c};
    /* The comm's identity is the launcher's. */
    TU_FAIL_IF(x.r != i || x.n != n, "%s comm says rank %d of %d, want %d of %d", c->backend, x.r,
            x.n, i, n);
    int code = job->body(&x);
    sf_comm_free(comm);
    sf_bootstrap_free(bs);
    return code;
}

void tu_run_cfg(const tu_coll_cfg_t *c, tu_rank_body_fn body, double limit_s)
{
    job_t job = {body, c};
    int codes[16];
    tu_run_procs(c->world, comm_proc, &job, tu_free_port(), limit_s, codes);
    for (int i = 0; i < c->world; i++)
        ck_assert_msg(codes[i] == 0, "%s, world %d: rank %d exited with %d", c->backend,
                      c->world, i, codes[i]);
}

uint8_t tu_pattern(int src, int dst, uint64_t byte)
{
    return (uint8_t)(src * 131 + dst * 29 + (int)(byte * 7u) + (int)(byte >> 9) + 13);
}

const sf_dtype_t tu_all_dtypes[6] = {SF_DTYPE_F32, SF_DTYPE_BF16, SF_DTYPE_F16,
                                     SF_DTYPE_I32, SF_DTYPE_I64,  SF_DTYPE_U8};

sf_coll_args_t tu_coll_args_on(sf_memkind_t mem, sf_coll_kind_t kind, sf_dtype_t dt,
                               const void *send, void *recv, uint64_t count)
{
    sf_coll_args_t a;
    memset(&a, 0, sizeof a);
    a.kind = kind;
    a.mem = mem;
    a.dtype = dt;
    a.send = send;
    a.recv = recv;
    a.count = count;
    a.what = "test";
    return a;
}

sf_coll_args_t tu_coll_args(const tu_rank_ctx_t *x, sf_coll_kind_t kind, sf_dtype_t dt,
                            const void *send, void *recv, uint64_t count)
{
    return tu_coll_args_on(x->mem, kind, dt, send, recv, count);
}

int tu_do_allgather(const tu_rank_ctx_t *x, sf_dtype_t dt, uint64_t count)
{
    const int r = x->r, n = x->n;
    size_t es = sf_dtype_size(dt), block = count * es;
    uint8_t *send = malloc(block + 1), *recv = malloc(block * (size_t)n + 1);
    for (size_t b = 0; b < block; b++)
        send[b] = tu_pattern(r, 0, b);
    memset(recv, 0xee, block * (size_t)n + 1);
    void *d_send = tu_mem_of(x, send, block + 1);
    void *d_recv = tu_mem_of(x, recv, block * (size_t)n + 1);
    sf_coll_args_t a = tu_coll_args(x, SF_COLL_ALLGATHER, dt, d_send, d_recv, count);
    TU_RUN_OK(x, &a);
    tu_mem_back(x, recv, d_recv, block * (size_t)n + 1);
    tu_mem_drop(x, d_send);
    for (int p = 0; p < n; p++)
        for (size_t b = 0; b < block; b++)
            TU_FAIL_IF(recv[(size_t)p * block + b] != tu_pattern(p, 0, b),
                    "rank %d: all_gather %s x%llu: byte %zu of rank %d's piece is %u, want %u", r,
                    sf_dtype_name(dt), (unsigned long long)count, b, p, recv[(size_t)p * block + b],
                    tu_pattern(p, 0, b));
    TU_FAIL_IF(recv[block * (size_t)n] != 0xee, "rank %d: all_gather wrote past the end", r);
    free(send);
    free(recv);
    return 0;
}
