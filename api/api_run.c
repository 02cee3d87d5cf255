/* Public runs: one executor on the cpu kept across steps, inputs borrowed
 * from the caller's memory, outputs copied out contiguous. */
#include "api_impl.h"

#include <stdlib.h>
#include <string.h>

shardflow_code_t shardflow_run_new(const shardflow_graph_t *g, const char *free_policy,
                                   shardflow_run_t **out, shardflow_error_t **err)
{
    sf_err_t e = {0};
    sf_api_clear(err);
    *out = NULL;
    sf_exec_opts_t opts = {0};
    if (sf_api_free_policy(free_policy, &opts.free_policy, &e) != SF_OK)
        return sf_api_fail(&e, err);
    /* A rank of a group needs its peers for every collective: only the
     * command's launcher brings them. */
    if (g->g->world != 1) {
        sf_err_set(&e, SF_ERR_UNSUPPORTED, NULL,
                   "graph '%s' was loaded for rank %d of %d; the library runs one rank (world 1): "
                   "use `shardflow run --nproc %d`",
                   g->g->name, g->g->rank, g->g->world, g->g->world);
        return sf_api_fail(&e, err);
    }
    shardflow_run_t *r = calloc(1, sizeof *r);
    if (r == NULL) {
        sf_err_set(&e, SF_ERR_NOMEM, NULL, "out of host memory");
        return sf_api_fail(&e, err);
    }
    r->graph = g;
    int n = g->g->n_inputs;
    r->inputs = calloc((size_t)n + 1, sizeof *r->inputs);
    r->input_bufs = calloc((size_t)n + 1, sizeof *r->input_bufs);
    sf_status_t st = r->inputs != NULL && r->input_bufs != NULL
                         ? sf_exec_new(g->g, sf_device_cpu(), &opts, &r->ex, &e)
                         : sf_err_set(&e, SF_ERR_NOMEM, NULL, "out of host memory");
    if (st != SF_OK) {
        shardflow_run_free(r);
        return sf_api_fail(&e, err);
    }
    *out = r;
    return SHARDFLOW_OK;
}

shardflow_code_t shardflow_run_set_input(shardflow_run_t *r, const char *name, const char *dtype,
                                         int ndim, const int64_t *shape, const void *data,
                                         size_t nbytes, shardflow_error_t **err)
{
    sf_err_t e = {0};
    sf_api_clear(err);
    const sf_graph_t *g = r->graph->g;
    int k = 0;
    while (name != NULL && k < g->n_inputs && strcmp(g->edges[g->inputs[k]].name, name) != 0)
        k++;
    sf_dtype_t dt;
    if (name == NULL || k == g->n_inputs)
        sf_err_set(&e, SF_ERR_INPUT, NULL, "'%s' is not an input of graph '%s'",
                   name != NULL ? name : "(NULL)", g->name);
    else if (dtype == NULL || !sf_dtype_parse(dtype, &dt))
        sf_err_set(&e, SF_ERR_INPUT, NULL, "input '%s': unknown dtype '%s'", name,
                   dtype != NULL ? dtype : "(NULL)");
    else if (ndim < 0 || ndim > SF_MAX_DIMS || (ndim > 0 && shape == NULL))
        sf_err_set(&e, SF_ERR_INPUT, NULL, "input '%s': ndim must be 0..%d with a shape, got %d",
                   name, SF_MAX_DIMS, ndim);
    for (int i = 0; e.code == SF_OK && i < ndim; i++)
        if (shape[i] < 0)
            sf_err_set(&e, SF_ERR_INPUT, NULL, "input '%s': dim %d is negative (%lld)", name, i,
                       (long long)shape[i]);
    if (e.code != SF_OK)
        return sf_api_fail(&e, err);
    sf_tensor_t t = sf_tensor_make(dt, ndim, shape);
    uint64_t count, want_bytes;
    if (!sf_tensor_checked_nbytes(&t, &count, &want_bytes) || want_bytes != nbytes ||
        (data == NULL && nbytes > 0)) {
        sf_err_set(&e, SF_ERR_INPUT, NULL, "input '%s': %zu bytes given for a %s tensor of %llu "
                   "elements", name, nbytes, dtype, (unsigned long long)count);
        return sf_api_fail(&e, err);
    }
    r->input_bufs[k] = (sf_buffer_t){.data = (void *)data, .nbytes = nbytes};
    t.buf = &r->input_bufs[k];
    r->inputs[k] = t;
    /* The executor checks shape and dtype against the graph. */
    if (sf_exec_set_input(r->ex, name, &r->inputs[k], &e) != SF_OK)
        return sf_api_fail(&e, err);
    return SHARDFLOW_OK;
}

shardflow_code_t shardflow_run_step(shardflow_run_t *r, shardflow_stats_t *stats,
                                    shardflow_error_t **err)
{
    sf_err_t e = {0};
    sf_api_clear(err);
    r->has_outputs = false;
    if (sf_exec_run(r->ex, &e) != SF_OK)
        return sf_api_fail(&e, err);
    r->has_outputs = true;
    if (stats != NULL) {
        sf_exec_stats_t s = sf_exec_stats(r->ex);
        sf_api_stats_out(r->graph->g, &s, stats);
    }
    return SHARDFLOW_OK;
}

/* The bound tensor of output `name` after a successful step. */
static sf_status_t find_output(const shardflow_run_t *r, const char *name, const sf_tensor_t **out,
                               sf_err_t *e)
{
    const sf_graph_t *g = r->graph->g;
    if (!r->has_outputs)
        return sf_err_set(e, SF_ERR_INPUT, NULL,
                          "graph '%s': no outputs to read (no step has succeeded since the last "
                          "one began)", g->name);
    for (int k = 0; name != NULL && k < g->n_outputs; k++)
        if (strcmp(g->output_names[k], name) == 0) {
            *out = sf_exec_tensor(r->ex, g->outputs[k]);
            return SF_OK;
        }
    return sf_err_set(e, SF_ERR_INPUT, NULL, "graph '%s' has no output named '%s'", g->name,
                      name != NULL ? name : "(NULL)");
}

shardflow_code_t shardflow_run_output(const shardflow_run_t *r, const char *name,
                                      shardflow_tensor_info_t *info, shardflow_error_t **err)
{
    sf_err_t e = {0};
    sf_api_clear(err);
    const sf_tensor_t *t = NULL;
    if (find_output(r, name, &t, &e) != SF_OK)
        return sf_api_fail(&e, err);
    sf_api_tensor_info(t, info);
    return SHARDFLOW_OK;
}

shardflow_code_t shardflow_run_output_copy(const shardflow_run_t *r, const char *name, void *dst,
                                           size_t nbytes, shardflow_error_t **err)
{
    sf_err_t e = {0};
    sf_api_clear(err);
    const sf_tensor_t *t = NULL;
    if (find_output(r, name, &t, &e) != SF_OK)
        return sf_api_fail(&e, err);
    shardflow_tensor_info_t info;
    sf_api_tensor_info(t, &info);
    if (nbytes != info.nbytes || (dst == NULL && nbytes > 0)) {
        sf_err_set(&e, SF_ERR_INPUT, NULL, "output '%s' is %llu bytes, the destination %zu", name,
                   (unsigned long long)info.nbytes, nbytes);
        return sf_api_fail(&e, err);
    }
    /* An output may be a strided view: one copy makes it contiguous. */
    sf_buffer_t b = {.data = dst, .nbytes = nbytes};
    sf_tensor_t d = sf_tensor_make(t->dtype, t->ndim, t->shape);
    d.buf = &b;
    sf_tensor_copy_host(&d, t);
    return SHARDFLOW_OK;
}

void shardflow_run_free(shardflow_run_t *r)
{
    if (r == NULL)
        return;
    sf_exec_free(r->ex);
    free(r->inputs);
    free(r->input_bufs);
    free(r);
}
