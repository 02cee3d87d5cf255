/* plan's pre-launch report, printed (see plan_report.h): the side-by-side
 * table, the largest buffers at each distinct rank's peak, the sweep's
 * answer, or the same as one JSON object. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "plan_report_impl.h"

/* ---- printing ------------------------------------------------------------------- */

static void ranks_text(const config_result_t *c, int lead, char *out, size_t n)
{
    /* "0-7" for a run of consecutive ranks, else a comma list. */
    size_t used = 0;
    out[0] = '\0';
    int k = 0;
    while (k < c->n_ranks && used + 16 < n) {
        if (c->ranks[k].same_as != lead) {
            k++;
            continue;
        }
        int j = k;
        while (j + 1 < c->n_ranks && c->ranks[j + 1].same_as == lead &&
               c->ranks[j + 1].rank == c->ranks[j].rank + 1)
            j++;
        int w = j > k ? snprintf(out + used, n - used, "%s%d-%d", used ? "," : "", c->ranks[k].rank,
                                 c->ranks[j].rank)
                      : snprintf(out + used, n - used, "%s%d", used ? "," : "", c->ranks[k].rank);
        used += w > 0 ? (size_t)w : 0;
        k = j + 1;
    }
}

static int group_size(const config_result_t *c, int lead)
{
    int n = 0;
    for (int k = 0; k < c->n_ranks; k++)
        n += c->ranks[k].same_as == lead;
    return n;
}

static void human_signed(int64_t v, char *out, size_t n)
{
    if (n < 2)
        return;
    /* The sign goes first, the magnitude after it. */
    out[0] = '-';
    char *mag = v < 0 ? out + 1 : out;
    sf_cli_format_bytes((unsigned long long)(v < 0 ? -v : v), mag, n - (size_t)(mag - out));
}

static int64_t headroom(uint64_t device, uint64_t peak)
{
    return device >= peak ? (int64_t)(device - peak) : -(int64_t)(peak - device);
}

#define COL_W 30

static void print_row(const char *name, config_result_t *cs, int n,
                      void (*cell)(const config_result_t *, const sf_plan_report_opts_t *, int,
                                   char *, size_t),
                      const sf_plan_report_opts_t *ro, int arg)
{
    printf("%-22s", name);
    for (int k = 0; k < n; k++) {
        char text[320];
        cell(&cs[k], ro, arg, text, sizeof text);
        /* The last column is not padded: no trailing blanks. */
        if (k + 1 < n)
            printf("  %-*s", COL_W, text);
        else
            printf("  %s", text);
    }
    printf("\n");
}

static const rank_result_t *worst(const config_result_t *c)
{
    return &c->ranks[c->worst];
}

static void cell_ranks(const config_result_t *c, const sf_plan_report_opts_t *ro, int arg, char *o,
                 size_t n)
{
    (void)arg;
    (void)ro;
    int groups = 0;
    for (int k = 0; k < c->n_ranks; k++)
        groups += c->ranks[k].same_as == k;
    char list[64];
    ranks_text(c, 0, list, sizeof list);
    if (groups == 1 && c->n_ranks > 1)
        snprintf(o, n, "%s identical (folded)", list);
    else if (groups == 1)
        snprintf(o, n, "%d", c->ranks[0].rank);
    else
        snprintf(o, n, "%d ranks, %d kinds; worst %d", c->n_ranks, groups, worst(c)->rank);
}

static void cell_peak(const config_result_t *c, const sf_plan_report_opts_t *ro, int arg, char *o,
                 size_t n)
{
    (void)arg;
    (void)ro;
    char h[32];
    sf_cli_format_bytes(worst(c)->peak_bytes, h, sizeof h);
    snprintf(o, n, "%llu (%s)", (unsigned long long)worst(c)->peak_bytes, h);
}

static void cell_node(const config_result_t *c, const sf_plan_report_opts_t *ro, int arg, char *o,
                 size_t n)
{
    (void)arg;
    (void)ro;
    snprintf(o, n, "%s", worst(c)->peak_node);
}

static void cell_fits(const config_result_t *c, const sf_plan_report_opts_t *ro, int arg, char *o,
                 size_t n)
{
    (void)arg;
    int n_fit = 0;
    for (int k = 0; k < c->n_ranks; k++)
        n_fit += c->ranks[k].peak_bytes <= ro->device_mem;
    char h[32];
    human_signed(headroom(ro->device_mem, worst(c)->peak_bytes), h, sizeof h);
    if (n_fit == c->n_ranks)
        snprintf(o, n, "yes, headroom %s", h);
    else
        snprintf(o, n, "NO (%d of %d ranks), %s", c->n_ranks - n_fit, c->n_ranks, h);
}

static void cell_end(const config_result_t *c, const sf_plan_report_opts_t *ro, int arg, char *o,
                 size_t n)
{
    (void)arg;
    (void)ro;
    char h[32];
    sf_cli_format_bytes(worst(c)->end_bytes, h, sizeof h);
    snprintf(o, n, "%s", h);
}

static void cell_sweep(const config_result_t *c, const sf_plan_report_opts_t *ro, int arg, char *o,
                 size_t n)
{
    (void)arg;
    if (c->sweep_best == 0)
        snprintf(o, n, "none fits (%s=%lld shown)", ro->sweep_key, (long long)ro->sweep_step);
    else
        snprintf(o, n, "%s=%lld (shown below)", ro->sweep_key, (long long)c->sweep_best);
}

static void cell_cat(const config_result_t *c, const sf_plan_report_opts_t *ro, int arg, char *o,
                 size_t n)
{
    (void)ro;
    uint64_t b = worst(c)->cats[arg]; /* arg: the category */
    char h[32];
    sf_cli_format_bytes(b, h, sizeof h);
    double share = worst(c)->peak_bytes ? 100.0 * (double)b / (double)worst(c)->peak_bytes : 0.0;
    snprintf(o, n, "%-12s %5.1f%%", h, share);
}

void sf_plan_report_print_text(const sf_cli_graph_args_t *a, const sf_session_opts_t *base,
                       const sf_plan_report_opts_t *ro, config_result_t *cs, int n)
{
    printf("pre-launch report: %s, world %d%s, free %s, planned on meta\n", a->graph_path,
           base->world, ro->only_rank >= 0 ? " (one rank)" : "",
           base->free_policy == SF_FREE_END ? "end" : "eager");
    if (ro->device_mem != 0) {
        char h[32];
        sf_cli_format_bytes(ro->device_mem, h, sizeof h);
        printf("device memory: %llu bytes (%s) per rank\n", (unsigned long long)ro->device_mem, h);
    }
    printf("\n%-22s", "");
    for (int k = 0; k < n; k++)
        printf("  %-*s", k + 1 < n ? COL_W : 0, cs[k].label[0] ? cs[k].label : "this plan");
    printf("\n");
    if (ro->sweep_key[0] != '\0')
        print_row("largest that fits", cs, n, cell_sweep, ro, 0);
    print_row("ranks", cs, n, cell_ranks, ro, 0);
    print_row("peak (worst rank)", cs, n, cell_peak, ro, 0);
    print_row("peak node", cs, n, cell_node, ro, 0);
    if (ro->device_mem != 0)
        print_row("fits the device", cs, n, cell_fits, ro, 0);
    for (int c = 0; c < SF_MV_CAT_COUNT; c++) {
        char name[40];
        snprintf(name, sizeof name, "  %s", sf_mv_cat_name((sf_mv_cat_t)c));
        print_row(name, cs, n, cell_cat, ro, c);
    }
    print_row("end (kept to the end)", cs, n, cell_end, ro, 0);
    if (n == 2) {
        char d[32];
        human_signed((int64_t)worst(&cs[1])->peak_bytes - (int64_t)worst(&cs[0])->peak_bytes, d,
                     sizeof d);
        printf("difference (%s - %s): peak %s\n", cs[1].label, cs[0].label, d);
    }
    for (int k = 0; k < n; k++) {
        const config_result_t *c = &cs[k];
        for (int g = 0; g < c->n_ranks; g++) {
            if (c->ranks[g].same_as != g)
                continue;
            const rank_result_t *rr = &c->ranks[g];
            char list[128], h[32];
            ranks_text(c, g, list, sizeof list);
            sf_cli_format_bytes(rr->peak_bytes, h, sizeof h);
            int size = group_size(c, g);
            printf("\n%s%srank%s %s%s: peak %s at '%s'", c->label, c->label[0] ? ", " : "",
                   size > 1 ? "s" : "", list, size > 1 ? " (identical, shown once)" : "", h,
                   rr->peak_node);
            if (ro->device_mem != 0) {
                char hr[32];
                human_signed(headroom(ro->device_mem, rr->peak_bytes), hr, sizeof hr);
                printf(", %s, headroom %s", rr->peak_bytes <= ro->device_mem ? "fits" : "DOES NOT FIT",
                       hr);
            }
            printf("\n  largest live at the peak:\n");
            for (int t = 0; t < rr->n_top; t++) {
                const top_row_t *e = &rr->top[t];
                char hb[32];
                sf_cli_format_bytes(e->bytes, hb, sizeof hb);
                printf("    %-24s %-20s %-5s %14llu bytes (%s)  %s\n", e->tensor, e->shape,
                       sf_dtype_name(e->dtype), (unsigned long long)e->bytes, hb,
                       sf_mv_cat_name(e->cat));
            }
        }
        if (c->swept) {
            char dm[32];
            sf_cli_format_bytes(ro->device_mem, dm, sizeof dm);
            printf("\n%s%slargest %s that fits %s (steps of %lld): ", c->label,
                   c->label[0] ? ": " : "", ro->sweep_key, dm, (long long)ro->sweep_step);
            char p[32];
            if (c->sweep_best == 0) {
                sf_cli_format_bytes(c->sweep_next_peak, p, sizeof p);
                printf("none (%s=%lld already needs %llu bytes, %s)\n", ro->sweep_key,
                       (long long)c->sweep_next, (unsigned long long)c->sweep_next_peak, p);
            } else {
                sf_cli_format_bytes(c->sweep_best_peak, p, sizeof p);
                printf("%lld (peak %llu bytes, %s)", (long long)c->sweep_best,
                       (unsigned long long)c->sweep_best_peak, p);
                if (c->sweep_next != 0) {
                    sf_cli_format_bytes(c->sweep_next_peak, p, sizeof p);
                    printf("; %lld needs %llu bytes (%s)", (long long)c->sweep_next,
                           (unsigned long long)c->sweep_next_peak, p);
                } else {
                    printf("; still fits at the largest value tried");
                }
                printf("\n");
            }
        }
    }
}

static void json_add_i64(cJSON *o, const char *key, int64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, v);
    cJSON_AddRawToObject(o, key, text);
}

static cJSON *rank_json(const rank_result_t *rr, const sf_plan_report_opts_t *ro)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "rank", rr->rank);
    sf_cli_json_add_u64(o, "peak_bytes", rr->peak_bytes);
    cJSON_AddStringToObject(o, "peak_node", rr->peak_node);
    sf_cli_json_add_u64(o, "end_bytes", rr->end_bytes);
    if (ro->device_mem != 0) {
        cJSON_AddBoolToObject(o, "fits", rr->peak_bytes <= ro->device_mem);
        json_add_i64(o, "headroom_bytes", headroom(ro->device_mem, rr->peak_bytes));
    }
    cJSON *cats = cJSON_AddObjectToObject(o, "by_category");
    for (int c = 0; c < SF_MV_CAT_COUNT; c++)
        sf_cli_json_add_u64(cats, sf_mem_cat_key((sf_mv_cat_t)c), rr->cats[c]);
    cJSON *top = cJSON_AddArrayToObject(o, "live_at_peak");
    for (int t = 0; t < rr->n_top; t++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "tensor", rr->top[t].tensor);
        cJSON_AddStringToObject(e, "shape", rr->top[t].shape);
        cJSON_AddStringToObject(e, "dtype", sf_dtype_name(rr->top[t].dtype));
        sf_cli_json_add_u64(e, "bytes", rr->top[t].bytes);
        cJSON_AddStringToObject(e, "category", sf_mem_cat_key(rr->top[t].cat));
        cJSON_AddItemToArray(top, e);
    }
    return o;
}

void sf_plan_report_print_json(const sf_cli_graph_args_t *a, const sf_session_opts_t *base,
                       const sf_plan_report_opts_t *ro, config_result_t *cs, int n)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "graph_file", a->graph_path);
    cJSON_AddNumberToObject(root, "world", base->world);
    cJSON_AddStringToObject(root, "device", sf_device_name(base->dev));
    cJSON_AddStringToObject(root, "free", base->free_policy == SF_FREE_END ? "end" : "eager");
    if (ro->only_rank >= 0)
        cJSON_AddNumberToObject(root, "rank", ro->only_rank);
    if (ro->device_mem != 0)
        sf_cli_json_add_u64(root, "device_mem_bytes", ro->device_mem);
    cJSON *sets = cJSON_AddObjectToObject(root, "set");
    for (int k = 0; k < a->n_sets; k++)
        cJSON_AddStringToObject(sets, a->sets[k].key, a->sets[k].value);
    cJSON *configs = cJSON_AddArrayToObject(root, "configs");
    for (int k = 0; k < n; k++) {
        cJSON *c = cJSON_CreateObject();
        if (cs[k].label[0])
            cJSON_AddStringToObject(c, "compare", cs[k].label);
        cJSON_AddItemToObject(c, "params", cs[k].params);
        cs[k].params = NULL;
        if (ro->device_mem != 0) {
            bool fits = true;
            for (int r = 0; r < cs[k].n_ranks; r++)
                fits = fits && cs[k].ranks[r].peak_bytes <= ro->device_mem;
            cJSON_AddBoolToObject(c, "fits", fits);
        }
        cJSON *ranks = cJSON_AddArrayToObject(c, "ranks");
        for (int r = 0; r < cs[k].n_ranks; r++)
            cJSON_AddItemToArray(ranks, rank_json(&cs[k].ranks[r], ro));
        if (cs[k].swept) {
            cJSON *s = cJSON_AddObjectToObject(c, "sweep");
            cJSON_AddStringToObject(s, "param", ro->sweep_key);
            json_add_i64(s, "step", ro->sweep_step);
            json_add_i64(s, "largest_fitting", cs[k].sweep_best);
            sf_cli_json_add_u64(s, "largest_fitting_peak_bytes", cs[k].sweep_best_peak);
            json_add_i64(s, "smallest_not_fitting", cs[k].sweep_next);
            sf_cli_json_add_u64(s, "smallest_not_fitting_peak_bytes", cs[k].sweep_next_peak);
        }
        cJSON_AddItemToArray(configs, c);
    }
    sf_cli_json_print_free(root, stdout);
}
