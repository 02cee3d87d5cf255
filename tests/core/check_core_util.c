/* The small core tools every library shares: FNV-1a, SplitMix64, the
 * monotonic clock, checked allocation and whole-file reads. Graph hashes
 * and synthetic weights are built from the first two, so their values are
 * pinned here to the published reference vectors, bit for bit. */
#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "file_read.h"
#include "hash.h"
#include "rng.h"
#include "test_util.h"
#include "xalloc.h"

START_TEST(test_hash_fnv1a64_reference_vectors)
{
    /* The FNV authors' test vectors: "" is the offset basis itself. */
    ck_assert_uint_eq(sf_hash_fnv1a64(""), 0xcbf29ce484222325ull);
    ck_assert_uint_eq(sf_hash_fnv1a64("a"), 0xaf63dc4c8601ec8cull);
    ck_assert_uint_eq(sf_hash_fnv1a64("foobar"), 0x85944171f73967e8ull);
    ck_assert_uint_eq(SF_HASH_FNV1A64_INIT, 0xcbf29ce484222325ull);
}
END_TEST

START_TEST(test_hash_fnv1a64_add_chains_like_concatenation)
{
    /* graph_hash relies on this: hashing "foo" then "bar" is "foobar". */
    uint64_t h = sf_hash_fnv1a64_add(SF_HASH_FNV1A64_INIT, "foo", 3);
    ck_assert_uint_eq(sf_hash_fnv1a64_add(h, "bar", 3), 0x85944171f73967e8ull);
    ck_assert_uint_eq(sf_hash_fnv1a64_add(h, NULL, 0), h);
    /* Bytes above 0x7f are unsigned: one byte 0xff from the basis is
     * (0xcbf29ce484222325 ^ 0xff) * 0x100000001b3 mod 2^64. */
    ck_assert_uint_eq(sf_hash_fnv1a64_add(SF_HASH_FNV1A64_INIT, "\xff", 1),
                      (0xcbf29ce484222325ull ^ 0xffull) * 0x100000001b3ull);
}
END_TEST

START_TEST(test_hash_fnv1a32_reference_vectors)
{
    ck_assert_uint_eq(sf_hash_fnv1a32(""), 0x811c9dc5u);
    ck_assert_uint_eq(sf_hash_fnv1a32("a"), 0xe40c292cu);
    ck_assert_uint_eq(sf_hash_fnv1a32("foobar"), 0xbf9cf968u);
}
END_TEST

START_TEST(test_rng_splitmix64_reference_sequence)
{
    /* Vigna's splitmix64.c from seed 0, and from seed 1234567. */
    ck_assert_uint_eq(sf_rng_splitmix64(0, 0), 0xe220a8397b1dcdafull);
    ck_assert_uint_eq(sf_rng_splitmix64(0, 1), 0x6e789e6aa1b965f4ull);
    ck_assert_uint_eq(sf_rng_splitmix64(0, 2), 0x06c45d188009454full);
    ck_assert_uint_eq(sf_rng_splitmix64(1234567, 0), 6457827717110365317ull);
    ck_assert_uint_eq(sf_rng_splitmix64(1234567, 1), 3203168211198807973ull);
    ck_assert_uint_eq(sf_rng_splitmix64(1234567, 2), 9817491932198370423ull);
}
END_TEST

START_TEST(test_rng_mix64_fixes_zero_and_scatters_one)
{
    /* Each step of the finaliser maps 0 to 0; 1 lands far away. */
    ck_assert_uint_eq(sf_rng_mix64(0), 0);
    ck_assert_uint_eq(sf_rng_mix64(1), 0x5692161d100b05e5ull);
    /* Output n is the finaliser of seed + (n + 1) * golden gamma. */
    ck_assert_uint_eq(sf_rng_splitmix64(5, 7), sf_rng_mix64(5 + 8 * 0x9e3779b97f4a7c15ull));
}
END_TEST

START_TEST(test_clock_sleep_advances_now)
{
    double t0 = sf_clock_now_s();
    sf_clock_sleep_s(0.05);
    double dt = sf_clock_now_s() - t0;
    ck_assert_double_ge(dt, 0.05);
    ck_assert_double_lt(dt, 5.0);
}
END_TEST

START_TEST(test_xalloc_calloc_zeroed_and_zero_count_unique)
{
    uint64_t *a = sf_xalloc_calloc(4, sizeof *a);
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(a[i], 0);
    void *e1 = sf_xalloc_calloc(0, 8), *e2 = sf_xalloc_calloc(0, 8);
    ck_assert_ptr_nonnull(e1);
    ck_assert_ptr_ne(e1, e2);
    char *d = sf_xalloc_strdup("layer.0");
    ck_assert_str_eq(d, "layer.0");
    free(a);
    free(e1);
    free(e2);
    free(d);
}
END_TEST

START_TEST(test_file_read_exact_bytes_and_limits)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/f.bin", tu_tmpdir());
    ck_assert_int_eq(tu_write_file(path, "0123456789"), 0);
    size_t len = 99;
    char *b = sf_file_read(path, 10, &len);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(len, 10);
    ck_assert_str_eq(b, "0123456789"); /* NUL-terminated at len */
    free(b);
    /* One byte over the limit: refused before reading; len untouched. */
    len = 99;
    ck_assert_ptr_null(sf_file_read(path, 9, &len));
    ck_assert_uint_eq(len, 99);
    ck_assert_int_eq(tu_write_file(path, ""), 0);
    b = sf_file_read(path, 0, NULL);
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(b, "");
    free(b);
    snprintf(path, sizeof path, "%s/missing", tu_tmpdir());
    ck_assert_ptr_null(sf_file_read(path, SIZE_MAX, NULL));
}
END_TEST

START_TEST(test_file_open_regular_refuses_fifo_dir_missing_loop)
{
    const char *dir = tu_tmpdir();
    char fifo[4200], loop[4200], missing[4200], reg[4200];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(loop, sizeof loop, "%s/loop", dir);
    snprintf(missing, sizeof missing, "%s/missing", dir);
    snprintf(reg, sizeof reg, "%s/reg", dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(symlink("loop", loop), 0);
    ck_assert_int_eq(tu_write_file(reg, "abc"), 0);
    int fd = 7;
    uint64_t size = 0;
    sf_err_t err = {0};
    /* no writer on the FIFO: this must return at once, not block */
    ck_assert_int_eq(sf_file_open_regular(fifo, NULL, &fd, &size, &err), SF_ERR_INPUT);
    ck_assert_int_eq(fd, -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "is not a regular file (a FIFO)"));
    sf_err_clear(&err);
    ck_assert_int_eq(sf_file_open_regular(dir, NULL, &fd, &size, &err), SF_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "(a directory)"));
    sf_err_clear(&err);
    ck_assert_int_eq(sf_file_open_regular(loop, NULL, &fd, &size, &err), SF_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, loop));
    sf_err_clear(&err);
    ck_assert_int_eq(sf_file_open_regular(missing, NULL, &fd, &size, &err), SF_ERR_INPUT);
    sf_err_clear(&err);
    ck_assert_int_eq(sf_file_open_regular(reg, NULL, &fd, &size, &err), SF_OK);
    ck_assert_uint_eq(size, 3);
    ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0); /* cleared once open */
    close(fd);
    char *b = NULL;
    ck_assert_int_eq(sf_file_load(fifo, 100, &b, NULL, &err), SF_ERR_INPUT);
    ck_assert_ptr_null(b);
    ck_assert_ptr_null(sf_file_read(fifo, 100, NULL));
}
END_TEST

static Suite *core_util_suite(void)
{
    Suite *s = suite_create("core_util");
    TCase *tc = tcase_create("hash");
    tcase_add_test(tc, test_hash_fnv1a64_reference_vectors);
    tcase_add_test(tc, test_hash_fnv1a64_add_chains_like_concatenation);
    tcase_add_test(tc, test_hash_fnv1a32_reference_vectors);
    suite_add_tcase(s, tc);
    tc = tcase_create("rng");
    tcase_add_test(tc, test_rng_splitmix64_reference_sequence);
    tcase_add_test(tc, test_rng_mix64_fixes_zero_and_scatters_one);
    suite_add_tcase(s, tc);
    tc = tcase_create("clock_alloc_file");
    tcase_add_test(tc, test_clock_sleep_advances_now);
    tcase_add_test(tc, test_xalloc_calloc_zeroed_and_zero_count_unique);
    tcase_add_test(tc, test_file_read_exact_bytes_and_limits);
    tcase_add_test(tc, test_file_open_regular_refuses_fifo_dir_missing_loop);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(core_util_suite());
}
