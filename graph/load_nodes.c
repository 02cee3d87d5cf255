/* Stage 2: inputs, nodes and outputs from YAML to IR: `when` filtering, op
 * lookup, input and output counts, and attrs typed against the op's
 * descriptor (given values and defaults parsed by the same readers). Tensor
 * names stay names here; load_validate.c turns them into edge indices. */
#include <stdio.h>
#include <string.h>

#include "load_array.h"
#include "load_nodes.h"
#include "xalloc.h"

/* The state of one build: what it reads, and the defaults it parsed. */
typedef struct builder {
    const gl_entries_t *e; /* borrowed */
    gl_scope_t scope;      /* params borrowed; var set inside a `repeat` block */
    sf_ydoc_t **defaults;  /* owned: parsed attr defaults, alive until the build ends */
    int n_defaults, cap_defaults;
    sf_err_t *err; /* borrowed */
} builder_t;

/* Keys a node mapping may hold besides attrs written inline. */
static const char *const node_keys[] = {"name", "op", "in", "out", "attrs", "when", "doc"};

static void bnodes_free(gl_bnode_t *b, int n)
{
    if (b == NULL)
        return;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < b[i].n_in; k++)
            free(b[i].in_names[k]);
        for (int k = 0; k < b[i].n_out; k++)
            free(b[i].out_names[k]);
        free(b[i].in_names);
        free(b[i].in_pos);
        free(b[i].out_names);
        free(b[i].out_pos);
    }
    free(b);
}

static bool is_node_key(const char *k)
{
    for (size_t i = 0; i < sizeof node_keys / sizeof node_keys[0]; i++)
        if (strcmp(node_keys[i], k) == 0)
            return true;
    return false;
}

/* --- inputs ------------------------------------------------------------------ */

/* Contiguous row-major, as sf_tensor_make builds it; written out here so the
 * loader does not depend on tensor.c. */
static sf_tensor_t input_layout(sf_dtype_t dtype, int ndim, const int64_t *dims)
{
    sf_tensor_t t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.ndim = ndim;
    int64_t stride = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        t.shape[d] = dims[d];
        t.strides[d] = stride;
        stride *= dims[d] > 0 ? dims[d] : 1;
    }
    return t;
}

static sf_status_t build_input(builder_t *c, const sf_ynode_t *k, const sf_ynode_t *v,
                               sf_edge_t *out)
{
    char what[300];
    snprintf(what, sizeof what, "input '%s'", k->text);
    if (v->kind != SF_YNODE_MAP)
        return sf_err_set(c->err, SF_ERR_GRAPH, &v->pos,
                          "%s: expected a mapping {dtype, shape}, found a %s", what,
                          sf_ynode_kind_name(v->kind));
    for (int i = 0; i < sf_ynode_map_count(v); i++) {
        const char *key = sf_ynode_map_key(v, i)->text;
        if (strcmp(key, "dtype") != 0 && strcmp(key, "shape") != 0 && strcmp(key, "doc") != 0 &&
            strcmp(key, "when") != 0)
            return sf_err_set(c->err, SF_ERR_GRAPH, &sf_ynode_map_key(v, i)->pos,
                              "%s: unknown key '%s' (expected dtype, shape, when or doc)", what,
                              key);
    }
    const sf_ynode_t *dt = sf_ynode_map_get(v, "dtype");
    if (dt == NULL)
        return sf_err_set(c->err, SF_ERR_GRAPH, &v->pos, "%s: missing required key 'dtype'", what);
    sf_dtype_t dtype;
    sf_status_t st = gl_read_dtype(&c->scope, dt, what, &dtype, c->err);
    if (st != SF_OK)
        return st;
    int64_t *dims = NULL;
    sf_pos_t *dim_pos = NULL;
    int ndim = 0;
    const sf_ynode_t *shape = sf_ynode_map_get(v, "shape");
    if (shape != NULL) {
        char swhat[320];
        snprintf(swhat, sizeof swhat, "%s: shape", what);
        if ((st = gl_read_ints(&c->scope, shape, swhat, &dims, &ndim, &dim_pos, c->err)) != SF_OK)
            return st;
    }
    if (ndim > SF_MAX_DIMS)
        st = sf_err_set(c->err, SF_ERR_GRAPH, &shape->pos, "%s: %d dims, at most %d are allowed",
                        what, ndim, SF_MAX_DIMS);
    /* Zero-size dims are allowed on purpose (ops must handle empty
     * tensors); a negative one is always a mistake. */
    int64_t numel = 1;
    for (int i = 0; i < ndim && st == SF_OK; i++) {
        if (dims[i] < 0)
            st = sf_err_set(c->err, SF_ERR_GRAPH, &dim_pos[i],
                            "%s: dim %d is %lld; dims must be >= 0", what, i, (long long)dims[i]);
        else if (__builtin_mul_overflow(numel, dims[i] > 0 ? dims[i] : 1, &numel) ||
                 numel > (INT64_C(1) << 56))
            st = sf_err_set(c->err, SF_ERR_GRAPH, &dim_pos[i],
                            "%s: shape has more than 2^56 elements", what);
    }
    if (st == SF_OK) {
        memset(out, 0, sizeof *out);
        out->name = sf_xalloc_strdup(k->text);
        out->layout = input_layout(dtype, ndim, dims);
        out->producer = -1;
        out->producer_slot = 0;
        out->view_of = -1;
        out->is_input = true;
        out->pos = k->pos;
    }
    free(dims);
    free(dim_pos);
    return st;
}

static sf_status_t build_inputs(builder_t *c, sf_graph_t *g)
{
    sf_graph_names_t seen;
    sf_graph_names_init(&seen);
    g->edges = sf_xalloc_calloc((size_t)c->e->n_ins, sizeof *g->edges);
    g->inputs = sf_xalloc_calloc((size_t)c->e->n_ins, sizeof *g->inputs);
    sf_status_t st = SF_OK;
    for (int i = 0; i < c->e->n_ins && st == SF_OK; i++) {
        const sf_ynode_t *k = c->e->in_keys[i];
        int first = sf_graph_names_get(&seen, k->text);
        if (first >= 0) {
            const sf_pos_t *fp = &c->e->in_keys[first]->pos;
            st = sf_err_set(c->err, SF_ERR_GRAPH, &k->pos,
                            "input '%s' is declared twice (first at %s:%d:%d)", k->text, fp->file,
                            fp->line, fp->col);
            break;
        }
        sf_graph_names_put(&seen, k->text, i);
        /* An input may exist in one configuration only (tokens from a file
         * or made by a node), like a node with `when`. */
        const sf_ynode_t *when = c->e->in_vals[i]->kind == SF_YNODE_MAP
                                     ? sf_ynode_map_get(c->e->in_vals[i], "when")
                                     : NULL;
        bool is_active = true;
        if (when != NULL) {
            char what[300];
            snprintf(what, sizeof what, "input '%s': when", k->text);
            if ((st = gl_read_cond(&c->scope, when, what, &is_active, c->err)) != SF_OK)
                break;
        }
        if (!is_active)
            continue;
        if ((st = build_input(c, k, c->e->in_vals[i], &g->edges[g->n_edges])) != SF_OK)
            break;
        g->inputs[g->n_inputs++] = g->n_edges++;
    }
    sf_graph_names_fini(&seen);
    return st;
}

/* --- nodes ----------------------------------------------------------------------- */

/* `in`/`out`: a list of tensor names or one name. */
static sf_status_t read_names(builder_t *c, const sf_ynode_t *y, const char *what, char ***names,
                              sf_pos_t **pos, int *n)
{
    *n = 0;
    if (y == NULL || sf_ynode_is_null(y))
        return SF_OK;
    if (y->kind == SF_YNODE_MAP)
        return sf_err_set(c->err, SF_ERR_GRAPH, &y->pos,
                          "%s: expected a list of tensor names, found a mapping", what);
    int count = y->kind == SF_YNODE_SCALAR ? 1 : y->n_kids;
    *names = sf_xalloc_calloc((size_t)count, sizeof **names);
    *pos = sf_xalloc_calloc((size_t)count, sizeof **pos);
    for (int i = 0; i < count; i++) {
        const sf_ynode_t *item = y->kind == SF_YNODE_SCALAR ? y : y->kids[i];
        sf_status_t st = gl_read_string(&c->scope, item, what, &(*names)[i], c->err);
        if (st != SF_OK)
            return st;
        (*pos)[i] = item->pos;
        *n = i + 1;
        if ((*names)[i][0] == '\0')
            return sf_err_set(c->err, SF_ERR_GRAPH, &item->pos, "%s: empty tensor name", what);
    }
    return SF_OK;
}

static sf_status_t check_count(builder_t *c, const sf_node_t *node, const sf_ynode_t *y,
                               const char *what, int got, int lo, int hi)
{
    if (got >= lo && (hi < 0 || got <= hi))
        return SF_OK;
    char want[64];
    if (hi < 0)
        snprintf(want, sizeof want, "at least %d", lo);
    else if (lo == hi)
        snprintf(want, sizeof want, "%d", lo);
    else
        snprintf(want, sizeof want, "%d to %d", lo, hi);
    return sf_err_set(c->err, SF_ERR_GRAPH, y != NULL ? &y->pos : &node->pos,
                      "node '%s': op '%s' takes %s %s, got %d", node->name, node->op->name, want,
                      what, got);
}

static sf_status_t read_attr(builder_t *c, const sf_node_t *node, const sf_op_attr_desc_t *d,
                             const sf_ynode_t *y, sf_attr_t *a)
{
    char what[300];
    snprintf(what, sizeof what, "node '%s': attr '%s'", node->name, d->name);
    a->type = d->type;
    switch (d->type) {
    case SF_ATTR_INT: return gl_read_int(&c->scope, y, what, &a->i, c->err);
    case SF_ATTR_FLOAT: return gl_read_float(&c->scope, y, what, &a->f, c->err);
    case SF_ATTR_BOOL: return gl_read_bool(&c->scope, y, what, &a->b, c->err);
    case SF_ATTR_STRING: return gl_read_string(&c->scope, y, what, &a->s, c->err);
    case SF_ATTR_INTS: return gl_read_ints(&c->scope, y, what, &a->ints, &a->n_ints, NULL, c->err);
    case SF_ATTR_DTYPE: return gl_read_dtype(&c->scope, y, what, &a->dtype, c->err);
    }
    return sf_err_set(c->err, SF_ERR_GRAPH, &y->pos, "%s: unknown attr type", what);
}

static void list_attrs(const sf_op_desc_t *op, char *out, size_t n)
{
    size_t used = 0;
    snprintf(out, n, "none");
    for (int i = 0; i < op->n_attrs && used + 1 < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s%s", i ? ", " : "", op->attrs[i].name);
}

/* A default is YAML text parsed like user input; it lives in a doc that
 * the builder keeps, so positions stay valid for the attr. */
static sf_status_t read_default(builder_t *c, sf_node_t *node, const sf_op_attr_desc_t *d,
                                sf_attr_t *a)
{
    sf_ydoc_t *doc = NULL;
    sf_err_t local;
    sf_err_clear(&local);
    sf_status_t st = sf_ydoc_parse(d->default_text, strlen(d->default_text), node->pos.file, &doc,
                                   &local);
    if (st == SF_OK && doc->root == NULL)
        st = sf_err_set(&local, SF_ERR_GRAPH, NULL, "empty");
    if (st != SF_OK) {
        sf_ydoc_free(doc);
        return sf_err_set(c->err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': op '%s' has a bad default for attr '%s' ('%s'): %s",
                          node->name, node->op->name, d->name, d->default_text, local.msg);
    }
    GL_PUSH(c->defaults, c->n_defaults, c->cap_defaults) = doc;
    /* Errors in a default belong to the node that took it. */
    doc->root->pos = node->pos;
    for (int i = 0; i < doc->root->n_kids; i++)
        doc->root->kids[i]->pos = node->pos;
    return read_attr(c, node, d, doc->root, a);
}

static sf_status_t build_attrs(builder_t *c, sf_node_t *node, const sf_ynode_t *m)
{
    const sf_op_desc_t *op = node->op;
    const sf_ynode_t **given = sf_xalloc_calloc((size_t)op->n_attrs, sizeof *given);
    const sf_ynode_t *attrs = sf_ynode_map_get(m, "attrs");
    sf_status_t st = SF_OK;
    if (attrs != NULL && !sf_ynode_is_null(attrs) && attrs->kind != SF_YNODE_MAP)
        st = sf_err_set(c->err, SF_ERR_GRAPH, &attrs->pos,
                        "node '%s': 'attrs' must be a mapping, found a %s", node->name,
                        sf_ynode_kind_name(attrs->kind));
    /* Attrs come from `attrs:` and, as a shorthand, from any other key of
     * the node mapping (`{op: pad, dim: 1}`). */
    for (int pass = 0; pass < 2 && st == SF_OK; pass++) {
        const sf_ynode_t *src = pass == 0 ? m : attrs;
        if (src == NULL || src->kind != SF_YNODE_MAP)
            continue;
        for (int i = 0; i < sf_ynode_map_count(src) && st == SF_OK; i++) {
            const sf_ynode_t *k = sf_ynode_map_key(src, i);
            if (pass == 0 && is_node_key(k->text))
                continue;
            int idx = sf_op_attr_index(op, k->text);
            if (idx < 0) {
                char known[300];
                list_attrs(op, known, sizeof known);
                st = sf_err_set(c->err, SF_ERR_GRAPH, &k->pos,
                                "node '%s': unknown attr '%s' for op '%s' (known: %s)", node->name,
                                k->text, op->name, known);
            } else if (given[idx] != NULL) {
                st = sf_err_set(c->err, SF_ERR_GRAPH, &k->pos,
                                "node '%s': attr '%s' is given twice (first at line %d)",
                                node->name, k->text, given[idx]->pos.line);
            } else {
                given[idx] = sf_ynode_map_val(src, i);
            }
        }
    }
    node->attrs = sf_xalloc_calloc((size_t)op->n_attrs, sizeof *node->attrs);
    for (int i = 0; i < op->n_attrs && st == SF_OK; i++) {
        const sf_op_attr_desc_t *d = &op->attrs[i];
        sf_attr_t *a = &node->attrs[i];
        a->type = d->type;
        if (given[i] != NULL) {
            a->is_given = true;
            a->pos = given[i]->pos;
            st = read_attr(c, node, d, given[i], a);
        } else if (d->default_text != NULL) {
            a->pos = node->pos;
            st = read_default(c, node, d, a);
        } else {
            st = sf_err_set(c->err, SF_ERR_GRAPH, &node->pos,
                            "node '%s': missing required attr '%s' (%s) for op '%s'", node->name,
                            d->name, sf_attr_type_name(d->type), op->name);
        }
    }
    free(given);
    return st;
}

static sf_status_t build_node(builder_t *c, const sf_ynode_t *m, sf_node_t *node, gl_bnode_t *b)
{
    sf_status_t st;
    node->pos = m->pos;
    const sf_ynode_t *name = sf_ynode_map_get(m, "name");
    const sf_ynode_t *op = sf_ynode_map_get(m, "op");
    if (name == NULL)
        return sf_err_set(c->err, SF_ERR_GRAPH, &m->pos, "node: missing required key 'name'");
    if ((st = gl_read_string(&c->scope, name, "node name", &node->name, c->err)) != SF_OK)
        return st;
    if (node->name[0] == '\0')
        return sf_err_set(c->err, SF_ERR_GRAPH, &name->pos, "node name is empty");
    b->name_pos = name->pos;
    if (op == NULL)
        return sf_err_set(c->err, SF_ERR_GRAPH, &m->pos, "node '%s': missing required key 'op'",
                          node->name);
    char *op_name;
    if ((st = gl_read_string(&c->scope, op, "op", &op_name, c->err)) != SF_OK)
        return st;
    node->op = sf_op_find(op_name);
    if (node->op == NULL)
        st = sf_err_set(c->err, SF_ERR_GRAPH, &op->pos, "node '%s': unknown op '%s'", node->name,
                        op_name);
    free(op_name);
    if (st != SF_OK)
        return st;

    const sf_ynode_t *in = sf_ynode_map_get(m, "in"), *out = sf_ynode_map_get(m, "out");
    char what[300];
    snprintf(what, sizeof what, "node '%s': in", node->name);
    if ((st = read_names(c, in, what, &b->in_names, &b->in_pos, &b->n_in)) != SF_OK)
        return st;
    snprintf(what, sizeof what, "node '%s': out", node->name);
    if ((st = read_names(c, out, what, &b->out_names, &b->out_pos, &b->n_out)) != SF_OK)
        return st;
    const sf_op_desc_t *d = node->op;
    if ((st = check_count(c, node, in, "inputs", b->n_in, d->min_inputs, d->max_inputs)) != SF_OK ||
        (st = check_count(c, node, out, "outputs", b->n_out, d->min_outputs, d->max_outputs)) !=
            SF_OK)
        return st;
    node->n_in = b->n_in;
    node->n_out = b->n_out;
    node->in = sf_xalloc_calloc((size_t)b->n_in, sizeof *node->in);
    node->out = sf_xalloc_calloc((size_t)b->n_out, sizeof *node->out);
    return build_attrs(c, node, m);
}

/* Is the node active? A missing `when` means yes. */
static sf_status_t node_when(builder_t *c, const sf_ynode_t *m, bool *is_active)
{
    *is_active = true;
    if (m->kind != SF_YNODE_MAP)
        return sf_err_set(c->err, SF_ERR_GRAPH, &m->pos,
                          "a node must be a mapping {name, op, in, out, attrs}, found a %s",
                          sf_ynode_kind_name(m->kind));
    const sf_ynode_t *when = sf_ynode_map_get(m, "when");
    if (when == NULL)
        return SF_OK;
    const sf_ynode_t *name = sf_ynode_map_get(m, "name");
    char what[300];
    snprintf(what, sizeof what, "node '%s': when",
             name != NULL && name->kind == SF_YNODE_SCALAR ? name->text : "?");
    return gl_read_cond(&c->scope, when, what, is_active, c->err);
}

/* One node to build: its mapping and, inside a `repeat` block, the value
 * of the block's variable. */
typedef struct node_item {
    const sf_ynode_t *m;   /* borrowed */
    const char *var;       /* borrowed from the YAML; NULL outside a block */
    int64_t value;
} node_item_t;

static void scope_enter(builder_t *c, const node_item_t *it)
{
    c->scope.var = it->var;
    c->scope.val = (sf_value_t){.type = SF_VALUE_INT, .i = it->value};
}

/* `- repeat: {var: layer, count: num_layers}` with `nodes: [...]` expands to
 * count copies of the nodes, `layer` = 0, 1, ... in ${} and expressions.
 * Blocks do not nest: one variable is all a layer stack needs. */
static sf_status_t expand_repeat(builder_t *c, const sf_ynode_t *m, node_item_t **items, int *n,
                                 int *cap)
{
    const sf_ynode_t *spec = sf_ynode_map_get(m, "repeat");
    const sf_ynode_t *body = sf_ynode_map_get(m, "nodes");
    for (int i = 0; i < sf_ynode_map_count(m); i++) {
        const char *k = sf_ynode_map_key(m, i)->text;
        if (strcmp(k, "repeat") != 0 && strcmp(k, "nodes") != 0 && strcmp(k, "doc") != 0)
            return sf_err_set(c->err, SF_ERR_GRAPH, &sf_ynode_map_key(m, i)->pos,
                              "unknown key '%s' in a repeat block (expected repeat, nodes, doc)",
                              k);
    }
    if (spec == NULL || spec->kind != SF_YNODE_MAP || body == NULL || body->kind != SF_YNODE_SEQ)
        return sf_err_set(c->err, SF_ERR_GRAPH, &m->pos,
                          "a repeat block is {repeat: {var: NAME, count: EXPR}, nodes: [...]}");
    const sf_ynode_t *var = sf_ynode_map_get(spec, "var");
    const sf_ynode_t *count_y = sf_ynode_map_get(spec, "count");
    if (var == NULL || var->kind != SF_YNODE_SCALAR || count_y == NULL)
        return sf_err_set(c->err, SF_ERR_GRAPH, &spec->pos,
                          "repeat needs var (a name) and count (an int expression)");
    if (gl_params_find(c->scope.params, var->text) >= 0)
        return sf_err_set(c->err, SF_ERR_GRAPH, &var->pos,
                          "repeat variable '%s' would hide the param of that name", var->text);
    int64_t count;
    sf_status_t st = gl_read_int(&c->scope, count_y, "repeat: count", &count, c->err);
    if (st != SF_OK)
        return st;
    if (count < 0 || count > 1000000)
        return sf_err_set(c->err, SF_ERR_GRAPH, &count_y->pos,
                          "repeat: count %lld out of range (0..1000000)", (long long)count);
    for (int64_t k = 0; k < count; k++)
        for (int j = 0; j < body->n_kids; j++) {
            const sf_ynode_t *inner = body->kids[j];
            if (inner->kind == SF_YNODE_MAP && sf_ynode_map_get(inner, "repeat") != NULL)
                return sf_err_set(c->err, SF_ERR_GRAPH, &inner->pos,
                                  "repeat blocks do not nest");
            gl_grow((void **)items, cap, *n + 1, sizeof **items);
            (*items)[(*n)++] = (node_item_t){inner, var->text, k};
        }
    return SF_OK;
}

static sf_status_t build_nodes(builder_t *c, sf_graph_t *g, gl_bnode_t **bnodes)
{
    *bnodes = NULL;
    sf_status_t st = build_inputs(c, g);
    if (st != SF_OK)
        return st;
    node_item_t *items = NULL;
    int n_items = 0, cap_items = 0;
    for (int i = 0; i < c->e->n_nodes && st == SF_OK; i++) {
        const sf_ynode_t *m = c->e->nodes[i];
        if (m->kind == SF_YNODE_MAP && sf_ynode_map_get(m, "repeat") != NULL) {
            st = expand_repeat(c, m, &items, &n_items, &cap_items);
        } else {
            gl_grow((void **)&items, &cap_items, n_items + 1, sizeof *items);
            items[n_items++] = (node_item_t){m, NULL, 0};
        }
    }
    bool *is_active = sf_xalloc_calloc((size_t)n_items, sizeof *is_active);
    int n_active = 0;
    /* Every `when` first, so a node that is dropped is never type-checked
     * against an op that only exists in the other configuration. */
    for (int i = 0; i < n_items && st == SF_OK; i++) {
        scope_enter(c, &items[i]);
        st = node_when(c, items[i].m, &is_active[i]);
        n_active += is_active[i];
    }
    gl_bnode_t *b = sf_xalloc_calloc((size_t)n_active, sizeof *b);
    g->nodes = sf_xalloc_calloc((size_t)n_active, sizeof *g->nodes);
    sf_graph_names_t seen;
    sf_graph_names_init(&seen);
    int cap_values = c->e->n_ins;
    for (int i = 0; i < n_items && st == SF_OK; i++) {
        if (!is_active[i])
            continue;
        int k = g->n_nodes++;
        scope_enter(c, &items[i]);
        if ((st = build_node(c, items[i].m, &g->nodes[k], &b[k])) != SF_OK)
            break;
        int first = sf_graph_names_get(&seen, g->nodes[k].name);
        if (first >= 0) {
            const sf_pos_t *fp = &b[first].name_pos;
            st = sf_err_set(c->err, SF_ERR_GRAPH, &b[k].name_pos,
                            "duplicate node name '%s' (first at %s:%d:%d)", g->nodes[k].name,
                            fp->file, fp->line, fp->col);
            break;
        }
        sf_graph_names_put(&seen, g->nodes[k].name, k);
        cap_values += b[k].n_out;
    }
    c->scope.var = NULL;
    sf_graph_names_fini(&seen);
    free(is_active);
    free(items);
    if (st == SF_OK) {
        /* Room for every node output after the inputs (validate fills it). */
        sf_edge_t *grown = realloc(g->edges, (size_t)(cap_values + 1) * sizeof *grown);
        SF_ASSERT(grown != NULL);
        memset(grown + g->n_edges, 0, (size_t)(cap_values + 1 - g->n_edges) * sizeof *grown);
        g->edges = grown;
    }
    *bnodes = b;
    return st;
}

/* --- outputs --------------------------------------------------------------------- */

/* `outputs`: each a tensor name or {NAME: TENSOR}. Reading stops at the
 * first bad entry, whose error is kept in out (see gl_built_t), not
 * reported: validation reports it in its turn. */
static void read_outputs(builder_t *c, gl_built_t *out)
{
    const gl_entries_t *e = c->e;
    out->outs = sf_xalloc_calloc((size_t)e->n_outs + 1, sizeof *out->outs);
    for (int i = 0; i < e->n_outs; i++) {
        const sf_ynode_t *item = e->outs[i];
        char *name, *as = NULL;
        if (item->kind == SF_YNODE_MAP) {
            /* {NAME: TENSOR}: write TENSOR under NAME (an output may carry
             * the name of an input, as SpecForge's padded input_ids do). */
            if (sf_ynode_map_count(item) != 1) {
                out->outs_st = sf_err_set(&out->outs_err, SF_ERR_GRAPH, &item->pos,
                                          "an output is a tensor name or {file_name: tensor}");
                return;
            }
            as = sf_xalloc_strdup(sf_ynode_map_key(item, 0)->text);
            item = sf_ynode_map_val(item, 0);
        }
        out->outs_st = gl_read_string(&c->scope, item, "output", &name, &out->outs_err);
        if (out->outs_st != SF_OK) {
            free(as);
            return;
        }
        out->outs[out->n_outs++] = (gl_bout_t){name, as, e->outs[i]->pos};
    }
}

sf_status_t gl_nodes_build(const gl_entries_t *e, const gl_params_t *p, int rank, int world,
                           gl_built_t *out, sf_err_t *err)
{
    memset(out, 0, sizeof *out);
    sf_err_clear(&out->outs_err);
    builder_t c;
    memset(&c, 0, sizeof c);
    c.e = e;
    c.scope.params = p;
    c.err = err;
    if (e->name == NULL)
        return sf_err_set(err, SF_ERR_GRAPH, &e->root->pos,
                          "missing required key 'name' (the graph's name)");
    char *name;
    sf_status_t st = gl_read_string(&c.scope, e->name, "name", &name, err);
    if (st != SF_OK)
        return st;
    sf_graph_t *g = sf_xalloc_calloc(1, sizeof *g);
    out->g = g;
    g->name = name;
    g->rank = rank;
    g->world = world;
    st = build_nodes(&c, g, &out->bnodes);
    out->n_bnodes = g->n_nodes;
    if (st == SF_OK) {
        for (int i = 0; i < g->n_nodes; i++) {
            g->nodes[i].rank = rank;
            g->nodes[i].world = world;
        }
        read_outputs(&c, out);
    }
    for (int i = 0; i < c.n_defaults; i++)
        sf_ydoc_free(c.defaults[i]);
    free(c.defaults);
    return st;
}

void gl_built_fini(gl_built_t *out)
{
    sf_graph_free(out->g);
    bnodes_free(out->bnodes, out->n_bnodes);
    for (int i = 0; i < out->n_outs; i++) {
        free(out->outs[i].name);
        free(out->outs[i].as);
    }
    free(out->outs);
    memset(out, 0, sizeof *out);
}
