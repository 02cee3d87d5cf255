/* argmax: first maximum wins, NaN counts as largest, keepdim, any dim of
 * strided inputs, integer and bf16 inputs, empty-dim error. */
#include "op_harness.h"

static sf_tensor_t run_argmax(const sf_tensor_t *in, int dim, bool keepdim)
{
    oh_node_t *h = oh_node_new("argmax", "am");
    oh_set_int(h, "dim", dim);
    oh_set_bool(h, "keepdim", keepdim);
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, in, 1, &out, 1, &err), SF_OK);
    ck_assert_int_eq(out.dtype, SF_DTYPE_I64);
    oh_node_free(h);
    return out;
}

START_TEST(test_argmax_first_max_and_nan)
{
    /* rows: [1, 3, 3, 2] -> 1; [1, NaN, 5, NaN] -> 1; [-inf, -inf, -5, -5] -> 2 */
    const double v[] = {1, 3, 3, 2, 1, NAN, 5, NAN, -INFINITY, -INFINITY, -5, -5};
    sf_tensor_t in = oh_tensor_of(SF_DTYPE_F32, 2, OH_SHAPE(3, 4), v);
    sf_tensor_t out = run_argmax(&in, -1, false);
    const int64_t want[] = {1, 1, 2};
    ck_assert_int_eq(out.ndim, 1);
    ck_assert_int_eq(out.shape[0], 3);
    ck_assert_mem_eq(sf_tensor_data(&out), want, sizeof want);
    oh_tensor_free(&out);
    oh_tensor_free(&in);
}
END_TEST

/* Reference over dim of (d0, d1, d2) by flat indices. */
static void check_argmax(const sf_tensor_t *in, int dim, const sf_tensor_t *out)
{
    int64_t n = in->shape[dim], inner = 1, numel = sf_tensor_numel(in);
    for (int d = dim + 1; d < in->ndim; d++)
        inner *= in->shape[d];
    const int64_t *o = sf_tensor_data(out);
    int64_t k = 0;
    for (int64_t f = 0; f < numel; f++) {
        if ((f / inner) % n != 0)
            continue; /* f is the first element of a line */
        int64_t best = 0;
        for (int64_t j = 1; j < n; j++)
            if (oh_get(in, f + j * inner) > oh_get(in, f + best * inner))
                best = j;
        /* lines come out in row-major order of the other dims */
        int64_t outer = f / (n * inner), in_pos = f % inner;
        ck_assert_int_eq(o[outer * inner + in_pos], best);
        k++;
    }
    ck_assert_int_eq(k, sf_tensor_numel(out));
}

START_TEST(test_argmax_every_dim_strided_keepdim)
{
    sf_tensor_t base = oh_tensor_new(SF_DTYPE_BF16, 3, OH_SHAPE(3, 5, 4));
    for (int64_t i = 0; i < 60; i++)
        oh_put(&base, i, (double)((i * 17) % 23)); /* ties exist: 23 values over 60 */
    sf_tensor_t t = oh_transpose(&base, 0, 2); /* (4, 5, 3) */
    for (int dim = 0; dim < 3; dim++) {
        sf_tensor_t out = run_argmax(&t, dim, dim == 1);
        ck_assert_int_eq(out.ndim, dim == 1 ? 3 : 2);
        if (dim == 1)
            ck_assert_int_eq(out.shape[1], 1);
        check_argmax(&t, dim, &out);
        oh_tensor_free(&out);
    }
    oh_tensor_free(&base);
}
END_TEST

START_TEST(test_argmax_integers)
{
    sf_tensor_t in = oh_tensor_new(SF_DTYPE_I32, 1, OH_SHAPE(5));
    int32_t *p = sf_tensor_data(&in);
    p[0] = -5; p[1] = INT32_MAX; p[2] = 7; p[3] = INT32_MAX; p[4] = 0;
    sf_tensor_t out = run_argmax(&in, 0, true);
    ck_assert_int_eq(out.ndim, 1);
    ck_assert_int_eq(out.shape[0], 1);
    ck_assert_int_eq(*(int64_t *)sf_tensor_data(&out), 1);
    oh_tensor_free(&out);
    oh_tensor_free(&in);
}
END_TEST

START_TEST(test_argmax_empty_outer)
{
    sf_tensor_t in = oh_tensor_new(SF_DTYPE_F32, 2, OH_SHAPE(0, 5));
    sf_tensor_t out = run_argmax(&in, -1, false);
    ck_assert_int_eq(out.shape[0], 0);
    oh_tensor_free(&out);
    oh_tensor_free(&in);
}
END_TEST

START_TEST(test_argmax_rejects_empty_dim_and_bad_dim)
{
    oh_node_t *h = oh_node_new("argmax", "pick");
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(3, 0));
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, &in, 1, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "node 'pick': input 0 has shape [3,0], expected dim 1 to be non-empty");
    oh_set_int(h, "dim", -3);
    sf_err_clear(&err);
    st = oh_infer(h, &in, 1, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "dim"), OH_ATTR_COL,
                  "dim -3 is out of range for rank 2");
    oh_node_free(h);
}
END_TEST

static Suite *argmax_suite(void)
{
    Suite *s = suite_create("op_argmax");
    TCase *tc = tcase_create("kernel");
    tcase_add_test(tc, test_argmax_first_max_and_nan);
    tcase_add_test(tc, test_argmax_every_dim_strided_keepdim);
    tcase_add_test(tc, test_argmax_integers);
    tcase_add_test(tc, test_argmax_empty_outer);
    suite_add_tcase(s, tc);
    tc = tcase_create("shape_rule");
    tcase_add_test(tc, test_argmax_rejects_empty_dim_and_bad_dim);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(argmax_suite)
