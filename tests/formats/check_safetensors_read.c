/* safetensors files built byte by byte here and opened by our reader: what
 * other writers produce and the reader must accept (BOOL, user metadata, an
 * empty tensor inside another, header order unlike offset order), and one
 * test per way a file can lie, each showing exactly what is wrong with it. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "test_util.h"

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* A safetensors file with the given header text (its length is written as
 * is, no padding) followed by data_len bytes of data. */
static const char *make_st(const char *header, size_t data_len)
{
    const char *path = tu_join(tu_tmpdir(), "bad.safetensors");
    size_t hlen = strlen(header);
    uint8_t *bytes = calloc(1, 8 + hlen + data_len + 1);
    for (int i = 0; i < 8; i++)
        bytes[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    memcpy(bytes + 8, header, hlen);
    write_bytes(path, bytes, 8 + hlen + data_len);
    free(bytes);
    return path;
}

/* Open must fail with code, naming the path (no line), with frag in msg. */
static void expect_open_error(const char *path, sf_status_t code, const char *frag)
{
    sf_err_t err;
    sf_err_clear(&err);
    sf_st_file_t *f = (sf_st_file_t *)1;
    sf_status_t st = sf_st_open(path, &f, &err);
    ck_assert_msg(st == code, "expected %s, got %s: %s", sf_status_name(code),
                  sf_status_name(st), err.msg);
    ck_assert_int_eq(err.code, code);
    ck_assert_ptr_null(f);
    ck_assert_str_eq(err.file, path);
    ck_assert_int_eq(err.line, 0);
    ck_assert_msg(strstr(err.msg, frag) != NULL, "'%s' not in '%s'", frag, err.msg);
}

/* ---- files other writers produce ------------------------------------------ */

/* BOOL and user metadata come from other writers: read a file built by
 * hand, laid out the way the reference writer lays it out. */
START_TEST(test_read_bool_and_metadata)
{
    const char *h = "{\"__metadata__\":{\"format\":\"pt\",\"step\":\"12\"},"
                    "\"mask\":{\"dtype\":\"BOOL\",\"shape\":[2,2],\"data_offsets\":[0,4]},"
                    "\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]}}";
    const char *path = make_st(h, 8);
    sf_err_t err;
    sf_err_clear(&err);
    sf_st_file_t *f = NULL;
    ck_assert_msg(sf_st_open(path, &f, &err) == SF_OK, "%s", err.msg);
    ck_assert_int_eq(sf_st_count(f), 2);
    ck_assert_str_eq(sf_st_metadata(f, "step"), "12");
    ck_assert_str_eq(sf_st_metadata(f, "format"), "pt");
    int i = sf_st_find(f, "mask");
    ck_assert_int_eq(i, 0);
    sf_tensor_t t;
    const void *data;
    sf_st_get(f, i, &t, &data);
    ck_assert_int_eq(t.dtype, SF_DTYPE_U8);
    ck_assert_int_eq(t.ndim, 2);
    sf_st_get(f, sf_st_find(f, "w"), &t, &data);
    ck_assert_int_eq(t.ndim, 0);
    ck_assert_uint_eq(sf_tensor_nbytes(&t), 4);
    sf_st_close(f);
}
END_TEST

START_TEST(test_zero_size_tensor_inside_another)
{
    /* an empty tensor owns no bytes, so sitting inside another is fine */
    const char *h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
                    "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]}}";
    sf_err_t err;
    sf_err_clear(&err);
    sf_st_file_t *f = NULL;
    ck_assert_msg(sf_st_open(make_st(h, 8), &f, &err) == SF_OK, "%s", err.msg);
    ck_assert_int_eq(sf_st_count(f), 2);
    sf_st_close(f);
}
END_TEST

START_TEST(test_header_order_differs_from_offsets)
{
    /* header order is not offset order; only sorted ranges may be compared */
    const char *h = "{\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]},"
                    "\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}";
    sf_err_t err;
    sf_err_clear(&err);
    sf_st_file_t *f = NULL;
    ck_assert_msg(sf_st_open(make_st(h, 8), &f, &err) == SF_OK, "%s", err.msg);
    ck_assert_str_eq(sf_st_name(f, 0), "b");
    ck_assert_int_eq(sf_st_find(f, "a"), 1);
    sf_st_close(f);
}
END_TEST

/* ---- bad files ------------------------------------------------------------- */

START_TEST(test_bad_empty_file)
{
    const char *path = tu_join(tu_tmpdir(), "empty.safetensors");
    write_bytes(path, "", 0);
    expect_open_error(path, SF_ERR_INPUT, "file is 0 bytes, too small");
}
END_TEST

START_TEST(test_bad_truncated_length)
{
    const char *path = tu_join(tu_tmpdir(), "short.safetensors");
    write_bytes(path, "\x10\0\0\0\0", 5);
    expect_open_error(path, SF_ERR_INPUT, "file is 5 bytes, too small");
}
END_TEST

START_TEST(test_bad_missing_file)
{
    /* A missing file is the user's to fix: bad input (exit 2), not IO. */
    expect_open_error(tu_join(tu_tmpdir(), "nope.safetensors"), SF_ERR_INPUT,
                      "No such file or directory");
}
END_TEST

START_TEST(test_bad_header_past_eof)
{
    const char *path = tu_join(tu_tmpdir(), "trunc.safetensors");
    /* claims a 64-byte header, has 4 bytes after the length */
    write_bytes(path, "\x40\0\0\0\0\0\0\0{\"a\"", 12);
    expect_open_error(path, SF_ERR_INPUT, "header length 64 runs past the end of the file");
}
END_TEST

START_TEST(test_bad_header_huge)
{
    const char *path = tu_join(tu_tmpdir(), "huge.safetensors");
    write_bytes(path, "\0\0\0\0\0\x01\0\0{}", 10); /* 2^40 */
    expect_open_error(path, SF_ERR_INPUT, "exceeds the 100 MiB limit");
}
END_TEST

START_TEST(test_bad_not_json)
{
    expect_open_error(make_st("{\"a\": {\"dtype\": F32}}", 0), SF_ERR_INPUT,
                      "header is not valid JSON (near byte 16 of the 21-byte header)");
}
END_TEST

START_TEST(test_bad_not_object)
{
    expect_open_error(make_st("[1,2]   ", 0), SF_ERR_INPUT, "header must be a JSON object");
}
END_TEST

START_TEST(test_bad_trailing_bytes)
{
    expect_open_error(make_st("{}  xyz ", 0), SF_ERR_INPUT, "trailing bytes");
}
END_TEST

START_TEST(test_bad_offsets_past_data)
{
    /* a valid header whose data was cut short: 16 bytes promised, 10 there */
    expect_open_error(
        make_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 10),
        SF_ERR_INPUT, "tensor 'w': data_offsets [0, 16] run past the data (10 bytes)");
}
END_TEST

START_TEST(test_bad_offsets_reversed)
{
    expect_open_error(
        make_st("{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,2]}}", 8),
        SF_ERR_INPUT, "tensor 'w': data_offsets [4, 2] end before they begin");
}
END_TEST

START_TEST(test_bad_overlap)
{
    expect_open_error(make_st("{\"a\":{\"dtype\":\"U8\",\"shape\":[6],\"data_offsets\":[0,6]},"
                              "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}",
                              8),
                      SF_ERR_INPUT, "tensors 'a' [0, 6] and 'b' [4, 8] overlap");
}
END_TEST

START_TEST(test_bad_overlap_out_of_order)
{
    /* header order differs from offset order: the check must sort */
    expect_open_error(make_st("{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]},"
                              "\"c\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                              "\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[3,7]}}",
                              8),
                      SF_ERR_INPUT, "tensors 'c' [0, 4] and 'a' [3, 7] overlap");
}
END_TEST

START_TEST(test_bad_size_mismatch)
{
    expect_open_error(
        make_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 24),
        SF_ERR_INPUT, "tensor 'w': data_offsets [0, 20] hold 20 bytes but shape and dtype F32 "
                      "need 24");
}
END_TEST

START_TEST(test_bad_unknown_dtype)
{
    expect_open_error(make_st("{\"x\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
                              8),
                      SF_ERR_INPUT, "unsupported dtype 'F64' for tensor 'x'");
}
END_TEST

START_TEST(test_bad_negative_dim)
{
    expect_open_error(
        make_st("{\"x\":{\"dtype\":\"U8\",\"shape\":[2,-3],\"data_offsets\":[0,0]}}", 0),
        SF_ERR_INPUT, "tensor 'x': negative dimension -3");
}
END_TEST

START_TEST(test_bad_fractional_dim)
{
    expect_open_error(
        make_st("{\"x\":{\"dtype\":\"U8\",\"shape\":[2.5],\"data_offsets\":[0,0]}}", 0),
        SF_ERR_INPUT, "tensor 'x': dimension 0 of \"shape\" is not an integer");
}
END_TEST

START_TEST(test_bad_overflowing_dims)
{
    /* 2^32 * 2^32 elements: the product wraps to 0 in 64 bits, which would
     * match data_offsets [0,0] if the multiplication were not checked. */
    expect_open_error(make_st("{\"x\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],"
                              "\"data_offsets\":[0,0]}}",
                              0),
                      SF_ERR_INPUT, "tensor 'x': \"shape\" has too many elements");
}
END_TEST

START_TEST(test_bad_overflow_before_zero)
{
    /* empty, but the running product overflows before the 0: refused, as
     * every numel loop in the runtime would overflow on it */
    expect_open_error(make_st("{\"x\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,0],"
                              "\"data_offsets\":[0,0]}}",
                              0),
                      SF_ERR_INPUT, "tensor 'x': \"shape\" has too many elements");
}
END_TEST

START_TEST(test_bad_overflow_by_elem_size)
{
    /* 2^62 elements fit, 2^62 * 4 bytes do not */
    expect_open_error(make_st("{\"x\":{\"dtype\":\"F32\",\"shape\":[2147483648,2147483648],"
                              "\"data_offsets\":[0,0]}}",
                              0),
                      SF_ERR_INPUT, "tensor 'x': \"shape\" has too many elements");
}
END_TEST

START_TEST(test_bad_too_many_dims)
{
    expect_open_error(make_st("{\"x\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                              "\"data_offsets\":[0,1]}}",
                              1),
                      SF_ERR_INPUT, "tensor 'x': 9 dimensions, at most 8");
}
END_TEST

START_TEST(test_bad_missing_fields)
{
    expect_open_error(make_st("{\"x\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1), SF_ERR_INPUT,
                      "tensor 'x': \"data_offsets\" must be [begin, end]");
}
END_TEST

START_TEST(test_bad_duplicate_entry)
{
    expect_open_error(make_st("{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                              "\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
                              2),
                      SF_ERR_INPUT, "tensor 'x' appears twice");
}
END_TEST

START_TEST(test_bad_metadata_value)
{
    expect_open_error(make_st("{\"__metadata__\":{\"step\":12}}", 0), SF_ERR_INPUT,
                      "\"__metadata__\" value of 'step' must be a string");
}
END_TEST

static Suite *safetensors_read_suite(void)
{
    Suite *s = suite_create("safetensors_read");
    TCase *tc = tcase_create("read");
    tcase_add_test(tc, test_read_bool_and_metadata);
    tcase_add_test(tc, test_zero_size_tensor_inside_another);
    tcase_add_test(tc, test_header_order_differs_from_offsets);
    suite_add_tcase(s, tc);

    tc = tcase_create("bad");
    tcase_add_test(tc, test_bad_empty_file);
    tcase_add_test(tc, test_bad_truncated_length);
    tcase_add_test(tc, test_bad_missing_file);
    tcase_add_test(tc, test_bad_header_past_eof);
    tcase_add_test(tc, test_bad_header_huge);
    tcase_add_test(tc, test_bad_not_json);
    tcase_add_test(tc, test_bad_not_object);
    tcase_add_test(tc, test_bad_trailing_bytes);
    tcase_add_test(tc, test_bad_offsets_past_data);
    tcase_add_test(tc, test_bad_offsets_reversed);
    tcase_add_test(tc, test_bad_overlap);
    tcase_add_test(tc, test_bad_overlap_out_of_order);
    tcase_add_test(tc, test_bad_size_mismatch);
    tcase_add_test(tc, test_bad_unknown_dtype);
    tcase_add_test(tc, test_bad_negative_dim);
    tcase_add_test(tc, test_bad_fractional_dim);
    tcase_add_test(tc, test_bad_overflowing_dims);
    tcase_add_test(tc, test_bad_overflow_before_zero);
    tcase_add_test(tc, test_bad_overflow_by_elem_size);
    tcase_add_test(tc, test_bad_too_many_dims);
    tcase_add_test(tc, test_bad_missing_fields);
    tcase_add_test(tc, test_bad_duplicate_entry);
    tcase_add_test(tc, test_bad_metadata_value);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(safetensors_read_suite());
}
