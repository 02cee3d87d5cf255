/* The UCX backend and the bootstrap across real processes: each test forks
 * 2, 3 or 4 ranks on 127.0.0.1, every rank checks its own results and
 * exits 0 or 1, and the parent waits with a deadline, kills leftovers and
 * requires every rank to exit 0. Also: the self backend as the reference
 * on one rank, rendezvous refusals, and the launcher environment. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bootstrap.h"
#include "coll.h"

#define HASH 0x5eed5eed12345678ull
#define RANK_TIMEOUT_S 20.0 /* collectives and rendezvous inside a healthy test */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- forking ranks ------------------------------------------------------- */

/* A port nobody listens on right now: bind port 0 and read what we got. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static sf_rank_info_t rank_info(int rank, int world, int port)
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

/* Body of process i of n; returns the exit code (0: all checks passed). */
typedef int (*proc_fn)(int i, int n, int port, void *arg);

/* Fork n processes running fn, wait up to limit_s, kill what is left.
 * codes[i] is the exit code, or 128 + signal. */
static void run_procs(int n, proc_fn fn, void *arg, int port, double limit_s, int *codes)
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
    double deadline = now_s() + limit_s;
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
        if (now_s() > deadline) {
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

static void expect_all_ok(const int *codes, int n)
{
    for (int i = 0; i < n; i++)
        ck_assert_msg(codes[i] == 0, "rank %d of %d exited with %d", i, n, codes[i]);
}

/* ---- a rank with a communicator ---------------------------------------- */

typedef int (*rank_body_fn)(sf_comm_t *comm, int rank, int world, void *arg);

typedef struct comm_job {
    rank_body_fn body;
    void *arg;
    const char *backend;
} comm_job_t;

#define FAIL_IF(cond, ...)                                                                         \
    do {                                                                                           \
        if (cond) {                                                                                \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static int comm_proc(int i, int n, int port, void *arg)
{
    comm_job_t *job = arg;
    sf_err_t err;
    sf_err_clear(&err);
    sf_comm_register_all();
    sf_rank_info_t ri = rank_info(i, n, port);
    sf_bootstrap_t *bs = NULL;
    sf_comm_t *comm = NULL;
    sf_status_t st = sf_bootstrap_new(&ri, HASH, RANK_TIMEOUT_S, &bs, &err);
    FAIL_IF(st != SF_OK, "rank %d: bootstrap: %s", i, err.msg);
    st = sf_comm_new(job->backend ? job->backend : "ucx", bs, RANK_TIMEOUT_S, &comm, &err);
    FAIL_IF(st != SF_OK, "rank %d: comm: %s", i, err.msg);
    int code = job->body(comm, i, n, job->arg);
    sf_comm_free(comm);
    sf_bootstrap_free(bs);
    return code;
}

static void run_world(int world, rank_body_fn body, void *arg, double limit_s)
{
    comm_job_t job = {body, arg, "ucx"};
    int codes[16];
    run_procs(world, comm_proc, &job, free_port(), limit_s, codes);
    expect_all_ok(codes, world);
}

static int worlds[] = {2, 3, 4};

/* ---- data ------------------------------------------------------------------- */

/* Bytes that differ by source rank, destination and position, so a piece
 * in the wrong place or from the wrong rank cannot compare equal. */
static uint8_t pattern(int src, int dst, uint64_t byte)
{
    return (uint8_t)(src * 131 + dst * 29 + (int)(byte * 7u) + (int)(byte >> 9) + 13);
}

/* Small integers: exact in every dtype, and their sums (of up to 4 ranks,
 * |v| <= 20) too, so reduction order cannot change the result. */
static double ar_value(int rank, uint64_t i)
{
    return (double)((int)((i * 3u + (uint64_t)rank * 5u) % 11u) - 5);
}

static const sf_dtype_t all_dtypes[] = {SF_DTYPE_F32, SF_DTYPE_BF16, SF_DTYPE_F16,
                                        SF_DTYPE_I32, SF_DTYPE_I64,  SF_DTYPE_U8};
static const sf_dtype_t reduce_dtypes[] = {SF_DTYPE_F32, SF_DTYPE_BF16, SF_DTYPE_F16, SF_DTYPE_I32,
                                           SF_DTYPE_I64};

static sf_coll_args_t args_of(sf_coll_kind_t kind, sf_dtype_t dt, const void *send, void *recv,
                              uint64_t count)
{
    sf_coll_args_t a;
    memset(&a, 0, sizeof a);
    a.kind = kind;
    a.mem = SF_MEMKIND_HOST;
    a.dtype = dt;
    a.send = send;
    a.recv = recv;
    a.count = count;
    a.what = "test";
    return a;
}

/* all_gather of count elements of dt; checks every byte. */
static int do_allgather(sf_comm_t *comm, int r, int n, sf_dtype_t dt, uint64_t count)
{
    size_t es = sf_dtype_size(dt), block = count * es;
    uint8_t *send = malloc(block + 1), *recv = malloc(block * (size_t)n + 1);
    for (size_t b = 0; b < block; b++)
        send[b] = pattern(r, 0, b);
    memset(recv, 0xee, block * (size_t)n + 1);
    sf_err_t err;
    sf_err_clear(&err);
    sf_coll_args_t a = args_of(SF_COLL_ALLGATHER, dt, send, recv, count);
    sf_status_t st = sf_coll_run(comm, &a, &err);
    FAIL_IF(st != SF_OK, "rank %d: all_gather %s x%llu: %s", r, sf_dtype_name(dt),
            (unsigned long long)count, err.msg);
    for (int p = 0; p < n; p++)
        for (size_t b = 0; b < block; b++)
            FAIL_IF(recv[(size_t)p * block + b] != pattern(p, 0, b),
                    "rank %d: all_gather %s x%llu: byte %zu of rank %d's piece is %u, want %u", r,
                    sf_dtype_name(dt), (unsigned long long)count, b, p, recv[(size_t)p * block + b],
                    pattern(p, 0, b));
    FAIL_IF(recv[block * (size_t)n] != 0xee, "rank %d: all_gather wrote past the end", r);
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
static int do_alltoallv(sf_comm_t *comm, int r, int n, sf_dtype_t dt, int seed)
{
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
            send[sd[p] * es + b] = pattern(r, p, b);
    memset(recv, 0xee, recv_total * es + 1);
    sf_coll_args_t a = args_of(SF_COLL_ALLTOALLV, dt, send, recv, 0);
    a.send_counts = sc;
    a.send_displs = sd;
    a.recv_counts = rc;
    a.recv_displs = rd;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_coll_run(comm, &a, &err);
    FAIL_IF(st != SF_OK, "rank %d: all_to_all %s: %s", r, sf_dtype_name(dt), err.msg);
    for (int p = 0; p < n; p++) {
        for (size_t b = 0; b < rc[p] * es; b++)
            FAIL_IF(recv[rd[p] * es + b] != pattern(p, r, b),
                    "rank %d: all_to_all %s seed %d: byte %zu from rank %d is %u, want %u", r,
                    sf_dtype_name(dt), seed, b, p, recv[rd[p] * es + b], pattern(p, r, b));
        for (size_t b = 0; b < es; b++)
            FAIL_IF(recv[(rd[p] + rc[p]) * es + b] != 0xee,
                    "rank %d: all_to_all wrote into the gap after rank %d's chunk", r, p);
    }
    free(send);
    free(recv);
    return 0;
}

/* all_gatherv: rank p sends gv_count(p, seed) elements (zeros included),
 * pieces placed out of rank order with a gap element after each that must
 * stay untouched. */
static uint64_t gv_count(int p, int seed)
{
    return (uint64_t)((p * 3 + seed) % 4) * (uint64_t)(1 + seed);
}

static int do_allgatherv(sf_comm_t *comm, int r, int n, sf_dtype_t dt, int seed)
{
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
        send[b] = pattern(r, 0, b);
    memset(recv, 0xee, total * es + 1);
    sf_coll_args_t a = args_of(SF_COLL_ALLGATHERV, dt, send, recv, 0);
    a.recv_counts = rc;
    a.recv_displs = rd;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_coll_run(comm, &a, &err);
    FAIL_IF(st != SF_OK, "rank %d: all_gatherv %s: %s", r, sf_dtype_name(dt), err.msg);
    for (int p = 0; p < n; p++) {
        for (size_t b = 0; b < rc[p] * es; b++)
            FAIL_IF(recv[rd[p] * es + b] != pattern(p, 0, b),
                    "rank %d: all_gatherv %s seed %d: byte %zu of rank %d's piece is %u, want %u",
                    r, sf_dtype_name(dt), seed, b, p, recv[rd[p] * es + b], pattern(p, 0, b));
        for (size_t b = 0; b < es; b++)
            FAIL_IF(recv[(rd[p] + rc[p]) * es + b] != 0xee,
                    "rank %d: all_gatherv wrote into the gap after rank %d's piece", r, p);
    }
    free(send);
    free(recv);
    return 0;
}

static int do_allreduce(sf_comm_t *comm, int r, int n, sf_dtype_t dt, sf_reduce_op_t op,
                        uint64_t count, bool in_place)
{
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
    sf_coll_args_t a = args_of(SF_COLL_ALLREDUCE, dt, in_place ? recv : send, recv, count);
    a.op = op;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_coll_run(comm, &a, &err);
    FAIL_IF(st != SF_OK, "rank %d: all_reduce %s: %s", r, sf_dtype_name(dt), err.msg);
    for (uint64_t i = 0; i < count; i++)
        FAIL_IF(memcmp(recv + i * es, want + i * es, es) != 0,
                "rank %d: all_reduce %s %s x%llu%s: element %llu is %g, want %g", r,
                op == SF_REDUCE_SUM ? "sum" : "max", sf_dtype_name(dt), (unsigned long long)count,
                in_place ? " in place" : "", (unsigned long long)i,
                sf_dtype_load(dt, recv + i * es), sf_dtype_load(dt, want + i * es));
    free(send);
    free(recv);
    free(want);
    return 0;
}

static int do_broadcast(sf_comm_t *comm, int r, int root, uint64_t count)
{
    uint8_t *buf = malloc(count + 1);
    for (uint64_t b = 0; b < count; b++)
        buf[b] = r == root ? pattern(root, 7, b) : 0xee;
    sf_coll_args_t a = args_of(SF_COLL_BROADCAST, SF_DTYPE_U8, NULL, buf, count);
    a.root = root;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_coll_run(comm, &a, &err);
    FAIL_IF(st != SF_OK, "rank %d: broadcast from %d: %s", r, root, err.msg);
    for (uint64_t b = 0; b < count; b++)
        FAIL_IF(buf[b] != pattern(root, 7, b), "rank %d: broadcast from %d: byte %llu is %u", r,
                root, (unsigned long long)b, buf[b]);
    free(buf);
    return 0;
}

static int do_barrier(sf_comm_t *comm, int r)
{
    sf_coll_args_t a = args_of(SF_COLL_BARRIER, SF_DTYPE_U8, NULL, NULL, 0);
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_coll_run(comm, &a, &err);
    FAIL_IF(st != SF_OK, "rank %d: barrier: %s", r, err.msg);
    return 0;
}

/* ---- collective tests ------------------------------------------------------ */

static int body_allreduce(sf_comm_t *comm, int r, int n, void *arg)
{
    (void)arg;
    /* 1 < world (most chunks empty), odd, and long enough for a ring. */
    static const uint64_t counts[] = {0, 1, 3, 7, 1001};
    for (size_t d = 0; d < sizeof reduce_dtypes / sizeof reduce_dtypes[0]; d++)
        for (int op = SF_REDUCE_SUM; op <= SF_REDUCE_MAX; op++)
            for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
                if (do_allreduce(comm, r, n, reduce_dtypes[d], (sf_reduce_op_t)op, counts[c],
                                 c == 2))
                    return 1;
    return 0;
}

START_TEST(test_ucx_allreduce_every_dtype_sum_and_max)
{
    run_world(worlds[_i], body_allreduce, NULL, 40.0);
}
END_TEST

static int body_allgather(sf_comm_t *comm, int r, int n, void *arg)
{
    (void)arg;
    static const uint64_t counts[] = {0, 1, 13, 4099};
    for (size_t d = 0; d < sizeof all_dtypes / sizeof all_dtypes[0]; d++)
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
            if (do_allgather(comm, r, n, all_dtypes[d], counts[c]))
                return 1;
    return 0;
}

START_TEST(test_ucx_allgather_every_dtype_byte_exact)
{
    run_world(worlds[_i], body_allgather, NULL, 40.0);
}
END_TEST

static int body_alltoallv(sf_comm_t *comm, int r, int n, void *arg)
{
    (void)arg;
    for (size_t d = 0; d < sizeof all_dtypes / sizeof all_dtypes[0]; d++)
        for (int seed = 0; seed < 3; seed++)
            if (do_alltoallv(comm, r, n, all_dtypes[d], seed))
                return 1;
    return 0;
}

START_TEST(test_ucx_alltoallv_uneven_and_empty_chunks)
{
    run_world(worlds[_i], body_alltoallv, NULL, 40.0);
}
END_TEST

static int body_allgatherv(sf_comm_t *comm, int r, int n, void *arg)
{
    (void)arg;
    for (size_t d = 0; d < sizeof all_dtypes / sizeof all_dtypes[0]; d++)
        for (int seed = 0; seed < 3; seed++)
            if (do_allgatherv(comm, r, n, all_dtypes[d], seed))
                return 1;
    return 0;
}

START_TEST(test_ucx_allgatherv_uneven_and_empty_pieces)
{
    run_world(worlds[_i], body_allgatherv, NULL, 40.0);
}
END_TEST

static int body_broadcast(sf_comm_t *comm, int r, int n, void *arg)
{
    (void)arg;
    for (int root = 0; root < n; root++)
        if (do_broadcast(comm, r, root, 0) || do_broadcast(comm, r, root, 1) ||
            do_broadcast(comm, r, root, 10007))
            return 1;
    return 0;
}

START_TEST(test_ucx_broadcast_from_every_root)
{
    run_world(worlds[_i], body_broadcast, NULL, 40.0);
}
END_TEST

/* All five kinds in one sequence, several times over: a message of one
 * collective matched by the next would corrupt data or hang. */
static int body_back_to_back(sf_comm_t *comm, int r, int n, void *arg)
{
    (void)arg;
    for (int round = 0; round < 8; round++) {
        if (do_allgather(comm, r, n, SF_DTYPE_BF16, 5 + (uint64_t)round) ||
            do_alltoallv(comm, r, n, SF_DTYPE_F32, round) ||
            do_allgatherv(comm, r, n, SF_DTYPE_I64, round) ||
            do_allreduce(comm, r, n, SF_DTYPE_F32, SF_REDUCE_SUM, 9 + (uint64_t)round, false) ||
            do_broadcast(comm, r, round % n, 33) || do_barrier(comm, r))
            return 1;
    }
    return 0;
}

START_TEST(test_ucx_back_to_back_collectives_of_every_kind)
{
    run_world(worlds[_i], body_back_to_back, NULL, 40.0);
}
END_TEST

/* Two collectives in flight at once, waited in the opposite order: the
 * sequence number in the tag keeps their messages apart. */
static int body_overlapped(sf_comm_t *comm, int r, int n, void *arg)
{
    (void)arg;
    enum { COUNT = 3001 };
    static float ag_send[COUNT], ag_recv[COUNT * 4], ar_send[COUNT], ar_recv[COUNT];
    for (int i = 0; i < COUNT; i++) {
        ag_send[i] = (float)(r * 10000 + i);
        ar_send[i] = (float)(r + 1);
    }
    sf_coll_args_t ag = args_of(SF_COLL_ALLGATHER, SF_DTYPE_F32, ag_send, ag_recv, COUNT);
    sf_coll_args_t ar = args_of(SF_COLL_ALLREDUCE, SF_DTYPE_F32, ar_send, ar_recv, COUNT);
    void *req_ag = NULL, *req_ar = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    FAIL_IF(sf_comm_start(comm, &ag, &req_ag, &err) != SF_OK, "start ag: %s", err.msg);
    FAIL_IF(sf_comm_start(comm, &ar, &req_ar, &err) != SF_OK, "start ar: %s", err.msg);
    FAIL_IF(sf_coll_wait(comm, req_ar, &ar, &err) != SF_OK, "wait ar: %s", err.msg);
    FAIL_IF(sf_coll_wait(comm, req_ag, &ag, &err) != SF_OK, "wait ag: %s", err.msg);
    sf_comm_req_free(comm, req_ar);
    sf_comm_req_free(comm, req_ag);
    /* sum of (p + 1) over p < n = n(n+1)/2 */
    for (int i = 0; i < COUNT; i++)
        FAIL_IF(ar_recv[i] != (float)(n * (n + 1) / 2), "rank %d: ar[%d] = %g", r, i, ar_recv[i]);
    for (int p = 0; p < n; p++)
        for (int i = 0; i < COUNT; i++)
            FAIL_IF(ag_recv[p * COUNT + i] != (float)(p * 10000 + i), "rank %d: ag[%d][%d] = %g", r,
                    p, i, ag_recv[p * COUNT + i]);
    return 0;
}

START_TEST(test_ucx_overlapped_collectives_keep_apart)
{
    run_world(worlds[_i], body_overlapped, NULL, 40.0);
}
END_TEST

/* 64 MiB to the one peer by all_to_all, and a 64 MiB all_gather piece per
 * rank: large enough for UCX's rendezvous protocol. */
static int body_big(sf_comm_t *comm, int r, int n, void *arg)
{
    (void)arg;
    const uint64_t big = 64ull << 20;
    uint64_t sc[2] = {0}, sd[2] = {0}, rc[2] = {0}, rd[2] = {0};
    int peer = 1 - r;
    sc[peer] = big;
    rc[peer] = big;
    sc[r] = rc[r] = 4096;
    sd[0] = 0;
    sd[1] = sc[0];
    rd[0] = 0;
    rd[1] = rc[0];
    uint8_t *send = malloc(big + 4096), *recv = malloc(big + 4096);
    FAIL_IF(send == NULL || recv == NULL, "out of memory");
    for (int p = 0; p < n; p++)
        for (uint64_t b = 0; b < sc[p]; b++)
            send[sd[p] + b] = pattern(r, p, b);
    memset(recv, 0xee, big + 4096);
    sf_coll_args_t a = args_of(SF_COLL_ALLTOALLV, SF_DTYPE_U8, send, recv, 0);
    a.send_counts = sc;
    a.send_displs = sd;
    a.recv_counts = rc;
    a.recv_displs = rd;
    sf_err_t err;
    sf_err_clear(&err);
    FAIL_IF(sf_coll_run(comm, &a, &err) != SF_OK, "rank %d: big all_to_all: %s", r, err.msg);
    for (int p = 0; p < n; p++)
        for (uint64_t b = 0; b < rc[p]; b++)
            FAIL_IF(recv[rd[p] + b] != pattern(p, r, b),
                    "rank %d: big all_to_all byte %llu from %d", r, (unsigned long long)b, p);
    free(send);
    free(recv);
    return do_allgather(comm, r, n, SF_DTYPE_I32, big / 4);
}

START_TEST(test_ucx_64mib_messages)
{
    run_world(2, body_big, NULL, 60.0);
}
END_TEST

/* ---- the self backend is the reference ----------------------------------- */

/* On one rank, ucx and self must produce the same bytes for every kind. */
static int body_one_rank_vs_self(sf_comm_t *comm, int r, int n, void *arg)
{
    (void)arg;
    sf_err_t err;
    sf_err_clear(&err);
    sf_comm_t *self = NULL;
    FAIL_IF(sf_comm_new("self", NULL, 5.0, &self, &err) != SF_OK, "self: %s", err.msg);
    enum { COUNT = 257 };
    uint8_t in[COUNT * 8 + 16], out_ucx[COUNT * 8 + 16], out_self[COUNT * 8 + 16];
    for (size_t b = 0; b < sizeof in; b++)
        in[b] = pattern(0, 0, b);
    for (size_t d = 0; d < sizeof all_dtypes / sizeof all_dtypes[0]; d++) {
        sf_dtype_t dt = all_dtypes[d];
        for (int kind = 0; kind < SF_COLL_KIND_COUNT; kind++) {
            if (kind == SF_COLL_ALLREDUCE && dt == SF_DTYPE_U8)
                continue;
            uint64_t sc = 100, sd = 3, rc = 100, rd = 5;
            sf_coll_args_t a = args_of((sf_coll_kind_t)kind, dt, in, NULL, COUNT);
            a.send_counts = &sc;
            a.send_displs = &sd;
            a.recv_counts = &rc;
            a.recv_displs = &rd;
            memset(out_ucx, 0xee, sizeof out_ucx);
            memset(out_self, 0xee, sizeof out_self);
            if (kind == SF_COLL_BROADCAST) {
                memcpy(out_ucx, in, sizeof in);
                memcpy(out_self, in, sizeof in);
            }
            a.recv = out_ucx;
            FAIL_IF(sf_coll_run(comm, &a, &err) != SF_OK, "ucx %s: %s", sf_coll_kind_name(a.kind),
                    err.msg);
            a.recv = out_self;
            FAIL_IF(sf_coll_run(self, &a, &err) != SF_OK, "self %s: %s", sf_coll_kind_name(a.kind),
                    err.msg);
            FAIL_IF(memcmp(out_ucx, out_self, sizeof out_ucx) != 0, "%s %s: ucx and self differ",
                    sf_coll_kind_name(a.kind), sf_dtype_name(dt));
        }
    }
    /* The reference itself: all_gather on one rank is a copy of send. */
    sf_coll_args_t a = args_of(SF_COLL_ALLGATHER, SF_DTYPE_I64, in, out_self, COUNT);
    FAIL_IF(sf_coll_run(self, &a, &err) != SF_OK, "self: %s", err.msg);
    FAIL_IF(memcmp(out_self, in, COUNT * 8) != 0 || out_self[COUNT * 8] != 0xee,
            "self all_gather is not a copy");
    sf_comm_free(self);
    (void)r;
    (void)n;
    return 0;
}

START_TEST(test_ucx_one_rank_matches_self)
{
    run_world(1, body_one_rank_vs_self, NULL, 20.0);
}
END_TEST

START_TEST(test_self_refuses_more_than_one_rank)
{
    /* The refusal happens in init, before any networking is needed. */
    sf_comm_register_all();
    sf_comm_t fake = {0};
    fake.world = 2;
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_comm_find("self")->init(&fake, NULL, &err), SF_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "single rank"));
}
END_TEST

/* ---- a peer dies --------------------------------------------------------- */

/* Rank 1 exits abruptly after the setup; rank 0's all_gather must fail
 * with SF_ERR_COMM naming rank 1 well before the collective timeout. */
static int body_peer_dies(sf_comm_t *comm, int r, int n, void *arg)
{
    (void)arg;
    (void)n;
    sf_err_t err;
    sf_err_clear(&err);
    if (r == 1) {
        FAIL_IF(do_barrier(comm, r) != 0, "barrier");
        _exit(0); /* no teardown: to the others this rank just vanished */
    }
    FAIL_IF(do_barrier(comm, r) != 0, "barrier");
    uint32_t send[64] = {0}, recv[128];
    sf_coll_args_t a = args_of(SF_COLL_ALLGATHER, SF_DTYPE_I32, send, recv, 64);
    double t0 = now_s();
    usleep(200000);
    sf_status_t st = sf_coll_run(comm, &a, &err);
    double took = now_s() - t0;
    FAIL_IF(st != SF_ERR_COMM, "rank 0: all_gather with a dead peer returned %s (%s)",
            sf_status_name(st), err.msg);
    FAIL_IF(strstr(err.msg, "rank 1 failed during all_gather") == NULL, "message: %s", err.msg);
    FAIL_IF(took > 8.0, "rank 0 noticed the dead peer only after %.1f s", took);
    return 0;
}

START_TEST(test_ucx_dead_peer_fails_the_collective)
{
    run_world(2, body_peer_dies, NULL, 30.0);
}
END_TEST

/* ---- bootstrap ------------------------------------------------------------ */

/* What one process of a rendezvous test claims, and what it must see. */
typedef struct claim {
    int rank, world;
    uint64_t hash;
    int port_delta; /* added to the test's port (a wrong address) */
    double timeout_s;
    sf_status_t want;     /* expected status of sf_bootstrap_new */
    const char *want_msg; /* fragment of the error message, or NULL */
    double max_s;         /* it must have returned within this */
    double delay_s;       /* start this late (lets the others join first) */
} claim_t;

static int claim_proc(int i, int n, int port, void *arg)
{
    (void)n;
    const claim_t *c = &((const claim_t *)arg)[i];
    sf_rank_info_t ri = rank_info(c->rank, c->world, port + c->port_delta);
    if (c->delay_s > 0)
        usleep((useconds_t)(c->delay_s * 1e6));
    sf_bootstrap_t *bs = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    double t0 = now_s();
    sf_status_t st = sf_bootstrap_new(&ri, c->hash, c->timeout_s, &bs, &err);
    double took = now_s() - t0;
    FAIL_IF(st != c->want, "process %d (rank %d): got %s, want %s: %s", i, c->rank,
            sf_status_name(st), sf_status_name(c->want), err.msg);
    FAIL_IF(c->want_msg != NULL && strstr(err.msg, c->want_msg) == NULL,
            "process %d (rank %d): message '%s' lacks '%s'", i, c->rank, err.msg, c->want_msg);
    FAIL_IF(took > c->max_s, "process %d (rank %d) took %.1f s", i, c->rank, took);
    FAIL_IF(st != SF_OK && bs != NULL, "a failed rendezvous returned a bootstrap");
    if (st == SF_OK) {
        /* The star works: gather everyone's rank, broadcast from the last. */
        int all[16] = {0}, mine = c->rank * 10;
        FAIL_IF(sf_bootstrap_allgather(bs, &mine, sizeof mine, all, &err) != SF_OK, "%s", err.msg);
        for (int p = 0; p < c->world; p++)
            FAIL_IF(all[p] != p * 10, "allgather[%d] = %d", p, all[p]);
        char word[8] = "none";
        if (c->rank == c->world - 1)
            memcpy(word, "hello", 6);
        FAIL_IF(sf_bootstrap_bcast(bs, word, sizeof word, c->world - 1, &err) != SF_OK, "%s",
                err.msg);
        FAIL_IF(strcmp(word, "hello") != 0, "bcast gave '%s'", word);
        FAIL_IF(sf_bootstrap_barrier(bs, &err) != SF_OK, "%s", err.msg);
        sf_bootstrap_free(bs);
    }
    return 0;
}

static void run_claims(claim_t *claims, int n, double limit_s)
{
    int codes[16];
    run_procs(n, claim_proc, claims, free_port(), limit_s, codes);
    expect_all_ok(codes, n);
}

START_TEST(test_bootstrap_rendezvous_and_star_ops)
{
    claim_t c[4];
    for (int i = 0; i < 4; i++)
        c[i] = (claim_t){i, 4, HASH, 0, 10.0, SF_OK, NULL, 10.0};
    /* Rank 0 last, so the others must retry until it listens. */
    claim_t reversed[4] = {c[3], c[2], c[1], c[0]};
    run_claims(reversed, 4, 20.0);
}
END_TEST

START_TEST(test_bootstrap_refuses_world_size_mismatch)
{
    claim_t c[2] = {
        {0, 2, HASH, 0, 5.0, SF_ERR_INPUT,
         "world size mismatch: rank 1 has world size 3, rank 0 has 2", 4.0},
        {1, 3, HASH, 0, 5.0, SF_ERR_INPUT,
         "world size mismatch: rank 1 has world size 3, rank 0 has 2", 4.0},
    };
    run_claims(c, 2, 10.0);
}
END_TEST

START_TEST(test_bootstrap_refuses_graph_hash_mismatch)
{
    claim_t c[3] = {
        {0, 3, HASH, 0, 5.0, SF_ERR_INPUT, "graph hash mismatch: rank 2 has 0x0000000000000bad",
         4.0},
        {1, 3, HASH, 0, 5.0, SF_ERR_INPUT, "graph hash mismatch", 4.0},
        {2, 3, 0xbad, 0, 5.0, SF_ERR_INPUT, "graph hash mismatch: rank 2 has 0x0000000000000bad",
         4.0, 0.5},
    };
    run_claims(c, 3, 10.0);
}
END_TEST

START_TEST(test_bootstrap_refuses_duplicate_rank)
{
    /* Rank 1 twice: one of them is refused as the duplicate and the other
     * told why rank 0 gave up; both messages name the duplicate. */
    claim_t c[3] = {
        {0, 3, HASH, 0, 5.0, SF_ERR_INPUT, "duplicate rank: two processes claim rank 1", 4.0},
        {1, 3, HASH, 0, 5.0, SF_ERR_INPUT, "duplicate rank: two processes claim rank 1", 4.0},
        {1, 3, HASH, 0, 5.0, SF_ERR_INPUT, "duplicate rank: two processes claim rank 1", 4.0, 0.5},
    };
    run_claims(c, 3, 10.0);
}
END_TEST

START_TEST(test_bootstrap_missing_rank_times_out_naming_it)
{
    /* World 4 with rank 2 never started: rank 0 gives up after 2 s, names
     * rank 2, and tells the ranks that did come. */
    claim_t c[3] = {
        {0, 4, HASH, 0, 2.0, SF_ERR_TIMEOUT, "rank(s) 2 never connected (3 of 4 ranks joined)",
         4.0},
        {1, 4, HASH, 0, 5.0, SF_ERR_TIMEOUT, "rank 0 aborted the rendezvous: rendezvous at", 4.0},
        {3, 4, HASH, 0, 5.0, SF_ERR_TIMEOUT, "rank(s) 2 never connected", 4.0},
    };
    run_claims(c, 3, 10.0);
}
END_TEST

START_TEST(test_bootstrap_wrong_address_times_out_cleanly)
{
    /* Nobody listens on the port rank 1 dials. */
    claim_t c[1] = {
        {1, 2, HASH, 0, 1.5, SF_ERR_TIMEOUT, "rank 1 cannot reach rank 0 at 127.0.0.1:", 3.5},
    };
    run_claims(c, 1, 10.0);
}
END_TEST

START_TEST(test_bootstrap_port_taken_is_a_clear_error)
{
    int port = free_port();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    sf_rank_info_t ri = rank_info(0, 2, port);
    sf_bootstrap_t *bs = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_bootstrap_new(&ri, HASH, 2.0, &bs, &err), SF_ERR_COMM);
    char want[64];
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1:%d: ", port);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message: %s", err.msg);
    ck_assert_ptr_null(bs);
    close(fd);
}
END_TEST

START_TEST(test_bootstrap_single_rank_needs_no_network)
{
    sf_rank_info_t ri;
    memset(&ri, 0, sizeof ri);
    ri.world = 1;
    sf_bootstrap_t *bs = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_bootstrap_new(&ri, HASH, 1.0, &bs, &err), SF_OK);
    ck_assert_int_eq(sf_bootstrap_rank(bs), 0);
    ck_assert_int_eq(sf_bootstrap_world(bs), 1);
    uint64_t v = 42, all = 0;
    ck_assert_int_eq(sf_bootstrap_allgather(bs, &v, sizeof v, &all, &err), SF_OK);
    ck_assert_uint_eq(all, 42);
    ck_assert_int_eq(sf_bootstrap_bcast(bs, &v, sizeof v, 0, &err), SF_OK);
    ck_assert_int_eq(sf_bootstrap_barrier(bs, &err), SF_OK);
    sf_bootstrap_free(bs);
    sf_bootstrap_free(NULL);
}
END_TEST

/* ---- environment ------------------------------------------------------------ */

static void clear_launcher_env(void)
{
    static const char *const vars[] = {
        "RANK",
        "WORLD_SIZE",
        "LOCAL_RANK",
        "MASTER_ADDR",
        "MASTER_PORT",
        "OMPI_COMM_WORLD_RANK",
        "OMPI_COMM_WORLD_SIZE",
        "OMPI_COMM_WORLD_LOCAL_RANK",
        "SLURM_PROCID",
        "SLURM_NTASKS",
        "SLURM_LOCALID",
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

START_TEST(test_env_torchrun)
{
    clear_launcher_env();
    setenv("RANK", "3", 1);
    setenv("WORLD_SIZE", "8", 1);
    setenv("LOCAL_RANK", "1", 1);
    setenv("MASTER_ADDR", "10.0.0.7", 1);
    setenv("MASTER_PORT", "29500", 1);
    sf_rank_info_t ri;
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_rank_info_from_env(&ri, &err), SF_OK);
    ck_assert_int_eq(ri.rank, 3);
    ck_assert_int_eq(ri.world, 8);
    ck_assert_int_eq(ri.local_rank, 1);
    ck_assert_str_eq(ri.master_addr, "10.0.0.7");
    ck_assert_int_eq(ri.master_port, 29500);
    ck_assert_str_eq(ri.source, "torchrun");
}
END_TEST

START_TEST(test_env_mpirun_and_slurm)
{
    clear_launcher_env();
    setenv("OMPI_COMM_WORLD_RANK", "1", 1);
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    setenv("MASTER_ADDR", "h0", 1);
    setenv("MASTER_PORT", "1234", 1);
    sf_rank_info_t ri;
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_rank_info_from_env(&ri, &err), SF_OK);
    ck_assert_int_eq(ri.rank, 1);
    ck_assert_int_eq(ri.world, 2);
    ck_assert_str_eq(ri.source, "mpirun");
    clear_launcher_env();
    setenv("SLURM_PROCID", "5", 1);
    setenv("SLURM_NTASKS", "6", 1);
    setenv("SLURM_LOCALID", "1", 1);
    setenv("MASTER_ADDR", "h0", 1);
    setenv("MASTER_PORT", "1234", 1);
    ck_assert_int_eq(sf_rank_info_from_env(&ri, &err), SF_OK);
    ck_assert_int_eq(ri.rank, 5);
    ck_assert_int_eq(ri.world, 6);
    ck_assert_int_eq(ri.local_rank, 1);
    ck_assert_str_eq(ri.source, "slurm");
    clear_launcher_env();
    ck_assert_int_eq(sf_rank_info_from_env(&ri, &err), SF_OK);
    ck_assert_int_eq(ri.rank, 0);
    ck_assert_int_eq(ri.world, 1);
    ck_assert_str_eq(ri.source, "single");
}
END_TEST

/* Each malformed environment and the fragment its error must contain. */
static const struct {
    const char *vars[6]; /* name=value pairs */
    const char *want;
} bad_envs[] = {
    {{"RANK=x", "WORLD_SIZE=2", "MASTER_ADDR=a", "MASTER_PORT=1"}, "RANK='x' is not an integer"},
    {{"RANK=2", "WORLD_SIZE=2", "MASTER_ADDR=a", "MASTER_PORT=1"},
     "RANK=2 is not below WORLD_SIZE=2"},
    {{"RANK=0", "WORLD_SIZE=0"}, "WORLD_SIZE=0 is out of range"},
    {{"RANK=0"}, "RANK is set but WORLD_SIZE is not"},
    {{"RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=a"}, "MASTER_PORT is not set"},
    {{"RANK=0", "WORLD_SIZE=2", "MASTER_PORT=1"}, "MASTER_ADDR is not set"},
    {{"RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=a", "MASTER_PORT=70000"},
     "MASTER_PORT=70000 is out of range"},
    {{"OMPI_COMM_WORLD_RANK=1", "OMPI_COMM_WORLD_SIZE=2"},
     "mpirun started 2 ranks but MASTER_ADDR"},
    {{"SLURM_PROCID=-1", "SLURM_NTASKS=2"}, "SLURM_PROCID=-1 is out of range"},
};

START_TEST(test_env_malformed_values_name_the_variable)
{
    clear_launcher_env();
    for (int v = 0; v < 6 && bad_envs[_i].vars[v] != NULL; v++)
        ck_assert_int_eq(putenv((char *)bad_envs[_i].vars[v]), 0);
    sf_rank_info_t ri;
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_rank_info_from_env(&ri, &err), SF_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, bad_envs[_i].want) != NULL, "message '%s' lacks '%s'", err.msg,
                  bad_envs[_i].want);
}
END_TEST

static Suite *coll_ucx_suite(void)
{
    Suite *s = suite_create("coll_ucx");
    const int n_worlds = (int)(sizeof worlds / sizeof worlds[0]);

    TCase *tc = tcase_create("collectives");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_ucx_allreduce_every_dtype_sum_and_max, 0, n_worlds);
    tcase_add_loop_test(tc, test_ucx_allgather_every_dtype_byte_exact, 0, n_worlds);
    tcase_add_loop_test(tc, test_ucx_alltoallv_uneven_and_empty_chunks, 0, n_worlds);
    tcase_add_loop_test(tc, test_ucx_allgatherv_uneven_and_empty_pieces, 0, n_worlds);
    tcase_add_loop_test(tc, test_ucx_broadcast_from_every_root, 0, n_worlds);
    tcase_add_loop_test(tc, test_ucx_back_to_back_collectives_of_every_kind, 0, n_worlds);
    tcase_add_loop_test(tc, test_ucx_overlapped_collectives_keep_apart, 0, n_worlds);
    tcase_add_test(tc, test_ucx_64mib_messages);
    suite_add_tcase(s, tc);

    tc = tcase_create("reference");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_ucx_one_rank_matches_self);
    tcase_add_test(tc, test_self_refuses_more_than_one_rank);
    suite_add_tcase(s, tc);

    tc = tcase_create("failure");
    tcase_set_timeout(tc, 40);
    tcase_add_test(tc, test_ucx_dead_peer_fails_the_collective);
    suite_add_tcase(s, tc);

    tc = tcase_create("bootstrap");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_bootstrap_rendezvous_and_star_ops);
    tcase_add_test(tc, test_bootstrap_refuses_world_size_mismatch);
    tcase_add_test(tc, test_bootstrap_refuses_graph_hash_mismatch);
    tcase_add_test(tc, test_bootstrap_refuses_duplicate_rank);
    tcase_add_test(tc, test_bootstrap_missing_rank_times_out_naming_it);
    tcase_add_test(tc, test_bootstrap_wrong_address_times_out_cleanly);
    tcase_add_test(tc, test_bootstrap_port_taken_is_a_clear_error);
    tcase_add_test(tc, test_bootstrap_single_rank_needs_no_network);
    suite_add_tcase(s, tc);

    tc = tcase_create("environment");
    tcase_add_test(tc, test_env_torchrun);
    tcase_add_test(tc, test_env_mpirun_and_slurm);
    tcase_add_loop_test(tc, test_env_malformed_values_name_the_variable, 0,
                        (int)(sizeof bad_envs / sizeof bad_envs[0]));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(coll_ucx_suite());
    srunner_run_all(sr, CK_NORMAL);
    int n_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
