/* One rank of `shardflow collbench`: join the other ranks, time the
 * collective at every size with every result verified, and on rank 0 print
 * the nccl-tests table. Every rank must be given the same configuration. */
#ifndef SF_COLLBENCH_RUN_H
#define SF_COLLBENCH_RUN_H

#include <stdint.h>

#include "bootstrap.h"
#include "coll.h"

typedef struct sf_collbench_cfg {
    sf_coll_kind_t kind;
    const char *backend; /* borrowed from argv */
    sf_memkind_t mem;
    sf_dtype_t dtype;
    sf_reduce_op_t redop;
    uint64_t min_bytes, max_bytes;
    int iters, warmup;
    double timeout_s;
} sf_collbench_cfg_t;

/* Run the benchmark as rank ri->rank of ri->world, through cfg->backend.
 * Blocks until every size is done. Returns the exit status: 0 when every
 * result was right, 1 when some were wrong, else sf_cli_fail's code for the
 * error (printed to stderr). */
int sf_collbench_run_rank(const sf_collbench_cfg_t *cfg, const sf_rank_info_t *ri);

/* `shardflow collbench ...`: argv from "collbench" on; parses the flags,
 * starts --nproc ranks (or runs as one rank of a launcher's group) and
 * returns the exit status. */
int sf_cmd_collbench(int argc, char **argv);

#endif
