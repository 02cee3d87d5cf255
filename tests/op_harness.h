/* A hand-built node for op tests: one op descriptor, attrs set by the test
 * (the rest parsed from their default_text, as the loader would), shape
 * inference, host tensors in malloc'd buffers, and a direct call of the
 * CPU kernel. Header-only so each check_op_* suite needs nothing else.
 * Positions are fixed so error tests can check line and column: the node
 * sits at OH_FILE:OH_NODE_LINE:OH_NODE_COL, a given attr i at
 * OH_FILE:(OH_ATTR_LINE0 + i):OH_ATTR_COL. */
#ifndef SF_OP_HARNESS_H
#define SF_OP_HARNESS_H

#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "op.h"
#include "tensor.h"
#include "test_util.h"

#define OH_FILE "op.yaml"
#define OH_NODE_LINE 3
#define OH_NODE_COL 5
#define OH_ATTR_LINE0 10
#define OH_ATTR_COL 9
#define OH_MAX_ATTRS 16

typedef struct oh_node {
    sf_node_t node;                 /* node.attrs points at attrs below */
    sf_attr_t attrs[OH_MAX_ATTRS];  /* strings and lists owned, freed by oh_node_free */
    bool is_set[OH_MAX_ATTRS];      /* given by the test or by a default */
    char name[64];
} oh_node_t;

/* Parse "[1, -2, 3]" (or "[]") into a malloc'd array. */
static inline int64_t *oh_parse_ints(const char *text, int *n)
{
    int64_t *v = malloc(SF_MAX_DIMS * 4 * sizeof *v);
    ck_assert_ptr_nonnull(v);
    *n = 0;
    const char *p = strchr(text, '[');
    ck_assert_msg(p != NULL, "ints default '%s' is not a list", text);
    p++;
    for (;;) {
        while (*p == ' ')
            p++;
        if (*p == ']' || *p == '\0')
            break;
        char *end;
        v[(*n)++] = strtoll(p, &end, 10);
        ck_assert_msg(end != p, "bad ints default '%s'", text);
        p = end;
        while (*p == ' ' || *p == ',')
            p++;
    }
    return v;
}

/* Fill attr i from its YAML default text, as the loader does. */
static inline void oh_attr_default(oh_node_t *h, int i)
{
    const sf_op_attr_desc_t *d = &h->node.op->attrs[i];
    sf_attr_t *a = &h->attrs[i];
    a->type = d->type;
    a->pos = h->node.pos;
    if (d->default_text == NULL)
        return; /* required: the test must set it */
    const char *t = d->default_text;
    switch (d->type) {
    case SF_ATTR_INT: a->i = strtoll(t, NULL, 10); break;
    case SF_ATTR_FLOAT: a->f = strtod(t, NULL); break;
    case SF_ATTR_BOOL:
        ck_assert_msg(strcmp(t, "true") == 0 || strcmp(t, "false") == 0, "bool default '%s'", t);
        a->b = strcmp(t, "true") == 0;
        break;
    case SF_ATTR_STRING: {
        /* YAML quoting, as in the "\"\"" an empty default needs */
        size_t n = strlen(t);
        if (n >= 2 && (t[0] == '"' || t[0] == '\'') && t[n - 1] == t[0])
            a->s = strndup(t + 1, n - 2);
        else
            a->s = strdup(t);
        break;
    }
    case SF_ATTR_INTS: a->ints = oh_parse_ints(t, &a->n_ints); break;
    case SF_ATTR_DTYPE:
        ck_assert_msg(sf_dtype_parse(t, &a->dtype), "dtype default '%s'", t);
        break;
    }
    h->is_set[i] = true;
}

/* A node named `name` running op `op`, every attr at its default. */
static inline oh_node_t *oh_node_new(const char *op, const char *name)
{
    sf_ops_register_all();
    const sf_op_desc_t *desc = sf_op_find(op);
    ck_assert_msg(desc != NULL, "op '%s' is not registered", op);
    ck_assert_int_le(desc->n_attrs, OH_MAX_ATTRS);
    oh_node_t *h = calloc(1, sizeof *h);
    ck_assert_ptr_nonnull(h);
    snprintf(h->name, sizeof h->name, "%s", name);
    h->node.name = h->name;
    h->node.op = desc;
    h->node.attrs = h->attrs;
    h->node.pos = (sf_pos_t){OH_FILE, OH_NODE_LINE, OH_NODE_COL};
    for (int i = 0; i < desc->n_attrs; i++)
        oh_attr_default(h, i);
    return h;
}

static inline void oh_node_free(oh_node_t *h)
{
    if (h == NULL)
        return;
    for (int i = 0; i < h->node.op->n_attrs; i++) {
        free(h->attrs[i].s);
        free(h->attrs[i].ints);
    }
    free(h);
}

/* The attr to overwrite, marked given at its own position. */
static inline sf_attr_t *oh_attr_given(oh_node_t *h, const char *name, sf_attr_type_t type)
{
    int i = sf_op_attr_index(h->node.op, name);
    ck_assert_msg(i >= 0, "op '%s' has no attr '%s'", h->node.op->name, name);
    ck_assert_msg(h->node.op->attrs[i].type == type, "attr '%s' is a %s", name,
                  sf_attr_type_name(h->node.op->attrs[i].type));
    h->is_set[i] = true;
    h->attrs[i].is_given = true;
    h->attrs[i].pos = (sf_pos_t){OH_FILE, OH_ATTR_LINE0 + i, OH_ATTR_COL};
    return &h->attrs[i];
}

/* Line an attr's error should point at once the test set it. */
static inline int oh_attr_line(const oh_node_t *h, const char *name)
{
    return OH_ATTR_LINE0 + sf_op_attr_index(h->node.op, name);
}

static inline void oh_set_int(oh_node_t *h, const char *name, int64_t v)
{
    oh_attr_given(h, name, SF_ATTR_INT)->i = v;
}

static inline void oh_set_float(oh_node_t *h, const char *name, double v)
{
    oh_attr_given(h, name, SF_ATTR_FLOAT)->f = v;
}

static inline void oh_set_bool(oh_node_t *h, const char *name, bool v)
{
    oh_attr_given(h, name, SF_ATTR_BOOL)->b = v;
}

static inline void oh_set_str(oh_node_t *h, const char *name, const char *v)
{
    sf_attr_t *a = oh_attr_given(h, name, SF_ATTR_STRING);
    free(a->s);
    a->s = strdup(v);
}

static inline void oh_set_dtype(oh_node_t *h, const char *name, sf_dtype_t v)
{
    oh_attr_given(h, name, SF_ATTR_DTYPE)->dtype = v;
}

static inline void oh_set_ints(oh_node_t *h, const char *name, const int64_t *v, int n)
{
    sf_attr_t *a = oh_attr_given(h, name, SF_ATTR_INTS);
    free(a->ints);
    a->ints = malloc((size_t)(n > 0 ? n : 1) * sizeof *a->ints);
    ck_assert_ptr_nonnull(a->ints);
    if (n > 0)
        memcpy(a->ints, v, (size_t)n * sizeof *v);
    a->n_ints = n;
}

/* OH_INTS(h, "sizes", 2, 3): a non-empty literal list. */
#define OH_INTS(h, name, ...)                                                                  \
    oh_set_ints((h), (name), (const int64_t[]){__VA_ARGS__},                                    \
                (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
/* OH_SHAPE(2, 3): a shape array literal for the tensor helpers. */
#define OH_SHAPE(...) ((const int64_t[]){__VA_ARGS__})

/* Run the shape rule as the loader would: arity first (an error, as for
 * YAML), then the op's infer. Every required attr must have been set. */
static inline sf_status_t oh_infer(oh_node_t *h, const sf_tensor_t *in, int n_in,
                                   sf_tensor_t *out, int n_out, sf_err_t *err)
{
    const sf_op_desc_t *d = h->node.op;
    for (int i = 0; i < d->n_attrs; i++)
        ck_assert_msg(h->is_set[i], "test did not set required attr '%s'", d->attrs[i].name);
    if (n_in < d->min_inputs || (d->max_inputs >= 0 && n_in > d->max_inputs) ||
        n_out < d->min_outputs || (d->max_outputs >= 0 && n_out > d->max_outputs))
        return sf_err_set(err, SF_ERR_GRAPH, &h->node.pos, "node '%s': wrong arity",
                          h->node.name);
    h->node.n_in = n_in;
    h->node.n_out = n_out;
    memset(out, 0, (size_t)n_out * sizeof *out);
    return d->infer(&h->node, in, n_in, out, n_out, err);
}

/* A value in [0, 1) that depends only on (element index, seed): the kernel
 * tests' inputs. A cheap one-round mix, not SplitMix64 (sf_rng_*): the
 * reference values and tolerances of those tests were set on exactly these
 * inputs, so it stays as it is. */
static inline double oh_unit(int64_t i, int seed)
{
    uint64_t z = (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull + (uint64_t)seed * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 31)) * 0x94d049bb133111ebull;
    z ^= z >> 29;
    return (double)(z >> 11) * 0x1p-53;
}

/* A contiguous host tensor, zero-filled; a 0-byte one has data NULL. */
static inline sf_tensor_t oh_tensor_new(sf_dtype_t dt, int ndim, const int64_t *shape)
{
    sf_tensor_t t = sf_tensor_make(dt, ndim, shape);
    sf_buffer_t *b = calloc(1, sizeof *b);
    ck_assert_ptr_nonnull(b);
    b->nbytes = sf_tensor_nbytes(&t);
    if (b->nbytes > 0) {
        b->data = calloc(1, b->nbytes);
        ck_assert_ptr_nonnull(b->data);
    }
    b->dtype = dt;
    t.buf = b;
    return t;
}

static inline void oh_tensor_free(sf_tensor_t *t)
{
    if (t->buf != NULL) {
        free(t->buf->data);
        free(t->buf);
        t->buf = NULL;
    }
}

/* Flat row-major index i of t's shape -> element pointer (any strides). */
static inline void *oh_elem(const sf_tensor_t *t, int64_t i)
{
    int64_t off = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        off += (i % t->shape[d]) * t->strides[d];
        i /= t->shape[d];
    }
    return (char *)sf_tensor_data(t) + off * (int64_t)sf_dtype_size(t->dtype);
}

static inline double oh_get(const sf_tensor_t *t, int64_t i)
{
    return sf_dtype_load(t->dtype, oh_elem(t, i));
}

static inline void oh_put(const sf_tensor_t *t, int64_t i, double v)
{
    sf_dtype_store(t->dtype, oh_elem(t, i), v);
}

/* A contiguous host tensor whose element i is oh_unit(i, seed) * 4 - 2:
 * values in [-2, 2), the same on every run. */
static inline sf_tensor_t oh_tensor_seeded(sf_dtype_t dt, int ndim, const int64_t *shape, int seed)
{
    sf_tensor_t t = oh_tensor_new(dt, ndim, shape);
    for (int64_t i = 0; i < sf_tensor_numel(&t); i++)
        oh_put(&t, i, oh_unit(i, seed) * 4.0 - 2.0);
    return t;
}

/* Values start, start + 1, ... in row-major order: small integers are
 * exact in every dtype, so results can be compared exactly. */
static inline sf_tensor_t oh_iota(sf_dtype_t dt, int ndim, const int64_t *shape, double start)
{
    sf_tensor_t t = oh_tensor_new(dt, ndim, shape);
    int64_t n = sf_tensor_numel(&t);
    for (int64_t i = 0; i < n; i++)
        oh_put(&t, i, start + (double)i);
    return t;
}

/* A tensor from explicit values (row-major). */
static inline sf_tensor_t oh_tensor_of(sf_dtype_t dt, int ndim, const int64_t *shape,
                                       const double *values)
{
    sf_tensor_t t = oh_tensor_new(dt, ndim, shape);
    int64_t n = sf_tensor_numel(&t);
    for (int64_t i = 0; i < n; i++)
        oh_put(&t, i, values[i]);
    return t;
}

/* A strided view: t with dims d0 and d1 swapped (no copy). */
static inline sf_tensor_t oh_transpose(const sf_tensor_t *t, int d0, int d1)
{
    sf_tensor_t v = *t;
    v.shape[d0] = t->shape[d1];
    v.shape[d1] = t->shape[d0];
    v.strides[d0] = t->strides[d1];
    v.strides[d1] = t->strides[d0];
    return v;
}

#include "coll.h"

/* Infer, allocate the outputs (or bind views to input 0's buffer), give
 * the kernel the scratch its op declares, and run the CPU kernel. Scratch
 * is filled with 0xff (NaN as floats) so a kernel that reads scratch it
 * never wrote shows up in the results. Outputs are released with
 * oh_outputs_free. */
static inline sf_status_t oh_run(oh_node_t *h, const sf_tensor_t *in, int n_in, sf_tensor_t *out,
                                 int n_out, sf_err_t *err)
{
    sf_status_t st = oh_infer(h, in, n_in, out, n_out, err);
    if (st != SF_OK)
        return st;
    const sf_op_desc_t *d = h->node.op;
    if (d->outputs_are_views) {
        for (int i = 0; i < n_out; i++)
            out[i].buf = in[0].buf;
        return SF_OK;
    }
    for (int i = 0; i < n_out; i++) {
        ck_assert_msg(sf_tensor_is_contiguous(&out[i]) && out[i].offset == 0,
                      "output %d of a non-view op is not a fresh contiguous layout", i);
        sf_tensor_t fresh = oh_tensor_new(out[i].dtype, out[i].ndim, out[i].shape);
        /* Poison, so an element the kernel forgets is visible. */
        if (fresh.buf->data != NULL)
            memset(fresh.buf->data, 0xa5, fresh.buf->nbytes);
        out[i] = fresh;
    }
    void *prepared = NULL;
    if (d->prepare != NULL && (st = d->prepare(&h->node, in, n_in, out, n_out, &prepared, err)) != SF_OK)
        return st;
    uint64_t scratch_bytes =
        d->scratch_bytes ? d->scratch_bytes(&h->node, prepared, in, n_in, out, n_out) : 0;
    void *scratch = NULL;
    if (scratch_bytes > 0) {
        scratch = malloc(scratch_bytes);
        ck_assert_ptr_nonnull(scratch);
        memset(scratch, 0xff, scratch_bytes);
    }
    sf_kernel_args_t args = {
        .op = d,
        .node = &h->node,
        .in = in,
        .n_in = n_in,
        .out = out,
        .n_out = n_out,
        .prepared = prepared,
        .scratch = scratch,
        .scratch_bytes = scratch_bytes,
        .dev = sf_device_cpu(),
        .env = &(const sf_exec_env_t){.comm = sf_comm_solo()}, /* one rank, as the executor */
    };
    ck_assert_msg(d->cpu_kernel != NULL, "op '%s' has no CPU kernel", d->name);
    st = d->cpu_kernel(&args, err);
    free(scratch);
    free(prepared);
    return st;
}

/* Release what oh_run allocated (views borrow input 0's buffer). */
static inline void oh_outputs_free(const oh_node_t *h, sf_tensor_t *out, int n_out)
{
    if (h->node.op->outputs_are_views)
        return;
    for (int i = 0; i < n_out; i++)
        oh_tensor_free(&out[i]);
}

/* An error test checks four things: code, line, column and a fragment. */
#define oh_assert_err(err, st, want_code, want_line, want_col, fragment)                        \
    do {                                                                                       \
        ck_assert_int_eq((st), (want_code));                                                   \
        ck_assert_int_eq((err)->code, (want_code));                                            \
        ck_assert_str_eq((err)->file, OH_FILE);                                                \
        ck_assert_int_eq((err)->line, (want_line));                                            \
        ck_assert_int_eq((err)->col, (want_col));                                              \
        ck_assert_msg(strstr((err)->msg, (fragment)) != NULL, "message '%s' lacks '%s'",       \
                      (err)->msg, (fragment));                                                 \
    } while (0)

/* Standard main: one suite, fork mode, exit 0 only when everything passed. */
#define OH_MAIN(suite_fn)                                                                      \
    int main(void)                                                                             \
    {                                                                                          \
        return tu_run_suite(suite_fn());                                                       \
    }

#endif
