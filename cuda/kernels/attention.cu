/* attention: causal grouped-query attention with FlashAttention's online
 * softmax, never an (S, S) matrix. A block takes ATT_ROWS consecutive
 * queries of one head of one sequence, one warp per query; the block
 * stages ATT_TK keys and values of the head's kv head at a time in shared
 * memory (f32), and each warp folds them into its query one key at a time:
 * a dot product split over the lanes (lane l holds dims l, l + 32, ...),
 * summed by a butterfly that leaves every lane the same bits, then
 * sf_km_softmax_push and the rescaled accumulator, in registers. Masked or
 * future keys are skipped; a query that sees no key outputs zeros. Rounded
 * once into the output dtype, as the CPU kernel does. No scratch. */
#include "cu_view.cuh"
#include "kernel_math.h"

enum {
    ATT_ROWS = 8,   /* queries (warps) per block */
    ATT_TK = 16,    /* keys per shared-memory tile */
    ATT_WARP = 32,
};

/* Address of element (t, h, d) of a (T, heads, hd) view. */
static __device__ __forceinline__ const char *att_at(const sf_cu_view_t &v, int64_t t, int64_t h,
                                                     int64_t d)
{
    return (const char *)v.data +
           (t * v.strides[0] + h * v.strides[1] + d * v.strides[2]) *
               (int64_t)sf_dtype_size_dev(v.dtype);
}

static __device__ bool att_key_live(const sf_cu_view_t &mask, int64_t b, int64_t j)
{
    if (mask.data == NULL)
        return true;
    const char *p = (const char *)mask.data +
                    (b * mask.strides[0] + j * mask.strides[1]) *
                        (int64_t)sf_dtype_size_dev(mask.dtype);
    return sf_convert_load_int((sf_dtype_t)mask.dtype, p) != 0;
}

static __global__ void attention_kernel(sf_cu_attention_t a)
{
    extern __shared__ float att_tiles[]; /* K tile then V tile, ATT_TK x hd each */
    int64_t hd = a.q.shape[2], group = a.q.shape[1] / a.k.shape[1];
    int64_t b = blockIdx.z, h = blockIdx.y, kvh = h / group;
    int64_t q0 = (int64_t)blockIdx.x * ATT_ROWS;
    int lane = (int)(threadIdx.x % ATT_WARP);
    int64_t qi = q0 + (int64_t)(threadIdx.x / ATT_WARP); /* this warp's query, in its sequence */
    bool is_live = qi < a.seq;
    int64_t t_base = b * a.seq;
    sf_dtype_t qdt = (sf_dtype_t)a.q.dtype, kdt = (sf_dtype_t)a.k.dtype;
    sf_dtype_t vdt = (sf_dtype_t)a.v.dtype;

    float qv[SF_CU_ATT_DIMS_PER_LANE], acc[SF_CU_ATT_DIMS_PER_LANE];
#pragma unroll
    for (int u = 0; u < SF_CU_ATT_DIMS_PER_LANE; u++) {
        int64_t d = lane + (int64_t)u * ATT_WARP;
        qv[u] = is_live && d < hd ? sf_km_load(qdt, att_at(a.q, t_base + qi, h, d)) : 0.0f;
        acc[u] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;

    /* Causal: the block's last query sees keys below q0 + ATT_ROWS. */
    int64_t k_end = q0 + ATT_ROWS < a.seq ? q0 + ATT_ROWS : a.seq;
    float *kt = att_tiles, *vt = att_tiles + ATT_TK * hd;
    for (int64_t k0 = 0; k0 < k_end; k0 += ATT_TK) {
        int64_t nk = k_end - k0 < ATT_TK ? k_end - k0 : ATT_TK;
        for (int64_t e = threadIdx.x; e < nk * hd; e += blockDim.x) {
            int64_t r = e / hd, d = e % hd;
            kt[e] = sf_km_load(kdt, att_at(a.k, t_base + k0 + r, kvh, d));
            vt[e] = sf_km_load(vdt, att_at(a.v, t_base + k0 + r, kvh, d));
        }
        __syncthreads();
        /* Branches below depend only on the warp's query: warp-uniform. */
        for (int64_t c = 0; is_live && c < nk && k0 + c <= qi; c++) {
            if (!att_key_live(a.mask, b, k0 + c))
                continue;
            float part = 0.0f;
#pragma unroll
            for (int u = 0; u < SF_CU_ATT_DIMS_PER_LANE; u++) {
                int64_t d = lane + (int64_t)u * ATT_WARP;
                if (d < hd)
                    part += qv[u] * kt[c * hd + d];
            }
            /* Butterfly: a + b == b + a, so every lane ends with the same sum. */
            for (int off = ATT_WARP / 2; off > 0; off /= 2)
                part += __shfl_xor_sync(0xffffffffu, part, off);
            float p;
            float factor = sf_km_softmax_push(&m, &l, part * a.scale, &p);
#pragma unroll
            for (int u = 0; u < SF_CU_ATT_DIMS_PER_LANE; u++) {
                int64_t d = lane + (int64_t)u * ATT_WARP;
                if (d < hd)
                    acc[u] = acc[u] * factor + p * vt[c * hd + d];
            }
        }
        __syncthreads(); /* the tiles are reloaded next round */
    }
    if (!is_live)
        return;
    float inv = l > 0.0f ? 1.0f / l : 0.0f;
    sf_dtype_t odt = (sf_dtype_t)a.o.dtype;
#pragma unroll
    for (int u = 0; u < SF_CU_ATT_DIMS_PER_LANE; u++) {
        int64_t d = lane + (int64_t)u * ATT_WARP;
        if (d < hd)
            sf_km_store(odt, (char *)att_at(a.o, t_base + qi, h, d), acc[u] * inv);
    }
}

int sf_cu_attention(const sf_cu_attention_t *a, void *stream)
{
    int64_t n_tok = a->q.shape[0], hd = a->q.shape[2];
    if (n_tok == 0 || a->q.shape[1] == 0 || hd == 0)
        return 0;
    if (hd > SF_CU_ATT_MAX_HEAD_DIM || a->seq <= 0 || n_tok / a->seq > 65535 ||
        a->q.shape[1] > 65535)
        return (int)cudaErrorInvalidValue; /* the adapter refuses these first */
    dim3 grid((unsigned)((a->seq + ATT_ROWS - 1) / ATT_ROWS), (unsigned)a->q.shape[1],
              (unsigned)(n_tok / a->seq));
    size_t shared = 2 * ATT_TK * (size_t)hd * sizeof(float);
    attention_kernel<<<grid, ATT_ROWS * ATT_WARP, shared, (cudaStream_t)stream>>>(*a);
    return sf_cu_launched();
}
