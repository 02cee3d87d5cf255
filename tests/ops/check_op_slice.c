/* slice: Python's slicing rules (negative indices, clamping, steps) on a
 * view, checked against lists computed with Python; step errors. */
#include "op_harness.h"

#define SLICE_NONE INT64_MAX

typedef struct slice_case {
    int64_t start, stop, step;
    int n;
    int64_t want[7];
} slice_case_t;

/* list(range(7))[start:stop:step], as printed by python3. */
static const slice_case_t slice_cases[] = {
    {0, SLICE_NONE, 1, 7, {0, 1, 2, 3, 4, 5, 6}},
    {2, 5, 1, 3, {2, 3, 4}},
    {-3, SLICE_NONE, 1, 3, {4, 5, 6}},
    {-100, 3, 1, 3, {0, 1, 2}},
    {1, 100, 2, 3, {1, 3, 5}},
    {-1, -8, 1, 0, {0}},
    {5, 2, 1, 0, {0}},
    {0, 7, 3, 3, {0, 3, 6}},
    {-2, SLICE_NONE, 5, 1, {5}},
    {6, SLICE_NONE, 4, 1, {6}},
    {0, SLICE_NONE, SLICE_NONE, 1, {0}},
};

START_TEST(test_slice_follows_python)
{
    const slice_case_t *c = &slice_cases[_i];
    sf_tensor_t base = oh_iota(SF_DTYPE_I64, 1, OH_SHAPE(7), 0);
    oh_node_t *h = oh_node_new("slice", "sl");
    oh_set_int(h, "start", c->start);
    if (c->stop != SLICE_NONE) /* else the default: the end */
        oh_set_int(h, "stop", c->stop);
    oh_set_int(h, "step", c->step);
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, &base, 1, &out, 1, &err), SF_OK);
    ck_assert_int_eq(out.shape[0], c->n);
    for (int i = 0; i < c->n; i++)
        ck_assert_double_eq(oh_get(&out, i), (double)c->want[i]);
    oh_node_free(h);
    oh_tensor_free(&base);
}
END_TEST

START_TEST(test_slice_view_layout)
{
    /* (4, 6) f32 at offset 16, slice dim -1 [1:6:2] -> (4, 3), strides (6, 2),
     * offset 16 + 1 * 4 bytes. */
    oh_node_t *h = oh_node_new("slice", "sl");
    oh_set_int(h, "dim", -1);
    oh_set_int(h, "start", 1);
    oh_set_int(h, "stop", 6);
    oh_set_int(h, "step", 2);
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(4, 6));
    in.offset = 16;
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_infer(h, &in, 1, &out, 1, &err), SF_OK);
    ck_assert_int_eq(out.shape[0], 4);
    ck_assert_int_eq(out.shape[1], 3);
    ck_assert_int_eq(out.strides[0], 6);
    ck_assert_int_eq(out.strides[1], 2);
    ck_assert_uint_eq(out.offset, 20);
    oh_node_free(h);
}
END_TEST

START_TEST(test_slice_of_slice_reads_base)
{
    /* base (5, 4) = 0..19. s1 = base[1:5:2] (rows 1, 3); s2 = s1[:, -2:]
     * = [[6, 7], [14, 15]]. */
    sf_tensor_t base = oh_iota(SF_DTYPE_BF16, 2, OH_SHAPE(5, 4), 0);
    oh_node_t *h1 = oh_node_new("slice", "s1");
    oh_set_int(h1, "start", 1);
    oh_set_int(h1, "step", 2);
    sf_tensor_t s1, s2;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h1, &base, 1, &s1, 1, &err), SF_OK);
    oh_node_t *h2 = oh_node_new("slice", "s2");
    oh_set_int(h2, "dim", 1);
    oh_set_int(h2, "start", -2);
    ck_assert_int_eq(oh_run(h2, &s1, 1, &s2, 1, &err), SF_OK);
    const double want[] = {6, 7, 14, 15};
    ck_assert_int_eq(sf_tensor_numel(&s2), 4);
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq(oh_get(&s2, i), want[i]);
    oh_node_free(h1);
    oh_node_free(h2);
    oh_tensor_free(&base);
}
END_TEST

START_TEST(test_slice_rejects_step_zero)
{
    oh_node_t *h = oh_node_new("slice", "sl");
    oh_set_int(h, "step", 0);
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_F32, 1, OH_SHAPE(4));
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, &in, 1, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "step"), OH_ATTR_COL,
                  "node 'sl': step 0, expected >= 1");
    oh_node_free(h);
}
END_TEST

START_TEST(test_slice_rejects_bad_dim)
{
    oh_node_t *h = oh_node_new("slice", "sl");
    oh_set_int(h, "dim", 1);
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_F32, 1, OH_SHAPE(4));
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, &in, 1, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "dim"), OH_ATTR_COL,
                  "dim 1 is out of range for rank 1");
    oh_node_free(h);
}
END_TEST

START_TEST(test_slice_of_empty_dim)
{
    oh_node_t *h = oh_node_new("slice", "sl");
    oh_set_int(h, "start", -3);
    oh_set_int(h, "stop", 2);
    sf_tensor_t in = sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(0, 3));
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_infer(h, &in, 1, &out, 1, &err), SF_OK);
    ck_assert_int_eq(out.shape[0], 0);
    ck_assert_uint_eq(out.offset, 0);
    oh_node_free(h);
}
END_TEST

static Suite *slice_suite(void)
{
    Suite *s = suite_create("op_slice");
    TCase *tc = tcase_create("python_rules");
    tcase_add_loop_test(tc, test_slice_follows_python, 0,
                        (int)(sizeof slice_cases / sizeof slice_cases[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("views");
    tcase_add_test(tc, test_slice_view_layout);
    tcase_add_test(tc, test_slice_of_slice_reads_base);
    tcase_add_test(tc, test_slice_of_empty_dim);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_slice_rejects_step_zero);
    tcase_add_test(tc, test_slice_rejects_bad_dim);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(slice_suite)
