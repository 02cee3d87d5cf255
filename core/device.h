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
struct sf_tensor;

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
    /* (optional) Bytes of scratch this device's kernel for the node needs
     * (tracked like any buffer). A device whose kernels differ from the CPU
     * reference (a cuBLAS workspace instead of f32 operand tiles) says so
     * here, and a plan for that device uses the same rule. NULL: the op's
     * own rule (sf_op_desc_t.scratch_bytes). */
    uint64_t (*scratch_bytes)(const sf_device_t *dev, const struct sf_op_desc *op,
                              const struct sf_node *node, const void *prepared,
                              const struct sf_tensor *in, int n_in, const struct sf_tensor *out,
                              int n_out);
    /* (optional) Copy src into dst element by element (same shape, any
     * strides, dtypes may differ), both in this device's memory. Blocks
     * until the copy is ordered before any later kernel of this device.
     * NULL: host memory, sf_tensor_copy_host. */
    sf_status_t (*copy_tensor)(sf_device_t *dev, struct sf_tensor *dst,
                               const struct sf_tensor *src, sf_err_t *err);
    /* (optional) Bytes the device's allocator holds from the driver:
     * PyTorch's "reserved" beside "allocated" (sf_mem's live bytes). NULL:
     * the allocator caches nothing, reserved = allocated. */
    uint64_t (*reserved_bytes)(const sf_device_t *dev);
    /* (optional) Bytes in use on the whole device as its driver sees them
     * (cuda: cudaMemGetInfo's total - free): our pool plus the context,
     * cuBLAS's and NCCL's own buffers and any other process. NULL: not
     * known (0). */
    uint64_t (*used_bytes)(const sf_device_t *dev);
    /* (optional) Set every element of t (any strides) to elem, one element
     * already in t's dtype. Ordered like copy_tensor. NULL: host memory, a
     * loop here. */
    sf_status_t (*fill_tensor)(sf_device_t *dev, struct sf_tensor *t, const void *elem,
                               sf_err_t *err);
} sf_device_iface_t;

struct sf_device {
    const sf_device_iface_t *iface; /* borrowed: a static table */
    void *impl;                     /* owned by the device's backend; may be NULL */
};

/* The process-wide cpu and meta devices: static, never freed. */
sf_device_t *sf_device_cpu(void);
sf_device_t *sf_device_meta(void);

/* Add a device built into this binary (cuda registers itself at start when
 * compiled in). Start-up only; a second device of the same name is our bug. */
void sf_device_register(sf_device_t *dev);

/* Look a device up by name ("cpu", "meta", "cuda"). NULL when unknown or not built. */
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
/* Scratch bytes for a node on this device: the device's rule, else the op's. */
uint64_t sf_device_scratch_bytes(const sf_device_t *dev, const struct sf_op_desc *op,
                                 const struct sf_node *node, const void *prepared,
                                 const struct sf_tensor *in, int n_in, const struct sf_tensor *out,
                                 int n_out);
/* Strided, converting copy within the device's memory (host: the plain
 * copy). Kernels that move data (redistribute) call this, not
 * sf_tensor_copy_host, so they run on every device that has it. */
SF_NODISCARD sf_status_t sf_device_copy_tensor(sf_device_t *dev, struct sf_tensor *dst,
                                               const struct sf_tensor *src, sf_err_t *err);
/* A tensor of this device as a contiguous host tensor: *out's buffer is
 * *block, malloc'd, which the caller frees. The strided span of t is
 * downloaded whole, then packed on the host, so nothing is allocated on
 * the device (the tracked peak stays the plan's). */
SF_NODISCARD sf_status_t sf_device_read_tensor(sf_device_t *dev, const struct sf_tensor *t,
                                               struct sf_tensor *out, void **block, sf_err_t *err);
/* Every element of t := elem (one element in t's dtype), on the device. */
SF_NODISCARD sf_status_t sf_device_fill_tensor(sf_device_t *dev, struct sf_tensor *t,
                                               const void *elem, sf_err_t *err);
/* The allocator's reserved bytes; `otherwise` for a device that caches
 * nothing (no reserved_bytes hook). */
uint64_t sf_device_reserved_bytes(const sf_device_t *dev, uint64_t otherwise);
/* The driver's view of the device's used bytes (0 where unknown). */
uint64_t sf_device_used_bytes(const sf_device_t *dev);
/* The meta device's hooks, for a planning device that accounts like meta
 * but takes another device's scratch rules (plan --device cuda). */
const sf_device_iface_t *sf_device_meta_iface(void);

#endif
