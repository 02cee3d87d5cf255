/* matmul: C = A @ B with A (..., M, K) and B (K, N), or batched (..., K, N)
 * with A's batch dims; transpose_b takes B as (N, K) / (..., N, K), the
 * layout of an lm_head weight. The CPU kernel accumulates in f32 with
 * OpenBLAS: bf16/f16 operands (and strided f32 ones BLAS cannot address)
 * are packed to f32 in scratch, declared through scratch_bytes so the
 * memory accounting sees it, and a non-f32 result is rounded once. */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "graph.h"
#include "op.h"
#include "op_shape.h"
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

/* How the kernel feeds BLAS. Decided from the layouts alone, so
 * scratch_bytes (at plan time) and the kernel (at run time) agree. */
typedef struct mm_plan {
    int64_t batch, m, k, n;
    bool is_b_batched;
    bool is_trans_b;
    bool is_a_direct;  /* A is f32 with unit column stride: BLAS reads it in place */
    bool is_b_direct;
    bool is_collapsed; /* 2-D B and A's rows evenly spaced: one gemm of batch*m rows */
    int64_t lda, ldb;  /* for direct operands, in elements */
    uint64_t a_bytes, b_bytes, c_bytes; /* scratch parts, each 64-byte aligned */
} mm_plan_t;

#define MM_ALIGN 64u

static uint64_t mm_round(uint64_t n)
{
    return (n + MM_ALIGN - 1) / MM_ALIGN * MM_ALIGN;
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
    int64_t ld;
    /* With M > 1 the spacing is A's row stride; with M == 1 it is the
     * innermost batch stride, which must still leave room for K columns. */
    if (!p->is_b_batched && p->is_a_direct && p->batch > 1 && mm_rows_uniform(a, &ld) &&
        ld >= p->lda) {
        p->is_collapsed = true;
        p->lda = ld;
    }
    uint64_t rows_c = (uint64_t)(p->is_collapsed ? p->batch * p->m : p->m);
    p->a_bytes = p->is_a_direct ? 0 : mm_round((uint64_t)(p->m * p->k) * 4u);
    p->b_bytes = p->is_b_direct ? 0 : mm_round((uint64_t)(p->k * p->n) * 4u);
    p->c_bytes = c->dtype == SF_DTYPE_F32 ? 0 : mm_round(rows_c * (uint64_t)p->n * 4u);
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

/* Copy a rows x cols matrix (any strides, in elements) into dense f32. */
static void mm_pack(float *dst, const char *src, sf_dtype_t dt, int64_t rows, int64_t cols,
                    int64_t rs, int64_t cs)
{
    int64_t esize = (int64_t)sf_dtype_size(dt);
    for (int64_t r = 0; r < rows; r++) {
        const char *row = src + r * rs * esize;
        float *d = dst + r * cols;
        if (dt == SF_DTYPE_BF16) {
            for (int64_t j = 0; j < cols; j++) {
                uint16_t h;
                memcpy(&h, row + j * cs * esize, 2);
                d[j] = sf_bf16_to_f32(h);
            }
        } else {
            for (int64_t j = 0; j < cols; j++)
                d[j] = (float)sf_dtype_load(dt, row + j * cs * esize);
        }
    }
}

/* Round count f32 values into dst (contiguous, a float dtype) once. */
static void mm_store(char *dst, sf_dtype_t dt, const float *src, int64_t count)
{
    if (dt == SF_DTYPE_BF16) {
        for (int64_t i = 0; i < count; i++) {
            uint16_t h = sf_f32_to_bf16(src[i]);
            memcpy(dst + 2 * i, &h, 2);
        }
        return;
    }
    size_t esize = sf_dtype_size(dt);
    for (int64_t i = 0; i < count; i++)
        sf_dtype_store(dt, dst + (size_t)i * esize, src[i]);
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
    int64_t rows = p.is_collapsed ? p.batch * p.m : p.m;
    if (!mm_fits_blas(rows) || !mm_fits_blas(p.n) || !mm_fits_blas(p.k) ||
        !mm_fits_blas(p.lda) || !mm_fits_blas(p.ldb))
        return sf_err_set(err, SF_ERR_UNSUPPORTED, &node->pos,
                          "node '%s': matmul of %lld x %lld x %lld exceeds BLAS's int sizes",
                          node->name, (long long)rows, (long long)p.k, (long long)p.n);
    char *scratch = args->scratch;
    float *a_pack = p.a_bytes ? (float *)scratch : NULL;
    float *b_pack = p.b_bytes ? (float *)(scratch + p.a_bytes) : NULL;
    float *c_tmp = p.c_bytes ? (float *)(scratch + p.a_bytes + p.b_bytes) : NULL;
    int nd = a->ndim, bn = b->ndim;
    int64_t a_rs = a->strides[nd - 2], a_cs = a->strides[nd - 1];
    int64_t b_rows = b->shape[bn - 2], b_cols = b->shape[bn - 1];
    int64_t b_rs = b->strides[bn - 2], b_cs = b->strides[bn - 1];
    size_t a_es = sf_dtype_size(a->dtype), b_es = sf_dtype_size(b->dtype);
    size_t c_es = sf_dtype_size(c->dtype);
    const char *a_data = sf_tensor_data(a), *b_data = sf_tensor_data(b);
    char *c_data = sf_tensor_data(c);
    enum CBLAS_TRANSPOSE tb = p.is_trans_b ? CblasTrans : CblasNoTrans;
    /* A shared B is packed once; a batched one per matrix below. */
    const float *b_mat = (const float *)b_data;
    int64_t ldb = p.ldb;
    if (!p.is_b_batched && !p.is_b_direct) {
        mm_pack(b_pack, b_data, b->dtype, b_rows, b_cols, b_rs, b_cs);
        b_mat = b_pack;
        ldb = b_cols;
    }
    int64_t n_gemm = p.is_collapsed ? 1 : p.batch;
    int64_t idx[SF_MAX_DIMS] = {0};
    for (int64_t g = 0; g < n_gemm; g++) {
        int64_t a_off = 0, b_off = 0; /* bytes to this batch's matrices */
        for (int d = 0; d < nd - 2; d++) {
            a_off += idx[d] * a->strides[d] * (int64_t)a_es;
            if (p.is_b_batched)
                b_off += idx[d] * b->strides[d] * (int64_t)b_es;
        }
        sf_index_next(nd - 2, a->shape, idx);
        const float *a_mat = (const float *)(a_data + a_off);
        int64_t lda = p.lda;
        if (!p.is_a_direct) {
            mm_pack(a_pack, a_data + a_off, a->dtype, p.m, p.k, a_rs, a_cs);
            a_mat = a_pack;
            lda = p.k;
        }
        if (p.is_b_batched) {
            b_mat = (const float *)(b_data + b_off);
            ldb = p.ldb;
            if (!p.is_b_direct) {
                mm_pack(b_pack, b_data + b_off, b->dtype, b_rows, b_cols, b_rs, b_cs);
                b_mat = b_pack;
                ldb = b_cols;
            }
        }
        char *c_out = c_data + (size_t)(g * p.m * p.n) * c_es;
        float *c_mat = c_tmp ? c_tmp : (float *)c_out;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, (int)rows, (int)p.n, (int)p.k, 1.0f, a_mat,
                    (int)lda, b_mat, (int)ldb, 0.0f, c_mat, (int)p.n);
        if (c_tmp)
            mm_store(c_out, c->dtype, c_tmp, rows * p.n);
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
