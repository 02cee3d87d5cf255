/* Running one rank of a graph end to end. Outputs are written only after
 * the whole run succeeded, and each file atomically, so a failed run
 * leaves nothing half-written. */
#include "graph_session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"

void sf_session_output_path(const char *dir, int rank, char *out, size_t n)
{
    snprintf(out, n, "%s/rank%d.safetensors", dir, rank);
}

/* mkdir -p: an output folder that does not exist yet is made. */
static bool make_dirs(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return false;
        *p = '/';
    }
    return mkdir(path, 0777) == 0 || errno == EEXIST;
}

sf_status_t sf_session_check_out(const char *dir, int rank, bool overwrite, sf_err_t *err)
{
    struct stat sb;
    if (stat(dir, &sb) != 0 && !make_dirs(dir))
        return sf_err_set(err, SF_ERR_INPUT, NULL, "--out %s: cannot create the folder: %s", dir,
                          strerror(errno));
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return sf_err_set(err, SF_ERR_INPUT, NULL, "--out %s: not a folder", dir);
    char path[4096];
    sf_session_output_path(dir, rank, path, sizeof path);
    if (!overwrite && access(path, F_OK) == 0)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "output file exists: %s (pass --overwrite)",
                          path);
    return SF_OK;
}

static sf_status_t bind_inputs(sf_exec_t *ex, const sf_graph_t *g, const sf_st_file_t *f,
                               const char *path, sf_tensor_t *holders, sf_err_t *err)
{
    for (int k = 0; k < g->n_inputs; k++) {
        const sf_gvalue_t *gv = &g->values[g->inputs[k]];
        int i = sf_st_find(f, gv->name);
        if (i < 0)
            return sf_err_set(err, SF_ERR_INPUT, NULL, "%s: no tensor '%s' (a graph input)", path,
                              gv->name);
        const void *data;
        sf_st_get(f, i, &holders[k], &data);
        /* The map is read-only and lives until the run ends; a borrowed
         * buffer record lets the tensor point into it without a copy. */
        sf_buffer_t *view = calloc(1, sizeof *view);
        SF_ASSERT(view != NULL);
        view->data = (void *)data;
        view->nbytes = sf_tensor_nbytes(&holders[k]);
        holders[k].buf = view;
        sf_status_t st = sf_exec_set_input(ex, gv->name, &holders[k], err);
        if (st != SF_OK)
            return st;
    }
    return SF_OK;
}

static sf_status_t write_outputs(sf_exec_t *ex, const sf_graph_t *g, const sf_session_opts_t *o,
                                 sf_err_t *err)
{
    sf_st_entry_t *entries = calloc((size_t)g->n_outputs + 1, sizeof *entries);
    SF_ASSERT(entries != NULL);
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        entries[k].name = g->output_names[k];
        entries[k].tensor = sf_exec_value(ex, v);
    }
    char path[4096];
    sf_session_output_path(o->out_dir, o->rank, path, sizeof path);
    sf_status_t st = sf_st_write(path, entries, g->n_outputs, o->overwrite, err);
    free(entries);
    return st;
}

sf_status_t sf_session_run(const sf_graph_t *g, const sf_session_opts_t *o, bool want_node_times,
                           sf_rank_report_t *report, sf_err_t *err)
{
    memset(report, 0, sizeof *report);
    report->rank = o->rank;
    sf_exec_opts_t eo = {.free_policy = o->free_policy, .trace = o->trace, .rank = o->rank,
                         .world = o->world, .comm = o->comm};
    if (o->trace != NULL) {
        char name[512];
        snprintf(name, sizeof name, "rank %d: %s on %s", o->rank, g->name, sf_device_name(o->dev));
        sf_trace_process(o->trace, o->rank, name);
    }
    sf_exec_t *ex = NULL;
    sf_st_file_t *inputs = NULL;
    sf_tensor_t *holders = calloc((size_t)g->n_inputs + 1, sizeof *holders);
    SF_ASSERT(holders != NULL);
    sf_status_t st = sf_exec_new(g, o->dev, &eo, &ex, err);
    if (st == SF_OK && o->inputs_path != NULL) {
        st = sf_st_open(o->inputs_path, &inputs, err);
        if (st == SF_OK)
            st = bind_inputs(ex, g, inputs, o->inputs_path, holders, err);
    }
    if (st == SF_OK)
        st = sf_exec_run(ex, err);
    if (st == SF_OK && o->out_dir != NULL && sf_device_touches_memory(o->dev))
        st = write_outputs(ex, g, o, err);
    if (st == SF_OK) {
        report->stats = sf_exec_stats(ex);
        snprintf(report->peak_node, sizeof report->peak_node, "%s", report->stats.peak_node);
        report->stats.peak_node = report->peak_node;
        if (want_node_times) {
            report->node_us = calloc((size_t)g->n_nodes + 1, sizeof *report->node_us);
            SF_ASSERT(report->node_us != NULL);
            for (int i = 0; i < g->n_nodes; i++)
                report->node_us[i] = sf_exec_node_us(ex, i);
        }
    }
    sf_exec_free(ex);
    for (int k = 0; k < g->n_inputs; k++)
        free(holders[k].buf);
    free(holders);
    sf_st_close(inputs);
    return st;
}
