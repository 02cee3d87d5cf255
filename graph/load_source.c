/* Stage 1a: read the root file and its includes (depth first, include
 * before includer) and merge params, checks, inputs, nodes and outputs in
 * that order. Each file is loaded at most once, so a diamond of includes is
 * fine and a loop is an error naming the chain. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "load_array.h"
#include "file_read.h"
#include "load_source.h"
#include "xalloc.h"

static const char *const top_keys[] = {"name", "doc", "include", "params", "checks", "inputs",
                                       "nodes", "outputs"};

/* The state of reading one source: what is filled in, plus what only the
 * reading needs (the include stack, the canonical paths, capacities). */
typedef struct loader {
    gl_source_t *src; /* borrowed: the caller's, being filled */
    sf_err_t *err;    /* borrowed */
    char **real_paths; /* owned: canonical path per file in src->files (include once) */
    int n_real, cap_real;
    const char **chain; /* owned array, strings borrowed from src->files: the include stack */
    int n_chain, cap_chain;
    int cap_files, cap_docs, cap_checks, cap_ins, cap_ins2, cap_nodes, cap_outs;
} loader_t;

void gl_source_fini(gl_source_t *src)
{
    for (int i = 0; i < src->n_files; i++)
        free(src->files[i]);
    free(src->files);
    for (int i = 0; i < src->n_docs; i++)
        sf_ydoc_free(src->docs[i]);
    free(src->docs);
    gl_params_fini(&src->params);
    free(src->checks);
    free(src->entries.in_keys);
    free(src->entries.in_vals);
    free(src->entries.nodes);
    free(src->entries.outs);
    memset(src, 0, sizeof *src);
}

sf_status_t gl_read_file(const char *path, const sf_pos_t *at, char **buf, size_t *len,
                         sf_err_t *err)
{
    *buf = NULL;
    int fd;
    uint64_t size;
    sf_status_t st = sf_file_open_regular(path, at, &fd, &size, err);
    if (st != SF_OK)
        return st;
    FILE *f = fdopen(fd, "rb");
    if (f == NULL) {
        close(fd);
        return sf_err_set(err, SF_ERR_IO, at, "cannot open '%s': %s", path, strerror(errno));
    }
    if (size > SF_GRAPH_MAX_FILE_BYTES) {
        fclose(f);
        sf_pos_t pos = {at->file, at->line, at->col};
        if (at->line == 0)
            pos.file = path;
        return sf_err_set(err, SF_ERR_PARSE, &pos,
                          "'%s' is %lld bytes, more than the limit of %u bytes", path,
                          (long long)size, (unsigned)SF_GRAPH_MAX_FILE_BYTES);
    }
    size_t n = (size_t)size;
    char *b = sf_xalloc_calloc(n + 1, 1);
    size_t got = fread(b, 1, n, f);
    int is_bad = ferror(f);
    fclose(f);
    if (is_bad || got != n) {
        free(b);
        return sf_err_set(err, SF_ERR_IO, at, "cannot read '%s'", path);
    }
    *buf = b;
    *len = n;
    return SF_OK;
}

static const char *add_file(loader_t *c, const char *display, const char *real)
{
    char **slot = &GL_PUSH(c->src->files, c->src->n_files, c->cap_files);
    *slot = sf_xalloc_strdup(display);
    char **r = &GL_PUSH(c->real_paths, c->n_real, c->cap_real);
    *r = sf_xalloc_strdup(real);
    return *slot;
}

static sf_status_t load_text(loader_t *c, const char *buf, size_t len, const char *display,
                             const char *real);

/* Resolve, check for a loop, skip a file already loaded, else load it. */
static sf_status_t load_include(loader_t *c, const char *includer, const sf_ynode_t *item)
{
    /* The path may use the params of the includes read so far. */
    gl_scope_t scope = {&c->src->params, NULL, {0}};
    char *rel;
    sf_status_t st = gl_read_string(&scope, item, "include", &rel, c->err);
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
        for (int j = 0; j < c->src->n_files; j++)
            if (c->src->files[j] == c->chain[i])
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
    if ((st = gl_read_file(path, &item->pos, &text, &len, c->err)) != SF_OK)
        return st;
    st = load_text(c, text, len, path, real);
    free(text);
    return st;
}

static sf_status_t merge_params(loader_t *c, const sf_ynode_t *v)
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
        sf_status_t st =
            gl_value_from_ynode(sf_ynode_map_val(v, i), what, SF_ERR_GRAPH, &val, c->err);
        if (st != SF_OK)
            return st;
        gl_params_set(&c->src->params, k->text, val, sf_ynode_map_val(v, i)->pos);
    }
    return SF_OK;
}

static sf_status_t merge_entries(loader_t *c, const char *key, const sf_ynode_t *v)
{
    gl_entries_t *e = &c->src->entries;
    if (strcmp(key, "inputs") == 0) {
        if (v->kind != SF_YNODE_MAP)
            return sf_err_set(c->err, SF_ERR_GRAPH, &v->pos,
                              "'inputs' must be a mapping of name: {dtype, shape}, found a %s",
                              sf_ynode_kind_name(v->kind));
        for (int i = 0; i < sf_ynode_map_count(v); i++) {
            gl_grow((void **)&e->in_keys, &c->cap_ins, e->n_ins + 1, sizeof *e->in_keys);
            gl_grow((void **)&e->in_vals, &c->cap_ins2, e->n_ins + 1, sizeof *e->in_vals);
            e->in_keys[e->n_ins] = sf_ynode_map_key(v, i);
            e->in_vals[e->n_ins++] = sf_ynode_map_val(v, i);
        }
        return SF_OK;
    }
    if (strcmp(key, "nodes") == 0) {
        if (v->kind != SF_YNODE_SEQ)
            return sf_err_set(c->err, SF_ERR_GRAPH, &v->pos,
                              "'nodes' must be a list of nodes, found a %s",
                              sf_ynode_kind_name(v->kind));
        for (int i = 0; i < v->n_kids; i++)
            GL_PUSH(e->nodes, e->n_nodes, c->cap_nodes) = v->kids[i];
        return SF_OK;
    }
    /* outputs: a list of tensor names, or one name */
    if (v->kind == SF_YNODE_MAP)
        return sf_err_set(c->err, SF_ERR_GRAPH, &v->pos,
                          "'outputs' must be a list of tensor names, found a mapping");
    if (v->kind == SF_YNODE_SCALAR) {
        GL_PUSH(e->outs, e->n_outs, c->cap_outs) = v;
        return SF_OK;
    }
    for (int i = 0; i < v->n_kids; i++)
        GL_PUSH(e->outs, e->n_outs, c->cap_outs) = v->kids[i];
    return SF_OK;
}

static sf_status_t load_text(loader_t *c, const char *buf, size_t len, const char *display,
                             const char *real)
{
    const char *file = add_file(c, display, real);
    sf_ydoc_t *doc = NULL;
    sf_status_t st = sf_ydoc_parse(buf, len, file, &doc, c->err);
    if (st != SF_OK)
        return st;
    GL_PUSH(c->src->docs, c->src->n_docs, c->cap_docs) = doc;
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
        c->src->entries.root = root;
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
        c->src->entries.name = name;

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
            GL_PUSH(c->src->checks, c->src->n_checks, c->cap_checks) = checks->kids[i];
    }
    static const char *const entries[] = {"inputs", "nodes", "outputs"};
    for (int i = 0; i < 3; i++) {
        const sf_ynode_t *v = sf_ynode_map_get(root, entries[i]);
        if (v != NULL && !sf_ynode_is_null(v) && (st = merge_entries(c, entries[i], v)) != SF_OK)
            return st;
    }
    return SF_OK;
}

sf_status_t gl_source_load(const char *buf, size_t len, const char *display, gl_source_t *src,
                           sf_err_t *err)
{
    char real[PATH_MAX];
    if (realpath(display, real) == NULL)
        snprintf(real, sizeof real, "%s", display);
    memset(src, 0, sizeof *src);
    gl_params_init(&src->params);
    loader_t c;
    memset(&c, 0, sizeof c);
    c.src = src;
    c.err = err;
    sf_status_t st = load_text(&c, buf, len, display, real);
    for (int i = 0; i < c.n_real; i++)
        free(c.real_paths[i]);
    free(c.real_paths);
    free(c.chain);
    return st;
}
