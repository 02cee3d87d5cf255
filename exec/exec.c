/* Executor: walks the plan's order on one device. Buffers are owned here,
 * in a side array indexed by base edge; views borrow their base's buffer
 * and the plan already keeps the base alive for them. */
#include "exec.h"

#include "coll.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct sf_exec {
    const sf_graph_t *g;   /* borrowed */
    sf_device_t *dev;      /* borrowed */
    sf_exec_opts_t opts;
    sf_exec_env_t env;
    sf_plan_t *plan;       /* owned */
    sf_mem_t *mem;         /* owned */
    sf_trace_rank_t trace_ctx;
    sf_buffer_t **bufs;    /* owned array; per base edge, NULL when not live */
    sf_tensor_t *bound;    /* owned: per edge, its layout bound to a buffer */
    const sf_tensor_t **inputs; /* borrowed host tensors, per edge (graph inputs only) */
    double *node_us;       /* owned: per graph node index */
    uint64_t *node_scratch; /* owned: per graph node index, scratch bytes it asked for */
    void **prepared;       /* owned: per graph node index, what op->prepare made (or NULL) */
    sf_exec_stats_t stats;
    int n_runs;            /* sf_exec_run calls that began; > 0 keeps persistent buffers */
};

static bool node_is_kept(const sf_exec_t *ex, const sf_node_t *node);
static void exec_begin_step(sf_exec_t *ex);

static void free_prepared(sf_exec_t *ex)
{
    if (ex->prepared == NULL)
        return;
    for (int i = 0; i < ex->g->n_nodes; i++)
        free(ex->prepared[i]);
    free(ex->prepared);
    ex->prepared = NULL;
}

/* Each node's prepare hook, once, in the graph's order, before anything is
 * allocated: a node it refuses costs no memory and no work. */
static sf_status_t prepare_nodes(sf_exec_t *ex, sf_err_t *err)
{
    const sf_graph_t *g = ex->g;
    for (int s = 0; s < g->n_nodes; s++) {
        int i = g->order[s];
        const sf_node_t *node = &g->nodes[i];
        if (node->op->prepare == NULL)
            continue;
        enum { MAX_STACK = 16 };
        sf_tensor_t in_stack[MAX_STACK], out_stack[MAX_STACK];
        sf_tensor_t *in = node->n_in <= MAX_STACK ? in_stack
                                                  : sf_xalloc_calloc((size_t)node->n_in, sizeof *in);
        sf_tensor_t *out = node->n_out <= MAX_STACK
                               ? out_stack
                               : sf_xalloc_calloc((size_t)node->n_out, sizeof *out);
        for (int k = 0; k < node->n_in; k++)
            in[k] = g->edges[node->in[k]].layout;
        for (int k = 0; k < node->n_out; k++)
            out[k] = g->edges[node->out[k]].layout;
        sf_status_t st = node->op->prepare(node, in, node->n_in, out, node->n_out,
                                           &ex->prepared[i], err);
        if (in != in_stack)
            free(in);
        if (out != out_stack)
            free(out);
        if (st != SF_OK)
            return st;
    }
    return SF_OK;
}

sf_status_t sf_exec_new(const sf_graph_t *g, sf_device_t *dev, const sf_exec_opts_t *opts,
                        sf_exec_t **out, sf_err_t *err)
{
    *out = NULL;
    /* Refuse before allocating anything: a missing kernel found at node 90
     * would waste the first 89. */
    if (sf_device_touches_memory(dev)) {
        for (int i = 0; i < g->n_nodes; i++) {
            const sf_node_t *n = &g->nodes[i];
            if (!n->op->outputs_are_views && !sf_device_supports(dev, n->op, n))
                return sf_err_set(err, SF_ERR_UNSUPPORTED, &n->pos,
                                  "node '%s': op '%s' has no kernel for device '%s'", n->name,
                                  n->op->name, sf_device_name(dev));
        }
    }
    sf_exec_t *ex = sf_xalloc_calloc(1, sizeof *ex);
    ex->g = g;
    ex->dev = dev;
    ex->opts = *opts;
    /* One rank without a comm runs the self comm, so no kernel has a
     * single-rank special case. */
    ex->env = (sf_exec_env_t){.comm = opts->comm != NULL ? opts->comm : sf_comm_solo()};
    ex->prepared = sf_xalloc_calloc((size_t)g->n_nodes, sizeof *ex->prepared);
    sf_status_t st = prepare_nodes(ex, err);
    if (st != SF_OK) {
        free_prepared(ex);
        free(ex);
        return st;
    }
    ex->plan = sf_plan_build(g, opts->free_policy, !opts->no_alias);
    ex->mem = sf_mem_new(dev);
    if (opts->trace != NULL) {
        ex->trace_ctx = (sf_trace_rank_t){.tr = opts->trace, .rank = g->rank};
        sf_mem_set_observer(ex->mem, sf_trace_mem_observer, &ex->trace_ctx);
    }
    ex->bufs = sf_xalloc_calloc((size_t)g->n_edges, sizeof *ex->bufs);
    ex->bound = sf_xalloc_calloc((size_t)g->n_edges, sizeof *ex->bound);
    ex->inputs = sf_xalloc_calloc((size_t)g->n_edges, sizeof *ex->inputs);
    ex->node_us = sf_xalloc_calloc((size_t)g->n_nodes, sizeof *ex->node_us);
    ex->node_scratch = sf_xalloc_calloc((size_t)g->n_nodes + 1, sizeof *ex->node_scratch);
    *out = ex;
    return SF_OK;
}

sf_status_t sf_exec_set_input(sf_exec_t *ex, const char *name, const sf_tensor_t *host,
                              sf_err_t *err)
{
    int v = sf_graph_find_edge(ex->g, name);
    if (v < 0 || !ex->g->edges[v].is_input)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "'%s' is not an input of graph '%s'", name,
                          ex->g->name);
    const sf_tensor_t *want = &ex->g->edges[v].layout;
    if (!sf_tensor_same_shape(want, host)) {
        char a[128], b[128];
        sf_shape_format(host->ndim, host->shape, a, sizeof a);
        sf_shape_format(want->ndim, want->shape, b, sizeof b);
        return sf_err_set(err, SF_ERR_INPUT, NULL, "input '%s' has shape %s, expected %s", name,
                          a, b);
    }
    bool ints = !sf_dtype_is_float(host->dtype) && !sf_dtype_is_float(want->dtype) &&
                host->dtype != SF_DTYPE_U8 && want->dtype != SF_DTYPE_U8;
    if (host->dtype != want->dtype && !ints)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "input '%s' has dtype %s, expected %s", name,
                          sf_dtype_name(host->dtype), sf_dtype_name(want->dtype));
    ex->inputs[v] = host;
    return SF_OK;
}

/* Allocate root edge v's buffer: its own bytes and any margin the plan
 * gave it, named after it in the trace. */
static sf_status_t alloc_edge(sf_exec_t *ex, int v, const char *node, sf_err_t *err)
{
    const sf_edge_t *e = &ex->g->edges[v];
    sf_alloc_req_t req = {.nbytes = ex->plan->alloc_bytes[v], .tensor = e->name,
                          .node = node, .dtype = e->layout.dtype, .ndim = e->layout.ndim,
                          .shape = e->layout.shape};
    return sf_mem_alloc(ex->mem, &req, &ex->bufs[v], err);
}

/* Edge v's layout in its root's buffer (which may be NULL: not live). */
static sf_tensor_t bind_edge(const sf_exec_t *ex, int v)
{
    sf_tensor_t t = ex->plan->layout[v];
    t.buf = ex->bufs[ex->plan->base_of[v]];
    return t;
}

static void release_edge(sf_exec_t *ex, int v, const char *node)
{
    sf_mem_release(ex->mem, ex->bufs[v], node);
    ex->bufs[v] = NULL;
}

static void release_all(sf_exec_t *ex, const char *node)
{
    for (int v = 0; v < ex->g->n_edges; v++)
        if (ex->bufs[v] != NULL)
            release_edge(ex, v, node);
}

static sf_status_t load_inputs(sf_exec_t *ex, sf_err_t *err)
{
    const sf_graph_t *g = ex->g;
    sf_mem_set_current_node(ex->mem, "<inputs>");
    for (int k = 0; k < g->n_inputs; k++) {
        int v = g->inputs[k];
        if (ex->plan->base_of[v] != v)
            continue;
        if (sf_device_touches_memory(ex->dev) && ex->inputs[v] == NULL)
            return sf_err_set(err, SF_ERR_INPUT, &g->edges[v].pos,
                              "graph input '%s' was not given (pass --inputs FILE.safetensors "
                              "holding it)",
                              g->edges[v].name);
        sf_status_t st = alloc_edge(ex, v, "<inputs>", err);
        if (st != SF_OK)
            return st;
        ex->bound[v] = bind_edge(ex, v);
        if (!sf_device_touches_memory(ex->dev))
            continue;
        if (sf_device_mem_kind(ex->dev) == SF_MEMKIND_HOST) {
            /* Host memory: one strided copy that also widens integer dtypes. */
            sf_tensor_copy_host(&ex->bound[v], ex->inputs[v]);
        } else if (ex->inputs[v]->dtype == ex->bound[v].dtype &&
                   sf_tensor_is_contiguous(ex->inputs[v])) {
            st = sf_device_upload(ex->dev, sf_tensor_data(&ex->bound[v]),
                                  sf_tensor_data(ex->inputs[v]), sf_tensor_nbytes(ex->inputs[v]),
                                  err);
            if (st != SF_OK)
                return st;
        } else {
            return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL,
                              "input '%s': converting dtypes on device '%s' is not supported",
                              g->edges[v].name, sf_device_name(ex->dev));
        }
    }
    return SF_OK;
}

static sf_status_t run_at(sf_exec_t *ex, int s, sf_err_t *err)
{
    const sf_graph_t *g = ex->g;
    const sf_plan_t *p = ex->plan;
    const sf_node_t *node = &g->nodes[p->order[s]];
    sf_mem_set_current_node(ex->mem, node->name);
    double t0 = sf_mem_now_us(ex->mem);
    sf_status_t st;
    bool kept = node_is_kept(ex, node);

    /* A kept node's buffers (a persistent tensor from an earlier step) are
     * still live: nothing to allocate, nothing to run. */
    for (int a = p->alloc_start[s]; a < p->alloc_start[s + 1]; a++)
        if (ex->bufs[p->alloc_vals[a]] == NULL &&
            (st = alloc_edge(ex, p->alloc_vals[a], node->name, err)) != SF_OK)
            return st;
    for (int k = 0; k < node->n_out; k++)
        ex->bound[node->out[k]] = bind_edge(ex, node->out[k]);
    if (!node->op->outputs_are_views && !kept) {
        enum { MAX_STACK = 16 };
        sf_tensor_t in_stack[MAX_STACK], out_stack[MAX_STACK];
        sf_tensor_t *in = node->n_in <= MAX_STACK
                              ? in_stack
                              : sf_xalloc_calloc((size_t)node->n_in, sizeof *in);
        sf_tensor_t *out = node->n_out <= MAX_STACK
                               ? out_stack
                               : sf_xalloc_calloc((size_t)node->n_out, sizeof *out);
        for (int k = 0; k < node->n_in; k++)
            in[k] = bind_edge(ex, node->in[k]);
        for (int k = 0; k < node->n_out; k++)
            out[k] = ex->bound[node->out[k]];
        const void *prepared = ex->prepared[p->order[s]];
        sf_kernel_args_t args = {.op = node->op, .node = node, .prepared = prepared, .in = in, .n_in = node->n_in, .out = out,
                                 .n_out = node->n_out, .dev = ex->dev, .env = &ex->env};
        uint64_t scratch_bytes = sf_device_scratch_bytes(ex->dev, node->op, node, prepared, in,
                                                         node->n_in, out, node->n_out);
        sf_buffer_t *scratch = NULL;
        ex->node_scratch[p->order[s]] = scratch_bytes;
        st = SF_OK;
        if (scratch_bytes > 0) {
            sf_alloc_req_t req = {.nbytes = scratch_bytes, .tensor = "<scratch>",
                                  .node = node->name, .dtype = SF_DTYPE_U8, .ndim = 1,
                                  .shape = (const int64_t[]){(int64_t)scratch_bytes}};
            st = sf_mem_alloc(ex->mem, &req, &scratch, err);
            args.scratch = scratch != NULL ? scratch->data : NULL;
            args.scratch_bytes = scratch_bytes;
        }
        if (st == SF_OK && sf_device_touches_memory(ex->dev))
            st = sf_device_run(ex->dev, &args, err);
        sf_mem_release(ex->mem, scratch, node->name);
        if (in != in_stack)
            free(in);
        if (out != out_stack)
            free(out);
        if (st != SF_OK)
            return st;
    }
    for (int f = p->free_start[s]; f < p->free_start[s + 1]; f++)
        release_edge(ex, p->free_vals[f], node->name);

    double t1 = sf_mem_now_us(ex->mem);
    ex->node_us[p->order[s]] = kept ? 0 : t1 - t0;
    if (ex->opts.trace != NULL && !kept)
        sf_trace_node(ex->opts.trace, ex->g->rank, node->name, node->op->name, t0, t1);
    return SF_OK;
}

sf_status_t sf_exec_run(sf_exec_t *ex, sf_err_t *err)
{
    exec_begin_step(ex);
    int64_t allocs0 = sf_mem_total_allocs(ex->mem);
    double t0 = sf_mem_now_us(ex->mem);
    sf_status_t st = load_inputs(ex, err);
    for (int s = 0; st == SF_OK && s < ex->plan->n_positions; s++)
        st = run_at(ex, s, err);
    /* An asynchronous device may still be working on the last kernels;
     * outputs are read after this returns. */
    if (st == SF_OK)
        st = sf_device_sync(ex->dev, err);
    if (st != SF_OK) {
        release_all(ex, "<error>");
        return st;
    }
    ex->stats.peak_bytes = sf_mem_peak_bytes(ex->mem);
    ex->stats.reserved_peak_bytes = sf_mem_reserved_peak_bytes(ex->mem);
    ex->stats.device_used_peak_bytes = sf_mem_device_used_peak_bytes(ex->mem);
    ex->stats.peak_node = sf_mem_peak_node(ex->mem);
    ex->stats.end_bytes = sf_mem_live_bytes(ex->mem);
    ex->stats.n_allocs = sf_mem_total_allocs(ex->mem) - allocs0;
    ex->stats.wall_s = (sf_mem_now_us(ex->mem) - t0) / 1e6;
    sf_plan_floor_t f = sf_plan_floor(ex->g, ex->plan, ex->node_scratch);
    ex->stats.kept_bytes = f.kept_bytes;
    ex->stats.output_bytes = f.output_bytes;
    ex->stats.persistent_bytes = f.persistent_bytes;
    ex->stats.floor_bytes = f.floor_bytes;
    ex->stats.floor_node = f.node;
    return SF_OK;
}

const sf_tensor_t *sf_exec_tensor(const sf_exec_t *ex, int v)
{
    SF_ASSERT(v >= 0 && v < ex->g->n_edges);
    return &ex->bound[v];
}

sf_exec_stats_t sf_exec_stats(const sf_exec_t *ex) { return ex->stats; }
double sf_exec_node_us(const sf_exec_t *ex, int i) { return ex->node_us[i]; }
const sf_plan_t *sf_exec_plan(const sf_exec_t *ex) { return ex->plan; }
sf_mem_t *sf_exec_mem(sf_exec_t *ex) { return ex->mem; }

void sf_exec_free(sf_exec_t *ex)
{
    if (ex == NULL)
        return;
    release_all(ex, "<end>");
    sf_mem_free(ex->mem);
    sf_plan_free(ex->plan);
    free(ex->bufs);
    free(ex->bound);
    free(ex->inputs);
    free(ex->node_us);
    free(ex->node_scratch);
    free_prepared(ex);
    free(ex);
}

/* --- steps: running the same plan again -------------------------------------
 * A persistent buffer (an output of an op with outputs_persist: the model's
 * weights) outlives a run; its producer runs in the first step only. */

static bool edge_persists(const sf_exec_t *ex, int v)
{
    int prod = ex->g->edges[v].producer;
    return prod >= 0 && ex->g->nodes[prod].op->outputs_persist;
}

/* A node is skipped when all it would make is still held from an earlier
 * step. After a failed step nothing is held, so the producers run again. */
static bool node_is_kept(const sf_exec_t *ex, const sf_node_t *node)
{
    if (ex->n_runs < 2 || !node->op->outputs_persist)
        return false;
    for (int k = 0; k < node->n_out; k++)
        if (ex->bufs[ex->plan->base_of[node->out[k]]] == NULL)
            return false;
    return true;
}

/* Before a run: the previous run's outputs (and, under --free end, all it
 * kept) go, persistent buffers stay, and the peak starts again from what
 * is live, so each run reports its own peak. */
static void exec_begin_step(sf_exec_t *ex)
{
    ex->n_runs++;
    if (ex->n_runs == 1)
        return;
    for (int v = 0; v < ex->g->n_edges; v++)
        if (ex->bufs[v] != NULL && !edge_persists(ex, v))
            release_edge(ex, v, "<step>");
    sf_mem_set_current_node(ex->mem, "<step>");
    sf_mem_reset_peak(ex->mem);
    memset(&ex->stats, 0, sizeof ex->stats);
}

int sf_exec_n_runs(const sf_exec_t *ex) { return ex->n_runs; }

uint64_t sf_exec_persistent_bytes(const sf_exec_t *ex)
{
    uint64_t n = 0;
    for (int v = 0; v < ex->g->n_edges; v++)
        if (ex->bufs[v] != NULL && edge_persists(ex, v))
            n += ex->bufs[v]->counted_bytes;
    return n;
}
