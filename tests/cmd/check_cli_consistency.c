/* The subcommands agree with each other (issue 15, item 5): check takes
 * --world as plan does; run --steps numbers steps as its folders do and
 * shows tok/s and GiB with and without --nproc; an --inputs file with more
 * batches than --steps takes is a warning; errors under --json are also
 * a JSON object on stderr. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "safetensors.h"
#include "test_util.h"

START_TEST(test_check_takes_world)
{
    char *out = NULL;
    char args[1024];
    const char *g = tu_src("graphs/eagle3_target.yaml");
    snprintf(args, sizeof args, "check %s --world 2", g);
    ck_assert_int_eq(tu_sf(args, &out), 0);
    ck_assert_msg(strstr(out, "all 2 ranks checked") != NULL, "%s", out);
    free(out);
    /* batch 3 splits over one rank, not over two: only --world shows it. */
    snprintf(args, sizeof args, "check %s --set batch=3", g);
    ck_assert_int_eq(tu_sf(args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "check %s --set batch=3 --world 2", g);
    ck_assert_int_eq(tu_sf(args, &out), 2);
    ck_assert_msg(strstr(out, "batch 3 does not divide by tp 2") != NULL, "%s", out);
    free(out);
    /* A shape that goes negative on rank 2 only: rank 0 alone passes. */
    snprintf(args, sizeof args, "check %s", tu_src("tests/graphs/rank_shape.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "check %s --world 3", tu_src("tests/graphs/rank_shape.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 2);
    ck_assert_msg(strstr(out, "rank_shape.yaml:5:53: error: node 'make': shape [-1] has negative "
                              "size -1 at dim 0 (rank 2 of world 3)") != NULL,
                  "%s", out);
    free(out);
    snprintf(args, sizeof args, "check %s --world 0", g);
    ck_assert_int_eq(tu_sf(args, &out), 2);
    ck_assert_msg(strstr(out, "--world expects 1..4096, got '0'") != NULL, "%s", out);
    free(out);
}
END_TEST

/* in.safetensors holding n_batches batches of x [2,3] stacked along dim 0. */
static void write_batches(const char *path, int n_batches)
{
    float x[60];
    for (int i = 0; i < 60; i++)
        x[i] = (float)i;
    sf_buffer_t b = {.data = x};
    sf_tensor_t t = sf_tensor_make(SF_DTYPE_F32, 2, (int64_t[]){2 * n_batches, 3});
    t.buf = &b;
    sf_st_entry_t e = {.name = "x", .tensor = &t};
    sf_err_t err = {0};
    ck_assert_int_eq(sf_st_write(path, &e, 1, false, &err), SF_OK);
}

static void check_steps(const char *nproc)
{
    const char *dir = tu_tmpdir();
    char in[512], out_dir[600], args[2048], path[700];
    snprintf(in, sizeof in, "%s/in.safetensors", dir);
    snprintf(out_dir, sizeof out_dir, "%s/out", dir);
    write_batches(in, 3);
    snprintf(args, sizeof args, "run %s %s --inputs %s --steps 2 --out %s",
             tu_src("tests/graphs/steps_tokens.yaml"), nproc, in, out_dir);
    char *out = NULL;
    ck_assert_int_eq(tu_sf(args, &out), 0);
    /* The numbers of the progress lines are the folders' and the batches'. */
    ck_assert_msg(strstr(out, "step 0 (1 of 2): peak ") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "step 1 (2 of 2): peak ") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "step 2 ") == NULL, "%s", out);
    snprintf(path, sizeof path, "%s/step0/rank0.safetensors", out_dir);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    snprintf(path, sizeof path, "%s/step1/rank0.safetensors", out_dir);
    ck_assert_int_eq(stat(path, &sb), 0);
    snprintf(path, sizeof path, "%s/step2", out_dir);
    ck_assert_int_ne(stat(path, &sb), 0);
    /* tok/s (batch 2 x seq 3 = 6 tokens a step) and GiB on each line. */
    ck_assert_int_eq(tu_count(out, " tok/s"), 2);
    ck_assert_int_eq(tu_count(out, " GiB) at "), 2);
    /* Three batches, two steps: said once, by the launcher under --nproc. */
    ck_assert_int_eq(tu_count(out, "warning: "), 1);
    ck_assert_msg(strstr(out, "holds 3 batches; --steps 2 uses batches 0..1, 1 left unused") !=
                      NULL,
                  "%s", out);
    free(out);
}

START_TEST(test_steps_numbered_like_folders_one_rank)
{
    check_steps("");
}
END_TEST

START_TEST(test_steps_numbered_like_folders_nproc)
{
    check_steps("--nproc 2");
}
END_TEST

START_TEST(test_steps_all_batches_used_no_warning)
{
    const char *dir = tu_tmpdir();
    char in[512], args[2048];
    snprintf(in, sizeof in, "%s/in.safetensors", dir);
    write_batches(in, 2);
    snprintf(args, sizeof args, "run %s --inputs %s --steps 2",
             tu_src("tests/graphs/steps_tokens.yaml"), in);
    char *out = NULL;
    ck_assert_int_eq(tu_sf(args, &out), 0);
    ck_assert_msg(strstr(out, "warning") == NULL, "%s", out);
    free(out);
}
END_TEST

/* The last line of text that starts with '{"error"', parsed. */
static cJSON *error_json(const char *text)
{
    const char *p = NULL;
    for (const char *q = strstr(text, "{\"error\""); q != NULL; q = strstr(q + 1, "{\"error\""))
        p = q;
    ck_assert_msg(p != NULL, "no JSON error in: %s", text);
    cJSON *j = cJSON_Parse(p);
    ck_assert_msg(j != NULL, "not JSON: %s", p);
    return cJSON_GetObjectItem(j, "error") != NULL ? j : NULL;
}

START_TEST(test_errors_under_json_are_json)
{
    char *out = NULL;
    char args[1024];
    /* A graph error with its position. */
    snprintf(args, sizeof args, "plan %s --json", tu_src("tests/data/bad/alias_bomb.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 2);
    cJSON *j = error_json(out);
    ck_assert_ptr_nonnull(j);
    cJSON *e = cJSON_GetObjectItem(j, "error");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(e, "status")), "parse");
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "exit")), 2);
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "line")), 7);
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "col")), 38);
    ck_assert_msg(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(e, "message")),
                         "alias expansion exceeds budget") != NULL,
                  "%s", out);
    cJSON_Delete(j);
    free(out);
    /* A bad flag of run, of plan's report, and of memviz --summary. */
    static const char *const cmds[] = {
        "run %s --json --steps 0",
        "plan %s --json --device-mem 0",
        "memviz --summary --json --top 0 %s",
    };
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
        snprintf(args, sizeof args, cmds[k], tu_src("tests/graphs/chain.yaml"));
        ck_assert_int_eq(tu_sf(args, &out), 2);
        j = error_json(out);
        ck_assert_ptr_nonnull(j);
        e = cJSON_GetObjectItem(j, "error");
        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(e, "status")), "input");
        cJSON_Delete(j);
        free(out);
    }
    /* Without --json: the text line only. */
    snprintf(args, sizeof args, "plan %s --device-mem 0", tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 2);
    ck_assert_msg(strstr(out, "{\"error\"") == NULL, "%s", out);
    free(out);
}
END_TEST

START_TEST(test_rendezvous_mismatch_names_the_param)
{
    /* Two ranks started by hand, told different n: both are refused with
     * the name of the param, not only two hashes. (tu_run appends 2>&1 to
     * the line: the group takes both ranks' stderr.) */
    int port = tu_free_port();
    char cmd[4096];
    const char *g = tu_src("tests/graphs/chain.yaml");
    snprintf(cmd, sizeof cmd,
             "{ env RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=%d %s run %s --set n=256 "
             "--timeout 20 & "
             "env RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=%d %s run %s --set n=512 "
             "--timeout 20; r1=$?; wait $!; r0=$?; exit $((r0 * 10 + r1)); }",
             port, tu_shardflow(), g, port, tu_shardflow(), g);
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out), 22);
    ck_assert_int_eq(tu_count(out, "graph hash mismatch: rank 1 has 0x"), 2);
    ck_assert_int_eq(tu_count(out, "(param 'n' differs: rank 0 has n=256)"), 2);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_consistency");
    TCase *tc = tcase_create("cli_consistency");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_check_takes_world);
    tcase_add_test(tc, test_steps_numbered_like_folders_one_rank);
    tcase_add_test(tc, test_steps_numbered_like_folders_nproc);
    tcase_add_test(tc, test_steps_all_batches_used_no_warning);
    tcase_add_test(tc, test_errors_under_json_are_json);
    tcase_add_test(tc, test_rendezvous_mismatch_names_the_param);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
