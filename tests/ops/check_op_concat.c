/* concat: shape rule (dim normalisation, dtype and shape agreement) and
 * the CPU kernel against a reference written here, on contiguous and
 * strided inputs, odd sizes and empty tensors. */
#include "op_harness.h"

START_TEST(test_concat_infer_sums_the_dim)
{
    oh_node_t *h = oh_node_new("concat", "cat");
    oh_set_int(h, "dim", -2);
    sf_tensor_t in[3] = {sf_tensor_make(SF_DTYPE_BF16, 3, OH_SHAPE(2, 3, 5)),
                         sf_tensor_make(SF_DTYPE_BF16, 3, OH_SHAPE(2, 0, 5)),
                         sf_tensor_make(SF_DTYPE_BF16, 3, OH_SHAPE(2, 4, 5))};
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_infer(h, in, 3, &out, 1, &err), SF_OK);
    /* 3 + 0 + 4 = 7 along dim -2 = 1 */
    ck_assert_int_eq(out.ndim, 3);
    ck_assert_int_eq(out.shape[0], 2);
    ck_assert_int_eq(out.shape[1], 7);
    ck_assert_int_eq(out.shape[2], 5);
    ck_assert_int_eq(out.dtype, SF_DTYPE_BF16);
    ck_assert(sf_tensor_is_contiguous(&out));
    oh_node_free(h);
}
END_TEST

START_TEST(test_concat_rejects_other_dim_mismatch)
{
    oh_node_t *h = oh_node_new("concat", "cat");
    oh_set_int(h, "dim", 1);
    sf_tensor_t in[2] = {sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(2, 3)),
                         sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(4, 3))};
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "node 'cat': input 1 has shape [4,3], expected input 0's shape [2,3] except in "
                  "dim 1");
    oh_node_free(h);
}
END_TEST

START_TEST(test_concat_rejects_dtype_mismatch)
{
    oh_node_t *h = oh_node_new("concat", "cat");
    sf_tensor_t in[2] = {sf_tensor_make(SF_DTYPE_F32, 1, OH_SHAPE(2)),
                         sf_tensor_make(SF_DTYPE_BF16, 1, OH_SHAPE(2))};
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "input 1 has dtype bf16, expected f32");
    oh_node_free(h);
}
END_TEST

START_TEST(test_concat_rejects_rank_mismatch)
{
    oh_node_t *h = oh_node_new("concat", "cat");
    sf_tensor_t in[2] = {sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(2, 3)),
                         sf_tensor_make(SF_DTYPE_F32, 1, OH_SHAPE(3))};
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL, "input 1 has shape [3]");
    oh_node_free(h);
}
END_TEST

START_TEST(test_concat_rejects_dim_out_of_range)
{
    oh_node_t *h = oh_node_new("concat", "cat");
    oh_set_int(h, "dim", 2);
    sf_tensor_t in[1] = {sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(2, 3))};
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, in, 1, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "dim"), OH_ATTR_COL,
                  "node 'cat': dim 2 is out of range for rank 2 (expected -2..1)");
    oh_node_free(h);
}
END_TEST

START_TEST(test_concat_rejects_scalar)
{
    oh_node_t *h = oh_node_new("concat", "cat");
    sf_tensor_t in[1] = {sf_tensor_make(SF_DTYPE_F32, 0, NULL)};
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, in, 1, &out, 1, &err);
    /* dim is defaulted, so the error points at the node */
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL, "got a scalar");
    oh_node_free(h);
}
END_TEST

/* Reference: out[i0, j, i2] over the inputs in order along dim 1. */
static double ref_concat_dim1(const sf_tensor_t *in, int n_in, int64_t i0, int64_t j, int64_t i2)
{
    for (int k = 0; k < n_in; k++) {
        if (j < in[k].shape[1]) {
            int64_t flat = (i0 * in[k].shape[1] + j) * in[k].shape[2] + i2;
            return oh_get(&in[k], flat);
        }
        j -= in[k].shape[1];
    }
    ck_abort_msg("index past the end");
    return 0;
}

static void check_concat_dim1(sf_dtype_t dt, const sf_tensor_t *in, int n_in)
{
    oh_node_t *h = oh_node_new("concat", "cat");
    oh_set_int(h, "dim", 1);
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, in, n_in, &out, 1, &err), SF_OK);
    ck_assert_int_eq(out.dtype, dt);
    int64_t n = sf_tensor_numel(&out);
    for (int64_t f = 0; f < n; f++) {
        int64_t i2 = f % out.shape[2], j = (f / out.shape[2]) % out.shape[1];
        int64_t i0 = f / (out.shape[2] * out.shape[1]);
        ck_assert_double_eq(oh_get(&out, f), ref_concat_dim1(in, n_in, i0, j, i2));
    }
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
}

START_TEST(test_concat_kernel_odd_sizes)
{
    sf_dtype_t dts[] = {SF_DTYPE_F32, SF_DTYPE_BF16, SF_DTYPE_I64, SF_DTYPE_U8};
    for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
        sf_tensor_t in[3] = {oh_iota(dts[k], 3, OH_SHAPE(3, 1, 5), 0),
                             oh_iota(dts[k], 3, OH_SHAPE(3, 0, 5), 0),
                             oh_iota(dts[k], 3, OH_SHAPE(3, 2, 5), 100)};
        check_concat_dim1(dts[k], in, 3);
        for (int i = 0; i < 3; i++)
            oh_tensor_free(&in[i]);
    }
}
END_TEST

START_TEST(test_concat_kernel_strided_inputs)
{
    /* Input 0 is a transposed view (inner stride 3), input 1 a strided
     * slice (every other row of a base). */
    sf_tensor_t base0 = oh_iota(SF_DTYPE_F32, 3, OH_SHAPE(2, 5, 3), 0);
    sf_tensor_t base1 = oh_iota(SF_DTYPE_F32, 3, OH_SHAPE(2, 6, 5), 1000);
    sf_tensor_t in[2];
    in[0] = oh_transpose(&base0, 1, 2); /* (2, 3, 5) */
    sf_err_t err = {0};
    ck_assert_int_eq(sf_tensor_view_slice(&base1, 1, 1, 6, 2, &in[1], &err), SF_OK); /* (2,3,5) */
    check_concat_dim1(SF_DTYPE_F32, in, 2);
    /* Spot-check the reference itself: out[1, 3, 4] = base1[1, 1, 4] = 1000 + 30 + 5 + 4. */
    ck_assert_double_eq(ref_concat_dim1(in, 2, 1, 3, 4), 1039);
    oh_tensor_free(&base0);
    oh_tensor_free(&base1);
}
END_TEST

START_TEST(test_concat_kernel_empty_output)
{
    sf_tensor_t in[2] = {oh_iota(SF_DTYPE_F32, 3, OH_SHAPE(0, 2, 3), 0),
                         oh_iota(SF_DTYPE_F32, 3, OH_SHAPE(0, 1, 3), 0)};
    oh_node_t *h = oh_node_new("concat", "cat");
    oh_set_int(h, "dim", 1);
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, in, 2, &out, 1, &err), SF_OK);
    ck_assert_int_eq(out.shape[0], 0);
    ck_assert_int_eq(out.shape[1], 3);
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
    oh_tensor_free(&in[0]);
    oh_tensor_free(&in[1]);
}
END_TEST

START_TEST(test_concat_kernel_last_dim)
{
    /* [[0,1],[2,3]] ++ [[10],[11]] along -1 = [[0,1,10],[2,3,11]] */
    sf_tensor_t in[2] = {oh_iota(SF_DTYPE_I32, 2, OH_SHAPE(2, 2), 0),
                         oh_iota(SF_DTYPE_I32, 2, OH_SHAPE(2, 1), 10)};
    oh_node_t *h = oh_node_new("concat", "cat");
    oh_set_int(h, "dim", -1);
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, in, 2, &out, 1, &err), SF_OK);
    const double want[] = {0, 1, 10, 2, 3, 11};
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq(oh_get(&out, i), want[i]);
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
    oh_tensor_free(&in[0]);
    oh_tensor_free(&in[1]);
}
END_TEST

static Suite *concat_suite(void)
{
    Suite *s = suite_create("op_concat");
    TCase *tc = tcase_create("shape_rule");
    tcase_add_test(tc, test_concat_infer_sums_the_dim);
    tcase_add_test(tc, test_concat_rejects_other_dim_mismatch);
    tcase_add_test(tc, test_concat_rejects_dtype_mismatch);
    tcase_add_test(tc, test_concat_rejects_rank_mismatch);
    tcase_add_test(tc, test_concat_rejects_dim_out_of_range);
    tcase_add_test(tc, test_concat_rejects_scalar);
    suite_add_tcase(s, tc);
    tc = tcase_create("kernel");
    tcase_add_test(tc, test_concat_kernel_odd_sizes);
    tcase_add_test(tc, test_concat_kernel_strided_inputs);
    tcase_add_test(tc, test_concat_kernel_empty_output);
    tcase_add_test(tc, test_concat_kernel_last_dim);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(concat_suite)
