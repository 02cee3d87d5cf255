/* What the loader suites share, header-only as op_harness.h is: small test
 * ops that stand in for ops/ (so the suites do not depend on it), registered
 * once per process, and an error's code, file, line, column and message
 * fragment. */
#ifndef SF_LOADER_HARNESS_H
#define SF_LOADER_HARNESS_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "graph.h"

/* --- test ops --------------------------------------------------------------------- */

static inline sf_tensor_t ld_layout(sf_dtype_t dt, int ndim, const int64_t *shape)
{
    sf_tensor_t t;
    memset(&t, 0, sizeof t);
    t.dtype = dt;
    t.ndim = ndim;
    int64_t stride = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        t.shape[d] = shape[d];
        t.strides[d] = stride;
        stride *= shape[d] > 0 ? shape[d] : 1;
    }
    return t;
}

static inline sf_status_t ld_source_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                          sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)in, (void)n_in, (void)n_out, (void)err;
    int n;
    const int64_t *shape = sf_node_attr_ints(node, "shape", &n);
    out[0] = ld_layout(sf_node_attr_dtype(node, "dtype"), n, shape);
    return SF_OK;
}

/* Copies its input; k must be >= 0 (an infer that can fail). */
static inline sf_status_t ld_unary_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                         sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in, (void)n_out;
    int64_t k = sf_node_attr_int(node, "k");
    if (k < 0)
        return sf_err_set(err, SF_ERR_GRAPH, &sf_node_attr(node, "k")->pos,
                          "node '%s': attr 'k' is %lld, expected >= 0", node->name, (long long)k);
    out[0] = ld_layout(in[0].dtype, in[0].ndim, in[0].shape);
    return SF_OK;
}

static inline sf_status_t ld_concat_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                          sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_out;
    int dim = (int)sf_node_attr_int(node, "dim");
    int64_t shape[SF_MAX_DIMS];
    memcpy(shape, in[0].shape, sizeof shape);
    for (int i = 1; i < n_in; i++) {
        bool is_ok = in[i].ndim == in[0].ndim;
        for (int d = 0; d < in[0].ndim && is_ok; d++)
            is_ok = d == dim || in[i].shape[d] == in[0].shape[d];
        if (!is_ok)
            return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                              "node '%s': input %d has shape [%lld,%lld], expected [*,%lld]",
                              node->name, i, (long long)in[i].shape[0],
                              (long long)in[i].shape[1], (long long)in[0].shape[1]);
        shape[dim] += in[i].shape[dim];
    }
    out[0] = ld_layout(in[0].dtype, in[0].ndim, shape);
    return SF_OK;
}

static inline sf_status_t ld_view_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                        sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)node, (void)n_in, (void)n_out, (void)err;
    out[0] = in[0];
    return SF_OK;
}

static const sf_op_attr_desc_t ld_source_attrs[] = {
    {"shape", SF_ATTR_INTS, NULL, "output shape"},
    {"dtype", SF_ATTR_DTYPE, "f32", "output dtype"},
    {"value", SF_ATTR_FLOAT, "0.0", "fill value"},
};
static const sf_op_attr_desc_t ld_unary_attrs[] = {
    {"k", SF_ATTR_INT, "1", "an int"},
    {"flag", SF_ATTR_BOOL, "false", "a bool"},
    {"label", SF_ATTR_STRING, "none", "a string"},
    {"dims", SF_ATTR_INTS, "[]", "an int list"},
};
static const sf_op_attr_desc_t ld_concat_attrs[] = {
    {"dim", SF_ATTR_INT, "0", "concat dim"},
};
static const sf_op_desc_t ld_test_ops[] = {
    {.name = "t_source", .min_inputs = 0, .max_inputs = 0, .min_outputs = 1, .max_outputs = 1,
     .attrs = ld_source_attrs, .n_attrs = 3, .infer = ld_source_infer},
    {.name = "t_unary", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
     .attrs = ld_unary_attrs, .n_attrs = 4, .infer = ld_unary_infer},
    {.name = "t_concat", .min_inputs = 1, .max_inputs = -1, .min_outputs = 1, .max_outputs = 1,
     .attrs = ld_concat_attrs, .n_attrs = 1, .infer = ld_concat_infer},
    {.name = "t_view", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
     .infer = ld_view_infer, .outputs_are_views = true},
};

/* Register ld_test_ops: once per process, in main, before Check forks the tests. */
static inline void ld_register_test_ops(void)
{
    for (size_t i = 0; i < sizeof ld_test_ops / sizeof ld_test_ops[0]; i++)
        sf_op_register(&ld_test_ops[i], SF_OP_ID_NONE);
}

/* st must be code, with err at file (a fragment; not checked when NULL),
 * line:col, and frag in its message. */
static inline void ld_expect_err(sf_status_t st, const sf_err_t *err, sf_status_t code,
                                 const char *file, int line, int col, const char *frag)
{
    char msg[1024];
    sf_err_format(err, msg, sizeof msg);
    ck_assert_msg(st == code, "status %s, expected %s: %s", sf_status_name(st),
                  sf_status_name(code), msg);
    ck_assert_int_eq(err->code, code);
    if (file != NULL)
        ck_assert_msg(strstr(err->file, file) != NULL, "file '%s' lacks '%s'", err->file, file);
    ck_assert_msg(err->line == line && err->col == col, "at %d:%d, expected %d:%d: %s",
                  err->line, err->col, line, col, msg);
    ck_assert_msg(strstr(err->msg, frag) != NULL, "message lacks '%s': %s", frag, msg);
}

#endif
