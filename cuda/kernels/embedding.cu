/* embedding_vp's gather: one thread per output element (token t, column
 * j). The ids were checked against the vocab on the host before the
 * launch (the adapter reports a bad id as the CPU kernel does), so here an
 * id either falls in this rank's rows [start, start + Vlocal), whose bytes
 * are copied, or it does not, and the element is zero. Exact. */
#include "cu_view.cuh"
#include "kernel_math.h"

static __global__ void embedding_kernel(sf_cu_view_t y, sf_cu_view_t ids, sf_cu_view_t w,
                                        int64_t start, int64_t n)
{
    int64_t hidden = w.shape[1], v_local = w.shape[0];
    size_t es = sf_dtype_size_dev(w.dtype);
    SF_CU_EACH(k, n)
    {
        int64_t t = k / hidden, j = k % hidden;
        int64_t id = sf_convert_load_int((sf_dtype_t)ids.dtype, sf_cu_at(ids, t));
        char *dst = sf_cu_at(y, k);
        if (id < start || id >= start + v_local) {
            memset(dst, 0, es);
            continue;
        }
        const char *src =
            (const char *)w.data + ((id - start) * w.strides[0] + j * w.strides[1]) * (int64_t)es;
        memcpy(dst, src, es);
    }
}

int sf_cu_embedding(sf_cu_view_t y, sf_cu_view_t ids, sf_cu_view_t w, int64_t vocab_start,
                    void *stream)
{
    int64_t n = sf_cu_numel(y);
    if (n == 0)
        return 0;
    embedding_kernel<<<sf_cu_blocks(n), SF_CU_THREADS, 0, (cudaStream_t)stream>>>(
        y, ids, w, vocab_start, n);
    return sf_cu_launched();
}
