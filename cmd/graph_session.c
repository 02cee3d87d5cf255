/* Running one rank of a graph end to end. Outputs are written only after
 * the whole run succeeded, and each file atomically, so a failed run
 * leaves nothing half-written. */
#include "graph_session.h"
#include "cuda_device.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_read.h"
#include "cli.h"
#include "hash.h"
#include "safetensors.h"

void sf_session_output_path(const char *dir, int rank, int step, int n_steps, char *out, size_t n)
{
    if (n_steps > 1)
        snprintf(out, n, "%s/step%d/rank%d.safetensors", dir, step, rank);
    else
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

/* The deepest part of dir that exists now ("" when none does). */
static void existing_prefix(const char *dir, char *out, size_t n)
{
    snprintf(out, n, "%s", dir);
    struct stat sb;
    while (out[0] != '\0' && stat(out, &sb) != 0) {
        char *slash = strrchr(out, '/');
        if (slash == NULL || slash == out)
            slash = out;
        *slash = '\0';
    }
}

/* Remove the folders make_dirs made below keep, deepest first, while they
 * are empty (another rank may have written into one: rmdir then fails). */
static void remove_made_dirs(const char *dir, const char *keep)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    size_t keep_len = strlen(keep);
    while (strlen(path) > keep_len && rmdir(path) == 0) {
        char *slash = strrchr(path, '/');
        if (slash == NULL)
            break;
        *slash = '\0';
    }
}

/* Outputs are written after the last kernel: a folder we cannot write must
 * be found before the first one. access(W_OK) is not enough (root passes it
 * on a read-only mount), so a probe file is created and removed at once. */
static sf_status_t check_writable(const char *dir, sf_err_t *err)
{
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.shardflow-probe.%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        bool is_user = e == EACCES || e == EPERM || e == EROFS || e == ENOENT || e == ENOTDIR;
        return sf_err_set(err, is_user ? SF_ERR_INPUT : SF_ERR_IO, NULL,
                          "--out %s: cannot write into the folder: %s", dir, strerror(e));
    }
    close(fd);
    unlink(probe);
    return SF_OK;
}

sf_status_t sf_session_check_out(const char *dir, int rank, int n_steps, bool overwrite,
                                 sf_err_t *err)
{
    for (int k = 0; k < n_steps; k++) {
        char path[4096];
        sf_session_output_path(dir, rank, k, n_steps, path, sizeof path);
        if (!overwrite && access(path, F_OK) == 0)
            return sf_err_set(err, SF_ERR_INPUT, NULL, "output file exists: %s (pass --overwrite)",
                              path);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        /* A missing folder is made when the outputs are written, not now:
         * a run that fails must not leave an empty one behind. */
        struct stat sb;
        if (stat(path, &sb) == 0 && !S_ISDIR(sb.st_mode))
            return sf_err_set(err, SF_ERR_INPUT, NULL, "--out %s: not a folder", path);
        /* Writable where it will be made: the deepest part that exists. */
        char base[4096];
        existing_prefix(path, base, sizeof base);
        sf_status_t st = check_writable(base[0] != '\0' ? base : ".", err);
        if (st != SF_OK)
            return st;
    }
    return SF_OK;
}

/* Rows per batch of graph input k, and how many batches the file's tensor holds. */
static sf_status_t input_batches(const sf_edge_t *edge, const sf_tensor_t *file_t, const char *path,
                                 int64_t *batches, sf_err_t *err)
{
    const sf_tensor_t *want = &edge->layout;
    char a[128], b[128];
    sf_shape_format(file_t->ndim, file_t->shape, a, sizeof a);
    sf_shape_format(want->ndim, want->shape, b, sizeof b);
    bool ok = file_t->ndim == want->ndim && want->ndim > 0 && want->shape[0] > 0 &&
              file_t->shape[0] % want->shape[0] == 0 && file_t->shape[0] > 0;
    for (int i = 1; ok && i < want->ndim; i++)
        ok = file_t->shape[i] == want->shape[i];
    if (!ok && !(want->ndim == 0 && file_t->ndim == 0))
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "%s: tensor '%s' has shape %s, expected %s (or K batches of it stacked "
                          "along dim 0)",
                          path, edge->name, a, b);
    *batches = want->ndim == 0 ? 1 : file_t->shape[0] / want->shape[0];
    return SF_OK;
}

sf_status_t sf_session_count_batches(const sf_graph_t *g, const char *inputs_path, int *n_batches,
                                     sf_err_t *err)
{
    *n_batches = 1;
    if (g->n_inputs == 0)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "--inputs %s: graph '%s' takes no inputs (its params may choose them: "
                          "for eagle3_target.yaml, --set tokens=file)",
                          inputs_path, g->name);
    sf_st_file_t *f = NULL;
    sf_status_t st = sf_st_open(inputs_path, &f, err);
    int64_t common = -1;
    for (int k = 0; st == SF_OK && k < g->n_inputs; k++) {
        const sf_edge_t *edge = &g->edges[g->inputs[k]];
        int i = sf_st_find(f, edge->name);
        if (i < 0) {
            st = sf_err_set(err, SF_ERR_INPUT, NULL, "%s: no tensor '%s' (a graph input)",
                            inputs_path, edge->name);
            break;
        }
        sf_tensor_t t;
        const void *data;
        sf_st_get(f, i, &t, &data);
        int64_t batches;
        st = input_batches(edge, &t, inputs_path, &batches, err);
        if (st == SF_OK && common >= 0 && batches != common)
            st = sf_err_set(err, SF_ERR_INPUT, NULL,
                            "%s: '%s' holds %lld batches but the inputs before it hold %lld",
                            inputs_path, edge->name, (long long)batches, (long long)common);
        common = batches;
    }
    sf_st_close(f);
    if (st == SF_OK)
        *n_batches = (int)common;
    return st;
}

static sf_status_t bind_inputs(sf_exec_t *ex, const sf_graph_t *g, const sf_st_file_t *f,
                               const char *path, int step, sf_tensor_t *holders, sf_err_t *err)
{
    for (int k = 0; k < g->n_inputs; k++) {
        const sf_edge_t *edge = &g->edges[g->inputs[k]];
        int i = sf_st_find(f, edge->name);
        if (i < 0)
            return sf_err_set(err, SF_ERR_INPUT, NULL, "%s: no tensor '%s' (a graph input)", path,
                              edge->name);
        const void *data;
        sf_tensor_t whole;
        sf_st_get(f, i, &whole, &data);
        int64_t batches;
        sf_status_t st = input_batches(edge, &whole, path, &batches, err);
        if (st != SF_OK)
            return st;
        if (step >= batches)
            return sf_err_set(err, SF_ERR_INPUT, NULL, "%s: '%s' holds %lld batches, step %d asks "
                              "for one more", path, edge->name, (long long)batches, step + 1);
        /* The map is read-only and lives until the run ends; a borrowed
         * buffer record lets the tensor point into it without a copy. */
        sf_buffer_t *view = calloc(1, sizeof *view);
        SF_ASSERT(view != NULL);
        view->data = (void *)data;
        view->nbytes = sf_tensor_nbytes(&whole);
        whole.buf = view;
        holders[k] = whole;
        if (whole.ndim > 0) {
            int64_t rows = edge->layout.shape[0];
            SF_ASSERT(sf_tensor_view_slice(&whole, 0, step * rows, (step + 1) * rows, 1,
                                           &holders[k], err) == SF_OK);
        }
        st = sf_exec_set_input(ex, edge->name, &holders[k], err);
        if (st != SF_OK)
            return st;
    }
    return SF_OK;
}

static sf_status_t write_outputs(sf_exec_t *ex, const sf_graph_t *g, const sf_session_opts_t *o,
                                 sf_err_t *err)
{
    sf_st_entry_t *entries = calloc((size_t)g->n_outputs + 1, sizeof *entries);
    sf_tensor_t *host = calloc((size_t)g->n_outputs + 1, sizeof *host);
    void **blocks = calloc((size_t)g->n_outputs + 1, sizeof *blocks);
    SF_ASSERT(entries != NULL && host != NULL && blocks != NULL);
    sf_status_t st = SF_OK;
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        entries[k].name = g->output_names[k];
        entries[k].tensor = sf_exec_tensor(ex, v);
        /* Device memory is read back first; host tensors are written as
         * they are. */
        if (st == SF_OK && sf_device_mem_kind(o->dev) != SF_MEMKIND_HOST) {
            st = sf_device_read_tensor(o->dev, entries[k].tensor, &host[k], &blocks[k], err);
            entries[k].tensor = &host[k];
        }
    }
    char path[4096], dir[4096], existed[4096];
    sf_session_output_path(o->out_dir, o->rank, o->step, o->n_steps, path, sizeof path);
    snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(path, '/') - path), path);
    existing_prefix(dir, existed, sizeof existed);
    if (st == SF_OK && !make_dirs(dir))
        st = sf_err_set(err, SF_ERR_IO, NULL, "--out %s: cannot create the folder: %s", dir,
                        strerror(errno));
    if (st == SF_OK)
        st = sf_st_write(path, entries, g->n_outputs, o->overwrite, err);
    if (st != SF_OK)
        remove_made_dirs(dir, existed);
    for (int k = 0; k < g->n_outputs; k++)
        free(blocks[k]);
    free(blocks);
    free(host);
    free(entries);
    return st;
}

static void copy_aliases(const sf_graph_t *g, const sf_plan_t *p, sf_rank_report_t *report)
{
    report->n_aliases = p->n_aliases;
    for (int i = 0; i < p->n_aliases && i < SF_REPORT_MAX_ALIASES; i++) {
        const sf_alias_t *a = &p->aliases[i];
        sf_report_alias_t *r = &report->aliases[i];
        snprintf(r->tensor, sizeof r->tensor, "%s", g->edges[a->edge].name);
        snprintf(r->host, sizeof r->host, "%s", g->edges[a->host].name);
        snprintf(r->node, sizeof r->node, "%s", g->nodes[a->node].name);
        r->offset_bytes = a->offset_bytes;
    }
}

/* The trace and an extra observer both watching one allocator. */
typedef struct session_observers {
    sf_trace_rank_t trace;          /* .tr NULL: no trace */
    sf_mem_observer_fn extra;
    void *extra_ctx;                /* borrowed */
} session_observers_t;

static void session_observe(void *ctx, const sf_mem_event_t *ev)
{
    session_observers_t *obs = ctx;
    if (obs->trace.tr != NULL)
        sf_trace_mem_observer(&obs->trace, ev);
    obs->extra(obs->extra_ctx, ev);
}

struct sf_session {
    const sf_graph_t *g;   /* borrowed */
    sf_session_opts_t o;   /* its strings and pointers borrowed, as the caller's */
    sf_exec_t *ex;         /* owned: one executor for every step */
    sf_st_file_t *inputs;  /* owned; NULL without an inputs file */
    session_observers_t obs; /* the allocator's observer when o.observer is set */
};

sf_status_t sf_session_open(const sf_graph_t *g, const sf_session_opts_t *o, sf_session_t **out,
                            sf_err_t *err)
{
    *out = NULL;
    sf_exec_opts_t eo = {.free_policy = o->free_policy, .trace = o->trace, .comm = o->comm,
                         .no_alias = o->no_alias};
    if (o->trace != NULL) {
        char name[512];
        snprintf(name, sizeof name, "%s on %s", g->name, sf_device_name(o->dev));
        sf_trace_process(o->trace, o->rank, name);
    }
    sf_session_t *s = calloc(1, sizeof *s);
    SF_ASSERT(s != NULL);
    s->g = g;
    s->o = *o;
    s->obs = (session_observers_t){.trace = {.tr = o->trace, .rank = g->rank},
                                   .extra = o->observer, .extra_ctx = o->observer_ctx};
    sf_status_t st = sf_exec_new(g, o->dev, &eo, &s->ex, err);
    if (st == SF_OK)
        sf_mem_set_limit(sf_exec_mem(s->ex), o->mem_limit);
    /* Replaces the executor's own trace observer with one that feeds both. */
    if (st == SF_OK && o->observer != NULL)
        sf_mem_set_observer(sf_exec_mem(s->ex), session_observe, &s->obs);
    if (st == SF_OK && o->inputs_path != NULL)
        st = sf_st_open(o->inputs_path, &s->inputs, err);
    if (st != SF_OK) {
        sf_session_close(s);
        return st;
    }
    *out = s;
    return SF_OK;
}

sf_status_t sf_session_step(sf_session_t *s, int step, bool want_node_times,
                            sf_rank_report_t *report, sf_err_t *err)
{
    const sf_graph_t *g = s->g;
    memset(report, 0, sizeof *report);
    report->rank = s->o.rank;
    s->o.step = step;
    sf_exec_t *ex = s->ex;
    sf_tensor_t *holders = calloc((size_t)g->n_inputs + 1, sizeof *holders);
    SF_ASSERT(holders != NULL);
    sf_status_t st = SF_OK;
    if (s->inputs != NULL)
        st = bind_inputs(ex, g, s->inputs, s->o.inputs_path, step, holders, err);
    if (st == SF_OK)
        st = sf_exec_run(ex, err);
    if (st == SF_OK)
        sf_mem_peak_snapshot(sf_exec_mem(ex), &report->mem_snap);
    else if (st == SF_ERR_NOMEM)
        report->mem_failed = sf_mem_last_failure(sf_exec_mem(ex), &report->mem_snap);
    if (st == SF_OK && s->o.out_dir != NULL && sf_device_touches_memory(s->o.dev))
        st = write_outputs(ex, g, &s->o, err);
    if (st == SF_OK) {
        report->stats = sf_exec_stats(ex);
        snprintf(report->peak_node, sizeof report->peak_node, "%s", report->stats.peak_node);
        report->stats.peak_node = report->peak_node;
        snprintf(report->floor_node, sizeof report->floor_node, "%s", report->stats.floor_node);
        report->stats.floor_node = report->floor_node;
        copy_aliases(g, sf_exec_plan(ex), report);
        if (want_node_times) {
            report->node_us = calloc((size_t)g->n_nodes + 1, sizeof *report->node_us);
            SF_ASSERT(report->node_us != NULL);
            for (int i = 0; i < g->n_nodes; i++)
                report->node_us[i] = sf_exec_node_us(ex, i);
        }
    }
    /* The executor borrowed the holders only until its run returned. */
    for (int k = 0; k < g->n_inputs; k++)
        free(holders[k].buf);
    free(holders);
    return st;
}

void sf_session_close(sf_session_t *s)
{
    if (s == NULL)
        return;
    sf_exec_free(s->ex);
    sf_st_close(s->inputs);
    free(s);
}

sf_status_t sf_session_run(const sf_graph_t *g, const sf_session_opts_t *o, bool want_node_times,
                           sf_rank_report_t *report, sf_err_t *err)
{
    memset(report, 0, sizeof *report);
    report->rank = o->rank;
    sf_session_t *s = NULL;
    sf_status_t st = sf_session_open(g, o, &s, err);
    if (st == SF_OK)
        st = sf_session_step(s, o->step, want_node_times, report, err);
    sf_session_close(s);
    return st;
}

sf_status_t sf_session_plan_steps(const sf_graph_t *g, const sf_session_opts_t *o, int n_steps,
                                  sf_rank_report_t steps[2], sf_err_t *err)
{
    memset(steps, 0, 2 * sizeof *steps);
    sf_session_t *s = NULL;
    sf_status_t st = sf_session_open(g, o, &s, err);
    for (int k = 0; st == SF_OK && k < (n_steps > 1 ? 2 : 1); k++)
        st = sf_session_step(s, k, false, &steps[k], err);
    sf_session_close(s);
    return st;
}

sf_status_t sf_session_check_mem_limit(const sf_graph_t *g, const sf_session_opts_t *o,
                                       uint64_t limit, sf_rank_report_t *planned, sf_err_t *err)
{
    /* The plan of this run: the kernels' scratch is the device's. */
    sf_device_t *planner = sf_device_mem_kind(o->dev) == SF_MEMKIND_CUDA ? sf_cuda_plan_device()
                                                                          : sf_device_meta();
    sf_session_opts_t mo = {.dev = planner, .free_policy = o->free_policy,
                            .rank = o->rank, .world = o->world, .n_steps = 1,
                            .no_alias = o->no_alias};
    memset(planned, 0, sizeof *planned);
    sf_rank_report_t steps[2];
    sf_status_t st = sf_session_plan_steps(g, &mo, o->n_steps, steps, err);
    if (st == SF_OK) {
        *planned = steps[o->n_steps > 1 && steps[1].stats.peak_bytes > steps[0].stats.peak_bytes];
        planned->stats.peak_node = planned->peak_node;
        planned->stats.floor_node = planned->floor_node;
    }
    if (st != SF_OK || planned->stats.peak_bytes <= limit)
        return st;
    char peak[32], lim[32];
    sf_cli_format_bytes(planned->stats.peak_bytes, peak, sizeof peak);
    sf_cli_format_bytes(limit, lim, sizeof lim);
    return sf_err_set(err, SF_ERR_INPUT, NULL,
                      "rank %d: planned peak %llu bytes (%s) at node '%s' is over --mem-limit "
                      "%llu bytes (%s)",
                      o->rank, (unsigned long long)planned->stats.peak_bytes, peak,
                      planned->peak_node, (unsigned long long)limit, lim);
}

sf_status_t sf_session_inputs_hash(const char *path, uint64_t *hash, sf_err_t *err)
{
    *hash = 0;
    int fd = -1;
    uint64_t size = 0;
    sf_status_t st = sf_file_open_regular(path, NULL, &fd, &size, err);
    if (st != SF_OK)
        return st;
    uint64_t h = SF_HASH_FNV1A64_INIT;
    char buf[1 << 16];
    for (;;) {
        ssize_t got = read(fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            st = sf_err_set(err, SF_ERR_IO, NULL, "%s: %s", path, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        h = sf_hash_fnv1a64_add(h, buf, (size_t)got);
    }
    close(fd);
    if (st == SF_OK)
        *hash = h;
    return st;
}
