/* random: element i is SplitMix64 output i for the seed (normal: outputs
 * 2i and 2i+1), so the first values are fixed forever and written here;
 * same seed same tensor, different seeds differ, sample statistics are
 * sane, and bad attrs are graph errors. */
#include "op_harness.h"

static sf_tensor_t run_random(oh_node_t *h)
{
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, NULL, 0, &out, 1, &err), SF_OK);
    return out;
}

START_TEST(test_random_uniform_first_values)
{
    /* SplitMix64 from seed 0 starts 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4,
     * 0x06c45d188009454f (the published reference sequence); the value is
     * the top 53 bits / 2^53, rounded to f32. */
    oh_node_t *h = oh_node_new("random", "r");
    OH_INTS(h, "shape", 2, 2);
    sf_tensor_t o = run_random(h);
    const float *v = sf_tensor_data(&o);
    ck_assert_float_eq(v[0], (float)((0xe220a8397b1dcdafull >> 11) * 0x1p-53));
    ck_assert_float_eq(v[1], (float)((0x6e789e6aa1b965f4ull >> 11) * 0x1p-53));
    ck_assert_float_eq(v[2], (float)((0x06c45d188009454full >> 11) * 0x1p-53));
    const float want[] = {0.8833107948303223f, 0.4315280020236969f, 0.02643377147614956f,
                          0.970881998538971f};
    ck_assert_mem_eq(v, want, sizeof want);
    oh_tensor_free(&o);
    /* seed 42, [-1, 3) */
    oh_set_int(h, "seed", 42);
    oh_set_float(h, "low", -1);
    oh_set_float(h, "high", 3);
    o = run_random(h);
    const float want42[] = {1.966259479522705f, -0.36035841703414917f, 0.11440452188253403f,
                            0.37676286697387695f};
    ck_assert_mem_eq(sf_tensor_data(&o), want42, sizeof want42);
    oh_tensor_free(&o);
    oh_node_free(h);
}
END_TEST

START_TEST(test_random_normal_and_int_first_values)
{
    oh_node_t *h = oh_node_new("random", "r");
    OH_INTS(h, "shape", 1);
    oh_set_int(h, "seed", 7);
    oh_set_str(h, "dist", "normal");
    sf_tensor_t o = run_random(h);
    /* sqrt(-2 ln u1) cos(2 pi u2) with u1, u2 from outputs 0 and 1 of seed 7 */
    ck_assert_float_eq_tol(*(float *)sf_tensor_data(&o), 1.3649922609329224f, 1e-6f);
    oh_tensor_free(&o);
    oh_node_free(h);
    /* i64 in [3, 13): 3 + floor(bits * 10 / 2^64) */
    h = oh_node_new("random", "r");
    OH_INTS(h, "shape", 6);
    oh_set_int(h, "seed", 5);
    oh_set_dtype(h, "dtype", SF_DTYPE_I64);
    oh_set_float(h, "low", 3);
    oh_set_int(h, "high_int", 13);
    o = run_random(h);
    const int64_t want[] = {6, 10, 5, 3, 4, 6};
    ck_assert_mem_eq(sf_tensor_data(&o), want, sizeof want);
    oh_tensor_free(&o);
    oh_node_free(h);
}
END_TEST

START_TEST(test_random_is_a_function_of_seed_and_index)
{
    oh_node_t *h = oh_node_new("random", "r");
    oh_set_int(h, "seed", 123);
    oh_set_dtype(h, "dtype", SF_DTYPE_BF16);
    OH_INTS(h, "shape", 3, 5);
    sf_tensor_t a = run_random(h);
    sf_tensor_t b = run_random(h);
    ck_assert_mem_eq(sf_tensor_data(&a), sf_tensor_data(&b), 30);
    /* the shape does not matter, only the row-major index */
    OH_INTS(h, "shape", 15);
    sf_tensor_t flat = run_random(h);
    ck_assert_mem_eq(sf_tensor_data(&a), sf_tensor_data(&flat), 30);
    oh_set_int(h, "seed", 124);
    sf_tensor_t c = run_random(h);
    int n_same = 0;
    for (int i = 0; i < 15; i++)
        n_same += ((uint16_t *)sf_tensor_data(&a))[i] == ((uint16_t *)sf_tensor_data(&c))[i];
    ck_assert_int_lt(n_same, 3);
    oh_tensor_free(&a);
    oh_tensor_free(&b);
    oh_tensor_free(&flat);
    oh_tensor_free(&c);
    oh_node_free(h);
}
END_TEST

START_TEST(test_random_statistics)
{
    /* 10k uniform draws in [2, 4): mean 3 +- 0.02 (the standard error is
     * 0.0058), all in range. Normal(1, 2): mean 1 +- 0.08, std 2 +- 0.1. */
    oh_node_t *h = oh_node_new("random", "r");
    OH_INTS(h, "shape", 100, 100);
    oh_set_float(h, "low", 2);
    oh_set_float(h, "high", 4);
    sf_tensor_t o = run_random(h);
    const float *v = sf_tensor_data(&o);
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
        ck_assert(v[i] >= 2.0f && v[i] < 4.0f);
        sum += v[i];
    }
    ck_assert_double_eq_tol(sum / 10000, 3.0, 0.02);
    oh_tensor_free(&o);
    oh_set_str(h, "dist", "normal");
    oh_set_float(h, "mean", 1);
    oh_set_float(h, "std", 2);
    o = run_random(h);
    v = sf_tensor_data(&o);
    double s1 = 0, s2 = 0;
    for (int i = 0; i < 10000; i++) {
        ck_assert(isfinite(v[i]));
        s1 += v[i];
        s2 += (double)v[i] * v[i];
    }
    double mean = s1 / 10000, var = s2 / 10000 - mean * mean;
    ck_assert_double_eq_tol(mean, 1.0, 0.08);
    ck_assert_double_eq_tol(sqrt(var), 2.0, 0.1);
    oh_tensor_free(&o);
    oh_node_free(h);
    /* u8 in [250, 256): every value appears in 600 draws, none outside */
    h = oh_node_new("random", "r");
    OH_INTS(h, "shape", 600);
    oh_set_dtype(h, "dtype", SF_DTYPE_U8);
    oh_set_float(h, "low", 250);
    oh_set_int(h, "high_int", 256);
    o = run_random(h);
    int seen[256] = {0};
    for (int i = 0; i < 600; i++)
        seen[((uint8_t *)sf_tensor_data(&o))[i]]++;
    for (int k = 0; k < 256; k++)
        ck_assert(k >= 250 ? seen[k] > 0 : seen[k] == 0);
    oh_tensor_free(&o);
    oh_node_free(h);
}
END_TEST

START_TEST(test_random_empty)
{
    oh_node_t *h = oh_node_new("random", "r");
    OH_INTS(h, "shape", 0, 7);
    sf_tensor_t o = run_random(h);
    ck_assert_int_eq(sf_tensor_numel(&o), 0);
    oh_tensor_free(&o);
    oh_node_free(h);
}
END_TEST

START_TEST(test_random_rejects_bad_attrs)
{
    sf_tensor_t out;
    sf_err_t err = {0};
    oh_node_t *h = oh_node_new("random", "noise");
    OH_INTS(h, "shape", 2);
    oh_set_str(h, "dist", "gauss");
    sf_status_t st = oh_infer(h, NULL, 0, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "dist"), OH_ATTR_COL,
                  "node 'noise': dist 'gauss', expected uniform or normal");
    oh_node_free(h);

    h = oh_node_new("random", "noise");
    OH_INTS(h, "shape", 2);
    oh_set_float(h, "high", -1);
    sf_err_clear(&err);
    st = oh_infer(h, NULL, 0, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "high"), OH_ATTR_COL,
                  "high -1 is below low 0");
    oh_node_free(h);

    /* integers without a high_int: the default 0 is not above low 0 */
    h = oh_node_new("random", "noise");
    OH_INTS(h, "shape", 2);
    oh_set_dtype(h, "dtype", SF_DTYPE_I32);
    sf_err_clear(&err);
    st = oh_infer(h, NULL, 0, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "integers in [low, high_int) = [0, 0) for dtype i32");
    oh_set_str(h, "dist", "normal");
    sf_err_clear(&err);
    st = oh_infer(h, NULL, 0, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "dist"), OH_ATTR_COL,
                  "dist normal needs a float dtype, got i32");
    oh_node_free(h);
}
END_TEST

static Suite *random_suite(void)
{
    Suite *s = suite_create("op_random");
    TCase *tc = tcase_create("values");
    tcase_add_test(tc, test_random_uniform_first_values);
    tcase_add_test(tc, test_random_normal_and_int_first_values);
    tcase_add_test(tc, test_random_is_a_function_of_seed_and_index);
    tcase_add_test(tc, test_random_statistics);
    tcase_add_test(tc, test_random_empty);
    suite_add_tcase(s, tc);
    tc = tcase_create("shape_rule");
    tcase_add_test(tc, test_random_rejects_bad_attrs);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(random_suite)
