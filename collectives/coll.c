/* The collectives wrappers: the registry of backends, argument checks, and
 * sf_coll_wait, the one place that blocks (with a deadline). */
#include "coll.h"
#include "bootstrap.h"
#include "clock.h"
#include "coll_rules.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

#define SF_COMM_MAX_BACKENDS 8

static const sf_comm_iface_t *backends[SF_COMM_MAX_BACKENDS];
static int n_backends;

const char *sf_coll_kind_name(sf_coll_kind_t k)
{
    static const char *const names[SF_COLL_KIND_COUNT] = {
        [SF_COLL_ALLGATHER] = "all_gather", [SF_COLL_ALLTOALLV] = "all_to_all",
        [SF_COLL_ALLREDUCE] = "all_reduce", [SF_COLL_BROADCAST] = "broadcast",
        [SF_COLL_BARRIER] = "barrier", [SF_COLL_ALLGATHERV] = "all_gatherv",
    };
    return (unsigned)k < SF_COLL_KIND_COUNT ? names[k] : "?";
}

void sf_comm_register(const sf_comm_iface_t *iface)
{
    SF_ASSERT(iface != NULL && iface->name != NULL && iface->supports != NULL &&
              iface->init != NULL && iface->test != NULL &&
              iface->req_free != NULL && iface->finalize != NULL);
    for (int i = 0; i < n_backends; i++)
        if (backends[i] == iface)
            return;
    SF_ASSERT(sf_comm_find(iface->name) == NULL);
    SF_ASSERT(n_backends < SF_COMM_MAX_BACKENDS);
    backends[n_backends++] = iface;
}

const sf_comm_iface_t *sf_comm_find(const char *name)
{
    for (int i = 0; i < n_backends; i++)
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    return NULL;
}

void sf_comm_list(char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < n_backends && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s%s", i ? ", " : "", backends[i]->name);
}

/* The comm of iface for rank of world, with the SF_COLL_ALGO override read
 * and the backend's init run over bs (NULL: no rendezvous). */
static sf_status_t comm_create(const sf_comm_iface_t *iface, sf_bootstrap_t *bs, int rank,
                               int world, double timeout_s, sf_comm_t **out, sf_err_t *err)
{
    sf_comm_t *comm = calloc(1, sizeof *comm);
    SF_ASSERT(comm != NULL);
    comm->iface = iface;
    comm->rank = rank;
    comm->world = world;
    comm->timeout_s = timeout_s;
    size_t n_rows;
    const sf_coll_rule_t *rows = sf_coll_rules(&n_rows);
    sf_status_t st = sf_coll_rules_parse_override(rows, n_rows, getenv("SF_COLL_ALGO"),
                                                  comm->forced, comm->forced_buf,
                                                  sizeof comm->forced_buf, err);
    if (st == SF_OK)
        st = iface->init(comm, bs, err);
    if (st != SF_OK) {
        free(comm);
        return st;
    }
    *out = comm;
    return SF_OK;
}

sf_status_t sf_comm_new(const char *name, sf_bootstrap_t *bs, double timeout_s, sf_comm_t **out,
                        sf_err_t *err)
{
    *out = NULL;
    const sf_comm_iface_t *iface = sf_comm_find(name);
    if (iface == NULL) {
        char known[128];
        sf_comm_list(known, sizeof known);
        return sf_err_set(err, SF_ERR_INPUT, NULL, "unknown collectives backend '%s' (built: %s)",
                          name, known);
    }
    /* No bootstrap: a single rank on its own (the self backend). */
    return comm_create(iface, bs, bs != NULL ? sf_bootstrap_rank(bs) : 0,
                       bs != NULL ? sf_bootstrap_world(bs) : 1, timeout_s, out, err);
}

sf_status_t sf_comm_new_emulated(int rank, int world, double timeout_s, sf_comm_t **out,
                                 sf_err_t *err)
{
    extern const sf_comm_iface_t sf_comm_emulate;
    *out = NULL;
    return comm_create(&sf_comm_emulate, NULL, rank, world, timeout_s, out, err);
}

uint64_t sf_comm_sent_bytes(const sf_comm_t *comm)
{
    return comm->iface->sent_bytes != NULL ? comm->iface->sent_bytes(comm)
                                           : SF_COMM_BYTES_UNKNOWN;
}

uint64_t sf_comm_read_in_place_bytes(const sf_comm_t *comm)
{
    return comm->iface->read_in_place_bytes != NULL ? comm->iface->read_in_place_bytes(comm) : 0;
}

int sf_comm_rank(const sf_comm_t *comm)
{
    return comm->rank;
}

int sf_comm_size(const sf_comm_t *comm)
{
    return comm->world;
}

sf_comm_t *sf_comm_solo(void)
{
    extern const sf_comm_iface_t sf_comm_self;
    /* The self backend keeps no state (init only checks the world), and a
     * forced algorithm is meaningless with one backend row per kind. */
    static sf_comm_t solo = {.iface = &sf_comm_self, .rank = 0, .world = 1, .timeout_s = 60.0};
    return &solo;
}

void sf_comm_free(sf_comm_t *comm)
{
    if (comm == NULL)
        return;
    comm->iface->finalize(comm);
    free(comm);
}

static sf_status_t check_args(const sf_comm_t *comm, const sf_coll_args_t *a, sf_err_t *err)
{
    const char *what = a->what != NULL ? a->what : "collective";
    if ((unsigned)a->kind >= SF_COLL_KIND_COUNT)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "%s: unknown collective kind %d", what, a->kind);
    if (!comm->iface->supports(a->kind, a->mem))
        return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL,
                          "%s: backend '%s' cannot run %s on %s memory", what, comm->iface->name,
                          sf_coll_kind_name(a->kind), a->mem == SF_MEMKIND_CUDA ? "cuda" : "host");
    if (a->kind == SF_COLL_ALLTOALLV &&
        (a->send_counts == NULL || a->send_displs == NULL || a->recv_counts == NULL ||
         a->recv_displs == NULL))
        return sf_err_set(err, SF_ERR_INPUT, NULL, "%s: all_to_all needs counts and displacements",
                          what);
    if (a->kind == SF_COLL_ALLGATHERV && (a->recv_counts == NULL || a->recv_displs == NULL))
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "%s: all_gatherv needs recv counts and displacements", what);
    if (a->kind == SF_COLL_BROADCAST && (a->root < 0 || a->root >= comm->world))
        return sf_err_set(err, SF_ERR_INPUT, NULL, "%s: broadcast root %d out of range (world %d)",
                          what, a->root, comm->world);
    if (a->kind == SF_COLL_ALLREDUCE && a->dtype == SF_DTYPE_U8)
        return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL, "%s: all_reduce of u8 is not supported",
                          what);
    return SF_OK;
}

sf_status_t sf_comm_start(sf_comm_t *comm, const sf_coll_args_t *args, void **req, sf_err_t *err)
{
    *req = NULL;
    sf_status_t st = check_args(comm, args, err);
    if (st != SF_OK)
        return st;
    size_t n_rows;
    const sf_coll_rule_t *rows = sf_coll_rules(&n_rows);
    st = sf_coll_rules_start(rows, n_rows, comm->forced, comm, args, req, NULL, err);
    /* No row of this backend at all: its own start, if it has one. */
    if (st == SF_ERR_UNSUPPORTED && *req == NULL && comm->iface->start != NULL &&
        comm->forced[args->kind] == NULL) {
        bool has_row = false;
        for (size_t i = 0; i < n_rows && !has_row; i++)
            has_row = rows[i].kind == args->kind && strcmp(rows[i].backend, comm->iface->name) == 0;
        if (!has_row) {
            sf_err_clear(err);
            st = comm->iface->start(comm, args, req, err);
        }
    }
    return st;
}

void sf_comm_dump_rules(FILE *f)
{
    size_t n_rows;
    const sf_coll_rule_t *rows = sf_coll_rules(&n_rows);
    sf_coll_rules_print(rows, n_rows, f);
}

sf_status_t sf_coll_algo_check_env(sf_err_t *err)
{
    size_t n_rows;
    const sf_coll_rule_t *rows = sf_coll_rules(&n_rows);
    const char *forced[SF_COLL_KIND_COUNT];
    char buf[256];
    return sf_coll_rules_parse_override(rows, n_rows, getenv("SF_COLL_ALGO"), forced, buf,
                                        sizeof buf, err);
}

sf_status_t sf_comm_test(sf_comm_t *comm, void *req, sf_err_t *err)
{
    if (comm->iface->progress != NULL) {
        sf_status_t st = comm->iface->progress(comm, err);
        if (st != SF_OK)
            return st;
    }
    return comm->iface->test(comm, req, err);
}

void sf_comm_req_free(sf_comm_t *comm, void *req)
{
    if (req != NULL)
        comm->iface->req_free(comm, req);
}

#define SF_WAIT_SPINS_BEFORE_YIELD 64u

sf_status_t sf_coll_wait(sf_comm_t *comm, void *req, const sf_coll_args_t *args, sf_err_t *err)
{
    double deadline = sf_clock_now_s() + comm->timeout_s;
    unsigned spins = 0;
    for (;;) {
        sf_status_t st = sf_comm_test(comm, req, err);
        if (st != SF_INPROGRESS)
            return st;
        /* After a short spin, give the core away between polls: when ranks
         * share cores with each other or other work, the peer this rank
         * waits for (over shared memory it does the copy) needs the CPU.
         * Measured on the shared 2-core box: 5-10x faster all_to_all at
         * 1-4 MiB than spinning; on an idle core the yield returns at once. */
        if (spins >= SF_WAIT_SPINS_BEFORE_YIELD)
            sched_yield();
        /* Check the clock every few hundred polls: progress is cheap and
         * clock_gettime is not free on every machine. */
        if ((++spins & 255u) == 0 && sf_clock_now_s() > deadline)
            return sf_err_set(err, SF_ERR_TIMEOUT, NULL,
                              "%s %s on rank %d of %d did not finish within %.0f s (a peer may "
                              "have died or stopped answering)",
                              sf_coll_kind_name(args->kind), args->what ? args->what : "",
                              comm->rank, comm->world, comm->timeout_s);
    }
}

sf_status_t sf_coll_run(sf_comm_t *comm, const sf_coll_args_t *args, sf_err_t *err)
{
    void *req = NULL;
    sf_status_t st = sf_comm_start(comm, args, &req, err);
    if (st == SF_OK)
        st = sf_coll_wait(comm, req, args, err);
    sf_comm_req_free(comm, req);
    return st;
}
