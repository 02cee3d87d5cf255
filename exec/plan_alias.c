/* Which buffers are computed in place. A buffer b is placed in a slot of
 * node C's output y when:
 *  - b is an intermediate: produced by a kernel, not a graph input, not
 *    persistent, and neither it nor any view of it is a graph output;
 *  - C is the only kernel that reads b (through b itself or a view of it),
 *    and it reads it through one input, whose slot C's op names
 *    (input_slot);
 *  - the slot fits how b is written: b's producer writes strided outputs
 *    when the slot is strided, and a view of b read by C must be b itself
 *    laid out again (a reshape), so the slot is contiguous;
 *  - y itself is contiguous where it lives (nothing is placed in a strided
 *    slot's slot), and a slot reaching outside y (a pad's shift) is allowed
 *    only when y is a root, which then gets a margin.
 * Readers are visited last first, so a host's own placement is known before
 * anything is placed in it. Slots of one output never overlap, and a pad's
 * shifted input only spills onto the places the pad fills after it, so no
 * two live tensors share a byte. */
#include "plan_alias.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

typedef struct reader_info {
    int count;  /* (kernel node, input) pairs reading the buffer */
    int node;   /* the last such pair */
    int input;
    bool blocked; /* a graph input, persistent, or an output lives in it */
    int n_views;
} reader_info_t;

static void count_readers(const sf_graph_t *g, const int *view_base, reader_info_t *r)
{
    for (int v = 0; v < g->n_edges; v++) {
        int b = view_base[v];
        const sf_edge_t *e = &g->edges[v];
        if (v != b)
            r[b].n_views++;
        if (e->is_input || e->is_output)
            r[b].blocked = true;
        if (e->producer >= 0 && g->nodes[e->producer].op->outputs_persist)
            r[b].blocked = true;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const sf_node_t *n = &g->nodes[i];
        if (n->op->outputs_are_views)
            continue;
        for (int k = 0; k < n->n_in; k++) {
            int b = view_base[n->in[k]];
            r[b].count++;
            r[b].node = i;
            r[b].input = k;
        }
    }
}

/* Bytes from element 0 to the byte after the last element, for a layout
 * with shape and the given strides; 0 for an empty one. */
static int64_t span_bytes(const sf_tensor_t *t, const int64_t *strides)
{
    if (sf_tensor_numel(t) == 0)
        return 0;
    int64_t last = 0;
    for (int d = 0; d < t->ndim; d++)
        last += (t->shape[d] - 1) * strides[d];
    return (last + 1) * (int64_t)sf_dtype_size(t->dtype);
}

static bool contiguous_strides(const sf_tensor_t *t, const int64_t *strides)
{
    sf_tensor_t c = *t;
    memcpy(c.strides, strides, sizeof c.strides);
    return sf_tensor_is_contiguous(&c);
}

/* Is view e of base b the same bytes as b, laid out again (a reshape at
 * offset 0 of a contiguous b)? Then placing b in a contiguous slot puts e
 * exactly in it. */
static bool same_bytes(const sf_graph_t *g, int e, int b)
{
    const sf_tensor_t *te = &g->edges[e].layout, *tb = &g->edges[b].layout;
    return te->offset == tb->offset && sf_tensor_is_contiguous(te) &&
           sf_tensor_is_contiguous(tb) && sf_tensor_numel(te) == sf_tensor_numel(tb) &&
           te->dtype == tb->dtype;
}

static void try_place(const sf_graph_t *g, const int *view_base, const reader_info_t *r,
                      int node_i, int k, const sf_tensor_t *in, sf_placement_t *pl)
{
    const sf_node_t *c = &g->nodes[node_i];
    int y = c->out[0], e = c->in[k], b = view_base[e];
    const sf_edge_t *eb = &g->edges[b];
    if (r[b].blocked || r[b].count != 1 || r[b].node != node_i || r[b].input != k)
        return;
    if (eb->producer < 0 || g->nodes[eb->producer].op->outputs_are_views || b == y)
        return;
    if (sf_tensor_numel(&eb->layout) == 0)
        return;
    int64_t off, strides[SF_MAX_DIMS] = {0};
    const sf_tensor_t *out = &g->edges[y].layout;
    if (!c->op->input_slot(c, in, c->n_in, out, k, &off, strides))
        return;
    bool contig = contiguous_strides(&in[k], strides);
    if (e != b) {
        /* Read through a view: only a reshape of b moves with b. */
        if (!contig || !same_bytes(g, e, b))
            return;
        sf_tensor_t cb = eb->layout;
        sf_tensor_set_contiguous_strides(&cb);
        memcpy(strides, cb.strides, sizeof strides[0] * SF_MAX_DIMS);
    } else if (!contig && (r[b].n_views > 0 || !g->nodes[eb->producer].op->writes_strided)) {
        return;
    }
    int64_t lo = off, hi = off + span_bytes(&eb->layout, strides);
    int64_t y_bytes = (int64_t)sf_tensor_nbytes(out);
    if (lo < 0 || hi > y_bytes) {
        if (pl->host[y] >= 0)
            return;
        if (lo < 0 && (uint64_t)-lo > pl->front[y])
            pl->front[y] = (uint64_t)-lo;
        if (hi > y_bytes && (uint64_t)(hi - y_bytes) > pl->back[y])
            pl->back[y] = (uint64_t)(hi - y_bytes);
    }
    pl->host[b] = y;
    pl->slot_offset[b] = off;
    memcpy(pl->slot_strides[b], strides, sizeof pl->slot_strides[b]);
    pl->aliases[pl->n_aliases++] =
        (sf_alias_t){.edge = b, .host = y, .node = node_i, .input = k, .offset_bytes = off};
}

void sf_placement_decide(const sf_graph_t *g, const int *view_base, bool in_place,
                         sf_placement_t *pl)
{
    int nv = g->n_edges;
    pl->host = sf_xalloc_calloc((size_t)nv, sizeof *pl->host);
    pl->slot_offset = sf_xalloc_calloc((size_t)nv, sizeof *pl->slot_offset);
    pl->slot_strides = sf_xalloc_calloc((size_t)nv, sizeof *pl->slot_strides);
    pl->front = sf_xalloc_calloc((size_t)nv, sizeof *pl->front);
    pl->back = sf_xalloc_calloc((size_t)nv, sizeof *pl->back);
    pl->aliases = sf_xalloc_calloc((size_t)nv + 1, sizeof *pl->aliases);
    pl->n_aliases = 0;
    for (int v = 0; v < nv; v++)
        pl->host[v] = -1;
    if (!in_place)
        return;
    reader_info_t *r = sf_xalloc_calloc((size_t)nv, sizeof *r);
    count_readers(g, view_base, r);
    enum { MAX_STACK = 16 };
    for (int s = g->n_nodes - 1; s >= 0; s--) {
        int i = g->order[s];
        const sf_node_t *c = &g->nodes[i];
        if (c->op->input_slot == NULL || c->n_out < 1 || c->op->outputs_are_views)
            continue;
        int y = c->out[0];
        /* Nothing goes into a strided slot's slot: its layout is no longer
         * the contiguous one the op's slot rule assumes. */
        if (pl->host[y] >= 0 && !contiguous_strides(&g->edges[y].layout, pl->slot_strides[y]))
            continue;
        sf_tensor_t in_stack[MAX_STACK];
        sf_tensor_t *in = c->n_in <= MAX_STACK ? in_stack
                                               : sf_xalloc_calloc((size_t)c->n_in, sizeof *in);
        for (int k = 0; k < c->n_in; k++)
            in[k] = g->edges[c->in[k]].layout;
        for (int k = 0; k < c->n_in; k++)
            try_place(g, view_base, r, i, k, in, pl);
        if (in != in_stack)
            free(in);
    }
    free(r);
}

void sf_placement_free(sf_placement_t *pl)
{
    free(pl->host);
    free(pl->slot_offset);
    free(pl->slot_strides);
    free(pl->front);
    free(pl->back);
    free(pl->aliases);
    memset(pl, 0, sizeof *pl);
}
