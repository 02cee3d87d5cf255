/* `shardflow memviz --summary` and what it reads: the summary's peak and
 * peak node equal the runtime's for every test graph; hand-made traces give
 * exact figures, byte counts exact up to 2^53; malformed and truncated traces
 * exit 2 with a located message and write nothing; the merged trace is valid
 * JSON with one pid group per run; bad flags exit 2. */
#include <check.h>
#include <dirent.h>
#include <glob.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "memviz_harness.h"
#include "test_util.h"

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Compare the runtime's per-rank peak with memviz --summary of its trace. */
static void check_peaks_match(const char *runtime_json, const char *trace, const char *what)
{
    char *out = NULL;
    int rc = mv_sf(&out, "memviz --summary --json '%s'", trace);
    ck_assert_msg(rc == 0, "%s: memviz --summary failed (%d):\n%s", what, rc, out);
    cJSON *mine = mv_parse_json_out(out);
    cJSON *theirs = mv_parse_json_out(runtime_json);
    const cJSON *tr = cJSON_GetObjectItem(theirs, "ranks");
    const cJSON *mr = cJSON_GetObjectItem(mine, "ranks");
    ck_assert_int_eq(cJSON_GetArraySize(tr), cJSON_GetArraySize(mr));
    for (int i = 0; i < cJSON_GetArraySize(tr); i++) {
        const cJSON *t = cJSON_GetArrayItem(tr, i), *m = cJSON_GetArrayItem(mr, i);
        ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(t, "rank")),
                         (int)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "rank")));
        double tp = cJSON_GetNumberValue(cJSON_GetObjectItem(t, "peak_bytes"));
        double mp = cJSON_GetNumberValue(cJSON_GetObjectItem(m, "peak_bytes"));
        ck_assert_msg(tp == mp, "%s rank %d: runtime peak %.0f, memviz %.0f", what, i, tp, mp);
        const char *tn = cJSON_GetStringValue(cJSON_GetObjectItem(t, "peak_node"));
        const char *mn = cJSON_GetStringValue(cJSON_GetObjectItem(m, "peak_node"));
        ck_assert_msg(tn != NULL && mn != NULL && strcmp(tn, mn) == 0,
                      "%s rank %d: runtime peak node '%s', memviz '%s'", what, i, tn, mn);
        ck_assert_msg(tp > 0, "%s: a graph with no allocation cannot test the peak", what);
        /* end_bytes: what the graph keeps after its last node (its outputs
         * and weights), which the trace shows freed by "<end>". */
        double te = cJSON_GetNumberValue(cJSON_GetObjectItem(t, "end_bytes"));
        double me = cJSON_GetNumberValue(cJSON_GetObjectItem(m, "end_bytes"));
        ck_assert_msg(te == me, "%s rank %d: runtime end_bytes %.0f, memviz %.0f", what, i, te,
                      me);
    }
    cJSON_Delete(mine);
    cJSON_Delete(theirs);
    free(out);
}

static void check_graph(const char *graph, const char *extra, bool try_run)
{
    const char *dir = tu_tmpdir();
    const char *trace = mv_path_in(dir, "t.json");
    char what[4600];
    char *out = NULL;
    /* plan: the meta device, every graph loads without inputs */
    int rc = mv_sf(&out, "plan '%s' %s --json --trace '%s'", graph, extra, trace);
    ck_assert_msg(rc == 0, "plan %s failed:\n%s", graph, out);
    snprintf(what, sizeof what, "plan %s %s", graph, extra);
    check_peaks_match(out, trace, what);
    free(out);
    if (!try_run)
        return;
    out = NULL;
    rc = mv_sf(&out, "run '%s' %s --json --trace '%s'", graph, extra, trace);
    if (rc == 2 && strstr(out, "was not given") != NULL) { /* needs --inputs: plan covered it */
        free(out);
        return;
    }
    ck_assert_msg(rc == 0, "run %s failed:\n%s", graph, out);
    snprintf(what, sizeof what, "run %s %s", graph, extra);
    check_peaks_match(out, trace, what);
    free(out);
}

START_TEST(test_memviz_summary_peak_equals_runtime_for_every_graph)
{
    const char *patterns[] = {"tests/graphs/*.yaml", "graphs/examples/*.yaml"};
    int n = 0;
    for (int p = 0; p < 2; p++) {
        glob_t g;
        ck_assert_int_eq(glob(tu_src(patterns[p]), 0, NULL, &g), 0);
        for (size_t i = 0; i < g.gl_pathc; i++, n++) {
            check_graph(g.gl_pathv[i], "", true);
            check_graph(g.gl_pathv[i], "--free end", false);
        }
        globfree(&g);
    }
    ck_assert_int_ge(n, 10);
}
END_TEST

START_TEST(test_memviz_summary_peak_equals_runtime_eagle3_two_ranks)
{
    const char *graph = tu_src("graphs/eagle3_target.yaml");
    const char *modes[] = {"all_gather", "all_to_all"};
    for (int m = 0; m < 2; m++) {
        const char *dir = tu_tmpdir();
        const char *trace = mv_path_in(dir, "t.json");
        char *out = NULL;
        int rc = mv_sf(&out, "run --nproc 2 '%s' --set redistribution=%s --json --trace '%s'",
                       graph, modes[m], trace);
        ck_assert_msg(rc == 0, "eagle3 %s failed:\n%s", modes[m], out);
        check_peaks_match(out, trace, modes[m]);
        free(out);
        out = NULL;
        rc = mv_sf(&out, "plan '%s' --world 2 --set redistribution=%s --json --trace '%s'", graph,
                   modes[m], trace);
        ck_assert_msg(rc == 0, "eagle3 plan %s failed:\n%s", modes[m], out);
        check_peaks_match(out, trace, modes[m]);
        free(out);
    }
}
END_TEST

START_TEST(test_memviz_summary_hand_trace_exact)
{
    const char *dir = tu_tmpdir();
    const char *trace = mv_path_in(dir, "hand.json");
    ck_assert_int_eq(tu_write_file(trace, MV_HAND_TRACE), 0);
    char *out = NULL;
    ck_assert_int_eq(mv_sf(&out, "memviz --summary --json '%s'", trace), 0);
    cJSON *j = mv_parse_json_out(out);
    const cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "ranks"), 0);
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "rank")), 3);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(r, "label")), "r3");
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "peak_bytes")), 400);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(r, "peak_node")), "n_d");
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "peak_event")), 5);
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "buffers")), 5);
    /* bytes moved: 100 + 200 + 150 + 250 + 150 */
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "bytes_allocated")), 850);
    /* live at the peak, largest first: d (250), c (150) */
    const cJSON *live = cJSON_GetObjectItem(r, "live_at_peak");
    ck_assert_int_eq(cJSON_GetArraySize(live), 2);
    const cJSON *d = cJSON_GetArrayItem(live, 0), *c = cJSON_GetArrayItem(live, 1);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(d, "tensor")), "d");
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(d, "free_node"))); /* never freed */
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "never_freed")), 1);
    /* d (250) is never freed and e (150) is released by "<end>", after the
     * last node: both count, as run and plan count end_bytes. */
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "end_bytes")), 400);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(c, "tensor")), "c");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(c, "shape")), "[3,50]");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(c, "dtype")), "u8");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(c, "alloc_node")), "n_c");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(c, "free_node")), "n_e");
    cJSON_Delete(j);
    free(out);
    /* the text form says the same */
    ck_assert_int_eq(mv_sf(&out, "memviz --summary '%s'", trace), 0);
    ck_assert_msg(strstr(out, "400 bytes") != NULL && strstr(out, "during node 'n_d'") != NULL,
                  "%s", out);
    free(out);
}
END_TEST

START_TEST(test_memviz_summary_one_rank)
{
    /* Two ranks planned; --rank 1 keeps rank 1 alone (its peak equals the
     * plan's), --rank 2 names the ranks there are, --merge refuses it. */
    const char *dir = tu_tmpdir();
    const char *trace = mv_path_in(dir, "two.json");
    char *out = NULL;
    ck_assert_int_eq(mv_sf(&out, "plan '%s' --set n=512 --world 2 --trace '%s'",
                           tu_src("tests/graphs/chain.yaml"), trace),
                     0);
    free(out);
    ck_assert_int_eq(mv_sf(&out, "memviz --summary --json --rank 1 '%s'", trace), 0);
    cJSON *j = mv_parse_json_out(out);
    const cJSON *ranks = cJSON_GetObjectItem(j, "ranks");
    ck_assert_int_eq(cJSON_GetArraySize(ranks), 1);
    const cJSON *r = cJSON_GetArrayItem(ranks, 0);
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "rank")), 1);
    /* chain n=512: a and b, 2048 bytes each */
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "peak_bytes")), 4096);
    cJSON_Delete(j);
    free(out);
    ck_assert_int_eq(mv_sf(&out, "memviz --summary --rank 2 '%s'", trace), 2);
    ck_assert_msg(strstr(out, "has no rank 2 (2 ranks, pids 0..1)") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(mv_sf(&out, "memviz --merge --rank 0 '%s' '%s' -o '%s'", trace, trace,
                           mv_path_in(dir, "m.json")),
                     2);
    free(out);
    ck_assert_int_eq(tu_count_dir_entries(dir), 1);
}
END_TEST

START_TEST(test_memviz_folds_identical_ranks)
{
    /* chain on 3 ranks is the same on each: the summary prints one rank
     * block with a note, the JSON keeps all three, the SVG one row. Ranks
     * that differ (rank_shape, below) are all shown. */
    const char *dir = tu_tmpdir();
    const char *trace = mv_path_in(dir, "three.json"), *svg = mv_path_in(dir, "three.svg");
    char *out = NULL;
    ck_assert_int_eq(mv_sf(&out, "plan '%s' --world 3 --trace '%s'",
                           tu_src("tests/graphs/chain.yaml"), trace),
                     0);
    free(out);
    ck_assert_int_eq(mv_sf(&out, "memviz --summary '%s'", trace), 0);
    ck_assert_msg(strstr(out, "ranks 0-2 are identical (same buffers, same order): shown once") !=
                      NULL,
                  "%s", out);
    ck_assert_ptr_null(strstr(out, "\nrank 1 "));
    free(out);
    ck_assert_int_eq(mv_sf(&out, "memviz --summary --json '%s'", trace), 0);
    cJSON *j = mv_parse_json_out(out);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "ranks")), 3);
    cJSON_Delete(j);
    free(out);
    ck_assert_int_eq(mv_sf(&out, "memviz '%s' -o '%s'", trace, svg), 0);
    free(out);
    char *text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(strstr(text, "rank 0 (ranks 0-2 identical: one panel shown)</text>"));
    free(text);
    /* rank_shape differs per rank (its tensor's shape): nothing folds. */
    const char *t2 = mv_path_in(dir, "differ.json");
    ck_assert_int_eq(mv_sf(&out, "plan '%s' --world 2 --trace '%s'",
                           tu_src("tests/graphs/rank_shape.yaml"), t2),
                     0);
    free(out);
    ck_assert_int_eq(mv_sf(&out, "memviz --summary '%s'", t2), 0);
    ck_assert_ptr_null(strstr(out, "identical"));
    ck_assert_ptr_nonnull(strstr(out, "\nrank 1 "));
    free(out);
}
END_TEST

/* cJSON prints a number with 15 significant digits whenever that reads
 * back within one ulp, so 2^53 would come out as 9.00719925474099e+15:
 * compare the text, not a parsed double. */
START_TEST(test_memviz_summary_json_bytes_exact_to_2_53)
{
    const char *dir = tu_tmpdir();
    const char *trace = mv_path_in(dir, "big.json");
    ck_assert_int_eq(tu_write_file(trace, MV_BIG_TRACE), 0);
    char *out = NULL;
    ck_assert_int_eq(mv_sf(&out, "memviz --summary --json '%s'", trace), 0);
    const char *want[] = {"\"peak_bytes\":9007199254740992,", "\"bytes_allocated\":9007203549708388,",
                          "\"bytes\":9007199254740992,", "\"requested_bytes\":9007199254740991,",
                          "\"peak_bytes\":4294967302,"}; /* rank 1: d + e */
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(out, want[i]) != NULL, "no %s in:\n%s", want[i], out);
    cJSON_Delete(mv_parse_json_out(out)); /* and still valid JSON */
    free(out);
    ck_assert_int_eq(mv_sf(&out, "memviz --summary '%s'", trace), 0);
    ck_assert_msg(strstr(out, "peak:       9007199254740992 bytes") != NULL, "%s", out);
    free(out);
}
END_TEST

/* Every bad trace: exit 2, the file and a byte offset in the message, a
 * fragment saying what was wrong, and no output file. */
static void check_bad_trace(const char *text, const char *fragment)
{
    const char *dir = tu_tmpdir();
    const char *trace = mv_path_in(dir, "bad.json");
    ck_assert_int_eq(tu_write_file(trace, text), 0);
    const char *outputs[] = {"out.html", "out.svg"};
    for (int i = 0; i < 3; i++) {
        char *out = NULL;
        int rc = i < 2 ? mv_sf(&out, "memviz '%s' -o '%s'", trace, mv_path_in(dir, outputs[i]))
                       : mv_sf(&out, "memviz --summary '%s'", trace);
        ck_assert_msg(rc == 2, "exit %d for %s:\n%s", rc, fragment, out);
        ck_assert_msg(strstr(out, "bad.json:") != NULL, "no file name:\n%s", out);
        ck_assert_msg(strstr(out, "(byte ") != NULL || strstr(out, "not a Chrome trace") != NULL,
                      "no byte offset:\n%s", out);
        ck_assert_msg(strstr(out, fragment) != NULL, "want '%s' in:\n%s", fragment, out);
        free(out);
    }
    char *out = NULL;
    ck_assert_int_eq(mv_sf(&out, "memviz --merge '%s' '%s' -o '%s'", trace, trace,
                           mv_path_in(dir, "merged.json")),
                     2);
    free(out);
    ck_assert_int_eq(count_entries(dir), 1); /* only bad.json: no output, no temporary */
}

START_TEST(test_memviz_malformed_traces_exit_2_and_write_nothing)
{
    check_bad_trace("", "expected a Chrome trace");
    check_bad_trace("{\"traceEvents\":[{\"ph\":\"b\",\"pid\":0", "truncated");
    check_bad_trace("{\"traceEvents\":[{\"ph\":\"X\",\"pid\":0,\"ts\":1,\"name\":\"n", "truncated");
    check_bad_trace("{\"traceEvents\":[{\"ph\":\"C\",\"pid\":0,\"ts\":1}", "',' or ']'");
    check_bad_trace("{\"traceEvents\":[{\"ph\":\"C\" \"pid\":0}]}", "',' or '}'");
    check_bad_trace("{\"traceEvents\":[{\"ph\":\"C\",\"pid\":0,\"ts\":1x}]}", "',' or '}'");
    check_bad_trace("{\"traceEvents\":{}}", "'['");
    check_bad_trace("{\"other\":[]}", "not a Chrome trace");
    check_bad_trace("{\"traceEvents\":[]} trailing", "end of the file");
    check_bad_trace("{\"traceEvents\":[{\"ph\":\"e\",\"pid\":0,\"ts\":1,\"cat\":\"buffer\","
                    "\"name\":\"x\",\"id2\":{\"local\":\"0x7\"},\"args\":{}}]}",
                    "not allocated");
    check_bad_trace("{\"traceEvents\":[{\"ph\":\"b\",\"pid\":0,\"ts\":1,\"cat\":\"buffer\","
                    "\"name\":\"x\",\"id2\":{\"local\":\"0x7\"},\"args\":{\"shape\":\"[1]\"}}]}",
                    "without args.bytes");
    check_bad_trace("{\"traceEvents\":[{\"ph\":\"b\",\"pid\":0,\"ts\":1,\"cat\":\"buffer\","
                    "\"name\":\"x\",\"id2\":{\"local\":\"0x7\"},\"args\":{\"bytes\":-4}}]}",
                    "non-negative integer");
    check_bad_trace("{\"traceEvents\":[{\"pid\":0}]}", "without \"ph\"");
    check_bad_trace("{\"traceEvents\":[{\"ph\":\"C\",\"name\":\"a\\qb\"}]}", "invalid escape");
    /* Found by fuzz_memviz_trace: a number outside int64 was cast to one
     * (undefined behaviour) instead of refused. */
    check_bad_trace("{\"traceEvents\":[{\"ph\":\"M\",\"pid\":0,\"name\":\"process_sort_index\","
                    "\"args\":{\"sort_index\":1e30}}]}",
                    "\"args.sort_index\" must be an integer");
    check_bad_trace("{\"traceEvents\":[{\"ph\":\"C\",\"pid\":1e300,\"ts\":1}]}",
                    "\"pid\" must be an integer");
}
END_TEST

START_TEST(test_memviz_trace_without_buffers_is_an_error)
{
    /* A profiler's trace: well-formed, events with pids, no buffer. It used
     * to print "0 ranks" (or one empty rank) and exit 0. */
    const char *dir = tu_tmpdir();
    const char *trace = mv_path_in(dir, "profile.json");
    ck_assert_int_eq(tu_write_file(trace, "{\"traceEvents\":[{\"ph\":\"X\",\"pid\":1,\"ts\":1,"
                                          "\"dur\":2,\"name\":\"kernel\"}]}"),
                     0);
    char *out = NULL;
    ck_assert_int_eq(mv_sf(&out, "memviz --summary '%s'", trace), 2);
    ck_assert_msg(strstr(out, "profile.json: error: no buffer events") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(mv_sf(&out, "memviz '%s' -o '%s'", trace, mv_path_in(dir, "page.html")), 2);
    free(out);
    ck_assert_int_eq(count_entries(dir), 1); /* only the trace: no page */
}
END_TEST

START_TEST(test_memviz_truncated_real_trace_names_the_offset)
{
    const char *dir = tu_tmpdir();
    const char *trace = mv_path_in(dir, "t.json");
    char *out = NULL;
    ck_assert_int_eq(
        mv_sf(&out, "run '%s' --trace '%s'", tu_src("graphs/examples/mlp.yaml"), trace), 0);
    free(out);
    size_t len = 0;
    char *text = tu_read_file(trace, &len);
    ck_assert_ptr_nonnull(text);
    text[len * 2 / 3] = '\0'; /* cut it mid-file */
    const char *cut = mv_path_in(dir, "cut.json");
    ck_assert_int_eq(tu_write_file(cut, text), 0);
    char want[64];
    snprintf(want, sizeof want, "(byte %zu)", len * 2 / 3);
    ck_assert_int_eq(mv_sf(&out, "memviz --summary '%s'", cut), 2);
    ck_assert_msg(strstr(out, want) != NULL && strstr(out, "truncated") != NULL, "%s", out);
    free(out);
    free(text);
}
END_TEST

START_TEST(test_memviz_merge_gives_each_run_its_pids)
{
    const char *dir = tu_tmpdir();
    const char *a = mv_eagle3_trace(dir, "all_gather"), *b = mv_eagle3_trace(dir, "all_to_all");
    const char *merged = mv_path_in(dir, "merged.json");
    char *out = NULL;
    ck_assert_int_eq(
        mv_sf(&out, "memviz --merge '%s' '%s' --label A --label B -o '%s'", a, b, merged), 0);
    free(out);
    size_t len = 0;
    char *text = tu_read_file(merged, &len);
    cJSON *root = cJSON_ParseWithLength(text, len);
    ck_assert_msg(root != NULL, "merged trace is not JSON");
    const cJSON *events = cJSON_GetObjectItem(root, "traceEvents");
    int per_pid[4] = {0, 0, 0, 0}, names = 0;
    const cJSON *ev;
    cJSON_ArrayForEach(ev, events)
    {
        int pid = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "pid"));
        int slot = pid == 0 ? 0 : pid == 1 ? 1 : pid == 1000 ? 2 : pid == 1001 ? 3 : -1;
        ck_assert_msg(slot >= 0, "unexpected pid %d", pid);
        per_pid[slot]++;
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "name"));
        if (name != NULL && strcmp(name, "process_name") == 0) {
            const char *label =
                cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "args"), "name"));
            char want[32];
            snprintf(want, sizeof want, "%s: rank %d", pid >= 1000 ? "B" : "A", pid % 1000);
            ck_assert_msg(strncmp(label, want, strlen(want)) == 0, "'%s' for pid %d", label, pid);
            names++;
        }
    }
    ck_assert_int_eq(names, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_gt(per_pid[i], 600); /* 322 buffers x (b + e + counter) */
    cJSON_Delete(root);
    free(text);
    /* The merge is itself a trace memviz reads: four ranks, peaks kept. */
    ck_assert_int_eq(mv_sf(&out, "memviz --summary --json '%s'", merged), 0);
    cJSON *j = mv_parse_json_out(out);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "ranks")), 4);
    cJSON_Delete(j);
    free(out);
}
END_TEST

START_TEST(test_memviz_cli_flags)
{
    char *out = NULL;
    ck_assert_int_eq(mv_sf(&out, "memviz --help"), 0);
    ck_assert_ptr_nonnull(strstr(out, "--summary"));
    free(out);
    const char *dir = tu_tmpdir();
    const char *trace = mv_path_in(dir, "t.json");
    ck_assert_int_eq(tu_write_file(trace, MV_HAND_TRACE), 0);
    const char *bad[] = {"--bogus", "", "--summary", "--x sideways -o o.html",
                         "-o o.png", "--merge -o m.json", "-o", "--top 0 --summary",
                         "--json -o o.html"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = mv_sf(&out, "memviz %s %s", i == 1 || i == 2 ? "" : trace, bad[i]);
        ck_assert_msg(rc == 2, "'%s' exited %d:\n%s", bad[i], rc, out);
        free(out);
    }
    ck_assert_int_eq(mv_sf(&out, "memviz --summary /nonexistent/trace.json"), 2);
    ck_assert_ptr_nonnull(strstr(out, "cannot open trace"));
    free(out);
    ck_assert_int_eq(count_entries(dir), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("memviz_summary");
    TCase *tc = tcase_create("memviz_summary");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_memviz_summary_peak_equals_runtime_for_every_graph);
    tcase_add_test(tc, test_memviz_summary_peak_equals_runtime_eagle3_two_ranks);
    tcase_add_test(tc, test_memviz_summary_hand_trace_exact);
    tcase_add_test(tc, test_memviz_summary_one_rank);
    tcase_add_test(tc, test_memviz_folds_identical_ranks);
    tcase_add_test(tc, test_memviz_malformed_traces_exit_2_and_write_nothing);
    tcase_add_test(tc, test_memviz_trace_without_buffers_is_an_error);
    tcase_add_test(tc, test_memviz_truncated_real_trace_names_the_offset);
    tcase_add_test(tc, test_memviz_merge_gives_each_run_its_pids);
    tcase_add_test(tc, test_memviz_cli_flags);
    tcase_add_test(tc, test_memviz_summary_json_bytes_exact_to_2_53);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
