/* The Eagle3 target graph end to end over real ranks: both redistribution
 * modes write byte-identical files for tp 1..4; tp 2 matches tp 1 within
 * bf16 reduction-order noise; SpecForge's padding; an HF checkpoint folder
 * exported from the synthetic weights gives the same bytes; bad configs and
 * inputs fail with exit 2 and write nothing. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "dtype.h"
#include "safetensors.h"
#include "test_util.h"

#define TINY12 "--set model=synthetic:tiny12 --set batch=12 --set seq=16"

static void run_ok(const char *fmt_args)
{
    char *out = NULL;
    int rc = tu_sf(fmt_args, &out);
    if (rc != 0)
        fprintf(stderr, "shardflow %s\n%s\n", fmt_args, out);
    ck_assert_int_eq(rc, 0);
    free(out);
}

static void run_graph(int nproc, const char *mode, const char *extra, const char *dir)
{
    char args[16384];
    int n = snprintf(args, sizeof args,
                     "run --nproc %d %s %s --set redistribution=%s %s --out %s --timeout 120",
                     nproc, tu_src("graphs/eagle3_target.yaml"), TINY12, mode, extra, dir);
    ck_assert_int_lt(n, (int)sizeof args);
    run_ok(args);
}

static char *file_bytes(const char *dir, int rank, size_t *n)
{
    char path[1024];
    int k = snprintf(path, sizeof path, "%s/rank%d.safetensors", dir, rank);
    ck_assert_int_lt(k, (int)sizeof path);
    char *b = tu_read_file(path, n);
    ck_assert_ptr_nonnull(b);
    return b;
}

static void check_modes_identical(int tp)
{
    const char *ag = tu_tmpdir(), *a2a = tu_tmpdir();
    run_graph(tp, "all_gather", "", ag);
    run_graph(tp, "all_to_all", "", a2a);
    for (int r = 0; r < tp; r++) {
        size_t n1, n2;
        char *x = file_bytes(ag, r, &n1), *y = file_bytes(a2a, r, &n2);
        ck_assert_uint_eq(n1, n2);
        ck_assert_msg(memcmp(x, y, n1) == 0, "tp %d rank %d: all_gather and all_to_all differ", tp, r);
        free(x);
        free(y);
    }
}

START_TEST(test_modes_identical_tp1) { check_modes_identical(1); }
END_TEST
START_TEST(test_modes_identical_tp2) { check_modes_identical(2); }
END_TEST
START_TEST(test_modes_identical_tp3) { check_modes_identical(3); }
END_TEST
START_TEST(test_modes_identical_tp4) { check_modes_identical(4); }
END_TEST

typedef struct loaded {
    sf_st_file_t *f;
    sf_tensor_t t;
    const void *data;
} loaded_t;

static loaded_t load(const char *dir, int rank, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/rank%d.safetensors", dir, rank);
    loaded_t l = {0};
    sf_err_t err = {0};
    ck_assert_int_eq(sf_st_open(path, &l.f, &err), SF_OK);
    int i = sf_st_find(l.f, name);
    ck_assert_msg(i >= 0, "%s has no '%s'", path, name);
    sf_st_get(l.f, i, &l.t, &l.data);
    return l;
}

static double elem(const loaded_t *l, int64_t i)
{
    return sf_dtype_load(l->t.dtype, (const char *)l->data + i * (int64_t)sf_dtype_size(l->t.dtype));
}

START_TEST(test_tp2_matches_tp1)
{
    /* Row-parallel layers sum partial products in another order at tp 2, and
     * every op rounds to bf16: agreement is to bf16 noise, not bit for bit.
     * Stated tolerance: max |diff| <= 3e-2 * max |value| for target and
     * hidden_states; the integer tensors are exact. */
    const char *one = tu_tmpdir(), *two = tu_tmpdir();
    run_graph(1, "all_to_all", "", one);
    run_graph(2, "all_to_all", "", two);
    const char *names[] = {"target", "hidden_states", "input_ids", "loss_mask", "attention_mask"};
    for (int k = 0; k < 5; k++) {
        loaded_t full = load(one, 0, names[k]);
        int64_t per_rank = sf_tensor_numel(&full.t) / 2;
        double max_ref = 0, max_diff = 0;
        for (int r = 0; r < 2; r++) {
            loaded_t part = load(two, r, names[k]);
            ck_assert_int_eq(sf_tensor_numel(&part.t), per_rank);
            ck_assert_int_eq(part.t.shape[0], 6);
            for (int64_t i = 0; i < per_rank; i++) {
                double a = elem(&full, r * per_rank + i), b = elem(&part, i);
                max_ref = fmax(max_ref, fabs(a));
                max_diff = fmax(max_diff, fabs(a - b));
            }
            sf_st_close(part.f);
        }
        sf_st_close(full.f);
        if (k >= 2)
            ck_assert_double_eq(max_diff, 0.0);
        else
            ck_assert_msg(max_diff <= 3e-2 * max_ref, "%s: max diff %g vs max %g", names[k],
                          max_diff, max_ref);
        ck_assert(max_ref > 0);
    }
}
END_TEST

/* Inputs file: K batches of B x S tokens, ids from a fixed pattern over
 * the whole stream, starting at batch `first` of it. */
static void write_batches(const char *path, int first, int k, int b, int s, int64_t bad_id)
{
    int64_t n = (int64_t)k * b * s, skip = (int64_t)first * b * s;
    int32_t *ids = malloc((size_t)n * 4);
    int64_t *am = malloc((size_t)n * 8);
    int32_t *lm = malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) {
        ids[i] = (int32_t)(((skip + i) * 37 + 11) % 1100);
        am[i] = 1;
        lm[i] = ((skip + i) % s) < s - 3;
    }
    if (bad_id >= 0)
        ids[n / 2] = (int32_t)bad_id;
    int64_t shape[2] = {(int64_t)k * b, s};
    sf_buffer_t bi = {.data = ids}, ba = {.data = am}, bl = {.data = lm};
    sf_tensor_t ti = sf_tensor_make(SF_DTYPE_I32, 2, shape), ta = sf_tensor_make(SF_DTYPE_I64, 2, shape),
                tl = sf_tensor_make(SF_DTYPE_I32, 2, shape);
    ti.buf = &bi;
    ta.buf = &ba;
    tl.buf = &bl;
    sf_st_entry_t e[3] = {{"input_ids", &ti}, {"attention_mask", &ta}, {"loss_mask", &tl}};
    sf_err_t err = {0};
    ck_assert_int_eq(sf_st_write(path, e, 3, true, &err), SF_OK);
    free(ids);
    free(am);
    free(lm);
}

static void write_inputs(const char *path, int k, int b, int s, int64_t bad_id)
{
    write_batches(path, 0, k, b, s, bad_id);
}

START_TEST(test_padding_as_specforge)
{
    /* target and input_ids shift left by one token with zeros at the end;
     * loss_mask keeps its values and gains a unit dim; i64 everywhere. */
    const char *dir = tu_tmpdir();
    char inputs[1024], extra[2048];
    snprintf(inputs, sizeof inputs, "%s/in.safetensors", dir);
    write_inputs(inputs, 1, 12, 16, -1);
    snprintf(extra, sizeof extra, "--set tokens=file --inputs %s", inputs);
    run_graph(2, "all_to_all", extra, dir);
    for (int r = 0; r < 2; r++) {
        loaded_t ids = load(dir, r, "input_ids"), tgt = load(dir, r, "target"),
                 lm = load(dir, r, "loss_mask"), hs = load(dir, r, "hidden_states");
        ck_assert_int_eq(ids.t.dtype, SF_DTYPE_I64);
        ck_assert_int_eq(lm.t.ndim, 3);
        ck_assert_int_eq(lm.t.shape[2], 1);
        ck_assert_int_eq(tgt.t.dtype, SF_DTYPE_F32);
        ck_assert_int_eq(tgt.t.shape[2], 1100);
        ck_assert_int_eq(hs.t.shape[2], 3 * 96);
        ck_assert_int_eq(hs.t.dtype, SF_DTYPE_BF16);
        for (int b = 0; b < 6; b++) {
            int64_t row0 = ((int64_t)r * 6 + b) * 16;
            for (int s = 0; s < 16; s++) {
                int64_t want = s < 15 ? ((row0 + s + 1) * 37 + 11) % 1100 : 0;
                ck_assert_int_eq((int64_t)elem(&ids, b * 16 + s), want);
                ck_assert_int_eq((int64_t)elem(&lm, b * 16 + s), s < 13);
            }
            for (int v = 0; v < 1100; v++)
                ck_assert_double_eq(elem(&tgt, ((int64_t)b * 16 + 15) * 1100 + v), 0.0);
        }
        sf_st_close(ids.f);
        sf_st_close(tgt.f);
        sf_st_close(lm.f);
        sf_st_close(hs.f);
    }
}
END_TEST

START_TEST(test_steps_equal_single_batch_runs)
{
    /* Each step of a 3-batch file on one kept executor per rank (tp 2)
     * writes the bytes a 1-step run of that batch alone writes: a fresh
     * executor, as every step was before steps kept their weights. */
    const char *dir = tu_tmpdir(), *one = tu_tmpdir();
    char inputs[1024], args[16384], single[1024], step_dir[1024], out_k[1024];
    snprintf(inputs, sizeof inputs, "%s/in.safetensors", dir);
    write_inputs(inputs, 3, 12, 16, -1);
    snprintf(args, sizeof args, "--set tokens=file --inputs %s --steps 3", inputs);
    run_graph(2, "all_gather", args, dir);
    for (int k = 0; k < 3; k++) {
        snprintf(single, sizeof single, "%s/batch%d.safetensors", one, k);
        write_batches(single, k, 1, 12, 16, -1);
        snprintf(out_k, sizeof out_k, "%s/out%d", one, k);
        snprintf(args, sizeof args, "--set tokens=file --inputs %s", single);
        run_graph(2, "all_gather", args, out_k);
        snprintf(step_dir, sizeof step_dir, "%s/step%d", dir, k);
        for (int r = 0; r < 2; r++) {
            size_t n1, n2;
            char *x = file_bytes(step_dir, r, &n1), *y = file_bytes(out_k, r, &n2);
            ck_assert_uint_eq(n1, n2);
            ck_assert_msg(memcmp(x, y, n1) == 0, "step %d rank %d differs from batch %d alone",
                          k + 1, r, k);
            free(x);
            free(y);
        }
    }
}
END_TEST

/* How many 'X' events of node `name` rank `pid` has in a merged trace. */
static int count_node_events(const cJSON *events, int pid, const char *name)
{
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, events)
    {
        const cJSON *ph = cJSON_GetObjectItem(e, "ph"), *nm = cJSON_GetObjectItem(e, "name");
        const cJSON *p = cJSON_GetObjectItem(e, "pid");
        if (cJSON_IsString(ph) && strcmp(ph->valuestring, "X") == 0 && cJSON_IsString(nm) &&
            strcmp(nm->valuestring, name) == 0 && cJSON_IsNumber(p) && p->valueint == pid)
            n++;
    }
    return n;
}

START_TEST(test_steps_make_weights_once)
{
    /* --steps 3 over 2 ranks: every weight node runs once per rank (one
     * trace event), the layers' nodes three times; rank 0 prints one line
     * per step with its wall time and tokens/s (12 x 16 = 192 tokens). */
    const char *dir = tu_tmpdir();
    char inputs[1024], trace[1024], args[16384];
    snprintf(inputs, sizeof inputs, "%s/in.safetensors", dir);
    snprintf(trace, sizeof trace, "%s/t.json", dir);
    write_inputs(inputs, 3, 12, 16, -1);
    snprintf(args, sizeof args,
             "run --nproc 2 %s %s --set redistribution=all_to_all --set tokens=file --inputs %s "
             "--steps 3 --trace %s --timeout 120",
             tu_src("graphs/eagle3_target.yaml"), TINY12, inputs, trace);
    char *out = NULL;
    int rc = tu_sf(args, &out);
    ck_assert_msg(rc == 0, "%s", out);
    for (int k = 1; k <= 3; k++) {
        char line[64];
        snprintf(line, sizeof line, "step %d/3: peak ", k);
        const char *at = strstr(out, line);
        ck_assert_msg(at != NULL, "no '%s' in:\n%s", line, out);
        const char *eol = strchr(at, '\n');
        ck_assert(eol != NULL);
        ck_assert_msg(memmem(at, (size_t)(eol - at), " tok/s", 6) != NULL, "%.*s", (int)(eol - at), at);
    }
    free(out);
    size_t n;
    char *text = tu_read_file(trace, &n);
    ck_assert_ptr_nonnull(text);
    cJSON *root = cJSON_Parse(text);
    ck_assert_ptr_nonnull(root);
    const cJSON *events = cJSON_IsArray(root) ? root : cJSON_GetObjectItem(root, "traceEvents");
    ck_assert_ptr_nonnull(events);
    for (int pid = 0; pid < 2; pid++) {
        ck_assert_int_eq(count_node_events(events, pid, "w_embed"), 1);
        ck_assert_int_eq(count_node_events(events, pid, "w_q_0"), 1);
        ck_assert_int_eq(count_node_events(events, pid, "w_lm_head"), 1);
        ck_assert_int_eq(count_node_events(events, pid, "embed"), 3);
    }
    cJSON_Delete(root);
    free(text);
}
END_TEST

START_TEST(test_hf_checkpoint_equals_synthetic)
{
    const char *ck = tu_tmpdir(), *syn = tu_tmpdir(), *hf = tu_tmpdir();
    char args[16384];
    snprintf(args, sizeof args, "export-model synthetic:tiny12 %s/model --shards 3 --graph-dir %s", ck,
             tu_src("graphs"));
    run_ok(args);
    run_graph(2, "all_to_all", "", syn);
    snprintf(args, sizeof args, "--set model=%s/model", ck);
    run_graph(2, "all_to_all", args, hf);
    for (int r = 0; r < 2; r++) {
        size_t n1, n2;
        char *x = file_bytes(syn, r, &n1), *y = file_bytes(hf, r, &n2);
        ck_assert_uint_eq(n1, n2);
        ck_assert_msg(memcmp(x, y, n1) == 0, "rank %d: checkpoint and synthetic outputs differ", r);
        free(x);
        free(y);
    }
}
END_TEST

/* A bad run: exit 2, message fragment, and no output file. */
static void expect_bad(const char *args, const char *dir, const char *fragment)
{
    char *out = NULL;
    int rc = tu_sf(args, &out);
    ck_assert_msg(rc == 2, "exit %d for: %s\n%s", rc, args, out);
    ck_assert_msg(strstr(out, fragment) != NULL, "no '%s' in:\n%s", fragment, out);
    free(out);
    char path[1024];
    for (int r = 0; r < 4; r++) {
        snprintf(path, sizeof path, "%s/rank%d.safetensors", dir, r);
        ck_assert_msg(access(path, F_OK) != 0, "%s was written", path);
    }
}

START_TEST(test_bad_configs_and_inputs)
{
    const char *dir = tu_tmpdir();
    char inputs[1024], args[16384];
    const char *g = tu_src("graphs/eagle3_target.yaml");
    /* batch 3 over 2 ranks */
    snprintf(args, sizeof args, "run --nproc 2 %s --set batch=3 --out %s", g, dir);
    expect_bad(args, dir, "batch");
    /* the padded vocab 1024 of tiny over 3 ranks */
    snprintf(args, sizeof args, "run --nproc 3 %s --set batch=3 --out %s", g, dir);
    expect_bad(args, dir, "does not divide by tp 3");
    /* a token id out of the vocab */
    snprintf(inputs, sizeof inputs, "%s/in.safetensors", tu_tmpdir());
    write_inputs(inputs, 1, 12, 16, 5000);
    snprintf(args, sizeof args, "run --nproc 2 %s %s --set tokens=file --inputs %s --out %s", g,
             TINY12, inputs, dir);
    expect_bad(args, dir, "outside the vocab (1100)");
    /* inputs of the wrong shape (seq 16 file, seq 32 graph) */
    write_inputs(inputs, 1, 12, 16, -1);
    snprintf(args, sizeof args,
             "run --nproc 2 %s --set model=synthetic:tiny12 --set batch=12 --set seq=32 "
             "--set tokens=file --inputs %s --out %s", g, inputs, dir);
    expect_bad(args, dir, "has shape [12,16], expected [12,32]");
    /* an unknown preset */
    snprintf(args, sizeof args, "run %s --set model=synthetic:nope --out %s", g, dir);
    expect_bad(args, dir, "nope");
    /* a checkpoint with a tensor missing */
    const char *ck = tu_tmpdir();
    snprintf(args, sizeof args, "export-model synthetic:tiny12 %s/model --graph-dir %s", ck,
             tu_src("graphs"));
    run_ok(args);
    char model_file[1024], cmd[2048];
    snprintf(model_file, sizeof model_file, "%s/model/model.safetensors", ck);
    /* Rename one tensor in the header: same length, so offsets stay valid. */
    snprintf(cmd, sizeof cmd,
             "sed -i 's/model.norm.weight/model.norm.weighX/' %s", model_file);
    ck_assert_int_eq(tu_run(cmd, NULL), 0);
    snprintf(args, sizeof args, "run --nproc 2 %s %s --set model=%s/model --out %s", g, TINY12, ck,
             dir);
    expect_bad(args, dir, "model.norm.weight");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("eagle3");
    TCase *tc = tcase_create("modes");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_modes_identical_tp1);
    tcase_add_test(tc, test_modes_identical_tp2);
    tcase_add_test(tc, test_modes_identical_tp3);
    tcase_add_test(tc, test_modes_identical_tp4);
    tcase_add_test(tc, test_tp2_matches_tp1);
    tcase_add_test(tc, test_padding_as_specforge);
    tcase_add_test(tc, test_steps_equal_single_batch_runs);
    tcase_add_test(tc, test_steps_make_weights_once);
    tcase_add_test(tc, test_hf_checkpoint_equals_synthetic);
    tcase_add_test(tc, test_bad_configs_and_inputs);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
