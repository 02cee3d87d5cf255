/* Benchmark buffers: host memory from the cpu device's allocator, as the
 * executor gives tensors (large ones from the shared arena once the
 * communicator turned it on, so collbench times what a graph's collectives
 * get), CUDA memory through the CUDA runtime when the build has it. CUDA
 * errors become SF_ERR_DEVICE here. */
#include "collbench_buf.h"

#include <stdlib.h>
#include <string.h>

#include "device.h"

#ifdef SF_HAVE_NCCL
#include <cuda_runtime.h>

static sf_status_t cuda_fail(sf_err_t *err, cudaError_t e, const char *call, size_t nbytes)
{
    return sf_err_set(err, e == cudaErrorMemoryAllocation ? SF_ERR_NOMEM : SF_ERR_DEVICE, NULL,
                      "collbench: %s (%zu bytes) failed: %s", call, nbytes,
                      cudaGetErrorString(e));
}

/* cudaMemcpy from pageable memory and cudaMemset may return before the
 * device has finished; the collectives run on their own non-blocking
 * stream, which does not wait for the legacy stream. */
static sf_status_t cuda_settle(sf_err_t *err, const char *call, size_t nbytes)
{
    cudaError_t e = cudaDeviceSynchronize();
    return e == cudaSuccess ? SF_OK : cuda_fail(err, e, call, nbytes);
}
#endif

sf_status_t sf_collbench_buf_init(sf_collbench_buf_t *b, sf_memkind_t mem, size_t nbytes,
                                  sf_err_t *err)
{
    b->mem = mem;
    b->ptr = NULL;
    b->nbytes = 0;
    size_t alloc_bytes = nbytes > 0 ? nbytes : 1;
    if (mem == SF_MEMKIND_HOST) {
        sf_status_t st = sf_device_alloc(sf_device_cpu(), alloc_bytes, &b->ptr, err);
        if (st != SF_OK)
            return st;
        b->nbytes = nbytes;
        return SF_OK;
    }
#ifdef SF_HAVE_NCCL
    cudaError_t e = cudaMalloc(&b->ptr, alloc_bytes);
    if (e != cudaSuccess) {
        b->ptr = NULL;
        return cuda_fail(err, e, "cudaMalloc", nbytes);
    }
    b->nbytes = nbytes;
    return SF_OK;
#else
    return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL,
                      "collbench: CUDA memory requested, but this build has no CUDA");
#endif
}

void sf_collbench_buf_fini(sf_collbench_buf_t *b)
{
    if (b->ptr == NULL)
        return;
    if (b->mem == SF_MEMKIND_HOST)
        sf_device_free(sf_device_cpu(), b->ptr);
#ifdef SF_HAVE_NCCL
    else
        (void)cudaFree(b->ptr);
#endif
    b->ptr = NULL;
    b->nbytes = 0;
}

sf_status_t sf_collbench_buf_store(sf_collbench_buf_t *b, const void *host, size_t nbytes,
                                   sf_err_t *err)
{
    SF_ASSERT(nbytes <= b->nbytes);
    if (nbytes == 0)
        return SF_OK;
    if (b->mem == SF_MEMKIND_HOST) {
        memcpy(b->ptr, host, nbytes);
        return SF_OK;
    }
#ifdef SF_HAVE_NCCL
    cudaError_t e = cudaMemcpy(b->ptr, host, nbytes, cudaMemcpyHostToDevice);
    if (e != cudaSuccess)
        return cuda_fail(err, e, "cudaMemcpy to device", nbytes);
    return cuda_settle(err, "cudaMemcpy to device", nbytes);
#else
    return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL, "collbench: no CUDA in this build");
#endif
}

sf_status_t sf_collbench_buf_poison(sf_collbench_buf_t *b, sf_err_t *err)
{
    if (b->nbytes == 0)
        return SF_OK;
    if (b->mem == SF_MEMKIND_HOST) {
        memset(b->ptr, 0xff, b->nbytes);
        return SF_OK;
    }
#ifdef SF_HAVE_NCCL
    cudaError_t e = cudaMemset(b->ptr, 0xff, b->nbytes);
    if (e != cudaSuccess)
        return cuda_fail(err, e, "cudaMemset", b->nbytes);
    return cuda_settle(err, "cudaMemset", b->nbytes);
#else
    return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL, "collbench: no CUDA in this build");
#endif
}

sf_status_t sf_collbench_buf_fetch(const sf_collbench_buf_t *b, void *staging, size_t nbytes,
                                   const void **view, sf_err_t *err)
{
    SF_ASSERT(nbytes <= b->nbytes);
    *view = NULL;
    if (b->mem == SF_MEMKIND_HOST) {
        *view = b->ptr;
        return SF_OK;
    }
#ifdef SF_HAVE_NCCL
    if (nbytes > 0) {
        /* To pageable memory cudaMemcpy returns only once the bytes are there. */
        cudaError_t e = cudaMemcpy(staging, b->ptr, nbytes, cudaMemcpyDeviceToHost);
        if (e != cudaSuccess)
            return cuda_fail(err, e, "cudaMemcpy to host", nbytes);
    }
    *view = staging;
    return SF_OK;
#else
    (void)staging;
    return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL, "collbench: no CUDA in this build");
#endif
}
