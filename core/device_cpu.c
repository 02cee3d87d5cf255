/* The cpu device: host memory from the C heap, 64-byte aligned so vector
 * kernels and BLAS get aligned rows. */
#include <stdlib.h>
#include <string.h>

#include "device.h"

static sf_status_t cpu_alloc(sf_device_t *dev, size_t nbytes, void **out, sf_err_t *err)
{
    (void)dev;
    *out = NULL;
    if (nbytes == 0)
        return SF_OK;
    size_t rounded = (nbytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded);
    if (p == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "cpu: cannot allocate %zu bytes", nbytes);
    *out = p;
    return SF_OK;
}

static void cpu_free(sf_device_t *dev, void *ptr)
{
    (void)dev;
    free(ptr);
}

static sf_status_t cpu_copy(sf_device_t *dev, void *dst, const void *src, size_t nbytes,
                            sf_err_t *err)
{
    (void)dev;
    (void)err;
    memmove(dst, src, nbytes);
    return SF_OK;
}

static sf_status_t cpu_fill(sf_device_t *dev, void *dst, uint8_t byte, size_t nbytes,
                            sf_err_t *err)
{
    (void)dev;
    (void)err;
    memset(dst, byte, nbytes);
    return SF_OK;
}

static const sf_device_iface_t cpu_iface = {
    .kind = SF_DEVICE_CPU,
    .name = "cpu",
    .touches_memory = true,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .copy = cpu_copy,
    .upload = cpu_copy,
    .download = cpu_copy,
    .fill = cpu_fill,
};

sf_device_t *sf_device_cpu(void)
{
    static sf_device_t cpu = {.iface = &cpu_iface, .impl = NULL};
    return &cpu;
}
