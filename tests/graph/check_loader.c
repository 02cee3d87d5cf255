/* The graph loader end to end: YAML -> validated, shape-inferred IR (values,
 * attrs, topological order, `when`, --set and includes), and the errors its
 * callers see: --set keys and types, a file too big or missing, positions
 * after substitution. One test per bad file in tests/data/bad is
 * check_loader_bad_files.c. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "loader_harness.h"
#include "test_util.h"

/* --- helpers ----------------------------------------------------------------------- */

static sf_graph_t *load_ok(const char *yaml, const sf_param_set_t *sets, int n_sets)
{
    sf_graph_t *g = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_graph_load_buffer(yaml, strlen(yaml), "t.yaml", sets, n_sets, &g, &err);
    char msg[1024];
    sf_err_format(&err, msg, sizeof msg);
    ck_assert_msg(st == SF_OK, "load failed: %s", msg);
    ck_assert_ptr_nonnull(g);
    return g;
}

static void load_bad_buf(const char *yaml, const sf_param_set_t *sets, int n_sets,
                         sf_status_t code, int line, int col, const char *frag)
{
    sf_graph_t *g = (sf_graph_t *)1;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_graph_load_buffer(yaml, strlen(yaml), "t.yaml", sets, n_sets, &g, &err);
    ck_assert_ptr_null(g);
    ld_expect_err(st, &err, code, line > 0 ? "t.yaml" : NULL, line, col, frag);
}

/* --- good graphs -------------------------------------------------------------------- */

static const char *CHAIN =
    "name: chain\n"
    "params:\n"
    "  n: 8\n"
    "  dtype: bf16\n"
    "  dims: [2, 3]\n"
    "inputs:\n"
    "  x: {dtype: f32, shape: [n, \"n / 4\", 0]}\n"
    "nodes:\n"
    "  - name: a\n"
    "    op: t_unary\n"
    "    in: x\n"
    "    out: [a]\n"
    "    attrs: {k: \"max(n // 3, 1) * 2\", label: \"m${n}\", flag: true}\n"
    "  - {name: s, op: t_source, out: [s], shape: \"${dims}\", dtype: \"${dtype}\", value: 2}\n"
    "  - {name: v, op: t_view, in: [a], out: [av]}\n"
    "outputs: [av, s]\n";

START_TEST(test_loader_builds_values_and_attrs)
{
    sf_graph_t *g = load_ok(CHAIN, NULL, 0);
    ck_assert_str_eq(g->name, "chain");
    ck_assert_int_eq(g->n_nodes, 3);
    ck_assert_int_eq(g->n_edges, 4); /* x, then a, s, av in topological (here file) order */
    ck_assert_int_eq(g->n_inputs, 1);
    ck_assert_int_eq(g->inputs[0], 0);
    const sf_edge_t *x = &g->edges[0];
    ck_assert_str_eq(x->name, "x");
    ck_assert(x->is_input);
    ck_assert_int_eq(x->producer, -1);
    ck_assert_int_eq(x->layout.ndim, 3);
    ck_assert_int_eq(x->layout.shape[0], 8);
    ck_assert_int_eq(x->layout.shape[1], 2); /* 8 / 4 */
    ck_assert_int_eq(x->layout.shape[2], 0); /* zero-size dims are allowed */
    ck_assert_int_eq(x->pos.line, 7);
    ck_assert_int_eq(x->pos.col, 3);

    const sf_node_t *a = &g->nodes[0];
    ck_assert_str_eq(a->name, "a");
    ck_assert_int_eq(a->n_in, 1);
    ck_assert_int_eq(a->in[0], 0);
    ck_assert_int_eq(a->attrs[0].i, 4); /* max(8 // 3, 1) * 2 = max(2, 1) * 2 */
    ck_assert(a->attrs[0].is_given);
    ck_assert_int_eq(a->attrs[0].pos.line, 13);
    ck_assert(a->attrs[1].b);
    ck_assert_str_eq(a->attrs[2].s, "m8");
    ck_assert(!a->attrs[3].is_given); /* dims: default "[]" */
    ck_assert_int_eq(a->attrs[3].n_ints, 0);
    ck_assert_int_eq(a->pos.line, 9);
    ck_assert_int_eq(a->pos.col, 5);

    const sf_node_t *s = &g->nodes[1];
    ck_assert_int_eq(s->attrs[0].n_ints, 2);
    ck_assert_int_eq(s->attrs[0].ints[0], 2);
    ck_assert_int_eq(s->attrs[0].ints[1], 3);
    ck_assert_int_eq(s->attrs[1].dtype, SF_DTYPE_BF16);
    ck_assert(s->attrs[2].f == 2.0);

    int av = sf_graph_find_edge(g, "av");
    int ai = sf_graph_find_edge(g, "a");
    ck_assert_int_eq(ai, 1);
    ck_assert_int_eq(sf_graph_find_edge(g, "s"), 2);
    ck_assert_int_eq(av, 3);
    ck_assert_int_eq(g->edges[av].view_of, ai);
    ck_assert_int_eq(g->edges[ai].view_of, -1);
    ck_assert_int_eq(g->edges[av].producer, 2);
    ck_assert_int_eq(g->edges[av].producer_slot, 0);
    ck_assert(g->edges[av].is_output);
    ck_assert(!g->edges[ai].is_output);
    ck_assert_int_eq(g->edges[av].layout.shape[1], 2);
    ck_assert_int_eq(g->n_outputs, 2);
    ck_assert_int_eq(g->outputs[0], av);
    ck_assert_int_eq(g->outputs[1], 2);
    ck_assert_ptr_nonnull(sf_graph_find_param(g, "dims"));
    ck_assert_ptr_null(sf_graph_find_param(g, "nope"));
    ck_assert_int_eq(sf_graph_find_node(g, "v"), 2);
    ck_assert_int_eq(sf_graph_find_node(g, "nope"), -1);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_loader_values_follow_topological_order)
{
    /* b is written first but consumes a's output: values number a's output
     * before b's, while nodes[] stays in file order. */
    const char *y = "name: t\n"
                    "nodes:\n"
                    "  - {name: b, op: t_unary, in: [ta], out: [tb]}\n"
                    "  - {name: a, op: t_source, out: [ta], shape: [3]}\n";
    sf_graph_t *g = load_ok(y, NULL, 0);
    ck_assert_str_eq(g->nodes[0].name, "b");
    ck_assert_str_eq(g->edges[0].name, "ta");
    ck_assert_str_eq(g->edges[1].name, "tb");
    ck_assert_int_eq(g->edges[0].producer, 1);
    ck_assert_int_eq(g->nodes[0].in[0], 0);
    ck_assert_int_eq(g->edges[1].layout.shape[0], 3);
    sf_graph_free(g);
}
END_TEST

static const char *WHEN =
    "name: w\n"
    "params:\n"
    "  mode: all_to_all\n"
    "  tp: 2\n"
    "nodes:\n"
    "  - {name: g, op: t_source, out: [y], shape: [4], when: \"${mode} == all_gather\"}\n"
    "  - {name: t, op: t_source, out: [y], shape: [\"4 / tp\"], when: \"${mode} == all_to_all "
    "and tp > 1\"}\n"
    "outputs: [y]\n";

START_TEST(test_loader_when_picks_one_producer)
{
    sf_graph_t *g = load_ok(WHEN, NULL, 0);
    ck_assert_int_eq(g->n_nodes, 1);
    ck_assert_str_eq(g->nodes[0].name, "t");
    ck_assert_int_eq(g->edges[0].layout.shape[0], 2);
    sf_graph_free(g);

    sf_param_set_t set = {"mode", "all_gather"};
    g = load_ok(WHEN, &set, 1);
    ck_assert_int_eq(g->n_nodes, 1);
    ck_assert_str_eq(g->nodes[0].name, "g");
    ck_assert_int_eq(g->edges[0].layout.shape[0], 4);
    const sf_param_t *p = sf_graph_find_param(g, "mode");
    ck_assert_str_eq(p->value.s, "all_gather");
    ck_assert_str_eq(p->pos.file, "--set");
    sf_graph_free(g);
}
END_TEST

START_TEST(test_loader_set_overrides_types)
{
    sf_param_set_t sets[] = {{"tp", "4"}, {"mode", "all_to_all"}};
    sf_graph_t *g = load_ok(WHEN, sets, 2);
    ck_assert_int_eq(g->edges[0].layout.shape[0], 1); /* 4 / 4 */
    ck_assert_int_eq(sf_graph_find_param(g, "tp")->value.i, 4);
    sf_graph_free(g);

    const char *y = "name: s\nparams:\n  dims: [1, 2]\n  lr: 0.5\n"
                    "nodes:\n  - {name: a, op: t_source, out: [a], shape: \"${dims}\"}\n";
    sf_param_set_t ls[] = {{"dims", "[4, 5, 6]"}, {"lr", "2"}};
    g = load_ok(y, ls, 2);
    ck_assert_int_eq(g->edges[0].layout.ndim, 3);
    ck_assert_int_eq(g->edges[0].layout.shape[2], 6);
    const sf_param_t *lr = sf_graph_find_param(g, "lr");
    ck_assert_int_eq(lr->value.type, SF_VALUE_FLOAT); /* an int widens to a float param */
    ck_assert(lr->value.f == 2.0);
    sf_graph_free(g);
}
END_TEST

/* The whole message: the guess, then every key a user may set and nothing
 * else (rank and world are params too, but the runtime's). No position: a
 * --set error is about the command line, rendered "error: ...". */
static void expect_set_error(const char *yaml, const sf_param_set_t *sets, int n_sets,
                             const char *msg)
{
    sf_graph_t *g = (sf_graph_t *)1;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_graph_load_buffer(yaml, strlen(yaml), "t.yaml", sets, n_sets, &g, &err);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(st, SF_ERR_INPUT);
    ck_assert_str_eq(err.file, "");
    ck_assert_int_eq(err.line, 0);
    ck_assert_str_eq(err.msg, msg);
}

START_TEST(test_loader_set_unknown_key)
{
    sf_param_set_t set = {"mdoe", "x"};
    expect_set_error(WHEN, &set, 1,
                     "--set mdoe: the graph has no param 'mdoe' (did you mean 'mode'?); params "
                     "you may set: mode, tp");
    /* Three edits from "mode", two from "tp": too far to be a typo. */
    sf_param_set_t far = {"xyz", "1"};
    expect_set_error(WHEN, &far, 1,
                     "--set xyz: the graph has no param 'xyz'; params you may set: mode, tp");
    /* Keys are checked in command-line order before any is applied: the
     * first bad one is named even when a good one precedes it. */
    sf_param_set_t two[] = {{"tp", "4"}, {"tpp", "1"}, {"zzz", "1"}};
    expect_set_error(WHEN, two, 3,
                     "--set tpp: the graph has no param 'tpp' (did you mean 'tp'?); params you "
                     "may set: mode, tp");
}
END_TEST

START_TEST(test_loader_set_builtin_refused)
{
    sf_param_set_t set = {"world", "2"};
    expect_set_error(WHEN, &set, 1,
                     "--set world: 'world' is a builtin param: the runtime sets it from --nproc "
                     "(run), --world (plan) or RANK and WORLD_SIZE; --set cannot change it");
    sf_param_set_t rank[] = {{"mdoe", "x"}, {"rank", "1"}};
    expect_set_error(WHEN, rank, 2,
                     "--set mdoe: the graph has no param 'mdoe' (did you mean 'mode'?); params "
                     "you may set: mode, tp");
}
END_TEST

/* A provider that must never run: the --set keys are wrong, and a provider
 * error (say, a tp that does not divide the default model's heads) would
 * hide them. */
static const char *const fake_model_params[] = {"height", "depth"};

static sf_status_t provider_fails(const char *model, const char *graph_dir, int world,
                                  sf_param_def_t **defs, int *n, sf_err_t *err)
{
    (void)graph_dir;
    *defs = NULL;
    *n = 0;
    return sf_err_set(err, SF_ERR_INPUT, NULL, "provider ran for %s at world %d", model, world);
}

static sf_status_t provider_defines(const char *model, const char *graph_dir, int world,
                                    sf_param_def_t **defs, int *n, sf_err_t *err)
{
    (void)model;
    (void)graph_dir;
    (void)world;
    (void)err;
    *defs = calloc(2, sizeof **defs);
    ck_assert_ptr_nonnull(*defs);
    for (int i = 0; i < 2; i++) {
        (*defs)[i].name = strdup(fake_model_params[i]);
        (*defs)[i].value.type = SF_VALUE_INT;
        (*defs)[i].value.i = 3 + i;
    }
    *n = 2;
    return SF_OK;
}

static const char *MODEL_GRAPH = "name: m\n"
                                 "params: {model: fake, n: 2}\n"
                                 "nodes:\n"
                                 "  - {name: a, op: t_source, out: [y], shape: [n, height]}\n"
                                 "outputs: [y]\n";

START_TEST(test_loader_set_keys_checked_before_the_model)
{
    sf_graph_set_model_provider(provider_fails, fake_model_params, 2);
    sf_param_set_t typo[] = {{"n", "4"}, {"modle", "other"}};
    expect_set_error(MODEL_GRAPH, typo, 2,
                     "--set modle: the graph has no param 'modle' (did you mean 'model'?); params "
                     "you may set: model, n; from the model: height, depth");
    sf_param_set_t model_typo = {"hieght", "7"};
    expect_set_error(MODEL_GRAPH, &model_typo, 1,
                     "--set hieght: the graph has no param 'hieght' (did you mean 'height'?); "
                     "params you may set: model, n; from the model: height, depth");

    /* A key the model defines is settable, and overrides the model's value. */
    sf_graph_set_model_provider(provider_defines, fake_model_params, 2);
    sf_param_set_t ok = {"height", "7"};
    sf_graph_t *g = load_ok(MODEL_GRAPH, &ok, 1);
    ck_assert_int_eq(g->edges[0].layout.shape[1], 7);
    ck_assert_int_eq(sf_graph_find_param(g, "depth")->value.i, 4);
    sf_graph_free(g);

    /* Without a `model` param the provider does not run: its keys are unknown. */
    const char *no_model = "name: m\nparams: {n: 2}\n"
                           "nodes:\n  - {name: a, op: t_source, out: [y], shape: [n]}\n";
    expect_set_error(no_model, &ok, 1,
                     "--set height: the graph has no param 'height'; params you may set: n");
    sf_graph_set_model_provider(NULL, NULL, 0);
}
END_TEST

START_TEST(test_loader_set_wrong_type)
{
    sf_param_set_t set = {"tp", "two"};
    load_bad_buf(WHEN, &set, 1, SF_ERR_INPUT, 0, 0, "param 'tp' is a int (t.yaml:4), got a string");
}
END_TEST

START_TEST(test_loader_includes_merge)
{
    sf_graph_t *g = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    sf_param_set_t set = {"width", "7"};
    sf_status_t st = sf_graph_load_file(tu_src("tests/data/good/inc_main.yaml"), &set, 1, &g, &err);
    char msg[1024];
    sf_err_format(&err, msg, sizeof msg);
    ck_assert_msg(st == SF_OK, "%s", msg);
    /* inc_base is reached twice (directly and from sub/inc_leaf) but loaded
     * once; entries merge include-first: base, leaf, then top. */
    ck_assert_int_eq(g->n_files, 3);
    ck_assert_int_eq(g->n_nodes, 3);
    ck_assert_str_eq(g->nodes[0].name, "base");
    ck_assert_str_eq(g->nodes[1].name, "leaf");
    ck_assert_str_eq(g->nodes[2].name, "top");
    ck_assert_ptr_nonnull(strstr(g->nodes[1].pos.file, "sub/inc_leaf.yaml"));
    ck_assert_int_eq(sf_graph_find_param(g, "n")->value.i, 5);     /* main overrides base */
    ck_assert_int_eq(sf_graph_find_param(g, "width")->value.i, 7); /* --set overrides all */
    ck_assert_str_eq(sf_graph_find_param(g, "mode")->value.s, "gather");
    int y = sf_graph_find_edge(g, "y");
    ck_assert_int_eq(g->edges[y].layout.shape[0], 6); /* 5 + 1 */
    ck_assert_int_eq(g->edges[y].layout.shape[1], 7);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_loader_include_relative_to_buffer_name)
{
    const char *dir = tu_tmpdir();
    char p[512], q[512];
    snprintf(p, sizeof p, "%s/defs.yaml", dir);
    ck_assert_int_eq(tu_write_file(p, "params: {n: 3}\n"), 0);
    const char *y = "name: b\ninclude: defs.yaml\n"
                    "nodes: [{name: a, op: t_source, out: [a], shape: [n]}]\n";
    snprintf(q, sizeof q, "%s/main.yaml", dir);
    sf_graph_t *g = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_graph_load_buffer(y, strlen(y), q, NULL, 0, &g, &err), SF_OK);
    ck_assert_int_eq(g->edges[0].layout.shape[0], 3);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_loader_file_too_big)
{
    const char *dir = tu_tmpdir();
    char p[512];
    snprintf(p, sizeof p, "%s/big.yaml", dir);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    /* One byte over the limit, made of comment lines. */
    for (unsigned i = 0; i < SF_GRAPH_MAX_FILE_BYTES + 1; i++)
        fputc(i % 64 == 63 ? '\n' : '#', f);
    fclose(f);
    sf_graph_t *g = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_graph_load_file(p, NULL, 0, &g, &err);
    ld_expect_err(st, &err, SF_ERR_PARSE, "big.yaml", 0, 0,
                  "4194305 bytes, more than the limit");

    /* The buffer entry point applies the same limit. */
    char *big = calloc(SF_GRAPH_MAX_FILE_BYTES + 2, 1);
    memset(big, '#', SF_GRAPH_MAX_FILE_BYTES + 1);
    sf_err_clear(&err);
    st = sf_graph_load_buffer(big, SF_GRAPH_MAX_FILE_BYTES + 1, "t.yaml", NULL, 0, &g, &err);
    ld_expect_err(st, &err, SF_ERR_PARSE, "t.yaml", 0, 0, "more than the limit");
    free(big);
}
END_TEST

START_TEST(test_loader_missing_file)
{
    sf_graph_t *g = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_graph_load_file("/nonexistent/x.yaml", NULL, 0, &g, &err);
    ld_expect_err(st, &err, SF_ERR_INPUT, "x.yaml", 0, 0,
                  "cannot open '/nonexistent/x.yaml'");
}
END_TEST

START_TEST(test_loader_substitution_error_points_at_scalar)
{
    /* After ${} substitution, columns in the text no longer match the file:
     * the error points at the scalar and quotes the substituted text. */
    const char *y = "name: t\nparams: {n: 10}\n"
                    "nodes: [{name: a, op: t_source, out: [a], shape: [\"${n} / 3\"]}]\n";
    load_bad_buf(y, NULL, 0, SF_ERR_GRAPH, 3, 52, "non-exact division: 10 / 3");
}
END_TEST

START_TEST(test_loader_inline_and_attrs_twice)
{
    const char *y = "name: t\n"
                    "nodes:\n"
                    "  - {name: a, op: t_source, out: [a], shape: [1], attrs: {shape: [2]}}\n";
    load_bad_buf(y, NULL, 0, SF_ERR_GRAPH, 3, 59, "attr 'shape' is given twice");
}
END_TEST

static Suite *loader_suite(void)
{
    Suite *s = suite_create("loader");
    TCase *tc = tcase_create("good");
    tcase_add_test(tc, test_loader_builds_values_and_attrs);
    tcase_add_test(tc, test_loader_values_follow_topological_order);
    tcase_add_test(tc, test_loader_when_picks_one_producer);
    tcase_add_test(tc, test_loader_set_overrides_types);
    tcase_add_test(tc, test_loader_includes_merge);
    tcase_add_test(tc, test_loader_include_relative_to_buffer_name);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_loader_set_unknown_key);
    tcase_add_test(tc, test_loader_set_builtin_refused);
    tcase_add_test(tc, test_loader_set_keys_checked_before_the_model);
    tcase_add_test(tc, test_loader_set_wrong_type);
    tcase_add_test(tc, test_loader_file_too_big);
    tcase_add_test(tc, test_loader_missing_file);
    tcase_add_test(tc, test_loader_substitution_error_points_at_scalar);
    tcase_add_test(tc, test_loader_inline_and_attrs_twice);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    ld_register_test_ops(); /* once per process, before Check forks the tests */
    return tu_run_suite(loader_suite());
}
