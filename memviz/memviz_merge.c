/* `memviz --merge`: several runs in one Chrome trace, each run its own group
 * of processes (pid k * stride + rank, named "<label>: ..."), so Perfetto
 * shows the runs one above the other. Events are copied byte for byte
 * except for the pid, so nothing the writer put in them is lost. */
#include "memviz.h"

#include <stdlib.h>
#include <string.h>

typedef struct merge_ctx {
    FILE *f;             /* borrowed */
    const char *label;   /* borrowed */
    int64_t offset;      /* added to every pid of this run */
    int64_t max_pid;
    bool any_event;
    int64_t *named;      /* owned: pids of this run that have a process_name */
    int64_t *seen;       /* owned: every pid of this run */
    int n_named, n_seen, cap_named, cap_seen;
    bool oom;
} merge_ctx_t;

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static bool add_pid(int64_t **arr, int *n, int *cap, int64_t pid)
{
    for (int i = 0; i < *n; i++)
        if ((*arr)[i] == pid)
            return true;
    if (*n == *cap) {
        int c = *cap != 0 ? *cap * 2 : 16;
        int64_t *a = realloc(*arr, (size_t)c * sizeof *a);
        if (a == NULL)
            return false;
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = pid;
    return true;
}

static sf_status_t find_max_pid(void *vctx, sf_mv_scan_t *s, const sf_mv_event_t *ev,
                                sf_err_t *err)
{
    merge_ctx_t *c = vctx;
    if (ev->has_pid && ev->pid < 0)
        return sf_mv_scan_error(s, ev, err, "negative pid %lld cannot be offset",
                                (long long)ev->pid);
    if (ev->has_pid && ev->pid > c->max_pid)
        c->max_pid = ev->pid;
    return SF_OK;
}

static void begin_event(merge_ctx_t *c)
{
    if (c->any_event)
        fputs(",\n", c->f);
    c->any_event = true;
}

static void write_name(merge_ctx_t *c, int64_t pid, const char *name)
{
    begin_event(c);
    fprintf(c->f, "{\"ph\":\"M\",\"pid\":%lld,\"tid\":0,\"ts\":0,\"name\":\"process_name\","
                  "\"args\":{\"name\":",
            (long long)(pid + c->offset));
    size_t n = strlen(c->label) + strlen(name) + 3;
    char *full = malloc(n);
    if (full == NULL) {
        c->oom = true;
        json_str(c->f, "");
    } else {
        snprintf(full, n, "%s: %s", c->label, name);
        json_str(c->f, full);
        free(full);
    }
    fputs("}}", c->f);
}

static sf_status_t copy_event(void *vctx, sf_mv_scan_t *s, const sf_mv_event_t *ev, sf_err_t *err)
{
    merge_ctx_t *c = vctx;
    (void)s;
    (void)err;
    if (!ev->has_pid) { /* global metadata: copied unchanged */
        begin_event(c);
        fwrite(ev->raw, 1, ev->raw_len, c->f);
        return SF_OK;
    }
    if (!add_pid(&c->seen, &c->n_seen, &c->cap_seen, ev->pid))
        c->oom = true;
    if (ev->ph == 'M' && ev->name != NULL && strcmp(ev->name, "process_name") == 0) {
        write_name(c, ev->pid, ev->label != NULL ? ev->label : "");
        if (!add_pid(&c->named, &c->n_named, &c->cap_named, ev->pid))
            c->oom = true;
        return SF_OK;
    }
    begin_event(c);
    if (ev->ph == 'M' && ev->name != NULL && strcmp(ev->name, "process_sort_index") == 0) {
        /* The new pid is the sort key: runs in order, ranks in order. */
        fprintf(c->f, "{\"ph\":\"M\",\"pid\":%lld,\"tid\":0,\"ts\":0,"
                      "\"name\":\"process_sort_index\",\"args\":{\"sort_index\":%lld}}",
                (long long)(ev->pid + c->offset), (long long)(ev->pid + c->offset));
        return SF_OK;
    }
    fwrite(ev->raw, 1, ev->pid_at, c->f);
    fprintf(c->f, "%lld", (long long)(ev->pid + c->offset));
    fwrite(ev->raw + ev->pid_at + ev->pid_len, 1, ev->raw_len - ev->pid_at - ev->pid_len, c->f);
    return SF_OK;
}

sf_status_t sf_mv_merge_write(const char *const *paths, const char *const *labels, int n, FILE *f,
                              sf_err_t *err)
{
    /* Pass 1: load every input as memviz would (so a trace that breaks
     * the buffer pairing is refused too) and find the pid stride. */
    int64_t max_pid = 0;
    for (int k = 0; k < n; k++) {
        merge_ctx_t c = {.max_pid = 0};
        sf_status_t st = sf_mv_scan_file(paths[k], false, find_max_pid, &c, err);
        sf_mv_trace_t *t = NULL;
        if (st == SF_OK)
            st = sf_mv_trace_load(paths[k], &t, err);
        sf_mv_trace_free(t);
        if (st != SF_OK)
            return st;
        if (c.max_pid > max_pid)
            max_pid = c.max_pid;
    }
    int64_t stride = 1000;
    while (stride <= max_pid) {
        if (stride > INT64_MAX / 10 / (n + 1))
            return sf_err_set(err, SF_ERR_INPUT, NULL, "pids too large to offset (%lld)",
                              (long long)max_pid);
        stride *= 10;
    }

    fputs("{\"traceEvents\":[\n", f);
    bool any = false;
    for (int k = 0; k < n; k++) {
        merge_ctx_t c = {.f = f, .label = labels[k], .offset = k * stride, .any_event = any};
        sf_status_t st = sf_mv_scan_file(paths[k], true, copy_event, &c, err);
        if (st == SF_OK)
            for (int i = 0; i < c.n_seen; i++) {
                bool named = false;
                for (int j = 0; j < c.n_named; j++)
                    named = named || c.named[j] == c.seen[i];
                if (!named) {
                    char name[48];
                    snprintf(name, sizeof name, "rank %lld", (long long)c.seen[i]);
                    write_name(&c, c.seen[i], name);
                }
            }
        any = c.any_event;
        free(c.named);
        free(c.seen);
        if (st != SF_OK)
            return st;
        if (c.oom)
            return sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory merging traces");
    }
    fputs("\n],\n\"displayTimeUnit\":\"ms\"}\n", f);
    return SF_OK;
}
