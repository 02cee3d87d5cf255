/* blas: the OPENBLAS_CORETYPE chosen for fake feature sets (a pure
 * function: machines differ per run, so no test assumes this CPU), and on
 * this machine that the library loads with that kernel unless the user
 * named one. Each test forks (CK_FORK), so each loads OpenBLAS afresh. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "blas.h"
#include "test_util.h"

START_TEST(test_blas_coretype_by_features)
{
    sf_blas_features_t none = {0};
    ck_assert_ptr_null(sf_blas_coretype_for(&none));
    /* AVX2 without FMA (some VMs mask FMA): no AVX2 kernel fits. */
    sf_blas_features_t avx2 = {.has_avx2 = true};
    ck_assert_ptr_null(sf_blas_coretype_for(&avx2));
    sf_blas_features_t hsw = {.has_avx2 = true, .has_fma = true};
    ck_assert_str_eq(sf_blas_coretype_for(&hsw), "Haswell");
    sf_blas_features_t zen = hsw;
    zen.is_amd = true;
    ck_assert_str_eq(sf_blas_coretype_for(&zen), "Zen");
    sf_blas_features_t skx = {.has_avx2 = true, .has_fma = true, .has_avx512f = true,
                              .has_avx512bw = true, .has_avx512vl = true, .has_avx512dq = true,
                              .has_avx512cd = true};
    ck_assert_str_eq(sf_blas_coretype_for(&skx), "SkylakeX");
    sf_blas_features_t cpl = skx;
    cpl.has_avx512_bf16 = true;
    ck_assert_str_eq(sf_blas_coretype_for(&cpl), "Cooperlake");
    /* Zen 4 has AVX-512 (and BF16): the AVX-512 kernels, not "Zen". */
    sf_blas_features_t zen4 = cpl;
    zen4.is_amd = true;
    ck_assert_str_eq(sf_blas_coretype_for(&zen4), "Cooperlake");
    /* AVX-512F without BW (Knights Landing): SkylakeX's kernels would fault. */
    sf_blas_features_t knl = skx;
    knl.has_avx512bw = false;
    ck_assert_str_eq(sf_blas_coretype_for(&knl), "Haswell");
}
END_TEST

START_TEST(test_blas_loads_the_chosen_kernel)
{
    unsetenv("OPENBLAS_CORETYPE");
    sf_blas_features_t f;
    sf_blas_features_detect(&f);
    const char *want = sf_blas_coretype_for(&f);
    sf_err_t err = {0};
    ck_assert_int_eq(sf_blas_load(&err), SF_OK);
    if (want == NULL)
        return; /* no AVX2: OpenBLAS's own detection stands */
    ck_assert_msg(strcasecmp(sf_blas_corename(), want) == 0, "OpenBLAS runs '%s', chose '%s'",
                  sf_blas_corename(), want);
    ck_assert_str_eq(getenv("OPENBLAS_NUM_THREADS"), "1");
}
END_TEST

START_TEST(test_blas_user_coretype_wins)
{
    sf_blas_features_t f;
    sf_blas_features_detect(&f);
    if (!(f.has_avx2 && f.has_fma))
        return; /* Haswell's kernels would not run here */
    setenv("OPENBLAS_CORETYPE", "Haswell", 1);
    sf_err_t err = {0};
    ck_assert_int_eq(sf_blas_load(&err), SF_OK);
    ck_assert_str_eq(sf_blas_corename(), "Haswell");
}
END_TEST

START_TEST(test_blas_sgemm_small)
{
    /* [[1,2],[3,4]] @ [[5,6],[7,8]]^T = [[17,23],[39,53]], then += the same
     * with beta 1: [[34,46],[78,106]]. */
    const float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8};
    float c[4];
    sf_err_t err = {0};
    ck_assert_int_eq(sf_blas_load(&err), SF_OK);
    sf_blas_sgemm(true, 2, 2, 2, a, 2, b, 2, 0.0f, c, 2);
    ck_assert_float_eq(c[0], 17);
    ck_assert_float_eq(c[1], 23);
    ck_assert_float_eq(c[2], 39);
    ck_assert_float_eq(c[3], 53);
    sf_blas_sgemm(true, 2, 2, 2, a, 2, b, 2, 1.0f, c, 2);
    ck_assert_float_eq(c[0], 34);
    ck_assert_float_eq(c[3], 106);
}
END_TEST

START_TEST(test_blas_missing_library_is_an_error)
{
    /* The error names the library and dlopen's reason; a second call gives
     * the same answer (loading is tried once). */
    setenv("SF_BLAS_LIBRARY", "/nonexistent/libopenblas.so.0", 1);
    sf_err_t err = {0};
    ck_assert_int_eq(sf_blas_load(&err), SF_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "matmul needs OpenBLAS (/nonexistent/libopenblas.so.0; "
                                  "Debian's libopenblas0): ") == err.msg,
                  "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "No such file or directory"));
    sf_err_t err2 = {0};
    ck_assert_int_eq(sf_blas_load(&err2), SF_ERR_UNSUPPORTED);
    ck_assert_str_eq(err2.msg, err.msg);
    ck_assert_str_eq(sf_blas_corename(), "");
}
END_TEST

static Suite *blas_suite(void)
{
    Suite *s = suite_create("blas");
    TCase *tc = tcase_create("coretype");
    tcase_add_test(tc, test_blas_coretype_by_features);
    tcase_add_test(tc, test_blas_loads_the_chosen_kernel);
    tcase_add_test(tc, test_blas_user_coretype_wins);
    tcase_add_test(tc, test_blas_sgemm_small);
    tcase_add_test(tc, test_blas_missing_library_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(blas_suite());
}
