/* The cuda device (see cuda_device.h): lazy open, one stream, cudaMallocAsync
 * on a pool that keeps its memory, copies, and the kernel table's dispatch.
 * cudaError_t stops here and in the adapters: it becomes SF_ERR_DEVICE, or
 * SF_ERR_NOMEM for an allocation the GPU cannot satisfy. */
#include <cuda_runtime.h>
#include <cublas_v2.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_blas.h"
#include "cuda_kernels.h"
#include "graph.h"

typedef struct cuda_state {
    bool is_open;
    int ordinal;
    cudaStream_t stream;
    cublasHandle_t blas;
    cudaMemPool_t pool; /* the GPU's default pool, set to keep what it reserves */
} cuda_state_t;

static cuda_state_t state;

static sf_status_t cuda_fail(sf_err_t *err, cudaError_t e, const char *call)
{
    return sf_err_set(err, e == cudaErrorMemoryAllocation ? SF_ERR_NOMEM : SF_ERR_DEVICE, NULL,
                      "cuda device %d: %s failed: %s (%s)", state.ordinal, call,
                      cudaGetErrorString(e), cudaGetErrorName(e));
}

sf_status_t sf_cuda_check(int cuda_error, const char *what, const sf_node_t *node, sf_err_t *err)
{
    if (cuda_error == 0)
        return SF_OK;
    cudaError_t e = (cudaError_t)cuda_error;
    return sf_err_set(err, SF_ERR_DEVICE, node != NULL ? &node->pos : NULL,
                      "cuda device %d: node '%s': %s failed: %s (%s)", state.ordinal,
                      node != NULL ? node->name : "?", what, cudaGetErrorString(e),
                      cudaGetErrorName(e));
}

/* LOCAL_RANK (torchrun, our launcher) picks the GPU, as in the NCCL
 * backend, so the comm and the device of one rank agree. */
static sf_status_t local_rank(int *out, sf_err_t *err)
{
    const char *s = getenv("LOCAL_RANK");
    *out = 0;
    if (s == NULL || *s == '\0')
        return SF_OK;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > 1 << 20)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "cuda device: LOCAL_RANK='%s' is not a non-negative integer", s);
    *out = (int)v;
    return SF_OK;
}

static sf_status_t cuda_open(sf_err_t *err)
{
    if (state.is_open)
        return SF_OK;
    int n = 0, lr;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0)
        return sf_err_set(err, SF_ERR_DEVICE, NULL, "cuda device: no CUDA GPU is visible (%s)",
                          e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    sf_status_t st = local_rank(&lr, err);
    if (st != SF_OK)
        return st;
    state.ordinal = lr % n;
    if ((e = cudaSetDevice(state.ordinal)) != cudaSuccess)
        return cuda_fail(err, e, "cudaSetDevice");
    if ((e = cudaStreamCreateWithFlags(&state.stream, cudaStreamNonBlocking)) != cudaSuccess)
        return cuda_fail(err, e, "cudaStreamCreate");
    if ((e = cudaDeviceGetDefaultMemPool(&state.pool, state.ordinal)) != cudaSuccess)
        return cuda_fail(err, e, "cudaDeviceGetDefaultMemPool");
    /* Keep freed memory reserved, as PyTorch's caching allocator does: a
     * step's buffers are reused by the next without going to the driver. */
    uint64_t keep = UINT64_MAX;
    if ((e = cudaMemPoolSetAttribute(state.pool, cudaMemPoolAttrReleaseThreshold, &keep)) !=
        cudaSuccess)
        return cuda_fail(err, e, "cudaMemPoolSetAttribute");
    const sf_cublas_t *blas;
    if ((st = sf_cublas(&blas, err)) != SF_OK)
        return st;
    cublasStatus_t bs = blas->create(&state.blas);
    if (bs != CUBLAS_STATUS_SUCCESS)
        return sf_err_set(err, SF_ERR_DEVICE, NULL, "cuda device %d: cublasCreate failed: %s",
                          state.ordinal, blas->status_string(bs));
    if ((bs = blas->set_stream(state.blas, state.stream)) != CUBLAS_STATUS_SUCCESS)
        return sf_err_set(err, SF_ERR_DEVICE, NULL, "cuda device %d: cublasSetStream failed: %s",
                          state.ordinal, blas->status_string(bs));
    state.is_open = true;
    return SF_OK;
}

sf_status_t sf_cuda_stream(sf_device_t *dev, void **stream, sf_err_t *err)
{
    (void)dev;
    sf_status_t st = cuda_open(err);
    *stream = st == SF_OK ? (void *)state.stream : NULL;
    return st;
}

sf_status_t sf_cuda_blas(sf_device_t *dev, void **handle, sf_err_t *err)
{
    (void)dev;
    sf_status_t st = cuda_open(err);
    *handle = st == SF_OK ? (void *)state.blas : NULL;
    return st;
}

sf_cu_view_t sf_cuda_view(const sf_tensor_t *t)
{
    sf_cu_view_t v = {.data = sf_tensor_data(t), .dtype = (int)t->dtype, .ndim = t->ndim};
    memcpy(v.shape, t->shape, sizeof v.shape);
    memcpy(v.strides, t->strides, sizeof v.strides);
    return v;
}

bool sf_cuda_available(void)
{
    static int answer = -1;
    if (answer < 0) {
        int n = 0;
        answer = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
    }
    return answer == 1;
}

/* ---- the device hooks --------------------------------------------------- */

static sf_status_t sync_stream(sf_err_t *err)
{
    cudaError_t e = cudaStreamSynchronize(state.stream);
    return e == cudaSuccess ? SF_OK : cuda_fail(err, e, "cudaStreamSynchronize");
}

static sf_status_t cuda_alloc(sf_device_t *dev, size_t nbytes, void **out, sf_err_t *err)
{
    (void)dev;
    *out = NULL;
    sf_status_t st = cuda_open(err);
    if (st != SF_OK || nbytes == 0)
        return st;
    /* Stream-ordered: memory freed by earlier work on the stream is reused
     * without a sync, and a buffer is never handed out while a kernel that
     * used it may still run. */
    cudaError_t e = cudaMallocAsync(out, nbytes, state.stream);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* an allocation failure is not sticky */
        *out = NULL;
        return sf_err_set(err, e == cudaErrorMemoryAllocation ? SF_ERR_NOMEM : SF_ERR_DEVICE,
                          NULL, "cuda device %d: cannot allocate %zu bytes: %s", state.ordinal,
                          nbytes, cudaGetErrorString(e));
    }
    return SF_OK;
}

static void cuda_free(sf_device_t *dev, void *ptr)
{
    (void)dev;
    if (ptr != NULL && state.is_open)
        (void)cudaFreeAsync(ptr, state.stream);
}

static sf_status_t cuda_copy(sf_device_t *dev, void *dst, const void *src, size_t nbytes,
                             sf_err_t *err)
{
    (void)dev;
    const char *d = dst, *s = src;
    if (d < s + nbytes && s < d + nbytes && d != s) {
        /* cudaMemcpy does not promise memmove semantics: go through a
         * temporary on overlap (rare: a shift within one buffer). */
        void *tmp;
        sf_status_t st = cuda_alloc(dev, nbytes, &tmp, err);
        if (st != SF_OK)
            return st;
        cudaError_t e = cudaMemcpyAsync(tmp, src, nbytes, cudaMemcpyDeviceToDevice, state.stream);
        if (e == cudaSuccess)
            e = cudaMemcpyAsync(dst, tmp, nbytes, cudaMemcpyDeviceToDevice, state.stream);
        cuda_free(dev, tmp);
        return e == cudaSuccess ? sync_stream(err) : cuda_fail(err, e, "cudaMemcpyAsync");
    }
    cudaError_t e = cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, state.stream);
    return e == cudaSuccess ? sync_stream(err) : cuda_fail(err, e, "cudaMemcpyAsync");
}

static sf_status_t cuda_upload(sf_device_t *dev, void *dst, const void *host_src, size_t nbytes,
                               sf_err_t *err)
{
    (void)dev;
    sf_status_t st = cuda_open(err);
    if (st != SF_OK)
        return st;
    cudaError_t e = cudaMemcpyAsync(dst, host_src, nbytes, cudaMemcpyHostToDevice, state.stream);
    /* The host buffer may be freed as soon as we return. */
    return e == cudaSuccess ? sync_stream(err) : cuda_fail(err, e, "cudaMemcpyAsync (upload)");
}

static sf_status_t cuda_download(sf_device_t *dev, void *host_dst, const void *src, size_t nbytes,
                                 sf_err_t *err)
{
    (void)dev;
    sf_status_t st = cuda_open(err);
    if (st != SF_OK)
        return st;
    cudaError_t e = cudaMemcpyAsync(host_dst, src, nbytes, cudaMemcpyDeviceToHost, state.stream);
    return e == cudaSuccess ? sync_stream(err) : cuda_fail(err, e, "cudaMemcpyAsync (download)");
}

static sf_status_t cuda_fill(sf_device_t *dev, void *dst, uint8_t byte, size_t nbytes,
                             sf_err_t *err)
{
    (void)dev;
    cudaError_t e = cudaMemsetAsync(dst, byte, nbytes, state.stream);
    return e == cudaSuccess ? sync_stream(err) : cuda_fail(err, e, "cudaMemsetAsync");
}

static sf_status_t cuda_copy_tensor(sf_device_t *dev, sf_tensor_t *dst, const sf_tensor_t *src,
                                    sf_err_t *err)
{
    (void)dev;
    /* In place already (an aliased concat input): nothing to do, as on the host. */
    if (dst->dtype == src->dtype && sf_tensor_data(dst) == sf_tensor_data(src) &&
        memcmp(dst->strides, src->strides, sizeof(int64_t) * (size_t)src->ndim) == 0)
        return SF_OK;
    int e = sf_cu_copy(sf_cuda_view(dst), sf_cuda_view(src), state.stream);
    return sf_cuda_check(e, "copy kernel", NULL, err);
}

static sf_status_t cuda_fill_tensor(sf_device_t *dev, sf_tensor_t *t, const void *elem,
                                   sf_err_t *err)
{
    (void)dev;
    return sf_cuda_check(sf_cu_fill(sf_cuda_view(t), elem, state.stream), "fill kernel", NULL,
                         err);
}

static bool cuda_supports(const sf_device_t *dev, const sf_op_desc_t *op, const sf_node_t *node)
{
    (void)dev;
    const sf_cuda_kernel_t *k = sf_cuda_kernel_for(sf_op_id(op));
    if (k->run == NULL)
        return false;
    return node == NULL || k->supports == NULL || k->supports(node);
}

static sf_status_t cuda_run(sf_device_t *dev, const sf_kernel_args_t *args, sf_err_t *err)
{
    (void)dev;
    sf_status_t st = cuda_open(err);
    if (st != SF_OK)
        return st;
    const sf_cuda_kernel_t *k = sf_cuda_kernel_for(sf_op_id(args->op));
    SF_ASSERT(k->run != NULL); /* the executor asked supports() first */
    return k->run(args, err);
}

static sf_status_t cuda_sync(sf_device_t *dev, sf_err_t *err)
{
    (void)dev;
    return state.is_open ? sync_stream(err) : SF_OK;
}

static uint64_t cuda_reserved(const sf_device_t *dev)
{
    (void)dev;
    uint64_t v = 0;
    if (state.is_open &&
        cudaMemPoolGetAttribute(state.pool, cudaMemPoolAttrReservedMemCurrent, &v) != cudaSuccess)
        v = 0;
    return v;
}

static uint64_t cuda_used(const sf_device_t *dev)
{
    (void)dev;
    size_t free_b = 0, total_b = 0;
    if (!state.is_open || cudaMemGetInfo(&free_b, &total_b) != cudaSuccess)
        return 0;
    return (uint64_t)(total_b - free_b);
}

static const sf_device_iface_t cuda_iface = {
    .name = "cuda",
    .touches_memory = true,
    .mem_kind = SF_MEMKIND_CUDA,
    .supports = cuda_supports,
    .run = cuda_run,
    .sync = cuda_sync,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .copy = cuda_copy,
    .upload = cuda_upload,
    .download = cuda_download,
    .fill = cuda_fill,
    .scratch_bytes = sf_cuda_scratch_bytes,
    .copy_tensor = cuda_copy_tensor,
    .reserved_bytes = cuda_reserved,
    .used_bytes = cuda_used,
    .fill_tensor = cuda_fill_tensor,
};

void sf_cuda_register(void)
{
    static sf_device_t dev = {.iface = &cuda_iface, .impl = &state};
    if (sf_device_by_name("cuda") == NULL)
        sf_device_register(&dev);
}
