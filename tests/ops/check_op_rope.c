/* rope: shape rule, and the kernel against a reference written here in
 * double (rotate_half convention, position t % seq): f32 to 1e-5, bf16 to
 * one rounding of the output, a strided x, the position reset at each new
 * sequence, and position 0 as the identity. */
#include "op_harness.h"

static void check_rope(const sf_tensor_t *x, int64_t seq, double theta, double rel_tol)
{
    oh_node_t *h = oh_node_new("rope", "rope_q");
    oh_set_int(h, "seq", seq);
    oh_set_float(h, "theta", theta);
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, x, 1, &out, 1, &err), SF_OK);
    int64_t n_tok = x->shape[0], heads = x->shape[1], hd = x->shape[2], half = hd / 2;
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t hh = 0; hh < heads; hh++)
            for (int64_t i = 0; i < hd; i++) {
                int64_t base = (t * heads + hh) * hd;
                int64_t p = i % half;
                double ang = (double)(t % seq) * pow(theta, -2.0 * (double)p / (double)hd);
                double x0 = oh_get(x, base + p), x1 = oh_get(x, base + p + half);
                double want = i < half ? x0 * cos(ang) - x1 * sin(ang)
                                       : x1 * cos(ang) + x0 * sin(ang);
                double mag = fmax(fmax(fabs(x0), fabs(x1)), fabs(want));
                double got = oh_get(&out, base + i);
                ck_assert_msg(fabs(got - want) <= rel_tol * mag + 1e-6,
                              "t %lld head %lld i %lld: got %.9g, want %.9g", (long long)t,
                              (long long)hh, (long long)i, got, want);
                if (t % seq == 0) /* position 0: the identity, exactly */
                    ck_assert_double_eq(got, oh_get(x, base + i));
            }
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
}

START_TEST(test_rope_infer)
{
    oh_node_t *h = oh_node_new("rope", "rope_q");
    oh_set_int(h, "seq", 5);
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_BF16, 3, OH_SHAPE(10, 4, 8)), out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_infer(h, &in, 1, &out, 1, &err), SF_OK);
    ck_assert(sf_tensor_same_shape(&in, &out));
    ck_assert_int_eq(out.dtype, SF_DTYPE_BF16);
    ck_assert_double_eq(sf_node_attr_float(&h->node, "theta"), 10000.0);
    oh_node_free(h);
}
END_TEST

START_TEST(test_rope_rejects)
{
    struct {
        sf_tensor_t x;
        const char *fragment;
    } cases[] = {
        {sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(10, 4, 7)),
         "node 'rope_q': input 'x' has shape [10,4,7], expected [T,heads,head_dim] with an even "
         "head_dim"},
        {sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(10, 8)), "input 'x' has shape [10,8]"},
        {sf_tensor_make(SF_DTYPE_I64, 3, OH_SHAPE(10, 4, 8)), "input 0 has dtype i64"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        oh_node_t *h = oh_node_new("rope", "rope_q");
        oh_set_int(h, "seq", 5);
        sf_tensor_t out;
        sf_err_t err = {0};
        sf_status_t st = oh_infer(h, &cases[i].x, 1, &out, 1, &err);
        oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL, cases[i].fragment);
        oh_node_free(h);
    }
    sf_tensor_t x = sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(10, 4, 8)), out;
    oh_node_t *h = oh_node_new("rope", "rope_q");
    oh_set_int(h, "seq", 3);
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, &x, 1, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "seq"), OH_ATTR_COL,
                  "seq 3, expected a positive divisor of T = 10");
    oh_set_int(h, "seq", 5);
    oh_set_float(h, "theta", 0.0);
    err = (sf_err_t){0};
    st = oh_infer(h, &x, 1, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "theta"), OH_ATTR_COL,
                  "theta 0, expected a number > 0");
    oh_node_free(h);
}
END_TEST

START_TEST(test_rope_f32_two_sequences)
{
    sf_tensor_t x = oh_tensor_seeded(SF_DTYPE_F32, 3, OH_SHAPE(14, 3, 6), 1);
    check_rope(&x, 7, 10000.0, 1e-5);
    check_rope(&x, 7, 1000000.0, 1e-5); /* Qwen3's rope_theta */
    check_rope(&x, 14, 10.0, 1e-5);     /* fast-turning pairs, one sequence */
    oh_tensor_free(&x);
}
END_TEST

START_TEST(test_rope_bf16)
{
    /* One rounding of the output: within 2^-8 of max(|x0|, |x1|, |out|) (the f32
     * cos/sin and products add ~1e-7 relative on top). */
    sf_tensor_t x = oh_tensor_seeded(SF_DTYPE_BF16, 3, OH_SHAPE(10, 2, 8), 2);
    check_rope(&x, 5, 10000.0, 0x1p-8);
    oh_tensor_free(&x);
}
END_TEST

START_TEST(test_rope_strided)
{
    /* x (T, heads, hd) as a transposed view of a (heads, T, hd) buffer */
    sf_tensor_t base = oh_tensor_seeded(SF_DTYPE_F32, 3, OH_SHAPE(2, 9, 4), 3);
    sf_tensor_t x = oh_transpose(&base, 0, 1);
    check_rope(&x, 3, 10000.0, 1e-5);
    oh_tensor_free(&base);
}
END_TEST

static Suite *rope_suite(void)
{
    Suite *s = suite_create("op_rope");
    TCase *tc = tcase_create("shape_rule");
    tcase_add_test(tc, test_rope_infer);
    tcase_add_test(tc, test_rope_rejects);
    suite_add_tcase(s, tc);
    tc = tcase_create("kernel");
    tcase_add_test(tc, test_rope_f32_two_sequences);
    tcase_add_test(tc, test_rope_bf16);
    tcase_add_test(tc, test_rope_strided);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(rope_suite)
