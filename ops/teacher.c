/* teacher: SpecForge's Eagle3 teacher (_compute_target_p) from full-vocab
 * rows, written plainly: for each row of `target` (B, S, V), already
 * shifted by padding(left=False) so its last position holds zeros,
 *   target_token_ids  = argmax over V (the first maximum, as torch)
 *   position_mask     = t2d[ids] * loss_mask
 *   target_p          = softmax(row[t2d])
 *   target_p_on_draft = exp(row[t2d] - logsumexp(row))
 * then padded by `length` rows (1/Vd, 0, id 0). This is the unfused path
 * (after an all_gather or all_to_all of the logits) and the reference the
 * fused teacher_vp is held to. Also home of the pieces both share
 * (ops/teacher.h). */
#include "teacher.h"

#include <math.h>
#include <string.h>

#include "convert.h"
#include "op_shape.h"

sf_status_t sf_teacher_shape_make(const sf_node_t *node, int64_t seqs, int64_t vocab,
                                  sf_teacher_shape_t *ts, sf_err_t *err)
{
    memset(ts, 0, sizeof *ts);
    ts->seqs = seqs;
    ts->vocab = vocab;
    ts->seq = sf_node_attr_int(node, "seq");
    ts->length = sf_node_attr_int(node, "length");
    ts->draft = sf_node_attr_int(node, "draft_vocab");
    ts->cap = sf_node_attr_int(node, "loss_rows");
    const char *positions = sf_node_attr_str(node, "positions");
    if (strcmp(positions, "all") != 0 && strcmp(positions, "loss") != 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "positions"),
                          "node '%s': positions '%s', expected all or loss", node->name,
                          positions);
    ts->loss = positions[0] == 'l';
    if (ts->seq <= 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "seq"),
                          "node '%s': seq %lld, expected > 0", node->name, (long long)ts->seq);
    if (ts->length < 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "length"),
                          "node '%s': length %lld, expected >= 0", node->name,
                          (long long)ts->length);
    if (ts->draft <= 0 || ts->draft > vocab)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "draft_vocab"),
                          "node '%s': draft_vocab %lld, expected 1..%lld (the vocab)",
                          node->name, (long long)ts->draft, (long long)vocab);
    if (ts->cap < 0 || ts->cap > seqs * ts->seq)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "loss_rows"),
                          "node '%s': loss_rows %lld, expected 0..%lld (the rank's rows)",
                          node->name, (long long)ts->cap, (long long)(seqs * ts->seq));
    return SF_OK;
}

sf_status_t sf_teacher_infer(const sf_node_t *node, const sf_teacher_shape_t *ts,
                             sf_tensor_t *out, int n_out, sf_err_t *err)
{
    int want = ts->loss ? 5 : 4;
    if (n_out != want)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': %d outputs, expected %d with positions %s (target_p, "
                          "target_p_on_draft, target_token_ids, position_mask%s)",
                          node->name, n_out, want, ts->loss ? "loss" : "all",
                          ts->loss ? ", row_index" : "");
    if (ts->loss) {
        int64_t p[2] = {ts->cap, ts->draft}, r[2] = {ts->cap, 1};
        out[0] = out[1] = sf_tensor_make(SF_DTYPE_F32, 2, p);
        out[2] = out[4] = sf_tensor_make(SF_DTYPE_I64, 1, p);
        out[3] = sf_tensor_make(SF_DTYPE_I64, 2, r);
    } else {
        int64_t p[3] = {ts->seqs, ts->seq + ts->length, ts->draft};
        int64_t m[3] = {ts->seqs, ts->seq, 1};
        out[0] = out[1] = sf_tensor_make(SF_DTYPE_F32, 3, p);
        out[2] = sf_tensor_make(SF_DTYPE_I64, 2, p);
        out[3] = sf_tensor_make(SF_DTYPE_I64, 3, m);
    }
    if (ts->deferred) {
        int64_t rows = sf_tensor_numel(&out[0]) / ts->draft;
        out[1] = sf_tensor_make(SF_DTYPE_I64, 1, &rows);
    }
    return SF_OK;
}

sf_status_t sf_teacher_check_t2d(const sf_node_t *node, const sf_tensor_t *t2d, int64_t draft,
                                 sf_err_t *err)
{
    const uint8_t *d = sf_tensor_data(t2d);
    int64_t n = t2d->shape[0], ones = 0;
    for (int64_t i = 0; i < n; i++) {
        uint8_t v = d[i * t2d->strides[0]];
        if (v > 1)
            return sf_err_set(err, SF_ERR_INPUT, &node->pos,
                              "node '%s': t2d[%lld] = %u, expected 0 or 1", node->name,
                              (long long)i, v);
        ones += v;
    }
    if (ones != draft)
        return sf_err_set(err, SF_ERR_INPUT, &node->pos,
                          "node '%s': t2d marks %lld target ids, expected draft_vocab %lld",
                          node->name, (long long)ones, (long long)draft);
    return SF_OK;
}

int64_t sf_teacher_mask(const sf_tensor_t *mask, int64_t b, int64_t s)
{
    const char *p = (const char *)sf_tensor_data(mask) +
                    (b * mask->strides[0] + s * mask->strides[1]) *
                        (int64_t)sf_dtype_size(mask->dtype);
    return sf_convert_load_int(mask->dtype, p);
}

void sf_teacher_cursor_init(sf_teacher_cursor_t *c, const sf_teacher_shape_t *ts,
                            const sf_tensor_t *mask, int64_t mask_b0, int64_t seqs)
{
    *c = (sf_teacher_cursor_t){.ts = ts, .mask = mask, .mask_b0 = mask_b0, .seqs = seqs};
}

bool sf_teacher_cursor_next(sf_teacher_cursor_t *c, int64_t *row, int64_t *dst)
{
    const sf_teacher_shape_t *ts = c->ts;
    int64_t S = ts->seq;
    while (c->pos < c->seqs * S) {
        int64_t b = c->pos / S, s = c->pos % S;
        bool masked = ts->loss && sf_teacher_mask(c->mask, c->mask_b0 + b, s) != 0;
        int64_t here = ts->loss ? c->slot : b * (S + ts->length) + s;
        c->pos++;
        c->slot += masked;
        if ((s < S - 1 || c->with_last) && (!ts->loss || masked)) {
            *row = b * S + s;
            *dst = here;
            return true;
        }
    }
    return false;
}

int64_t sf_teacher_count_rows(const sf_teacher_shape_t *ts, const sf_tensor_t *mask,
                              int64_t mask_b0, int64_t seqs)
{
    sf_teacher_cursor_t c;
    sf_teacher_cursor_init(&c, ts, mask, mask_b0, seqs);
    int64_t n = 0, row, dst;
    while (sf_teacher_cursor_next(&c, &row, &dst))
        n++;
    return n;
}

float *sf_teacher_p_row(const sf_tensor_t *out, int64_t dst)
{
    return (float *)sf_tensor_data(&out[0]) + dst * out[0].shape[out[0].ndim - 1];
}

void sf_teacher_probs(float *p, float *pd, int64_t draft, double lse)
{
    float dmax = p[0];
    for (int64_t k = 1; k < draft; k++)
        dmax = p[k] > dmax ? p[k] : dmax;
    double sum = 0.0;
    for (int64_t k = 0; k < draft; k++) {
        pd[k] = (float)exp((double)p[k] - lse);
        double e = exp((double)p[k] - (double)dmax);
        p[k] = (float)e;
        sum += e;
    }
    for (int64_t k = 0; k < draft; k++)
        p[k] = (float)((double)p[k] / sum);
}

double sf_teacher_lse_get(const sf_tensor_t *lse, int64_t row)
{
    double v;
    memcpy(&v, (const char *)sf_tensor_data(lse) + row * 8, sizeof v);
    return v;
}

void sf_teacher_lse_set(const sf_tensor_t *lse, int64_t row, double v)
{
    memcpy((char *)sf_tensor_data(lse) + row * 8, &v, sizeof v);
}

/* The formulas on one row whose draft logits sit in target_p's row, or,
 * deferred, only its logsumexp kept for teacher_probs. */
static void teacher_probs(const sf_teacher_shape_t *ts, const sf_tensor_t *out, int64_t dst,
                          double lse)
{
    if (ts->deferred) {
        sf_teacher_lse_set(&out[1], dst, lse);
        return;
    }
    sf_teacher_probs(sf_teacher_p_row(out, dst), (float *)sf_tensor_data(&out[1]) + dst * ts->draft,
                     ts->draft, lse);
}

/* A row no logits reach whose target_p is already final: target_p_on_draft
 * 0 (deferred: NaN tells teacher_probs to leave target_p as it is). */
static void teacher_zero_on_draft(const sf_teacher_shape_t *ts, const sf_tensor_t *out,
                                  int64_t dst)
{
    if (ts->deferred)
        sf_teacher_lse_set(&out[1], dst, NAN);
    else
        memset((float *)sf_tensor_data(&out[1]) + dst * ts->draft, 0,
               (size_t)ts->draft * sizeof(float));
}

void sf_teacher_row(const sf_teacher_shape_t *ts, const sf_tensor_t *out, int64_t dst,
                    int64_t row, int64_t id, double lse, const uint8_t *t2d,
                    const sf_tensor_t *mask, int64_t mask_b0)
{
    teacher_probs(ts, out, dst, lse);
    int64_t b = row / ts->seq, s = row % ts->seq;
    int64_t keep = t2d[id] * (ts->loss ? 1 : sf_teacher_mask(mask, mask_b0 + b, s));
    ((int64_t *)sf_tensor_data(&out[2]))[dst] = id;
    ((int64_t *)sf_tensor_data(&out[3]))[ts->loss ? dst : row] = keep;
}

sf_status_t sf_teacher_fill(const sf_node_t *node, const sf_teacher_shape_t *ts,
                            const sf_tensor_t *mask, const uint8_t *t2d, bool zero_last,
                            const sf_tensor_t *out, sf_err_t *err)
{
    int64_t S = ts->seq, L = ts->length, Vd = ts->draft;
    int64_t *ids = sf_tensor_data(&out[2]), *pm = sf_tensor_data(&out[3]);
    int64_t *ri = ts->loss ? sf_tensor_data(&out[4]) : NULL;
    int64_t slot = 0;
    for (int64_t b = 0; b < ts->seqs; b++)
        for (int64_t s = 0; s < S; s++) {
            int64_t m = sf_teacher_mask(mask, b, s), dst = b * (S + L) + s;
            if (ts->loss) {
                if (m == 0)
                    continue;
                if (slot == ts->cap)
                    return sf_err_set(err, SF_ERR_INPUT, &node->pos,
                                      "node '%s': loss_mask has more than loss_rows %lld rows "
                                      "set on this rank (positions loss packs at most that "
                                      "many)",
                                      node->name, (long long)ts->cap);
                dst = slot++;
                ri[dst] = b * S + s;
            }
            if (s < S - 1 || !zero_last)
                continue;
            /* Zero logits: the argmax is 0 and the logsumexp log V. */
            memset(sf_teacher_p_row(out, dst), 0, (size_t)Vd * sizeof(float));
            teacher_probs(ts, out, dst, log((double)ts->vocab));
            ids[dst] = 0;
            pm[ts->loss ? dst : b * S + s] = t2d[0] * (ts->loss ? 1 : m);
        }
    if (ts->loss) {
        for (int64_t k = slot; k < ts->cap; k++) {
            memset(sf_teacher_p_row(out, k), 0, (size_t)Vd * sizeof(float));
            teacher_zero_on_draft(ts, out, k);
            ids[k] = pm[k] = 0;
            ri[k] = -1;
        }
        return SF_OK;
    }
    for (int64_t b = 0; b < ts->seqs; b++)
        for (int64_t s = S; s < S + L; s++) {
            int64_t dst = b * (S + L) + s;
            float *p = sf_teacher_p_row(out, dst);
            for (int64_t k = 0; k < Vd; k++)
                p[k] = (float)(1.0 / (double)Vd);
            teacher_zero_on_draft(ts, out, dst);
            ids[dst] = 0;
        }
    return SF_OK;
}

void sf_teacher_stats_add(sf_teacher_stats_t *acc, const sf_teacher_stats_t *piece)
{
    if (piece->index < 0)
        return;
    if (acc->index < 0) {
        *acc = *piece;
        return;
    }
    /* Pieces come in ascending target id, so on a tie the earlier index
     * stays: torch's first maximum. */
    float m = piece->max > acc->max ? piece->max : acc->max;
    acc->sum = acc->sum * exp((double)acc->max - (double)m) +
               piece->sum * exp((double)piece->max - (double)m);
    if (piece->max > acc->max)
        acc->index = piece->index;
    acc->max = m;
}

double sf_teacher_stats_lse(const sf_teacher_stats_t *st)
{
    return (double)st->max + log(st->sum);
}

/* --- the teacher op: from full-vocab rows ------------------------------------- */

static const sf_op_attr_desc_t teacher_attrs[] = {SF_TEACHER_ATTRS};

static sf_status_t teacher_shape(const sf_node_t *node, const sf_tensor_t *in,
                                 sf_teacher_shape_t *ts, sf_err_t *err)
{
    const sf_tensor_t *t = &in[0], *m = &in[1], *d = &in[2];
    sf_status_t st;
    if ((st = sf_op_shape_need_float(node, in, 0, err)) != SF_OK)
        return st;
    if (t->ndim != 3)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': target has shape %s, expected (B, S, V)", node->name,
                          sf_op_shape_str(t).s);
    if ((st = sf_teacher_shape_make(node, t->shape[0], t->shape[2], ts, err)) != SF_OK)
        return st;
    if (t->shape[1] != ts->seq)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': target has shape %s, expected %lld positions (seq)",
                          node->name, sf_op_shape_str(t).s, (long long)ts->seq);
    bool m_ok = (m->ndim == 2 || (m->ndim == 3 && m->shape[2] == 1)) &&
                m->shape[0] == t->shape[0] && m->shape[1] == t->shape[1] &&
                (m->dtype == SF_DTYPE_I64 || m->dtype == SF_DTYPE_I32 || m->dtype == SF_DTYPE_U8);
    if (!m_ok)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': loss_mask has shape %s %s, expected (%lld, %lld) of "
                          "integers",
                          node->name, sf_op_shape_str(m).s, sf_dtype_name(m->dtype),
                          (long long)t->shape[0], (long long)t->shape[1]);
    if (d->ndim != 1 || d->shape[0] != ts->vocab || d->dtype != SF_DTYPE_U8)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': t2d has shape %s %s, expected (%lld) u8 (the vocab)",
                          node->name, sf_op_shape_str(d).s, sf_dtype_name(d->dtype),
                          (long long)ts->vocab);
    return SF_OK;
}

static sf_status_t teacher_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                 sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    sf_teacher_shape_t ts;
    sf_status_t st = teacher_shape(node, in, &ts, err);
    return st != SF_OK ? st : sf_teacher_infer(node, &ts, out, n_out, err);
}

static sf_status_t teacher_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    sf_teacher_shape_t ts;
    sf_status_t st = teacher_shape(a->node, a->in, &ts, err);
    if (st == SF_OK)
        st = sf_teacher_check_t2d(a->node, &a->in[2], ts.draft, err);
    if (st != SF_OK)
        return st;
    const sf_tensor_t *t = &a->in[0], *mask = &a->in[1], *t2d_t = &a->in[2];
    if (t2d_t->strides[0] != 1)
        return sf_err_set(err, SF_ERR_UNSUPPORTED, &a->node->pos,
                          "node '%s': t2d is strided, expected a contiguous tensor",
                          a->node->name);
    const uint8_t *t2d = sf_tensor_data(t2d_t);
    /* The last position is computed from its (zero) row like any other:
     * this op is the reference, it assumes nothing about the shift. */
    if ((st = sf_teacher_fill(a->node, &ts, mask, t2d, false, a->out, err)) != SF_OK)
        return st;
    size_t es = sf_dtype_size(t->dtype);
    const char *td0 = sf_tensor_data(t);
    sf_teacher_cursor_t c;
    sf_teacher_cursor_init(&c, &ts, mask, 0, ts.seqs);
    c.with_last = true;
    int64_t row, dst;
    while (sf_teacher_cursor_next(&c, &row, &dst)) {
        int64_t b = row / ts.seq, s = row % ts.seq;
        const char *x = td0 + (b * t->strides[0] + s * t->strides[1]) * (int64_t)es;
        sf_teacher_stats_t stats = {.max = (float)sf_dtype_load(t->dtype, x), .index = 0};
        for (int64_t v = 1; v < ts.vocab; v++) {
            float f = (float)sf_dtype_load(t->dtype, x + v * t->strides[2] * (int64_t)es);
            if (f > stats.max) {
                stats.max = f;
                stats.index = (int32_t)v;
            }
        }
        float *p = sf_teacher_p_row(a->out, dst);
        int64_t k = 0;
        for (int64_t v = 0; v < ts.vocab; v++) {
            float f = (float)sf_dtype_load(t->dtype, x + v * t->strides[2] * (int64_t)es);
            stats.sum += exp((double)f - (double)stats.max);
            if (t2d[v])
                p[k++] = f;
        }
        sf_teacher_row(&ts, a->out, dst, row, stats.index, sf_teacher_stats_lse(&stats), t2d,
                       mask, 0);
    }
    return SF_OK;
}

const sf_op_desc_t sf_op_teacher = {
    .name = "teacher",
    .doc = "Eagle3 teacher (SpecForge's _compute_target_p) from full-vocab rows (B, S, V), "
           "loss_mask and t2d",
    .min_inputs = 3,
    .max_inputs = 3,
    .min_outputs = 4,
    .max_outputs = 5,
    .attrs = teacher_attrs,
    .n_attrs = sizeof teacher_attrs / sizeof teacher_attrs[0],
    .infer = teacher_infer,
    .cpu_kernel = teacher_cpu,
};
