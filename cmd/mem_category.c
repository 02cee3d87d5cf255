/* Buffer categories for plan's breakdown: each edge's facts (its name, the
 * op that produced it, whether the graph keeps it as an output) go through
 * memviz's rule table (memviz/memviz_category.c), the one the pictures'
 * legend uses, so a new op or naming convention is one row there. */
#include "mem_category.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static const char *const cat_keys[SF_MV_CAT_COUNT] = {
    "weights", "activations", "logits", "communication", "scratch", "outputs",
};

const char *sf_mem_cat_key(sf_mv_cat_t c)
{
    return (unsigned)c < SF_MV_CAT_COUNT ? cat_keys[c] : "?";
}

static int base_of(const sf_graph_t *g, int v)
{
    /* A view chain ends at the edge that owns the buffer; bounded by the edge
     * count in case of a malformed chain (the validator refuses cycles). */
    for (int k = 0; k < g->n_edges && g->edges[v].view_of >= 0; k++)
        v = g->edges[v].view_of;
    return v;
}

static int by_address(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return x < y ? -1 : x > y;
}

void sf_mem_cat_tally_init(sf_mem_cat_tally_t *t, const sf_graph_t *g)
{
    memset(t, 0, sizeof *t);
    t->g = g;
    size_t n = (size_t)g->n_edges + 1;
    t->edge_cat = sf_xalloc_calloc(n, sizeof *t->edge_cat);
    t->by_name = sf_xalloc_calloc(n, sizeof *t->by_name);
    t->by_name_edge = sf_xalloc_calloc(n, sizeof *t->by_name_edge);
    bool *is_out = sf_xalloc_calloc(n, sizeof *is_out);
    for (int k = 0; k < g->n_outputs; k++)
        is_out[base_of(g, g->outputs[k])] = true;
    for (int v = 0; v < g->n_edges; v++) {
        const sf_edge_t *e = &g->edges[v];
        sf_mv_cat_facts_t f = {.tensor = e->name,
                               .op = e->producer >= 0 ? g->nodes[e->producer].op->name : "",
                               .is_kept = is_out[v]};
        t->edge_cat[v] = sf_mv_category_of(&f);
        t->by_name[v] = e->name;
    }
    free(is_out);
    /* The executor names a buffer by its edge's own name string, so the
     * address finds the edge in O(log n) at every event. */
    qsort(t->by_name, (size_t)g->n_edges, sizeof *t->by_name, by_address);
    for (int k = 0; k < g->n_edges; k++)
        t->by_name_edge[k] = -1;
    for (int v = 0; v < g->n_edges; v++) {
        const char *key = g->edges[v].name;
        const char **hit = bsearch(&key, t->by_name, (size_t)g->n_edges, sizeof *t->by_name,
                                   by_address);
        if (hit != NULL)
            t->by_name_edge[hit - t->by_name] = v;
    }
}

void sf_mem_cat_tally_fini(sf_mem_cat_tally_t *t)
{
    free(t->edge_cat);
    free(t->by_name);
    free(t->by_name_edge);
    memset(t, 0, sizeof *t);
}

sf_mv_cat_t sf_mem_cat_of_edge(const sf_mem_cat_tally_t *t, int v)
{
    return v >= 0 && v < t->g->n_edges ? t->edge_cat[v] : SF_MV_CAT_ACTIVATIONS;
}

sf_mv_cat_t sf_mem_cat_of_tensor(const sf_mem_cat_tally_t *t, const char *tensor)
{
    if (tensor == NULL)
        return SF_MV_CAT_ACTIVATIONS;
    if (strcmp(tensor, "<scratch>") == 0)
        return SF_MV_CAT_SCRATCH;
    const char **hit = bsearch(&tensor, t->by_name, (size_t)t->g->n_edges, sizeof *t->by_name,
                               by_address);
    int v = hit != NULL ? t->by_name_edge[hit - t->by_name] : sf_graph_find_edge(t->g, tensor);
    return sf_mem_cat_of_edge(t, v);
}

void sf_mem_cat_observe(void *ctx, const sf_mem_event_t *ev)
{
    sf_mem_cat_tally_t *t = ctx;
    sf_mv_cat_t c = sf_mem_cat_of_tensor(t, ev->buf->tensor);
    if (ev->kind == SF_MEM_EV_ALLOC) {
        t->live[c] += ev->buf->counted_bytes;
        if (ev->live_bytes > t->peak_bytes) {
            t->peak_bytes = ev->live_bytes;
            memcpy(t->at_peak, t->live, sizeof t->at_peak);
        }
    } else {
        t->live[c] -= ev->buf->counted_bytes;
    }
}
