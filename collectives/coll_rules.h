/* Algorithm choice as data (STYLE §2): a table of rows
 *   (collective, memory kind, byte range [min, max)) -> (backend, algorithm, start)
 * sf_comm_start walks it top to bottom for the comm's backend; the first
 * matching row wins, and a row whose start says SF_ERR_UNSUPPORTED passes
 * to the next matching one (UCC's fallback list). SF_COLL_ALGO can force a
 * row by name. Private to collectives/ and its tests. */
#ifndef SF_COLL_RULES_H
#define SF_COLL_RULES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "coll.h"

/* Begin one collective with one algorithm. Same contract as the backend's
 * start hook: never blocks; on SF_OK the caller owns *req. */
typedef sf_status_t (*sf_coll_start_fn)(sf_comm_t *comm, const sf_coll_args_t *args, void **req,
                                        sf_err_t *err);

typedef struct sf_coll_rule {
    sf_coll_kind_t kind;
    sf_memkind_t mem;
    uint64_t min_bytes, max_bytes; /* [min, max); see sf_coll_rule_bytes */
    const char *backend;           /* borrowed: a backend's table name */
    const char *algo;              /* borrowed: the name SF_COLL_ALGO uses */
    sf_coll_start_fn start;        /* borrowed: a function of the backend */
} sf_coll_rule_t;

/* The bytes a row's range is compared with. Every rank must get the same
 * number, or ranks would pick different algorithms and never meet:
 * count * dtype size for all_gather, all_reduce and broadcast (one rank's
 * piece), the sum of recv_counts for all_gatherv, 0 for a barrier, and 0
 * for all_to_all (its per-rank sums differ between ranks, so its rows can
 * only split by memory kind). */
uint64_t sf_coll_rule_bytes(const sf_coll_args_t *args, int world);

/* The built-in table (coll_rules.c). */
const sf_coll_rule_t *sf_coll_rules(size_t *n);

/* SF_COLL_ALGO=KIND:ALGO[,KIND:ALGO...], e.g. all_gather:ring. Parsed once
 * per call from the environment value `spec` (NULL or "" = no override):
 * fills forced[kind] with the algorithm name (or NULL). An unknown kind or an
 * algorithm no row of that kind has is SF_ERR_INPUT naming the valid ones.
 * forced[] points into buf (n bytes). */
SF_NODISCARD sf_status_t sf_coll_rules_parse_override(const sf_coll_rule_t *rows, size_t n_rows,
                                                      const char *spec,
                                                      const char *forced[SF_COLL_KIND_COUNT],
                                                      char *buf, size_t n, sf_err_t *err);

/* Walk rows for comm's backend: the first row matching (kind, mem, bytes)
 * and, when forced[kind] is set, that name, gets started; SF_ERR_UNSUPPORTED
 * moves on to the next. *chosen (may be NULL) names the row that started. */
SF_NODISCARD sf_status_t sf_coll_rules_start(const sf_coll_rule_t *rows, size_t n_rows,
                                             const char *const forced[SF_COLL_KIND_COUNT],
                                             sf_comm_t *comm, const sf_coll_args_t *args,
                                             void **req, const sf_coll_rule_t **chosen,
                                             sf_err_t *err);

/* Print rows as a table (collective, memory, bytes, backend, algorithm). */
void sf_coll_rules_print(const sf_coll_rule_t *rows, size_t n_rows, FILE *f);

/* The algorithms the rows name, one start function each. */
sf_status_t sf_self_start(sf_comm_t *comm, const sf_coll_args_t *args, void **req, sf_err_t *err);
sf_status_t sf_ucx_allgather_ring_start(sf_comm_t *comm, const sf_coll_args_t *args, void **req,
                                        sf_err_t *err);
sf_status_t sf_ucx_alltoallv_pairwise_start(sf_comm_t *comm, const sf_coll_args_t *args,
                                            void **req, sf_err_t *err);
sf_status_t sf_ucx_allreduce_ring_start(sf_comm_t *comm, const sf_coll_args_t *args, void **req,
                                        sf_err_t *err);
sf_status_t sf_ucx_allreduce_direct_start(sf_comm_t *comm, const sf_coll_args_t *args,
                                          void **req, sf_err_t *err);
sf_status_t sf_ucx_allreduce_halves_start(sf_comm_t *comm, const sf_coll_args_t *args,
                                          void **req, sf_err_t *err);
sf_status_t sf_ucx_broadcast_binomial_start(sf_comm_t *comm, const sf_coll_args_t *args,
                                            void **req, sf_err_t *err);
sf_status_t sf_ucx_allgatherv_ring_start(sf_comm_t *comm, const sf_coll_args_t *args, void **req,
                                         sf_err_t *err);
sf_status_t sf_ucx_barrier_dissemination_start(sf_comm_t *comm, const sf_coll_args_t *args,
                                               void **req, sf_err_t *err);
#ifdef SF_HAVE_NCCL
sf_status_t sf_nccl_start(sf_comm_t *comm, const sf_coll_args_t *args, void **req, sf_err_t *err);
#endif

#endif
