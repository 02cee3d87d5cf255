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
    int64_t live_count;
    int64_t total_allocs;
    const char *current_node; /* borrowed */
    const char *peak_node;    /* borrowed */
    sf_mem_observer_fn observer;
    void *observer_ctx; /* borrowed */
    struct timespec t0;
};

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
    sf_buffer_t *buf = calloc(1, sizeof *buf);
    if (buf == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "host out of memory for a buffer record");
    sf_status_t st = sf_device_alloc(mem->dev, (size_t)req->nbytes, &buf->data, err);
    if (st != SF_OK) {
        free(buf);
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

    mem->live_bytes += buf->counted_bytes;
    mem->live_count++;
    if (mem->live_bytes > mem->peak_bytes) {
        mem->peak_bytes = mem->live_bytes;
        mem->peak_node = mem->current_node;
    }
    if (mem->observer != NULL) {
        sf_mem_event_t ev = {.kind = SF_MEM_EV_ALLOC, .buf = buf, .free_node = NULL,
                             .time_us = buf->alloc_time_us, .live_bytes = mem->live_bytes};
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
    mem->live_bytes -= buf->counted_bytes;
    mem->live_count--;
    if (mem->observer != NULL) {
        sf_mem_event_t ev = {.kind = SF_MEM_EV_FREE, .buf = buf,
                             .free_node = free_node != NULL ? free_node : "",
                             .time_us = elapsed_us(&mem->t0), .live_bytes = mem->live_bytes};
        mem->observer(mem->observer_ctx, &ev);
    }
    sf_device_free(mem->dev, buf->data);
    free(buf);
}

sf_device_t *sf_mem_device(const sf_mem_t *mem) { return mem->dev; }
uint64_t sf_mem_live_bytes(const sf_mem_t *mem) { return mem->live_bytes; }
uint64_t sf_mem_peak_bytes(const sf_mem_t *mem) { return mem->peak_bytes; }
int64_t sf_mem_live_count(const sf_mem_t *mem) { return mem->live_count; }
int64_t sf_mem_total_allocs(const sf_mem_t *mem) { return mem->total_allocs; }
const char *sf_mem_peak_node(const sf_mem_t *mem) { return mem->peak_node; }
double sf_mem_now_us(const sf_mem_t *mem) { return elapsed_us(&mem->t0); }
