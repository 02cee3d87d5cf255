/* The device owns its kernels: the executor asks the device whether it
 * supports each node and has the device run it, then syncs it once; an
 * op's prepare hook runs once per node before anything is allocated. A test
 * device wraps the cpu device's memory and kernels, counts what it is asked,
 * and refuses one op, so each promise of the device interface is checked
 * from outside the executor. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "graph.h"
#include "op_ids.h"
#include "test_util.h"

typedef struct probe {
    const char *refused_op; /* borrowed; NULL: refuse nothing */
    int n_supports, n_runs, n_syncs;
    char run_order[8][32];
} probe_t;

static probe_t g_probe;

static bool probe_supports(const sf_device_t *dev, const sf_op_desc_t *op, const sf_node_t *node)
{
    (void)dev;
    (void)node;
    g_probe.n_supports++;
    return g_probe.refused_op == NULL || strcmp(op->name, g_probe.refused_op) != 0;
}

static sf_status_t probe_run(sf_device_t *dev, const sf_kernel_args_t *args, sf_err_t *err)
{
    (void)dev;
    if (g_probe.n_runs < 8)
        snprintf(g_probe.run_order[g_probe.n_runs], sizeof g_probe.run_order[0], "%s",
                 args->node->name);
    g_probe.n_runs++;
    return sf_device_run(sf_device_cpu(), args, err);
}

static sf_status_t probe_sync(sf_device_t *dev, sf_err_t *err)
{
    (void)dev;
    (void)err;
    g_probe.n_syncs++;
    return SF_OK;
}

static sf_status_t probe_alloc(sf_device_t *dev, size_t nbytes, void **out, sf_err_t *err)
{
    (void)dev;
    return sf_device_alloc(sf_device_cpu(), nbytes, out, err);
}

static void probe_free(sf_device_t *dev, void *ptr)
{
    (void)dev;
    sf_device_free(sf_device_cpu(), ptr);
}

static sf_status_t probe_copy(sf_device_t *dev, void *dst, const void *src, size_t n, sf_err_t *err)
{
    (void)dev;
    return sf_device_copy(sf_device_cpu(), dst, src, n, err);
}

static sf_status_t probe_fill(sf_device_t *dev, void *dst, uint8_t byte, size_t n, sf_err_t *err)
{
    (void)dev;
    return sf_device_fill(sf_device_cpu(), dst, byte, n, err);
}

static const sf_device_iface_t probe_iface = {
    .name = "probe",
    .touches_memory = true,
    .mem_kind = SF_MEMKIND_HOST,
    .supports = probe_supports,
    .run = probe_run,
    .sync = probe_sync,
    .alloc = probe_alloc,
    .free = probe_free,
    .copy = probe_copy,
    .upload = probe_copy,
    .download = probe_copy,
    .fill = probe_fill,
};

static sf_device_t g_probe_dev = {.iface = &probe_iface};

static sf_graph_t *load_chain(void)
{
    sf_ops_register_all();
    sf_err_t err = {0};
    sf_graph_t *g = NULL;
    ck_assert_int_eq(sf_graph_load_file(tu_src("tests/graphs/chain.yaml"), NULL, 0, &g, &err),
                     SF_OK);
    return g;
}

START_TEST(test_device_runs_every_node_and_syncs_once)
{
    /* chain.yaml: make_a (fill) -> make_b (mul) -> make_c (mul): three
     * kernels, run in plan order, one sync at the end. */
    memset(&g_probe, 0, sizeof g_probe);
    sf_graph_t *g = load_chain();
    sf_err_t err = {0};
    sf_exec_t *ex = NULL;
    sf_exec_opts_t o = {.free_policy = SF_FREE_EAGER};
    ck_assert_int_eq(sf_exec_new(g, &g_probe_dev, &o, &ex, &err), SF_OK);
    ck_assert_int_eq(g_probe.n_supports, 3);
    ck_assert_int_eq(sf_exec_run(ex, &err), SF_OK);
    ck_assert_int_eq(g_probe.n_runs, 3);
    ck_assert_str_eq(g_probe.run_order[0], "make_a");
    ck_assert_str_eq(g_probe.run_order[1], "make_b");
    ck_assert_str_eq(g_probe.run_order[2], "make_c");
    ck_assert_int_eq(g_probe.n_syncs, 1);
    /* The cpu kernels ran through the device: c = (1.5 * 1.5)^2 = 5.0625. */
    int c = sf_graph_find_edge(g, "c");
    const float *cv = sf_tensor_data(sf_exec_tensor(ex, c));
    ck_assert_float_eq(cv[0], 5.0625f);
    ck_assert_float_eq(cv[255], 5.0625f);
    sf_exec_free(ex);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_device_refusal_stops_before_any_allocation)
{
    memset(&g_probe, 0, sizeof g_probe);
    g_probe.refused_op = "mul";
    sf_graph_t *g = load_chain();
    sf_err_t err = {0};
    sf_exec_t *ex = NULL;
    sf_exec_opts_t o = {.free_policy = SF_FREE_EAGER};
    ck_assert_int_eq(sf_exec_new(g, &g_probe_dev, &o, &ex, &err), SF_ERR_UNSUPPORTED);
    ck_assert_ptr_null(ex);
    ck_assert_ptr_nonnull(strstr(err.msg, "node 'make_b': op 'mul' has no kernel for device "
                                          "'probe'"));
    ck_assert_int_eq(g_probe.n_runs, 0);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_device_meta_plans_without_kernels)
{
    /* meta has no supports/run/sync hooks: it accepts every op and runs none. */
    sf_ops_register_all();
    const sf_op_desc_t *mul = sf_op_find("mul");
    ck_assert_ptr_nonnull(mul);
    ck_assert(sf_device_supports(sf_device_meta(), mul, NULL));
    ck_assert(sf_device_supports(sf_device_cpu(), mul, NULL));
    /* A view op has no reference kernel: the cpu device does not claim it. */
    ck_assert(!sf_device_supports(sf_device_cpu(), sf_op_find("reshape"), NULL));
    sf_err_t err = {0};
    ck_assert_int_eq(sf_device_sync(sf_device_meta(), &err), SF_OK);
}
END_TEST

START_TEST(test_device_op_ids_follow_ops_def)
{
    /* A device's kernel table is indexed by these ids. */
    sf_ops_register_all();
    ck_assert_int_eq(sf_op_id(sf_op_find("add")), SF_OP_ID_add);
    ck_assert_int_eq(sf_op_id(sf_op_find("matmul")), SF_OP_ID_matmul);
    ck_assert_int_eq(sf_op_id(sf_op_find("weight")), SF_OP_ID_weight);
    ck_assert_int_eq(SF_OP_ID_COUNT, sf_op_count());
    ck_assert_ptr_eq(sf_device_by_name("cpu"), sf_device_cpu());
    ck_assert_ptr_eq(sf_device_by_name("meta"), sf_device_meta());
    ck_assert_ptr_null(sf_device_by_name("probe"));
}
END_TEST

/* An op with a prepare hook: it doubles its input, and its scratch is as
 * many bytes as prepare says; prepare refuses n = 0. Counts what it is
 * asked, to check that prepare runs once per node per run, before any
 * allocation, and that the scratch rule and the kernel see its result. */
typedef struct prep_state {
    int64_t scratch;
} prep_state_t;

static int g_n_prepares, g_n_kernels_saw_state, g_n_scratch_saw_state;

static sf_status_t prep_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                              sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)node, (void)n_in, (void)n_out, (void)err;
    out[0] = sf_tensor_make(in[0].dtype, in[0].ndim, in[0].shape);
    return SF_OK;
}

static sf_status_t prep_prepare(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                const sf_tensor_t *out, int n_out, void **prepared, sf_err_t *err)
{
    (void)n_in, (void)out, (void)n_out;
    g_n_prepares++;
    *prepared = NULL;
    if (in[0].shape[0] == 0)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos, "node '%s': prepare refuses n = 0",
                          node->name);
    prep_state_t *st = malloc(sizeof *st);
    ck_assert_ptr_nonnull(st);
    st->scratch = 32 * in[0].shape[0];
    *prepared = st;
    return SF_OK;
}

static uint64_t prep_scratch(const sf_node_t *node, const void *prepared, const sf_tensor_t *in,
                             int n_in, const sf_tensor_t *out, int n_out)
{
    (void)node, (void)in, (void)n_in, (void)out, (void)n_out;
    g_n_scratch_saw_state += prepared != NULL;
    return prepared != NULL ? (uint64_t)((const prep_state_t *)prepared)->scratch : 0;
}

static sf_status_t prep_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    (void)err;
    const prep_state_t *st = a->prepared;
    g_n_kernels_saw_state += st != NULL && a->scratch_bytes == (uint64_t)st->scratch;
    const float *x = sf_tensor_data(&a->in[0]);
    float *y = sf_tensor_data(&a->out[0]);
    for (int64_t i = 0; i < a->in[0].shape[0]; i++)
        y[i] = 2 * x[i];
    return SF_OK;
}

static const sf_op_desc_t prep_op = {
    .name = "test_prepared_double",
    .doc = "test op: doubles its input; prepare sizes its scratch",
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = prep_infer,
    .prepare = prep_prepare,
    .scratch_bytes = prep_scratch,
    .cpu_kernel = prep_cpu,
};

static sf_graph_t *load_prep_graph(int n)
{
    sf_ops_register_all();
    if (sf_op_find(prep_op.name) == NULL)
        sf_op_register(&prep_op, SF_OP_ID_NONE);
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "name: prep\n"
             "nodes:\n"
             "  - {name: x, op: fill, out: [x], attrs: {shape: [%d], dtype: f32, value: 1.5}}\n"
             "  - {name: d1, op: test_prepared_double, in: [x], out: [y]}\n"
             "  - {name: d2, op: test_prepared_double, in: [y], out: [z]}\n"
             "outputs: [z]\n",
             n);
    sf_err_t err = {0};
    sf_graph_t *g = NULL;
    ck_assert_int_eq(sf_graph_load_buffer(yaml, strlen(yaml), "prep.yaml", NULL, 0, &g, &err),
                     SF_OK);
    return g;
}

START_TEST(test_device_prepare_once_read_by_scratch_and_kernel)
{
    /* Two prepared nodes: prepare twice (once each) on sf_exec_new, before
     * the run; the scratch rule and the kernel each see the state twice.
     * Peak: x, y, z are 64 B each (16 f32), counted as 256 (the allocator's
     * rounding); each node's scratch is 32 * 16 = 512 B. During d1: x + y +
     * scratch = 256 + 256 + 512 = 1024 B; d2 the same with y, z. Without
     * the prepared size the scratch would be 0 and the peak 512. */
    g_n_prepares = g_n_kernels_saw_state = g_n_scratch_saw_state = 0;
    sf_graph_t *g = load_prep_graph(16);
    sf_err_t err = {0};
    sf_exec_t *ex = NULL;
    sf_exec_opts_t o = {.free_policy = SF_FREE_EAGER};
    ck_assert_int_eq(sf_exec_new(g, sf_device_cpu(), &o, &ex, &err), SF_OK);
    ck_assert_int_eq(g_n_prepares, 2);
    ck_assert_int_eq(sf_exec_run(ex, &err), SF_OK);
    ck_assert_int_eq(g_n_prepares, 2);
    ck_assert_int_eq(g_n_scratch_saw_state, 2);
    ck_assert_int_eq(g_n_kernels_saw_state, 2);
    ck_assert_uint_eq(sf_exec_stats(ex).peak_bytes, 1024);
    const float *z = sf_tensor_data(sf_exec_tensor(ex, sf_graph_find_edge(g, "z")));
    ck_assert_float_eq(z[15], 6.0f);
    sf_exec_free(ex);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_device_prepare_refusal_allocates_nothing)
{
    g_n_prepares = 0;
    sf_graph_t *g = load_prep_graph(0);
    sf_err_t err = {0};
    sf_exec_t *ex = NULL;
    sf_exec_opts_t o = {.free_policy = SF_FREE_EAGER};
    ck_assert_int_eq(sf_exec_new(g, sf_device_meta(), &o, &ex, &err), SF_ERR_GRAPH);
    ck_assert_ptr_null(ex);
    ck_assert_int_eq(g_n_prepares, 1);
    ck_assert_ptr_nonnull(strstr(err.msg, "node 'd1': prepare refuses n = 0"));
    sf_graph_free(g);
}
END_TEST

START_TEST(test_device_comm_must_match_the_graph)
{
    /* A graph shaped for rank 1 of 2 run by an executor given no comm: the
     * executor hands the redistribute kernel the self comm (rank 0 of 1),
     * and the kernel refuses rather than exchange with peers that are not
     * there. */
    sf_ops_register_all();
    sf_param_set_t set = {.key = "mode", .value = "all_gather"};
    sf_err_t err = {0};
    sf_graph_t *g = NULL;
    ck_assert_int_eq(sf_graph_load_file_ranked(tu_src("tests/graphs/redistribute_small.yaml"),
                                               &set, 1, 1, 2, &g, &err),
                     SF_OK);
    sf_exec_t *ex = NULL;
    sf_exec_opts_t o = {.free_policy = SF_FREE_EAGER};
    ck_assert_int_eq(sf_exec_new(g, sf_device_cpu(), &o, &ex, &err), SF_OK);
    ck_assert_int_eq(sf_exec_run(ex, &err), SF_ERR_COMM);
    ck_assert_ptr_nonnull(strstr(err.msg, "the graph was loaded for rank 1 of 2 but runs as "
                                          "rank 0 of 1"));
    sf_exec_free(ex);
    sf_graph_free(g);
}
END_TEST

static Suite *device_suite(void)
{
    Suite *s = suite_create("device");
    TCase *tc = tcase_create("device");
    tcase_add_test(tc, test_device_runs_every_node_and_syncs_once);
    tcase_add_test(tc, test_device_refusal_stops_before_any_allocation);
    tcase_add_test(tc, test_device_meta_plans_without_kernels);
    tcase_add_test(tc, test_device_op_ids_follow_ops_def);
    tcase_add_test(tc, test_device_prepare_once_read_by_scratch_and_kernel);
    tcase_add_test(tc, test_device_prepare_refusal_allocates_nothing);
    tcase_add_test(tc, test_device_comm_must_match_the_graph);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(device_suite());
}
