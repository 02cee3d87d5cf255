/* shardflow plan: the run on the meta device. Same scheduler, same
 * allocator, no memory touched: the planned peak equals the measured one. */
#include <stdlib.h>
#include <string.h>

#include "byte_size.h"
#include "cli.h"
#include "commands.h"
#include "cuda_device.h"
#include "graph_session.h"
#include "plan_report.h"
#include "report.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shardflow plan GRAPH.yaml [options]\n"
            "\n"
            "  --set KEY=VALUE     override a graph param (repeatable)\n"
            "  --world N           plan every rank of an N-rank group (default 1)\n"
            "  --free eager|end    liveness policy, as for run\n"
            "  --alias on|off      compute buffers in place in their reader's output (a\n"
            "                      concat's inputs, a pad's input) or give each its own\n"
            "                      allocation, as for run (default on)\n"
            "  --device cpu|cuda   whose kernels' scratch rules to plan with (default cpu); the\n"
            "                      plan of a cuda run equals its tracked peak (no GPU needed)\n"
            "  --explain           list each rank's in-place buffers after the table\n"
            "  --trace FILE.json   Chrome trace of the planned buffer lifetimes\n"
            "  --json              one JSON object on stdout instead of the table\n"
            "  --steps N           plan a run of N steps, numbered from 0 as run numbers them:\n"
            "                      step 0 and, for N > 1, step 1, which holds the weights from\n"
            "                      its start and which later steps repeat;\n"
            "                      the table shows the higher peak, stderr both\n"
            "  --mem-limit BYTES   per-rank memory limit (80G, 512M, 1024; K/M/G/T = 1024^n):\n"
            "                      say whether each rank's peak fits (a note on stderr)\n"
            "\n"
            "pre-launch report (any of these prints it instead of the plain table):\n"
            "  --device-mem BYTES  the device's memory per rank (80G, 141G): fits or not and\n"
            "                      the headroom, per rank; the peak split by category\n"
            "  --rank R            plan only rank R of --world N\n"
            "  --compare K=V1,V2   plan each value of param K, side by side\n"
            "  --sweep K[:STEP]    the largest multiple of STEP (default 1) for param K whose\n"
            "                      peak fits --device-mem, by doubling then bisection\n"
            "\n"
            "exit status: 0 ok, 2 bad input or a rank's peak over --mem-limit,\n"
            "3 a rank over --device-mem (or a sweep where nothing fits), 1 other failures\n");
}

/* One rank's plan: the first step, and for several steps the second too
 * (said on stderr); the report keeps the higher peak, as `run` does. */
static sf_status_t plan_rank(const sf_graph_t *g, const sf_session_opts_t *o, int n_steps,
                             sf_rank_report_t *report, sf_err_t *err)
{
    if (n_steps == 1)
        return sf_session_run(g, o, false, report, err);
    sf_rank_report_t steps[2];
    sf_status_t st = sf_session_plan_steps(g, o, n_steps, steps, err);
    if (st != SF_OK)
        return st;
    /* Numbered from 0, as run's progress line and its step<k>/ folders are. */
    char later[32];
    if (n_steps == 2)
        snprintf(later, sizeof later, "step 1");
    else
        snprintf(later, sizeof later, "steps 1-%d", n_steps - 1);
    fprintf(stderr, "rank %d: step 0 peak %llu bytes at %s; %s peak %llu bytes at %s\n", o->rank,
            (unsigned long long)steps[0].stats.peak_bytes, steps[0].peak_node, later,
            (unsigned long long)steps[1].stats.peak_bytes, steps[1].peak_node);
    *report = steps[steps[1].stats.peak_bytes > steps[0].stats.peak_bytes];
    report->stats.peak_node = report->peak_node;
    report->stats.floor_node = report->floor_node;
    return SF_OK;
}

int sf_cmd_plan(int argc, char **argv)
{
    sf_cli_graph_args_t *a = calloc(1, sizeof *a);
    SF_ASSERT(a != NULL);
    sf_err_t err = {0};
    sf_status_t st = SF_OK; /* err.code holds the first failure; st is only the last */
    sf_session_opts_t o = {.dev = sf_device_meta(), .free_policy = SF_FREE_EAGER, .world = 1};
    const char *trace_path = NULL;
    uint64_t mem_limit = 0; /* 0: no --mem-limit */
    int n_over = 0;
    int max_rank = 0;
    bool in_place = true, explain = false;
    int n_steps = 1;
    sf_plan_report_opts_t ro;
    sf_plan_report_opts_init(&ro);
    for (int i = 1; i < argc && err.code == SF_OK; i++) {
        const char *arg = argv[i];
        if (sf_cli_take_common(a, argc, argv, &i, &err) != 0 ||
            sf_plan_report_take(&ro, argc, argv, &i, &err) != 0)
            continue;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            free(a);
            return 0;
        } else if (sf_cli_is_option(arg, "--world")) {
            const char *v = sf_cli_option_value(argc, argv, &i, &err);
            if (v != NULL && sf_cli_parse_world(v, &o.world, &err) != SF_OK)
                continue; /* err holds it; the loop stops */
        } else if (sf_cli_is_option(arg, "--free")) {
            const char *v = sf_cli_option_value(argc, argv, &i, &err);
            if (v != NULL && !sf_free_policy_parse(v, &o.free_policy))
                sf_err_set(&err, SF_ERR_INPUT, NULL, "--free expects eager or end, got '%s'", v);
        } else if (sf_cli_is_option(arg, "--alias")) {
            const char *v = sf_cli_option_value(argc, argv, &i, &err);
            if (v != NULL && !sf_cli_parse_on_off("--alias", v, &in_place, &err))
                continue; /* err holds it; the loop stops */
            o.no_alias = !in_place;
        } else if (sf_cli_is_option(arg, "--device")) {
            const char *v = sf_cli_option_value(argc, argv, &i, &err);
            if (v != NULL && strcmp(v, "cpu") == 0)
                o.dev = sf_device_meta();
            else if (v != NULL && strcmp(v, "cuda") == 0)
                o.dev = sf_cuda_plan_device();
            else if (v != NULL)
                sf_err_set(&err, SF_ERR_INPUT, NULL, "--device expects cpu or cuda, got '%s'", v);
        } else if (strcmp(arg, "--explain") == 0) {
            explain = true;
        } else if (sf_cli_is_option(arg, "--trace")) {
            trace_path = sf_cli_option_value(argc, argv, &i, &err);
        } else if (sf_cli_is_option(arg, "--mem-limit")) {
            const char *v = sf_cli_option_value(argc, argv, &i, &err);
            if (v != NULL && sf_byte_size_parse("--mem-limit", v, &mem_limit, &err) != SF_OK)
                continue; /* err holds it; the loop stops */
        } else if (sf_cli_is_option(arg, "--steps")) {
            const char *v = sf_cli_option_value(argc, argv, &i, &err);
            char *end = NULL;
            long n = v != NULL ? strtol(v, &end, 10) : 0;
            if (v != NULL && (end == v || *end != '\0' || n < 1 || n > 1000000))
                sf_err_set(&err, SF_ERR_INPUT, NULL, "--steps expects 1..1000000, got '%s'", v);
            n_steps = (int)n;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            sf_err_set(&err, SF_ERR_INPUT, NULL, "plan: unknown option '%s' (see --help)", arg);
        } else if (a->graph_path == NULL) {
            a->graph_path = arg;
        } else {
            sf_err_set(&err, SF_ERR_INPUT, NULL, "plan: unexpected argument '%s'", arg);
        }
    }
    if (err.code == SF_OK && sf_plan_report_wanted(&ro) && trace_path != NULL)
        sf_err_set(&err, SF_ERR_INPUT, NULL,
                   "--trace goes with a plain plan, not with --device-mem, --rank, --compare or "
                   "--sweep");
    if (err.code == SF_OK && sf_plan_report_wanted(&ro)) {
        int report_rc = sf_plan_report_run(a, &o, mem_limit, &ro);
        free(a);
        return report_rc;
    }
    sf_graph_t *g = NULL;
    sf_trace_t *trace = NULL;
    sf_rank_report_t *reports = calloc((size_t)(o.world > 0 ? o.world : 1), sizeof *reports);
    SF_ASSERT(reports != NULL);
    if (err.code == SF_OK && trace_path != NULL && sf_trace_open(trace_path, &trace, &err) == SF_OK)
        o.trace = trace;
    /* Each rank loads its own copy: shapes may depend on `rank` (an uneven
     * all_to_all), and `world` is the group's size on every rank. */
    sf_ops_register_all();
    for (int r = 0; err.code == SF_OK && r < o.world; r++) {
        sf_graph_free(g);
        g = NULL;
        if (a->graph_path == NULL)
            st = sf_err_set(&err, SF_ERR_INPUT, NULL, "plan: no graph file given (see --help)");
        else
            st = sf_graph_load_file_ranked(a->graph_path, a->sets, a->n_sets, r, o.world, &g,
                                           &err);
        o.rank = r;
        o.n_steps = n_steps;
        if (err.code == SF_OK)
            st = plan_rank(g, &o, n_steps, &reports[r], &err);
        /* The verdict now: the snapshot's names belong to this rank's graph. */
        if (err.code == SF_OK && mem_limit != 0 && reports[r].stats.peak_bytes > mem_limit) {
            sf_rank_report_t planned;
            sf_err_t over = {0};
            if (sf_session_check_mem_limit(g, &o, mem_limit, &planned, &over) == SF_ERR_INPUT) {
                sf_cli_print_error(&over);
                sf_report_print_mem_snapshot(stderr, &planned.mem_snap, false);
                n_over++;
            }
        }
        if (err.code == SF_OK && reports[r].stats.peak_bytes > reports[max_rank].stats.peak_bytes)
            max_rank = r;
    }
    if (trace != NULL) {
        if (err.code == SF_OK)
            st = sf_trace_close(trace, &err);
        else
            sf_trace_abort(trace);
    }
    int rc = 0;
    if (err.code == SF_OK) {
        sf_report_how_t how = {.device = sf_device_name(o.dev), .policy = o.free_policy, .world = o.world,
                               .in_place = !o.no_alias, .explain = explain};
        sf_report_print(g, &how, reports, a->json);
        if (n_over > 0) {
            rc = sf_status_exit_code(SF_ERR_INPUT);
        } else if (mem_limit != 0) {
            char peak[32], lim[32];
            sf_cli_format_bytes(reports[max_rank].stats.peak_bytes, peak, sizeof peak);
            sf_cli_format_bytes(mem_limit, lim, sizeof lim);
            fprintf(stderr, "fits: peak %llu bytes (%s, rank %d) of limit %llu bytes (%s)\n",
                    (unsigned long long)reports[max_rank].stats.peak_bytes, peak, max_rank,
                    (unsigned long long)mem_limit, lim);
        }
    } else {
        rc = sf_cli_fail(&err);
    }
    free(reports);
    sf_graph_free(g);
    free(a);
    (void)st;
    return rc;
}
