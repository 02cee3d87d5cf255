/* The files the shardflow command reads and writes: --out (refusing an
 * existing file, no folder left by a failed run), --inputs, --trace (Chrome
 * JSON); bad input writes nothing; special files, planted symlinks, FIFOs,
 * bad paths and overflowing sizes are refused with exit 2, named. */
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
int main(void)
{
    Suite *s = suite_create("cli_files");
    TCase *tc = tcase_create("cli_files");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cli_bad_graph_writes_nothing);
    tcase_add_test(tc, test_cli_out_refuses_existing_file);
    tcase_add_test(tc, test_cli_inputs_round_trip);
    tcase_add_test(tc, test_cli_trace_is_chrome_json);
    tcase_add_test(tc, test_cli_outputs_refuse_special_files);
    tcase_add_test(tc, test_cli_planted_symlinks_not_followed);
    tcase_add_test(tc, test_cli_failed_run_leaves_no_out_folder);
    tcase_add_test(tc, test_cli_overflowing_shape_is_refused);
    tcase_add_test(tc, test_cli_fifo_inputs_are_refused);
    tcase_add_test(tc, test_cli_bad_paths_and_sizes_exit_2);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
