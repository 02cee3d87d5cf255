/* One executor run once per step (sf_exec_run called again): persistent
 * buffers (weights) are made in the first step only and kept, every step's
 * outputs equal a fresh executor's for the same inputs, and each step's
 * peak on meta equals its peak on the cpu. Figures are worked out at the
 * top of tests/graphs/steps.yaml. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "graph.h"
#include "test_util.h"

#define N_STEPS 3

static sf_graph_t *load_steps(void)
{
    sf_err_t err = {0};
    sf_graph_t *g = NULL;
    sf_status_t st = sf_graph_load_file(tu_src("tests/graphs/steps.yaml"), NULL, 0, &g, &err);
    if (st != SF_OK)
        sf_err_print(&err, stderr);
    ck_assert_int_eq(st, SF_OK);
    return g;
}

/* Input x of step k: 16 x 64 f32, different in every step. */
static void fill_x(float *x, int k)
{
    for (int i = 0; i < 16 * 64; i++)
        x[i] = (float)((i * 7 + k * 13) % 11) * 0.25f - 1.0f;
}

/* A host tensor of x over data (16 x 64 f32), its buffer record in *b. */
static sf_tensor_t x_tensor(float *data, sf_buffer_t *b)
{
    *b = (sf_buffer_t){.data = data, .nbytes = 16 * 64 * sizeof *data};
    sf_tensor_t t = sf_tensor_make(SF_DTYPE_F32, 2, (const int64_t[]){16, 64});
    t.buf = b;
    return t;
}

static sf_exec_t *new_exec(const sf_graph_t *g, sf_device_t *dev)
{
    sf_err_t err = {0};
    sf_exec_t *ex = NULL;
    sf_exec_opts_t o = {.free_policy = SF_FREE_EAGER};
    ck_assert_int_eq(sf_exec_new(g, dev, &o, &ex, &err), SF_OK);
    return ex;
}

static void run_step(sf_exec_t *ex, sf_tensor_t *x, float *data, int k, bool with_input)
{
    sf_err_t err = {0};
    if (with_input) {
        fill_x(data, k);
        ck_assert_int_eq(sf_exec_set_input(ex, "x", x, &err), SF_OK);
    }
    sf_status_t st = sf_exec_run(ex, &err);
    if (st != SF_OK)
        sf_err_print(&err, stderr);
    ck_assert_int_eq(st, SF_OK);
}

static int edge_of(const sf_graph_t *g, const char *name)
{
    int v = sf_graph_find_edge(g, name);
    ck_assert_int_ge(v, 0);
    return v;
}

START_TEST(test_steps_outputs_equal_fresh_runs)
{
    /* Step k on the kept executor and a new executor given the same x_k
     * write the same bytes of y (16 x 16 f32 = 1024 bytes). */
    sf_graph_t *g = load_steps();
    static float xs[16 * 64], xf[16 * 64];
    sf_buffer_t bs, bf;
    sf_tensor_t ts = x_tensor(xs, &bs), tf = x_tensor(xf, &bf);
    int y = edge_of(g, "y");
    sf_exec_t *kept = new_exec(g, sf_device_cpu());
    float prev[256];
    for (int k = 0; k < N_STEPS; k++) {
        run_step(kept, &ts, xs, k, true);
        sf_exec_t *fresh = new_exec(g, sf_device_cpu());
        run_step(fresh, &tf, xf, k, true);
        const void *a = sf_tensor_data(sf_exec_tensor(kept, y));
        const void *b = sf_tensor_data(sf_exec_tensor(fresh, y));
        ck_assert_msg(memcmp(a, b, 1024) == 0, "step %d: y differs from a fresh run", k + 1);
        /* The steps really differ: a test that fed x_0 every time would pass the above. */
        if (k > 0)
            ck_assert(memcmp(prev, a, 1024) != 0);
        memcpy(prev, a, 1024);
        sf_exec_free(fresh);
    }
    ck_assert_int_eq(sf_exec_n_runs(kept), N_STEPS);
    sf_exec_free(kept);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_steps_make_weights_once)
{
    /* Step 1 allocates x, t, h, w, y (5); later steps x, t, h, y (4): w is
     * kept (1024 bytes) and its producer does not run (0 us). */
    sf_graph_t *g = load_steps();
    static float x[16 * 64];
    sf_buffer_t b;
    sf_tensor_t t = x_tensor(x, &b);
    int load_w = -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, "load_w") == 0)
            load_w = i;
    ck_assert_int_ge(load_w, 0);
    sf_exec_t *ex = new_exec(g, sf_device_cpu());
    const void *w_data = NULL;
    for (int k = 0; k < N_STEPS; k++) {
        run_step(ex, &t, x, k, true);
        sf_exec_stats_t s = sf_exec_stats(ex);
        ck_assert_int_eq(s.n_allocs, k == 0 ? 5 : 4);
        ck_assert_uint_eq(sf_exec_persistent_bytes(ex), 1024);
        const void *w = sf_tensor_data(sf_exec_tensor(ex, edge_of(g, "w")));
        if (k == 0)
            w_data = w;
        else
            ck_assert_ptr_eq(w, w_data);
        if (k > 0)
            ck_assert_double_eq(sf_exec_node_us(ex, load_w), 0.0);
        else
            ck_assert(sf_exec_node_us(ex, load_w) > 0.0);
    }
    sf_exec_free(ex);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_steps_plan_equals_run_each_step)
{
    /* Step 1: peak 9216 at mm1; step 2 and after: 10240 at mm1 (w is live
     * from the start); end 2048 every step. Meta (no inputs given) and cpu
     * agree on each. */
    sf_graph_t *g = load_steps();
    static float x[16 * 64];
    sf_buffer_t b;
    sf_tensor_t t = x_tensor(x, &b);
    sf_exec_t *cpu = new_exec(g, sf_device_cpu()), *meta = new_exec(g, sf_device_meta());
    for (int k = 0; k < N_STEPS; k++) {
        run_step(cpu, &t, x, k, true);
        run_step(meta, NULL, NULL, k, false);
        sf_exec_stats_t c = sf_exec_stats(cpu), m = sf_exec_stats(meta);
        ck_assert_uint_eq(c.peak_bytes, k == 0 ? 9216 : 10240);
        ck_assert_str_eq(c.peak_node, "mm1");
        ck_assert_uint_eq(c.end_bytes, 2048);
        ck_assert_uint_eq(m.peak_bytes, c.peak_bytes);
        ck_assert_str_eq(m.peak_node, c.peak_node);
        ck_assert_uint_eq(m.end_bytes, c.end_bytes);
        ck_assert_int_eq(m.n_allocs, c.n_allocs);
    }
    sf_exec_free(cpu);
    sf_exec_free(meta);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_steps_after_failure_start_over)
{
    /* A step that fails (x not given on the cpu) releases everything; the
     * next step makes w again (5 allocations, peak 9216 as a first step). */
    sf_graph_t *g = load_steps();
    static float x[16 * 64];
    sf_buffer_t b;
    sf_tensor_t t = x_tensor(x, &b);
    sf_exec_t *ex = new_exec(g, sf_device_cpu());
    sf_err_t err = {0};
    ck_assert_int_eq(sf_exec_run(ex, &err), SF_ERR_INPUT);
    ck_assert_uint_eq(sf_mem_live_bytes(sf_exec_mem(ex)), 0);
    ck_assert_uint_eq(sf_exec_persistent_bytes(ex), 0);
    run_step(ex, &t, x, 0, true);
    sf_exec_stats_t s = sf_exec_stats(ex);
    ck_assert_int_eq(s.n_allocs, 5);
    ck_assert_uint_eq(s.peak_bytes, 9216);
    sf_exec_free(ex);
    sf_graph_free(g);
}
END_TEST

int main(void)
{
    sf_ops_register_all();
    Suite *s = suite_create("exec_steps");
    TCase *tc = tcase_create("steps");
    tcase_add_test(tc, test_steps_outputs_equal_fresh_runs);
    tcase_add_test(tc, test_steps_make_weights_once);
    tcase_add_test(tc, test_steps_plan_equals_run_each_step);
    tcase_add_test(tc, test_steps_after_failure_start_over);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
