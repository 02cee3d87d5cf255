/* A tile of the vocab-parallel lm_head: logits of a run of x's rows against
 * the rank's weight shard, computed with sf_op_matmul's own kernel (so the
 * bytes equal the unfused graph's matmul node) in products of at most
 * SF_HEAD_TILE_ROWS rows, testing a collective in flight between products
 * (a backend that needs the caller's progress moves then). Shared by the
 * chunked ops that start from the lm_head (lm_head_redistribute,
 * teacher_vp). */
#ifndef SF_HEAD_TILE_H
#define SF_HEAD_TILE_H
#include <stdint.h>

#include "coll.h"
#include "graph.h"
#include "op.h"

#define SF_HEAD_TILE_ROWS 256

typedef struct sf_head_tile {
    int64_t vloc;          /* logits per row: the shard's rows of w */
    uint64_t mm_bytes;     /* the largest product's scratch, 64-byte rounded */
    sf_attr_t mm_attrs[8]; /* the inner matmul node's attrs */
    sf_node_t mm_node;     /* matmul(x rows, w, transpose_b); points into mm_attrs, so
                            * the tile must not move after init */
} sf_head_tile_t;

/* Set up for x (T, H) and w (Vloc, H), products of at most max_rows rows
 * and max_cols vocab columns (w rows; the CPU matmul packs that much of w
 * to f32 in its scratch, so a block smaller than the shard keeps the
 * scratch small). */
void sf_head_tile_init(sf_head_tile_t *h, const sf_node_t *node, const sf_tensor_t *x,
                       const sf_tensor_t *w, int64_t max_rows, int64_t max_cols);

/* Logits of x rows [first, first + n) against w rows [col0, col0 + ncols)
 * into dst (n x ncols, x's dtype), with
 * mm_scratch of h->mm_bytes. in_flight (may be NULL) is tested after each
 * product (a request of sf_comm_start). a is the calling node's kernel args (x is in[0], w in[1]). */
SF_NODISCARD sf_status_t sf_head_tile_logits(const sf_head_tile_t *h, const sf_kernel_args_t *a,
                                             void *mm_scratch, int64_t first, int64_t n,
                                             int64_t col0, int64_t ncols, char *dst, void *in_flight,
                                             sf_err_t *err);
#endif
