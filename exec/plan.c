/* Liveness over the graph's order (computed once, by validation: see
 * sf_graph_t.order). Bookkeeping lives in side arrays indexed by dense ids. */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

bool sf_free_policy_parse(const char *s, sf_free_policy_t *out)
{
    if (strcmp(s, "eager") == 0) {
        *out = SF_FREE_EAGER;
        return true;
    }
    if (strcmp(s, "end") == 0) {
        *out = SF_FREE_END;
        return true;
    }
    return false;
}

sf_plan_t *sf_plan_build(const sf_graph_t *g, sf_free_policy_t policy)
{
    SF_ASSERT(g->order != NULL);
    int nn = g->n_nodes, nv = g->n_edges;
    sf_plan_t *p = sf_xalloc_calloc(1, sizeof *p);
    p->n_positions = nn;
    p->order = g->order;
    p->base_of = sf_xalloc_calloc((size_t)nv, sizeof *p->base_of);
    p->last_pos = sf_xalloc_calloc((size_t)nv, sizeof *p->last_pos);
    p->free_start = sf_xalloc_calloc((size_t)nn + 1, sizeof *p->free_start);
    int *pos_of = sf_xalloc_calloc((size_t)nn, sizeof *pos_of);
    for (int s = 0; s < nn; s++)
        pos_of[p->order[s]] = s;

    /* Views chain back to the edge that owns the memory. Producers run
     * before consumers, so resolving in order finds every base set. */
    for (int v = 0; v < nv; v++)
        p->base_of[v] = v;
    for (int s = 0; s < nn; s++) {
        const sf_node_t *node = &g->nodes[p->order[s]];
        for (int k = 0; k < node->n_out; k++) {
            int v = node->out[k];
            if (g->edges[v].view_of >= 0)
                p->base_of[v] = p->base_of[g->edges[v].view_of];
        }
    }

    /* A buffer dies after the last position that touches any edge living in
     * it: its producer's position (a tensor nobody reads dies at once) or the
     * position of its last reader. Inputs nobody reads die after position 0. */
    for (int v = 0; v < nv; v++)
        p->last_pos[v] = -1;
    for (int v = 0; v < nv; v++) {
        int prod = g->edges[v].producer;
        int s = prod >= 0 ? pos_of[prod] : 0;
        int b = p->base_of[v];
        if (s > p->last_pos[b])
            p->last_pos[b] = s;
    }
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int b = p->base_of[g->nodes[i].in[k]];
            if (pos_of[i] > p->last_pos[b])
                p->last_pos[b] = pos_of[i];
        }
    for (int v = 0; v < nv; v++) {
        int prod = g->edges[v].producer;
        bool persists = prod >= 0 && g->nodes[prod].op->outputs_persist;
        if (g->edges[v].is_output || persists || policy == SF_FREE_END)
            p->last_pos[p->base_of[v]] = nn;
    }

    /* Free lists as CSR, ascending edge index within a position. */
    int n_free = 0;
    for (int v = 0; v < nv; v++)
        if (p->base_of[v] == v && p->last_pos[v] < nn) {
            p->free_start[p->last_pos[v] + 1]++;
            n_free++;
        }
    for (int s = 0; s < nn; s++)
        p->free_start[s + 1] += p->free_start[s];
    p->free_vals = sf_xalloc_calloc((size_t)n_free, sizeof *p->free_vals);
    int *fill = sf_xalloc_calloc((size_t)nn + 1, sizeof *fill);
    for (int v = 0; v < nv; v++)
        if (p->base_of[v] == v && p->last_pos[v] < nn) {
            int s = p->last_pos[v];
            p->free_vals[p->free_start[s] + fill[s]++] = v;
        }
    free(fill);
    free(pos_of);
    return p;
}

void sf_plan_free(sf_plan_t *p)
{
    if (p == NULL)
        return;
    free(p->base_of);
    free(p->last_pos);
    free(p->free_start);
    free(p->free_vals);
    free(p);
}
