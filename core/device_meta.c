/* The meta device: shapes only. Allocation hands out no memory, yet the
 * tracked allocator above it counts exactly as for a real device. */
#include "device.h"

static sf_status_t meta_alloc(sf_device_t *dev, size_t nbytes, void **out, sf_err_t *err)
{
    (void)dev;
    (void)nbytes;
    (void)err;
    *out = NULL;
    return SF_OK;
}

static void meta_free(sf_device_t *dev, void *ptr)
{
    (void)dev;
    (void)ptr;
}

/* Copies and fills have nothing to act on. */
static sf_status_t meta_copy(sf_device_t *dev, void *dst, const void *src, size_t nbytes,
                             sf_err_t *err)
{
    (void)dev;
    (void)dst;
    (void)src;
    (void)nbytes;
    (void)err;
    return SF_OK;
}

static sf_status_t meta_fill(sf_device_t *dev, void *dst, uint8_t byte, size_t nbytes,
                             sf_err_t *err)
{
    (void)dev;
    (void)dst;
    (void)byte;
    (void)nbytes;
    (void)err;
    return SF_OK;
}

static const sf_device_iface_t meta_iface = {
    .name = "meta",
    .touches_memory = false,
    .mem_kind = SF_MEMKIND_HOST,
    /* .supports, .run and .sync stay NULL: meta plans any op and runs none */
    .alloc = meta_alloc,
    .free = meta_free,
    .copy = meta_copy,
    .upload = meta_copy,
    .download = meta_copy,
    .fill = meta_fill,
};

const sf_device_iface_t *sf_device_meta_iface(void)
{
    return &meta_iface;
}

sf_device_t *sf_device_meta(void)
{
    static sf_device_t meta = {.iface = &meta_iface, .impl = NULL};
    return &meta;
}
