/* In-place work: the planner computes a buffer straight into its one
 * reader's output (a concat's slot, a pad's shifted copy, a strided column
 * block), the outputs stay byte-identical to the copying plan, and plan
 * (meta) == run (cpu) to the byte with it. tests/graphs/in_place.yaml says
 * what is placed where. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "graph.h"
#include "op.h"
#include "test_util.h"

static sf_graph_t *load_shift(int shift)
{
    char v[32];
    snprintf(v, sizeof v, "%d", shift);
    sf_param_set_t set = {.key = "shift", .value = v};
    sf_err_t err = {0};
    sf_graph_t *g = NULL;
    sf_status_t st = sf_graph_load_file(tu_src("tests/graphs/in_place.yaml"), &set, 1, &g, &err);
    if (st != SF_OK)
        sf_err_print(&err, stderr);
    ck_assert_int_eq(st, SF_OK);
    return g;
}

typedef struct outputs {
    char *bytes[8];
    uint64_t nbytes[8];
    uint64_t peak;
    int64_t n_allocs;
    int n_aliases;
} outputs_t;

/* Run g and copy every output into fresh contiguous host memory. */
static outputs_t run(const sf_graph_t *g, sf_device_t *dev, bool in_place, sf_exec_t **keep)
{
    sf_err_t err = {0};
    sf_exec_t *ex = NULL;
    sf_exec_opts_t o = {.no_alias = !in_place};
    ck_assert_int_eq(sf_exec_new(g, dev, &o, &ex, &err), SF_OK);
    sf_status_t st = sf_exec_run(ex, &err);
    if (st != SF_OK)
        sf_err_print(&err, stderr);
    ck_assert_int_eq(st, SF_OK);
    outputs_t r = {.peak = sf_exec_stats(ex).peak_bytes,
                   .n_allocs = sf_exec_stats(ex).n_allocs,
                   .n_aliases = sf_exec_plan(ex)->n_aliases};
    ck_assert_int_le(g->n_outputs, 8);
    for (int k = 0; sf_device_touches_memory(dev) && k < g->n_outputs; k++) {
        const sf_tensor_t *t = sf_exec_tensor(ex, g->outputs[k]);
        sf_tensor_t c = sf_tensor_make(t->dtype, t->ndim, t->shape);
        r.nbytes[k] = sf_tensor_nbytes(&c);
        r.bytes[k] = calloc(1, r.nbytes[k] + 1);
        sf_buffer_t b = {.data = r.bytes[k]};
        c.buf = &b;
        sf_tensor_copy_host(&c, t);
    }
    if (keep != NULL)
        *keep = ex;
    else
        sf_exec_free(ex);
    return r;
}

static void outputs_free(outputs_t *o)
{
    for (int k = 0; k < 8; k++)
        free(o->bytes[k]);
}

static int find_alias(const sf_graph_t *g, const sf_plan_t *p, const char *tensor,
                      const char *host, int64_t *offset)
{
    for (int i = 0; i < p->n_aliases; i++)
        if (strcmp(g->edges[p->aliases[i].edge].name, tensor) == 0 &&
            strcmp(g->edges[p->aliases[i].host].name, host) == 0) {
            *offset = p->aliases[i].offset_bytes;
            return i;
        }
    return -1;
}

START_TEST(test_alias_outputs_identical_and_plan_equals_run)
{
    int shifts[] = {-1, 1, -3, 0};
    for (size_t i = 0; i < sizeof shifts / sizeof shifts[0]; i++) {
        sf_graph_t *g = load_shift(shifts[i]);
        outputs_t copy = run(g, sf_device_cpu(), false, NULL);
        outputs_t alias = run(g, sf_device_cpu(), true, NULL);
        outputs_t planned = run(g, sf_device_meta(), true, NULL);
        ck_assert_int_eq(copy.n_aliases, 0);
        ck_assert_int_eq(alias.n_aliases, 5);
        for (int k = 0; k < g->n_outputs; k++) {
            ck_assert_uint_eq(copy.nbytes[k], alias.nbytes[k]);
            ck_assert_msg(memcmp(copy.bytes[k], alias.bytes[k], copy.nbytes[k]) == 0,
                          "shift %d: output '%s' differs in place", shifts[i],
                          g->edges[g->outputs[k]].name);
        }
        ck_assert_uint_eq(planned.peak, alias.peak);
        /* Five buffers fewer. (Not always a lower peak: a host is
         * allocated when the first thing in it is made, which here is
         * earlier than its copy would have been.) */
        ck_assert_int_eq(alias.n_allocs, copy.n_allocs - 5);
        outputs_free(&copy);
        outputs_free(&alias);
        sf_graph_free(g);
    }
}
END_TEST

START_TEST(test_alias_slots_and_margins)
{
    sf_graph_t *g = load_shift(-1);
    sf_exec_t *ex = NULL;
    outputs_t r = run(g, sf_device_meta(), true, &ex);
    const sf_plan_t *p = sf_exec_plan(ex);
    int64_t off = 99;
    ck_assert_int_ge(find_alias(g, p, "a", "abc", &off), 0);
    ck_assert_int_eq(off, 0);
    ck_assert_int_ge(find_alias(g, p, "b2", "abc", &off), 0);
    ck_assert_int_eq(off, 3 * 4 * 8 * 4);
    ck_assert_int_eq(find_alias(g, p, "c", "abc", &off), -1); /* read twice: copied */
    ck_assert_int_ge(find_alias(g, p, "abc", "padded", &off), 0);
    ck_assert_int_eq(off, -32);
    ck_assert_int_ge(find_alias(g, p, "c1", "both", &off), 0);
    ck_assert_int_eq(off, 0);
    ck_assert_int_ge(find_alias(g, p, "c2", "both", &off), 0);
    ck_assert_int_eq(off, 6 * 2);
    int padded = sf_graph_find_edge(g, "padded"), a = sf_graph_find_edge(g, "a");
    int c2 = sf_graph_find_edge(g, "c2");
    /* padded owns one allocation: a 32-byte margin, then its 6 x 4 x 8 f32 */
    ck_assert_int_eq(p->base_of[a], padded);
    ck_assert_uint_eq(p->alloc_bytes[padded], 32 + 6 * 4 * 8 * 4);
    ck_assert_uint_eq(p->layout[padded].offset, 32);
    ck_assert_uint_eq(p->layout[a].offset, 0);
    /* c2 is a strided column block: rows 12 bf16 apart */
    ck_assert_int_eq(p->layout[c2].strides[0], 12);
    ck_assert_int_eq(p->layout[c2].strides[1], 1);
    sf_exec_free(ex);
    outputs_free(&r);
    sf_graph_free(g);

    g = load_shift(2); /* a positive shift: the margin follows the output */
    r = run(g, sf_device_meta(), true, &ex);
    p = sf_exec_plan(ex);
    padded = sf_graph_find_edge(g, "padded");
    ck_assert_int_ge(find_alias(g, p, "abc", "padded", &off), 0);
    ck_assert_int_eq(off, 64);
    ck_assert_uint_eq(p->alloc_bytes[padded], 6 * 4 * 8 * 4 + 64);
    ck_assert_uint_eq(p->layout[padded].offset, 0);
    sf_exec_free(ex);
    outputs_free(&r);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_alias_shift_as_large_as_the_dim_copies)
{
    sf_graph_t *g = load_shift(-4);
    sf_exec_t *ex = NULL;
    outputs_t r = run(g, sf_device_meta(), true, &ex);
    int64_t off;
    ck_assert_int_eq(find_alias(g, sf_exec_plan(ex), "abc", "padded", &off), -1);
    sf_exec_free(ex);
    outputs_free(&r);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_alias_cli_explain_json_and_bad_value)
{
    char args[4400];
    char *out = NULL;
    snprintf(args, sizeof args, "plan '%s' --world 2 --explain",
             tu_src("graphs/eagle3_target.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 0);
    ck_assert_msg(strstr(out, "rank 1: 5 buffers computed in place:") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "logits_cat               into target_all               at byte "
                              "-4000 (slot of node 'pad_target')") != NULL,
                  "%s", out);
    free(out);
    snprintf(args, sizeof args, "plan '%s' --world 2 --json --alias off",
             tu_src("graphs/eagle3_target.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 0);
    ck_assert_msg(strstr(out, "\"alias\":\"off\"") != NULL && strstr(out, "\"n_aliases\":0") != NULL &&
                      strstr(out, "\"floor_bytes\":") != NULL,
                  "%s", out);
    free(out);
    snprintf(args, sizeof args, "run '%s' --alias maybe", tu_src("tests/graphs/in_place.yaml"));
    ck_assert_int_eq(tu_sf(args, &out), 2);
    ck_assert_msg(strstr(out, "--alias expects on or off, got 'maybe'") != NULL, "%s", out);
    free(out);
}
END_TEST

/* A bf16 target: the cast is a copy, so the received rows are computed
 * straight into it (and on through the concat and the pad): the exchange
 * lands in the target. Same bytes as the copying plan, on 2 UCX ranks. */
START_TEST(test_alias_received_rows_land_in_a_bf16_target)
{
    const char *sets = "--set target_dtype=bf16 --set vocab_size=1024";
    const char *modes[] = {"all_to_all", "all_gather"}, *recv[] = {"logits_rows", "logits_full"};
    for (int m = 0; m < 2; m++) {
        char args[4400], line[128];
        char *out = NULL;
        snprintf(args, sizeof args, "plan '%s' --world 2 --explain --set redistribution=%s %s",
                 tu_src("graphs/eagle3_target.yaml"), modes[m], sets);
        ck_assert_int_eq(tu_sf(args, &out), 0);
        snprintf(line, sizeof line, "  %-24s into %-24s at byte 0 (slot of node 'to_f32')", recv[m],
                 "logits_f");
        ck_assert_msg(strstr(out, line) != NULL, "no '%s' in:\n%s", line, out);
        free(out);
        char flags[512];
        snprintf(flags, sizeof flags, "--set redistribution=%s %s", modes[m], sets);
        const char *on = tu_run_graph(tu_src("graphs/eagle3_target.yaml"), 2, flags);
        snprintf(flags, sizeof flags, "--set redistribution=%s %s --alias off", modes[m], sets);
        const char *off = tu_run_graph(tu_src("graphs/eagle3_target.yaml"), 2, flags);
        tu_expect_same_ranks(on, off, 2, modes[m]);
    }
}
END_TEST

/* Residual steps with in_place all_reduces and adds
 * (tests/graphs/residual_in_place.yaml, 64 x 16 bf16 = 2048 B a buffer):
 * the partial sum, the reduced sum and the new residual share one buffer,
 * so the peak is h and that one (4096 B) instead of three (6144 B); the
 * same bytes as the copying plan, over the two-rank and the ring
 * all_reduce, and plan == run. */
START_TEST(test_alias_residual_all_reduce_and_add_in_place)
{
    const char *g = tu_src("tests/graphs/residual_in_place.yaml");
    for (int w = 2; w <= 3; w++) {
        char dir[4200], what[64];
        snprintf(dir, sizeof dir, "%s", tu_run_graph(g, w, "--set in_place=false"));
        snprintf(what, sizeof what, "world %d", w);
        tu_expect_same_ranks(dir, tu_run_graph(g, w, "--set in_place=true"), w, what);
        for (int ip = 0; ip < 2; ip++) {
            char plan[4400], run[4400];
            snprintf(plan, sizeof plan, "plan '%s' --world %d --set in_place=%s", g, w,
                     ip ? "true" : "false");
            snprintf(run, sizeof run, "run --nproc %d '%s' --set in_place=%s", w, g,
                     ip ? "true" : "false");
            for (int r = 0; r < w; r++) {
                long long planned = tu_json_rank_field(plan, r, "peak_bytes");
                ck_assert_int_eq(planned, (ip ? 4096 : 6144));
                ck_assert_int_eq(planned, tu_json_rank_field(run, r, "peak_bytes"));
            }
        }
    }
}
END_TEST

int main(void)
{
    sf_ops_register_all();
    Suite *s = suite_create("alias");
    TCase *tc = tcase_create("alias");
    tcase_add_test(tc, test_alias_outputs_identical_and_plan_equals_run);
    tcase_add_test(tc, test_alias_slots_and_margins);
    tcase_add_test(tc, test_alias_shift_as_large_as_the_dim_copies);
    tcase_add_test(tc, test_alias_cli_explain_json_and_bad_value);
    tcase_add_test(tc, test_alias_received_rows_land_in_a_bf16_target);
    tcase_add_test(tc, test_alias_residual_all_reduce_and_add_in_place);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
