/* `shardflow memviz`: memory pictures and the live-at-peak summary from
 * the Chrome traces that run and plan write. Bad flags and bad traces exit
 * 2 and write nothing. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "memviz.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shardflow memviz TRACE.json [TRACE2.json] -o OUT.html|OUT.svg [options]\n"
            "       shardflow memviz --summary TRACE.json [--json] [--top N] [--rank R]\n"
            "       shardflow memviz --summary PLAN.json MEASURED.json [--json] [--rank R]\n"
            "       shardflow memviz --merge A.json B.json [...] -o MERGED.json\n"
            "\n"
            "Memory pictures of traces written by `shardflow run/plan --trace`.\n"
            "  one trace:   the active-memory timeline of every rank (one band per buffer,\n"
            "               stacked in allocation order, coloured by the producing node)\n"
            "  two traces:  the two runs side by side on the same y scale, with a table of\n"
            "               peaks, bytes moved and the largest buffers of each\n"
            "\n"
            "options:\n"
            "  -o, --output FILE  .html: interactive page (self-contained, no network)\n"
            "                     .svg:  static picture for READMEs\n"
            "                     .json: with --merge, the joined trace\n"
            "  --summary          per rank: peak bytes, the node during which it was first\n"
            "                     reached, and the buffers live at the peak (largest first)\n"
            "  --json             with --summary: one JSON object instead of text\n"
            "  --top N            with --summary: at most N live buffers per rank (default all)\n"
            "  --rank R           only rank R (the trace's pid R), in the summary and pictures\n"
            "  --merge            join traces for ui.perfetto.dev: run k's rank r becomes\n"
            "                     pid k*1000+r, named \"<label>: <process name>\"\n"
            "  --x events|time    x axis: event order (default) or trace time\n"
            "  --color node|category  bands (page and SVG) coloured by allocating node\n"
            "                     (default) or by category (weights, activations,\n"
            "                     logits/target, communication, kernel scratch, outputs),\n"
            "                     weights one band, the legend by category\n"
            "  --zoom all|peak    x range: the whole run (default) or the events around each\n"
            "                     rank's peak (a twentieth of the run each side, at least 20)\n"
            "  --label NAME       name of the next run (repeat; default: the file name)\n"
            "  --title TEXT       page/picture title\n"
            "  --width PX         SVG width (default 1000)\n"
            "  -h, --help         this text\n"
            "\n"
            "exit status: 0 ok, 2 bad flags or a malformed trace (nothing is written), 1 I/O\n");
}

static int bad(const char *fmt, const char *arg)
{
    char msg[400];
    snprintf(msg, sizeof msg, fmt, arg);
    sf_err_t err;
    sf_err_clear(&err);
    sf_err_set(&err, SF_ERR_INPUT, NULL, "memviz: %s (see shardflow memviz --help)", msg);
    return sf_cli_fail(&err);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s != NULL ? s + 1 : p;
}

enum { MAX_INPUTS = 16 };

int sf_cmd_memviz(int argc, char **argv)
{
    const char *inputs[MAX_INPUTS];
    const char *labels[MAX_INPUTS] = {0};
    int n_inputs = 0, n_labels = 0, top = 0;
    long only_rank = -1; /* --rank; -1: every rank */
    const char *output = NULL;
    bool summary = false, merge = false, json = false;
    sf_mv_opts_t opts = {.x = SF_MV_X_EVENTS};
    sf_err_t err;
    sf_err_clear(&err);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--summary") == 0) {
            summary = true;
        } else if (strcmp(a, "--merge") == 0) {
            merge = true;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "-o") == 0 || sf_cli_is_option(a, "--output") ||
                   sf_cli_is_option(a, "--x") || sf_cli_is_option(a, "--label") ||
                   sf_cli_is_option(a, "--title") || sf_cli_is_option(a, "--width") ||
                   sf_cli_is_option(a, "--top") || sf_cli_is_option(a, "--rank") ||
                   sf_cli_is_option(a, "--zoom") || sf_cli_is_option(a, "--color")) {
            const char *v = strcmp(a, "-o") == 0 ? (i + 1 < argc ? argv[++i] : NULL)
                                                 : sf_cli_option_value(argc, argv, &i, &err);
            if (v == NULL)
                return bad("option %s needs a value", a);
            if (a[1] == 'o' || sf_cli_is_option(a, "--output")) {
                output = v;
            } else if (sf_cli_is_option(a, "--x")) {
                if (strcmp(v, "events") == 0)
                    opts.x = SF_MV_X_EVENTS;
                else if (strcmp(v, "time") == 0)
                    opts.x = SF_MV_X_TIME;
                else
                    return bad("--x takes 'events' or 'time', not '%s'", v);
            } else if (sf_cli_is_option(a, "--label")) {
                if (n_labels == MAX_INPUTS)
                    return bad("too many --label options%s", "");
                labels[n_labels++] = v;
            } else if (sf_cli_is_option(a, "--title")) {
                opts.title = v;
            } else if (sf_cli_is_option(a, "--color")) {
                if (strcmp(v, "node") == 0 || strcmp(v, "category") == 0)
                    opts.colour_category = strcmp(v, "category") == 0;
                else
                    return bad("--color takes 'node' or 'category', not '%s'", v);
            } else if (sf_cli_is_option(a, "--zoom")) {
                if (strcmp(v, "all") == 0 || strcmp(v, "peak") == 0)
                    opts.zoom_peak = strcmp(v, "peak") == 0;
                else
                    return bad("--zoom takes 'all' or 'peak', not '%s'", v);
            } else if (sf_cli_is_option(a, "--rank")) {
                char *end = NULL;
                only_rank = strtol(v, &end, 10);
                if (end == v || *end != '\0' || only_rank < 0 || only_rank > 1000000000)
                    return bad("--rank takes a rank (a trace's pid, 0 or more), not '%s'", v);
            } else {
                char *end = NULL;
                long n = strtol(v, &end, 10);
                bool is_width = sf_cli_is_option(a, "--width");
                if (end == v || *end != '\0' || n < (is_width ? 200 : 1) || n > 100000)
                    return bad(is_width ? "--width takes a number of pixels (200..100000), not '%s'"
                                        : "--top takes a positive count, not '%s'",
                               v);
                if (is_width)
                    opts.width_px = (int)n;
                else
                    top = (int)n;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            return bad("unknown option '%s'", a);
        } else {
            if (n_inputs == MAX_INPUTS)
                return bad("too many traces (at most 16)%s", "");
            inputs[n_inputs++] = a;
        }
    }
    if (merge && only_rank >= 0)
        return bad("--rank does not go with --merge%s", "");
    if (summary && merge)
        return bad("--summary and --merge do not go together%s", "");
    if (n_inputs == 0)
        return bad("no trace given%s", "");
    for (int i = 0; i < n_inputs; i++)
        if (labels[i] == NULL)
            labels[i] = base_name(inputs[i]);

    if (summary && n_inputs == 2) {
        /* Two traces: the peak of each and their difference, per rank. */
        if (output != NULL)
            return bad("--summary prints to stdout; drop -o %s", output);
        sf_mv_trace_t *two[2] = {NULL, NULL};
        sf_status_t st = SF_OK;
        for (int i = 0; i < 2 && st == SF_OK; i++) {
            st = sf_mv_trace_load(inputs[i], &two[i], &err);
            if (st == SF_OK && only_rank >= 0)
                st = sf_mv_trace_keep_rank(two[i], only_rank, &err);
        }
        if (st == SF_OK)
            st = sf_mv_summary_compare_print(two[0], two[1], json, stdout, &err);
        sf_mv_trace_free(two[0]);
        sf_mv_trace_free(two[1]);
        return st == SF_OK ? 0 : sf_cli_fail(&err);
    }
    if (summary) {
        if (n_inputs != 1)
            return bad("--summary takes one trace or two%s", "");
        if (output != NULL)
            return bad("--summary prints to stdout; drop -o %s", output);
        sf_mv_trace_t *t = NULL;
        sf_status_t st = sf_mv_trace_load(inputs[0], &t, &err);
        if (st == SF_OK && only_rank >= 0)
            st = sf_mv_trace_keep_rank(t, only_rank, &err);
        if (st == SF_OK)
            st = sf_mv_summary_print(t, json, top, stdout, &err);
        sf_mv_trace_free(t);
        return st == SF_OK ? 0 : sf_cli_fail(&err);
    }
    if (json)
        return bad("--json goes with --summary%s", "");
    if (output == NULL)
        return bad("no output file: give -o FILE (.html, .svg%s)", merge ? ", .json" : "");

    sf_mv_out_t out = {0};
    sf_status_t st;
    if (merge) {
        if (n_inputs < 2)
            return bad("--merge takes two or more traces%s", "");
        if (n_inputs > 26)
            return bad("--merge takes at most 26 traces%s", "");
        if (!ends_with(output, ".json"))
            return bad("--merge writes a Chrome trace: -o must end in .json, not '%s'", output);
        if ((st = sf_mv_out_open(output, &out, &err)) == SF_OK &&
            (st = sf_mv_merge_write(inputs, labels, n_inputs, out.fp, &err)) == SF_OK)
            st = sf_mv_out_commit(&out, &err);
        sf_mv_out_abort(&out);
        return st == SF_OK ? 0 : sf_cli_fail(&err);
    }

    bool html = ends_with(output, ".html") || ends_with(output, ".htm");
    if (!html && !ends_with(output, ".svg"))
        return bad("cannot tell the format of '%s': -o takes FILE.html or FILE.svg", output);
    if (n_inputs > SF_MV_MAX_RUNS)
        return bad("a picture shows one trace or compares two%s", "");
    sf_mv_trace_t *runs[SF_MV_MAX_RUNS] = {NULL, NULL};
    st = SF_OK;
    for (int i = 0; i < n_inputs && st == SF_OK; i++) {
        st = sf_mv_trace_load(inputs[i], &runs[i], &err);
        if (st == SF_OK && only_rank >= 0)
            st = sf_mv_trace_keep_rank(runs[i], only_rank, &err);
        opts.labels[i] = labels[i];
    }
    if (st == SF_OK && (st = sf_mv_out_open(output, &out, &err)) == SF_OK) {
        st = html ? sf_mv_html_write(runs, n_inputs, &opts, out.fp, &err)
                  : sf_mv_svg_write(runs, n_inputs, &opts, out.fp, &err);
        if (st == SF_OK)
            st = sf_mv_out_commit(&out, &err);
    }
    sf_mv_out_abort(&out);
    for (int i = 0; i < n_inputs; i++)
        sf_mv_trace_free(runs[i]);
    return st == SF_OK ? 0 : sf_cli_fail(&err);
}
