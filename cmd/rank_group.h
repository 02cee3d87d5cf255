/* A rank's place in its group for `shardflow run`: identity from the
 * launcher's environment, the rendezvous, and the collectives backend the
 * rank's memory calls for. One rank alone needs no rendezvous and gets the
 * `self` backend; an emulated rank (one of a world that does not exist)
 * gets the `emulate` backend. */
#ifndef SF_RANK_GROUP_H
#define SF_RANK_GROUP_H

#include "bootstrap.h"
#include "coll.h"
#include "graph_session.h"

typedef struct sf_rank_group {
    sf_rank_info_t info;
    sf_bootstrap_t *bs; /* owned; NULL for a single rank */
    sf_comm_t *comm;    /* owned */
} sf_rank_group_t;

/* Rendezvous (graph_hash must agree on every rank) and create the backend:
 * `backend` is auto|ucx|nccl|self; auto picks ucx for host memory with
 * several ranks, nccl for CUDA memory, self for one rank. */
SF_NODISCARD sf_status_t sf_rank_group_join(sf_rank_group_t *rg, const char *backend,
                                            bool cuda_memory,
                                            const sf_bootstrap_job_t *job, sf_err_t *err);
void sf_rank_group_leave(sf_rank_group_t *rg);
/* Stand in for rank `rank` of `world` alone (run --emulate-world): no
 * launcher environment, no rendezvous, the emulate backend. rg->bs stays
 * NULL, so the report gathered is this rank's only. */
SF_NODISCARD sf_status_t sf_rank_group_emulate(sf_rank_group_t *rg, int rank, int world,
                                               double timeout_s, sf_err_t *err);

/* Every rank's report on rank 0 (reports has world entries there; other
 * ranks only send theirs). */
SF_NODISCARD sf_status_t sf_rank_group_gather_reports(sf_rank_group_t *rg,
                                                      const sf_rank_report_t *mine,
                                                      sf_rank_report_t *reports, sf_err_t *err);

#endif
