/* teacher_probs: the last step of a teacher_vp with defer_probs, split off
 * so that the lm_head's input (every rank's final hidden states) is freed
 * before target_p_on_draft is allocated. Input 0 holds each row's draft
 * logits in target_p's layout, input 1 each row's logsumexp (see
 * sf_teacher_shape_t.deferred); the outputs are target_p, computed in place
 * of input 0, and target_p_on_draft. The arithmetic is sf_teacher_probs,
 * the one the undeferred op runs, so both give the same bytes. */
#include <math.h>
#include <string.h>

#include "op_shape.h"
#include "teacher.h"

static sf_status_t tprobs_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    (void)n_out;
    const sf_tensor_t *p = &in[0], *lse = &in[1];
    if (p->dtype != SF_DTYPE_F32 || p->ndim < 1 || !sf_tensor_is_contiguous(p))
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': draft logits are %s %s, expected contiguous f32 rows",
                          node->name, sf_op_shape_str(p).s, sf_dtype_name(p->dtype));
    int64_t draft = p->shape[p->ndim - 1];
    int64_t rows = draft > 0 ? sf_tensor_numel(p) / draft : 0;
    if (lse->dtype != SF_DTYPE_I64 || lse->ndim != 1 || lse->shape[0] != rows)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': logsumexp has shape %s %s, expected (%lld) i64 (one "
                          "per draft row)",
                          node->name, sf_op_shape_str(lse).s, sf_dtype_name(lse->dtype),
                          (long long)rows);
    out[0] = out[1] = sf_tensor_make(SF_DTYPE_F32, p->ndim, p->shape);
    return SF_OK;
}

static sf_status_t tprobs_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    (void)err;
    const sf_tensor_t *in = &a->in[0];
    float *p = sf_tensor_data(&a->out[0]), *pd = sf_tensor_data(&a->out[1]);
    int64_t draft = in->shape[in->ndim - 1];
    int64_t rows = draft > 0 ? sf_tensor_numel(in) / draft : 0;
    /* In place (tprobs_slot) the logits already sit in target_p. */
    if (sf_tensor_data(in) != (void *)p)
        memcpy(p, sf_tensor_data(in), (size_t)(rows * draft) * sizeof(float));
    for (int64_t r = 0; r < rows; r++) {
        double lse = sf_teacher_lse_get(&a->in[1], r);
        if (isnan(lse))
            memset(pd + r * draft, 0, (size_t)draft * sizeof(float));
        else
            sf_teacher_probs(p + r * draft, pd + r * draft, draft, lse);
    }
    return SF_OK;
}

/* The logits are read once per row, before that row of target_p is
 * written: they may be computed straight into target_p. */
static bool tprobs_slot(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                        const sf_tensor_t *out, int k, int64_t *offset_bytes, int64_t *strides)
{
    (void)node;
    (void)in;
    (void)n_in;
    if (k != 0)
        return false;
    return sf_op_shape_slot_whole(out, offset_bytes, strides);
}

const sf_op_desc_t sf_op_teacher_probs = {
    .name = "teacher_probs",
    .doc = "target_p (in place of the draft logits) and target_p_on_draft from a deferred "
           "teacher_vp's logits and logsumexp",
    .min_inputs = 2,
    .max_inputs = 2,
    .min_outputs = 2,
    .max_outputs = 2,
    .infer = tprobs_infer,
    .input_slot = tprobs_slot,
    .cpu_kernel = tprobs_cpu,
};
