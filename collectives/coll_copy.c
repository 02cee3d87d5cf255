/* Local copies for the backends that move data without a network (self,
 * emulate): host memory with memmove/memset, GPU memory with the CUDA
 * runtime where this build has it (it comes with NCCL). A copy is complete
 * when it returns, like the host's: the caller synced its own stream
 * before the collective and reads the result after it. */
#include <string.h>

#ifdef SF_HAVE_NCCL
#include <cuda_runtime.h>
#endif

#include "coll.h"

bool sf_coll_copy_supports(sf_memkind_t mem)
{
#ifdef SF_HAVE_NCCL
    return mem == SF_MEMKIND_HOST || mem == SF_MEMKIND_CUDA;
#else
    return mem == SF_MEMKIND_HOST;
#endif
}

sf_status_t sf_coll_copy(sf_memkind_t mem, void *dst, const void *src, uint64_t nbytes,
                         sf_err_t *err)
{
    if (nbytes == 0 || dst == src)
        return SF_OK;
    if (mem == SF_MEMKIND_HOST) {
        memmove(dst, src, nbytes); /* an in-place collective may overlap */
        return SF_OK;
    }
#ifdef SF_HAVE_NCCL
    cudaError_t e = cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDefault, 0);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(0);
    if (e != cudaSuccess)
        return sf_err_set(err, SF_ERR_DEVICE, NULL, "collective: device copy failed: %s",
                          cudaGetErrorString(e));
    return SF_OK;
#else
    return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL, "collective: built without CUDA");
#endif
}

sf_status_t sf_coll_zero(sf_memkind_t mem, void *dst, uint64_t nbytes, sf_err_t *err)
{
    if (nbytes == 0)
        return SF_OK;
    if (mem == SF_MEMKIND_HOST) {
        memset(dst, 0, nbytes);
        return SF_OK;
    }
#ifdef SF_HAVE_NCCL
    cudaError_t e = cudaMemsetAsync(dst, 0, nbytes, 0);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(0);
    if (e != cudaSuccess)
        return sf_err_set(err, SF_ERR_DEVICE, NULL, "collective: device memset failed: %s",
                          cudaGetErrorString(e));
    return SF_OK;
#else
    return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL, "collective: built without CUDA");
#endif
}
