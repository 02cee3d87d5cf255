/* What the .cu files export to the C side: plain launchers, one per kernel
 * family, taking device pointers as strided views and a stream. This header
 * is read by both the C compiler and nvcc (C++), so it holds only plain
 * structs and extern "C" declarations. A launcher enqueues its work on the
 * stream and returns the CUDA error code of the launch (0: cudaSuccess) as
 * an int, so no CUDA type crosses into C; cuda/runtime turns it into an
 * sf_err_t. The .cu files only map threads to elements: the math is in
 * ops/kernel_math.h and core/dtype.h, shared with the CPU kernels. */
#ifndef SF_CUDA_LAUNCH_H
#define SF_CUDA_LAUNCH_H

#include <stdint.h>

#include "dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A tensor as a kernel sees it: element 0's device address, its dtype and
 * its strided layout (strides in elements, as sf_tensor_t). */
typedef struct sf_cu_view {
    void *data;
    int dtype; /* sf_dtype_t */
    int ndim;
    int64_t shape[SF_MAX_DIMS];
    int64_t strides[SF_MAX_DIMS];
} sf_cu_view_t;

/* dst[i] = src[i] for every multi-index i of dst's shape (src has the same
 * shape), converting dtypes with the CPU copy's rules: the strided copy
 * behind concat, slice/split copies, pad's body, cast and the device's
 * copy_tensor. */
int sf_cu_copy(sf_cu_view_t dst, sf_cu_view_t src, void *stream);

/* Each launcher below follows the op's CPU kernel (ops/) element for
 * element; the views have the shapes the op's shape rule gave. */

/* add (is_mul 0) or mul: out = a op b, b given over a's shape (stride 0
 * along the dims it repeats over). */
int sf_cu_binop(int is_mul, sf_cu_view_t out, sf_cu_view_t a, sf_cu_view_t b, void *stream);
/* swiglu: out = silu(gate) * up, with the CPU's two roundings. */
int sf_cu_swiglu(sf_cu_view_t out, sf_cu_view_t gate, sf_cu_view_t up, void *stream);
/* cast: out = in converted with cast's rules (saturating float -> int). */
int sf_cu_cast(sf_cu_view_t out, sf_cu_view_t in, void *stream);
/* fill: every element of out gets the sf_dtype_size(out.dtype) bytes at
 * elem (host memory, read before the call returns). */
int sf_cu_fill(sf_cu_view_t out, const void *elem, void *stream);
/* arange: element i (row-major) = start + i * step, stored as
 * sf_convert_store does. */
int sf_cu_arange(sf_cu_view_t out, double start, double step, void *stream);
/* rmsnorm over x's last dim with weight w (1-D); y has x's shape. */
int sf_cu_rmsnorm(sf_cu_view_t y, sf_cu_view_t x, sf_cu_view_t w, float eps, void *stream);
/* rope on x (T, heads, hd), token t at position t % seq. */
int sf_cu_rope(sf_cu_view_t y, sf_cu_view_t x, int64_t seq, float theta, void *stream);
/* softmax of x over dim (0 <= dim < ndim) into y (x's shape). */
int sf_cu_softmax(sf_cu_view_t y, sf_cu_view_t x, int dim, void *stream);
/* argmax of x over dim into out: the other dims' elements in row-major
 * order, contiguous i64 (device memory). */
int sf_cu_argmax(int64_t *out, sf_cu_view_t x, int dim, void *stream);
/* embedding_vp's gather: y (T, H) row t = w's row ids[t] - vocab_start
 * when that row is held, else zeros. ids (any shape, T elements) must
 * already be known to lie in the vocab. */
int sf_cu_embedding(sf_cu_view_t y, sf_cu_view_t ids, sf_cu_view_t w, int64_t vocab_start,
                    void *stream);

/* attention: each lane of a warp keeps this many dims of its query and
 * accumulator in registers, so head_dim is at most 32 times that. */
#define SF_CU_ATT_DIMS_PER_LANE 8
#define SF_CU_ATT_MAX_HEAD_DIM (32 * SF_CU_ATT_DIMS_PER_LANE)

typedef struct sf_cu_attention {
    sf_cu_view_t q, k, v; /* (T, heads, hd), (T, kv_heads, hd) twice */
    sf_cu_view_t o;       /* q's shape */
    sf_cu_view_t mask;    /* key_mask (B, seq), i32/i64/u8; data NULL: none */
    int64_t seq;          /* tokens per sequence; T = B * seq */
    float scale;          /* applied to each q . k */
} sf_cu_attention_t;

/* Causal GQA attention; head_dim <= SF_CU_ATT_MAX_HEAD_DIM and B, heads
 * <= 65535 (grid dims), else cudaErrorInvalidValue without a launch. */
int sf_cu_attention(const sf_cu_attention_t *a, void *stream);

#ifdef __cplusplus
}
#endif

#endif
