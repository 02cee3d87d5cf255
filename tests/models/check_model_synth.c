/* Synthetic weights are the documented function of (seed, name, index):
 * element e is init + 0.02 * sqrt(3) * (sum of four 16-bit uniforms
 * (b + 0.5) / 2^16 - 2), the b taken from SplitMix64 of the name's stream,
 * rounded once to the dtype. Written here term by term in doubles, as the
 * generator first did, so a faster generator must keep every bit. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "hash.h"
#include "mem.h"
#include "model_tensors.h"
#include "rng.h"
#include "tensor.h"

static double plain_value(uint64_t seed, const char *name, uint64_t e, sf_weight_init_t init)
{
    uint64_t stream = sf_rng_mix64(seed ^ sf_rng_mix64(sf_hash_fnv1a64(name)));
    uint64_t bits = sf_rng_splitmix64(stream, e);
    double sum = 0.0;
    for (int k = 0; k < 4; k++)
        sum += ((double)((bits >> (16 * k)) & 0xffffu) + 0.5) * 0x1p-16;
    double z = (sum - 2.0) * 1.7320508075688772;
    return (init == SF_WEIGHT_INIT_ONES ? 1.0 : 0.0) + 0.02 * z;
}

/* Fill a [rows, cols] tensor of dt (rank 1 of 2, shard(0), rows padded to
 * pad) and compare every element with the plain formula, padded rows 0. */
static void expect_plain(sf_dtype_t dt, sf_weight_init_t init, int64_t rows, int64_t cols,
                         int64_t pad)
{
    const char *name = "model.layers.7.mlp.up_proj.weight";
    int64_t full[2] = {rows, cols};
    sf_weight_slice_t s;
    char why[128];
    ck_assert(sf_weight_slice_make(2, full, pad, 0, 0, 1, 2, &s, why, sizeof why));
    sf_tensor_t t = sf_tensor_make(dt, 2, s.local);
    sf_buffer_t b = {0};
    b.nbytes = sf_tensor_nbytes(&t);
    b.data = malloc(b.nbytes);
    ck_assert_ptr_nonnull(b.data);
    memset(b.data, 0xa5, b.nbytes);
    t.buf = &b;
    sf_weight_synth_fill(&s, 42, name, init, &t);
    size_t esize = sf_dtype_size(dt);
    unsigned char want[8];
    for (int64_t r = 0; r < s.local[0]; r++)
        for (int64_t c = 0; c < cols; c++) {
            int64_t fr = s.start + r;
            double v = fr < rows ? plain_value(42, name, (uint64_t)(fr * cols + c), init) : 0.0;
            sf_dtype_store(dt, want, v);
            ck_assert_msg(memcmp((char *)b.data + (size_t)(r * cols + c) * esize, want, esize) == 0,
                          "%s element [%lld,%lld] is not the formula's", sf_dtype_name(dt),
                          (long long)r, (long long)c);
        }
    free(b.data);
}

START_TEST(test_synth_bf16_is_the_formula)
{
    expect_plain(SF_DTYPE_BF16, SF_WEIGHT_INIT_NORMAL, 37, 129, 40);
    expect_plain(SF_DTYPE_BF16, SF_WEIGHT_INIT_ONES, 8, 64, 0);
}
END_TEST

START_TEST(test_synth_f32_is_the_formula)
{
    expect_plain(SF_DTYPE_F32, SF_WEIGHT_INIT_NORMAL, 37, 129, 40);
    expect_plain(SF_DTYPE_F32, SF_WEIGHT_INIT_ONES, 8, 64, 0);
}
END_TEST

START_TEST(test_synth_f16_is_the_formula)
{
    expect_plain(SF_DTYPE_F16, SF_WEIGHT_INIT_NORMAL, 37, 129, 40);
}
END_TEST

/* The bits themselves, so a change to the stream (hash, mixer, seed use)
 * shows too: the first elements of the full tensor, f32, seed 42. */
START_TEST(test_synth_pinned_values)
{
    const char *name = "model.layers.7.mlp.up_proj.weight";
    int64_t full[2] = {4, 4};
    sf_weight_slice_t s;
    char why[128];
    ck_assert(sf_weight_slice_make(2, full, 0, 0, 0, 0, 1, &s, why, sizeof why));
    sf_tensor_t t = sf_tensor_make(SF_DTYPE_F32, 2, full);
    float data[16];
    sf_buffer_t b = {0};
    b.data = data;
    b.nbytes = sizeof data;
    t.buf = &b;
    sf_weight_synth_fill(&s, 42, name, SF_WEIGHT_INIT_NORMAL, &t);
    /* -0.0176149, -0.00165234, -0.00449504, -0.0157607 */
    static const uint32_t pinned[4] = {0xbc904d2eu, 0xbad8935du, 0xbb934b29u, 0xbc811c85u};
    for (int i = 0; i < 4; i++) {
        uint32_t u;
        memcpy(&u, &data[i], 4);
        ck_assert_msg(u == pinned[i], "element %d: 0x%08x, pinned 0x%08x", i, u, pinned[i]);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model_synth");
    TCase *tc = tcase_create("synth");
    tcase_add_test(tc, test_synth_bf16_is_the_formula);
    tcase_add_test(tc, test_synth_f32_is_the_formula);
    tcase_add_test(tc, test_synth_f16_is_the_formula);
    tcase_add_test(tc, test_synth_pinned_values);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
