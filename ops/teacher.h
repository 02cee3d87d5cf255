/* The Eagle3 teacher (SpecForge's _compute_target_p), the parts both of its
 * ops share: the output layouts of `positions: all | loss`, the walk over a
 * rank's rows that decides which of them are computed and where each one
 * lands, the per-row formulas, and the rows no logits reach (the shifted-in
 * last position, the `length` padding, unused packed slots). The teacher op
 * (ops/teacher.c) works on full-vocab rows; teacher_vp (ops/teacher_vp.c)
 * on the vocab-sharded lm_head. Both write through these, so they agree. */
#ifndef SF_TEACHER_H
#define SF_TEACHER_H
#include <stdbool.h>
#include <stdint.h>

#include "graph.h"
#include "op.h"
#include "tensor.h"

/* The attrs both ops take, in this order, after their own. */
#define SF_TEACHER_ATTRS                                                                          \
    {"seq", SF_ATTR_INT, NULL, "tokens per sequence"},                                            \
    {"length", SF_ATTR_INT, "7", "test-time-training length: rows padded after each sequence"},  \
    {"draft_vocab", SF_ATTR_INT, NULL, "Vd: how many target ids t2d marks"},                      \
    {"positions", SF_ATTR_STRING, "all", "all (SpecForge's padded layout) | loss (packed rows)"}, \
    {"loss_rows", SF_ATTR_INT, "0", "positions loss: packed rows per rank (capacity)"}

/* What a teacher node writes on this rank. */
typedef struct sf_teacher_shape {
    int64_t seqs;    /* sequences of this rank */
    int64_t seq;     /* S */
    int64_t length;  /* L */
    int64_t vocab;   /* V */
    int64_t draft;   /* Vd */
    bool loss;       /* positions: loss */
    int64_t cap;     /* loss: packed rows */
    /* The probabilities are left to a teacher_probs node (ops/teacher_probs.c),
     * so that the teacher_vp's input can be freed before target_p_on_draft
     * exists: target_p keeps each row's draft logits and out[1] holds the
     * row's logsumexp, one per target_p row, as a double's 8 bytes in an i64
     * tensor (the runtime has no f64 dtype, and a float would round it);
     * NaN for a row that is already final, whose target_p_on_draft is 0. */
    bool deferred;
} sf_teacher_shape_t;

/* Read and check the shared attrs; vocab and seqs come from the op. */
SF_NODISCARD sf_status_t sf_teacher_shape_make(const sf_node_t *node, int64_t seqs,
                                               int64_t vocab, sf_teacher_shape_t *ts,
                                               sf_err_t *err);

/* Output layouts: target_p, target_p_on_draft, target_token_ids,
 * position_mask, and with positions loss row_index. Expects n_out to match
 * (4, or 5 with loss) and says so otherwise. */
SF_NODISCARD sf_status_t sf_teacher_infer(const sf_node_t *node, const sf_teacher_shape_t *ts,
                                          sf_tensor_t *out, int n_out, sf_err_t *err);

/* Check t2d (u8, length V, 0/1, exactly Vd ones): SF_ERR_INPUT naming the
 * node otherwise. */
SF_NODISCARD sf_status_t sf_teacher_check_t2d(const sf_node_t *node, const sf_tensor_t *t2d,
                                              int64_t draft, sf_err_t *err);

/* loss_mask value of row (b, s) of a (B, S) or (B, S, 1) int tensor. */
int64_t sf_teacher_mask(const sf_tensor_t *mask, int64_t b, int64_t s);

/* The rank's rows in order, skipping those the op does not compute. */
typedef struct sf_teacher_cursor {
    const sf_teacher_shape_t *ts; /* borrowed */
    const sf_tensor_t *mask;      /* borrowed: the loss_mask */
    int64_t mask_b0;              /* the mask's row of this rank's first sequence */
    int64_t seqs;                 /* sequences walked */
    int64_t pos;                  /* next row, b * S + s */
    int64_t slot;                 /* loss: packed slot of the next masked row */
    bool with_last;               /* also yield each sequence's last position */
} sf_teacher_cursor_t;

void sf_teacher_cursor_init(sf_teacher_cursor_t *c, const sf_teacher_shape_t *ts,
                            const sf_tensor_t *mask, int64_t mask_b0, int64_t seqs);
/* The next row whose teacher comes from logits (s < S - 1, and with loss its
 * mask is 1): its row (b * S + s) and the row it is written to (the padded
 * row b * (S + L) + s, or the packed slot). false when none is left. */
bool sf_teacher_cursor_next(sf_teacher_cursor_t *c, int64_t *row, int64_t *dst);

/* Rows the op computes from logits for these sequences. */
int64_t sf_teacher_count_rows(const sf_teacher_shape_t *ts, const sf_tensor_t *mask,
                              int64_t mask_b0, int64_t seqs);

/* Everything of the outputs no logits reach: with zero_last the last
 * position of each sequence (zero logits: id 0, target_p uniform,
 * target_p_on_draft 1/V, position_mask t2d[0] * loss_mask), the
 * length padding (1/Vd, 0, id 0), with loss the row_index of every packed
 * row and the unused slots (row_index -1, zeros), and every position_mask
 * entry but those of computed rows. mask is the rank's own (B, S). SF_ERR_INPUT if loss rows overflow the
 * capacity. out are the node's outputs. */
SF_NODISCARD sf_status_t sf_teacher_fill(const sf_node_t *node, const sf_teacher_shape_t *ts,
                                         const sf_tensor_t *mask, const uint8_t *t2d,
                                         bool zero_last, const sf_tensor_t *out,
                                         sf_err_t *err);

/* target_p and target_p_on_draft rows of output row dst: p holds the draft
 * logits on entry (ascending target id). lse is the row's logsumexp over the
 * full vocab. */
float *sf_teacher_p_row(const sf_tensor_t *out, int64_t dst);
void sf_teacher_row(const sf_teacher_shape_t *ts, const sf_tensor_t *out, int64_t dst,
                    int64_t row, int64_t id, double lse, const uint8_t *t2d,
                    const sf_tensor_t *mask, int64_t mask_b0);

/* The formulas of one row: p holds the draft logits on entry and target_p on
 * return, pd gets target_p_on_draft; lse is the row's logsumexp over the
 * full vocab. */
void sf_teacher_probs(float *p, float *pd, int64_t draft, double lse);
/* A deferred row's logsumexp: read and write the 8 bytes of slot row. */
double sf_teacher_lse_get(const sf_tensor_t *lse, int64_t row);
void sf_teacher_lse_set(const sf_tensor_t *lse, int64_t row, double v);

/* Per-token statistics of a piece of a logits row: the first maximum, its
 * index, and the sum of exp(x - max) (0 and -inf for an empty piece). */
typedef struct sf_teacher_stats {
    float max;
    int32_t index;
    double sum;
} sf_teacher_stats_t;

void sf_teacher_stats_add(sf_teacher_stats_t *acc, const sf_teacher_stats_t *piece);
double sf_teacher_stats_lse(const sf_teacher_stats_t *st);

#endif
