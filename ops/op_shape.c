/* Shape-rule helpers; see op_shape.h. Nothing here asserts on what the
 * user wrote: every bad value becomes an SF_ERR_GRAPH message. */
#include "op_shape.h"

#include <stdio.h>

sf_shape_str_t sf_op_shape_str(const sf_tensor_t *t)
{
    sf_shape_str_t r;
    sf_shape_format(t->ndim, t->shape, r.s, sizeof r.s);
    return r;
}

sf_shape_str_t sf_op_shape_ints_str(int n, const int64_t *v)
{
    sf_shape_str_t r;
    sf_shape_format(n, v, r.s, sizeof r.s);
    return r;
}

const sf_pos_t *sf_op_shape_attr_pos(const sf_node_t *node, const char *attr)
{
    return &sf_node_attr(node, attr)->pos;
}

sf_status_t sf_op_shape_dim_attr(const sf_node_t *node, const char *attr, int ndim, int *out,
                           sf_err_t *err)
{
    int64_t d = sf_node_attr_int(node, attr);
    if (ndim == 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, attr),
                          "node '%s': %s %lld needs an input with at least 1 dim, got a scalar",
                          node->name, attr, (long long)d);
    if (d < -ndim || d >= ndim)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, attr),
                          "node '%s': %s %lld is out of range for rank %d (expected %d..%d)",
                          node->name, attr, (long long)d, ndim, -ndim, ndim - 1);
    *out = (int)(d < 0 ? d + ndim : d);
    return SF_OK;
}

sf_status_t sf_op_shape_need_float(const sf_node_t *node, const sf_tensor_t *in, int which,
                             sf_err_t *err)
{
    if (sf_dtype_is_float(in[which].dtype))
        return SF_OK;
    return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                      "node '%s': input %d has dtype %s, expected f32, bf16 or f16", node->name,
                      which, sf_dtype_name(in[which].dtype));
}

sf_status_t sf_op_shape_need_ndim(const sf_node_t *node, const sf_tensor_t *in, int which,
                            int min_ndim, sf_err_t *err)
{
    if (in[which].ndim >= min_ndim)
        return SF_OK;
    return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                      "node '%s': input %d has shape %s (rank %d), expected rank >= %d",
                      node->name, which, sf_op_shape_str(&in[which]).s, in[which].ndim,
                      min_ndim);
}

sf_status_t sf_op_shape_attr(const sf_node_t *node, const char *attr, int *ndim, int64_t *shape,
                             sf_err_t *err)
{
    int n;
    const int64_t *v = sf_node_attr_ints(node, attr, &n);
    if (n > SF_MAX_DIMS)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, attr),
                          "node '%s': %s has %d dims, at most %d are supported", node->name,
                          attr, n, SF_MAX_DIMS);
    for (int i = 0; i < n; i++) {
        if (v[i] < 0)
            return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, attr),
                              "node '%s': %s %s has negative size %lld at dim %d", node->name,
                              attr, sf_op_shape_ints_str(n, v).s, (long long)v[i], i);
        shape[i] = v[i];
    }
    *ndim = n;
    return SF_OK;
}

bool sf_op_shape_slot_whole(const sf_tensor_t *out, int64_t *offset_bytes, int64_t *strides)
{
    *offset_bytes = 0;
    for (int d = 0; d < out->ndim; d++)
        strides[d] = out->strides[d];
    return true;
}
