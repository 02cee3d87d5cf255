/* Order and liveness. The order is Kahn's algorithm taking, among ready
 * nodes, the one written first in the file: deterministic, and equal to file
 * order when the file is already topological. Bookkeeping lives in side
 * arrays indexed by dense ids. */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

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

/* A binary min-heap of node indices: the ready set. */
typedef struct ready_heap {
    int *items;
    int n;
} ready_heap_t;

static void heap_push(ready_heap_t *h, int v)
{
    int i = h->n++;
    h->items[i] = v;
    while (i > 0 && h->items[(i - 1) / 2] > h->items[i]) {
        int p = (i - 1) / 2, t = h->items[p];
        h->items[p] = h->items[i];
        h->items[i] = t;
        i = p;
    }
}

static int heap_pop(ready_heap_t *h)
{
    int top = h->items[0];
    h->items[0] = h->items[--h->n];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->items[l] < h->items[m])
            m = l;
        if (r < h->n && h->items[r] < h->items[m])
            m = r;
        if (m == i)
            break;
        int t = h->items[m];
        h->items[m] = h->items[i];
        h->items[i] = t;
        i = m;
    }
    return top;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n > 0 ? n : 1, size);
    SF_ASSERT(p != NULL);
    return p;
}

/* Consumers of each value, as CSR arrays, so the order is O(nodes + edges). */
static sf_status_t plan_order(const sf_graph_t *g, int *order, sf_err_t *err)
{
    int nn = g->n_nodes, nv = g->n_values;
    int *indeg = xcalloc((size_t)nn, sizeof *indeg);
    int *cons_start = xcalloc((size_t)nv + 1, sizeof *cons_start);
    int n_edges = 0;
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            cons_start[g->nodes[i].in[k] + 1]++;
            n_edges++;
        }
    for (int v = 0; v < nv; v++)
        cons_start[v + 1] += cons_start[v];
    int *cons = xcalloc((size_t)n_edges, sizeof *cons);
    int *fill = xcalloc((size_t)nv, sizeof *fill);
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int v = g->nodes[i].in[k];
            cons[cons_start[v] + fill[v]++] = i;
            if (g->values[v].producer >= 0)
                indeg[i]++;
        }
    ready_heap_t heap = {.items = xcalloc((size_t)nn, sizeof(int)), .n = 0};
    for (int i = 0; i < nn; i++)
        if (indeg[i] == 0)
            heap_push(&heap, i);
    int n_done = 0;
    while (heap.n > 0) {
        int i = heap_pop(&heap);
        order[n_done++] = i;
        for (int k = 0; k < g->nodes[i].n_out; k++) {
            int v = g->nodes[i].out[k];
            for (int c = cons_start[v]; c < cons_start[v + 1]; c++)
                if (--indeg[cons[c]] == 0)
                    heap_push(&heap, cons[c]);
        }
    }
    sf_status_t st = SF_OK;
    if (n_done < nn) {
        for (int i = 0; i < nn; i++)
            if (indeg[i] > 0) {
                st = sf_err_set(err, SF_ERR_GRAPH, &g->nodes[i].pos,
                                "node '%s' is on a cycle", g->nodes[i].name);
                break;
            }
    }
    free(heap.items);
    free(fill);
    free(cons);
    free(cons_start);
    free(indeg);
    return st;
}

sf_status_t sf_plan_build(const sf_graph_t *g, sf_free_policy_t policy, sf_plan_t **out,
                          sf_err_t *err)
{
    *out = NULL;
    int nn = g->n_nodes, nv = g->n_values;
    sf_plan_t *p = xcalloc(1, sizeof *p);
    p->n_steps = nn;
    p->order = xcalloc((size_t)nn, sizeof *p->order);
    p->base_of = xcalloc((size_t)nv, sizeof *p->base_of);
    p->last_step = xcalloc((size_t)nv, sizeof *p->last_step);
    p->free_start = xcalloc((size_t)nn + 1, sizeof *p->free_start);
    sf_status_t st = plan_order(g, p->order, err);
    if (st != SF_OK) {
        sf_plan_free(p);
        return st;
    }
    int *step_of = xcalloc((size_t)nn, sizeof *step_of);
    for (int s = 0; s < nn; s++)
        step_of[p->order[s]] = s;

    /* Views chain back to the value that owns the memory. Producers run
     * before consumers, so resolving in step order finds every base set. */
    for (int v = 0; v < nv; v++)
        p->base_of[v] = v;
    for (int s = 0; s < nn; s++) {
        const sf_node_t *node = &g->nodes[p->order[s]];
        for (int k = 0; k < node->n_out; k++) {
            int v = node->out[k];
            if (g->values[v].view_of >= 0)
                p->base_of[v] = p->base_of[g->values[v].view_of];
        }
    }

    /* A buffer dies after the last step that touches any value living in
     * it: its producer's step (a tensor nobody reads dies at once) or the
     * step of its last reader. Inputs nobody reads die after step 0. */
    for (int v = 0; v < nv; v++)
        p->last_step[v] = -1;
    for (int v = 0; v < nv; v++) {
        int prod = g->values[v].producer;
        int s = prod >= 0 ? step_of[prod] : 0;
        int b = p->base_of[v];
        if (s > p->last_step[b])
            p->last_step[b] = s;
    }
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int b = p->base_of[g->nodes[i].in[k]];
            if (step_of[i] > p->last_step[b])
                p->last_step[b] = step_of[i];
        }
    for (int v = 0; v < nv; v++) {
        int prod = g->values[v].producer;
        bool persists = prod >= 0 && g->nodes[prod].op->outputs_persist;
        if (g->values[v].is_output || persists || policy == SF_FREE_END)
            p->last_step[p->base_of[v]] = nn;
    }

    /* Free lists as CSR, ascending value index within a step. */
    int n_free = 0;
    for (int v = 0; v < nv; v++)
        if (p->base_of[v] == v && p->last_step[v] < nn) {
            p->free_start[p->last_step[v] + 1]++;
            n_free++;
        }
    for (int s = 0; s < nn; s++)
        p->free_start[s + 1] += p->free_start[s];
    p->free_vals = xcalloc((size_t)n_free, sizeof *p->free_vals);
    int *fill = xcalloc((size_t)nn + 1, sizeof *fill);
    for (int v = 0; v < nv; v++)
        if (p->base_of[v] == v && p->last_step[v] < nn) {
            int s = p->last_step[v];
            p->free_vals[p->free_start[s] + fill[s]++] = v;
        }
    free(fill);
    free(step_of);
    *out = p;
    return SF_OK;
}

void sf_plan_free(sf_plan_t *p)
{
    if (p == NULL)
        return;
    free(p->order);
    free(p->base_of);
    free(p->last_step);
    free(p->free_start);
    free(p->free_vals);
    free(p);
}
