/* Liveness over the graph's order (computed once, by validation: see
 * sf_graph_t.order), with the in-place placements of plan_alias.c folded
 * in. Bookkeeping lives in side arrays indexed by dense ids. */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "plan_alias.h"
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

/* Where placed base b finally lives: its root and its byte offset in the
 * root's allocation (the root's front margin comes first). */
static int64_t final_offset(const sf_placement_t *pl, int b, int *root)
{
    int64_t off = 0;
    while (pl->host[b] >= 0) {
        off += pl->slot_offset[b];
        b = pl->host[b];
    }
    *root = b;
    return off + (int64_t)pl->front[b];
}

/* Roots and layouts: every edge's place in an allocation. */
static void place_edges(const sf_graph_t *g, const int *view_base, const sf_placement_t *pl,
                        sf_plan_t *p)
{
    int nv = g->n_edges;
    int64_t *base_off = sf_xalloc_calloc((size_t)nv, sizeof *base_off);
    for (int v = 0; v < nv; v++) {
        if (view_base[v] != v)
            continue;
        int root;
        base_off[v] = final_offset(pl, v, &root);
        SF_ASSERT(base_off[v] >= 0);
        p->base_of[v] = root;
        p->layout[v] = g->edges[v].layout;
        if (pl->host[v] >= 0)
            memcpy(p->layout[v].strides, pl->slot_strides[v], sizeof p->layout[v].strides);
        p->layout[v].offset = (uint64_t)base_off[v];
        if (root == v)
            p->alloc_bytes[v] = pl->front[v] + sf_tensor_nbytes(&g->edges[v].layout) + pl->back[v];
    }
    /* A view moves with its base: placement kept the base's strides
     * wherever the base has views, so only the offset shifts. */
    for (int v = 0; v < nv; v++) {
        int b = view_base[v];
        if (b == v)
            continue;
        p->base_of[v] = p->base_of[b];
        p->layout[v] = g->edges[v].layout;
        p->layout[v].offset += (uint64_t)base_off[b];
    }
    free(base_off);
}

/* A root is allocated just before the first position that produces
 * anything living in it, and freed after the last position touching it. */
static void lifetimes(const sf_graph_t *g, const int *pos_of, sf_free_policy_t policy,
                      sf_plan_t *p, int *alloc_pos)
{
    int nn = g->n_nodes, nv = g->n_edges;
    for (int v = 0; v < nv; v++) {
        p->last_pos[v] = -1;
        alloc_pos[v] = nn;
    }
    for (int v = 0; v < nv; v++) {
        int prod = g->edges[v].producer;
        int s = prod >= 0 ? pos_of[prod] : 0;
        int r = p->base_of[v];
        if (s > p->last_pos[r])
            p->last_pos[r] = s;
        int a = prod >= 0 ? pos_of[prod] : -1;
        if (!(prod >= 0 && g->nodes[prod].op->outputs_are_views) && a < alloc_pos[r])
            alloc_pos[r] = a;
    }
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int r = p->base_of[g->nodes[i].in[k]];
            if (pos_of[i] > p->last_pos[r])
                p->last_pos[r] = pos_of[i];
        }
    for (int v = 0; v < nv; v++) {
        int prod = g->edges[v].producer;
        bool persists = prod >= 0 && g->nodes[prod].op->outputs_persist;
        if (g->edges[v].is_output || persists)
            p->kept[p->base_of[v]] = true;
        if (g->edges[v].is_output || persists || policy == SF_FREE_END)
            p->last_pos[p->base_of[v]] = nn;
    }
}

/* Allocation lists: at each position, the roots first needed there, in the
 * order of the node's outputs (so a plan without placements allocates in
 * the same order as one buffer per output). */
static void alloc_lists(const sf_graph_t *g, const int *alloc_pos, sf_plan_t *p)
{
    int nn = g->n_nodes, nv = g->n_edges;
    p->alloc_start = sf_xalloc_calloc((size_t)nn + 1, sizeof *p->alloc_start);
    p->alloc_vals = sf_xalloc_calloc((size_t)nv + 1, sizeof *p->alloc_vals);
    bool *listed = sf_xalloc_calloc((size_t)nv, sizeof *listed);
    int n = 0;
    for (int s = 0; s < nn; s++) {
        p->alloc_start[s] = n;
        const sf_node_t *node = &g->nodes[p->order[s]];
        if (node->op->outputs_are_views)
            continue;
        for (int k = 0; k < node->n_out; k++) {
            int r = p->base_of[node->out[k]];
            if (alloc_pos[r] == s && !listed[r]) {
                listed[r] = true;
                p->alloc_vals[n++] = r;
            }
        }
    }
    p->alloc_start[nn] = n;
    free(listed);
}

static void free_lists(const sf_graph_t *g, sf_plan_t *p)
{
    int nn = g->n_nodes, nv = g->n_edges;
    p->free_start = sf_xalloc_calloc((size_t)nn + 1, sizeof *p->free_start);
    int n_free = 0;
    for (int v = 0; v < nv; v++)
        if (p->base_of[v] == v && p->last_pos[v] < nn) {
            p->free_start[p->last_pos[v] + 1]++;
            n_free++;
        }
    for (int s = 0; s < nn; s++)
        p->free_start[s + 1] += p->free_start[s];
    p->free_vals = sf_xalloc_calloc((size_t)n_free + 1, sizeof *p->free_vals);
    int *fill = sf_xalloc_calloc((size_t)nn + 1, sizeof *fill);
    for (int v = 0; v < nv; v++)
        if (p->base_of[v] == v && p->last_pos[v] < nn) {
            int s = p->last_pos[v];
            p->free_vals[p->free_start[s] + fill[s]++] = v;
        }
    free(fill);
}

sf_plan_t *sf_plan_build(const sf_graph_t *g, sf_free_policy_t policy, bool in_place)
{
    SF_ASSERT(g->order != NULL);
    int nn = g->n_nodes, nv = g->n_edges;
    sf_plan_t *p = sf_xalloc_calloc(1, sizeof *p);
    p->n_positions = nn;
    p->order = g->order;
    p->in_place = in_place;
    p->base_of = sf_xalloc_calloc((size_t)nv, sizeof *p->base_of);
    p->layout = sf_xalloc_calloc((size_t)nv, sizeof *p->layout);
    p->alloc_bytes = sf_xalloc_calloc((size_t)nv, sizeof *p->alloc_bytes);
    p->last_pos = sf_xalloc_calloc((size_t)nv, sizeof *p->last_pos);
    p->kept = sf_xalloc_calloc((size_t)nv + 1, sizeof *p->kept);
    int *pos_of = sf_xalloc_calloc((size_t)nn + 1, sizeof *pos_of);
    for (int s = 0; s < nn; s++)
        pos_of[p->order[s]] = s;

    /* Views chain back to the edge that owns the memory. Producers run
     * before consumers, so resolving in order finds every base set. */
    int *view_base = sf_xalloc_calloc((size_t)nv + 1, sizeof *view_base);
    for (int v = 0; v < nv; v++)
        view_base[v] = v;
    for (int s = 0; s < nn; s++) {
        const sf_node_t *node = &g->nodes[p->order[s]];
        for (int k = 0; k < node->n_out; k++) {
            int v = node->out[k];
            if (g->edges[v].view_of >= 0)
                view_base[v] = view_base[g->edges[v].view_of];
        }
    }

    sf_placement_t pl;
    sf_placement_decide(g, view_base, in_place, &pl);
    place_edges(g, view_base, &pl, p);
    p->aliases = pl.aliases;
    p->n_aliases = pl.n_aliases;
    pl.aliases = NULL;
    sf_placement_free(&pl);

    p->alloc_pos = sf_xalloc_calloc((size_t)nv + 1, sizeof *p->alloc_pos);
    lifetimes(g, pos_of, policy, p, p->alloc_pos);
    alloc_lists(g, p->alloc_pos, p);
    free_lists(g, p);
    free(view_base);
    free(pos_of);
    return p;
}

void sf_plan_free(sf_plan_t *p)
{
    if (p == NULL)
        return;
    free(p->base_of);
    free(p->layout);
    free(p->alloc_bytes);
    free(p->alloc_pos);
    free(p->alloc_start);
    free(p->alloc_vals);
    free(p->last_pos);
    free(p->kept);
    free(p->free_start);
    free(p->free_vals);
    free(p->aliases);
    free(p);
}
