/* Tensors, views, dtype conversions and the tracked allocator. */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "mem.h"
#include "tensor.h"
#include "test_util.h"

START_TEST(test_bf16_rounds_to_nearest_even)
{
    /* 1 + 2^-8 lies exactly between bf16 1.0 and 1.0078125: ties go to even (1.0). */
    ck_assert_uint_eq(sf_f32_to_bf16(1.00390625f), 0x3f80);
    /* 1 + 3*2^-8 lies between 1.0078125 (odd mantissa) and 1.015625: goes up to even. */
    ck_assert_uint_eq(sf_f32_to_bf16(1.01171875f), 0x3f82);
    ck_assert_float_eq(sf_bf16_to_f32(0x4049), 3.140625f);
    ck_assert(isnan(sf_bf16_to_f32(sf_f32_to_bf16(NAN))));
}
END_TEST

START_TEST(test_f16_round_trip_and_limits)
{
    ck_assert_uint_eq(sf_f32_to_f16(1.0f), 0x3c00);
    ck_assert_uint_eq(sf_f32_to_f16(-2.5f), 0xc100);
    ck_assert_uint_eq(sf_f32_to_f16(65504.0f), 0x7bff);
    ck_assert_uint_eq(sf_f32_to_f16(70000.0f), 0x7c00); /* overflow to inf */
    ck_assert_uint_eq(sf_f32_to_f16(5.9604645e-8f), 0x0001); /* smallest subnormal */
    ck_assert_float_eq(sf_f16_to_f32(0x0001), 5.9604645e-8f);
    ck_assert_float_eq(sf_f16_to_f32(0x3555), 0.333251953125f);
    /* Every finite f16 survives f16 -> f32 -> f16. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00)
            continue;
        ck_assert_uint_eq(sf_f32_to_f16(sf_f16_to_f32((uint16_t)h)), h);
    }
}
END_TEST

START_TEST(test_dtype_names)
{
    sf_dtype_t dt;
    ck_assert(sf_dtype_parse("bfloat16", &dt) && dt == SF_DTYPE_BF16);
    ck_assert(sf_dtype_parse("bool", &dt) && dt == SF_DTYPE_U8);
    ck_assert(!sf_dtype_parse("f64", &dt));
    ck_assert(sf_dtype_from_st_name("I64", &dt) && dt == SF_DTYPE_I64);
    ck_assert_str_eq(sf_dtype_name(SF_DTYPE_F16), "f16");
    ck_assert_uint_eq(sf_dtype_size(SF_DTYPE_I64), 8);
}
END_TEST

START_TEST(test_slice_view_shares_buffer)
{
    /* 3x4 i32 holding 0..11; columns 1 and 3 (step 2) of rows 0..2. */
    int32_t data[12];
    for (int i = 0; i < 12; i++)
        data[i] = i;
    sf_buffer_t buf = {.data = data, .nbytes = sizeof data};
    sf_tensor_t t = sf_tensor_make(SF_DTYPE_I32, 2, (int64_t[]){3, 4});
    t.buf = &buf;
    sf_tensor_t v;
    sf_err_t err = {0};
    ck_assert_int_eq(sf_tensor_view_slice(&t, 1, 1, 4, 2, &v, &err), SF_OK);
    ck_assert_int_eq(v.shape[1], 2);
    ck_assert_int_eq(v.strides[1], 2);
    ck_assert_uint_eq(v.offset, 4);
    ck_assert(!sf_tensor_is_contiguous(&v));
    int32_t out[6];
    sf_buffer_t obuf = {.data = out};
    sf_tensor_t o = sf_tensor_make(SF_DTYPE_I32, 2, (int64_t[]){3, 2});
    o.buf = &obuf;
    sf_tensor_copy_host(&o, &v);
    int32_t want[6] = {1, 3, 5, 7, 9, 11};
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(out[i], want[i]);
    ck_assert_int_eq(sf_tensor_view_slice(&t, 0, 2, 5, 1, &v, &err), SF_ERR_GRAPH);
    ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
}
END_TEST

START_TEST(test_reshape_needs_contiguous)
{
    sf_tensor_t t = sf_tensor_make(SF_DTYPE_F32, 2, (int64_t[]){4, 6});
    sf_tensor_t v, r;
    sf_err_t err = {0};
    ck_assert_int_eq(sf_tensor_view_reshape(&t, 3, (int64_t[]){2, 3, 4}, &r, &err), SF_OK);
    ck_assert_int_eq(r.strides[0], 12);
    ck_assert_int_eq(sf_tensor_view_slice(&t, 1, 0, 6, 2, &v, &err), SF_OK);
    ck_assert_int_eq(sf_tensor_view_reshape(&v, 1, (int64_t[]){12}, &r, &err), SF_ERR_GRAPH);
    sf_err_clear(&err);
    ck_assert_int_eq(sf_tensor_view_reshape(&t, 1, (int64_t[]){25}, &r, &err), SF_ERR_GRAPH);
    ck_assert_ptr_nonnull(strstr(err.msg, "[4,6] to [25]"));
}
END_TEST

START_TEST(test_copy_converts_dtypes)
{
    float src[3] = {1.5f, -2.25f, 3.0f};
    uint16_t dst[3];
    sf_buffer_t sb = {.data = src}, db = {.data = dst};
    sf_tensor_t s = sf_tensor_make(SF_DTYPE_F32, 1, (int64_t[]){3});
    sf_tensor_t d = sf_tensor_make(SF_DTYPE_BF16, 1, (int64_t[]){3});
    s.buf = &sb;
    d.buf = &db;
    sf_tensor_copy_host(&d, &s);
    ck_assert_uint_eq(dst[0], 0x3fc0);
    ck_assert_uint_eq(dst[1], 0xc010);
    ck_assert_uint_eq(dst[2], 0x4040);
}
END_TEST

typedef struct seen {
    int allocs, frees;
    uint64_t last_live;
    char last_free_node[32];
} seen_t;

static void observe(void *ctx, const sf_mem_event_t *ev)
{
    seen_t *s = ctx;
    if (ev->kind == SF_MEM_EV_ALLOC)
        s->allocs++;
    else {
        s->frees++;
        snprintf(s->last_free_node, sizeof s->last_free_node, "%s", ev->free_node);
    }
    s->last_live = ev->live_bytes;
}

static void check_accounting(sf_device_t *dev)
{
    /* 1 B counts 256, 256 B counts 256, 257 B counts 512, 0 B counts 0. */
    ck_assert_uint_eq(sf_mem_counted_bytes(0), 0);
    ck_assert_uint_eq(sf_mem_counted_bytes(1), 256);
    ck_assert_uint_eq(sf_mem_counted_bytes(256), 256);
    ck_assert_uint_eq(sf_mem_counted_bytes(257), 512);
    sf_mem_t *mem = sf_mem_new(dev);
    seen_t seen = {0};
    sf_mem_set_observer(mem, observe, &seen);
    sf_err_t err = {0};
    sf_buffer_t *a, *b, *c;
    sf_mem_set_current_node(mem, "n1");
    ck_assert_int_eq(sf_mem_alloc(mem, &(sf_alloc_req_t){.nbytes = 1, .tensor = "a", .node = "n1"}, &a, &err), SF_OK);
    sf_mem_set_current_node(mem, "n2");
    ck_assert_int_eq(sf_mem_alloc(mem, &(sf_alloc_req_t){.nbytes = 257, .tensor = "b", .node = "n2"}, &b, &err), SF_OK);
    sf_mem_release(mem, a, "n2");
    sf_mem_set_current_node(mem, "n3");
    ck_assert_int_eq(sf_mem_alloc(mem, &(sf_alloc_req_t){.nbytes = 100, .tensor = "c", .node = "n3"}, &c, &err), SF_OK);
    /* live: 256+512 = 768 at n2, then 512, then 768 again at n3: the peak
     * stays attributed to the node that first reached it. */
    ck_assert_uint_eq(sf_mem_peak_bytes(mem), 768);
    ck_assert_str_eq(sf_mem_peak_node(mem), "n2");
    ck_assert_uint_eq(sf_mem_live_bytes(mem), 768);
    ck_assert_int_eq(sf_mem_live_count(mem), 2);
    sf_mem_release(mem, b, "n3");
    sf_mem_release(mem, c, "end");
    ck_assert_uint_eq(sf_mem_live_bytes(mem), 0);
    ck_assert_int_eq(seen.allocs, 3);
    ck_assert_int_eq(seen.frees, 3);
    ck_assert_str_eq(seen.last_free_node, "end");
    ck_assert_int_eq(sf_mem_total_allocs(mem), 3);
    sf_mem_free(mem);
}

START_TEST(test_mem_counts_rounded_bytes_cpu)
{
    check_accounting(sf_device_cpu());
}
END_TEST

START_TEST(test_mem_counts_rounded_bytes_meta)
{
    check_accounting(sf_device_meta());
}
END_TEST

START_TEST(test_mem_free_with_live_buffer_aborts)
{
    sf_mem_t *mem = sf_mem_new(sf_device_meta());
    sf_buffer_t *a;
    sf_err_t err = {0};
    ck_assert_int_eq(sf_mem_alloc(mem, &(sf_alloc_req_t){.nbytes = 8, .tensor = "a", .node = "n"}, &a, &err), SF_OK);
    sf_mem_free(mem); /* a is still live: our bug, so SF_ASSERT aborts */
}
END_TEST

START_TEST(test_tensor_checked_nbytes_limits)
{
    uint64_t n = 0, b = 0;
    /* 2^60 f32 is exactly the limit; one more element is over it. */
    sf_tensor_t t = sf_tensor_make(SF_DTYPE_F32, 1, (int64_t[]){INT64_C(1) << 60});
    ck_assert(sf_tensor_checked_nbytes(&t, &n, &b));
    ck_assert_uint_eq(n, UINT64_C(1) << 60);
    ck_assert_uint_eq(b, SF_TENSOR_MAX_BYTES);
    t = sf_tensor_make(SF_DTYPE_F32, 1, (int64_t[]){(INT64_C(1) << 60) + 1});
    ck_assert(!sf_tensor_checked_nbytes(&t, &n, &b));
    /* numel * 8 wraps to 8 bytes in unchecked uint64 arithmetic */
    t = sf_tensor_make(SF_DTYPE_I64, 1, (int64_t[]){INT64_C(2305843009213693953)});
    ck_assert(!sf_tensor_checked_nbytes(&t, NULL, NULL));
    /* the element count itself wraps */
    t = sf_tensor_make(SF_DTYPE_U8, 3, (int64_t[]){INT64_C(1) << 32, INT64_C(1) << 32, 2});
    ck_assert(!sf_tensor_checked_nbytes(&t, NULL, NULL));
    /* a zero dim makes it empty however large the others are */
    t = sf_tensor_make(SF_DTYPE_U8, 2, (int64_t[]){0, INT64_MAX});
    ck_assert(sf_tensor_checked_nbytes(&t, &n, &b));
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(b, 0);
    /* a small view whose strides reach past the limit */
    t = sf_tensor_make(SF_DTYPE_F32, 1, (int64_t[]){2});
    t.strides[0] = INT64_C(1) << 61;
    ck_assert(!sf_tensor_checked_nbytes(&t, NULL, NULL));
    t = sf_tensor_make(SF_DTYPE_F32, 1, (int64_t[]){-1});
    ck_assert(!sf_tensor_checked_nbytes(&t, NULL, NULL));
}
END_TEST

START_TEST(test_mem_refuses_oversized_requests)
{
    sf_mem_t *mem = sf_mem_new(sf_device_meta());
    sf_buffer_t *a = NULL, *bufs[2] = {NULL, NULL};
    sf_err_t err = {0};
    sf_alloc_req_t big = {.nbytes = SF_TENSOR_MAX_BYTES + 1, .tensor = "huge", .node = "n"};
    ck_assert_int_eq(sf_mem_alloc(mem, &big, &a, &err), SF_ERR_INPUT);
    ck_assert_ptr_null(a);
    ck_assert_ptr_nonnull(strstr(err.msg, "huge"));
    ck_assert_ptr_nonnull(strstr(err.msg, "2^62"));
    /* two at the limit fit (2^63 live); a third would pass what the counters hold */
    sf_alloc_req_t max = {.nbytes = SF_TENSOR_MAX_BYTES, .tensor = "m", .node = "n"};
    sf_err_clear(&err);
    ck_assert_int_eq(sf_mem_alloc(mem, &max, &bufs[0], &err), SF_OK);
    ck_assert_int_eq(sf_mem_alloc(mem, &max, &bufs[1], &err), SF_OK);
    ck_assert_int_eq(sf_mem_alloc(mem, &(sf_alloc_req_t){.nbytes = 1, .tensor = "one", .node = "n"},
                                  &a, &err), SF_ERR_INPUT);
    ck_assert_uint_eq(sf_mem_live_bytes(mem), UINT64_C(1) << 63);
    sf_mem_release(mem, bufs[0], "end");
    sf_mem_release(mem, bufs[1], "end");
    sf_mem_free(mem);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("dtype");
    tcase_add_test(tc, test_bf16_rounds_to_nearest_even);
    tcase_add_test(tc, test_f16_round_trip_and_limits);
    tcase_add_test(tc, test_dtype_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("views");
    tcase_add_test(tc, test_slice_view_shares_buffer);
    tcase_add_test(tc, test_reshape_needs_contiguous);
    tcase_add_test(tc, test_copy_converts_dtypes);
    tcase_add_test(tc, test_tensor_checked_nbytes_limits);
    suite_add_tcase(s, tc);
    tc = tcase_create("mem");
    tcase_add_test(tc, test_mem_counts_rounded_bytes_cpu);
    tcase_add_test(tc, test_mem_counts_rounded_bytes_meta);
    tcase_add_test(tc, test_mem_refuses_oversized_requests);
    tcase_add_test_raise_signal(tc, test_mem_free_with_live_buffer_aborts, SIGABRT);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
