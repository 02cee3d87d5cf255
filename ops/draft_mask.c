/* draft_mask: t2d, the bool over the V target ids that marks the draft
 * vocabulary (Vd ids), as an Eagle3 draft checkpoint defines it. From an
 * input t2d (u8 of length V, checked: 0/1, exactly Vd ones), from d2t (i64
 * of length Vd, as checkpoints store it: draft id i is target id d2t[i] + i,
 * SpecForge's rule nonzero(t2d) == d2t + arange(Vd), so those ids must rise
 * strictly and stay under V), or, with no input, a seeded synthetic mask
 * (`layout` random: Vd ids drawn by Floyd's algorithm from SplitMix64 of
 * (seed, step); first: ids 0..Vd-1; last: the top Vd ids). */
#include <inttypes.h>
#include <string.h>

#include "convert.h"
#include "graph.h"
#include "op.h"
#include "op_shape.h"
#include "rng.h"

static const sf_op_attr_desc_t dm_attrs[] = {
    {"vocab", SF_ATTR_INT, NULL, "V: target ids"},
    {"draft_vocab", SF_ATTR_INT, NULL, "Vd: how many of them the draft model predicts"},
    {"seed", SF_ATTR_INT, "0", "synthetic mask: the stream"},
    {"layout", SF_ATTR_STRING, "random", "synthetic mask: random | first | last"},
};

static sf_status_t dm_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                            sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_out;
    int64_t V = sf_node_attr_int(node, "vocab"), Vd = sf_node_attr_int(node, "draft_vocab");
    if (V <= 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "vocab"),
                          "node '%s': vocab %lld, expected > 0", node->name, (long long)V);
    if (Vd <= 0 || Vd > V)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "draft_vocab"),
                          "node '%s': draft_vocab %lld, expected 1..%lld (the vocab)",
                          node->name, (long long)Vd, (long long)V);
    const char *layout = sf_node_attr_str(node, "layout");
    if (strcmp(layout, "random") != 0 && strcmp(layout, "first") != 0 &&
        strcmp(layout, "last") != 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "layout"),
                          "node '%s': layout '%s', expected random, first or last", node->name,
                          layout);
    if (n_in == 1) {
        const sf_tensor_t *t = &in[0];
        bool is_t2d = t->ndim == 1 && t->shape[0] == V && t->dtype == SF_DTYPE_U8;
        bool is_d2t = t->ndim == 1 && t->shape[0] == Vd &&
                      (t->dtype == SF_DTYPE_I64 || t->dtype == SF_DTYPE_I32);
        if (!is_t2d && !is_d2t)
            return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                              "node '%s': input has shape %s %s, expected t2d (%lld) u8/bool "
                              "or d2t (%lld) i64",
                              node->name, sf_op_shape_str(t).s, sf_dtype_name(t->dtype),
                              (long long)V, (long long)Vd);
    }
    int64_t shape[1] = {V};
    out[0] = sf_tensor_make(SF_DTYPE_U8, 1, shape);
    return SF_OK;
}

static sf_status_t dm_from_input(const sf_kernel_args_t *a, int64_t V, int64_t Vd, uint8_t *o,
                                 sf_err_t *err)
{
    const sf_tensor_t *t = &a->in[0];
    const char *d = sf_tensor_data(t);
    size_t es = sf_dtype_size(t->dtype);
    if (t->dtype == SF_DTYPE_U8) {
        int64_t ones = 0;
        for (int64_t v = 0; v < V; v++) {
            uint8_t b = (uint8_t)d[v * t->strides[0]];
            if (b > 1)
                return sf_err_set(err, SF_ERR_INPUT, &a->node->pos,
                                  "node '%s': t2d[%lld] = %u, expected 0 or 1 (a bool)",
                                  a->node->name, (long long)v, b);
            o[v] = b;
            ones += b;
        }
        if (ones != Vd)
            return sf_err_set(err, SF_ERR_INPUT, &a->node->pos,
                              "node '%s': t2d marks %lld target ids, expected draft_vocab %lld",
                              a->node->name, (long long)ones, (long long)Vd);
        return SF_OK;
    }
    memset(o, 0, (size_t)V);
    int64_t prev = -1;
    for (int64_t i = 0; i < Vd; i++) {
        int64_t off = sf_convert_load_int(t->dtype, d + i * t->strides[0] * (int64_t)es);
        int64_t id = off + i;
        if (id <= prev || id >= V)
            return sf_err_set(err, SF_ERR_INPUT, &a->node->pos,
                              "node '%s': d2t[%lld] = %" PRId64 " gives target id %" PRId64
                              ", expected %s (nonzero(t2d) == d2t + arange(Vd))",
                              a->node->name, (long long)i, off, id,
                              id >= V ? "under the vocab" : "above the previous one");
        o[id] = 1;
        prev = id;
    }
    return SF_OK;
}

static sf_status_t dm_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    int64_t V = sf_node_attr_int(a->node, "vocab"), Vd = sf_node_attr_int(a->node, "draft_vocab");
    uint8_t *o = sf_tensor_data(&a->out[0]);
    if (a->n_in == 1)
        return dm_from_input(a, V, Vd, o, err);
    const char *layout = sf_node_attr_str(a->node, "layout");
    memset(o, 0, (size_t)V);
    if (layout[0] != 'r') {
        memset(o + (layout[0] == 'f' ? 0 : V - Vd), 1, (size_t)Vd);
        return SF_OK;
    }
    /* Floyd: one draw per chosen id, the output is the set. */
    uint64_t seed = (uint64_t)sf_node_attr_int(a->node, "seed");
    for (int64_t j = V - Vd; j < V; j++) {
        int64_t t = (int64_t)(sf_rng_splitmix64(seed, (uint64_t)j) % (uint64_t)(j + 1));
        o[o[t] ? j : t] = 1;
    }
    return SF_OK;
}

const sf_op_desc_t sf_op_draft_mask = {
    .name = "draft_mask",
    .doc = "t2d (u8, V) from an input t2d or d2t, or a seeded synthetic draft vocabulary",
    .min_inputs = 0,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = dm_attrs,
    .n_attrs = sizeof dm_attrs / sizeof dm_attrs[0],
    .infer = dm_infer,
    .cpu_kernel = dm_cpu,
};
