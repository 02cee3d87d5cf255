/* teacher_vp: the Eagle3 teacher (ops/teacher.c's formulas) straight from
 * the vocab-parallel lm_head, so no full-vocab row ever exists. A chunk of
 * tokens at a time, each rank computes its shard's logits of every rank's
 * rows (the row after each position: SpecForge's padding(left=False)
 * shift), reduces each row to its draft columns plus three statistics (the
 * first maximum, its target id, the sum of exp(x - max)), and one
 * all_to_allv gives every rank its own rows' draft columns, in ascending
 * target id, and the statistics of every shard: argmax and logsumexp over
 * the full vocab combine from them, the softmax runs over the draft
 * columns. Each rank sends dloc + 16 bytes per row and destination
 * instead of Vloc logits (about V / Vd less). Padded vocab columns never
 * take part. With positions loss only rows whose loss_mask is 1 are
 * computed, sent and stored.
 *
 * Scratch (two chunks in flight, exactly what prepare declares): the send
 * side is sized for N rows per destination at ceil(Vd / world) draft
 * columns; when t2d puts more in one shard the chunk holds fewer rows (every
 * rank knows t2d and agrees), so the plan never depends on the data. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_pipe.h"
#include "coll.h"
#include "convert.h"
#include "head_tile.h"
#include "op_shape.h"
#include "op_comm.h"
#include "teacher.h"

static const sf_op_attr_desc_t tvp_attrs[] = {
    {"chunk_tokens", SF_ATTR_INT, NULL, "rows per destination rank per chunk (> 0)"},
    {"vocab", SF_ATTR_INT, NULL, "V: vocab columns (the rest are the shards' padding)"},
    {"overlap", SF_ATTR_BOOL, "true", "compute the next chunk while this one travels"},
    {"vocab_block", SF_ATTR_INT, "1024",
     "vocab columns per matrix product (a row's statistics are combined over blocks)"},
    {"defer_probs", SF_ATTR_BOOL, "false",
     "leave the probabilities to a teacher_probs node: output 1 is each row's logsumexp"},
    SF_TEACHER_ATTRS,
};

#define TVP_MAX_WORLD 256
#define TVP_STATS_BYTES 16 /* f32 max, i32 target id, f64 sum of exponentials */

typedef struct tvp_route {
    int world, rank;
    int64_t chunk, vloc, seqs;
    int64_t valid;         /* the shard's real (unpadded) columns */
    int64_t vblock;        /* columns per product */
    sf_teacher_shape_t ts;
    size_t es;             /* logits element size */
    int64_t se;            /* statistics, in elements */
    uint64_t send_count;   /* one chunk's send buffer, elements */
    uint64_t recv_count;   /* and its receive buffer */
    uint64_t slot_bytes, tile_bytes, list_bytes, stats_bytes;
    sf_head_tile_t tile;
} tvp_route_t;

static sf_status_t tvp_route_make(const sf_node_t *node, const sf_tensor_t *in, tvp_route_t *r,
                                  sf_err_t *err)
{
    memset(r, 0, sizeof *r);
    const sf_tensor_t *x = &in[0], *w = &in[1], *m = &in[2], *d = &in[3];
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
    r->world = node->world > 0 ? node->world : 1;
    r->rank = node->rank;
    if (r->world > TVP_MAX_WORLD)
        return sf_err_set(err, SF_ERR_UNSUPPORTED, &node->pos,
                          "node '%s': world %d is over the %d ranks this op supports",
                          node->name, r->world, TVP_MAX_WORLD);
    r->chunk = sf_node_attr_int(node, "chunk_tokens");
    r->vloc = w->shape[0];
    r->es = sf_dtype_size(x->dtype);
    r->se = TVP_STATS_BYTES / (int64_t)r->es;
    int64_t V = sf_node_attr_int(node, "vocab"), S = sf_node_attr_int(node, "seq");
    if (r->chunk <= 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "chunk_tokens"),
                          "node '%s': chunk_tokens %lld, expected > 0", node->name,
                          (long long)r->chunk);
    if (V <= 0 || V > r->vloc * r->world)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "vocab"),
                          "node '%s': vocab %lld, expected 1..%lld (world %d x the shard's %lld "
                          "rows)",
                          node->name, (long long)V, (long long)(r->vloc * r->world), r->world,
                          (long long)r->vloc);
    if (S > 0 && x->shape[0] % (S * r->world) != 0)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': x has %lld tokens, expected whole sequences of %lld for "
                          "each of %d ranks",
                          node->name, (long long)x->shape[0], (long long)S, r->world);
    r->seqs = S > 0 ? x->shape[0] / (S * r->world) : 0;
    r->vblock = sf_node_attr_int(node, "vocab_block");
    if (r->vblock <= 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "vocab_block"),
                          "node '%s': vocab_block %lld, expected > 0", node->name,
                          (long long)r->vblock);
    r->valid = V - (int64_t)r->rank * r->vloc;
    r->valid = r->valid < 0 ? 0 : r->valid < r->vloc ? r->valid : r->vloc;
    if (r->vblock > r->vloc)
        r->vblock = r->vloc;
    if ((st = sf_teacher_shape_make(node, r->seqs, V, &r->ts, err)) != SF_OK)
        return st;
    r->ts.deferred = sf_node_attr_bool(node, "defer_probs");
    bool m_ok = m->ndim == 2 && m->shape[0] == r->seqs * r->world && m->shape[1] == S &&
                (m->dtype == SF_DTYPE_I64 || m->dtype == SF_DTYPE_I32 || m->dtype == SF_DTYPE_U8);
    if (!m_ok)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': loss_mask has shape %s %s, expected the whole batch's "
                          "(%lld, %lld) of integers",
                          node->name, sf_op_shape_str(m).s, sf_dtype_name(m->dtype),
                          (long long)(r->seqs * r->world), (long long)S);
    if (d->ndim != 1 || d->shape[0] != V || d->dtype != SF_DTYPE_U8)
        return sf_err_set(err, SF_ERR_GRAPH, &node->pos,
                          "node '%s': t2d has shape %s %s, expected (%lld) u8 (the vocab)",
                          node->name, sf_op_shape_str(d).s, sf_dtype_name(d->dtype),
                          (long long)V);
    /* A chunk never needs more rows than a rank has. */
    if (r->chunk > r->seqs * S && r->seqs * S > 0)
        r->chunk = r->seqs * S;
    /* Sizes: see the file comment. At least one row of the fullest shard
     * fits, whatever t2d holds. */
    uint64_t w_n = (uint64_t)r->world, N = (uint64_t)r->chunk, Vd = (uint64_t)r->ts.draft;
    uint64_t se = (uint64_t)r->se, even = (Vd + w_n - 1) / w_n;
    uint64_t per_dest = N * (even + se) > Vd + se ? N * (even + se) : Vd + se;
    r->send_count = w_n * per_dest;
    r->recv_count = N * (Vd + w_n * se);
    r->slot_bytes = ((r->send_count + r->recv_count) * r->es + 63) / 64 * 64;
    r->tile_bytes = (N * (uint64_t)r->vblock * r->es + 63) / 64 * 64;
    r->list_bytes = (N * sizeof(int64_t) + 63) / 64 * 64;
    r->stats_bytes = (N * sizeof(sf_teacher_stats_t) + 63) / 64 * 64;
    return SF_OK;
}

static sf_status_t tvp_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                             sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    tvp_route_t *r = malloc(sizeof *r);
    SF_ASSERT(r != NULL);
    sf_status_t st = tvp_route_make(node, in, r, err);
    if (st == SF_OK)
        st = sf_teacher_infer(node, &r->ts, out, n_out, err);
    free(r);
    return st;
}

static sf_status_t tvp_prepare(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                               const sf_tensor_t *out, int n_out, void **prepared, sf_err_t *err)
{
    (void)n_in;
    (void)out;
    (void)n_out;
    *prepared = NULL;
    tvp_route_t *r = malloc(sizeof *r);
    SF_ASSERT(r != NULL);
    sf_status_t st = tvp_route_make(node, in, r, err);
    if (st != SF_OK) {
        free(r);
        return st;
    }
    sf_head_tile_init(&r->tile, node, &in[0], &in[1], r->chunk, r->vblock);
    *prepared = r;
    return SF_OK;
}

static uint64_t tvp_scratch(const sf_node_t *node, const void *prepared, const sf_tensor_t *in,
                            int n_in, const sf_tensor_t *out, int n_out)
{
    (void)node;
    (void)in;
    (void)n_in;
    (void)out;
    (void)n_out;
    const tvp_route_t *r = prepared;
    return 2 * r->slot_bytes + r->tile_bytes + r->list_bytes + r->stats_bytes +
           r->tile.mm_bytes;
}

typedef struct tvp_slot {
    char *send, *recv;
    int64_t m; /* this rank's rows in the chunk */
    uint64_t sc[TVP_MAX_WORLD], sd[TVP_MAX_WORLD], rc[TVP_MAX_WORLD], rd[TVP_MAX_WORLD];
    sf_coll_args_t args;
} tvp_slot_t;

/* What the kernel learns from t2d and loss_mask; the same on every rank. */
typedef struct tvp_run {
    const tvp_route_t *r;
    const sf_kernel_args_t *a;
    const uint8_t *t2d;
    sf_tensor_t own_mask;   /* loss_mask rows of this rank's sequences */
    int64_t rows_per_chunk; /* R */
    int64_t dloc[TVP_MAX_WORLD];
    int64_t need[TVP_MAX_WORLD];   /* rows computed for each rank */
    sf_teacher_cursor_t send_cur[TVP_MAX_WORLD];
    sf_teacher_cursor_t recv_cur;
    char *tile, *mm_scratch;
    int64_t *tokens;
    sf_teacher_stats_t *row_stats;
    tvp_slot_t slots[2];
} tvp_run_t;

static inline float tvp_load(sf_dtype_t dt, const char *p)
{
    if (dt == SF_DTYPE_BF16) {
        uint16_t h;
        memcpy(&h, p, 2);
        return sf_bf16_to_f32(h);
    }
    return (float)sf_dtype_load(dt, p);
}

/* One row's logits in a block of this shard's columns [c0, c0 + nc): its
 * draft columns to dst, its statistics into acc (blocks in ascending order,
 * so the first maximum stays first). */
static void tvp_reduce_block(const tvp_run_t *u, const char *logits, int64_t c0, int64_t nc,
                             sf_teacher_stats_t *acc, char *dst)
{
    const tvp_route_t *r = u->r;
    sf_dtype_t dt = u->a->in[0].dtype;
    int64_t base = (int64_t)r->rank * r->vloc + c0;
    sf_teacher_stats_t st = {.max = -INFINITY, .index = -1, .sum = 0.0};
    for (int64_t k = 0; k < nc; k++) {
        float f = tvp_load(dt, logits + (size_t)k * r->es);
        if (st.index < 0 || f > st.max) {
            st.max = f;
            st.index = (int32_t)(base + k);
        }
    }
    int64_t n = 0;
    for (int64_t k = 0; k < nc; k++) {
        const char *e = logits + (size_t)k * r->es;
        st.sum += exp((double)tvp_load(dt, e) - (double)st.max);
        if (u->t2d[base + k])
            memcpy(dst + (size_t)(n++) * r->es, e, r->es);
    }
    sf_teacher_stats_add(acc, &st);
}

/* The statistics' wire form: TVP_STATS_BYTES after a row's draft columns. */
static void tvp_put_stats(const sf_teacher_stats_t *st, char *tail)
{
    memcpy(tail, &st->max, 4);
    memcpy(tail + 4, &st->index, 4);
    memcpy(tail + 8, &st->sum, 8);
}

static int64_t tvp_rows_in(const tvp_run_t *u, int j, int64_t c)
{
    int64_t left = u->need[j] - c * u->rows_per_chunk;
    left = left < u->rows_per_chunk ? left : u->rows_per_chunk;
    return left > 0 ? left : 0;
}

/* Chunk c's rows for every rank into slot s, and its exchange. */
static sf_status_t tvp_compute(void *ctx, int64_t c, int slot, void *in_flight, sf_err_t *err)
{
    tvp_run_t *u = ctx;
    tvp_slot_t *s = &u->slots[slot];
    const tvp_route_t *r = u->r;
    int64_t S = r->ts.seq, width = u->dloc[r->rank] + r->se;
    uint64_t off = 0;
    s->m = tvp_rows_in(u, r->rank, c);
    for (int j = 0; j < r->world; j++) {
        int64_t n = tvp_rows_in(u, j, c), row, dst;
        for (int64_t i = 0; i < n; i++) {
            bool ok = sf_teacher_cursor_next(&u->send_cur[j], &row, &dst);
            SF_ASSERT(ok);
            /* The teacher of position s reads the logits of token s + 1. */
            u->tokens[i] = ((int64_t)j * r->seqs + row / S) * S + row % S + 1;
        }
        char *send = s->send + (size_t)off * r->es;
        for (int64_t i = 0; i < n; i++)
            u->row_stats[i] = (sf_teacher_stats_t){.max = -INFINITY, .index = -1, .sum = 0.0};
        int64_t drafted = 0; /* draft columns of the blocks before */
        for (int64_t c0 = 0; c0 < r->valid && n > 0; c0 += r->vblock) {
            int64_t nc = r->valid - c0 < r->vblock ? r->valid - c0 : r->vblock;
            /* Runs of consecutive tokens: one product each. */
            for (int64_t i = 0; i < n;) {
                int64_t k = 1;
                while (i + k < n && u->tokens[i + k] == u->tokens[i] + k)
                    k++;
                sf_status_t st = sf_head_tile_logits(&r->tile, u->a, u->mm_scratch,
                                                     u->tokens[i], k, c0, nc,
                                                     u->tile + (size_t)(i * nc) * r->es,
                                                     in_flight, err);
                if (st != SF_OK)
                    return st;
                i += k;
            }
            for (int64_t i = 0; i < n; i++)
                tvp_reduce_block(u, u->tile + (size_t)(i * nc) * r->es, c0, nc,
                                 &u->row_stats[i],
                                 send + (size_t)(i * width + drafted) * r->es);
            for (int64_t k = 0; k < nc; k++)
                drafted += u->t2d[(int64_t)r->rank * r->vloc + c0 + k];
        }
        SF_ASSERT(n == 0 || drafted == u->dloc[r->rank]);
        for (int64_t i = 0; i < n; i++)
            tvp_put_stats(&u->row_stats[i], send + (size_t)(i * width + drafted) * r->es);
        s->sc[j] = (uint64_t)(n * width);
        s->sd[j] = off;
        off += s->sc[j];
    }
    SF_ASSERT(off <= r->send_count);
    uint64_t roff = 0;
    for (int p = 0; p < r->world; p++) {
        s->rc[p] = (uint64_t)(s->m * (u->dloc[p] + r->se));
        s->rd[p] = roff;
        roff += s->rc[p];
    }
    SF_ASSERT(roff <= r->recv_count);
    s->args = (sf_coll_args_t){.kind = SF_COLL_ALLTOALLV, .send_counts = s->sc,
                               .send_displs = s->sd, .recv_counts = s->rc, .recv_displs = s->rd,
                               .mem = sf_device_mem_kind(u->a->dev), .dtype = u->a->in[0].dtype,
                               .send = s->send, .recv = s->recv, .what = u->a->node->name};
    return SF_OK;
}

static const sf_coll_args_t *tvp_args(void *ctx, int k)
{
    return &((tvp_run_t *)ctx)->slots[k].args;
}

/* Slot k has arrived: write its rows, draft columns from every shard in
 * order (ascending target id), statistics combined. */
static sf_status_t tvp_unpack(void *ctx, int slot, sf_err_t *err)
{
    (void)err;
    tvp_run_t *u = ctx;
    const tvp_slot_t *s = &u->slots[slot];
    const tvp_route_t *r = u->r;
    sf_dtype_t dt = u->a->in[0].dtype;
    for (int64_t i = 0; i < s->m; i++) {
        int64_t row, dst;
        bool ok = sf_teacher_cursor_next(&u->recv_cur, &row, &dst);
        SF_ASSERT(ok);
        float *p = sf_teacher_p_row(u->a->out, dst);
        sf_teacher_stats_t acc = {.max = -INFINITY, .index = -1, .sum = 0.0};
        int64_t k = 0;
        for (int q = 0; q < r->world; q++) {
            int64_t dl = u->dloc[q];
            const char *piece = s->recv + (size_t)(s->rd[q] + (uint64_t)(i * (dl + r->se))) *
                                              r->es;
            for (int64_t e = 0; e < dl; e++)
                p[k++] = tvp_load(dt, piece + (size_t)e * r->es);
            const char *tail = piece + (size_t)dl * r->es;
            sf_teacher_stats_t one;
            memcpy(&one.max, tail, 4);
            memcpy(&one.index, tail + 4, 4);
            memcpy(&one.sum, tail + 8, 8);
            sf_teacher_stats_add(&acc, &one);
        }
        SF_ASSERT(k == r->ts.draft && acc.index >= 0);
        sf_teacher_row(&r->ts, u->a->out, dst, row, acc.index, sf_teacher_stats_lse(&acc),
                       u->t2d, &u->own_mask, 0);
    }
    return SF_OK;
}

/* From t2d and loss_mask: columns per shard, rows per rank, R. */
static void tvp_run_init(tvp_run_t *u, const tvp_route_t *r, const sf_kernel_args_t *a)
{
    u->r = r;
    u->a = a;
    u->t2d = sf_tensor_data(&a->in[3]);
    int64_t dmax = 0;
    for (int p = 0; p < r->world; p++) {
        int64_t lo = (int64_t)p * r->vloc, hi = lo + r->vloc;
        hi = hi < r->ts.vocab ? hi : r->ts.vocab;
        u->dloc[p] = 0;
        for (int64_t v = lo; v < hi; v++)
            u->dloc[p] += u->t2d[v];
        dmax = u->dloc[p] > dmax ? u->dloc[p] : dmax;
    }
    int64_t fit = (int64_t)(r->send_count / ((uint64_t)r->world * (uint64_t)(dmax + r->se)));
    u->rows_per_chunk = fit < r->chunk ? fit : r->chunk;
    SF_ASSERT(u->rows_per_chunk >= 1);
    const sf_tensor_t *mask = &a->in[2];
    for (int j = 0; j < r->world; j++) {
        u->need[j] = sf_teacher_count_rows(&r->ts, mask, (int64_t)j * r->seqs, r->seqs);
        sf_teacher_cursor_init(&u->send_cur[j], &r->ts, mask, (int64_t)j * r->seqs, r->seqs);
    }
    u->own_mask = *mask;
    u->own_mask.shape[0] = r->seqs;
    u->own_mask.offset += (uint64_t)((int64_t)r->rank * r->seqs * mask->strides[0]) *
                          sf_dtype_size(mask->dtype);
    sf_teacher_cursor_init(&u->recv_cur, &r->ts, &u->own_mask, 0, r->seqs);
    char *sc = a->scratch;
    u->tile = sc + 2 * r->slot_bytes;
    u->tokens = (int64_t *)(u->tile + r->tile_bytes);
    u->row_stats = (sf_teacher_stats_t *)(u->tile + r->tile_bytes + r->list_bytes);
    u->mm_scratch = u->tile + r->tile_bytes + r->list_bytes + r->stats_bytes;
}

static sf_status_t tvp_cpu(const sf_kernel_args_t *a, sf_err_t *err)
{
    const tvp_route_t *r = a->prepared;
    sf_comm_t *comm = a->env->comm;
    sf_status_t st = sf_op_comm_check(a->node, comm, err);
    if (st != SF_OK)
        return st;
    SF_ASSERT(a->scratch_bytes >= tvp_scratch(a->node, r, NULL, 0, NULL, 0));
    if (a->in[3].strides[0] != 1)
        return sf_err_set(err, SF_ERR_UNSUPPORTED, &a->node->pos,
                          "node '%s': t2d is strided, expected a contiguous tensor",
                          a->node->name);
    st = sf_teacher_check_t2d(a->node, &a->in[3], r->ts.draft, err);
    if (st != SF_OK)
        return st;
    tvp_run_t *u = calloc(1, sizeof *u);
    SF_ASSERT(u != NULL);
    tvp_run_init(u, r, a);
    /* Every rank checks every rank's packed rows before the first exchange,
     * so a loss_mask over the capacity fails everywhere alike. */
    for (int j = 0; j < r->world && r->ts.loss; j++) {
        sf_tensor_t mj = u->own_mask;
        mj.offset = a->in[2].offset + (uint64_t)((int64_t)j * r->seqs * a->in[2].strides[0]) *
                                          sf_dtype_size(a->in[2].dtype);
        int64_t ones = 0;
        for (int64_t b = 0; b < r->seqs; b++)
            for (int64_t s = 0; s < r->ts.seq; s++)
                ones += sf_teacher_mask(&mj, b, s) != 0;
        if (ones > r->ts.cap)
            st = sf_err_set(err, SF_ERR_INPUT, &a->node->pos,
                            "node '%s': loss_mask has %lld rows set for rank %d, over loss_rows "
                            "%lld (positions loss packs at most that many)",
                            a->node->name, (long long)ones, j, (long long)r->ts.cap);
    }
    if (st == SF_OK)
        st = sf_teacher_fill(a->node, &r->ts, &u->own_mask, u->t2d, true, a->out, err);
    int64_t most = 0;
    for (int j = 0; j < r->world; j++)
        most = u->need[j] > most ? u->need[j] : most;
    int64_t n_chunks = (most + u->rows_per_chunk - 1) / u->rows_per_chunk;
    for (int k = 0; k < 2; k++) {
        u->slots[k].send = (char *)a->scratch + (size_t)k * r->slot_bytes;
        u->slots[k].recv = u->slots[k].send + r->send_count * r->es;
    }
    static const sf_chunk_pipe_ops_t ops = {
        .compute = tvp_compute, .args = tvp_args, .unpack = tvp_unpack};
    if (st == SF_OK)
        st = sf_chunk_pipe_run(comm, n_chunks, sf_node_attr_bool(a->node, "overlap"), &ops, u,
                               err);
    free(u);
    return st;
}

const sf_op_desc_t sf_op_teacher_vp = {
    .name = "teacher_vp",
    .doc = "Eagle3 teacher from the vocab-parallel lm_head in token chunks: draft columns "
           "(all_to_allv) and per-token max/argmax/sum-exp, no full-vocab row",
    .min_inputs = 4,
    .max_inputs = 4,
    .min_outputs = 4,
    .max_outputs = 5,
    .attrs = tvp_attrs,
    .n_attrs = sizeof tvp_attrs / sizeof tvp_attrs[0],
    .infer = tvp_infer,
    .prepare = tvp_prepare,
    .scratch_bytes = tvp_scratch,
    .cpu_kernel = tvp_cpu,
};
