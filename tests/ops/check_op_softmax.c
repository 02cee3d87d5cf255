/* softmax: against a double reference, stable for large logits, -inf
 * entries, any dim of strided inputs, bf16 storage, errors. */
#include "op_harness.h"

/* Reference over dim of a contiguous-index view: exp(x - max) / sum. */
static void check_softmax(const sf_tensor_t *in, int dim, const sf_tensor_t *out, double tol)
{
    int64_t n = in->shape[dim], inner = 1, numel = sf_tensor_numel(in);
    for (int d = dim + 1; d < in->ndim; d++)
        inner *= in->shape[d];
    for (int64_t f = 0; f < numel; f++) {
        int64_t pos = (f / inner) % n, first = f - pos * inner;
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < n; j++)
            mx = fmax(mx, oh_get(in, first + j * inner));
        for (int64_t j = 0; j < n; j++)
            sum += exp(oh_get(in, first + j * inner) - mx);
        double want = exp(oh_get(in, f) - mx) / sum;
        ck_assert_msg(fabs(oh_get(out, f) - want) <= tol, "at %lld: got %.9g want %.9g",
                      (long long)f, oh_get(out, f), want);
    }
}

static sf_tensor_t run_softmax(const sf_tensor_t *in, int dim)
{
    oh_node_t *h = oh_node_new("softmax", "sm");
    oh_set_int(h, "dim", dim);
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, in, 1, &out, 1, &err), SF_OK);
    ck_assert_int_eq(out.dtype, in->dtype);
    ck_assert(sf_tensor_same_shape(&out, in));
    oh_node_free(h);
    return out;
}

START_TEST(test_softmax_small_by_hand)
{
    /* softmax([0, ln 3]) = [1/4, 3/4] */
    const double v[] = {0, log(3.0)};
    sf_tensor_t in = oh_tensor_of(SF_DTYPE_F32, 1, OH_SHAPE(2), v);
    sf_tensor_t out = run_softmax(&in, -1);
    ck_assert_double_eq_tol(oh_get(&out, 0), 0.25, 1e-7);
    ck_assert_double_eq_tol(oh_get(&out, 1), 0.75, 1e-7);
    oh_tensor_free(&out);
    oh_tensor_free(&in);
}
END_TEST

START_TEST(test_softmax_large_and_infinite_logits)
{
    /* exp(1000) overflows f32 without the max subtraction; -inf gives 0. */
    const double v[] = {1000, 1001, 999, -INFINITY, -INFINITY, 0};
    sf_tensor_t in = oh_tensor_of(SF_DTYPE_F32, 2, OH_SHAPE(2, 3), v);
    sf_tensor_t out = run_softmax(&in, 1);
    check_softmax(&in, 1, &out, 1e-6);
    ck_assert_double_eq(oh_get(&out, 3), 0.0);
    ck_assert_double_eq(oh_get(&out, 5), 1.0);
    oh_tensor_free(&out);
    oh_tensor_free(&in);
}
END_TEST

START_TEST(test_softmax_every_dim_strided)
{
    sf_tensor_t base = oh_tensor_new(SF_DTYPE_F32, 3, OH_SHAPE(3, 5, 4));
    for (int64_t i = 0; i < 60; i++)
        oh_put(&base, i, 0.37 * (double)((i * 17) % 23) - 3.0);
    sf_tensor_t t = oh_transpose(&base, 0, 2); /* (4, 5, 3), every stride non-unit */
    for (int dim = 0; dim < 3; dim++) {
        sf_tensor_t out = run_softmax(&t, dim);
        check_softmax(&t, dim, &out, 1e-6);
        oh_tensor_free(&out);
    }
    oh_tensor_free(&base);
}
END_TEST

START_TEST(test_softmax_bf16_odd_size)
{
    sf_tensor_t in = oh_tensor_new(SF_DTYPE_BF16, 2, OH_SHAPE(3, 7));
    for (int64_t i = 0; i < 21; i++)
        oh_put(&in, i, 0.5 * (double)(i % 5) - 1.0);
    sf_tensor_t out = run_softmax(&in, -1);
    /* one rounding to bf16: 2^-9 relative, values below 1 */
    check_softmax(&in, 1, &out, 0x1p-9);
    oh_tensor_free(&out);
    oh_tensor_free(&in);
}
END_TEST

START_TEST(test_softmax_empty)
{
    sf_tensor_t in = oh_tensor_new(SF_DTYPE_F32, 2, OH_SHAPE(0, 5));
    sf_tensor_t out = run_softmax(&in, -1);
    oh_tensor_free(&out);
    oh_tensor_free(&in);
    in = oh_tensor_new(SF_DTYPE_F32, 2, OH_SHAPE(3, 0));
    out = run_softmax(&in, -1);
    oh_tensor_free(&out);
    oh_tensor_free(&in);
}
END_TEST

START_TEST(test_softmax_rejects_int_and_bad_dim)
{
    oh_node_t *h = oh_node_new("softmax", "probs");
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_I64, 1, OH_SHAPE(4));
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, &in, 1, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "node 'probs': input 0 has dtype i64, expected f32, bf16 or f16");
    oh_set_int(h, "dim", 1);
    in.dtype = SF_DTYPE_F32;
    sf_err_clear(&err);
    st = oh_infer(h, &in, 1, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "dim"), OH_ATTR_COL,
                  "dim 1 is out of range for rank 1");
    oh_node_free(h);
}
END_TEST

static Suite *softmax_suite(void)
{
    Suite *s = suite_create("op_softmax");
    TCase *tc = tcase_create("kernel");
    tcase_add_test(tc, test_softmax_small_by_hand);
    tcase_add_test(tc, test_softmax_large_and_infinite_logits);
    tcase_add_test(tc, test_softmax_every_dim_strided);
    tcase_add_test(tc, test_softmax_bf16_odd_size);
    tcase_add_test(tc, test_softmax_empty);
    suite_add_tcase(s, tc);
    tc = tcase_create("shape_rule");
    tcase_add_test(tc, test_softmax_rejects_int_and_bad_dim);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(softmax_suite)
