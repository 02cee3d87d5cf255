/* plan's pre-launch report (see plan_report.h). Every configuration is
 * planned rank by rank on meta with a category tally watching the
 * allocator; the figures are copied out before each rank's graph is freed,
 * so nothing here borrows from a graph once it is printed. */
#include "plan_report_impl.h"

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
            sf_plan_report_print_json(a, base, ro, cs, n);
        else
            sf_plan_report_print_text(a, base, ro, cs, n);
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
