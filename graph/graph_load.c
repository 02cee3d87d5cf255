/* The entry points: read the root file and its includes (depth first,
 * include before includer), merge params, inputs, nodes and outputs in
 * that order, apply --set, then build and validate the IR. Each file is
 * loaded at most once, so a diamond of includes is fine and a loop is an
 * error naming the chain. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "graph_load_impl.h"

static const char *const top_keys[] = {"name", "doc", "include", "params", "checks", "inputs",
                                       "nodes", "outputs"};

static void ctx_fini(gl_ctx_t *c)
{
    for (int i = 0; i < c->n_files; i++)
        free(c->files[i]);
    free(c->files);
    for (int i = 0; i < c->n_real; i++)
        free(c->real_paths[i]);
    free(c->real_paths);
    free(c->chain);
    for (int i = 0; i < c->n_docs; i++)
        sf_ydoc_free(c->docs[i]);
    free(c->docs);
    for (int i = 0; i < c->n_params; i++) {
        free(c->params[i].name);
        sf_value_fini(&c->params[i].value);
    }
    free(c->params);
    sf_graph_names_fini(&c->param_names);
    free(c->in_keys);
    free(c->in_vals);
    free(c->nodes);
    free(c->outs);
    free(c->checks);
}

/* Read path into a malloc'd buffer: the size limit is checked before the
 * read, so a huge file costs nothing. at is where the file was named. */
static sf_status_t read_file(gl_ctx_t *c, const char *path, const sf_pos_t *at, char **buf,
                             size_t *len)
{
    *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return sf_err_set(c->err, SF_ERR_INPUT, at, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return sf_err_set(c->err, SF_ERR_INPUT, at, "'%s' is not a regular file", path);
    }
    if ((uint64_t)sb.st_size > SF_GRAPH_MAX_FILE_BYTES) {
        fclose(f);
        sf_pos_t pos = {at->file, at->line, at->col};
        if (at->line == 0)
            pos.file = path;
        return sf_err_set(c->err, SF_ERR_PARSE, &pos,
                          "'%s' is %lld bytes, more than the limit of %u bytes", path,
                          (long long)sb.st_size, (unsigned)SF_GRAPH_MAX_FILE_BYTES);
    }
    size_t n = (size_t)sb.st_size;
    char *b = sf_xalloc_calloc(n + 1, 1);
    size_t got = fread(b, 1, n, f);
    int is_bad = ferror(f);
    fclose(f);
    if (is_bad || got != n) {
        free(b);
        return sf_err_set(c->err, SF_ERR_IO, at, "cannot read '%s'", path);
    }
    *buf = b;
    *len = n;
    return SF_OK;
}

static const char *add_file(gl_ctx_t *c, const char *display, const char *real)
{
    char **slot = &GL_PUSH(c->files, c->n_files, c->cap_files);
    *slot = sf_xalloc_strdup(display);
    char **r = &GL_PUSH(c->real_paths, c->n_real, c->cap_real);
    *r = sf_xalloc_strdup(real);
    return *slot;
}

static sf_status_t load_text(gl_ctx_t *c, const char *buf, size_t len, const char *display,
                             const char *real);

/* Resolve, check for a loop, skip a file already loaded, else load it. */
static sf_status_t load_include(gl_ctx_t *c, const char *includer, const sf_ynode_t *item)
{
    char *rel;
    sf_status_t st = gl_read_string(c, item, "include", &rel);
    if (st != SF_OK)
        return st;
    char path[PATH_MAX];
    const char *slash = strrchr(includer, '/');
    if (rel[0] == '/' || slash == NULL)
        snprintf(path, sizeof path, "%s", rel);
    else
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - includer), includer, rel);
    free(rel);

    char real[PATH_MAX];
    if (realpath(path, real) == NULL)
        return sf_err_set(c->err, SF_ERR_INPUT, &item->pos, "cannot open include '%s': %s", path,
                          strerror(errno));
    for (int i = 0; i < c->n_chain; i++) {
        int k = -1;
        for (int j = 0; j < c->n_files; j++)
            if (c->files[j] == c->chain[i])
                k = j;
        if (k < 0 || strcmp(c->real_paths[k], real) != 0)
            continue;
        char msg[400];
        size_t used = 0;
        msg[0] = '\0';
        for (int j = i; j < c->n_chain && used < sizeof msg; j++)
            used += (size_t)snprintf(msg + used, sizeof msg - used, "%s -> ", c->chain[j]);
        return sf_err_set(c->err, SF_ERR_GRAPH, &item->pos, "include loop: %s%s", msg, path);
    }
    for (int i = 0; i < c->n_real; i++)
        if (strcmp(c->real_paths[i], real) == 0)
            return SF_OK;
    if (c->n_chain >= SF_GRAPH_MAX_INCLUDE_DEPTH)
        return sf_err_set(c->err, SF_ERR_GRAPH, &item->pos, "includes nested deeper than %d files",
                          SF_GRAPH_MAX_INCLUDE_DEPTH);

    char *text;
    size_t len;
    if ((st = read_file(c, path, &item->pos, &text, &len)) != SF_OK)
        return st;
    st = load_text(c, text, len, path, real);
    free(text);
    return st;
}

static sf_status_t merge_params(gl_ctx_t *c, const sf_ynode_t *v)
{
    if (v->kind != SF_YNODE_MAP)
        return sf_err_set(c->err, SF_ERR_GRAPH, &v->pos,
                          "'params' must be a mapping of name: value, found a %s",
                          sf_ynode_kind_name(v->kind));
    for (int i = 0; i < sf_ynode_map_count(v); i++) {
        const sf_ynode_t *k = sf_ynode_map_key(v, i);
        char what[300];
        snprintf(what, sizeof what, "param '%s'", k->text);
        sf_value_t val;
        sf_status_t st = gl_value_from_ynode(c, sf_ynode_map_val(v, i), what, &val);
        if (st != SF_OK)
            return st;
        gl_param_set(c, k->text, val, sf_ynode_map_val(v, i)->pos);
    }
    return SF_OK;
}

static sf_status_t merge_entries(gl_ctx_t *c, const char *key, const sf_ynode_t *v)
{
    if (strcmp(key, "inputs") == 0) {
        if (v->kind != SF_YNODE_MAP)
            return sf_err_set(c->err, SF_ERR_GRAPH, &v->pos,
                              "'inputs' must be a mapping of name: {dtype, shape}, found a %s",
                              sf_ynode_kind_name(v->kind));
        for (int i = 0; i < sf_ynode_map_count(v); i++) {
            gl_grow((void **)&c->in_keys, &c->cap_ins, c->n_ins + 1, sizeof *c->in_keys);
            gl_grow((void **)&c->in_vals, &c->cap_ins2, c->n_ins + 1, sizeof *c->in_vals);
            c->in_keys[c->n_ins] = sf_ynode_map_key(v, i);
            c->in_vals[c->n_ins++] = sf_ynode_map_val(v, i);
        }
        return SF_OK;
    }
    if (strcmp(key, "nodes") == 0) {
        if (v->kind != SF_YNODE_SEQ)
            return sf_err_set(c->err, SF_ERR_GRAPH, &v->pos,
                              "'nodes' must be a list of nodes, found a %s",
                              sf_ynode_kind_name(v->kind));
        for (int i = 0; i < v->n_kids; i++)
            GL_PUSH(c->nodes, c->n_nodes, c->cap_nodes) = v->kids[i];
        return SF_OK;
    }
    /* outputs: a list of tensor names, or one name */
    if (v->kind == SF_YNODE_MAP)
        return sf_err_set(c->err, SF_ERR_GRAPH, &v->pos,
                          "'outputs' must be a list of tensor names, found a mapping");
    if (v->kind == SF_YNODE_SCALAR) {
        GL_PUSH(c->outs, c->n_outs, c->cap_outs) = v;
        return SF_OK;
    }
    for (int i = 0; i < v->n_kids; i++)
        GL_PUSH(c->outs, c->n_outs, c->cap_outs) = v->kids[i];
    return SF_OK;
}

static sf_status_t load_text(gl_ctx_t *c, const char *buf, size_t len, const char *display,
                             const char *real)
{
    const char *file = add_file(c, display, real);
    sf_ydoc_t *doc = NULL;
    sf_status_t st = sf_ydoc_parse(buf, len, file, &doc, c->err);
    if (st != SF_OK)
        return st;
    GL_PUSH(c->docs, c->n_docs, c->cap_docs) = doc;
    const sf_ynode_t *root = doc->root;
    sf_pos_t start = {file, 1, 1};
    if (root == NULL)
        return sf_err_set(c->err, SF_ERR_GRAPH, &start,
                          "empty file; expected a mapping with 'name' and 'nodes'");
    if (root->kind != SF_YNODE_MAP)
        return sf_err_set(c->err, SF_ERR_GRAPH, &root->pos,
                          "expected a mapping at the top of the file, found a %s",
                          sf_ynode_kind_name(root->kind));
    bool is_root = c->n_chain == 0;
    if (is_root)
        c->root = root;
    for (int i = 0; i < sf_ynode_map_count(root); i++) {
        const sf_ynode_t *k = sf_ynode_map_key(root, i);
        size_t j = 0;
        while (j < sizeof top_keys / sizeof top_keys[0] && strcmp(top_keys[j], k->text) != 0)
            j++;
        if (j == sizeof top_keys / sizeof top_keys[0])
            return sf_err_set(c->err, SF_ERR_GRAPH, &k->pos,
                              "unknown top-level key '%s' (expected name, doc, include, params, "
                              "inputs, nodes or outputs)", k->text);
    }

    const sf_ynode_t *name = sf_ynode_map_get(root, "name");
    if (name != NULL && name->kind != SF_YNODE_SCALAR)
        return sf_err_set(c->err, SF_ERR_GRAPH, &name->pos, "'name' must be a string, found a %s",
                          sf_ynode_kind_name(name->kind));
    if (is_root)
        c->name = name;

    /* Includes first: their params are defaults this file overrides, and
     * their entries come before this file's. */
    const sf_ynode_t *inc = sf_ynode_map_get(root, "include");
    if (inc != NULL) {
        if (inc->kind == SF_YNODE_MAP)
            return sf_err_set(c->err, SF_ERR_GRAPH, &inc->pos,
                              "'include' must be a path or a list of paths, found a mapping");
        GL_PUSH(c->chain, c->n_chain, c->cap_chain) = file;
        int n = inc->kind == SF_YNODE_SCALAR ? 1 : inc->n_kids;
        for (int i = 0; i < n && st == SF_OK; i++)
            st = load_include(c, file, inc->kind == SF_YNODE_SCALAR ? inc : inc->kids[i]);
        c->n_chain--;
        if (st != SF_OK)
            return st;
    }
    const sf_ynode_t *params = sf_ynode_map_get(root, "params");
    if (params != NULL && !sf_ynode_is_null(params) && (st = merge_params(c, params)) != SF_OK)
        return st;
    const sf_ynode_t *checks = sf_ynode_map_get(root, "checks");
    if (checks != NULL && !sf_ynode_is_null(checks)) {
        if (checks->kind != SF_YNODE_SEQ)
            return sf_err_set(c->err, SF_ERR_GRAPH, &checks->pos,
                              "'checks' must be a list of {that: CONDITION, message: TEXT}");
        for (int i = 0; i < checks->n_kids; i++)
            GL_PUSH(c->checks, c->n_checks, c->cap_checks) = checks->kids[i];
    }
    static const char *const entries[] = {"inputs", "nodes", "outputs"};
    for (int i = 0; i < 3; i++) {
        const sf_ynode_t *v = sf_ynode_map_get(root, entries[i]);
        if (v != NULL && !sf_ynode_is_null(v) && (st = merge_entries(c, entries[i], v)) != SF_OK)
            return st;
    }
    return SF_OK;
}

/* `rank` and `world` belong to the runtime: a file that defines them, or a
 * --set that changes them (refused by gl_sets_check_keys), would make ranks
 * disagree about shapes. */
static sf_status_t set_builtins(gl_ctx_t *c)
{
    static const char *const builtins[] = {"rank", "world"};
    for (int b = 0; b < 2; b++) {
        int i = sf_graph_names_get(&c->param_names, builtins[b]);
        if (i >= 0)
            return sf_err_set(c->err, SF_ERR_GRAPH, &c->params[i].pos,
                              "param '%s' is reserved: the runtime sets it (rank %d of world %d)",
                              builtins[b], c->rank, c->world);
    }
    sf_pos_t pos = {"<runtime>", 0, 0};
    gl_param_set(c, "rank", (sf_value_t){.type = SF_VALUE_INT, .i = c->rank, .pos = pos}, pos);
    gl_param_set(c, "world", (sf_value_t){.type = SF_VALUE_INT, .i = c->world, .pos = pos}, pos);
    return SF_OK;
}

static sf_model_provider_fn model_provider;
static const char *const *model_param_names; /* borrowed: the provider's static list */
static int n_model_param_names;

void sf_graph_set_model_provider(sf_model_provider_fn fn, const char *const *param_names,
                                 int n_param_names)
{
    model_provider = fn;
    model_param_names = fn != NULL ? param_names : NULL;
    n_model_param_names = fn != NULL && param_names != NULL ? n_param_names : 0;
}

/* The index of the `model` param when the provider will run on it, else -1.
 * A --set keeps a param's type, so the answer is the same before and after
 * the overrides. */
static int model_param(const gl_ctx_t *c)
{
    int i = sf_graph_names_get(&c->param_names, "model");
    if (model_provider == NULL || i < 0 || c->params[i].value.type != SF_VALUE_STRING)
        return -1;
    return i;
}

static bool model_declares(const char *name)
{
    for (int k = 0; k < n_model_param_names; k++)
        if (strcmp(model_param_names[k], name) == 0)
            return true;
    return false;
}

/* The folder of the root file, for the provider's relative lookups. */
static void root_dir(const gl_ctx_t *c, char *out, size_t n)
{
    const char *file = c->n_files > 0 ? c->files[0] : ".";
    const char *slash = strrchr(file, '/');
    if (slash == NULL)
        snprintf(out, n, ".");
    else
        snprintf(out, n, "%.*s", (int)(slash - file), file);
}

static sf_status_t apply_model(gl_ctx_t *c)
{
    int i = model_param(c);
    if (i < 0)
        return SF_OK;
    char dir[4096];
    root_dir(c, dir, sizeof dir);
    sf_param_def_t *defs = NULL;
    int n = 0;
    const sf_pos_t mpos = c->params[i].pos;
    sf_err_t local;
    sf_err_clear(&local);
    sf_status_t st = model_provider(c->params[i].value.s, dir, c->world, &defs, &n, &local);
    if (st != SF_OK) {
        /* Point at where the model was named: the file or --set. */
        sf_pos_t at = local.file[0] != '\0' ? (sf_pos_t){local.file, local.line, local.col} : mpos;
        return sf_err_set(c->err, st, &at, "%s", local.msg);
    }
    sf_pos_t pos = {"<model>", 0, 0};
    for (int k = 0; k < n; k++) {
        /* An undeclared name would have been refused as a --set key. */
        SF_ASSERT(model_declares(defs[k].name));
        if (sf_graph_names_get(&c->param_names, defs[k].name) < 0) {
            defs[k].value.pos = pos;
            gl_param_set(c, defs[k].name, defs[k].value, pos);
        } else {
            sf_value_fini(&defs[k].value);
        }
        free(defs[k].name);
    }
    free(defs);
    return SF_OK;
}

/* `checks`: conditions on the params that must hold, each with the message
 * a user sees when it does not ("batch 3 does not divide by tp 2"), so a
 * bad configuration is named in its own words instead of by the first
 * shape it breaks. */
static sf_status_t run_checks(gl_ctx_t *c)
{
    for (int i = 0; i < c->n_checks; i++) {
        const sf_ynode_t *m = c->checks[i];
        const sf_ynode_t *that = m->kind == SF_YNODE_MAP ? sf_ynode_map_get(m, "that") : NULL;
        const sf_ynode_t *msg = m->kind == SF_YNODE_MAP ? sf_ynode_map_get(m, "message") : NULL;
        if (that == NULL || msg == NULL || sf_ynode_map_count(m) != 2)
            return sf_err_set(c->err, SF_ERR_GRAPH, &m->pos,
                              "a check is {that: CONDITION, message: TEXT}");
        bool holds;
        sf_status_t st = gl_read_cond(c, that, "check", &holds);
        if (st != SF_OK)
            return st;
        if (holds)
            continue;
        char *text;
        if ((st = gl_read_string(c, msg, "check: message", &text)) != SF_OK)
            return st;
        st = sf_err_set(c->err, SF_ERR_INPUT, &that->pos, "%s", text);
        free(text);
        return st;
    }
    return SF_OK;
}

static sf_status_t build(gl_ctx_t *c, const sf_param_set_t *sets, int n_sets, sf_graph_t **out)
{
    sf_status_t st;
    /* Keys first, before rank and world join the params and before the
     * model provider runs: it checks the default model against world, and
     * that error would hide a typo such as `--set modle=...`. */
    bool does_model_run = model_param(c) >= 0;
    if ((st = gl_sets_check_keys(c, sets, n_sets, does_model_run ? model_param_names : NULL,
                                 n_model_param_names)) != SF_OK)
        return st;
    if ((st = set_builtins(c)) != SF_OK)
        return st;
    /* --set in two passes around the model provider: the first may choose
     * the model, the second may override what the model defined (every key
     * is now either the file's or one the provider declares). */
    sf_param_set_t *later = sf_xalloc_calloc((size_t)n_sets + 1, sizeof *later);
    sf_param_set_t *now = sf_xalloc_calloc((size_t)n_sets + 1, sizeof *now);
    int n_later = 0, n_now = 0;
    for (int k = 0; k < n_sets; k++) {
        if (sf_graph_names_get(&c->param_names, sets[k].key) >= 0)
            now[n_now++] = sets[k];
        else
            later[n_later++] = sets[k];
    }
    st = gl_apply_sets(c, now, n_now);
    if (st == SF_OK)
        st = apply_model(c);
    if (st == SF_OK)
        st = gl_apply_sets(c, later, n_later);
    free(now);
    free(later);
    if (st == SF_OK)
        st = run_checks(c);
    if (st != SF_OK)
        return st;
    if (c->name == NULL)
        return sf_err_set(c->err, SF_ERR_GRAPH, &c->root->pos,
                          "missing required key 'name' (the graph's name)");
    char *name;
    if ((st = gl_read_string(c, c->name, "name", &name)) != SF_OK)
        return st;

    sf_graph_t *g = sf_xalloc_calloc(1, sizeof *g);
    g->name = name;
    g->rank = c->rank;
    g->world = c->world;
    gl_bnode_t *bnodes = NULL;
    if ((st = gl_build_nodes(c, g, &bnodes)) == SF_OK) {
        for (int i = 0; i < g->n_nodes; i++) {
            g->nodes[i].rank = c->rank;
            g->nodes[i].world = c->world;
        }
        st = gl_validate(c, g, bnodes);
    }
    gl_bnodes_free(bnodes, g->n_nodes);
    if (st != SF_OK) {
        sf_graph_free(g);
        return st;
    }
    /* Positions in g point into these names: they move with the graph. */
    g->params = c->params;
    g->n_params = c->n_params;
    c->params = NULL;
    c->n_params = 0;
    g->files = c->files;
    g->n_files = c->n_files;
    c->files = NULL;
    c->n_files = 0;
    *out = g;
    return SF_OK;
}

static sf_status_t load_root(const char *buf, size_t len, const char *file_name,
                             const sf_param_set_t *sets, int n_sets, int rank, int world,
                             sf_graph_t **out, sf_err_t *err)
{
    gl_ctx_t c;
    memset(&c, 0, sizeof c);
    c.err = err;
    c.rank = rank;
    c.world = world;
    sf_graph_names_init(&c.param_names);
    const char *display = file_name != NULL ? file_name : "<buffer>";
    char real[PATH_MAX];
    if (realpath(display, real) == NULL)
        snprintf(real, sizeof real, "%s", display);
    sf_status_t st = load_text(&c, buf, len, display, real);
    if (st == SF_OK)
        st = build(&c, sets, n_sets, out);
    ctx_fini(&c);
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
    gl_ctx_t c;
    memset(&c, 0, sizeof c);
    c.err = err;
    char *buf;
    size_t len;
    sf_pos_t at = {path, 0, 0};
    sf_status_t st = read_file(&c, path, &at, &buf, &len);
    if (st != SF_OK)
        return st;
    st = load_root(buf, len, path, sets, n_sets, rank, world, out, err);
    free(buf);
    return st;
}
