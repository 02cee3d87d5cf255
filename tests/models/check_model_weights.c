/* The weight op and checkpoints: a rank's synthetic slice is bit for bit
 * the same slice of the tp = 1 tensor, export-model's checkpoint reads back
 * bit for bit, misshaped and missing tensors are named, and the loader
 * defines the model's params and runs weight nodes on the cpu. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "exec.h"
#include "graph.h"
#include "model_config.h"
#include "model_harness.h"
#include "model_tensors.h"
#include "op_harness.h"
#include "safetensors.h"
#include "test_util.h"
#include "weight.h"

/* --- the weight op ------------------------------------------------------------ */

typedef struct wspec {
    const char *model;
    const char *name;
    int ndim;
    int64_t shape[2];
    const char *shard;
    int64_t pad_rows;
    int64_t head_dim;
    const char *fallback;
    bool is_tied;
} wspec_t;

static oh_node_t *weight_node(const wspec_t *w, int rank, int world)
{
    oh_node_t *h = oh_node_new("weight", "w");
    oh_set_str(h, "model", w->model);
    oh_set_str(h, "name", w->name);
    oh_set_ints(h, "shape", w->shape, w->ndim);
    oh_set_str(h, "shard", w->shard);
    oh_set_int(h, "pad_rows", w->pad_rows);
    oh_set_int(h, "head_dim", w->head_dim);
    oh_set_int(h, "seed", 1);
    oh_set_dtype(h, "dtype", SF_DTYPE_BF16);
    if (w->fallback != NULL)
        oh_set_str(h, "fallback", w->fallback);
    oh_set_bool(h, "tied", w->is_tied);
    h->node.rank = rank;
    h->node.world = world;
    return h;
}

/* Run the op; the output (owned by the caller, oh_tensor_free) or a failure. */
static sf_status_t weight_run(const wspec_t *w, int rank, int world, sf_tensor_t *out,
                              sf_err_t *err)
{
    oh_node_t *h = weight_node(w, rank, world);
    sf_err_clear(err);
    sf_status_t st = oh_run(h, NULL, 0, out, 1, err);
    if (st != SF_OK && out->buf != NULL)
        oh_tensor_free(out);
    oh_node_free(h);
    return st;
}

static sf_tensor_t weight_ok(const wspec_t *w, int rank, int world)
{
    sf_tensor_t out = {0};
    sf_err_t err;
    sf_status_t st = weight_run(w, rank, world, &out, &err);
    if (st != SF_OK)
        sf_err_print(&err, stderr);
    ck_assert_int_eq(st, SF_OK);
    return out;
}

/* Rows [r0, r0 + rows) and columns [c0, c0 + cols) of full (2-D bf16) equal part. */
static void expect_block(const sf_tensor_t *full, const sf_tensor_t *part, int64_t r0, int64_t c0)
{
    int64_t rows = part->shape[0], cols = part->ndim > 1 ? part->shape[1] : 1;
    int64_t full_cols = full->ndim > 1 ? full->shape[1] : 1;
    const uint16_t *f = sf_tensor_data(full), *p = sf_tensor_data(part);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            ck_assert_msg(p[r * cols + c] == f[(r0 + r) * full_cols + c0 + c],
                          "element [%lld,%lld] of the slice differs", (long long)r,
                          (long long)c);
}

START_TEST(test_weight_shard0_slices_equal_tp1)
{
    wspec_t w = {"synthetic:tiny", "model.layers.3.mlp.up_proj.weight", 2, {128, 64}, "shard(0)"};
    sf_tensor_t full = weight_ok(&w, 0, 1);
    ck_assert_int_eq(full.shape[0], 128);
    for (int r = 0; r < 2; r++) {
        sf_tensor_t part = weight_ok(&w, r, 2);
        ck_assert_int_eq(part.ndim, 2);
        ck_assert_int_eq(part.shape[0], 64);
        ck_assert_int_eq(part.shape[1], 64);
        expect_block(&full, &part, 64 * r, 0);
        oh_tensor_free(&part);
    }
    /* Values are N(0, 0.02^2)-like: mean ~0, std ~0.02, nothing zero. */
    double sum = 0, sq = 0;
    int n = 128 * 64, zeros = 0;
    for (int i = 0; i < n; i++) {
        double v = oh_get(&full, i);
        sum += v;
        sq += v * v;
        zeros += v == 0.0;
    }
    double mean = sum / n, sd = sqrt(sq / n - mean * mean);
    ck_assert_msg(fabs(mean) < 0.002 && sd > 0.018 && sd < 0.022, "mean %g std %g", mean, sd);
    ck_assert_int_lt(zeros, 10);
    oh_tensor_free(&full);
}
END_TEST

START_TEST(test_weight_shard1_slices_equal_tp1)
{
    wspec_t w = {"synthetic:tiny", "model.layers.3.mlp.down_proj.weight", 2, {64, 128}, "shard(1)"};
    sf_tensor_t full = weight_ok(&w, 0, 1);
    for (int r = 0; r < 2; r++) {
        sf_tensor_t part = weight_ok(&w, r, 2);
        ck_assert_int_eq(part.shape[0], 64);
        ck_assert_int_eq(part.shape[1], 64);
        expect_block(&full, &part, 0, 64 * r);
        oh_tensor_free(&part);
    }
    oh_tensor_free(&full);
}
END_TEST

START_TEST(test_weight_vocab_padding_rows_are_zero)
{
    wspec_t w = {"synthetic:tiny", "model.embed_tokens.weight", 2, {1000, 64}, "shard(0)", 1024};
    sf_tensor_t full = weight_ok(&w, 0, 1);
    ck_assert_int_eq(full.shape[0], 1024);
    sf_tensor_t r1 = weight_ok(&w, 1, 2);
    ck_assert_int_eq(r1.shape[0], 512);
    /* Rows 512..999 are vocab rows, 1000..1023 (local 488..511) padding. */
    sf_tensor_t valid = r1;
    valid.shape[0] = 488;
    expect_block(&full, &valid, 512, 0);
    const uint16_t *p = sf_tensor_data(&r1), *f = sf_tensor_data(&full);
    for (int64_t i = 488 * 64; i < 512 * 64; i++)
        ck_assert_uint_eq(p[i], 0);
    for (int64_t i = 1000 * 64; i < 1024 * 64; i++)
        ck_assert_uint_eq(f[i], 0);
    ck_assert_uint_ne(f[999 * 64 + 63], 0);
    oh_tensor_free(&r1);
    oh_tensor_free(&full);
}
END_TEST

START_TEST(test_weight_norm_init_is_one_plus_noise)
{
    wspec_t w = {"synthetic:tiny", "model.layers.0.input_layernorm.weight", 1, {64}, "replicated"};
    sf_tensor_t t = weight_ok(&w, 1, 2);
    ck_assert_int_eq(t.ndim, 1);
    ck_assert_int_eq(t.shape[0], 64);
    int n_not_one = 0;
    for (int i = 0; i < 64; i++) {
        double v = oh_get(&t, i);
        ck_assert_msg(v > 0.9 && v < 1.1, "norm weight %d is %g", i, v);
        n_not_one += v != 1.0;
    }
    ck_assert_int_gt(n_not_one, 32);
    oh_tensor_free(&t);
}
END_TEST

START_TEST(test_weight_kv_heads_replicated_when_fewer_than_tp)
{
    /* 2 kv heads of 16 rows over 4 ranks: ranks 0,1 hold head 0, ranks 2,3 head 1. */
    wspec_t w = {"synthetic:tiny", "model.layers.1.self_attn.k_proj.weight", 2, {32, 64},
                 "shard(0)", 0, 16};
    sf_tensor_t full = weight_ok(&w, 0, 1);
    for (int r = 0; r < 4; r++) {
        sf_tensor_t part = weight_ok(&w, r, 4);
        ck_assert_int_eq(part.shape[0], 16);
        expect_block(&full, &part, 16 * (r / 2), 0);
        oh_tensor_free(&part);
    }
    /* 2 ranks: one head each, a plain split. */
    sf_tensor_t r1 = weight_ok(&w, 1, 2);
    ck_assert_int_eq(r1.shape[0], 16);
    expect_block(&full, &r1, 16, 0);
    oh_tensor_free(&r1);
    oh_tensor_free(&full);
}
END_TEST

START_TEST(test_weight_shard_not_divisible_names_both)
{
    wspec_t w = {"synthetic:tiny", "x.weight", 2, {10, 64}, "shard(0)"};
    oh_node_t *h = weight_node(&w, 0, 4);
    sf_tensor_t out;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = oh_infer(h, NULL, 0, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "shard"), OH_ATTR_COL,
                  "dim 0 of size 10 does not divide by tp 4");
    oh_node_free(h);
    /* An unknown shard spelling. */
    wspec_t bad = {"synthetic:tiny", "x.weight", 2, {8, 8}, "shard(2)"};
    h = weight_node(&bad, 0, 2);
    sf_err_clear(&err);
    st = oh_infer(h, NULL, 0, &out, 1, &err);
    oh_assert_err(&err, st, SF_ERR_GRAPH, oh_attr_line(h, "shard"), OH_ATTR_COL,
                  "shard 'shard(2)', expected replicated, shard(0) or shard(1)");
    oh_node_free(h);
}
END_TEST

/* --- export-model and reading checkpoints -------------------------------------- */

static void export_to(const char *model, const char *dir, const char *extra, const char *gdir)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s export-model %s %s --graph-dir %s %s", tu_shardflow(), model,
             dir, gdir, extra);
    char *out = NULL;
    int rc = tu_run(cmd, &out);
    ck_assert_msg(rc == 0, "%s: exit %d: %s", cmd, rc, out ? out : "");
    free(out);
}

static sf_model_config_t config_of(const char *model)
{
    sf_model_config_t c;
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_model_config_load(model, tu_src("graphs"), &c, &err), SF_OK);
    return c;
}

static wspec_t spec_of(const sf_model_tensor_t *t, const char *model)
{
    wspec_t w = {model, t->name, t->ndim, {t->shape[0], t->shape[1]},
                 sf_model_shard_name(t->shard_dim), t->pad_rows, t->head_rows};
    return w;
}

static void expect_same(const sf_tensor_t *a, const sf_tensor_t *b, const char *what)
{
    ck_assert_int_eq(a->ndim, b->ndim);
    for (int d = 0; d < a->ndim; d++)
        ck_assert_int_eq(a->shape[d], b->shape[d]);
    ck_assert_msg(memcmp(sf_tensor_data(a), sf_tensor_data(b), sf_tensor_nbytes(a)) == 0,
                  "%s differs", what);
}

START_TEST(test_export_reads_back_bit_for_bit)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/ckpt", tu_tmpdir());
    export_to("synthetic:tiny", dir, "--shards 2", tu_src("graphs"));
    char path[4400];
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    sf_model_config_t c = config_of("synthetic:tiny");
    sf_model_tensor_t *t;
    int n;
    sf_model_tensors_list(&c, &t, &n);
    ck_assert_int_eq(n, 1 + 8 * 11 + 2);
    for (int i = 0; i < n; i++) {
        wspec_t syn = spec_of(&t[i], "synthetic:tiny"), hf = spec_of(&t[i], dir);
        for (int world = 1; world <= 2; world++)
            for (int r = 0; r < world; r++) {
                sf_tensor_t a = weight_ok(&syn, r, world), b = weight_ok(&hf, r, world);
                expect_same(&a, &b, t[i].name);
                oh_tensor_free(&a);
                oh_tensor_free(&b);
            }
    }
    free(t);
    /* The folder is also a model for the provider: the same sizes. */
    md_defs_t d = md_provide_ok(dir, 2);
    ck_assert_int_eq(md_def_int(&d, "vocab_padded"), 1024);
    ck_assert_int_eq(md_def_int(&d, "synthetic_seed"), 0);
    md_defs_free(&d);
    sf_weight_cache_clear();
}
END_TEST

START_TEST(test_export_refuses_nonempty_dir)
{
    const char *dir = tu_tmpdir();
    char path[4200], cmd[8192];
    snprintf(path, sizeof path, "%s/keep.txt", dir);
    ck_assert_int_eq(tu_write_file(path, "x"), 0);
    snprintf(cmd, sizeof cmd, "%s export-model synthetic:tiny %s --graph-dir %s", tu_shardflow(),
             dir, tu_src("graphs"));
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out), 2);
    ck_assert_msg(strstr(out, "exists and is not empty") != NULL, "output: %s", out);
    free(out);
    /* --overwrite writes it; one shard is a single model.safetensors, no index. */
    export_to("synthetic:tiny", dir, "--overwrite --dtype f32", tu_src("graphs"));
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    sf_st_file_t *f = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_st_open(path, &f, &err), SF_OK);
    ck_assert_int_eq(sf_st_count(f), 91);
    sf_tensor_t layout;
    const void *data;
    sf_st_get(f, sf_st_find(f, "lm_head.weight"), &layout, &data);
    ck_assert_int_eq(layout.dtype, SF_DTYPE_F32);
    ck_assert_int_eq(layout.shape[0], 1000);
    sf_st_close(f);
    /* f32 in the file, bf16 asked: the same rounding as the synthetic op. */
    wspec_t syn = {"synthetic:tiny", "lm_head.weight", 2, {1000, 64}, "shard(0)", 1024};
    wspec_t hf = syn;
    hf.model = dir;
    sf_tensor_t a = weight_ok(&syn, 1, 2), b = weight_ok(&hf, 1, 2);
    expect_same(&a, &b, "lm_head.weight from f32");
    oh_tensor_free(&a);
    oh_tensor_free(&b);
    sf_weight_cache_clear();
}
END_TEST

/* A folder with one model.safetensors holding a single tensor. */
static const char *one_tensor_ckpt(const char *name, int64_t d0, int64_t d1)
{
    const char *dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    sf_tensor_t t = oh_tensor_new(SF_DTYPE_BF16, 2, OH_SHAPE(d0, d1));
    sf_st_entry_t e = {name, &t};
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_st_write(path, &e, 1, false, &err), SF_OK);
    oh_tensor_free(&t);
    return dir;
}

START_TEST(test_weight_misshaped_tensor_error)
{
    const char *dir = one_tensor_ckpt("model.layers.3.mlp.up_proj.weight", 128, 64);
    wspec_t w = {dir, "model.layers.3.mlp.up_proj.weight", 2, {128, 32}, "shard(0)"};
    sf_tensor_t out = {0};
    sf_err_t err;
    sf_status_t st = weight_run(&w, 0, 2, &out, &err);
    md_expect_err(st, &err, SF_ERR_INPUT,
                  "model.layers.3.mlp.up_proj.weight in model.safetensors has shape [128,64], "
                  "expected [128,32]");
    sf_weight_cache_clear();
}
END_TEST

START_TEST(test_weight_misshaped_in_sharded_export)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/ckpt", tu_tmpdir());
    export_to("synthetic:tiny", dir, "--shards 2", tu_src("graphs"));
    /* Layer 5's up_proj is table entry 1 + 5 * 11 + 9 = 65 of 91: the second file. */
    wspec_t w = {dir, "model.layers.5.mlp.up_proj.weight", 2, {128, 32}, "shard(0)"};
    sf_tensor_t out = {0};
    sf_err_t err;
    md_expect_err(weight_run(&w, 0, 1, &out, &err), &err, SF_ERR_INPUT,
                  "model.layers.5.mlp.up_proj.weight in model-00002-of-00002.safetensors has "
                  "shape [128,64], expected [128,32]");
    wspec_t missing = {dir, "model.layers.8.mlp.up_proj.weight", 2, {128, 64}, "shard(0)"};
    md_expect_err(weight_run(&missing, 0, 1, &out, &err), &err, SF_ERR_INPUT,
                  "model.layers.8.mlp.up_proj.weight is not in the checkpoint");
    sf_weight_cache_clear();
}
END_TEST

START_TEST(test_weight_missing_tensor_error)
{
    const char *dir = one_tensor_ckpt("model.norm.weight", 1, 64);
    wspec_t w = {dir, "model.layers.0.mlp.up_proj.weight", 2, {128, 64}, "shard(0)"};
    sf_tensor_t out = {0};
    sf_err_t err;
    sf_status_t st = weight_run(&w, 0, 1, &out, &err);
    md_expect_err(st, &err, SF_ERR_INPUT,
                  "model.layers.0.mlp.up_proj.weight is not in the checkpoint");
    w.fallback = "model.embed_tokens.weight";
    st = weight_run(&w, 0, 1, &out, &err);
    md_expect_err(st, &err, SF_ERR_INPUT, "nor its fallback model.embed_tokens.weight");
    /* No safetensors at all. */
    w.model = tu_tmpdir();
    st = weight_run(&w, 0, 1, &out, &err);
    md_expect_err(st, &err, SF_ERR_INPUT,
                  "neither model.safetensors nor model.safetensors.index.json");
    sf_weight_cache_clear();
}
END_TEST

START_TEST(test_weight_tied_lm_head_uses_embed_tokens)
{
    /* A tied preset of its own, exported: the checkpoint has no lm_head. */
    const char *gdir = tu_tmpdir();
    char path[4200], text[2048];
    snprintf(path, sizeof path, "%s/models", gdir);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    char *tiny = tu_read_file(tu_src("graphs/models/tiny.yaml"), NULL);
    ck_assert_ptr_nonnull(tiny);
    char *tie = strstr(tiny, "tie_word_embeddings: false");
    ck_assert_ptr_nonnull(tie);
    snprintf(text, sizeof text, "%.*stie_word_embeddings: true%s", (int)(tie - tiny), tiny,
             tie + strlen("tie_word_embeddings: false"));
    free(tiny);
    snprintf(path, sizeof path, "%s/models/tied.yaml", gdir);
    ck_assert_int_eq(tu_write_file(path, text), 0);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/ckpt", tu_tmpdir());
    export_to("synthetic:tied", dir, "--shards 3", gdir);

    wspec_t embed = {"synthetic:tiny", "model.embed_tokens.weight", 2, {1000, 64}, "shard(0)", 1024};
    wspec_t lm = {dir, "lm_head.weight", 2, {1000, 64}, "shard(0)", 1024, 0,
                  "model.embed_tokens.weight"};
    wspec_t lm_syn = lm;
    lm_syn.model = "synthetic:tiny";
    lm_syn.is_tied = true;
    for (int r = 0; r < 2; r++) {
        sf_tensor_t e = weight_ok(&embed, r, 2), a = weight_ok(&lm, r, 2),
                    b = weight_ok(&lm_syn, r, 2);
        expect_same(&e, &a, "lm_head from the checkpoint");
        expect_same(&e, &b, "tied synthetic lm_head");
        oh_tensor_free(&e);
        oh_tensor_free(&a);
        oh_tensor_free(&b);
    }
    /* Untied synthetic lm_head has values of its own. */
    lm_syn.is_tied = false;
    sf_tensor_t e = weight_ok(&embed, 0, 1), u = weight_ok(&lm_syn, 0, 1);
    ck_assert_int_ne(memcmp(sf_tensor_data(&e), sf_tensor_data(&u), 64 * 2), 0);
    oh_tensor_free(&e);
    oh_tensor_free(&u);
    /* Without the fallback the tied checkpoint has no lm_head. */
    lm.fallback = NULL;
    sf_tensor_t out = {0};
    sf_err_t err;
    md_expect_err(weight_run(&lm, 0, 1, &out, &err), &err, SF_ERR_INPUT,
                  "lm_head.weight is not in the checkpoint");
    sf_weight_cache_clear();
}
END_TEST

/* --- through the loader -------------------------------------------------------- */

static const char *graph_dir_with_tiny(void)
{
    const char *gdir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/models", gdir);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    char *tiny = tu_read_file(tu_src("graphs/models/tiny.yaml"), NULL);
    snprintf(path, sizeof path, "%s/models/tiny.yaml", gdir);
    ck_assert_int_eq(tu_write_file(path, tiny), 0);
    free(tiny);
    snprintf(path, sizeof path, "%s/g.yaml", gdir);
    ck_assert_int_eq(
        tu_write_file(path,
                      "name: weights\n"
                      "params:\n"
                      "  model: synthetic:tiny\n"
                      "nodes:\n"
                      "  - {name: up, op: weight, out: [w_up], attrs: {model: \"${model}\",\n"
                      "     name: model.layers.2.mlp.up_proj.weight, shard: shard(0),\n"
                      "     shape: [intermediate_size, hidden_size], dtype: \"${model_dtype}\",\n"
                      "     seed: synthetic_seed}}\n"
                      "  - {name: emb, op: weight, out: [w_emb], attrs: {model: \"${model}\",\n"
                      "     name: model.embed_tokens.weight, shard: shard(0), pad_rows: vocab_padded,\n"
                      "     shape: [vocab_size, hidden_size], dtype: \"${model_dtype}\",\n"
                      "     seed: synthetic_seed}}\n"
                      "outputs: [w_up, w_emb]\n"),
        0);
    return gdir;
}

START_TEST(test_loader_defines_model_params)
{
    const char *gdir = graph_dir_with_tiny();
    char path[4200];
    snprintf(path, sizeof path, "%s/g.yaml", gdir);
    sf_graph_t *g = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_graph_load_file_ranked(path, NULL, 0, 1, 2, &g, &err);
    if (st != SF_OK)
        sf_err_print(&err, stderr);
    ck_assert_int_eq(st, SF_OK);
    const sf_param_t *p = sf_graph_find_param(g, "vocab_per_rank");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->value.i, 512);
    const sf_edge_t *v = &g->edges[sf_graph_find_edge(g, "w_up")];
    ck_assert_int_eq(v->layout.shape[0], 64);
    ck_assert_int_eq(v->layout.shape[1], 64);
    ck_assert_int_eq(v->layout.dtype, SF_DTYPE_BF16);
    v = &g->edges[sf_graph_find_edge(g, "w_emb")];
    ck_assert_int_eq(v->layout.shape[0], 512);
    sf_graph_free(g);
    /* tp 3: refused at load, naming both numbers. */
    sf_err_clear(&err);
    st = sf_graph_load_file_ranked(path, NULL, 0, 0, 3, &g, &err);
    ck_assert_int_eq(st, SF_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "num_attention_heads 4 does not divide by tp 3") != NULL,
                  "message '%s'", err.msg);
}
END_TEST

START_TEST(test_loader_runs_weights_on_cpu)
{
    const char *gdir = graph_dir_with_tiny();
    char path[4200];
    snprintf(path, sizeof path, "%s/g.yaml", gdir);
    sf_graph_t *g = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_graph_load_file(path, NULL, 0, &g, &err), SF_OK);
    sf_exec_t *ex = NULL;
    sf_exec_opts_t o = {0};
    ck_assert_int_eq(sf_exec_new(g, sf_device_cpu(), &o, &ex, &err), SF_OK);
    sf_status_t st = sf_exec_run(ex, &err);
    if (st != SF_OK)
        sf_err_print(&err, stderr);
    ck_assert_int_eq(st, SF_OK);
    const sf_tensor_t *up = sf_exec_tensor(ex, sf_graph_find_edge(g, "w_up"));
    wspec_t w = {"synthetic:tiny", "model.layers.2.mlp.up_proj.weight", 2, {128, 64}, "shard(0)"};
    sf_tensor_t ref = weight_ok(&w, 0, 1);
    expect_same(&ref, up, "w_up through the executor");
    oh_tensor_free(&ref);
    sf_exec_free(ex);
    sf_graph_free(g);
}
END_TEST

static Suite *model_weights_suite(void)
{
    Suite *s = suite_create("model_weights");
    TCase *tc = tcase_create("weight");
    tcase_add_test(tc, test_weight_shard0_slices_equal_tp1);
    tcase_add_test(tc, test_weight_shard1_slices_equal_tp1);
    tcase_add_test(tc, test_weight_vocab_padding_rows_are_zero);
    tcase_add_test(tc, test_weight_norm_init_is_one_plus_noise);
    tcase_add_test(tc, test_weight_kv_heads_replicated_when_fewer_than_tp);
    tcase_add_test(tc, test_weight_shard_not_divisible_names_both);
    suite_add_tcase(s, tc);
    tc = tcase_create("checkpoint");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_export_reads_back_bit_for_bit);
    tcase_add_test(tc, test_export_refuses_nonempty_dir);
    tcase_add_test(tc, test_weight_misshaped_tensor_error);
    tcase_add_test(tc, test_weight_misshaped_in_sharded_export);
    tcase_add_test(tc, test_weight_missing_tensor_error);
    tcase_add_test(tc, test_weight_tied_lm_head_uses_embed_tokens);
    suite_add_tcase(s, tc);
    tc = tcase_create("loader");
    tcase_add_test(tc, test_loader_defines_model_params);
    tcase_add_test(tc, test_loader_runs_weights_on_cpu);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    sf_ops_register_all();
    sf_model_register();
    return tu_run_suite(model_weights_suite());
}
