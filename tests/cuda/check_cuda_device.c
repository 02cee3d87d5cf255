/* The cuda device on a GPU: memory in and out, the strided copy kernel, and
 * whole graphs run on cuda against the cpu: the tracked peak equals
 * `plan --device cuda` to the byte, the pool's reserved bytes cover it, and
 * the outputs agree within the stated tolerance. Without a GPU (or a build
 * without CUDA) it says SKIP and exits 77; SF_REQUIRE_GPU=1 makes that a
 * failure (tools/gpu_check.sh sets it). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_device.h"
#include "gpu_probe.h"
#include "safetensors.h"
#include "test_util.h"

static sf_device_t *cuda(void)
{
    sf_cuda_register();
    sf_device_t *d = sf_device_by_name("cuda");
    ck_assert_ptr_nonnull(d);
    return d;
}

START_TEST(test_upload_copy_tensor_download)
{
    sf_device_t *d = cuda();
    sf_err_t err = {0};
    uint16_t host[4 * 6];
    for (int i = 0; i < 24; i++)
        host[i] = sf_f32_to_bf16((float)i - 7.25f);
    void *src = NULL, *dst = NULL;
    ck_assert_int_eq(sf_device_alloc(d, sizeof host, &src, &err), SF_OK);
    ck_assert_int_eq(sf_device_alloc(d, 4 * 3 * sizeof(float), &dst, &err), SF_OK);
    ck_assert_int_eq(sf_device_upload(d, src, host, sizeof host, &err), SF_OK);
    /* Column block [:, 2:5] of the bf16 (4, 6) into a contiguous f32 (4, 3). */
    sf_buffer_t sb = {.data = src}, db = {.data = dst};
    sf_tensor_t parent = sf_tensor_make(SF_DTYPE_BF16, 2, (const int64_t[]){4, 6}), block;
    parent.buf = &sb;
    ck_assert_int_eq(sf_tensor_view_slice(&parent, 1, 2, 5, 1, &block, &err), SF_OK);
    sf_tensor_t out = sf_tensor_make(SF_DTYPE_F32, 2, (const int64_t[]){4, 3});
    out.buf = &db;
    ck_assert_int_eq(sf_device_copy_tensor(d, &out, &block, &err), SF_OK);
    float back[12];
    ck_assert_int_eq(sf_device_download(d, back, dst, sizeof back, &err), SF_OK);
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 3; c++) /* exact: bf16 -> f32 widens */
            ck_assert_float_eq(back[r * 3 + c], sf_bf16_to_f32(host[r * 6 + c + 2]));
    /* The strided read-back path of --out. */
    sf_tensor_t h;
    void *mem = NULL;
    ck_assert_int_eq(sf_device_read_tensor(d, &block, &h, &mem, &err), SF_OK);
    ck_assert_int_eq(memcmp(((uint16_t *)sf_tensor_data(&h)) + 3, host + 8, 3 * 2), 0);
    free(mem);
    sf_device_free(d, src);
    sf_device_free(d, dst);
    ck_assert_int_eq(sf_device_sync(d, &err), SF_OK);
}
END_TEST

/* Every float output of a's files equals b's within tol relative to the
 * largest magnitude of that output (GPU products sum in another order than
 * OpenBLAS, and bf16 rounds the difference up to a bf16 ulp); integer
 * outputs are equal. */
static void compare_outputs(const char *a_dir, const char *b_dir, int rank, double tol)
{
    char pa[4300], pb[4300];
    snprintf(pa, sizeof pa, "%s/rank%d.safetensors", a_dir, rank);
    snprintf(pb, sizeof pb, "%s/rank%d.safetensors", b_dir, rank);
    sf_err_t err = {0};
    sf_st_file_t *fa = NULL, *fb = NULL;
    ck_assert_int_eq(sf_st_open(pa, &fa, &err), SF_OK);
    ck_assert_int_eq(sf_st_open(pb, &fb, &err), SF_OK);
    ck_assert_int_eq(sf_st_count(fa), sf_st_count(fb));
    for (int i = 0; i < sf_st_count(fa); i++) {
        int j = sf_st_find(fb, sf_st_name(fa, i));
        ck_assert_int_ge(j, 0);
        sf_tensor_t la, lb;
        const void *da, *db;
        sf_st_get(fa, i, &la, &da);
        sf_st_get(fb, j, &lb, &db);
        ck_assert(la.dtype == lb.dtype && sf_tensor_same_shape(&la, &lb));
        int64_t n = sf_tensor_numel(&la);
        size_t es = sf_dtype_size(la.dtype);
        double worst = 0, scale = 0;
        for (int64_t k = 0; k < n; k++) {
            double x = sf_dtype_load(la.dtype, (const char *)da + k * es);
            double y = sf_dtype_load(lb.dtype, (const char *)db + k * es);
            if (!sf_dtype_is_float(la.dtype))
                ck_assert_msg(x == y, "%s[%lld]: %g vs %g", sf_st_name(fa, i), (long long)k, x, y);
            worst = fmax(worst, fabs(x - y));
            scale = fmax(scale, fabs(y));
        }
        ck_assert_msg(worst <= tol * fmax(scale, 1e-30), "%s: max |cuda - cpu| %g over max %g",
                      sf_st_name(fa, i), worst, scale);
    }
    sf_st_close(fa);
    sf_st_close(fb);
}

static void graph_on_cuda_like_cpu(const char *graph, const char *sets, double tol)
{
    char args[8192];
    snprintf(args, sizeof args, "plan %s %s --device cuda", graph, sets);
    long long planned = tu_json_rank_field(args, 0, "peak_bytes");
    snprintf(args, sizeof args, "run %s %s --device cuda", graph, sets);
    long long measured = tu_json_rank_field(args, 0, "peak_bytes");
    long long reserved = tu_json_rank_field(args, 0, "reserved_peak_bytes");
    ck_assert_int_eq(measured, planned);
    ck_assert_int_ge(reserved, measured);
    char extra[4200];
    snprintf(extra, sizeof extra, "%s --device cuda", sets);
    const char *on_gpu = tu_run_graph(graph, 1, extra);
    snprintf(extra, sizeof extra, "%s --device cpu", sets);
    const char *on_cpu = tu_run_graph(graph, 1, extra);
    compare_outputs(on_gpu, on_cpu, 0, tol);
}

/* A bf16 product past cuBLAS's and our tiles, f32 accumulation on both
 * sides: within 1% of the largest logit (a few bf16 ulps). */
START_TEST(test_matmul_graph)
{
    graph_on_cuda_like_cpu(tu_src("tests/graphs/matmul_tiles.yaml"), "", 1e-2);
}
END_TEST

/* The demo's Eagle3 graph on one GPU, both modes, node by node and with
 * the fused chunked lm_head: every output within 2% of its largest
 * magnitude (bf16 activations through every layer). */
START_TEST(test_eagle3_tiny_both_modes)
{
    const char *modes[2] = {"all_gather", "all_to_all"};
    for (int m = 0; m < 2; m++)
        for (int chunk = 0; chunk <= 16; chunk += 16) {
            char sets[512];
            snprintf(sets, sizeof sets,
                     "--set model=synthetic:tiny --set batch=4 --set seq=64 "
                     "--set redistribution=%s --set chunk_tokens=%d",
                     modes[m], chunk);
            graph_on_cuda_like_cpu(tu_src("graphs/eagle3_target.yaml"), sets, 2e-2);
        }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cuda_device");
    TCase *tc = tcase_create("gpu");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_upload_copy_tensor_download);
    tcase_add_test(tc, test_matmul_graph);
    tcase_add_test(tc, test_eagle3_tiny_both_modes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!gpu_present())
        return gpu_skip();
    return tu_run_suite(suite());
}
