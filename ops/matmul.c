/* matmul: C = A @ B with A (..., M, K) and B (K, N), or batched (..., K, N)
 * with A's batch dims; transpose_b takes B as (N, K) / (..., N, K), the
 * layout of an lm_head weight. The CPU kernel accumulates in f32 with
 * OpenBLAS's sgemm (ops/blas.c). Operands BLAS cannot read in place (bf16,
 * f16, strided f32) are converted to f32 one tile at a time, and a non-f32
 * result is accumulated in an f32 tile over all of K and rounded once; so
 * the scratch, declared through scratch_bytes, is at most three tiles
 * (MM_TILE_*: 8 MiB) whatever the sizes. */
#include <limits.h>
#include <string.h>

#include "blas.h"
#include "matmul.h"
#include "graph.h"
#include "op.h"
#include "op_shape.h"
#include "vector_clones.h"
#include "walk.h"
static const sf_op_attr_desc_t matmul_attrs[] = {
    {"transpose_b", SF_ATTR_BOOL, "false", "B is given as (..., N, K)"},
    /* A string, not a dtype attr: its default is "the input dtype", which
     * no fixed dtype name can say. */
    {"out_dtype", SF_ATTR_STRING, "\"\"", "output dtype (f32, bf16, f16); default: the input's"},
};

static sf_status_t matmul_out_dtype(const sf_node_t *node, sf_dtype_t in_dtype, sf_dtype_t *out,
                                    sf_err_t *err)
{
    const char *s = sf_node_attr_str(node, "out_dtype");
    if (s == NULL || s[0] == '\0') {
        *out = in_dtype;
        return SF_OK;
    }
    if (!sf_dtype_parse(s, out) || !sf_dtype_is_float(*out))
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "out_dtype"),
                          "node '%s': out_dtype '%s', expected f32, bf16 or f16", node->name, s);
    return SF_OK;
}

static sf_status_t matmul_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    (void)n_out;
    const sf_tensor_t *a = &in[0], *b = &in[1];
    sf_status_t st;
    if ((st = sf_op_shape_need_ndim(node, in, 0, 2, err)) != SF_OK ||
        (st = sf_op_shape_need_ndim(node, in, 1, 2, err)) != SF_OK ||
        (st = sf_op_shape_need_float(node, in, 0, err)) != SF_OK)
        return st;
    if (b->dtype != a->dtype)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': input 'b' has dtype %s, expected %s (the dtype of 'a')",
                          node->name, sf_dtype_name(b->dtype), sf_dtype_name(a->dtype));
    bool trans_b = sf_node_attr_bool(node, "transpose_b");
    int64_t k = a->shape[a->ndim - 1];
    int64_t b_k = b->shape[b->ndim - (trans_b ? 1 : 2)];
    int64_t n = b->shape[b->ndim - (trans_b ? 2 : 1)];
    if (b_k != k)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': input 'b' has shape %s, expected %s[%s%lld%s] to match "
                          "'a' of shape %s (K = %lld)",
                          node->name, sf_op_shape_str(b).s, b->ndim > 2 ? "[...]+" : "",
                          trans_b ? "*," : "", (long long)k, trans_b ? "" : ",*",
                          sf_op_shape_str(a).s, (long long)k);
    if (b->ndim > 2) {
        bool is_ok = b->ndim == a->ndim;
        for (int d = 0; is_ok && d < a->ndim - 2; d++)
            is_ok = a->shape[d] == b->shape[d];
        if (!is_ok)
            return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                              "node '%s': input 'b' has shape %s, expected batch dims equal "
                              "to those of 'a' of shape %s, or a 2-D 'b'",
                              node->name, sf_op_shape_str(b).s, sf_op_shape_str(a).s);
    }
    sf_dtype_t odt;
    if ((st = matmul_out_dtype(node, a->dtype, &odt, err)) != SF_OK)
        return st;
    int64_t shape[SF_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 1] = n;
    out[0] = sf_tensor_make(odt, a->ndim, shape);
    return SF_OK;
}

/* Tile sizes of the converted path, in elements. Large enough that each
 * sgemm call runs near the full-matrix speed (OpenBLAS blocks K by a few
 * hundred and M by several hundred itself), small enough that the scratch
 * stays a constant: A 512x1024, B 1024x1024, C 512x1024 floats = 8 MiB. */
#define MM_TILE_M SF_MATMUL_TILE_ROWS
#define MM_TILE_N 1024
#define MM_TILE_K 1024

/* How the kernel feeds BLAS. Decided from the layouts alone, so
 * scratch_bytes (at plan time) and the kernel (at run time) agree. */
typedef struct mm_plan {
    int64_t batch, m, k, n;
    bool is_b_batched;
    bool is_trans_b;
    bool is_a_direct;  /* A is f32 with unit column stride: BLAS reads it in place */
    bool is_b_direct;
    bool is_c_direct;  /* C is f32: BLAS accumulates into it in place */
    bool is_collapsed; /* 2-D B: one gemm over all batch*m rows of A */
    int64_t rows;      /* rows of each gemm: batch*m when collapsed, else m */
    int64_t lda, ldb;  /* for direct operands, in elements */
    int64_t mt, nt, kt; /* tile sizes, clamped to the problem */
    uint64_t a_bytes, b_bytes, c_bytes; /* scratch parts (one tile each), 64-byte aligned */
} mm_plan_t;

#define MM_ALIGN 64u

static uint64_t mm_round(uint64_t n)
{
    return (n + MM_ALIGN - 1) / MM_ALIGN * MM_ALIGN;
}

static int64_t mm_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Can BLAS read this rows x cols matrix in place? Then *ld is its row stride. */
static bool mm_direct(sf_dtype_t dt, int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                      int64_t *ld)
{
    int64_t min_ld = cols > 1 ? cols : 1;
    if (dt != SF_DTYPE_F32 || (cols > 1 && cs != 1))
        return false;
    if (rows <= 1) {
        *ld = min_ld;
        return true;
    }
    if (rs < min_ld)
        return false;
    *ld = rs;
    return true;
}

/* Are all of A's rows (batch dims and M together) one evenly spaced run?
 * Then *ld is the spacing. Size-1 dims do not count. */
static bool mm_rows_uniform(const sf_tensor_t *a, int64_t *ld)
{
    int64_t stride = -1, expect = -1;
    for (int d = a->ndim - 2; d >= 0; d--) {
        if (a->shape[d] == 1)
            continue;
        if (stride < 0)
            stride = a->strides[d];
        else if (a->strides[d] != expect)
            return false;
        expect = a->strides[d] * a->shape[d];
    }
    *ld = stride;
    return true;
}

static void mm_plan_make(const sf_tensor_t *a, const sf_tensor_t *b, const sf_tensor_t *c,
                         bool trans_b, mm_plan_t *p)
{
    memset(p, 0, sizeof *p);
    int nd = a->ndim;
    p->m = a->shape[nd - 2];
    p->k = a->shape[nd - 1];
    p->n = c->shape[nd - 1];
    p->batch = 1;
    for (int d = 0; d < nd - 2; d++)
        p->batch *= a->shape[d];
    p->is_b_batched = b->ndim > 2;
    p->is_trans_b = trans_b;
    int bn = b->ndim;
    int64_t b_rows = b->shape[bn - 2], b_cols = b->shape[bn - 1];
    p->is_a_direct = mm_direct(a->dtype, p->m, p->k, a->strides[nd - 2], a->strides[nd - 1],
                               &p->lda);
    p->is_b_direct = mm_direct(b->dtype, b_rows, b_cols, b->strides[bn - 2], b->strides[bn - 1],
                               &p->ldb);
    p->is_c_direct = c->dtype == SF_DTYPE_F32;
    int64_t ld;
    if (!p->is_b_batched && p->batch > 1) {
        if (!p->is_a_direct) {
            /* Converted rows are addressed one by one, so any batch layout
             * joins one gemm. */
            p->is_collapsed = true;
        } else if (mm_rows_uniform(a, &ld) && ld >= p->lda) {
            /* With M > 1 the spacing is A's row stride; with M == 1 it is the
             * innermost batch stride, which must still leave room for K columns. */
            p->is_collapsed = true;
            p->lda = ld;
        }
    }
    p->rows = p->is_collapsed ? p->batch * p->m : p->m;
    p->mt = mm_min(p->rows, MM_TILE_M);
    p->nt = mm_min(p->n, MM_TILE_N);
    p->kt = mm_min(p->k, MM_TILE_K);
    p->a_bytes = p->is_a_direct ? 0 : mm_round((uint64_t)(p->mt * p->kt) * 4u);
    p->b_bytes = p->is_b_direct ? 0 : mm_round((uint64_t)(p->kt * p->nt) * 4u);
    p->c_bytes = p->is_c_direct ? 0 : mm_round((uint64_t)(p->mt * p->nt) * 4u);
}

static uint64_t matmul_scratch(const sf_node_t *node, const void *prepared,
                               const sf_tensor_t *in, int n_in, const sf_tensor_t *out,
                               int n_out)
{
    (void)prepared;
    (void)n_in;
    (void)n_out;
    mm_plan_t p;
    mm_plan_make(&in[0], &in[1], &out[0], sf_node_attr_bool(node, "transpose_b"), &p);
    return p.a_bytes + p.b_bytes + p.c_bytes;
}

/* The two conversions that touch every element (bf16 rows in, bf16 tiles
 * out) are compiled per ISA and picked by CPU features. */
SF_VECTOR_CLONES
static void mm_bf16_row_to_f32(float *d, const uint16_t *h, int64_t cols)
{
    for (int64_t j = 0; j < cols; j++) {
        uint32_t u = (uint32_t)h[j] << 16;
        memcpy(&d[j], &u, 4);
    }
}

SF_VECTOR_CLONES
static void mm_f32_to_bf16_row(uint16_t *d, const float *src, int64_t count)
{
    for (int64_t i = 0; i < count; i++)
        d[i] = sf_f32_to_bf16(src[i]);
}

/* Convert cols elements of one row (element stride cs) to f32. */
static void mm_pack_row(float *d, const char *row, sf_dtype_t dt, int64_t cols, int64_t cs)
{
    if (dt == SF_DTYPE_BF16 && cs == 1) { /* the hot case: lm_head weights */
        mm_bf16_row_to_f32(d, (const uint16_t *)(const void *)row, cols);
        return;
    }
    int64_t step = cs * (int64_t)sf_dtype_size(dt);
    if (dt == SF_DTYPE_BF16) {
        for (int64_t j = 0; j < cols; j++) {
            uint16_t h;
            memcpy(&h, row + j * step, 2);
            d[j] = sf_bf16_to_f32(h);
        }
        return;
    }
    for (int64_t j = 0; j < cols; j++)
        d[j] = (float)sf_dtype_load(dt, row + j * step);
}

/* Round count f32 values into dst (contiguous, a float dtype) once. */
static void mm_store(char *dst, sf_dtype_t dt, const float *src, int64_t count)
{
    if (dt == SF_DTYPE_BF16) {
        mm_f32_to_bf16_row((uint16_t *)(void *)dst, src, count);
        return;
    }
    size_t esize = sf_dtype_size(dt);
    for (int64_t i = 0; i < count; i++)
        sf_dtype_store(dt, dst + (size_t)i * esize, src[i]);
}

/* Byte offset of row r of A's rows flattened over (batch dims, M). */
static int64_t mm_a_row_offset(const sf_tensor_t *a, int64_t m, int64_t r)
{
    int nd = a->ndim;
    int64_t g = r / m, off = (r % m) * a->strides[nd - 2];
    for (int d = nd - 3; d >= 0 && g > 0; d--) {
        off += (g % a->shape[d]) * a->strides[d];
        g /= a->shape[d];
    }
    return off * (int64_t)sf_dtype_size(a->dtype);
}

/* One gemm of the plan (group g): A's rows [g*rows, (g+1)*rows), B at
 * b_data, C's rows from g*rows. Walks (M, N) tiles and K tiles inside them,
 * so each C tile sums all of K in f32 before it is rounded. */
typedef struct mm_gemm {
    const mm_plan_t *p;
    const sf_tensor_t *a, *b, *c; /* borrowed: the kernel's arguments */
    const char *b_data;           /* borrowed: this group's B matrix */
    int64_t g;
    float *a_pack, *b_pack, *c_tmp; /* borrowed: scratch tiles, NULL when direct */
} mm_gemm_t;

static void mm_gemm_tiled(const mm_gemm_t *t)
{
    const mm_plan_t *p = t->p;
    const sf_tensor_t *a = t->a, *b = t->b, *c = t->c;
    int bn = b->ndim;
    int64_t b_rs = b->strides[bn - 2] * (int64_t)sf_dtype_size(b->dtype);
    int64_t b_cs = b->strides[bn - 1];
    int64_t a_cs = a->strides[a->ndim - 1], a_es = (int64_t)sf_dtype_size(a->dtype);
    int64_t b_es = (int64_t)sf_dtype_size(b->dtype), c_es = (int64_t)sf_dtype_size(c->dtype);
    const char *a_data = sf_tensor_data(a);
    char *c_data = sf_tensor_data(c);
    int64_t row0 = t->g * p->rows;
    /* With one K tile, the A tile of an M tile is still valid at the next N
     * tile when there is one M tile: remember what a_pack holds. */
    int64_t a_have_m = -1, a_have_k = -1;
    /* Likewise B's tile across M tiles when K is one tile. */
    int64_t b_have_n = -1, b_have_k = -1;
    for (int64_t n0 = 0; n0 < p->n; n0 += p->nt) {
        int64_t nc = mm_min(p->nt, p->n - n0);
        for (int64_t m0 = 0; m0 < p->rows; m0 += p->mt) {
            int64_t mc = mm_min(p->mt, p->rows - m0);
            for (int64_t k0 = 0; k0 < p->k; k0 += p->kt) {
                int64_t kc = mm_min(p->kt, p->k - k0);
                const float *at;
                int64_t lda;
                if (p->is_a_direct) {
                    at = (const float *)(a_data + mm_a_row_offset(a, p->m, row0) +
                                         (m0 * p->lda + k0) * 4);
                    lda = p->lda;
                } else {
                    if (a_have_m != m0 || a_have_k != k0) {
                        for (int64_t r = 0; r < mc; r++)
                            mm_pack_row(t->a_pack + r * kc,
                                        a_data + mm_a_row_offset(a, p->m, row0 + m0 + r) +
                                            k0 * a_cs * a_es,
                                        a->dtype, kc, a_cs);
                        a_have_m = m0;
                        a_have_k = k0;
                    }
                    at = t->a_pack;
                    lda = kc;
                }
                const float *bt;
                int64_t ldb;
                /* B's tile in its own orientation: (nc x kc) when transposed. */
                int64_t b_r0 = p->is_trans_b ? n0 : k0, b_c0 = p->is_trans_b ? k0 : n0;
                int64_t b_nr = p->is_trans_b ? nc : kc, b_nc = p->is_trans_b ? kc : nc;
                if (p->is_b_direct) {
                    bt = (const float *)(t->b_data) + b_r0 * p->ldb + b_c0;
                    ldb = p->ldb;
                } else {
                    /* With several K tiles, repacked per M tile: then each
                     * element is converted once per MM_TILE_M rows of A, 1 per
                     * 1024 flops. */
                    if (b_have_n != n0 || b_have_k != k0) {
                        for (int64_t r = 0; r < b_nr; r++)
                            mm_pack_row(t->b_pack + r * b_nc,
                                        t->b_data + (b_r0 + r) * b_rs + b_c0 * b_cs * b_es,
                                        b->dtype, b_nc, b_cs);
                        b_have_n = n0;
                        b_have_k = k0;
                    }
                    bt = t->b_pack;
                    ldb = b_nc;
                }
                float *ct;
                int64_t ldc;
                if (p->is_c_direct) {
                    ct = (float *)(c_data + ((row0 + m0) * p->n + n0) * 4);
                    ldc = p->n;
                } else {
                    ct = t->c_tmp;
                    ldc = nc;
                }
                sf_blas_sgemm(p->is_trans_b, (int)mc, (int)nc, (int)kc, at, (int)lda, bt, (int)ldb,
                              k0 == 0 ? 0.0f : 1.0f, ct, (int)ldc);
            }
            if (!p->is_c_direct)
                for (int64_t r = 0; r < mc; r++)
                    mm_store(c_data + ((row0 + m0 + r) * p->n + n0) * c_es, c->dtype,
                             t->c_tmp + r * nc, nc);
        }
    }
}

static bool mm_fits_blas(int64_t v)
{
    return v >= 0 && v <= INT_MAX;
}

static sf_status_t matmul_cpu(const sf_kernel_args_t *args, sf_err_t *err)
{
    const sf_tensor_t *a = &args->in[0], *b = &args->in[1];
    const sf_tensor_t *c = &args->out[0];
    const sf_node_t *node = args->node;
    mm_plan_t p;
    mm_plan_make(a, b, c, sf_node_attr_bool(node, "transpose_b"), &p);
    if (p.batch == 0 || p.m == 0 || p.n == 0)
        return SF_OK;
    if (p.k == 0) { /* an empty sum: BLAS would be asked for ld >= 0 */
        sf_walk_fill(c, 0.0);
        return SF_OK;
    }
    SF_ASSERT(args->scratch_bytes >= p.a_bytes + p.b_bytes + p.c_bytes);
    if (!mm_fits_blas(p.rows) || !mm_fits_blas(p.n) || !mm_fits_blas(p.k) ||
        !mm_fits_blas(p.lda) || !mm_fits_blas(p.ldb))
        return sf_err_set(err, SF_ERR_UNSUPPORTED, &node->pos,
                          "node '%s': matmul of %lld x %lld x %lld exceeds BLAS's int sizes",
                          node->name, (long long)p.rows, (long long)p.k, (long long)p.n);
    sf_status_t st = sf_blas_load(err);
    if (st != SF_OK)
        return st;
    char *scratch = args->scratch;
    mm_gemm_t t = {
        .p = &p,
        .a = a,
        .b = b,
        .c = c,
        .b_data = sf_tensor_data(b),
        .a_pack = p.a_bytes ? (float *)(void *)scratch : NULL,
        .b_pack = p.b_bytes ? (float *)(void *)(scratch + p.a_bytes) : NULL,
        .c_tmp = p.c_bytes ? (float *)(void *)(scratch + p.a_bytes + p.b_bytes) : NULL,
    };
    bool is_whole = p.is_a_direct && p.is_b_direct && p.is_c_direct;
    int64_t n_gemm = p.is_collapsed ? 1 : p.batch;
    int64_t idx[SF_MAX_DIMS] = {0};
    const char *b_base = t.b_data;
    for (int64_t g = 0; g < n_gemm; g++) {
        int64_t b_off = 0; /* bytes to this group's B */
        for (int d = 0; p.is_b_batched && d < a->ndim - 2; d++)
            b_off += idx[d] * b->strides[d] * (int64_t)sf_dtype_size(b->dtype);
        sf_index_next(a->ndim - 2, a->shape, idx);
        t.g = g;
        t.b_data = b_base + b_off;
        if (is_whole) {
            /* Nothing to convert: one sgemm over the whole group, no scratch. */
            const char *a_g = (const char *)sf_tensor_data(a) + mm_a_row_offset(a, p.m, g * p.m);
            sf_blas_sgemm(p.is_trans_b, (int)p.rows, (int)p.n, (int)p.k, (const float *)a_g,
                          (int)p.lda, (const float *)t.b_data, (int)p.ldb, 0.0f,
                          (float *)sf_tensor_data(c) + g * p.rows * p.n, (int)p.n);
        } else {
            mm_gemm_tiled(&t);
        }
    }
    return SF_OK;
}

const sf_op_desc_t sf_op_matmul = {
    .name = "matmul",
    .doc = "a @ b (b 2-D or batched like a; transpose_b for (N,K) weights), f32 accumulate",
    .min_inputs = 2,
    .max_inputs = 2,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = matmul_attrs,
    .n_attrs = sizeof matmul_attrs / sizeof matmul_attrs[0],
    .infer = matmul_infer,
    .scratch_bytes = matmul_scratch,
    .cpu_kernel = matmul_cpu,
};
