/* Band layout of the active-memory timeline (shared rule with the page
 * script): buffers stack in allocation order; when one is freed, every live
 * buffer allocated after it drops by its size. Buffers below a size
 * threshold are pooled into one "small" band stacked on top. */
#ifndef SF_MEMVIZ_LAYOUT_H
#define SF_MEMVIZ_LAYOUT_H

#include "memviz_trace.h"

typedef struct sf_mv_layout {
    uint8_t *is_big;       /* owned: per buffer, 0 = pooled into the small band */
    uint32_t n_small;
    uint64_t small_bytes;  /* allocated in total by small buffers */
    uint32_t *step_start;  /* owned: n_bufs + 1 offsets into step_ev/step_off */
    uint32_t *step_ev;     /* owned: event from which the buffer sits at step_off */
    uint64_t *step_off;    /* owned: bytes below the buffer's band */
    uint64_t *big_top;     /* owned: per event, top of the big bands after it */
    uint64_t *small_live;  /* owned: per event, live bytes of small buffers after it */
} sf_mv_layout_t;

/* Lay out r with buffers under small_below bytes pooled, except those
 * whose always_big entry is non-zero (may be NULL: none; the weights when
 * colouring by category, so they stay one named band). SF_ERR_UNSUPPORTED
 * when the stacking changes more than max_steps times (too big to draw). */
SF_NODISCARD sf_status_t sf_mv_layout_build(const sf_mv_rank_t *r, uint64_t small_below,
                                            const uint8_t *always_big, uint64_t max_steps,
                                            sf_mv_layout_t *out, sf_err_t *err);
void sf_mv_layout_fini(sf_mv_layout_t *l);

#endif
