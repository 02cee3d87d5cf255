/* What the other ranks see when one dies under a UCX collective: a rank
 * that exits after the setup, and one SIGKILLed while its peer waits, over
 * each shared-memory transport. The command-level failures (`run --nproc`)
 * are check_failure.c. */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootstrap.h"
#include "clock.h"
#include "coll.h"
#include "launch_env.h"
#include "rank_procs.h"
#include "test_util.h"

#define HASH 0x5eed5eed12345678ull
#define RANK_TIMEOUT_S 20.0 /* collectives and rendezvous inside a healthy test */

/* ---- a rank with a communicator ---------------------------------------- */

typedef int (*rank_body_fn)(sf_comm_t *comm, int rank, int world, void *arg);

typedef struct comm_job {
    rank_body_fn body;
    void *arg;
    const char *backend;
} comm_job_t;

static int comm_proc(int i, int n, int port, void *arg)
{
    comm_job_t *job = arg;
    sf_err_t err;
    sf_err_clear(&err);
    sf_comm_register_all();
    sf_rank_info_t ri = tu_rank_info(i, n, port);
    sf_bootstrap_t *bs = NULL;
    sf_comm_t *comm = NULL;
    sf_status_t st = sf_bootstrap_new(&ri, &(sf_bootstrap_job_t){.graph_hash = HASH,
                                                   .timeout_s = RANK_TIMEOUT_S}, &bs, &err);
    TU_FAIL_IF(st != SF_OK, "rank %d: bootstrap: %s", i, err.msg);
    st = sf_comm_new(job->backend ? job->backend : "ucx", bs, RANK_TIMEOUT_S, &comm, &err);
    TU_FAIL_IF(st != SF_OK, "rank %d: comm: %s", i, err.msg);
    int code = job->body(comm, i, n, job->arg);
    sf_comm_free(comm);
    sf_bootstrap_free(bs);
    return code;
}

static void run_world(int world, rank_body_fn body, void *arg, double limit_s)
{
    comm_job_t job = {body, arg, "ucx"};
    int codes[16];
    tu_run_procs(world, comm_proc, &job, tu_free_port(), limit_s, codes);
    tu_expect_all_ok(codes, world);
}

/* ---- a dead peer ------------------------------------------------------------ */

static int do_barrier(sf_comm_t *comm, int r)
{
    sf_coll_args_t a =
        tu_coll_args_on(SF_MEMKIND_HOST, SF_COLL_BARRIER, SF_DTYPE_U8, NULL, NULL, 0);
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_coll_run(comm, &a, &err);
    TU_FAIL_IF(st != SF_OK, "rank %d: barrier: %s", r, err.msg);
    return 0;
}

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
        TU_FAIL_IF(do_barrier(comm, r) != 0, "barrier");
        _exit(0); /* no teardown: to the others this rank just vanished */
    }
    TU_FAIL_IF(do_barrier(comm, r) != 0, "barrier");
    uint32_t send[64] = {0}, recv[128];
    sf_coll_args_t a =
        tu_coll_args_on(SF_MEMKIND_HOST, SF_COLL_ALLGATHER, SF_DTYPE_I32, send, recv, 64);
    double t0 = sf_clock_now_s();
    usleep(200000);
    sf_status_t st = sf_coll_run(comm, &a, &err);
    double took = sf_clock_now_s() - t0;
    TU_FAIL_IF(st != SF_ERR_COMM, "rank 0: all_gather with a dead peer returned %s (%s)",
            sf_status_name(st), err.msg);
    TU_FAIL_IF(strstr(err.msg, "rank 1 failed during all_gather") == NULL, "message: %s", err.msg);
    TU_FAIL_IF(took > 8.0, "rank 0 noticed the dead peer only after %.1f s", took);
    return 0;
}

START_TEST(test_ucx_dead_peer_fails_the_collective)
{
    run_world(2, body_peer_dies, NULL, 30.0);
}
END_TEST

/* Rank 1 is SIGKILLed while rank 0 already waits inside an 8 MiB
 * all_gather (its send and receive are posted, so no later post can fail):
 * only the transport's own peer-failure report (UCX keepalive) can end the
 * wait before the 20 s collective timeout. */
static int body_peer_killed_while_waiting(sf_comm_t *comm, int r, int n, void *arg)
{
    (void)arg;
    (void)n;
    sf_err_t err;
    sf_err_clear(&err);
    TU_FAIL_IF(do_barrier(comm, r) != 0, "barrier");
    if (r == 1) {
        usleep(300000);
        raise(SIGKILL);
    }
    const uint64_t count = 1u << 20; /* 4 MiB of i32 per rank */
    uint32_t *send = calloc(count, sizeof *send), *recv = calloc(2 * count, sizeof *recv);
    TU_FAIL_IF(send == NULL || recv == NULL, "out of memory");
    sf_coll_args_t a =
        tu_coll_args_on(SF_MEMKIND_HOST, SF_COLL_ALLGATHER, SF_DTYPE_I32, send, recv, count);
    double t0 = sf_clock_now_s();
    sf_status_t st = sf_coll_run(comm, &a, &err);
    double took = sf_clock_now_s() - t0;
    free(send);
    free(recv);
    TU_FAIL_IF(st != SF_ERR_COMM, "rank 0: all_gather with a killed peer returned %s (%s)",
               sf_status_name(st), err.msg);
    TU_FAIL_IF(strstr(err.msg, "rank 1 failed during all_gather") == NULL, "message: %s", err.msg);
    TU_FAIL_IF(took > 5.0, "rank 0 noticed the killed peer only after %.1f s", took);
    return 0;
}

/* The transports local ranks may be left with: shared memory alone (posix,
 * sysv), with the CMA single-copy path, and UCX's own choice. */
static const char *const killed_peer_tls[] = {"posix,self", "sysv,self", "sm,self", NULL};

START_TEST(test_ucx_killed_peer_is_named_over_shared_memory)
{
    const char *tls = killed_peer_tls[_i];
    if (tls != NULL)
        ck_assert_int_eq(setenv("UCX_TLS", tls, 1), 0);
    else
        ck_assert_int_eq(unsetenv("UCX_TLS"), 0);
    comm_job_t job = {body_peer_killed_while_waiting, NULL, "ucx"};
    int codes[2];
    tu_run_procs(2, comm_proc, &job, tu_free_port(), 30.0, codes);
    ck_assert_msg(codes[0] == 0, "UCX_TLS=%s: rank 0 exited with %d", tls ? tls : "(unset)",
                  codes[0]);
    ck_assert_msg(codes[1] == 128 + SIGKILL, "UCX_TLS=%s: rank 1 exited with %d, not SIGKILL",
                  tls ? tls : "(unset)", codes[1]);
}
END_TEST

static Suite *dead_peer_suite(void)
{
    Suite *s = suite_create("dead_peer");
    TCase *tc = tcase_create("failure");
    tcase_set_timeout(tc, 40);
    tcase_add_test(tc, test_ucx_dead_peer_fails_the_collective);
    tcase_add_loop_test(tc, test_ucx_killed_peer_is_named_over_shared_memory, 0,
                        (int)(sizeof killed_peer_tls / sizeof killed_peer_tls[0]));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(dead_peer_suite());
}
