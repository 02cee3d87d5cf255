/* Device wrappers and the name lookup. Callers never call iface hooks
 * directly: the wrappers are where argument checks live. */
#include "device.h"

#include <stdlib.h>
#include <string.h>

#include "op.h"
#include "tensor.h"

/* cpu and meta, then what registered itself (cuda): few, fixed at start. */
enum { MAX_EXTRA_DEVICES = 4 };
static sf_device_t *extra_devices[MAX_EXTRA_DEVICES];
static int n_extra_devices;

void sf_device_register(sf_device_t *dev)
{
    SF_ASSERT(n_extra_devices < MAX_EXTRA_DEVICES);
    SF_ASSERT(sf_device_by_name(sf_device_name(dev)) == NULL);
    extra_devices[n_extra_devices++] = dev;
}

int sf_device_count(void)
{
    return 2 + n_extra_devices;
}

sf_device_t *sf_device_at(int i)
{
    SF_ASSERT(i >= 0 && i < sf_device_count());
    if (i >= 2)
        return extra_devices[i - 2];
    return i == 0 ? sf_device_cpu() : sf_device_meta();
}

sf_device_t *sf_device_by_name(const char *name)
{
    for (int i = 0; i < sf_device_count(); i++)
        if (strcmp(sf_device_name(sf_device_at(i)), name) == 0)
            return sf_device_at(i);
    return NULL;
}

bool sf_device_supports(const sf_device_t *dev, const struct sf_op_desc *op,
                        const struct sf_node *node)
{
    return dev->iface->supports == NULL || dev->iface->supports(dev, op, node);
}

sf_status_t sf_device_run(sf_device_t *dev, const struct sf_kernel_args *args, sf_err_t *err)
{
    /* The executor asks touches_memory before running anything. */
    SF_ASSERT(dev->iface->run != NULL);
    return dev->iface->run(dev, args, err);
}

sf_status_t sf_device_sync(sf_device_t *dev, sf_err_t *err)
{
    return dev->iface->sync != NULL ? dev->iface->sync(dev, err) : SF_OK;
}

sf_status_t sf_device_alloc(sf_device_t *dev, size_t nbytes, void **out, sf_err_t *err)
{
    return dev->iface->alloc(dev, nbytes, out, err);
}

void sf_device_free(sf_device_t *dev, void *ptr)
{
    dev->iface->free(dev, ptr);
}

sf_status_t sf_device_copy(sf_device_t *dev, void *dst, const void *src, size_t nbytes,
                           sf_err_t *err)
{
    if (nbytes == 0)
        return SF_OK;
    return dev->iface->copy(dev, dst, src, nbytes, err);
}

sf_status_t sf_device_upload(sf_device_t *dev, void *dst, const void *host_src, size_t nbytes,
                             sf_err_t *err)
{
    if (nbytes == 0)
        return SF_OK;
    return dev->iface->upload(dev, dst, host_src, nbytes, err);
}

sf_status_t sf_device_download(sf_device_t *dev, void *host_dst, const void *src, size_t nbytes,
                               sf_err_t *err)
{
    if (nbytes == 0)
        return SF_OK;
    return dev->iface->download(dev, host_dst, src, nbytes, err);
}

sf_status_t sf_device_fill(sf_device_t *dev, void *dst, uint8_t byte, size_t nbytes, sf_err_t *err)
{
    if (nbytes == 0)
        return SF_OK;
    return dev->iface->fill(dev, dst, byte, nbytes, err);
}

uint64_t sf_device_scratch_bytes(const sf_device_t *dev, const sf_op_desc_t *op,
                                 const struct sf_node *node, const void *prepared,
                                 const sf_tensor_t *in, int n_in, const sf_tensor_t *out, int n_out)
{
    if (dev->iface->scratch_bytes != NULL)
        return dev->iface->scratch_bytes(dev, op, node, prepared, in, n_in, out, n_out);
    return op->scratch_bytes != NULL ? op->scratch_bytes(node, prepared, in, n_in, out, n_out) : 0;
}

sf_status_t sf_device_copy_tensor(sf_device_t *dev, sf_tensor_t *dst, const sf_tensor_t *src,
                                  sf_err_t *err)
{
    if (sf_tensor_numel(dst) == 0 || !sf_device_touches_memory(dev))
        return SF_OK;
    if (dev->iface->copy_tensor != NULL)
        return dev->iface->copy_tensor(dev, dst, src, err);
    sf_tensor_copy_host(dst, src);
    return SF_OK;
}

uint64_t sf_device_reserved_bytes(const sf_device_t *dev, uint64_t otherwise)
{
    return dev->iface->reserved_bytes != NULL ? dev->iface->reserved_bytes(dev) : otherwise;
}

sf_status_t sf_device_read_tensor(sf_device_t *dev, const sf_tensor_t *t, sf_tensor_t *out,
                                  void **block, sf_err_t *err)
{
    uint64_t nbytes = sf_tensor_nbytes(t);
    *out = sf_tensor_make(t->dtype, t->ndim, t->shape);
    /* The buffer record and the bytes share one block: one free. */
    size_t head = (sizeof(sf_buffer_t) + 63) / 64 * 64;
    char *mem = malloc(head + (nbytes > 0 ? nbytes : 1));
    if (mem == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "cannot allocate %llu host bytes for a download",
                          (unsigned long long)nbytes);
    sf_buffer_t *b = (sf_buffer_t *)mem;
    memset(b, 0, sizeof *b);
    b->data = mem + head;
    b->nbytes = nbytes;
    out->buf = b;
    *block = mem;
    if (nbytes == 0)
        return SF_OK;
    if (sf_device_mem_kind(dev) == SF_MEMKIND_HOST) {
        sf_tensor_copy_host(out, t);
        return SF_OK;
    }
    uint64_t span = sf_tensor_span_bytes(t);
    if (sf_tensor_is_contiguous(t))
        return sf_device_download(dev, b->data, sf_tensor_data(t), nbytes, err);
    char *staging = malloc(span);
    if (staging == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "cannot allocate %llu host bytes for a download",
                          (unsigned long long)span);
    sf_status_t st = sf_device_download(dev, staging, sf_tensor_data(t), span, err);
    if (st == SF_OK) {
        sf_buffer_t sb = {.data = staging, .nbytes = span};
        sf_tensor_t view = *t;
        view.offset = 0;
        view.buf = &sb;
        sf_tensor_copy_host(out, &view);
    }
    free(staging);
    return st;
}

uint64_t sf_device_used_bytes(const sf_device_t *dev)
{
    return dev->iface->used_bytes != NULL ? dev->iface->used_bytes(dev) : 0;
}

sf_status_t sf_device_fill_tensor(sf_device_t *dev, sf_tensor_t *t, const void *elem,
                                  sf_err_t *err)
{
    if (sf_tensor_numel(t) == 0 || !sf_device_touches_memory(dev))
        return SF_OK;
    if (dev->iface->fill_tensor != NULL)
        return dev->iface->fill_tensor(dev, t, elem, err);
    size_t es = sf_dtype_size(t->dtype);
    char *base = sf_tensor_data(t);
    int64_t idx[SF_MAX_DIMS] = {0};
    do {
        memcpy(base + sf_tensor_elem_offset(t, idx), elem, es);
    } while (sf_index_next(t->ndim, t->shape, idx));
    return SF_OK;
}
