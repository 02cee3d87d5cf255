/* The cpu device: host memory from the C heap, 64-byte aligned so vector
 * kernels and BLAS get aligned rows, or, once a communicator turned the
 * shared arena on, large tensors from the arena (shm_arena.h) so ranks of
 * this host copy collectives' pieces straight out of each other's tensors;
 * its kernels are the reference kernels each op file defines
 * (sf_op_desc_t.cpu_kernel). */
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "op.h"
#include "shm_arena.h"

static sf_status_t cpu_alloc(sf_device_t *dev, size_t nbytes, void **out, sf_err_t *err)
{
    (void)dev;
    *out = NULL;
    if (nbytes == 0)
        return SF_OK;
    void *p = sf_shm_arena_alloc(nbytes);
    if (p != NULL) {
        *out = p;
        return SF_OK;
    }
    size_t rounded = (nbytes + 63) / 64 * 64;
    p = aligned_alloc(64, rounded);
    if (p == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "cpu: cannot allocate %zu bytes", nbytes);
    *out = p;
    return SF_OK;
}

static void cpu_free(sf_device_t *dev, void *ptr)
{
    (void)dev;
    if (sf_shm_arena_owns(ptr))
        sf_shm_arena_free(ptr);
    else
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

static bool cpu_supports(const sf_device_t *dev, const sf_op_desc_t *op, const sf_node_t *node)
{
    (void)dev;
    (void)node; /* the reference kernels take every dtype and layout their shape rule accepts */
    return op->cpu_kernel != NULL;
}

static sf_status_t cpu_run(sf_device_t *dev, const sf_kernel_args_t *args, sf_err_t *err)
{
    (void)dev;
    return args->op->cpu_kernel(args, err);
}

static const sf_device_iface_t cpu_iface = {
    .name = "cpu",
    .touches_memory = true,
    .mem_kind = SF_MEMKIND_HOST,
    .supports = cpu_supports,
    .run = cpu_run,
    /* .sync stays NULL: a CPU kernel is done when it returns */
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
