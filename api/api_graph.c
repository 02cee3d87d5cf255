/* Public graphs and plans: loading with overrides for one rank of a
 * group, the names and layouts of inputs and outputs, and a rank's plan on
 * the meta device (the executor with no memory: plan == run to the byte). */
#include "api_impl.h"

#include <stdlib.h>
#include <string.h>

#include "op.h"

/* The most --set pairs one load takes: as many as the command line takes. */
#define API_MAX_SETS 256

sf_status_t sf_api_free_policy(const char *name, sf_free_policy_t *out, sf_err_t *err)
{
    *out = SF_FREE_EAGER;
    if (name == NULL || sf_free_policy_parse(name, out))
        return SF_OK;
    return sf_err_set(err, SF_ERR_INPUT, NULL, "free policy must be \"eager\" or \"end\", got '%s'",
                      name);
}

void sf_api_tensor_info(const sf_tensor_t *t, shardflow_tensor_info_t *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->dtype, sizeof info->dtype, "%s", sf_dtype_name(t->dtype));
    info->ndim = t->ndim;
    for (int i = 0; i < t->ndim; i++)
        info->shape[i] = t->shape[i];
    info->nbytes = (uint64_t)sf_tensor_numel(t) * sf_dtype_size(t->dtype);
}

shardflow_code_t shardflow_graph_load(const char *path, const shardflow_set_t *sets, int n_sets,
                                      int rank, int world, shardflow_graph_t **out,
                                      shardflow_error_t **err)
{
    sf_err_t e = {0};
    sf_api_clear(err);
    if (out == NULL) {
        sf_err_set(&e, SF_ERR_INPUT, NULL, "out is NULL");
        return sf_api_fail(&e, err);
    }
    *out = NULL;
    if (path == NULL)
        sf_err_set(&e, SF_ERR_INPUT, NULL, "no graph file given (path is NULL)");
    else if (n_sets < 0 || n_sets > API_MAX_SETS || (n_sets > 0 && sets == NULL))
        sf_err_set(&e, SF_ERR_INPUT, NULL, "n_sets must be 0..%d with sets given, got %d",
                   API_MAX_SETS, n_sets);
    else if (world < 1 || world > 4096 || rank < 0 || rank >= world)
        sf_err_set(&e, SF_ERR_INPUT, NULL, "rank %d of world %d: need 0 <= rank < world <= 4096",
                   rank, world);
    for (int i = 0; e.code == SF_OK && i < n_sets; i++)
        if (sets[i].key == NULL || sets[i].value == NULL)
            sf_err_set(&e, SF_ERR_INPUT, NULL, "set %d: key and value must not be NULL", i);
    if (e.code != SF_OK)
        return sf_api_fail(&e, err);
    sf_param_set_t ps[API_MAX_SETS];
    for (int i = 0; i < n_sets; i++)
        ps[i] = (sf_param_set_t){.key = sets[i].key, .value = sets[i].value};
    sf_ops_register_all();
    sf_graph_t *g = NULL;
    if (sf_graph_load_file_ranked(path, ps, n_sets, rank, world, &g, &e) != SF_OK)
        return sf_api_fail(&e, err);
    shardflow_graph_t *pg = calloc(1, sizeof *pg);
    if (pg == NULL) {
        sf_graph_free(g);
        sf_err_set(&e, SF_ERR_NOMEM, NULL, "out of host memory");
        return sf_api_fail(&e, err);
    }
    pg->g = g;
    *out = pg;
    return SHARDFLOW_OK;
}

void shardflow_graph_free(shardflow_graph_t *g)
{
    if (g == NULL)
        return;
    sf_graph_free(g->g);
    free(g);
}

const char *shardflow_graph_name(const shardflow_graph_t *g) { return g->g->name; }
int shardflow_graph_n_inputs(const shardflow_graph_t *g) { return g->g->n_inputs; }
int shardflow_graph_n_outputs(const shardflow_graph_t *g) { return g->g->n_outputs; }

const char *shardflow_graph_input_name(const shardflow_graph_t *g, int i)
{
    if (i < 0 || i >= g->g->n_inputs)
        return NULL;
    return g->g->edges[g->g->inputs[i]].name;
}

const char *shardflow_graph_output_name(const shardflow_graph_t *g, int i)
{
    if (i < 0 || i >= g->g->n_outputs)
        return NULL;
    return g->g->output_names[i];
}

shardflow_code_t shardflow_graph_tensor(const shardflow_graph_t *g, const char *name,
                                        shardflow_tensor_info_t *info, shardflow_error_t **err)
{
    sf_err_t e = {0};
    sf_api_clear(err);
    const sf_graph_t *sg = g->g;
    for (int k = 0; name != NULL && k < sg->n_outputs; k++)
        if (strcmp(sg->output_names[k], name) == 0) {
            sf_api_tensor_info(&sg->edges[sg->outputs[k]].layout, info);
            return SHARDFLOW_OK;
        }
    for (int k = 0; name != NULL && k < sg->n_inputs; k++)
        if (strcmp(sg->edges[sg->inputs[k]].name, name) == 0) {
            sf_api_tensor_info(&sg->edges[sg->inputs[k]].layout, info);
            return SHARDFLOW_OK;
        }
    sf_err_set(&e, SF_ERR_INPUT, NULL, "graph '%s' has no input or output named '%s'", sg->name,
               name != NULL ? name : "(NULL)");
    return sf_api_fail(&e, err);
}

void sf_api_stats_out(const sf_graph_t *g, const sf_exec_stats_t *s, shardflow_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->rank = g->rank;
    out->peak_bytes = s->peak_bytes;
    snprintf(out->peak_node, sizeof out->peak_node, "%s", s->peak_node);
    out->end_bytes = s->end_bytes;
    out->n_allocs = s->n_allocs;
    out->wall_s = s->wall_s;
}

shardflow_code_t shardflow_plan(const shardflow_graph_t *g, const char *free_policy, int steps,
                                shardflow_stats_t *out, shardflow_error_t **err)
{
    sf_err_t e = {0};
    sf_api_clear(err);
    sf_exec_opts_t opts = {0};
    if (sf_api_free_policy(free_policy, &opts.free_policy, &e) != SF_OK)
        return sf_api_fail(&e, err);
    if (steps < 1) {
        sf_err_set(&e, SF_ERR_INPUT, NULL, "steps must be >= 1, got %d", steps);
        return sf_api_fail(&e, err);
    }
    sf_exec_t *ex = NULL;
    sf_status_t st = sf_exec_new(g->g, sf_device_meta(), &opts, &ex, &e);
    /* Step 2 is what every later step repeats: two runs tell it all. */
    for (int k = 0; st == SF_OK && k < (steps > 1 ? 2 : 1); k++)
        st = sf_exec_run(ex, &e);
    if (st == SF_OK) {
        sf_exec_stats_t s = sf_exec_stats(ex);
        sf_api_stats_out(g->g, &s, out);
    }
    sf_exec_free(ex);
    return st == SF_OK ? SHARDFLOW_OK : sf_api_fail(&e, err);
}
