/* reshape: a view with a new shape; -1 inference; errors for a count
 * mismatch, two -1s, and a non-contiguous input (it never copies). */
#include "op_harness.h"

START_TEST(test_reshape_infers_minus_one)
{
    oh_node_t *h = oh_node_new("reshape", "rs");
    OH_INTS(h, "shape", 3, -1, 2);
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_F16, 2, OH_SHAPE(4, 6));
    in.offset = 48;
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_infer(h, &in, 1, &out, 1, &err), SF_OK);
    /* 24 elements / (3 * 2) = 4 */
    ck_assert_int_eq(out.ndim, 3);
    ck_assert_int_eq(out.shape[1], 4);
    ck_assert_int_eq(out.strides[0], 8);
    ck_assert_int_eq(out.strides[1], 2);
    ck_assert_int_eq(out.strides[2], 1);
    ck_assert_uint_eq(out.offset, 48);
    ck_assert_int_eq(out.dtype, SF_DTYPE_F16);
    oh_node_free(h);
}
END_TEST

START_TEST(test_reshape_view_of_contiguous_slice)
{
    /* rows 1..2 of base (4, 3) = 0..11 are contiguous: reshape to (6,) gives 3..8 */
    sf_tensor_t base = oh_iota(SF_DTYPE_F32, 2, OH_SHAPE(4, 3), 0);
    sf_tensor_t rows;
    sf_err_t err = {0};
    ck_assert_int_eq(sf_tensor_view_slice(&base, 0, 1, 3, 1, &rows, &err), SF_OK);
    oh_node_t *h = oh_node_new("reshape", "rs");
    OH_INTS(h, "shape", -1);
    sf_tensor_t out;
    ck_assert_int_eq(oh_run(h, &rows, 1, &out, 1, &err), SF_OK);
    ck_assert_int_eq(out.shape[0], 6);
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq(oh_get(&out, i), 3 + i);
    oh_node_free(h);
    oh_tensor_free(&base);
}
END_TEST

START_TEST(test_reshape_rejects_non_contiguous)
{
    sf_tensor_t base = sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(4, 3));
    sf_tensor_t t = oh_transpose(&base, 0, 1);
    oh_node_t *h = oh_node_new("reshape", "flat");
    OH_INTS(h, "shape", 12);
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, &t, 1, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "node 'flat': input 0 (shape [3,4]) is a non-contiguous view");
    oh_node_free(h);
}
END_TEST

START_TEST(test_reshape_rejects_count_mismatch)
{
    oh_node_t *h = oh_node_new("reshape", "rs");
    OH_INTS(h, "shape", 5, -1);
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(4, 3));
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, &in, 1, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "shape"), OH_ATTR_COL,
                  "cannot reshape input 0 of shape [4,3] (12 elements) to [5,-1]");
    oh_node_free(h);
}
END_TEST

START_TEST(test_reshape_rejects_two_minus_ones)
{
    oh_node_t *h = oh_node_new("reshape", "rs");
    OH_INTS(h, "shape", -1, -1);
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(4, 3));
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, &in, 1, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "shape"), OH_ATTR_COL,
                  "at most one -1");
    oh_node_free(h);
}
END_TEST

START_TEST(test_reshape_empty)
{
    oh_node_t *h = oh_node_new("reshape", "rs");
    OH_INTS(h, "shape", 3, 0, 2);
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(0, 6));
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_infer(h, &in, 1, &out, 1, &err), SF_OK);
    ck_assert_int_eq(sf_tensor_numel(&out), 0);
    oh_node_free(h);
    /* -1 next to a 0 could be anything */
    h = oh_node_new("reshape", "rs");
    OH_INTS(h, "shape", 0, -1);
    sf_status_t st = oh_infer(h, &in, 1, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "shape"), OH_ATTR_COL, "ambiguous");
    oh_node_free(h);
}
END_TEST

static Suite *reshape_suite(void)
{
    Suite *s = suite_create("op_reshape");
    TCase *tc = tcase_create("shape_rule");
    tcase_add_test(tc, test_reshape_infers_minus_one);
    tcase_add_test(tc, test_reshape_rejects_non_contiguous);
    tcase_add_test(tc, test_reshape_rejects_count_mismatch);
    tcase_add_test(tc, test_reshape_rejects_two_minus_ones);
    tcase_add_test(tc, test_reshape_empty);
    suite_add_tcase(s, tc);
    tc = tcase_create("views");
    tcase_add_test(tc, test_reshape_view_of_contiguous_slice);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(reshape_suite)
