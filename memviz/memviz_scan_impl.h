/* Private to the memviz scanner (memviz_json.c: the JSON lexer over the
 * input window; memviz_scan.c: the trace shape and its events). */
#ifndef SF_MEMVIZ_SCAN_IMPL_H
#define SF_MEMVIZ_SCAN_IMPL_H

#include <stdio.h>

#include "memviz_scan.h"

#define SCAN_WINDOW (1u << 20)
#define SCAN_MAX_DEPTH 64

struct sf_mv_scan {
    FILE *fp;               /* owned */
    const char *path;       /* borrowed: the caller's */
    unsigned char *buf;     /* owned: the window */
    size_t pos, len;
    uint64_t base;          /* file offset of buf[0] */
    int line;               /* of buf[pos] */
    uint64_t line_start;    /* file offset of the current line's first byte */
    bool eof;
    int read_errno;
    /* Scratch for one event's strings; offsets, since it may move. */
    char *text;             /* owned */
    size_t text_len, text_cap;
    /* --merge: the raw bytes of the current event. */
    bool capturing;
    char *raw;              /* owned */
    size_t raw_len, raw_cap;
    bool oom;
};

/* Refill the window; false at the end of the input. */
bool sf_mv_json_fill(sf_mv_scan_t *s);
void sf_mv_json_ws_slow(sf_mv_scan_t *s);
/* Append to the event's raw copy (--merge) / to the string scratch. */
void sf_mv_json_raw_put(sf_mv_scan_t *s, const unsigned char *p, size_t n);
bool sf_mv_json_text_put(sf_mv_scan_t *s, const char *p, size_t n);

static inline uint64_t scan_offset(const sf_mv_scan_t *s)
{
    return s->base + s->pos;
}

/* Next byte without consuming it; -1 at the end of the file. */
static inline int scan_peek(sf_mv_scan_t *s)
{
    if (s->pos == s->len && !sf_mv_json_fill(s))
        return -1;
    return s->buf[s->pos];
}

static inline void scan_advance(sf_mv_scan_t *s)
{
    if (s->capturing)
        sf_mv_json_raw_put(s, s->buf + s->pos, 1);
    s->pos++;
}

/* Most calls find no whitespace at all: answer those without a loop. */
static inline void scan_ws(sf_mv_scan_t *s)
{
    if (s->pos < s->len) {
        unsigned char c = s->buf[s->pos];
        if (c != ' ' && c != '\n' && c != '\t' && c != '\r')
            return;
    }
    sf_mv_json_ws_slow(s);
}

static inline bool expect_char(sf_mv_scan_t *s, int c)
{
    if (scan_peek(s) != c)
        return false;
    scan_advance(s);
    return true;
}

/* Errors at the current position: file:line:col and the byte offset. */
sf_status_t sf_mv_json_err(sf_mv_scan_t *s, sf_err_t *err, const char *fmt, ...) SF_PRINTF(3, 4);
sf_status_t sf_mv_json_expected(sf_mv_scan_t *s, const char *what, sf_err_t *err);
sf_status_t sf_mv_json_errv(sf_mv_scan_t *s, uint64_t off, int line, int col, sf_err_t *err,
                            const char *fmt, va_list ap);

/* Values. A string goes to the scratch (*at = its offset, NUL-terminated)
 * unless keep is false; a number gives *d, and *u and *is_uint when u is not
 * NULL; skip consumes any value. */
sf_status_t sf_mv_json_string(sf_mv_scan_t *s, size_t *at, bool keep, sf_err_t *err);
sf_status_t sf_mv_json_number(sf_mv_scan_t *s, double *d, uint64_t *u, bool *is_uint,
                              sf_err_t *err);
sf_status_t sf_mv_json_literal(sf_mv_scan_t *s, const char *word, sf_err_t *err);
sf_status_t sf_mv_json_skip(sf_mv_scan_t *s, int depth, sf_err_t *err);

#endif
