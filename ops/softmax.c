/* softmax over one dim: computed in f32 with the max subtracted first
 * (so large logits cannot overflow exp), stored once in the input dtype.
 * A line that is all -inf gives NaN, as torch does. */
#include <math.h>
#include <stdint.h>

#include "graph.h"
#include "op.h"
#include "op_shape.h"
#include "walk.h"

static const sf_op_attr_desc_t softmax_attrs[] = {
    {"dim", SF_ATTR_INT, "-1", "dim to normalise over; negative counts from the end"},
};

static sf_status_t softmax_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                 sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    (void)n_out;
    int dim;
    sf_status_t st;
    if ((st = sf_op_shape_need_float(node, in, 0, err)) != SF_OK ||
        (st = sf_op_shape_dim_attr(node, "dim", in[0].ndim, &dim, err)) != SF_OK)
        return st;
    out[0] = sf_tensor_make(in[0].dtype, in[0].ndim, in[0].shape);
    return SF_OK;
}

/* One line along dim in f32, as tracked scratch (the accounting sees every
 * byte a kernel uses). */
static uint64_t softmax_scratch(const sf_node_t *node, const void *prepared,
                                const sf_tensor_t *in, int n_in, const sf_tensor_t *out,
                                int n_out)
{
    (void)prepared;
    (void)n_in;
    (void)out;
    (void)n_out;
    int64_t dim = sf_node_attr_int(node, "dim");
    if (dim < 0)
        dim += in[0].ndim;
    return (uint64_t)in[0].shape[dim] * sizeof(float);
}

static sf_status_t softmax_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    (void)err;
    const sf_tensor_t *in = &a->in[0];
    const sf_tensor_t *out = &a->out[0];
    int dim = (int)sf_node_attr_int(a->node, "dim");
    if (dim < 0)
        dim += in->ndim;
    int64_t n = in->shape[dim];
    if (sf_tensor_numel(in) == 0)
        return SF_OK;
    SF_ASSERT(a->scratch_bytes >= (uint64_t)n * sizeof(float));
    float *line = a->scratch;
    sf_walk_t w;
    sf_walk_init(&w, in->ndim, in->shape, dim);
    int ii = sf_walk_add_tensor(&w, in);
    int oi = sf_walk_add_tensor(&w, out);
    const char *id = sf_tensor_data(in);
    char *od = sf_tensor_data(out);
    while (sf_walk_next(&w)) {
        const char *x = id + w.off[ii];
        float mx = -INFINITY;
        for (int64_t j = 0; j < n; j++, x += w.stride[ii]) {
            line[j] = (float)sf_dtype_load(in->dtype, x);
            mx = line[j] > mx ? line[j] : mx;
        }
        float sum = 0.0f;
        for (int64_t j = 0; j < n; j++) {
            line[j] = expf(line[j] - mx);
            sum += line[j];
        }
        char *y = od + w.off[oi];
        for (int64_t j = 0; j < n; j++, y += w.stride[oi])
            sf_dtype_store(out->dtype, y, line[j] / sum);
    }
    return SF_OK;
}

const sf_op_desc_t sf_op_softmax = {
    .name = "softmax",
    .doc = "softmax over `dim` (f32 math, stored in the input dtype)",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = softmax_attrs,
    .n_attrs = sizeof softmax_attrs / sizeof softmax_attrs[0],
    .infer = softmax_infer,
    .scratch_bytes = softmax_scratch,
    .cpu_kernel = softmax_cpu,
};
