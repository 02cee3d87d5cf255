/* See trace_merge.h. Parts are copied, not parsed: the events between the
 * first '[' after "traceEvents" and the last ']' are already valid JSON. */
#include "trace_merge.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file_read.h"
#include "outfile.h"

/* The events of one part: [*begin, *end) between the array's brackets. */
static bool events_span(const char *text, size_t len, size_t *begin, size_t *end)
{
    const char *key = strstr(text, "\"traceEvents\"");
    if (key == NULL)
        return false;
    const char *open = strchr(key, '[');
    if (open == NULL)
        return false;
    size_t close = len;
    while (close > 0 && text[close - 1] != ']')
        close--;
    if (close == 0 || text + close - 1 <= open)
        return false;
    *begin = (size_t)(open + 1 - text);
    *end = close - 1;
    /* Trim whitespace so the joining commas land cleanly. */
    while (*begin < *end && strchr(" \t\r\n", text[*begin]) != NULL)
        (*begin)++;
    while (*end > *begin && strchr(" \t\r\n", text[*end - 1]) != NULL)
        (*end)--;
    return true;
}

sf_status_t sf_trace_merge(const char *const *parts, int n, const char *out, bool remove_parts,
                           sf_err_t *err)
{
    sf_outfile_t of;
    sf_status_t st = sf_outfile_open(out, 0, &of, err);
    if (st != SF_OK)
        return st;
    FILE *f = of.fp;
    fputs("{\"traceEvents\":[\n", f);
    bool first = true;
    for (int i = 0; i < n && st == SF_OK; i++) {
        size_t len = 0, b, e;
        char *text = sf_file_read(parts[i], SIZE_MAX, &len);
        if (text == NULL)
            st = sf_err_set(err, SF_ERR_INPUT, NULL, "trace part %s is missing", parts[i]);
        else if (!events_span(text, len, &b, &e))
            st = sf_err_set(err, SF_ERR_INPUT, NULL, "trace part %s is not a Chrome trace",
                            parts[i]);
        else if (e > b) {
            if (!first)
                fputs(",\n", f);
            fwrite(text + b, 1, e - b, f);
            first = false;
        }
        free(text);
    }
    fputs("\n],\n\"displayTimeUnit\":\"ms\"}\n", f);
    if (st != SF_OK) {
        sf_outfile_abort(&of);
        return st;
    }
    if ((st = sf_outfile_commit(&of, err)) != SF_OK)
        return st;
    if (remove_parts)
        for (int i = 0; i < n; i++)
            unlink(parts[i]);
    return SF_OK;
}
