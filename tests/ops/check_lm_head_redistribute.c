/* lm_head_redistribute: the fused, chunked lm_head + redistribution gives
 * every rank the same bytes as the node-by-node chain (tests/graphs/
 * head_exchange.yaml), over real UCX ranks, for tp 1-4, both collectives,
 * chunks that do not divide the tokens, uneven sizes, and with in-place
 * work off; the plan of the fused graph equals its run to the byte and
 * holds only two chunks; bad attrs are refused with the node named. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* Run graph `rel` with `args` on `world` ranks into a fresh folder. */
static const char *run_graph(const char *rel, int world, const char *args)
{
    return tu_run_graph(tu_src(rel), world, args);
}

static const char *run_into(int world, const char *args)
{
    return run_graph("tests/graphs/head_exchange.yaml", world, args);
}

START_TEST(test_fused_equals_chain_every_world_and_chunk)
{
    const char *modes[] = {"all_to_all", "all_gather"};
    int chunks[] = {1, 5, 7, 100};
    for (int m = 0; m < 2; m++)
        for (int w = 1; w <= 4; w++) {
            char args[256];
            snprintf(args, sizeof args, "--set mode=%s", modes[m]);
            const char *chain = run_into(w, args);
            for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
                char fused_args[256], what[128];
                snprintf(fused_args, sizeof fused_args, "--set mode=%s --set chunk=%d%s",
                         modes[m], chunks[c], c == 2 ? " --alias off" : "");
                snprintf(what, sizeof what, "%s tp %d chunk %d", modes[m], w, chunks[c]);
                tu_expect_same_ranks(chain, run_into(w, fused_args), w, what);
            }
        }
}
END_TEST

START_TEST(test_fused_uneven_sizes)
{
    const char *chain = run_into(3, "--set 'sizes=[6,21,9]'");
    tu_expect_same_ranks(chain, run_into(3, "--set 'sizes=[6,21,9]' --set chunk=4"), 3, "uneven chunk 4");
    tu_expect_same_ranks(chain, run_into(3, "--set 'sizes=[6,21,9]' --set chunk=7"), 3, "uneven chunk 7");
    const char *zero = run_into(3, "--set 'sizes=[0,27,9]'");
    tu_expect_same_ranks(zero, run_into(3, "--set 'sizes=[0,27,9]' --set chunk=5"), 3, "a rank with none");
}
END_TEST

static long long json_peak(const char *args, int rank)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s --json 2>&1", tu_shardflow(), args);
    char *out = NULL;
    ck_assert_msg(tu_run(cmd, &out) == 0, "%s\n%s", cmd, out);
    char key[64];
    snprintf(key, sizeof key, "\"rank\":%d,\"peak_bytes\":", rank);
    const char *p = strstr(out, key);
    ck_assert_msg(p != NULL, "%s", out);
    long long v = atoll(p + strlen(key));
    free(out);
    return v;
}

START_TEST(test_fused_plan_equals_run_and_holds_two_chunks)
{
    char plan[4400], run[4400];
    const char *g = tu_src("tests/graphs/head_exchange.yaml");
    const char *shape = "--set tokens=3600 --set vocab=4800 --set vocab_padded=4800";
    snprintf(plan, sizeof plan, "plan '%s' --world 2 --set chunk=5 %s", g, shape);
    snprintf(run, sizeof run, "run --nproc 2 '%s' --set chunk=5 %s", g, shape);
    long long planned = json_peak(plan, 1), measured = json_peak(run, 1);
    ck_assert_int_eq(planned, measured);
    /* Rank 1 (2400 vocab columns a shard, bf16): x 3600 x 16 = 115200 B,
     * w_full 4800 x 16 = 153600 B, target 600 x 3 x 4800 f32 = 34560000 B.
     * The node-by-node chain also holds the logits shard (3600 x 2400 bf16)
     * or the received rows (1800 x 4800 bf16), 17280000 B each; the fused
     * node holds two chunks (2 x 96000 B), one kept 512-row block of logits
     * per destination (2 x 2457600 B) and one matrix product's scratch
     * (at most 8 MiB). */
    long long x = 115200, w = 153600, target = 34560000, rows = 17280000;
    ck_assert_int_le(planned, x + w + target + 2 * 96000 + 2 * 2457600 + (8 << 20));
    snprintf(plan, sizeof plan, "plan '%s' --world 2 %s", g, shape);
    long long chain = json_peak(plan, 1);
    ck_assert_int_ge(chain, target + rows);
    ck_assert_int_lt(planned, chain);
}
END_TEST

/* The Eagle3 target graph itself: chunks that straddle matmul's 512-row
 * tiles give the same outputs as the node-by-node graph. */
START_TEST(test_fused_eagle3_equals_node_by_node)
{
    const char *modes[] = {"all_to_all", "all_gather"};
    for (int m = 0; m < 2; m++)
        for (int w = 1; w <= 4; w *= 2) {
            char base[512], args[600], what[128];
            snprintf(base, sizeof base,
                     "--set redistribution=%s --set batch=%d --set seq=300", modes[m], 2 * w);
            const char *chain = run_graph("graphs/eagle3_target.yaml", w, base);
            snprintf(args, sizeof args, "%s --set chunk_tokens=%d", base, w == 2 ? 130 : 7);
            snprintf(what, sizeof what, "eagle3 %s tp %d", modes[m], w);
            tu_expect_same_ranks(chain, run_graph("graphs/eagle3_target.yaml", w, args), w, what);
        }
}
END_TEST

START_TEST(test_fused_bad_attrs_refused)
{
    const char *g = tu_src("tests/graphs/head_exchange.yaml");
    char cmd[8192];
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "%s plan '%s' --world 2 --set chunk=4 --set 'sizes=[10,26]' 2>&1",
             tu_shardflow(), g);
    ck_assert_int_eq(tu_run(cmd, &out), 2);
    ck_assert_msg(strstr(out, "node 'fused'") != NULL &&
                      strstr(out, "not a whole number of sequences of 3") != NULL,
                  "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s plan '%s' --world 2 --set chunk=4 --set mode=all_reduce 2>&1",
             tu_shardflow(), g);
    ck_assert_int_eq(tu_run(cmd, &out), 2);
    ck_assert_msg(strstr(out, "via 'all_reduce', expected all_to_all or all_gather") != NULL,
                  "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s plan '%s' --world 5 --set chunk=4 2>&1", tu_shardflow(), g);
    ck_assert_int_eq(tu_run(cmd, &out), 2);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lm_head_redistribute");
    TCase *tc = tcase_create("fused");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fused_equals_chain_every_world_and_chunk);
    tcase_add_test(tc, test_fused_uneven_sizes);
    tcase_add_test(tc, test_fused_plan_equals_run_and_holds_two_chunks);
    tcase_add_test(tc, test_fused_bad_attrs_refused);
    tcase_add_test(tc, test_fused_eagle3_equals_node_by_node);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
