/* add and mul: same shape or a suffix of a's shape (b repeated), f32 math
 * rounded once for bf16/f16, wrapping integer math, strided inputs, and
 * shape-rule errors. */
#include "op_harness.h"

static sf_tensor_t run_ew(const char *op, const sf_tensor_t *a, const sf_tensor_t *b)
{
    oh_node_t *h = oh_node_new(op, "ew");
    sf_tensor_t in[2] = {*a, *b};
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, in, 2, &out, 1, &err), SF_OK);
    ck_assert(sf_tensor_same_shape(&out, a));
    ck_assert_int_eq(out.dtype, a->dtype);
    oh_node_free(h);
    return out;
}

START_TEST(test_add_same_shape_f32)
{
    /* a = 0..5, b = 10..15 -> 10, 12, ..., 20 */
    sf_tensor_t a = oh_iota(SF_DTYPE_F32, 2, OH_SHAPE(2, 3), 0);
    sf_tensor_t b = oh_iota(SF_DTYPE_F32, 2, OH_SHAPE(2, 3), 10);
    sf_tensor_t o = run_ew("add", &a, &b);
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq(oh_get(&o, i), 10 + 2 * i);
    oh_tensor_free(&o);
    oh_tensor_free(&a);
    oh_tensor_free(&b);
}
END_TEST

START_TEST(test_mul_suffix_broadcast)
{
    /* a (2, 2, 3) = 0..11, b (3) = [1, 2, 3]: out[i] = a[i] * b[i % 3];
     * b (2, 3) = 1..6: out[i] = a[i] * (1 + i % 6). */
    sf_tensor_t a = oh_iota(SF_DTYPE_F32, 3, OH_SHAPE(2, 2, 3), 0);
    sf_tensor_t b1 = oh_iota(SF_DTYPE_F32, 1, OH_SHAPE(3), 1);
    sf_tensor_t b2 = oh_iota(SF_DTYPE_F32, 2, OH_SHAPE(2, 3), 1);
    sf_tensor_t o1 = run_ew("mul", &a, &b1);
    sf_tensor_t o2 = run_ew("mul", &a, &b2);
    for (int i = 0; i < 12; i++) {
        ck_assert_double_eq(oh_get(&o1, i), i * (1 + i % 3));
        ck_assert_double_eq(oh_get(&o2, i), i * (1 + i % 6));
    }
    oh_tensor_free(&o1);
    oh_tensor_free(&o2);
    oh_tensor_free(&a);
    oh_tensor_free(&b1);
    oh_tensor_free(&b2);
}
END_TEST

START_TEST(test_ew_bf16_rounds_once_from_f32)
{
    /* Reference: the f32 result rounded to bf16 once. 1 + 2^-7 squared is
     * 1 + 2^-6 + 2^-14 -> bf16 1 + 2^-6; 256 + 1 = 257 -> 256 (tie to even). */
    const double av[] = {1.0078125, 256.0, 3.0, -0.1};
    const double bv[] = {1.0078125, 1.0, 0.3, 7.7};
    sf_tensor_t a = oh_tensor_of(SF_DTYPE_BF16, 1, OH_SHAPE(4), av);
    sf_tensor_t b = oh_tensor_of(SF_DTYPE_BF16, 1, OH_SHAPE(4), bv);
    sf_tensor_t s = run_ew("add", &a, &b);
    sf_tensor_t p = run_ew("mul", &a, &b);
    ck_assert_double_eq(oh_get(&p, 0), 1.015625);
    ck_assert_double_eq(oh_get(&s, 1), 256.0);
    for (int i = 0; i < 4; i++) {
        float x = (float)oh_get(&a, i), y = (float)oh_get(&b, i);
        ck_assert_double_eq(oh_get(&s, i), sf_bf16_to_f32(sf_f32_to_bf16(x + y)));
        ck_assert_double_eq(oh_get(&p, i), sf_bf16_to_f32(sf_f32_to_bf16(x * y)));
    }
    oh_tensor_free(&s);
    oh_tensor_free(&p);
    oh_tensor_free(&a);
    oh_tensor_free(&b);
}
END_TEST

START_TEST(test_ew_integers_wrap)
{
    sf_tensor_t a = oh_tensor_new(SF_DTYPE_I32, 1, OH_SHAPE(2));
    sf_tensor_t b = oh_tensor_new(SF_DTYPE_I32, 1, OH_SHAPE(2));
    int32_t *pa = sf_tensor_data(&a), *pb = sf_tensor_data(&b);
    pa[0] = INT32_MAX; pb[0] = 1;   /* + -> INT32_MIN */
    pa[1] = -7;        pb[1] = 6;   /* + -> -1, * -> -42 */
    sf_tensor_t s = run_ew("add", &a, &b);
    sf_tensor_t p = run_ew("mul", &a, &b);
    ck_assert_int_eq(((int32_t *)sf_tensor_data(&s))[0], INT32_MIN);
    ck_assert_int_eq(((int32_t *)sf_tensor_data(&s))[1], -1);
    ck_assert_int_eq(((int32_t *)sf_tensor_data(&p))[1], -42);
    oh_tensor_free(&s);
    oh_tensor_free(&p);
    oh_tensor_free(&a);
    oh_tensor_free(&b);
    /* u8: 200 + 100 = 300 mod 256 = 44 */
    const double u[] = {200}, w[] = {100};
    a = oh_tensor_of(SF_DTYPE_U8, 1, OH_SHAPE(1), u);
    b = oh_tensor_of(SF_DTYPE_U8, 1, OH_SHAPE(1), w);
    s = run_ew("add", &a, &b);
    ck_assert_double_eq(oh_get(&s, 0), 44);
    oh_tensor_free(&s);
    oh_tensor_free(&a);
    oh_tensor_free(&b);
}
END_TEST

START_TEST(test_ew_strided_inputs)
{
    /* a = transpose of base (3, 4) = 0..11: a[j, i] = 4i + j (shape (4, 3));
     * b = a column view of base2 (3, 2) = 100..105, column 1: [101, 103, 105]. */
    sf_tensor_t base = oh_iota(SF_DTYPE_F32, 2, OH_SHAPE(3, 4), 0);
    sf_tensor_t base2 = oh_iota(SF_DTYPE_F32, 2, OH_SHAPE(3, 2), 100);
    sf_tensor_t a = oh_transpose(&base, 0, 1);
    sf_tensor_t col;
    sf_err_t err = {0};
    ck_assert_int_eq(sf_tensor_view_slice(&base2, 1, 1, 2, 1, &col, &err), SF_OK);
    sf_tensor_t b = col; /* as a (3) vector with stride 2 */
    b.ndim = 1;
    b.shape[0] = 3;
    b.strides[0] = col.strides[0];
    sf_tensor_t o = run_ew("add", &a, &b);
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < 3; i++)
            ck_assert_double_eq(oh_get(&o, j * 3 + i), 4 * i + j + 101 + 2 * i);
    oh_tensor_free(&o);
    oh_tensor_free(&base);
    oh_tensor_free(&base2);
}
END_TEST

START_TEST(test_ew_empty)
{
    sf_tensor_t a = oh_tensor_new(SF_DTYPE_F32, 2, OH_SHAPE(0, 3));
    sf_tensor_t b = oh_tensor_new(SF_DTYPE_F32, 1, OH_SHAPE(3));
    sf_tensor_t o = run_ew("mul", &a, &b);
    ck_assert_int_eq(sf_tensor_numel(&o), 0);
    oh_tensor_free(&o);
    oh_tensor_free(&a);
    oh_tensor_free(&b);
}
END_TEST

START_TEST(test_ew_rejects_non_suffix)
{
    oh_node_t *h = oh_node_new("add", "sum");
    sf_tensor_t in[2] = {sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(2, 3)),
                         sf_tensor_make(SF_DTYPE_F32, 1, OH_SHAPE(2))};
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "node 'sum': input 'b' has shape [2], expected the shape of 'a' [2,3] or a "
                  "suffix of it");
    oh_node_free(h);
}
END_TEST

START_TEST(test_ew_rejects_dtype_mismatch)
{
    oh_node_t *h = oh_node_new("mul", "prod");
    sf_tensor_t in[2] = {sf_tensor_make(SF_DTYPE_F32, 1, OH_SHAPE(3)),
                         sf_tensor_make(SF_DTYPE_I32, 1, OH_SHAPE(3))};
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "input 'b' has dtype i32, expected f32");
    oh_node_free(h);
}
END_TEST

static Suite *elementwise_suite(void)
{
    Suite *s = suite_create("op_elementwise");
    TCase *tc = tcase_create("kernel");
    tcase_add_test(tc, test_add_same_shape_f32);
    tcase_add_test(tc, test_mul_suffix_broadcast);
    tcase_add_test(tc, test_ew_bf16_rounds_once_from_f32);
    tcase_add_test(tc, test_ew_integers_wrap);
    tcase_add_test(tc, test_ew_strided_inputs);
    tcase_add_test(tc, test_ew_empty);
    suite_add_tcase(s, tc);
    tc = tcase_create("shape_rule");
    tcase_add_test(tc, test_ew_rejects_non_suffix);
    tcase_add_test(tc, test_ew_rejects_dtype_mismatch);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(elementwise_suite)
