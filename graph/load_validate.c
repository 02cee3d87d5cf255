/* Graph checks and shape inference. Tensors are wired by name (each produced
 * exactly once among the active nodes), ordered topologically (Kahn, ties
 * broken by file order so the result is deterministic), numbered inputs
 * first then in production order, and every layout comes from the op's
 * infer callback in that order. */
#include <stdio.h>
#include <string.h>

#include "load_validate.h"
#include "xalloc.h"

typedef struct tensor_ref {
    const char *name; /* borrowed: a value's or a bnode's name */
    int node;         /* producer, -1 for a graph input */
    int slot;
    sf_pos_t pos;
    int value; /* index in g->edges once numbered, else -1 */
} tensor_ref_t;

typedef struct vctx {
    sf_err_t *err;          /* borrowed */
    sf_graph_t *g;          /* borrowed: being wired */
    const gl_bnode_t *b;    /* borrowed: g->n_nodes entries */
    const gl_built_t *built; /* borrowed: for the outputs */
    sf_graph_names_t names; /* tensor name -> index in refs */
    tensor_ref_t *refs;     /* owned */
    int n_refs;
    int *order; /* owned: node indices in topological order */
} vctx_t;

static sf_status_t collect_producers(vctx_t *v)
{
    sf_graph_t *g = v->g;
    for (int i = 0; i < g->n_inputs; i++) {
        const sf_edge_t *iv = &g->edges[g->inputs[i]];
        v->refs[v->n_refs] = (tensor_ref_t){iv->name, -1, 0, iv->pos, g->inputs[i]};
        sf_graph_names_put(&v->names, iv->name, v->n_refs++);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const gl_bnode_t *b = &v->b[i];
        for (int k = 0; k < b->n_out; k++) {
            int prev = sf_graph_names_get(&v->names, b->out_names[k]);
            if (prev >= 0) {
                const tensor_ref_t *p = &v->refs[prev];
                if (p->node < 0)
                    return sf_err_set(v->err, SF_ERR_GRAPH, &b->out_pos[k],
                                      "node '%s': tensor '%s' is a graph input (%s:%d:%d) and "
                                      "cannot also be produced by a node",
                                      g->nodes[i].name, p->name, p->pos.file, p->pos.line,
                                      p->pos.col);
                return sf_err_set(v->err, SF_ERR_GRAPH, &b->out_pos[k],
                                  "node '%s': tensor '%s' is already produced by node '%s' "
                                  "(%s:%d:%d); a tensor has exactly one producer",
                                  g->nodes[i].name, p->name, g->nodes[p->node].name, p->pos.file,
                                  p->pos.line, p->pos.col);
            }
            v->refs[v->n_refs] = (tensor_ref_t){b->out_names[k], i, k, b->out_pos[k], -1};
            sf_graph_names_put(&v->names, b->out_names[k], v->n_refs++);
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const gl_bnode_t *b = &v->b[i];
        for (int k = 0; k < b->n_in; k++)
            if (sf_graph_names_get(&v->names, b->in_names[k]) < 0)
                return sf_err_set(v->err, SF_ERR_GRAPH, &b->in_pos[k],
                                  "node '%s': input '%s' is undefined (not a graph input, and no "
                                  "active node has it in 'out')",
                                  g->nodes[i].name, b->in_names[k]);
    }
    return SF_OK;
}

static int producer_of(const vctx_t *v, int node, int k)
{
    return v->refs[sf_graph_names_get(&v->names, v->b[node].in_names[k])].node;
}

/* Walk back from a node left over by Kahn: each one still has an unplaced
 * producer, so the walk must revisit a node, and the loop it closes is a
 * real cycle. */
static sf_status_t report_cycle(vctx_t *v, const int *indeg)
{
    const sf_graph_t *g = v->g;
    int n = g->n_nodes;
    int *step = sf_xalloc_calloc((size_t)n, sizeof *step);
    int *path = sf_xalloc_calloc((size_t)n + 1, sizeof *path);
    int start = 0;
    while (indeg[start] == 0)
        start++;
    int len = 0, cur = start;
    while (step[cur] == 0) {
        path[len++] = cur;
        step[cur] = len;
        int next = -1;
        for (int k = 0; k < v->b[cur].n_in && next < 0; k++) {
            int p = producer_of(v, cur, k);
            if (p >= 0 && indeg[p] > 0)
                next = p;
        }
        SF_ASSERT(next >= 0);
        cur = next;
    }
    /* path[step[cur]-1 .. len-1] goes consumer -> producer; print it in
     * dataflow order, starting from the node that comes first in the file. */
    int first = step[cur] - 1, m = len - first;
    int lead = first;
    for (int i = first; i < len; i++)
        if (path[i] < path[lead])
            lead = i;
    char msg[400];
    size_t used = 0;
    msg[0] = '\0';
    for (int j = 0; j <= m && used < sizeof msg; j++) {
        int idx = first + ((lead - first) - j + m * 2) % m;
        used += (size_t)snprintf(msg + used, sizeof msg - used, "%s%s", j ? " -> " : "",
                                 g->nodes[path[idx]].name);
    }
    sf_status_t st = sf_err_set(v->err, SF_ERR_GRAPH, &g->nodes[path[lead]].pos,
                                "cycle: %s (each node reads an output of the one before it)",
                                msg);
    free(step);
    free(path);
    return st;
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

/* Kahn's algorithm taking, among ready nodes, the one written first in the
 * file: deterministic, and equal to file order when the file is already
 * topological. Computed once, here; the graph keeps it (sf_graph_t.order)
 * and the plan runs it. */
static sf_status_t topo_order(vctx_t *v)
{
    int n = v->g->n_nodes;
    int *indeg = sf_xalloc_calloc((size_t)n, sizeof *indeg);
    int *n_cons = sf_xalloc_calloc((size_t)n + 1, sizeof *n_cons);
    int n_edges = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < v->b[i].n_in; k++) {
            int p = producer_of(v, i, k);
            if (p >= 0) {
                indeg[i]++;
                n_cons[p + 1]++;
                n_edges++;
            }
        }
    for (int i = 0; i < n; i++)
        n_cons[i + 1] += n_cons[i]; /* now CSR offsets */
    int *cons = sf_xalloc_calloc((size_t)n_edges, sizeof *cons);
    int *fill = sf_xalloc_calloc((size_t)n, sizeof *fill);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < v->b[i].n_in; k++) {
            int p = producer_of(v, i, k);
            if (p >= 0)
                cons[n_cons[p] + fill[p]++] = i;
        }
    v->order = sf_xalloc_calloc((size_t)n, sizeof *v->order);
    ready_heap_t heap = {.items = sf_xalloc_calloc((size_t)n, sizeof(int)), .n = 0};
    int n_done = 0;
    for (int i = 0; i < n; i++)
        if (indeg[i] == 0)
            heap_push(&heap, i);
    while (heap.n > 0) {
        int u = heap_pop(&heap);
        v->order[n_done++] = u;
        for (int e = n_cons[u]; e < n_cons[u + 1]; e++)
            if (--indeg[cons[e]] == 0)
                heap_push(&heap, cons[e]);
    }
    free(heap.items);
    sf_status_t st = n_done == n ? SF_OK : report_cycle(v, indeg);
    free(indeg);
    free(n_cons);
    free(cons);
    free(fill);
    return st;
}

static void number_values(vctx_t *v)
{
    sf_graph_t *g = v->g;
    for (int o = 0; o < g->n_nodes; o++) {
        int i = v->order[o];
        sf_node_t *node = &g->nodes[i];
        const gl_bnode_t *b = &v->b[i];
        for (int k = 0; k < b->n_in; k++)
            node->in[k] = v->refs[sf_graph_names_get(&v->names, b->in_names[k])].value;
        for (int k = 0; k < b->n_out; k++) {
            int idx = g->n_edges++;
            sf_edge_t *val = &g->edges[idx];
            memset(val, 0, sizeof *val);
            val->name = sf_xalloc_strdup(b->out_names[k]);
            val->producer = i;
            val->producer_slot = k;
            val->view_of = node->op->outputs_are_views && node->n_in > 0 ? node->in[0] : -1;
            val->pos = b->out_pos[k];
            node->out[k] = idx;
            v->refs[sf_graph_names_get(&v->names, b->out_names[k])].value = idx;
        }
    }
}

static sf_status_t mark_outputs(vctx_t *v)
{
    const gl_built_t *b = v->built;
    sf_graph_t *g = v->g;
    g->outputs = sf_xalloc_calloc((size_t)b->n_outs, sizeof *g->outputs);
    g->output_names = sf_xalloc_calloc((size_t)b->n_outs, sizeof *g->output_names);
    for (int i = 0; i < b->n_outs; i++) {
        const char *name = b->outs[i].name, *as = b->outs[i].as;
        const sf_pos_t *pos = &b->outs[i].pos;
        sf_status_t st = SF_OK;
        int r = sf_graph_names_get(&v->names, name);
        if (r < 0)
            st = sf_err_set(v->err, SF_ERR_GRAPH, pos,
                            "output '%s' is never produced (no active node has it in 'out', "
                            "and it is not a graph input)", name);
        else if (g->edges[v->refs[r].value].is_output)
            st = sf_err_set(v->err, SF_ERR_GRAPH, pos, "output '%s' is listed twice", name);
        if (st == SF_OK)
            for (int k = 0; k < g->n_outputs; k++)
                if (strcmp(g->output_names[k], as != NULL ? as : name) == 0)
                    st = sf_err_set(v->err, SF_ERR_GRAPH, pos, "two outputs are written as '%s'",
                                    as != NULL ? as : name);
        if (st != SF_OK)
            return st;
        g->edges[v->refs[r].value].is_output = true;
        g->output_names[g->n_outputs] = sf_xalloc_strdup(as != NULL ? as : name);
        g->outputs[g->n_outputs++] = v->refs[r].value;
    }
    /* The entry after the last one read could not be read (gl_built_t):
     * its error comes now, after the checks of the entries before it, as
     * when each entry was read here. First error wins, as in sf_err_set. */
    if (b->outs_st != SF_OK && v->err != NULL && v->err->code == SF_OK)
        *v->err = b->outs_err;
    return b->outs_st;
}

static bool is_sane_layout(const sf_tensor_t *t)
{
    if (t->ndim < 0 || t->ndim > SF_MAX_DIMS || (unsigned)t->dtype >= SF_DTYPE_COUNT)
        return false;
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] < 0 || t->strides[d] < 0)
            return false;
    return true;
}

/* Every later size (the executor's request, a kernel's loop bound, a
 * view's offset) is computed from these layouts unchecked, so this is where
 * a shape that overflows them is stopped. */
static sf_status_t too_big(vctx_t *v, const sf_node_t *node, const sf_tensor_t *t,
                           const char *tensor)
{
    char shape[256];
    sf_shape_format(t->ndim, t->shape, shape, sizeof shape);
    return sf_err_set(v->err, SF_ERR_GRAPH, &node->pos,
                      "node '%s': tensor '%s' of shape %s %s is too large: its element count, "
                      "byte size or extent exceeds the limit of 2^62 bytes per tensor",
                      node->name, tensor, shape, sf_dtype_name(t->dtype));
}

static sf_status_t infer_all(vctx_t *v)
{
    sf_graph_t *g = v->g;
    sf_status_t st = SF_OK;
    for (int o = 0; o < g->n_nodes && st == SF_OK; o++) {
        sf_node_t *node = &g->nodes[v->order[o]];
        sf_tensor_t *in = sf_xalloc_calloc((size_t)node->n_in, sizeof *in);
        sf_tensor_t *out = sf_xalloc_calloc((size_t)node->n_out, sizeof *out);
        for (int k = 0; k < node->n_in; k++)
            in[k] = g->edges[node->in[k]].layout;
        st = node->op->infer(node, in, node->n_in, out, node->n_out, v->err);
        if (st != SF_OK && v->err->code == SF_OK)
            st = sf_err_set(v->err, st, &node->pos, "node '%s': op '%s' rejected its inputs",
                            node->name, node->op->name);
        for (int k = 0; k < node->n_out && st == SF_OK; k++) {
            /* A broken layout is the op author's bug, but it reaches us
             * through user input, so it is an error, not an assert. */
            if (!is_sane_layout(&out[k]))
                st = sf_err_set(v->err, SF_ERR_GRAPH, &node->pos,
                                "node '%s': op '%s' shape rule returned an invalid layout for "
                                "output %d (a bug in the op)", node->name, node->op->name, k);
            else if (!sf_tensor_checked_nbytes(&out[k], NULL, NULL))
                st = too_big(v, node, &out[k], g->edges[node->out[k]].name);
            out[k].buf = NULL;
            g->edges[node->out[k]].layout = out[k];
        }
        free(in);
        free(out);
    }
    return st;
}

sf_status_t gl_validate(gl_built_t *built, sf_err_t *err)
{
    sf_graph_t *g = built->g;
    const gl_bnode_t *bnodes = built->bnodes;
    vctx_t v;
    memset(&v, 0, sizeof v);
    v.err = err;
    v.g = g;
    v.b = bnodes;
    v.built = built;
    sf_graph_names_init(&v.names);
    int n_tensors = g->n_inputs;
    for (int i = 0; i < g->n_nodes; i++)
        n_tensors += bnodes[i].n_out;
    v.refs = sf_xalloc_calloc((size_t)n_tensors, sizeof *v.refs);
    sf_status_t st = collect_producers(&v);
    if (st == SF_OK)
        st = topo_order(&v);
    if (st == SF_OK) {
        number_values(&v);
        st = mark_outputs(&v);
    }
    if (st == SF_OK)
        st = infer_all(&v);
    if (st == SF_OK) {
        g->order = v.order; /* the graph takes it */
        v.order = NULL;
    }
    free(v.refs);
    free(v.order);
    sf_graph_names_fini(&v.names);
    return st;
}
