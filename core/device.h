/* A device is where buffers live: a read-only table of hooks plus state.
 * cpu touches host memory; meta only accounts (no memory, no kernels), so a
 * plan and a run share every line of the accounting. cuda fills the same
 * slot when built with CUDA. */
#ifndef SF_DEVICE_H
#define SF_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef enum sf_device_kind {
    SF_DEVICE_CPU = 0,
    SF_DEVICE_META,
    SF_DEVICE_CUDA,
    SF_DEVICE_KIND_COUNT,
} sf_device_kind_t;

typedef struct sf_device sf_device_t;

typedef struct sf_device_iface {
    sf_device_kind_t kind;
    const char *name; /* "cpu", "meta", "cuda" */
    /* true when buffers hold real bytes and kernels run; false for meta. */
    bool touches_memory;
    /* Allocate nbytes (nbytes may be 0). Does not block on other work.
     * *out is owned by the caller until passed to free. Required. */
    sf_status_t (*alloc)(sf_device_t *dev, size_t nbytes, void **out, sf_err_t *err);
    /* Release memory from alloc; NULL is a no-op. Required. */
    void (*free)(sf_device_t *dev, void *ptr);
    /* Copy nbytes between two buffers of this device (may overlap: memmove
     * semantics). Blocks until done. Required. */
    sf_status_t (*copy)(sf_device_t *dev, void *dst, const void *src, size_t nbytes,
                        sf_err_t *err);
    /* Copy from host memory into a buffer of this device. Blocks. Required. */
    sf_status_t (*upload)(sf_device_t *dev, void *dst, const void *host_src, size_t nbytes,
                          sf_err_t *err);
    /* Copy from a buffer of this device into host memory. Blocks. Required. */
    sf_status_t (*download)(sf_device_t *dev, void *host_dst, const void *src, size_t nbytes,
                            sf_err_t *err);
    /* Set nbytes to the byte value. Blocks. Required. */
    sf_status_t (*fill)(sf_device_t *dev, void *dst, uint8_t byte, size_t nbytes,
                        sf_err_t *err);
} sf_device_iface_t;

struct sf_device {
    const sf_device_iface_t *iface; /* borrowed: a static table */
    void *impl;                     /* owned by the device's backend; may be NULL */
};

/* The process-wide cpu and meta devices: static, never freed. */
sf_device_t *sf_device_cpu(void);
sf_device_t *sf_device_meta(void);

/* Look a device up by name ("cpu", "meta"). NULL when unknown or not built. */
sf_device_t *sf_device_by_name(const char *name);

static inline const char *sf_device_name(const sf_device_t *dev) { return dev->iface->name; }
static inline bool sf_device_touches_memory(const sf_device_t *dev)
{
    return dev->iface->touches_memory;
}

SF_NODISCARD sf_status_t sf_device_copy(sf_device_t *dev, void *dst, const void *src,
                                        size_t nbytes, sf_err_t *err);
SF_NODISCARD sf_status_t sf_device_upload(sf_device_t *dev, void *dst, const void *host_src,
                                          size_t nbytes, sf_err_t *err);
SF_NODISCARD sf_status_t sf_device_download(sf_device_t *dev, void *host_dst, const void *src,
                                            size_t nbytes, sf_err_t *err);
SF_NODISCARD sf_status_t sf_device_fill(sf_device_t *dev, void *dst, uint8_t byte,
                                        size_t nbytes, sf_err_t *err);

#endif
