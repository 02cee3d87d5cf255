/* plan's pre-launch report (see plan_report.h). Every configuration is
 * planned rank by rank on meta with a category tally watching the
 * allocator; the figures are copied out before each rank's graph is freed,
 * so nothing here borrows from a graph once it is printed. */
#include "plan_report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "byte_size.h"
#include "mem_category.h"
#include "report.h"
#include "xalloc.h"

/* The sweep doubles its multiplier up to this before giving up on finding
 * a value that does not fit (2^40 steps: far past any real batch or seq). */
#define SWEEP_MAX_DOUBLINGS 40

typedef struct top_row {
    char tensor[96];
    char shape[96];
    sf_dtype_t dtype;
    uint64_t bytes;
    sf_mv_cat_t cat;
} top_row_t;

typedef struct rank_result {
    int rank;
    uint64_t peak_bytes;
    uint64_t end_bytes;
    char peak_node[256];
    uint64_t cats[SF_MV_CAT_COUNT]; /* at the peak; they sum to peak_bytes */
    int n_top;
    top_row_t top[SF_MEM_TOP_K];
    int same_as;                     /* index of the first identical result (itself if none) */
} rank_result_t;

typedef struct config_result {
    char label[256];                 /* "KEY=VALUE" of --compare, or "" */
    rank_result_t *ranks;            /* owned: one per planned rank */
    int n_ranks;
    int worst;                       /* index of the largest peak (the first of equals) */
    cJSON *params;                   /* owned: the echo of rank 0's params */
    bool swept;
    int64_t sweep_best;              /* 0: not even one step fits */
    uint64_t sweep_best_peak;
    int64_t sweep_next;              /* the smallest step known not to fit; 0 if none found */
    uint64_t sweep_next_peak;
} config_result_t;

void sf_plan_report_opts_init(sf_plan_report_opts_t *ro)
{
    memset(ro, 0, sizeof *ro);
    ro->only_rank = -1;
}

bool sf_plan_report_wanted(const sf_plan_report_opts_t *ro)
{
    return ro->device_mem != 0 || ro->only_rank >= 0 || ro->n_compare > 0 ||
           ro->sweep_key[0] != '\0';
}

static bool is_param_key(const char *k, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(k[i] == '_' || (k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
              (i > 0 && k[i] >= '0' && k[i] <= '9')))
            return false;
    return true;
}

static sf_status_t take_compare(sf_plan_report_opts_t *ro, const char *v, sf_err_t *err)
{
    const char *eq = strchr(v, '=');
    if (eq == NULL || !is_param_key(v, (size_t)(eq - v)) ||
        (size_t)(eq - v) >= sizeof ro->compare_key)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "--compare expects KEY=V1,V2 (say redistribution=all_gather,all_to_all), "
                          "got '%s'",
                          v);
    snprintf(ro->compare_key, sizeof ro->compare_key, "%.*s", (int)(eq - v), v);
    ro->n_compare = 0;
    const char *p = eq + 1;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (n == 0 || n >= sizeof ro->compare_vals[0])
            return sf_err_set(err, SF_ERR_INPUT, NULL,
                              "--compare %s: an empty or over-long value in '%s'", ro->compare_key,
                              v);
        if (ro->n_compare == SF_PLAN_REPORT_MAX_CONFIGS)
            return sf_err_set(err, SF_ERR_INPUT, NULL, "--compare takes at most %d values, got '%s'",
                              SF_PLAN_REPORT_MAX_CONFIGS, v);
        snprintf(ro->compare_vals[ro->n_compare++], sizeof ro->compare_vals[0], "%.*s", (int)n, p);
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    if (ro->n_compare < 2)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "--compare %s: give two or more values separated by commas, got '%s'",
                          ro->compare_key, v);
    return SF_OK;
}

static sf_status_t take_sweep(sf_plan_report_opts_t *ro, const char *v, sf_err_t *err)
{
    const char *colon = strchr(v, ':');
    size_t n = colon != NULL ? (size_t)(colon - v) : strlen(v);
    ro->sweep_step = 1;
    if (colon != NULL) {
        char *end = NULL;
        long long s = strtoll(colon + 1, &end, 10);
        if (end == colon + 1 || *end != '\0' || s < 1 || s > (1LL << 30))
            return sf_err_set(err, SF_ERR_INPUT, NULL,
                              "--sweep %s: the step after ':' must be 1..2^30, got '%s'", v,
                              colon + 1);
        ro->sweep_step = s;
    }
    if (!is_param_key(v, n) || n >= sizeof ro->sweep_key)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "--sweep expects a param name and an optional step (batch, seq:256), got "
                          "'%s'",
                          v);
    snprintf(ro->sweep_key, sizeof ro->sweep_key, "%.*s", (int)n, v);
    return SF_OK;
}

int sf_plan_report_take(sf_plan_report_opts_t *ro, int argc, char **argv, int *i, sf_err_t *err)
{
    const char *arg = argv[*i];
    if (sf_cli_is_option(arg, "--device-mem")) {
        const char *v = sf_cli_option_value(argc, argv, i, err);
        if (v == NULL || sf_byte_size_parse("--device-mem", v, &ro->device_mem, err) != SF_OK)
            return -1;
        return 1;
    }
    if (sf_cli_is_option(arg, "--rank")) {
        const char *v = sf_cli_option_value(argc, argv, i, err);
        char *end = NULL;
        long r = v != NULL ? strtol(v, &end, 10) : -1;
        if (v == NULL)
            return -1;
        if (end == v || *end != '\0' || r < 0 || r > 4095) {
            sf_err_set(err, SF_ERR_INPUT, NULL, "--rank expects 0..world-1, got '%s'", v);
            return -1;
        }
        ro->only_rank = (int)r;
        return 1;
    }
    if (sf_cli_is_option(arg, "--compare") || sf_cli_is_option(arg, "--sweep")) {
        bool compare = sf_cli_is_option(arg, "--compare");
        const char *v = sf_cli_option_value(argc, argv, i, err);
        if (v == NULL)
            return -1;
        sf_status_t st = compare ? take_compare(ro, v, err) : take_sweep(ro, v, err);
        return st == SF_OK ? 1 : -1;
    }
    return 0;
}

/* ---- JSON echo ------------------------------------------------------------------ */

static cJSON *value_json(const sf_value_t *v)
{
    switch (v->type) {
    case SF_VALUE_INT: {
        char text[24];
        snprintf(text, sizeof text, "%" PRId64, v->i);
        return cJSON_CreateRaw(text);
    }
    case SF_VALUE_FLOAT:
        return cJSON_CreateNumber(v->f);
    case SF_VALUE_BOOL:
        return cJSON_CreateBool(v->b);
    case SF_VALUE_STRING:
        return cJSON_CreateString(v->s != NULL ? v->s : "");
    case SF_VALUE_LIST: {
        cJSON *a = cJSON_CreateArray();
        for (int k = 0; k < v->n_items; k++)
            cJSON_AddItemToArray(a, value_json(&v->items[k]));
        return a;
    }
    }
    return cJSON_CreateNull();
}

static cJSON *params_json(const sf_graph_t *g)
{
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; k < g->n_params; k++) {
        /* rank differs per rank; the echo describes the job. */
        if (strcmp(g->params[k].name, "rank") == 0)
            continue;
        cJSON_AddItemToObject(o, g->params[k].name, value_json(&g->params[k].value));
    }
    return o;
}

void sf_plan_report_json_echo(cJSON *root, const sf_graph_t *g, const char *graph_file)
{
    if (graph_file != NULL)
        cJSON_AddStringToObject(root, "graph_file", graph_file);
    cJSON_AddItemToObject(root, "params", params_json(g));
}

/* ---- planning ------------------------------------------------------------------- */

static void copy_top(const sf_mem_cat_tally_t *tally, const sf_mem_snapshot_t *s,
                     rank_result_t *rr)
{
    rr->n_top = s->n_top;
    for (int k = 0; k < s->n_top; k++) {
        const sf_mem_top_entry_t *e = &s->top[k];
        top_row_t *t = &rr->top[k];
        snprintf(t->tensor, sizeof t->tensor, "%s", e->tensor != NULL ? e->tensor : "");
        sf_shape_format(e->ndim, e->shape, t->shape, sizeof t->shape);
        t->dtype = e->dtype;
        t->bytes = e->counted_bytes;
        t->cat = sf_mem_cat_of_tensor(tally, e->tensor);
    }
}

static bool same_result(const rank_result_t *a, const rank_result_t *b)
{
    if (a->peak_bytes != b->peak_bytes || a->end_bytes != b->end_bytes ||
        strcmp(a->peak_node, b->peak_node) != 0 || a->n_top != b->n_top ||
        memcmp(a->cats, b->cats, sizeof a->cats) != 0)
        return false;
    for (int k = 0; k < a->n_top; k++)
        if (strcmp(a->top[k].tensor, b->top[k].tensor) != 0 ||
            a->top[k].bytes != b->top[k].bytes || strcmp(a->top[k].shape, b->top[k].shape) != 0)
            return false;
    return true;
}

typedef struct plan_job {
    const sf_cli_graph_args_t *a;
    const sf_session_opts_t *base;
    const sf_plan_report_opts_t *ro;
    uint64_t mem_limit;
    int n_over;                     /* ranks over --mem-limit so far */
} plan_job_t;

/* Plan every selected rank with a->sets plus the extra sets into c. */
static sf_status_t plan_config(plan_job_t *job, const sf_param_set_t *extra, int n_extra,
                               config_result_t *c, bool want_params, bool check_limit,
                               sf_err_t *err)
{
    const sf_cli_graph_args_t *a = job->a;
    int world = job->base->world;
    int first = job->ro->only_rank >= 0 ? job->ro->only_rank : 0;
    int last = job->ro->only_rank >= 0 ? job->ro->only_rank : world - 1;
    if (first >= world)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "--rank %d: the group has ranks 0..%d (--world %d)",
                          first, world - 1, world);
    int n_sets = a->n_sets + n_extra;
    sf_param_set_t *sets = sf_xalloc_calloc((size_t)n_sets + 1, sizeof *sets);
    memcpy(sets, a->sets, (size_t)a->n_sets * sizeof *sets);
    memcpy(sets + a->n_sets, extra, (size_t)n_extra * sizeof *sets);
    free(c->ranks);
    c->n_ranks = last - first + 1;
    c->ranks = sf_xalloc_calloc((size_t)c->n_ranks, sizeof *c->ranks);
    c->worst = 0;
    sf_status_t st = SF_OK;
    for (int r = first; r <= last && st == SF_OK; r++) {
        sf_graph_t *g = NULL;
        st = sf_graph_load_file_ranked(a->graph_path, sets, n_sets, r, world, &g, err);
        if (st != SF_OK)
            break;
        sf_mem_cat_tally_t tally;
        sf_mem_cat_tally_init(&tally, g);
        sf_session_opts_t o = *job->base;
        o.rank = r;
        o.trace = NULL;
        o.observer = sf_mem_cat_observe;
        o.observer_ctx = &tally;
        sf_rank_report_t rep;
        st = sf_session_run(g, &o, false, &rep, err);
        if (st == SF_OK) {
            rank_result_t *rr = &c->ranks[r - first];
            rr->rank = r;
            rr->peak_bytes = rep.stats.peak_bytes;
            rr->end_bytes = rep.stats.end_bytes;
            snprintf(rr->peak_node, sizeof rr->peak_node, "%s", rep.peak_node);
            memcpy(rr->cats, tally.at_peak, sizeof rr->cats);
            SF_ASSERT(tally.peak_bytes == rr->peak_bytes);
            copy_top(&tally, &rep.mem_snap, rr);
            if (rr->peak_bytes > c->ranks[c->worst].peak_bytes)
                c->worst = r - first;
            if (want_params && c->params == NULL)
                c->params = params_json(g);
        }
        if (st == SF_OK && check_limit && job->mem_limit != 0 &&
            rep.stats.peak_bytes > job->mem_limit) {
            sf_rank_report_t planned;
            sf_err_t over = {0};
            if (sf_session_check_mem_limit(g, &o, job->mem_limit, &planned, &over) ==
                SF_ERR_INPUT) {
                sf_cli_print_error(&over);
                sf_report_print_mem_snapshot(stderr, &planned.mem_snap, false);
                job->n_over++;
            }
        }
        sf_mem_cat_tally_fini(&tally);
        sf_graph_free(g);
    }
    free(sets);
    for (int k = 0; k < c->n_ranks && st == SF_OK; k++) {
        c->ranks[k].same_as = k;
        for (int j = 0; j < k; j++)
            if (c->ranks[j].same_as == j && same_result(&c->ranks[j], &c->ranks[k])) {
                c->ranks[k].same_as = j;
                break;
            }
    }
    return st;
}

/* The largest multiple of the step that fits: double until a value does
 * not fit, then bisect between the last that fit and the first that did
 * not. Peaks grow with batch and seq, so the answer is the boundary. */
static sf_status_t sweep_config(plan_job_t *job, const sf_param_set_t *extra, int n_extra,
                                config_result_t *c, sf_err_t *err)
{
    const sf_plan_report_opts_t *ro = job->ro;
    sf_param_set_t *sets = sf_xalloc_calloc((size_t)n_extra + 1, sizeof *sets);
    memcpy(sets, extra, (size_t)n_extra * sizeof *sets);
    char value[32];
    sets[n_extra] = (sf_param_set_t){.key = ro->sweep_key, .value = value};
    config_result_t probe = {0};
    c->swept = true;
    int64_t lo = 0, hi = 0; /* multipliers: lo fits (0: none known), hi does not (0: none known) */
    uint64_t lo_peak = 0, hi_peak = 0;
    sf_status_t st = SF_OK;
    int doublings = 0;
    while (st == SF_OK && (hi == 0 ? lo == 0 || doublings <= SWEEP_MAX_DOUBLINGS : hi - lo > 1)) {
        int64_t k = hi == 0 ? (lo == 0 ? 1 : 2 * lo) : lo + (hi - lo) / 2;
        doublings += hi == 0;
        snprintf(value, sizeof value, "%" PRId64, k * ro->sweep_step);
        st = plan_config(job, sets, n_extra + 1, &probe, false, false, err);
        if (st != SF_OK)
            break;
        uint64_t peak = probe.ranks[probe.worst].peak_bytes;
        if (peak > ro->device_mem) {
            hi = k;
            hi_peak = peak;
            if (lo == 0)
                break; /* not even one step fits */
        } else {
            lo = k;
            lo_peak = peak;
        }
    }
    free(probe.ranks);
    free(sets);
    if (st != SF_OK)
        return st;
    c->sweep_best = lo * ro->sweep_step;
    c->sweep_best_peak = lo_peak;
    c->sweep_next = hi * ro->sweep_step;
    c->sweep_next_peak = hi_peak;
    return SF_OK;
}

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
                      void (*cell)(const config_result_t *, const sf_plan_report_opts_t *, char *,
                                   size_t),
                      const sf_plan_report_opts_t *ro)
{
    printf("%-22s", name);
    for (int k = 0; k < n; k++) {
        char text[320];
        cell(&cs[k], ro, text, sizeof text);
        printf("  %-*s", COL_W, text);
    }
    printf("\n");
}

static const rank_result_t *worst(const config_result_t *c)
{
    return &c->ranks[c->worst];
}

static void cell_ranks(const config_result_t *c, const sf_plan_report_opts_t *ro, char *o, size_t n)
{
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

static void cell_peak(const config_result_t *c, const sf_plan_report_opts_t *ro, char *o, size_t n)
{
    (void)ro;
    char h[32];
    sf_cli_format_bytes(worst(c)->peak_bytes, h, sizeof h);
    snprintf(o, n, "%llu (%s)", (unsigned long long)worst(c)->peak_bytes, h);
}

static void cell_node(const config_result_t *c, const sf_plan_report_opts_t *ro, char *o, size_t n)
{
    (void)ro;
    snprintf(o, n, "%s", worst(c)->peak_node);
}

static void cell_fits(const config_result_t *c, const sf_plan_report_opts_t *ro, char *o, size_t n)
{
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

static void cell_end(const config_result_t *c, const sf_plan_report_opts_t *ro, char *o, size_t n)
{
    (void)ro;
    char h[32];
    sf_cli_format_bytes(worst(c)->end_bytes, h, sizeof h);
    snprintf(o, n, "%s", h);
}

static void cell_sweep(const config_result_t *c, const sf_plan_report_opts_t *ro, char *o,
                       size_t n)
{
    if (c->sweep_best == 0)
        snprintf(o, n, "none fits (%s=%lld shown)", ro->sweep_key, (long long)ro->sweep_step);
    else
        snprintf(o, n, "%s=%lld (shown below)", ro->sweep_key, (long long)c->sweep_best);
}

static sf_mv_cat_t cell_cat_which;

static void cell_cat(const config_result_t *c, const sf_plan_report_opts_t *ro, char *o, size_t n)
{
    (void)ro;
    uint64_t b = worst(c)->cats[cell_cat_which];
    char h[32];
    sf_cli_format_bytes(b, h, sizeof h);
    double share = worst(c)->peak_bytes ? 100.0 * (double)b / (double)worst(c)->peak_bytes : 0.0;
    snprintf(o, n, "%-12s %5.1f%%", h, share);
}

static void print_text(const sf_cli_graph_args_t *a, const sf_session_opts_t *base,
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
        printf("  %-*s", COL_W, cs[k].label[0] ? cs[k].label : "this plan");
    printf("\n");
    if (ro->sweep_key[0] != '\0')
        print_row("largest that fits", cs, n, cell_sweep, ro);
    print_row("ranks", cs, n, cell_ranks, ro);
    print_row("peak (worst rank)", cs, n, cell_peak, ro);
    print_row("peak node", cs, n, cell_node, ro);
    if (ro->device_mem != 0)
        print_row("fits the device", cs, n, cell_fits, ro);
    for (int c = 0; c < SF_MV_CAT_COUNT; c++) {
        char name[40];
        snprintf(name, sizeof name, "  %s", sf_mv_cat_name((sf_mv_cat_t)c));
        cell_cat_which = (sf_mv_cat_t)c;
        print_row(name, cs, n, cell_cat, ro);
    }
    print_row("end (kept to the end)", cs, n, cell_end, ro);
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

static void print_json(const sf_cli_graph_args_t *a, const sf_session_opts_t *base,
                       const sf_plan_report_opts_t *ro, config_result_t *cs, int n)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "graph_file", a->graph_path);
    cJSON_AddNumberToObject(root, "world", base->world);
    cJSON_AddStringToObject(root, "device", "meta");
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

/* ---- the command ---------------------------------------------------------------- */

static sf_status_t check_keys(const sf_cli_graph_args_t *a, const sf_plan_report_opts_t *ro,
                              sf_err_t *err)
{
    if (ro->sweep_key[0] != '\0' && ro->device_mem == 0)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "--sweep %s needs --device-mem: the memory the value must fit",
                          ro->sweep_key);
    if (ro->n_compare > 0 && strcmp(ro->compare_key, ro->sweep_key) == 0)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "--compare and --sweep name the same param '%s'",
                          ro->sweep_key);
    for (int k = 0; k < a->n_sets; k++) {
        const char *key = a->sets[k].key;
        if ((ro->n_compare > 0 && strcmp(key, ro->compare_key) == 0) ||
            (ro->sweep_key[0] != '\0' && strcmp(key, ro->sweep_key) == 0))
            return sf_err_set(err, SF_ERR_INPUT, NULL,
                              "--set %s=%s and --%s %s: give the param once", key, a->sets[k].value,
                              strcmp(key, ro->sweep_key) == 0 ? "sweep" : "compare", key);
    }
    if (a->graph_path == NULL)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "plan: no graph file given (see --help)");
    return SF_OK;
}

int sf_plan_report_run(const sf_cli_graph_args_t *a, const sf_session_opts_t *base,
                       uint64_t mem_limit, const sf_plan_report_opts_t *ro)
{
    sf_err_t err = {0};
    int n = ro->n_compare > 0 ? ro->n_compare : 1;
    config_result_t *cs = sf_xalloc_calloc((size_t)n, sizeof *cs);
    plan_job_t job = {.a = a, .base = base, .ro = ro, .mem_limit = mem_limit};
    sf_status_t st = check_keys(a, ro, &err);
    sf_ops_register_all();
    for (int k = 0; k < n && st == SF_OK; k++) {
        sf_param_set_t extra = {0};
        int n_extra = 0;
        if (ro->n_compare > 0) {
            extra = (sf_param_set_t){.key = ro->compare_key, .value = ro->compare_vals[k]};
            n_extra = 1;
            snprintf(cs[k].label, sizeof cs[k].label, "%s=%s", ro->compare_key,
                     ro->compare_vals[k]);
        }
        /* With a sweep the table shows the largest value that fits (or the
         * first step, which does not): the graph's own default may not even
         * be valid for this world. */
        sf_param_set_t sets[2] = {extra};
        char value[32];
        if (ro->sweep_key[0] != '\0') {
            st = sweep_config(&job, &extra, n_extra, &cs[k], &err);
            int64_t shown = cs[k].sweep_best != 0 ? cs[k].sweep_best : ro->sweep_step;
            snprintf(value, sizeof value, "%" PRId64, shown);
            sets[n_extra++] = (sf_param_set_t){.key = ro->sweep_key, .value = value};
        }
        if (st == SF_OK)
            st = plan_config(&job, sets, n_extra, &cs[k], true, true, &err);
    }
    int rc = 0;
    if (st != SF_OK) {
        rc = sf_cli_fail(&err);
    } else {
        if (a->json)
            print_json(a, base, ro, cs, n);
        else
            print_text(a, base, ro, cs, n);
        bool fits = true;
        for (int k = 0; k < n; k++) {
            for (int r = 0; r < cs[k].n_ranks && ro->device_mem != 0; r++)
                fits = fits && cs[k].ranks[r].peak_bytes <= ro->device_mem;
            if (cs[k].swept && cs[k].sweep_best == 0)
                fits = false;
        }
        if (job.n_over > 0)
            rc = sf_status_exit_code(SF_ERR_INPUT);
        else if (!fits)
            rc = SF_PLAN_EXIT_NO_FIT;
    }
    for (int k = 0; k < n; k++) {
        free(cs[k].ranks);
        cJSON_Delete(cs[k].params);
    }
    free(cs);
    return rc;
}
