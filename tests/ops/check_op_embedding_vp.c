/* embedding_vp: shape rule, the lookup on a rank's vocab range (zeros
 * elsewhere), two ranks' partial outputs summing to the full lookup, i32 and
 * i64 ids, a strided table, and out-of-vocab ids as SF_ERR_INPUT. */
#include "op_harness.h"

static sf_status_t ev_run(const sf_tensor_t *ids, const sf_tensor_t *w, int64_t start,
                          int64_t vocab, sf_tensor_t *out, sf_err_t *err, oh_node_t **hp)
{
    oh_node_t *h = oh_node_new("embedding_vp", "embed");
    oh_set_int(h, "vocab_start", start);
    oh_set_int(h, "vocab", vocab);
    sf_tensor_t in[2] = {*ids, *w};
    *hp = h;
    return oh_run(h, in, 2, out, 1, err);
}

START_TEST(test_embedding_vp_infer_and_rejects)
{
    oh_node_t *h = oh_node_new("embedding_vp", "embed");
    oh_set_int(h, "vocab", 1000);
    sf_tensor_t in[2] = {sf_tensor_make(SF_DTYPE_I32, 2, OH_SHAPE(2, 5)),
                         sf_tensor_make(SF_DTYPE_BF16, 2, OH_SHAPE(250, 32))}, out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_infer(h, in, 2, &out, 1, &err), SF_OK);
    ck_assert_int_eq(out.ndim, 2);
    ck_assert_int_eq(out.shape[0], 10);
    ck_assert_int_eq(out.shape[1], 32);
    ck_assert_int_eq(out.dtype, SF_DTYPE_BF16);
    in[0] = sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(2, 5));
    sf_status_t st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "node 'embed': input 'input_ids' is f32 [2,5], expected i32 or i64 [B,S]");
    in[0] = sf_tensor_make(SF_DTYPE_I64, 2, OH_SHAPE(2, 5));
    in[1] = sf_tensor_make(SF_DTYPE_BF16, 1, OH_SHAPE(250));
    err = (sf_err_t){0};
    st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "input 'weight' has shape [250], expected [Vlocal,H]");
    in[1] = sf_tensor_make(SF_DTYPE_BF16, 2, OH_SHAPE(250, 32));
    oh_set_int(h, "vocab", 0);
    err = (sf_err_t){0};
    st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "vocab"), OH_ATTR_COL,
                  "vocab 0, expected > 0");
    oh_set_int(h, "vocab", 1000);
    oh_set_int(h, "vocab_start", -250);
    err = (sf_err_t){0};
    st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "vocab_start"), OH_ATTR_COL,
                  "vocab_start -250, expected >= 0");
    oh_node_free(h);
}
END_TEST

START_TEST(test_embedding_vp_two_ranks_sum_to_full)
{
    /* vocab 10 (padded to 12), hidden 3: rank 0 holds rows 0..5, rank 1
     * rows 6..11; table row r = [r, r + 0.5, -r]. */
    const double idv[] = {0, 5, 6, 9, 3, 7};
    for (int di = 0; di < 2; di++) {
        sf_dtype_t idt = di == 0 ? SF_DTYPE_I32 : SF_DTYPE_I64;
        sf_tensor_t ids = oh_tensor_of(idt, 2, OH_SHAPE(2, 3), idv);
        sf_tensor_t shard[2], out[2];
        oh_node_t *h[2];
        sf_err_t err = {0};
        for (int r = 0; r < 2; r++) {
            shard[r] = oh_tensor_new(SF_DTYPE_BF16, 2, OH_SHAPE(6, 3));
            for (int64_t i = 0; i < 6; i++) {
                double row = (double)(r * 6 + i);
                oh_put(&shard[r], i * 3 + 0, row);
                oh_put(&shard[r], i * 3 + 1, row + 0.5);
                oh_put(&shard[r], i * 3 + 2, -row);
            }
            ck_assert_int_eq(ev_run(&ids, &shard[r], r * 6, 10, &out[r], &err, &h[r]), SF_OK);
        }
        for (int64_t t = 0; t < 6; t++) {
            bool is_mine0 = idv[t] < 6;
            for (int64_t j = 0; j < 3; j++) {
                double full = j == 0 ? idv[t] : j == 1 ? idv[t] + 0.5 : -idv[t];
                double o0 = oh_get(&out[0], t * 3 + j), o1 = oh_get(&out[1], t * 3 + j);
                ck_assert_double_eq(is_mine0 ? o0 : o1, full);
                ck_assert_double_eq(is_mine0 ? o1 : o0, 0.0);
                ck_assert_double_eq(o0 + o1, full);
            }
        }
        for (int r = 0; r < 2; r++) {
            oh_outputs_free(h[r], &out[r], 1);
            oh_node_free(h[r]);
            oh_tensor_free(&shard[r]);
        }
        oh_tensor_free(&ids);
    }
}
END_TEST

START_TEST(test_embedding_vp_strided_table)
{
    /* The table as a transposed view (H, V) -> (V, H): column stride V. */
    sf_tensor_t base = oh_iota(SF_DTYPE_F32, 2, OH_SHAPE(4, 5), 0.0); /* (H=4, V=5) */
    sf_tensor_t w = oh_transpose(&base, 0, 1);                         /* (5, 4) */
    sf_tensor_t ids = oh_tensor_of(SF_DTYPE_I64, 1, OH_SHAPE(3), (const double[]){4, 0, 2});
    sf_tensor_t out;
    sf_err_t err = {0};
    oh_node_t *h;
    ck_assert_int_eq(ev_run(&ids, &w, 0, 5, &out, &err, &h), SF_OK);
    const double idv[] = {4, 0, 2};
    for (int64_t t = 0; t < 3; t++)
        for (int64_t j = 0; j < 4; j++)
            ck_assert_double_eq(oh_get(&out, t * 4 + j), j * 5 + idv[t]);
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
    oh_tensor_free(&base);
    oh_tensor_free(&ids);
}
END_TEST

START_TEST(test_embedding_vp_rejects_out_of_vocab)
{
    sf_tensor_t w = oh_tensor_new(SF_DTYPE_F32, 2, OH_SHAPE(250, 2));
    const double bad[][4] = {{1, 2, 3, 1234}, {-1, 0, 0, 0}, {0, 0, 1000, 0}};
    const char *want[] = {"node 'embed': input_ids[1, 1] = 1234 is outside the vocab (1000)",
                          "node 'embed': input_ids[0, 0] = -1 is outside the vocab (1000)",
                          "node 'embed': input_ids[1, 0] = 1000 is outside the vocab (1000)"};
    for (int i = 0; i < 3; i++) {
        sf_tensor_t ids = oh_tensor_of(SF_DTYPE_I32, 2, OH_SHAPE(2, 2), bad[i]);
        sf_tensor_t out;
        sf_err_t err = {0};
        oh_node_t *h;
        sf_status_t st = ev_run(&ids, &w, 250, 1000, &out, &err, &h);
        oh_assert_err(&err, st, SF_ERR_INPUT, OH_NODE_LINE, OH_NODE_COL, want[i]);
        oh_outputs_free(h, &out, 1);
        oh_node_free(h);
        oh_tensor_free(&ids);
    }
    oh_tensor_free(&w);
}
END_TEST

static Suite *embedding_vp_suite(void)
{
    Suite *s = suite_create("op_embedding_vp");
    TCase *tc = tcase_create("embedding_vp");
    tcase_add_test(tc, test_embedding_vp_infer_and_rejects);
    tcase_add_test(tc, test_embedding_vp_two_ranks_sum_to_full);
    tcase_add_test(tc, test_embedding_vp_strided_table);
    tcase_add_test(tc, test_embedding_vp_rejects_out_of_vocab);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(embedding_vp_suite)
