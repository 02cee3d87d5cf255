/* Strided walks; see walk.h. The walk only does offset arithmetic: it
 * never touches memory, so the same code serves any number of tensors. */
#include "walk.h"

#include <string.h>

#include "convert.h"

void sf_walk_init(sf_walk_t *w, int ndim, const int64_t *shape, int run_dim)
{
    SF_ASSERT(ndim >= 0 && ndim <= SF_MAX_DIMS);
    memset(w, 0, sizeof *w);
    w->ndim = ndim;
    w->run_dim = ndim == 0 ? -1 : run_dim;
    SF_ASSERT(ndim == 0 || (run_dim >= 0 && run_dim < ndim));
    w->len = ndim == 0 ? 1 : shape[run_dim];
    w->is_empty = w->len == 0;
    for (int d = 0; d < ndim; d++) {
        if (d == run_dim)
            continue;
        w->outer_shape[w->n_outer++] = shape[d];
        if (shape[d] == 0)
            w->is_empty = true;
    }
}

int sf_walk_add(sf_walk_t *w, const int64_t *strides, size_t elem_size)
{
    SF_ASSERT(w->n_tensors < SF_WALK_MAX_TENSORS);
    int slot = w->n_tensors++;
    int k = 0;
    for (int d = 0; d < w->ndim; d++) {
        int64_t bytes = strides[d] * (int64_t)elem_size;
        if (d == w->run_dim)
            w->stride[slot] = bytes;
        else
            w->outer_stride[slot][k++] = bytes;
    }
    return slot;
}

int sf_walk_add_tensor(sf_walk_t *w, const sf_tensor_t *t)
{
    SF_ASSERT(t->ndim == w->ndim);
    return sf_walk_add(w, t->strides, sf_dtype_size(t->dtype));
}

bool sf_walk_next(sf_walk_t *w)
{
    if (w->is_empty)
        return false;
    if (!w->is_started) {
        w->is_started = true;
        return true;
    }
    for (int d = w->n_outer - 1; d >= 0; d--) {
        if (++w->idx[d] < w->outer_shape[d]) {
            for (int t = 0; t < w->n_tensors; t++)
                w->off[t] += w->outer_stride[t][d];
            return true;
        }
        /* Wrap this dim back to 0 and carry into the next one out. */
        for (int t = 0; t < w->n_tensors; t++)
            w->off[t] -= (w->outer_shape[d] - 1) * w->outer_stride[t][d];
        w->idx[d] = 0;
    }
    w->is_empty = true; /* every run visited: later calls keep saying false */
    return false;
}

void sf_walk_fill(const sf_tensor_t *t, double value)
{
    if (sf_tensor_numel(t) == 0)
        return;
    char *base = sf_tensor_data(t);
    SF_ASSERT(base != NULL);
    size_t esize = sf_dtype_size(t->dtype);
    unsigned char elem[8];
    sf_convert_store(t->dtype, elem, value);
    sf_walk_t w;
    sf_walk_init(&w, t->ndim, t->shape, t->ndim - 1);
    sf_walk_add_tensor(&w, t);
    while (sf_walk_next(&w)) {
        char *p = base + w.off[0];
        for (int64_t j = 0; j < w.len; j++, p += w.stride[0])
            memcpy(p, elem, esize);
    }
}
