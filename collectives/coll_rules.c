/* The rule table and its walk: see coll_rules.h. The defaults pick what
 * each backend ran before the table existed (one algorithm per collective),
 * except where a row names its bench evidence, so a run's results do not
 * depend on it. */
#include "coll_rules.h"

#include <stdlib.h>
#include <string.h>

#define ANY_BYTES 0, UINT64_MAX

static const sf_coll_rule_t sf_rules[] = {
    /* One rank: every collective is a local copy, or nothing. */
    {SF_COLL_ALLGATHER, SF_MEMKIND_HOST, ANY_BYTES, "self", "copy", sf_self_start},
    {SF_COLL_ALLTOALLV, SF_MEMKIND_HOST, ANY_BYTES, "self", "copy", sf_self_start},
    {SF_COLL_ALLREDUCE, SF_MEMKIND_HOST, ANY_BYTES, "self", "copy", sf_self_start},
    {SF_COLL_BROADCAST, SF_MEMKIND_HOST, ANY_BYTES, "self", "copy", sf_self_start},
    {SF_COLL_BARRIER, SF_MEMKIND_HOST, ANY_BYTES, "self", "copy", sf_self_start},
    {SF_COLL_ALLGATHERV, SF_MEMKIND_HOST, ANY_BYTES, "self", "copy", sf_self_start},
    /* UCX over host memory, after UCC's tl/ucp (STYLE §2). */
    {SF_COLL_ALLGATHER, SF_MEMKIND_HOST, ANY_BYTES, "ucx", "ring", sf_ucx_allgather_ring_start},
    {SF_COLL_ALLTOALLV, SF_MEMKIND_HOST, ANY_BYTES, "ucx", "pairwise",
     sf_ucx_alltoallv_pairwise_start},
    /* Two ranks that map each other's arena: each reduces its half straight
     * out of the peer's input, then copies the peer's half (two exchanges).
     * Two ranks otherwise: one exchange per chunk, reduced while the next
     * one moves (README: bench_peers table). Others: the ring. */
    {SF_COLL_ALLREDUCE, SF_MEMKIND_HOST, ANY_BYTES, "ucx", "direct",
     sf_ucx_allreduce_direct_start},
    {SF_COLL_ALLREDUCE, SF_MEMKIND_HOST, ANY_BYTES, "ucx", "halves",
     sf_ucx_allreduce_halves_start},
    {SF_COLL_ALLREDUCE, SF_MEMKIND_HOST, ANY_BYTES, "ucx", "ring", sf_ucx_allreduce_ring_start},
    {SF_COLL_BROADCAST, SF_MEMKIND_HOST, ANY_BYTES, "ucx", "binomial",
     sf_ucx_broadcast_binomial_start},
    {SF_COLL_BARRIER, SF_MEMKIND_HOST, ANY_BYTES, "ucx", "dissemination",
     sf_ucx_barrier_dissemination_start},
    {SF_COLL_ALLGATHERV, SF_MEMKIND_HOST, ANY_BYTES, "ucx", "ring", sf_ucx_allgatherv_ring_start},
#ifdef SF_HAVE_NCCL
    /* One rank on a GPU: a device copy (self.c), no NCCL communicator. */
    {SF_COLL_ALLGATHER, SF_MEMKIND_CUDA, ANY_BYTES, "self", "copy", sf_self_start},
    {SF_COLL_ALLTOALLV, SF_MEMKIND_CUDA, ANY_BYTES, "self", "copy", sf_self_start},
    {SF_COLL_ALLREDUCE, SF_MEMKIND_CUDA, ANY_BYTES, "self", "copy", sf_self_start},
    {SF_COLL_BROADCAST, SF_MEMKIND_CUDA, ANY_BYTES, "self", "copy", sf_self_start},
    {SF_COLL_BARRIER, SF_MEMKIND_CUDA, ANY_BYTES, "self", "copy", sf_self_start},
    {SF_COLL_ALLGATHERV, SF_MEMKIND_CUDA, ANY_BYTES, "self", "copy", sf_self_start},
    /* NCCL over CUDA memory: NCCL picks its own algorithm underneath. */
    {SF_COLL_ALLGATHER, SF_MEMKIND_CUDA, ANY_BYTES, "nccl", "nccl", sf_nccl_start},
    {SF_COLL_ALLTOALLV, SF_MEMKIND_CUDA, ANY_BYTES, "nccl", "nccl", sf_nccl_start},
    {SF_COLL_ALLREDUCE, SF_MEMKIND_CUDA, ANY_BYTES, "nccl", "nccl", sf_nccl_start},
    {SF_COLL_BROADCAST, SF_MEMKIND_CUDA, ANY_BYTES, "nccl", "nccl", sf_nccl_start},
    {SF_COLL_ALLGATHERV, SF_MEMKIND_CUDA, ANY_BYTES, "nccl", "nccl", sf_nccl_start},
    /* A barrier reduces the backend's own device buffer, whatever memory
     * the caller names. */
    {SF_COLL_BARRIER, SF_MEMKIND_CUDA, ANY_BYTES, "nccl", "nccl", sf_nccl_start},
    {SF_COLL_BARRIER, SF_MEMKIND_HOST, ANY_BYTES, "nccl", "nccl", sf_nccl_start},
#endif
};

const sf_coll_rule_t *sf_coll_rules(size_t *n)
{
    *n = sizeof sf_rules / sizeof sf_rules[0];
    return sf_rules;
}

uint64_t sf_coll_rule_bytes(const sf_coll_args_t *a, int world)
{
    uint64_t es = sf_dtype_size(a->dtype), total = 0;
    switch (a->kind) {
    case SF_COLL_ALLGATHER:
    case SF_COLL_ALLREDUCE:
    case SF_COLL_BROADCAST:
        return a->count * es;
    case SF_COLL_ALLGATHERV:
        for (int p = 0; a->recv_counts != NULL && p < world; p++)
            total += a->recv_counts[p];
        return total * es;
    case SF_COLL_ALLTOALLV:
    case SF_COLL_BARRIER:
    default:
        return 0;
    }
}

/* "ring, linear" for kind: every name a row of that kind has, once. */
static void algo_names(const sf_coll_rule_t *rows, size_t n_rows, sf_coll_kind_t kind, char *out,
                       size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n_rows; i++) {
        if (rows[i].kind != kind)
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = rows[j].kind == kind && strcmp(rows[j].algo, rows[i].algo) == 0;
        if (!seen && used < n)
            used += (size_t)snprintf(out + used, n - used, "%s%s", used ? ", " : "", rows[i].algo);
    }
}

static bool kind_of(const char *name, size_t len, sf_coll_kind_t *out)
{
    for (int k = 0; k < SF_COLL_KIND_COUNT; k++) {
        const char *kn = sf_coll_kind_name((sf_coll_kind_t)k);
        if (strlen(kn) == len && strncmp(kn, name, len) == 0) {
            *out = (sf_coll_kind_t)k;
            return true;
        }
    }
    return false;
}

sf_status_t sf_coll_rules_parse_override(const sf_coll_rule_t *rows, size_t n_rows,
                                         const char *spec, const char *forced[SF_COLL_KIND_COUNT],
                                         char *buf, size_t n, sf_err_t *err)
{
    for (int k = 0; k < SF_COLL_KIND_COUNT; k++)
        forced[k] = NULL;
    if (spec == NULL || spec[0] == '\0')
        return SF_OK;
    if (strlen(spec) >= n)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "SF_COLL_ALGO: '%s' is too long", spec);
    memcpy(buf, spec, strlen(spec) + 1);
    for (char *item = buf, *next; item != NULL; item = next) {
        next = strchr(item, ',');
        if (next != NULL)
            *next++ = '\0';
        char *colon = strchr(item, ':');
        sf_coll_kind_t kind;
        if (colon == NULL || !kind_of(item, (size_t)(colon - item), &kind)) {
            char kinds[160];
            size_t used = 0;
            for (int k = 0; k < SF_COLL_KIND_COUNT; k++)
                used += (size_t)snprintf(kinds + used, sizeof kinds - used, "%s%s", k ? ", " : "",
                                         sf_coll_kind_name((sf_coll_kind_t)k));
            return sf_err_set(err, SF_ERR_INPUT, NULL,
                              "SF_COLL_ALGO: '%s' is not COLLECTIVE:ALGORITHM (collectives: %s)",
                              item, kinds);
        }
        *colon = '\0';
        const char *algo = colon + 1;
        bool is_known = false;
        for (size_t i = 0; i < n_rows && !is_known; i++)
            is_known = rows[i].kind == kind && strcmp(rows[i].algo, algo) == 0;
        if (!is_known) {
            char names[160];
            algo_names(rows, n_rows, kind, names, sizeof names);
            return sf_err_set(err, SF_ERR_INPUT, NULL,
                              "SF_COLL_ALGO: %s has no algorithm '%s' (valid: %s)", item, algo,
                              names);
        }
        forced[kind] = algo;
    }
    return SF_OK;
}

sf_status_t sf_coll_rules_start(const sf_coll_rule_t *rows, size_t n_rows,
                                const char *const forced[SF_COLL_KIND_COUNT], sf_comm_t *comm,
                                const sf_coll_args_t *args, void **req,
                                const sf_coll_rule_t **chosen, sf_err_t *err)
{
    const char *what = args->what != NULL ? args->what : "collective";
    const char *want = forced[args->kind];
    uint64_t bytes = sf_coll_rule_bytes(args, comm->world);
    sf_status_t st = SF_ERR_UNSUPPORTED;
    bool is_tried = false;
    if (chosen != NULL)
        *chosen = NULL;
    for (size_t i = 0; i < n_rows; i++) {
        const sf_coll_rule_t *r = &rows[i];
        if (r->kind != args->kind || r->mem != args->mem || bytes < r->min_bytes ||
            bytes >= r->max_bytes || strcmp(r->backend, comm->iface->name) != 0 ||
            (want != NULL && strcmp(r->algo, want) != 0))
            continue;
        is_tried = true;
        sf_err_clear(err);
        st = r->start(comm, args, req, err);
        if (st != SF_ERR_UNSUPPORTED) {
            if (st == SF_OK && chosen != NULL)
                *chosen = r;
            return st;
        }
    }
    if (is_tried)
        return st; /* the last row's own message says why */
    return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL,
                      "%s: no rule runs %s of %llu bytes on %s memory with backend '%s'%s%s%s", what,
                      sf_coll_kind_name(args->kind), (unsigned long long)bytes,
                      args->mem == SF_MEMKIND_CUDA ? "cuda" : "host", comm->iface->name,
                      want != NULL ? " (SF_COLL_ALGO forces '" : "", want != NULL ? want : "",
                      want != NULL ? "')" : "");
}

static void print_bytes(uint64_t v, char *out, size_t n)
{
    if (v == UINT64_MAX)
        snprintf(out, n, "inf");
    else if (v != 0 && v % (1ull << 30) == 0)
        snprintf(out, n, "%lluG", (unsigned long long)(v >> 30));
    else if (v != 0 && v % (1ull << 20) == 0)
        snprintf(out, n, "%lluM", (unsigned long long)(v >> 20));
    else if (v != 0 && v % (1ull << 10) == 0)
        snprintf(out, n, "%lluK", (unsigned long long)(v >> 10));
    else
        snprintf(out, n, "%llu", (unsigned long long)v);
}

void sf_coll_rules_print(const sf_coll_rule_t *rows, size_t n_rows, FILE *f)
{
    fprintf(f, "%-4s %-12s %-6s %-16s %-8s %s\n", "#row", "collective", "memory", "bytes",
            "backend", "algorithm");
    for (size_t i = 0; i < n_rows; i++) {
        const sf_coll_rule_t *r = &rows[i];
        char lo[24], hi[24], range[56];
        print_bytes(r->min_bytes, lo, sizeof lo);
        print_bytes(r->max_bytes, hi, sizeof hi);
        snprintf(range, sizeof range, "[%s, %s)", lo, hi);
        fprintf(f, "%-4zu %-12s %-6s %-16s %-8s %s\n", i, sf_coll_kind_name(r->kind),
                r->mem == SF_MEMKIND_CUDA ? "cuda" : "host", range, r->backend, r->algo);
    }
}
