/* run --emulate-world N --emulate-rank R end to end: the emulated rank's
 * tracked peak equals plan's peak of that rank to the byte (the Eagle3
 * graph with the demo's model, world 4, ranks 0 and 3, both redistribution
 * modes); every bad flag combination is exit 2 with a message naming it;
 * --out is refused and writes nothing; the report says emulated. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "test_util.h"

/* README's demo model (tools/demo.sh). */
#define DEMO "--set model=synthetic:tiny --set batch=4 --set seq=64"

/* The JSON object in a command's output: stdout and stderr come together,
 * the object starts at `start` ("{\"graph\"" for run's report). */
/* Not inlined: inlined at -O3, gcc 12 takes p for a pointer to the
 * caller's local `out` itself (-Wdangling-pointer, a false positive). */
static __attribute__((noinline)) cJSON *json_at(const char *text, const char *start)
{
    const char *p = strstr(text, start);
    ck_assert_msg(p != NULL, "no %s in:\n%s", start, text);
    cJSON *j = cJSON_Parse(p);
    ck_assert_ptr_nonnull(j);
    return j;
}

static cJSON *item(const cJSON *o, const char *key)
{
    cJSON *x = cJSON_GetObjectItem(o, key);
    ck_assert_msg(x != NULL, "no '%s'", key);
    return x;
}

static long long number(const cJSON *o, const char *key)
{
    return (long long)cJSON_GetNumberValue(item(o, key));
}

/* `shardflow CMD eagle3_target.yaml DEMO FLAGS`, which must exit want_rc:
 * its output (stdout and stderr), for the caller to free. */
static char *eagle3(const char *cmd, const char *flags, int want_rc)
{
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "%s %s " DEMO " %s", cmd, tu_src("graphs/eagle3_target.yaml"),
             flags);
    int rc = tu_sf(args, &out);
    ck_assert_msg(rc == want_rc, "shardflow %s: exit %d, want %d\n%s", args, rc, want_rc, out);
    return out;
}

/* The peak of the one entry of a report's `ranks`, which must be rank's:
 * both reports below hold one rank only. Frees out and j. */
static long long only_rank_peak(char *out, cJSON *j, const cJSON *ranks, int rank)
{
    ck_assert_int_eq(cJSON_GetArraySize(ranks), 1);
    ck_assert_int_eq(number(cJSON_GetArrayItem(ranks, 0), "rank"), rank);
    long long peak = number(cJSON_GetArrayItem(ranks, 0), "peak_bytes");
    cJSON_Delete(j);
    free(out);
    return peak;
}

/* `run --json` of the Eagle3 graph emulating rank of world: its one rank
 * entry's peak (and the report checked to be of that rank alone). */
static long long emulated_peak(const char *mode, int world, int rank)
{
    char flags[256];
    snprintf(flags, sizeof flags,
             "--set redistribution=%s --emulate-world %d --emulate-rank %d --json", mode, world,
             rank);
    char *out = eagle3("run", flags, 0);
    cJSON *j = json_at(out, "{\"graph\"");
    ck_assert_int_eq(number(j, "world"), world);
    return only_rank_peak(out, j, item(j, "ranks"), rank);
}

/* `plan --world world --rank rank --json`: that rank's planned peak. */
static long long planned_peak(const char *mode, int world, int rank)
{
    char flags[256];
    snprintf(flags, sizeof flags, "--set redistribution=%s --world %d --rank %d --json", mode,
             world, rank);
    char *out = eagle3("plan", flags, 0);
    cJSON *j = json_at(out, "{\"graph_file\"");
    return only_rank_peak(out, j, item(cJSON_GetArrayItem(item(j, "configs"), 0), "ranks"), rank);
}

static void check_peak_is_planned(const char *mode, int rank)
{
    long long run = emulated_peak(mode, 4, rank), plan = planned_peak(mode, 4, rank);
    ck_assert_msg(run == plan, "%s rank %d of 4: emulated peak %lld, planned %lld", mode, rank,
                  run, plan);
    /* Not the one-rank figure: the run held a quarter's shards (at tp 1
     * the whole model and vocabulary sit on the one rank). */
    ck_assert_msg(run < planned_peak(mode, 1, 0), "%s rank %d: peak %lld is tp 1's", mode, rank,
                  run);
}

START_TEST(test_emulate_all_gather_rank0_peak_is_planned)
{
    check_peak_is_planned("all_gather", 0);
}
END_TEST
START_TEST(test_emulate_all_gather_rank3_peak_is_planned)
{
    check_peak_is_planned("all_gather", 3);
}
END_TEST
START_TEST(test_emulate_all_to_all_rank0_peak_is_planned)
{
    check_peak_is_planned("all_to_all", 0);
}
END_TEST
START_TEST(test_emulate_all_to_all_rank3_peak_is_planned)
{
    check_peak_is_planned("all_to_all", 3);
}
END_TEST

/* Each bad combination: exit 2 and a message fragment that says what is
 * wrong. */
static const struct {
    const char *flags, *says;
} bad[] = {
    {"--emulate-world 4", "--emulate-world needs --emulate-rank too"},
    {"--emulate-rank 1", "--emulate-rank needs --emulate-world too"},
    {"--emulate-world 4 --emulate-rank 4",
     "--emulate-rank 4 is not a rank of --emulate-world 4 (0..3)"},
    {"--emulate-rank 7 --emulate-world 2",
     "--emulate-rank 7 is not a rank of --emulate-world 2 (0..1)"},
    {"--emulate-world 0 --emulate-rank 0", "--emulate-world expects 1..4096, got '0'"},
    {"--emulate-world 4097 --emulate-rank 0", "--emulate-world expects 1..4096, got '4097'"},
    {"--emulate-world four --emulate-rank 0", "--emulate-world expects 1..4096, got 'four'"},
    {"--emulate-world 4 --emulate-rank -1", "--emulate-rank expects 0..4095, got '-1'"},
    {"--emulate-world 4 --emulate-rank 1x", "--emulate-rank expects 0..4095, got '1x'"},
    {"--emulate-world 4 --emulate-rank", "--emulate-rank needs a value"},
    {"--emulate-world 4 --emulate-rank 0 --nproc 2", "--nproc 2 starts real ranks"},
    {"--nproc 2 --emulate-world 4 --emulate-rank 0", "pass one or the other"},
    {"--emulate-world 4 --emulate-rank 0 --backend ucx",
     "--backend ucx does not go with --emulate-world"},
    {"--emulate-world 4 --emulate-rank 0 --backend self",
     "--backend self does not go with --emulate-world"},
};

START_TEST(test_emulate_bad_flags_exit_2)
{
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char *out = eagle3("run", bad[k].flags, 2);
        ck_assert_msg(strstr(out, bad[k].says) != NULL, "%s: no '%s' in:\n%s", bad[k].flags,
                      bad[k].says, out);
        /* Refused while parsing: no report, so nothing ran. */
        ck_assert_msg(strstr(out, "peak_bytes") == NULL, "%s ran:\n%s", bad[k].flags, out);
        free(out);
    }
}
END_TEST

START_TEST(test_emulate_backend_auto_is_accepted)
{
    free(eagle3("run", "--emulate-world 2 --emulate-rank 1 --backend auto", 0));
}
END_TEST

START_TEST(test_emulate_refuses_out_and_writes_nothing)
{
    const char *existing = tu_tmpdir();
    char missing[1024];
    snprintf(missing, sizeof missing, "%s/outs", tu_tmpdir());
    const char *dirs[] = {existing, missing};
    for (int k = 0; k < 2; k++) {
        char flags[1200];
        snprintf(flags, sizeof flags, "--emulate-world 4 --emulate-rank 3 --out %s --overwrite",
                 dirs[k]);
        char *out = eagle3("run", flags, 2);
        ck_assert_msg(strstr(out, "is refused with --emulate-world") != NULL &&
                          strstr(out, "not real values") != NULL,
                      "%s", out);
        free(out);
    }
    ck_assert_int_eq(tu_count_dir_entries(existing), 0);
    struct stat sb;
    ck_assert_int_ne(stat(missing, &sb), 0);
}
END_TEST

START_TEST(test_emulate_json_says_emulated)
{
    char *out = eagle3("run", "--emulate-world 4 --emulate-rank 3 --json", 0);
    cJSON *j = json_at(out, "{\"graph\"");
    cJSON *e = item(j, "emulated");
    ck_assert_int_eq(number(e, "world"), 4);
    ck_assert_int_eq(number(e, "rank"), 3);
    ck_assert_int_eq(cJSON_GetArraySize(e), 2);
    ck_assert_str_eq(cJSON_GetStringValue(item(j, "outputs")), "emulated");
    cJSON_Delete(j);
    free(out);
    /* A real run carries neither key. */
    out = eagle3("run", "--json", 0);
    j = json_at(out, "{\"graph\"");
    ck_assert_ptr_null(cJSON_GetObjectItem(j, "emulated"));
    ck_assert_ptr_null(cJSON_GetObjectItem(j, "outputs"));
    cJSON_Delete(j);
    free(out);
}
END_TEST

START_TEST(test_emulate_table_says_emulated)
{
    char *out = eagle3("run", "--emulate-world 4 --emulate-rank 3", 0);
    ck_assert_msg(strstr(out, "\nemulated: rank 3 of world 4 alone, collectives local: outputs "
                              "sized, not real\n") != NULL,
                  "%s", out);
    /* One row, rank 3's: the other ranks never ran. */
    ck_assert_int_eq(tu_count(out, "\n3 "), 1);
    ck_assert_int_eq(tu_count(out, "\n0 "), 0);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("emulate");
    TCase *tc = tcase_create("peak");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_emulate_all_gather_rank0_peak_is_planned);
    tcase_add_test(tc, test_emulate_all_gather_rank3_peak_is_planned);
    tcase_add_test(tc, test_emulate_all_to_all_rank0_peak_is_planned);
    tcase_add_test(tc, test_emulate_all_to_all_rank3_peak_is_planned);
    suite_add_tcase(s, tc);
    tc = tcase_create("flags");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_emulate_bad_flags_exit_2);
    tcase_add_test(tc, test_emulate_backend_auto_is_accepted);
    tcase_add_test(tc, test_emulate_refuses_out_and_writes_nothing);
    suite_add_tcase(s, tc);
    tc = tcase_create("report");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_emulate_json_says_emulated);
    tcase_add_test(tc, test_emulate_table_says_emulated);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
