/* What the cuda device stands on, checked without a GPU: the device hooks
 * a cuda device adds (its scratch rule, a strided read back to the host,
 * the reserved counter), the cuda kernels' scratch rules, and the planning
 * device and flags. The GPU half itself is check_cuda_device and
 * check_cuda_ops, which skip without one. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_device.h"
#include "exec.h"
#include "graph.h"
#include "test_util.h"

/* ---- a host device that claims GPU memory: download is memcpy ---------- */

static sf_status_t host_alloc(sf_device_t *dev, size_t nbytes, void **out, sf_err_t *err)
{
    (void)dev;
    return sf_device_alloc(sf_device_cpu(), nbytes, out, err);
}

static void host_free(sf_device_t *dev, void *ptr)
{
    (void)dev;
    sf_device_free(sf_device_cpu(), ptr);
}

static int g_downloads;
static uint64_t g_download_bytes;

static sf_status_t host_copy(sf_device_t *dev, void *dst, const void *src, size_t n, sf_err_t *err)
{
    (void)dev;
    return sf_device_copy(sf_device_cpu(), dst, src, n, err);
}

static sf_status_t counting_download(sf_device_t *dev, void *dst, const void *src, size_t n,
                                     sf_err_t *err)
{
    g_downloads++;
    g_download_bytes += n;
    return host_copy(dev, dst, src, n, err);
}

static sf_status_t host_fill(sf_device_t *dev, void *dst, uint8_t byte, size_t n, sf_err_t *err)
{
    (void)dev;
    return sf_device_fill(sf_device_cpu(), dst, byte, n, err);
}

static const sf_device_iface_t far_iface = {
    .name = "far",
    .touches_memory = true,
    .mem_kind = SF_MEMKIND_CUDA,
    .alloc = host_alloc,
    .free = host_free,
    .copy = host_copy,
    .upload = host_copy,
    .download = counting_download,
    .fill = host_fill,
};

static sf_device_t g_far = {.iface = &far_iface};

/* A (4, 6) f32 tensor 0..23 and its column block [:, 2:5]: strided, not
 * contiguous. Reading the block back downloads its span once (rows 0..3 of
 * the parent from column 2 to column 4: 3 * 6 + 3 elements) and packs it. */
START_TEST(test_read_tensor_downloads_a_strided_span_once)
{
    float data[24];
    for (int i = 0; i < 24; i++)
        data[i] = (float)i;
    sf_buffer_t b = {.data = data, .nbytes = sizeof data};
    sf_tensor_t parent = sf_tensor_make(SF_DTYPE_F32, 2, (const int64_t[]){4, 6}), block;
    parent.buf = &b;
    sf_err_t err = {0};
    ck_assert_int_eq(sf_tensor_view_slice(&parent, 1, 2, 5, 1, &block, &err), SF_OK);
    ck_assert(!sf_tensor_is_contiguous(&block));
    sf_tensor_t host;
    void *mem = NULL;
    g_downloads = 0;
    g_download_bytes = 0;
    ck_assert_int_eq(sf_device_read_tensor(&g_far, &block, &host, &mem, &err), SF_OK);
    ck_assert_int_eq(g_downloads, 1);
    ck_assert_uint_eq(g_download_bytes, (3 * 6 + 3) * sizeof(float));
    ck_assert(sf_tensor_is_contiguous(&host));
    const float *h = sf_tensor_data(&host);
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 3; c++)
            ck_assert_float_eq(h[r * 3 + c], (float)(r * 6 + c + 2));
    free(mem);
    /* Contiguous: one download of exactly its bytes. */
    g_downloads = 0;
    g_download_bytes = 0;
    ck_assert_int_eq(sf_device_read_tensor(&g_far, &parent, &host, &mem, &err), SF_OK);
    ck_assert_int_eq(g_downloads, 1);
    ck_assert_uint_eq(g_download_bytes, sizeof data);
    ck_assert_int_eq(memcmp(sf_tensor_data(&host), data, sizeof data), 0);
    free(mem);
}
END_TEST

/* ---- the cuda kernels' scratch rules ------------------------------------ */

static sf_tensor_t layout(sf_dtype_t dt, int ndim, const int64_t *shape)
{
    return sf_tensor_make(dt, ndim, shape);
}

START_TEST(test_matmul_scratch_is_the_workspace_for_operands_read_in_place)
{
    sf_tensor_t in[2] = {layout(SF_DTYPE_BF16, 2, (const int64_t[]){600, 1100}),
                         layout(SF_DTYPE_BF16, 2, (const int64_t[]){1030, 1100})};
    sf_tensor_t out = layout(SF_DTYPE_BF16, 2, (const int64_t[]){600, 1030});
    ck_assert_uint_eq(sf_cuda_matmul_scratch(in, &out), SF_CUDA_BLAS_WORKSPACE);
    /* A column block of a wider matrix: rows unit-stride, evenly spaced. */
    in[0].strides[0] = 2200;
    ck_assert_uint_eq(sf_cuda_matmul_scratch(in, &out), SF_CUDA_BLAS_WORKSPACE);
    /* Batched and strided: staged contiguous, at the allocator's rounding. */
    sf_tensor_t b3[2] = {layout(SF_DTYPE_F32, 3, (const int64_t[]){2, 5, 7}),
                         layout(SF_DTYPE_F32, 3, (const int64_t[]){2, 7, 3})};
    sf_tensor_t o3 = layout(SF_DTYPE_F32, 3, (const int64_t[]){2, 5, 3});
    b3[0].strides[0] = 100;
    ck_assert_uint_eq(sf_cuda_matmul_scratch(b3, &o3),
                      SF_CUDA_BLAS_WORKSPACE + sf_mem_counted_bytes(2 * 5 * 7 * 4));
    /* Nothing to compute, nothing to hold. */
    sf_tensor_t empty = layout(SF_DTYPE_F32, 2, (const int64_t[]){0, 3});
    ck_assert_uint_eq(sf_cuda_matmul_scratch(in, &empty), 0);
}
END_TEST

static long long json_peak(const char *args)
{
    return tu_json_rank_field(args, 0, "peak_bytes");
}

/* tests/graphs/matmul_tiles.yaml: x, w and logits are 1320192 + 2266112 +
 * 1236224 counted bytes, live together during the product. On cpu the
 * scratch is three f32 tiles (8 MiB: peak 13211136); on cuda it is the
 * cuBLAS workspace (32 MiB: peak 38376960). */
START_TEST(test_plan_for_cuda_uses_the_cuda_scratch)
{
    char args[4096];
    snprintf(args, sizeof args, "plan %s", tu_src("tests/graphs/matmul_tiles.yaml"));
    ck_assert_int_eq(json_peak(args), 13211136);
    snprintf(args, sizeof args, "plan %s --device cpu", tu_src("tests/graphs/matmul_tiles.yaml"));
    ck_assert_int_eq(json_peak(args), 13211136);
    snprintf(args, sizeof args, "plan %s --device cuda", tu_src("tests/graphs/matmul_tiles.yaml"));
    ck_assert_int_eq(json_peak(args), 1320192 + 2266112 + 1236224 + (32 << 20));
    char *out = NULL;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s plan %s --device cuda --json", tu_shardflow(),
             tu_src("tests/graphs/matmul_tiles.yaml"));
    ck_assert_int_eq(tu_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "\"device\":\"meta:cuda\""));
    free(out);
    /* The fused lm_head's block products are cuda matmuls too: its scratch
     * trades the CPU's f32 tiles (under 1 MiB at this size) for the 32 MiB
     * workspace, so the peak (at that node) grows by a little less than
     * the workspace. */
    const char *chunked = "--set model=synthetic:tiny --set batch=4 --set seq=64 "
                          "--set chunk_tokens=16 --world 2";
    snprintf(args, sizeof args, "plan %s %s", tu_src("graphs/eagle3_target.yaml"), chunked);
    long long on_cpu = json_peak(args);
    snprintf(args, sizeof args, "plan %s %s --device cuda", tu_src("graphs/eagle3_target.yaml"),
             chunked);
    long long on_cuda = json_peak(args);
    ck_assert_int_gt(on_cuda - on_cpu, (32 << 20) - (1 << 20));
    ck_assert_int_lt(on_cuda - on_cpu, 32 << 20);
}
END_TEST

START_TEST(test_device_flags_refuse_what_is_not_there)
{
    char *out = NULL;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s plan %s --device gpu", tu_shardflow(),
             tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(tu_run(cmd, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--device expects cpu or cuda, got 'gpu'"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s run %s --device tpu", tu_shardflow(),
             tu_src("tests/graphs/chain.yaml"));
    ck_assert_int_eq(tu_run(cmd, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--device expects cpu, cuda or auto, got 'tpu'"));
    free(out);
    /* auto without a GPU is the cpu, and says so. */
    if (!sf_cuda_available()) {
        snprintf(cmd, sizeof cmd, "%s run %s --device auto --json", tu_shardflow(),
                 tu_src("tests/graphs/chain.yaml"));
        ck_assert_int_eq(tu_run(cmd, &out), 0);
        ck_assert_ptr_nonnull(strstr(out, "\"device\":\"cpu\""));
        free(out);
        snprintf(cmd, sizeof cmd, "%s run %s --device cuda", tu_shardflow(),
                 tu_src("tests/graphs/chain.yaml"));
        int rc = tu_run(cmd, &out);
        sf_cuda_register();
        if (sf_device_by_name("cuda") != NULL) {
            ck_assert_int_eq(rc, 1);
            ck_assert_ptr_nonnull(strstr(out, "no CUDA GPU is visible"));
        } else {
            ck_assert_int_eq(rc, 2);
            ck_assert_ptr_nonnull(strstr(out, "built without CUDA"));
        }
        free(out);
    }
}
END_TEST

/* ---- the reserved counter ----------------------------------------------- */

static uint64_t g_reserved;

static sf_status_t pool_alloc(sf_device_t *dev, size_t nbytes, void **out, sf_err_t *err)
{
    /* A pool that grows in 1 MiB segments and never gives back. */
    g_reserved += (nbytes + (1u << 20) - 1) / (1u << 20) * (1u << 20);
    return host_alloc(dev, nbytes, out, err);
}

static uint64_t pool_reserved(const sf_device_t *dev)
{
    (void)dev;
    return g_reserved;
}

static bool pool_supports(const sf_device_t *dev, const sf_op_desc_t *op, const sf_node_t *node)
{
    return sf_device_supports(sf_device_cpu(), op, node) && dev != NULL;
}

static sf_status_t pool_run(sf_device_t *dev, const sf_kernel_args_t *args, sf_err_t *err)
{
    (void)dev;
    return sf_device_run(sf_device_cpu(), args, err);
}

static const sf_device_iface_t pool_iface = {
    .name = "pool",
    .touches_memory = true,
    .mem_kind = SF_MEMKIND_HOST,
    .supports = pool_supports,
    .run = pool_run,
    .alloc = pool_alloc,
    .free = host_free,
    .copy = host_copy,
    .upload = host_copy,
    .download = host_copy,
    .fill = host_fill,
    .reserved_bytes = pool_reserved,
};

/* chain.yaml allocates three 1 KiB buffers: each takes a new 1 MiB segment
 * of this pool, so the reserved peak is 3 MiB beside an allocated peak of
 * 2 KiB; the cpu device reports no reserved bytes at all. */
START_TEST(test_reserved_peak_comes_from_the_device)
{
    sf_ops_register_all();
    sf_err_t err = {0};
    sf_graph_t *g = NULL;
    ck_assert_int_eq(sf_graph_load_file(tu_src("tests/graphs/chain.yaml"), NULL, 0, &g, &err),
                     SF_OK);
    sf_device_t pool = {.iface = &pool_iface};
    sf_device_t *devs[2] = {&pool, sf_device_cpu()};
    for (int k = 0; k < 2; k++) {
        g_reserved = 0;
        sf_exec_opts_t opts = {0};
        sf_exec_t *ex = NULL;
        ck_assert_int_eq(sf_exec_new(g, devs[k], &opts, &ex, &err), SF_OK);
        ck_assert_int_eq(sf_exec_run(ex, &err), SF_OK);
        sf_exec_stats_t s = sf_exec_stats(ex);
        ck_assert_uint_eq(s.peak_bytes, 2048);
        ck_assert_uint_eq(s.reserved_peak_bytes, k == 0 ? 3u << 20 : 0);
        sf_exec_free(ex);
    }
    sf_graph_free(g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cuda_plumbing");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_read_tensor_downloads_a_strided_span_once);
    tcase_add_test(tc, test_matmul_scratch_is_the_workspace_for_operands_read_in_place);
    tcase_add_test(tc, test_plan_for_cuda_uses_the_cuda_scratch);
    tcase_add_test(tc, test_device_flags_refuse_what_is_not_there);
    tcase_add_test(tc, test_reserved_peak_comes_from_the_device);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
