/* The public C interface (include/shardflow.h) as a program uses it: plans
 * with exact figures, runs from memory with hand-computed values, and every
 * bad argument a clear error with a stable code, a position when the graph
 * file is at fault, and the command's exit status. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "shardflow.h"
#include "test_util.h"

static shardflow_graph_t *load(const char *rel, const char *key, const char *value)
{
    shardflow_set_t set = {key, value};
    shardflow_graph_t *g = NULL;
    shardflow_error_t *err = NULL;
    shardflow_code_t code = shardflow_graph_load(tu_src(rel), &set, key != NULL, 0, 1, &g, &err);
    ck_assert_msg(code == SHARDFLOW_OK, "%s", shardflow_error_message(err));
    ck_assert_ptr_null(err);
    return g;
}

/* Check a failed call's error: code, a message fragment, exit status 2.
 * errp, not the error: the call fills it as an argument of this one, and
 * arguments are evaluated in no fixed order. */
static void expect_error(shardflow_code_t code, shardflow_error_t **errp, shardflow_code_t want,
                         const char *fragment)
{
    shardflow_error_t *err = *errp;
    *errp = NULL;
    ck_assert_int_eq(code, want);
    ck_assert_int_eq(shardflow_error_code(err), want);
    ck_assert_msg(strstr(shardflow_error_message(err), fragment) != NULL, "no '%s' in '%s'",
                  fragment, shardflow_error_message(err));
    ck_assert_int_eq(shardflow_error_exit_status(err), 2);
    shardflow_error_free(err);
}

START_TEST(test_api_plan_exact)
{
    /* chain.yaml, n=512: a, b, c of 2 KiB; {a,b} at make_b is the peak. */
    shardflow_graph_t *g = load("tests/graphs/chain.yaml", "n", "512");
    shardflow_stats_t s;
    ck_assert_int_eq(shardflow_plan(g, NULL, 1, &s, NULL), SHARDFLOW_OK);
    ck_assert_uint_eq(s.peak_bytes, 4096);
    ck_assert_str_eq(s.peak_node, "make_b");
    ck_assert_uint_eq(s.end_bytes, 2048);
    ck_assert_int_eq(s.n_allocs, 3);
    ck_assert_str_eq(shardflow_graph_name(g), "chain");
    ck_assert_str_eq(shardflow_graph_output_name(g, 0), "c");
    ck_assert_ptr_null(shardflow_graph_output_name(g, 1));
    shardflow_graph_free(g);
    /* steps.yaml: 9216 for one step, 10240 for step 2 on (weights kept). */
    g = load("tests/graphs/steps.yaml", NULL, NULL);
    ck_assert_int_eq(shardflow_plan(g, "eager", 1, &s, NULL), SHARDFLOW_OK);
    ck_assert_uint_eq(s.peak_bytes, 9216);
    ck_assert_int_eq(shardflow_plan(g, "eager", 4, &s, NULL), SHARDFLOW_OK);
    ck_assert_uint_eq(s.peak_bytes, 10240);
    shardflow_graph_free(g);
}
END_TEST

START_TEST(test_api_graph_error_has_position)
{
    shardflow_graph_t *g = NULL;
    shardflow_error_t *err = NULL;
    shardflow_code_t code =
        shardflow_graph_load(tu_src("tests/data/bad/unknown_op.yaml"), NULL, 0, 0, 1, &g, &err);
    ck_assert_int_eq(code, SHARDFLOW_ERR_GRAPH);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(shardflow_error_line(err), 4);
    ck_assert_int_eq(shardflow_error_column(err), 9);
    ck_assert_ptr_nonnull(strstr(shardflow_error_file(err), "unknown_op.yaml"));
    expect_error(code, &err, SHARDFLOW_ERR_GRAPH, "unknown_op.yaml:4:9: error: node 'a': unknown op");
    /* Without an error out-parameter: the code alone, nothing allocated. */
    ck_assert_int_eq(shardflow_graph_load(tu_src("tests/data/bad/unknown_op.yaml"), NULL, 0, 0, 1,
                                          &g, NULL),
                     SHARDFLOW_ERR_GRAPH);
    ck_assert_int_eq(shardflow_error_code(NULL), SHARDFLOW_OK);
    ck_assert_str_eq(shardflow_error_message(NULL), "");
}
END_TEST

START_TEST(test_api_bad_arguments)
{
    shardflow_graph_t *g = NULL;
    shardflow_error_t *err = NULL;
    shardflow_set_t bad = {"n", NULL}, unknown = {"nope", "1"};
    const char *chain = tu_src("tests/graphs/chain.yaml");
    expect_error(shardflow_graph_load(NULL, NULL, 0, 0, 1, &g, &err), &err, SHARDFLOW_ERR_INPUT,
                 "path is NULL");
    expect_error(shardflow_graph_load(chain, NULL, 0, 2, 2, &g, &err), &err, SHARDFLOW_ERR_INPUT,
                 "rank 2 of world 2");
    expect_error(shardflow_graph_load(chain, &bad, 1, 0, 1, &g, &err), &err, SHARDFLOW_ERR_INPUT,
                 "must not be NULL");
    expect_error(shardflow_graph_load(chain, &unknown, 1, 0, 1, &g, &err), &err,
                 SHARDFLOW_ERR_INPUT, "nope");
    ck_assert_ptr_null(g);
    g = load("tests/graphs/chain.yaml", NULL, NULL);
    shardflow_stats_t s;
    expect_error(shardflow_plan(g, "later", 1, &s, &err), &err, SHARDFLOW_ERR_INPUT, "'later'");
    expect_error(shardflow_plan(g, NULL, 0, &s, &err), &err, SHARDFLOW_ERR_INPUT, "steps must be");
    shardflow_tensor_info_t info;
    expect_error(shardflow_graph_tensor(g, "zz", &info, &err), &err, SHARDFLOW_ERR_INPUT, "'zz'");
    shardflow_graph_free(g);
}
END_TEST

START_TEST(test_api_run_from_memory)
{
    /* inputs_io.yaml: y = x*x + x; x = [[1,2,3],[-1,0,0.5]] -> [[2,6,12],[0,0,0.75]]. */
    shardflow_graph_t *g = load("tests/graphs/inputs_io.yaml", NULL, NULL);
    shardflow_run_t *r = NULL;
    shardflow_error_t *err = NULL;
    ck_assert_int_eq(shardflow_run_new(g, NULL, &r, &err), SHARDFLOW_OK);
    float x[6] = {1, 2, 3, -1, 0, 0.5f}, y[6];
    int64_t shape[2] = {2, 3};
    shardflow_tensor_info_t info;
    expect_error(shardflow_run_output(r, "y", &info, &err), &err, SHARDFLOW_ERR_INPUT,
                 "no outputs to read");
    expect_error(shardflow_run_step(r, NULL, &err), &err, SHARDFLOW_ERR_INPUT,
                 "graph input 'x' was not given");
    expect_error(shardflow_run_set_input(r, "x", "f32", 2, shape, x, 20, &err), &err,
                 SHARDFLOW_ERR_INPUT, "20 bytes given for a f32 tensor of 6 elements");
    expect_error(shardflow_run_set_input(r, "x", "f32", 1, (int64_t[]){6}, x, 24, &err), &err,
                 SHARDFLOW_ERR_INPUT, "has shape [6], expected [2,3]");
    expect_error(shardflow_run_set_input(r, "x", "f64", 2, shape, x, 24, &err), &err,
                 SHARDFLOW_ERR_INPUT, "unknown dtype 'f64'");
    expect_error(shardflow_run_set_input(r, "w", "f32", 2, shape, x, 24, &err), &err,
                 SHARDFLOW_ERR_INPUT, "'w' is not an input");
    ck_assert_int_eq(shardflow_run_set_input(r, "x", "f32", 2, shape, x, sizeof x, &err),
                     SHARDFLOW_OK);
    shardflow_stats_t s;
    ck_assert_int_eq(shardflow_run_step(r, &s, &err), SHARDFLOW_OK);
    ck_assert_uint_eq(s.peak_bytes, 768); /* x, x2, y: 24 bytes each, 256 counted */
    ck_assert_int_eq(shardflow_run_output(r, "y", &info, &err), SHARDFLOW_OK);
    ck_assert_str_eq(info.dtype, "f32");
    ck_assert_int_eq(info.ndim, 2);
    ck_assert_uint_eq(info.nbytes, 24);
    expect_error(shardflow_run_output_copy(r, "y", y, 12, &err), &err, SHARDFLOW_ERR_INPUT,
                 "is 24 bytes, the destination 12");
    ck_assert_int_eq(shardflow_run_output_copy(r, "y", y, sizeof y, &err), SHARDFLOW_OK);
    const float want[6] = {2, 6, 12, 0, 0, 0.75f};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(y[i], want[i]);
    shardflow_run_free(r);
    shardflow_graph_free(g);
}
END_TEST

START_TEST(test_api_run_refuses_a_group_rank)
{
    shardflow_set_t set = {"model", "synthetic:tiny"};
    shardflow_graph_t *g = NULL;
    shardflow_run_t *r = NULL;
    shardflow_error_t *err = NULL;
    ck_assert_int_eq(shardflow_graph_load(tu_src("graphs/eagle3_target.yaml"), &set, 1, 1, 2, &g,
                                          &err),
                     SHARDFLOW_OK);
    shardflow_code_t code = shardflow_run_new(g, NULL, &r, &err);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(code, SHARDFLOW_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(shardflow_error_message(err), "--nproc 2"));
    ck_assert_int_eq(shardflow_error_exit_status(err), 1);
    shardflow_error_free(err);
    shardflow_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");
    tcase_add_test(tc, test_api_plan_exact);
    tcase_add_test(tc, test_api_graph_error_has_position);
    tcase_add_test(tc, test_api_bad_arguments);
    tcase_add_test(tc, test_api_run_from_memory);
    tcase_add_test(tc, test_api_run_refuses_a_group_rank);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
