/* Tracked allocator: the single place buffers are born and die, so the
 * counters here are the truth that plan, run, trace and memviz report. */
#include "mem.h"

#include "checked.h"
#include "tensor.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sf_mem {
    sf_device_t *dev; /* borrowed */
    uint64_t live_bytes;
    uint64_t peak_bytes;
    /* What the device's allocator held from the driver, at its highest
     * (PyTorch's max reserved); 0 for a device whose allocator caches
     * nothing. */
    uint64_t reserved_peak_bytes;
    /* The driver's view at its highest, sampled at each allocation (0 where
     * the device does not say). */
    uint64_t device_used_peak_bytes;
    int64_t live_count;
    int64_t total_allocs;
    const char *current_node; /* borrowed */
    const char *peak_node;    /* borrowed */
    sf_mem_observer_fn observer;
    void *observer_ctx; /* borrowed */
    struct timespec t0;
    uint64_t limit_bytes; /* 0: none */
    sf_buffer_t *live_head; /* borrowed: the live buffers, newest first (each owned by its caller) */
    /* The live set at the peak, taken lazily: reaching a new peak only sets
     * peak_stale, and the snapshot is copied from the live list just before
     * that set next changes (a release, or an allocation that is no new
     * peak) or when asked. A run of allocations that each set a new peak
     * therefore costs one scan, at its top, not one per allocation: at most
     * one O(live x SF_MEM_TOP_K) scan per local maximum of live bytes, and
     * the live list is what the allocator must keep anyway to know what is
     * live. */
    sf_mem_snapshot_t peak_snap;
    bool peak_stale;
    sf_mem_snapshot_t fail_snap;
    bool failed;
};

/* Does a go before b in a snapshot: larger first, then older. */
static bool top_before(const sf_buffer_t *a, const sf_buffer_t *b)
{
    if (a->counted_bytes != b->counted_bytes)
        return a->counted_bytes > b->counted_bytes;
    return a->id < b->id;
}

/* The live set now: totals and the SF_MEM_TOP_K largest, by an insertion
 * into a K-slot array per live buffer. */
static void take_snapshot(const sf_mem_t *mem, const char *node, sf_mem_snapshot_t *out)
{
    memset(out, 0, sizeof *out);
    out->node = node;
    out->live_bytes = mem->live_bytes;
    out->live_count = mem->live_count;
    const sf_buffer_t *top[SF_MEM_TOP_K];
    int n = 0;
    for (const sf_buffer_t *b = mem->live_head; b != NULL; b = b->live_next) {
        int at = n;
        while (at > 0 && top_before(b, top[at - 1]))
            at--;
        if (at >= SF_MEM_TOP_K)
            continue;
        if (n < SF_MEM_TOP_K)
            n++;
        for (int j = n - 1; j > at; j--)
            top[j] = top[j - 1];
        top[at] = b;
    }
    out->n_top = n;
    for (int i = 0; i < n; i++) {
        sf_mem_top_entry_t *e = &out->top[i];
        e->tensor = top[i]->tensor;
        e->dtype = top[i]->dtype;
        e->ndim = top[i]->ndim;
        memcpy(e->shape, top[i]->shape, sizeof e->shape);
        e->nbytes = top[i]->nbytes;
        e->counted_bytes = top[i]->counted_bytes;
    }
}

/* The live set is about to change without a new peak: keep the peak's. */
static void settle_peak(sf_mem_t *mem)
{
    if (!mem->peak_stale)
        return;
    take_snapshot(mem, mem->peak_node, &mem->peak_snap);
    mem->peak_stale = false;
}

/* An allocation failed for want of memory: remember what was live. */
static void record_failure(sf_mem_t *mem, const sf_alloc_req_t *req)
{
    take_snapshot(mem, mem->current_node, &mem->fail_snap);
    mem->fail_snap.want_bytes = req->nbytes;
    mem->fail_snap.want_tensor = req->tensor;
    mem->failed = true;
}

static double elapsed_us(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) * 1e6 + (double)(now.tv_nsec - t0->tv_nsec) / 1e3;
}

sf_mem_t *sf_mem_new(sf_device_t *dev)
{
    sf_mem_t *mem = calloc(1, sizeof *mem);
    SF_ASSERT(mem != NULL);
    mem->dev = dev;
    mem->current_node = "";
    mem->peak_node = "";
    mem->peak_snap.node = "";
    clock_gettime(CLOCK_MONOTONIC, &mem->t0);
    return mem;
}

void sf_mem_free(sf_mem_t *mem)
{
    if (mem == NULL)
        return;
    /* A live buffer here means an owner forgot to release: our bug. */
    SF_ASSERT(mem->live_count == 0 && mem->live_bytes == 0);
    free(mem);
}

void sf_mem_set_observer(sf_mem_t *mem, sf_mem_observer_fn fn, void *ctx)
{
    mem->observer = fn;
    mem->observer_ctx = ctx;
}

void sf_mem_set_current_node(sf_mem_t *mem, const char *node)
{
    mem->current_node = node != NULL ? node : "";
}

sf_status_t sf_mem_alloc(sf_mem_t *mem, const sf_alloc_req_t *req, sf_buffer_t **out,
                         sf_err_t *err)
{
    *out = NULL;
    SF_ASSERT(req->ndim >= 0 && req->ndim <= SF_MAX_DIMS);
    /* Sizes come from user shapes: graph validation caps each tensor, but a
     * scratch request or many live tensors on meta can still go past what
     * the counters hold, and that is bad input, not our bug. */
    uint64_t live;
    if (req->nbytes > SF_TENSOR_MAX_BYTES ||
        !sf_checked_add_u64(mem->live_bytes, sf_mem_counted_bytes(req->nbytes), &live) ||
        live > SF_MEM_MAX_LIVE_BYTES)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "cannot allocate %llu bytes for tensor '%s' (node '%s'): over the "
                          "limit of 2^62 bytes per tensor and 2^63 bytes live at once "
                          "(%llu bytes live)",
                          (unsigned long long)req->nbytes, req->tensor, req->node,
                          (unsigned long long)mem->live_bytes);
    if (mem->limit_bytes != 0 && live > mem->limit_bytes) {
        record_failure(mem, req);
        return sf_err_set(err, SF_ERR_NOMEM, NULL,
                          "cannot allocate %llu bytes for tensor '%s' (node '%s'): over the "
                          "memory limit of %llu bytes (%llu bytes live)",
                          (unsigned long long)req->nbytes, req->tensor, req->node,
                          (unsigned long long)mem->limit_bytes,
                          (unsigned long long)mem->live_bytes);
    }
    sf_buffer_t *buf = calloc(1, sizeof *buf);
    if (buf == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "host out of memory for a buffer record");
    sf_status_t st = sf_device_alloc(mem->dev, (size_t)req->nbytes, &buf->data, err);
    if (st != SF_OK) {
        free(buf);
        if (st == SF_ERR_NOMEM)
            record_failure(mem, req);
        sf_err_t inner = *err;
        err->code = SF_OK;
        return sf_err_set(err, st, NULL, "cannot allocate %llu bytes for tensor '%s' (node '%s'): %s",
                          (unsigned long long)req->nbytes, req->tensor, req->node, inner.msg);
    }
    buf->nbytes = req->nbytes;
    buf->counted_bytes = sf_mem_counted_bytes(req->nbytes);
    buf->id = mem->total_allocs++;
    buf->tensor = req->tensor;
    buf->alloc_node = req->node;
    buf->dev = mem->dev;
    buf->dtype = req->dtype;
    buf->ndim = req->ndim;
    for (int i = 0; i < req->ndim; i++)
        buf->shape[i] = req->shape[i];
    buf->alloc_time_us = elapsed_us(&mem->t0);

    bool new_peak = mem->live_bytes + buf->counted_bytes > mem->peak_bytes;
    if (!new_peak)
        settle_peak(mem);
    mem->live_bytes += buf->counted_bytes;
    mem->live_count++;
    buf->live_next = mem->live_head;
    if (mem->live_head != NULL)
        mem->live_head->live_prev = buf;
    mem->live_head = buf;
    if (new_peak) {
        mem->peak_bytes = mem->live_bytes;
        mem->peak_node = mem->current_node;
        mem->peak_stale = true;
    }
    uint64_t reserved = sf_device_reserved_bytes(mem->dev, 0);
    if (reserved > mem->reserved_peak_bytes)
        mem->reserved_peak_bytes = reserved;
    uint64_t used = sf_device_used_bytes(mem->dev);
    if (used > mem->device_used_peak_bytes)
        mem->device_used_peak_bytes = used;
    if (mem->observer != NULL) {
        sf_mem_event_t ev = {.kind = SF_MEM_EV_ALLOC, .buf = buf, .free_node = NULL,
                             .time_us = buf->alloc_time_us, .live_bytes = mem->live_bytes,
                             .reserved_bytes = reserved};
        mem->observer(mem->observer_ctx, &ev);
    }
    *out = buf;
    return SF_OK;
}

void sf_mem_release(sf_mem_t *mem, sf_buffer_t *buf, const char *free_node)
{
    if (buf == NULL)
        return;
    SF_ASSERT(mem->live_count > 0 && mem->live_bytes >= buf->counted_bytes);
    settle_peak(mem);
    mem->live_bytes -= buf->counted_bytes;
    mem->live_count--;
    if (buf->live_prev != NULL)
        buf->live_prev->live_next = buf->live_next;
    else
        mem->live_head = buf->live_next;
    if (buf->live_next != NULL)
        buf->live_next->live_prev = buf->live_prev;
    if (mem->observer != NULL) {
        sf_mem_event_t ev = {.kind = SF_MEM_EV_FREE, .buf = buf,
                             .free_node = free_node != NULL ? free_node : "",
                             .time_us = elapsed_us(&mem->t0), .live_bytes = mem->live_bytes,
                             .reserved_bytes = sf_device_reserved_bytes(mem->dev, 0)};
        mem->observer(mem->observer_ctx, &ev);
    }
    sf_device_free(mem->dev, buf->data);
    free(buf);
}

sf_device_t *sf_mem_device(const sf_mem_t *mem) { return mem->dev; }
uint64_t sf_mem_live_bytes(const sf_mem_t *mem) { return mem->live_bytes; }
uint64_t sf_mem_peak_bytes(const sf_mem_t *mem) { return mem->peak_bytes; }
uint64_t sf_mem_reserved_peak_bytes(const sf_mem_t *mem) { return mem->reserved_peak_bytes; }
uint64_t sf_mem_device_used_peak_bytes(const sf_mem_t *mem) { return mem->device_used_peak_bytes; }
int64_t sf_mem_live_count(const sf_mem_t *mem) { return mem->live_count; }
int64_t sf_mem_total_allocs(const sf_mem_t *mem) { return mem->total_allocs; }
const char *sf_mem_peak_node(const sf_mem_t *mem) { return mem->peak_node; }
void sf_mem_set_limit(sf_mem_t *mem, uint64_t limit_bytes) { mem->limit_bytes = limit_bytes; }
uint64_t sf_mem_limit(const sf_mem_t *mem) { return mem->limit_bytes; }

void sf_mem_reset_peak(sf_mem_t *mem)
{
    mem->peak_bytes = mem->live_bytes;
    mem->peak_node = mem->current_node;
    /* Lazy like a new peak: the live set is copied when it next changes. */
    mem->peak_stale = true;
}

void sf_mem_peak_snapshot(const sf_mem_t *mem, sf_mem_snapshot_t *out)
{
    /* Still stale: nothing changed since the peak, so the live set now is it. */
    if (mem->peak_stale)
        take_snapshot(mem, mem->peak_node, out);
    else
        *out = mem->peak_snap;
}

bool sf_mem_last_failure(const sf_mem_t *mem, sf_mem_snapshot_t *out)
{
    if (!mem->failed) {
        memset(out, 0, sizeof *out);
        return false;
    }
    *out = mem->fail_snap;
    return true;
}

double sf_mem_now_us(const sf_mem_t *mem) { return elapsed_us(&mem->t0); }
