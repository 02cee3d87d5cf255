/* blas: OpenBLAS's sgemm, loaded at first use with the kernel chosen from
 * the CPU's features. OpenBLAS reads OPENBLAS_CORETYPE once, in its library
 * constructor, and on a VM with a masked CPU model it falls back to an SSE3
 * kernel (5x slower than its AVX-512 one); so shardflow never links it: it
 * sets the coretype from cpuid features, then dlopens it. */
#ifndef SF_BLAS_H
#define SF_BLAS_H

#include <stdbool.h>
#include <stdint.h>

#include "status.h"

/* What the coretype choice reads. Filled from cpuid (sf_blas_features_detect)
 * or by a test with a fake machine. */
typedef struct sf_blas_features {
    bool is_amd;
    bool has_avx2;
    bool has_fma;
    bool has_avx512f;
    bool has_avx512bw;
    bool has_avx512vl;
    bool has_avx512dq;
    bool has_avx512cd;
    bool has_avx512_bf16;
} sf_blas_features_t;

/* This CPU's features, as the compiler's cpuid support reports them (it also
 * checks that the OS saves the AVX-512 registers). Never fails. */
void sf_blas_features_detect(sf_blas_features_t *f);

/* The OPENBLAS_CORETYPE for a CPU with these features, or NULL to let
 * OpenBLAS detect (no AVX2). Pure: AVX-512 F/BW/VL/DQ/CD is "SkylakeX"
 * ("Cooperlake" with AVX512_BF16), AVX2 with FMA is "Haswell" ("Zen" on
 * AMD). The returned string is static. */
const char *sf_blas_coretype_for(const sf_blas_features_t *f);

/* Load OpenBLAS once per process (thread-safe; later calls return the first
 * result). Unless the user set them, sets OPENBLAS_CORETYPE (from
 * sf_blas_coretype_for) and OPENBLAS_NUM_THREADS=1 (ranks share cores)
 * before loading. Loads libopenblas.so.0, or SF_BLAS_LIBRARY (a path or a
 * soname) when set. SF_ERR_UNSUPPORTED naming the library when it is missing
 * or lacks cblas_sgemm. */
SF_NODISCARD sf_status_t sf_blas_load(sf_err_t *err);

/* The kernel OpenBLAS runs ("SkylakeX", ...) or "" when not loaded or not
 * known. Static storage. */
const char *sf_blas_corename(void);

/* Row-major C (m x n, row stride ldc) = A (m x k) @ op(B) + beta * C with op(B)
 * B or B^T (trans_b: B is n x k). Sizes fit in int (the caller checks).
 * sf_blas_load must have succeeded (asserted). Blocks; thread-safe. */
void sf_blas_sgemm(bool trans_b, int m, int n, int k, const float *a, int lda, const float *b,
                   int ldb, float beta, float *c, int ldc);

#endif
