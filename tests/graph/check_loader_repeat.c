/* `repeat` blocks and ${expression} substitution: how a layer stack is
 * written once and expanded per layer. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "test_util.h"

static sf_status_t load(const char *yaml, sf_graph_t **g, sf_err_t *err)
{
    sf_err_clear(err);
    return sf_graph_load_buffer(yaml, strlen(yaml), "rep.yaml", NULL, 0, g, err);
}

START_TEST(test_repeat_expands_per_layer)
{
    /* 4 layers of h_{l+1} = h_l + h_l, plus x_l on odd layers: 1 + 4 + 2 nodes. */
    const char *yaml =
        "name: rep\n"
        "params: {n: 3, layers: 4}\n"
        "nodes:\n"
        "  - {name: h0, op: fill, out: [h_0], attrs: {shape: [n], dtype: f32, value: 1}}\n"
        "  - repeat: {var: layer, count: layers}\n"
        "    nodes:\n"
        "      - {name: 'add_${layer}', op: add, in: ['h_${layer}', 'h_${layer}'], out: ['h_${layer + 1}']}\n"
        "      - {name: 'odd_${layer}', op: mul, in: ['h_${layer}', 'h_${layer}'], out: ['x_${layer}'],\n"
        "         when: 'layer % 2 == 1'}\n"
        "outputs: [h_4]\n";
    sf_graph_t *g = NULL;
    sf_err_t err;
    ck_assert_int_eq(load(yaml, &g, &err), SF_OK);
    ck_assert_int_eq(g->n_nodes, 7);
    ck_assert_str_eq(g->nodes[1].name, "add_0");
    ck_assert_str_eq(g->nodes[3].name, "odd_1");
    ck_assert_str_eq(g->nodes[5].name, "add_3");
    ck_assert_str_eq(g->nodes[6].name, "odd_3");
    ck_assert_int_ge(sf_graph_find_edge(g, "h_4"), 0);
    ck_assert_int_lt(sf_graph_find_edge(g, "x_0"), 0);
    ck_assert_int_ge(sf_graph_find_edge(g, "x_3"), 0);
    /* The loop variable is not a param: it does not leak into the graph. */
    ck_assert_ptr_null(sf_graph_find_param(g, "layer"));
    sf_graph_free(g);
}
END_TEST

START_TEST(test_repeat_errors)
{
    sf_graph_t *g = NULL;
    sf_err_t err;
    const char *shadow = "name: r\nparams: {layer: 1}\nnodes:\n"
                         "  - repeat: {var: layer, count: 2}\n"
                         "    nodes: []\n";
    ck_assert_int_eq(load(shadow, &g, &err), SF_ERR_GRAPH);
    ck_assert_ptr_nonnull(strstr(err.msg, "would hide the param"));
    ck_assert_int_eq(err.line, 4);
    const char *nested = "name: r\nnodes:\n"
                         "  - repeat: {var: a, count: 2}\n"
                         "    nodes:\n"
                         "      - repeat: {var: b, count: 2}\n"
                         "        nodes: []\n";
    ck_assert_int_eq(load(nested, &g, &err), SF_ERR_GRAPH);
    ck_assert_ptr_nonnull(strstr(err.msg, "do not nest"));
    ck_assert_int_eq(err.line, 5);
    const char *dup = "name: r\nnodes:\n"
                      "  - repeat: {var: i, count: 2}\n"
                      "    nodes:\n"
                      "      - {name: same, op: fill, out: ['t_${i}'], attrs: {shape: [1]}}\n";
    ck_assert_int_eq(load(dup, &g, &err), SF_ERR_GRAPH);
    ck_assert_ptr_nonnull(strstr(err.msg, "duplicate node name 'same'"));
    const char *bad_expr = "name: r\nnodes:\n"
                           "  - {name: a, op: fill, out: ['t_${3 / 2}'], attrs: {shape: [1]}}\n";
    ck_assert_int_eq(load(bad_expr, &g, &err), SF_ERR_GRAPH);
    ck_assert_ptr_nonnull(strstr(err.msg, "non-exact division"));
    const char *unknown = "name: r\nnodes:\n"
                          "  - {name: a, op: fill, out: ['t_${nope}'], attrs: {shape: [1]}}\n";
    ck_assert_int_eq(load(unknown, &g, &err), SF_ERR_GRAPH);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown param 'nope'"));
    ck_assert_int_eq(err.line, 3);
    ck_assert_int_eq(err.col, 34); /* the $ of ${nope} */
}
END_TEST

START_TEST(test_checks_inputs_when_and_renamed_outputs)
{
    /* checks: the first failing one is the error, at its `that`. */
    const char *checked = "name: c\n"
                          "params: {batch: 3}\n"
                          "checks:\n"
                          "  - {that: 'batch > 0', message: never}\n"
                          "  - {that: 'batch % 2 == 0', message: 'batch ${batch} is odd'}\n"
                          "nodes: []\n";
    sf_graph_t *g = NULL;
    sf_err_t err;
    ck_assert_int_eq(load(checked, &g, &err), SF_ERR_INPUT);
    ck_assert_str_eq(err.msg, "batch 3 is odd");
    ck_assert_int_eq(err.line, 5);
    ck_assert_int_eq(err.col, 12);
    /* An input that exists in one configuration, a node in the other; an
     * output written under another name; a list param indexed. */
    const char *yaml = "name: w\n"
                       "params: {src: node, dims: [4, 2]}\n"
                       "inputs:\n"
                       "  x: {dtype: f32, shape: ['dims[0]'], when: '${src} == file'}\n"
                       "nodes:\n"
                       "  - {name: mk, op: fill, out: [x], attrs: {shape: ['dims[0] * dims[1]']},\n"
                       "     when: '${src} != file'}\n"
                       "  - {name: y, op: add, in: [x, x], out: [x2]}\n"
                       "outputs: [{x: x2}]\n";
    ck_assert_int_eq(load(yaml, &g, &err), SF_OK);
    ck_assert_int_eq(g->n_inputs, 0);
    ck_assert_int_eq(g->edges[sf_graph_find_edge(g, "x")].layout.shape[0], 8);
    ck_assert_str_eq(g->output_names[0], "x");
    ck_assert_str_eq(g->edges[g->outputs[0]].name, "x2");
    sf_graph_free(g);
    const char *bad_index = "name: w\nparams: {dims: [4]}\nnodes:\n"
                            "  - {name: mk, op: fill, out: [x], attrs: {shape: ['dims[1]']}}\n";
    ck_assert_int_eq(load(bad_index, &g, &err), SF_ERR_GRAPH);
    ck_assert_ptr_nonnull(strstr(err.msg, "index 1 out of range for 'dims' (1 items)"));
    const char *reserved = "name: r\nparams: {world: 4}\nnodes: []\n";
    ck_assert_int_eq(load(reserved, &g, &err), SF_ERR_GRAPH);
    ck_assert_ptr_nonnull(strstr(err.msg, "param 'world' is reserved"));
    ck_assert_int_eq(err.line, 2);
}
END_TEST

int main(void)
{
    sf_ops_register_all();
    Suite *s = suite_create("loader_repeat");
    TCase *tc = tcase_create("repeat");
    tcase_add_test(tc, test_repeat_expands_per_layer);
    tcase_add_test(tc, test_repeat_errors);
    tcase_add_test(tc, test_checks_inputs_when_and_renamed_outputs);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
