/* blas: OpenBLAS opened with dlopen after choosing its kernel by CPU
 * features (see blas.h). The library is loaded once and never closed:
 * OpenBLAS's threads and buffers live until the process exits. */
#include "blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cblas's enum values (cblas.h), so no header of one BLAS is needed. */
enum { BLAS_ROW_MAJOR = 101, BLAS_NO_TRANS = 111, BLAS_TRANS = 112 };

typedef void (*blas_sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k,
                              float alpha, const float *a, int lda, const float *b, int ldb,
                              float beta, float *c, int ldc);
typedef char *(*blas_corename_fn)(void);
typedef void (*blas_set_threads_fn)(int n);

static struct {
    pthread_once_t once;
    sf_status_t status;
    char msg[sizeof ((sf_err_t *)0)->msg];
    void *lib;                  /* owned: never closed, see the file comment */
    blas_sgemm_fn sgemm;        /* borrowed: from lib */
    blas_corename_fn corename;  /* borrowed: from lib; NULL if it lacks one */
} blas = {.once = PTHREAD_ONCE_INIT};

void sf_blas_features_detect(sf_blas_features_t *f)
{
    __builtin_cpu_init();
    *f = (sf_blas_features_t){
        .is_amd = __builtin_cpu_is("amd"),
        .has_avx2 = __builtin_cpu_supports("avx2"),
        .has_fma = __builtin_cpu_supports("fma"),
        .has_avx512f = __builtin_cpu_supports("avx512f"),
        .has_avx512bw = __builtin_cpu_supports("avx512bw"),
        .has_avx512vl = __builtin_cpu_supports("avx512vl"),
        .has_avx512dq = __builtin_cpu_supports("avx512dq"),
        .has_avx512cd = __builtin_cpu_supports("avx512cd"),
        .has_avx512_bf16 = __builtin_cpu_supports("avx512bf16"),
    };
}

const char *sf_blas_coretype_for(const sf_blas_features_t *f)
{
    /* OpenBLAS's SkylakeX kernels are built with -march=skylake-avx512, so
     * they need all five of these; AMD's Zen 4 has them too and runs them. */
    bool has_skx = f->has_avx512f && f->has_avx512bw && f->has_avx512vl && f->has_avx512dq &&
                   f->has_avx512cd;
    if (has_skx)
        return f->has_avx512_bf16 ? "Cooperlake" : "SkylakeX";
    if (f->has_avx2 && f->has_fma)
        return f->is_amd ? "Zen" : "Haswell";
    return NULL;
}

static void blas_load_once(void)
{
    /* setenv races with a getenv in another thread. OpenBLAS offers no
     * other way in (it reads the variable in its constructor), so we accept
     * it: this runs once, at the first matmul or attention node, and the
     * comm libraries read their environment when they start, before that. */
    const char *user_core = getenv("OPENBLAS_CORETYPE");
    if (user_core == NULL || user_core[0] == '\0') {
        sf_blas_features_t f;
        sf_blas_features_detect(&f);
        const char *core = sf_blas_coretype_for(&f);
        if (core != NULL)
            setenv("OPENBLAS_CORETYPE", core, 1);
    }
    /* One thread per rank: ranks already share the cores. */
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    /* SF_BLAS_LIBRARY names another OpenBLAS build (a path or a soname). */
    const char *user_lib = getenv("SF_BLAS_LIBRARY");
    const char *names[] = {"libopenblas.so.0", "libopenblas.so"};
    size_t n_names = 2;
    if (user_lib != NULL && user_lib[0] != '\0') {
        names[0] = user_lib;
        n_names = 1;
    }
    for (size_t i = 0; i < n_names && blas.lib == NULL; i++) {
        blas.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (blas.lib == NULL && i == 0) { /* the first name's reason is the useful one */
            const char *e = dlerror();
            snprintf(blas.msg, sizeof blas.msg,
                     "matmul needs OpenBLAS (%s; Debian's libopenblas0): %s", names[0],
                     e != NULL ? e : "not found");
        }
    }
    if (blas.lib == NULL) {
        blas.status = SF_ERR_UNSUPPORTED;
        return;
    }
    blas.sgemm = (blas_sgemm_fn)dlsym(blas.lib, "cblas_sgemm");
    blas.corename = (blas_corename_fn)dlsym(blas.lib, "openblas_get_corename");
    if (blas.sgemm == NULL) {
        snprintf(blas.msg, sizeof blas.msg, "matmul needs cblas_sgemm, not found in %s",
                 names[0]);
        blas.status = SF_ERR_UNSUPPORTED;
        return;
    }
    /* A user's OPENBLAS_NUM_THREADS wins, as the coretype does. */
    blas_set_threads_fn set_threads = (blas_set_threads_fn)dlsym(blas.lib,
                                                                 "openblas_set_num_threads");
    const char *threads = getenv("OPENBLAS_NUM_THREADS");
    if (set_threads != NULL && threads != NULL && strcmp(threads, "1") == 0)
        set_threads(1);
    blas.status = SF_OK;
}

sf_status_t sf_blas_load(sf_err_t *err)
{
    pthread_once(&blas.once, blas_load_once);
    if (blas.status != SF_OK)
        return sf_err_set(err, blas.status, NULL, "%s", blas.msg);
    return SF_OK;
}

const char *sf_blas_corename(void)
{
    if (blas.sgemm == NULL || blas.corename == NULL)
        return "";
    const char *s = blas.corename();
    return s != NULL ? s : "";
}

void sf_blas_sgemm(bool trans_b, int m, int n, int k, const float *a, int lda, const float *b,
                   int ldb, float beta, float *c, int ldc)
{
    SF_ASSERT(blas.sgemm != NULL);
    blas.sgemm(BLAS_ROW_MAJOR, BLAS_NO_TRANS, trans_b ? BLAS_TRANS : BLAS_NO_TRANS, m, n, k, 1.0f,
               a, lda, b, ldb, beta, c, ldc);
}
