/* shardflow collbench: time one collective over a range of sizes on N ranks
 * and print the nccl-tests table (STYLE §8), with every result verified.
 * This file is the command: flags, --help, and starting the ranks; one
 * rank's measurement is collbench_run.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap.h"
#include "cli.h"
#include "coll.h"
#include "collbench_run.h"
#include "launch.h"

/* ---- flags ---------------------------------------------------------------- */

static void print_usage(FILE *f)
{
    fprintf(f,
            "usage: shardflow collbench --op all_gather|all_gatherv|all_to_all|all_reduce\n"
            "                           [--backend ucx|nccl|self] [--nproc N]\n"
            "                           [--min SIZE] [--max SIZE] [--dtype f32]\n"
            "                           [--redop sum|max] [--iters K] [--warmup W]\n"
            "                           [--timeout S]\n"
            "       shardflow collbench --rules\n"
            "\n"
            "Times one collective for sizes min..max (doubling; K/M/G suffixes are powers\n"
            "of 2) and prints the nccl-tests table. size is the bytes of each rank's output\n"
            "buffer; algbw = size / time (GB = 1e9 B); busbw = algbw * (n-1)/n for\n"
            "all_gather(v) and all_to_all, * 2(n-1)/n for all_reduce (all_gatherv runs\n"
            "even pieces in rank order, the nccl-tests convention). Every iteration's\n"
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
            "  --rules       print the algorithm rule table and exit (starts no ranks)\n"
            "\n"
            "SF_COLL_ALGO=COLLECTIVE:ALGORITHM[,...] (e.g. all_gather:ring) forces the\n"
            "rule row of that name; an unknown name exits 2 listing the valid ones.\n"
            "Local ranks read each other's buffers in place through a shared arena;\n"
            "SF_UCX_MAP=0 (or SF_SHM_ARENA=0) reads them by process_vm_readv instead,\n"
            "and SF_UCX_CMA=0 turns that off too (UCX's own copies only).\n"
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
    /* Set on entry (STYLE §3): the compiler cannot see that sf_err_set never
     * returns SF_OK, and -O3 then calls the caller's variable uninitialized. */
    *out = 0;
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
    static const sf_coll_kind_t kinds[] = {SF_COLL_ALLGATHER, SF_COLL_ALLGATHERV,
                                           SF_COLL_ALLTOALLV, SF_COLL_ALLREDUCE};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(s, sf_coll_kind_name(kinds[i])) == 0) {
            *out = kinds[i];
            return SF_OK;
        }
    }
    return sf_err_set(err, SF_ERR_INPUT, NULL,
                      "--op: unknown collective '%s' (expected all_gather, all_gatherv, all_to_all or "
                      "all_reduce)",
                      s);
}

/* Parse argv[first..argc) into cfg. Every failure is SF_ERR_INPUT. */
static sf_status_t parse_flags(int argc, char **argv, int first, sf_collbench_cfg_t *cfg,
                               sf_err_t *err)
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
                          "--op is required (all_gather, all_gatherv, all_to_all or all_reduce)");
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

int sf_cmd_collbench(int argc, char **argv)
{
    sf_err_t err;
    sf_err_clear(&err);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--rules") == 0) {
            sf_comm_register_all();
            sf_comm_dump_rules(stdout);
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
    sf_collbench_cfg_t cfg;
    sf_status_t s = sf_launch_strip_nproc(argc + 1, full, &nproc, &rest, &n_rest, &err);
    if (s == SF_OK)
        s = parse_flags(n_rest, rest, 2, &cfg, &err);
    if (s == SF_OK)
        s = sf_coll_algo_check_env(&err);
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
        if ((s = sf_bootstrap_token_ensure(&err)) != SF_OK) {
            free(rest);
            free(full);
            return sf_cli_fail(&err);
        }
        rc = sf_launch_nproc(nproc, n_rest, rest, cfg.timeout_s, SF_LAUNCH_RANK0_STDOUT_RAW, NULL);
    } else {
        sf_rank_info_t ri;
        memset(&ri, 0, sizeof ri);
        if (nproc == 1) {
            /* --nproc 1 is this process alone, whatever the environment says. */
            ri.rank = 0;
            ri.world = 1;
            snprintf(ri.source, sizeof ri.source, "single");
            rc = sf_collbench_run_rank(&cfg, &ri);
        } else if ((s = sf_rank_info_from_env(&ri, &err)) != SF_OK) {
            rc = sf_cli_fail(&err);
        } else {
            rc = sf_collbench_run_rank(&cfg, &ri);
        }
    }
    free(rest);
    free(full);
    return rc;
}
