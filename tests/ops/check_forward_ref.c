/* A tiny decoder forward two ways: composed from the ops in a YAML graph
 * (embedding_vp, rmsnorm, matmul, reshape, rope, attention, swiglu, add,
 * capture_concat) and run by the executor, and a plain per-token reference
 * written here in double that calls no kernel. Llama-style (no q/k norm)
 * and Qwen3-style (per-head q/k rmsnorm) configs, f32 and bf16. The
 * reference reads the graph's random weights back (they are graph outputs)
 * and otherwise shares nothing with the ops.
 *
 * Tolerances, as max |graph - ref| over max |ref| of each compared tensor:
 * f32 1e-5 (the graph differs from double only by f32 rounding and BLAS
 * summation order: measured 3.5e-7); bf16 4e-2 (each op rounds its output
 * to bf16, 2^-9 relative, about a dozen roundings per layer compounding
 * through the residual stream and the norms: measured 0.7e-2 to 1.3e-2). */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "graph.h"
#include "op.h"
#include "test_util.h"

typedef struct fw_cfg {
    const char *name;
    int layers, hidden, heads, kv_heads, head_dim, inter, vocab, batch, seq;
    double theta;
    bool has_qk_norm;
    const char *dtype;
} fw_cfg_t;

/* --- the graph ------------------------------------------------------------- */

typedef struct fw_buf {
    char *s;
    size_t len, cap;
} fw_buf_t;

static void fw_printf(fw_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fw_printf(fw_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    ck_assert_int_ge(n, 0);
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        ck_assert_ptr_nonnull(b->s);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Per-layer weights: name, shape (param names), seed offset, mean, std. */
typedef struct fw_weight {
    const char *name;
    const char *shape;
    int seed;
    double mean, std;
    bool is_qk_norm;
} fw_weight_t;

static const fw_weight_t fw_layer_weights[] = {
    {"w_in", "[H]", 1, 1.0, 0.1, false},
    {"wq", "[NH * HD, H]", 2, 0.0, 0.18, false},
    {"wk", "[NKV * HD, H]", 3, 0.0, 0.18, false},
    {"wv", "[NKV * HD, H]", 4, 0.0, 0.18, false},
    {"wqn", "[HD]", 5, 1.0, 0.1, true},
    {"wkn", "[HD]", 6, 1.0, 0.1, true},
    {"wo", "[H, NH * HD]", 7, 0.0, 0.18, false},
    {"w_post", "[H]", 8, 1.0, 0.1, false},
    {"wg", "[I, H]", 9, 0.0, 0.18, false},
    {"wu", "[I, H]", 10, 0.0, 0.18, false},
    {"wd", "[H, I]", 11, 0.0, 0.15, false},
};
#define FW_N_LAYER_WEIGHTS (int)(sizeof fw_layer_weights / sizeof fw_layer_weights[0])

static char *fw_graph_yaml(const fw_cfg_t *c)
{
    fw_buf_t b = {0};
    fw_printf(&b,
              "name: fwd_%s\n"
              "params: {T: %d, B: %d, S: %d, H: %d, NH: %d, NKV: %d, HD: %d, I: %d, V: %d, "
              "L: %d}\n"
              "inputs:\n"
              "  ids: {dtype: i32, shape: [B, S]}\n"
              "nodes:\n"
              "  - {name: w_embed, op: random, out: [w_embed],\n"
              "     attrs: {shape: [V, H], dtype: %s, seed: 1, dist: normal, std: 1.0}}\n"
              "  - {name: embed, op: embedding_vp, in: [ids, w_embed], out: [h_0],"
              " attrs: {vocab: V}}\n"
              "  - repeat: {var: layer, count: L}\n"
              "    nodes:\n",
              c->name, c->batch * c->seq, c->batch, c->seq, c->hidden, c->heads, c->kv_heads,
              c->head_dim, c->inter, c->vocab, c->layers, c->dtype);
    for (int i = 0; i < FW_N_LAYER_WEIGHTS; i++) {
        const fw_weight_t *w = &fw_layer_weights[i];
        if (w->is_qk_norm && !c->has_qk_norm)
            continue;
        fw_printf(&b,
                  "      - {name: '%s_${layer}', op: random, out: ['%s_${layer}'],\n"
                  "         attrs: {shape: %s, dtype: %s, seed: '${layer * 16 + %d + 100}',"
                  " dist: normal, mean: %g, std: %g}}\n",
                  w->name, w->name, w->shape, c->dtype, w->seed, w->mean, w->std);
    }
    const char *q = c->has_qk_norm ? "qn" : "q3", *k = c->has_qk_norm ? "kn" : "k3";
    fw_printf(&b,
              "      - {name: 'n1_${layer}', op: rmsnorm, in: ['h_${layer}', 'w_in_${layer}'],"
              " out: ['n1_${layer}']}\n"
              "      - {name: 'q_${layer}', op: matmul, in: ['n1_${layer}', 'wq_${layer}'],"
              " out: ['q_${layer}'], attrs: {transpose_b: true}}\n"
              "      - {name: 'k_${layer}', op: matmul, in: ['n1_${layer}', 'wk_${layer}'],"
              " out: ['k_${layer}'], attrs: {transpose_b: true}}\n"
              "      - {name: 'v_${layer}', op: matmul, in: ['n1_${layer}', 'wv_${layer}'],"
              " out: ['v_${layer}'], attrs: {transpose_b: true}}\n"
              "      - {name: 'q3_${layer}', op: reshape, in: ['q_${layer}'], out: ['q3_${layer}'],"
              " attrs: {shape: [T, NH, HD]}}\n"
              "      - {name: 'k3_${layer}', op: reshape, in: ['k_${layer}'], out: ['k3_${layer}'],"
              " attrs: {shape: [T, NKV, HD]}}\n"
              "      - {name: 'v3_${layer}', op: reshape, in: ['v_${layer}'], out: ['v3_${layer}'],"
              " attrs: {shape: [T, NKV, HD]}}\n");
    if (c->has_qk_norm)
        fw_printf(&b,
                  "      - {name: 'qn_${layer}', op: rmsnorm, in: ['q3_${layer}', 'wqn_${layer}'],"
                  " out: ['qn_${layer}']}\n"
                  "      - {name: 'kn_${layer}', op: rmsnorm, in: ['k3_${layer}', 'wkn_${layer}'],"
                  " out: ['kn_${layer}']}\n");
    fw_printf(&b,
              "      - {name: 'qr_${layer}', op: rope, in: ['%s_${layer}'], out: ['qr_${layer}'],"
              " attrs: {seq: S, theta: %g}}\n"
              "      - {name: 'kr_${layer}', op: rope, in: ['%s_${layer}'], out: ['kr_${layer}'],"
              " attrs: {seq: S, theta: %g}}\n"
              "      - {name: 'at_${layer}', op: attention,"
              " in: ['qr_${layer}', 'kr_${layer}', 'v3_${layer}'], out: ['at_${layer}'],"
              " attrs: {seq: S, block: 2}}\n"
              "      - {name: 'a2_${layer}', op: reshape, in: ['at_${layer}'], out: ['a2_${layer}'],"
              " attrs: {shape: [T, NH * HD]}}\n"
              "      - {name: 'o_${layer}', op: matmul, in: ['a2_${layer}', 'wo_${layer}'],"
              " out: ['o_${layer}'], attrs: {transpose_b: true}}\n"
              "      - {name: 'r_${layer}', op: add, in: ['h_${layer}', 'o_${layer}'],"
              " out: ['r_${layer}']}\n"
              "      - {name: 'n2_${layer}', op: rmsnorm, in: ['r_${layer}', 'w_post_${layer}'],"
              " out: ['n2_${layer}']}\n"
              "      - {name: 'g_${layer}', op: matmul, in: ['n2_${layer}', 'wg_${layer}'],"
              " out: ['g_${layer}'], attrs: {transpose_b: true}}\n"
              "      - {name: 'u_${layer}', op: matmul, in: ['n2_${layer}', 'wu_${layer}'],"
              " out: ['u_${layer}'], attrs: {transpose_b: true}}\n"
              "      - {name: 's_${layer}', op: swiglu, in: ['g_${layer}', 'u_${layer}'],"
              " out: ['s_${layer}']}\n"
              "      - {name: 'd_${layer}', op: matmul, in: ['s_${layer}', 'wd_${layer}'],"
              " out: ['d_${layer}'], attrs: {transpose_b: true}}\n"
              "      - {name: 'h_${layer + 1}', op: add, in: ['r_${layer}', 'd_${layer}'],"
              " out: ['h_${layer + 1}']}\n",
              q, c->theta, k, c->theta);
    fw_printf(&b,
              "  - {name: w_final, op: random, out: [w_final],\n"
              "     attrs: {shape: [H], dtype: %s, seed: 2, dist: normal, mean: 1.0, std: 0.1}}\n"
              "  - {name: w_lm, op: random, out: [w_lm],\n"
              "     attrs: {shape: [V, H], dtype: %s, seed: 3, dist: normal, std: 0.18}}\n"
              "  - {name: final_norm, op: rmsnorm, in: [h_%d, w_final], out: [nf]}\n"
              "  - {name: lm_head, op: matmul, in: [nf, w_lm], out: [logits],"
              " attrs: {transpose_b: true}}\n"
              "  - {name: aux, op: capture_concat, in: [h_2, 'h_${L // 2}', 'h_${L - 3}'],"
              " out: [aux]}\n"
              "outputs: [logits, aux, w_embed, w_final, w_lm",
              c->dtype, c->dtype, c->layers);
    for (int l = 0; l < c->layers; l++)
        for (int i = 0; i < FW_N_LAYER_WEIGHTS; i++)
            if (c->has_qk_norm || !fw_layer_weights[i].is_qk_norm)
                fw_printf(&b, ", %s_%d", fw_layer_weights[i].name, l);
    fw_printf(&b, "]\n");
    return b.s;
}

/* --- the reference ----------------------------------------------------------- */

/* Element i (row-major) of a bound tensor, any strides, as double. */
static double fw_get(const sf_tensor_t *t, int64_t i)
{
    int64_t off = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        off += (i % t->shape[d]) * t->strides[d];
        i /= t->shape[d];
    }
    return sf_dtype_load(t->dtype, (const char *)sf_tensor_data(t) + off * (int64_t)sf_dtype_size(t->dtype));
}

/* A weight read back from the run into a malloc'd double array. */
static double *fw_weight(const sf_graph_t *g, const sf_exec_t *ex, const char *name)
{
    int v = sf_graph_find_edge(g, name);
    ck_assert_msg(v >= 0, "no value '%s'", name);
    const sf_tensor_t *t = sf_exec_tensor(ex, v);
    int64_t n = sf_tensor_numel(t);
    double *w = malloc((size_t)n * sizeof *w);
    ck_assert_ptr_nonnull(w);
    for (int64_t i = 0; i < n; i++)
        w[i] = fw_get(t, i);
    return w;
}

static double *fw_layer_weight(const sf_graph_t *g, const sf_exec_t *ex, const char *name, int l)
{
    char full[64];
    snprintf(full, sizeof full, "%s_%d", name, l);
    return fw_weight(g, ex, full);
}

/* y (n) = W (n x m, row-major, as nn.Linear's (out, in)) @ x (m) */
static void fw_linear(const double *w, const double *x, double *y, int n, int m)
{
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < m; j++)
            s += w[i * m + j] * x[j];
        y[i] = s;
    }
}

static void fw_rmsnorm(const double *x, const double *w, double *y, int n)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double inv = 1.0 / sqrt(ss / n + 1e-6);
    for (int i = 0; i < n; i++)
        y[i] = w[i] * x[i] * inv;
}

static void fw_rope(double *x, int hd, int pos, double theta)
{
    int half = hd / 2;
    for (int i = 0; i < half; i++) {
        double ang = pos * pow(theta, -2.0 * i / hd);
        double x0 = x[i], x1 = x[i + half];
        x[i] = x0 * cos(ang) - x1 * sin(ang);
        x[i + half] = x1 * cos(ang) + x0 * sin(ang);
    }
}

typedef struct fw_ref {
    double *logits; /* T x V */
    double *aux;    /* T x (n_aux * H) */
    int n_aux;
} fw_ref_t;

static fw_ref_t fw_reference(const fw_cfg_t *c, const sf_graph_t *g, const sf_exec_t *ex,
                             const int *ids)
{
    int T = c->batch * c->seq, H = c->hidden, NH = c->heads, NKV = c->kv_heads;
    int HD = c->head_dim, I = c->inter, V = c->vocab, L = c->layers, S = c->seq;
    double *x = calloc((size_t)T * H, sizeof *x);    /* the residual stream */
    double *qs = calloc((size_t)T * NH * HD, sizeof *qs);
    double *ks = calloc((size_t)T * NKV * HD, sizeof *ks);
    double *vs = calloc((size_t)T * NKV * HD, sizeof *vs);
    double *n = calloc((size_t)H, sizeof *n), *att = calloc((size_t)NH * HD, sizeof *att);
    double *tmp = calloc((size_t)H, sizeof *tmp), *gg = calloc((size_t)I, sizeof *gg);
    double *uu = calloc((size_t)I, sizeof *uu), *sc = calloc((size_t)S, sizeof *sc);
    /* SGLang captures before layer i for i in {2, L/2, L-3}, each layer once */
    int cap[3] = {2, L / 2, L - 3}, n_aux = 0;
    for (int l = 0; l < L; l++)
        n_aux += (l == cap[0] || l == cap[1] || l == cap[2]);
    fw_ref_t r = {calloc((size_t)T * V, sizeof(double)), calloc((size_t)T * n_aux * H, sizeof(double)),
                  n_aux};
    double *w_embed = fw_weight(g, ex, "w_embed");
    for (int t = 0; t < T; t++)
        memcpy(x + t * H, w_embed + ids[t] * H, (size_t)H * sizeof *x);
    int aux_col = 0;
    for (int l = 0; l < L; l++) {
        if (l == cap[0] || l == cap[1] || l == cap[2]) {
            for (int t = 0; t < T; t++)
                memcpy(r.aux + t * n_aux * H + aux_col * H, x + t * H, (size_t)H * sizeof *x);
            aux_col++;
        }
        double *w_in = fw_layer_weight(g, ex, "w_in", l), *wq = fw_layer_weight(g, ex, "wq", l);
        double *wk = fw_layer_weight(g, ex, "wk", l), *wv = fw_layer_weight(g, ex, "wv", l);
        double *wo = fw_layer_weight(g, ex, "wo", l), *w_post = fw_layer_weight(g, ex, "w_post", l);
        double *wg = fw_layer_weight(g, ex, "wg", l), *wu = fw_layer_weight(g, ex, "wu", l);
        double *wd = fw_layer_weight(g, ex, "wd", l);
        double *wqn = c->has_qk_norm ? fw_layer_weight(g, ex, "wqn", l) : NULL;
        double *wkn = c->has_qk_norm ? fw_layer_weight(g, ex, "wkn", l) : NULL;
        for (int t = 0; t < T; t++) {
            fw_rmsnorm(x + t * H, w_in, n, H);
            fw_linear(wq, n, qs + t * NH * HD, NH * HD, H);
            fw_linear(wk, n, ks + t * NKV * HD, NKV * HD, H);
            fw_linear(wv, n, vs + t * NKV * HD, NKV * HD, H);
            for (int h = 0; h < NH; h++) {
                double *qh = qs + (t * NH + h) * HD;
                if (wqn != NULL) {
                    memcpy(tmp, qh, (size_t)HD * sizeof *tmp);
                    fw_rmsnorm(tmp, wqn, qh, HD);
                }
                fw_rope(qh, HD, t % S, c->theta);
            }
            for (int h = 0; h < NKV; h++) {
                double *kh = ks + (t * NKV + h) * HD;
                if (wkn != NULL) {
                    memcpy(tmp, kh, (size_t)HD * sizeof *tmp);
                    fw_rmsnorm(tmp, wkn, kh, HD);
                }
                fw_rope(kh, HD, t % S, c->theta);
            }
        }
        for (int t = 0; t < T; t++) {
            int t0 = t - t % S; /* first token of t's sequence */
            for (int h = 0; h < NH; h++) {
                int kvh = h / (NH / NKV);
                double mx = -INFINITY, sum = 0;
                for (int j = t0; j <= t; j++) {
                    double dot = 0;
                    for (int d = 0; d < HD; d++)
                        dot += qs[(t * NH + h) * HD + d] * ks[(j * NKV + kvh) * HD + d];
                    sc[j - t0] = dot / sqrt((double)HD);
                    mx = fmax(mx, sc[j - t0]);
                }
                for (int d = 0; d < HD; d++)
                    att[h * HD + d] = 0;
                for (int j = t0; j <= t; j++) {
                    double p = exp(sc[j - t0] - mx);
                    sum += p;
                    for (int d = 0; d < HD; d++)
                        att[h * HD + d] += p * vs[(j * NKV + kvh) * HD + d];
                }
                for (int d = 0; d < HD; d++)
                    att[h * HD + d] /= sum;
            }
            fw_linear(wo, att, tmp, H, NH * HD);
            for (int i = 0; i < H; i++)
                x[t * H + i] += tmp[i];
            fw_rmsnorm(x + t * H, w_post, n, H);
            fw_linear(wg, n, gg, I, H);
            fw_linear(wu, n, uu, I, H);
            for (int i = 0; i < I; i++)
                gg[i] = gg[i] / (1.0 + exp(-gg[i])) * uu[i];
            fw_linear(wd, gg, tmp, H, I);
            for (int i = 0; i < H; i++)
                x[t * H + i] += tmp[i];
        }
        free(w_in), free(wq), free(wk), free(wv), free(wo), free(w_post);
        free(wg), free(wu), free(wd), free(wqn), free(wkn);
    }
    double *w_final = fw_weight(g, ex, "w_final"), *w_lm = fw_weight(g, ex, "w_lm");
    for (int t = 0; t < T; t++) {
        fw_rmsnorm(x + t * H, w_final, n, H);
        fw_linear(w_lm, n, r.logits + t * V, V, H);
    }
    free(w_embed), free(w_final), free(w_lm);
    free(x), free(qs), free(ks), free(vs), free(n), free(att), free(tmp), free(gg), free(uu);
    free(sc);
    return r;
}

/* max |got - want| / max |want| over a tensor */
static double fw_rel_err(const sf_tensor_t *got, const double *want, int64_t n)
{
    ck_assert_int_eq(sf_tensor_numel(got), n);
    double max_diff = 0, max_ref = 0;
    for (int64_t i = 0; i < n; i++) {
        max_diff = fmax(max_diff, fabs(fw_get(got, i) - want[i]));
        max_ref = fmax(max_ref, fabs(want[i]));
    }
    return max_diff / max_ref;
}

static void fw_check(const fw_cfg_t *c, double tol)
{
    sf_ops_register_all();
    char *yaml = fw_graph_yaml(c);
    sf_graph_t *g = NULL;
    sf_err_t err = {0};
    sf_status_t st = sf_graph_load_buffer(yaml, strlen(yaml), "fwd.yaml", NULL, 0, &g, &err);
    if (st != SF_OK)
        fprintf(stderr, "%s\n", yaml);
    ck_assert_msg(st == SF_OK, "%s:%d:%d: %s", err.file ? err.file : "?", err.line, err.col,
                  err.msg);
    int T = c->batch * c->seq;
    int *ids = malloc((size_t)T * sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    for (int t = 0; t < T; t++)
        ids[t] = (t * 17 + 3) % c->vocab;
    sf_buffer_t ids_buf = {.data = ids, .nbytes = (uint64_t)T * 4, .dtype = SF_DTYPE_I32};
    sf_tensor_t ids_t = sf_tensor_make(SF_DTYPE_I32, 2, (const int64_t[]){c->batch, c->seq});
    ids_t.buf = &ids_buf;
    sf_exec_t *ex = NULL;
    sf_exec_opts_t o = {0};
    ck_assert_int_eq(sf_exec_new(g, sf_device_cpu(), &o, &ex, &err), SF_OK);
    ck_assert_int_eq(sf_exec_set_input(ex, "ids", &ids_t, &err), SF_OK);
    st = sf_exec_run(ex, &err);
    ck_assert_msg(st == SF_OK, "run: %s", err.msg);
    fw_ref_t r = fw_reference(c, g, ex, ids);
    const sf_tensor_t *logits = sf_exec_tensor(ex, sf_graph_find_edge(g, "logits"));
    const sf_tensor_t *aux = sf_exec_tensor(ex, sf_graph_find_edge(g, "aux"));
    ck_assert_int_eq(aux->shape[1], r.n_aux * c->hidden);
    double e_logits = fw_rel_err(logits, r.logits, (int64_t)T * c->vocab);
    double e_aux = fw_rel_err(aux, r.aux, (int64_t)T * r.n_aux * c->hidden);
    printf("forward %s (%s, %d layers, %d captured): logits rel err %.3g, aux rel err %.3g\n",
           c->name, c->dtype, c->layers, r.n_aux, e_logits, e_aux);
    ck_assert_msg(e_logits <= tol, "%s logits: rel err %g > %g", c->name, e_logits, tol);
    ck_assert_msg(e_aux <= tol, "%s aux: rel err %g > %g", c->name, e_aux, tol);
    free(r.logits);
    free(r.aux);
    sf_exec_free(ex);
    sf_graph_free(g);
    free(ids);
    free(yaml);
}

/* hidden 32, 4 heads on 2 kv heads of 8, intermediate 48, vocab 50, two
 * sequences of 5 tokens. Llama: 4 layers, captures [2, 2, 1] -> layers 1
 * and 2 (a repeat dropped). Qwen3: 3 layers, captures [2, 1, 0] -> all. */
static const fw_cfg_t fw_llama = {"llama", 4, 32, 4, 2, 8, 48, 50, 2, 5, 10000.0, false, "f32"};
static const fw_cfg_t fw_qwen3 = {"qwen3", 3, 32, 4, 2, 8, 48, 50, 2, 5, 1000000.0, true, "f32"};

#define FW_TOL_F32 1e-5
#define FW_TOL_BF16 4e-2

START_TEST(test_forward_llama_f32)
{
    fw_check(&fw_llama, FW_TOL_F32);
}
END_TEST

START_TEST(test_forward_qwen3_f32)
{
    fw_check(&fw_qwen3, FW_TOL_F32);
}
END_TEST

START_TEST(test_forward_llama_bf16)
{
    fw_cfg_t c = fw_llama;
    c.dtype = "bf16";
    fw_check(&c, FW_TOL_BF16);
}
END_TEST

START_TEST(test_forward_qwen3_bf16)
{
    fw_cfg_t c = fw_qwen3;
    c.dtype = "bf16";
    fw_check(&c, FW_TOL_BF16);
}
END_TEST

static Suite *forward_suite(void)
{
    Suite *s = suite_create("forward_ref");
    TCase *tc = tcase_create("forward");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_forward_llama_f32);
    tcase_add_test(tc, test_forward_qwen3_f32);
    tcase_add_test(tc, test_forward_llama_bf16);
    tcase_add_test(tc, test_forward_qwen3_bf16);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(forward_suite());
}
