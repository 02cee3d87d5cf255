/* safetensors through our writer: round trips of every dtype, of no tensor
 * and of a strided view larger than the staging block, read back exactly
 * and laid out as the reference reader insists; and what the writer refuses
 * or leaves behind (an existing file, a FIFO, a planted symlink, duplicate
 * names, a missing folder, a write failing halfway). */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"
#include "test_util.h"

/* A host tensor over malloc'd bytes, filled with a pattern that differs
 * per byte and per tensor (seed), so a swapped or shifted copy shows. */
typedef struct host {
    sf_buffer_t buf;
    sf_tensor_t t;
} host_t;

static void host_init(host_t *h, sf_dtype_t dt, int ndim, const int64_t *shape, unsigned seed)
{
    memset(h, 0, sizeof *h);
    h->t = sf_tensor_make(dt, ndim, shape);
    uint64_t n = sf_tensor_nbytes(&h->t);
    h->buf.data = malloc(n > 0 ? n : 1);
    ck_assert_ptr_nonnull(h->buf.data);
    h->buf.nbytes = n;
    h->buf.dev = sf_device_cpu();
    for (uint64_t i = 0; i < n; i++)
        ((uint8_t *)h->buf.data)[i] = (uint8_t)(i * 7 + seed * 31 + 1);
    h->t.buf = &h->buf;
}

static void host_fini(host_t *h)
{
    free(h->buf.data);
}

/* ---- round trips ----------------------------------------------------------- */

START_TEST(test_roundtrip_every_dtype)
{
    const char *dir = tu_tmpdir();
    const char *path = tu_join(dir, "all.safetensors");
    enum { N = 10 };
    host_t h[N];
    const char *names[N] = {"f32", "bf16", "f16", "i32", "i64", "u8", "scalar", "empty",
                            "strided", "name \"with\" quotes\n"};
    host_init(&h[0], SF_DTYPE_F32, 2, (int64_t[]){2, 3}, 0);
    host_init(&h[1], SF_DTYPE_BF16, 1, (int64_t[]){5}, 1);
    host_init(&h[2], SF_DTYPE_F16, 3, (int64_t[]){2, 1, 3}, 2);
    host_init(&h[3], SF_DTYPE_I32, 1, (int64_t[]){3}, 3);
    host_init(&h[4], SF_DTYPE_I64, 2, (int64_t[]){1, 2}, 4);
    host_init(&h[5], SF_DTYPE_U8, 1, (int64_t[]){7}, 5);
    host_init(&h[6], SF_DTYPE_F32, 0, NULL, 6);
    host_init(&h[7], SF_DTYPE_I32, 2, (int64_t[]){0, 4}, 7);
    /* every other column of a 4x6 f32: a view the writer must gather */
    host_init(&h[8], SF_DTYPE_F32, 2, (int64_t[]){4, 6}, 8);
    host_init(&h[9], SF_DTYPE_U8, 1, (int64_t[]){1}, 9);
    sf_tensor_t view;
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_tensor_view_slice(&h[8].t, 1, 1, 6, 2, &view, &err), SF_OK);
    ck_assert(!sf_tensor_is_contiguous(&view));

    sf_st_entry_t entries[N];
    for (int i = 0; i < N; i++)
        entries[i] = (sf_st_entry_t){.name = names[i], .tensor = i == 8 ? &view : &h[i].t};
    ck_assert_int_eq(sf_st_write(path, entries, N, false, &err), SF_OK);
    ck_assert_int_eq(tu_count_dir_entries(dir), 1); /* no temporary left behind */

    sf_st_file_t *f = NULL;
    ck_assert_msg(sf_st_open(path, &f, &err) == SF_OK, "%s", err.msg);
    ck_assert_int_eq(sf_st_count(f), N);
    ck_assert_str_eq(sf_st_metadata(f, "format"), "pt");
    ck_assert_ptr_null(sf_st_metadata(f, "nope"));
    ck_assert_int_eq(sf_st_find(f, "missing"), -1);
    for (int i = 0; i < N; i++) {
        const sf_tensor_t *want = entries[i].tensor;
        ck_assert_str_eq(sf_st_name(f, i), names[i]); /* header order */
        ck_assert_int_eq(sf_st_find(f, names[i]), i);
        sf_tensor_t got;
        const void *data = NULL;
        sf_st_get(f, i, &got, &data);
        ck_assert_ptr_null(got.buf);
        ck_assert_int_eq(got.dtype, want->dtype);
        ck_assert_int_eq(got.ndim, want->ndim);
        for (int d = 0; d < got.ndim; d++)
            ck_assert_int_eq(got.shape[d], want->shape[d]);
        ck_assert(sf_tensor_is_contiguous(&got));
        ck_assert_uint_eq(sf_tensor_nbytes(&got), sf_tensor_nbytes(want));
        if (i != 8) {
            ck_assert_mem_eq(data, sf_tensor_data(want), sf_tensor_nbytes(want));
            continue;
        }
        /* strided: element [r][c] of the view is base column 2c+1 */
        const float *g = data;
        const float *base = h[8].buf.data;
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 3; c++)
                ck_assert_mem_eq(&g[r * 3 + c], &base[r * 6 + 2 * c + 1], 4);
    }
    sf_st_close(f);

    /* What the reference reader insists on: a header padded with spaces to
     * a multiple of 8, and data that is exactly the sum of the tensors. */
    size_t len = 0;
    char *bytes = tu_read_file(path, &len);
    ck_assert_ptr_nonnull(bytes);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | (uint8_t)bytes[i];
    ck_assert_uint_eq(hlen % 8, 0);
    ck_assert_int_eq(bytes[8], '{');
    uint64_t data_total = 0;
    for (int i = 0; i < N; i++)
        data_total += sf_tensor_nbytes(entries[i].tensor);
    ck_assert_uint_eq(len, 8 + hlen + data_total);
    size_t close_brace = 8 + (size_t)hlen - 1;
    while (bytes[close_brace] == ' ')
        close_brace--;
    ck_assert_int_eq(bytes[close_brace], '}');
    ck_assert_uint_lt(8 + hlen - 1 - close_brace, 8);
    free(bytes);
    for (int i = 0; i < N; i++)
        host_fini(&h[i]);
}
END_TEST

START_TEST(test_write_zero_tensors)
{
    const char *path = tu_join(tu_tmpdir(), "empty.safetensors");
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_st_write(path, NULL, 0, false, &err), SF_OK);
    sf_st_file_t *f = NULL;
    ck_assert_int_eq(sf_st_open(path, &f, &err), SF_OK);
    ck_assert_int_eq(sf_st_count(f), 0);
    ck_assert_int_eq(sf_st_find(f, "x"), -1);
    sf_st_close(f);
}
END_TEST

/* A strided view bigger than the 16 MiB staging block goes out in several
 * blocks of rows, the last one partial: 5 rows of 4 MiB are 4 + 1. */
START_TEST(test_roundtrip_large_strided_view)
{
    const char *path = tu_join(tu_tmpdir(), "big.safetensors");
    const int64_t cols = 1 << 21;
    host_t h;
    host_init(&h, SF_DTYPE_F32, 2, (int64_t[]){5, cols}, 2);
    sf_tensor_t view;
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_tensor_view_slice(&h.t, 1, 0, cols, 2, &view, &err), SF_OK);
    sf_st_entry_t e = {.name = "v", .tensor = &view};
    ck_assert_int_eq(sf_st_write(path, &e, 1, false, &err), SF_OK);

    sf_st_file_t *f = NULL;
    ck_assert_int_eq(sf_st_open(path, &f, &err), SF_OK);
    sf_tensor_t got;
    const void *data;
    sf_st_get(f, 0, &got, &data);
    ck_assert_int_eq(got.shape[0], 5);
    ck_assert_int_eq(got.shape[1], cols / 2);
    const uint32_t *g = data;
    const uint32_t *base = h.buf.data;
    int64_t wrong = 0;
    for (int64_t r = 0; r < 5; r++)
        for (int64_t c = 0; c < cols / 2; c++)
            wrong += g[r * (cols / 2) + c] != base[r * cols + 2 * c];
    ck_assert_int_eq(wrong, 0);
    sf_st_close(f);
    host_fini(&h);
    unlink(path); /* 20 MiB: not worth leaving in /tmp */
}
END_TEST

/* ---- refusing to clobber --------------------------------------------------- */

START_TEST(test_existing_file_refused_then_overwritten)
{
    const char *dir = tu_tmpdir();
    const char *path = tu_join(dir, "out.safetensors");
    ck_assert_int_eq(tu_write_file(path, "precious"), 0);
    host_t h;
    host_init(&h, SF_DTYPE_F32, 1, (int64_t[]){4}, 3);
    sf_st_entry_t e = {.name = "x", .tensor = &h.t};
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_st_write(path, &e, 1, false, &err), SF_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "output file exists"));
    ck_assert_ptr_nonnull(strstr(err.msg, "--overwrite"));
    char *text = tu_read_file(path, NULL);
    ck_assert_str_eq(text, "precious");
    free(text);
    ck_assert_int_eq(tu_count_dir_entries(dir), 1);

    sf_err_clear(&err);
    ck_assert_int_eq(sf_st_write(path, &e, 1, true, &err), SF_OK);
    sf_st_file_t *f = NULL;
    ck_assert_int_eq(sf_st_open(path, &f, &err), SF_OK);
    ck_assert_int_eq(sf_st_find(f, "x"), 0);
    sf_st_close(f);
    ck_assert_int_eq(tu_count_dir_entries(dir), 1);
    host_fini(&h);
}
END_TEST

/* ---- special files and planted links ------------------------------------ */

/* A FIFO at the output path is not replaced by a regular file, even with
 * --overwrite: the write is refused naming it. */
START_TEST(test_write_refuses_fifo)
{
    const char *dir = tu_tmpdir();
    const char *path = tu_join(dir, "rank0.safetensors");
    ck_assert_int_eq(mkfifo(path, 0644), 0);
    host_t h;
    host_init(&h, SF_DTYPE_F32, 1, (int64_t[]){4}, 3);
    sf_st_entry_t e = {.name = "x", .tensor = &h.t};
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_st_write(path, &e, 1, true, &err), SF_ERR_INPUT);
    ck_assert_str_eq(err.file, path);
    ck_assert_msg(strstr(err.msg, "FIFO") != NULL, "%s", err.msg);
    struct stat sb;
    ck_assert_int_eq(lstat(path, &sb), 0);
    ck_assert(S_ISFIFO(sb.st_mode));
    ck_assert_int_eq(tu_count_dir_entries(dir), 1);
    host_fini(&h);
}
END_TEST

/* A symlink planted where the old writer put its temporary
 * ("<path>.tmp.<pid>") must not be written through. */
START_TEST(test_write_ignores_planted_symlink)
{
    const char *dir = tu_tmpdir();
    char victim[512], link[600];
    snprintf(victim, sizeof victim, "%s/victim", dir);
    const char *path = tu_join(dir, "rank0.safetensors");
    snprintf(link, sizeof link, "%s.tmp.%ld", path, (long)getpid());
    ck_assert_int_eq(tu_write_file(victim, "precious"), 0);
    ck_assert_int_eq(symlink(victim, link), 0);
    host_t h;
    host_init(&h, SF_DTYPE_F32, 1, (int64_t[]){4}, 3);
    sf_st_entry_t e = {.name = "x", .tensor = &h.t};
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_st_write(path, &e, 1, false, &err), SF_OK);
    char *text = tu_read_file(victim, NULL);
    ck_assert_str_eq(text, "precious");
    free(text);
    sf_st_file_t *f = NULL;
    ck_assert_int_eq(sf_st_open(path, &f, &err), SF_OK);
    ck_assert_int_eq(sf_st_find(f, "x"), 0);
    sf_st_close(f);
    ck_assert_int_eq(tu_count_dir_entries(dir), 3); /* victim, the link, the output */
    host_fini(&h);
}
END_TEST

START_TEST(test_write_duplicate_names_refused)
{
    const char *dir = tu_tmpdir();
    host_t h;
    host_init(&h, SF_DTYPE_U8, 1, (int64_t[]){2}, 1);
    sf_st_entry_t e[2] = {{.name = "x", .tensor = &h.t}, {.name = "x", .tensor = &h.t}};
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_st_write(tu_join(dir, "d.safetensors"), e, 2, false, &err), SF_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "tensor 'x' is given twice"));
    ck_assert_int_eq(tu_count_dir_entries(dir), 0);
    host_fini(&h);
}
END_TEST

START_TEST(test_write_into_missing_folder)
{
    const char *dir = tu_tmpdir();
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/no/such", dir);
    const char *path = tu_join(sub, "x.safetensors");
    host_t h;
    host_init(&h, SF_DTYPE_U8, 1, (int64_t[]){2}, 1);
    sf_st_entry_t e = {.name = "x", .tensor = &h.t};
    sf_err_t err;
    sf_err_clear(&err);
    /* A missing folder is the user's to fix: bad input (exit 2). */
    ck_assert_int_eq(sf_st_write(path, &e, 1, false, &err), SF_ERR_INPUT);
    ck_assert_str_eq(err.file, path);
    ck_assert_ptr_nonnull(strstr(err.msg, "No such file or directory"));
    ck_assert_int_eq(tu_count_dir_entries(dir), 0);
    host_fini(&h);
}
END_TEST

/* A write that fails halfway (the file size limit stands in for a full
 * disk) must remove its temporary file and leave nothing at path. */
START_TEST(test_write_failure_leaves_nothing)
{
    const char *dir = tu_tmpdir();
    const char *path = tu_join(dir, "big.safetensors");
    host_t h;
    host_init(&h, SF_DTYPE_F32, 1, (int64_t[]){1 << 16}, 1); /* 256 KiB */
    sf_st_entry_t e = {.name = "x", .tensor = &h.t};
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_st_write(path, &e, 1, false, &err);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    ck_assert_int_eq(st, SF_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "File too large"));
    ck_assert_int_eq(tu_count_dir_entries(dir), 0);
    host_fini(&h);
}
END_TEST

static Suite *safetensors_write_suite(void)
{
    Suite *s = suite_create("safetensors_write");
    TCase *tc = tcase_create("roundtrip");
    tcase_add_test(tc, test_roundtrip_every_dtype);
    tcase_add_test(tc, test_write_zero_tensors);
    tcase_add_test(tc, test_roundtrip_large_strided_view);
    suite_add_tcase(s, tc);

    tc = tcase_create("write");
    tcase_add_test(tc, test_existing_file_refused_then_overwritten);
    tcase_add_test(tc, test_write_duplicate_names_refused);
    tcase_add_test(tc, test_write_refuses_fifo);
    tcase_add_test(tc, test_write_ignores_planted_symlink);
    tcase_add_test(tc, test_write_into_missing_folder);
    tcase_add_test(tc, test_write_failure_leaves_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(safetensors_write_suite());
}
