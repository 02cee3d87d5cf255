/* shardflow check: load and validate a graph; exit 2 with file:line:col on
 * the first problem. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

int sf_cmd_check(int argc, char **argv)
{
    sf_cli_graph_args_t *a = calloc(1, sizeof *a);
    SF_ASSERT(a != NULL);
    sf_err_t err = {0};
    sf_status_t st = SF_OK; /* err.code holds the first failure; st is only the last */
    int world = 0;          /* --world; 0: not given (rank 0 of 1) */
    for (int i = 1; i < argc && err.code == SF_OK; i++) {
        const char *arg = argv[i];
        if (sf_cli_take_common(a, argc, argv, &i, &err) != 0)
            continue;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            printf("usage: shardflow check GRAPH.yaml [--set KEY=VALUE]... [--world N]\n"
                   "\n"
                   "Loads the graph, checks it completely (syntax, params, ops, attrs, edges,\n"
                   "cycles, shapes and dtypes) and prints a one-line summary.\n"
                   "  --world N   check it for every rank of an N-rank group, as plan and run\n"
                   "              load it (shapes may depend on rank and world)\n"
                   "exit status: 0 valid, 2 invalid (the error names file:line:col)\n");
            free(a);
            return 0;
        } else if (sf_cli_is_option(arg, "--world")) {
            const char *v = sf_cli_option_value(argc, argv, &i, &err);
            if (v != NULL && sf_cli_parse_world(v, &world, &err) != SF_OK)
                continue; /* err holds it; the loop stops */
        } else if (arg[0] == '-' && arg[1] != '\0') {
            sf_err_set(&err, SF_ERR_INPUT, NULL, "check: unknown option '%s' (see --help)", arg);
        } else if (a->graph_path == NULL) {
            a->graph_path = arg;
        } else {
            sf_err_set(&err, SF_ERR_INPUT, NULL, "check: unexpected argument '%s'", arg);
        }
    }
    sf_graph_t *g = NULL;
    if (err.code == SF_OK && world == 0) {
        st = sf_cli_load_graph(a, &g, &err);
    } else if (err.code == SF_OK && a->graph_path == NULL) {
        st = sf_err_set(&err, SF_ERR_INPUT, NULL, "check: no graph file given (see --help)");
    } else if (err.code == SF_OK) {
        /* Every rank, as plan --world loads them: an uneven split or a
         * rank-dependent shape can fail on one rank only. */
        sf_ops_register_all();
        for (int r = 0; r < world && err.code == SF_OK; r++) {
            sf_graph_free(g);
            g = NULL;
            st = sf_graph_load_file_ranked(a->graph_path, a->sets, a->n_sets, r, world, &g, &err);
            size_t n = strlen(err.msg);
            if (st != SF_OK && world > 1 && n + 1 < sizeof err.msg)
                snprintf(err.msg + n, sizeof err.msg - n, " (rank %d of world %d)", r, world);
        }
    }
    int rc = 0;
    if (err.code == SF_OK && world > 0)
        printf("ok: graph '%s': %d nodes, %d tensors, %d inputs, %d outputs (rank %d of world %d; "
               "all %d ranks checked)\n",
               g->name, g->n_nodes, g->n_edges, g->n_inputs, g->n_outputs, world - 1, world,
               world);
    else if (err.code == SF_OK)
        printf("ok: graph '%s': %d nodes, %d tensors, %d inputs, %d outputs\n", g->name,
               g->n_nodes, g->n_edges, g->n_inputs, g->n_outputs);
    else
        rc = sf_cli_fail(&err);
    sf_graph_free(g);
    free(a);
    (void)st;
    return rc;
}
