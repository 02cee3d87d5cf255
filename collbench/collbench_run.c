/* One rank of `shardflow collbench`: buffers, timing and verification.
 * Invariant: every rank runs the same sequence of collectives (sizes, then
 * out-of-place, then in-place, iterations in order), so the ranks agree on
 * what each collective is without any extra messages. */
#include "collbench_run.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "collbench_buf.h"
#include "collbench_table.h"

/* ---- data pattern and verification ---------------------------------------- */

static uint32_t mix(int rank, uint64_t i)
{
    uint64_t x = i * 0x9E3779B97F4A7C15ull ^ ((uint64_t)(unsigned)(rank + 1) << 40);
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    return (uint32_t)x;
}

/* Element i of rank's send buffer: a small integer, so every dtype holds it
 * exactly. For a sum the range shrinks with the world so the total stays
 * below 256, which bf16 still represents exactly whatever the order of the
 * additions. A value that depends on rank and index catches misplaced
 * blocks as well as missing ones. */
static double pattern(const sf_collbench_cfg_t *cfg, int world, int rank, uint64_t i)
{
    uint32_t range = 97;
    if (cfg->kind == SF_COLL_ALLREDUCE && cfg->redop == SF_REDUCE_SUM)
        range = world < 256 ? (uint32_t)(256 / world) : 1;
    return (double)(mix(rank, i) % range);
}

static double expected(const sf_collbench_cfg_t *cfg, int world, int rank, uint64_t count,
                       uint64_t i)
{
    switch (cfg->kind) {
    case SF_COLL_ALLGATHER: /* block p is rank p's send buffer */
    case SF_COLL_ALLGATHERV:
        return pattern(cfg, world, (int)(i / count), i % count);
    case SF_COLL_ALLTOALLV: /* block p is what rank p sent to us: its block `rank` */
        return pattern(cfg, world, (int)(i / count), (uint64_t)rank * count + i % count);
    default: {
        double acc = pattern(cfg, world, 0, i);
        for (int p = 1; p < world; p++) {
            double v = pattern(cfg, world, p, i);
            acc = cfg->redop == SF_REDUCE_MAX ? (v > acc ? v : acc) : acc + v;
        }
        return acc;
    }
    }
}

static void fill_pattern(const sf_collbench_cfg_t *cfg, int world, int rank, void *host, uint64_t n)
{
    size_t es = sf_dtype_size(cfg->dtype);
    for (uint64_t i = 0; i < n; i++)
        sf_dtype_store(cfg->dtype, (char *)host + i * es, pattern(cfg, world, rank, i));
}

static uint64_t count_wrong(const sf_collbench_cfg_t *cfg, int world, int rank, uint64_t count,
                            const void *out, uint64_t n_out)
{
    size_t es = sf_dtype_size(cfg->dtype);
    uint64_t n_wrong = 0;
    for (uint64_t i = 0; i < n_out; i++)
        if (sf_dtype_load(cfg->dtype, (const char *)out + i * es) !=
            expected(cfg, world, rank, count, i))
            n_wrong++;
    return n_wrong;
}

/* ---- one rank's run -------------------------------------------------------- */

typedef struct bench_ctx {
    const sf_collbench_cfg_t *cfg; /* borrowed */
    sf_comm_t *comm;               /* borrowed */
    int rank, world;
    sf_collbench_buf_t scalar; /* owned: 8 bytes for the time/#wrong reductions */
} bench_ctx_t;

static sf_status_t barrier(bench_ctx_t *b, sf_err_t *err)
{
    sf_coll_args_t a = {.kind = SF_COLL_BARRIER, .mem = b->cfg->mem, .what = "collbench barrier"};
    return sf_coll_run(b->comm, &a, err);
}

/* One i64 reduced over the ranks, through the backend under test (its
 * memory kind included), so the bench needs nothing but that backend. */
static sf_status_t reduce_i64(bench_ctx_t *b, int64_t *v, sf_reduce_op_t op, sf_err_t *err)
{
    sf_status_t s;
    const void *view = NULL;
    int64_t host = *v;
    if ((s = sf_collbench_buf_store(&b->scalar, &host, sizeof host, err)) != SF_OK)
        return s;
    sf_coll_args_t a = {.kind = SF_COLL_ALLREDUCE, .mem = b->cfg->mem, .dtype = SF_DTYPE_I64,
                        .send = b->scalar.ptr, .recv = b->scalar.ptr, .count = 1, .op = op,
                        .what = "collbench result"};
    if ((s = sf_coll_run(b->comm, &a, err)) != SF_OK)
        return s;
    if ((s = sf_collbench_buf_fetch(&b->scalar, &host, sizeof host, &view, err)) != SF_OK)
        return s;
    memcpy(v, view, sizeof *v);
    return SF_OK;
}

static double busbw_factor(sf_coll_kind_t kind, int n)
{
    if (kind == SF_COLL_ALLREDUCE)
        return 2.0 * (n - 1) / n;
    return (double)(n - 1) / n;
}

/* The buffers of one size. counts/displs are for all_to_all and
 * all_gatherv (even pieces in rank order). */
typedef struct bench_bufs {
    sf_collbench_buf_t send, recv;
    void *host;       /* owned: pattern staging and download target, max(send, recv) bytes */
    uint64_t n_send, n_recv; /* elements */
    uint64_t count;   /* the collective's count argument */
    uint64_t *counts; /* owned: world entries */
    uint64_t *displs; /* owned: world entries */
} bench_bufs_t;

static void bufs_fini(bench_bufs_t *bb)
{
    sf_collbench_buf_fini(&bb->send);
    sf_collbench_buf_fini(&bb->recv);
    free(bb->host);
    free(bb->counts);
    free(bb->displs);
    memset(bb, 0, sizeof *bb);
}

/* Run warmup + iters collectives; fill st with the mean time (max over
 * ranks), the bandwidths and #wrong summed over ranks. */
static sf_status_t run_case(bench_ctx_t *b, bench_bufs_t *bb, bool is_inplace, uint64_t nbytes,
                            sf_collbench_stats_t *st, sf_err_t *err)
{
    const sf_collbench_cfg_t *cfg = b->cfg;
    size_t es = sf_dtype_size(cfg->dtype);
    sf_status_t s;
    sf_coll_args_t a = {.kind = cfg->kind, .mem = cfg->mem, .dtype = cfg->dtype,
                        .send = is_inplace ? bb->recv.ptr : bb->send.ptr, .recv = bb->recv.ptr,
                        .count = bb->count, .send_counts = bb->counts, .send_displs = bb->displs,
                        .recv_counts = bb->counts, .recv_displs = bb->displs, .op = cfg->redop,
                        .what = is_inplace ? "collbench in-place" : "collbench"};
    double total_s = 0;
    uint64_t n_wrong = 0;

    for (int it = 0; it < cfg->warmup + cfg->iters; it++) {
        /* Outside the timed part: give the output known-bad contents (or,
         * in place, the input again), so each iteration proves itself. */
        if (is_inplace) {
            fill_pattern(cfg, b->world, b->rank, bb->host, bb->n_send);
            s = sf_collbench_buf_store(&bb->recv, bb->host, bb->n_send * es, err);
        } else {
            s = sf_collbench_buf_poison(&bb->recv, err);
        }
        if (s != SF_OK)
            return s;
        if ((s = barrier(b, err)) != SF_OK)
            return s;
        double t0 = sf_clock_now_s();
        if ((s = sf_coll_run(b->comm, &a, err)) != SF_OK)
            return s;
        if (it >= cfg->warmup)
            total_s += sf_clock_now_s() - t0;
        const void *out = NULL;
        if ((s = sf_collbench_buf_fetch(&bb->recv, bb->host, bb->n_recv * es, &out, err)) != SF_OK)
            return s;
        n_wrong += count_wrong(cfg, b->world, b->rank, bb->count, out, bb->n_recv);
    }
    int64_t mean_ns = (int64_t)(total_s / cfg->iters * 1e9 + 0.5);
    int64_t wrong = (int64_t)n_wrong;
    if ((s = reduce_i64(b, &mean_ns, SF_REDUCE_MAX, err)) != SF_OK)
        return s;
    if ((s = reduce_i64(b, &wrong, SF_REDUCE_SUM, err)) != SF_OK)
        return s;
    st->time_us = (double)mean_ns / 1e3;
    st->algbw = mean_ns > 0 ? (double)nbytes / (double)mean_ns : 0; /* B/ns = GB/s */
    st->busbw = st->algbw * busbw_factor(cfg->kind, b->world);
    st->n_wrong = (uint64_t)wrong;
    return SF_OK;
}

/* One thread copying the same number of bytes host to host: the yardstick
 * the collective's bandwidth is read against. */
static sf_status_t time_memcpy(const sf_collbench_cfg_t *cfg, uint64_t nbytes,
                               sf_collbench_row_t *row, sf_err_t *err)
{
    size_t n = (size_t)nbytes;
    char *src = malloc(n > 0 ? n : 1), *dst = malloc(n > 0 ? n : 1);
    if (src == NULL || dst == NULL) {
        free(src);
        free(dst);
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "collbench: cannot allocate 2 x %zu bytes", n);
    }
    /* Touch both first: page faults are not what we are measuring. */
    memset(src, 1, n);
    memset(dst, 0, n);
    for (int it = 0; it < cfg->warmup; it++)
        memcpy(dst, src, n);
    double t0 = sf_clock_now_s();
    for (int it = 0; it < cfg->iters; it++) {
        memcpy(dst, src, n);
        /* Keep the copies from being merged or dropped. */
        __asm__ __volatile__("" : : "r"(dst) : "memory");
    }
    double mean_s = (sf_clock_now_s() - t0) / cfg->iters;
    free(src);
    free(dst);
    row->memcpy_us = mean_s * 1e6;
    row->memcpy_gbs = mean_s > 0 ? (double)nbytes / mean_s / 1e9 : 0;
    return SF_OK;
}

/* Allocate and fill the buffers for nominal size `size`. *skip is set when
 * the size is too small to give every rank one element. */
static sf_status_t bufs_init(bench_ctx_t *b, uint64_t size, bench_bufs_t *bb, bool *skip,
                             sf_err_t *err)
{
    const sf_collbench_cfg_t *cfg = b->cfg;
    size_t es = sf_dtype_size(cfg->dtype);
    uint64_t n = (uint64_t)b->world;
    sf_status_t s;

    memset(bb, 0, sizeof *bb);
    *skip = false;
    if (cfg->kind == SF_COLL_ALLREDUCE) {
        bb->count = size / es;
        bb->n_send = bb->n_recv = bb->count;
    } else {
        /* nccl-tests' convention: size is the output buffer; count is one
         * rank's piece (all_gather) or one peer's piece (all_to_all). */
        bb->count = size / es / n;
        bb->n_recv = bb->count * n;
        bb->n_send = cfg->kind == SF_COLL_ALLGATHER || cfg->kind == SF_COLL_ALLGATHERV
                         ? bb->count
                         : bb->n_recv;
    }
    if (bb->count == 0) {
        *skip = true;
        return SF_OK;
    }
    uint64_t n_host = bb->n_send > bb->n_recv ? bb->n_send : bb->n_recv;
    bb->host = malloc((size_t)(n_host * es));
    bb->counts = calloc((size_t)n, sizeof *bb->counts);
    bb->displs = calloc((size_t)n, sizeof *bb->displs);
    if (bb->host == NULL || bb->counts == NULL || bb->displs == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL,
                          "collbench: cannot allocate %" PRIu64 " bytes of host staging",
                          n_host * es);
    for (uint64_t p = 0; p < n; p++) {
        bb->counts[p] = bb->count;
        bb->displs[p] = p * bb->count;
    }
    if ((s = sf_collbench_buf_init(&bb->send, cfg->mem, (size_t)(bb->n_send * es), err)) != SF_OK)
        return s;
    if ((s = sf_collbench_buf_init(&bb->recv, cfg->mem, (size_t)(bb->n_recv * es), err)) != SF_OK)
        return s;
    fill_pattern(cfg, b->world, b->rank, bb->host, bb->n_send);
    return sf_collbench_buf_store(&bb->send, bb->host, (size_t)(bb->n_send * es), err);
}

static sf_status_t run_size(bench_ctx_t *b, uint64_t size, sf_collbench_row_t *row, bool *skip,
                            sf_err_t *err)
{
    const sf_collbench_cfg_t *cfg = b->cfg;
    bench_bufs_t bb;
    sf_status_t s;

    memset(row, 0, sizeof *row);
    if ((s = bufs_init(b, size, &bb, skip, err)) != SF_OK || *skip)
        goto done;
    row->nbytes = bb.n_recv * sf_dtype_size(cfg->dtype);
    row->count = bb.count;
    if ((s = run_case(b, &bb, false, row->nbytes, &row->oop, err)) != SF_OK)
        goto done;
    /* The contract allows send == recv only for all_reduce. */
    row->inplace.time_us = -1;
    if (cfg->kind == SF_COLL_ALLREDUCE &&
        (s = run_case(b, &bb, true, row->nbytes, &row->inplace, err)) != SF_OK)
        goto done;
    bufs_fini(&bb);
    /* Rank 0 alone, after the collective's buffers are gone; the others
     * wait in the next barrier. */
    if (b->rank == 0 && (s = time_memcpy(cfg, row->nbytes, row, err)) != SF_OK)
        goto done;
    s = SF_OK;
done:
    bufs_fini(&bb);
    return s;
}

static uint64_t cfg_hash(const sf_collbench_cfg_t *cfg)
{
    /* Ranks started with different flags would run different collectives
     * and hang; the rendezvous refuses a hash mismatch instead. */
    char text[256];
    snprintf(text, sizeof text, "collbench|%d|%s|%d|%d|%" PRIu64 "|%" PRIu64 "|%d|%d", cfg->kind,
             cfg->backend, cfg->dtype, cfg->redop, cfg->min_bytes, cfg->max_bytes, cfg->iters,
             cfg->warmup);
    uint64_t h = 1469598103934665603ull;
    for (const char *p = text; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

static void print_preamble(const sf_collbench_cfg_t *cfg, int world)
{
    printf("# shardflow collbench: %s, backend %s (%s memory), %d rank%s, dtype %s, "
           "iters %d, warmup %d\n",
           sf_coll_kind_name(cfg->kind), cfg->backend,
           cfg->mem == SF_MEMKIND_CUDA ? "cuda" : "host", world, world == 1 ? "" : "s",
           sf_dtype_name(cfg->dtype), cfg->iters, cfg->warmup);
    printf("# time: mean of the timed iterations (each after a barrier, start to completion),\n"
           "#       max over ranks; size = bytes of each rank's output; GB = 1e9 B;\n"
           "#       busbw = algbw * %s\n",
           cfg->kind == SF_COLL_ALLREDUCE ? "2(n-1)/n" : "(n-1)/n");
    printf("#\n");
}

int sf_collbench_run_rank(const sf_collbench_cfg_t *cfg, const sf_rank_info_t *ri)
{
    sf_err_t err;
    sf_err_clear(&err);
    sf_bootstrap_t *bs = NULL;
    bench_ctx_t b = {.cfg = cfg, .rank = ri->rank, .world = ri->world};
    uint64_t total_wrong = 0;
    double busbw_sum = 0;
    int n_rows = 0;
    sf_status_t s;

    if ((s = sf_bootstrap_new(ri, &(sf_bootstrap_job_t){.graph_hash = cfg_hash(cfg),
                                                   .timeout_s = cfg->timeout_s}, &bs, &err)) != SF_OK)
        goto fail;
    if ((s = sf_comm_new(cfg->backend, bs, cfg->timeout_s, &b.comm, &err)) != SF_OK)
        goto fail;
    if ((s = sf_collbench_buf_init(&b.scalar, cfg->mem, sizeof(int64_t), &err)) != SF_OK)
        goto fail;
    if (b.rank == 0) {
        print_preamble(cfg, b.world);
        sf_collbench_table_header(stdout);
    }
    for (uint64_t size = cfg->min_bytes; size <= cfg->max_bytes; size *= 2) {
        sf_collbench_row_t row;
        bool skip = false;
        if ((s = run_size(&b, size, &row, &skip, &err)) != SF_OK)
            goto fail;
        if (b.rank == 0 && skip)
            printf("# %" PRIu64 " B: too small for one %s element per rank, skipped\n", size,
                   sf_dtype_name(cfg->dtype));
        if (!skip) {
            total_wrong += row.oop.n_wrong + (row.inplace.time_us >= 0 ? row.inplace.n_wrong : 0);
            busbw_sum += row.oop.busbw;
            n_rows++;
            if (b.rank == 0)
                sf_collbench_table_row(stdout, cfg->kind, cfg->dtype, cfg->redop, &row);
        }
        fflush(stdout);
        if (size > UINT64_MAX / 2)
            break;
    }
    if (b.rank == 0) {
        printf("# out-of-place busbw, mean over sizes (GB/s): %.3f\n",
               n_rows > 0 ? busbw_sum / n_rows : 0.0);
        printf("# #wrong, all sizes and ranks: %" PRIu64 "%s\n", total_wrong,
               total_wrong != 0 ? "  (RESULTS ARE WRONG)" : "");
        fflush(stdout);
    }
    sf_collbench_buf_fini(&b.scalar);
    sf_comm_free(b.comm);
    sf_bootstrap_free(bs);
    return total_wrong != 0 ? 1 : 0;
fail:
    fflush(stdout);
    sf_collbench_buf_fini(&b.scalar);
    sf_comm_free(b.comm);
    sf_bootstrap_free(bs);
    return sf_cli_fail(&err);
}
