/* A device is where buffers live and kernels run: a read-only table of hooks
 * plus state. The device owns its kernels: callers ask it whether it
 * supports a node and have it run the node, and never branch on which device
 * it is. cpu touches host memory and runs each op file's CPU kernel; meta
 * only accounts (no memory, no kernels), so a plan and a run share every
 * line of the accounting. A cuda device keeps its own kernel table, indexed
 * by the op ids of ops/op_ids.h, filled from .cu files. */
#ifndef SF_DEVICE_H
#define SF_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Where a device's buffers live, as collectives and file writers see it:
 * host memory is readable by the CPU (UCX, fwrite); cuda memory needs NCCL or
 * a download first. */
typedef enum sf_memkind { SF_MEMKIND_HOST = 0, SF_MEMKIND_CUDA } sf_memkind_t;

typedef struct sf_device sf_device_t;
struct sf_op_desc;
struct sf_node;
struct sf_kernel_args;

typedef struct sf_device_iface {
    const char *name; /* "cpu", "meta", "cuda" */
    /* true when buffers hold real bytes and kernels run; false for meta. */
    bool touches_memory;
    /* The memory kind of this device's buffers. */
    sf_memkind_t mem_kind;
    /* (optional) Is there a kernel here for this op, and for this node of it
     * (its dtypes, shapes, attrs)? node NULL asks about the op in general
     * (`shardflow ops`). Pure, cheap, never blocks. NULL: every op is
     * supported, which is right only for a device that runs no kernels
     * (meta). */
    bool (*supports)(const sf_device_t *dev, const struct sf_op_desc *op,
                     const struct sf_node *node);
    /* (optional) Run one node whose inputs, outputs and scratch are bound and
     * allocated on this device. May return before the work is done when the
     * device has sync; the caller then syncs before reading results on the
     * host. Errors are the kernel's (bad input data) or the device's. NULL:
     * the device runs no kernels (meta); calling it then is our bug. */
    sf_status_t (*run)(sf_device_t *dev, const struct sf_kernel_args *args, sf_err_t *err);
    /* (optional) Wait for all work run() launched. Blocks. NULL: the device
     * is synchronous, run() returns when the work is done. */
    sf_status_t (*sync)(sf_device_t *dev, sf_err_t *err);
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
/* The devices built into this binary, in a fixed order (cpu first), for
 * listings such as `shardflow ops`. */
int sf_device_count(void);
sf_device_t *sf_device_at(int i);

static inline const char *sf_device_name(const sf_device_t *dev) { return dev->iface->name; }
static inline bool sf_device_touches_memory(const sf_device_t *dev)
{
    return dev->iface->touches_memory;
}
static inline sf_memkind_t sf_device_mem_kind(const sf_device_t *dev)
{
    return dev->iface->mem_kind;
}

/* Wrappers of the hooks above: they supply the documented defaults. */
bool sf_device_supports(const sf_device_t *dev, const struct sf_op_desc *op,
                        const struct sf_node *node);
SF_NODISCARD sf_status_t sf_device_run(sf_device_t *dev, const struct sf_kernel_args *args,
                                       sf_err_t *err);
SF_NODISCARD sf_status_t sf_device_sync(sf_device_t *dev, sf_err_t *err);
/* Allocate and release through the device (mem.c does the accounting). */
SF_NODISCARD sf_status_t sf_device_alloc(sf_device_t *dev, size_t nbytes, void **out,
                                         sf_err_t *err);
void sf_device_free(sf_device_t *dev, void *ptr);

SF_NODISCARD sf_status_t sf_device_copy(sf_device_t *dev, void *dst, const void *src,
                                        size_t nbytes, sf_err_t *err);
SF_NODISCARD sf_status_t sf_device_upload(sf_device_t *dev, void *dst, const void *host_src,
                                          size_t nbytes, sf_err_t *err);
SF_NODISCARD sf_status_t sf_device_download(sf_device_t *dev, void *host_dst, const void *src,
                                            size_t nbytes, sf_err_t *err);
SF_NODISCARD sf_status_t sf_device_fill(sf_device_t *dev, void *dst, uint8_t byte,
                                        size_t nbytes, sf_err_t *err);

#endif
