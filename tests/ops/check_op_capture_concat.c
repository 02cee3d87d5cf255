/* capture_concat: distinct inputs (by graph value index) joined on the last
 * dim in production order, repeats dropped, as SGLang's `i in
 * layers_to_capture` captures; plus the shape rule and strided inputs. */
#include "op_harness.h"

/* Run with inputs in[] standing for graph values vals[] (node->in). */
static sf_status_t cc_run(sf_tensor_t *in, const int *vals, int n, sf_tensor_t *out,
                          sf_err_t *err, oh_node_t **hp)
{
    oh_node_t *h = oh_node_new("capture_concat", "aux");
    h->node.in = (int *)vals;
    *hp = h;
    return oh_run(h, in, n, out, 1, err);
}

START_TEST(test_capture_concat_dedups_in_layer_order)
{
    /* Layers [2, L/2, L-3] with L = 4: values h_2, h_2, h_1 (h_1 produced
     * first, smaller index): output [h_1 | h_2]. */
    sf_tensor_t h1 = oh_iota(SF_DTYPE_BF16, 2, OH_SHAPE(3, 4), 100.0);
    sf_tensor_t h2 = oh_iota(SF_DTYPE_BF16, 2, OH_SHAPE(3, 4), 200.0);
    sf_tensor_t in[3] = {h2, h2, h1};
    const int vals[3] = {7, 7, 4};
    sf_tensor_t out;
    sf_err_t err = {0};
    oh_node_t *h;
    ck_assert_int_eq(cc_run(in, vals, 3, &out, &err, &h), SF_OK);
    ck_assert_int_eq(out.shape[0], 3);
    ck_assert_int_eq(out.shape[1], 8);
    for (int64_t t = 0; t < 3; t++)
        for (int64_t j = 0; j < 8; j++)
            ck_assert_double_eq(oh_get(&out, t * 8 + j), (j < 4 ? 100.0 : 200.0) + t * 4 + j % 4);
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
    oh_tensor_free(&h1);
    oh_tensor_free(&h2);
}
END_TEST

START_TEST(test_capture_concat_three_distinct_strided)
{
    /* L = 3 captures [2, 1, 0]: all distinct, output in value order
     * [h_0 | h_1 | h_2] whatever the listed order; h_1 is a strided view. */
    sf_tensor_t a = oh_iota(SF_DTYPE_F32, 2, OH_SHAPE(2, 3), 0.0);
    sf_tensor_t bbase = oh_iota(SF_DTYPE_F32, 2, OH_SHAPE(3, 2), 10.0);
    sf_tensor_t b = oh_transpose(&bbase, 0, 1); /* (2, 3): b[t][j] = 10 + 2j + t */
    sf_tensor_t c = oh_iota(SF_DTYPE_F32, 2, OH_SHAPE(2, 3), 20.0);
    sf_tensor_t in[3] = {c, b, a};
    const int vals[3] = {9, 5, 2};
    sf_tensor_t out;
    sf_err_t err = {0};
    oh_node_t *h;
    ck_assert_int_eq(cc_run(in, vals, 3, &out, &err, &h), SF_OK);
    ck_assert_int_eq(out.shape[1], 9);
    for (int64_t t = 0; t < 2; t++)
        for (int64_t j = 0; j < 3; j++) {
            ck_assert_double_eq(oh_get(&out, t * 9 + j), (double)(t * 3 + j));
            ck_assert_double_eq(oh_get(&out, t * 9 + 3 + j), (double)(10 + 2 * j + t));
            ck_assert_double_eq(oh_get(&out, t * 9 + 6 + j), (double)(20 + t * 3 + j));
        }
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
    oh_tensor_free(&a);
    oh_tensor_free(&bbase);
    oh_tensor_free(&c);
}
END_TEST

START_TEST(test_capture_concat_rejects)
{
    oh_node_t *h = oh_node_new("capture_concat", "aux");
    const int vals[2] = {1, 2};
    h->node.in = (int *)vals;
    sf_tensor_t in[2] = {sf_tensor_make(SF_DTYPE_BF16, 2, OH_SHAPE(10, 32)),
                         sf_tensor_make(SF_DTYPE_BF16, 2, OH_SHAPE(10, 16))}, out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "node 'aux': input 1 has shape [10,16], expected [10,32] (the shape of input 0)");
    in[1] = sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(10, 32));
    err = (sf_err_t){0};
    st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "input 1 has dtype f32, expected bf16 (the dtype of input 0)");
    in[0] = sf_tensor_make(SF_DTYPE_F32, 0, NULL);
    in[1] = sf_tensor_make(SF_DTYPE_F32, 0, NULL);
    err = (sf_err_t){0};
    st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL, "expected rank >= 1");
    oh_node_free(h);
}
END_TEST

static Suite *capture_concat_suite(void)
{
    Suite *s = suite_create("op_capture_concat");
    TCase *tc = tcase_create("capture_concat");
    tcase_add_test(tc, test_capture_concat_dedups_in_layer_order);
    tcase_add_test(tc, test_capture_concat_three_distinct_strided);
    tcase_add_test(tc, test_capture_concat_rejects);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(capture_concat_suite)
