/* `shardflow memviz`: the summary's peak and peak node equal the runtime's
 * for every test graph; hand-made traces give exact figures; malformed and
 * truncated traces exit 2 with a located message and write nothing; the
 * merged trace is valid JSON with one pid group per run; the SVG is
 * well-formed XML with the peak label; the page is self-contained; byte
 * counts reach the page and the JSON summary exact up to 2^53. */
#include <check.h>
#include <dirent.h>
#include <glob.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "test_util.h"

static const char *path_in(const char *dir, const char *name)
{
    static char slots[8][4096];
    static int next;
    char *p = slots[next++ % 8];
    snprintf(p, 4096, "%s/%s", dir, name);
    return p;
}

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

/* Run a shell command line with "%s" = the shardflow binary. */
static int sf(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int sf(char **out, const char *fmt, ...)
{
    char args[6000], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s", tu_shardflow(), args);
    return tu_run(cmd, out);
}

static cJSON *parse_json_out(const char *text)
{
    /* The command's output may carry log lines before the JSON. */
    const char *brace = strchr(text, '{');
    ck_assert_msg(brace != NULL, "no JSON in:\n%s", text);
    cJSON *j = cJSON_Parse(brace);
    ck_assert_msg(j != NULL, "bad JSON:\n%s", text);
    return j;
}

/* Compare the runtime's per-rank peak with memviz --summary of its trace. */
static void check_peaks_match(const char *runtime_json, const char *trace, const char *what)
{
    char *out = NULL;
    int rc = sf(&out, "memviz --summary --json '%s'", trace);
    ck_assert_msg(rc == 0, "%s: memviz --summary failed (%d):\n%s", what, rc, out);
    cJSON *mine = parse_json_out(out);
    cJSON *theirs = parse_json_out(runtime_json);
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
    const char *trace = path_in(dir, "t.json");
    char what[4600];
    char *out = NULL;
    /* plan: the meta device, every graph loads without inputs */
    int rc = sf(&out, "plan '%s' %s --json --trace '%s'", graph, extra, trace);
    ck_assert_msg(rc == 0, "plan %s failed:\n%s", graph, out);
    snprintf(what, sizeof what, "plan %s %s", graph, extra);
    check_peaks_match(out, trace, what);
    free(out);
    if (!try_run)
        return;
    out = NULL;
    rc = sf(&out, "run '%s' %s --json --trace '%s'", graph, extra, trace);
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
        const char *trace = path_in(dir, "t.json");
        char *out = NULL;
        int rc = sf(&out, "run --nproc 2 '%s' --set redistribution=%s --json --trace '%s'", graph,
                    modes[m], trace);
        ck_assert_msg(rc == 0, "eagle3 %s failed:\n%s", modes[m], out);
        check_peaks_match(out, trace, modes[m]);
        free(out);
        out = NULL;
        rc = sf(&out, "plan '%s' --world 2 --set redistribution=%s --json --trace '%s'", graph,
                modes[m], trace);
        ck_assert_msg(rc == 0, "eagle3 plan %s failed:\n%s", modes[m], out);
        check_peaks_match(out, trace, modes[m]);
        free(out);
    }
}
END_TEST

/* A trace by hand: a(100) b(200) free a, c(150), free b, d(250), free c,
 * e(150), free e; d is never freed. Live: 100, 300, 200, 350, 150, 400, 250,
 * 400, 250: the peak 400 is first reached by d's alloc (node n_d); e brings
 * it back to 400, and being only equal it must not move the peak node. */
static const char *HAND_TRACE =
    "{\"traceEvents\":[\n"
    "{\"ph\":\"M\",\"pid\":3,\"tid\":0,\"ts\":0,\"name\":\"process_name\",\"args\":{\"name\":\"r3\"}},\n"
    "{\"ph\":\"X\",\"pid\":3,\"tid\":0,\"ts\":0,\"dur\":10,\"cat\":\"node\",\"name\":\"n_a\",\"args\":{\"op\":\"fill\"}},\n"
    "{\"ph\":\"b\",\"pid\":3,\"tid\":0,\"ts\":1,\"cat\":\"buffer\",\"name\":\"a\",\"id2\":{\"local\":\"0x0\"},\"args\":{\"tensor\":\"a\",\"shape\":\"[25]\",\"dtype\":\"f32\",\"bytes\":100,\"requested_bytes\":100,\"alloc_node\":\"n_a\"}},\n"
    "{\"ph\":\"b\",\"pid\":3,\"tid\":0,\"ts\":2,\"cat\":\"buffer\",\"name\":\"b\",\"id2\":{\"local\":\"0x1\"},\"args\":{\"tensor\":\"b\",\"shape\":\"[50]\",\"dtype\":\"f32\",\"bytes\":200,\"requested_bytes\":200,\"alloc_node\":\"n_b\"}},\n"
    "{\"ph\":\"e\",\"pid\":3,\"tid\":0,\"ts\":3,\"cat\":\"buffer\",\"name\":\"a\",\"id2\":{\"local\":\"0x0\"},\"args\":{\"free_node\":\"n_c\"}},\n"
    "{\"ph\":\"b\",\"pid\":3,\"tid\":0,\"ts\":4,\"cat\":\"buffer\",\"name\":\"c\",\"id2\":{\"local\":\"0x2\"},\"args\":{\"tensor\":\"c\",\"shape\":\"[3,50]\",\"dtype\":\"u8\",\"bytes\":150,\"requested_bytes\":150,\"alloc_node\":\"n_c\"}},\n"
    "{\"ph\":\"e\",\"pid\":3,\"tid\":0,\"ts\":5,\"cat\":\"buffer\",\"name\":\"b\",\"id2\":{\"local\":\"0x1\"},\"args\":{\"free_node\":\"n_d\"}},\n"
    "{\"ph\":\"b\",\"pid\":3,\"tid\":0,\"ts\":6,\"cat\":\"buffer\",\"name\":\"d\",\"id2\":{\"local\":\"0x3\"},\"args\":{\"tensor\":\"d\",\"shape\":\"[250]\",\"dtype\":\"u8\",\"bytes\":250,\"requested_bytes\":250,\"alloc_node\":\"n_d\"}},\n"
    "{\"ph\":\"e\",\"pid\":3,\"tid\":0,\"ts\":7,\"cat\":\"buffer\",\"name\":\"c\",\"id2\":{\"local\":\"0x2\"},\"args\":{\"free_node\":\"n_e\"}},\n"
    "{\"ph\":\"b\",\"pid\":3,\"tid\":0,\"ts\":8,\"cat\":\"buffer\",\"name\":\"e\",\"id2\":{\"local\":\"0x2\"},\"args\":{\"tensor\":\"e\",\"shape\":\"[150]\",\"dtype\":\"u8\",\"bytes\":150,\"requested_bytes\":150,\"alloc_node\":\"n_e\"}},\n"
    "{\"ph\":\"e\",\"pid\":3,\"tid\":0,\"ts\":9,\"cat\":\"buffer\",\"name\":\"e\",\"id2\":{\"local\":\"0x2\"},\"args\":{\"free_node\":\"<end>\"}}\n"
    "],\"displayTimeUnit\":\"ms\"}\n";

START_TEST(test_memviz_summary_one_rank)
{
    /* Two ranks planned; --rank 1 keeps rank 1 alone (its peak equals the
     * plan's), --rank 2 names the ranks there are, --merge refuses it. */
    const char *dir = tu_tmpdir();
    const char *trace = path_in(dir, "two.json");
    char *out = NULL;
    ck_assert_int_eq(sf(&out, "plan '%s' --set n=512 --world 2 --trace '%s'",
                        tu_src("tests/graphs/chain.yaml"), trace),
                     0);
    free(out);
    ck_assert_int_eq(sf(&out, "memviz --summary --json --rank 1 '%s'", trace), 0);
    cJSON *j = parse_json_out(out);
    const cJSON *ranks = cJSON_GetObjectItem(j, "ranks");
    ck_assert_int_eq(cJSON_GetArraySize(ranks), 1);
    const cJSON *r = cJSON_GetArrayItem(ranks, 0);
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "rank")), 1);
    /* chain n=512: a and b, 2048 bytes each */
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "peak_bytes")), 4096);
    cJSON_Delete(j);
    free(out);
    ck_assert_int_eq(sf(&out, "memviz --summary --rank 2 '%s'", trace), 2);
    ck_assert_msg(strstr(out, "has no rank 2 (2 ranks, pids 0..1)") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(sf(&out, "memviz --merge --rank 0 '%s' '%s' -o '%s'", trace, trace,
                        path_in(dir, "m.json")),
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
    const char *trace = path_in(dir, "three.json"), *svg = path_in(dir, "three.svg");
    char *out = NULL;
    ck_assert_int_eq(sf(&out, "plan '%s' --world 3 --trace '%s'", tu_src("tests/graphs/chain.yaml"),
                        trace),
                     0);
    free(out);
    ck_assert_int_eq(sf(&out, "memviz --summary '%s'", trace), 0);
    ck_assert_msg(strstr(out, "ranks 0-2 are identical (same buffers, same order): shown once") !=
                      NULL,
                  "%s", out);
    ck_assert_ptr_null(strstr(out, "\nrank 1 "));
    free(out);
    ck_assert_int_eq(sf(&out, "memviz --summary --json '%s'", trace), 0);
    cJSON *j = parse_json_out(out);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "ranks")), 3);
    cJSON_Delete(j);
    free(out);
    ck_assert_int_eq(sf(&out, "memviz '%s' -o '%s'", trace, svg), 0);
    free(out);
    char *text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(strstr(text, "rank 0 (ranks 0-2 identical: one panel shown)</text>"));
    free(text);
    /* rank_shape differs per rank (its tensor's shape): nothing folds. */
    const char *t2 = path_in(dir, "differ.json");
    ck_assert_int_eq(sf(&out, "plan '%s' --world 2 --trace '%s'",
                        tu_src("tests/graphs/rank_shape.yaml"), t2),
                     0);
    free(out);
    ck_assert_int_eq(sf(&out, "memviz --summary '%s'", t2), 0);
    ck_assert_ptr_null(strstr(out, "identical"));
    ck_assert_ptr_nonnull(strstr(out, "\nrank 1 "));
    free(out);
}
END_TEST

static const char *eagle3_plan_trace(const char *dir);

START_TEST(test_memviz_adjacent_nodes_differ_in_colour)
{
    /* chain's three nodes get the first three colours in order (hues 0, 130,
     * 260); in the Eagle3 trace no node span has the colour of the one
     * before it (a hash of the name gave two neighbours one colour). */
    const char *dir = tu_tmpdir();
    const char *trace = path_in(dir, "chain.json"), *svg = path_in(dir, "chain.svg");
    char *out = NULL;
    ck_assert_int_eq(sf(&out, "plan '%s' --trace '%s'", tu_src("tests/graphs/chain.yaml"), trace),
                     0);
    free(out);
    ck_assert_int_eq(sf(&out, "memviz '%s' -o '%s'", trace, svg), 0);
    free(out);
    char *text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(text);
    const char *want[] = {"fill=\"hsl(0,58%,48%)\"/><text x=\"76.0\" y=\"284.5\">make_a",
                          "fill=\"hsl(130,68%,54%)\"/><text", "fill=\"hsl(260,78%,60%)\"/><text"};
    for (int k = 0; k < 3; k++)
        ck_assert_msg(strstr(text, want[k]) != NULL, "no %s", want[k]);
    free(text);
    const char *a = eagle3_plan_trace(dir);
    ck_assert_int_eq(sf(&out, "memviz '%s' -o '%s'", a, svg), 0);
    free(out);
    text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(text);
    /* The phase strip: rects of height 14, in time order. */
    char prev[48] = "";
    int n = 0;
    for (const char *p = strstr(text, "height=\"14\" fill=\""); p != NULL;
         p = strstr(p + 1, "height=\"14\" fill=\"")) {
        const char *c = p + strlen("height=\"14\" fill=\"");
        const char *e = strchr(c, '"');
        char cur[48];
        snprintf(cur, sizeof cur, "%.*s", (int)(e - c), c);
        ck_assert_msg(strcmp(cur, prev) != 0, "span %d has the colour of the one before: %s", n,
                      cur);
        snprintf(prev, sizeof prev, "%s", cur);
        n++;
    }
    ck_assert_int_gt(n, 100);
    free(text);
}
END_TEST

static void check_xml(const char *s);

/* The Eagle3 graph planned (not run: light on a loaded machine) on two
 * ranks in all_gather mode, as a trace in dir. */
static const char *eagle3_plan_trace(const char *dir)
{
    const char *trace = path_in(dir, "eagle3_plan.json");
    char *out = NULL;
    int rc = sf(&out, "plan '%s' --world 2 --set redistribution=all_gather --trace '%s'",
                tu_src("graphs/eagle3_target.yaml"), trace);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    return trace;
}

START_TEST(test_memviz_zoom_to_peak)
{
    /* Eagle3 all_gather on tiny: 640 events on rank 0, the peak at event
     * index 540; a twentieth of 640 is 32, so --zoom peak shows events
     * 508..572 and the axis reads 520, 540, 560 (steps of 20), never 200. */
    const char *dir = tu_tmpdir();
    const char *a = eagle3_plan_trace(dir);
    const char *svg = path_in(dir, "zoom.svg"), *html = path_in(dir, "zoom.html");
    char *out = NULL;
    ck_assert_int_eq(sf(&out, "memviz --summary --json '%s'", a), 0);
    cJSON *j = parse_json_out(out);
    const cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "ranks"), 0);
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r0, "events")), 640);
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r0, "peak_event")), 540);
    cJSON_Delete(j);
    free(out);
    ck_assert_int_eq(sf(&out, "memviz '%s' --zoom peak -o '%s'", a, svg), 0);
    free(out);
    char *text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(text);
    check_xml(text);
    ck_assert_ptr_nonnull(strstr(text, "<clipPath id=\"plot0\">"));
    ck_assert_ptr_nonnull(strstr(text, ">520</text>"));
    ck_assert_ptr_nonnull(strstr(text, ">560</text>"));
    ck_assert_ptr_null(strstr(text, ">500</text>"));
    ck_assert_ptr_null(strstr(text, ">200</text>"));
    free(text);
    ck_assert_int_eq(sf(&out, "memviz '%s' -o '%s'", a, svg), 0);
    free(out);
    text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(strstr(text, ">200</text>")); /* the whole run: 0, 200, 400, 600 */
    free(text);
    ck_assert_int_eq(sf(&out, "memviz '%s' --zoom peak -o '%s'", a, html), 0);
    free(out);
    text = tu_read_file(html, NULL);
    ck_assert_ptr_nonnull(strstr(text, "\"zoom\":\"peak\""));
    ck_assert_ptr_nonnull(strstr(text, "<button id=\"zoompeak\">zoom to peak</button>"));
    free(text);
    ck_assert_int_eq(sf(&out, "memviz '%s' --zoom middle -o '%s'", a, path_in(dir, "no.svg")), 2);
    ck_assert_msg(strstr(out, "--zoom takes 'all' or 'peak', not 'middle'") != NULL, "%s", out);
    free(out);
}
END_TEST

START_TEST(test_memviz_colour_by_category)
{
    /* tests/graphs/categories.yaml: at its peak (mm2) plan counts weights
     * 256, activations 1024, logits 512, communication 512, scratch 3072,
     * outputs 512 (check_plan_report adds them up); the SVG's category
     * legend says the same from the trace alone. With n = 256 the peak is
     * about 1.3 MB, 6 KiB a pixel: the 256-byte weight would be merged
     * into "small buffers", but weights keep a band (colour #4e79a7). */
    const char *dir = tu_tmpdir();
    const char *trace = path_in(dir, "cat.json"), *svg = path_in(dir, "cat.svg");
    char *out = NULL;
    ck_assert_int_eq(sf(&out, "plan '%s' --trace '%s'", tu_src("tests/graphs/categories.yaml"),
                        trace),
                     0);
    free(out);
    ck_assert_int_eq(sf(&out, "memviz '%s' --color category -o '%s'", trace, svg), 0);
    free(out);
    char *text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(text);
    check_xml(text);
    const char *want[] = {">weights 256 B</text>",      ">activations 1 KiB</text>",
                          ">logits/target 512 B</text>", ">communication 512 B</text>",
                          ">kernel scratch 3 KiB</text>", ">outputs 512 B</text>"};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
        ck_assert_msg(strstr(text, want[k]) != NULL, "no %s", want[k]);
    free(text);
    ck_assert_int_eq(sf(&out, "plan '%s' --set n=256 --trace '%s'",
                        tu_src("tests/graphs/categories.yaml"), trace),
                     0);
    free(out);
    ck_assert_int_eq(sf(&out, "memviz '%s' --color category -o '%s'", trace, svg), 0);
    free(out);
    text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "<path fill=\"#4e79a7\" d=\"M") != NULL, "no weights band");
    free(text);
    ck_assert_int_eq(sf(&out, "memviz '%s' --color rainbow -o '%s'", trace, svg), 2);
    ck_assert_msg(strstr(out, "--color takes 'node' or 'category', not 'rainbow'") != NULL, "%s",
                  out);
    free(out);
}
END_TEST

START_TEST(test_memviz_summary_hand_trace_exact)
{
    const char *dir = tu_tmpdir();
    const char *trace = path_in(dir, "hand.json");
    ck_assert_int_eq(tu_write_file(trace, HAND_TRACE), 0);
    char *out = NULL;
    ck_assert_int_eq(sf(&out, "memviz --summary --json '%s'", trace), 0);
    cJSON *j = parse_json_out(out);
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
    ck_assert_int_eq(sf(&out, "memviz --summary '%s'", trace), 0);
    ck_assert_msg(strstr(out, "400 bytes") != NULL && strstr(out, "during node 'n_d'") != NULL,
                  "%s", out);
    free(out);
}
END_TEST

/* Every bad trace: exit 2, the file and a byte offset in the message, a
 * fragment saying what was wrong, and no output file. */
static void check_bad_trace(const char *text, const char *fragment)
{
    const char *dir = tu_tmpdir();
    const char *trace = path_in(dir, "bad.json");
    ck_assert_int_eq(tu_write_file(trace, text), 0);
    const char *outputs[] = {"out.html", "out.svg"};
    for (int i = 0; i < 3; i++) {
        char *out = NULL;
        int rc = i < 2 ? sf(&out, "memviz '%s' -o '%s'", trace, path_in(dir, outputs[i]))
                       : sf(&out, "memviz --summary '%s'", trace);
        ck_assert_msg(rc == 2, "exit %d for %s:\n%s", rc, fragment, out);
        ck_assert_msg(strstr(out, "bad.json:") != NULL, "no file name:\n%s", out);
        ck_assert_msg(strstr(out, "(byte ") != NULL || strstr(out, "not a Chrome trace") != NULL,
                      "no byte offset:\n%s", out);
        ck_assert_msg(strstr(out, fragment) != NULL, "want '%s' in:\n%s", fragment, out);
        free(out);
    }
    char *out = NULL;
    ck_assert_int_eq(sf(&out, "memviz --merge '%s' '%s' -o '%s'", trace, trace,
                        path_in(dir, "merged.json")),
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
    const char *trace = path_in(dir, "profile.json");
    ck_assert_int_eq(tu_write_file(trace, "{\"traceEvents\":[{\"ph\":\"X\",\"pid\":1,\"ts\":1,"
                                          "\"dur\":2,\"name\":\"kernel\"}]}"),
                     0);
    char *out = NULL;
    ck_assert_int_eq(sf(&out, "memviz --summary '%s'", trace), 2);
    ck_assert_msg(strstr(out, "profile.json: error: no buffer events") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(sf(&out, "memviz '%s' -o '%s'", trace, path_in(dir, "page.html")), 2);
    free(out);
    ck_assert_int_eq(count_entries(dir), 1); /* only the trace: no page */
}
END_TEST

START_TEST(test_memviz_truncated_real_trace_names_the_offset)
{
    const char *dir = tu_tmpdir();
    const char *trace = path_in(dir, "t.json");
    char *out = NULL;
    ck_assert_int_eq(sf(&out, "run '%s' --trace '%s'", tu_src("graphs/examples/mlp.yaml"), trace),
                     0);
    free(out);
    size_t len = 0;
    char *text = tu_read_file(trace, &len);
    ck_assert_ptr_nonnull(text);
    text[len * 2 / 3] = '\0'; /* cut it mid-file */
    const char *cut = path_in(dir, "cut.json");
    ck_assert_int_eq(tu_write_file(cut, text), 0);
    char want[64];
    snprintf(want, sizeof want, "(byte %zu)", len * 2 / 3);
    ck_assert_int_eq(sf(&out, "memviz --summary '%s'", cut), 2);
    ck_assert_msg(strstr(out, want) != NULL && strstr(out, "truncated") != NULL, "%s", out);
    free(out);
    free(text);
}
END_TEST

static const char *eagle3_trace(const char *dir, const char *mode)
{
    const char *trace = path_in(dir, mode);
    char *out = NULL;
    int rc = sf(&out, "run --nproc 2 '%s' --set redistribution=%s --trace '%s.json'",
                tu_src("graphs/eagle3_target.yaml"), mode, trace);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    static char slots[4][4200];
    static int next;
    char *p = slots[next++ % 4];
    snprintf(p, sizeof slots[0], "%s.json", trace);
    return p;
}

START_TEST(test_memviz_merge_gives_each_run_its_pids)
{
    const char *dir = tu_tmpdir();
    const char *a = eagle3_trace(dir, "all_gather"), *b = eagle3_trace(dir, "all_to_all");
    const char *merged = path_in(dir, "merged.json");
    char *out = NULL;
    ck_assert_int_eq(sf(&out, "memviz --merge '%s' '%s' --label A --label B -o '%s'", a, b, merged),
                     0);
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
    ck_assert_int_eq(sf(&out, "memviz --summary --json '%s'", merged), 0);
    cJSON *j = parse_json_out(out);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "ranks")), 4);
    cJSON_Delete(j);
    free(out);
}
END_TEST

/* A tiny XML well-formedness check: tags balance, attributes are quoted,
 * entities are known. Enough to catch what a string-built SVG gets wrong. */
static void check_xml(const char *s)
{
    char stack[64][32];
    int depth = 0, roots = 0;
    const char *p = s;
    if (strncmp(p, "<?xml", 5) == 0)
        p = strstr(p, "?>") + 2;
    while (*p != '\0') {
        if (*p == '&') {
            ck_assert_msg(strncmp(p, "&lt;", 4) == 0 || strncmp(p, "&gt;", 4) == 0 ||
                              strncmp(p, "&amp;", 5) == 0 || strncmp(p, "&quot;", 6) == 0 ||
                              strncmp(p, "&apos;", 6) == 0,
                          "bad entity at %.20s", p);
            p++;
            continue;
        }
        if (*p != '<') {
            p++;
            continue;
        }
        bool closing = p[1] == '/';
        const char *name = p + (closing ? 2 : 1);
        size_t n = strcspn(name, " \t\n/>");
        ck_assert_msg(n > 0 && n < 32, "bad tag at %.30s", p);
        const char *q = name + n;
        char quote = 0;
        while (*q != '\0' && (quote != 0 || *q != '>')) {
            if (quote == 0 && (*q == '"' || *q == '\''))
                quote = *q;
            else if (*q == quote)
                quote = 0;
            else if (quote == 0 && *q == '<')
                ck_abort_msg("'<' inside a tag at %.30s", p);
            q++;
        }
        ck_assert_msg(*q == '>', "unterminated tag at %.30s", p);
        bool self = q[-1] == '/';
        if (closing) {
            ck_assert_msg(depth > 0 && strncmp(stack[depth - 1], name, n) == 0 &&
                              stack[depth - 1][n] == '\0',
                          "mismatched close at %.30s", p);
            depth--;
        } else if (!self) {
            ck_assert_int_lt(depth, 64);
            if (depth == 0)
                roots++;
            memcpy(stack[depth], name, n);
            stack[depth][n] = '\0';
            depth++;
        }
        p = q + 1;
    }
    ck_assert_int_eq(depth, 0);
    ck_assert_int_eq(roots, 1);
}

START_TEST(test_memviz_svg_is_well_formed_with_peak)
{
    const char *dir = tu_tmpdir();
    const char *a = eagle3_trace(dir, "all_gather"), *b = eagle3_trace(dir, "all_to_all");
    const char *svg = path_in(dir, "cmp.svg");
    char *out = NULL;
    ck_assert_int_eq(sf(&out, "memviz '%s' '%s' -o '%s'", a, b, svg), 0);
    free(out);
    char *text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(text);
    check_xml(text);
    ck_assert_ptr_nonnull(strstr(text, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    /* both runs' peaks as the runtime reports them: 1240320 B and 1035520 B
     * (all_gather computes its f32 cast straight into the padded target,
     * so its peak is the cast's) */
    ck_assert_msg(strstr(text, "peak 1.18 MiB \xc2\xb7 to_f32") != NULL, "no all_gather peak");
    ck_assert_msg(strstr(text, "peak 1011 KiB \xc2\xb7 lm_head") != NULL, "no all_to_all peak");
    /* Both ranks of both runs are the same: one row, with a note. */
    ck_assert_msg(strstr(text, "rank 0 (ranks 0-1 identical: one panel shown)</text>") != NULL,
                  "no fold note");
    ck_assert_ptr_null(strstr(text, "rank 1</text>"));
    ck_assert_ptr_nonnull(strstr(text, ">1 MiB</text>")); /* a byte axis label */
    free(text);
    /* One trace, time axis: also well formed. */
    ck_assert_int_eq(sf(&out, "memviz '%s' --x time -o '%s'", a, svg), 0);
    free(out);
    text = tu_read_file(svg, NULL);
    check_xml(text);
    ck_assert_ptr_nonnull(strstr(text, "time (ms)"));
    free(text);
}
END_TEST

/* x ticks: about six. 200 buffers allocated and freed one after another
 * are 400 events; a sixth is 66.7, so the step is 100 (labels 0 to 400).
 * Without the step of 10 x a power of ten the axis had a label every 10
 * events, 41 of them run together (seen on a real PyTorch snapshot). */
START_TEST(test_memviz_svg_x_ticks_are_few)
{
    const char *dir = tu_tmpdir();
    const char *trace = path_in(dir, "many.json"), *svg = path_in(dir, "many.svg");
    size_t cap = 200 * 300 + 64, used = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    used += (size_t)snprintf(text, cap, "{\"traceEvents\":[");
    for (int i = 0; i < 200; i++)
        used += (size_t)snprintf(text + used, cap - used,
                                 "%s{\"ph\":\"b\",\"cat\":\"buffer\",\"pid\":0,\"ts\":%d,"
                                 "\"id2\":{\"local\":\"%d\"},\"name\":\"t\",\"args\":"
                                 "{\"bytes\":64}},{\"ph\":\"e\",\"cat\":\"buffer\",\"pid\":0,"
                                 "\"ts\":%d,\"id2\":{\"local\":\"%d\"},\"name\":\"t\"}",
                                 i > 0 ? "," : "", 2 * i, i, 2 * i + 1, i);
    snprintf(text + used, cap - used, "]}\n");
    ck_assert_int_eq(tu_write_file(trace, text), 0);
    free(text);
    char *out = NULL;
    ck_assert_int_eq(sf(&out, "memviz '%s' -o '%s'", trace, svg), 0);
    free(out);
    text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(text);
    const char *xl = strstr(text, "<g class=\"xl\">");
    ck_assert_ptr_nonnull(xl);
    char *end = strstr(xl, "</g>");
    ck_assert_ptr_nonnull(end);
    *end = '\0';
    ck_assert_msg(strstr(xl, ">0</text>") != NULL && strstr(xl, ">100</text>") != NULL &&
                      strstr(xl, ">400</text>") != NULL && strstr(xl, ">10</text>") == NULL,
                  "x labels: %s", xl);
    long n = 0;
    for (const char *q = xl; (q = strstr(q, "<text")) != NULL; q++)
        n++;
    ck_assert_int_eq(n, 5);
    free(text);
}
END_TEST

START_TEST(test_memviz_html_is_self_contained)
{
    const char *dir = tu_tmpdir();
    const char *trace = path_in(dir, "t.json");
    ck_assert_int_eq(tu_write_file(trace, HAND_TRACE), 0);
    /* a tensor name that tries to end the script block */
    const char *evil = path_in(dir, "evil.json");
    char *hand = strdup(HAND_TRACE);
    char *at = strstr(hand, "\"tensor\":\"a\"");
    ck_assert_ptr_nonnull(at);
    char buf[8192];
    snprintf(buf, sizeof buf, "%.*s\"tensor\":\"</script><b>\"%s", (int)(at - hand), hand,
             at + strlen("\"tensor\":\"a\""));
    ck_assert_int_eq(tu_write_file(evil, buf), 0);
    free(hand);
    const char *html = path_in(dir, "p.html");
    char *out = NULL;
    ck_assert_int_eq(sf(&out, "memviz '%s' -o '%s'", evil, html), 0);
    free(out);
    char *text = tu_read_file(html, NULL);
    ck_assert_ptr_null(strstr(text, "http://"));
    ck_assert_ptr_null(strstr(text, "https://"));
    ck_assert_ptr_null(strstr(text, "<script src"));
    ck_assert_ptr_null(strstr(text, "<link"));
    ck_assert_ptr_null(strstr(text, "</script><b>"));
    ck_assert_ptr_nonnull(strstr(text, "<script type=\"application/json\" id=\"mv-data\">"));
    ck_assert_ptr_nonnull(strstr(text, "\\u003c/script\\u003e"));
    free(text);
}
END_TEST

START_TEST(test_memviz_cli_flags)
{
    char *out = NULL;
    ck_assert_int_eq(sf(&out, "memviz --help"), 0);
    ck_assert_ptr_nonnull(strstr(out, "--summary"));
    free(out);
    const char *dir = tu_tmpdir();
    const char *trace = path_in(dir, "t.json");
    ck_assert_int_eq(tu_write_file(trace, HAND_TRACE), 0);
    const char *bad[] = {"--bogus", "", "--summary", "--x sideways -o o.html",
                         "-o o.png", "--merge -o m.json", "-o", "--top 0 --summary",
                         "--json -o o.html"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = sf(&out, "memviz %s %s", i == 1 || i == 2 ? "" : trace, bad[i]);
        ck_assert_msg(rc == 2, "'%s' exited %d:\n%s", bad[i], rc, out);
        free(out);
    }
    ck_assert_int_eq(sf(&out, "memviz --summary /nonexistent/trace.json"), 2);
    ck_assert_ptr_nonnull(strstr(out, "cannot open trace"));
    free(out);
    ck_assert_int_eq(count_entries(dir), 1);
}
END_TEST

/* Byte counts at and past 32 bits, by hand. Rank 0: a = 2^32 (the first
 * count that does not fit a u32), then b = 2^53 bytes (requested 2^53 - 1),
 * then c = 100 (requested 98), never freed; peak 2^53, moved in total
 * 2^53 + 2^32 + 100 = 9007203549708388 (even, so a double holds it too).
 * Rank 1 stays under 2^32: d = 2^32 - 1, e = 7 (requested 5). */
static const char *BIG_TRACE =
    "{\"traceEvents\":[\n"
    "{\"ph\":\"X\",\"pid\":0,\"tid\":0,\"ts\":0,\"dur\":10,\"cat\":\"node\",\"name\":\"n_a\",\"args\":{\"op\":\"fill\"}},\n"
    "{\"ph\":\"b\",\"pid\":0,\"tid\":0,\"ts\":1,\"cat\":\"buffer\",\"name\":\"a\",\"id2\":{\"local\":\"0x0\"},\"args\":{\"tensor\":\"a\",\"shape\":\"[4294967296]\",\"dtype\":\"u8\",\"bytes\":4294967296,\"requested_bytes\":4294967296,\"alloc_node\":\"n_a\"}},\n"
    "{\"ph\":\"e\",\"pid\":0,\"tid\":0,\"ts\":2,\"cat\":\"buffer\",\"name\":\"a\",\"id2\":{\"local\":\"0x0\"},\"args\":{\"free_node\":\"n_b\"}},\n"
    "{\"ph\":\"b\",\"pid\":0,\"tid\":0,\"ts\":3,\"cat\":\"buffer\",\"name\":\"b\",\"id2\":{\"local\":\"0x1\"},\"args\":{\"tensor\":\"b\",\"shape\":\"[9007199254740991]\",\"dtype\":\"u8\",\"bytes\":9007199254740992,\"requested_bytes\":9007199254740991,\"alloc_node\":\"n_b\"}},\n"
    "{\"ph\":\"e\",\"pid\":0,\"tid\":0,\"ts\":4,\"cat\":\"buffer\",\"name\":\"b\",\"id2\":{\"local\":\"0x1\"},\"args\":{\"free_node\":\"n_c\"}},\n"
    "{\"ph\":\"b\",\"pid\":0,\"tid\":0,\"ts\":5,\"cat\":\"buffer\",\"name\":\"c\",\"id2\":{\"local\":\"0x2\"},\"args\":{\"tensor\":\"c\",\"shape\":\"[98]\",\"dtype\":\"u8\",\"bytes\":100,\"requested_bytes\":98,\"alloc_node\":\"n_c\"}},\n"
    "{\"ph\":\"b\",\"pid\":1,\"tid\":0,\"ts\":1,\"cat\":\"buffer\",\"name\":\"d\",\"id2\":{\"local\":\"0x0\"},\"args\":{\"tensor\":\"d\",\"shape\":\"[4294967295]\",\"dtype\":\"u8\",\"bytes\":4294967295,\"requested_bytes\":4294967295,\"alloc_node\":\"n_d\"}},\n"
    "{\"ph\":\"b\",\"pid\":1,\"tid\":0,\"ts\":2,\"cat\":\"buffer\",\"name\":\"e\",\"id2\":{\"local\":\"0x1\"},\"args\":{\"tensor\":\"e\",\"shape\":\"[5]\",\"dtype\":\"u8\",\"bytes\":7,\"requested_bytes\":5,\"alloc_node\":\"n_e\"}}\n"
    "],\"displayTimeUnit\":\"ms\"}\n";

/* Decode standard base64 (with '=' padding); *n bytes, caller frees. */
static unsigned char *unbase64(const char *s, size_t *n)
{
    size_t len = strlen(s);
    unsigned char *out = malloc(len / 4 * 3 + 1);
    ck_assert_ptr_nonnull(out);
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (const char *p = s; *p != '\0' && *p != '='; p++) {
        const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *at = strchr(tab, *p);
        ck_assert_msg(at != NULL, "not base64: '%c'", *p);
        v = (v << 6) | (unsigned)(at - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(v >> bits);
            v &= (1u << bits) - 1;
        }
    }
    *n = o;
    return out;
}

/* One byte column of a rank in the page's data, as the page's script reads
 * it: Float64Array when the rank is "wide", else Uint32Array. */
static void page_bytes(const cJSON *rank, const char *key, double *out, size_t want)
{
    bool wide = cJSON_IsTrue(cJSON_GetObjectItem(rank, "wide"));
    size_t n = 0;
    unsigned char *raw = unbase64(cJSON_GetStringValue(cJSON_GetObjectItem(rank, key)), &n);
    size_t width = wide ? sizeof(double) : sizeof(uint32_t);
    ck_assert_uint_eq(n, want * width);
    for (size_t i = 0; i < want; i++) {
        if (wide) {
            memcpy(&out[i], raw + i * width, width);
        } else {
            uint32_t u;
            memcpy(&u, raw + i * width, width);
            out[i] = u;
        }
    }
    free(raw);
}

START_TEST(test_memviz_page_encodes_bytes_exactly)
{
    const char *dir = tu_tmpdir();
    const char *trace = path_in(dir, "big.json"), *html = path_in(dir, "big.html");
    ck_assert_int_eq(tu_write_file(trace, BIG_TRACE), 0);
    char *out = NULL;
    ck_assert_int_eq(sf(&out, "memviz '%s' -o '%s'", trace, html), 0);
    free(out);
    char *text = tu_read_file(html, NULL);
    ck_assert_ptr_nonnull(text);
    const char *open = "<script type=\"application/json\" id=\"mv-data\">";
    char *data = strstr(text, open);
    ck_assert_ptr_nonnull(data);
    data += strlen(open);
    char *end = strstr(data, "</script>");
    ck_assert_ptr_nonnull(end);
    *end = '\0';
    cJSON *j = cJSON_Parse(data);
    ck_assert_msg(j != NULL, "the page's data is not JSON");
    const cJSON *ranks = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "runs"), 0),
                                             "ranks");
    ck_assert_int_eq(cJSON_GetArraySize(ranks), 2);
    double by[3], rq[3];
    /* rank 0 needs more than 32 bits: doubles, every value exact */
    const cJSON *r0 = cJSON_GetArrayItem(ranks, 0);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(r0, "wide")));
    page_bytes(r0, "by", by, 3);
    page_bytes(r0, "rq", rq, 3);
    ck_assert_msg(by[0] == 4294967296.0 && by[1] == 9007199254740992.0 && by[2] == 100.0,
                  "bytes on the page: %.17g %.17g %.17g", by[0], by[1], by[2]);
    ck_assert_msg(rq[0] == 4294967296.0 && rq[1] == 9007199254740991.0 && rq[2] == 98.0,
                  "requested bytes on the page: %.17g %.17g %.17g", rq[0], rq[1], rq[2]);
    ck_assert_ptr_nonnull(strstr(data, "\"peak\":9007199254740992,"));
    ck_assert_ptr_nonnull(strstr(data, "\"total\":9007203549708388,"));
    /* rank 1 fits 32 bits: the compact form, UINT32_MAX included */
    const cJSON *r1 = cJSON_GetArrayItem(ranks, 1);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(r1, "wide")));
    page_bytes(r1, "by", by, 2);
    page_bytes(r1, "rq", rq, 2);
    ck_assert_msg(by[0] == 4294967295.0 && by[1] == 7.0 && rq[0] == 4294967295.0 && rq[1] == 5.0,
                  "rank 1 on the page: %.17g %.17g / %.17g %.17g", by[0], by[1], rq[0], rq[1]);
    cJSON_Delete(j);
    free(text);
}
END_TEST

/* cJSON prints a number with 15 significant digits whenever that reads
 * back within one ulp, so 2^53 would come out as 9.00719925474099e+15:
 * compare the text, not a parsed double. */
START_TEST(test_memviz_summary_json_bytes_exact_to_2_53)
{
    const char *dir = tu_tmpdir();
    const char *trace = path_in(dir, "big.json");
    ck_assert_int_eq(tu_write_file(trace, BIG_TRACE), 0);
    char *out = NULL;
    ck_assert_int_eq(sf(&out, "memviz --summary --json '%s'", trace), 0);
    const char *want[] = {"\"peak_bytes\":9007199254740992,", "\"bytes_allocated\":9007203549708388,",
                          "\"bytes\":9007199254740992,", "\"requested_bytes\":9007199254740991,",
                          "\"peak_bytes\":4294967302,"}; /* rank 1: d + e */
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(out, want[i]) != NULL, "no %s in:\n%s", want[i], out);
    cJSON_Delete(parse_json_out(out)); /* and still valid JSON */
    free(out);
    ck_assert_int_eq(sf(&out, "memviz --summary '%s'", trace), 0);
    ck_assert_msg(strstr(out, "peak:       9007199254740992 bytes") != NULL, "%s", out);
    free(out);
}
END_TEST

/* memviz_page.c is generated from memviz_page.js/.css: they must agree. */
START_TEST(test_memviz_page_source_in_sync)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s --stdout | cmp - %s", tu_src("memviz/memviz_page_gen.sh"),
             tu_src("memviz/memviz_page.c"));
    char *out = NULL;
    int rc = tu_run(cmd, &out);
    ck_assert_msg(rc == 0, "memviz/memviz_page.c is stale: run memviz/memviz_page_gen.sh\n%s", out);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("memviz");
    TCase *tc = tcase_create("memviz");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_memviz_summary_peak_equals_runtime_for_every_graph);
    tcase_add_test(tc, test_memviz_summary_peak_equals_runtime_eagle3_two_ranks);
    tcase_add_test(tc, test_memviz_summary_hand_trace_exact);
    tcase_add_test(tc, test_memviz_summary_one_rank);
    tcase_add_test(tc, test_memviz_folds_identical_ranks);
    tcase_add_test(tc, test_memviz_adjacent_nodes_differ_in_colour);
    tcase_add_test(tc, test_memviz_zoom_to_peak);
    tcase_add_test(tc, test_memviz_colour_by_category);
    tcase_add_test(tc, test_memviz_malformed_traces_exit_2_and_write_nothing);
    tcase_add_test(tc, test_memviz_trace_without_buffers_is_an_error);
    tcase_add_test(tc, test_memviz_truncated_real_trace_names_the_offset);
    tcase_add_test(tc, test_memviz_merge_gives_each_run_its_pids);
    tcase_add_test(tc, test_memviz_svg_is_well_formed_with_peak);
    tcase_add_test(tc, test_memviz_html_is_self_contained);
    tcase_add_test(tc, test_memviz_svg_x_ticks_are_few);
    tcase_add_test(tc, test_memviz_cli_flags);
    tcase_add_test(tc, test_memviz_page_source_in_sync);
    tcase_add_test(tc, test_memviz_page_encodes_bytes_exactly);
    tcase_add_test(tc, test_memviz_summary_json_bytes_exact_to_2_53);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
