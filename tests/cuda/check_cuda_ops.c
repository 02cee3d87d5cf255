/* Every op's cuda kernel against its CPU reference kernel, on small and odd
 * shapes (1, 3, 17, 129 rows; head_dim 64 and 6; column blocks and
 * transposed views as inputs): the node is built by hand (op_harness.h),
 * run once by the CPU kernel and once through the cuda device
 * (sf_device_run), and the outputs compared within the tolerance stated
 * next to each case. Without a GPU, after the checks that need none (the
 * kernel table, and every case run through the cpu device's path), it
 * prints "SKIP: no CUDA GPU (or not built with CUDA)" and exits 77. */
#include <stdio.h>

#include "coll.h"
#include "cuda_device.h"
#include "gpu_probe.h"
#include "op_harness.h"

/* ---- running a node on the cuda device ------------------------------- */

/* The device under test: cuda; first the cpu device, which runs the same
 * cases through the same device path (upload, run, download) against its
 * own direct run, so the harness and every CPU reference case are checked
 * on machines without a GPU. Set in main before the suite forks. */
static sf_device_t *cu_target;

static sf_device_t *cu_dev(void)
{
    ck_assert_ptr_nonnull(cu_target);
    return cu_target;
}

/* A device copy of host tensor t: its whole buffer uploaded, so the view
 * keeps its offset and strides. b receives the device buffer. */
static sf_tensor_t cu_upload(const sf_tensor_t *t, sf_buffer_t *b)
{
    sf_err_t err = {0};
    sf_tensor_t d = *t;
    memset(b, 0, sizeof *b);
    d.buf = b;
    if (t->buf == NULL || t->buf->nbytes == 0)
        return d;
    b->nbytes = t->buf->nbytes;
    ck_assert_int_eq(sf_device_alloc(cu_dev(), b->nbytes, &b->data, &err), SF_OK);
    ck_assert_int_eq(sf_device_upload(cu_dev(), b->data, t->buf->data, b->nbytes, &err), SF_OK);
    return d;
}

/* oh_run's twin on the device under test: infer, inputs uploaded, outputs allocated (and
 * poisoned with 0xa5, so an element the kernel forgets shows), scratch by
 * the cuda device's rule (poisoned with 0xff), the node run and synced,
 * outputs downloaded into fresh host tensors (oh_outputs_free). */
static sf_status_t cu_run(oh_node_t *h, const sf_tensor_t *in, int n_in, sf_tensor_t *out,
                          int n_out, sf_err_t *err)
{
    enum { MAX = 8 };
    sf_device_t *dev = cu_dev();
    ck_assert_int_le(n_in, MAX);
    ck_assert_int_le(n_out, MAX);
    sf_status_t st = oh_infer(h, in, n_in, out, n_out, err);
    if (st != SF_OK)
        return st;
    const sf_op_desc_t *d = h->node.op;
    sf_buffer_t ib[MAX], ob[MAX];
    sf_tensor_t din[MAX], dout[MAX];
    sf_err_t e2 = {0};
    for (int i = 0; i < n_in; i++)
        din[i] = cu_upload(&in[i], &ib[i]);
    for (int i = 0; i < n_out; i++) {
        memset(&ob[i], 0, sizeof ob[i]);
        ob[i].nbytes = sf_tensor_nbytes(&out[i]);
        ck_assert_int_eq(sf_device_alloc(dev, ob[i].nbytes, &ob[i].data, &e2), SF_OK);
        ck_assert_int_eq(sf_device_fill(dev, ob[i].data, 0xa5, ob[i].nbytes, &e2), SF_OK);
        dout[i] = out[i];
        dout[i].buf = &ob[i];
    }
    void *prepared = NULL;
    if (d->prepare != NULL &&
        (st = d->prepare(&h->node, din, n_in, dout, n_out, &prepared, err)) != SF_OK)
        return st;
    uint64_t scratch_bytes =
        sf_device_scratch_bytes(dev, d, &h->node, prepared, din, n_in, dout, n_out);
    void *scratch = NULL;
    ck_assert_int_eq(sf_device_alloc(dev, scratch_bytes, &scratch, &e2), SF_OK);
    if (scratch_bytes > 0)
        ck_assert_int_eq(sf_device_fill(dev, scratch, 0xff, scratch_bytes, &e2), SF_OK);
    ck_assert_msg(sf_device_supports(dev, d, &h->node), "%s refuses node of op '%s'",
                  sf_device_name(dev), d->name);
    sf_kernel_args_t args = {
        .op = d,
        .node = &h->node,
        .in = din,
        .n_in = n_in,
        .out = dout,
        .n_out = n_out,
        .prepared = prepared,
        .scratch = scratch,
        .scratch_bytes = scratch_bytes,
        .dev = dev,
        .env = &(const sf_exec_env_t){.comm = sf_comm_solo()},
    };
    st = sf_device_run(dev, &args, err);
    if (st == SF_OK)
        st = sf_device_sync(dev, err);
    for (int i = 0; i < n_out; i++) {
        sf_tensor_t host = oh_tensor_new(out[i].dtype, out[i].ndim, out[i].shape);
        if (st == SF_OK && ob[i].nbytes > 0)
            ck_assert_int_eq(
                sf_device_download(dev, host.buf->data, ob[i].data, ob[i].nbytes, &e2), SF_OK);
        out[i] = host;
        sf_device_free(dev, ob[i].data);
    }
    for (int i = 0; i < n_in; i++)
        sf_device_free(dev, ib[i].data);
    sf_device_free(dev, scratch);
    free(prepared);
    return st;
}

/* ---- comparing ---------------------------------------------------------- */

/* Elements agree when |got - want| <= atol + rtol * |want|, or (bf16/f16)
 * their bit patterns are at most `ulps` apart, or both are NaN. is_exact:
 * the element bytes must be equal. */
typedef struct cu_tol {
    bool is_exact;
    double atol, rtol;
    int ulps;
} cu_tol_t;

#define CU_EXACT ((cu_tol_t){.is_exact = true})

/* Distance in units in the last place of two 16-bit floats of one dtype
 * (sign-magnitude mapped onto a line so that -0 and +0 are 0 apart). */
static int64_t cu_ulps16(const void *a, const void *b)
{
    uint16_t x, y;
    memcpy(&x, a, 2);
    memcpy(&y, b, 2);
    int64_t ox = x & 0x8000 ? -(int64_t)(x & 0x7fff) : x;
    int64_t oy = y & 0x8000 ? -(int64_t)(y & 0x7fff) : y;
    return ox > oy ? ox - oy : oy - ox;
}

static void cu_expect(const char *what, const sf_tensor_t *got, const sf_tensor_t *want,
                      cu_tol_t tol)
{
    ck_assert_int_eq(got->dtype, want->dtype);
    ck_assert_int_eq(got->ndim, want->ndim);
    for (int d = 0; d < want->ndim; d++)
        ck_assert_int_eq(got->shape[d], want->shape[d]);
    size_t es = sf_dtype_size(want->dtype);
    bool is16 = want->dtype == SF_DTYPE_BF16 || want->dtype == SF_DTYPE_F16;
    for (int64_t i = 0; i < sf_tensor_numel(want); i++) {
        const void *g = oh_elem(got, i), *w = oh_elem(want, i);
        double gv = sf_dtype_load(got->dtype, g), wv = sf_dtype_load(want->dtype, w);
        bool is_ok;
        if (tol.is_exact)
            is_ok = memcmp(g, w, es) == 0;
        else
            is_ok = (isnan(gv) && isnan(wv)) || fabs(gv - wv) <= tol.atol + tol.rtol * fabs(wv) ||
                    (is16 && cu_ulps16(g, w) <= tol.ulps);
        ck_assert_msg(is_ok, "%s: element %lld: %s %.9g, cpu %.9g", what, (long long)i,
                      sf_device_name(cu_dev()), gv, wv);
    }
}

/* Run h on the CPU and on cuda with the same inputs; compare output 0. */
static void cu_check(oh_node_t *h, const sf_tensor_t *in, int n_in, cu_tol_t tol,
                     const char *what)
{
    sf_tensor_t want, got;
    sf_err_t err = {0};
    ck_assert_msg(oh_run(h, in, n_in, &want, 1, &err) == SF_OK, "%s: cpu: %s", what, err.msg);
    ck_assert_msg(cu_run(h, in, n_in, &got, 1, &err) == SF_OK, "%s: %s: %s", what,
                  sf_device_name(cu_dev()), err.msg);
    cu_expect(what, &got, &want, tol);
    oh_outputs_free(h, &want, 1);
    oh_outputs_free(h, &got, 1);
}

/* ---- inputs --------------------------------------------------------------- */

/* Deterministic values for dtype dt: floats in [-2, 2); i32 across its
 * whole range (so add and mul wrap); i64 within +-2^40; u8 0..255. */
static sf_tensor_t cu_tensor(sf_dtype_t dt, int ndim, const int64_t *shape, int seed)
{
    sf_tensor_t t = oh_tensor_new(dt, ndim, shape);
    for (int64_t i = 0; i < sf_tensor_numel(&t); i++) {
        double u = oh_unit(i, seed);
        double v = dt == SF_DTYPE_I32   ? floor((u * 2 - 1) * 2147483647.0)
                   : dt == SF_DTYPE_I64 ? floor((u * 2 - 1) * 0x1p40)
                   : dt == SF_DTYPE_U8  ? floor(u * 256)
                                        : u * 4 - 2;
        oh_put(&t, i, v);
    }
    return t;
}

/* Columns [c0, c0 + n) of t's last dim: a strided view (a column block). */
static sf_tensor_t cu_cols(const sf_tensor_t *t, int64_t c0, int64_t n)
{
    sf_tensor_t v = *t;
    v.shape[t->ndim - 1] = n;
    v.offset += (uint64_t)(c0 * t->strides[t->ndim - 1]) * sf_dtype_size(t->dtype);
    return v;
}

static const int64_t cu_rows[] = {1, 3, 17, 129};
static const sf_dtype_t cu_floats[] = {SF_DTYPE_F32, SF_DTYPE_BF16, SF_DTYPE_F16};
#define CU_N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* bf16/f16: this many ulps, where one rounding inside the op may flip (the
 * device's expf/rsqrt/reduction order differ from the host's in the last
 * f32 bits) and the result is rounded again. */
static cu_tol_t cu_tol_round(sf_dtype_t dt, double f32_rtol, int ulps)
{
    if (dt == SF_DTYPE_F32)
        return (cu_tol_t){.atol = 1e-7, .rtol = f32_rtol};
    return (cu_tol_t){.ulps = ulps};
}

/* ---- elementwise ---------------------------------------------------------- */

START_TEST(test_cuda_add_mul_match_cpu)
{
    /* Exact: one f32 operation rounded once (floats) or wrapping integer
     * arithmetic, the same on both devices. a is a column block; b is a's
     * shape or its last dim, repeated. */
    const sf_dtype_t dts[] = {SF_DTYPE_F32, SF_DTYPE_BF16, SF_DTYPE_F16, SF_DTYPE_I32,
                              SF_DTYPE_I64, SF_DTYPE_U8};
    const char *ops[] = {"add", "mul"};
    for (int o = 0; o < 2; o++)
        for (int k = 0; k < CU_N(dts); k++)
            for (int r = 0; r < CU_N(cu_rows); r++) {
                int64_t rows = cu_rows[r];
                sf_tensor_t base = cu_tensor(dts[k], 2, OH_SHAPE(rows, 40), 1);
                sf_tensor_t full = cu_tensor(dts[k], 2, OH_SHAPE(rows, 33), 2);
                sf_tensor_t row = cu_tensor(dts[k], 1, OH_SHAPE(33), 3);
                sf_tensor_t a = cu_cols(&base, 3, 33);
                oh_node_t *h = oh_node_new(ops[o], "ew");
                char what[96];
                snprintf(what, sizeof what, "%s %s rows %lld", ops[o], sf_dtype_name(dts[k]),
                         (long long)rows);
                cu_check(h, (sf_tensor_t[]){a, full}, 2, CU_EXACT, what);
                cu_check(h, (sf_tensor_t[]){a, row}, 2, CU_EXACT, what);
                oh_node_free(h);
                oh_tensor_free(&base);
                oh_tensor_free(&full);
                oh_tensor_free(&row);
            }
}
END_TEST

START_TEST(test_cuda_swiglu_matches_cpu)
{
    /* gate and up are the two halves of one fused (rows, 66) tensor.
     * f32: 1e-6 relative (expf's last bits); bf16/f16: 2 ulps (silu's
     * rounding may flip, then the product rounds again). */
    for (int k = 0; k < CU_N(cu_floats); k++)
        for (int r = 0; r < CU_N(cu_rows); r++) {
            sf_tensor_t gu = cu_tensor(cu_floats[k], 2, OH_SHAPE(cu_rows[r], 66), 4);
            oh_node_t *h = oh_node_new("swiglu", "act");
            cu_check(h, (sf_tensor_t[]){cu_cols(&gu, 0, 33), cu_cols(&gu, 33, 33)}, 2,
                     cu_tol_round(cu_floats[k], 1e-6, 2), "swiglu");
            oh_node_free(h);
            oh_tensor_free(&gu);
        }
}
END_TEST

START_TEST(test_cuda_cast_matches_cpu)
{
    /* Exact, every pair of dtypes, from a transposed (strided) source that
     * holds the awkward values: halves, huge (saturating), NaN, -0. */
    const double specials[] = {-1.5, 1e10, -1e10, NAN, -0.0, 300.7, 0.5, 65520.0, 255.5, -129.0};
    for (int s = 0; s < SF_DTYPE_COUNT; s++)
        for (int d = 0; d < SF_DTYPE_COUNT; d++) {
            sf_tensor_t src = cu_tensor((sf_dtype_t)s, 2, OH_SHAPE(9, 17), 5);
            if (sf_dtype_is_float((sf_dtype_t)s))
                for (int i = 0; i < CU_N(specials); i++)
                    oh_put(&src, i * 7, specials[i]);
            oh_node_t *h = oh_node_new("cast", "c");
            oh_set_dtype(h, "dtype", (sf_dtype_t)d);
            char what[64];
            snprintf(what, sizeof what, "cast %s -> %s", sf_dtype_name((sf_dtype_t)s),
                     sf_dtype_name((sf_dtype_t)d));
            cu_check(h, (sf_tensor_t[]){oh_transpose(&src, 0, 1)}, 1, CU_EXACT, what);
            oh_node_free(h);
            oh_tensor_free(&src);
        }
}
END_TEST

START_TEST(test_cuda_fill_arange_match_cpu)
{
    /* Exact: fill's element is encoded on the host; arange's start + i *
     * step is rounded as on the host (no fma: --fmad=false). */
    const double values[] = {2.5, -1e20, 0.1};
    for (int dt = 0; dt < SF_DTYPE_COUNT; dt++)
        for (int v = 0; v < CU_N(values); v++) {
            oh_node_t *h = oh_node_new("fill", "f");
            OH_INTS(h, "shape", 3, 17);
            oh_set_dtype(h, "dtype", (sf_dtype_t)dt);
            oh_set_float(h, "value", values[v]);
            cu_check(h, NULL, 0, CU_EXACT, "fill");
            oh_node_free(h);
        }
    for (int dt = 0; dt < SF_DTYPE_COUNT; dt++) {
        oh_node_t *h = oh_node_new("arange", "a");
        oh_set_int(h, "n", 129);
        oh_set_float(h, "start", 0.5);
        oh_set_float(h, "step", 0.1); /* not a binary fraction: rounding shows */
        oh_set_dtype(h, "dtype", (sf_dtype_t)dt);
        cu_check(h, NULL, 0, CU_EXACT, "arange n");
        oh_node_free(h);
        h = oh_node_new("arange", "a");
        OH_INTS(h, "shape", 3, 17);
        oh_set_float(h, "start", -3.0);
        oh_set_float(h, "step", -0.7);
        oh_set_dtype(h, "dtype", (sf_dtype_t)dt);
        cu_check(h, NULL, 0, CU_EXACT, "arange shape");
        oh_node_free(h);
    }
}
END_TEST

/* ---- copies: pad, concat, capture_concat -------------------------------- */

START_TEST(test_cuda_pad_matches_cpu)
{
    /* Exact. Shifts left, right, none, beyond the dim both ways; the input
     * is a column block of a wider tensor. */
    const int64_t shifts[] = {-1, 1, 0, 5, -17, 40};
    const sf_dtype_t dts[] = {SF_DTYPE_BF16, SF_DTYPE_F32, SF_DTYPE_I64};
    for (int k = 0; k < CU_N(dts); k++)
        for (int s = 0; s < CU_N(shifts); s++) {
            sf_tensor_t base = cu_tensor(dts[k], 3, OH_SHAPE(3, 17, 12), 6);
            oh_node_t *h = oh_node_new("pad", "p");
            oh_set_int(h, "dim", 1);
            oh_set_int(h, "shift", shifts[s]);
            oh_set_float(h, "value", -3.5);
            cu_check(h, (sf_tensor_t[]){cu_cols(&base, 2, 8)}, 1, CU_EXACT, "pad");
            oh_node_free(h);
            oh_tensor_free(&base);
        }
}
END_TEST

START_TEST(test_cuda_concat_capture_concat_match_cpu)
{
    /* Exact. concat along the last dim of a contiguous input, a column
     * block and a transposed view; along dim 0 of 1, 17 and 3 rows. */
    for (int r = 0; r < CU_N(cu_rows); r++) {
        int64_t rows = cu_rows[r];
        sf_tensor_t a = cu_tensor(SF_DTYPE_BF16, 2, OH_SHAPE(rows, 5), 7);
        sf_tensor_t wide = cu_tensor(SF_DTYPE_BF16, 2, OH_SHAPE(rows, 20), 8);
        sf_tensor_t tr = cu_tensor(SF_DTYPE_BF16, 2, OH_SHAPE(3, rows), 9);
        oh_node_t *h = oh_node_new("concat", "cat");
        oh_set_int(h, "dim", -1);
        cu_check(h, (sf_tensor_t[]){a, cu_cols(&wide, 4, 7), oh_transpose(&tr, 0, 1)}, 3,
                 CU_EXACT, "concat dim -1");
        oh_node_free(h);
        oh_tensor_free(&a);
        oh_tensor_free(&wide);
        oh_tensor_free(&tr);
    }
    sf_tensor_t p = cu_tensor(SF_DTYPE_I64, 2, OH_SHAPE(1, 33), 10);
    sf_tensor_t q = cu_tensor(SF_DTYPE_I64, 2, OH_SHAPE(17, 40), 11);
    sf_tensor_t s = cu_tensor(SF_DTYPE_I64, 2, OH_SHAPE(3, 33), 12);
    oh_node_t *h = oh_node_new("concat", "cat");
    cu_check(h, (sf_tensor_t[]){p, cu_cols(&q, 7, 33), s}, 3, CU_EXACT, "concat dim 0");
    oh_node_free(h);
    oh_tensor_free(&p);
    oh_tensor_free(&q);
    oh_tensor_free(&s);
    /* capture_concat: values h_2, h_2, h_1 (repeats dropped, h_1 first). */
    sf_tensor_t h1 = cu_tensor(SF_DTYPE_BF16, 2, OH_SHAPE(17, 8), 13);
    sf_tensor_t h2 = cu_tensor(SF_DTYPE_BF16, 2, OH_SHAPE(17, 12), 14);
    static const int vals[3] = {7, 7, 4};
    h = oh_node_new("capture_concat", "aux");
    h->node.in = (int *)vals;
    sf_tensor_t h2v = cu_cols(&h2, 4, 8);
    cu_check(h, (sf_tensor_t[]){h2v, h2v, h1}, 3, CU_EXACT, "capture_concat");
    oh_node_free(h);
    oh_tensor_free(&h1);
    oh_tensor_free(&h2);
}
END_TEST

/* ---- rows: rmsnorm, softmax, argmax --------------------------------------- */

START_TEST(test_cuda_rmsnorm_matches_cpu)
{
    /* f32: 1e-5 relative (the sum of squares is a tree on the GPU, in
     * order on the CPU); bf16/f16: 2 ulps (x * inv rounds to the dtype,
     * may flip, then the weight product rounds again). x is a column
     * block; the weight f32 or x's dtype; rows of 64 and 129; and a
     * (T, heads, head_dim) input with a per-head weight. */
    const int64_t dims[] = {64, 129};
    for (int k = 0; k < CU_N(cu_floats); k++)
        for (int r = 0; r < CU_N(cu_rows); r++)
            for (int j = 0; j < 2; j++) {
                sf_dtype_t dt = cu_floats[k];
                int64_t d = dims[j];
                sf_tensor_t base = cu_tensor(dt, 2, OH_SHAPE(cu_rows[r], d + 7), 15);
                sf_tensor_t w = cu_tensor(j == 0 ? dt : SF_DTYPE_F32, 1, OH_SHAPE(d), 16);
                oh_node_t *h = oh_node_new("rmsnorm", "norm");
                cu_check(h, (sf_tensor_t[]){cu_cols(&base, 7, d), w}, 2,
                         cu_tol_round(dt, 1e-5, 2), "rmsnorm");
                oh_node_free(h);
                oh_tensor_free(&base);
                oh_tensor_free(&w);
            }
    sf_tensor_t x = cu_tensor(SF_DTYPE_BF16, 3, OH_SHAPE(17, 4, 64), 17);
    sf_tensor_t w = cu_tensor(SF_DTYPE_BF16, 1, OH_SHAPE(64), 18);
    oh_node_t *h = oh_node_new("rmsnorm", "q_norm");
    cu_check(h, (sf_tensor_t[]){x, w}, 2, cu_tol_round(SF_DTYPE_BF16, 1e-5, 2), "rmsnorm heads");
    oh_node_free(h);
    oh_tensor_free(&x);
    oh_tensor_free(&w);
}
END_TEST

START_TEST(test_cuda_softmax_matches_cpu)
{
    /* f32: 1e-5 relative plus 1e-7 (tree sums); bf16/f16: 1 ulp (one
     * rounding). Lines of 1, 3, 17 and 300 (more than a block's threads),
     * over the last dim and over dim 0 (strided lines); a line of -inf
     * gives NaN on both. */
    const int64_t lens[] = {1, 3, 17, 300};
    for (int k = 0; k < CU_N(cu_floats); k++)
        for (int r = 0; r < CU_N(cu_rows); r++)
            for (int n = 0; n < CU_N(lens); n++)
                for (int dim = -1; dim <= 0; dim++) {
                    sf_dtype_t dt = cu_floats[k];
                    sf_tensor_t x = cu_tensor(dt, 2, OH_SHAPE(cu_rows[r], lens[n]), 19);
                    if (dim == -1 && cu_rows[r] > 1)
                        for (int64_t j = 0; j < lens[n]; j++)
                            oh_put(&x, j, -INFINITY);
                    oh_node_t *h = oh_node_new("softmax", "sm");
                    oh_set_int(h, "dim", dim);
                    cu_check(h, (sf_tensor_t[]){x}, 1, cu_tol_round(dt, 1e-5, 1), "softmax");
                    oh_node_free(h);
                    oh_tensor_free(&x);
                }
}
END_TEST

START_TEST(test_cuda_argmax_matches_cpu)
{
    /* Exact. Values on a coarse grid, so ties are common (the first index
     * must win), a row with two NaNs (the first NaN wins), lines of 1, 5
     * and 300, over the last dim of a transposed view and over dim 0,
     * with and without keepdim. */
    const int64_t lens[] = {1, 5, 300};
    const sf_dtype_t dts[] = {SF_DTYPE_BF16, SF_DTYPE_F32, SF_DTYPE_I32};
    for (int k = 0; k < CU_N(dts); k++)
        for (int r = 0; r < CU_N(cu_rows); r++)
            for (int n = 0; n < CU_N(lens); n++) {
                int64_t rows = cu_rows[r], len = lens[n];
                sf_tensor_t x = oh_tensor_new(dts[k], 2, OH_SHAPE(len, rows));
                for (int64_t i = 0; i < len * rows; i++)
                    oh_put(&x, i, floor(oh_unit(i, 20) * 8));
                if (dts[k] != SF_DTYPE_I32 && len > 3) {
                    oh_put(&x, 2 * rows, NAN); /* (2, 0) and (3, 0): line 0 of the view */
                    oh_put(&x, 3 * rows, NAN);
                }
                sf_tensor_t xt = oh_transpose(&x, 0, 1); /* (rows, len), strided */
                for (int dim = -1; dim <= 0; dim++)
                    for (int keep = 0; keep < 2; keep++) {
                        oh_node_t *h = oh_node_new("argmax", "am");
                        oh_set_int(h, "dim", dim);
                        oh_set_bool(h, "keepdim", keep == 1);
                        cu_check(h, (sf_tensor_t[]){xt}, 1, CU_EXACT, "argmax");
                        oh_node_free(h);
                    }
                oh_tensor_free(&x);
            }
}
END_TEST

/* ---- transformer ops ---------------------------------------------------- */

START_TEST(test_cuda_rope_matches_cpu)
{
    /* (T = B * seq, heads, head_dim) as a column block, head_dim 64 and 6
     * (three pairs), seq 1, 17 and 129. The angle is pos * theta^(-2i/hd)
     * from the device's powf/cosf/sinf (a few ulps from the host's), which
     * moves an angle of up to 128 rad by ~3e-5 rad (powf within 4 ulps):
     * outputs (pairs of norm < 3) within 5e-4 absolute in every dtype, or
     * 1 ulp for bf16/f16 (where the final rounding flips). */
    const int64_t seqs[] = {1, 17, 129}, batches[] = {3, 3, 1}, hds[] = {64, 6};
    for (int k = 0; k < CU_N(cu_floats); k++)
        for (int s = 0; s < CU_N(seqs); s++)
            for (int j = 0; j < CU_N(hds); j++) {
                sf_dtype_t dt = cu_floats[k];
                int64_t n_tok = seqs[s] * batches[s];
                sf_tensor_t base = cu_tensor(dt, 3, OH_SHAPE(n_tok, 4, hds[j] + 2), 21);
                oh_node_t *h = oh_node_new("rope", "rope");
                oh_set_int(h, "seq", seqs[s]);
                oh_set_float(h, "theta", 1e6);
                cu_check(h, (sf_tensor_t[]){cu_cols(&base, 1, hds[j])}, 1,
                         (cu_tol_t){.atol = 5e-4, .ulps = 1}, "rope");
                oh_node_free(h);
                oh_tensor_free(&base);
            }
}
END_TEST

/* One attention case: B sequences of seq tokens, nh query heads over nkv
 * kv heads of head_dim hd; k and v are the two halves of one fused
 * (T, nkv, 2 hd) tensor (strided views); with a u8 key_mask whose first
 * five keys of sequence 0 are masked (its first five queries see no key:
 * zeros) and every third key of the others. */
static void cu_attention_case(sf_dtype_t dt, int64_t seq, int64_t n_seq, int64_t nh, int64_t nkv,
                              int64_t hd, bool has_mask)
{
    int64_t n_tok = seq * n_seq;
    sf_tensor_t q = cu_tensor(dt, 3, OH_SHAPE(n_tok, nh, hd), 22);
    sf_tensor_t kv = cu_tensor(dt, 3, OH_SHAPE(n_tok, nkv, 2 * hd), 23);
    sf_tensor_t mask = oh_tensor_new(SF_DTYPE_U8, 2, OH_SHAPE(n_seq, seq));
    for (int64_t b = 0; b < n_seq; b++)
        for (int64_t j = 0; j < seq; j++)
            oh_put(&mask, b * seq + j, b == 0 ? j >= 5 : j % 3 != 1);
    oh_node_t *h = oh_node_new("attention", "attn");
    oh_set_int(h, "seq", seq);
    oh_set_int(h, "block", 16);
    sf_tensor_t in[4] = {q, cu_cols(&kv, 0, hd), cu_cols(&kv, hd, hd), mask};
    /* bf16/f16: 2e-3 absolute or 1 ulp (outputs are weighted means of
     * values in [-2, 2)); f32: 1e-5 absolute plus 1e-4 relative (a dot
     * product summed in another order, expf's last bits). */
    cu_tol_t tol = dt == SF_DTYPE_F32 ? (cu_tol_t){.atol = 1e-5, .rtol = 1e-4}
                                      : (cu_tol_t){.atol = 2e-3, .ulps = 1};
    char what[128];
    snprintf(what, sizeof what, "attention %s seq %lld B %lld heads %lld/%lld hd %lld mask %d",
             sf_dtype_name(dt), (long long)seq, (long long)n_seq, (long long)nh, (long long)nkv,
             (long long)hd, has_mask);
    cu_check(h, in, has_mask ? 4 : 3, tol, what);
    oh_node_free(h);
    oh_tensor_free(&q);
    oh_tensor_free(&kv);
    oh_tensor_free(&mask);
}

START_TEST(test_cuda_attention_matches_cpu)
{
    const int64_t seqs[] = {1, 17, 129}, nkvs[] = {4, 2, 1}, hds[] = {64, 6, 128};
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < CU_N(seqs); s++)
            for (int v = 0; v < CU_N(nkvs); v++)
                for (int j = 0; j < CU_N(hds); j++)
                    for (int m = 0; m < 2; m++)
                        cu_attention_case(cu_floats[k], seqs[s], 2, 4, nkvs[v], hds[j], m == 1);
}
END_TEST

START_TEST(test_cuda_attention_refuses_wide_heads)
{
    /* head_dim 257 > SF_CU_ATT_MAX_HEAD_DIM: a clear refusal, no launch.
     * (The CPU kernel takes any head_dim.) */
    if (strcmp(sf_device_name(cu_dev()), "cuda") != 0)
        return;
    sf_tensor_t q = cu_tensor(SF_DTYPE_BF16, 3, OH_SHAPE(4, 1, 257), 24);
    oh_node_t *h = oh_node_new("attention", "attn");
    oh_set_int(h, "seq", 4);
    sf_tensor_t out;
    sf_err_t err = {0};
    sf_status_t st = cu_run(h, (sf_tensor_t[]){q, q, q}, 3, &out, 1, &err);
    ck_assert_int_eq(st, SF_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "head_dim 257") != NULL, "message '%s'", err.msg);
    oh_outputs_free(h, &out, 1);
    oh_node_free(h);
    oh_tensor_free(&q);
}
END_TEST

START_TEST(test_cuda_embedding_vp_matches_cpu)
{
    /* Exact (a gather). Rows [8, 24) of a vocab of 40 held here, the
     * table a column block; ids i64 (3, 17) and i32 (129) strided (every
     * other element); an id of 40 is the same error on both devices. */
    sf_tensor_t wide = cu_tensor(SF_DTYPE_BF16, 2, OH_SHAPE(16, 40), 25);
    sf_tensor_t w = cu_cols(&wide, 2, 33);
    sf_tensor_t ids2 = oh_tensor_new(SF_DTYPE_I64, 2, OH_SHAPE(3, 17));
    sf_tensor_t ids1 = oh_tensor_new(SF_DTYPE_I32, 1, OH_SHAPE(258));
    for (int64_t i = 0; i < 51; i++)
        oh_put(&ids2, i, (double)((i * 7 + 3) % 40));
    for (int64_t i = 0; i < 258; i++)
        oh_put(&ids1, i, (double)((i * 11 + 5) % 40));
    sf_tensor_t ids1v = ids1;
    ids1v.shape[0] = 129;
    ids1v.strides[0] = 2;
    oh_node_t *h = oh_node_new("embedding_vp", "emb");
    oh_set_int(h, "vocab_start", 8);
    oh_set_int(h, "vocab", 40);
    cu_check(h, (sf_tensor_t[]){ids2, w}, 2, CU_EXACT, "embedding (3,17)");
    cu_check(h, (sf_tensor_t[]){ids1v, w}, 2, CU_EXACT, "embedding (129) strided");
    oh_put(&ids2, 20, 40.0); /* [1, 3] */
    sf_tensor_t out;
    sf_err_t cpu_err = {0}, cu_err = {0};
    ck_assert_int_eq(oh_run(h, (sf_tensor_t[]){ids2, w}, 2, &out, 1, &cpu_err), SF_ERR_INPUT);
    oh_outputs_free(h, &out, 1);
    ck_assert_int_eq(cu_run(h, (sf_tensor_t[]){ids2, w}, 2, &out, 1, &cu_err), SF_ERR_INPUT);
    oh_outputs_free(h, &out, 1);
    ck_assert_str_eq(cu_err.msg, cpu_err.msg);
    ck_assert_msg(strstr(cu_err.msg, "input_ids[1, 3] = 40") != NULL, "'%s'", cu_err.msg);
    oh_node_free(h);
    oh_tensor_free(&wide);
    oh_tensor_free(&ids1);
    oh_tensor_free(&ids2);
}
END_TEST

START_TEST(test_cuda_matmul_matches_cpu)
{
    /* cuBLAS against the CPU's f32-accumulating product: f32 within 1e-4
     * relative plus 1e-4; bf16 within 1 ulp, or 1e-3 absolute for sums
     * that cancel to near 0 (the f32 sums differ in order, then round).
     * A is a column block; B plain and transposed. */
    for (int k = 0; k < 2; k++)
        for (int r = 0; r < CU_N(cu_rows); r++)
            for (int t = 0; t < 2; t++) {
                sf_dtype_t dt = cu_floats[k];
                sf_tensor_t abase = cu_tensor(dt, 2, OH_SHAPE(cu_rows[r], 70), 26);
                sf_tensor_t b = t == 0 ? cu_tensor(dt, 2, OH_SHAPE(64, 33), 27)
                                       : cu_tensor(dt, 2, OH_SHAPE(33, 64), 27);
                oh_node_t *h = oh_node_new("matmul", "mm");
                oh_set_bool(h, "transpose_b", t == 1);
                cu_tol_t tol = dt == SF_DTYPE_F32 ? (cu_tol_t){.atol = 1e-4, .rtol = 1e-4}
                                                  : (cu_tol_t){.atol = 1e-3, .ulps = 1};
                cu_check(h, (sf_tensor_t[]){cu_cols(&abase, 3, 64), b}, 2, tol, "matmul");
                oh_node_free(h);
                oh_tensor_free(&abase);
                oh_tensor_free(&b);
            }
}
END_TEST

/* ---- values made on the host: random, weight, draft_mask ----------------- */

START_TEST(test_cuda_host_made_values_match_cpu)
{
    /* Exact: the CPU kernel itself runs on host staging and is uploaded. */
    oh_node_t *h = oh_node_new("random", "r");
    OH_INTS(h, "shape", 17, 33);
    oh_set_int(h, "seed", 3);
    cu_check(h, NULL, 0, CU_EXACT, "random uniform f32");
    oh_node_free(h);
    h = oh_node_new("random", "r");
    OH_INTS(h, "shape", 129);
    oh_set_str(h, "dist", "normal");
    oh_set_dtype(h, "dtype", SF_DTYPE_BF16);
    cu_check(h, NULL, 0, CU_EXACT, "random normal bf16");
    oh_node_free(h);
    h = oh_node_new("random", "r");
    OH_INTS(h, "shape", 3, 5);
    oh_set_dtype(h, "dtype", SF_DTYPE_I32);
    oh_set_float(h, "low", -5);
    oh_set_int(h, "high_int", 1000);
    cu_check(h, NULL, 0, CU_EXACT, "random i32");
    oh_node_free(h);

    h = oh_node_new("weight", "w");
    oh_set_str(h, "model", "synthetic:tiny");
    oh_set_str(h, "name", "model.layers.3.mlp.up_proj.weight");
    OH_INTS(h, "shape", 128, 64);
    oh_set_str(h, "shard", "shard(0)");
    oh_set_int(h, "seed", 1);
    h->node.rank = 1;
    h->node.world = 2;
    cu_check(h, NULL, 0, CU_EXACT, "weight synthetic shard");
    oh_node_free(h);

    h = oh_node_new("draft_mask", "dm");
    oh_set_int(h, "vocab", 129);
    oh_set_int(h, "draft_vocab", 17);
    oh_set_int(h, "seed", 3);
    cu_check(h, NULL, 0, CU_EXACT, "draft_mask random");
    oh_node_free(h);
    /* From d2t on the device: target id d2t[i] + i = 3 i + 1. */
    sf_tensor_t d2t = oh_tensor_new(SF_DTYPE_I64, 1, OH_SHAPE(17));
    for (int64_t i = 0; i < 17; i++)
        oh_put(&d2t, i, (double)(2 * i + 1));
    h = oh_node_new("draft_mask", "dm");
    oh_set_int(h, "vocab", 129);
    oh_set_int(h, "draft_vocab", 17);
    cu_check(h, (sf_tensor_t[]){d2t}, 1, CU_EXACT, "draft_mask from d2t");
    oh_node_free(h);
    oh_tensor_free(&d2t);
}
END_TEST

/* ---- the kernel table (no GPU needed) ------------------------------------- */

START_TEST(test_cuda_table_covers_every_op)
{
    /* Every op with a CPU kernel has a cuda one, except the fused teacher
     * ops left for later; view ops run no kernel. A build without CUDA has no cuda
     * device to ask. */
    sf_device_t *dev = sf_device_by_name("cuda");
    if (dev == NULL)
        return;
    static const char *const later[] = {"teacher", "teacher_vp", "teacher_probs"};
    int n_covered = 0;
    for (int i = 0; i < sf_op_count(); i++) {
        const sf_op_desc_t *op = sf_op_at(i);
        bool is_later = false;
        for (int k = 0; k < CU_N(later); k++)
            is_later = is_later || strcmp(op->name, later[k]) == 0;
        bool want = op->cpu_kernel != NULL && !op->outputs_are_views && !is_later;
        ck_assert_msg(sf_device_supports(dev, op, NULL) == want, "op '%s': cuda %s", op->name,
                      want ? "missing" : "unexpected");
        n_covered += want;
    }
    /* 27 ops: 3 views and the 3 fused teacher ops left out. */
    ck_assert_int_eq(n_covered, 21);
}
END_TEST

static Suite *table_suite(void)
{
    Suite *s = suite_create("cuda_table");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, test_cuda_table_covers_every_op);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *ops_suite(void)
{
    Suite *s = suite_create("cuda_ops");
    TCase *tc = tcase_create("elementwise");
    tcase_add_test(tc, test_cuda_add_mul_match_cpu);
    tcase_add_test(tc, test_cuda_swiglu_matches_cpu);
    tcase_add_test(tc, test_cuda_cast_matches_cpu);
    tcase_add_test(tc, test_cuda_fill_arange_match_cpu);
    suite_add_tcase(s, tc);
    tc = tcase_create("copies");
    tcase_add_test(tc, test_cuda_pad_matches_cpu);
    tcase_add_test(tc, test_cuda_concat_capture_concat_match_cpu);
    suite_add_tcase(s, tc);
    tc = tcase_create("rows");
    tcase_add_test(tc, test_cuda_rmsnorm_matches_cpu);
    tcase_add_test(tc, test_cuda_softmax_matches_cpu);
    tcase_add_test(tc, test_cuda_argmax_matches_cpu);
    suite_add_tcase(s, tc);
    tc = tcase_create("transformer");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cuda_rope_matches_cpu);
    tcase_add_test(tc, test_cuda_attention_matches_cpu);
    tcase_add_test(tc, test_cuda_attention_refuses_wide_heads);
    tcase_add_test(tc, test_cuda_embedding_vp_matches_cpu);
    tcase_add_test(tc, test_cuda_matmul_matches_cpu);
    suite_add_tcase(s, tc);
    tc = tcase_create("host_made");
    tcase_add_test(tc, test_cuda_host_made_values_match_cpu);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    sf_ops_register_all();
    sf_cuda_register();
    int rc = tu_run_suite(table_suite());
    cu_target = sf_device_cpu();
    if (rc == 0)
        rc = tu_run_suite(ops_suite());
    if (rc != 0)
        return rc;
    if (!gpu_present())
        return gpu_skip();
    cu_target = sf_device_by_name("cuda");
    return tu_run_suite(ops_suite());
}
