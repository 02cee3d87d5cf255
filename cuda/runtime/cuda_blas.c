/* Loading cuBLAS: see cuda_blas.h. */
#include "cuda_blas.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>

#define SF_STR2(x) #x
#define SF_STR(x) SF_STR2(x)

static sf_cublas_t table;
static bool is_loaded;

static bool resolve(void *lib, const char *name, void **slot)
{
    *slot = dlsym(lib, name);
    return *slot != NULL;
}

sf_status_t sf_cublas(const sf_cublas_t **out, sf_err_t *err)
{
    *out = NULL;
    if (is_loaded) {
        *out = &table;
        return SF_OK;
    }
    /* The major version the headers were written for: its ABI. */
    const char *names[] = {"libcublas.so." SF_STR(CUBLAS_VER_MAJOR), "libcublas.so"};
    void *lib = NULL;
    for (int i = 0; i < 2 && lib == NULL; i++)
        lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        return sf_err_set(err, SF_ERR_DEVICE, NULL, "cuda device: cannot load %s: %s", names[0],
                          dlerror());
    sf_cublas_t t;
    /* dlsym hands back void *; the table's types come from the header. */
    if (!resolve(lib, "cublasCreate_v2", (void **)&t.create) ||
        !resolve(lib, "cublasSetStream_v2", (void **)&t.set_stream) ||
        !resolve(lib, "cublasSetWorkspace_v2", (void **)&t.set_workspace) ||
        !resolve(lib, "cublasGemmEx", (void **)&t.gemm_ex) ||
        !resolve(lib, "cublasGemmStridedBatchedEx", (void **)&t.gemm_strided_batched_ex) ||
        !resolve(lib, "cublasGetStatusString", (void **)&t.status_string)) {
        sf_status_t st = sf_err_set(err, SF_ERR_DEVICE, NULL, "cuda device: %s lacks %s",
                                    names[0], dlerror());
        dlclose(lib);
        return st;
    }
    table = t;
    is_loaded = true; /* the library stays loaded for the process */
    *out = &table;
    return SF_OK;
}
