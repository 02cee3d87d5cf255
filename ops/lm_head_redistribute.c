/* lm_head_redistribute: the vocab-parallel lm_head and the redistribution of
 * its logits, a chunk of tokens at a time, written cast and shifted straight
 * into the target. It computes exactly what this chain does:
 *
 *   matmul(x, w, transpose_b) -> redistribute(shard(1) -> shard(0), all_to_all)
 *   (or -> replicated, all_gather, then the rank's rows) -> slice(vocab)
 *   -> cast(dtype) -> reshape(rows / seq, seq, vocab) -> pad(dim 1, shift)
 *
 * but neither the local logits shard (T, Vpad / world) nor the received
 * rows (rows, Vpad) ever exist whole: only two chunks of `chunk_tokens`
 * tokens (double buffers), so chunk c's exchange travels while chunk c+1's
 * logits are computed (the comm is started, tested between matrix
 * products, and waited for only when its rows are needed).
 *
 * all_to_all: chunk c is, for every destination rank j, rows [cN, cN + N)
 * of j's own tokens; each rank receives its N rows from every vocab shard.
 * all_gather: chunk c is tokens [cN, cN + N) of the whole batch; every rank
 * receives all of them and keeps those of its own sequences (the same bytes
 * SpecForge's baseline keeps after gathering everything, with all_gather's
 * traffic but not its memory).
 *
 * The kernel is the same on every device: products go through the
 * device's matmul (OpenBLAS on cpu, cuBLAS on cuda), rows move through its
 * copies and fills, and it syncs the device before each exchange starts, so
 * on cuda chunk c travels on NCCL's stream while chunk c + 1's products run
 * on the device's. */
#include <stdlib.h>
#include <string.h>

#include "chunk_pipe.h"
#include "coll.h"
#include "convert.h"
#include "graph.h"
#include "lm_head_redistribute.h"
#include "matmul.h"
#include "op.h"
#include "op_comm.h"
#include "op_shape.h"
#include "walk.h"

extern const sf_op_desc_t sf_op_matmul;

static const sf_op_attr_desc_t lhr_attrs[] = {
    {"via", SF_ATTR_STRING, NULL, "all_to_all or all_gather: the collective of the logits"},
    {"chunk_tokens", SF_ATTR_INT, NULL, "tokens per rank per chunk (> 0); need not divide"},
    {"vocab", SF_ATTR_INT, NULL, "vocab columns kept (the rest are the shards' padding)"},
    {"seq", SF_ATTR_INT, NULL, "tokens per sequence: the output is (rows / seq, seq, vocab)"},
    {"shift", SF_ATTR_INT, "-1", "as pad's along the sequence: out[s] = logits[s - shift]"},
    {"value", SF_ATTR_FLOAT, "0.0", "fill for the places shifted in"},
    {"dtype", SF_ATTR_DTYPE, "f32", "dtype of the output"},
    {"sizes", SF_ATTR_INTS, "[]", "tokens each rank keeps (whole sequences); default equal"},
    {"overlap", SF_ATTR_BOOL, "true",
     "compute the next chunk while this one travels (false: one after the other, to measure)"},
};

#define LHR_MAX_WORLD 256

/* Logits are computed in blocks of matmul's row tile, aligned to x's row
 * 0, exactly as the unfused lm_head's matmul computes them: the same BLAS
 * calls on the same rows give the same bytes (a BLAS kernel gives a row
 * different bytes in a product of another height: measured with
 * OpenBLAS's Haswell and Prescott kernels). A chunk's rows are copied out
 * of the block holding them; the last block computed for each destination
 * is kept, so consecutive chunks compute each block once. */
#define LHR_BLOCK SF_MATMUL_TILE_ROWS

/* What the node does on this rank, from the layouts alone (prepare), so
 * the scratch rule and the kernel agree. Rows are tokens. */
typedef struct lhr_route {
    bool gather;               /* all_gather; else all_to_all */
    int world, rank;
    int64_t chunk;             /* N */
    int64_t vocab, seq, shift, vloc, hidden;
    int64_t rows[LHR_MAX_WORLD];  /* tokens rank j keeps */
    int64_t first[LHR_MAX_WORLD]; /* its first token in x */
    int64_t n_chunks;
    uint64_t send_bytes;       /* one chunk's send buffer; its receive buffer follows */
    uint64_t slot_bytes;       /* one chunk's send + receive buffers */
    int n_blocks_kept;         /* a kept block per destination (1 for all_gather) */
    uint64_t block_bytes;      /* one kept block of logits */
    uint64_t mm_bytes;         /* one block product's scratch */
    sf_attr_t mm_attrs[8];     /* the inner matmul node's attrs */
    sf_node_t mm_node;         /* matmul(x rows, w, transpose_b): its scratch rule and kernel */
} lhr_route_t;

static sf_status_t lhr_route_make(const sf_node_t *node, const sf_tensor_t *in,
                                  lhr_route_t *r, sf_err_t *err)
{
    memset(r, 0, sizeof *r);
    const sf_tensor_t *x = &in[0], *w = &in[1];
    sf_status_t st;
    if ((st = sf_op_shape_need_ndim(node, in, 0, 2, err)) != SF_OK ||
        (st = sf_op_shape_need_ndim(node, in, 1, 2, err)) != SF_OK ||
        (st = sf_op_shape_need_float(node, in, 0, err)) != SF_OK)
        return st;
    if (w->dtype != x->dtype || w->shape[1] != x->shape[1])
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': weight has shape %s %s, expected (V / world, %lld) %s "
                          "to match x %s",
                          node->name, sf_op_shape_str(w).s, sf_dtype_name(w->dtype),
                          (long long)x->shape[1], sf_dtype_name(x->dtype), sf_op_shape_str(x).s);
    const char *via = sf_node_attr_str(node, "via");
    if (strcmp(via, "all_to_all") != 0 && strcmp(via, "all_gather") != 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "via"),
                          "node '%s': via '%s', expected all_to_all or all_gather", node->name,
                          via);
    r->gather = via[4] == 'g';
    r->world = node->world > 0 ? node->world : 1;
    r->rank = node->rank;
    if (r->world > LHR_MAX_WORLD)
        return sf_err_set(err, SF_ERR_UNSUPPORTED, &node->pos,
                          "node '%s': world %d is over the %d ranks this op supports",
                          node->name, r->world, LHR_MAX_WORLD);
    r->chunk = sf_node_attr_int(node, "chunk_tokens");
    r->vocab = sf_node_attr_int(node, "vocab");
    r->seq = sf_node_attr_int(node, "seq");
    r->shift = sf_node_attr_int(node, "shift");
    r->vloc = w->shape[0];
    r->hidden = x->shape[1];
    if (r->chunk <= 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "chunk_tokens"),
                          "node '%s': chunk_tokens %lld, expected > 0", node->name,
                          (long long)r->chunk);
    if (r->vocab < 0 || r->vocab > r->vloc * r->world)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "vocab"),
                          "node '%s': vocab %lld, expected 0..%lld (world %d x the shard's %lld "
                          "rows)",
                          node->name, (long long)r->vocab, (long long)(r->vloc * r->world),
                          r->world, (long long)r->vloc);
    if (r->seq <= 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "seq"),
                          "node '%s': seq %lld, expected > 0", node->name, (long long)r->seq);
    int n;
    const int64_t *sizes = sf_node_attr_ints(node, "sizes", &n);
    const sf_pos_t *pos = sf_op_shape_attr_pos(node, "sizes");
    int64_t total = x->shape[0], sum = 0;
    if (n != 0 && n != r->world)
        return sf_err_set(err, SF_ERR_GRAPH, pos,
                          "node '%s': sizes %s has %d entries, expected one per rank (world %d)",
                          node->name, sf_op_shape_ints_str(n, sizes).s, n, r->world);
    if (n == 0 && total % r->world != 0)
        return sf_err_set(err, SF_ERR_GRAPH, pos,
                          "node '%s': %lld tokens do not divide by world %d (give `sizes`)",
                          node->name, (long long)total, r->world);
    for (int j = 0; j < r->world; j++) {
        r->rows[j] = n == 0 ? total / r->world : sizes[j];
        if (r->rows[j] < 0 || r->rows[j] % r->seq != 0)
            return sf_err_set(err, SF_ERR_GRAPH, pos,
                              "node '%s': rank %d keeps %lld tokens, not a whole number of "
                              "sequences of %lld",
                              node->name, j, (long long)r->rows[j], (long long)r->seq);
        r->first[j] = sum;
        sum += r->rows[j];
    }
    if (sum != total)
        return sf_err_set(err, SF_ERR_GRAPH, pos, "node '%s': sizes %s sum to %lld, expected %lld",
                          node->name, sf_op_shape_ints_str(n, sizes).s, (long long)sum,
                          (long long)total);
    int64_t most = 0;
    for (int j = 0; j < r->world; j++)
        most = r->rows[j] > most ? r->rows[j] : most;
    int64_t span = r->gather ? total : most;
    r->n_chunks = (span + r->chunk - 1) / r->chunk;
    /* One chunk: at most N rows to each rank (or N gathered rows) and N
     * rows from each, of Vloc logits in x's dtype. */
    uint64_t es = sf_dtype_size(x->dtype);
    uint64_t piece = (uint64_t)r->chunk * (uint64_t)r->vloc * es;
    uint64_t send = r->gather ? piece : piece * (uint64_t)r->world;
    r->send_bytes = send;
    r->slot_bytes = (send + piece * (uint64_t)r->world + 63) / 64 * 64;
    int64_t block_rows = total < LHR_BLOCK ? total : LHR_BLOCK;
    r->n_blocks_kept = r->gather ? 1 : r->world;
    r->block_bytes = ((uint64_t)block_rows * (uint64_t)r->vloc * es + 63) / 64 * 64;
    return SF_OK;
}

static sf_status_t lhr_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                             sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    (void)n_out;
    lhr_route_t *r = malloc(sizeof *r);
    SF_ASSERT(r != NULL);
    sf_status_t st = lhr_route_make(node, in, r, err);
    if (st == SF_OK) {
        int64_t shape[3] = {r->rows[r->rank] / r->seq, r->seq, r->vocab};
        out[0] = sf_tensor_make(sf_node_attr_dtype(node, "dtype"), 3, shape);
    }
    free(r);
    return st;
}

/* The inner matmul node: the lm_head as the unfused graph writes it, so the
 * logits are the same bytes. */
static void lhr_mm_node(const sf_node_t *node, lhr_route_t *r)
{
    const sf_op_desc_t *mm = &sf_op_matmul;
    SF_ASSERT(mm->n_attrs <= (int)(sizeof r->mm_attrs / sizeof r->mm_attrs[0]));
    for (int i = 0; i < mm->n_attrs; i++) {
        sf_attr_t *a = &r->mm_attrs[i];
        a->type = mm->attrs[i].type;
        a->s = (char *)"";
        a->b = strcmp(mm->attrs[i].name, "transpose_b") == 0;
        a->pos = node->pos;
    }
    r->mm_node = (sf_node_t){.name = node->name, .op = mm, .attrs = r->mm_attrs,
                             .pos = node->pos, .rank = node->rank, .world = node->world};
}

/* x rows [first, first + n) and w: the matmul's operands. */
static void lhr_mm_operands(const lhr_route_t *r, const sf_tensor_t *x, const sf_tensor_t *w,
                            int64_t first, int64_t n, sf_tensor_t mm_in[2], sf_tensor_t *mm_out,
                            void *out_data, sf_buffer_t *out_buf)
{
    mm_in[0] = *x;
    mm_in[0].shape[0] = n;
    mm_in[0].offset += (uint64_t)(first * x->strides[0]) * sf_dtype_size(x->dtype);
    mm_in[1] = *w;
    int64_t shape[2] = {n, r->vloc};
    *mm_out = sf_tensor_make(x->dtype, 2, shape);
    out_buf->data = out_data;
    mm_out->buf = out_buf;
}

static sf_status_t lhr_prepare(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                               const sf_tensor_t *out, int n_out, void **prepared, sf_err_t *err)
{
    (void)n_in;
    (void)out;
    (void)n_out;
    *prepared = NULL;
    lhr_route_t *r = malloc(sizeof *r);
    SF_ASSERT(r != NULL);
    sf_status_t st = lhr_route_make(node, in, r, err);
    if (st != SF_OK) {
        free(r);
        return st;
    }
    lhr_mm_node(node, r);
    /* The tallest block bounds the scratch of all (a matmul's scratch
     * never shrinks as its rows grow). */
    sf_tensor_t mm_in[2], mm_out;
    sf_buffer_t b = {0};
    int64_t n = in[0].shape[0] < LHR_BLOCK ? in[0].shape[0] : LHR_BLOCK;
    lhr_mm_operands(r, &in[0], &in[1], 0, n, mm_in, &mm_out, NULL, &b);
    mm_out.buf = NULL;
    r->mm_bytes = sf_op_matmul.scratch_bytes != NULL
                      ? sf_op_matmul.scratch_bytes(&r->mm_node, NULL, mm_in, 2, &mm_out, 1)
                      : 0;
    r->mm_bytes = (r->mm_bytes + 63) / 64 * 64;
    *prepared = r;
    return SF_OK;
}

/* A block product's scratch on dev: the device's matmul rule for the
 * tallest block (the cpu's is r->mm_bytes), 64-byte rounded so what follows
 * stays aligned. */
static uint64_t lhr_mm_bytes_on(const sf_device_t *dev, const lhr_route_t *r,
                                const sf_tensor_t *in)
{
    if (dev == NULL)
        return r->mm_bytes;
    sf_tensor_t mm_in[2], mm_out;
    sf_buffer_t b = {0};
    int64_t n = in[0].shape[0] < LHR_BLOCK ? in[0].shape[0] : LHR_BLOCK;
    lhr_mm_operands(r, &in[0], &in[1], 0, n, mm_in, &mm_out, NULL, &b);
    mm_out.buf = NULL;
    uint64_t bytes = sf_device_scratch_bytes(dev, &sf_op_matmul, &r->mm_node, NULL, mm_in, 2,
                                             &mm_out, 1);
    return (bytes + 63) / 64 * 64;
}

uint64_t sf_lhr_scratch_on(const sf_device_t *dev, const void *prepared, const sf_tensor_t *in)
{
    const lhr_route_t *r = prepared;
    return 2 * r->slot_bytes + (uint64_t)r->n_blocks_kept * r->block_bytes +
           lhr_mm_bytes_on(dev, r, in);
}

static uint64_t lhr_scratch(const sf_node_t *node, const void *prepared, const sf_tensor_t *in,
                            int n_in, const sf_tensor_t *out, int n_out)
{
    (void)node;
    (void)n_in;
    (void)out;
    (void)n_out;
    return sf_lhr_scratch_on(NULL, prepared, in);
}

/* One chunk in flight: its buffers and counts (chunk_pipe owns the
 * request). */
typedef struct lhr_slot {
    char *send, *recv;
    int64_t m;  /* rows of this rank's own tokens in the chunk (all_to_all) or gathered rows */
    int64_t c;  /* chunk index */
    uint64_t sc[LHR_MAX_WORLD], sd[LHR_MAX_WORLD], rc[LHR_MAX_WORLD], rd[LHR_MAX_WORLD];
    sf_coll_args_t args;
} lhr_slot_t;

/* Rows of rank j's tokens in chunk c (all_to_all). */
static int64_t lhr_rows_in(const lhr_route_t *r, int j, int64_t c)
{
    int64_t lo = c * r->chunk, hi = lo + r->chunk;
    if (hi > r->rows[j])
        hi = r->rows[j];
    return hi > lo ? hi - lo : 0;
}

typedef struct lhr_ctx {
    const lhr_route_t *r;
    const sf_kernel_args_t *a;
    sf_comm_t *comm;
    size_t es;
    char *mm_scratch;
    uint64_t mm_bytes; /* the device's block product scratch */
    char *blocks;                       /* n_blocks_kept kept blocks */
    int64_t block_first[LHR_MAX_WORLD]; /* first row of each kept block; -1: none */
    lhr_slot_t slots[2];
} lhr_ctx_t;

/* Kept block k := x rows [first, first + LHR_BLOCK) (fewer at the end) times
 * w, by matmul's kernel: one of the unfused lm_head's own row tiles. */
static sf_status_t lhr_block(lhr_ctx_t *ctx, int k, int64_t first, sf_err_t *err)
{
    const lhr_route_t *r = ctx->r;
    int64_t total = ctx->a->in[0].shape[0];
    int64_t n = total - first < LHR_BLOCK ? total - first : LHR_BLOCK;
    sf_tensor_t mm_in[2], mm_out;
    sf_buffer_t b = {0};
    lhr_mm_operands(r, &ctx->a->in[0], &ctx->a->in[1], first, n, mm_in, &mm_out,
                    ctx->blocks + (size_t)k * r->block_bytes, &b);
    sf_kernel_args_t mm = {.op = &sf_op_matmul, .node = &r->mm_node, .in = mm_in, .n_in = 2,
                           .out = &mm_out, .n_out = 1, .scratch = ctx->mm_scratch,
                           .scratch_bytes = ctx->mm_bytes, .dev = ctx->a->dev, .env = ctx->a->env};
    sf_status_t st = sf_device_run(ctx->a->dev, &mm, err);
    if (st == SF_OK)
        ctx->block_first[k] = first;
    return st;
}

/* nbytes from src to dst, both in the device's memory, ordered before the
 * device's later work. */
static sf_status_t lhr_move(sf_device_t *dev, void *dst, void *src, uint64_t nbytes,
                            sf_err_t *err)
{
    sf_buffer_t db = {.data = dst}, sb = {.data = src};
    sf_tensor_t d = sf_tensor_make(SF_DTYPE_U8, 1, (const int64_t[]){(int64_t)nbytes}), v = d;
    d.buf = &db;
    v.buf = &sb;
    return sf_device_copy_tensor(dev, &d, &v, err);
}

/* Logits of x rows [first, first + n) into dst (n x Vloc), from kept block
 * k (computing blocks as needed), testing the chunk in flight (if any) so a
 * backend that needs the caller's progress moves it between products. */
static sf_status_t lhr_logits(lhr_ctx_t *ctx, int k, int64_t first, int64_t n, char *dst,
                              void *in_flight, sf_err_t *err)
{
    const lhr_route_t *r = ctx->r;
    size_t row = (size_t)r->vloc * ctx->es;
    for (int64_t at = first; at < first + n;) {
        int64_t b0 = at / LHR_BLOCK * LHR_BLOCK;
        sf_status_t st = SF_OK;
        if (ctx->block_first[k] != b0)
            st = lhr_block(ctx, k, b0, err);
        if (st == SF_OK && in_flight != NULL)
            st = sf_comm_test(ctx->comm, in_flight, err);
        if (st != SF_OK && st != SF_INPROGRESS)
            return st;
        int64_t hi = first + n < b0 + LHR_BLOCK ? first + n : b0 + LHR_BLOCK;
        st = lhr_move(ctx->a->dev, dst + (size_t)(at - first) * row,
                      ctx->blocks + (size_t)k * r->block_bytes + (size_t)(at - b0) * row,
                      (uint64_t)(hi - at) * row, err);
        if (st != SF_OK)
            return st;
        at = hi;
    }
    return SF_OK;
}

/* Compute chunk c's logits into slot s and describe its exchange. */
static sf_status_t lhr_compute(void *vctx, int64_t c, int k, void *in_flight, sf_err_t *err)
{
    lhr_ctx_t *ctx = vctx;
    lhr_slot_t *s = &ctx->slots[k];
    const lhr_route_t *r = ctx->r;
    s->c = c;
    uint64_t piece = (uint64_t)r->vloc;
    sf_status_t st = SF_OK;
    if (r->gather) {
        int64_t lo = c * r->chunk, total = r->first[r->world - 1] + r->rows[r->world - 1];
        s->m = total - lo < r->chunk ? total - lo : r->chunk;
        st = lhr_logits(ctx, 0, lo, s->m, s->send, in_flight, err);
        for (int p = 0; p < r->world; p++) {
            s->rc[p] = (uint64_t)s->m * piece;
            s->rd[p] = (uint64_t)p * s->rc[p];
        }
        s->args = (sf_coll_args_t){.kind = SF_COLL_ALLGATHER, .count = (uint64_t)s->m * piece};
    } else {
        uint64_t off = 0;
        s->m = lhr_rows_in(r, r->rank, c);
        for (int j = 0; j < r->world && st == SF_OK; j++) {
            int64_t n = lhr_rows_in(r, j, c);
            st = lhr_logits(ctx, j, r->first[j] + c * r->chunk, n, s->send + off * ctx->es,
                            in_flight, err);
            s->sc[j] = (uint64_t)n * piece;
            s->sd[j] = off;
            off += s->sc[j];
            s->rc[j] = (uint64_t)s->m * piece;
            s->rd[j] = (uint64_t)j * s->rc[j];
        }
        s->args = (sf_coll_args_t){.kind = SF_COLL_ALLTOALLV, .send_counts = s->sc,
                                   .send_displs = s->sd, .recv_counts = s->rc,
                                   .recv_displs = s->rd};
    }
    /* The comm reads the send buffer on its own (NCCL: its own stream):
     * the products and copies that filled it must be done. */
    if (st == SF_OK)
        st = sf_device_sync(ctx->a->dev, err);
    if (st != SF_OK)
        return st;
    s->args.mem = sf_device_mem_kind(ctx->a->dev);
    s->args.dtype = ctx->a->in[0].dtype;
    s->args.send = s->send;
    s->args.recv = s->recv;
    s->args.what = ctx->a->node->name;
    return SF_OK;
}

/* Received rows [i0, i0 + len) of slot s, which land at positions [pos0,
 * pos0 + len) of this rank's sequence b: for each rank's Vloc-column piece
 * one converting 2-D copy through the device (a kernel launch on cuda per
 * piece and run of rows, not per row). */
static sf_status_t lhr_unpack_run(const lhr_ctx_t *ctx, const lhr_slot_t *s, int64_t i0,
                                  int64_t len, int64_t b, int64_t pos0, sf_err_t *err)
{
    const lhr_route_t *r = ctx->r;
    const sf_tensor_t *out = &ctx->a->out[0];
    for (int p = 0; p < r->world; p++) {
        int64_t col = p * r->vloc, n = r->vocab - col < r->vloc ? r->vocab - col : r->vloc;
        if (n <= 0)
            continue;
        sf_tensor_t dst = *out;
        dst.ndim = 2;
        dst.shape[0] = len;
        dst.shape[1] = n;
        dst.strides[0] = out->strides[1];
        dst.strides[1] = out->strides[2];
        dst.offset += (uint64_t)(b * out->strides[0] + pos0 * out->strides[1] +
                                 col * out->strides[2]) *
                      sf_dtype_size(out->dtype);
        sf_buffer_t sb = {.data = s->recv + (size_t)(s->rd[p] + (uint64_t)(i0 * r->vloc)) *
                                                ctx->es};
        sf_tensor_t src = sf_tensor_make(ctx->a->in[0].dtype, 2, (const int64_t[]){len, n});
        src.strides[0] = r->vloc; /* the piece's rows are Vloc apart, n of them kept */
        src.buf = &sb;
        sf_status_t st = sf_device_copy_tensor(ctx->a->dev, &dst, &src, err);
        if (st != SF_OK)
            return st;
    }
    return SF_OK;
}

static const sf_coll_args_t *lhr_args(void *vctx, int k)
{
    return &((lhr_ctx_t *)vctx)->slots[k].args;
}

/* Slot k's exchange has arrived: cast its rows of this rank into the target. */
static sf_status_t lhr_unpack(void *vctx, int k, sf_err_t *err)
{
    lhr_ctx_t *ctx = vctx;
    const lhr_route_t *r = ctx->r;
    const lhr_slot_t *s = &ctx->slots[k];
    int64_t lo = s->c * r->chunk, mine = r->first[r->rank];
    /* Consecutive rows of one sequence land at consecutive positions: each
     * such run is copied at once. A row the shift drops, or one that is not
     * this rank's (all_gather), ends a run, and so does a new sequence
     * (its positions start again). */
    int64_t run_i = 0, run_len = 0, run_b = 0, run_pos = 0;
    for (int64_t i = 0; i <= s->m; i++) {
        int64_t t = r->gather ? lo + i - mine : lo + i;
        int64_t b = t / r->seq, pos = t % r->seq + r->shift;
        bool is_kept = i < s->m && t >= 0 && t < r->rows[r->rank] && pos >= 0 && pos < r->seq;
        if (is_kept && run_len > 0 && b == run_b && pos == run_pos + run_len) {
            run_len++;
            continue;
        }
        sf_status_t st = run_len > 0 ? lhr_unpack_run(ctx, s, run_i, run_len, run_b, run_pos, err)
                                     : SF_OK;
        if (st != SF_OK)
            return st;
        run_len = is_kept ? 1 : 0;
        run_i = i;
        run_b = b;
        run_pos = pos;
    }
    return SF_OK;
}

/* The places the shift leaves open, in every sequence. */
static sf_status_t lhr_fill(sf_device_t *dev, const lhr_route_t *r, const sf_tensor_t *out,
                            double value, sf_err_t *err)
{
    int64_t lo = r->shift < 0 ? r->seq + r->shift : 0;
    int64_t hi = r->shift < 0 ? r->seq : r->shift;
    if (lo < 0)
        lo = 0;
    if (hi > r->seq)
        hi = r->seq;
    if (hi <= lo)
        return SF_OK;
    sf_tensor_t v = *out;
    v.shape[1] = hi - lo;
    v.offset += (uint64_t)(lo * out->strides[1]) * sf_dtype_size(out->dtype);
    unsigned char elem[8];
    sf_convert_store(out->dtype, elem, value);
    return sf_device_fill_tensor(dev, &v, elem, err);
}

static sf_status_t lhr_kernel(const sf_kernel_args_t *a, sf_err_t *err)
{
    const lhr_route_t *r = a->prepared;
    sf_comm_t *comm = a->env->comm;
    sf_status_t st = sf_op_comm_check(a->node, comm, err);
    if (st != SF_OK)
        return st;
    SF_ASSERT(a->scratch_bytes >= sf_lhr_scratch_on(a->dev, r, a->in));
    st = lhr_fill(a->dev, r, &a->out[0], sf_node_attr_float(a->node, "value"), err);
    if (st != SF_OK)
        return st;
    lhr_ctx_t *ctx = calloc(1, sizeof *ctx);
    SF_ASSERT(ctx != NULL);
    *ctx = (lhr_ctx_t){.r = r, .a = a, .comm = comm, .es = sf_dtype_size(a->in[0].dtype),
                       .blocks = (char *)a->scratch + 2 * r->slot_bytes,
                       .mm_bytes = lhr_mm_bytes_on(a->dev, r, a->in)};
    ctx->mm_scratch = ctx->blocks + (size_t)r->n_blocks_kept * r->block_bytes;
    for (int k = 0; k < r->n_blocks_kept; k++)
        ctx->block_first[k] = -1;
    for (int k = 0; k < 2; k++) {
        ctx->slots[k].send = (char *)a->scratch + (size_t)k * r->slot_bytes;
        ctx->slots[k].recv = ctx->slots[k].send + r->send_bytes;
    }
    /* Chunk c + 1 is computed while chunk c travels; c's rows are cast into
     * the target once it has arrived, then c + 1 leaves. */
    static const sf_chunk_pipe_ops_t ops = {
        .compute = lhr_compute, .args = lhr_args, .unpack = lhr_unpack};
    st = sf_chunk_pipe_run(comm, r->n_chunks, sf_node_attr_bool(a->node, "overlap"), &ops, ctx,
                           err);
    free(ctx);
    return st;
}

const sf_op_desc_t sf_op_lm_head_redistribute = {
    .name = "lm_head_redistribute",
    .doc = "vocab-parallel lm_head + all_to_all/all_gather of its logits in token chunks, "
           "cast and shifted into the target",
    .min_inputs = 2,
    .max_inputs = 2,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = lhr_attrs,
    .n_attrs = sizeof lhr_attrs / sizeof lhr_attrs[0],
    .infer = lhr_infer,
    .prepare = lhr_prepare,
    .scratch_bytes = lhr_scratch,
    .cpu_kernel = lhr_kernel,
};
