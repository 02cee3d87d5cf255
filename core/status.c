/* Error recording and rendering. Nothing here allocates: an out-of-memory
 * path must still be able to say what happened. */
#include "status.h"

#include <string.h>

sf_status_t sf_err_setv(sf_err_t *err, sf_status_t code, const sf_pos_t *pos,
                        const char *fmt, va_list ap)
{
    if (err == NULL || err->code != SF_OK)
        return code;
    err->code = code;
    err->file[0] = '\0';
    err->line = 0;
    err->col = 0;
    if (pos != NULL) {
        if (pos->file != NULL)
            snprintf(err->file, sizeof err->file, "%s", pos->file);
        err->line = pos->line;
        err->col = pos->col;
    }
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return code;
}

sf_status_t sf_err_set(sf_err_t *err, sf_status_t code, const sf_pos_t *pos,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sf_status_t st = sf_err_setv(err, code, pos, fmt, ap);
    va_end(ap);
    return st;
}

void sf_err_clear(sf_err_t *err)
{
    memset(err, 0, sizeof *err);
}

void sf_err_format(const sf_err_t *err, char *out, size_t n)
{
    if (n == 0)
        return;
    if (err->file[0] != '\0' && err->line > 0 && err->col > 0)
        snprintf(out, n, "%s:%d:%d: error: %s", err->file, err->line, err->col, err->msg);
    else if (err->file[0] != '\0' && err->line > 0)
        snprintf(out, n, "%s:%d: error: %s", err->file, err->line, err->msg);
    else if (err->file[0] != '\0')
        snprintf(out, n, "%s: error: %s", err->file, err->msg);
    else
        snprintf(out, n, "error: %s", err->msg);
}

void sf_err_print(const sf_err_t *err, FILE *f)
{
    char buf[1024];
    sf_err_format(err, buf, sizeof buf);
    fprintf(f, "%s\n", buf);
}

int sf_status_exit_code(sf_status_t code)
{
    switch (code) {
    case SF_OK:
        return 0;
    case SF_ERR_PARSE:
    case SF_ERR_GRAPH:
    case SF_ERR_INPUT:
        return 2;
    default:
        return 1;
    }
}

const char *sf_status_name(sf_status_t code)
{
    static const char *const names[] = {
        [SF_OK] = "ok",           [SF_INPROGRESS] = "in progress",
        [SF_ERR_PARSE] = "parse", [SF_ERR_GRAPH] = "graph",
        [SF_ERR_INPUT] = "input", [SF_ERR_IO] = "io",
        [SF_ERR_NOMEM] = "out of memory", [SF_ERR_DEVICE] = "device",
        [SF_ERR_COMM] = "comm",   [SF_ERR_UNSUPPORTED] = "unsupported",
        [SF_ERR_TIMEOUT] = "timeout",
    };
    if ((unsigned)code < sizeof names / sizeof names[0] && names[code] != NULL)
        return names[code];
    return "unknown";
}

void sf_assert_fail(const char *file, int line, const char *cond)
{
    fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, cond);
    fflush(stderr);
    abort();
}
