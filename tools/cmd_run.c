/* shardflow run: execute a graph on the cpu, one process. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "graph_session.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shardflow run GRAPH.yaml [options]\n"
            "\n"
            "  --set KEY=VALUE     override a graph param (repeatable; unknown keys are an error)\n"
            "  --inputs FILE       graph inputs from a .safetensors file, by tensor name\n"
            "  --out DIR           write the graph outputs to DIR/rank<R>.safetensors\n"
            "  --overwrite         replace existing output files (refused otherwise)\n"
            "  --trace FILE.json   Chrome trace of nodes and buffer lifetimes (ui.perfetto.dev)\n"
            "  --free eager|end    free each buffer after its last reader (default) or only at\n"
            "                      the end (the no-liveness baseline)\n"
            "  --profile           per-node wall times, slowest first\n"
            "  --json              one JSON object on stdout instead of the table\n"
            "\n"
            "exit status: 0 ok, 2 bad input (graph, flags, files), 1 other failures\n");
}

int sf_cmd_run(int argc, char **argv)
{
    sf_cli_graph_args_t *a = calloc(1, sizeof *a);
    SF_ASSERT(a != NULL);
    sf_err_t err = {0};
    sf_status_t st = SF_OK; /* err.code holds the first failure; st is only the last */
    sf_session_opts_t o = {.dev = sf_device_cpu(), .free_policy = SF_FREE_EAGER, .world = 1};
    const char *trace_path = NULL;
    bool profile = false;
    int rc = 0;
    for (int i = 1; i < argc && err.code == SF_OK; i++) {
        const char *arg = argv[i];
        int took = sf_cli_take_common(a, argc, argv, &i, &err);
        if (took != 0)
            continue;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            free(a);
            return 0;
        } else if (sf_cli_is_option(arg, "--inputs")) {
            o.inputs_path = sf_cli_option_value(argc, argv, &i, &err);
        } else if (sf_cli_is_option(arg, "--out")) {
            o.out_dir = sf_cli_option_value(argc, argv, &i, &err);
        } else if (strcmp(arg, "--overwrite") == 0) {
            o.overwrite = true;
        } else if (sf_cli_is_option(arg, "--trace")) {
            trace_path = sf_cli_option_value(argc, argv, &i, &err);
        } else if (sf_cli_is_option(arg, "--free")) {
            const char *v = sf_cli_option_value(argc, argv, &i, &err);
            if (v != NULL && !sf_free_policy_parse(v, &o.free_policy))
                sf_err_set(&err, SF_ERR_INPUT, NULL, "--free expects eager or end, got '%s'", v);
        } else if (strcmp(arg, "--profile") == 0) {
            profile = true;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            sf_err_set(&err, SF_ERR_INPUT, NULL, "run: unknown option '%s' (see --help)", arg);
        } else if (a->graph_path == NULL) {
            a->graph_path = arg;
        } else {
            sf_err_set(&err, SF_ERR_INPUT, NULL, "run: unexpected argument '%s'", arg);
        }
    }
    sf_graph_t *g = NULL;
    sf_trace_t *trace = NULL;
    sf_rank_report_t report = {0};
    if (err.code == SF_OK)
        st = sf_cli_load_graph(a, &g, &err);
    if (err.code == SF_OK && o.out_dir != NULL)
        st = sf_session_check_out(o.out_dir, o.rank, o.overwrite, &err);
    if (err.code == SF_OK && trace_path != NULL && sf_trace_open(trace_path, &trace, &err) == SF_OK)
        o.trace = trace;
    if (err.code == SF_OK)
        st = sf_session_run(g, &o, profile, &report, &err);
    if (trace != NULL) {
        if (err.code == SF_OK)
            st = sf_trace_close(trace, &err);
        else
            sf_trace_abort(trace);
    }
    if (err.code == SF_OK) {
        sf_report_print(g, "cpu", o.free_policy, 1, &report, a->json);
        if (profile && !a->json)
            sf_report_print_profile(g, &report);
    } else {
        rc = sf_cli_fail(&err);
    }
    free(report.node_us);
    sf_graph_free(g);
    free(a);
    (void)st;
    return rc;
}
