/* fill and arange: values per dtype (rounding, truncation, saturation),
 * scalar and empty shapes, and the n-or-shape rule of arange. */
#include "op_harness.h"

static sf_tensor_t run_source(oh_node_t *h)
{
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, NULL, 0, &out, 1, &err), SF_OK);
    return out;
}

START_TEST(test_fill_values_per_dtype)
{
    oh_node_t *h = oh_node_new("fill", "f");
    OH_INTS(h, "shape", 2, 3);
    oh_set_float(h, "value", 2.5);
    sf_tensor_t o = run_source(h);
    ck_assert_int_eq(o.dtype, SF_DTYPE_F32); /* the default */
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(((float *)sf_tensor_data(&o))[i], 2.5f);
    oh_tensor_free(&o);
    /* bf16(0.1): f32 0x3dcccccd rounds to 0x3dcd */
    oh_set_dtype(h, "dtype", SF_DTYPE_BF16);
    oh_set_float(h, "value", 0.1);
    o = run_source(h);
    for (int i = 0; i < 6; i++)
        ck_assert_uint_eq(((uint16_t *)sf_tensor_data(&o))[i], 0x3dcd);
    oh_tensor_free(&o);
    /* i32: -3.7 truncates to -3; 1e30 saturates */
    oh_set_dtype(h, "dtype", SF_DTYPE_I32);
    oh_set_float(h, "value", -3.7);
    o = run_source(h);
    ck_assert_int_eq(((int32_t *)sf_tensor_data(&o))[5], -3);
    oh_tensor_free(&o);
    oh_set_float(h, "value", 1e30);
    o = run_source(h);
    ck_assert_int_eq(((int32_t *)sf_tensor_data(&o))[0], INT32_MAX);
    oh_tensor_free(&o);
    oh_node_free(h);
}
END_TEST

START_TEST(test_fill_scalar_and_empty)
{
    oh_node_t *h = oh_node_new("fill", "f");
    oh_set_ints(h, "shape", NULL, 0);
    oh_set_float(h, "value", -1);
    sf_tensor_t o = run_source(h);
    ck_assert_int_eq(o.ndim, 0);
    ck_assert_float_eq(*(float *)sf_tensor_data(&o), -1.0f);
    oh_tensor_free(&o);
    OH_INTS(h, "shape", 4, 0);
    o = run_source(h);
    ck_assert_int_eq(sf_tensor_numel(&o), 0);
    oh_tensor_free(&o);
    oh_node_free(h);
}
END_TEST

START_TEST(test_fill_rejects_negative_shape)
{
    oh_node_t *h = oh_node_new("fill", "f");
    OH_INTS(h, "shape", 2, -3);
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, NULL, 0, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "shape"), OH_ATTR_COL,
                  "node 'f': shape [2,-3] has negative size -3 at dim 1");
    oh_node_free(h);
}
END_TEST

START_TEST(test_arange_n)
{
    /* n 5, start 2, step 3 -> 2, 5, 8, 11, 14 as i64 (the default dtype) */
    oh_node_t *h = oh_node_new("arange", "pos");
    oh_set_int(h, "n", 5);
    oh_set_float(h, "start", 2);
    oh_set_float(h, "step", 3);
    sf_tensor_t o = run_source(h);
    const int64_t want[] = {2, 5, 8, 11, 14};
    ck_assert_int_eq(o.dtype, SF_DTYPE_I64);
    ck_assert_int_eq(o.ndim, 1);
    ck_assert_mem_eq(sf_tensor_data(&o), want, sizeof want);
    oh_tensor_free(&o);
    oh_node_free(h);
}
END_TEST

START_TEST(test_arange_shape_f32)
{
    /* shape (2, 3), start 0.5, step -0.25: 0.5, 0.25, 0, -0.25, -0.5, -0.75 */
    oh_node_t *h = oh_node_new("arange", "r");
    OH_INTS(h, "shape", 2, 3);
    oh_set_float(h, "start", 0.5);
    oh_set_float(h, "step", -0.25);
    oh_set_dtype(h, "dtype", SF_DTYPE_F32);
    sf_tensor_t o = run_source(h);
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq(oh_get(&o, i), 0.5 - 0.25 * i);
    oh_tensor_free(&o);
    oh_set_ints(h, "shape", NULL, 0);
    oh_set_int(h, "n", 0); /* an empty range is fine */
    o = run_source(h);
    ck_assert_int_eq(o.shape[0], 0);
    oh_tensor_free(&o);
    oh_node_free(h);
}
END_TEST

START_TEST(test_arange_needs_n_or_shape)
{
    oh_node_t *h = oh_node_new("arange", "r");
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, NULL, 0, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "node 'r': n is -1, expected a count >= 0 (or a shape)");
    oh_node_free(h);
    h = oh_node_new("arange", "r");
    oh_set_int(h, "n", 4);
    OH_INTS(h, "shape", 4);
    sf_err_clear(&err);
    st = oh_infer(h, NULL, 0, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "n"), OH_ATTR_COL,
                  "both n and shape are given");
    oh_node_free(h);
}
END_TEST

static Suite *fill_suite(void)
{
    Suite *s = suite_create("op_fill");
    TCase *tc = tcase_create("fill");
    tcase_add_test(tc, test_fill_values_per_dtype);
    tcase_add_test(tc, test_fill_scalar_and_empty);
    tcase_add_test(tc, test_fill_rejects_negative_shape);
    suite_add_tcase(s, tc);
    tc = tcase_create("arange");
    tcase_add_test(tc, test_arange_n);
    tcase_add_test(tc, test_arange_shape_f32);
    tcase_add_test(tc, test_arange_needs_n_or_shape);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(fill_suite)
