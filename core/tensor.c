/* Tensor layouts and views. A view is arithmetic on (offset, shape,
 * strides) over the same buffer; nothing here allocates. */
#include "tensor.h"

#include "checked.h"

#include <stdio.h>
#include <string.h>

sf_tensor_t sf_tensor_make(sf_dtype_t dtype, int ndim, const int64_t *shape)
{
    SF_ASSERT(ndim >= 0 && ndim <= SF_MAX_DIMS);
    sf_tensor_t t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t.shape[i] = shape[i];
    sf_tensor_set_contiguous_strides(&t);
    return t;
}

void sf_tensor_set_contiguous_strides(sf_tensor_t *t)
{
    /* A shape too big to stride saturates instead of wrapping (signed
     * overflow is UB); sf_tensor_checked_nbytes then refuses it. */
    int64_t stride = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->strides[i] = stride;
        if (!sf_checked_mul_i64(stride, t->shape[i] > 0 ? t->shape[i] : 1, &stride))
            stride = INT64_MAX;
    }
}

int64_t sf_tensor_numel(const sf_tensor_t *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

uint64_t sf_tensor_nbytes(const sf_tensor_t *t)
{
    return (uint64_t)sf_tensor_numel(t) * sf_dtype_size(t->dtype);
}

bool sf_tensor_checked_nbytes(const sf_tensor_t *t, uint64_t *numel, uint64_t *nbytes)
{
    uint64_t n = 1, last = 0; /* last: element offset of the last element */
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0 || t->strides[i] < 0)
            return false;
        if (!sf_checked_mul_u64(n, (uint64_t)t->shape[i], &n))
            return false;
    }
    uint64_t esize = sf_dtype_size(t->dtype), bytes, span = t->offset;
    if (!sf_checked_mul_u64(n, esize, &bytes) || bytes > SF_TENSOR_MAX_BYTES)
        return false;
    if (n > 0) {
        for (int i = 0; i < t->ndim; i++) {
            uint64_t step;
            if (!sf_checked_mul_u64((uint64_t)(t->shape[i] - 1), (uint64_t)t->strides[i], &step) ||
                !sf_checked_add_u64(last, step, &last))
                return false;
        }
        uint64_t end;
        if (!sf_checked_add_u64(last, 1, &end) || !sf_checked_mul_u64(end, esize, &end) ||
            !sf_checked_add_u64(span, end, &span))
            return false;
    }
    if (span > SF_TENSOR_MAX_BYTES)
        return false;
    if (numel != NULL)
        *numel = n;
    if (nbytes != NULL)
        *nbytes = bytes;
    return true;
}

bool sf_tensor_is_contiguous(const sf_tensor_t *t)
{
    int64_t expect = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] == 0)
            return true;
        if (t->shape[i] != 1 && t->strides[i] != expect)
            return false;
        expect *= t->shape[i];
    }
    return true;
}

bool sf_tensor_same_shape(const sf_tensor_t *a, const sf_tensor_t *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return false;
    return true;
}

void *sf_tensor_data(const sf_tensor_t *t)
{
    if (t->buf == NULL || t->buf->data == NULL)
        return NULL;
    return (char *)t->buf->data + t->offset;
}

int64_t sf_tensor_elem_offset(const sf_tensor_t *t, const int64_t *idx)
{
    int64_t off = 0;
    for (int i = 0; i < t->ndim; i++)
        off += idx[i] * t->strides[i];
    return off * (int64_t)sf_dtype_size(t->dtype);
}

void sf_shape_format(int ndim, const int64_t *shape, char *out, size_t n)
{
    if (n == 0)
        return;
    size_t used = (size_t)snprintf(out, n, "[");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (used < n)
        snprintf(out + used, n - used, "]");
}

sf_status_t sf_tensor_view_slice(const sf_tensor_t *t, int dim, int64_t start, int64_t stop,
                                 int64_t step, sf_tensor_t *out, sf_err_t *err)
{
    if (dim < 0 || dim >= t->ndim)
        return sf_err_set(err, SF_ERR_GRAPH, NULL, "slice dim %d out of range for %d dims", dim,
                          t->ndim);
    if (step < 1)
        return sf_err_set(err, SF_ERR_GRAPH, NULL, "slice step %lld must be >= 1",
                          (long long)step);
    if (start < 0 || stop < start || stop > t->shape[dim])
        return sf_err_set(err, SF_ERR_GRAPH, NULL,
                          "slice [%lld:%lld] out of range for dim %d of size %lld",
                          (long long)start, (long long)stop, dim, (long long)t->shape[dim]);
    sf_tensor_t v = *t;
    v.shape[dim] = (stop - start + step - 1) / step;
    v.strides[dim] = t->strides[dim] * step;
    if (v.shape[dim] > 0)
        v.offset = t->offset + (uint64_t)(start * t->strides[dim]) * sf_dtype_size(t->dtype);
    *out = v;
    return SF_OK;
}

sf_status_t sf_tensor_view_reshape(const sf_tensor_t *t, int ndim, const int64_t *shape,
                                   sf_tensor_t *out, sf_err_t *err)
{
    if (ndim < 0 || ndim > SF_MAX_DIMS)
        return sf_err_set(err, SF_ERR_GRAPH, NULL, "reshape to %d dims (at most %d)", ndim,
                          SF_MAX_DIMS);
    if (!sf_tensor_is_contiguous(t))
        return sf_err_set(err, SF_ERR_GRAPH, NULL, "reshape of a non-contiguous view");
    sf_tensor_t v = sf_tensor_make(t->dtype, ndim, shape);
    if (sf_tensor_numel(&v) != sf_tensor_numel(t)) {
        char a[128], b[128];
        sf_shape_format(t->ndim, t->shape, a, sizeof a);
        sf_shape_format(ndim, shape, b, sizeof b);
        return sf_err_set(err, SF_ERR_GRAPH, NULL, "cannot reshape %s to %s: element counts differ",
                          a, b);
    }
    v.offset = t->offset;
    v.buf = t->buf;
    *out = v;
    return SF_OK;
}

bool sf_index_next(int ndim, const int64_t *shape, int64_t *idx)
{
    for (int i = ndim - 1; i >= 0; i--) {
        if (++idx[i] < shape[i])
            return true;
        idx[i] = 0;
    }
    return false;
}

void sf_tensor_copy_host(sf_tensor_t *dst, const sf_tensor_t *src)
{
    SF_ASSERT(sf_tensor_same_shape(dst, src));
    int64_t numel = sf_tensor_numel(src);
    if (numel == 0)
        return;
    char *d = sf_tensor_data(dst);
    const char *s = sf_tensor_data(src);
    SF_ASSERT(d != NULL && s != NULL);
    size_t dsz = sf_dtype_size(dst->dtype), ssz = sf_dtype_size(src->dtype);
    bool same = dst->dtype == src->dtype;
    /* A source the planner placed in its destination (an in-place concat or
     * pad) is already there. */
    if (same && d == s &&
        memcmp(dst->strides, src->strides, sizeof(int64_t) * (size_t)src->ndim) == 0)
        return;
    if (same && sf_tensor_is_contiguous(dst) && sf_tensor_is_contiguous(src)) {
        memmove(d, s, (size_t)numel * dsz);
        return;
    }
    /* Walk all but the last dim; the innermost run is memcpy'd when both
     * sides are unit-stride there and the dtypes agree. */
    int nd = src->ndim;
    if (nd == 0) {
        sf_dtype_store(dst->dtype, d, sf_dtype_load(src->dtype, s));
        return;
    }
    int64_t inner = src->shape[nd - 1];
    int64_t ds = dst->strides[nd - 1], ss = src->strides[nd - 1];
    bool run_copy = same && ds == 1 && ss == 1;
    int64_t idx[SF_MAX_DIMS] = {0};
    do {
        char *drow = d + sf_tensor_elem_offset(dst, idx);
        const char *srow = s + sf_tensor_elem_offset(src, idx);
        if (run_copy) {
            memmove(drow, srow, (size_t)inner * dsz);
        } else {
            for (int64_t j = 0; j < inner; j++)
                sf_dtype_store(dst->dtype, drow + j * ds * (int64_t)dsz,
                               sf_dtype_load(src->dtype, srow + j * ss * (int64_t)ssz));
        }
    } while (sf_index_next(nd - 1, src->shape, idx));
}

uint64_t sf_tensor_span_bytes(const sf_tensor_t *t)
{
    if (sf_tensor_numel(t) == 0)
        return 0;
    uint64_t last = 0;
    for (int d = 0; d < t->ndim; d++)
        last += (uint64_t)(t->shape[d] - 1) * (uint64_t)t->strides[d];
    return (last + 1) * sf_dtype_size(t->dtype);
}
