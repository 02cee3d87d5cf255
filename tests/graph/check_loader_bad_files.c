/* One test per file in tests/data/bad: the graph loader refuses each with
 * the right code, file, line, column and message fragment, include loops
 * found where they close. The loader on good graphs and the errors of its
 * API are check_loader.c. */
#include <check.h>
#include <stdio.h>

#include "graph.h"
#include "loader_harness.h"
#include "test_util.h"

/* Load tests/data/bad/<name>; the error is expected in err_file (a file it
 * includes, or itself when NULL). */
static void load_bad_file_in(const char *name, const char *err_file, sf_status_t code, int line,
                             int col, const char *frag)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/bad/%s", name);
    sf_graph_t *g = (sf_graph_t *)1;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_graph_load_file(tu_src(rel), NULL, 0, &g, &err);
    ck_assert_ptr_null(g);
    ld_expect_err(st, &err, code, line > 0 ? (err_file != NULL ? err_file : name) : NULL, line,
                  col, frag);
}

static void load_bad_file(const char *name, sf_status_t code, int line, int col,
                          const char *frag)
{
    load_bad_file_in(name, NULL, code, line, col, frag);
}

/* --- one test per file in tests/data/bad --------------------------------------------- */

#define BAD(fn, file, code, line, col, frag)                                                \
    START_TEST(fn) { load_bad_file(file, code, line, col, frag); }                           \
    END_TEST

BAD(test_bad_syntax, "syntax.yaml", SF_ERR_PARSE, 3, 5, "did not find expected ',' or ']'")
BAD(test_bad_utf8, "bad_utf8.yaml", SF_ERR_PARSE, 3, 13, "invalid UTF-8: byte 0xff")
BAD(test_bad_nul, "nul_byte.yaml", SF_ERR_PARSE, 4, 7, "NUL byte")
BAD(test_bad_duplicate_key, "duplicate_key.yaml", SF_ERR_PARSE, 5, 3,
    "duplicate key 'n' (first at line 3)")
BAD(test_bad_alias_bomb, "alias_bomb.yaml", SF_ERR_PARSE, 7, 38, "alias expansion exceeds budget")
BAD(test_bad_multi_doc, "multi_doc.yaml", SF_ERR_PARSE, 3, 1, "a second YAML document")
BAD(test_bad_unknown_top_key, "unknown_top_key.yaml", SF_ERR_GRAPH, 3, 1,
    "unknown top-level key 'output'")
BAD(test_bad_missing_name, "missing_name.yaml", SF_ERR_GRAPH, 1, 1, "missing required key 'name'")
BAD(test_bad_unknown_op, "unknown_op.yaml", SF_ERR_GRAPH, 4, 9, "unknown op 'no_such_op'")
BAD(test_bad_wrong_n_inputs, "wrong_n_inputs.yaml", SF_ERR_GRAPH, 5, 32,
    "op 't_unary' takes 1 inputs, got 2")
BAD(test_bad_duplicate_node, "duplicate_node.yaml", SF_ERR_GRAPH, 5, 12,
    "duplicate node name 'a' (first at")
BAD(test_bad_undefined_input, "undefined_input.yaml", SF_ERR_GRAPH, 6, 10,
    "input 'ax' is undefined")
BAD(test_bad_produced_twice, "produced_twice.yaml", SF_ERR_GRAPH, 5, 35,
    "tensor 'y' is already produced by node 'a'")
BAD(test_bad_input_produced, "input_produced.yaml", SF_ERR_GRAPH, 5, 35,
    "tensor 'x' is a graph input")
BAD(test_bad_cycle, "cycle.yaml", SF_ERR_GRAPH, 4, 5, "cycle: a -> b -> c -> a")
BAD(test_bad_output_not_produced, "output_not_produced.yaml", SF_ERR_GRAPH, 4, 14,
    "output 'b' is never produced")
BAD(test_bad_shape_mismatch, "shape_mismatch.yaml", SF_ERR_GRAPH, 6, 5,
    "node 'cat': input 1 has shape [2,4], expected [*,3]")
BAD(test_bad_infer_error, "infer_error.yaml", SF_ERR_GRAPH, 5, 50, "attr 'k' is -1, expected >= 0")
BAD(test_bad_negative_dim, "negative_dim.yaml", SF_ERR_GRAPH, 5, 30, "dim 1 is -2; dims must be >= 0")
BAD(test_bad_non_exact_div, "non_exact_div.yaml", SF_ERR_GRAPH, 5, 49, "non-exact division: 10 / 3")
BAD(test_bad_expr_overflow, "expr_overflow.yaml", SF_ERR_GRAPH, 5, 56,
    "overflow: 4611686018427387904 * 2 does not fit in int64")
BAD(test_bad_div_by_zero, "div_by_zero.yaml", SF_ERR_GRAPH, 5, 49, "division by zero: 8 // 0")
BAD(test_bad_unknown_subst, "unknown_subst.yaml", SF_ERR_GRAPH, 5, 59,
    "unknown param 'dtyp' in '${...}'")
BAD(test_bad_unknown_param, "unknown_param.yaml", SF_ERR_GRAPH, 5, 53, "unknown param 'batch'")
BAD(test_bad_unknown_attr, "unknown_attr.yaml", SF_ERR_GRAPH, 6, 25,
    "unknown attr 'dtpye' for op 't_source' (known: shape, dtype, value)")
BAD(test_bad_missing_attr, "missing_attr.yaml", SF_ERR_GRAPH, 3, 5,
    "missing required attr 'shape' (int list)")
BAD(test_bad_wrong_attr_type, "wrong_attr_type.yaml", SF_ERR_GRAPH, 7, 14,
    "attr 'shape': expected a list of ints, found a mapping")
BAD(test_bad_dtype, "bad_dtype.yaml", SF_ERR_GRAPH, 3, 14, "unknown dtype 'f33'")
BAD(test_bad_when, "bad_when.yaml", SF_ERR_GRAPH, 5, 58, "empty condition")
/* The loop is found where it closes: in the file that includes an
 * ancestor again. */
START_TEST(test_bad_include_loop)
{
    char frag[1024];
    const char *a = tu_src("tests/data/bad/include_loop.yaml");
    const char *b = tu_src("tests/data/bad/include_loop_b.yaml");
    snprintf(frag, sizeof frag, "include loop: %s -> %s -> %s", a, b, a);
    load_bad_file_in("include_loop.yaml", "/include_loop_b.yaml", SF_ERR_GRAPH, 1, 11, frag);
}
END_TEST
START_TEST(test_bad_include_loop_b)
{
    char frag[1024];
    const char *a = tu_src("tests/data/bad/include_loop.yaml");
    const char *b = tu_src("tests/data/bad/include_loop_b.yaml");
    snprintf(frag, sizeof frag, "include loop: %s -> %s -> %s", b, a, b);
    load_bad_file_in("include_loop_b.yaml", "/include_loop.yaml", SF_ERR_GRAPH, 2, 10, frag);
}
END_TEST

BAD(test_bad_missing_include, "missing_include.yaml", SF_ERR_INPUT, 3, 5,
    "cannot open include")

static Suite *loader_bad_files_suite(void)
{
    Suite *s = suite_create("loader_bad_files");
    TCase *tc = tcase_create("bad_files");
    tcase_add_test(tc, test_bad_syntax);
    tcase_add_test(tc, test_bad_utf8);
    tcase_add_test(tc, test_bad_nul);
    tcase_add_test(tc, test_bad_duplicate_key);
    tcase_add_test(tc, test_bad_alias_bomb);
    tcase_add_test(tc, test_bad_multi_doc);
    tcase_add_test(tc, test_bad_unknown_top_key);
    tcase_add_test(tc, test_bad_missing_name);
    tcase_add_test(tc, test_bad_unknown_op);
    tcase_add_test(tc, test_bad_wrong_n_inputs);
    tcase_add_test(tc, test_bad_duplicate_node);
    tcase_add_test(tc, test_bad_undefined_input);
    tcase_add_test(tc, test_bad_produced_twice);
    tcase_add_test(tc, test_bad_input_produced);
    tcase_add_test(tc, test_bad_cycle);
    tcase_add_test(tc, test_bad_output_not_produced);
    tcase_add_test(tc, test_bad_shape_mismatch);
    tcase_add_test(tc, test_bad_infer_error);
    tcase_add_test(tc, test_bad_negative_dim);
    tcase_add_test(tc, test_bad_non_exact_div);
    tcase_add_test(tc, test_bad_expr_overflow);
    tcase_add_test(tc, test_bad_div_by_zero);
    tcase_add_test(tc, test_bad_unknown_subst);
    tcase_add_test(tc, test_bad_unknown_param);
    tcase_add_test(tc, test_bad_unknown_attr);
    tcase_add_test(tc, test_bad_missing_attr);
    tcase_add_test(tc, test_bad_wrong_attr_type);
    tcase_add_test(tc, test_bad_dtype);
    tcase_add_test(tc, test_bad_when);
    tcase_add_test(tc, test_bad_include_loop);
    tcase_add_test(tc, test_bad_include_loop_b);
    tcase_add_test(tc, test_bad_missing_include);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    ld_register_test_ops(); /* once per process, before Check forks the tests */
    return tu_run_suite(loader_bad_files_suite());
}
