/* The per-rank figures `run` and `plan` print: a table for people, one JSON
 * object (built with cJSON) for scripts. */
#include "report.h"

#include <stdlib.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "plan_report.h"

static const char *policy_name(sf_free_policy_t p)
{
    return p == SF_FREE_END ? "end" : "eager";
}

static double ratio(uint64_t a, uint64_t b)
{
    return b > 0 ? (double)a / (double)b : 0.0;
}

/* How many entries reports has: every rank's, or the emulated one's. */
static int n_reports(const sf_report_how_t *how)
{
    return how->is_emulated ? 1 : how->world;
}

static void add_aliases(cJSON *o, const sf_rank_report_t *rep)
{
    cJSON_AddNumberToObject(o, "n_aliases", rep->n_aliases);
    cJSON *list = cJSON_AddArrayToObject(o, "aliases");
    for (int i = 0; i < rep->n_aliases && i < SF_REPORT_MAX_ALIASES; i++) {
        const sf_report_alias_t *a = &rep->aliases[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "tensor", a->tensor);
        cJSON_AddStringToObject(x, "into", a->host);
        cJSON_AddStringToObject(x, "node", a->node);
        cJSON_AddNumberToObject(x, "offset_bytes", (double)a->offset_bytes);
        cJSON_AddItemToArray(list, x);
    }
}

static void print_json(const sf_graph_t *g, const sf_report_how_t *how,
                       const sf_rank_report_t *reports)
{
    int world = how->world;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "graph", g->name);
    cJSON_AddNumberToObject(root, "world", world);
    cJSON_AddStringToObject(root, "device", how->device);
    cJSON_AddStringToObject(root, "free", policy_name(how->policy));
    cJSON_AddStringToObject(root, "alias", how->in_place ? "on" : "off");
    if (how->is_emulated) {
        cJSON *e = cJSON_AddObjectToObject(root, "emulated");
        cJSON_AddNumberToObject(e, "world", world);
        cJSON_AddNumberToObject(e, "rank", reports[0].rank);
        /* Sizes are real, values are not: a script must not take them. */
        cJSON_AddStringToObject(root, "outputs", "emulated");
    }
    sf_plan_report_json_echo(root, g, NULL);
    cJSON *ranks = cJSON_AddArrayToObject(root, "ranks");
    for (int r = 0; r < n_reports(how); r++) {
        const sf_rank_report_t *rep = &reports[r];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "rank", rep->rank);
        sf_cli_json_add_u64(o, "peak_bytes", rep->stats.peak_bytes);
        /* A caching device allocator (cuda): what it held from the driver. */
        if (rep->stats.reserved_peak_bytes != 0)
            sf_cli_json_add_u64(o, "reserved_peak_bytes", rep->stats.reserved_peak_bytes);
        if (rep->stats.device_used_peak_bytes != 0)
            sf_cli_json_add_u64(o, "device_used_peak_bytes", rep->stats.device_used_peak_bytes);
        cJSON_AddStringToObject(o, "peak_node", rep->peak_node);
        sf_cli_json_add_u64(o, "end_bytes", rep->stats.end_bytes);
        cJSON_AddNumberToObject(o, "allocs", (double)rep->stats.n_allocs);
        cJSON_AddNumberToObject(o, "wall_s", rep->stats.wall_s);
        sf_cli_json_add_u64(o, "kept_bytes", rep->stats.kept_bytes);
        sf_cli_json_add_u64(o, "output_bytes", rep->stats.output_bytes);
        sf_cli_json_add_u64(o, "persistent_bytes", rep->stats.persistent_bytes);
        sf_cli_json_add_u64(o, "floor_bytes", rep->stats.floor_bytes);
        cJSON_AddStringToObject(o, "floor_node", rep->floor_node);
        cJSON_AddNumberToObject(o, "peak_over_floor",
                                ratio(rep->stats.peak_bytes, rep->stats.floor_bytes));
        if (rep->has_sent_bytes)
            sf_cli_json_add_u64(o, "sent_bytes", rep->sent_bytes);
        add_aliases(o, rep);
        cJSON_AddItemToArray(ranks, o);
    }
    sf_cli_json_print_free(root, stdout);
}

static void print_explain(const sf_rank_report_t *rep)
{
    printf("rank %d: %d buffer%s computed in place%s\n", rep->rank, rep->n_aliases,
           rep->n_aliases == 1 ? "" : "s", rep->n_aliases > 0 ? ":" : "");
    for (int i = 0; i < rep->n_aliases && i < SF_REPORT_MAX_ALIASES; i++) {
        const sf_report_alias_t *a = &rep->aliases[i];
        printf("  %-24s into %-24s at byte %lld (slot of node '%s')\n", a->tensor, a->host,
               (long long)a->offset_bytes, a->node);
    }
    if (rep->n_aliases > SF_REPORT_MAX_ALIASES)
        printf("  ... and %d more\n", rep->n_aliases - SF_REPORT_MAX_ALIASES);
}

void sf_report_print(const sf_graph_t *g, const sf_report_how_t *how,
                     const sf_rank_report_t *reports, bool json)
{
    if (json) {
        print_json(g, how, reports);
        return;
    }
    printf("graph %s: %d nodes, %d tensors on %s, free %s, alias %s\n", g->name, g->n_nodes,
           g->n_edges, how->device, policy_name(how->policy), how->in_place ? "on" : "off");
    if (how->is_emulated)
        printf("emulated: rank %d of world %d alone, collectives local: outputs sized, not real\n",
               reports[0].rank, how->world);
    printf("%-5s %16s %12s  %-24s %16s %12s %6s %8s %10s\n", "rank", "peak_bytes", "",
           "peak_node", "end_bytes", "floor", "/floor", "allocs", "wall_s");
    for (int r = 0; r < n_reports(how); r++) {
        const sf_rank_report_t *rep = &reports[r];
        char human[32], floor_h[32];
        sf_cli_format_bytes(rep->stats.peak_bytes, human, sizeof human);
        sf_cli_format_bytes(rep->stats.floor_bytes, floor_h, sizeof floor_h);
        printf("%-5d %16llu %12s  %-24s %16llu %12s %6.3f %8lld %10.6f\n", rep->rank,
               (unsigned long long)rep->stats.peak_bytes, human, rep->peak_node,
               (unsigned long long)rep->stats.end_bytes, floor_h,
               ratio(rep->stats.peak_bytes, rep->stats.floor_bytes),
               (long long)rep->stats.n_allocs, rep->stats.wall_s);
    }
    /* A caching device allocator: beside the tracked peak (PyTorch's max
     * allocated), what the pool held and what the driver saw in use. */
    for (int r = 0; r < n_reports(how); r++) {
        const sf_exec_stats_t *st = &reports[r].stats;
        if (st->reserved_peak_bytes == 0 && st->device_used_peak_bytes == 0)
            continue;
        char res[32], used[32];
        sf_cli_format_bytes(st->reserved_peak_bytes, res, sizeof res);
        sf_cli_format_bytes(st->device_used_peak_bytes, used, sizeof used);
        printf("rank %d: reserved peak %llu (%s, the pool); device used peak %llu (%s, "
               "cudaMemGetInfo: context and library workspaces included)\n",
               reports[r].rank, (unsigned long long)st->reserved_peak_bytes, res,
               (unsigned long long)st->device_used_peak_bytes, used);
    }
    if (how->explain)
        for (int r = 0; r < n_reports(how); r++)
            print_explain(&reports[r]);
}

typedef struct node_time {
    int node;
    double us;
} node_time_t;

static int by_time_desc(const void *a, const void *b)
{
    const node_time_t *x = a, *y = b;
    if (x->us != y->us)
        return x->us < y->us ? 1 : -1;
    return x->node - y->node;
}

void sf_report_print_profile(const sf_graph_t *g, const sf_rank_report_t *r)
{
    if (r->node_us == NULL)
        return;
    node_time_t *t = calloc((size_t)g->n_nodes + 1, sizeof *t);
    SF_ASSERT(t != NULL);
    double total = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        t[i] = (node_time_t){i, r->node_us[i]};
        total += r->node_us[i];
    }
    qsort(t, (size_t)g->n_nodes, sizeof *t, by_time_desc);
    printf("rank %d: per-node wall time (slowest first, total %.1f us)\n", r->rank, total);
    printf("  %-32s %-16s %12s %7s\n", "node", "op", "us", "share");
    for (int i = 0; i < g->n_nodes; i++) {
        const sf_node_t *n = &g->nodes[t[i].node];
        printf("  %-32s %-16s %12.1f %6.1f%%\n", n->name, n->op->name, t[i].us,
               total > 0 ? 100.0 * t[i].us / total : 0.0);
    }
    free(t);
}

void sf_report_print_mem_snapshot(FILE *f, const sf_mem_snapshot_t *s, bool at_failure)
{
    if (at_failure)
        fprintf(f, "  live at node '%s' when %llu bytes for '%s' were refused (%lld buffers, %llu "
                   "bytes)%s\n",
                s->node, (unsigned long long)s->want_bytes,
                s->want_tensor != NULL ? s->want_tensor : "", (long long)s->live_count,
                (unsigned long long)s->live_bytes, s->n_top > 0 ? "; the largest:" : "");
    else
        fprintf(f, "  live at the peak, node '%s' (%lld buffers, %llu bytes); the largest:\n",
                s->node, (long long)s->live_count, (unsigned long long)s->live_bytes);
    for (int i = 0; i < s->n_top; i++) {
        const sf_mem_top_entry_t *e = &s->top[i];
        char shape[128], human[32];
        sf_shape_format(e->ndim, e->shape, shape, sizeof shape);
        sf_cli_format_bytes(e->counted_bytes, human, sizeof human);
        fprintf(f, "    %-24s %-20s %-5s %14llu bytes (%s)\n", e->tensor, shape,
                sf_dtype_name(e->dtype), (unsigned long long)e->counted_bytes, human);
    }
}
