/* A rank outside the rendezvous, at either end of its job: who it is, read
 * from the launcher's environment (torchrun, mpirun, slurm, each malformed
 * value named), and what the others see when it dies under a UCX collective
 * (exited after setup, or SIGKILLed mid-wait over each shared-memory
 * transport). The rendezvous itself is check_bootstrap.c. */
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

static Suite *launch_env_and_dead_peer_suite(void)
{
    Suite *s = suite_create("launch_env_and_dead_peer");

    TCase *tc = tcase_create("failure");
    tcase_set_timeout(tc, 40);
    tcase_add_test(tc, test_ucx_dead_peer_fails_the_collective);
    tcase_add_loop_test(tc, test_ucx_killed_peer_is_named_over_shared_memory, 0,
                        (int)(sizeof killed_peer_tls / sizeof killed_peer_tls[0]));
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
    return tu_run_suite(launch_env_and_dead_peer_suite());
}
