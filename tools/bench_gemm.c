/* bench_gemm: single-core GFLOP/s of one library's cblas_sgemm, loaded with
 * dlopen exactly as named (no coretype is chosen here: tools/bench_gemm.sh
 * sets OPENBLAS_CORETYPE per row), for C (M x N) = A (M x K) @ B (N x K)^T,
 * the lm_head layout. Prints "<corename> <best GFLOP/s>".
 *   bench_gemm LIBRARY M N K [REPS] */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *,
                         int, float, float *, int);
typedef char *(*corename_fn)(void);

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_gemm LIBRARY M N K [REPS]\n");
        return 2;
    }
    int m = atoi(argv[2]), n = atoi(argv[3]), k = atoi(argv[4]);
    int reps = argc > 5 ? atoi(argv[5]) : 3;
    if (m <= 0 || n <= 0 || k <= 0 || reps <= 0) {
        fprintf(stderr, "bench_gemm: M, N, K and REPS must be positive\n");
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "bench_gemm: %s\n", dlerror());
        return 1;
    }
    sgemm_fn sgemm = (sgemm_fn)dlsym(lib, "cblas_sgemm");
    corename_fn corename = (corename_fn)dlsym(lib, "openblas_get_corename");
    if (sgemm == NULL) {
        fprintf(stderr, "bench_gemm: %s has no cblas_sgemm\n", argv[1]);
        return 1;
    }
    float *a = malloc((size_t)m * (size_t)k * sizeof *a);
    float *b = malloc((size_t)n * (size_t)k * sizeof *b);
    float *c = malloc((size_t)m * (size_t)n * sizeof *c);
    if (a == NULL || b == NULL || c == NULL) {
        fprintf(stderr, "bench_gemm: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < (size_t)m * (size_t)k; i++)
        a[i] = (float)(i % 7) * 0.125f;
    for (size_t i = 0; i < (size_t)n * (size_t)k; i++)
        b[i] = (float)(i % 5) * 0.25f;
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = sf_clock_now_s();
        /* 101 row-major, 111 no transpose, 112 transpose (cblas.h) */
        sgemm(101, 111, 112, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
        double gflops = 2.0 * m * n * k / (sf_clock_now_s() - t0) / 1e9;
        if (gflops > best)
            best = gflops;
    }
    printf("%s %.1f\n", corename != NULL ? corename() : "-", best);
    free(a);
    free(b);
    free(c);
    return 0;
}
