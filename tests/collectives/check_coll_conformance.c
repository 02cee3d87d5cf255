/* One conformance suite for every collectives backend: the same test
 * bodies (every collective, every dtype, odd, zero and uneven counts,
 * back-to-back and overlapped collectives, the start/test life cycle,
 * refused arguments) run against
 *   self  on 1 rank (host memory),
 *   ucx   on 1, 2, 3 and 4 ranks (host memory), each rank a real process
 *         talking over real UCX on 127.0.0.1,
 *   nccl  on 1 rank and, with two GPUs, 2 ranks (CUDA memory), when a CUDA
 *         device exists; otherwise that part prints "SKIP: no CUDA device".
 * Every rank checks its own results against values it can compute alone and
 * exits 0 or 1; the parent waits with a deadline and kills leftovers. The
 * parent never touches CUDA (the device probe runs in a child): a CUDA
 * context does not survive fork. Rows of that table also run the all_reduce
 * body with ucx's 'halves' forced, and NCCL's own memory-kind contract.
 * What ucx and self do on their own is check_coll_host_backends.c, the
 * rendezvous check_bootstrap.c, the launcher environment and a dead peer
 * check_dead_peer.c; rank_procs.c runs a body on every rank. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef SF_HAVE_NCCL
#include <cuda_runtime.h>
#endif

#include "clock.h"
#include "coll.h"
#include "rank_procs.h"
#include "test_util.h"

/* ---- backends under test ---------------------------------------------------- */

static tu_coll_cfg_t cfgs[8]; /* filled by main, read by the forked tests */
static int n_cfgs;

/* ---- data ------------------------------------------------------------------- */

/* Small integers: exact in every dtype, and their sums (of up to 4 ranks,
 * |v| <= 20) too, so reduction order cannot change the result. */
static double ar_value(int rank, uint64_t i)
{
    return (double)((int)((i * 3u + (uint64_t)rank * 5u) % 11u) - 5);
}

static const sf_dtype_t reduce_dtypes[] = {SF_DTYPE_F32, SF_DTYPE_BF16, SF_DTYPE_F16, SF_DTYPE_I32,
                                           SF_DTYPE_I64};

/* ---- one collective each, checked byte by byte ------------------------------ */

/* all_gatherv: rank p sends gv_count(p, seed) elements (zeros included),
 * pieces placed out of rank order with a gap element after each that must
 * stay untouched. */
static uint64_t gv_count(int p, int seed)
{
    return (uint64_t)((p * 3 + seed) % 4) * (uint64_t)(1 + seed);
}

static int do_allgatherv(const tu_rank_ctx_t *x, sf_dtype_t dt, int seed)
{
    const int r = x->r, n = x->n;
    size_t es = sf_dtype_size(dt);
    uint64_t rc[16], rd[16], total = 0;
    for (int i = 0; i < n; i++) {
        int p = n - 1 - i; /* the last rank's piece first */
        rc[p] = gv_count(p, seed);
        rd[p] = total;
        total += rc[p] + 1;
    }
    uint8_t *send = malloc(rc[r] * es + 1), *recv = malloc(total * es + 1);
    for (size_t b = 0; b < rc[r] * es; b++)
        send[b] = tu_pattern(r, 0, b);
    memset(recv, 0xee, total * es + 1);
    void *d_send = tu_mem_of(x, send, rc[r] * es + 1), *d_recv = tu_mem_of(x, recv, total * es + 1);
    sf_coll_args_t a = tu_coll_args(x, SF_COLL_ALLGATHERV, dt, d_send, d_recv, 0);
    a.recv_counts = rc;
    a.recv_displs = rd;
    TU_RUN_OK(x, &a);
    tu_mem_back(x, recv, d_recv, total * es + 1);
    tu_mem_drop(x, d_send);
    for (int p = 0; p < n; p++) {
        for (size_t b = 0; b < rc[p] * es; b++)
            TU_FAIL_IF(recv[rd[p] * es + b] != tu_pattern(p, 0, b),
                    "rank %d: all_gatherv %s seed %d: byte %zu of rank %d's piece is %u, want %u",
                    r, sf_dtype_name(dt), seed, b, p, recv[rd[p] * es + b], tu_pattern(p, 0, b));
        for (size_t b = 0; b < es; b++)
            TU_FAIL_IF(recv[(rd[p] + rc[p]) * es + b] != 0xee,
                    "rank %d: all_gatherv wrote into the gap after rank %d's piece", r, p);
    }
    free(send);
    free(recv);
    return 0;
}

/* Elements rank src sends to rank dst in the uneven all_to_all: 0..4,
 * with zeros on some pairs (e.g. 0 -> 0, 1 -> 1 when seed is 0). */
static uint64_t a2a_count(int src, int dst, int seed)
{
    return (uint64_t)((src + 2 * dst + seed) % 5) * (uint64_t)(1 + seed % 3);
}

/* all_to_all with per-peer counts, one gap element between received
 * chunks that must stay untouched. */
static int do_alltoallv(const tu_rank_ctx_t *x, sf_dtype_t dt, int seed)
{
    const int r = x->r, n = x->n;
    size_t es = sf_dtype_size(dt);
    uint64_t sc[16], sd[16], rc[16], rd[16], send_total = 0, recv_total = 0;
    for (int p = 0; p < n; p++) {
        sc[p] = a2a_count(r, p, seed);
        sd[p] = send_total;
        send_total += sc[p];
        rc[p] = a2a_count(p, r, seed);
        rd[p] = recv_total;
        recv_total += rc[p] + 1; /* the gap */
    }
    uint8_t *send = malloc(send_total * es + 1), *recv = malloc(recv_total * es + 1);
    for (int p = 0; p < n; p++)
        for (size_t b = 0; b < sc[p] * es; b++)
            send[sd[p] * es + b] = tu_pattern(r, p, b);
    memset(recv, 0xee, recv_total * es + 1);
    void *d_send = tu_mem_of(x, send, send_total * es + 1);
    void *d_recv = tu_mem_of(x, recv, recv_total * es + 1);
    sf_coll_args_t a = tu_coll_args(x, SF_COLL_ALLTOALLV, dt, d_send, d_recv, 0);
    a.send_counts = sc;
    a.send_displs = sd;
    a.recv_counts = rc;
    a.recv_displs = rd;
    TU_RUN_OK(x, &a);
    tu_mem_back(x, recv, d_recv, recv_total * es + 1);
    tu_mem_drop(x, d_send);
    for (int p = 0; p < n; p++) {
        for (size_t b = 0; b < rc[p] * es; b++)
            TU_FAIL_IF(recv[rd[p] * es + b] != tu_pattern(p, r, b),
                    "rank %d: all_to_all %s seed %d: byte %zu from rank %d is %u, want %u", r,
                    sf_dtype_name(dt), seed, b, p, recv[rd[p] * es + b], tu_pattern(p, r, b));
        for (size_t b = 0; b < es; b++)
            TU_FAIL_IF(recv[(rd[p] + rc[p]) * es + b] != 0xee,
                    "rank %d: all_to_all wrote into the gap after rank %d's chunk", r, p);
    }
    free(send);
    free(recv);
    return 0;
}

static int do_allreduce(const tu_rank_ctx_t *x, sf_dtype_t dt, sf_reduce_op_t op, uint64_t count,
                        bool in_place)
{
    const int r = x->r, n = x->n;
    size_t es = sf_dtype_size(dt);
    uint8_t *send = malloc(count * es + 1), *recv = malloc(count * es + 1),
            *want = malloc(count * es + 1);
    for (uint64_t i = 0; i < count; i++) {
        sf_dtype_store(dt, send + i * es, ar_value(r, i));
        double acc = ar_value(0, i);
        for (int p = 1; p < n; p++)
            acc = op == SF_REDUCE_SUM ? acc + ar_value(p, i)
                                      : (acc > ar_value(p, i) ? acc : ar_value(p, i));
        sf_dtype_store(dt, want + i * es, acc);
    }
    if (in_place)
        memcpy(recv, send, count * es);
    else
        memset(recv, 0xee, count * es);
    void *d_recv = tu_mem_of(x, recv, count * es);
    void *d_send = in_place ? d_recv : tu_mem_of(x, send, count * es);
    sf_coll_args_t a = tu_coll_args(x, SF_COLL_ALLREDUCE, dt, d_send, d_recv, count);
    a.op = op;
    TU_RUN_OK(x, &a);
    tu_mem_back(x, recv, d_recv, count * es);
    if (!in_place)
        tu_mem_drop(x, d_send);
    for (uint64_t i = 0; i < count; i++)
        TU_FAIL_IF(memcmp(recv + i * es, want + i * es, es) != 0,
                "rank %d: all_reduce %s %s x%llu%s: element %llu is %g, want %g", r,
                op == SF_REDUCE_SUM ? "sum" : "max", sf_dtype_name(dt), (unsigned long long)count,
                in_place ? " in place" : "", (unsigned long long)i,
                sf_dtype_load(dt, recv + i * es), sf_dtype_load(dt, want + i * es));
    free(send);
    free(recv);
    free(want);
    return 0;
}

static int do_broadcast(const tu_rank_ctx_t *x, int root, uint64_t count)
{
    const int r = x->r;
    uint8_t *buf = malloc(count + 1);
    for (uint64_t b = 0; b < count; b++)
        buf[b] = r == root ? tu_pattern(root, 7, b) : 0xee;
    void *d_buf = tu_mem_of(x, buf, count);
    sf_coll_args_t a = tu_coll_args(x, SF_COLL_BROADCAST, SF_DTYPE_U8, NULL, d_buf, count);
    a.root = root;
    TU_RUN_OK(x, &a);
    tu_mem_back(x, buf, d_buf, count);
    for (uint64_t b = 0; b < count; b++)
        TU_FAIL_IF(buf[b] != tu_pattern(root, 7, b), "rank %d: broadcast from %d: byte %llu is %u",
                   r, root, (unsigned long long)b, buf[b]);
    free(buf);
    return 0;
}

static int do_barrier(const tu_rank_ctx_t *x)
{
    sf_coll_args_t a = tu_coll_args(x, SF_COLL_BARRIER, SF_DTYPE_U8, NULL, NULL, 0);
    TU_RUN_OK(x, &a);
    return 0;
}

/* ---- the bodies, each run against every backend ---------------------------- */

static int body_allreduce(const tu_rank_ctx_t *x)
{
    /* 1 < world (most chunks empty), odd, long enough for a ring, and (the
     * last) several 256 KiB chunks per half on two ranks ('halves', and
     * 'direct' reading by CMA in chunks), odd so the halves differ by one
     * element and the last chunks are partial. */
    static const uint64_t counts[] = {0, 1, 3, 7, 1001, 400001};
    for (size_t d = 0; d < sizeof reduce_dtypes / sizeof reduce_dtypes[0]; d++)
        for (int op = SF_REDUCE_SUM; op <= SF_REDUCE_MAX; op++)
            for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
                if (do_allreduce(x, reduce_dtypes[d], (sf_reduce_op_t)op, counts[c],
                                 c == 2 || (c == 5 && op == SF_REDUCE_SUM)))
                    return 1;
    return 0;
}

static int body_allgather(const tu_rank_ctx_t *x)
{
    static const uint64_t counts[] = {0, 1, 13, 4099};
    for (size_t d = 0; d < TU_N_ALL_DTYPES; d++)
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
            if (tu_do_allgather(x, tu_all_dtypes[d], counts[c]))
                return 1;
    return 0;
}

static int body_allgatherv(const tu_rank_ctx_t *x)
{
    for (size_t d = 0; d < TU_N_ALL_DTYPES; d++)
        for (int seed = 0; seed < 3; seed++)
            if (do_allgatherv(x, tu_all_dtypes[d], seed))
                return 1;
    return 0;
}

static int body_alltoallv(const tu_rank_ctx_t *x)
{
    for (size_t d = 0; d < TU_N_ALL_DTYPES; d++)
        for (int seed = 0; seed < 3; seed++)
            if (do_alltoallv(x, tu_all_dtypes[d], seed))
                return 1;
    return 0;
}

static int body_broadcast(const tu_rank_ctx_t *x)
{
    for (int root = 0; root < x->n; root++)
        if (do_broadcast(x, root, 0) || do_broadcast(x, root, 1) || do_broadcast(x, root, 10007))
            return 1;
    return 0;
}

static int body_barrier(const tu_rank_ctx_t *x)
{
    for (int i = 0; i < 3; i++)
        if (do_barrier(x))
            return 1;
    return 0;
}

/* Every kind in one sequence, several times over: a message of one
 * collective matched by the next would corrupt data or hang. */
static int body_back_to_back(const tu_rank_ctx_t *x)
{
    for (int round = 0; round < 8; round++) {
        if (tu_do_allgather(x, SF_DTYPE_BF16, 5 + (uint64_t)round) ||
            do_alltoallv(x, SF_DTYPE_F32, round) || do_allgatherv(x, SF_DTYPE_I64, round) ||
            do_allreduce(x, SF_DTYPE_F32, SF_REDUCE_SUM, 9 + (uint64_t)round, false) ||
            do_broadcast(x, round % x->n, 33) || do_barrier(x))
            return 1;
    }
    return 0;
}

/* Two collectives in flight at once, waited in the opposite order: they
 * must keep apart (UCX: the sequence number in the tag). */
static int body_overlapped(const tu_rank_ctx_t *x)
{
    const int r = x->r, n = x->n;
    enum { COUNT = 3001 };
    static float ag_send[COUNT], ag_recv[COUNT * 4], ar_send[COUNT], ar_recv[COUNT];
    for (int i = 0; i < COUNT; i++) {
        ag_send[i] = (float)(r * 10000 + i);
        ar_send[i] = (float)(r + 1);
    }
    void *d_ag_send = tu_mem_of(x, ag_send, sizeof ag_send);
    void *d_ag_recv = tu_mem_of(x, ag_recv, sizeof ag_recv);
    void *d_ar_send = tu_mem_of(x, ar_send, sizeof ar_send);
    void *d_ar_recv = tu_mem_of(x, ar_recv, sizeof ar_recv);
    sf_coll_args_t ag =
        tu_coll_args(x, SF_COLL_ALLGATHER, SF_DTYPE_F32, d_ag_send, d_ag_recv, COUNT);
    sf_coll_args_t ar =
        tu_coll_args(x, SF_COLL_ALLREDUCE, SF_DTYPE_F32, d_ar_send, d_ar_recv, COUNT);
    void *req_ag = NULL, *req_ar = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    TU_FAIL_IF(sf_comm_start(x->comm, &ag, &req_ag, &err) != SF_OK, "start ag: %s", err.msg);
    TU_FAIL_IF(sf_comm_start(x->comm, &ar, &req_ar, &err) != SF_OK, "start ar: %s", err.msg);
    TU_FAIL_IF(sf_coll_wait(x->comm, req_ar, &ar, &err) != SF_OK, "wait ar: %s", err.msg);
    TU_FAIL_IF(sf_coll_wait(x->comm, req_ag, &ag, &err) != SF_OK, "wait ag: %s", err.msg);
    sf_comm_req_free(x->comm, req_ar);
    sf_comm_req_free(x->comm, req_ag);
    tu_mem_back(x, ar_recv, d_ar_recv, sizeof ar_recv);
    tu_mem_back(x, ag_recv, d_ag_recv, sizeof ag_recv);
    tu_mem_drop(x, d_ag_send);
    tu_mem_drop(x, d_ar_send);
    /* sum of (p + 1) over p < n = n(n+1)/2 */
    for (int i = 0; i < COUNT; i++)
        TU_FAIL_IF(ar_recv[i] != (float)(n * (n + 1) / 2), "rank %d: ar[%d] = %g", r, i,
                   ar_recv[i]);
    for (int p = 0; p < n; p++)
        for (int i = 0; i < COUNT; i++)
            TU_FAIL_IF(ag_recv[p * COUNT + i] != (float)(p * 10000 + i),
                       "rank %d: ag[%d][%d] = %g", r, p, i, ag_recv[p * COUNT + i]);
    return 0;
}

/* The life cycle by hand: start returns a request, test says INPROGRESS
 * until it says OK, req_free gives it back. 1 Mi floats so it takes a while. */
static int body_start_then_test(const tu_rank_ctx_t *x)
{
    enum { N = 1 << 20 };
    float *send = calloc(N, sizeof *send), *recv = malloc(N * sizeof *recv);
    TU_FAIL_IF(send == NULL || recv == NULL, "out of memory");
    for (int i = 0; i < N; i++)
        send[i] = (float)(i % 7);
    void *d_send = tu_mem_of(x, send, N * sizeof *send);
    void *d_recv = tu_mem_of(x, recv, N * sizeof *recv);
    sf_coll_args_t a = tu_coll_args(x, SF_COLL_ALLREDUCE, SF_DTYPE_F32, d_send, d_recv, N);
    sf_err_t err;
    sf_err_clear(&err);
    void *req = NULL;
    TU_FAIL_IF(sf_comm_start(x->comm, &a, &req, &err) != SF_OK, "start: %s", err.msg);
    TU_FAIL_IF(req == NULL, "start gave no request");
    sf_status_t st;
    double t_end = sf_clock_now_s() + TU_COLL_TIMEOUT_S;
    while ((st = sf_comm_test(x->comm, req, &err)) == SF_INPROGRESS)
        TU_FAIL_IF(sf_clock_now_s() > t_end, "all_reduce never completed");
    TU_FAIL_IF(st != SF_OK, "test: %s", err.msg);
    sf_comm_req_free(x->comm, req);
    tu_mem_back(x, recv, d_recv, N * sizeof *recv);
    tu_mem_drop(x, d_send);
    for (int i = 0; i < N; i += 4099)
        TU_FAIL_IF(recv[i] != (float)(x->n * (i % 7)), "rank %d: element %d is %g", x->r, i,
                   recv[i]);
    free(send);
    free(recv);
    return 0;
}

/* A caller computing in tiles that only tests between them (never
 * sf_coll_wait), as chunked overlap does: an all_to_all and an all_gather
 * started together, 2 MiB per peer each, must both complete with the right
 * bytes. Each tile is arithmetic with no comm call in it, so the
 * collectives can only advance inside the tests. */
static int body_tiles(const tu_rank_ctx_t *x)
{
    const int r = x->r, n = x->n;
    const uint64_t per = 2u << 20;
    uint64_t counts[16], displs[16];
    for (int p = 0; p < n; p++) {
        counts[p] = per;
        displs[p] = (uint64_t)p * per;
    }
    uint8_t *a_send = malloc(per * n), *a_recv = malloc(per * n), *g_send = malloc(per),
            *g_recv = malloc(per * n);
    TU_FAIL_IF(a_send == NULL || a_recv == NULL || g_send == NULL || g_recv == NULL,
               "out of memory");
    for (int p = 0; p < n; p++)
        for (uint64_t b = 0; b < per; b++)
            a_send[displs[p] + b] = tu_pattern(r, p, b);
    for (uint64_t b = 0; b < per; b++)
        g_send[b] = tu_pattern(r, 0, b);
    memset(a_recv, 0xee, per * n);
    memset(g_recv, 0xee, per * n);
    void *da_send = tu_mem_of(x, a_send, per * n), *da_recv = tu_mem_of(x, a_recv, per * n);
    void *dg_send = tu_mem_of(x, g_send, per), *dg_recv = tu_mem_of(x, g_recv, per * n);
    sf_coll_args_t aa = tu_coll_args(x, SF_COLL_ALLTOALLV, SF_DTYPE_U8, da_send, da_recv, 0);
    aa.send_counts = aa.recv_counts = counts;
    aa.send_displs = aa.recv_displs = displs;
    sf_coll_args_t ag = tu_coll_args(x, SF_COLL_ALLGATHER, SF_DTYPE_U8, dg_send, dg_recv, per);
    sf_err_t err;
    sf_err_clear(&err);
    void *ra = NULL, *rg = NULL;
    TU_FAIL_IF(sf_comm_start(x->comm, &aa, &ra, &err) != SF_OK, "start all_to_all: %s", err.msg);
    TU_FAIL_IF(sf_comm_start(x->comm, &ag, &rg, &err) != SF_OK, "start all_gather: %s", err.msg);
    volatile double acc = 0;
    bool is_a_done = false, is_g_done = false;
    int tiles = 0;
    double t_end = sf_clock_now_s() + TU_COLL_TIMEOUT_S;
    while (!is_a_done || !is_g_done) {
        for (int i = 0; i < 100000; i++) /* one compute tile */
            acc = acc + i * 0.5;
        tiles++;
        sf_status_t st;
        if (!is_a_done) {
            st = sf_comm_test(x->comm, ra, &err);
            TU_FAIL_IF(st != SF_OK && st != SF_INPROGRESS, "all_to_all: %s", err.msg);
            is_a_done = st == SF_OK;
        }
        if (!is_g_done) {
            st = sf_comm_test(x->comm, rg, &err);
            TU_FAIL_IF(st != SF_OK && st != SF_INPROGRESS, "all_gather: %s", err.msg);
            is_g_done = st == SF_OK;
        }
        TU_FAIL_IF(sf_clock_now_s() > t_end, "rank %d: not done after %d tiles (all_to_all %s)",
                   r, tiles, is_a_done ? "done" : "not done");
    }
    sf_comm_req_free(x->comm, ra);
    sf_comm_req_free(x->comm, rg);
    tu_mem_back(x, a_recv, da_recv, per * n);
    tu_mem_back(x, g_recv, dg_recv, per * n);
    tu_mem_drop(x, da_send);
    tu_mem_drop(x, dg_send);
    for (int p = 0; p < n; p++)
        for (uint64_t b = 0; b < per; b += 4093) {
            TU_FAIL_IF(a_recv[displs[p] + b] != tu_pattern(p, r, b),
                       "rank %d: all_to_all byte %llu from rank %d", r, (unsigned long long)b, p);
            TU_FAIL_IF(g_recv[displs[p] + b] != tu_pattern(p, 0, b),
                       "rank %d: all_gather byte %llu of rank %d", r, (unsigned long long)b, p);
        }
    free(a_send);
    free(a_recv);
    free(g_send);
    free(g_recv);
    return 0;
}

/* Refused arguments are SF_ERR_INPUT, and the comm still works after. */
static int body_refusals(const tu_rank_ctx_t *x)
{
    uint8_t buf[16] = {0};
    void *d_buf = tu_mem_of(x, buf, sizeof buf);
    sf_err_t err;
    sf_err_clear(&err);
    sf_coll_args_t b = tu_coll_args(x, SF_COLL_BROADCAST, SF_DTYPE_U8, NULL, d_buf, sizeof buf);
    b.root = x->n;
    TU_FAIL_IF(sf_coll_run(x->comm, &b, &err) != SF_ERR_INPUT, "root %d accepted", x->n);
    TU_FAIL_IF(strstr(err.msg, "root") == NULL, "message: %s", err.msg);
    sf_coll_args_t v = tu_coll_args(x, SF_COLL_ALLGATHERV, SF_DTYPE_U8, d_buf, d_buf, 0);
    TU_FAIL_IF(sf_coll_run(x->comm, &v, &err) != SF_ERR_INPUT, "all_gatherv without counts ran");
    sf_coll_args_t u = tu_coll_args(x, SF_COLL_ALLREDUCE, SF_DTYPE_U8, d_buf, d_buf, 4);
    TU_FAIL_IF(sf_coll_run(x->comm, &u, &err) != SF_ERR_UNSUPPORTED, "u8 all_reduce ran");
    tu_mem_drop(x, d_buf);
    return do_broadcast(x, 0, 5);
}

/* ---- over the nccl rows only ----------------------------------------------- */

/* The NCCL backend's own contract: host buffers are refused (naming the
 * collective), a barrier runs whatever memory kind the caller names. */
static int body_nccl_memory_kinds(const tu_rank_ctx_t *x)
{
    float host[4] = {0};
    sf_err_t err;
    sf_err_clear(&err);
    sf_coll_args_t a = tu_coll_args(x, SF_COLL_ALLGATHER, SF_DTYPE_F32, host, host, 4);
    a.mem = SF_MEMKIND_HOST;
    TU_FAIL_IF(sf_coll_run(x->comm, &a, &err) != SF_ERR_UNSUPPORTED, "host all_gather ran");
    TU_FAIL_IF(strstr(err.msg, "all_gather") == NULL, "message: %s", err.msg);
    sf_coll_args_t b = tu_coll_args(x, SF_COLL_BARRIER, SF_DTYPE_U8, NULL, NULL, 0);
    b.mem = SF_MEMKIND_HOST;
    TU_RUN_OK(x, &b);
    b.mem = SF_MEMKIND_CUDA;
    TU_RUN_OK(x, &b);
    return 0;
}

/* ---- tests ------------------------------------------------------------------ */

#define CONFORMANCE_TEST(name, body, limit_s)                                                     \
    START_TEST(name) { tu_run_cfg(&cfgs[_i], body, limit_s); }                                    \
    END_TEST

CONFORMANCE_TEST(test_all_reduce_every_dtype_sum_and_max, body_allreduce, 60.0)
CONFORMANCE_TEST(test_all_gather_every_dtype_byte_exact, body_allgather, 60.0)
CONFORMANCE_TEST(test_all_gatherv_uneven_and_empty_pieces, body_allgatherv, 60.0)
CONFORMANCE_TEST(test_all_to_all_uneven_and_empty_chunks, body_alltoallv, 60.0)
CONFORMANCE_TEST(test_broadcast_from_every_root, body_broadcast, 60.0)
CONFORMANCE_TEST(test_barrier, body_barrier, 60.0)
CONFORMANCE_TEST(test_back_to_back_collectives_of_every_kind, body_back_to_back, 60.0)
CONFORMANCE_TEST(test_overlapped_collectives_keep_apart, body_overlapped, 60.0)
CONFORMANCE_TEST(test_start_then_test_until_done, body_start_then_test, 60.0)
CONFORMANCE_TEST(test_tests_between_compute_tiles_advance_all_to_all_and_all_gather, body_tiles,
                 60.0)
CONFORMANCE_TEST(test_refused_arguments_leave_the_comm_working, body_refusals, 60.0)

static int find_cfg(const char *backend, int world)
{
    for (int i = 0; i < n_cfgs; i++)
        if (strcmp(cfgs[i].backend, backend) == 0 && cfgs[i].world == world)
            return i;
    return -1;
}

/* On two ranks 'direct' runs where both map each other's arena; 'halves'
 * (every other pair) stays exact. SF_COLL_ALGO reaches the forked ranks;
 * this test's own process ends with the test. */
START_TEST(test_ucx_allreduce_halves_when_forced)
{
    setenv("SF_COLL_ALGO", "all_reduce:halves", 1);
    tu_run_cfg(&cfgs[find_cfg("ucx", 2)], body_allreduce, 120.0);
}
END_TEST

START_TEST(test_nccl_memory_kinds)
{
    /* _i walks the nccl rows only: they come after every other backend. */
    tu_run_cfg(&cfgs[_i], body_nccl_memory_kinds, 60.0);
}
END_TEST

#ifdef SF_HAVE_NCCL
/* Count devices in a child, so this process stays free of CUDA. Returns -1
 * when the runtime reports an error (no driver, no device). */
static int probe_devices(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int n = 0;
        if (cudaGetDeviceCount(&n) != cudaSuccess)
            _exit(255);
        _exit(n > 254 ? 254 : n);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) == 255)
        return -1;
    return WEXITSTATUS(st);
}
#endif

int main(void)
{
    cfgs[n_cfgs++] = (tu_coll_cfg_t){"self", 1, SF_MEMKIND_HOST};
    for (int w = 1; w <= 4; w++)
        cfgs[n_cfgs++] = (tu_coll_cfg_t){"ucx", w, SF_MEMKIND_HOST};
    int first_nccl = n_cfgs;
#ifdef SF_HAVE_NCCL
    int n_dev = probe_devices();
    if (n_dev <= 0) {
        printf("SKIP: no CUDA device (the nccl part; self and ucx run)\n");
    } else {
        cfgs[n_cfgs++] = (tu_coll_cfg_t){"nccl", 1, SF_MEMKIND_CUDA};
        if (n_dev >= 2)
            cfgs[n_cfgs++] = (tu_coll_cfg_t){"nccl", 2, SF_MEMKIND_CUDA};
        else
            printf("note: one CUDA device: nccl runs on one rank only\n");
    }
#else
    printf("SKIP: no CUDA device (NCCL backend not built; self and ucx run)\n");
#endif
    for (int i = 0; i < n_cfgs; i++)
        printf("backend %d: %s on %d rank%s\n", i, cfgs[i].backend, cfgs[i].world,
               cfgs[i].world > 1 ? "s" : "");
    Suite *s = suite_create("coll_conformance");
    TCase *tc = tcase_create("every_backend");
    tcase_set_timeout(tc, 180);
    tcase_add_loop_test(tc, test_all_reduce_every_dtype_sum_and_max, 0, n_cfgs);
    tcase_add_loop_test(tc, test_all_gather_every_dtype_byte_exact, 0, n_cfgs);
    tcase_add_loop_test(tc, test_all_gatherv_uneven_and_empty_pieces, 0, n_cfgs);
    tcase_add_loop_test(tc, test_all_to_all_uneven_and_empty_chunks, 0, n_cfgs);
    tcase_add_loop_test(tc, test_broadcast_from_every_root, 0, n_cfgs);
    tcase_add_loop_test(tc, test_barrier, 0, n_cfgs);
    tcase_add_loop_test(tc, test_back_to_back_collectives_of_every_kind, 0, n_cfgs);
    tcase_add_loop_test(tc, test_overlapped_collectives_keep_apart, 0, n_cfgs);
    tcase_add_loop_test(tc, test_start_then_test_until_done, 0, n_cfgs);
    tcase_add_loop_test(tc, test_tests_between_compute_tiles_advance_all_to_all_and_all_gather, 0,
                        n_cfgs);
    tcase_add_loop_test(tc, test_refused_arguments_leave_the_comm_working, 0, n_cfgs);
    suite_add_tcase(s, tc);

    tc = tcase_create("backend_specific");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_ucx_allreduce_halves_when_forced);
    if (n_cfgs > first_nccl)
        tcase_add_loop_test(tc, test_nccl_memory_kinds, first_nccl, n_cfgs);
    suite_add_tcase(s, tc);

    return tu_run_suite(s);
}