/* A program built against the installed header and library alone (through
 * pkg-config): plan a graph with one override and print the figures.
 * usage: plan_example GRAPH.yaml KEY=VALUE */
#include <shardflow.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3 || strchr(argv[2], '=') == NULL)
        return 2;
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)(strchr(argv[2], '=') - argv[2]), argv[2]);
    shardflow_set_t set = {key, strchr(argv[2], '=') + 1};
    shardflow_graph_t *g = NULL;
    shardflow_error_t *err = NULL;
    shardflow_stats_t s;
    if (shardflow_graph_load(argv[1], &set, 1, 0, 1, &g, &err) != SHARDFLOW_OK ||
        shardflow_plan(g, "eager", 1, &s, &err) != SHARDFLOW_OK) {
        fprintf(stderr, "%s\n", shardflow_error_message(err));
        int status = shardflow_error_exit_status(err);
        shardflow_error_free(err);
        shardflow_graph_free(g);
        return status;
    }
    printf("%s %s: peak %llu bytes at %s, end %llu bytes\n", shardflow_version(),
           shardflow_graph_name(g), (unsigned long long)s.peak_bytes, s.peak_node,
           (unsigned long long)s.end_bytes);
    shardflow_graph_free(g);
    return 0;
}
