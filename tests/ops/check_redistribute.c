/* The redistribute op end to end over real ranks: all_gather and all_to_all
 * give bit-identical batch shards, both equal to the rows cut from the full
 * tensor; uneven shards gather (all_gatherv) to the full tensor; planned
 * peaks equal measured ones on every rank; shape rules. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "graph.h"
#include "safetensors.h"
#include "test_util.h"

/* Bytes of tensor `name` in DIR/rank<R>.safetensors (malloc'd). */
static void *read_tensor(const char *dir, int rank, const char *name, size_t *n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/rank%d.safetensors", dir, rank);
    sf_st_file_t *f = NULL;
    sf_err_t err = {0};
    ck_assert_int_eq(sf_st_open(path, &f, &err), SF_OK);
    int i = sf_st_find(f, name);
    ck_assert_int_ge(i, 0);
    sf_tensor_t t;
    const void *data;
    sf_st_get(f, i, &t, &data);
    *n = sf_tensor_nbytes(&t);
    void *copy = malloc(*n + 1);
    memcpy(copy, data, *n);
    sf_st_close(f);
    return copy;
}

static void run_mode(int nproc, const char *mode, const char *dir, const char *extra)
{
    char args[2048];
    snprintf(args, sizeof args, "run --nproc %d %s --set mode=%s %s --out %s --timeout 60",
             nproc, tu_src("tests/graphs/redistribute_small.yaml"), mode, extra, dir);
    char *out = NULL;
    int rc = tu_sf(args, &out);
    if (rc != 0)
        fprintf(stderr, "%s\n", out);
    ck_assert_int_eq(rc, 0);
    free(out);
}

static void check_modes_agree(int nproc)
{
    const char *dir_ag = tu_tmpdir(), *dir_a2a = tu_tmpdir();
    run_mode(nproc, "all_gather", dir_ag, "");
    run_mode(nproc, "all_to_all", dir_a2a, "");
    for (int r = 0; r < nproc; r++) {
        size_t n1, n2, n3;
        void *ag = read_tensor(dir_ag, r, "shard", &n1);
        void *a2a = read_tensor(dir_a2a, r, "shard", &n2);
        void *want = read_tensor(dir_ag, r, "expected", &n3);
        /* 12 tokens / nproc rows of 12 bf16 */
        ck_assert_uint_eq(n1, (size_t)(12 / nproc) * 12 * 2);
        ck_assert_uint_eq(n2, n1);
        ck_assert_uint_eq(n3, n1);
        ck_assert_int_eq(memcmp(ag, want, n1), 0);
        ck_assert_int_eq(memcmp(a2a, want, n1), 0);
        free(ag);
        free(a2a);
        free(want);
    }
}

START_TEST(test_redistribute_modes_agree_2_ranks) { check_modes_agree(2); }
END_TEST
START_TEST(test_redistribute_modes_agree_3_ranks) { check_modes_agree(3); }
END_TEST
START_TEST(test_redistribute_modes_agree_4_ranks) { check_modes_agree(4); }
END_TEST

/* Uneven shards (2, 4, 6 on 3 ranks) gathered back, an all_gatherv along
 * the last dim and along the first: both equal the full tensor. */
START_TEST(test_redistribute_uneven_gather_is_the_full_tensor)
{
    /* Written here, not under tests/graphs: it only loads on 3 ranks, and
     * every graph there must load on one. */
    static const char graph[] =
        "name: redistribute_uneven\n"
        "params:\n"
        "  tokens: 12\n"
        "  vocab: 12\n"
        "  seed: 7\n"
        "nodes:\n"
        "  - {name: full, op: random, out: [full],\n"
        "     attrs: {shape: [tokens, vocab], dtype: bf16, seed: \"${seed}\", dist: normal}}\n"
        "  - {name: my_vocab, op: slice, in: [full], out: [cols],\n"
        "     attrs: {dim: 1, start: \"rank * (rank + 1)\", stop: \"(rank + 1) * (rank + 2)\"}}\n"
        "  - {name: gather_cols, op: redistribute, in: [cols], out: [from_cols],\n"
        "     attrs: {from: \"shard(1)\", to: replicated, via: all_gather, sizes: [2, 4, 6]}}\n"
        "  - {name: my_rows, op: slice, in: [full], out: [rows],\n"
        "     attrs: {dim: 0, start: \"rank * (rank + 1)\", stop: \"(rank + 1) * (rank + 2)\"}}\n"
        "  - {name: gather_rows, op: redistribute, in: [rows], out: [from_rows],\n"
        "     attrs: {from: \"shard(0)\", to: replicated, via: all_gather, sizes: [2, 4, 6]}}\n"
        "outputs: [from_cols, from_rows, full]\n"
        ;
    const char *dir = tu_tmpdir();
    char path[1024], args[2048];
    snprintf(path, sizeof path, "%s/redistribute_uneven.yaml", dir);
    ck_assert_int_eq(tu_write_file(path, graph), 0);
    snprintf(args, sizeof args, "run --nproc 3 %s --out %s --timeout 60", path, dir);
    char *out = NULL;
    int rc = tu_sf(args, &out);
    if (rc != 0)
        fprintf(stderr, "%s\n", out);
    ck_assert_int_eq(rc, 0);
    free(out);
    for (int r = 0; r < 3; r++) {
        size_t n_full, n_cols, n_rows;
        void *full = read_tensor(dir, r, "full", &n_full);
        void *cols = read_tensor(dir, r, "from_cols", &n_cols);
        void *rows = read_tensor(dir, r, "from_rows", &n_rows);
        ck_assert_uint_eq(n_full, 12 * 12 * 2);
        ck_assert_uint_eq(n_cols, n_full);
        ck_assert_uint_eq(n_rows, n_full);
        ck_assert_int_eq(memcmp(cols, full, n_full), 0);
        ck_assert_int_eq(memcmp(rows, full, n_full), 0);
        free(full);
        free(cols);
        free(rows);
    }
}
END_TEST

static double rank_peak(const char *json_text, int r)
{
    const char *p = strstr(json_text, "{\"graph\"");
    ck_assert_ptr_nonnull(p);
    cJSON *j = cJSON_Parse(p);
    ck_assert_ptr_nonnull(j);
    cJSON *o = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "ranks"), r);
    ck_assert_ptr_nonnull(o);
    double v = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "peak_bytes"));
    cJSON_Delete(j);
    return v;
}

START_TEST(test_redistribute_plan_equals_run_per_rank)
{
    const char *modes[] = {"all_gather", "all_to_all"};
    for (int m = 0; m < 2; m++) {
        char args[2048];
        char *planned = NULL, *measured = NULL;
        snprintf(args, sizeof args, "plan %s --world 3 --set mode=%s --json",
                 tu_src("tests/graphs/redistribute_small.yaml"), modes[m]);
        ck_assert_int_eq(tu_sf(args, &planned), 0);
        snprintf(args, sizeof args, "run --nproc 3 %s --set mode=%s --json --timeout 60",
                 tu_src("tests/graphs/redistribute_small.yaml"), modes[m]);
        ck_assert_int_eq(tu_sf(args, &measured), 0);
        for (int r = 0; r < 3; r++)
            ck_assert_double_eq(rank_peak(planned, r), rank_peak(measured, r));
        free(planned);
        free(measured);
    }
}
END_TEST

static sf_status_t load_world(const char *yaml, int rank, int world, sf_graph_t **g, sf_err_t *err)
{
    char path[512];
    snprintf(path, sizeof path, "%s/g.yaml", tu_tmpdir());
    ck_assert_int_eq(tu_write_file(path, yaml), 0);
    return sf_graph_load_file_ranked(path, NULL, 0, rank, world, g, err);
}

START_TEST(test_redistribute_shape_rules)
{
    /* (6, 4) shard of the vocab on 2 ranks: gather -> (6, 8); to shard(0) -> (3, 8);
     * uneven sizes [4, 2] -> rank 0 gets (4, 8), rank 1 (2, 8). */
    const char *yaml =
        "name: shapes\n"
        "nodes:\n"
        "  - {name: x, op: fill, out: [x], attrs: {shape: [6, 4], dtype: f32}}\n"
        "  - {name: ag, op: redistribute, in: [x], out: [g], attrs: {from: 'shard(1)', to: replicated}}\n"
        "  - {name: a2a, op: redistribute, in: [x], out: [s], attrs: {from: 'shard(1)', to: 'shard(0)'}}\n"
        "  - {name: uneven, op: redistribute, in: [x], out: [u],\n"
        "     attrs: {from: 'shard(-1)', to: 'shard(0)', sizes: [4, 2]}}\n"
        "outputs: [g, s, u]\n";
    sf_err_t err = {0};
    sf_graph_t *g = NULL;
    for (int rank = 0; rank < 2; rank++) {
        ck_assert_int_eq(load_world(yaml, rank, 2, &g, &err), SF_OK);
        const sf_tensor_t *t = &g->edges[sf_graph_find_edge(g, "g")].layout;
        ck_assert_int_eq(t->shape[0], 6);
        ck_assert_int_eq(t->shape[1], 8);
        t = &g->edges[sf_graph_find_edge(g, "s")].layout;
        ck_assert_int_eq(t->shape[0], 3);
        ck_assert_int_eq(t->shape[1], 8);
        t = &g->edges[sf_graph_find_edge(g, "u")].layout;
        ck_assert_int_eq(t->shape[0], rank == 0 ? 4 : 2);
        sf_graph_free(g);
    }
    /* 6 rows do not split over 4 ranks; the error names the node and both numbers. */
    ck_assert_int_eq(load_world(yaml, 0, 4, &g, &err), SF_ERR_GRAPH);
    ck_assert_ptr_nonnull(strstr(err.msg, "node 'a2a'"));
    ck_assert_ptr_nonnull(strstr(err.msg, "world 4"));
    ck_assert_int_eq(err.line, 5);
    /* A placement change no collective makes. */
    sf_err_clear(&err);
    const char *bad = "name: bad\n"
                      "nodes:\n"
                      "  - {name: x, op: fill, out: [x], attrs: {shape: [4], dtype: f32}}\n"
                      "  - {name: r, op: redistribute, in: [x], out: [y], attrs: {from: replicated, to: 'shard(0)'}}\n"
                      "outputs: [y]\n";
    ck_assert_int_eq(load_world(bad, 0, 2, &g, &err), SF_ERR_GRAPH);
    ck_assert_ptr_nonnull(strstr(err.msg, "no collective moves replicated to shard(0)"));
    /* via must agree with from/to. */
    sf_err_clear(&err);
    const char *via = "name: via\n"
                      "nodes:\n"
                      "  - {name: x, op: fill, out: [x], attrs: {shape: [4, 2], dtype: f32}}\n"
                      "  - {name: r, op: redistribute, in: [x], out: [y],\n"
                      "     attrs: {from: 'shard(1)', to: replicated, via: all_to_all}}\n"
                      "outputs: [y]\n";
    ck_assert_int_eq(load_world(via, 0, 2, &g, &err), SF_ERR_GRAPH);
    ck_assert_ptr_nonnull(strstr(err.msg, "is an all_gather, not all_to_all"));
}
END_TEST

int main(void)
{
    sf_ops_register_all();
    Suite *s = suite_create("redistribute");
    TCase *tc = tcase_create("shapes");
    tcase_add_test(tc, test_redistribute_shape_rules);
    suite_add_tcase(s, tc);
    tc = tcase_create("ranks");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_redistribute_modes_agree_2_ranks);
    tcase_add_test(tc, test_redistribute_modes_agree_3_ranks);
    tcase_add_test(tc, test_redistribute_modes_agree_4_ranks);
    tcase_add_test(tc, test_redistribute_plan_equals_run_per_rank);
    tcase_add_test(tc, test_redistribute_uneven_gather_is_the_full_tensor);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
