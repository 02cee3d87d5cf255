/* The op registry as ops/ fills it: every ops.def entry registered once
 * (a second call is a no-op), and every descriptor self-consistent: a
 * shape rule, a CPU kernel unless its outputs are views, sane arity, and
 * defaults the loader can parse. */
#include "op_harness.h"

static const char *const generic_ops[] = {"add",   "arange",  "argmax", "cast",   "concat",
                                          "fill",  "matmul",  "mul",    "pad",    "random",
                                          "reshape", "slice", "softmax", "split"};

START_TEST(test_registry_has_generic_ops_once)
{
    sf_ops_register_all();
    int n = sf_op_count();
    sf_ops_register_all(); /* idempotent: would assert on a duplicate name otherwise */
    ck_assert_int_eq(sf_op_count(), n);
    for (size_t i = 0; i < sizeof generic_ops / sizeof generic_ops[0]; i++) {
        const sf_op_desc_t *d = sf_op_find(generic_ops[i]);
        ck_assert_msg(d != NULL, "op '%s' is not registered", generic_ops[i]);
        ck_assert_str_eq(d->name, generic_ops[i]);
    }
}
END_TEST

START_TEST(test_registry_descriptors_are_consistent)
{
    sf_ops_register_all();
    for (int i = 0; i < sf_op_count(); i++) {
        const sf_op_desc_t *d = sf_op_at(i);
        ck_assert_ptr_nonnull(d->infer);
        ck_assert_ptr_nonnull(d->doc);
        ck_assert_msg(d->outputs_are_views == (d->cpu_kernel == NULL),
                      "op '%s': a view op has no kernel, any other op has a CPU kernel", d->name);
        ck_assert_int_ge(d->min_inputs, 0);
        ck_assert(d->max_inputs < 0 || d->max_inputs >= d->min_inputs);
        ck_assert_int_ge(d->min_outputs, 1);
        ck_assert(d->n_attrs == 0 || d->attrs != NULL);
        /* oh_node_new parses every default_text; a bad one fails the test */
        oh_node_free(oh_node_new(d->name, "n"));
    }
}
END_TEST

static Suite *registry_suite(void)
{
    Suite *s = suite_create("op_registry");
    TCase *tc = tcase_create("registry");
    tcase_add_test(tc, test_registry_has_generic_ops_once);
    tcase_add_test(tc, test_registry_descriptors_are_consistent);
    suite_add_tcase(s, tc);
    return s;
}

OH_MAIN(registry_suite)
