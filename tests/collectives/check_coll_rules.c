/* The collective algorithm rule table: first matching row wins, a row that
 * answers SF_ERR_UNSUPPORTED passes to the next, SF_COLL_ALGO forces a row
 * by name and names the valid ones when it is wrong, the built-in table
 * keeps the algorithms the backends ran before it existed, and
 * `shardflow collbench --rules` prints it without starting ranks. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coll_rules.h"
#include "test_util.h"

static int n_calls[4];

#define FAKE_START(i, status)                                                                    \
    static sf_status_t fake_start_##i(sf_comm_t *comm, const sf_coll_args_t *a, void **req,      \
                                      sf_err_t *err)                                             \
    {                                                                                            \
        (void)comm;                                                                              \
        (void)a;                                                                                 \
        n_calls[i]++;                                                                            \
        *req = status == SF_OK ? (void *)&n_calls[i] : NULL;                                     \
        return status == SF_OK ? SF_OK                                                           \
                               : sf_err_set(err, status, NULL, "fake row %d says no", i);        \
    }
FAKE_START(0, SF_OK)
FAKE_START(1, SF_ERR_UNSUPPORTED)
FAKE_START(2, SF_OK)
FAKE_START(3, SF_OK)

static const sf_coll_rule_t fake_rows[] = {
    {SF_COLL_ALLGATHER, SF_MEMKIND_HOST, 0, 1024, "fake", "small", fake_start_0},
    {SF_COLL_ALLGATHER, SF_MEMKIND_HOST, 1024, UINT64_MAX, "fake", "picky", fake_start_1},
    {SF_COLL_ALLGATHER, SF_MEMKIND_HOST, 0, UINT64_MAX, "fake", "ring", fake_start_2},
    {SF_COLL_ALLGATHER, SF_MEMKIND_HOST, 0, UINT64_MAX, "other", "ring", fake_start_3},
};
#define N_FAKE (sizeof fake_rows / sizeof fake_rows[0])

static const sf_comm_iface_t fake_iface = {.name = "fake"};

static const sf_coll_rule_t *pick(uint64_t count, const char *spec, sf_status_t *st)
{
    sf_comm_t comm = {.iface = &fake_iface, .rank = 0, .world = 2};
    const char *forced[SF_COLL_KIND_COUNT];
    char buf[64];
    sf_err_t err = {0};
    ck_assert_int_eq(sf_coll_rules_parse_override(fake_rows, N_FAKE, spec, forced, buf,
                                                  sizeof buf, &err),
                     SF_OK);
    sf_coll_args_t a = {.kind = SF_COLL_ALLGATHER, .dtype = SF_DTYPE_F32, .count = count};
    void *req = NULL;
    const sf_coll_rule_t *chosen = NULL;
    memset(n_calls, 0, sizeof n_calls);
    *st = sf_coll_rules_start(fake_rows, N_FAKE, forced, &comm, &a, &req, &chosen, &err);
    return chosen;
}

START_TEST(test_first_matching_row_wins)
{
    sf_status_t st;
    /* 16 elements of f32 = 64 bytes: row 0 and row 2 match, row 0 wins. */
    ck_assert_ptr_eq(pick(16, NULL, &st), &fake_rows[0]);
    ck_assert_int_eq(st, SF_OK);
    ck_assert_int_eq(n_calls[2], 0);
    ck_assert_int_eq(n_calls[3], 0); /* another backend's row never runs */
}
END_TEST

START_TEST(test_unsupported_falls_through_to_next_row)
{
    sf_status_t st;
    /* 4 KiB: row 1 matches first but says unsupported; row 2 runs. */
    ck_assert_ptr_eq(pick(1024, NULL, &st), &fake_rows[2]);
    ck_assert_int_eq(st, SF_OK);
    ck_assert_int_eq(n_calls[0], 0);
    ck_assert_int_eq(n_calls[1], 1);
    ck_assert_int_eq(n_calls[2], 1);
}
END_TEST

START_TEST(test_override_forces_a_row_by_name)
{
    sf_status_t st;
    ck_assert_ptr_eq(pick(16, "all_gather:ring", &st), &fake_rows[2]);
    ck_assert_int_eq(n_calls[0], 0);
    /* A forced name that only says unsupported: the error, no other row. */
    ck_assert_ptr_null(pick(4096, "all_gather:picky", &st));
    ck_assert_int_eq(st, SF_ERR_UNSUPPORTED);
    ck_assert_int_eq(n_calls[2], 0);
}
END_TEST

START_TEST(test_override_errors_name_the_valid_algorithms)
{
    const char *forced[SF_COLL_KIND_COUNT];
    char buf[64];
    sf_err_t err = {0};
    ck_assert_int_eq(sf_coll_rules_parse_override(fake_rows, N_FAKE, "all_gather:bogus", forced,
                                                  buf, sizeof buf, &err),
                     SF_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "'bogus'"));
    ck_assert_ptr_nonnull(strstr(err.msg, "small, picky, ring"));
    ck_assert_int_eq(sf_coll_rules_parse_override(fake_rows, N_FAKE, "allgather:ring", forced,
                                                  buf, sizeof buf, &err),
                     SF_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "all_gather"));
    ck_assert_int_eq(sf_coll_rules_parse_override(fake_rows, N_FAKE, "ring", forced, buf,
                                                  sizeof buf, &err),
                     SF_ERR_INPUT);
}
END_TEST

/* The built-in table's first row per collective: what each backend ran
 * before the table existed, except all_reduce on UCX, which tries the
 * two-rank 'direct' first (it answers SF_ERR_UNSUPPORTED unless the two
 * ranks map each other's arena; 'halves' takes other pairs, the ring row
 * after it every other world size). */
START_TEST(test_builtin_first_rows_per_collective)
{
    static const struct {
        sf_coll_kind_t kind;
        const char *backend, *algo;
    } want[] = {
        {SF_COLL_ALLGATHER, "ucx", "ring"},          {SF_COLL_ALLTOALLV, "ucx", "pairwise"},
        {SF_COLL_ALLREDUCE, "ucx", "direct"},        {SF_COLL_BROADCAST, "ucx", "binomial"},
        {SF_COLL_BARRIER, "ucx", "dissemination"},   {SF_COLL_ALLGATHER, "self", "copy"},
    };
    size_t n;
    const sf_coll_rule_t *rows = sf_coll_rules(&n);
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        const sf_coll_rule_t *first = NULL;
        for (size_t i = 0; i < n && first == NULL; i++)
            if (rows[i].kind == want[w].kind && rows[i].mem == SF_MEMKIND_HOST &&
                strcmp(rows[i].backend, want[w].backend) == 0)
                first = &rows[i];
        ck_assert_ptr_nonnull(first);
        ck_assert_str_eq(first->algo, want[w].algo);
        ck_assert_uint_eq(first->min_bytes, 0);
        ck_assert_uint_eq(first->max_bytes, UINT64_MAX);
    }
}
END_TEST

START_TEST(test_collbench_rules_prints_without_ranks)
{
    char *out = NULL;
    ck_assert_int_eq(tu_sf("collbench --rules", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "all_gather   host   [0, inf)         ucx      ring"));
    ck_assert_ptr_nonnull(strstr(out, "barrier      host   [0, inf)         ucx      dissemination"));
    free(out);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "SF_COLL_ALGO=all_gather:bogus '%s' collbench --op all_gather --nproc 2 --max 1K",
             tu_shardflow());
    ck_assert_int_eq(tu_run(cmd, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "no algorithm 'bogus' (valid: copy, ring"));
    free(out);
    /* Forcing the default row by name: same results (#wrong 0). */
    snprintf(cmd, sizeof cmd,
             "SF_COLL_ALGO=all_gather:ring,all_reduce:ring '%s' collbench --op all_reduce "
             "--nproc 2 --max 1K --iters 1 --warmup 0",
             tu_shardflow());
    ck_assert_int_eq(tu_run(cmd, &out), 0);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("coll_rules");
    TCase *tc = tcase_create("rules");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_first_matching_row_wins);
    tcase_add_test(tc, test_unsupported_falls_through_to_next_row);
    tcase_add_test(tc, test_override_forces_a_row_by_name);
    tcase_add_test(tc, test_override_errors_name_the_valid_algorithms);
    tcase_add_test(tc, test_builtin_first_rows_per_collective);
    tcase_add_test(tc, test_collbench_rules_prints_without_ranks);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
