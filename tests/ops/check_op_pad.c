/* pad: shift along a dim with a fill, against a reference written here;
 * SpecForge's padding (dim 1, shift -1, zeros) is the default. */
#include "op_harness.h"

/* out[idx] = in[idx with idx[dim] - shift] when that is inside, else value. */
static void check_pad(const sf_tensor_t *in, int dim, int64_t shift, double value,
                      const sf_tensor_t *out)
{
    ck_assert(sf_tensor_same_shape(in, out));
    ck_assert_int_eq(in->dtype, out->dtype);
    int64_t n = sf_tensor_numel(out);
    int64_t inner = 1;
    for (int d = dim + 1; d < in->ndim; d++)
        inner *= in->shape[d];
    for (int64_t f = 0; f < n; f++) {
        int64_t pos = (f / inner) % in->shape[dim];
        int64_t src = pos - shift;
        double want = (src >= 0 && src < in->shape[dim]) ? oh_get(in, f - shift * inner) : value;
        ck_assert_double_eq(oh_get(out, f), want);
    }
}

static void run_pad(const sf_tensor_t *in, int dim, int64_t shift, double value, bool set)
{
    oh_node_t *h = oh_node_new("pad", "target");
    if (set) {
        oh_set_int(h, "dim", dim);
        oh_set_int(h, "shift", shift);
        oh_set_float(h, "value", value);
    }
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, in, 1, &out, 1, &err), SF_OK);
    check_pad(in, dim < 0 ? dim + in->ndim : dim, shift, value, &out);
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
}

START_TEST(test_pad_default_is_specforge_padding)
{
    /* (2, 4, 3): out[b, s] = in[b, s + 1] for s < 3, zeros at s = 3.
     * Spelled out for b = 0: in rows 0..3 start at 0, 3, 6, 9. */
    sf_tensor_t in = oh_iota(SF_DTYPE_F32, 3, OH_SHAPE(2, 4, 3), 1);
    oh_node_t *h = oh_node_new("pad", "target");
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, &in, 1, &out, 1, &err), SF_OK);
    const double want_b0[] = {4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0, 0};
    for (int i = 0; i < 12; i++)
        ck_assert_double_eq(oh_get(&out, i), want_b0[i]);
    check_pad(&in, 1, -1, 0.0, &out);
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
    oh_tensor_free(&in);
}
END_TEST

START_TEST(test_pad_shifts_both_ways)
{
    sf_tensor_t in = oh_iota(SF_DTYPE_BF16, 3, OH_SHAPE(3, 5, 2), 1);
    const int64_t shifts[] = {-4, -2, -1, 0, 1, 3, 5, 9, -9};
    for (size_t k = 0; k < sizeof shifts / sizeof shifts[0]; k++) {
        run_pad(&in, 1, shifts[k], -7.0, true);
        run_pad(&in, 0, shifts[k], 2.5, true);
        run_pad(&in, -1, shifts[k], 0.0, true);
    }
    oh_tensor_free(&in);
}
END_TEST

START_TEST(test_pad_input_ids_i32)
{
    /* input_ids (1, 5) = [11..15] -> [12, 13, 14, 15, 0] */
    sf_tensor_t in = oh_iota(SF_DTYPE_I32, 2, OH_SHAPE(1, 5), 11);
    oh_node_t *h = oh_node_new("pad", "ids");
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, &in, 1, &out, 1, &err), SF_OK);
    const int32_t want[] = {12, 13, 14, 15, 0};
    ck_assert_mem_eq(sf_tensor_data(&out), want, sizeof want);
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
    oh_tensor_free(&in);
}
END_TEST

START_TEST(test_pad_strided_input)
{
    sf_tensor_t base = oh_iota(SF_DTYPE_F32, 3, OH_SHAPE(4, 3, 2), 0);
    sf_tensor_t t = oh_transpose(&base, 0, 1); /* (3, 4, 2), strides (2, 6, 1) */
    run_pad(&t, 1, -1, 0.0, true);
    run_pad(&t, 1, 2, 9.0, true);
    sf_tensor_t tt = oh_transpose(&base, 0, 2); /* (2, 3, 4): inner stride 6 */
    run_pad(&tt, 2, -3, 1.0, true);
    oh_tensor_free(&base);
}
END_TEST

START_TEST(test_pad_empty)
{
    sf_tensor_t in = oh_iota(SF_DTYPE_F32, 3, OH_SHAPE(2, 0, 3), 0);
    run_pad(&in, 1, -1, 0.0, true);
    oh_tensor_free(&in);
    in = oh_iota(SF_DTYPE_F32, 3, OH_SHAPE(0, 4, 3), 0);
    run_pad(&in, 1, -1, 0.0, true);
    oh_tensor_free(&in);
}
END_TEST

START_TEST(test_pad_rejects_bad_dim)
{
    oh_node_t *h = oh_node_new("pad", "target");
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_F32, 1, OH_SHAPE(5));
    sf_tensor_t out;
    sf_err_t err = {0};
    /* the default dim 1 does not exist in a 1-D tensor: the node is blamed */
    sf_status_t st = oh_infer(h, &in, 1, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "node 'target': dim 1 is out of range for rank 1");
    oh_node_free(h);
}
END_TEST

static Suite *pad_suite(void)
{
    Suite *s = suite_create("op_pad");
    TCase *tc = tcase_create("kernel");
    tcase_add_test(tc, test_pad_default_is_specforge_padding);
    tcase_add_test(tc, test_pad_shifts_both_ways);
    tcase_add_test(tc, test_pad_input_ids_i32);
    tcase_add_test(tc, test_pad_strided_input);
    tcase_add_test(tc, test_pad_empty);
    suite_add_tcase(s, tc);
    tc = tcase_create("shape_rule");
    tcase_add_test(tc, test_pad_rejects_bad_dim);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(pad_suite)
