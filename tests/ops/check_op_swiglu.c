/* swiglu: shape rule, and the kernel against silu(gate) * up computed
 * here in double with torch's bf16 rounding points (silu rounded, then the
 * product rounded); f32, bf16, f16, strided inputs. */
#include "op_harness.h"

static double sw_round(sf_dtype_t dt, double v)
{
    unsigned char buf[8];
    sf_dtype_store(dt, buf, v);
    return sf_dtype_load(dt, buf);
}

static sf_tensor_t sw_tensor(sf_dtype_t dt, int ndim, const int64_t *shape, int seed)
{
    sf_tensor_t t = oh_tensor_new(dt, ndim, shape);
    for (int64_t i = 0; i < sf_tensor_numel(&t); i++)
        oh_put(&t, i, 0.37 * (double)((i * 7 + seed * 5) % 23 - 11) + 0.01 * seed);
    return t;
}

static void check_swiglu(const sf_tensor_t *g, const sf_tensor_t *u, double rel_tol)
{
    oh_node_t *h = oh_node_new("swiglu", "act");
    sf_tensor_t in[2] = {*g, *u}, out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, in, 2, &out, 1, &err), SF_OK);
    for (int64_t i = 0; i < sf_tensor_numel(g); i++) {
        double gv = oh_get(g, i);
        double silu = sw_round(g->dtype, gv / (1.0 + exp(-gv)));
        double want = sw_round(g->dtype, silu * oh_get(u, i));
        double got = oh_get(&out, i);
        ck_assert_msg(fabs(got - want) <= rel_tol * fabs(want) + 1e-7,
                      "[%lld]: got %.9g, want %.9g", (long long)i, got, want);
        /* In bf16/f16 the product of two rounded values is exact in f32, so
         * unless f32's silu could round the other way than double's (a
         * value within 1e-6 of a tie), the kernel must match exactly. */
        double sd = gv / (1.0 + exp(-gv));
        if (g->dtype != SF_DTYPE_F32 &&
            sw_round(g->dtype, sd * (1 + 1e-6)) == sw_round(g->dtype, sd * (1 - 1e-6)))
            ck_assert_msg(got == want, "[%lld]: got %.9g, want exactly %.9g", (long long)i, got,
                          want);
    }
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
}

START_TEST(test_swiglu_infer_and_rejects)
{
    oh_node_t *h = oh_node_new("swiglu", "act");
    sf_tensor_t in[2] = {sf_tensor_make(SF_DTYPE_BF16, 2, OH_SHAPE(10, 48)),
                         sf_tensor_make(SF_DTYPE_BF16, 2, OH_SHAPE(10, 48))}, out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_infer(h, in, 2, &out, 1, &err), SF_OK);
    ck_assert(sf_tensor_same_shape(&out, &in[0]));
    ck_assert_int_eq(out.dtype, SF_DTYPE_BF16);
    in[1] = sf_tensor_make(SF_DTYPE_BF16, 2, OH_SHAPE(10, 47));
    sf_status_t st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "node 'act': input 'up' has shape [10,47], expected [10,48] (the shape of "
                  "'gate')");
    in[1] = sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(10, 48));
    err = (sf_err_t){0};
    st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "input 'up' has dtype f32, expected bf16 (the dtype of 'gate')");
    in[0] = sf_tensor_make(SF_DTYPE_I32, 2, OH_SHAPE(10, 48));
    err = (sf_err_t){0};
    st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "input 0 has dtype i32, expected f32, bf16 or f16");
    oh_node_free(h);
}
END_TEST

START_TEST(test_swiglu_values)
{
    /* silu(0) = 0, silu(x) -> x for large x, -> 0 for very negative x */
    sf_tensor_t g = oh_tensor_of(SF_DTYPE_F32, 1, OH_SHAPE(4), (const double[]){0, 30, -30, 1});
    sf_tensor_t u = oh_tensor_of(SF_DTYPE_F32, 1, OH_SHAPE(4), (const double[]){5, 2, 2, 3});
    oh_node_t *h = oh_node_new("swiglu", "act");
    sf_tensor_t in[2] = {g, u}, out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, in, 2, &out, 1, &err), SF_OK);
    ck_assert_double_eq(oh_get(&out, 0), 0.0);
    ck_assert_double_eq_tol(oh_get(&out, 1), 60.0, 1e-5);
    ck_assert_double_eq_tol(oh_get(&out, 2), 0.0, 1e-11);
    ck_assert_double_eq_tol(oh_get(&out, 3), 3.0 / (1.0 + exp(-1.0)), 1e-6);
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
    oh_tensor_free(&g);
    oh_tensor_free(&u);
}
END_TEST

START_TEST(test_swiglu_dtypes_and_strides)
{
    /* f32: f32 rounding only. bf16/f16: the same two roundings as the
     * reference; f32 silu vs double may flip one of them: 1 ulp allowed. */
    sf_tensor_t gf = sw_tensor(SF_DTYPE_F32, 2, OH_SHAPE(5, 7), 1);
    sf_tensor_t uf = sw_tensor(SF_DTYPE_F32, 2, OH_SHAPE(5, 7), 2);
    check_swiglu(&gf, &uf, 1e-6);
    sf_tensor_t gb = sw_tensor(SF_DTYPE_BF16, 2, OH_SHAPE(3, 11), 3);
    sf_tensor_t ub = sw_tensor(SF_DTYPE_BF16, 2, OH_SHAPE(3, 11), 4);
    check_swiglu(&gb, &ub, 0x1p-7);
    sf_tensor_t gh = sw_tensor(SF_DTYPE_F16, 1, OH_SHAPE(13), 5);
    sf_tensor_t uh = sw_tensor(SF_DTYPE_F16, 1, OH_SHAPE(13), 6);
    check_swiglu(&gh, &uh, 0x1p-10);
    /* gate and up as the two halves of one fused (T, 2I) projection */
    sf_tensor_t gu = sw_tensor(SF_DTYPE_F32, 2, OH_SHAPE(4, 18), 7);
    sf_tensor_t g, u;
    sf_err_t err = {0};
    ck_assert_int_eq(sf_tensor_view_slice(&gu, 1, 0, 9, 1, &g, &err), SF_OK);
    ck_assert_int_eq(sf_tensor_view_slice(&gu, 1, 9, 18, 1, &u, &err), SF_OK);
    check_swiglu(&g, &u, 1e-6);
    sf_tensor_t ut = oh_transpose(&uf, 0, 1); /* (7, 5), strided */
    sf_tensor_t gt = sw_tensor(SF_DTYPE_F32, 2, OH_SHAPE(7, 5), 8);
    check_swiglu(&gt, &ut, 1e-6);
    oh_tensor_free(&gf);
    oh_tensor_free(&uf);
    oh_tensor_free(&gb);
    oh_tensor_free(&ub);
    oh_tensor_free(&gh);
    oh_tensor_free(&uh);
    oh_tensor_free(&gu);
    oh_tensor_free(&gt);
}
END_TEST

static Suite *swiglu_suite(void)
{
    Suite *s = suite_create("op_swiglu");
    TCase *tc = tcase_create("swiglu");
    tcase_add_test(tc, test_swiglu_infer_and_rejects);
    tcase_add_test(tc, test_swiglu_values);
    tcase_add_test(tc, test_swiglu_dtypes_and_strides);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(swiglu_suite)
