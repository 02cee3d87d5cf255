/* The JSON lexer of the memviz scanner: whitespace, strings (decoded into
 * a per-event scratch), numbers (exact unsigned integers for byte counts)
 * and skipped values, over an input window (a memory map or a 1 MiB read
 * buffer). Every error names the file, line, column and byte offset and
 * what was expected there. */
#include "memviz_scan_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- input window ------------------------------------------------------------ */

bool sf_mv_json_fill(sf_mv_scan_t *s)
{
    if (s->eof)
        return false;
    s->base += s->len;
    s->pos = 0;
    s->len = fread(s->buf, 1, SCAN_WINDOW, s->fp);
    if (s->len == 0) {
        if (ferror(s->fp))
            s->read_errno = errno != 0 ? errno : EIO;
        s->eof = true;
        return false;
    }
    return true;
}

static bool grow(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t n = *cap != 0 ? *cap : 256;
    while (n < need)
        n *= 2;
    char *q = realloc(*p, n);
    if (q == NULL)
        return false;
    *p = q;
    *cap = n;
    return true;
}

void sf_mv_json_raw_put(sf_mv_scan_t *s, const unsigned char *p, size_t n)
{
    if (!grow(&s->raw, &s->raw_cap, s->raw_len + n + 1)) {
        s->oom = true;
        return;
    }
    memcpy(s->raw + s->raw_len, p, n);
    s->raw_len += n;
}


void sf_mv_json_ws_slow(sf_mv_scan_t *s)
{
    for (;;) {
        if (s->pos == s->len && !sf_mv_json_fill(s))
            return;
        unsigned char c = s->buf[s->pos];
        if (c == '\n') {
            s->line++;
            s->line_start = scan_offset(s) + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            return;
        }
        scan_advance(s);
    }
}

/* ---- errors ------------------------------------------------------------------- */

static const char *describe(int c, char *tmp, size_t n)
{
    if (c < 0)
        return "end of file (truncated trace?)";
    if (c >= 0x20 && c < 0x7f)
        snprintf(tmp, n, "'%c'", c);
    else
        snprintf(tmp, n, "byte 0x%02x", (unsigned)c);
    return tmp;
}

sf_status_t sf_mv_json_errv(sf_mv_scan_t *s, uint64_t off, int line, int col, sf_err_t *err,
                             const char *fmt, va_list ap)
{
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    sf_pos_t pos = {.file = s->path, .line = line, .col = col};
    return sf_err_set(err, SF_ERR_PARSE, &pos, "%s (byte %llu)", msg, (unsigned long long)off);
}

/* An error at the current position. */
sf_status_t sf_mv_json_err(sf_mv_scan_t *s, sf_err_t *err, const char *fmt, ...)
{
    if (s->read_errno != 0) {
        sf_pos_t pos = {.file = s->path};
        return sf_err_set(err, SF_ERR_IO, &pos, "read failed: %s", strerror(s->read_errno));
    }
    if (s->oom)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory reading %s", s->path);
    uint64_t off = scan_offset(s);
    va_list ap;
    va_start(ap, fmt);
    sf_status_t st = sf_mv_json_errv(s, off, s->line, (int)(off - s->line_start) + 1, err, fmt, ap);
    va_end(ap);
    return st;
}

sf_status_t sf_mv_json_expected(sf_mv_scan_t *s, const char *what, sf_err_t *err)
{
    char tmp[16];
    return sf_mv_json_err(s, err, "expected %s, got %s", what, describe(scan_peek(s), tmp, sizeof tmp));
}


/* ---- values -------------------------------------------------------------------- */

bool sf_mv_json_text_put(sf_mv_scan_t *s, const char *p, size_t n)
{
    if (!grow(&s->text, &s->text_cap, s->text_len + n + 1)) {
        s->oom = true;
        return false;
    }
    memcpy(s->text + s->text_len, p, n);
    s->text_len += n;
    return true;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static sf_status_t scan_hex4(sf_mv_scan_t *s, unsigned *out, sf_err_t *err)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(scan_peek(s));
        if (h < 0)
            return sf_mv_json_expected(s, "4 hex digits after \\u", err);
        v = v * 16 + (unsigned)h;
        scan_advance(s);
    }
    *out = v;
    return SF_OK;
}

static void put_utf8(sf_mv_scan_t *s, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    sf_mv_json_text_put(s, u, n);
}

/* A string into the scratch; *at receives its offset there (NUL-terminated).
 * keep=false parses and drops it. */
sf_status_t sf_mv_json_string(sf_mv_scan_t *s, size_t *at, bool keep, sf_err_t *err)
{
    if (!expect_char(s, '"'))
        return sf_mv_json_expected(s, "a string", err);
    size_t start = s->text_len;
    for (;;) {
        if (s->pos == s->len && !sf_mv_json_fill(s))
            return sf_mv_json_err(s, err, "unterminated string: end of file (truncated trace?)");
        /* Fast path: copy a run of plain bytes straight out of the window. */
        size_t i = s->pos;
        while (i < s->len && s->buf[i] != '"' && s->buf[i] != '\\' && s->buf[i] >= 0x20)
            i++;
        if (i > s->pos) {
            if (keep)
                sf_mv_json_text_put(s, (const char *)s->buf + s->pos, i - s->pos);
            if (s->capturing)
                sf_mv_json_raw_put(s, s->buf + s->pos, i - s->pos);
            s->pos = i;
            continue;
        }
        int c = s->buf[s->pos];
        if (c == '"') {
            scan_advance(s);
            break;
        }
        if (c < 0x20)
            return sf_mv_json_err(s, err, "control character 0x%02x inside a string", (unsigned)c);
        scan_advance(s); /* the backslash */
        int e = scan_peek(s);
        if (e < 0)
            return sf_mv_json_err(s, err, "unterminated string: end of file (truncated trace?)");
        scan_advance(s);
        char ch;
        switch (e) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            unsigned cp;
            sf_status_t st = scan_hex4(s, &cp, err);
            if (st != SF_OK)
                return st;
            if (cp >= 0xd800 && cp <= 0xdbff && scan_peek(s) == '\\') {
                scan_advance(s);
                unsigned lo;
                if (!expect_char(s, 'u') || (st = scan_hex4(s, &lo, err)) != SF_OK)
                    return st != SF_OK ? st : sf_mv_json_expected(s, "a low surrogate \\uDC00..", err);
                cp = (lo >= 0xdc00 && lo <= 0xdfff)
                         ? 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00)
                         : 0xfffd;
            } else if (cp >= 0xd800 && cp <= 0xdfff) {
                cp = 0xfffd;
            }
            if (keep)
                put_utf8(s, cp);
            continue;
        }
        default:
            s->pos--; /* point at the bad escape letter */
            return sf_mv_json_err(s, err, "invalid escape '\\%c' in a string", e);
        }
        if (keep)
            sf_mv_json_text_put(s, &ch, 1);
    }
    if (keep) {
        char nul = '\0';
        sf_mv_json_text_put(s, &nul, 1);
        *at = start;
    } else {
        s->text_len = start;
    }
    return s->oom ? sf_mv_json_err(s, err, "out of memory") : SF_OK;
}

/* Clinger's fast path: "[-]digits[.digits]" with at most 15 significant
 * digits is mantissa / 10^k, both exact doubles, so one correctly rounded
 * division gives strtod's answer. Traces are full of "12.659"; strtod costs
 * more than the rest of the scan. */
static bool fast_number(const char *p, size_t n, double *d)
{
    static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    size_t i = 0;
    bool neg = p[0] == '-';
    if (neg)
        i++;
    uint64_t m = 0;
    int digits = 0, frac = -1;
    for (; i < n; i++) {
        char c = p[i];
        if (c >= '0' && c <= '9') {
            m = m * 10 + (uint64_t)(c - '0');
            if (m != 0 || frac >= 0)
                digits++;
            if (frac >= 0)
                frac++;
        } else if (c == '.' && frac < 0 && i > (size_t)neg && i + 1 < n) {
            frac = 0;
        } else {
            return false;
        }
        if (digits > 15)
            return false;
    }
    if (i == (size_t)neg)
        return false;
    double v = (double)m / pow10[frac > 0 ? frac : 0];
    *d = neg ? -v : v;
    return true;
}

/* A JSON number: *d always; *u and *is_uint when it is a plain unsigned
 * integer that fits in 64 bits (bytes must stay exact past 2^53). */
sf_status_t sf_mv_json_number(sf_mv_scan_t *s, double *d, uint64_t *u, bool *is_uint,
                               sf_err_t *err)
{
    /* Fast path, straight from the window: [-]int[.frac] with at most 15
     * significant digits, followed by a delimiter (checked, so a number cut
     * by the window's end takes the slow path). */
    {
        size_t i = s->pos, end = s->len;
        bool neg = i < end && s->buf[i] == '-';
        i += neg;
        size_t int_start = i;
        uint64_t m = 0;
        int sig = 0, frac = 0;
        while (i < end && s->buf[i] >= '0' && s->buf[i] <= '9') {
            m = m * 10 + (uint64_t)(s->buf[i] - '0');
            sig += m != 0;
            i++;
        }
        size_t n_int = i - int_start;
        bool ok = n_int > 0 && !(n_int > 1 && s->buf[int_start] == '0');
        if (ok && i < end && s->buf[i] == '.') {
            i++;
            size_t f0 = i;
            while (i < end && s->buf[i] >= '0' && s->buf[i] <= '9') {
                m = m * 10 + (uint64_t)(s->buf[i] - '0');
                sig += m != 0;
                frac++;
                i++;
            }
            ok = i > f0;
        }
        if (ok && sig <= 15 && frac <= 15 && i < end && s->buf[i] != 'e' && s->buf[i] != 'E') {
            static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                           1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
            double v = (double)m / pow10[frac];
            *d = neg ? -v : v;
            if (u != NULL) {
                *u = m;
                *is_uint = !neg && frac == 0;
            }
            if (s->capturing)
                sf_mv_json_raw_put(s, s->buf + s->pos, i - s->pos);
            s->pos = i;
            return SF_OK;
        }
    }

    char tmp[64];
    size_t n = 0;
    bool plain = true, overflow = false;
    uint64_t v = 0;
    int c = scan_peek(s);
    if (c == '-') {
        plain = false;
        tmp[n++] = '-';
        scan_advance(s);
        c = scan_peek(s);
    }
    if (c < '0' || c > '9')
        return sf_mv_json_expected(s, "a digit", err);
    /* Fast path: the whole number sits in the window. */
    size_t e = s->pos;
    while (e < s->len && e - s->pos < sizeof tmp - 2 &&
           ((s->buf[e] >= '0' && s->buf[e] <= '9') || s->buf[e] == '.'))
        e++;
    if (e < s->len && s->buf[e] != 'e' && s->buf[e] != 'E' && s->buf[e] != '+' &&
        s->buf[e] != '-' && !(s->buf[e] >= '0' && s->buf[e] <= '9') && s->buf[e] != '.') {
        for (size_t i = s->pos; i < e; i++) {
            c = s->buf[i];
            if (c >= '0' && c <= '9' && plain) {
                uint64_t dgt = (uint64_t)(c - '0');
                if (v > (UINT64_MAX - dgt) / 10)
                    overflow = true;
                v = v * 10 + dgt;
            } else if (c == '.') {
                plain = false;
            }
            tmp[n++] = (char)c;
        }
        if (s->capturing)
            sf_mv_json_raw_put(s, s->buf + s->pos, e - s->pos);
        s->pos = e;
    }
    while ((c = scan_peek(s)) >= 0 &&
           ((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) {
        if (n + 1 >= sizeof tmp)
            return sf_mv_json_err(s, err, "number too long");
        if (c >= '0' && c <= '9' && plain) {
            uint64_t dgt = (uint64_t)(c - '0');
            if (v > (UINT64_MAX - dgt) / 10)
                overflow = true;
            v = v * 10 + dgt;
        } else if (!(c >= '0' && c <= '9')) {
            plain = false;
        }
        tmp[n++] = (char)c;
        scan_advance(s);
    }
    tmp[n] = '\0';
    size_t lead = tmp[0] == '-' ? 1 : 0; /* JSON forbids leading zeros: "012" */
    if (n > lead + 1 && tmp[lead] == '0' && tmp[lead + 1] >= '0' && tmp[lead + 1] <= '9')
        return sf_mv_json_err(s, err, "malformed number '%s'", tmp);
    if (!fast_number(tmp, n, d)) {
        char *end = NULL;
        *d = strtod(tmp, &end);
        if (end == NULL || *end != '\0')
            return sf_mv_json_err(s, err, "malformed number '%s'", tmp);
    }
    if (u != NULL) {
        *u = v;
        *is_uint = plain && !overflow;
    }
    return SF_OK;
}

sf_status_t sf_mv_json_literal(sf_mv_scan_t *s, const char *word, sf_err_t *err)
{
    for (const char *w = word; *w != '\0'; w++) {
        if (scan_peek(s) != *w) {
            char what[32];
            snprintf(what, sizeof what, "'%s'", word);
            return sf_mv_json_expected(s, what, err);
        }
        scan_advance(s);
    }
    return SF_OK;
}

/* Skip any JSON value. */
sf_status_t sf_mv_json_skip(sf_mv_scan_t *s, int depth, sf_err_t *err)
{
    if (depth > SCAN_MAX_DEPTH)
        return sf_mv_json_err(s, err, "values nested deeper than %d", SCAN_MAX_DEPTH);
    scan_ws(s);
    int c = scan_peek(s);
    sf_status_t st;
    if (c == '"')
        return sf_mv_json_string(s, NULL, false, err);
    if (c == '{' || c == '[') {
        int close = c == '{' ? '}' : ']';
        scan_advance(s);
        scan_ws(s);
        if (expect_char(s, close))
            return SF_OK;
        for (;;) {
            if (c == '{') {
                scan_ws(s);
                if ((st = sf_mv_json_string(s, NULL, false, err)) != SF_OK)
                    return st;
                scan_ws(s);
                if (!expect_char(s, ':'))
                    return sf_mv_json_expected(s, "':' after a key", err);
            }
            if ((st = sf_mv_json_skip(s, depth + 1, err)) != SF_OK)
                return st;
            scan_ws(s);
            if (expect_char(s, close))
                return SF_OK;
            if (!expect_char(s, ','))
                return sf_mv_json_expected(s, close == '}' ? "',' or '}'" : "',' or ']'", err);
        }
    }
    if (c == 't')
        return sf_mv_json_literal(s, "true", err);
    if (c == 'f')
        return sf_mv_json_literal(s, "false", err);
    if (c == 'n')
        return sf_mv_json_literal(s, "null", err);
    double d;
    if (c == '-' || (c >= '0' && c <= '9'))
        return sf_mv_json_number(s, &d, NULL, NULL, err);
    return sf_mv_json_expected(s, "a JSON value", err);
}

