/* The trace shape over the JSON lexer (memviz_json.c): the top-level
 * object with "traceEvents" (or a bare array), and each event as a flat
 * record for the callback, with the keys formats/trace.c writes decoded and
 * every other key skipped as a JSON value. */
#include "memviz_scan_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_read.h"

sf_status_t sf_mv_scan_error(sf_mv_scan_t *s, const sf_mv_event_t *ev, sf_err_t *err,
                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sf_status_t st = sf_mv_json_errv(s, ev->offset, ev->line, ev->col, err, fmt, ap);
    va_end(ap);
    return st;
}

/* ---- events ----------------------------------------------------------------------- */

/* Where each string field of the event sits in the scratch (+1; 0 = absent). */
typedef struct ev_strs {
    size_t name, cat, id, tensor, shape, dtype, alloc_node, free_node, op, label, ph;
} ev_strs_t;

/* key (NUL-terminated, in a 32-byte buffer) equals the literal: a fixed-size
 * memcmp the compiler inlines, unlike strcmp. */
#define KEY_IS(key, lit) (memcmp((key), lit, sizeof lit) == 0)

/* A key into key[32] (longer keys are cut: they match no key we know).
 * Keys are short and plain, so they are matched straight in the window. */
static sf_status_t scan_key(sf_mv_scan_t *s, char key[32], sf_err_t *err)
{
    if (s->pos < s->len && s->buf[s->pos] == '"') {
        size_t i = s->pos + 1;
        while (i < s->len && i - s->pos <= 32 && s->buf[i] != '"' && s->buf[i] != '\\' &&
               s->buf[i] >= 0x20)
            i++;
        if (i < s->len && s->buf[i] == '"' && i - s->pos <= 32) {
            size_t n = i - s->pos - 1;
            memcpy(key, s->buf + s->pos + 1, n);
            key[n] = '\0';
            if (s->capturing)
                sf_mv_json_raw_put(s, s->buf + s->pos, n + 2);
            s->pos = i + 1;
            return SF_OK;
        }
    }
    size_t at = 0, start = s->text_len;
    sf_status_t st = sf_mv_json_string(s, &at, true, err);
    if (st != SF_OK)
        return st;
    size_t klen = s->text_len - at - 1;
    if (klen > 31)
        klen = 31;
    memcpy(key, s->text + at, klen);
    key[klen] = '\0';
    s->text_len = start;
    return SF_OK;
}

typedef sf_status_t (*member_fn)(sf_mv_scan_t *s, const char *key, void *ctx, sf_err_t *err);

/* Iterate the members of an object, calling fn with each key; the value
 * is fn's to consume. */
static sf_status_t scan_object(sf_mv_scan_t *s, member_fn fn, void *ctx, sf_err_t *err)
{
    scan_ws(s);
    if (!expect_char(s, '{'))
        return sf_mv_json_expected(s, "'{'", err);
    scan_ws(s);
    if (expect_char(s, '}'))
        return SF_OK;
    for (;;) {
        scan_ws(s);
        char key[32];
        sf_status_t st = scan_key(s, key, err);
        if (st != SF_OK)
            return st;
        scan_ws(s);
        if (!expect_char(s, ':'))
            return sf_mv_json_expected(s, "':' after a key", err);
        scan_ws(s);
        if ((st = fn(s, key, ctx, err)) != SF_OK)
            return st;
        scan_ws(s);
        if (expect_char(s, '}'))
            return SF_OK;
        if (!expect_char(s, ','))
            return sf_mv_json_expected(s, "',' or '}' in an object", err);
    }
}

typedef struct ev_ctx {
    sf_mv_event_t *ev;
    ev_strs_t at;
    size_t pid_raw_at, pid_raw_end;
} ev_ctx_t;

static sf_status_t take_str(sf_mv_scan_t *s, size_t *slot, sf_err_t *err)
{
    if (scan_peek(s) != '"')
        return sf_mv_json_skip(s, 1, err); /* a non-string where we expect one: ignored */
    size_t at;
    sf_status_t st = sf_mv_json_string(s, &at, true, err);
    if (st == SF_OK)
        *slot = at + 1;
    return st;
}

static sf_status_t take_num(sf_mv_scan_t *s, const char *key, double *d, uint64_t *u, bool *has,
                            sf_err_t *err)
{
    int c = scan_peek(s);
    if (c != '-' && !(c >= '0' && c <= '9')) {
        char what[48];
        snprintf(what, sizeof what, "a number for \"%s\"", key);
        return sf_mv_json_expected(s, what, err);
    }
    bool is_uint = false;
    uint64_t uv = 0;
    sf_status_t st = sf_mv_json_number(s, d, &uv, &is_uint, err);
    if (st != SF_OK)
        return st;
    if (u != NULL) {
        if (!is_uint) {
            if (*d < 0 || *d != *d || *d >= 18446744073709551616.0)
                return sf_mv_json_err(s, err, "\"%s\" must be a non-negative integer", key);
            uv = (uint64_t)*d;
        }
        *u = uv;
    }
    if (has != NULL)
        *has = true;
    return SF_OK;
}

/* d as an int64 when it is one exactly. The range test comes first: casting
 * a double outside int64's range (or NaN) is undefined behaviour. */
static bool exact_int64(double d, int64_t *out)
{
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
        return false;
    *out = (int64_t)d;
    return (double)*out == d;
}

static sf_status_t id2_member(sf_mv_scan_t *s, const char *key, void *vctx, sf_err_t *err)
{
    ev_ctx_t *c = vctx;
    if (KEY_IS(key, "local") || KEY_IS(key, "global"))
        return take_str(s, &c->at.id, err);
    return sf_mv_json_skip(s, 2, err);
}

static sf_status_t args_member(sf_mv_scan_t *s, const char *key, void *vctx, sf_err_t *err)
{
    ev_ctx_t *c = vctx;
    sf_mv_event_t *ev = c->ev;
    double d;
    switch (key[0]) {
    case 'a':
        if (KEY_IS(key, "alloc_node"))
            return take_str(s, &c->at.alloc_node, err);
        break;
    case 'b':
        if (KEY_IS(key, "bytes"))
            return take_num(s, "args.bytes", &d, &ev->bytes, &ev->has_bytes, err);
        break;
    case 'd':
        if (KEY_IS(key, "dtype"))
            return take_str(s, &c->at.dtype, err);
        break;
    case 'f':
        if (KEY_IS(key, "free_node"))
            return take_str(s, &c->at.free_node, err);
        break;
    case 'n':
        if (KEY_IS(key, "name"))
            return take_str(s, &c->at.label, err);
        break;
    case 'o':
        if (KEY_IS(key, "op"))
            return take_str(s, &c->at.op, err);
        break;
    case 'r':
        if (KEY_IS(key, "requested_bytes"))
            return take_num(s, "args.requested_bytes", &d, &ev->requested_bytes, NULL, err);
        break;
    case 's':
        if (KEY_IS(key, "shape"))
            return take_str(s, &c->at.shape, err);
        if (KEY_IS(key, "sort_index") && scan_peek(s) != '"') {
            sf_status_t st = take_num(s, "args.sort_index", &d, NULL, &ev->has_sort_index, err);
            if (st == SF_OK && !exact_int64(d, &ev->sort_index))
                return sf_mv_json_err(s, err, "\"args.sort_index\" must be an integer");
            return st;
        }
        break;
    case 't':
        if (KEY_IS(key, "tensor"))
            return take_str(s, &c->at.tensor, err);
        break;
    default:
        break;
    }
    return sf_mv_json_skip(s, 2, err);
}

static sf_status_t event_member(sf_mv_scan_t *s, const char *key, void *vctx, sf_err_t *err)
{
    ev_ctx_t *c = vctx;
    sf_mv_event_t *ev = c->ev;
    double d;
    switch (key[0]) {
    case 'a':
        if (KEY_IS(key, "args") && scan_peek(s) == '{') {
            /* Counter samples are most of a trace and memviz recomputes
             * them: skip their args without decoding (ph comes first in
             * runtime traces; otherwise args are decoded as usual). */
            const char *ph = c->at.ph != 0 ? s->text + c->at.ph - 1 : NULL;
            if (ph != NULL && ph[0] == 'C' && ph[1] == '\0')
                return sf_mv_json_skip(s, 1, err);
            return scan_object(s, args_member, c, err);
        }
        break;
    case 'c':
        if (KEY_IS(key, "cat"))
            return take_str(s, &c->at.cat, err);
        break;
    case 'd':
        if (KEY_IS(key, "dur"))
            return take_num(s, "dur", &ev->dur_us, NULL, NULL, err);
        break;
    case 'i':
        if (KEY_IS(key, "id2") && scan_peek(s) == '{')
            return scan_object(s, id2_member, c, err);
        if (KEY_IS(key, "id")) {
            if (scan_peek(s) == '"')
                return take_str(s, &c->at.id, err);
            /* A numeric id: keep its text as the id. */
            uint64_t u;
            bool has = false;
            sf_status_t st = take_num(s, "id", &d, &u, &has, err);
            if (st == SF_OK) {
                char num[32];
                int n = snprintf(num, sizeof num, "%llu", (unsigned long long)u);
                c->at.id = s->text_len + 1;
                sf_mv_json_text_put(s, num, (size_t)n + 1);
            }
            return st;
        }
        break;
    case 'n':
        if (KEY_IS(key, "name"))
            return take_str(s, &c->at.name, err);
        break;
    case 'p':
        if (KEY_IS(key, "ph")) {
            if (scan_peek(s) != '"')
                return sf_mv_json_expected(s, "a string for \"ph\"", err);
            return take_str(s, &c->at.ph, err);
        }
        if (KEY_IS(key, "pid")) {
            c->pid_raw_at = s->raw_len;
            sf_status_t st;
            if (scan_peek(s) == '"') {
                /* Some writers quote pids; accept a quoted integer. */
                size_t at;
                if ((st = sf_mv_json_string(s, &at, true, err)) != SF_OK)
                    return st;
                char *end = NULL;
                ev->pid = strtoll(s->text + at, &end, 10);
                if (end == s->text + at || *end != '\0')
                    return sf_mv_json_err(s, err, "\"pid\" must be an integer");
                ev->has_pid = true;
            } else {
                if ((st = take_num(s, "pid", &d, NULL, &ev->has_pid, err)) != SF_OK)
                    return st;
                if (!exact_int64(d, &ev->pid))
                    return sf_mv_json_err(s, err, "\"pid\" must be an integer");
            }
            c->pid_raw_end = s->raw_len;
            return SF_OK;
        }
        break;
    case 't':
        if (KEY_IS(key, "ts"))
            return take_num(s, "ts", &ev->ts_us, NULL, &ev->has_ts, err);
        break;
    default:
        break;
    }
    return sf_mv_json_skip(s, 1, err);
}

static const char *at_str(const sf_mv_scan_t *s, size_t at)
{
    return at == 0 ? NULL : s->text + at - 1;
}

static sf_status_t scan_event(sf_mv_scan_t *s, sf_mv_event_t *ev, sf_err_t *err)
{
    memset(ev, 0, sizeof *ev);
    ev->offset = scan_offset(s);
    ev->line = s->line;
    ev->col = (int)(ev->offset - s->line_start) + 1;
    s->text_len = 0;
    s->raw_len = 0;
    ev_ctx_t c = {.ev = ev};
    if (scan_peek(s) != '{')
        return sf_mv_json_expected(s, "an event object '{'", err);
    sf_status_t st = scan_object(s, event_member, &c, err);
    if (st != SF_OK)
        return st;
    if (s->oom)
        return sf_mv_json_err(s, err, "out of memory");
    const char *ph = at_str(s, c.at.ph);
    if (ph == NULL || ph[0] == '\0')
        return sf_mv_scan_error(s, ev, err, "event without \"ph\"");
    ev->ph = ph[0];
    ev->name = at_str(s, c.at.name);
    ev->cat = at_str(s, c.at.cat);
    ev->id = at_str(s, c.at.id);
    ev->tensor = at_str(s, c.at.tensor);
    ev->shape = at_str(s, c.at.shape);
    ev->dtype = at_str(s, c.at.dtype);
    ev->alloc_node = at_str(s, c.at.alloc_node);
    ev->free_node = at_str(s, c.at.free_node);
    ev->op = at_str(s, c.at.op);
    ev->label = at_str(s, c.at.label);
    if (s->capturing) {
        ev->raw = s->raw;
        ev->raw_len = s->raw_len;
        ev->pid_at = c.pid_raw_at;
        ev->pid_len = c.pid_raw_end - c.pid_raw_at;
    }
    return SF_OK;
}

/* The events array: '[' already consumed. */
static sf_status_t scan_events(sf_mv_scan_t *s, sf_mv_event_fn fn, void *ctx, sf_err_t *err)
{
    sf_mv_event_t ev;
    scan_ws(s);
    if (expect_char(s, ']'))
        return SF_OK;
    for (;;) {
        scan_ws(s);
        sf_status_t st = scan_event(s, &ev, err);
        if (st != SF_OK)
            return st;
        bool was = s->capturing;
        s->capturing = false; /* the separator is not part of the event */
        if ((st = fn(ctx, s, &ev, err)) != SF_OK)
            return st;
        scan_ws(s);
        s->capturing = was;
        if (expect_char(s, ']'))
            return SF_OK;
        if (!expect_char(s, ','))
            return sf_mv_json_expected(s, "',' or ']' after an event", err);
    }
}

sf_status_t sf_mv_scan_file(const char *path, bool capture_raw, sf_mv_event_fn fn, void *ctx,
                            sf_err_t *err)
{
    sf_pos_t fpos = {.file = path};
    sf_mv_scan_t s = {.path = path, .line = 1};
    int fd;
    sf_err_t why = {0};
    sf_status_t opened = sf_file_open_regular(path, NULL, &fd, NULL, &why);
    if (opened != SF_OK)
        return sf_err_set(err, opened, &fpos, "cannot open trace: %s", why.msg);
    s.fp = fdopen(fd, "rb");
    if (s.fp == NULL) {
        close(fd);
        return sf_err_set(err, SF_ERR_IO, &fpos, "cannot open trace: %s", strerror(errno));
    }
    /* A regular file is mapped: the window is then the whole file and the
     * kernel pages it in, with no copy. Anything else is read in windows. */
    struct stat sb;
    void *map = MAP_FAILED;
    size_t map_len = 0;
    if (fstat(fileno(s.fp), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
        map_len = (size_t)sb.st_size;
        map = mmap(NULL, map_len, PROT_READ, MAP_PRIVATE, fileno(s.fp), 0);
    }
    if (map != MAP_FAILED) {
        madvise(map, map_len, MADV_SEQUENTIAL);
        s.buf = map;
        s.len = map_len;
        s.eof = true; /* sf_mv_json_fill: nothing after the mapping */
    } else {
        s.buf = malloc(SCAN_WINDOW);
    }
    sf_status_t st = SF_OK;
    if (s.buf == NULL) {
        st = sf_err_set(err, SF_ERR_NOMEM, &fpos, "out of memory");
        goto done;
    }
    scan_ws(&s);
    int c = scan_peek(&s);
    bool found = false;
    if (c == '[') {
        scan_advance(&s);
        s.capturing = capture_raw;
        st = scan_events(&s, fn, ctx, err);
        s.capturing = false;
        found = true;
    } else if (c == '{') {
        scan_advance(&s);
        scan_ws(&s);
        if (!expect_char(&s, '}')) {
            for (;;) {
                scan_ws(&s);
                size_t at = 0;
                if ((st = sf_mv_json_string(&s, &at, true, err)) != SF_OK)
                    goto done;
                bool is_events = strcmp(s.text + at, "traceEvents") == 0;
                s.text_len = 0;
                scan_ws(&s);
                if (!expect_char(&s, ':')) {
                    st = sf_mv_json_expected(&s, "':' after a key", err);
                    goto done;
                }
                scan_ws(&s);
                if (is_events) {
                    if (found) {
                        st = sf_mv_json_err(&s, err, "a second \"traceEvents\" array");
                        goto done;
                    }
                    if (!expect_char(&s, '[')) {
                        st = sf_mv_json_expected(&s, "'[' to open \"traceEvents\"", err);
                        goto done;
                    }
                    s.capturing = capture_raw;
                    st = scan_events(&s, fn, ctx, err);
                    s.capturing = false;
                    found = true;
                } else {
                    st = sf_mv_json_skip(&s, 1, err);
                }
                if (st != SF_OK)
                    goto done;
                scan_ws(&s);
                if (expect_char(&s, '}'))
                    break;
                if (!expect_char(&s, ',')) {
                    st = sf_mv_json_expected(&s, "',' or '}' at the top level", err);
                    goto done;
                }
            }
        }
    } else {
        st = sf_mv_json_expected(&s, "a Chrome trace ('{' or '[')", err);
        goto done;
    }
    if (st != SF_OK)
        goto done;
    if (!found) {
        st = sf_err_set(err, SF_ERR_PARSE, &fpos, "no \"traceEvents\" array: not a Chrome trace");
        goto done;
    }
    scan_ws(&s);
    if (scan_peek(&s) >= 0)
        st = sf_mv_json_expected(&s, "the end of the file after the trace", err);
    else if (s.read_errno != 0)
        st = sf_err_set(err, SF_ERR_IO, &fpos, "read failed: %s", strerror(s.read_errno));
done:
    fclose(s.fp);
    if (map != MAP_FAILED)
        munmap(map, map_len);
    else
        free(s.buf);
    free(s.text);
    free(s.raw);
    return st;
}
