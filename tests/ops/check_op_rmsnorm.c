/* rmsnorm: shape rule, and the kernel against a plain reference written
 * here in double with HF's rounding points (the normalised row rounded to
 * x's dtype, then weight * that rounded again): f32, bf16, bf16 x with an
 * f32 weight, strided x, a (T, heads, head_dim) input with a per-head weight. */
#include "op_harness.h"

/* Deterministic values in [-scale, scale). */
static double rn_val(int64_t i, int seed, double scale)
{
    return (oh_unit(i, seed) * 2.0 - 1.0) * scale;
}

static sf_tensor_t rn_tensor(sf_dtype_t dt, int ndim, const int64_t *shape, int seed, double scale,
                             double offset)
{
    sf_tensor_t t = oh_tensor_new(dt, ndim, shape);
    for (int64_t i = 0; i < sf_tensor_numel(&t); i++)
        oh_put(&t, i, offset + rn_val(i, seed, scale));
    return t;
}

static double rn_round(sf_dtype_t dt, double v)
{
    unsigned char buf[8];
    sf_dtype_store(dt, buf, v);
    return sf_dtype_load(dt, buf);
}

/* Run rmsnorm on x, weight and compare every element with the reference. */
static void check_rmsnorm(const sf_tensor_t *x, const sf_tensor_t *w, double eps, double rel_tol)
{
    oh_node_t *h = oh_node_new("rmsnorm", "norm");
    oh_set_float(h, "eps", eps);
    sf_tensor_t in[2] = {*x, *w}, out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, in, 2, &out, 1, &err), SF_OK);
    ck_assert_int_eq(out.dtype, x->dtype);
    int64_t d = x->shape[x->ndim - 1], rows = sf_tensor_numel(x) / d;
    for (int64_t r = 0; r < rows; r++) {
        double ss = 0;
        for (int64_t j = 0; j < d; j++)
            ss += oh_get(x, r * d + j) * oh_get(x, r * d + j);
        double inv = 1.0 / sqrt(ss / (double)d + eps);
        for (int64_t j = 0; j < d; j++) {
            double hn = rn_round(x->dtype, oh_get(x, r * d + j) * inv);
            double want = rn_round(x->dtype, oh_get(w, j) * hn);
            double got = oh_get(&out, r * d + j);
            ck_assert_msg(fabs(got - want) <= rel_tol * fabs(want) + 1e-7,
                          "row %lld col %lld: got %.9g, want %.9g", (long long)r, (long long)j,
                          got, want);
        }
    }
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
}

START_TEST(test_rmsnorm_infer)
{
    oh_node_t *h = oh_node_new("rmsnorm", "q_norm");
    sf_tensor_t in[2] = {sf_tensor_make(SF_DTYPE_BF16, 3, OH_SHAPE(10, 4, 8)),
                         sf_tensor_make(SF_DTYPE_BF16, 1, OH_SHAPE(8))};
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_infer(h, in, 2, &out, 1, &err), SF_OK);
    ck_assert_int_eq(out.ndim, 3);
    ck_assert_int_eq(out.shape[2], 8);
    ck_assert_int_eq(out.dtype, SF_DTYPE_BF16);
    ck_assert_double_eq_tol(sf_node_attr_float(&h->node, "eps"), 1e-6, 1e-12);
    oh_node_free(h);
}
END_TEST

START_TEST(test_rmsnorm_rejects)
{
    struct {
        sf_tensor_t x, w;
        const char *fragment;
    } cases[] = {
        {sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(3, 8)), sf_tensor_make(SF_DTYPE_F32, 1, OH_SHAPE(7)),
         "node 'norm': input 'weight' has shape [7], expected [8] (the last dim of 'x' [3,8])"},
        {sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(3, 8)), sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(1, 8)),
         "input 'weight' has shape [1,8], expected [8]"},
        {sf_tensor_make(SF_DTYPE_I32, 2, OH_SHAPE(3, 8)), sf_tensor_make(SF_DTYPE_F32, 1, OH_SHAPE(8)),
         "input 0 has dtype i32, expected f32, bf16 or f16"},
        {sf_tensor_make(SF_DTYPE_F32, 0, NULL), sf_tensor_make(SF_DTYPE_F32, 1, OH_SHAPE(1)),
         "input 0 has shape [] (rank 0), expected rank >= 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        oh_node_t *h = oh_node_new("rmsnorm", "norm");
        sf_tensor_t in[2] = {cases[i].x, cases[i].w}, out;
        sf_err_t err = {0};
        sf_status_t st = oh_infer(h, in, 2, &out, 1, &err);
        oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL, cases[i].fragment);
        oh_node_free(h);
    }
    oh_node_t *h = oh_node_new("rmsnorm", "norm");
    oh_set_float(h, "eps", -1.0);
    sf_tensor_t in[2] = {sf_tensor_make(SF_DTYPE_F32, 1, OH_SHAPE(4)),
                         sf_tensor_make(SF_DTYPE_F32, 1, OH_SHAPE(4))}, out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "eps"), OH_ATTR_COL,
                  "eps -1, expected a number >= 0");
    oh_node_free(h);
}
END_TEST

START_TEST(test_rmsnorm_exact_row)
{
    /* x = [3, 4], eps 0: mean(x^2) = 12.5, so out = w * x / sqrt(12.5). */
    sf_tensor_t x = oh_tensor_of(SF_DTYPE_F32, 2, OH_SHAPE(1, 2), (const double[]){3, 4});
    sf_tensor_t w = oh_tensor_of(SF_DTYPE_F32, 1, OH_SHAPE(2), (const double[]){2, 0.5});
    oh_node_t *h = oh_node_new("rmsnorm", "norm");
    oh_set_float(h, "eps", 0.0);
    sf_tensor_t in[2] = {x, w}, out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, in, 2, &out, 1, &err), SF_OK);
    ck_assert_double_eq_tol(oh_get(&out, 0), 6.0 / sqrt(12.5), 1e-6);
    ck_assert_double_eq_tol(oh_get(&out, 1), 2.0 / sqrt(12.5), 1e-6);
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
    oh_tensor_free(&x);
    oh_tensor_free(&w);
}
END_TEST

START_TEST(test_rmsnorm_f32_and_bf16)
{
    /* f32 agrees with the double reference to f32 rounding. In bf16 the
     * reference makes the same two roundings; the f32 sum of squares may
     * still push a value across a rounding boundary: 1 ulp (2^-8) allowed. */
    sf_tensor_t xf = rn_tensor(SF_DTYPE_F32, 3, OH_SHAPE(3, 5, 7), 1, 2.0, 0.0);
    sf_tensor_t wf = rn_tensor(SF_DTYPE_F32, 1, OH_SHAPE(7), 2, 0.5, 1.0);
    check_rmsnorm(&xf, &wf, 1e-5, 1e-6);
    sf_tensor_t xb = rn_tensor(SF_DTYPE_BF16, 2, OH_SHAPE(9, 13), 3, 3.0, 0.0);
    sf_tensor_t wb = rn_tensor(SF_DTYPE_BF16, 1, OH_SHAPE(13), 4, 0.5, 1.0);
    check_rmsnorm(&xb, &wb, 1e-6, 0x1p-8);
    /* bf16 activations with an f32 weight: still one rounding of the product */
    sf_tensor_t wbf = rn_tensor(SF_DTYPE_F32, 1, OH_SHAPE(13), 4, 0.5, 1.0);
    check_rmsnorm(&xb, &wbf, 1e-6, 0x1p-8);
    oh_tensor_free(&wbf);
    oh_tensor_free(&xf);
    oh_tensor_free(&wf);
    oh_tensor_free(&xb);
    oh_tensor_free(&wb);
}
END_TEST

START_TEST(test_rmsnorm_strided_and_per_head)
{
    /* x as a transposed view: its last dim has stride 5. */
    sf_tensor_t base = rn_tensor(SF_DTYPE_F32, 2, OH_SHAPE(6, 5), 5, 1.0, 0.0);
    sf_tensor_t xt = oh_transpose(&base, 0, 1); /* (5, 6) */
    sf_tensor_t w = rn_tensor(SF_DTYPE_F32, 1, OH_SHAPE(6), 6, 0.5, 1.0);
    check_rmsnorm(&xt, &w, 1e-6, 1e-6);
    /* Qwen3 q_norm: (T, heads, head_dim) with a (head_dim) weight, bf16 */
    sf_tensor_t q = rn_tensor(SF_DTYPE_BF16, 3, OH_SHAPE(5, 3, 8), 7, 4.0, 0.0);
    sf_tensor_t wq = rn_tensor(SF_DTYPE_BF16, 1, OH_SHAPE(8), 8, 0.5, 1.0);
    check_rmsnorm(&q, &wq, 1e-6, 0x1p-8);
    oh_tensor_free(&base);
    oh_tensor_free(&w);
    oh_tensor_free(&q);
    oh_tensor_free(&wq);
}
END_TEST

static Suite *rmsnorm_suite(void)
{
    Suite *s = suite_create("op_rmsnorm");
    TCase *tc = tcase_create("shape_rule");
    tcase_add_test(tc, test_rmsnorm_infer);
    tcase_add_test(tc, test_rmsnorm_rejects);
    suite_add_tcase(s, tc);
    tc = tcase_create("kernel");
    tcase_add_test(tc, test_rmsnorm_exact_row);
    tcase_add_test(tc, test_rmsnorm_f32_and_bf16);
    tcase_add_test(tc, test_rmsnorm_strided_and_per_head);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(rmsnorm_suite)
