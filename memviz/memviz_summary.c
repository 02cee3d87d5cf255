/* See memviz_summary.h. The peak rule mirrors core/mem.c: live bytes
 * rise on each alloc, and only a strictly greater value moves the peak, so
 * the peak node is the one that FIRST reached the maximum. */
#include "memviz_summary.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

bool sf_mv_op_is_collective(const char *op)
{
    static const char *const names[] = {"redistribute", "all_gather", "allgather", "all_to_all",
                                        "alltoall", "all_reduce", "allreduce", "reduce_scatter",
                                        "broadcast"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(op, names[i]) == 0)
            return true;
    return false;
}

bool sf_mv_rank_same(const sf_mv_rank_t *a, const sf_mv_rank_t *b)
{
    if (a->n_bufs != b->n_bufs || a->n_events != b->n_events || a->n_spans != b->n_spans)
        return false;
    if (a->n_events > 0 && memcmp(a->ev_buf, b->ev_buf, a->n_events * sizeof *a->ev_buf) != 0)
        return false;
    for (uint32_t i = 0; i < a->n_bufs; i++) {
        const sf_mv_buffer_t *x = &a->bufs[i], *y = &b->bufs[i];
        /* One trace interns its strings once: equal ids are equal text. */
        if (x->bytes != y->bytes || x->requested_bytes != y->requested_bytes ||
            x->alloc_ev != y->alloc_ev || x->free_ev != y->free_ev || x->tensor != y->tensor ||
            x->shape != y->shape || x->dtype != y->dtype || x->alloc_node != y->alloc_node ||
            x->free_node != y->free_node)
            return false;
    }
    for (uint32_t s = 0; s < a->n_spans; s++)
        if (a->spans[s].name != b->spans[s].name || a->spans[s].op != b->spans[s].op)
            return false;
    return true;
}

int sf_mv_same_ranks_text(const sf_mv_trace_t *t, int lead, const bool *is_folded, char *out,
                          size_t n)
{
    size_t used = 0;
    int count = 0;
    out[0] = '\0';
    for (int i = lead; i < t->n_ranks; i++) {
        if (i != lead && !(is_folded[i] && sf_mv_rank_same(&t->ranks[lead], &t->ranks[i])))
            continue;
        int j = i;
        while (j + 1 < t->n_ranks && is_folded[j + 1] && t->ranks[j + 1].pid == t->ranks[j].pid + 1 &&
               sf_mv_rank_same(&t->ranks[lead], &t->ranks[j + 1]))
            j++;
        count += j - i + 1;
        int w = j > i ? snprintf(out + used, n - used, "%s%lld-%lld", used ? "," : "",
                                 (long long)t->ranks[i].pid, (long long)t->ranks[j].pid)
                      : snprintf(out + used, n - used, "%s%lld", used ? "," : "",
                                 (long long)t->ranks[i].pid);
        if (w < 0 || (size_t)w >= n - used)
            break;
        used += (size_t)w;
        i = j;
    }
    return count;
}

void sf_mv_peak_compute(const sf_mv_trace_t *t, const sf_mv_rank_t *r, sf_mv_peak_t *out)
{
    memset(out, 0, sizeof *out);
    out->peak_ev = UINT32_MAX;
    out->peak_buf = UINT32_MAX;
    uint64_t live = 0, kept = 0;
    for (uint32_t k = 0; k < r->n_events; k++) {
        const sf_mv_buffer_t *b = &r->bufs[r->ev_buf[k]];
        if (b->alloc_ev == k) {
            live += b->bytes;
            if (live > out->peak_bytes) {
                out->peak_bytes = live;
                out->peak_ev = k;
                out->peak_buf = r->ev_buf[k];
            }
        } else {
            live -= b->bytes;
            /* The executor releases what is left after the last node as
             * "<end>": run and plan count those bytes as end_bytes. */
            if (strcmp(sf_mv_str(t, b->free_node), "<end>") == 0)
                kept += b->bytes;
        }
    }
    out->end_bytes = live + kept;
    if (out->peak_buf != UINT32_MAX)
        out->peak_node = r->bufs[out->peak_buf].alloc_node;

    /* Which nodes are collectives: from the spans' ops. */
    unsigned char *coll = calloc(t->n_strs, 1);
    for (uint32_t i = 0; coll != NULL && i < r->n_spans; i++)
        if (sf_mv_op_is_collective(sf_mv_str(t, r->spans[i].op)))
            coll[r->spans[i].name] = 1;
    for (uint32_t i = 0; i < r->n_bufs; i++) {
        out->total_bytes += r->bufs[i].bytes;
        if (coll != NULL && coll[r->bufs[i].alloc_node])
            out->comm_bytes += r->bufs[i].bytes;
    }
    free(coll);
}

static const sf_mv_rank_t *sort_rank; /* qsort has no context argument */

static int cmp_bytes_desc(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    uint64_t bx = sort_rank->bufs[x].bytes, by = sort_rank->bufs[y].bytes;
    if (bx != by)
        return bx > by ? -1 : 1;
    return (x > y) - (x < y);
}

uint32_t *sf_mv_live_at(const sf_mv_rank_t *r, uint32_t ev, uint32_t *n)
{
    *n = 0;
    uint32_t count = 0;
    for (uint32_t i = 0; i < r->n_bufs; i++)
        if (r->bufs[i].alloc_ev <= ev && ev < r->bufs[i].free_ev)
            count++;
    if (count == 0)
        return NULL;
    uint32_t *ids = malloc((size_t)count * sizeof *ids);
    if (ids == NULL)
        return NULL;
    uint32_t j = 0;
    for (uint32_t i = 0; i < r->n_bufs; i++)
        if (r->bufs[i].alloc_ev <= ev && ev < r->bufs[i].free_ev)
            ids[j++] = i;
    sort_rank = r;
    qsort(ids, count, sizeof *ids, cmp_bytes_desc);
    *n = count;
    return ids;
}

uint32_t sf_mv_largest(const sf_mv_rank_t *r, uint32_t k, uint32_t *out)
{
    /* Insertion into a short sorted list: k is small (5), n may be millions. */
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->n_bufs; i++) {
        uint64_t b = r->bufs[i].bytes;
        if (n == k && (k == 0 || b <= r->bufs[out[n - 1]].bytes))
            continue;
        uint32_t pos = n < k ? n++ : k - 1;
        while (pos > 0 && r->bufs[out[pos - 1]].bytes < b) {
            out[pos] = out[pos - 1];
            pos--;
        }
        out[pos] = i;
    }
    return n;
}

/* ---- report ------------------------------------------------------------------ */

static const char *or_dash(const char *s)
{
    return s[0] != '\0' ? s : "-";
}

static double ev_time(const sf_mv_rank_t *r, uint32_t ev)
{
    return ev < r->n_events ? r->ev_ts_us[ev] : 0.0;
}

static void print_text(const sf_mv_trace_t *t, int top, FILE *f, const sf_mv_peak_t *peaks,
                       uint32_t *const *live, const uint32_t *n_live, const bool *is_folded)
{
    fprintf(f, "trace: %s (%d rank%s)\n", t->path, t->n_ranks, t->n_ranks == 1 ? "" : "s");
    for (int i = 0; i < t->n_ranks; i++) {
        const sf_mv_rank_t *r = &t->ranks[i];
        if (is_folded[i])
            continue;
        char same[128];
        if (sf_mv_same_ranks_text(t, i, is_folded, same, sizeof same) > 1)
            fprintf(f, "\nranks %s are identical (same buffers, same order): shown once", same);
        const sf_mv_peak_t *p = &peaks[i];
        char h1[32], h2[32], h3[32];
        sf_cli_format_bytes(p->peak_bytes, h1, sizeof h1);
        sf_cli_format_bytes(p->total_bytes, h2, sizeof h2);
        sf_cli_format_bytes(p->end_bytes, h3, sizeof h3);
        fprintf(f, "\nrank %lld%s%s\n", (long long)r->pid, r->label != 0 ? "  " : "",
                sf_mv_str(t, r->label));
        fprintf(f, "  peak:       %llu bytes (%s) during node '%s'", (unsigned long long)p->peak_bytes,
                h1, sf_mv_str(t, p->peak_node));
        if (p->peak_ev != UINT32_MAX)
            fprintf(f, ", event %u of %u, t = %.3f ms", p->peak_ev + 1, r->n_events,
                    ev_time(r, p->peak_ev) / 1000.0);
        fprintf(f, "\n  buffers:    %u allocated, %llu bytes in total (%s)", r->n_bufs,
                (unsigned long long)p->total_bytes, h2);
        if (r->n_unfreed > 0)
            fprintf(f, "; %u never freed", r->n_unfreed);
        fprintf(f, "\n  end:        %llu bytes (%s) live after the last node (end_bytes of "
                   "run/plan)",
                (unsigned long long)p->end_bytes, h3);
        fprintf(f, "\n  live at the peak: %u buffer%s, largest first%s\n", n_live[i],
                n_live[i] == 1 ? "" : "s",
                top > 0 && n_live[i] > (uint32_t)top ? " (top rows only, see --top)" : "");
        if (n_live[i] == 0)
            continue;
        fprintf(f, "  %-28s %-18s %-6s %14s  %-24s %-24s\n", "tensor", "shape", "dtype", "bytes",
                "alloc node", "free node");
        for (uint32_t j = 0; j < n_live[i] && (top <= 0 || j < (uint32_t)top); j++) {
            const sf_mv_buffer_t *b = &r->bufs[live[i][j]];
            const char *free_node = b->free_ev >= r->n_events ? "(never freed)"
                                                              : or_dash(sf_mv_str(t, b->free_node));
            fprintf(f, "  %-28s %-18s %-6s %14llu  %-24s %-24s\n", or_dash(sf_mv_str(t, b->tensor)),
                    or_dash(sf_mv_str(t, b->shape)), or_dash(sf_mv_str(t, b->dtype)),
                    (unsigned long long)b->bytes, or_dash(sf_mv_str(t, b->alloc_node)), free_node);
        }
    }
}

static sf_status_t print_json(const sf_mv_trace_t *t, int top, FILE *f, const sf_mv_peak_t *peaks,
                              uint32_t *const *live, const uint32_t *n_live, sf_err_t *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *ranks = root != NULL ? cJSON_AddArrayToObject(root, "ranks") : NULL;
    bool ok = ranks != NULL && cJSON_AddStringToObject(root, "trace", t->path) != NULL;
    for (int i = 0; ok && i < t->n_ranks; i++) {
        const sf_mv_rank_t *r = &t->ranks[i];
        const sf_mv_peak_t *p = &peaks[i];
        cJSON *o = cJSON_CreateObject();
        ok = o != NULL && cJSON_AddItemToArray(ranks, o);
        if (!ok)
            break;
        cJSON_AddNumberToObject(o, "rank", (double)r->pid);
        cJSON_AddStringToObject(o, "label", sf_mv_str(t, r->label));
        sf_cli_json_add_u64(o, "peak_bytes", p->peak_bytes);
        cJSON_AddStringToObject(o, "peak_node", sf_mv_str(t, p->peak_node));
        cJSON_AddNumberToObject(o, "peak_event", p->peak_ev == UINT32_MAX ? -1 : (double)p->peak_ev);
        cJSON_AddNumberToObject(o, "peak_ts_us", ev_time(r, p->peak_ev));
        cJSON_AddNumberToObject(o, "buffers", r->n_bufs);
        cJSON_AddNumberToObject(o, "events", r->n_events);
        sf_cli_json_add_u64(o, "bytes_allocated", p->total_bytes);
        sf_cli_json_add_u64(o, "comm_bytes_allocated", p->comm_bytes);
        sf_cli_json_add_u64(o, "end_bytes", p->end_bytes);
        cJSON_AddNumberToObject(o, "never_freed", r->n_unfreed);
        cJSON *arr = cJSON_AddArrayToObject(o, "live_at_peak");
        ok = arr != NULL;
        for (uint32_t j = 0; ok && j < n_live[i] && (top <= 0 || j < (uint32_t)top); j++) {
            const sf_mv_buffer_t *b = &r->bufs[live[i][j]];
            cJSON *e = cJSON_CreateObject();
            ok = e != NULL && cJSON_AddItemToArray(arr, e);
            if (!ok)
                break;
            cJSON_AddStringToObject(e, "tensor", sf_mv_str(t, b->tensor));
            cJSON_AddStringToObject(e, "shape", sf_mv_str(t, b->shape));
            cJSON_AddStringToObject(e, "dtype", sf_mv_str(t, b->dtype));
            sf_cli_json_add_u64(e, "bytes", b->bytes);
            sf_cli_json_add_u64(e, "requested_bytes", b->requested_bytes);
            cJSON_AddStringToObject(e, "alloc_node", sf_mv_str(t, b->alloc_node));
            if (b->free_ev >= r->n_events)
                cJSON_AddNullToObject(e, "free_node");
            else
                cJSON_AddStringToObject(e, "free_node", sf_mv_str(t, b->free_node));
            cJSON_AddNumberToObject(e, "alloc_ts_us", ev_time(r, b->alloc_ev));
            if (b->free_ev >= r->n_events)
                cJSON_AddNullToObject(e, "free_ts_us");
            else
                cJSON_AddNumberToObject(e, "free_ts_us", ev_time(r, b->free_ev));
        }
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (text == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory writing the summary");
    fprintf(f, "%s\n", text);
    free(text);
    return SF_OK;
}

sf_status_t sf_mv_summary_print(const sf_mv_trace_t *t, bool json, int top, FILE *f, sf_err_t *err)
{
    size_t n = t->n_ranks > 0 ? (size_t)t->n_ranks : 1;
    sf_mv_peak_t *peaks = calloc(n, sizeof *peaks);
    uint32_t **live = calloc(n, sizeof *live);
    uint32_t *n_live = calloc(n, sizeof *n_live);
    bool *is_folded = NULL;
    sf_status_t st = SF_OK;
    if (peaks == NULL || live == NULL || n_live == NULL) {
        st = sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    for (int i = 0; i < t->n_ranks; i++) {
        sf_mv_peak_compute(t, &t->ranks[i], &peaks[i]);
        if (peaks[i].peak_ev != UINT32_MAX) {
            live[i] = sf_mv_live_at(&t->ranks[i], peaks[i].peak_ev, &n_live[i]);
            if (live[i] == NULL) {
                st = sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory");
                goto done;
            }
        }
    }
    /* A rank the same as an earlier shown one is folded into it. */
    is_folded = calloc(n, sizeof *is_folded);
    if (is_folded == NULL) {
        st = sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    for (int i = 1; i < t->n_ranks; i++)
        for (int j = 0; j < i && !is_folded[i]; j++)
            is_folded[i] = !is_folded[j] && sf_mv_rank_same(&t->ranks[j], &t->ranks[i]);
    if (json)
        st = print_json(t, top, f, peaks, live, n_live, err);
    else
        print_text(t, top, f, peaks, live, n_live, is_folded);
done:
    free(is_folded);
    for (int i = 0; live != NULL && i < t->n_ranks; i++)
        free(live[i]);
    free(live);
    free(n_live);
    free(peaks);
    return st;
}

static const sf_mv_rank_t *summary_rank(const sf_mv_trace_t *t, int64_t pid)
{
    for (int i = 0; i < t->n_ranks; i++)
        if (t->ranks[i].pid == pid)
            return &t->ranks[i];
    return NULL;
}

sf_status_t sf_mv_summary_compare_print(const sf_mv_trace_t *a, const sf_mv_trace_t *b, bool json,
                                        FILE *f, sf_err_t *err)
{
    const sf_mv_trace_t *ts[2] = {a, b};
    cJSON *root = json ? cJSON_CreateObject() : NULL;
    cJSON *ranks = NULL;
    if (json) {
        cJSON *names = cJSON_AddArrayToObject(root, "traces");
        cJSON_AddItemToArray(names, cJSON_CreateString(a->path));
        cJSON_AddItemToArray(names, cJSON_CreateString(b->path));
        ranks = cJSON_AddArrayToObject(root, "ranks");
    } else {
        fprintf(f, "peaks: %s vs %s (difference = second - first)\n", a->path, b->path);
    }
    /* Every pid of either trace, each once, in a's order then b's new ones. */
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < ts[t]->n_ranks; i++) {
            int64_t pid = ts[t]->ranks[i].pid;
            if (t == 1 && summary_rank(a, pid) != NULL)
                continue;
            sf_mv_peak_t pk[2];
            const sf_mv_rank_t *r[2] = {summary_rank(a, pid), summary_rank(b, pid)};
            for (int k = 0; k < 2; k++)
                if (r[k] != NULL)
                    sf_mv_peak_compute(ts[k], r[k], &pk[k]);
            if (json) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "rank", (double)pid);
                cJSON *pb = cJSON_AddArrayToObject(o, "peak_bytes");
                cJSON *pn = cJSON_AddArrayToObject(o, "peak_node");
                for (int k = 0; k < 2; k++) {
                    char text[24];
                    snprintf(text, sizeof text, "%llu", (unsigned long long)pk[k].peak_bytes);
                    cJSON_AddItemToArray(pb, r[k] != NULL ? cJSON_CreateRaw(text) : cJSON_CreateNull());
                    cJSON_AddItemToArray(pn, r[k] != NULL ? cJSON_CreateString(sf_mv_str(
                                                                ts[k], pk[k].peak_node))
                                                          : cJSON_CreateNull());
                }
                if (r[0] != NULL && r[1] != NULL) {
                    char text[24];
                    snprintf(text, sizeof text, "%lld",
                             (long long)pk[1].peak_bytes - (long long)pk[0].peak_bytes);
                    cJSON_AddRawToObject(o, "difference_bytes", text);
                } else {
                    cJSON_AddNullToObject(o, "difference_bytes");
                }
                cJSON_AddItemToArray(ranks, o);
                continue;
            }
            fprintf(f, "rank %lld:", (long long)pid);
            for (int k = 0; k < 2; k++) {
                char h[32];
                if (r[k] == NULL) {
                    fprintf(f, "%s(not in %s)", k ? " vs " : " ", ts[k]->path);
                    continue;
                }
                sf_cli_format_bytes(pk[k].peak_bytes, h, sizeof h);
                fprintf(f, "%s%llu bytes (%s) at '%s'", k ? " vs " : " ",
                        (unsigned long long)pk[k].peak_bytes, h, sf_mv_str(ts[k], pk[k].peak_node));
            }
            if (r[0] != NULL && r[1] != NULL) {
                int64_t d = (int64_t)pk[1].peak_bytes - (int64_t)pk[0].peak_bytes;
                char h[32];
                sf_cli_format_bytes((unsigned long long)(d < 0 ? -d : d), h, sizeof h);
                fprintf(f, ": %+lld bytes (%s%s", (long long)d, d < 0 ? "-" : "+", h);
                if (pk[0].peak_bytes > 0)
                    fprintf(f, ", %+.1f%%", 100.0 * (double)d / (double)pk[0].peak_bytes);
                fputc(')', f);
            }
            fputc('\n', f);
        }
    if (json)
        sf_cli_json_print_free(root, f);
    (void)err;
    return SF_OK;
}
