/* See memviz_layout.h. Two passes over the events: the first counts how
 * often each band moves, the second fills a compact per-buffer step list
 * (CSR), so memory is exact even when a long-lived band moves millions of
 * times. */
#include "memviz_layout.h"

#include <stdlib.h>
#include <string.h>

void sf_mv_layout_fini(sf_mv_layout_t *l)
{
    free(l->is_big);
    free(l->step_start);
    free(l->step_ev);
    free(l->step_off);
    free(l->big_top);
    free(l->small_live);
    memset(l, 0, sizeof *l);
}

/* Walk the events; with fill=false only count steps into step_start[i+1]. */
static void walk(const sf_mv_rank_t *r, sf_mv_layout_t *l, bool fill, int32_t *next,
                 int32_t *prev, uint64_t *off, uint32_t *cursor, uint64_t *total_steps,
                 uint64_t max_steps)
{
    int32_t tail = -1; /* the list runs in allocation order; only its tail is needed */
    uint64_t bt = 0, st = 0, steps = 0;
    for (uint32_t k = 0; k < r->n_events; k++) {
        uint32_t i = r->ev_buf[k];
        const sf_mv_buffer_t *b = &r->bufs[i];
        if (b->alloc_ev == k) {
            if (l->is_big[i]) {
                off[i] = bt;
                if (fill) {
                    l->step_ev[cursor[i]] = k;
                    l->step_off[cursor[i]++] = bt;
                } else {
                    l->step_start[i + 1]++;
                }
                steps++;
                bt += b->bytes;
                prev[i] = tail;
                next[i] = -1;
                if (tail >= 0)
                    next[tail] = (int32_t)i;
                tail = (int32_t)i;
            } else {
                st += b->bytes;
            }
        } else if (l->is_big[i]) {
            for (int32_t j = next[i]; j >= 0; j = next[j]) {
                off[j] -= b->bytes;
                if (fill) {
                    l->step_ev[cursor[j]] = k;
                    l->step_off[cursor[j]++] = off[j];
                } else {
                    l->step_start[j + 1]++;
                }
                if (++steps > max_steps) {
                    *total_steps = steps;
                    return;
                }
            }
            if (prev[i] >= 0)
                next[prev[i]] = next[i];
            if (next[i] >= 0)
                prev[next[i]] = prev[i];
            else
                tail = prev[i];
            bt -= b->bytes;
        } else {
            st -= b->bytes;
        }
        if (fill) {
            l->big_top[k] = bt;
            l->small_live[k] = st;
        }
    }
    *total_steps = steps;
}

sf_status_t sf_mv_layout_build(const sf_mv_rank_t *r, uint64_t small_below,
                               const uint8_t *always_big, uint64_t max_steps, sf_mv_layout_t *out,
                               sf_err_t *err)
{
    memset(out, 0, sizeof *out);
    size_t n = r->n_bufs, e = r->n_events;
    int32_t *next = malloc((n + 1) * sizeof *next), *prev = malloc((n + 1) * sizeof *prev);
    uint64_t *off = malloc((n + 1) * sizeof *off);
    uint32_t *cursor = NULL;
    out->is_big = calloc(n + 1, 1);
    out->step_start = calloc(n + 1, sizeof *out->step_start);
    out->big_top = malloc((e + 1) * sizeof *out->big_top);
    out->small_live = malloc((e + 1) * sizeof *out->small_live);
    sf_status_t st = SF_OK;
    if (next == NULL || prev == NULL || off == NULL || out->is_big == NULL ||
        out->step_start == NULL || out->big_top == NULL || out->small_live == NULL) {
        st = sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory laying out buffers");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        out->is_big[i] = r->bufs[i].bytes >= small_below || (always_big != NULL && always_big[i]);
        if (!out->is_big[i]) {
            out->n_small++;
            out->small_bytes += r->bufs[i].bytes;
        }
    }
    uint64_t steps = 0;
    walk(r, out, false, next, prev, off, NULL, &steps, max_steps);
    if (steps > max_steps || steps > UINT32_MAX) {
        st = sf_err_set(err, SF_ERR_UNSUPPORTED, NULL,
                        "rank %lld: more than %llu band moves, too many to draw here "
                        "(use the HTML page)",
                        (long long)r->pid, (unsigned long long)max_steps);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        out->step_start[i + 1] += out->step_start[i];
    out->step_ev = malloc((steps + 1) * sizeof *out->step_ev);
    out->step_off = malloc((steps + 1) * sizeof *out->step_off);
    cursor = malloc((n + 1) * sizeof *cursor);
    if (out->step_ev == NULL || out->step_off == NULL || cursor == NULL) {
        st = sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory laying out buffers");
        goto done;
    }
    memcpy(cursor, out->step_start, n * sizeof *cursor);
    walk(r, out, true, next, prev, off, cursor, &steps, UINT64_MAX);
done:
    free(next);
    free(prev);
    free(off);
    free(cursor);
    if (st != SF_OK)
        sf_mv_layout_fini(out);
    return st;
}
