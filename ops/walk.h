/* Strided walks for the CPU reference kernels: visit a shape as runs along
 * one chosen dim, tracking the byte offset of each run in up to
 * SF_WALK_MAX_TENSORS tensors that share that shape (a broadcast input uses
 * stride 0). Kernels loop over a run with a fixed byte step, so strided
 * views cost one multiply-add per element and unit-stride runs memcpy. */
#ifndef SF_WALK_H
#define SF_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

#define SF_WALK_MAX_TENSORS 3

typedef struct sf_walk {
    int ndim;
    int run_dim;                                           /* -1 for a scalar */
    int n_outer;                                           /* dims other than run_dim */
    int64_t outer_shape[SF_MAX_DIMS];
    int64_t idx[SF_MAX_DIMS];
    int n_tensors;
    int64_t outer_stride[SF_WALK_MAX_TENSORS][SF_MAX_DIMS];  /* bytes */
    int64_t len;                                           /* elements per run */
    int64_t stride[SF_WALK_MAX_TENSORS];                     /* bytes between run elements */
    int64_t off[SF_WALK_MAX_TENSORS];                      /* bytes from element 0 to the run */
    bool is_started;
    bool is_empty;
} sf_walk_t;

/* Walk `shape` (ndim dims) in row-major order of the other dims, one run
 * along run_dim at a time (run_dim is ignored for ndim 0: one run of one
 * element). A shape with a 0 anywhere has no runs. */
void sf_walk_init(sf_walk_t *w, int ndim, const int64_t *shape, int run_dim);
/* Add a tensor laid out over the walked shape: strides[ndim] in elements
 * (0 to broadcast a dim). Returns its slot in w->off and w->stride. */
int sf_walk_add(sf_walk_t *w, const int64_t *strides, size_t elem_size);
/* Same for a tensor whose own layout has the walked shape. */
int sf_walk_add_tensor(sf_walk_t *w, const sf_tensor_t *t);
/* Move to the next run (the first on the first call); false when done. */
bool sf_walk_next(sf_walk_t *w);

/* Set every element of t (host memory, any strides) to value, rounded
 * and stored as sf_convert_store does (saturating for integer dtypes). */
void sf_walk_fill(const sf_tensor_t *t, double value);

#endif
