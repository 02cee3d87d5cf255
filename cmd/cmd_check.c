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
    for (int i = 1; i < argc && err.code == SF_OK; i++) {
        const char *arg = argv[i];
        if (sf_cli_take_common(a, argc, argv, &i, &err) != 0)
            continue;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            printf("usage: shardflow check GRAPH.yaml [--set KEY=VALUE]...\n"
                   "\n"
                   "Loads the graph, checks it completely (syntax, params, ops, attrs, edges,\n"
                   "cycles, shapes and dtypes) and prints a one-line summary.\n"
                   "exit status: 0 valid, 2 invalid (the error names file:line:col)\n");
            free(a);
            return 0;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            sf_err_set(&err, SF_ERR_INPUT, NULL, "check: unknown option '%s' (see --help)", arg);
        } else if (a->graph_path == NULL) {
            a->graph_path = arg;
        } else {
            sf_err_set(&err, SF_ERR_INPUT, NULL, "check: unexpected argument '%s'", arg);
        }
    }
    sf_graph_t *g = NULL;
    if (err.code == SF_OK)
        st = sf_cli_load_graph(a, &g, &err);
    int rc = 0;
    if (err.code == SF_OK)
        printf("ok: graph '%s': %d nodes, %d tensors, %d inputs, %d outputs\n", g->name,
               g->n_nodes, g->n_edges, g->n_inputs, g->n_outputs);
    else
        rc = sf_cli_fail(&err);
    sf_graph_free(g);
    free(a);
    (void)st;
    return rc;
}
