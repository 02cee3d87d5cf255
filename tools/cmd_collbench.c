/* shardflow collbench: time one collective over a range of sizes on N ranks
 * and print the nccl-tests table (STYLE §8), with every result verified.
 * Invariant: every rank runs the same sequence of collectives (sizes, then
 * out-of-place, then in-place, iterations in order), so the ranks agree on
 * what each collective is without any extra messages. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bootstrap.h"
#include "cli.h"
#include "coll.h"
#include "collbench_buf.h"
#include "collbench_table.h"
#include "launch.h"

typedef struct bench_cfg {
    sf_coll_kind_t kind;
    const char *backend; /* borrowed from argv */
    sf_memkind_t mem;
    sf_dtype_t dtype;
    sf_reduce_op_t redop;
    uint64_t min_bytes, max_bytes;
    int iters, warmup;
    double timeout_s;
} bench_cfg_t;

/* ---- flags ---------------------------------------------------------------- */

static void print_usage(FILE *f)
{
    fprintf(f,
            "usage: shardflow collbench --op all_gather|all_to_all|all_reduce\n"
            "                           [--backend ucx|nccl|self] [--nproc N]\n"
            "                           [--min SIZE] [--max SIZE] [--dtype f32]\n"
            "                           [--redop sum|max] [--iters K] [--warmup W]\n"
            "                           [--timeout S]\n"
            "\n"
            "Times one collective for sizes min..max (doubling; K/M/G suffixes are powers\n"
            "of 2) and prints the nccl-tests table. size is the bytes of each rank's output\n"
            "buffer; algbw = size / time (GB = 1e9 B); busbw = algbw * (n-1)/n for\n"
            "all_gather and all_to_all, * 2(n-1)/n for all_reduce. Every iteration's\n"
            "result is checked (#wrong, summed over ranks). In-place runs for all_reduce\n"
            "only (n/a otherwise). The last two columns time a one-thread host memcpy of\n"
            "the same size, for ratios.\n"
            "\n"
            "  --backend B   collectives backend (default ucx); nccl uses CUDA memory\n"
            "  --nproc N     start N local ranks of this command; without it, this process\n"
            "                is one rank of whatever the environment says (torchrun, mpirun,\n"
            "                srun variables)\n"
            "  --min/--max   sizes (default 1K and 64M)\n"
            "  --dtype T     f32, bf16, f16, i32, i64 (u8 too, except for all_reduce)\n"
            "  --iters K     timed iterations per size (default 20)\n"
            "  --warmup W    untimed iterations first, checked too (default 5)\n"
            "  --timeout S   seconds any collective or the rendezvous may take (default 60)\n"
            "\n"
            "Exit status: 0 when every result was right, 1 when some were wrong or a rank\n"
            "failed, 2 for bad flags.\n");
}

/* "1024", "1K", "256M", "1G": K/M/G are powers of two. */
static sf_status_t parse_size(const char *flag, const char *s, uint64_t *out, sf_err_t *err)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (end != s && *end != '\0' && end[1] == '\0') {
        switch (*end) {
        case 'K': case 'k': shift = 10; end++; break;
        case 'M': case 'm': shift = 20; end++; break;
        case 'G': case 'g': shift = 30; end++; break;
        default: break;
        }
    }
    if (s[0] == '-' || end == s || *end != '\0' || errno != 0 || v == 0 ||
        v > (UINT64_MAX >> 34))
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "%s: '%s' is not a size (a positive integer, optionally with K, M or G)",
                          flag, s);
    *out = (uint64_t)v << shift;
    return SF_OK;
}

static sf_status_t parse_int(const char *flag, const char *s, long lo, long hi, long *out,
                             sf_err_t *err)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || v < lo || v > hi)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "%s: '%s' is not an integer in %ld..%ld",
                          flag, s, lo, hi);
    *out = v;
    return SF_OK;
}

static sf_status_t parse_op(const char *s, sf_coll_kind_t *out, sf_err_t *err)
{
    static const sf_coll_kind_t kinds[] = {SF_COLL_ALLGATHER, SF_COLL_ALLTOALLV,
                                           SF_COLL_ALLREDUCE};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(s, sf_coll_kind_name(kinds[i])) == 0) {
            *out = kinds[i];
            return SF_OK;
        }
    }
    return sf_err_set(err, SF_ERR_INPUT, NULL,
                      "--op: unknown collective '%s' (expected all_gather, all_to_all or "
                      "all_reduce)",
                      s);
}

/* Parse argv[first..argc) into cfg. Every failure is SF_ERR_INPUT. */
static sf_status_t parse_flags(int argc, char **argv, int first, bench_cfg_t *cfg, sf_err_t *err)
{
    bool has_op = false;
    const char *v;
    long n;
    sf_status_t s;

    memset(cfg, 0, sizeof *cfg);
    cfg->backend = "ucx";
    cfg->dtype = SF_DTYPE_F32;
    cfg->redop = SF_REDUCE_SUM;
    cfg->min_bytes = 1024;
    cfg->max_bytes = 64ull << 20;
    cfg->iters = 20;
    cfg->warmup = 5;
    cfg->timeout_s = 60.0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
#define TAKE()                                                                                 \
    do {                                                                                       \
        if ((v = sf_cli_option_value(argc, argv, &i, err)) == NULL)                            \
            return SF_ERR_INPUT;                                                               \
    } while (0)
        if (sf_cli_is_option(a, "--op")) {
            TAKE();
            if ((s = parse_op(v, &cfg->kind, err)) != SF_OK)
                return s;
            has_op = true;
        } else if (sf_cli_is_option(a, "--backend")) {
            TAKE();
            cfg->backend = v;
        } else if (sf_cli_is_option(a, "--min")) {
            TAKE();
            if ((s = parse_size("--min", v, &cfg->min_bytes, err)) != SF_OK)
                return s;
        } else if (sf_cli_is_option(a, "--max")) {
            TAKE();
            if ((s = parse_size("--max", v, &cfg->max_bytes, err)) != SF_OK)
                return s;
        } else if (sf_cli_is_option(a, "--dtype")) {
            TAKE();
            if (!sf_dtype_parse(v, &cfg->dtype))
                return sf_err_set(err, SF_ERR_INPUT, NULL,
                                  "--dtype: unknown dtype '%s' (expected f32, bf16, f16, i32, "
                                  "i64 or u8)",
                                  v);
        } else if (sf_cli_is_option(a, "--redop")) {
            TAKE();
            if (strcmp(v, "sum") == 0)
                cfg->redop = SF_REDUCE_SUM;
            else if (strcmp(v, "max") == 0)
                cfg->redop = SF_REDUCE_MAX;
            else
                return sf_err_set(err, SF_ERR_INPUT, NULL,
                                  "--redop: '%s' (expected sum or max)", v);
        } else if (sf_cli_is_option(a, "--iters")) {
            TAKE();
            if ((s = parse_int("--iters", v, 1, 1000000, &n, err)) != SF_OK)
                return s;
            cfg->iters = (int)n;
        } else if (sf_cli_is_option(a, "--warmup")) {
            TAKE();
            if ((s = parse_int("--warmup", v, 0, 1000000, &n, err)) != SF_OK)
                return s;
            cfg->warmup = (int)n;
        } else if (sf_cli_is_option(a, "--timeout")) {
            TAKE();
            char *end = NULL;
            errno = 0;
            double t = strtod(v, &end);
            if (end == v || *end != '\0' || errno != 0 || !(t > 0) || t > 1e6)
                return sf_err_set(err, SF_ERR_INPUT, NULL,
                                  "--timeout: '%s' is not a number of seconds in (0, 1e6]", v);
            cfg->timeout_s = t;
        } else {
            return sf_err_set(err, SF_ERR_INPUT, NULL, "unexpected argument '%s'", a);
        }
#undef TAKE
    }
    if (!has_op)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "--op is required (all_gather, all_to_all or all_reduce)");
    if (cfg->min_bytes > cfg->max_bytes)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "--min %" PRIu64 " is above --max %" PRIu64,
                          cfg->min_bytes, cfg->max_bytes);
    if (cfg->kind == SF_COLL_ALLREDUCE && cfg->dtype == SF_DTYPE_U8)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "--dtype u8: all_reduce takes f32, bf16, f16, i32 or i64");
    sf_comm_register_all();
    if (sf_comm_find(cfg->backend) == NULL) {
        char known[128];
        sf_comm_list(known, sizeof known);
        return sf_err_set(err, SF_ERR_INPUT, NULL, "--backend: '%s' is not built in (built: %s)",
                          cfg->backend, known);
    }
    /* NCCL is the backend for CUDA memory; the others move host memory. */
    cfg->mem = strcmp(cfg->backend, "nccl") == 0 ? SF_MEMKIND_CUDA : SF_MEMKIND_HOST;
    return SF_OK;
}

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
static double pattern(const bench_cfg_t *cfg, int world, int rank, uint64_t i)
{
    uint32_t range = 97;
    if (cfg->kind == SF_COLL_ALLREDUCE && cfg->redop == SF_REDUCE_SUM)
        range = world < 256 ? (uint32_t)(256 / world) : 1;
    return (double)(mix(rank, i) % range);
}

static double expected(const bench_cfg_t *cfg, int world, int rank, uint64_t count, uint64_t i)
{
    switch (cfg->kind) {
    case SF_COLL_ALLGATHER: /* block p is rank p's send buffer */
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

static void fill_pattern(const bench_cfg_t *cfg, int world, int rank, void *host, uint64_t n)
{
    size_t es = sf_dtype_size(cfg->dtype);
    for (uint64_t i = 0; i < n; i++)
        sf_dtype_store(cfg->dtype, (char *)host + i * es, pattern(cfg, world, rank, i));
}

static uint64_t count_wrong(const bench_cfg_t *cfg, int world, int rank, uint64_t count,
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
    const bench_cfg_t *cfg; /* borrowed */
    sf_comm_t *comm;        /* borrowed */
    int rank, world;
    sf_collbench_buf_t scalar; /* owned: 8 bytes for the time/#wrong reductions */
} bench_ctx_t;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

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

/* The buffers of one size. counts/displs are for all_to_all. */
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
    const bench_cfg_t *cfg = b->cfg;
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
        double t0 = now_s();
        if ((s = sf_coll_run(b->comm, &a, err)) != SF_OK)
            return s;
        if (it >= cfg->warmup)
            total_s += now_s() - t0;
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
static sf_status_t time_memcpy(const bench_cfg_t *cfg, uint64_t nbytes, sf_collbench_row_t *row,
                               sf_err_t *err)
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
    double t0 = now_s();
    for (int it = 0; it < cfg->iters; it++) {
        memcpy(dst, src, n);
        /* Keep the copies from being merged or dropped. */
        __asm__ __volatile__("" : : "r"(dst) : "memory");
    }
    double mean_s = (now_s() - t0) / cfg->iters;
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
    const bench_cfg_t *cfg = b->cfg;
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
        bb->n_send = cfg->kind == SF_COLL_ALLGATHER ? bb->count : bb->n_recv;
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
    const bench_cfg_t *cfg = b->cfg;
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

static uint64_t cfg_hash(const bench_cfg_t *cfg)
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

static void print_preamble(const bench_cfg_t *cfg, int world)
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

static int run_rank(const bench_cfg_t *cfg, const sf_rank_info_t *ri)
{
    sf_err_t err;
    sf_err_clear(&err);
    sf_bootstrap_t *bs = NULL;
    bench_ctx_t b = {.cfg = cfg, .rank = ri->rank, .world = ri->world};
    uint64_t total_wrong = 0;
    double busbw_sum = 0;
    int n_rows = 0;
    sf_status_t s;

    if ((s = sf_bootstrap_new(ri, cfg_hash(cfg), cfg->timeout_s, &bs, &err)) != SF_OK)
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

int sf_cmd_collbench(int argc, char **argv)
{
    sf_err_t err;
    sf_err_clear(&err);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_usage(stdout);
            return 0;
        }
    }
    /* The launcher re-runs a whole command line, program name first. */
    char **full = malloc(((size_t)argc + 2) * sizeof *full);
    if (full == NULL)
        return 1;
    full[0] = "shardflow";
    for (int i = 0; i < argc; i++)
        full[i + 1] = argv[i];
    full[argc + 1] = NULL;
    char **rest = NULL;
    int n_rest = 0, nproc = 0;
    bench_cfg_t cfg;
    sf_status_t s = sf_launch_strip_nproc(argc + 1, full, &nproc, &rest, &n_rest, &err);
    if (s == SF_OK)
        s = parse_flags(n_rest, rest, 2, &cfg, &err);
    if (s != SF_OK) {
        free(rest);
        free(full);
        fprintf(stderr, "shardflow collbench: ");
        int code = sf_cli_fail(&err);
        fprintf(stderr, "(shardflow collbench --help lists the options)\n");
        return code;
    }

    int rc;
    if (nproc > 1) {
        rc = sf_launch_nproc(nproc, n_rest, rest, cfg.timeout_s);
    } else {
        sf_rank_info_t ri;
        memset(&ri, 0, sizeof ri);
        if (nproc == 1) {
            /* --nproc 1 is this process alone, whatever the environment says. */
            ri.rank = 0;
            ri.world = 1;
            snprintf(ri.source, sizeof ri.source, "single");
            rc = run_rank(&cfg, &ri);
        } else if ((s = sf_rank_info_from_env(&ri, &err)) != SF_OK) {
            rc = sf_cli_fail(&err);
        } else {
            rc = run_rank(&cfg, &ri);
        }
    }
    free(rest);
    free(full);
    return rc;
}
