/* Building memviz's model from the scanner's events (see memviz_trace.h).
 * Buffers pair "b" with "e" by (pid, id), as Perfetto does for id2.local
 * spans; strings are interned so a million events share a few thousand
 * node names. */
#include "memviz_trace.h"

#include <stdlib.h>
#include <string.h>

/* ---- string interning ------------------------------------------------------- */

typedef struct intern {
    uint32_t *slots; /* owned: sid + 1, 0 = empty */
    uint32_t *hashes; /* owned: the hash of each slot's string, to skip strcmp */
    uint32_t cap;    /* power of two */
} intern_t;

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static bool strs_grow(sf_mv_trace_t *t)
{
    intern_t *in = t->intern;
    uint32_t cap = in->cap != 0 ? in->cap * 2 : 1024;
    uint32_t *slots = calloc(cap, sizeof *slots);
    uint32_t *hashes = calloc(cap, sizeof *hashes);
    char **strs = realloc(t->strs, (size_t)cap * sizeof *strs);
    if (slots == NULL || hashes == NULL || strs == NULL) {
        free(slots);
        free(hashes);
        if (strs != NULL)
            t->strs = strs;
        return false;
    }
    t->strs = strs;
    for (uint32_t i = 0; i < t->n_strs; i++) {
        uint32_t full = hash_str(t->strs[i]), h = full & (cap - 1);
        while (slots[h] != 0)
            h = (h + 1) & (cap - 1);
        slots[h] = i + 1;
        hashes[h] = full;
    }
    free(in->slots);
    free(in->hashes);
    in->slots = slots;
    in->hashes = hashes;
    in->cap = cap;
    return true;
}

/* The id of s, adding it if new; UINT32_MAX when out of memory. NULL is "". */
static sf_mv_sid_t intern(sf_mv_trace_t *t, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return 0;
    intern_t *in = t->intern;
    /* Keep the load under 1/2: the table also backs strs[]' capacity. */
    if ((t->n_strs + 1) * 2 > in->cap && !strs_grow(t))
        return UINT32_MAX;
    uint32_t full = hash_str(s), h = full & (in->cap - 1);
    while (in->slots[h] != 0) {
        uint32_t id = in->slots[h] - 1;
        if (in->hashes[h] == full && strcmp(t->strs[id], s) == 0)
            return id;
        h = (h + 1) & (in->cap - 1);
    }
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy == NULL)
        return UINT32_MAX;
    memcpy(copy, s, n);
    t->strs[t->n_strs] = copy;
    in->hashes[h] = full;
    in->slots[h] = ++t->n_strs;
    return t->n_strs - 1;
}

/* ---- open buffers: (rank, id) -> buffer index ----------------------------------- */

typedef struct open_slot {
    uint64_t key_hi; /* rank + 1 (0 = empty) */
    uint64_t key_lo; /* the id: parsed hex, or a string id with the top bit set */
    uint32_t buf;
} open_slot_t;

typedef struct open_map {
    open_slot_t *slots; /* owned */
    size_t cap, n;
} open_map_t;

static size_t open_hash(uint64_t hi, uint64_t lo, size_t cap)
{
    uint64_t h = (hi * 0x9e3779b97f4a7c15ull) ^ (lo * 0xc2b2ae3d27d4eb4full);
    h ^= h >> 29;
    return (size_t)h & (cap - 1);
}

static bool open_grow(open_map_t *m)
{
    size_t cap = m->cap != 0 ? m->cap * 2 : 1024;
    open_slot_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return false;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key_hi == 0)
            continue;
        size_t h = open_hash(m->slots[i].key_hi, m->slots[i].key_lo, cap);
        while (slots[h].key_hi != 0)
            h = (h + 1) & (cap - 1);
        slots[h] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return true;
}

/* The slot of the key, or of the empty slot where it would go. */
static size_t open_find(const open_map_t *m, uint64_t hi, uint64_t lo)
{
    size_t h = open_hash(hi, lo, m->cap);
    while (m->slots[h].key_hi != 0 && (m->slots[h].key_hi != hi || m->slots[h].key_lo != lo))
        h = (h + 1) & (m->cap - 1);
    return h;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void open_remove(open_map_t *m, size_t i)
{
    size_t j = i;
    for (;;) {
        m->slots[i].key_hi = 0;
        for (;;) {
            j = (j + 1) & (m->cap - 1);
            if (m->slots[j].key_hi == 0)
                return;
            size_t k = open_hash(m->slots[j].key_hi, m->slots[j].key_lo, m->cap);
            /* Move j back to i unless its home k lies cyclically in (i, j]. */
            if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
                continue;
            break;
        }
        m->slots[i] = m->slots[j];
        i = j;
    }
}

/* ---- loading ---------------------------------------------------------------------- */

typedef struct load {
    sf_mv_trace_t *t;
    open_map_t open;
    sf_mv_trace_t ids; /* a string table for them (only strs/n_strs/intern used) */
    int last_rank;    /* cache: consecutive events mostly share a pid */
    size_t *cap_bufs, *cap_ev, *cap_spans; /* owned: per rank */
} load_t;

static bool grow_array(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap != 0 ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (q == NULL)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static int rank_index(load_t *L, int64_t pid)
{
    sf_mv_trace_t *t = L->t;
    if (L->last_rank >= 0 && t->ranks[L->last_rank].pid == pid)
        return L->last_rank;
    for (int i = 0; i < t->n_ranks; i++)
        if (t->ranks[i].pid == pid)
            return L->last_rank = i;
    int n = t->n_ranks + 1;
    sf_mv_rank_t *r = realloc(t->ranks, (size_t)n * sizeof *r);
    size_t *cb = realloc(L->cap_bufs, (size_t)n * sizeof *cb);
    if (cb != NULL)
        L->cap_bufs = cb;
    size_t *ce = realloc(L->cap_ev, (size_t)n * sizeof *ce);
    if (ce != NULL)
        L->cap_ev = ce;
    size_t *cs = realloc(L->cap_spans, (size_t)n * sizeof *cs);
    if (cs != NULL)
        L->cap_spans = cs;
    if (r != NULL)
        t->ranks = r;
    if (r == NULL || cb == NULL || ce == NULL || cs == NULL)
        return -1;
    memset(&t->ranks[n - 1], 0, sizeof t->ranks[0]);
    t->ranks[n - 1].pid = pid;
    L->cap_bufs[n - 1] = L->cap_ev[n - 1] = L->cap_spans[n - 1] = 0;
    t->n_ranks = n;
    return L->last_rank = n - 1;
}

/* "0x1f" -> 0x1f with *ok; anything else is interned in the id table. */
static uint64_t id_key(load_t *L, const char *id, bool *ok)
{
    *ok = true;
    if (id[0] == '0' && (id[1] == 'x' || id[1] == 'X') && id[2] != '\0' &&
        strlen(id + 2) <= 15) {
        uint64_t v = 0;
        const char *p = id + 2;
        for (; *p != '\0'; p++) {
            int c = *p, h;
            if (c >= '0' && c <= '9')
                h = c - '0';
            else if (c >= 'a' && c <= 'f')
                h = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F')
                h = c - 'A' + 10;
            else
                break;
            v = v * 16 + (uint64_t)h;
        }
        if (*p == '\0')
            return v;
    }
    sf_mv_sid_t sid = intern(&L->ids, id);
    if (sid == UINT32_MAX)
        *ok = false;
    return (1ull << 63) | sid;
}

static sf_status_t oom(sf_mv_scan_t *s, const sf_mv_event_t *ev, sf_err_t *err)
{
    return sf_mv_scan_error(s, ev, err, "out of memory loading the trace");
}

static sf_status_t add_event(load_t *L, int ri, uint32_t buf, double ts)
{
    sf_mv_rank_t *r = &L->t->ranks[ri];
    if (r->n_events == UINT32_MAX - 1)
        return SF_ERR_NOMEM;
    size_t cap = L->cap_ev[ri];
    if (!grow_array((void **)&r->ev_ts_us, &cap, r->n_events + 1, sizeof *r->ev_ts_us))
        return SF_ERR_NOMEM;
    size_t cap2 = L->cap_ev[ri];
    if (!grow_array((void **)&r->ev_buf, &cap2, r->n_events + 1, sizeof *r->ev_buf))
        return SF_ERR_NOMEM;
    L->cap_ev[ri] = cap < cap2 ? cap : cap2;
    r->ev_ts_us[r->n_events] = ts;
    r->ev_buf[r->n_events] = buf;
    r->n_events++;
    return SF_OK;
}

static sf_status_t on_buffer(load_t *L, sf_mv_scan_t *s, const sf_mv_event_t *ev, sf_err_t *err)
{
    sf_mv_trace_t *t = L->t;
    if (!ev->has_pid)
        return sf_mv_scan_error(s, ev, err, "buffer event without \"pid\"");
    if (ev->id == NULL)
        return sf_mv_scan_error(s, ev, err, "buffer event without \"id2\" or \"id\"");
    if (!ev->has_ts)
        return sf_mv_scan_error(s, ev, err, "buffer event without \"ts\"");
    int ri = rank_index(L, ev->pid);
    if (ri < 0)
        return oom(s, ev, err);
    bool ok;
    uint64_t lo = id_key(L, ev->id, &ok);
    if (!ok || (L->open.n + 1) * 2 > L->open.cap) {
        if (!ok || !open_grow(&L->open))
            return oom(s, ev, err);
    }
    uint64_t hi = (uint64_t)ri + 1;
    size_t slot = open_find(&L->open, hi, lo);
    sf_mv_rank_t *r = &t->ranks[ri];
    if (ev->ph == 'b') {
        if (L->open.slots[slot].key_hi != 0)
            return sf_mv_scan_error(s, ev, err,
                                    "buffer id %s on pid %lld allocated again before its \"e\"",
                                    ev->id, (long long)ev->pid);
        if (!ev->has_bytes)
            return sf_mv_scan_error(s, ev, err, "buffer \"b\" event without args.bytes");
        size_t cap = L->cap_bufs[ri];
        if (r->n_bufs == UINT32_MAX - 1 ||
            !grow_array((void **)&r->bufs, &cap, r->n_bufs + 1, sizeof *r->bufs))
            return oom(s, ev, err);
        L->cap_bufs[ri] = cap;
        sf_mv_buffer_t *b = &r->bufs[r->n_bufs];
        memset(b, 0, sizeof *b);
        b->bytes = ev->bytes;
        b->requested_bytes = ev->requested_bytes;
        b->tensor = intern(t, ev->tensor != NULL ? ev->tensor : ev->name);
        b->shape = intern(t, ev->shape);
        b->dtype = intern(t, ev->dtype);
        b->alloc_node = intern(t, ev->alloc_node);
        if (b->tensor == UINT32_MAX || b->shape == UINT32_MAX || b->dtype == UINT32_MAX ||
            b->alloc_node == UINT32_MAX)
            return oom(s, ev, err);
        b->alloc_ev = r->n_events;
        b->free_ev = UINT32_MAX;
        if (add_event(L, ri, r->n_bufs, ev->ts_us) != SF_OK)
            return oom(s, ev, err);
        L->open.slots[slot] = (open_slot_t){.key_hi = hi, .key_lo = lo, .buf = r->n_bufs};
        L->open.n++;
        r->n_bufs++;
        return SF_OK;
    }
    if (L->open.slots[slot].key_hi == 0)
        return sf_mv_scan_error(s, ev, err,
                                "\"e\" for buffer id %s on pid %lld, which is not allocated", ev->id,
                                (long long)ev->pid);
    uint32_t bi = L->open.slots[slot].buf;
    open_remove(&L->open, slot);
    L->open.n--;
    sf_mv_buffer_t *b = &r->bufs[bi];
    b->free_ev = r->n_events;
    b->free_node = intern(t, ev->free_node);
    if (b->free_node == UINT32_MAX || add_event(L, ri, bi, ev->ts_us) != SF_OK)
        return oom(s, ev, err);
    return SF_OK;
}

static sf_status_t on_event(void *ctx, sf_mv_scan_t *s, const sf_mv_event_t *ev, sf_err_t *err)
{
    load_t *L = ctx;
    sf_mv_trace_t *t = L->t;
    if ((ev->ph == 'b' || ev->ph == 'e') && ev->cat != NULL && strcmp(ev->cat, "buffer") == 0)
        return on_buffer(L, s, ev, err);
    if (ev->ph == 'X' && ev->cat != NULL && strcmp(ev->cat, "node") == 0) {
        if (!ev->has_pid || !ev->has_ts)
            return sf_mv_scan_error(s, ev, err, "node span without \"pid\" or \"ts\"");
        int ri = rank_index(L, ev->pid);
        if (ri < 0)
            return oom(s, ev, err);
        sf_mv_rank_t *r = &t->ranks[ri];
        size_t cap = L->cap_spans[ri];
        if (r->n_spans == UINT32_MAX - 1 ||
            !grow_array((void **)&r->spans, &cap, r->n_spans + 1, sizeof *r->spans))
            return oom(s, ev, err);
        L->cap_spans[ri] = cap;
        sf_mv_span_t *sp = &r->spans[r->n_spans];
        sp->name = intern(t, ev->name);
        sp->op = intern(t, ev->op);
        if (sp->name == UINT32_MAX || sp->op == UINT32_MAX)
            return oom(s, ev, err);
        sp->ts_us = ev->ts_us;
        sp->dur_us = ev->dur_us > 0 ? ev->dur_us : 0;
        r->n_spans++;
        return SF_OK;
    }
    if (ev->ph == 'M' && ev->has_pid && ev->name != NULL && strcmp(ev->name, "process_name") == 0) {
        int ri = rank_index(L, ev->pid);
        if (ri < 0)
            return oom(s, ev, err);
        sf_mv_sid_t id = intern(t, ev->label);
        if (id == UINT32_MAX)
            return oom(s, ev, err);
        t->ranks[ri].label = id;
    }
    return SF_OK;
}

/* strs[0] = "": intern() answers 0 for "" without a lookup. */
static bool strs_init(sf_mv_trace_t *t)
{
    if (!strs_grow(t) || (t->strs[0] = calloc(1, 1)) == NULL)
        return false;
    t->n_strs = 1;
    return true;
}

static int cmp_rank(const void *a, const void *b)
{
    const sf_mv_rank_t *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

static void free_strs(sf_mv_trace_t *t)
{
    for (uint32_t i = 0; i < t->n_strs; i++)
        free(t->strs[i]);
    free(t->strs);
    intern_t *in = t->intern;
    if (in != NULL) {
        free(in->slots);
        free(in->hashes);
    }
    free(in);
}

sf_status_t sf_mv_trace_load(const char *path, sf_mv_trace_t **out, sf_err_t *err)
{
    *out = NULL;
    sf_mv_trace_t *t = calloc(1, sizeof *t);
    load_t L = {.t = t, .last_rank = -1};
    L.ids.intern = calloc(1, sizeof(intern_t));
    if (t == NULL) {
        free(L.ids.intern);
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory loading %s", path);
    }
    sf_status_t st;
    if (t == NULL || L.ids.intern == NULL || (t->intern = calloc(1, sizeof(intern_t))) == NULL ||
        (t->path = malloc(strlen(path) + 1)) == NULL) {
        st = sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory loading %s", path);
        goto fail;
    }
    strcpy(t->path, path);
    if (!strs_init(t) || !strs_init(&L.ids)) {
        st = sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory loading %s", path);
        goto fail;
    }

    st = sf_mv_scan_file(path, false, on_event, &L, err);
    if (st != SF_OK)
        goto fail;
    for (int i = 0; i < t->n_ranks; i++) {
        sf_mv_rank_t *r = &t->ranks[i];
        for (uint32_t b = 0; b < r->n_bufs; b++) {
            if (r->bufs[b].free_ev == UINT32_MAX) {
                r->bufs[b].free_ev = r->n_events;
                r->n_unfreed++;
            }
        }
    }
    /* A trace without one buffer (a profiler's, or a run that never got to
     * allocate) would draw as an empty page and a "0 ranks" summary that
     * exits 0: say what is missing instead. */
    uint64_t n_bufs = 0;
    for (int i = 0; i < t->n_ranks; i++)
        n_bufs += t->ranks[i].n_bufs;
    if (n_bufs == 0) {
        st = sf_err_set(err, SF_ERR_PARSE, &(sf_pos_t){path, 0, 0},
                        "no buffer events (\"cat\":\"buffer\" with \"ph\" \"b\"/\"e\") in %d "
                        "rank(s): memviz reads the traces of shardflow run/plan --trace",
                        t->n_ranks);
        goto fail;
    }
    /* qsort of zero elements on a NULL array is still undefined (found by
     * fuzz_memviz_trace: a trace whose only event carries no pid). */
    if (t->n_ranks > 1)
        qsort(t->ranks, (size_t)t->n_ranks, sizeof *t->ranks, cmp_rank);
    free(L.open.slots);
    free_strs(&L.ids);
    free(L.cap_bufs);
    free(L.cap_ev);
    free(L.cap_spans);
    *out = t;
    return SF_OK;
fail:
    free(L.open.slots);
    free_strs(&L.ids);
    free(L.cap_bufs);
    free(L.cap_ev);
    free(L.cap_spans);
    sf_mv_trace_free(t);
    return st;
}

static void rank_fini(sf_mv_rank_t *r)
{
    free(r->bufs);
    free(r->ev_ts_us);
    free(r->ev_buf);
    free(r->spans);
    memset(r, 0, sizeof *r);
}

sf_status_t sf_mv_trace_keep_rank(sf_mv_trace_t *t, int64_t pid, sf_err_t *err)
{
    int keep = -1;
    for (int i = 0; i < t->n_ranks; i++)
        if (t->ranks[i].pid == pid)
            keep = i;
    if (keep < 0)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "--rank %lld: %s has no rank %lld (%d ranks, "
                          "pids %lld..%lld)",
                          (long long)pid, t->path, (long long)pid, t->n_ranks,
                          (long long)t->ranks[0].pid, (long long)t->ranks[t->n_ranks - 1].pid);
    for (int i = 0; i < t->n_ranks; i++)
        if (i != keep)
            rank_fini(&t->ranks[i]);
    t->ranks[0] = t->ranks[keep];
    t->n_ranks = 1;
    return SF_OK;
}

void sf_mv_trace_free(sf_mv_trace_t *t)
{
    if (t == NULL)
        return;
    for (int i = 0; i < t->n_ranks; i++)
        rank_fini(&t->ranks[i]);
    free(t->ranks);
    free_strs(t);
    free(t->path);
    free(t);
}
