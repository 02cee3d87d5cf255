/* The graph IR's life cycle and lookups. Loading lives in graph_load.c;
 * every pointer freed here is owned by the graph (graph.h). */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

void sf_graph_free(sf_graph_t *g)
{
    if (g == NULL)
        return;
    free(g->name);
    for (int i = 0; i < g->n_params; i++) {
        free(g->params[i].name);
        sf_value_fini(&g->params[i].value);
    }
    free(g->params);
    for (int i = 0; i < g->n_edges; i++)
        free(g->edges[i].name);
    free(g->edges);
    for (int i = 0; i < g->n_nodes; i++) {
        sf_node_t *n = &g->nodes[i];
        free(n->name);
        free(n->in);
        free(n->out);
        if (n->attrs != NULL && n->op != NULL)
            for (int k = 0; k < n->op->n_attrs; k++) {
                free(n->attrs[k].s);
                free(n->attrs[k].ints);
            }
        free(n->attrs);
    }
    free(g->nodes);
    free(g->order);
    free(g->inputs);
    for (int i = 0; i < g->n_outputs && g->output_names != NULL; i++)
        free(g->output_names[i]);
    free(g->output_names);
    free(g->outputs);
    for (int i = 0; i < g->n_files; i++)
        free(g->files[i]);
    free(g->files);
    free(g);
}

int sf_graph_find_edge(const sf_graph_t *g, const char *name)
{
    for (int i = 0; i < g->n_edges; i++)
        if (strcmp(g->edges[i].name, name) == 0)
            return i;
    return -1;
}

int sf_graph_find_node(const sf_graph_t *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0)
            return i;
    return -1;
}

const sf_param_t *sf_graph_find_param(const sf_graph_t *g, const char *name)
{
    for (int i = 0; i < g->n_params; i++)
        if (strcmp(g->params[i].name, name) == 0)
            return &g->params[i];
    return NULL;
}
