/* fill and arange: sources with no inputs. fill sets every element to
 * `value`; arange sets element i (row-major) to start + i * step. Both
 * store through sf_convert_store, so an integer dtype truncates and saturates. */
#include "graph.h"
#include "op.h"
#include "convert.h"
#include "op_shape.h"
#include "walk.h"

static const sf_op_attr_desc_t fill_attrs[] = {
    {"shape", SF_ATTR_INTS, NULL, "output shape"},
    {"dtype", SF_ATTR_DTYPE, "f32", "output dtype"},
    {"value", SF_ATTR_FLOAT, "0.0", "every element's value"},
};

static const sf_op_attr_desc_t arange_attrs[] = {
    {"n", SF_ATTR_INT, "-1", "element count of a 1-D output (give n or shape)"},
    {"shape", SF_ATTR_INTS, "[]", "output shape, filled in row-major order (give n or shape)"},
    {"start", SF_ATTR_FLOAT, "0.0", "value of element 0"},
    {"step", SF_ATTR_FLOAT, "1.0", "difference between consecutive elements"},
    {"dtype", SF_ATTR_DTYPE, "i64", "output dtype"},
};

static sf_status_t fill_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                              sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)in;
    (void)n_in;
    (void)n_out;
    int ndim;
    int64_t shape[SF_MAX_DIMS];
    sf_status_t st = sf_op_shape_attr(node, "shape", &ndim, shape, err);
    if (st != SF_OK)
        return st;
    out[0] = sf_tensor_make(sf_node_attr_dtype(node, "dtype"), ndim, shape);
    return SF_OK;
}

static sf_status_t fill_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    (void)err;
    sf_walk_fill(&a->out[0], sf_node_attr_float(a->node, "value"));
    return SF_OK;
}

static sf_status_t arange_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)in;
    (void)n_in;
    (void)n_out;
    int64_t n = sf_node_attr_int(node, "n");
    int n_shape;
    sf_node_attr_ints(node, "shape", &n_shape);
    int ndim = 1;
    int64_t shape[SF_MAX_DIMS] = {n};
    if (n_shape > 0 && n != -1)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "n"),
                          "node '%s': both n and shape are given, expected one of them",
                          node->name);
    if (n_shape > 0) {
        sf_status_t st = sf_op_shape_attr(node, "shape", &ndim, shape, err);
        if (st != SF_OK)
            return st;
    } else if (n < 0) {
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "n"),
                          "node '%s': n is %lld, expected a count >= 0 (or a shape)",
                          node->name, (long long)n);
    }
    out[0] = sf_tensor_make(sf_node_attr_dtype(node, "dtype"), ndim, shape);
    return SF_OK;
}

static sf_status_t arange_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    (void)err;
    const sf_tensor_t *out = &a->out[0];
    double start = sf_node_attr_float(a->node, "start");
    double step = sf_node_attr_float(a->node, "step");
    int64_t count = sf_tensor_numel(out);
    char *d = sf_tensor_data(out);
    size_t esize = sf_dtype_size(out->dtype);
    /* start + i * step rather than a running sum: no drift over long ranges. */
    for (int64_t i = 0; i < count; i++)
        sf_convert_store(out->dtype, d + (size_t)i * esize, start + (double)i * step);
    return SF_OK;
}

const sf_op_desc_t sf_op_fill = {
    .name = "fill",
    .doc = "a new tensor of `shape` and `dtype`, every element `value`",
    .min_inputs = 0,
    .max_inputs = 0,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = fill_attrs,
    .n_attrs = sizeof fill_attrs / sizeof fill_attrs[0],
    .infer = fill_infer,
    .cpu_kernel = fill_cpu,
};

const sf_op_desc_t sf_op_arange = {
    .name = "arange",
    .doc = "element i (row-major) = start + i * step, over `n` or `shape`",
    .min_inputs = 0,
    .max_inputs = 0,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = arange_attrs,
    .n_attrs = sizeof arange_attrs / sizeof arange_attrs[0],
    .infer = arange_infer,
    .cpu_kernel = arange_cpu,
};
