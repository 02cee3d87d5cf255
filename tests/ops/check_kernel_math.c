/* The shared per-element math (ops/kernel_math.h, core/dtype.h) that the
 * CPU and CUDA kernels both call, against plain references written here:
 * double-precision formulas, explicit rotations, a two-pass softmax, and
 * hand-worked bf16/f16 bit patterns. The CUDA kernels only map threads to
 * these functions, so this suite covers the math a GPU runs. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernel_math.h"
#include "test_util.h"

/* Relative distance, with an absolute floor for values near 0. */
static double km_rel(double got, double want)
{
    return fabs(got - want) / (fabs(want) > 1e-30 ? fabs(want) : 1.0);
}

static double km_bf16(double v)
{
    return sf_bf16_to_f32(sf_f32_to_bf16((float)v));
}

START_TEST(test_km_rms_matches_double_formula)
{
    /* Rows of 1, 3, 17 and 129 values; inv = 1 / sqrt(mean(x^2) + eps) in
     * double, then weight * round(x * inv). f32 within 1e-6 relative. */
    const int64_t lens[] = {1, 3, 17, 129};
    for (int k = 0; k < 4; k++) {
        int64_t n = lens[k];
        float x[129], w[129];
        double ss = 0;
        float ssf = 0.0f;
        for (int64_t j = 0; j < n; j++) {
            x[j] = (float)sin(0.37 * (double)(j + 1) * (double)(k + 1)) * 3.0f;
            w[j] = 0.5f + (float)j / 64.0f;
            ss += (double)x[j] * x[j];
            ssf += x[j] * x[j];
        }
        double inv = 1.0 / sqrt(ss / (double)n + 1e-6);
        float got_inv = sf_km_rms_inv(ssf, n, 1e-6f);
        ck_assert_msg(km_rel(got_inv, inv) < 1e-6, "n %lld: inv %.9g, want %.9g", (long long)n,
                      got_inv, inv);
        for (int64_t j = 0; j < n; j++) {
            double want = (double)w[j] * (double)(float)((double)x[j] * inv);
            double got = sf_km_rms_apply(x[j], got_inv, w[j], SF_DTYPE_F32);
            ck_assert_msg(km_rel(got, want) < 2e-6, "n %lld j %lld: %.9g vs %.9g", (long long)n,
                          (long long)j, got, want);
            /* bf16: x * inv rounded to bf16 before the weight multiply. */
            double want_bf = (double)w[j] * km_bf16((double)x[j] * (double)got_inv);
            double got_bf = sf_km_rms_apply(x[j], got_inv, w[j], SF_DTYPE_BF16);
            ck_assert_msg(km_rel(got_bf, want_bf) < 1e-6, "bf16 n %lld j %lld: %.9g vs %.9g",
                          (long long)n, (long long)j, got_bf, want_bf);
        }
    }
    /* By hand: x = (3, 4), eps 0: mean(x^2) = 12.5, inv = 1/sqrt(12.5). */
    ck_assert_float_eq_tol(sf_km_rms_inv(25.0f, 2, 0.0f), 0.28284271f, 1e-7f);
}
END_TEST

START_TEST(test_km_rope_pair_is_a_rotation)
{
    /* (1, 0) by 90 degrees is (0, 1); (x0, x1) by angle a is the explicit
     * rotation (x0 cos a - x1 sin a, x1 cos a + x0 sin a). */
    float y0, y1;
    sf_km_rope_pair(1.0f, 0.0f, 0.0f, 1.0f, &y0, &y1);
    ck_assert_float_eq(y0, 0.0f);
    ck_assert_float_eq(y1, 1.0f);
    for (int k = 0; k < 50; k++) {
        double a = 0.13 * k - 3.0, x0 = cos(0.7 * k) * 2.0, x1 = sin(1.3 * k) - 0.5;
        sf_km_rope_pair((float)x0, (float)x1, (float)cos(a), (float)sin(a), &y0, &y1);
        double w0 = x0 * cos(a) - x1 * sin(a), w1 = x1 * cos(a) + x0 * sin(a);
        ck_assert_msg(fabs(y0 - w0) < 2e-6 && fabs(y1 - w1) < 2e-6,
                      "k %d: (%.9g, %.9g), want (%.9g, %.9g)", k, y0, y1, w0, w1);
        /* A rotation keeps the length. */
        ck_assert_double_eq_tol(hypot(y0, y1), hypot(x0, x1), 4e-6);
    }
    /* inv_freq[i] = theta^(-2i/hd): 1 at i 0; 10000^(-1/2) = 0.01 at i = hd/4. */
    ck_assert_float_eq(sf_km_rope_inv_freq(10000.0f, 0, 128), 1.0f);
    ck_assert_float_eq_tol(sf_km_rope_inv_freq(10000.0f, 32, 128), 0.01f, 1e-9f);
    for (int64_t i = 0; i < 64; i++) {
        double want = pow(1e6, -2.0 * (double)i / 128.0);
        ck_assert_msg(km_rel(sf_km_rope_inv_freq(1e6f, i, 128), want) < 1e-6, "i %lld",
                      (long long)i);
    }
}
END_TEST

START_TEST(test_km_silu_swiglu_match_formula)
{
    /* silu(0) = 0; silu(x) = x / (1 + e^-x) in double, f32 within 1e-6. */
    ck_assert_float_eq(sf_km_silu(0.0f), 0.0f);
    for (int k = -40; k <= 40; k++) {
        double x = k * 0.37;
        double want = x / (1.0 + exp(-x));
        ck_assert_msg(km_rel(sf_km_silu((float)x), want) < 1e-6 || fabs(want) < 1e-30, "x %g", x);
        /* swiglu: silu rounded to the dtype, times up (f32: no rounding). */
        double up = 1.5 - k * 0.05;
        ck_assert_msg(km_rel(sf_km_swiglu((float)x, (float)up, SF_DTYPE_F32), want * up) < 2e-6,
                      "f32 x %g", x);
        double want_bf = km_bf16(want) * (double)(float)up;
        ck_assert_msg(km_rel(sf_km_swiglu((float)x, (float)up, SF_DTYPE_BF16), want_bf) < 1e-6,
                      "bf16 x %g", x);
    }
}
END_TEST

/* A row of 4 blocks of 5 scores; `masked` blocks are all -inf. */
static void km_scores(float *s, unsigned masked_blocks)
{
    for (int j = 0; j < 20; j++)
        s[j] = (masked_blocks >> (j / 5)) & 1 ? -INFINITY : (float)(sin(0.9 * j) * 6.0);
}

START_TEST(test_km_online_softmax_matches_two_pass)
{
    /* Every mask pattern of the 4 blocks (fully masked blocks first, last,
     * between, all): the online fold (per block, and key by key) of
     * sum_j p_j * v_j, divided by l, against softmax by two passes in
     * double. All masked: l stays 0 and m -inf, every factor 1. */
    for (unsigned masked = 0; masked < 16; masked++) {
        float s[20], v[20];
        km_scores(s, masked);
        for (int j = 0; j < 20; j++)
            v[j] = (float)j - 7.5f;
        double mx = -INFINITY, sum = 0, want = 0;
        for (int j = 0; j < 20; j++)
            mx = s[j] > mx ? s[j] : mx;
        for (int j = 0; j < 20; j++)
            sum += s[j] == -INFINITY ? 0.0 : exp(s[j] - mx);
        for (int j = 0; j < 20; j++)
            want += s[j] == -INFINITY ? 0.0 : exp(s[j] - mx) / sum * v[j];

        float m = -INFINITY, l = 0.0f, acc = 0.0f;
        for (int b = 0; b < 4; b++) {
            float blk[5];
            memcpy(blk, s + 5 * b, sizeof blk);
            float factor = sf_km_softmax_step(&m, &l, blk, 5);
            acc *= factor;
            for (int c = 0; c < 5; c++)
                acc += blk[c] * v[5 * b + c];
        }
        float m1 = -INFINITY, l1 = 0.0f, acc1 = 0.0f;
        for (int j = 0; j < 20; j++) {
            float p;
            float factor = sf_km_softmax_push(&m1, &l1, s[j], &p);
            acc1 = acc1 * factor + p * v[j];
        }
        if (masked == 15) {
            ck_assert(m == -INFINITY && l == 0.0f && acc == 0.0f);
            ck_assert(m1 == -INFINITY && l1 == 0.0f && acc1 == 0.0f);
            continue;
        }
        ck_assert_msg(fabs(acc / l - want) < 1e-5, "mask %u step: %.9g, want %.9g", masked,
                      acc / l, want);
        ck_assert_msg(fabs(acc1 / l1 - want) < 1e-5, "mask %u push: %.9g, want %.9g", masked,
                      acc1 / l1, want);
        ck_assert_float_eq(m, (float)mx);
        ck_assert_float_eq(m1, (float)mx);
        ck_assert_msg(km_rel(l, sum) < 1e-6 && km_rel(l1, sum) < 1e-6,
                      "mask %u: l %.9g %.9g, want %.9g", masked, l, l1, sum);
    }
}
END_TEST

START_TEST(test_km_bf16_f16_round_to_nearest_even)
{
    /* bf16 keeps 7 fraction bits. 1 + 2^-8 is halfway between 1 (0x3f80,
     * even) and 1 + 2^-7 (0x3f81): to even, 0x3f80. 1 + 3 * 2^-8 is halfway
     * between 0x3f81 (odd) and 0x3f82: up to 0x3f82. Just above halfway
     * goes up. */
    ck_assert_uint_eq(sf_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);
    ck_assert_uint_eq(sf_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
    ck_assert_uint_eq(sf_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
    ck_assert_uint_eq(sf_f32_to_bf16(-2.0f), 0xc000);
    ck_assert_uint_eq(sf_f32_to_bf16(INFINITY), 0x7f80);
    ck_assert(isnan(sf_bf16_to_f32(sf_f32_to_bf16(NAN))));
    /* f16 keeps 10: 1 + 2^-11 ties to 1 (0x3c00), 1 + 3 * 2^-11 to 0x3c02;
     * 65504 is the largest, 65520 rounds to infinity; subnormals: 2^-24 is
     * 0x0001, 2^-25 ties to 0, 3 * 2^-25 ties to 2 (even). */
    ck_assert_uint_eq(sf_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);
    ck_assert_uint_eq(sf_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
    ck_assert_uint_eq(sf_f32_to_f16(65504.0f), 0x7bff);
    ck_assert_uint_eq(sf_f32_to_f16(65520.0f), 0x7c00);
    ck_assert_uint_eq(sf_f32_to_f16(0x1p-24f), 0x0001);
    ck_assert_uint_eq(sf_f32_to_f16(0x1p-25f), 0x0000);
    ck_assert_uint_eq(sf_f32_to_f16(3 * 0x1p-25f), 0x0002);
    ck_assert_uint_eq(sf_f32_to_f16(-0.0f), 0x8000);
    /* Every non-NaN 16-bit pattern survives a trip through f32. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        float b = sf_bf16_to_f32((uint16_t)h), f = sf_f16_to_f32((uint16_t)h);
        if (!isnan(b))
            ck_assert_uint_eq(sf_f32_to_bf16(b), h);
        if (!isnan(f))
            ck_assert_uint_eq(sf_f32_to_f16(f), h);
    }
    /* sf_km_round is that trip: identity in f32. */
    ck_assert_float_eq(sf_km_round(SF_DTYPE_BF16, 1.0f + 0x1p-8f), 1.0f);
    ck_assert_float_eq(sf_km_round(SF_DTYPE_F32, 1.0f + 0x1p-8f), 1.0f + 0x1p-8f);
}
END_TEST

START_TEST(test_km_dtype_size_dev_matches_table)
{
    for (int dt = 0; dt < SF_DTYPE_COUNT; dt++) {
        ck_assert_uint_eq(sf_dtype_size_dev(dt), sf_dtype_size((sf_dtype_t)dt));
        ck_assert_int_eq(sf_dtype_is_float_dev(dt), sf_dtype_is_float((sf_dtype_t)dt));
    }
}
END_TEST

START_TEST(test_km_binop_cast_argmax_elements)
{
    /* add/mul: i32 wraps (INT32_MAX + 1 = INT32_MIN), u8 wraps (200 + 100
     * = 44), bf16 rounds the f32 result once (1 + 2^-8 ties to 1). */
    int32_t a = INT32_MAX, b = 1, r;
    sf_km_binop(false, SF_DTYPE_I32, &r, &a, &b);
    ck_assert_int_eq(r, INT32_MIN);
    uint8_t u = 200, v = 100, ur;
    sf_km_binop(false, SF_DTYPE_U8, &ur, &u, &v);
    ck_assert_uint_eq(ur, 44);
    sf_km_binop(true, SF_DTYPE_U8, &ur, &u, &v); /* 20000 mod 256 = 32 */
    ck_assert_uint_eq(ur, 32);
    uint16_t one = sf_f32_to_bf16(1.0f), eps = sf_f32_to_bf16(0x1p-8f), hr;
    sf_km_binop(false, SF_DTYPE_BF16, &hr, &one, &eps);
    ck_assert_uint_eq(hr, 0x3f80);
    /* cast: float -> i32 truncates and saturates, NaN -> 0; i64 -> f32
     * goes through f32 (2^24 + 1 rounds to 2^24); i64 -> u8 wraps. */
    float fs[] = {-1.5f, 1e10f, -1e10f, NAN};
    int32_t want[] = {-1, INT32_MAX, INT32_MIN, 0};
    for (int k = 0; k < 4; k++) {
        sf_km_cast(SF_DTYPE_I32, &r, SF_DTYPE_F32, &fs[k]);
        ck_assert_int_eq(r, want[k]);
    }
    int64_t big = (1 << 24) + 1, neg = -1;
    sf_km_cast(SF_DTYPE_F32, &fs[0], SF_DTYPE_I64, &big);
    ck_assert_float_eq(fs[0], 16777216.0f);
    sf_km_cast(SF_DTYPE_U8, &ur, SF_DTYPE_I64, &neg);
    ck_assert_uint_eq(ur, 255);
    /* argmax order: NaN beats any number, the lower index wins ties (two
     * NaNs too), otherwise the larger value. */
    ck_assert(sf_km_argmax_better(NAN, 5, 1e30, 0));
    ck_assert(!sf_km_argmax_better(1e30, 0, NAN, 5));
    ck_assert(sf_km_argmax_better(NAN, 2, NAN, 3));
    ck_assert(!sf_km_argmax_better(NAN, 3, NAN, 2));
    ck_assert(sf_km_argmax_better(1.0, 7, 1.0, 9));
    ck_assert(!sf_km_argmax_better(1.0, 9, 1.0, 7));
    ck_assert(sf_km_argmax_better(2.0, 9, 1.0, 0));
    ck_assert(!sf_km_argmax_better(-INFINITY, 9, -INFINITY, 1));
}
END_TEST

static Suite *kernel_math_suite(void)
{
    Suite *s = suite_create("kernel_math");
    TCase *tc = tcase_create("math");
    tcase_add_test(tc, test_km_rms_matches_double_formula);
    tcase_add_test(tc, test_km_rope_pair_is_a_rotation);
    tcase_add_test(tc, test_km_silu_swiglu_match_formula);
    tcase_add_test(tc, test_km_online_softmax_matches_two_pass);
    tcase_add_test(tc, test_km_bf16_f16_round_to_nearest_even);
    tcase_add_test(tc, test_km_dtype_size_dev_matches_table);
    tcase_add_test(tc, test_km_binop_cast_argmax_elements);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(kernel_math_suite());
}
