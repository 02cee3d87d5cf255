/* Who a rank is, read from its launcher's environment: torchrun, mpirun
 * and slurm variables, and each malformed value named in the error. The
 * rendezvous that follows is check_bootstrap.c. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap.h"
#include "launch_env.h"
#include "rank_procs.h"
#include "test_util.h"

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

static Suite *bootstrap_env_suite(void)
{
    Suite *s = suite_create("bootstrap_env");
    TCase *tc = tcase_create("environment");
    tcase_add_test(tc, test_env_torchrun);
    tcase_add_test(tc, test_env_mpirun_and_slurm);
    tcase_add_loop_test(tc, test_env_malformed_values_name_the_variable, 0,
                        (int)(sizeof bad_envs / sizeof bad_envs[0]));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(bootstrap_env_suite());
}
