/* Tracked memory: one allocator per device run. Every buffer the runtime
 * creates goes through sf_mem_alloc, which counts it at its requested size
 * rounded up to SF_MEM_ALIGN bytes (the rule that makes a plan on `meta`
 * and a real run agree to the byte) and reports each event to an observer
 * (the trace writer). */
#ifndef SF_MEM_H
#define SF_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "device.h"
#include "dtype.h"
#include "status.h"

#define SF_MEM_ALIGN 256u

/* The most bytes one allocator counts live at once (plans on meta may ask
 * for any amount; past this the counters could wrap). Requests over it, or
 * over SF_TENSOR_MAX_BYTES each, are refused with SF_ERR_INPUT. */
#define SF_MEM_MAX_LIVE_BYTES (UINT64_C(1) << 63)

/* Bytes a request of nbytes is counted as: rounded up to SF_MEM_ALIGN,
 * so 0 counts 0, 1 counts 256 and 257 counts 512. */
static inline uint64_t sf_mem_counted_bytes(uint64_t nbytes)
{
    return (nbytes + SF_MEM_ALIGN - 1) / SF_MEM_ALIGN * SF_MEM_ALIGN;
}

/* What a buffer is for: the tensor it was made for, so the trace can name
 * it. Strings are borrowed and must outlive the buffer. */
typedef struct sf_alloc_req {
    uint64_t nbytes;
    const char *tensor;
    const char *node;
    sf_dtype_t dtype;
    int ndim;
    const int64_t *shape; /* ndim entries; may be NULL when ndim is 0 */
} sf_alloc_req_t;

typedef struct sf_buffer {
    void *data;              /* owned through the device; NULL on meta or for 0 bytes */
    uint64_t nbytes;         /* requested size */
    uint64_t counted_bytes;  /* sf_mem_counted_bytes(nbytes) */
    int64_t id;              /* unique per allocator, in allocation order */
    const char *tensor;      /* borrowed: name of the tensor it was made for */
    const char *alloc_node;  /* borrowed: node that allocated it ("<input>" etc.) */
    double alloc_time_us;    /* since the allocator was created */
    sf_dtype_t dtype;        /* of the tensor it was made for */
    int ndim;
    int64_t shape[SF_MAX_DIMS];
    sf_device_t *dev;        /* borrowed */
    struct sf_buffer *live_prev; /* borrowed: the allocator's list of live buffers */
    struct sf_buffer *live_next; /* borrowed: same list */
} sf_buffer_t;

/* How many of the largest live buffers a snapshot keeps: enough to say what
 * a peak is made of, small enough to copy at every peak. */
#define SF_MEM_TOP_K 5

/* One live buffer as a snapshot remembers it (a copy: the buffer itself
 * may be gone by the time the snapshot is read). */
typedef struct sf_mem_top_entry {
    const char *tensor;      /* borrowed, as sf_buffer_t.tensor */
    sf_dtype_t dtype;
    int ndim;
    int64_t shape[SF_MAX_DIMS];
    uint64_t nbytes;         /* requested size */
    uint64_t counted_bytes;  /* what the allocator counts */
} sf_mem_top_entry_t;

/* The live set at one moment (a peak, or a failed allocation): its totals
 * and its largest buffers, largest first (ties: the older first). */
typedef struct sf_mem_snapshot {
    const char *node;        /* borrowed: the node running then; "" if none */
    uint64_t live_bytes;
    int64_t live_count;
    int n_top;
    sf_mem_top_entry_t top[SF_MEM_TOP_K];
    /* For a failed allocation only: what was asked for (else 0 and NULL). */
    uint64_t want_bytes;
    const char *want_tensor; /* borrowed */
} sf_mem_snapshot_t;

typedef enum sf_mem_event_kind { SF_MEM_EV_ALLOC, SF_MEM_EV_FREE } sf_mem_event_kind_t;

typedef struct sf_mem_event {
    sf_mem_event_kind_t kind;
    const sf_buffer_t *buf;   /* borrowed, valid only during the callback */
    const char *free_node;    /* for SF_MEM_EV_FREE: node after which it was freed */
    double time_us;
    uint64_t live_bytes;      /* after the event */
    uint64_t reserved_bytes;  /* the device allocator's reserved bytes after
                               * the event; 0 where it caches nothing (cpu, meta) */
} sf_mem_event_t;

/* Observer of alloc/free events; may be NULL. Must not fail: a trace writer
 * that hits a write error records it and reports it at close. */
typedef void (*sf_mem_observer_fn)(void *ctx, const sf_mem_event_t *ev);

typedef struct sf_mem sf_mem_t;

/* New allocator over dev (borrowed). Never fails except for host OOM, which
 * aborts: the accounting itself must exist for anything else to be reported. */
sf_mem_t *sf_mem_new(sf_device_t *dev);
/* Frees the allocator. Asserts (our bug) that no buffer is live: every
 * owner must release its buffers first. NULL-safe. */
void sf_mem_free(sf_mem_t *mem);

void sf_mem_set_observer(sf_mem_t *mem, sf_mem_observer_fn fn, void *ctx);
/* Name of the node now running: the peak is attributed to it. Borrowed. */
void sf_mem_set_current_node(sf_mem_t *mem, const char *node);

/* Most bytes live at once (counted bytes): an allocation that would pass it
 * fails with SF_ERR_NOMEM like a device that ran out. 0 (the default) is no
 * limit. */
void sf_mem_set_limit(sf_mem_t *mem, uint64_t limit_bytes);
uint64_t sf_mem_limit(const sf_mem_t *mem);

/* Allocate a tracked buffer. On failure returns SF_ERR_NOMEM naming the
 * tensor and size (the limit or the device refused it), and nothing is
 * counted; sf_mem_last_failure then tells what was live. */
SF_NODISCARD sf_status_t sf_mem_alloc(sf_mem_t *mem, const sf_alloc_req_t *req,
                                      sf_buffer_t **out, sf_err_t *err);
/* Release a buffer; free_node (borrowed) is recorded. NULL buf is a no-op. */
void sf_mem_release(sf_mem_t *mem, sf_buffer_t *buf, const char *free_node);

sf_device_t *sf_mem_device(const sf_mem_t *mem);
uint64_t sf_mem_live_bytes(const sf_mem_t *mem);
uint64_t sf_mem_peak_bytes(const sf_mem_t *mem);
/* The highest reserved bytes seen at an allocation (0: the device caches nothing). */
uint64_t sf_mem_reserved_peak_bytes(const sf_mem_t *mem);
/* The device driver's used bytes at their highest seen at an allocation (0: not known). */
uint64_t sf_mem_device_used_peak_bytes(const sf_mem_t *mem);
int64_t sf_mem_live_count(const sf_mem_t *mem);
int64_t sf_mem_total_allocs(const sf_mem_t *mem);
/* Node during which the peak was first reached; "" if nothing was allocated. */
const char *sf_mem_peak_node(const sf_mem_t *mem);
/* The live set when the peak was first reached (node: sf_mem_peak_node). */
void sf_mem_peak_snapshot(const sf_mem_t *mem, sf_mem_snapshot_t *out);
/* The live set at the last allocation that failed with SF_ERR_NOMEM; false
 * (and *out zeroed) if none did. */
bool sf_mem_last_failure(const sf_mem_t *mem, sf_mem_snapshot_t *out);
/* Start the peak again from what is live now (peak = live bytes, its node
 * the current node, its snapshot the live set): for a figure per step of
 * a run that keeps some buffers between steps. Live buffers, the limit and
 * the counters of allocations are untouched. */
void sf_mem_reset_peak(sf_mem_t *mem);
/* Microseconds since sf_mem_new (monotonic clock). */
double sf_mem_now_us(const sf_mem_t *mem);

#endif
