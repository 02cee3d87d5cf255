/* The NCCL backend on CUDA memory: every collective on one rank against
 * known data, the start/test life cycle, and arguments the backend refuses;
 * with two or more GPUs, two forked ranks exchange real data. Without NCCL
 * in the build or without a CUDA device the suite says SKIP and exits 77.
 * The parent process never touches CUDA (the device probe runs in a child):
 * a CUDA context does not survive fork, and every test is forked. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef SF_HAVE_NCCL
#include <arpa/inet.h>
#include <cuda_runtime.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "bootstrap.h"
#include "coll.h"

static sf_bootstrap_t *g_bs;
static sf_comm_t *g_comm;

static void setup_one_rank(void)
{
    sf_err_t err;
    sf_err_clear(&err);
    sf_comm_register_all();
    sf_rank_info_t ri;
    memset(&ri, 0, sizeof ri);
    ri.world = 1;
    snprintf(ri.source, sizeof ri.source, "single");
    sf_status_t st = sf_bootstrap_new(&ri, 0, 30.0, &g_bs, &err);
    ck_assert_msg(st == SF_OK, "bootstrap: %s", err.msg);
    st = sf_comm_new("nccl", g_bs, 30.0, &g_comm, &err);
    ck_assert_msg(st == SF_OK, "nccl init: %s", err.msg);
    ck_assert_int_eq(g_comm->rank, 0);
    ck_assert_int_eq(g_comm->world, 1);
}

static void teardown_one_rank(void)
{
    sf_comm_free(g_comm);
    sf_bootstrap_free(g_bs);
    g_comm = NULL;
    g_bs = NULL;
}

static void *dev_alloc(size_t nbytes)
{
    void *p = NULL;
    ck_assert_int_eq(cudaMalloc(&p, nbytes), cudaSuccess);
    ck_assert_int_eq(cudaMemset(p, 0xff, nbytes), cudaSuccess);
    ck_assert_int_eq(cudaDeviceSynchronize(), cudaSuccess);
    return p;
}

static void dev_put(void *dst, const void *src, size_t nbytes)
{
    ck_assert_int_eq(cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice), cudaSuccess);
    ck_assert_int_eq(cudaDeviceSynchronize(), cudaSuccess);
}

static void dev_get(void *dst, const void *src, size_t nbytes)
{
    ck_assert_int_eq(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost), cudaSuccess);
}

static void run_ok(const sf_coll_args_t *a)
{
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_coll_run(g_comm, a, &err);
    ck_assert_msg(st == SF_OK, "%s: %s (%s)", sf_coll_kind_name(a->kind), err.msg,
                  sf_status_name(st));
}

START_TEST(test_nccl_all_gather_one_rank_copies_send)
{
    enum { N = 1000 };
    float host[N], back[N];
    for (int i = 0; i < N; i++)
        host[i] = (float)i * 0.5f - 7.0f;
    float *send = dev_alloc(sizeof host), *recv = dev_alloc(sizeof host);
    dev_put(send, host, sizeof host);
    sf_coll_args_t a = {.kind = SF_COLL_ALLGATHER, .mem = SF_MEMKIND_CUDA,
                        .dtype = SF_DTYPE_F32, .send = send, .recv = recv, .count = N};
    run_ok(&a);
    dev_get(back, recv, sizeof back);
    ck_assert_mem_eq(back, host, sizeof host);
    cudaFree(send);
    cudaFree(recv);
}
END_TEST

START_TEST(test_nccl_all_to_all_honours_displacements)
{
    /* send[3..8) lands at recv[2..7); the rest of recv keeps its poison (-1). */
    int32_t host[10], back[10];
    for (int i = 0; i < 10; i++)
        host[i] = 100 + i;
    int32_t *send = dev_alloc(sizeof host), *recv = dev_alloc(sizeof host);
    dev_put(send, host, sizeof host);
    uint64_t sc[1] = {5}, sd[1] = {3}, rc[1] = {5}, rd[1] = {2};
    sf_coll_args_t a = {.kind = SF_COLL_ALLTOALLV, .mem = SF_MEMKIND_CUDA, .dtype = SF_DTYPE_I32,
                        .send = send, .recv = recv, .send_counts = sc, .send_displs = sd,
                        .recv_counts = rc, .recv_displs = rd};
    run_ok(&a);
    dev_get(back, recv, sizeof back);
    const int32_t want[10] = {-1, -1, 103, 104, 105, 106, 107, -1, -1, -1};
    ck_assert_mem_eq(back, want, sizeof want);
    cudaFree(send);
    cudaFree(recv);
}
END_TEST

START_TEST(test_nccl_all_to_all_zero_counts_write_nothing)
{
    int32_t back[4];
    int32_t *send = dev_alloc(sizeof back), *recv = dev_alloc(sizeof back);
    uint64_t zero[1] = {0};
    sf_coll_args_t a = {.kind = SF_COLL_ALLTOALLV, .mem = SF_MEMKIND_CUDA, .dtype = SF_DTYPE_I32,
                        .send = send, .recv = recv, .send_counts = zero, .send_displs = zero,
                        .recv_counts = zero, .recv_displs = zero};
    run_ok(&a);
    dev_get(back, recv, sizeof back);
    const int32_t want[4] = {-1, -1, -1, -1};
    ck_assert_mem_eq(back, want, sizeof want);
    cudaFree(send);
    cudaFree(recv);
}
END_TEST

START_TEST(test_nccl_all_reduce_every_dtype_and_op)
{
    /* One rank: the reduction of one contribution is that contribution,
     * bit for bit, out of place and in place, sum and max. */
    static const sf_dtype_t dts[] = {SF_DTYPE_F32, SF_DTYPE_BF16, SF_DTYPE_F16, SF_DTYPE_I32,
                                     SF_DTYPE_I64};
    enum { N = 333 };
    unsigned char host[N * 8], back[N * 8];
    for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
        size_t es = sf_dtype_size(dts[d]);
        for (int i = 0; i < N; i++)
            sf_dtype_store(dts[d], host + (size_t)i * es, (double)(i % 50) - 20.0);
        for (int op = 0; op < 2; op++) {
            for (int inplace = 0; inplace < 2; inplace++) {
                void *send = dev_alloc(N * es), *recv = dev_alloc(N * es);
                dev_put(inplace ? recv : send, host, N * es);
                sf_coll_args_t a = {.kind = SF_COLL_ALLREDUCE, .mem = SF_MEMKIND_CUDA,
                                    .dtype = dts[d], .send = inplace ? recv : send, .recv = recv,
                                    .count = N, .op = op ? SF_REDUCE_MAX : SF_REDUCE_SUM};
                run_ok(&a);
                dev_get(back, recv, N * es);
                ck_assert_msg(memcmp(back, host, N * es) == 0, "dtype %s op %d inplace %d",
                              sf_dtype_name(dts[d]), op, inplace);
                cudaFree(send);
                cudaFree(recv);
            }
        }
    }
}
END_TEST

START_TEST(test_nccl_broadcast_keeps_root_data)
{
    int64_t host[7] = {1, -2, 3, -4, 5, -6, 1LL << 40}, back[7];
    int64_t *buf = dev_alloc(sizeof host);
    dev_put(buf, host, sizeof host);
    sf_coll_args_t a = {.kind = SF_COLL_BROADCAST, .mem = SF_MEMKIND_CUDA, .dtype = SF_DTYPE_I64,
                        .recv = buf, .count = 7, .root = 0};
    run_ok(&a);
    dev_get(back, buf, sizeof back);
    ck_assert_mem_eq(back, host, sizeof host);
    cudaFree(buf);
}
END_TEST

START_TEST(test_nccl_barrier_on_any_memory_kind)
{
    sf_coll_args_t a = {.kind = SF_COLL_BARRIER, .mem = SF_MEMKIND_HOST};
    run_ok(&a);
    a.mem = SF_MEMKIND_CUDA;
    run_ok(&a);
}
END_TEST

START_TEST(test_nccl_start_then_test_until_done)
{
    enum { N = 1 << 20 };
    float *send = dev_alloc(N * sizeof(float)), *recv = dev_alloc(N * sizeof(float));
    ck_assert_int_eq(cudaMemset(send, 0, N * sizeof(float)), cudaSuccess);
    ck_assert_int_eq(cudaDeviceSynchronize(), cudaSuccess);
    sf_coll_args_t a = {.kind = SF_COLL_ALLREDUCE, .mem = SF_MEMKIND_CUDA, .dtype = SF_DTYPE_F32,
                        .send = send, .recv = recv, .count = N, .op = SF_REDUCE_SUM};
    sf_err_t err;
    sf_err_clear(&err);
    void *req = NULL;
    ck_assert_int_eq(sf_comm_start(g_comm, &a, &req, &err), SF_OK);
    ck_assert_ptr_nonnull(req);
    sf_status_t st;
    time_t t_end = time(NULL) + 30;
    while ((st = sf_comm_test(g_comm, req, &err)) == SF_INPROGRESS)
        ck_assert_msg(time(NULL) < t_end, "all_reduce never completed");
    ck_assert_msg(st == SF_OK, "%s", err.msg);
    sf_comm_req_free(g_comm, req);
    float back[4];
    dev_get(back, recv, sizeof back);
    ck_assert_float_eq(back[0], 0.0f);
    ck_assert_float_eq(back[3], 0.0f);
    cudaFree(send);
    cudaFree(recv);
}
END_TEST

START_TEST(test_nccl_refuses_host_memory_and_bad_root)
{
    float host[4] = {0};
    sf_err_t err;
    sf_err_clear(&err);
    sf_coll_args_t a = {.kind = SF_COLL_ALLGATHER, .mem = SF_MEMKIND_HOST, .dtype = SF_DTYPE_F32,
                        .send = host, .recv = host, .count = 4};
    ck_assert_int_eq(sf_coll_run(g_comm, &a, &err), SF_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "all_gather"));

    float *buf = dev_alloc(sizeof host);
    sf_err_clear(&err);
    sf_coll_args_t b = {.kind = SF_COLL_BROADCAST, .mem = SF_MEMKIND_CUDA, .dtype = SF_DTYPE_F32,
                        .recv = buf, .count = 4, .root = 1};
    ck_assert_int_eq(sf_coll_run(g_comm, &b, &err), SF_ERR_INPUT);
    /* The communicator survives refused arguments. */
    b.root = 0;
    run_ok(&b);
    cudaFree(buf);
}
END_TEST

/* ---- two ranks, two GPUs ------------------------------------------------------ */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return 29500;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

#define RANK_CHECK(cond, ...)                                                                  \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "rank %d: ", rank);                                                \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fprintf(stderr, "\n");                                                             \
            return 1;                                                                          \
        }                                                                                      \
    } while (0)

/* One rank of two, in a forked process; returns its exit status. */
static int two_rank_body(int rank, int port)
{
    char v[32];
    snprintf(v, sizeof v, "%d", rank);
    setenv("RANK", v, 1);
    setenv("LOCAL_RANK", v, 1);
    setenv("WORLD_SIZE", "2", 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    snprintf(v, sizeof v, "%d", port);
    setenv("MASTER_PORT", v, 1);

    sf_err_t err;
    sf_err_clear(&err);
    sf_rank_info_t ri;
    sf_bootstrap_t *bs = NULL;
    sf_comm_t *comm = NULL;
    sf_comm_register_all();
    RANK_CHECK(sf_rank_info_from_env(&ri, &err) == SF_OK, "env: %s", err.msg);
    RANK_CHECK(sf_bootstrap_new(&ri, 7, 60.0, &bs, &err) == SF_OK, "bootstrap: %s", err.msg);
    RANK_CHECK(sf_comm_new("nccl", bs, 60.0, &comm, &err) == SF_OK, "init: %s", err.msg);

    /* all_gather: rank r contributes r * 1000 + i, i < 257. */
    enum { C = 257 };
    int32_t mine[C], all[2 * C];
    for (int i = 0; i < C; i++)
        mine[i] = rank * 1000 + i;
    int32_t *d_send = NULL, *d_recv = NULL;
    RANK_CHECK(cudaMalloc((void **)&d_send, sizeof mine) == cudaSuccess, "cudaMalloc");
    RANK_CHECK(cudaMalloc((void **)&d_recv, sizeof all) == cudaSuccess, "cudaMalloc");
    cudaMemcpy(d_send, mine, sizeof mine, cudaMemcpyHostToDevice);
    cudaDeviceSynchronize();
    sf_coll_args_t a = {.kind = SF_COLL_ALLGATHER, .mem = SF_MEMKIND_CUDA, .dtype = SF_DTYPE_I32,
                        .send = d_send, .recv = d_recv, .count = C};
    RANK_CHECK(sf_coll_run(comm, &a, &err) == SF_OK, "all_gather: %s", err.msg);
    cudaMemcpy(all, d_recv, sizeof all, cudaMemcpyDeviceToHost);
    for (int i = 0; i < 2 * C; i++)
        RANK_CHECK(all[i] == (i / C) * 1000 + i % C, "all_gather[%d] = %d", i, all[i]);

    /* all_to_all, uneven: rank r sends (r + 1) * (p + 2) elements to p,
     * valued r * 100 + p, packed in peer order. */
    uint64_t sc[2], sd[2], rc[2], rd[2], n_s = 0, n_r = 0;
    for (int p = 0; p < 2; p++) {
        sc[p] = (uint64_t)(rank + 1) * (uint64_t)(p + 2);
        sd[p] = n_s;
        n_s += sc[p];
        rc[p] = (uint64_t)(p + 1) * (uint64_t)(rank + 2);
        rd[p] = n_r;
        n_r += rc[p];
    }
    int32_t s_host[64], r_host[64];
    for (int p = 0; p < 2; p++)
        for (uint64_t j = 0; j < sc[p]; j++)
            s_host[sd[p] + j] = rank * 100 + p;
    cudaMemcpy(d_send, s_host, n_s * sizeof(int32_t), cudaMemcpyHostToDevice);
    cudaDeviceSynchronize();
    sf_coll_args_t t = {.kind = SF_COLL_ALLTOALLV, .mem = SF_MEMKIND_CUDA, .dtype = SF_DTYPE_I32,
                        .send = d_send, .recv = d_recv, .send_counts = sc, .send_displs = sd,
                        .recv_counts = rc, .recv_displs = rd};
    RANK_CHECK(sf_coll_run(comm, &t, &err) == SF_OK, "all_to_all: %s", err.msg);
    cudaMemcpy(r_host, d_recv, n_r * sizeof(int32_t), cudaMemcpyDeviceToHost);
    for (int p = 0; p < 2; p++)
        for (uint64_t j = 0; j < rc[p]; j++)
            RANK_CHECK(r_host[rd[p] + j] == p * 100 + rank, "all_to_all from %d [%d] = %d", p,
                       (int)j, r_host[rd[p] + j]);

    /* all_reduce sum of (rank + 1) * i: 3 * i; max: 2 * i. */
    int32_t red[C];
    for (int op = 0; op < 2; op++) {
        for (int i = 0; i < C; i++)
            mine[i] = (rank + 1) * i;
        cudaMemcpy(d_send, mine, sizeof mine, cudaMemcpyHostToDevice);
        cudaDeviceSynchronize();
        sf_coll_args_t r = {.kind = SF_COLL_ALLREDUCE, .mem = SF_MEMKIND_CUDA,
                            .dtype = SF_DTYPE_I32, .send = d_send, .recv = d_recv, .count = C,
                            .op = op ? SF_REDUCE_MAX : SF_REDUCE_SUM};
        RANK_CHECK(sf_coll_run(comm, &r, &err) == SF_OK, "all_reduce: %s", err.msg);
        cudaMemcpy(red, d_recv, sizeof red, cudaMemcpyDeviceToHost);
        for (int i = 0; i < C; i++)
            RANK_CHECK(red[i] == (op ? 2 : 3) * i, "all_reduce op %d [%d] = %d", op, i, red[i]);
    }

    /* broadcast from rank 1. */
    for (int i = 0; i < C; i++)
        mine[i] = rank == 1 ? 5000 + i : -1;
    cudaMemcpy(d_recv, mine, sizeof mine, cudaMemcpyHostToDevice);
    cudaDeviceSynchronize();
    sf_coll_args_t b = {.kind = SF_COLL_BROADCAST, .mem = SF_MEMKIND_CUDA, .dtype = SF_DTYPE_I32,
                        .recv = d_recv, .count = C, .root = 1};
    RANK_CHECK(sf_coll_run(comm, &b, &err) == SF_OK, "broadcast: %s", err.msg);
    cudaMemcpy(red, d_recv, sizeof red, cudaMemcpyDeviceToHost);
    for (int i = 0; i < C; i++)
        RANK_CHECK(red[i] == 5000 + i, "broadcast[%d] = %d", i, red[i]);

    sf_coll_args_t bar = {.kind = SF_COLL_BARRIER, .mem = SF_MEMKIND_CUDA};
    RANK_CHECK(sf_coll_run(comm, &bar, &err) == SF_OK, "barrier: %s", err.msg);
    cudaFree(d_send);
    cudaFree(d_recv);
    sf_comm_free(comm);
    sf_bootstrap_free(bs);
    return 0;
}

START_TEST(test_nccl_two_ranks_exchange_data)
{
    int port = free_port();
    pid_t pids[2];
    for (int r = 0; r < 2; r++) {
        pids[r] = fork();
        ck_assert_int_ge(pids[r], 0);
        if (pids[r] == 0) {
            alarm(120); /* a hung rank must not hang the suite */
            _exit(two_rank_body(r, port));
        }
    }
    for (int r = 0; r < 2; r++) {
        int st = 0;
        ck_assert_int_eq(waitpid(pids[r], &st, 0), pids[r]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "rank %d ended with status %d", r,
                      st);
    }
}
END_TEST

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

int main(void)
{
    int n_dev = probe_devices();
    if (n_dev <= 0) {
        printf("SKIP: no CUDA device\n");
        return 77;
    }
    Suite *s = suite_create("coll_nccl");
    TCase *tc = tcase_create("one_rank");
    tcase_add_checked_fixture(tc, setup_one_rank, teardown_one_rank);
    tcase_set_timeout(tc, 120); /* NCCL init alone can take seconds */
    tcase_add_test(tc, test_nccl_all_gather_one_rank_copies_send);
    tcase_add_test(tc, test_nccl_all_to_all_honours_displacements);
    tcase_add_test(tc, test_nccl_all_to_all_zero_counts_write_nothing);
    tcase_add_test(tc, test_nccl_all_reduce_every_dtype_and_op);
    tcase_add_test(tc, test_nccl_broadcast_keeps_root_data);
    tcase_add_test(tc, test_nccl_barrier_on_any_memory_kind);
    tcase_add_test(tc, test_nccl_start_then_test_until_done);
    tcase_add_test(tc, test_nccl_refuses_host_memory_and_bad_root);
    suite_add_tcase(s, tc);
    if (n_dev >= 2) {
        TCase *tc2 = tcase_create("two_ranks");
        tcase_set_timeout(tc2, 180);
        tcase_add_test(tc2, test_nccl_two_ranks_exchange_data);
        suite_add_tcase(s, tc2);
    } else {
        printf("note: one CUDA device: the two-rank test is skipped\n");
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

#else /* no NCCL in this build */

int main(void)
{
    printf("SKIP: no CUDA device (NCCL backend not built)\n");
    return 77;
}

#endif
