/* The floor of a plan: what this order of the graph must hold, whatever
 * the allocator does. Outputs and persistent tensors are held from the
 * moment they are made to the end, and a node cannot run without its
 * inputs, its outputs and its scratch live at once. So at each node the
 * live set contains at least the kept tensors made so far plus the node's
 * own set, and at the end all kept tensors: the largest of these is a
 * lower bound on the peak, reached only when nothing else ever lingers. The
 * ratio peak / floor says how much better freeing or more in-place work
 * could still gain; chunking a node lowers the floor itself (its set). */
#include "plan.h"

#include <stdlib.h>

#include "mem.h"
#include "xalloc.h"

sf_plan_floor_t sf_plan_floor(const sf_graph_t *g, const sf_plan_t *p,
                              const uint64_t *node_scratch)
{
    sf_plan_floor_t f = {.node = "<end>"};
    bool *holds_output = sf_xalloc_calloc((size_t)g->n_edges + 1, sizeof *holds_output);
    for (int v = 0; v < g->n_edges; v++)
        if (g->edges[v].is_output)
            holds_output[p->base_of[v]] = true;
    int nv = g->n_edges, nn = p->n_positions;
    /* kept_by[s]: bytes of kept roots allocated before position s runs. */
    uint64_t *kept_at = sf_xalloc_calloc((size_t)nn + 2, sizeof *kept_at);
    uint64_t kept = 0;
    for (int v = 0; v < nv; v++)
        if (p->base_of[v] == v && p->kept[v]) {
            uint64_t b = sf_mem_counted_bytes(p->alloc_bytes[v]);
            kept += b;
            if (holds_output[v])
                f.output_bytes += b;
            else
                f.persistent_bytes += b;
            kept_at[p->alloc_pos[v] < 0 ? 0 : p->alloc_pos[v]] += b;
        }
    for (int s = 1; s <= nn; s++)
        kept_at[s] += kept_at[s - 1];
    /* seen[r] == s + 1: root r is already in position s's set. */
    int *seen = sf_xalloc_calloc((size_t)nv + 1, sizeof *seen);
    uint64_t best = kept;
    for (int s = 0; s < nn; s++) {
        int i = p->order[s];
        const sf_node_t *n = &g->nodes[i];
        if (n->op->outputs_are_views)
            continue;
        uint64_t set = kept_at[s] + sf_mem_counted_bytes(node_scratch[i]);
        for (int side = 0; side < 2; side++) {
            int count = side == 0 ? n->n_in : n->n_out;
            const int *edges = side == 0 ? n->in : n->out;
            for (int k = 0; k < count; k++) {
                int r = p->base_of[edges[k]];
                if (p->kept[r] || seen[r] == s + 1)
                    continue;
                seen[r] = s + 1;
                set += sf_mem_counted_bytes(p->alloc_bytes[r]);
            }
        }
        if (set > best) {
            best = set;
            f.node = n->name;
        }
    }
    free(seen);
    free(kept_at);
    free(holds_output);
    f.kept_bytes = kept;
    f.floor_bytes = best;
    return f;
}
