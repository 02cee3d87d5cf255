/* cuBLAS as the cuda device loads it (cuda/runtime/cuda_blas.h: dlopened
 * when the device opens, so CPU runs do not map it). This suite links
 * cuBLAS the ordinary way and checks that the library the device opens is
 * the one linked: every entry point of the table is the very function the
 * linker bound. No GPU is needed to load a library, so this runs wherever
 * the build has CUDA; elsewhere it says SKIP. */
#include <check.h>
#include <stdio.h>

#include "test_util.h"

#ifdef SF_HAVE_CUDA
#include "cuda_blas.h"

START_TEST(test_loaded_table_is_the_linked_library)
{
    const sf_cublas_t *t = NULL;
    sf_err_t err = {0};
    ck_assert_msg(sf_cublas(&t, &err) == SF_OK, "%s", err.msg);
    ck_assert_ptr_eq(t->create, &cublasCreate_v2);
    ck_assert_ptr_eq(t->set_stream, &cublasSetStream_v2);
    ck_assert_ptr_eq(t->set_workspace, &cublasSetWorkspace_v2);
    ck_assert_ptr_eq(t->gemm_ex, &cublasGemmEx);
    ck_assert_ptr_eq(t->gemm_strided_batched_ex, &cublasGemmStridedBatchedEx);
    ck_assert_ptr_eq(t->status_string, &cublasGetStatusString);
    /* Loaded once: a second call hands back the same table. */
    const sf_cublas_t *again = NULL;
    ck_assert_int_eq(sf_cublas(&again, &err), SF_OK);
    ck_assert_ptr_eq(again, t);
    ck_assert_str_eq(t->status_string(CUBLAS_STATUS_SUCCESS), "success");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cuda_blas");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, test_loaded_table_is_the_linked_library);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
#else
int main(void)
{
    printf("SKIP: built without CUDA (no cuBLAS to load)\n");
    return 77;
}
#endif
