/* The Eagle3 teacher: the fused teacher_vp equals the unfused path (full
 * logits exchanged, then the teacher op) on every rank of real UCX runs of
 * tests/graphs/teacher_exchange.yaml, for tp 1-4, ties across shards, a
 * draft vocab in one shard, a vocab that does not divide evenly, loss_mask
 * 0 rows and positions loss (packed rows equal the padded rows they came
 * from); the unfused outputs equal SpecForge's formulas written plainly
 * here on the exchanged rows; the plan of the fused graph equals its run;
 * teacher_vp with defer_probs plus teacher_probs writes the same bytes as
 * teacher_vp alone; the bytes the comm counts as sent equal the computed
 * figure; draft_mask reads t2d and d2t and refuses bad ones; bad attrs are
 * refused with the node named, exit 2. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safetensors.h"
#include "test_util.h"

static const char *graph(void)
{
    return tu_src("tests/graphs/teacher_exchange.yaml");
}

static const char *run_into(int world, const char *args)
{
    return tu_run_graph(graph(), world, args);
}

static sf_st_file_t *open_rank(const char *dir, int r)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/rank%d.safetensors", dir, r);
    sf_st_file_t *f = NULL;
    sf_err_t err = {0};
    ck_assert_msg(sf_st_open(path, &f, &err) == SF_OK, "%s: %s", path, err.msg);
    return f;
}

/* Aligned copies of mapped tensors (a safetensors entry's data need not be
 * aligned for its dtype), released by free_copies. */
static void *copies[64];
static int n_copies;

static const void *get(sf_st_file_t *f, const char *name, sf_tensor_t *t)
{
    int i = sf_st_find(f, name);
    ck_assert_msg(i >= 0, "no tensor '%s'", name);
    const void *d = NULL;
    sf_st_get(f, i, t, &d);
    size_t n = (size_t)sf_tensor_numel(t) * sf_dtype_size(t->dtype);
    ck_assert_int_lt(n_copies, 64);
    void *c = malloc(n + 1);
    ck_assert_ptr_nonnull(c);
    memcpy(c, d, n);
    copies[n_copies++] = c;
    return c;
}

static void free_copies(void)
{
    while (n_copies > 0)
        free(copies[--n_copies]);
}

static bool close_rel(float a, float b)
{
    float m = fabsf(a) > fabsf(b) ? fabsf(a) : fabsf(b);
    return fabsf(a - b) <= 1e-6f * m;
}

/* The teacher outputs of a and b agree on every rank: ids, position_mask,
 * row_index identical, the probabilities within 1e-6 relative. */
static void expect_close(const char *a, const char *b, int world, const char *what)
{
    const char *ints[] = {"target_token_ids", "position_mask", "row_index"};
    const char *floats[] = {"target_p", "target_p_on_draft"};
    for (int r = 0; r < world; r++) {
        sf_st_file_t *fa = open_rank(a, r), *fb = open_rank(b, r);
        for (int k = 0; k < 3; k++) {
            sf_tensor_t ta, tb;
            const void *da = get(fa, ints[k], &ta), *db = get(fb, ints[k], &tb);
            ck_assert_msg(sf_tensor_numel(&ta) == sf_tensor_numel(&tb), "%s: %s shape", what,
                          ints[k]);
            ck_assert_msg(memcmp(da, db, (size_t)sf_tensor_numel(&ta) * 8) == 0,
                          "%s: rank %d %s differs", what, r, ints[k]);
        }
        for (int k = 0; k < 2; k++) {
            sf_tensor_t ta, tb;
            const float *da = get(fa, floats[k], &ta), *db = get(fb, floats[k], &tb);
            ck_assert_int_eq(sf_tensor_numel(&ta), sf_tensor_numel(&tb));
            for (int64_t i = 0; i < sf_tensor_numel(&ta); i++)
                ck_assert_msg(close_rel(da[i], db[i]), "%s: rank %d %s[%lld] %.9g vs %.9g", what,
                              r, floats[k], (long long)i, da[i], db[i]);
        }
        sf_st_close(fa);
        sf_st_close(fb);
        free_copies();
    }
}

/* SpecForge's _compute_target_p on the exchanged full-vocab rows of an
 * unfused run, written plainly (double accumulation), against its
 * outputs (positions all). */
static void expect_formulas(const char *dir, int world, int length)
{
    for (int r = 0; r < world; r++) {
        sf_st_file_t *f = open_rank(dir, r);
        sf_tensor_t tt, tm, td, tp, tpd, tid, tpm;
        const float *target = get(f, "target", &tt);
        const int64_t *mask = get(f, "loss_mask", &tm);
        const uint8_t *t2d = get(f, "t2d", &td);
        const float *p = get(f, "target_p", &tp), *pd = get(f, "target_p_on_draft", &tpd);
        const int64_t *ids = get(f, "target_token_ids", &tid), *pm = get(f, "position_mask", &tpm);
        int64_t B = tt.shape[0], S = tt.shape[1], V = tt.shape[2], Vd = 0;
        for (int64_t v = 0; v < V; v++)
            Vd += t2d[v];
        ck_assert_int_eq(tp.shape[2], Vd);
        ck_assert_int_eq(tp.shape[1], S + length);
        for (int64_t b = 0; b < B; b++) {
            for (int64_t s = 0; s < S; s++) {
                const float *x = target + (b * S + s) * V;
                int64_t best = 0;
                for (int64_t v = 1; v < V; v++)
                    if (x[v] > x[best])
                        best = v;
                double lse = 0.0;
                for (int64_t v = 0; v < V; v++)
                    lse += exp((double)x[v] - (double)x[best]);
                lse = log(lse) + (double)x[best];
                double dmax = -INFINITY, dsum = 0.0;
                for (int64_t v = 0; v < V; v++)
                    if (t2d[v] && x[v] > dmax)
                        dmax = x[v];
                for (int64_t v = 0; v < V; v++)
                    if (t2d[v])
                        dsum += exp((double)x[v] - dmax);
                int64_t row = b * (S + length) + s;
                ck_assert_int_eq(ids[row], best);
                ck_assert_int_eq(pm[b * S + s], t2d[best] * mask[(r * B + b) * S + s]);
                for (int64_t v = 0, k = 0; v < V; v++) {
                    if (!t2d[v])
                        continue;
                    float want_p = (float)(exp((double)x[v] - dmax) / dsum);
                    float want_pd = (float)exp((double)x[v] - lse);
                    ck_assert_msg(close_rel(p[row * Vd + k], want_p), "p %f %f",
                                  p[row * Vd + k], want_p);
                    ck_assert_msg(close_rel(pd[row * Vd + k], want_pd), "pd %f %f",
                                  pd[row * Vd + k], want_pd);
                    k++;
                }
            }
            for (int64_t s = S; s < S + length; s++) {
                int64_t row = b * (S + length) + s;
                ck_assert_int_eq(ids[row], 0);
                for (int64_t k = 0; k < Vd; k++) {
                    ck_assert(p[row * Vd + k] == (float)(1.0 / (double)Vd));
                    ck_assert(pd[row * Vd + k] == 0.0f);
                }
            }
        }
        sf_st_close(f);
        free_copies();
    }
}

START_TEST(test_unfused_is_specforge_formulas)
{
    for (int w = 1; w <= 3; w++) {
        expect_formulas(run_into(w, ""), w, 3);
        expect_formulas(run_into(w, "--set tie=true --set layout=first"), w, 3);
    }
}
END_TEST

START_TEST(test_fused_equals_unfused_every_world)
{
    /* vocab 46 of 48 padded: the last shard keeps fewer real columns for
     * every world (at tp 3 and 4 the shards hold 16 / 12 columns); 12
     * sequences of 4 tokens. */
    const char *cases[] = {"", "--set tie=true", "--set layout=first", "--set layout=last",
                           "--set mask=ones --set draft=46", "--set draft=1"};
    int chunks[] = {1, 4, 100};
    for (int w = 1; w <= 4; w++)
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            const char *ref = run_into(w, cases[k]);
            for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
                char args[256], what[256];
                /* vblock 5: a shard's row in blocks of 5 columns, the
                 * statistics combined across blocks. */
                snprintf(args, sizeof args, "%s --set chunk=%d%s", cases[k], chunks[c],
                         c == 1 ? " --set overlap=false" : c == 0 ? " --set vblock=5" : "");
                snprintf(what, sizeof what, "tp %d '%s' chunk %d", w, cases[k], chunks[c]);
                expect_close(ref, run_into(w, args), w, what);
            }
        }
}
END_TEST

START_TEST(test_ties_across_shards_lowest_index)
{
    /* tie: column v and v + 24 hold the same logit, in different shards at
     * tp 2; the first maximum (v < 24) must win, as torch's argmax. */
    const char *dir = run_into(2, "--set tie=true --set chunk=3");
    for (int r = 0; r < 2; r++) {
        sf_st_file_t *f = open_rank(dir, r);
        sf_tensor_t t;
        const int64_t *ids = get(f, "target_token_ids", &t);
        int n_real = 0;
        for (int64_t i = 0; i < sf_tensor_numel(&t); i++) {
            ck_assert_msg(ids[i] < 24, "rank %d id %lld = %lld", r, (long long)i,
                          (long long)ids[i]);
            n_real += ids[i] != 0;
        }
        ck_assert_int_gt(n_real, 0);
        sf_st_close(f);
        free_copies();
    }
}
END_TEST

START_TEST(test_positions_loss_rows_equal_padded_rows)
{
    for (int w = 1; w <= 4; w++) {
        const char *all = run_into(w, "--set chunk=2");
        /* Capacity: every row of the rank (48 tokens / tp), and exactly
         * the rows set (the unused slots are tested by the first). */
        char loss[128];
        snprintf(loss, sizeof loss, "--set positions=loss --set loss_rows=%d", 48 / w);
        const char *loss_ref = run_into(w, loss);
        strcat(loss, " --set chunk=2 --set vblock=7");
        const char *loss_fused = run_into(w, loss);
        expect_close(loss_ref, loss_fused, w, "positions loss, fused vs unfused");
        int64_t S = 4, L = 3;
        for (int r = 0; r < w; r++) {
            sf_st_file_t *fa = open_rank(all, r), *fl = open_rank(loss_fused, r);
            sf_tensor_t t;
            const float *pa = get(fa, "target_p", &t), *pl = get(fl, "target_p", &t);
            int64_t Vd = t.shape[1], cap = t.shape[0];
            const float *qa = get(fa, "target_p_on_draft", &t), *ql = get(fl, "target_p_on_draft", &t);
            const int64_t *ia = get(fa, "target_token_ids", &t), *il = get(fl, "target_token_ids", &t);
            const int64_t *ma = get(fa, "position_mask", &t), *ml = get(fl, "position_mask", &t);
            const int64_t *ri = get(fl, "row_index", &t);
            const int64_t *mask = get(fa, "loss_mask", &t);
            int64_t B = 48 / S / w, ones = 0, used = 0;
            for (int64_t i = 0; i < B * S; i++)
                ones += mask[r * B * S + i];
            for (int64_t k = 0; k < cap; k++) {
                if (ri[k] < 0) {
                    ck_assert_int_eq(il[k], 0);
                    continue;
                }
                used++;
                int64_t b = ri[k] / S, s = ri[k] % S, row = b * (S + L) + s;
                ck_assert_int_eq(mask[r * B * S + ri[k]], 1);
                ck_assert_int_eq(il[k], ia[row]);
                ck_assert_int_eq(ml[k], ma[ri[k]]);
                ck_assert(memcmp(pl + k * Vd, pa + row * Vd, (size_t)Vd * 4) == 0);
                ck_assert(memcmp(ql + k * Vd, qa + row * Vd, (size_t)Vd * 4) == 0);
            }
            ck_assert_int_eq(used, ones);
            sf_st_close(fa);
            sf_st_close(fl);
            free_copies();
        }
    }
}
END_TEST

START_TEST(test_fused_plan_equals_run)
{
    char plan[4400], run[4400];
    const char *sets[] = {"--set chunk=5 --set tokens=3600",
                          "--set chunk=7 --set tokens=3600 --set positions=loss --set loss_rows=1000",
                          "--set chunk=3 --set tokens=3600 --set layout=first"};
    for (int k = 0; k < 3; k++)
        for (int r = 0; r < 2; r++) {
            snprintf(plan, sizeof plan, "plan '%s' --world 2 %s", graph(), sets[k]);
            snprintf(run, sizeof run, "run --nproc 2 '%s' %s", graph(), sets[k]);
            ck_assert_int_eq(tu_json_rank_field(plan, r, "peak_bytes"), tu_json_rank_field(run, r, "peak_bytes"));
        }
    /* Rank 0, 3600 tokens, tp 2: the unfused path holds the rank's logits
     * shard (3600 x 24 bf16 = 172800 B) and the full-vocab f32 rows (1800 x
     * 46 x 4 = 331200 B) at once, less what the fused node holds instead:
     * two chunks of 5 rows and matmul's tiles. */
    snprintf(plan, sizeof plan, "plan '%s' --world 2 --set tokens=3600", graph());
    long long chain = tu_json_rank_field(plan, 0, "peak_bytes");
    snprintf(plan, sizeof plan, "plan '%s' --world 2 --set tokens=3600 --set chunk=5", graph());
    long long fused = tu_json_rank_field(plan, 0, "peak_bytes");
    ck_assert_int_gt(chain, fused + 200000);
}
END_TEST

/* teacher_vp with defer_probs, then teacher_probs in place of the draft
 * logits (what eagle3_teacher.yaml runs): every output byte-equal to the
 * undeferred op's, for tp 1-4, both positions, ties, a draft vocab in one
 * shard; and its plan equals its run. */
START_TEST(test_deferred_probs_same_bytes)
{
    const char *sets[] = {"--set chunk=5", "--set chunk=3 --set tie=true --set layout=first",
                          "--set chunk=4 --set positions=loss --set loss_rows=%d",
                          "--set chunk=100 --set positions=loss --set loss_rows=%d --set mask=ones"};
    for (int w = 1; w <= 4; w++)
        for (int k = 0; k < 4; k++) {
            char set[256], a[400], b[400], da[4200];
            snprintf(set, sizeof set, sets[k], 48 / w);
            snprintf(a, sizeof a, "%s --set defer=false", set);
            snprintf(b, sizeof b, "%s --set defer=true", set);
            snprintf(da, sizeof da, "%s", run_into(w, a));
            tu_expect_same_ranks(da, run_into(w, b), w, b);
        }
    char plan[4400], run[4400];
    const char *pr[] = {"--set chunk=5 --set tokens=3600 --set defer=true",
                        "--set chunk=7 --set tokens=3600 --set positions=loss --set loss_rows=1000 "
                        "--set defer=true"};
    for (int k = 0; k < 2; k++)
        for (int r = 0; r < 2; r++) {
            snprintf(plan, sizeof plan, "plan '%s' --world 2 %s", graph(), pr[k]);
            snprintf(run, sizeof run, "run --nproc 2 '%s' %s", graph(), pr[k]);
            ck_assert_int_eq(tu_json_rank_field(plan, r, "peak_bytes"),
                             tu_json_rank_field(run, r, "peak_bytes"));
        }
}
END_TEST

static void expect_refused(const char *args, int code, const char *fragment)
{
    char cmd[8192];
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", tu_shardflow(), args);
    ck_assert_int_eq(tu_run(cmd, &out), code);
    ck_assert_msg(strstr(out, fragment) != NULL, "%s\n%s", cmd, out);
    free(out);
}

/* The bytes each rank's collectives really sent (run --json sent_bytes, as
 * the UCX comm counts its point-to-point sends) equal the figure the README
 * computes from the op's counts. Fused: to each other rank j, one row per
 * position of j's sequences that the teacher reads (not the last; with
 * positions loss only loss_mask 1), each dloc[r] draft columns (t2d's ids
 * in this rank's shard of the 46 real columns) + 8 bf16 slots of statistics,
 * 2 B each. Unfused: the logits all_to_all, (w - 1) pieces of (48 / w)^2
 * bf16. */
START_TEST(test_sent_bytes_measured_equal_computed)
{
    const int64_t S = 4, tokens = 48, vpad = 48, vocab = 46, se = 8;
    for (int w = 2; w <= 4; w++)
        for (int loss = 0; loss < 2; loss++) {
            char dir[4200], args[4800];
            snprintf(dir, sizeof dir, "%s", tu_tmpdir());
            snprintf(args, sizeof args,
                     "run --nproc %d '%s' --set chunk=5 --out '%s/fused' --overwrite %s "
                     "--set loss_rows=%d",
                     w, graph(), dir, loss ? "--set positions=loss" : "", (int)(tokens / w));
            long long sent[4];
            for (int r = 0; r < w; r++)
                sent[r] = tu_json_rank_field(args, r, "sent_bytes");
            char out[4300];
            snprintf(out, sizeof out, "%s/fused", dir);
            sf_st_file_t *f = open_rank(out, 0);
            sf_tensor_t tt, tm;
            const uint8_t *t2d = get(f, "t2d", &tt);
            const int64_t *mask = get(f, "loss_mask", &tm);
            int64_t seqs = tokens / S / w, vloc = vpad / w;
            for (int r = 0; r < w; r++) {
                int64_t dloc = 0;
                for (int64_t v = r * vloc; v < (r + 1) * vloc && v < vocab; v++)
                    dloc += t2d[v];
                long long want = 0;
                for (int j = 0; j < w; j++)
                    for (int64_t b = j * seqs; b < (j + 1) * seqs && j != r; b++)
                        for (int64_t p = 0; p < S - 1; p++)
                            if (!loss || mask[b * S + p] != 0)
                                want += (dloc + se) * 2;
                ck_assert_int_eq(sent[r], want);
            }
            sf_st_close(f);
            free_copies();
            if (loss)
                continue;
            snprintf(args, sizeof args, "run --nproc %d '%s'", w, graph());
            for (int r = 0; r < w; r++)
                ck_assert_int_eq(tu_json_rank_field(args, r, "sent_bytes"),
                                 (w - 1) * (vpad / w) * (vpad / w) * 2);
        }
}
END_TEST

/* teacher_probs' shape rule: f32 draft rows and one logsumexp slot per
 * row, refused at the node's line and column otherwise. */
START_TEST(test_teacher_probs_bad_inputs)
{
    const char *yaml =
        "name: tp_bad\n"
        "params: {rows: 3, dtype: f32}\n"
        "nodes:\n"
        "  - {name: make_p, op: random, out: [p], attrs: {shape: [3, 4], dtype: \"${dtype}\", seed: 1}}\n"
        "  - {name: make_l, op: random, out: [l],\n"
        "     attrs: {shape: [rows], dtype: i64, seed: 2, low: 0, high_int: 2}}\n"
        "  - {name: probs, op: teacher_probs, in: [p, l], out: [tp, tpd]}\n"
        "outputs: [tp, tpd]\n";
    char path[4300], args[4400];
    snprintf(path, sizeof path, "%s/tp_bad.yaml", tu_tmpdir());
    ck_assert_int_eq(tu_write_file(path, yaml), 0);
    snprintf(args, sizeof args, "plan '%s'", path);
    ck_assert_int_eq(tu_json_rank_field(args, 0, "n_aliases"), 1); /* p lands in tp */
    snprintf(args, sizeof args, "plan '%s' --set rows=2", path);
    expect_refused(args, 2,
                   "tp_bad.yaml:7:5: error: node 'probs': logsumexp has shape [2] i64, expected "
                   "(3) i64 (one per draft row)");
    snprintf(args, sizeof args, "plan '%s' --set dtype=bf16", path);
    expect_refused(args, 2,
                   "tp_bad.yaml:7:5: error: node 'probs': draft logits are [3,4] bf16, expected "
                   "contiguous f32 rows");
}
END_TEST

START_TEST(test_bad_attrs_refused)
{
    char args[4400];
    snprintf(args, sizeof args, "plan '%s' --world 2 --set chunk=2 --set positions=some", graph());
    expect_refused(args, 2,
                   "teacher_exchange.yaml:79:25: error: node 'fused': positions 'some', expected "
                   "all or loss");
    snprintf(args, sizeof args, "plan '%s' --world 2 --set positions=some", graph());
    expect_refused(args, 2,
                   "teacher_exchange.yaml:69:71: error: node 'teacher': positions 'some', expected "
                   "all or loss");
    snprintf(args, sizeof args, "plan '%s' --world 2 --set chunk=2 --set vblock=0", graph());
    expect_refused(args, 2,
                   "teacher_exchange.yaml:79:77: error: node 'fused': vocab_block 0, expected > 0");
    snprintf(args, sizeof args, "plan '%s' --world 2 --set chunk=2 --set draft=47", graph());
    expect_refused(args, 2,
                   "teacher_exchange.yaml:47:41: error: node 't2d': draft_vocab 47, expected 1..46");
    snprintf(args, sizeof args, "plan '%s' --world 4 --set chunk=2 --set tokens=24", graph());
    expect_refused(args, 2, "expected whole sequences of 4 for each of 4 ranks");
    snprintf(args, sizeof args, "plan '%s' --world 2 --set chunk=2 --set layout=middle", graph());
    expect_refused(args, 2,
                   "teacher_exchange.yaml:47:66: error: node 't2d': layout 'middle', expected random, "
                   "first or last");
    /* More loss rows than the capacity: found before any exchange, nothing
     * written. */
    snprintf(args, sizeof args,
             "run --nproc 2 '%s' --set chunk=2 --set positions=loss --set loss_rows=2 --out '%s/none'",
             graph(), tu_tmpdir());
    expect_refused(args, 2, "over loss_rows 2");
    char none[4200];
    snprintf(none, sizeof none, "%s/none", tu_tmpdir());
    ck_assert_msg(access(none, F_OK) != 0, "%s was written", none);
}
END_TEST

/* Write one tensor to DIR/name.safetensors under `name`; returns the path. */
static const char *write_input(const char *name, sf_dtype_t dt, int64_t n, const void *data)
{
    static char paths[8][4200];
    static int k;
    char *path = paths[k++ % 8];
    snprintf(path, sizeof paths[0], "%s/%s_%d.safetensors", tu_tmpdir(), name, k);
    sf_buffer_t b = {.data = (void *)data};
    sf_tensor_t t = sf_tensor_make(dt, 1, (int64_t[]){n});
    t.buf = &b;
    sf_st_entry_t e = {.name = name, .tensor = &t};
    sf_err_t err = {0};
    ck_assert_int_eq(sf_st_write(path, &e, 1, true, &err), SF_OK);
    return path;
}

START_TEST(test_t2d_and_d2t_inputs)
{
    /* Draft ids {1, 5, 6, 20, 30, 40, 41, 42, 44, 45} of 46: as t2d, and as
     * d2t (id - i): 1 4 4 17 26 35 35 35 36 36. Both give the same teacher
     * as each other, fused or not. */
    int64_t ids[10] = {1, 5, 6, 20, 30, 40, 41, 42, 44, 45}, d2t[10];
    uint8_t t2d[46] = {0};
    for (int i = 0; i < 10; i++) {
        t2d[ids[i]] = 1;
        d2t[i] = ids[i] - i;
    }
    char a[8800], b[8800];
    snprintf(a, sizeof a, "--set draft_source=t2d --inputs '%s'",
             write_input("t2d_in", SF_DTYPE_U8, 46, t2d));
    snprintf(b, sizeof b, "--set draft_source=d2t --inputs '%s' --set chunk=3",
             write_input("d2t_in", SF_DTYPE_I64, 10, d2t));
    const char *ra = run_into(2, a), *rb = run_into(2, b);
    expect_close(ra, rb, 2, "t2d vs d2t");
    sf_st_file_t *f = open_rank(rb, 0);
    sf_tensor_t t;
    const uint8_t *got = get(f, "t2d", &t);
    ck_assert(memcmp(got, t2d, 46) == 0);
    sf_st_close(f);
    free_copies();

    /* Bad ones: exit 2, the rule named, nothing written. */
    char args[9000];
    int64_t bad_d2t[10];
    memcpy(bad_d2t, d2t, sizeof d2t);
    bad_d2t[3] = -15; /* target id -15 + 3 = -12, below the previous id 6 */
    snprintf(args, sizeof args, "run --nproc 2 '%s' --set draft_source=d2t --inputs '%s' --out '%s/bad1'",
             graph(), write_input("d2t_in", SF_DTYPE_I64, 10, bad_d2t), tu_tmpdir());
    expect_refused(args, 2, "d2t[3] = -15 gives target id -12, expected above the previous one");
    bad_d2t[3] = d2t[3];
    bad_d2t[9] = 40; /* 40 + 9 = 49 >= 46 */
    snprintf(args, sizeof args, "run --nproc 2 '%s' --set draft_source=d2t --inputs '%s' --out '%s/bad2'",
             graph(), write_input("d2t_in", SF_DTYPE_I64, 10, bad_d2t), tu_tmpdir());
    expect_refused(args, 2, "d2t[9] = 40 gives target id 49, expected under the vocab");
    uint8_t bad_t2d[46];
    memcpy(bad_t2d, t2d, 46);
    bad_t2d[0] = 2;
    snprintf(args, sizeof args, "run --nproc 2 '%s' --set draft_source=t2d --inputs '%s' --out '%s/bad3'",
             graph(), write_input("t2d_in", SF_DTYPE_U8, 46, bad_t2d), tu_tmpdir());
    expect_refused(args, 2, "t2d[0] = 2, expected 0 or 1");
    bad_t2d[0] = 1;
    snprintf(args, sizeof args, "run --nproc 2 '%s' --set draft_source=t2d --inputs '%s' --out '%s/bad4'",
             graph(), write_input("t2d_in", SF_DTYPE_U8, 46, bad_t2d), tu_tmpdir());
    expect_refused(args, 2, "t2d marks 11 target ids, expected draft_vocab 10");
    for (int k = 1; k <= 4; k++) {
        char dir[4300];
        snprintf(dir, sizeof dir, "%s/bad%d", tu_tmpdir(), k);
        ck_assert_msg(access(dir, F_OK) != 0, "%s was written", dir);
    }
}
END_TEST

/* graphs/eagle3_teacher.yaml on synthetic:tiny (vocab 256, tp 2): the three
 * redistributions give the same teacher, for both positions. */
START_TEST(test_eagle3_teacher_graph_modes_agree)
{
    const char *g = tu_src("graphs/eagle3_teacher.yaml");
    const char *pos[] = {"--set positions=all", "--set positions=loss --set loss_prefix=20"};
    for (int p = 0; p < 2; p++) {
        char a[256], b[256], c[256];
        snprintf(a, sizeof a, "%s --set redistribution=all_gather", pos[p]);
        snprintf(b, sizeof b, "%s --set redistribution=all_to_all --set chunk_tokens=16", pos[p]);
        snprintf(c, sizeof c, "%s --set redistribution=fused --set chunk_tokens=5", pos[p]);
        const char *ra = tu_run_graph(g, 2, a);
        expect_close(ra, tu_run_graph(g, 2, b), 2, b);
        expect_close(ra, tu_run_graph(g, 2, c), 2, c);
    }
    /* A redistribution that is none of the three: exit 2 at its check. */
    char args[4400];
    snprintf(args, sizeof args, "plan '%s' --world 2 --set redistribution=reduce", g);
    expect_refused(args, 2, "redistribution 'reduce' is none of all_gather, all_to_all, fused");
}
END_TEST

/* The figures on the meta device (0.1 s): Qwen3-8B, tp 8, 8
 * sequences of 4096, draft vocab 32000, rank 0. */
START_TEST(test_plan_qwen3_8b_figures)
{
    const char *base = "--world 8 --set model=synthetic:qwen3-8b --set batch=8 --set seq=4096 "
                       "--set draft_vocab=32000";
    char args[8800];
    const char *g = tu_src("graphs/eagle3_teacher.yaml");
    snprintf(args, sizeof args, "plan '%s' %s --set redistribution=fused", g, base);
    long long fused = tu_json_rank_field(args, 0, "peak_bytes");
    long long floor_b = tu_json_rank_field(args, 0, "floor_bytes");
    /* The end of the run: weights 2048223232 + outputs 1151654144 (target_p
     * and target_p_on_draft 4103 x 32000 f32 each, hidden states, ids,
     * masks), reached during teacher_probs, plus its lse rows. xf (the final
     * norm's rows of all 32768 tokens) was freed after teacher_vp, before
     * target_p_on_draft exists. */
    ck_assert_int_eq(fused, 3200139776LL);
    ck_assert_int_le(fused, 34LL * 1024 * 1024 * 1024 / 10);
    ck_assert_int_le(fused * 100, floor_b * 115);
    snprintf(args, sizeof args, "plan '%s' %s --set redistribution=all_to_all", g, base);
    ck_assert_int_eq(tu_json_rank_field(args, 0, "peak_bytes"), 5884411904LL);
    /* positions loss, half of each sequence masked: the teacher's outputs
     * halve (1151654144 -> 625557504 B). The peak is teacher_vp's: weights
     * 2048223232, hidden states 100663296, xf 268435456, target_p holding
     * the draft logits 262144000 (2048 x 32000 f32), two chunks' scratch
     * 72488960, the rest (ids, masks, row_index, lse, inputs) 1004032:
     * 2.56 GiB, under the 2.6. The forward's last layer is below it
     * (its all_reduces and residual adds in place). */
    snprintf(args, sizeof args,
             "plan '%s' %s --set redistribution=fused --set positions=loss --set loss_prefix=2048",
             g, base);
    long long loss = tu_json_rank_field(args, 0, "peak_bytes");
    ck_assert_int_eq(loss, 2752958976LL);
    ck_assert_int_le(loss * 10, 26LL * 1024 * 1024 * 1024);
    ck_assert_int_le(loss * 100, tu_json_rank_field(args, 0, "floor_bytes") * 115);
    ck_assert_int_eq(tu_json_rank_field(args, 0, "output_bytes"), 625557504LL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("teacher");
    TCase *tc = tcase_create("teacher");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_unfused_is_specforge_formulas);
    tcase_add_test(tc, test_fused_equals_unfused_every_world);
    tcase_add_test(tc, test_ties_across_shards_lowest_index);
    tcase_add_test(tc, test_positions_loss_rows_equal_padded_rows);
    tcase_add_test(tc, test_fused_plan_equals_run);
    tcase_add_test(tc, test_deferred_probs_same_bytes);
    tcase_add_test(tc, test_bad_attrs_refused);
    tcase_add_test(tc, test_teacher_probs_bad_inputs);
    tcase_add_test(tc, test_sent_bytes_measured_equal_computed);
    tcase_add_test(tc, test_t2d_and_d2t_inputs);
    tcase_add_test(tc, test_plan_qwen3_8b_figures);
    tcase_add_test(tc, test_eagle3_teacher_graph_modes_agree);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
