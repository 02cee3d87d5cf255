/* The table `shardflow collbench` prints: nccl-tests' columns (STYLE §8)
 * plus a host memcpy yardstick, header and rows from one column list. */
#ifndef SF_COLLBENCH_TABLE_H
#define SF_COLLBENCH_TABLE_H

#include <stdint.h>
#include <stdio.h>

#include "coll.h"

/* One run of a collective at one size. time_us < 0: not run (n/a). */
typedef struct sf_collbench_stats {
    double time_us;
    double algbw, busbw; /* GB/s, GB = 1e9 B */
    uint64_t n_wrong;    /* summed over ranks and iterations */
} sf_collbench_stats_t;

typedef struct sf_collbench_row {
    uint64_t nbytes; /* bytes of each rank's output buffer */
    uint64_t count;  /* the collective's count argument, as nccl-tests prints it */
    sf_collbench_stats_t oop, inplace;
    double memcpy_us, memcpy_gbs;
} sf_collbench_row_t;

/* The group line (out-of-place, in-place, host memcpy) and the column names,
 * both starting with '#'. */
void sf_collbench_table_header(FILE *f);
/* One row; redop is printed for all_reduce only ("none" otherwise). */
void sf_collbench_table_row(FILE *f, sf_coll_kind_t kind, sf_dtype_t dtype, sf_reduce_op_t redop,
                            const sf_collbench_row_t *r);

#endif
