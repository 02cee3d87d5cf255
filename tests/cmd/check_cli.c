/* The shardflow command end to end: exit codes, --json, --set, --out,
 * --inputs, --trace, and that bad input writes nothing. */
#include <check.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

START_TEST(test_cli_bad_graph_writes_nothing)
{
    const char *dir = tu_tmpdir();
    char path[512], args[2048], trace[512], outfile[512];
    snprintf(path, sizeof path, "%s/bad.yaml", dir);
    ck_assert_int_eq(tu_write_file(path, "name: bad\nnodes:\n  - {name: x, op: no_such_op, out: [y]}\n"
                                         "outputs: [y]\n"), 0);
    snprintf(trace, sizeof trace, "%s/t.json", dir);
    snprintf(args, sizeof args, "run %s --out %s --trace %s", path, dir, trace);
    char *out = NULL;
    ck_assert_int_eq(tu_sf(args, &out), 2);
    /* file:line:col of the op's value */
    ck_assert_ptr_nonnull(strstr(out, "bad.yaml:3:"));
    ck_assert_ptr_nonnull(strstr(out, "no_such_op"));
    snprintf(outfile, sizeof outfile, "%s/rank0.safetensors", dir);
    ck_assert_int_ne(access(outfile, F_OK), 0);
    ck_assert_int_ne(access(trace, F_OK), 0);
    free(out);
    snprintf(args, sizeof args, "check %s", path);
    ck_assert_int_eq(tu_sf(args, &out), 2);
    free(out);
}
END_TEST

START_TEST(test_cli_out_refuses_existing_file)
{
    const char *dir = tu_tmpdir();
    char args[2048];
    snprintf(args, sizeof args, "run %s --out %s", tu_src("tests/graphs/chain.yaml"), dir);
    char *out = NULL;
    ck_assert_int_eq(tu_sf(args, &out), 0);
    free(out);
    ck_assert_int_eq(tu_sf(args, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--overwrite"));
    free(out);
    snprintf(args, sizeof args, "run %s --out %s --overwrite", tu_src("tests/graphs/chain.yaml"), dir);
    ck_assert_int_eq(tu_sf(args, &out), 0);
    free(out);
    char file[512];
    snprintf(file, sizeof file, "%s/rank0.safetensors", dir);
    sf_st_file_t *f = NULL;
    sf_err_t err = {0};
    ck_assert_int_eq(sf_st_open(file, &f, &err), SF_OK);
    ck_assert_int_eq(sf_st_count(f), 1);
    sf_tensor_t t;
    const void *data;
    sf_st_get(f, sf_st_find(f, "c"), &t, &data);
    ck_assert_int_eq(t.shape[0], 256);
    ck_assert_float_eq(((const float *)data)[255], 5.0625f);
    sf_st_close(f);
}
END_TEST

START_TEST(test_cli_inputs_round_trip)
{
    /* y = x*x + x for x = [[1,2,3],[-1,0,0.5]] -> [[2,6,12],[0,0,0.75]]. */
    const char *dir = tu_tmpdir();
    float x[6] = {1, 2, 3, -1, 0, 0.5f};
    sf_buffer_t b = {.data = x};
    sf_tensor_t t = sf_tensor_make(SF_DTYPE_F32, 2, (int64_t[]){2, 3});
    t.buf = &b;
    sf_st_entry_t e = {.name = "x", .tensor = &t};
    char in[512], args[2048], file[512];
    snprintf(in, sizeof in, "%s/in.safetensors", dir);
    sf_err_t err = {0};
    ck_assert_int_eq(sf_st_write(in, &e, 1, false, &err), SF_OK);
    snprintf(args, sizeof args, "run %s --inputs %s --out %s",
             tu_src("tests/graphs/inputs_io.yaml"), in, dir);
    char *out = NULL;
    ck_assert_int_eq(tu_sf(args, &out), 0);
    free(out);
    snprintf(file, sizeof file, "%s/rank0.safetensors", dir);
    sf_st_file_t *f = NULL;
    ck_assert_int_eq(sf_st_open(file, &f, &err), SF_OK);
    const void *data;
    sf_st_get(f, sf_st_find(f, "y"), &t, &data);
    const float want[6] = {2, 6, 12, 0, 0, 0.75f};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(((const float *)data)[i], want[i]);
    sf_st_close(f);
    /* Without --inputs the run names the missing input. */
    snprintf(args, sizeof args, "run %s", tu_src("tests/graphs/inputs_io.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "'x'"));
    free(out);
}
END_TEST

/* ---- outputs never replace special files or follow planted links -------- */

static bool is_kind(const char *path, mode_t kind)
{
    struct stat sb;
    return lstat(path, &sb) == 0 && (sb.st_mode & S_IFMT) == kind;
}

/* A FIFO and (as root) a private copy of /dev/null given as --trace, --out's
 * file or memviz -o stay what they were; the command exits 2 naming them. */
START_TEST(test_cli_outputs_refuse_special_files)
{
    const char *dir = tu_tmpdir();
    const char *graph = tu_src("tests/graphs/chain.yaml");
    char fifo[512], null[512], good[512], args[2048];
    snprintf(fifo, sizeof fifo, "%s/t.json", dir);
    snprintf(null, sizeof null, "%s/null", dir);
    snprintf(good, sizeof good, "%s/good.json", dir);
    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
    bool have_null = mknod(null, S_IFCHR | 0666, makedev(1, 3)) == 0;
    const char *targets[] = {fifo, null};
    for (int k = 0; k < (have_null ? 2 : 1); k++) {
        mode_t kind = k == 0 ? S_IFIFO : S_IFCHR;
        char *out = NULL;
        snprintf(args, sizeof args, "run %s --trace %s", graph, targets[k]);
        ck_assert_int_eq(tu_sf(args, &out), 2);
        ck_assert_msg(strstr(out, targets[k]) != NULL && strstr(out, "not a regular file") != NULL,
                      "%s", out);
        ck_assert(is_kind(targets[k], kind));
        free(out);
        snprintf(args, sizeof args, "run %s --nproc 2 --trace %s", graph, targets[k]);
        ck_assert_int_eq(tu_sf(args, &out), 2);
        ck_assert_msg(strstr(out, targets[k]) != NULL, "%s", out);
        ck_assert(is_kind(targets[k], kind));
        free(out);
    }
    /* memviz's -o and --merge's -o */
    snprintf(args, sizeof args, "run %s --trace %s", graph, good);
    ck_assert_int_eq(tu_sf(args, NULL), 0);
    char fifo_html[512];
    snprintf(fifo_html, sizeof fifo_html, "%s/p.html", dir);
    ck_assert_int_eq(mkfifo(fifo_html, 0644), 0);
    char *out = NULL;
    snprintf(args, sizeof args, "memviz %s -o %s", good, fifo_html);
    ck_assert_int_eq(tu_sf(args, &out), 2);
    ck_assert_msg(strstr(out, fifo_html) != NULL, "%s", out);
    ck_assert(is_kind(fifo_html, S_IFIFO));
    free(out);
    snprintf(args, sizeof args, "memviz --merge %s %s -o %s", good, good, fifo);
    ck_assert_int_eq(tu_sf(args, &out), 2);
    ck_assert(is_kind(fifo, S_IFIFO));
    free(out);
    /* Only what we put there: no temporary left behind. */
    ck_assert_int_eq(tu_count_dir_entries(dir), have_null ? 4 : 3);
}
END_TEST

/* As root the old writer renamed its temporary over /dev/null itself. The
 * test puts a character device back if that happens, then fails. */
/* Symlinks planted at every name the old writers could pick for the next
 * pids ("<path>.tmp.<pid>") leave their target alone. */
START_TEST(test_cli_planted_symlinks_not_followed)
{
    const char *dir = tu_tmpdir();
    char victim[512], trace[512], out_dir[512], rank0[600], args[2048];
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(trace, sizeof trace, "%s/t.json", dir);
    snprintf(out_dir, sizeof out_dir, "%s/out", dir);
    snprintf(rank0, sizeof rank0, "%s/rank0.safetensors", out_dir);
    ck_assert_int_eq(tu_write_file(victim, "precious"), 0);
    ck_assert_int_eq(mkdir(out_dir, 0755), 0);
    FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "r");
    long first = 0;
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%ld", &first), 1);
    fclose(f);
    first++;
    for (long pid = first; pid < first + 3000; pid++) {
        char link[700];
        snprintf(link, sizeof link, "%s.tmp.%ld", trace, pid);
        ck_assert_int_eq(symlink(victim, link), 0);
        snprintf(link, sizeof link, "%s.tmp.%ld", rank0, pid);
        ck_assert_int_eq(symlink(victim, link), 0);
    }
    snprintf(args, sizeof args, "run %s --trace %s --out %s", tu_src("tests/graphs/chain.yaml"),
             trace, out_dir);
    char *out = NULL;
    ck_assert_int_eq(tu_sf(args, &out), 0);
    free(out);
    char *text = tu_read_file(victim, NULL);
    ck_assert_str_eq(text, "precious");
    free(text);
    ck_assert(is_kind(trace, S_IFREG));
    ck_assert(is_kind(rank0, S_IFREG));
}
END_TEST

/* A run refused or failed after --out was checked leaves no folder behind;
 * a folder that existed before is left alone. */
START_TEST(test_cli_failed_run_leaves_no_out_folder)
{
    const char *dir = tu_tmpdir();
    const char *graph = tu_src("tests/graphs/chain.yaml");
    char fifo[512], out_dir[512], pre[512], args[2048];
    snprintf(fifo, sizeof fifo, "%s/t.json", dir);
    snprintf(out_dir, sizeof out_dir, "%s/out/deeper", dir);
    snprintf(pre, sizeof pre, "%s/pre", dir);
    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
    ck_assert_int_eq(mkdir(pre, 0755), 0);
    const char *const cmds[] = {"run %s --out %s --trace %s", "run %s --nproc 2 --out %s --trace %s"};
    for (int k = 0; k < 2; k++) {
        char *out = NULL;
        snprintf(args, sizeof args, cmds[k], graph, out_dir, fifo);
        int rc = tu_sf(args, &out);
        ck_assert_msg(rc == 2, "%s: status %d: %s", args, rc, out);
        free(out);
        ck_assert_msg(tu_count_dir_entries(dir) == 2, "%s left %d entries in %s", args,
                      tu_count_dir_entries(dir), dir); /* the FIFO and pre/ */
        snprintf(args, sizeof args, cmds[k], graph, pre, fifo);
        ck_assert_int_eq(tu_sf(args, NULL), 2);
        struct stat sb;
        ck_assert_int_eq(stat(pre, &sb), 0); /* not ours to remove */
        ck_assert_int_eq(tu_count_dir_entries(pre), 0);
    }
    /* A run that writes makes the folders. */
    snprintf(args, sizeof args, "run %s --out %s", graph, out_dir);
    ck_assert_int_eq(tu_sf(args, NULL), 0);
    char rank0[600];
    snprintf(rank0, sizeof rank0, "%s/rank0.safetensors", out_dir);
    ck_assert_int_eq(access(rank0, F_OK), 0);
}
END_TEST

START_TEST(test_cli_trace_is_chrome_json)
{
    const char *dir = tu_tmpdir();
    char trace[512], args[2048];
    snprintf(trace, sizeof trace, "%s/chain.json", dir);
    snprintf(args, sizeof args, "run %s --trace %s", tu_src("tests/graphs/chain.yaml"), trace);
    char *out = NULL;
    ck_assert_int_eq(tu_sf(args, &out), 0);
    free(out);
    char *text = tu_read_file(trace, NULL);
    ck_assert_ptr_nonnull(text);
    cJSON *j = cJSON_Parse(text);
    ck_assert_ptr_nonnull(j);
    cJSON *ev = cJSON_GetObjectItem(j, "traceEvents");
    int spans = 0, begins = 0, ends = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, ev)
    {
        const char *ph = cJSON_GetStringValue(cJSON_GetObjectItem(e, "ph"));
        if (strcmp(ph, "X") == 0)
            spans++;
        else if (strcmp(ph, "b") == 0)
            begins++;
        else if (strcmp(ph, "e") == 0)
            ends++;
    }
    /* 3 nodes; 3 buffers, each begun and ended (c at the end). */
    ck_assert_int_eq(spans, 3);
    ck_assert_int_eq(begins, 3);
    ck_assert_int_eq(ends, 3);
    cJSON_Delete(j);
    free(text);
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

/* Issue 10, case 1: one --set that makes a tensor's byte size wrap used to
 * crash run (heap overflow, SIGSEGV) and assert in plan; check accepted it. */
START_TEST(test_cli_overflowing_shape_is_refused)
{
    static const struct {
        const char *cmd, *graph, *sets, *tensor;
    } cases[] = {
        {"run", "graphs/examples/cast_chain.yaml", "--set n=2305843009213693953", "'pos'"},
        {"run", "graphs/examples/mlp.yaml",
         "--set dtype=f32 --set tokens=2305843009213693953 --set hidden=2", "'x'"},
        {"plan", "graphs/examples/mlp.yaml", "--set tokens=36028797018963968", "'x'"},
        {"check", "graphs/examples/cast_chain.yaml", "--set n=2305843009213693953", "'pos'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *dir = tu_tmpdir();
        char args[2048];
        int n = snprintf(args, sizeof args, "%s %s %s", cases[i].cmd, tu_src(cases[i].graph),
                         cases[i].sets);
        if (strcmp(cases[i].cmd, "check") != 0)
            n += snprintf(args + n, sizeof args - (size_t)n, " --trace %s/t.json", dir);
        if (strcmp(cases[i].cmd, "run") == 0)
            snprintf(args + n, sizeof args - (size_t)n, " --out %s", dir);
        char *out = NULL;
        ck_assert_msg(tu_sf(args, &out) == 2, "%s: %s", args, out);
        ck_assert_msg(strstr(out, cases[i].tensor) != NULL, "%s", out);
        ck_assert_msg(strstr(out, "limit of 2^62 bytes") != NULL, "%s", out);
        ck_assert_int_eq(tu_count_dir_entries(dir), 0);
        free(out);
    }
}
END_TEST

/* shardflow under `timeout`, so a command that blocks fails the test in
 * seconds instead of hanging it (exit 124). */
static int sf_timed(const char *args, char **out)
{
    char cmd[8192 + 4200];
    snprintf(cmd, sizeof cmd, "timeout 20 %s %s", tu_shardflow(), args);
    return tu_run(cmd, out);
}

/* Runs args, expecting exit 2, each fragment in the message, and nothing
 * written under out_dir (may be NULL). */
static void expect_refused(const char *args, const char *frag, const char *frag2,
                           const char *out_dir)
{
    char *out = NULL;
    int rc = sf_timed(args, &out);
    ck_assert_msg(rc == 2, "%s: exit %d: %s", args, rc, out);
    ck_assert_msg(strstr(out, frag) != NULL, "%s: '%s' lacks '%s'", args, out, frag);
    if (frag2 != NULL)
        ck_assert_msg(strstr(out, frag2) != NULL, "%s: '%s' lacks '%s'", args, out, frag2);
    if (out_dir != NULL && access(out_dir, F_OK) == 0)
        ck_assert_int_eq(tu_count_dir_entries(out_dir), 0);
    free(out);
}

/* A synthetic:tiny checkpoint in two shards, for the file cases below. */
static const char *tiny_checkpoint(void)
{
    static char dir[4200];
    snprintf(dir, sizeof dir, "%s/ck", tu_tmpdir());
    char args[8192];
    snprintf(args, sizeof args, "export-model synthetic:tiny %s --shards 2 --graph-dir %s", dir,
             tu_src("graphs"));
    char *out = NULL;
    ck_assert_msg(sf_timed(args, &out) == 0, "%s: %s", args, out);
    free(out);
    return dir;
}

/* Issue 10, case 4: a FIFO as any file we read used to block forever. */
START_TEST(test_cli_fifo_inputs_are_refused)
{
    const char *dir = tu_tmpdir();
    char fifo[512], outd[512], args[8192], path[4400], moved[4400];
    snprintf(fifo, sizeof fifo, "%s/f", dir);
    snprintf(outd, sizeof outd, "%s/out", dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    const char *is_fifo = "is not a regular file (a FIFO)";
    snprintf(args, sizeof args, "check %s", fifo);
    expect_refused(args, is_fifo, fifo, NULL);
    snprintf(args, sizeof args, "run %s --inputs %s --out %s", tu_src("tests/graphs/inputs_io.yaml"),
             fifo, outd);
    expect_refused(args, is_fifo, fifo, outd);
    snprintf(args, sizeof args, "memviz --summary %s", fifo);
    expect_refused(args, is_fifo, fifo, NULL);
    /* config.json, the index and a shard of a checkpoint */
    const char *ck = tiny_checkpoint();
    const char *names[] = {"config.json", "model.safetensors.index.json",
                           "model-00001-of-00002.safetensors"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", ck, names[i]);
        snprintf(moved, sizeof moved, "%s/moved", dir);
        ck_assert_int_eq(rename(path, moved), 0);
        ck_assert_int_eq(mkfifo(path, 0600), 0);
        snprintf(args, sizeof args, "run %s --set model=%s --out %s",
                 tu_src("graphs/eagle3_target.yaml"), ck, outd);
        expect_refused(args, is_fifo, names[i], outd);
        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(rename(moved, path), 0);
    }
}
END_TEST

/* Issue 10, case 7: bad paths and sizes used to exit 1 (a missing
 * --inputs file, a missing or looping shard, hidden_size 10^12, a --trace
 * in a folder that does not exist) or to fail only after the whole
 * computation (an --out folder we cannot write). All are exit 2, named. */
START_TEST(test_cli_bad_paths_and_sizes_exit_2)
{
    const char *dir = tu_tmpdir();
    char outd[512], args[8192], path[4400], moved[4400];
    snprintf(outd, sizeof outd, "%s/out", dir);
    snprintf(path, sizeof path, "%s/nope.safetensors", dir);
    snprintf(args, sizeof args, "run %s --inputs %s --out %s", tu_src("tests/graphs/inputs_io.yaml"),
             path, outd);
    expect_refused(args, "No such file or directory", path, outd);
    /* a missing shard, then one that is a symlink loop */
    const char *ck = tiny_checkpoint();
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", ck);
    snprintf(moved, sizeof moved, "%s/moved", dir);
    ck_assert_int_eq(rename(path, moved), 0);
    snprintf(args, sizeof args, "run %s --set model=%s --out %s",
             tu_src("graphs/eagle3_target.yaml"), ck, outd);
    expect_refused(args, "No such file or directory", path, outd);
    ck_assert_int_eq(symlink("model-00002-of-00002.safetensors", path), 0);
    expect_refused(args, "Too many levels of symbolic links", path, outd);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rename(moved, path), 0);
    /* absurd config sizes */
    snprintf(path, sizeof path, "%s/config.json", ck);
    char *cfg = tu_read_file(path, NULL);
    ck_assert_ptr_nonnull(cfg);
    char *h = strstr(cfg, "\"hidden_size\"");
    ck_assert_ptr_nonnull(h);
    char *num = h + strlen("\"hidden_size\"");
    while (*num == ':' || *num == ' ' || *num == '\t')
        num++;
    char *end = num;
    while (*end >= '0' && *end <= '9')
        end++;
    char edited[65536];
    snprintf(edited, sizeof edited, "%.*s1000000000000%s", (int)(num - cfg), cfg, end);
    ck_assert_int_eq(tu_write_file(path, edited), 0);
    expect_refused(args, "hidden_size is 1000000000000, more than the limit", ck, outd);
    ck_assert_int_eq(tu_write_file(path, cfg), 0);
    free(cfg);
    /* an --out folder we cannot write: a read-only folder, or as root (who
     * may write anywhere chmod says not to) sysfs, where creating fails */
    char ro[512];
    snprintf(ro, sizeof ro, "%s/ro", dir);
    ck_assert_int_eq(mkdir(ro, 0555), 0);
    const char *target = ro;
    char probe[600];
    snprintf(probe, sizeof probe, "%s/p", ro);
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
        close(fd);
        unlink(probe);
        target = "/sys/kernel";
    }
    snprintf(args, sizeof args, "run %s --out %s", tu_src("tests/graphs/chain.yaml"), target);
    expect_refused(args, "cannot write into the folder", target, NULL);
    snprintf(path, sizeof path, "%s/rank0.safetensors", target);
    ck_assert_int_ne(access(path, F_OK), 0);
    /* a --trace in a folder that does not exist */
    snprintf(path, sizeof path, "%s/no/such/dir/t.json", dir);
    snprintf(args, sizeof args, "run %s --trace %s", tu_src("tests/graphs/chain.yaml"), path);
    expect_refused(args, path, "No such file or directory", NULL);
    snprintf(args, sizeof args, "plan %s --trace %s", tu_src("tests/graphs/chain.yaml"), path);
    expect_refused(args, "No such file or directory", path, NULL);
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
    /* steps.yaml: step 1 peaks at 9216 bytes, step 2 at 10240 (the weight w
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
    ck_assert_ptr_nonnull(strstr(out, "rank 0: step 1 peak 9216 bytes at mm1; steps 2-2 peak 10240 bytes at mm1"));
    cJSON *j = json_of(out);
    ck_assert_double_eq(rank_field(j, 0, "peak_bytes"), 10240);
    cJSON_Delete(j);
    free(out);
    snprintf(args, sizeof args, "run %s --inputs %s --steps 2 --json", g, in);
    ck_assert_int_eq(tu_sf(args, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "step 1/2: peak 9216 bytes at mm1"));
    ck_assert_ptr_nonnull(strstr(out, "step 2/2: peak 10240 bytes at mm1"));
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
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cli_run_json_reports_peak);
    tcase_add_test(tc, test_cli_free_end_and_set);
    tcase_add_test(tc, test_cli_plan_json_bytes_exact_to_2_53);
    tcase_add_test(tc, test_cli_unknown_set_key_exits_2);
    tcase_add_test(tc, test_cli_set_typo_is_the_first_and_only_error);
    tcase_add_test(tc, test_cli_set_unknown_key_lists_settable_params);
    tcase_add_test(tc, test_cli_set_rank_or_world_is_refused);
    tcase_add_test(tc, test_cli_bad_graph_writes_nothing);
    tcase_add_test(tc, test_cli_out_refuses_existing_file);
    tcase_add_test(tc, test_cli_inputs_round_trip);
    tcase_add_test(tc, test_cli_trace_is_chrome_json);
    tcase_add_test(tc, test_cli_outputs_refuse_special_files);
    tcase_add_test(tc, test_cli_planted_symlinks_not_followed);
    tcase_add_test(tc, test_cli_failed_run_leaves_no_out_folder);
    tcase_add_test(tc, test_cli_ops_version_help);
    tcase_add_test(tc, test_cli_profile_backend_timeout);
    tcase_add_test(tc, test_cli_overflowing_shape_is_refused);
    tcase_add_test(tc, test_cli_fifo_inputs_are_refused);
    tcase_add_test(tc, test_cli_bad_paths_and_sizes_exit_2);
    tcase_add_test(tc, test_cli_mem_limit_refuses_before_running);
    tcase_add_test(tc, test_cli_steps_peak_of_step_two);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
