/* NCCL backend: collectives on CUDA memory, one NCCL communicator and one
 * CUDA stream per sf_comm. The communicator is non-blocking (ncclConfig_t
 * blocking = 0), so no NCCL call can hang past comm->timeout_s: a call that
 * answers ncclInProgress is polled with ncclCommGetAsyncError against a
 * deadline. A request is a CUDA event recorded on the stream right after its
 * operation has been enqueued. cudaError_t and ncclResult_t stop here: they
 * become SF_ERR_DEVICE and SF_ERR_COMM. */
#include <cuda_runtime.h>
#include <nccl.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bootstrap.h"
#include "clock.h"
#include "coll.h"
#include "coll_rules.h"

typedef struct nccl_req {
    cudaEvent_t done;    /* owned */
    bool is_recorded;    /* false while NCCL is still enqueuing the operation */
    sf_coll_kind_t kind;
    char what[64];       /* copied from args->what, for messages */
} nccl_req_t;

typedef struct nccl_state {
    ncclComm_t nc;          /* owned; NULL once aborted or destroyed */
    cudaStream_t stream;    /* owned */
    int32_t *barrier_buf;   /* owned: one element of device memory */
    int device;
    /* NCCL answered ncclInProgress for the last operation: until the
     * communicator leaves that state, no other NCCL call may be issued on
     * it and the operation's event cannot be recorded yet. */
    bool is_enqueuing;
    nccl_req_t *enqueuing;  /* borrowed: that operation's request (NULL if freed) */
    bool is_broken;         /* aborted after an error: every later call fails */
} nccl_state_t;

/* ---- helpers -------------------------------------------------------------- */

static void nap(void)
{
    /* Polling NCCL state: short enough not to add latency that matters
     * next to an init or a lazy connection setup. */
    struct timespec t = {0, 20000};
    nanosleep(&t, NULL);
}

static sf_status_t cuda_fail(sf_err_t *err, cudaError_t e, const char *call, int rank)
{
    return sf_err_set(err, SF_ERR_DEVICE, NULL, "nccl backend: rank %d: %s failed: %s (%s)", rank,
                      call, cudaGetErrorString(e), cudaGetErrorName(e));
}

static const char *req_label(sf_coll_kind_t kind, const char *what, char *buf, size_t n)
{
    if (what != NULL && what[0] != '\0')
        snprintf(buf, n, "%s '%s'", sf_coll_kind_name(kind), what);
    else
        snprintf(buf, n, "%s", sf_coll_kind_name(kind));
    return buf;
}

/* An NCCL error is fatal to the communicator: abort it so nothing hangs on
 * it later (finalize then has nothing to flush). */
static sf_status_t comm_fail(sf_comm_t *comm, ncclResult_t r, const char *label, sf_err_t *err)
{
    nccl_state_t *st = comm->impl;
    const char *detail = st->nc != NULL ? ncclGetLastError(st->nc) : NULL;
    sf_status_t code = sf_err_set(err, SF_ERR_COMM, NULL, "nccl backend: rank %d: %s failed: %s%s%s",
                                  comm->rank, label, ncclGetErrorString(r),
                                  detail != NULL && detail[0] != '\0' ? ": " : "",
                                  detail != NULL ? detail : "");
    if (st->nc != NULL) {
        (void)ncclCommAbort(st->nc);
        st->nc = NULL;
    }
    st->is_broken = true;
    st->is_enqueuing = false;
    st->enqueuing = NULL;
    return code;
}

/* Poll the communicator until it leaves ncclInProgress, at most until
 * deadline. SF_ERR_TIMEOUT leaves the communicator to the caller. */
static sf_status_t wait_ready(sf_comm_t *comm, double deadline, const char *label, sf_err_t *err)
{
    nccl_state_t *st = comm->impl;
    for (;;) {
        ncclResult_t state = ncclSuccess;
        ncclResult_t r = ncclCommGetAsyncError(st->nc, &state);
        if (r != ncclSuccess)
            return comm_fail(comm, r, label, err);
        if (state == ncclSuccess)
            return SF_OK;
        if (state != ncclInProgress)
            return comm_fail(comm, state, label, err);
        if (sf_clock_now_s() > deadline)
            return sf_err_set(err, SF_ERR_TIMEOUT, NULL,
                              "nccl backend: rank %d: %s did not finish within %.1f s "
                              "(is every rank running?)",
                              comm->rank, label, comm->timeout_s);
        nap();
    }
}

static sf_status_t record_event(sf_comm_t *comm, nccl_req_t *req, sf_err_t *err)
{
    nccl_state_t *st = comm->impl;
    cudaError_t e = cudaEventRecord(req->done, st->stream);
    if (e != cudaSuccess)
        return cuda_fail(err, e, "cudaEventRecord", comm->rank);
    req->is_recorded = true;
    return SF_OK;
}

/* The previous operation was still being enqueued: NCCL forbids another
 * call on the communicator until it is done, so finish it first. */
static sf_status_t drain_enqueuing(sf_comm_t *comm, sf_err_t *err)
{
    nccl_state_t *st = comm->impl;
    if (!st->is_enqueuing)
        return SF_OK;
    char label[96];
    req_label(st->enqueuing != NULL ? st->enqueuing->kind : SF_COLL_BARRIER,
              st->enqueuing != NULL ? st->enqueuing->what : NULL, label, sizeof label);
    sf_status_t s = wait_ready(comm, sf_clock_now_s() + comm->timeout_s, label, err);
    if (s != SF_OK)
        return s;
    st->is_enqueuing = false;
    nccl_req_t *req = st->enqueuing;
    st->enqueuing = NULL;
    return req != NULL ? record_event(comm, req, err) : SF_OK;
}

static bool dtype_to_nccl(sf_dtype_t dt, ncclDataType_t *out)
{
    switch (dt) {
    case SF_DTYPE_F32: *out = ncclFloat32; return true;
    case SF_DTYPE_BF16: *out = ncclBfloat16; return true;
    case SF_DTYPE_F16: *out = ncclFloat16; return true;
    case SF_DTYPE_I32: *out = ncclInt32; return true;
    case SF_DTYPE_I64: *out = ncclInt64; return true;
    case SF_DTYPE_U8: *out = ncclUint8; return true;
    default: return false;
    }
}

static sf_status_t local_rank_from_env(int rank, int *out, sf_err_t *err)
{
    const char *s = getenv("LOCAL_RANK");
    *out = rank;
    if (s == NULL || s[0] == '\0')
        return SF_OK;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 1 << 20)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "nccl backend: LOCAL_RANK='%s' is not a non-negative integer", s);
    *out = (int)v;
    return SF_OK;
}

/* ---- the hooks ------------------------------------------------------------- */

static bool nccl_supports(sf_coll_kind_t kind, sf_memkind_t mem)
{
    /* A barrier has no buffers of the caller's: it reduces our own one-element
     * device buffer, whatever memory kind the caller names. */
    return mem == SF_MEMKIND_CUDA || kind == SF_COLL_BARRIER;
}

static void state_release(nccl_state_t *st)
{
    if (st == NULL)
        return;
    if (st->nc != NULL)
        (void)ncclCommAbort(st->nc);
    if (st->barrier_buf != NULL)
        (void)cudaFree(st->barrier_buf);
    if (st->stream != NULL)
        (void)cudaStreamDestroy(st->stream);
    free(st);
}

/* Sent by rank 0 in one broadcast: peers learn that rank 0 failed instead of
 * waiting for a communicator that will never form. */
typedef struct nccl_hello {
    int32_t is_ok;
    ncclUniqueId id;
} nccl_hello_t;

static sf_status_t nccl_init(sf_comm_t *comm, sf_bootstrap_t *bs, sf_err_t *err)
{
    nccl_state_t *st = calloc(1, sizeof *st);
    sf_status_t s;
    cudaError_t e;
    int local_rank, n_dev = 0;

    comm->impl = NULL;
    if (st == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "nccl backend: out of host memory");
    comm->impl = st;
    if ((s = local_rank_from_env(comm->rank, &local_rank, err)) != SF_OK)
        goto fail;
    e = cudaGetDeviceCount(&n_dev);
    if (e != cudaSuccess || n_dev == 0) {
        s = sf_err_set(err, SF_ERR_DEVICE, NULL, "nccl backend: rank %d: no CUDA device (%s)",
                       comm->rank, e != cudaSuccess ? cudaGetErrorString(e) : "count is 0");
        goto fail;
    }
    st->device = local_rank % n_dev;
    if ((e = cudaSetDevice(st->device)) != cudaSuccess) {
        s = cuda_fail(err, e, "cudaSetDevice", comm->rank);
        goto fail;
    }

    nccl_hello_t hello;
    memset(&hello, 0, sizeof hello);
    ncclResult_t r = ncclSuccess;
    if (comm->rank == 0) {
        r = ncclGetUniqueId(&hello.id);
        hello.is_ok = r == ncclSuccess;
    }
    /* No bootstrap means a rank on its own (coll.h): it already has the id. */
    if (bs != NULL && (s = sf_bootstrap_bcast(bs, &hello, sizeof hello, 0, err)) != SF_OK)
        goto fail;
    if (!hello.is_ok) {
        s = sf_err_set(err, SF_ERR_COMM, NULL, "nccl backend: rank %d: ncclGetUniqueId failed%s%s",
                       comm->rank, comm->rank == 0 ? ": " : " on rank 0",
                       comm->rank == 0 ? ncclGetErrorString(r) : "");
        goto fail;
    }

    ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
    cfg.blocking = 0;
    cfg.commName = "shardflow";
    r = ncclCommInitRankConfig(&st->nc, comm->world, hello.id, comm->rank, &cfg);
    if (r != ncclSuccess && r != ncclInProgress) {
        s = comm_fail(comm, r, "ncclCommInitRankConfig", err);
        goto fail;
    }
    s = wait_ready(comm, sf_clock_now_s() + comm->timeout_s, "ncclCommInitRankConfig", err);
    if (s != SF_OK)
        goto fail;

    if ((e = cudaStreamCreateWithFlags(&st->stream, cudaStreamNonBlocking)) != cudaSuccess) {
        s = cuda_fail(err, e, "cudaStreamCreate", comm->rank);
        goto fail;
    }
    if ((e = cudaMalloc((void **)&st->barrier_buf, sizeof *st->barrier_buf)) != cudaSuccess) {
        s = cuda_fail(err, e, "cudaMalloc (barrier buffer)", comm->rank);
        goto fail;
    }
    if ((e = cudaMemset(st->barrier_buf, 0, sizeof *st->barrier_buf)) != cudaSuccess) {
        s = cuda_fail(err, e, "cudaMemset (barrier buffer)", comm->rank);
        goto fail;
    }
    return SF_OK;
fail:
    state_release(st);
    comm->impl = NULL;
    return s;
}

static sf_status_t check_args(const sf_comm_t *comm, const sf_coll_args_t *a, sf_err_t *err)
{
    if (a->kind != SF_COLL_BARRIER && a->mem != SF_MEMKIND_CUDA)
        return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL,
                          "nccl backend: %s on host memory: NCCL reads and writes CUDA memory only",
                          sf_coll_kind_name(a->kind));
    if (a->kind == SF_COLL_BROADCAST && (a->root < 0 || a->root >= comm->world))
        return sf_err_set(err, SF_ERR_INPUT, NULL, "nccl backend: broadcast root %d outside 0..%d",
                          a->root, comm->world - 1);
    if (a->kind == SF_COLL_ALLREDUCE && a->op != SF_REDUCE_SUM && a->op != SF_REDUCE_MAX)
        return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL, "nccl backend: reduce op %d",
                          (int)a->op);
    if (a->kind == SF_COLL_ALLGATHERV && (a->recv_counts == NULL || a->recv_displs == NULL))
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "nccl backend: all_gatherv needs recv counts and displacements");
    if (a->kind == SF_COLL_ALLTOALLV &&
        (a->send_counts == NULL || a->send_displs == NULL || a->recv_counts == NULL ||
         a->recv_displs == NULL))
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "nccl backend: all_to_all needs send/recv counts and displacements");
    return SF_OK;
}

/* Enqueue the operation on the stream. Returns what NCCL said: success,
 * ncclInProgress (still enqueuing) or an error. */
static ncclResult_t issue(sf_comm_t *comm, const sf_coll_args_t *a, ncclDataType_t dt)
{
    nccl_state_t *st = comm->impl;
    size_t es = sf_dtype_size(a->dtype);
    switch (a->kind) {
    case SF_COLL_ALLGATHER:
        return ncclAllGather(a->send, a->recv, (size_t)a->count, dt, st->nc, st->stream);
    case SF_COLL_ALLREDUCE:
        return ncclAllReduce(a->send, a->recv, (size_t)a->count, dt,
                             a->op == SF_REDUCE_MAX ? ncclMax : ncclSum, st->nc, st->stream);
    case SF_COLL_BROADCAST:
        /* The root's recv is the source: an in-place broadcast. */
        return ncclBroadcast(a->recv, a->recv, (size_t)a->count, dt, a->root, st->nc,
                             st->stream);
    case SF_COLL_BARRIER:
        return ncclAllReduce(st->barrier_buf, st->barrier_buf, 1, ncclInt32, ncclSum, st->nc,
                             st->stream);
    case SF_COLL_ALLGATHERV: {
        /* Even pieces in rank order are one ncclAllGather; otherwise every
         * rank sends its piece to each peer in one group. */
        bool is_even = true;
        for (int p = 0; p < comm->world && is_even; p++)
            is_even = a->recv_counts[p] == a->recv_counts[0] &&
                      a->recv_displs[p] == (uint64_t)p * a->recv_counts[0];
        if (is_even)
            return ncclAllGather(a->send, a->recv, (size_t)a->recv_counts[0], dt, st->nc,
                                 st->stream);
        const uint64_t mine = a->recv_counts[comm->rank];
        char *recv = a->recv;
        ncclResult_t r = ncclGroupStart();
        if (r != ncclSuccess)
            return r;
        for (int p = 0; p < comm->world && r == ncclSuccess; p++) {
            if (p == comm->rank)
                continue;
            if (mine != 0)
                r = ncclSend(a->send, (size_t)mine, dt, p, st->nc, st->stream);
            if (r == ncclSuccess && a->recv_counts[p] != 0)
                r = ncclRecv(recv + a->recv_displs[p] * es, (size_t)a->recv_counts[p], dt, p,
                             st->nc, st->stream);
        }
        ncclResult_t r_end = ncclGroupEnd();
        if (r == ncclSuccess && r_end == ncclSuccess && mine != 0 &&
            recv + a->recv_displs[comm->rank] * es != (const char *)a->send &&
            cudaMemcpyAsync(recv + a->recv_displs[comm->rank] * es, a->send, mine * es,
                            cudaMemcpyDeviceToDevice, st->stream) != cudaSuccess)
            return ncclUnhandledCudaError;
        return r != ncclSuccess ? r : r_end;
    }
    case SF_COLL_ALLTOALLV: {
        ncclResult_t r = ncclGroupStart();
        if (r != ncclSuccess)
            return r;
        const char *send = a->send;
        char *recv = a->recv;
        for (int p = 0; p < comm->world && r == ncclSuccess; p++) {
            if (a->send_counts[p] != 0)
                r = ncclSend(send + a->send_displs[p] * es, (size_t)a->send_counts[p], dt, p,
                             st->nc, st->stream);
            if (r == ncclSuccess && a->recv_counts[p] != 0)
                r = ncclRecv(recv + a->recv_displs[p] * es, (size_t)a->recv_counts[p], dt, p,
                             st->nc, st->stream);
        }
        /* A group must be closed even after a failed call inside it. */
        ncclResult_t r_end = ncclGroupEnd();
        return r != ncclSuccess ? r : r_end;
    }
    default:
        return ncclInvalidArgument;
    }
}

static void req_release(nccl_req_t *req)
{
    if (req == NULL)
        return;
    if (req->done != NULL)
        (void)cudaEventDestroy(req->done);
    free(req);
}

sf_status_t sf_nccl_start(sf_comm_t *comm, const sf_coll_args_t *args, void **out,
                          sf_err_t *err)
{
    nccl_state_t *st = comm->impl;
    nccl_req_t *req = NULL;
    ncclDataType_t dt = ncclFloat32;
    char label[96];
    sf_status_t s;
    cudaError_t e;

    *out = NULL;
    req_label(args->kind, args->what, label, sizeof label);
    if (st->is_broken)
        return sf_err_set(err, SF_ERR_COMM, NULL,
                          "nccl backend: rank %d: %s: the communicator was aborted after an "
                          "earlier error",
                          comm->rank, label);
    if ((s = check_args(comm, args, err)) != SF_OK)
        return s;
    if (args->kind != SF_COLL_BARRIER && !dtype_to_nccl(args->dtype, &dt))
        return sf_err_set(err, SF_ERR_UNSUPPORTED, NULL, "nccl backend: %s: dtype %s", label,
                          sf_dtype_name(args->dtype));
    /* The executor may have switched devices between calls. */
    if ((e = cudaSetDevice(st->device)) != cudaSuccess)
        return cuda_fail(err, e, "cudaSetDevice", comm->rank);
    if ((s = drain_enqueuing(comm, err)) != SF_OK)
        return s;

    req = calloc(1, sizeof *req);
    if (req == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "nccl backend: out of host memory");
    req->kind = args->kind;
    snprintf(req->what, sizeof req->what, "%s", args->what != NULL ? args->what : "");
    if ((e = cudaEventCreateWithFlags(&req->done, cudaEventDisableTiming)) != cudaSuccess) {
        s = cuda_fail(err, e, "cudaEventCreate", comm->rank);
        goto fail;
    }

    ncclResult_t r = issue(comm, args, dt);
    if (r == ncclInProgress) {
        st->is_enqueuing = true;
        st->enqueuing = req;
    } else if (r != ncclSuccess) {
        s = comm_fail(comm, r, label, err);
        goto fail;
    } else if ((s = record_event(comm, req, err)) != SF_OK) {
        goto fail;
    }
    *out = req;
    return SF_OK;
fail:
    req_release(req);
    return s;
}

/* Never blocks: moves an operation that NCCL finished enqueuing to the
 * recorded state. */
static sf_status_t nccl_progress(sf_comm_t *comm, sf_err_t *err)
{
    nccl_state_t *st = comm->impl;
    if (st->is_broken || !st->is_enqueuing)
        return SF_OK;
    char label[96];
    req_label(st->enqueuing != NULL ? st->enqueuing->kind : SF_COLL_BARRIER,
              st->enqueuing != NULL ? st->enqueuing->what : NULL, label, sizeof label);
    ncclResult_t state = ncclSuccess;
    ncclResult_t r = ncclCommGetAsyncError(st->nc, &state);
    if (r != ncclSuccess)
        return comm_fail(comm, r, label, err);
    if (state == ncclInProgress)
        return SF_OK;
    if (state != ncclSuccess)
        return comm_fail(comm, state, label, err);
    st->is_enqueuing = false;
    nccl_req_t *req = st->enqueuing;
    st->enqueuing = NULL;
    return req != NULL ? record_event(comm, req, err) : SF_OK;
}

static sf_status_t nccl_test(sf_comm_t *comm, void *opaque, sf_err_t *err)
{
    nccl_state_t *st = comm->impl;
    nccl_req_t *req = opaque;
    char label[96];
    sf_status_t s;

    req_label(req->kind, req->what, label, sizeof label);
    if (st->is_broken)
        return sf_err_set(err, SF_ERR_COMM, NULL,
                          "nccl backend: rank %d: %s: the communicator was aborted", comm->rank,
                          label);
    if ((s = nccl_progress(comm, err)) != SF_OK)
        return s;
    if (!req->is_recorded)
        return SF_INPROGRESS;
    /* A peer that died or a network error shows up here, not in the event:
     * the kernel would just wait. */
    ncclResult_t state = ncclSuccess;
    ncclResult_t r = ncclCommGetAsyncError(st->nc, &state);
    if (r != ncclSuccess)
        return comm_fail(comm, r, label, err);
    if (state != ncclSuccess && state != ncclInProgress)
        return comm_fail(comm, state, label, err);
    cudaError_t e = cudaEventQuery(req->done);
    if (e == cudaSuccess)
        return SF_OK;
    if (e == cudaErrorNotReady)
        return SF_INPROGRESS;
    return sf_err_set(err, SF_ERR_DEVICE, NULL, "nccl backend: rank %d: %s: %s (%s)", comm->rank,
                      label, cudaGetErrorString(e), cudaGetErrorName(e));
}

static void nccl_req_free(sf_comm_t *comm, void *opaque)
{
    nccl_state_t *st = comm->impl;
    nccl_req_t *req = opaque;
    if (req == NULL)
        return;
    /* NCCL cannot cancel an operation; the next call still waits for the
     * communicator to leave ncclInProgress (is_enqueuing stays set). */
    if (st != NULL && st->enqueuing == req)
        st->enqueuing = NULL;
    req_release(req);
}

static void nccl_finalize(sf_comm_t *comm)
{
    nccl_state_t *st = comm->impl;
    if (st == NULL)
        return;
    (void)cudaSetDevice(st->device);
    if (st->nc != NULL && !st->is_broken) {
        /* Flush what is in flight within the timeout; anything else (an
         * error, a peer that never completes) is an abort, which cannot hang. */
        sf_err_t ignored;
        sf_err_clear(&ignored);
        bool is_clean = false;
        if (drain_enqueuing(comm, &ignored) == SF_OK && st->nc != NULL) {
            ncclResult_t r = ncclCommFinalize(st->nc);
            if ((r == ncclSuccess || r == ncclInProgress) &&
                wait_ready(comm, sf_clock_now_s() + comm->timeout_s, "ncclCommFinalize",
                           &ignored) == SF_OK)
                is_clean = true;
        }
        if (st->nc != NULL) {
            if (is_clean)
                (void)ncclCommDestroy(st->nc);
            else
                (void)ncclCommAbort(st->nc);
            st->nc = NULL;
        }
    }
    state_release(st);
    comm->impl = NULL;
}

const sf_comm_iface_t sf_comm_nccl = {
    .name = "nccl",
    .supports = nccl_supports,
    .init = nccl_init,
    .start = NULL, /* every collective has a rule row: sf_nccl_start */
    .progress = nccl_progress,
    .test = nccl_test,
    .req_free = nccl_req_free,
    .finalize = nccl_finalize,
};
