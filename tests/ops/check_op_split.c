/* split: outputs are views of the input (offsets and strides, no copy);
 * shape rule errors for sizes that do not add up or do not match the
 * output count. */
#include "op_harness.h"

START_TEST(test_split_infer_views_with_offsets)
{
    oh_node_t *h = oh_node_new("split", "sp");
    oh_set_int(h, "dim", -1);
    OH_INTS(h, "sizes", 2, 0, 3);
    ck_assert(h->node.op->outputs_are_views);
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_BF16, 2, OH_SHAPE(4, 5));
    in.offset = 64;
    sf_tensor_t out[3];
    sf_err_t err = {0};
    ck_assert_int_eq(oh_infer(h, &in, 1, out, 3, &err), SF_OK);
    /* piece k starts at column 0, 2, 2 (empty: keeps the base), 2; bf16 = 2 bytes */
    const int64_t widths[3] = {2, 0, 3};
    const uint64_t offsets[3] = {64, 64, 64 + 2 * 2};
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(out[k].ndim, 2);
        ck_assert_int_eq(out[k].shape[0], 4);
        ck_assert_int_eq(out[k].shape[1], widths[k]);
        ck_assert_int_eq(out[k].strides[0], 5);
        ck_assert_int_eq(out[k].strides[1], 1);
        ck_assert_uint_eq(out[k].offset, offsets[k]);
        ck_assert_int_eq(out[k].dtype, SF_DTYPE_BF16);
    }
    oh_node_free(h);
}
END_TEST

START_TEST(test_split_rejects_bad_sum)
{
    oh_node_t *h = oh_node_new("split", "sp");
    OH_INTS(h, "sizes", 2, 3);
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(6, 2));
    sf_tensor_t out[2];
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, &in, 1, out, 2, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "sizes"), OH_ATTR_COL,
                  "node 'sp': sizes [2,3] sum to 5, expected 6 (dim 0 of input shape [6,2])");
    oh_node_free(h);
}
END_TEST

START_TEST(test_split_rejects_output_count)
{
    oh_node_t *h = oh_node_new("split", "sp");
    OH_INTS(h, "sizes", 3, 3);
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_F32, 1, OH_SHAPE(6));
    sf_tensor_t out[3];
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, &in, 1, out, 3, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "sizes"), OH_ATTR_COL,
                  "sizes [3,3] has 2 entries but the node has 3 outputs");
    oh_node_free(h);
}
END_TEST

START_TEST(test_split_rejects_negative_size)
{
    oh_node_t *h = oh_node_new("split", "sp");
    OH_INTS(h, "sizes", 8, -2);
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_F32, 1, OH_SHAPE(6));
    sf_tensor_t out[2];
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, &in, 1, out, 2, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "sizes"), OH_ATTR_COL,
                  "negative entry -2 at 1");
    oh_node_free(h);
}
END_TEST

START_TEST(test_split_rejects_bad_dim)
{
    oh_node_t *h = oh_node_new("split", "sp");
    oh_set_int(h, "dim", -3);
    OH_INTS(h, "sizes", 6);
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(6, 1));
    sf_tensor_t out[1];
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, &in, 1, out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "dim"), OH_ATTR_COL,
                  "dim -3 is out of range for rank 2");
    oh_node_free(h);
}
END_TEST

START_TEST(test_split_views_read_the_right_elements)
{
    /* base (3, 7) = 0..20; split dim 1 into [3, 4]:
     * piece 1 row r = base[r, 3..6] = 7r + 3 .. 7r + 6. */
    sf_tensor_t base = oh_iota(SF_DTYPE_F32, 2, OH_SHAPE(3, 7), 0);
    oh_node_t *h = oh_node_new("split", "sp");
    oh_set_int(h, "dim", 1);
    OH_INTS(h, "sizes", 3, 4);
    sf_tensor_t out[2];
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, &base, 1, out, 2, &err), SF_OK);
    ck_assert_ptr_eq(out[0].buf, base.buf);
    for (int64_t r = 0; r < 3; r++) {
        for (int64_t c = 0; c < 3; c++)
            ck_assert_double_eq(oh_get(&out[0], r * 3 + c), 7 * r + c);
        for (int64_t c = 0; c < 4; c++)
            ck_assert_double_eq(oh_get(&out[1], r * 4 + c), 7 * r + 3 + c);
    }
    oh_outputs_free(h, out, 2);
    oh_node_free(h);
    oh_tensor_free(&base);
}
END_TEST

START_TEST(test_split_of_strided_view)
{
    /* base (4, 3) = 0..11, transposed to (3, 4): t[i, j] = base[j, i] = 3j + i.
     * Split dim 0 of t into [1, 2]: piece 1 row r = t[1 + r, :]. */
    sf_tensor_t base = oh_iota(SF_DTYPE_I32, 2, OH_SHAPE(4, 3), 0);
    sf_tensor_t t = oh_transpose(&base, 0, 1);
    oh_node_t *h = oh_node_new("split", "sp");
    OH_INTS(h, "sizes", 1, 2);
    sf_tensor_t out[2];
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, &t, 1, out, 2, &err), SF_OK);
    for (int64_t j = 0; j < 4; j++)
        ck_assert_double_eq(oh_get(&out[0], j), 3 * j);
    for (int64_t r = 0; r < 2; r++)
        for (int64_t j = 0; j < 4; j++)
            ck_assert_double_eq(oh_get(&out[1], r * 4 + j), 3 * j + 1 + r);
    oh_outputs_free(h, out, 2);
    oh_node_free(h);
    oh_tensor_free(&base);
}
END_TEST

START_TEST(test_split_of_empty_tensor)
{
    oh_node_t *h = oh_node_new("split", "sp");
    oh_set_int(h, "dim", 1);
    OH_INTS(h, "sizes", 1, 3);
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(0, 4));
    sf_tensor_t out[2];
    sf_err_t err = {0};
    ck_assert_int_eq(oh_infer(h, &in, 1, out, 2, &err), SF_OK);
    ck_assert_int_eq(out[1].shape[0], 0);
    ck_assert_int_eq(out[1].shape[1], 3);
    oh_node_free(h);
}
END_TEST

static Suite *split_suite(void)
{
    Suite *s = suite_create("op_split");
    TCase *tc = tcase_create("shape_rule");
    tcase_add_test(tc, test_split_infer_views_with_offsets);
    tcase_add_test(tc, test_split_rejects_bad_sum);
    tcase_add_test(tc, test_split_rejects_output_count);
    tcase_add_test(tc, test_split_rejects_negative_size);
    tcase_add_test(tc, test_split_rejects_bad_dim);
    tcase_add_test(tc, test_split_of_empty_tensor);
    suite_add_tcase(s, tc);
    tc = tcase_create("views");
    tcase_add_test(tc, test_split_views_read_the_right_elements);
    tcase_add_test(tc, test_split_of_strided_view);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(split_suite)
