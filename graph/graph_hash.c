/* The graph's identity for the rendezvous: FNV-1a over a canonical text of
 * what every rank must agree on. `rank` is left out on purpose (it is the
 * one param that differs), and so are shapes, which may depend on it. */
#include <stdio.h>
#include <string.h>

#include "graph.h"
#include "hash.h"

static uint64_t fnv1a(uint64_t h, const char *s)
{
    h = sf_hash_fnv1a64_add(h, s, strlen(s));
    /* A separator byte, so ("ab","c") and ("a","bc") differ. */
    return sf_hash_fnv1a64_add(h, "\xff", 1);
}

uint64_t sf_graph_hash(const sf_graph_t *g)
{
    uint64_t h = SF_HASH_FNV1A64_INIT;
    h = fnv1a(h, g->name);
    char text[1024];
    for (int i = 0; i < g->n_params; i++) {
        if (strcmp(g->params[i].name, "rank") == 0)
            continue;
        h = fnv1a(h, g->params[i].name);
        sf_value_format(&g->params[i].value, text, sizeof text);
        h = fnv1a(h, text);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const sf_node_t *n = &g->nodes[i];
        h = fnv1a(h, n->name);
        h = fnv1a(h, n->op->name);
        for (int k = 0; k < n->n_in; k++)
            h = fnv1a(h, g->edges[n->in[k]].name);
        for (int k = 0; k < n->n_out; k++)
            h = fnv1a(h, g->edges[n->out[k]].name);
    }
    for (int k = 0; k < g->n_inputs; k++)
        h = fnv1a(h, g->edges[g->inputs[k]].name);
    for (int k = 0; k < g->n_outputs; k++)
        h = fnv1a(h, g->edges[g->outputs[k]].name);
    return h;
}
