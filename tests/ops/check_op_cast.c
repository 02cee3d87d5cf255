/* cast: exact bit patterns for round-to-nearest-even (bf16, f16), float ->
 * int truncation and saturation, int -> float through f32, integer wrap,
 * strided and empty inputs. */
#include "op_harness.h"

static sf_tensor_t run_cast(const sf_tensor_t *in, sf_dtype_t to)
{
    oh_node_t *h = oh_node_new("cast", "c");
    oh_set_dtype(h, "dtype", to);
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, in, 1, &out, 1, &err), SF_OK);
    ck_assert_int_eq(out.dtype, to);
    ck_assert(sf_tensor_same_shape(in, &out));
    oh_node_free(h);
    return out;
}

START_TEST(test_cast_f32_to_bf16_rounds_to_even)
{
    /* 1 + 2^-8 is halfway between bf16 1.0 (0x3f80) and 1 + 2^-7 (0x3f81): even -> 0x3f80.
     * 1 + 3 * 2^-8 is halfway between 0x3f81 and 0x3f82: even -> 0x3f82.
     * 1 + 2^-8 + 2^-20 is above halfway -> 0x3f81. -2.0 -> 0xc000. */
    const double v[] = {1.00390625, 1.01171875, 1.0 + 0x1p-8 + 0x1p-20, -2.0};
    const uint16_t want[] = {0x3f80, 0x3f82, 0x3f81, 0xc000};
    sf_tensor_t in = oh_tensor_of(SF_DTYPE_F32, 1, OH_SHAPE(4), v);
    sf_tensor_t out = run_cast(&in, SF_DTYPE_BF16);
    ck_assert_mem_eq(sf_tensor_data(&out), want, sizeof want);
    oh_tensor_free(&out);
    oh_tensor_free(&in);
}
END_TEST

START_TEST(test_cast_f32_to_f16_rounds_and_overflows)
{
    /* 1 + 2^-11 halfway -> 1.0 (0x3c00); 1 + 3 * 2^-11 -> 0x3c02; 65520 -> inf;
     * 2^-24 is the smallest subnormal (0x0001). */
    const double v[] = {1.0 + 0x1p-11, 1.0 + 3 * 0x1p-11, 65520.0, 0x1p-24};
    const uint16_t want[] = {0x3c00, 0x3c02, 0x7c00, 0x0001};
    sf_tensor_t in = oh_tensor_of(SF_DTYPE_F32, 1, OH_SHAPE(4), v);
    sf_tensor_t out = run_cast(&in, SF_DTYPE_F16);
    ck_assert_mem_eq(sf_tensor_data(&out), want, sizeof want);
    oh_tensor_free(&out);
    oh_tensor_free(&in);
}
END_TEST

START_TEST(test_cast_float_to_int_truncates_and_saturates)
{
    const double v[] = {2.7, -2.7, NAN, 1e20, -1e20, 255.9};
    const int32_t want_i32[] = {2, -2, 0, INT32_MAX, INT32_MIN, 255};
    const int64_t want_i64[] = {2, -2, 0, INT64_MAX, INT64_MIN, 255};
    sf_tensor_t in = oh_tensor_of(SF_DTYPE_F32, 1, OH_SHAPE(6), v);
    sf_tensor_t o32 = run_cast(&in, SF_DTYPE_I32);
    sf_tensor_t o64 = run_cast(&in, SF_DTYPE_I64);
    ck_assert_mem_eq(sf_tensor_data(&o32), want_i32, sizeof want_i32);
    ck_assert_mem_eq(sf_tensor_data(&o64), want_i64, sizeof want_i64);
    oh_tensor_free(&o32);
    oh_tensor_free(&o64);
    oh_tensor_free(&in);
}
END_TEST

START_TEST(test_cast_int_conversions)
{
    /* i64 2^24 + 1 -> f32 2^24 (ties to even); i64 2^32 + 5 -> i32 5 (wraps);
     * -1 -> u8 255 (wraps). */
    sf_tensor_t in = oh_tensor_new(SF_DTYPE_I64, 1, OH_SHAPE(3));
    int64_t *p = sf_tensor_data(&in);
    p[0] = (1 << 24) + 1;
    p[1] = (INT64_C(1) << 32) + 5;
    p[2] = -1;
    sf_tensor_t f = run_cast(&in, SF_DTYPE_F32);
    sf_tensor_t i = run_cast(&in, SF_DTYPE_I32);
    sf_tensor_t u = run_cast(&in, SF_DTYPE_U8);
    ck_assert_float_eq(((float *)sf_tensor_data(&f))[0], 16777216.0f);
    ck_assert_int_eq(((int32_t *)sf_tensor_data(&i))[1], 5);
    ck_assert_int_eq(((uint8_t *)sf_tensor_data(&u))[2], 255);
    oh_tensor_free(&f);
    oh_tensor_free(&i);
    oh_tensor_free(&u);
    oh_tensor_free(&in);
}
END_TEST

START_TEST(test_cast_bf16_to_f32_exact_strided)
{
    /* base (3, 4) bf16 = 0..11 -> transposed (4, 3): out[j, i] = 4i + j exactly. */
    sf_tensor_t base = oh_iota(SF_DTYPE_BF16, 2, OH_SHAPE(3, 4), 0);
    sf_tensor_t t = oh_transpose(&base, 0, 1);
    sf_tensor_t out = run_cast(&t, SF_DTYPE_F32);
    const float *o = sf_tensor_data(&out);
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < 3; i++)
            ck_assert_float_eq(o[j * 3 + i], (float)(4 * i + j));
    sf_tensor_t same = run_cast(&t, SF_DTYPE_BF16); /* same dtype: a contiguous copy */
    for (int f = 0; f < 12; f++)
        ck_assert_double_eq(oh_get(&same, f), oh_get(&t, f));
    oh_tensor_free(&same);
    oh_tensor_free(&out);
    oh_tensor_free(&base);
}
END_TEST

START_TEST(test_cast_empty)
{
    sf_tensor_t in = oh_tensor_new(SF_DTYPE_F32, 2, OH_SHAPE(0, 5));
    sf_tensor_t out = run_cast(&in, SF_DTYPE_BF16);
    ck_assert_int_eq(out.shape[1], 5);
    oh_tensor_free(&out);
    oh_tensor_free(&in);
}
END_TEST

static Suite *cast_suite(void)
{
    Suite *s = suite_create("op_cast");
    TCase *tc = tcase_create("kernel");
    tcase_add_test(tc, test_cast_f32_to_bf16_rounds_to_even);
    tcase_add_test(tc, test_cast_f32_to_f16_rounds_and_overflows);
    tcase_add_test(tc, test_cast_float_to_int_truncates_and_saturates);
    tcase_add_test(tc, test_cast_int_conversions);
    tcase_add_test(tc, test_cast_bf16_to_f32_exact_strided);
    tcase_add_test(tc, test_cast_empty);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(cast_suite)
