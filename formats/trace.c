/* Chrome trace writer; see trace.h.
 *
 * Events go straight to stdio as they happen: the trace keeps no list, so
 * its memory does not grow with the run. Observers cannot fail (sf_mem
 * calls them mid-allocation), so the first write error is only recorded
 * here and reported by sf_trace_close, which then removes the partial file.
 *
 * Format notes (Trace Event Format, object form):
 * - buffer lifetimes are nestable async spans ("b"/"e"). Their id goes in
 *   "id2": {"local": "0x.."}: buffer ids restart at 0 on every rank, and a
 *   plain "id" is global in Perfetto's importer, so two ranks' buffer 0x3
 *   would land on one track. A local id is scoped by pid (= rank).
 *   Perfetto pairs "b" with "e" by (pid, cat, id, name), so both carry the
 *   tensor name.
 * - ts and dur are microseconds with three decimals (nanoseconds). */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outfile.h"
#include "tensor.h"

struct sf_trace {
    sf_outfile_t out; /* owned: the temporary file, renamed over the path at close */
    FILE *fp;         /* borrowed: out.fp */
    bool any_event;  /* an event was written: the next one needs a comma */
    int write_errno; /* first failed write (0: none); reported at close */
};

/* ---- JSON output ----------------------------------------------------------- */

/* Length of the valid UTF-8 sequence starting at s, or 0 if it is not one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static int tr_utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    int n;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1fu;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0fu;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07u;
    else
        return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0u) != 0x80u) /* also stops at the NUL */
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* A JSON string literal. Names come from user files: quotes, backslashes
 * and control characters are escaped, and bytes that are not UTF-8 become
 * U+FFFD, so the trace always parses. NULL writes "". */
static void tr_str(FILE *fp, const char *s)
{
    fputc('"', fp);
    const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
    while (*p != '\0') {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            fputc('\\', fp);
            fputc((int)c, fp);
            p++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n': fputs("\\n", fp); break;
            case '\r': fputs("\\r", fp); break;
            case '\t': fputs("\\t", fp); break;
            case '\b': fputs("\\b", fp); break;
            case '\f': fputs("\\f", fp); break;
            default: fprintf(fp, "\\u%04x", c); break;
            }
            p++;
        } else {
            int n = tr_utf8_len(p);
            if (n == 0) {
                fputs("\\ufffd", fp);
                p++;
            } else {
                fwrite(p, 1, (size_t)n, fp);
                p += n;
            }
        }
    }
    fputc('"', fp);
}

/* JSON has no NaN or infinity; a broken clock must not break the file. */
static double tr_finite(double v)
{
    return isfinite(v) ? v : 0.0;
}

/* Start one event: lock the stream (ranks may share a trace from several
 * threads), separate it from the previous one, write the common fields. */
static void tr_begin(sf_trace_t *tr, char ph, int rank, double ts_us)
{
    flockfile(tr->fp);
    if (tr->any_event)
        fputs(",\n", tr->fp);
    tr->any_event = true;
    fprintf(tr->fp, "{\"ph\":\"%c\",\"pid\":%d,\"tid\":0,\"ts\":%.3f", ph, rank,
            tr_finite(ts_us));
}

static void tr_end(sf_trace_t *tr)
{
    fputc('}', tr->fp);
    if (tr->write_errno == 0 && ferror(tr->fp))
        tr->write_errno = errno != 0 ? errno : EIO;
    funlockfile(tr->fp);
}

/* ,"key":"value" */
static void tr_kv_str(FILE *fp, const char *key, const char *value)
{
    fprintf(fp, ",\"%s\":", key);
    tr_str(fp, value);
}

/* ---- public ---------------------------------------------------------------- */

sf_status_t sf_trace_open(const char *path, sf_trace_t **out, sf_err_t *err)
{
    *out = NULL;
    sf_trace_t *tr = calloc(1, sizeof *tr);
    if (tr == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory opening trace %s", path);
    sf_status_t st = sf_outfile_open(path, 0, &tr->out, err);
    if (st != SF_OK) {
        free(tr);
        return st;
    }
    tr->fp = tr->out.fp;
    fputs("{\"traceEvents\":[\n", tr->fp);
    if (ferror(tr->fp))
        tr->write_errno = errno != 0 ? errno : EIO;
    *out = tr;
    return SF_OK;
}

void sf_trace_process(sf_trace_t *tr, int rank, const char *name)
{
    if (tr == NULL)
        return;
    char label[512];
    if (name != NULL && name[0] != '\0')
        snprintf(label, sizeof label, "rank %d: %s", rank, name);
    else
        snprintf(label, sizeof label, "rank %d", rank);
    tr_begin(tr, 'M', rank, 0.0);
    fputs(",\"name\":\"process_name\",\"args\":{", tr->fp);
    fputs("\"name\":", tr->fp);
    tr_str(tr->fp, label);
    fputc('}', tr->fp);
    tr_end(tr);
    /* Perfetto and chrome://tracing order processes by this, so rank 0
     * comes first rather than in pid-hash order. */
    tr_begin(tr, 'M', rank, 0.0);
    fprintf(tr->fp, ",\"name\":\"process_sort_index\",\"args\":{\"sort_index\":%d}", rank);
    tr_end(tr);
}

void sf_trace_node(sf_trace_t *tr, int rank, const char *node, const char *op, double start_us,
                   double end_us)
{
    if (tr == NULL)
        return;
    double dur = tr_finite(end_us) - tr_finite(start_us);
    tr_begin(tr, 'X', rank, start_us);
    fprintf(tr->fp, ",\"dur\":%.3f,\"cat\":\"node\"", dur > 0 ? dur : 0.0);
    tr_kv_str(tr->fp, "name", node);
    fputs(",\"args\":{\"op\":", tr->fp);
    tr_str(tr->fp, op);
    fputc('}', tr->fp);
    tr_end(tr);
}

void sf_trace_mem_event(sf_trace_t *tr, int rank, const sf_mem_event_t *ev)
{
    if (tr == NULL)
        return;
    const sf_buffer_t *b = ev->buf;
    tr_begin(tr, 'C', rank, ev->time_us);
    fprintf(tr->fp, ",\"name\":\"allocated\",\"args\":{\"bytes\":%" PRIu64 "}", ev->live_bytes);
    tr_end(tr);
    /* A caching allocator's second counter, as PyTorch's snapshot has it. */
    if (ev->reserved_bytes != 0) {
        tr_begin(tr, 'C', rank, ev->time_us);
        fprintf(tr->fp, ",\"name\":\"reserved\",\"args\":{\"bytes\":%" PRIu64 "}",
                ev->reserved_bytes);
        tr_end(tr);
    }

    bool alloc = ev->kind == SF_MEM_EV_ALLOC;
    tr_begin(tr, alloc ? 'b' : 'e', rank, ev->time_us);
    fputs(",\"cat\":\"buffer\"", tr->fp);
    tr_kv_str(tr->fp, "name", b->tensor != NULL ? b->tensor : "buffer");
    fprintf(tr->fp, ",\"id2\":{\"local\":\"0x%" PRIx64 "\"}", (uint64_t)b->id);
    if (alloc) {
        char shape[SF_MAX_DIMS * 24 + 4];
        sf_shape_format(b->ndim, b->shape, shape, sizeof shape);
        fputs(",\"args\":{\"tensor\":", tr->fp);
        tr_str(tr->fp, b->tensor);
        tr_kv_str(tr->fp, "shape", shape);
        tr_kv_str(tr->fp, "dtype", sf_dtype_name(b->dtype));
        fprintf(tr->fp, ",\"bytes\":%" PRIu64 ",\"requested_bytes\":%" PRIu64, b->counted_bytes,
                b->nbytes);
        tr_kv_str(tr->fp, "alloc_node", b->alloc_node);
        fputc('}', tr->fp);
    } else {
        fputs(",\"args\":{\"free_node\":", tr->fp);
        tr_str(tr->fp, ev->free_node);
        fputc('}', tr->fp);
    }
    tr_end(tr);
}

void sf_trace_mem_observer(void *ctx, const sf_mem_event_t *ev)
{
    const sf_trace_rank_t *r = ctx;
    sf_trace_mem_event(r->tr, r->rank, ev);
}

sf_status_t sf_trace_close(sf_trace_t *tr, sf_err_t *err)
{
    SF_ASSERT(tr != NULL);
    fputs("\n],\n\"displayTimeUnit\":\"ms\"}\n", tr->fp);
    int e = tr->write_errno;
    if (e == 0 && ferror(tr->fp))
        e = errno != 0 ? errno : EIO;
    if (e != 0) {
        sf_pos_t pos = {.file = tr->out.path};
        sf_status_t st = sf_err_set(err, SF_ERR_IO, &pos, "cannot write trace: %s", strerror(e));
        sf_trace_abort(tr); /* removes the temporary file */
        return st;
    }
    sf_status_t st = sf_outfile_commit(&tr->out, err);
    free(tr);
    return st;
}

void sf_trace_abort(sf_trace_t *tr)
{
    if (tr == NULL)
        return;
    sf_outfile_abort(&tr->out);
    free(tr);
}
