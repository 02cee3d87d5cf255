/* Scheduler and executor: liveness on hand-made graphs whose peaks were
 * computed by hand (see the comment at the top of each tests/graphs file),
 * and plan (meta) == run (cpu) to the byte on every graph we ship. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "graph.h"
#include "test_util.h"

typedef struct run_result {
    uint64_t peak, end;
    char peak_node[64];
} run_result_t;

static sf_graph_t *load(const char *rel, const sf_param_set_t *sets, int n_sets)
{
    sf_err_t err = {0};
    sf_graph_t *g = NULL;
    sf_status_t st = sf_graph_load_file(tu_src(rel), sets, n_sets, &g, &err);
    if (st != SF_OK)
        sf_err_print(&err, stderr);
    ck_assert_int_eq(st, SF_OK);
    return g;
}

static run_result_t run_on(const sf_graph_t *g, sf_device_t *dev, sf_free_policy_t policy)
{
    sf_err_t err = {0};
    sf_exec_t *ex = NULL;
    sf_exec_opts_t o = {.free_policy = policy};
    ck_assert_int_eq(sf_exec_new(g, dev, &o, &ex, &err), SF_OK);
    sf_status_t st = sf_exec_run(ex, &err);
    if (st != SF_OK)
        sf_err_print(&err, stderr);
    ck_assert_int_eq(st, SF_OK);
    sf_exec_stats_t s = sf_exec_stats(ex);
    run_result_t r = {.peak = s.peak_bytes, .end = s.end_bytes};
    snprintf(r.peak_node, sizeof r.peak_node, "%s", s.peak_node);
    sf_exec_free(ex);
    return r;
}

static void expect_peaks(const char *rel, uint64_t eager, const char *eager_node, uint64_t end)
{
    sf_graph_t *g = load(rel, NULL, 0);
    run_result_t cpu = run_on(g, sf_device_cpu(), SF_FREE_EAGER);
    run_result_t meta = run_on(g, sf_device_meta(), SF_FREE_EAGER);
    run_result_t cpu_end = run_on(g, sf_device_cpu(), SF_FREE_END);
    ck_assert_uint_eq(cpu.peak, eager);
    ck_assert_str_eq(cpu.peak_node, eager_node);
    ck_assert_uint_eq(meta.peak, cpu.peak);
    ck_assert_str_eq(meta.peak_node, cpu.peak_node);
    ck_assert_uint_eq(cpu_end.peak, end);
    sf_graph_free(g);
}

START_TEST(test_sched_chain_frees_after_last_use)
{
    expect_peaks("tests/graphs/chain.yaml", 2048, "make_b", 3072);
}
END_TEST

START_TEST(test_sched_diamond_keeps_shared_input)
{
    expect_peaks("tests/graphs/diamond.yaml", 3072, "make_c", 4096);
}
END_TEST

START_TEST(test_sched_view_keeps_base_alive)
{
    expect_peaks("tests/graphs/view_alive.yaml", 6144, "make_c", 6144);
}
END_TEST

START_TEST(test_sched_rounds_to_256)
{
    expect_peaks("tests/graphs/rounding.yaml", 512, "use_a", 1024);
}
END_TEST

START_TEST(test_sched_end_bytes_are_outputs)
{
    /* chain: only c (1 KiB) is left after the last position. */
    sf_graph_t *g = load("tests/graphs/chain.yaml", NULL, 0);
    ck_assert_uint_eq(run_on(g, sf_device_cpu(), SF_FREE_EAGER).end, 1024);
    ck_assert_uint_eq(run_on(g, sf_device_cpu(), SF_FREE_END).end, 3072);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_sched_chain_values)
{
    /* a = 1.5, b = a*a = 2.25, c = b*b = 5.0625 in every element. */
    sf_graph_t *g = load("tests/graphs/chain.yaml", NULL, 0);
    sf_err_t err = {0};
    sf_exec_t *ex = NULL;
    sf_exec_opts_t o = {0};
    ck_assert_int_eq(sf_exec_new(g, sf_device_cpu(), &o, &ex, &err), SF_OK);
    ck_assert_int_eq(sf_exec_run(ex, &err), SF_OK);
    const sf_tensor_t *c = sf_exec_tensor(ex, sf_graph_find_edge(g, "c"));
    const float *d = sf_tensor_data(c);
    for (int i = 0; i < 256; i++)
        ck_assert_float_eq(d[i], 5.0625f);
    sf_exec_free(ex);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_sched_missing_input_is_an_error)
{
    sf_graph_t *g = load("tests/graphs/inputs_io.yaml", NULL, 0);
    sf_err_t err = {0};
    sf_exec_t *ex = NULL;
    sf_exec_opts_t o = {0};
    ck_assert_int_eq(sf_exec_new(g, sf_device_cpu(), &o, &ex, &err), SF_OK);
    ck_assert_int_eq(sf_exec_run(ex, &err), SF_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "graph input 'x' was not given"));
    sf_exec_free(ex);
    /* On meta no data is needed: the plan still works. */
    ck_assert_uint_eq(run_on(g, sf_device_meta(), SF_FREE_EAGER).peak, 768);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_sched_order_is_deterministic_topological)
{
    /* Nodes written out of order still run after their producers. */
    const char *yaml = "name: shuffled\n"
                       "nodes:\n"
                       "  - {name: last, op: add, in: [b, a], out: [c]}\n"
                       "  - {name: second, op: mul, in: [a, a], out: [b]}\n"
                       "  - {name: first, op: fill, out: [a], attrs: {shape: [4], dtype: f32, value: 1}}\n"
                       "outputs: [c]\n";
    sf_err_t err = {0};
    sf_graph_t *g = NULL;
    ck_assert_int_eq(sf_graph_load_buffer(yaml, strlen(yaml), "shuffled.yaml", NULL, 0, &g, &err), SF_OK);
    sf_plan_t *p = sf_plan_build(g, SF_FREE_EAGER, true);
    ck_assert_str_eq(g->nodes[p->order[0]].name, "first");
    ck_assert_str_eq(g->nodes[p->order[1]].name, "second");
    ck_assert_str_eq(g->nodes[p->order[2]].name, "last");
    sf_plan_free(p);
    sf_graph_free(g);
}
END_TEST

/* Every .yaml under a folder (recursively) that is a graph (has `nodes:`). */
static int collect_graphs(const char *dir, char paths[][512], int n, int cap)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return n;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < cap) {
        if (e->d_name[0] == '.')
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        size_t len = strlen(p);
        if (e->d_type == DT_DIR) {
            n = collect_graphs(p, paths, n, cap);
        } else if (len > 5 && strcmp(p + len - 5, ".yaml") == 0) {
            char *text = tu_read_file(p, NULL);
            if (text != NULL && strstr(text, "\nnodes:") != NULL)
                snprintf(paths[n++], 512, "%s", p);
            free(text);
        }
    }
    closedir(d);
    return n;
}

START_TEST(test_sched_matmul_scratch_is_tiles)
{
    /* tests/graphs/matmul_tiles.yaml: bf16 matmul past every tile; the
     * arithmetic is in the file. Whole f32 copies (9644032 bytes) made it
     * 14466560. */
    expect_peaks("tests/graphs/matmul_tiles.yaml", 13211136, "mm", 13211136);
}
END_TEST

START_TEST(test_plan_equals_run_on_every_graph)
{
    static char paths[256][512];
    int n = collect_graphs(tu_src("graphs"), paths, 0, 256);
    n = collect_graphs(tu_src("tests/graphs"), paths, n, 256);
    ck_assert_int_ge(n, 8);
    for (int i = 0; i < n; i++) {
        sf_err_t err = {0};
        sf_graph_t *g = NULL;
        sf_status_t st = sf_graph_load_file(paths[i], NULL, 0, &g, &err);
        if (st != SF_OK)
            sf_err_print(&err, stderr);
        ck_assert_int_eq(st, SF_OK);
        for (int pol = 0; pol < 2; pol++) {
            run_result_t meta = run_on(g, sf_device_meta(), (sf_free_policy_t)pol);
            if (g->n_inputs > 0) /* real data needed: checked on meta only */
                continue;
            run_result_t cpu = run_on(g, sf_device_cpu(), (sf_free_policy_t)pol);
            if (meta.peak != cpu.peak || meta.end != cpu.end)
                fprintf(stderr, "%s: plan %llu / run %llu\n", paths[i],
                        (unsigned long long)meta.peak, (unsigned long long)cpu.peak);
            ck_assert_uint_eq(meta.peak, cpu.peak);
            ck_assert_uint_eq(meta.end, cpu.end);
            ck_assert_str_eq(meta.peak_node, cpu.peak_node);
        }
        sf_graph_free(g);
    }
}
END_TEST

int main(void)
{
    sf_ops_register_all();
    Suite *s = suite_create("sched");
    TCase *tc = tcase_create("liveness");
    tcase_add_test(tc, test_sched_chain_frees_after_last_use);
    tcase_add_test(tc, test_sched_diamond_keeps_shared_input);
    tcase_add_test(tc, test_sched_view_keeps_base_alive);
    tcase_add_test(tc, test_sched_rounds_to_256);
    tcase_add_test(tc, test_sched_matmul_scratch_is_tiles);
    tcase_add_test(tc, test_sched_end_bytes_are_outputs);
    tcase_add_test(tc, test_sched_chain_values);
    tcase_add_test(tc, test_sched_missing_input_is_an_error);
    tcase_add_test(tc, test_sched_order_is_deterministic_topological);
    suite_add_tcase(s, tc);
    tc = tcase_create("plan_equals_run");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_plan_equals_run_on_every_graph);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
