/* attention: shape rule and scratch, and the blocked online-softmax kernel
 * against a naive full-softmax reference written here in double: a
 * sequence length that is not a multiple of the block, GQA ratio 2, two
 * sequences (and a check that changing one leaves the other's output
 * bit-identical), key_mask (including a query with no visible key), strided
 * q/k/v, an explicit scale, bf16. */
#include "op_harness.h"

typedef struct at_case {
    const sf_tensor_t *q, *k, *v, *mask; /* mask may be NULL */
    int64_t seq, block;
    double scale; /* 0: default */
} at_case_t;

static sf_status_t at_run(const at_case_t *c, sf_tensor_t *out, sf_err_t *err, oh_node_t **hp)
{
    oh_node_t *h = oh_node_new("attention", "attn");
    oh_set_int(h, "seq", c->seq);
    oh_set_int(h, "block", c->block);
    if (c->scale != 0.0)
        oh_set_float(h, "scale", c->scale);
    sf_tensor_t in[4] = {*c->q, *c->k, *c->v};
    if (c->mask != NULL)
        in[3] = *c->mask;
    *hp = h;
    return oh_run(h, in, c->mask != NULL ? 4 : 3, out, 1, err);
}

/* Naive reference for one output element: full softmax over the visible keys. */
static double at_ref(const at_case_t *c, int64_t t, int64_t h, int64_t d)
{
    int64_t nh = c->q->shape[1], hd = c->q->shape[2], nkv = c->k->shape[1];
    int64_t b = t / c->seq, i = t % c->seq, kvh = h / (nh / nkv);
    double scale = c->scale != 0.0 ? c->scale : 1.0 / sqrt((double)hd);
    double s[256], mx = -INFINITY;
    ck_assert_int_le(c->seq, 256);
    for (int64_t j = 0; j <= i; j++) {
        s[j] = -INFINITY;
        if (c->mask != NULL && oh_get(c->mask, b * c->seq + j) == 0)
            continue;
        double dot = 0;
        for (int64_t e = 0; e < hd; e++)
            dot += oh_get(c->q, (t * nh + h) * hd + e) *
                   oh_get(c->k, ((b * c->seq + j) * nkv + kvh) * hd + e);
        s[j] = dot * scale;
        mx = fmax(mx, s[j]);
    }
    if (mx == -INFINITY)
        return 0.0;
    double sum = 0, acc = 0;
    for (int64_t j = 0; j <= i; j++) {
        double p = exp(s[j] - mx);
        sum += p;
        acc += p * oh_get(c->v, ((b * c->seq + j) * nkv + kvh) * hd + d);
    }
    return acc / sum;
}

static void check_attention(const at_case_t *c, double rel_tol)
{
    sf_tensor_t out;
    sf_err_t err = {0};
    oh_node_t *h;
    ck_assert_int_eq(at_run(c, &out, &err, &h), SF_OK);
    ck_assert_int_eq(out.dtype, c->q->dtype);
    int64_t n_tok = c->q->shape[0], nh = c->q->shape[1], hd = c->q->shape[2];
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t hh = 0; hh < nh; hh++)
            for (int64_t d = 0; d < hd; d++) {
                double want = at_ref(c, t, hh, d);
                double got = oh_get(&out, (t * nh + hh) * hd + d);
                ck_assert_msg(fabs(got - want) <= rel_tol * fabs(want) + 1e-5,
                              "t %lld head %lld d %lld: got %.9g, want %.9g", (long long)t,
                              (long long)hh, (long long)d, got, want);
            }
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
}

START_TEST(test_attention_infer_and_scratch)
{
    oh_node_t *h = oh_node_new("attention", "attn");
    oh_set_int(h, "seq", 7);
    oh_set_int(h, "block", 4);
    sf_tensor_t in[4] = {sf_tensor_make(SF_DTYPE_BF16, 3, OH_SHAPE(14, 4, 8)),
                         sf_tensor_make(SF_DTYPE_BF16, 3, OH_SHAPE(14, 2, 8)),
                         sf_tensor_make(SF_DTYPE_BF16, 3, OH_SHAPE(14, 2, 8)),
                         sf_tensor_make(SF_DTYPE_I32, 2, OH_SHAPE(2, 7))};
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_infer(h, in, 4, &out, 1, &err), SF_OK);
    ck_assert(sf_tensor_same_shape(&out, &in[0]));
    ck_assert_int_eq(out.dtype, SF_DTYPE_BF16);
    /* block 4, hd 8: q, k, v, acc tiles 4*4*8 + scores 4*4 + max, sum 2*4 = 152 floats */
    const sf_op_desc_t *d = h->node.op;
    ck_assert_uint_eq(d->scratch_bytes(&h->node, NULL, in, 4, &out, 1), 152 * 4);
    /* a block longer than the sequence is clamped to it: 4*7*8 + 49 + 14 = 287 */
    oh_set_int(h, "block", 64);
    ck_assert_uint_eq(d->scratch_bytes(&h->node, NULL, in, 4, &out, 1), 287 * 4);
    oh_node_free(h);
}
END_TEST

START_TEST(test_attention_rejects)
{
    struct {
        sf_tensor_t q, k, v;
        const char *fragment;
    } cases[] = {
        {sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(10, 4, 8)), sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(10, 3, 8)),
         sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(10, 3, 8)),
         "node 'attn': input 'k' has shape [10,3,8], expected [10,kv_heads,8] with kv_heads > 0 "
         "dividing the 4 heads of 'q'"},
        {sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(10, 4, 8)), sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(10, 2, 8)),
         sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(10, 1, 8)),
         "input 'v' has shape [10,1,8], expected [10,2,8] (the shape of 'k')"},
        {sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(10, 4, 8)), sf_tensor_make(SF_DTYPE_BF16, 3, OH_SHAPE(10, 2, 8)),
         sf_tensor_make(SF_DTYPE_BF16, 3, OH_SHAPE(10, 2, 8)),
         "input 'k' has dtype bf16, expected f32 (the dtype of 'q')"},
        {sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(10, 32)), sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(10, 2, 8)),
         sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(10, 2, 8)),
         "input 'q' has shape [10,32], expected [T,heads,head_dim]"},
        {sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(10, 4, 8)), sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(10, 2, 4)),
         sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(10, 2, 4)), "input 'k' has shape [10,2,4]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        oh_node_t *h = oh_node_new("attention", "attn");
        oh_set_int(h, "seq", 5);
        sf_tensor_t in[3] = {cases[i].q, cases[i].k, cases[i].v}, out;
        sf_err_t err = {0};
        sf_status_t st = oh_infer(h, in, 3, &out, 1, &err);
        oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL, cases[i].fragment);
        oh_node_free(h);
    }
    sf_tensor_t in[4] = {sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(10, 4, 8)),
                         sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(10, 2, 8)),
                         sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(10, 2, 8)),
                         sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(2, 5))};
    sf_tensor_t out;
    oh_node_t *h = oh_node_new("attention", "attn");
    oh_set_int(h, "seq", 5);
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, in, 4, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "input 'key_mask' is f32 [2,5], expected i32, i64 or u8 [2,5] (B, S)");
    in[3] = sf_tensor_make(SF_DTYPE_I32, 2, OH_SHAPE(1, 10));
    err = (sf_err_t){0};
    st = oh_infer(h, in, 4, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "input 'key_mask' is i32 [1,10], expected");
    oh_set_int(h, "seq", 4);
    err = (sf_err_t){0};
    st = oh_infer(h, in, 3, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "seq"), OH_ATTR_COL,
                  "seq 4, expected a positive divisor of T = 10");
    oh_set_int(h, "seq", 5);
    oh_set_int(h, "block", 0);
    err = (sf_err_t){0};
    st = oh_infer(h, in, 3, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "block"), OH_ATTR_COL,
                  "block 0, expected 1..4096");
    oh_set_int(h, "block", 64);
    oh_set_float(h, "scale", -1.0);
    err = (sf_err_t){0};
    st = oh_infer(h, in, 3, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "scale"), OH_ATTR_COL,
                  "scale -1, expected a number >= 0");
    oh_node_free(h);
}
END_TEST

START_TEST(test_attention_f32_blocks_gqa_two_seqs)
{
    /* 2 sequences of 7 tokens, 4 query heads on 2 kv heads, head_dim 5;
     * blocks of 3 (7 is not a multiple), 1, 7 and 64 (clamped). */
    sf_tensor_t q = oh_tensor_seeded(SF_DTYPE_F32, 3, OH_SHAPE(14, 4, 5), 1);
    sf_tensor_t k = oh_tensor_seeded(SF_DTYPE_F32, 3, OH_SHAPE(14, 2, 5), 2);
    sf_tensor_t v = oh_tensor_seeded(SF_DTYPE_F32, 3, OH_SHAPE(14, 2, 5), 3);
    const int64_t blocks[] = {3, 1, 7, 64};
    for (size_t i = 0; i < 4; i++) {
        at_case_t c = {&q, &k, &v, NULL, 7, blocks[i], 0.0};
        check_attention(&c, 1e-5);
    }
    at_case_t c = {&q, &k, &v, NULL, 7, 3, 0.7};
    check_attention(&c, 1e-5);
    /* MHA (nkv == nh) and MQA (nkv == 1) */
    sf_tensor_t k4 = oh_tensor_seeded(SF_DTYPE_F32, 3, OH_SHAPE(14, 4, 5), 4);
    sf_tensor_t v4 = oh_tensor_seeded(SF_DTYPE_F32, 3, OH_SHAPE(14, 4, 5), 5);
    at_case_t mha = {&q, &k4, &v4, NULL, 7, 2, 0.0};
    check_attention(&mha, 1e-5);
    sf_tensor_t k1 = oh_tensor_seeded(SF_DTYPE_F32, 3, OH_SHAPE(14, 1, 5), 6);
    sf_tensor_t v1 = oh_tensor_seeded(SF_DTYPE_F32, 3, OH_SHAPE(14, 1, 5), 7);
    at_case_t mqa = {&q, &k1, &v1, NULL, 14, 4, 0.0};
    check_attention(&mqa, 1e-5);
    oh_tensor_free(&q);
    oh_tensor_free(&k);
    oh_tensor_free(&v);
    oh_tensor_free(&k4);
    oh_tensor_free(&v4);
    oh_tensor_free(&k1);
    oh_tensor_free(&v1);
}
END_TEST

START_TEST(test_attention_no_cross_sequence_leak)
{
    /* Changing sequence 1's keys and values must leave sequence 0's output
     * bit-identical (and vice versa for its queries' own results). */
    sf_tensor_t q = oh_tensor_seeded(SF_DTYPE_F32, 3, OH_SHAPE(10, 2, 4), 11);
    sf_tensor_t k = oh_tensor_seeded(SF_DTYPE_F32, 3, OH_SHAPE(10, 1, 4), 12);
    sf_tensor_t v = oh_tensor_seeded(SF_DTYPE_F32, 3, OH_SHAPE(10, 1, 4), 13);
    at_case_t c = {&q, &k, &v, NULL, 5, 2, 0.0};
    sf_tensor_t out0, out1;
    sf_err_t err = {0};
    oh_node_t *h0, *h1;
    ck_assert_int_eq(at_run(&c, &out0, &err, &h0), SF_OK);
    for (int64_t i = 5 * 4; i < 10 * 4; i++) {
        oh_put(&k, i, 100.0 + (double)i);
        oh_put(&v, i, -50.0 - (double)i);
    }
    ck_assert_int_eq(at_run(&c, &out1, &err, &h1), SF_OK);
    for (int64_t i = 0; i < 5 * 2 * 4; i++)
        ck_assert_double_eq(oh_get(&out0, i), oh_get(&out1, i));
    int n_changed = 0;
    for (int64_t i = 5 * 2 * 4; i < 10 * 2 * 4; i++)
        n_changed += oh_get(&out0, i) != oh_get(&out1, i);
    ck_assert_int_eq(n_changed, 5 * 2 * 4); /* the change did reach sequence 1 */
    check_attention(&c, 1e-5);
    oh_outputs_free(h0, &out0, 1);
    oh_outputs_free(h1, &out1, 1);
    oh_node_free(h0);
    oh_node_free(h1);
    oh_tensor_free(&q);
    oh_tensor_free(&k);
    oh_tensor_free(&v);
}
END_TEST

START_TEST(test_attention_key_mask)
{
    /* Sequence 0 pads its last two keys; sequence 1 masks its first key, so
     * its query 0 sees no key and outputs zeros. i32, i64 and u8 masks. */
    const double mv[] = {1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1};
    const sf_dtype_t dts[] = {SF_DTYPE_I32, SF_DTYPE_I64, SF_DTYPE_U8};
    sf_tensor_t q = oh_tensor_seeded(SF_DTYPE_F32, 3, OH_SHAPE(12, 4, 3), 21);
    sf_tensor_t k = oh_tensor_seeded(SF_DTYPE_F32, 3, OH_SHAPE(12, 2, 3), 22);
    sf_tensor_t v = oh_tensor_seeded(SF_DTYPE_F32, 3, OH_SHAPE(12, 2, 3), 23);
    for (int i = 0; i < 3; i++) {
        sf_tensor_t m = oh_tensor_of(dts[i], 2, OH_SHAPE(2, 6), mv);
        at_case_t c = {&q, &k, &v, &m, 6, 4, 0.0};
        check_attention(&c, 1e-5);
        sf_tensor_t out;
        sf_err_t err = {0};
        oh_node_t *h;
        ck_assert_int_eq(at_run(&c, &out, &err, &h), SF_OK);
        for (int64_t e = 0; e < 4 * 3; e++)
            ck_assert_double_eq(oh_get(&out, 6 * 4 * 3 + e), 0.0); /* token 6 = seq 1, pos 0 */
        oh_outputs_free(h, &out, 1);
        oh_node_free(h);
        oh_tensor_free(&m);
    }
    oh_tensor_free(&q);
    oh_tensor_free(&k);
    oh_tensor_free(&v);
}
END_TEST

START_TEST(test_attention_strided_and_bf16)
{
    /* q, k, v as column slices of one fused qkv projection (T, 8, 4): the
     * heads [0,4) are q, [4,6) k, [6,8) v. */
    sf_tensor_t qkv = oh_tensor_seeded(SF_DTYPE_F32, 3, OH_SHAPE(10, 8, 4), 31);
    sf_tensor_t q, k, v;
    sf_err_t err = {0};
    ck_assert_int_eq(sf_tensor_view_slice(&qkv, 1, 0, 4, 1, &q, &err), SF_OK);
    ck_assert_int_eq(sf_tensor_view_slice(&qkv, 1, 4, 6, 1, &k, &err), SF_OK);
    ck_assert_int_eq(sf_tensor_view_slice(&qkv, 1, 6, 8, 1, &v, &err), SF_OK);
    at_case_t c = {&q, &k, &v, NULL, 5, 2, 0.0};
    check_attention(&c, 1e-5);
    /* bf16: the reference runs in double on the same bf16 inputs; the
     * kernel rounds once at the end, so 2^-8 relative (+ the f32 noise). */
    sf_tensor_t qb = oh_tensor_seeded(SF_DTYPE_BF16, 3, OH_SHAPE(18, 4, 6), 32);
    sf_tensor_t kb = oh_tensor_seeded(SF_DTYPE_BF16, 3, OH_SHAPE(18, 2, 6), 33);
    sf_tensor_t vb = oh_tensor_seeded(SF_DTYPE_BF16, 3, OH_SHAPE(18, 2, 6), 34);
    at_case_t cb = {&qb, &kb, &vb, NULL, 9, 4, 0.0};
    check_attention(&cb, 0x1p-8);
    oh_tensor_free(&qkv);
    oh_tensor_free(&qb);
    oh_tensor_free(&kb);
    oh_tensor_free(&vb);
}
END_TEST

static Suite *attention_suite(void)
{
    Suite *s = suite_create("op_attention");
    TCase *tc = tcase_create("shape_rule");
    tcase_add_test(tc, test_attention_infer_and_scratch);
    tcase_add_test(tc, test_attention_rejects);
    suite_add_tcase(s, tc);
    tc = tcase_create("kernel");
    tcase_add_test(tc, test_attention_f32_blocks_gqa_two_seqs);
    tcase_add_test(tc, test_attention_no_cross_sequence_leak);
    tcase_add_test(tc, test_attention_key_mask);
    tcase_add_test(tc, test_attention_strided_and_bf16);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(attention_suite)
