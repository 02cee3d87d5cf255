/* plan's pre-launch report (cmd/plan_report.c): --device-mem, the peak by
 * category, --rank, folded ranks, --compare, --sweep, the JSON echo, exit
 * statuses and bad input. Sizes are small enough to add up by hand. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "test_util.h"

/* Run shardflow with args, stdout only (stderr dropped); returns the status. */
static int sf_stdout(const char *args, char **out)
{
    /* tu_run appends 2>&1 to the whole line: a group keeps stderr out. */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "{ %s %s 2>/dev/null; }", tu_shardflow(), args);
    return tu_run(cmd, out);
}

static cJSON *parse(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    ck_assert_msg(j != NULL, "not JSON: %s", text);
    return j;
}

static cJSON *rank_obj(cJSON *j, int config, int k)
{
    cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "configs"), config);
    ck_assert_ptr_nonnull(c);
    cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "ranks"), k);
    ck_assert_ptr_nonnull(r);
    return r;
}

static double num(cJSON *o, const char *key)
{
    cJSON *f = cJSON_GetObjectItem(o, key);
    ck_assert_msg(f != NULL, "no %s", key);
    return cJSON_GetNumberValue(f);
}

START_TEST(test_plan_report_categories_add_up_by_hand)
{
    /* tests/graphs/categories.yaml, n = 16, bf16 [16,16] = 512 bytes each.
     * At mm2 (the peak) live: w_norm 64 bf16 = 128 -> 256 counted (weights),
     * x and r 512 each (activations 1024), logits 512 (logits/target),
     * gathered 512 (communication: a redistribute's output), mask 512
     * (outputs), and mm2's scratch: A, B and C packed to f32, 3 x 16*16*4 =
     * 3072 (kernel scratch). 256+1024+512+512+3072+512 = 5888. */
    char *out = NULL;
    char args[1024];
    snprintf(args, sizeof args, "plan %s --device-mem 5888 --json",
             tu_src("tests/graphs/categories.yaml"));
    ck_assert_int_eq(sf_stdout(args, &out), 0);
    cJSON *j = parse(out);
    cJSON *r = rank_obj(j, 0, 0);
    ck_assert_int_eq((int)num(r, "peak_bytes"), 5888);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(r, "peak_node")), "mm2");
    cJSON *c = cJSON_GetObjectItem(r, "by_category");
    ck_assert_int_eq((int)num(c, "weights"), 256);
    ck_assert_int_eq((int)num(c, "activations"), 1024);
    ck_assert_int_eq((int)num(c, "logits"), 512);
    ck_assert_int_eq((int)num(c, "communication"), 512);
    ck_assert_int_eq((int)num(c, "scratch"), 3072);
    ck_assert_int_eq((int)num(c, "outputs"), 512);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(r, "fits")));
    ck_assert_int_eq((int)num(r, "headroom_bytes"), 0);
    /* The largest buffer live at the peak is the scratch, tagged as such. */
    cJSON *top0 = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "live_at_peak"), 0);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(top0, "category")), "scratch");
    ck_assert_int_eq((int)num(top0, "bytes"), 3072);
    cJSON_Delete(j);
    free(out);
}
END_TEST

START_TEST(test_plan_report_over_device_exits_3)
{
    /* One byte short of the 5888-byte peak: the rank does not fit, the
     * headroom is -1, the report is still complete JSON, and the status is
     * 3 (not 2: nothing the user typed is malformed). */
    char *out = NULL;
    char args[1024];
    snprintf(args, sizeof args, "plan %s --device-mem 5887 --json",
             tu_src("tests/graphs/categories.yaml"));
    ck_assert_int_eq(sf_stdout(args, &out), 3);
    cJSON *j = parse(out);
    cJSON *r = rank_obj(j, 0, 0);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(r, "fits")));
    ck_assert_int_eq((int)num(r, "headroom_bytes"), -1);
    cJSON_Delete(j);
    free(out);
    /* The table says so too. */
    snprintf(args, sizeof args, "plan %s --device-mem 5887", tu_src("tests/graphs/categories.yaml"));
    ck_assert_int_eq(sf_stdout(args, &out), 3);
    ck_assert_msg(strstr(out, "NO (1 of 1 ranks), -1 B") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "DOES NOT FIT, headroom -1 B") != NULL, "%s", out);
    free(out);
}
END_TEST

START_TEST(test_plan_report_mem_limit_keeps_its_verdict)
{
    /* --mem-limit is the guard `run` also has: over it is exit 2 with the
     * report on stderr, whatever --device-mem says. chain n=256: peak 2048. */
    char *out = NULL;
    char args[1024];
    snprintf(args, sizeof args, "plan %s --device-mem 1M --mem-limit 1K",
             tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 2);
    ck_assert_msg(strstr(out, "is over --mem-limit 1024 bytes") != NULL, "%s", out);
    free(out);
}
END_TEST

START_TEST(test_plan_report_one_rank)
{
    char *out = NULL;
    char args[1024];
    snprintf(args, sizeof args, "plan %s --world 3 --rank 1 --json",
             tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(sf_stdout(args, &out), 0);
    cJSON *j = parse(out);
    cJSON *ranks = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "configs"), 0),
                                       "ranks");
    ck_assert_int_eq(cJSON_GetArraySize(ranks), 1);
    ck_assert_int_eq((int)num(rank_obj(j, 0, 0), "rank"), 1);
    ck_assert_int_eq((int)num(j, "rank"), 1);
    cJSON_Delete(j);
    free(out);
}
END_TEST

START_TEST(test_plan_report_folds_identical_ranks)
{
    /* chain is the same on every rank: four ranks print one block. */
    char *out = NULL;
    char args[1024];
    snprintf(args, sizeof args, "plan %s --world 4 --device-mem 1M",
             tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(sf_stdout(args, &out), 0);
    ck_assert_msg(strstr(out, "0-3 identical (folded)") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "ranks 0-3 (identical, shown once)") != NULL, "%s", out);
    ck_assert_int_eq(tu_count(out, "largest live at the peak"), 1);
    free(out);
}
END_TEST

static uint64_t plain_peak(const char *mode)
{
    char *out = NULL;
    char args[1024];
    snprintf(args, sizeof args,
             "plan %s --set model=synthetic:tiny --world 2 --set redistribution=%s --json",
             tu_src("graphs/eagle3_target.yaml"), mode);
    ck_assert_int_eq(sf_stdout(args, &out), 0);
    cJSON *j = parse(out);
    uint64_t peak = (uint64_t)num(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "ranks"), 0),
                                  "peak_bytes");
    cJSON_Delete(j);
    free(out);
    return peak;
}

START_TEST(test_plan_report_compare_matches_two_plans)
{
    char *out = NULL;
    char args[1024];
    snprintf(args, sizeof args,
             "plan %s --set model=synthetic:tiny --world 2 "
             "--compare redistribution=all_gather,all_to_all --device-mem 1G --json",
             tu_src("graphs/eagle3_target.yaml"));
    ck_assert_int_eq(sf_stdout(args, &out), 0);
    cJSON *j = parse(out);
    cJSON *c1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "configs"), 1);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(c1, "compare")),
                     "redistribution=all_to_all");
    /* The echo holds the params after the override. */
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(c1, "params"),
                                                              "redistribution")),
                     "all_to_all");
    ck_assert_uint_eq((uint64_t)num(rank_obj(j, 0, 0), "peak_bytes"), plain_peak("all_gather"));
    ck_assert_uint_eq((uint64_t)num(rank_obj(j, 1, 1), "peak_bytes"), plain_peak("all_to_all"));
    ck_assert_uint_ne(plain_peak("all_gather"), plain_peak("all_to_all"));
    /* The categories add up to the peak. */
    cJSON *cats = cJSON_GetObjectItem(rank_obj(j, 0, 0), "by_category");
    uint64_t sum = 0;
    for (cJSON *it = cats->child; it != NULL; it = it->next)
        sum += (uint64_t)cJSON_GetNumberValue(it);
    ck_assert_uint_eq(sum, (uint64_t)num(rank_obj(j, 0, 0), "peak_bytes"));
    cJSON_Delete(j);
    free(out);
}
END_TEST

START_TEST(test_plan_report_sweep_finds_the_boundary)
{
    /* chain: the peak is a and b, 4n bytes each (n a multiple of 64, so no
     * rounding): 8n. 1 MiB = 1048576 = 8 * 131072, so in steps of 256 the
     * largest n that fits is 131072 and the next, 131328, needs 1050624. */
    char *out = NULL;
    char args[1024];
    snprintf(args, sizeof args, "plan %s --sweep n:256 --device-mem 1M --json",
             tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(sf_stdout(args, &out), 0);
    cJSON *j = parse(out);
    cJSON *s = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "configs"), 0),
                                   "sweep");
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq((int)num(s, "largest_fitting"), 131072);
    ck_assert_int_eq((int)num(s, "largest_fitting_peak_bytes"), 1048576);
    ck_assert_int_eq((int)num(s, "smallest_not_fitting"), 131328);
    ck_assert_int_eq((int)num(s, "smallest_not_fitting_peak_bytes"), 1050624);
    /* The table and the ranks show the plan at the largest value that fits. */
    ck_assert_int_eq((int)num(rank_obj(j, 0, 0), "peak_bytes"), 1048576);
    cJSON *params = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "configs"), 0),
                                        "params");
    ck_assert_int_eq((int)num(params, "n"), 131072);
    cJSON_Delete(j);
    free(out);
    /* Nothing fits: n=256 needs 2048 bytes; exit 3. */
    snprintf(args, sizeof args, "plan %s --sweep n:256 --device-mem 2047",
             tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(sf_stdout(args, &out), 3);
    ck_assert_msg(strstr(out, "none (n=256 already needs 2048 bytes") != NULL, "%s", out);
    free(out);
}
END_TEST

START_TEST(test_plan_json_echoes_params)
{
    char *out = NULL;
    char args[1024];
    snprintf(args, sizeof args, "plan %s --set n=512 --json", tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(sf_stdout(args, &out), 0);
    cJSON *j = parse(out);
    cJSON *p = cJSON_GetObjectItem(j, "params");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq((int)num(p, "n"), 512);
    ck_assert_int_eq((int)num(p, "world"), 1);
    cJSON_Delete(j);
    free(out);
}
END_TEST

START_TEST(test_plan_report_bad_input_exits_2_with_nothing_on_stdout)
{
    static const char *const bad[] = {
        "--device-mem 0",
        "--device-mem 12Q",
        "--rank 3 --world 2",
        "--rank -1",
        "--compare n=1",
        "--compare n",
        "--compare =1,2",
        "--compare n=1,,2",
        "--compare no_such_param=1,2",
        "--sweep n",
        "--sweep n:0 --device-mem 1M",
        "--sweep 9n --device-mem 1M",
        "--set n=8 --sweep n --device-mem 1M",
        "--set n=8 --compare n=8,16",
        "--compare n=8,16 --sweep n --device-mem 1M",
        "--rank 0 --trace /tmp/never_written_by_plan_report.json",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char *out = NULL;
        char args[1024];
        snprintf(args, sizeof args, "plan %s %s", tu_src("tests/graphs/chain.yaml"), bad[k]);
        int rc = sf_stdout(args, &out);
        ck_assert_msg(rc == 2, "%s: exit %d", bad[k], rc);
        ck_assert_msg(out == NULL || out[0] == '\0', "%s: printed %s", bad[k], out);
        free(out);
    }
    FILE *f = fopen("/tmp/never_written_by_plan_report.json", "r");
    ck_assert_ptr_null(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plan_report");
    TCase *tc = tcase_create("plan_report");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_plan_report_categories_add_up_by_hand);
    tcase_add_test(tc, test_plan_report_over_device_exits_3);
    tcase_add_test(tc, test_plan_report_mem_limit_keeps_its_verdict);
    tcase_add_test(tc, test_plan_report_one_rank);
    tcase_add_test(tc, test_plan_report_folds_identical_ranks);
    tcase_add_test(tc, test_plan_report_compare_matches_two_plans);
    tcase_add_test(tc, test_plan_report_sweep_finds_the_boundary);
    tcase_add_test(tc, test_plan_json_echoes_params);
    tcase_add_test(tc, test_plan_report_bad_input_exits_2_with_nothing_on_stdout);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
