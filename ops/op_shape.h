/* Shape-rule helpers shared by the generic ops: dim attrs (-1 means the
 * last dim), dtype checks and shape text for error messages. Every failure
 * is SF_ERR_GRAPH at the attr's (or node's) position, naming the node. */
#ifndef SF_OP_SHAPE_H
#define SF_OP_SHAPE_H

#include <stdbool.h>
#include <stdint.h>

#include "graph.h"
#include "op.h"
#include "tensor.h"

/* A shape rendered as "[2,3,4]", returned by value so it can sit inside a
 * printf argument list (the array lives to the end of the full expression). */
typedef struct sf_shape_str {
    char s[128];
} sf_shape_str_t;

sf_shape_str_t sf_op_shape_str(const sf_tensor_t *t);
sf_shape_str_t sf_op_shape_ints_str(int n, const int64_t *v);

/* Where an attr's value was written (the node's position when defaulted). */
const sf_pos_t *sf_op_shape_attr_pos(const sf_node_t *node, const char *attr);

/* Read INT attr `attr` as a dim of a rank-`ndim` tensor: -1 is the last dim,
 * -ndim the first. Out of range -> SF_ERR_GRAPH naming node, attr and rank. */
SF_NODISCARD sf_status_t sf_op_shape_dim_attr(const sf_node_t *node, const char *attr, int ndim,
                                        int *out, sf_err_t *err);

/* Input `which` (0-based) must have a float dtype (f32, bf16, f16). */
SF_NODISCARD sf_status_t sf_op_shape_need_float(const sf_node_t *node, const sf_tensor_t *in,
                                          int which, sf_err_t *err);

/* Input `which` must have at least `min_ndim` dims. */
SF_NODISCARD sf_status_t sf_op_shape_need_ndim(const sf_node_t *node, const sf_tensor_t *in,
                                         int which, int min_ndim, sf_err_t *err);

/* INTS attr `attr` as a shape: at most SF_MAX_DIMS entries, each >= 0. */
SF_NODISCARD sf_status_t sf_op_shape_attr(const sf_node_t *node, const char *attr, int *ndim,
                                          int64_t *shape, sf_err_t *err);

/* The in-place slot of an input that is read element by element just
 * before the same element of the output is written: the whole output, at
 * offset 0, in the output's strides. Fills the sf_op_slot_fn results and
 * returns true, so a slot rule can end with `return sf_op_shape_slot_whole(...)`. */
bool sf_op_shape_slot_whole(const sf_tensor_t *out, int64_t *offset_bytes, int64_t *strides);

#endif
