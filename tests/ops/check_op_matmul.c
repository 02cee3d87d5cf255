/* matmul: shape rule (K, batch dims, dtypes, out_dtype), the scratch it
 * declares, and the BLAS kernel against a plain triple loop written here:
 * f32 to ~1e-6, bf16/f16 within their rounding, plus strided operands,
 * transpose_b, batched B, odd sizes and empty dims. */
#include "op_harness.h"

/* Element (r, c) of matrix `batch` of t, for any strides: t's trailing two
 * dims are the matrix, the leading ones flattened into `batch`. */
static double mat_at(const sf_tensor_t *t, int64_t batch, int64_t r, int64_t c)
{
    int64_t rows = t->shape[t->ndim - 2], cols = t->shape[t->ndim - 1];
    if (t->ndim == 2)
        batch = 0;
    return oh_get(t, (batch * rows + r) * cols + c);
}

/* Reference in double: out[b, m, n] = sum_k a[b, m, k] * b[(b,) k, n] (or b[(b,) n, k]). */
static double ref_mm(const sf_tensor_t *a, const sf_tensor_t *b, bool trans_b, int64_t bi,
                     int64_t m, int64_t n)
{
    int64_t k_dim = a->shape[a->ndim - 1];
    double s = 0;
    for (int64_t k = 0; k < k_dim; k++)
        s += mat_at(a, bi, m, k) * (trans_b ? mat_at(b, bi, n, k) : mat_at(b, bi, k, n));
    return s;
}

/* Deterministic values; `exact` ones are multiples of 1/4 in [-1.25, 1.25],
 * exact in bf16 with exact f32 products and sums at these sizes. */
static sf_tensor_t mm_values(sf_dtype_t dt, int ndim, const int64_t *shape, int seed, bool exact)
{
    sf_tensor_t t = oh_tensor_new(dt, ndim, shape);
    int64_t n = sf_tensor_numel(&t);
    for (int64_t i = 0; i < n; i++) {
        int64_t h = (i * 7 + seed * 13) % 11;
        oh_put(&t, i, exact ? 0.25 * (double)(h - 5) : 0.1 * (double)(h - 5) + 0.013 * seed);
    }
    return t;
}

static void check_mm(const sf_tensor_t *a, const sf_tensor_t *b, bool trans_b, const char *out_dtype,
                     double rel_tol)
{
    oh_node_t *h = oh_node_new("matmul", "mm");
    oh_set_bool(h, "transpose_b", trans_b);
    if (out_dtype != NULL)
        oh_set_str(h, "out_dtype", out_dtype);
    sf_tensor_t in[2] = {*a, *b};
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, in, 2, &out, 1, &err), SF_OK);
    int nd = out.ndim;
    int64_t m_dim = out.shape[nd - 2], n_dim = out.shape[nd - 1];
    int64_t batches = (m_dim > 0 && n_dim > 0) ? sf_tensor_numel(&out) / (m_dim * n_dim) : 0;
    for (int64_t bi = 0; bi < batches; bi++)
        for (int64_t m = 0; m < m_dim; m++)
            for (int64_t n = 0; n < n_dim; n++) {
                double want = ref_mm(a, b, trans_b, bi, m, n);
                double got = oh_get(&out, (bi * m_dim + m) * n_dim + n);
                double tol = rel_tol * (fabs(want) > 1 ? fabs(want) : 1);
                ck_assert_msg(fabs(got - want) <= tol, "[%lld,%lld,%lld]: got %.9g, want %.9g",
                              (long long)bi, (long long)m, (long long)n, got, want);
            }
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
}

/* Small non-negative integers (0..3): exact in every float dtype, and every
 * f32 product and sum at these sizes is exact (< 2^24), so the kernel's
 * result must equal the exact sum rounded once to the output dtype. Sums
 * reach thousands, where bf16 keeps 8 significant bits: rounding partial
 * sums (per K tile) would change them. */
static sf_tensor_t mm_ints(sf_dtype_t dt, int ndim, const int64_t *shape, int seed)
{
    sf_tensor_t t = oh_tensor_new(dt, ndim, shape);
    int64_t n = sf_tensor_numel(&t);
    for (int64_t i = 0; i < n; i++)
        oh_put(&t, i, (double)((i * 5 + seed * 3 + i / 7) % 4));
    return t;
}

/* The exact sum rounded once to dt, as a double. */
static double mm_round_once(sf_dtype_t dt, double exact)
{
    char buf[8];
    sf_dtype_store(dt, buf, exact);
    return sf_dtype_load(dt, buf);
}

/* Run matmul and require every element to equal the reference rounded once. */
static void check_mm_exact(const sf_tensor_t *a, const sf_tensor_t *b, bool trans_b,
                           const char *out_dtype)
{
    oh_node_t *h = oh_node_new("matmul", "mm");
    oh_set_bool(h, "transpose_b", trans_b);
    if (out_dtype != NULL)
        oh_set_str(h, "out_dtype", out_dtype);
    sf_tensor_t in[2] = {*a, *b};
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, in, 2, &out, 1, &err), SF_OK);
    int nd = out.ndim;
    int64_t m_dim = out.shape[nd - 2], n_dim = out.shape[nd - 1];
    int64_t batches = sf_tensor_numel(&out) / (m_dim * n_dim);
    int64_t n_wrong = 0;
    for (int64_t bi = 0; bi < batches; bi++)
        for (int64_t m = 0; m < m_dim; m++)
            for (int64_t n = 0; n < n_dim; n++) {
                double want = mm_round_once(out.dtype, ref_mm(a, b, trans_b, bi, m, n));
                double got = oh_get(&out, (bi * m_dim + m) * n_dim + n);
                if (got != want && n_wrong++ < 5)
                    fprintf(stderr, "[%lld,%lld,%lld]: got %.9g, want %.9g\n", (long long)bi,
                            (long long)m, (long long)n, got, want);
            }
    ck_assert_int_eq(n_wrong, 0);
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
}

START_TEST(test_matmul_infer_shapes)
{
    oh_node_t *h = oh_node_new("matmul", "mm");
    sf_tensor_t in[2] = {sf_tensor_make(SF_DTYPE_BF16, 3, OH_SHAPE(2, 3, 4)),
                         sf_tensor_make(SF_DTYPE_BF16, 2, OH_SHAPE(4, 5))};
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_infer(h, in, 2, &out, 1, &err), SF_OK);
    ck_assert_int_eq(out.ndim, 3);
    ck_assert_int_eq(out.shape[0], 2);
    ck_assert_int_eq(out.shape[1], 3);
    ck_assert_int_eq(out.shape[2], 5);
    ck_assert_int_eq(out.dtype, SF_DTYPE_BF16);
    /* lm_head: hidden (T, H) @ weight (V, H)^T, logits kept in f32 */
    oh_set_bool(h, "transpose_b", true);
    oh_set_str(h, "out_dtype", "f32");
    in[0] = sf_tensor_make(SF_DTYPE_BF16, 2, OH_SHAPE(6, 8));
    in[1] = sf_tensor_make(SF_DTYPE_BF16, 2, OH_SHAPE(10, 8));
    ck_assert_int_eq(oh_infer(h, in, 2, &out, 1, &err), SF_OK);
    ck_assert_int_eq(out.shape[0], 6);
    ck_assert_int_eq(out.shape[1], 10);
    ck_assert_int_eq(out.dtype, SF_DTYPE_F32);
    oh_node_free(h);
}
END_TEST

START_TEST(test_matmul_rejects_k_mismatch)
{
    oh_node_t *h = oh_node_new("matmul", "mm1");
    sf_tensor_t in[2] = {sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(4, 128)),
                         sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(64, 32))};
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL,
                  "node 'mm1': input 'b' has shape [64,32], expected [128,*]");
    oh_node_free(h);
}
END_TEST

START_TEST(test_matmul_rejects_bad_inputs)
{
    struct {
        sf_tensor_t a, b;
        const char *fragment;
    } cases[] = {
        {sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(2, 3, 4)),
         sf_tensor_make(SF_DTYPE_F32, 3, OH_SHAPE(3, 4, 5)), "expected batch dims equal"},
        {sf_tensor_make(SF_DTYPE_F32, 1, OH_SHAPE(4)), sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(4, 5)),
         "input 0 has shape [4] (rank 1), expected rank >= 2"},
        {sf_tensor_make(SF_DTYPE_I32, 2, OH_SHAPE(2, 4)), sf_tensor_make(SF_DTYPE_I32, 2, OH_SHAPE(4, 5)),
         "input 0 has dtype i32, expected f32, bf16 or f16"},
        {sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(2, 4)), sf_tensor_make(SF_DTYPE_BF16, 2, OH_SHAPE(4, 5)),
         "input 'b' has dtype bf16, expected f32"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        oh_node_t *h = oh_node_new("matmul", "mm");
        sf_tensor_t in[2] = {cases[i].a, cases[i].b};
        sf_tensor_t out;
        sf_err_t err = {0};
        sf_status_t st = oh_infer(h, in, 2, &out, 1, &err);
        oh_assert_err(&err, st, SF_ERR_GRAPH, OH_NODE_LINE, OH_NODE_COL, cases[i].fragment);
        oh_node_free(h);
    }
}
END_TEST

START_TEST(test_matmul_rejects_bad_out_dtype)
{
    oh_node_t *h = oh_node_new("matmul", "mm");
    oh_set_str(h, "out_dtype", "i32");
    sf_tensor_t in[2] = {sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(2, 4)),
                         sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(4, 5))};
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = oh_infer(h, in, 2, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "out_dtype"), OH_ATTR_COL,
                  "out_dtype 'i32', expected f32, bf16 or f16");
    oh_node_free(h);
}
END_TEST

START_TEST(test_matmul_declares_scratch)
{
    /* bf16 (3,5) @ (5,7) -> bf16: A 15 floats (60 -> 64 bytes), B 35 (140 -> 192),
     * C 21 (84 -> 128): 384. The same in f32 needs none: BLAS reads and writes in place. */
    oh_node_t *h = oh_node_new("matmul", "mm");
    const sf_op_desc_t *d = h->node.op;
    sf_tensor_t in[2] = {sf_tensor_make(SF_DTYPE_BF16, 2, OH_SHAPE(3, 5)),
                         sf_tensor_make(SF_DTYPE_BF16, 2, OH_SHAPE(5, 7))};
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_infer(h, in, 2, &out, 1, &err), SF_OK);
    ck_assert_uint_eq(d->scratch_bytes(&h->node, NULL, in, 2, &out, 1), 384);
    in[0].dtype = in[1].dtype = SF_DTYPE_F32;
    out.dtype = SF_DTYPE_F32;
    ck_assert_uint_eq(d->scratch_bytes(&h->node, NULL, in, 2, &out, 1), 0);
    /* A transposed f32 view cannot be handed to BLAS: it is packed (64 bytes). */
    sf_tensor_t at = sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(5, 3));
    in[0] = oh_transpose(&at, 0, 1);
    ck_assert_uint_eq(d->scratch_bytes(&h->node, NULL, in, 2, &out, 1), 64);
    oh_node_free(h);
}
END_TEST

START_TEST(test_matmul_f32_odd_sizes)
{
    sf_tensor_t a = mm_values(SF_DTYPE_F32, 2, OH_SHAPE(3, 5), 1, false);
    sf_tensor_t b = mm_values(SF_DTYPE_F32, 2, OH_SHAPE(5, 7), 2, false);
    check_mm(&a, &b, false, NULL, 1e-6);
    sf_tensor_t bt = mm_values(SF_DTYPE_F32, 2, OH_SHAPE(7, 5), 3, false);
    check_mm(&a, &bt, true, NULL, 1e-6);
    oh_tensor_free(&a);
    oh_tensor_free(&b);
    oh_tensor_free(&bt);
}
END_TEST

START_TEST(test_matmul_f32_exact_small)
{
    /* [[1,2],[3,4]] @ [[5,6],[7,8]] = [[19,22],[43,50]] */
    const double av[] = {1, 2, 3, 4}, bv[] = {5, 6, 7, 8}, want[] = {19, 22, 43, 50};
    sf_tensor_t a = oh_tensor_of(SF_DTYPE_F32, 2, OH_SHAPE(2, 2), av);
    sf_tensor_t b = oh_tensor_of(SF_DTYPE_F32, 2, OH_SHAPE(2, 2), bv);
    oh_node_t *h = oh_node_new("matmul", "mm");
    sf_tensor_t in[2] = {a, b}, out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, in, 2, &out, 1, &err), SF_OK);
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq(oh_get(&out, i), want[i]);
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
    oh_tensor_free(&a);
    oh_tensor_free(&b);
}
END_TEST

START_TEST(test_matmul_batched)
{
    /* A (2, 3, 4, 5) with a shared B (5, 6) (one collapsed gemm) and with a
     * batched B (2, 3, 5, 6) (one gemm per matrix), both with transpose_b too. */
    sf_tensor_t a = mm_values(SF_DTYPE_F32, 4, OH_SHAPE(2, 3, 4, 5), 4, false);
    sf_tensor_t b2 = mm_values(SF_DTYPE_F32, 2, OH_SHAPE(5, 6), 5, false);
    sf_tensor_t b4 = mm_values(SF_DTYPE_F32, 4, OH_SHAPE(2, 3, 5, 6), 6, false);
    sf_tensor_t b4t = mm_values(SF_DTYPE_F32, 4, OH_SHAPE(2, 3, 6, 5), 7, false);
    check_mm(&a, &b2, false, NULL, 1e-6);
    check_mm(&a, &b4, false, NULL, 1e-6);
    check_mm(&a, &b4t, true, NULL, 1e-6);
    /* M == 1: the rows of the collapsed gemm are the batch */
    sf_tensor_t a1 = mm_values(SF_DTYPE_F32, 3, OH_SHAPE(4, 1, 5), 8, false);
    check_mm(&a1, &b2, false, NULL, 1e-6);
    oh_tensor_free(&a);
    oh_tensor_free(&a1);
    oh_tensor_free(&b2);
    oh_tensor_free(&b4);
    oh_tensor_free(&b4t);
}
END_TEST

START_TEST(test_matmul_strided_operands)
{
    /* A as a transposed view (packed), A as a column slice (read in place,
     * lda 9 > K 5), B as a transposed view, batched A with a gap between
     * batches (not collapsible). */
    sf_tensor_t abase = mm_values(SF_DTYPE_F32, 2, OH_SHAPE(5, 3), 1, false);
    sf_tensor_t at = oh_transpose(&abase, 0, 1); /* (3, 5) */
    sf_tensor_t wide = mm_values(SF_DTYPE_F32, 2, OH_SHAPE(3, 9), 2, false);
    sf_tensor_t acols;
    sf_err_t err = {0};
    ck_assert_int_eq(sf_tensor_view_slice(&wide, 1, 2, 7, 1, &acols, &err), SF_OK);
    sf_tensor_t bbase = mm_values(SF_DTYPE_F32, 2, OH_SHAPE(7, 5), 3, false);
    sf_tensor_t bt = oh_transpose(&bbase, 0, 1); /* (5, 7) */
    sf_tensor_t b = mm_values(SF_DTYPE_F32, 2, OH_SHAPE(5, 7), 4, false);
    check_mm(&at, &b, false, NULL, 1e-6);
    check_mm(&acols, &b, false, NULL, 1e-6);
    check_mm(&at, &bt, false, NULL, 1e-6);
    sf_tensor_t abig = mm_values(SF_DTYPE_F32, 3, OH_SHAPE(4, 3, 5), 5, false);
    sf_tensor_t agap;
    ck_assert_int_eq(sf_tensor_view_slice(&abig, 0, 0, 4, 2, &agap, &err), SF_OK); /* (2,3,5) */
    check_mm(&agap, &b, false, NULL, 1e-6);
    oh_tensor_free(&abase);
    oh_tensor_free(&wide);
    oh_tensor_free(&bbase);
    oh_tensor_free(&b);
    oh_tensor_free(&abig);
}
END_TEST

START_TEST(test_matmul_bf16_and_f16)
{
    /* Exact-valued bf16 inputs: the f32 sums are exact, and one rounding to
     * bf16 is within 2^-8 relative. Inexact values: the f32 output of bf16
     * inputs matches the double reference to 1e-6. */
    sf_tensor_t a = mm_values(SF_DTYPE_BF16, 3, OH_SHAPE(2, 3, 17), 1, true);
    sf_tensor_t b = mm_values(SF_DTYPE_BF16, 2, OH_SHAPE(11, 17), 2, true);
    check_mm(&a, &b, true, NULL, 0x1p-8);
    check_mm(&a, &b, true, "f32", 0.0);
    sf_tensor_t ai = mm_values(SF_DTYPE_BF16, 2, OH_SHAPE(5, 9), 3, false);
    sf_tensor_t bi = mm_values(SF_DTYPE_BF16, 3, OH_SHAPE(1, 9, 4), 4, false);
    sf_tensor_t ai3 = ai;
    ai3.ndim = 3;
    ai3.shape[0] = 1;
    ai3.shape[1] = 5;
    ai3.shape[2] = 9;
    ai3.strides[0] = 45;
    ai3.strides[1] = 9;
    ai3.strides[2] = 1;
    check_mm(&ai3, &bi, false, "f32", 1e-6);
    check_mm(&ai3, &bi, false, "bf16", 0x1p-8);
    sf_tensor_t ah = mm_values(SF_DTYPE_F16, 2, OH_SHAPE(4, 6), 5, false);
    sf_tensor_t bh = mm_values(SF_DTYPE_F16, 2, OH_SHAPE(6, 3), 6, false);
    check_mm(&ah, &bh, false, NULL, 0x1p-11);
    oh_tensor_free(&a);
    oh_tensor_free(&b);
    oh_tensor_free(&ai);
    oh_tensor_free(&bi);
    oh_tensor_free(&ah);
    oh_tensor_free(&bh);
}
END_TEST

START_TEST(test_matmul_empty_dims)
{
    /* K == 0: an empty sum, all zeros. M == 0 and N == 0: nothing to do. */
    sf_tensor_t a = oh_tensor_new(SF_DTYPE_F32, 2, OH_SHAPE(3, 0));
    sf_tensor_t b = oh_tensor_new(SF_DTYPE_F32, 2, OH_SHAPE(0, 4));
    check_mm(&a, &b, false, NULL, 0.0);
    sf_tensor_t a0 = oh_tensor_new(SF_DTYPE_BF16, 2, OH_SHAPE(0, 5));
    sf_tensor_t b0 = oh_tensor_new(SF_DTYPE_BF16, 2, OH_SHAPE(5, 0));
    sf_tensor_t b5 = mm_values(SF_DTYPE_BF16, 2, OH_SHAPE(5, 2), 1, true);
    sf_tensor_t a5 = mm_values(SF_DTYPE_BF16, 2, OH_SHAPE(2, 5), 1, true);
    check_mm(&a0, &b5, false, NULL, 0.0);
    check_mm(&a5, &b0, false, NULL, 0.0);
    oh_tensor_free(&a);
    oh_tensor_free(&b);
    oh_tensor_free(&a0);
    oh_tensor_free(&b0);
    oh_tensor_free(&a5);
    oh_tensor_free(&b5);
}
END_TEST

START_TEST(test_matmul_scratch_is_bounded)
{
    /* Qwen3-32B's lm_head at tp 8: hidden (32768, 5120) bf16 @ weight
     * (18992, 5120)^T. Whole f32 copies would be 640 MiB of A, 371 MiB of B
     * and 2.3 GiB of C; tiles are A 512x1024, B 1024x1024, C 512x1024 floats:
     * 2 + 4 + 2 = 8 MiB (8388608 bytes), 6 MiB with f32 logits (no C tile). */
    oh_node_t *h = oh_node_new("matmul", "lm_head");
    oh_set_bool(h, "transpose_b", true);
    const sf_op_desc_t *d = h->node.op;
    sf_tensor_t in[2] = {sf_tensor_make(SF_DTYPE_BF16, 2, OH_SHAPE(32768, 5120)),
                         sf_tensor_make(SF_DTYPE_BF16, 2, OH_SHAPE(18992, 5120))};
    sf_tensor_t out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_infer(h, in, 2, &out, 1, &err), SF_OK);
    ck_assert_uint_eq(d->scratch_bytes(&h->node, NULL, in, 2, &out, 1), 8388608);
    oh_set_str(h, "out_dtype", "f32");
    ck_assert_int_eq(oh_infer(h, in, 2, &out, 1, &err), SF_OK);
    ck_assert_uint_eq(d->scratch_bytes(&h->node, NULL, in, 2, &out, 1), 6291456);
    /* Batched (8, 4096, 5120) @ (8, 5120, 4096): the same bound, any batch. */
    oh_node_t *hb = oh_node_new("matmul", "mm");
    in[0] = sf_tensor_make(SF_DTYPE_BF16, 3, OH_SHAPE(8, 4096, 5120));
    in[1] = sf_tensor_make(SF_DTYPE_BF16, 3, OH_SHAPE(8, 5120, 4096));
    ck_assert_int_eq(oh_infer(hb, in, 2, &out, 1, &err), SF_OK);
    ck_assert_uint_eq(d->scratch_bytes(&hb->node, NULL, in, 2, &out, 1), 8388608);
    /* f32 operands and output: BLAS reads and writes in place, whatever the size. */
    in[0] = sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(32768, 5120));
    in[1] = sf_tensor_make(SF_DTYPE_F32, 2, OH_SHAPE(18992, 5120));
    ck_assert_int_eq(oh_infer(h, in, 2, &out, 1, &err), SF_OK);
    ck_assert_uint_eq(d->scratch_bytes(&h->node, NULL, in, 2, &out, 1), 0);
    oh_node_free(h);
    oh_node_free(hb);
}
END_TEST

START_TEST(test_matmul_tiles_k_rounds_once)
{
    /* K = 2055 = 2 full K tiles (1024) + 7: the bf16 result is the exact sum
     * rounded once; f16 and f32 outputs likewise; with transpose_b too. */
    sf_tensor_t a = mm_ints(SF_DTYPE_BF16, 2, OH_SHAPE(3, 2055), 1);
    sf_tensor_t b = mm_ints(SF_DTYPE_BF16, 2, OH_SHAPE(2055, 5), 2);
    sf_tensor_t bt = mm_ints(SF_DTYPE_BF16, 2, OH_SHAPE(5, 2055), 3);
    check_mm_exact(&a, &b, false, NULL);
    check_mm_exact(&a, &b, false, "f32");
    check_mm_exact(&a, &bt, true, NULL);
    check_mm_exact(&a, &bt, true, "f16");
    /* f32 operands, bf16 output: only C goes through a tile. */
    sf_tensor_t af = mm_ints(SF_DTYPE_F32, 2, OH_SHAPE(3, 2055), 4);
    sf_tensor_t bf = mm_ints(SF_DTYPE_F32, 2, OH_SHAPE(5, 2055), 5);
    check_mm_exact(&af, &bf, true, "bf16");
    check_mm_exact(&af, &bf, true, NULL);
    oh_tensor_free(&a);
    oh_tensor_free(&b);
    oh_tensor_free(&bt);
    oh_tensor_free(&af);
    oh_tensor_free(&bf);
}
END_TEST

START_TEST(test_matmul_tiles_m_and_n_edges)
{
    /* N = 1029 (one N tile of 1024 + 5) and M = 515 (one M tile of 512 + 3),
     * separately and together, bf16 and f16, plain and transposed B. */
    sf_tensor_t a3 = mm_ints(SF_DTYPE_BF16, 2, OH_SHAPE(3, 7), 1);
    sf_tensor_t bwide = mm_ints(SF_DTYPE_BF16, 2, OH_SHAPE(7, 1029), 2);
    sf_tensor_t bwide_t = mm_ints(SF_DTYPE_BF16, 2, OH_SHAPE(1029, 7), 3);
    check_mm_exact(&a3, &bwide, false, NULL);
    check_mm_exact(&a3, &bwide_t, true, "f32");
    sf_tensor_t atall = mm_ints(SF_DTYPE_BF16, 2, OH_SHAPE(515, 6), 4);
    sf_tensor_t b4 = mm_ints(SF_DTYPE_BF16, 2, OH_SHAPE(6, 4), 5);
    check_mm_exact(&atall, &b4, false, NULL);
    sf_tensor_t a_both = mm_ints(SF_DTYPE_F16, 2, OH_SHAPE(515, 5), 6);
    sf_tensor_t b_both = mm_ints(SF_DTYPE_F16, 2, OH_SHAPE(1029, 5), 7);
    check_mm_exact(&a_both, &b_both, true, NULL);
    oh_tensor_free(&a3);
    oh_tensor_free(&bwide);
    oh_tensor_free(&bwide_t);
    oh_tensor_free(&atall);
    oh_tensor_free(&b4);
    oh_tensor_free(&a_both);
    oh_tensor_free(&b_both);
}
END_TEST

START_TEST(test_matmul_tiles_cross_batches)
{
    /* A (3, 200, 9) bf16 with a shared B: one gemm of 600 rows, whose first
     * M tile (512 rows) ends inside the third batch. Then A as a strided
     * view (every other batch of a (6, 200, 9)) and as a transposed view of
     * each matrix; and a batched B (N 1030: two N tiles), tiled per matrix. */
    sf_tensor_t a = mm_ints(SF_DTYPE_BF16, 3, OH_SHAPE(3, 200, 9), 1);
    sf_tensor_t b = mm_ints(SF_DTYPE_BF16, 2, OH_SHAPE(9, 6), 2);
    check_mm_exact(&a, &b, false, NULL);
    sf_tensor_t abig = mm_ints(SF_DTYPE_BF16, 3, OH_SHAPE(6, 200, 9), 3);
    sf_tensor_t agap;
    sf_err_t err = {0};
    ck_assert_int_eq(sf_tensor_view_slice(&abig, 0, 0, 6, 2, &agap, &err), SF_OK); /* (3,200,9) */
    check_mm_exact(&agap, &b, false, "f32");
    sf_tensor_t abase = mm_ints(SF_DTYPE_BF16, 3, OH_SHAPE(3, 9, 200), 4);
    sf_tensor_t at = oh_transpose(&abase, 1, 2); /* (3, 200, 9) */
    check_mm_exact(&at, &b, false, NULL);
    sf_tensor_t bb = mm_ints(SF_DTYPE_BF16, 3, OH_SHAPE(3, 1030, 9), 5);
    check_mm_exact(&a, &bb, true, NULL);
    oh_tensor_free(&a);
    oh_tensor_free(&b);
    oh_tensor_free(&abig);
    oh_tensor_free(&abase);
    oh_tensor_free(&bb);
}
END_TEST

START_TEST(test_matmul_without_openblas_is_an_error)
{
    /* No BLAS to load: the node fails with SF_ERR_UNSUPPORTED naming the
     * library, it does not abort. */
    setenv("SF_BLAS_LIBRARY", "/nonexistent/libopenblas.so.0", 1);
    sf_tensor_t a = mm_ints(SF_DTYPE_BF16, 2, OH_SHAPE(2, 3), 1);
    sf_tensor_t b = mm_ints(SF_DTYPE_BF16, 2, OH_SHAPE(3, 4), 2);
    oh_node_t *h = oh_node_new("matmul", "mm");
    sf_tensor_t in[2] = {a, b}, out;
    sf_err_t err = {0};
    ck_assert_int_eq(oh_run(h, in, 2, &out, 1, &err), SF_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "matmul needs OpenBLAS (/nonexistent/libopenblas.so.0"));
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
    oh_tensor_free(&a);
    oh_tensor_free(&b);
}
END_TEST

static Suite *matmul_suite(void)
{
    Suite *s = suite_create("op_matmul");
    TCase *tc = tcase_create("shape_rule");
    tcase_add_test(tc, test_matmul_infer_shapes);
    tcase_add_test(tc, test_matmul_rejects_k_mismatch);
    tcase_add_test(tc, test_matmul_rejects_bad_inputs);
    tcase_add_test(tc, test_matmul_rejects_bad_out_dtype);
    tcase_add_test(tc, test_matmul_declares_scratch);
    tcase_add_test(tc, test_matmul_scratch_is_bounded);
    suite_add_tcase(s, tc);
    tc = tcase_create("kernel");
    tcase_add_test(tc, test_matmul_f32_exact_small);
    tcase_add_test(tc, test_matmul_f32_odd_sizes);
    tcase_add_test(tc, test_matmul_batched);
    tcase_add_test(tc, test_matmul_strided_operands);
    tcase_add_test(tc, test_matmul_bf16_and_f16);
    tcase_add_test(tc, test_matmul_empty_dims);
    suite_add_tcase(s, tc);
    tc = tcase_create("tiles");
    /* Matrices past one tile checked element by element against a double
     * reference: seconds under ASan, more on a loaded box (Check's default
     * 4 s ran out once in CI). The limit only catches a hang. */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_matmul_tiles_k_rounds_once);
    tcase_add_test(tc, test_matmul_tiles_m_and_n_edges);
    tcase_add_test(tc, test_matmul_tiles_cross_batches);
    tcase_add_test(tc, test_matmul_without_openblas_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(matmul_suite)
