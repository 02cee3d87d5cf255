/* random: a tensor of pseudo-random values that depends only on (seed,
 * element index). Element i's bits are output i of SplitMix64 seeded with
 * `seed` (normal draws use outputs 2i and 2i+1), so every machine, thread
 * count and rank computes the same tensor, and any slice of it can be made
 * without the rest. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "graph.h"
#include "op.h"
#include "op_shape.h"
#include "rng.h"

static const sf_op_attr_desc_t random_attrs[] = {
    {"shape", SF_ATTR_INTS, NULL, "output shape"},
    {"dtype", SF_ATTR_DTYPE, "f32", "output dtype"},
    {"seed", SF_ATTR_INT, "0", "the stream: same seed, same tensor"},
    {"dist", SF_ATTR_STRING, "uniform", "uniform or normal"},
    {"low", SF_ATTR_FLOAT, "0.0", "uniform: lower bound (inclusive; integers: whole number)"},
    {"high", SF_ATTR_FLOAT, "1.0", "uniform floats: upper bound (exclusive before rounding)"},
    {"mean", SF_ATTR_FLOAT, "0.0", "normal: mean"},
    {"std", SF_ATTR_FLOAT, "1.0", "normal: standard deviation, >= 0"},
    {"high_int", SF_ATTR_INT, "0", "uniform integers: upper bound (exclusive), > low"},
};

/* The top 53 bits as a double in [0, 1). */
static double random_unit(uint64_t bits)
{
    return (double)(bits >> 11) * 0x1p-53;
}

static bool random_is_normal(const sf_node_t *node)
{
    return strcmp(sf_node_attr_str(node, "dist"), "normal") == 0;
}

static sf_status_t random_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
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
    sf_dtype_t dt = sf_node_attr_dtype(node, "dtype");
    const char *dist = sf_node_attr_str(node, "dist");
    bool is_normal = random_is_normal(node);
    if (!is_normal && strcmp(dist, "uniform") != 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "dist"),
                          "node '%s': dist '%s', expected uniform or normal", node->name, dist);
    double low = sf_node_attr_float(node, "low"), high = sf_node_attr_float(node, "high");
    double std = sf_node_attr_float(node, "std");
    if (sf_dtype_is_float(dt)) {
        if (!is_normal && !(high >= low))
            return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "high"),
                              "node '%s': high %g is below low %g", node->name, high, low);
        if (is_normal && !(std >= 0))
            return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "std"),
                              "node '%s': std %g, expected >= 0", node->name, std);
    } else {
        if (is_normal)
            return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "dist"),
                              "node '%s': dist normal needs a float dtype, got %s", node->name,
                              sf_dtype_name(dt));
        int64_t high_int = sf_node_attr_int(node, "high_int");
        int64_t lo_min = dt == SF_DTYPE_I32 ? INT32_MIN : dt == SF_DTYPE_U8 ? 0 : INT64_MIN;
        int64_t hi_max = dt == SF_DTYPE_I32 ? (int64_t)INT32_MAX + 1
                         : dt == SF_DTYPE_U8 ? 256
                                             : INT64_MAX;
        if (low != floor(low) || !(low >= (double)lo_min) || !(low < (double)high_int) ||
            high_int > hi_max)
            return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "high_int"),
                              "node '%s': integers in [low, high_int) = [%g, %lld) for dtype %s, "
                              "expected a whole low < high_int, both within the dtype",
                              node->name, low, (long long)high_int, sf_dtype_name(dt));
    }
    out[0] = sf_tensor_make(dt, ndim, shape);
    return SF_OK;
}

static sf_status_t random_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    (void)err;
    const sf_node_t *node = a->node;
    const sf_tensor_t *out = &a->out[0];
    sf_dtype_t dt = out->dtype;
    size_t esize = sf_dtype_size(dt);
    uint64_t seed = (uint64_t)sf_node_attr_int(node, "seed");
    int64_t count = sf_tensor_numel(out);
    char *d = sf_tensor_data(out);
    if (!sf_dtype_is_float(dt)) {
        int64_t lo = (int64_t)sf_node_attr_float(node, "low");
        uint64_t range = (uint64_t)sf_node_attr_int(node, "high_int") - (uint64_t)lo;
        for (int64_t i = 0; i < count; i++) {
            /* The high half of bits * range: uniform up to a bias of
             * range / 2^64, with no rejection loop to make counts differ. */
            uint64_t bits = sf_rng_splitmix64(seed, (uint64_t)i);
            uint64_t r = (uint64_t)(((unsigned __int128)bits * range) >> 64);
            int64_t v = (int64_t)((uint64_t)lo + r);
            if (dt == SF_DTYPE_I32) {
                int32_t v32 = (int32_t)v;
                memcpy(d + (size_t)i * esize, &v32, 4);
            } else if (dt == SF_DTYPE_I64) {
                memcpy(d + (size_t)i * esize, &v, 8);
            } else {
                d[i] = (char)(uint8_t)v;
            }
        }
        return SF_OK;
    }
    if (random_is_normal(node)) {
        double mean = sf_node_attr_float(node, "mean"), std = sf_node_attr_float(node, "std");
        for (int64_t i = 0; i < count; i++) {
            /* Box-Muller, cosine branch only, so element i needs no partner.
             * u1 is in (0, 1] so the log is finite. */
            double u1 = random_unit(sf_rng_splitmix64(seed, 2 * (uint64_t)i)) + 0x1p-53;
            double u2 = random_unit(sf_rng_splitmix64(seed, 2 * (uint64_t)i + 1));
            double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
            sf_dtype_store(dt, d + (size_t)i * esize, mean + std * z);
        }
        return SF_OK;
    }
    double low = sf_node_attr_float(node, "low"), high = sf_node_attr_float(node, "high");
    for (int64_t i = 0; i < count; i++) {
        double u = random_unit(sf_rng_splitmix64(seed, (uint64_t)i));
        sf_dtype_store(dt, d + (size_t)i * esize, low + (high - low) * u);
    }
    return SF_OK;
}

const sf_op_desc_t sf_op_random = {
    .name = "random",
    .doc = "counter-based random tensor (SplitMix64 of seed and index): uniform or normal",
    .min_inputs = 0,
    .max_inputs = 0,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = random_attrs,
    .n_attrs = sizeof random_attrs / sizeof random_attrs[0],
    .infer = random_infer,
    .cpu_kernel = random_cpu,
};
