/* The entry points and the loader's pipeline. Each stage takes what it
 * needs and returns what it built:
 *   1. load_source.c reads the files into a gl_source_t (the files' params
 *      and YAML entries); resolve_params below finishes the params table
 *      (--set, the builtins, the model provider, `checks`);
 *   2. load_nodes.c builds the graph's inputs and nodes from the entries,
 *      reading the params table only, into a gl_built_t;
 *   3. load_validate.c wires and checks that, seeing nothing else.
 * The documents stay alive until stage 2 is done: entries point into them. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load_model.h"
#include "load_nodes.h"
#include "load_params.h"
#include "load_sets.h"
#include "load_source.h"
#include "load_validate.h"
#include "xalloc.h"

/* `rank` and `world` belong to the runtime: a file that defines them, or a
 * --set that changes them (refused by gl_sets_check_keys), would make ranks
 * disagree about shapes. */
static sf_status_t set_builtins(gl_params_t *p, int rank, int world, sf_err_t *err)
{
    static const char *const builtins[] = {"rank", "world"};
    for (int b = 0; b < 2; b++) {
        int i = gl_params_find(p, builtins[b]);
        if (i >= 0)
            return sf_err_set(err, SF_ERR_GRAPH, &p->items[i].pos,
                              "param '%s' is reserved: the runtime sets it (rank %d of world %d)",
                              builtins[b], rank, world);
    }
    sf_pos_t pos = {"<runtime>", 0, 0};
    gl_params_set(p, "rank", (sf_value_t){.type = SF_VALUE_INT, .i = rank, .pos = pos}, pos);
    gl_params_set(p, "world", (sf_value_t){.type = SF_VALUE_INT, .i = world, .pos = pos}, pos);
    return SF_OK;
}

/* `checks`: conditions on the params that must hold, each with the message
 * a user sees when it does not ("batch 3 does not divide by tp 2"), so a
 * bad configuration is named in its own words instead of by the first
 * shape it breaks. */
static sf_status_t run_checks(const gl_params_t *p, const sf_ynode_t *const *checks, int n_checks,
                              sf_err_t *err)
{
    gl_scope_t scope = {p, NULL, {0}};
    for (int i = 0; i < n_checks; i++) {
        const sf_ynode_t *m = checks[i];
        const sf_ynode_t *that = m->kind == SF_YNODE_MAP ? sf_ynode_map_get(m, "that") : NULL;
        const sf_ynode_t *msg = m->kind == SF_YNODE_MAP ? sf_ynode_map_get(m, "message") : NULL;
        if (that == NULL || msg == NULL || sf_ynode_map_count(m) != 2)
            return sf_err_set(err, SF_ERR_GRAPH, &m->pos,
                              "a check is {that: CONDITION, message: TEXT}");
        bool holds;
        sf_status_t st = gl_read_cond(&scope, that, "check", &holds, err);
        if (st != SF_OK)
            return st;
        if (holds)
            continue;
        char *text;
        if ((st = gl_read_string(&scope, msg, "check: message", &text, err)) != SF_OK)
            return st;
        st = sf_err_set(err, SF_ERR_INPUT, &that->pos, "%s", text);
        free(text);
        return st;
    }
    return SF_OK;
}

/* The end of stage 1: the files' params in src become the final table. */
static sf_status_t resolve_params(gl_source_t *src, const sf_param_set_t *sets, int n_sets,
                                  int rank, int world, sf_err_t *err)
{
    gl_params_t *p = &src->params;
    sf_status_t st;
    /* Keys first, before rank and world join the params and before the
     * model provider runs: it checks the default model against world, and
     * that error would hide a typo such as `--set modle=...`. */
    int n_model_names;
    const char *const *model_names = gl_model_param_names(&n_model_names);
    bool does_model_run = gl_model_param(p) >= 0;
    if ((st = gl_sets_check_keys(p, sets, n_sets, does_model_run ? model_names : NULL,
                                 n_model_names, err)) != SF_OK)
        return st;
    if ((st = set_builtins(p, rank, world, err)) != SF_OK)
        return st;
    /* --set in two passes around the model provider: the first may choose
     * the model, the second may override what the model defined (every key
     * is now either the file's or one the provider declares). */
    sf_param_set_t *later = sf_xalloc_calloc((size_t)n_sets + 1, sizeof *later);
    sf_param_set_t *now = sf_xalloc_calloc((size_t)n_sets + 1, sizeof *now);
    int n_later = 0, n_now = 0;
    for (int k = 0; k < n_sets; k++) {
        if (gl_params_find(p, sets[k].key) >= 0)
            now[n_now++] = sets[k];
        else
            later[n_later++] = sets[k];
    }
    st = gl_sets_apply(p, now, n_now, err);
    if (st == SF_OK)
        st = gl_model_apply(p, src->n_files > 0 ? src->files[0] : NULL, world, err);
    if (st == SF_OK)
        st = gl_sets_apply(p, later, n_later, err);
    free(now);
    free(later);
    if (st == SF_OK)
        st = run_checks(p, src->checks, src->n_checks, err);
    return st;
}

static sf_status_t load_root(const char *buf, size_t len, const char *file_name,
                             const sf_param_set_t *sets, int n_sets, int rank, int world,
                             sf_graph_t **out, sf_err_t *err)
{
    const char *display = file_name != NULL ? file_name : "<buffer>";
    gl_source_t src;
    gl_built_t built;
    memset(&built, 0, sizeof built);
    sf_status_t st = gl_source_load(buf, len, display, &src, err);
    if (st == SF_OK)
        st = resolve_params(&src, sets, n_sets, rank, world, err);
    if (st == SF_OK)
        st = gl_nodes_build(&src.entries, &src.params, rank, world, &built, err);
    if (st == SF_OK)
        st = gl_validate(&built, err);
    if (st == SF_OK) {
        /* Positions in the graph point into these names: they move with it. */
        sf_graph_t *g = built.g;
        built.g = NULL;
        g->params = src.params.items;
        g->n_params = src.params.n;
        src.params.items = NULL;
        src.params.n = 0;
        g->files = src.files;
        g->n_files = src.n_files;
        src.files = NULL;
        src.n_files = 0;
        *out = g;
    }
    gl_built_fini(&built);
    gl_source_fini(&src);
    return st;
}

sf_status_t sf_graph_load_buffer(const char *buf, size_t len, const char *file_name,
                                 const sf_param_set_t *sets, int n_sets, sf_graph_t **out,
                                 sf_err_t *err)
{
    *out = NULL;
    return load_root(buf, len, file_name, sets, n_sets, 0, 1, out, err);
}

sf_status_t sf_graph_load_file(const char *path, const sf_param_set_t *sets, int n_sets,
                               sf_graph_t **out, sf_err_t *err)
{
    return sf_graph_load_file_ranked(path, sets, n_sets, 0, 1, out, err);
}

sf_status_t sf_graph_load_file_ranked(const char *path, const sf_param_set_t *sets, int n_sets,
                                      int rank, int world, sf_graph_t **out, sf_err_t *err)
{
    *out = NULL;
    char *buf;
    size_t len;
    sf_pos_t at = {path, 0, 0};
    sf_status_t st = gl_read_file(path, &at, &buf, &len, err);
    if (st != SF_OK)
        return st;
    st = load_root(buf, len, path, sets, n_sets, rank, world, out, err);
    free(buf);
    return st;
}
