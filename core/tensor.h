/* A tensor is a typed, shaped, strided window on a buffer. It is a plain
 * value: copying the struct copies the view, never the data. Who owns the
 * buffer is the executor's business (views never own memory). */
#ifndef SF_TENSOR_H
#define SF_TENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "dtype.h"
#include "mem.h"
#include "status.h"

typedef struct sf_tensor {
    sf_dtype_t dtype;
    int ndim;                      /* 0 = scalar (one element) */
    int64_t shape[SF_MAX_DIMS];
    int64_t strides[SF_MAX_DIMS];  /* in elements, may be any non-negative value */
    uint64_t offset;               /* bytes from the start of buf->data */
    sf_buffer_t *buf;              /* borrowed; NULL while only the layout is known */
} sf_tensor_t;

/* A contiguous row-major layout at offset 0, no buffer. ndim <= SF_MAX_DIMS. */
sf_tensor_t sf_tensor_make(sf_dtype_t dtype, int ndim, const int64_t *shape);
void sf_tensor_set_contiguous_strides(sf_tensor_t *t);

/* Number of elements (1 for a scalar, 0 if any dim is 0). */
int64_t sf_tensor_numel(const sf_tensor_t *t);
/* numel * element size; for a view this is what it shows, not its base.
 * Only for layouts that passed sf_tensor_checked_nbytes (graph validation
 * checks every edge), so the product cannot overflow. */
uint64_t sf_tensor_nbytes(const sf_tensor_t *t);

/* The largest tensor (and allocator request) we accept: 2^62 bytes. Far
 * above any real memory, far enough below 2^64 that a sum of a few such
 * sizes, offsets and the allocator's rounding stay representable. */
#define SF_TENSOR_MAX_BYTES (UINT64_C(1) << 62)

/* Checked numel and nbytes of t's layout, and the bytes its view spans
 * (offset + the byte after its last element). False when a dim or stride is
 * negative, a product or sum overflows, or any of the three exceeds
 * SF_TENSOR_MAX_BYTES; out-pointers may be NULL and are set only on true. */
bool sf_tensor_checked_nbytes(const sf_tensor_t *t, uint64_t *numel, uint64_t *nbytes);
/* Bytes from element 0 to just past the last element (strides are
 * non-negative, so element 0 is the lowest address); 0 when t is empty.
 * What a strided view occupies, gaps included: what a copy of it across
 * devices moves. */
uint64_t sf_tensor_span_bytes(const sf_tensor_t *t);
/* Row-major with no gaps (size-1 dims may have any stride). */
bool sf_tensor_is_contiguous(const sf_tensor_t *t);
bool sf_tensor_same_shape(const sf_tensor_t *a, const sf_tensor_t *b);
/* Pointer to element 0; NULL when there is no buffer or it holds no memory. */
void *sf_tensor_data(const sf_tensor_t *t);
/* Byte offset (from element 0) of the element at multi-index idx. */
int64_t sf_tensor_elem_offset(const sf_tensor_t *t, const int64_t *idx);

/* "[2,3,4]" into out (always NUL-terminated). */
void sf_shape_format(int ndim, const int64_t *shape, char *out, size_t n);

/* Views: same buffer, new window. They check their arguments against t and
 * return SF_ERR_GRAPH with a message on a bad request (callers add position). */
SF_NODISCARD sf_status_t sf_tensor_view_slice(const sf_tensor_t *t, int dim, int64_t start,
                                              int64_t stop, int64_t step, sf_tensor_t *out,
                                              sf_err_t *err);
SF_NODISCARD sf_status_t sf_tensor_view_reshape(const sf_tensor_t *t, int ndim,
                                                const int64_t *shape, sf_tensor_t *out,
                                                sf_err_t *err);

/* Copy src into dst element by element (same shape; dtypes may differ:
 * converted through sf_dtype_load/store). Fast path: contiguous runs of the
 * same dtype are memcpy'd. Host memory only. */
void sf_tensor_copy_host(sf_tensor_t *dst, const sf_tensor_t *src);

/* Iterate a multi-index over shape in row-major order: returns false once
 * idx wraps past the end. Start with idx all zero. */
bool sf_index_next(int ndim, const int64_t *shape, int64_t *idx);

#endif
