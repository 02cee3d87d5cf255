/* Joining the group: see rank_group.h. */
#include "rank_group.h"

#include <stdlib.h>
#include <string.h>

sf_status_t sf_rank_group_join(sf_rank_group_t *rg, const char *backend, bool cuda_memory,
                               const sf_bootstrap_job_t *job, sf_err_t *err)
{
    sf_comm_register_all();
    const char *name = backend;
    if (strcmp(backend, "auto") == 0)
        name = rg->info.world == 1 ? "self" : cuda_memory ? "nccl" : "ucx";
    if (strcmp(name, "self") == 0 && rg->info.world != 1)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "--backend self runs one rank, but the group has %d", rg->info.world);
    if (rg->info.world > 1 || strcmp(name, "self") != 0) {
        sf_status_t st = sf_bootstrap_new(&rg->info, job, &rg->bs, err);
        if (st != SF_OK)
            return st;
    }
    return sf_comm_new(name, rg->bs, job->timeout_s, &rg->comm, err);
}

sf_status_t sf_rank_group_emulate(sf_rank_group_t *rg, int rank, int world, double timeout_s,
                                  sf_err_t *err)
{
    memset(&rg->info, 0, sizeof rg->info);
    rg->info.rank = rank;
    rg->info.world = world;
    rg->info.local_rank = rank;
    snprintf(rg->info.source, sizeof rg->info.source, "emulated");
    rg->bs = NULL;
    return sf_comm_new_emulated(rank, world, timeout_s, &rg->comm, err);
}

void sf_rank_group_leave(sf_rank_group_t *rg)
{
    sf_comm_free(rg->comm);
    sf_bootstrap_free(rg->bs);
    rg->comm = NULL;
    rg->bs = NULL;
}

/* The fixed-size record that travels: no pointers. */
typedef struct report_wire {
    int32_t rank;
    uint64_t peak_bytes;
    uint64_t end_bytes;
    int64_t n_allocs;
    double wall_s;
    uint64_t kept_bytes, output_bytes, persistent_bytes, floor_bytes;
    uint64_t reserved_peak_bytes, device_used_peak_bytes;
    int32_t n_aliases;
    uint64_t sent_bytes;
    int32_t has_sent_bytes;
    char peak_node[256];
    char floor_node[256];
} report_wire_t;

sf_status_t sf_rank_group_gather_reports(sf_rank_group_t *rg, const sf_rank_report_t *mine,
                                         sf_rank_report_t *reports, sf_err_t *err)
{
    int world = rg->info.world;
    if (rg->bs == NULL) {
        reports[0] = *mine;
        reports[0].node_us = NULL;
        reports[0].stats.peak_node = reports[0].peak_node;
        reports[0].stats.floor_node = reports[0].floor_node;
        return SF_OK;
    }
    report_wire_t w;
    memset(&w, 0, sizeof w);
    w.rank = mine->rank;
    w.peak_bytes = mine->stats.peak_bytes;
    w.end_bytes = mine->stats.end_bytes;
    w.n_allocs = mine->stats.n_allocs;
    w.wall_s = mine->stats.wall_s;
    w.kept_bytes = mine->stats.kept_bytes;
    w.output_bytes = mine->stats.output_bytes;
    w.persistent_bytes = mine->stats.persistent_bytes;
    w.floor_bytes = mine->stats.floor_bytes;
    w.reserved_peak_bytes = mine->stats.reserved_peak_bytes;
    w.device_used_peak_bytes = mine->stats.device_used_peak_bytes;
    w.n_aliases = mine->n_aliases;
    w.sent_bytes = mine->sent_bytes;
    w.has_sent_bytes = mine->has_sent_bytes;
    snprintf(w.peak_node, sizeof w.peak_node, "%s", mine->peak_node);
    snprintf(w.floor_node, sizeof w.floor_node, "%s", mine->floor_node);
    report_wire_t *all = calloc((size_t)world, sizeof *all);
    SF_ASSERT(all != NULL);
    sf_status_t st = sf_bootstrap_allgather(rg->bs, &w, sizeof w, all, err);
    for (int r = 0; st == SF_OK && r < world; r++) {
        sf_rank_report_t *rep = &reports[r];
        memset(rep, 0, sizeof *rep);
        rep->rank = all[r].rank;
        rep->stats.peak_bytes = all[r].peak_bytes;
        rep->stats.end_bytes = all[r].end_bytes;
        rep->stats.n_allocs = all[r].n_allocs;
        rep->stats.wall_s = all[r].wall_s;
        rep->stats.kept_bytes = all[r].kept_bytes;
        rep->stats.output_bytes = all[r].output_bytes;
        rep->stats.persistent_bytes = all[r].persistent_bytes;
        rep->stats.floor_bytes = all[r].floor_bytes;
        rep->stats.reserved_peak_bytes = all[r].reserved_peak_bytes;
        rep->stats.device_used_peak_bytes = all[r].device_used_peak_bytes;
        rep->n_aliases = all[r].n_aliases; /* counted; the names stay with the rank */
        rep->sent_bytes = all[r].sent_bytes;
        rep->has_sent_bytes = all[r].has_sent_bytes != 0;
        snprintf(rep->peak_node, sizeof rep->peak_node, "%s", all[r].peak_node);
        rep->stats.peak_node = rep->peak_node;
        snprintf(rep->floor_node, sizeof rep->floor_node, "%s", all[r].floor_node);
        rep->stats.floor_node = rep->floor_node;
    }
    free(all);
    return st;
}
