/* The shardflow command's options and reports: --json (the peak, exact up
 * to 2^53), --set and its errors (typos, settable params, rank and world),
 * --free, --profile, --backend, --timeout, --mem-limit and --steps, and the
 * ops, --version and --help commands. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "safetensors.h"
#include "test_util.h"

static cJSON *json_of(const char *text)
{
    /* The JSON object is the last line that starts with '{'. */
    const char *p = strrchr(text, '{') ? strstr(text, "{\"graph\"") : NULL;
    ck_assert_ptr_nonnull(p);
    cJSON *j = cJSON_Parse(p);
    ck_assert_ptr_nonnull(j);
    return j;
}

static double rank_field(cJSON *j, int r, const char *field)
{
    cJSON *ranks = cJSON_GetObjectItem(j, "ranks");
    cJSON *o = cJSON_GetArrayItem(ranks, r);
    ck_assert_ptr_nonnull(o);
    cJSON *f = cJSON_GetObjectItem(o, field);
    ck_assert_ptr_nonnull(f);
    return cJSON_GetNumberValue(f);
}

START_TEST(test_cli_run_json_reports_peak)
{
    char *out = NULL;
    char args[1024];
    snprintf(args, sizeof args, "run %s --json", tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 0);
    cJSON *j = json_of(out);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "graph")), "chain");
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "world")), 1);
    ck_assert_int_eq((int)rank_field(j, 0, "peak_bytes"), 2048);
    ck_assert_int_eq((int)rank_field(j, 0, "end_bytes"), 1024);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(
                         cJSON_GetObjectItem(j, "ranks"), 0), "peak_node")), "make_b");
    cJSON_Delete(j);
    free(out);
}
END_TEST

START_TEST(test_cli_plan_json_bytes_exact_to_2_53)
{
    /* chain with n = 2^50 f32 on the meta device: a, b, c are 2^52 bytes
     * each and two are live at once, so the peak is 2^53 = 9007199254740992
     * and the end 2^52 = 4503599627370496. cJSON alone would print the peak
     * as 9.00719925474099e+15 (15 digits, 8 bytes short): compare text. */
    char *out = NULL;
    char args[1024];
    snprintf(args, sizeof args, "plan %s --set n=1125899906842624 --json",
             tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 0);
    ck_assert_msg(strstr(out, "\"peak_bytes\":9007199254740992,") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "\"end_bytes\":4503599627370496,") != NULL, "%s", out);
    cJSON_Delete(json_of(out)); /* and still valid JSON */
    free(out);
}
END_TEST

START_TEST(test_cli_free_end_and_set)
{
    char *out = NULL;
    char args[1024];
    /* n=512: 2 KiB tensors; eager peak 4096, end peak 6144. */
    snprintf(args, sizeof args, "run %s --set n=512 --free end --json",
             tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 0);
    cJSON *j = json_of(out);
    ck_assert_int_eq((int)rank_field(j, 0, "peak_bytes"), 6144);
    cJSON_Delete(j);
    free(out);
    snprintf(args, sizeof args, "plan %s --set n=512 --world 3 --json",
             tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 0);
    j = json_of(out);
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "world")), 3);
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq((int)rank_field(j, r, "rank"), r);
        ck_assert_int_eq((int)rank_field(j, r, "peak_bytes"), 4096);
    }
    cJSON_Delete(j);
    free(out);
}
END_TEST

START_TEST(test_cli_unknown_set_key_exits_2)
{
    char *out = NULL;
    char args[1024];
    snprintf(args, sizeof args, "run %s --set bogus=1", tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "bogus"));
    free(out);
}
END_TEST

/* True if name is an item of the "params you may set: a, b; from the model:
 * c, d and N more" list in an unknown --set key's message. */
static bool settable_list_has(const char *out, const char *name)
{
    const char *p = strstr(out, "params you may set: ");
    ck_assert_ptr_nonnull(p);
    p += strlen("params you may set: ");
    size_t n = strlen(name);
    while (*p != '\0' && *p != '\n') {
        p += strspn(p, " ");
        size_t len = strcspn(p, ",;:\n");
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p += len;
        if (*p != '\0' && *p != '\n')
            p++;
    }
    return false;
}

/* The output holds exactly one error line and it starts the output. */
static void expect_only_error(const char *out, const char *start)
{
    ck_assert_msg(strncmp(out, start, strlen(start)) == 0, "output does not start with '%s': %s",
                  start, out);
    const char *second = strstr(out + 1, "error:");
    ck_assert_msg(second == NULL, "a second error: %s", out);
}

/* Before the fix the model provider ran on the default model (synthetic:tiny,
 * 4 heads) before the typo was noticed, and the user read "num_attention_heads
 * 4 does not divide by tp 8". Every command that takes --set must name the
 * typo first, alone, and write nothing. */
START_TEST(test_cli_set_typo_is_the_first_and_only_error)
{
    const char *graph = tu_src("graphs/eagle3_target.yaml");
    const char *dir = tu_tmpdir();
    char trace[512], out_dir[512], args[2048];
    snprintf(trace, sizeof trace, "%s/t.json", dir);
    snprintf(out_dir, sizeof out_dir, "%s/out", dir);
    const char *const cmds[] = {"plan %s --set modle=synthetic:qwen3-8b --set batch=8 --world 8 "
                                "--trace %s",
                                "run %s --nproc 8 --set modle=synthetic:qwen3-8b --set batch=8 "
                                "--trace %s --out %s",
                                "run %s --set batch=8 --set modle=synthetic:qwen3-8b --trace %s "
                                "--out %s",
                                "check %s --set modle=synthetic:qwen3-8b --set batch=8"};
    for (int k = 0; k < 4; k++) {
        snprintf(args, sizeof args, cmds[k], graph, trace, out_dir);
        char *out = NULL;
        ck_assert_int_eq(tu_sf(args, &out), 2);
        expect_only_error(out, "error: --set modle: the graph has no param 'modle' "
                               "(did you mean 'model'?); params you may set: model, batch, seq");
        ck_assert_ptr_null(strstr(out, "num_attention_heads"));
        ck_assert_int_ne(access(trace, F_OK), 0);
        ck_assert_int_ne(access(out_dir, F_OK), 0);
        free(out);
    }
}
END_TEST

START_TEST(test_cli_set_unknown_key_lists_settable_params)
{
    char args[1024];
    char *out = NULL;
    /* Nothing is within an edit or two of "zzzzzz": no guess, only the list. */
    snprintf(args, sizeof args, "plan %s --set zzzzzz=1 --world 8",
             tu_src("graphs/eagle3_target.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 2);
    expect_only_error(out, "error: --set zzzzzz: the graph has no param 'zzzzzz'; params you may "
                           "set: model, batch, seq, redistribution, chunk_tokens, overlap, "
                           "target_dtype, mask_padding, tokens, seed; from the model: arch, hidden_size and 18 more\n");
    ck_assert_ptr_null(strstr(out, "did you mean"));
    /* rank and world are params, but only the runtime sets them. */
    ck_assert(!settable_list_has(out, "rank"));
    ck_assert(!settable_list_has(out, "world"));
    ck_assert(settable_list_has(out, "seed"));
    free(out);
    /* A key the model defines is close to a typo of it, too. */
    snprintf(args, sizeof args, "check %s --set hiden_size=64", tu_src("graphs/eagle3_target.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 2);
    expect_only_error(out, "error: --set hiden_size: the graph has no param 'hiden_size' (did you "
                           "mean 'hidden_size'?)");
    free(out);
    /* "wrld" is one edit from world, which a user may not set: no guess. */
    snprintf(args, sizeof args, "check %s --set wrld=2", tu_src("graphs/eagle3_target.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 2);
    expect_only_error(out, "error: --set wrld: the graph has no param 'wrld'; params you may set:");
    free(out);
}
END_TEST

START_TEST(test_cli_set_rank_or_world_is_refused)
{
    char args[1024];
    const char *const keys[] = {"rank=1", "world=2"};
    const char *const starts[] = {
        "error: --set rank: 'rank' is a builtin param: the runtime sets it from --nproc (run), "
        "--world (plan) or RANK and WORLD_SIZE; --set cannot change it",
        "error: --set world: 'world' is a builtin param: the runtime sets it from --nproc (run), "
        "--world (plan) or RANK and WORLD_SIZE; --set cannot change it"};
    for (int k = 0; k < 2; k++) {
        char *out = NULL;
        /* The typo after it is not reported: the first bad key wins. */
        snprintf(args, sizeof args, "plan %s --set %s --set modle=x --world 8",
                 tu_src("graphs/eagle3_target.yaml"), keys[k]);
        ck_assert_int_eq(tu_sf(args, &out), 2);
        expect_only_error(out, starts[k]);
        ck_assert_ptr_null(strstr(out, "num_attention_heads"));
        free(out);
    }
}
END_TEST

START_TEST(test_cli_ops_version_help)
{
    char *out = NULL;
    ck_assert_int_eq(tu_sf("ops", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "concat:"));
    ck_assert_ptr_nonnull(strstr(out, "matmul:"));
    free(out);
    ck_assert_int_eq(tu_sf("--version", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "ucx:"));
    free(out);
    const char *cmds[] = {"run --help", "plan --help", "check --help", "ops --help"};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(tu_sf(cmds[i], &out), 0);
        ck_assert_ptr_nonnull(strstr(out, "usage: shardflow"));
        free(out);
    }
    ck_assert_int_eq(tu_sf("frobnicate", &out), 2);
    free(out);
    ck_assert_int_eq(tu_sf("run --free sometimes x.yaml", &out), 2);
    free(out);
}
END_TEST

START_TEST(test_cli_profile_backend_timeout)
{
    char *out = NULL;
    char args[1024];
    /* --profile lists every node once, slowest first. */
    snprintf(args, sizeof args, "run %s --profile", tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "per-node wall time"));
    ck_assert_ptr_nonnull(strstr(out, "make_a"));
    ck_assert_ptr_nonnull(strstr(out, "make_c"));
    free(out);
    snprintf(args, sizeof args, "run %s --backend self --json", tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "run %s --backend carrier-pigeon", tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "carrier-pigeon"));
    free(out);
    snprintf(args, sizeof args, "run %s --timeout 0", tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 2);
    free(out);
    snprintf(args, sizeof args, "run %s --steps 2", tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--steps 2 needs --inputs"));
    free(out);
    snprintf(args, sizeof args, "run --nproc 0 %s", tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 2);
    free(out);
}
END_TEST

/* --mem-limit: chain.yaml peaks at 2048 bytes, at make_b, with a and b live.
 * Below that, run refuses before anything runs (exit 2, no --out, no trace)
 * and names the rank, peak, limit, node and buffers; at exactly the peak it
 * runs; plan says the same; a malformed or zero size is exit 2 naming the flag. */
START_TEST(test_cli_mem_limit_refuses_before_running)
{
    const char *dir = tu_tmpdir();
    const char *graph = tu_src("tests/graphs/chain.yaml");
    char args[2048], out_dir[512], trace[512];
    snprintf(out_dir, sizeof out_dir, "%s/out", dir);
    snprintf(trace, sizeof trace, "%s/t.json", dir);
    const char *const below[] = {"2047", "1K", "1KiB", "1kB"};
    for (int k = 0; k < 4; k++) {
        char *out = NULL;
        snprintf(args, sizeof args, "run %s --mem-limit %s --out %s --trace %s", graph, below[k],
                 out_dir, trace);
        int rc = tu_sf(args, &out);
        ck_assert_msg(rc == 2, "%s: status %d: %s", args, rc, out);
        ck_assert_msg(strstr(out, "rank 0: planned peak 2048 bytes") != NULL &&
                          strstr(out, "at node 'make_b'") != NULL &&
                          strstr(out, "over --mem-limit") != NULL,
                      "%s: %s", args, out);
        /* The buffers live at the peak, largest first, older first on a tie. */
        char *a = strstr(out, "\n    a "), *b = strstr(out, "\n    b ");
        ck_assert_msg(a != NULL && b != NULL && a < b && strstr(a, "[256]") != NULL &&
                          strstr(a, "f32") != NULL && strstr(a, "1024 bytes") != NULL,
                      "%s: %s", args, out);
        free(out);
        ck_assert_int_eq(tu_count_dir_entries(dir), 0);
    }
    snprintf(args, sizeof args, "plan %s --mem-limit 2047", graph);
    char *out = NULL;
    ck_assert_int_eq(tu_sf(args, &out), 2);
    ck_assert_msg(strstr(out, "at node 'make_b'") != NULL && strstr(out, "\n    b ") != NULL, "%s",
                  out);
    free(out);
    snprintf(args, sizeof args, "plan %s --mem-limit=2K", graph);
    ck_assert_int_eq(tu_sf(args, &out), 0);
    ck_assert_msg(strstr(out, "fits: peak 2048 bytes") != NULL, "%s", out);
    free(out);

    /* Exactly the peak: runs and writes. */
    snprintf(args, sizeof args, "run %s --mem-limit 2048 --out %s", graph, out_dir);
    ck_assert_int_eq(tu_sf(args, &out), 0);
    free(out);
    char rank0[600];
    snprintf(rank0, sizeof rank0, "%s/rank0.safetensors", out_dir);
    ck_assert_int_eq(access(rank0, F_OK), 0);

    const char *const bad[] = {"0", "0G", "x", "1.5G", "-1", "1iB", "12Q", "", "99999999999T"};
    for (int k = 0; k < 9; k++) {
        for (int c = 0; c < 2; c++) {
            snprintf(args, sizeof args, "%s %s --mem-limit '%s'", c == 0 ? "run" : "plan", graph,
                     bad[k]);
            int rc = tu_sf(args, &out);
            ck_assert_msg(rc == 2 && strstr(out, "--mem-limit") != NULL &&
                              (strstr(out, "expects a size") != NULL ||
                               strstr(out, "more than 0") != NULL),
                          "%s: status %d: %s", args, rc, out);
            free(out);
        }
    }
}
END_TEST

/* tests/graphs/steps.yaml: x [16,64] f32; a file of 2 batches is [32,64]. */
static void write_steps_inputs(const char *path)
{
    static float x[32 * 64];
    for (int i = 0; i < 32 * 64; i++)
        x[i] = (float)(i % 7) - 3.0f;
    sf_buffer_t b = {.data = x};
    sf_tensor_t t = sf_tensor_make(SF_DTYPE_F32, 2, (int64_t[]){32, 64});
    t.buf = &b;
    sf_st_entry_t e = {.name = "x", .tensor = &t};
    sf_err_t err = {0};
    ck_assert_int_eq(sf_st_write(path, &e, 1, false, &err), SF_OK);
}

START_TEST(test_cli_steps_peak_of_step_two)
{
    /* steps.yaml: step 0 peaks at 9216 bytes, step 1 at 10240 (the weight w
     * is live from its start; see the graph's header). plan --steps 2 says
     * both and reports the higher; run --steps 2 measures it (--json); a
     * --mem-limit of 9216 fits one step and refuses two, exit 2 before
     * anything runs, nothing written. */
    const char *dir = tu_tmpdir();
    const char *g = tu_src("tests/graphs/steps.yaml");
    char in[512], args[2048], out_dir[600];
    snprintf(in, sizeof in, "%s/in.safetensors", dir);
    snprintf(out_dir, sizeof out_dir, "%s/o", dir);
    write_steps_inputs(in);
    char *out = NULL;
    snprintf(args, sizeof args, "plan %s --steps 2 --json", g);
    ck_assert_int_eq(tu_sf(args, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "rank 0: step 0 peak 9216 bytes at mm1; step 1 peak 10240 bytes at mm1"));
    cJSON *j = json_of(out);
    ck_assert_double_eq(rank_field(j, 0, "peak_bytes"), 10240);
    cJSON_Delete(j);
    free(out);
    snprintf(args, sizeof args, "run %s --inputs %s --steps 2 --json", g, in);
    ck_assert_int_eq(tu_sf(args, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "step 0 (1 of 2): peak 9216 bytes ("));
    ck_assert_ptr_nonnull(strstr(out, "step 1 (2 of 2): peak 10240 bytes ("));
    j = json_of(out);
    ck_assert_double_eq(rank_field(j, 0, "peak_bytes"), 10240);
    cJSON_Delete(j);
    free(out);
    snprintf(args, sizeof args, "run %s --inputs %s --mem-limit 9216 --out %s", g, in, out_dir);
    ck_assert_int_eq(tu_sf(args, &out), 0); /* the file holds 2 batches: one step fits */
    free(out);
    snprintf(args, sizeof args, "run %s --inputs %s --steps 2 --mem-limit 9216 --out %s/two", g,
             in, dir);
    ck_assert_int_eq(tu_sf(args, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "planned peak 10240 bytes (10.00 KiB) at node 'mm1'"));
    free(out);
    snprintf(args, sizeof args, "%s/two", dir);
    ck_assert_int_ne(access(args, F_OK), 0);
    snprintf(args, sizeof args, "plan %s --steps x", g);
    ck_assert_int_eq(tu_sf(args, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--steps expects 1..1000000, got 'x'"));
    free(out);
    snprintf(args, sizeof args, "run %s --inputs %s --steps 3", g, in);
    ck_assert_int_eq(tu_sf(args, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "holds 2 batches"));
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_options");
    TCase *tc = tcase_create("cli_options");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cli_run_json_reports_peak);
    tcase_add_test(tc, test_cli_free_end_and_set);
    tcase_add_test(tc, test_cli_plan_json_bytes_exact_to_2_53);
    tcase_add_test(tc, test_cli_unknown_set_key_exits_2);
    tcase_add_test(tc, test_cli_set_typo_is_the_first_and_only_error);
    tcase_add_test(tc, test_cli_set_unknown_key_lists_settable_params);
    tcase_add_test(tc, test_cli_set_rank_or_world_is_refused);
    tcase_add_test(tc, test_cli_ops_version_help);
    tcase_add_test(tc, test_cli_profile_backend_timeout);
    tcase_add_test(tc, test_cli_mem_limit_refuses_before_running);
    tcase_add_test(tc, test_cli_steps_peak_of_step_two);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
