/* Forking the ranks of a multi-process collectives test: each rank is a
 * child process on 127.0.0.1 with torchrun-style identity; the parent waits
 * with a deadline and kills what is left. Shared by the suites in
 * tests/collectives/. */
#ifndef SF_TEST_RANK_PROCS_H
#define SF_TEST_RANK_PROCS_H

#include <stdio.h>

#include "bootstrap.h"

/* The identity of rank `rank` of `world` rendezvousing at 127.0.0.1:port. */
sf_rank_info_t tu_rank_info(int rank, int world, int port);

/* Body of process i of n; returns the exit code (0: all checks passed). */
typedef int (*tu_proc_fn)(int i, int n, int port, void *arg);

/* Fork n (at most 16) processes running fn, wait up to limit_s, kill what
 * is left. codes[i] is the exit code, or 128 + signal. */
void tu_run_procs(int n, tu_proc_fn fn, void *arg, int port, double limit_s, int *codes);

/* In a rank's body (which returns its exit code): on cond, print where and
 * why on stderr and return 1. Check's ck_assert only works in the test's
 * own process. */
#define TU_FAIL_IF(cond, ...)                                                                         \
    do {                                                                                           \
        if (cond) {                                                                                \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

#endif
