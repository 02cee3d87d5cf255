/* The HTML page: one self-contained file (inline style, script and data;
 * no network). C writes the skeleton, the comparison table and the data as
 * base64 typed arrays; the script (memviz_page.js) lays out and draws. */
#include "memviz.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "memviz_category.h"
#include "memviz_escape.h"
#include "memviz_rows.h"

/* ---- escaping -------------------------------------------------------------------- */

/* A JSON string safe inside <script>: '<' and '>' are escaped so no
 * "</script>" in a tensor name can end the block. */
static void js_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == '<' || *p == '>')
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void b64(FILE *f, const void *data, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    char out[4096];
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
        if (o + 4 > sizeof out) {
            fwrite(out, 1, o, f);
            o = 0;
        }
    }
    fwrite(out, 1, o, f);
}

static void b64_field(FILE *f, const char *key, const void *data, size_t n)
{
    fprintf(f, ",\"%s\":\"", key);
    b64(f, data, n);
    fputc('"', f);
}

/* ---- data ------------------------------------------------------------------------- */

/* The page reads every column with a typed array of the host's byte order:
 * ids and event indices as Uint32Array, byte counts as Uint32Array or
 * Float64Array (see write_bytes_column). */
_Static_assert(sizeof(sf_mv_sid_t) == 4 && sizeof(((sf_mv_buffer_t *)0)->alloc_ev) == 4 &&
                   sizeof(((sf_mv_buffer_t *)0)->free_ev) == 4,
               "u32 columns are copied as they are");
_Static_assert(sizeof(((sf_mv_buffer_t *)0)->bytes) == 8 &&
                   sizeof(((sf_mv_buffer_t *)0)->requested_bytes) == 8,
               "byte columns are read as uint64_t");

/* A u32 field of every buffer, copied as it is. */
static bool write_u32_column(FILE *f, const char *key, const sf_mv_rank_t *r, size_t field_off)
{
    size_t n = r->n_bufs;
    unsigned char *col = malloc(n * 4 + 1);
    if (col == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        memcpy(col + i * 4, (const unsigned char *)&r->bufs[i] + field_off, 4);
    b64_field(f, key, col, n * 4);
    free(col);
    return true;
}

/* A u64 byte count of every buffer, converted by value: to u32 when wide is
 * false (the caller checked that every count fits), else to f64, which is
 * what a JS number is and holds every integer up to 2^53 exactly (larger
 * counts round to the nearest double). Copying the u64's bits into the f64
 * column, as this once did, shows 4 GiB as a denormal near 2e-314. */
static bool write_bytes_column(FILE *f, const char *key, const sf_mv_rank_t *r, size_t field_off,
                               bool wide)
{
    size_t n = r->n_bufs, w = wide ? 8 : 4;
    unsigned char *col = malloc(n * w + 1);
    if (col == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, (const unsigned char *)&r->bufs[i] + field_off, 8);
        if (wide) {
            double d = (double)v;
            memcpy(col + i * 8, &d, 8);
        } else {
            SF_ASSERT(v <= UINT32_MAX);
            uint32_t u = (uint32_t)v;
            memcpy(col + i * 4, &u, 4);
        }
    }
    b64_field(f, key, col, n * w);
    free(col);
    return true;
}

#define U32_COL(key, field) write_u32_column(f, key, r, offsetof(sf_mv_buffer_t, field))
#define BYTES_COL(key, field) \
    write_bytes_column(f, key, r, offsetof(sf_mv_buffer_t, field), wide)

/* One rank's data; note: "ranks 0-7 identical" when it stands for others
 * (the page draws it once), else "". With cat, each buffer's category. */
static bool write_rank(FILE *f, const sf_mv_trace_t *t, const sf_mv_rank_t *r, const char *note,
                       bool cat)
{
    sf_mv_peak_t p;
    sf_mv_peak_compute(t, r, &p);
    /* Bytes as u32 when they fit (most traces), else f64 (exact to 2^53). */
    bool wide = false;
    for (uint32_t i = 0; i < r->n_bufs && !wide; i++)
        wide = r->bufs[i].bytes > UINT32_MAX || r->bufs[i].requested_bytes > UINT32_MAX;
    fprintf(f, "{\"pid\":%lld,\"label\":", (long long)r->pid);
    js_str(f, sf_mv_str(t, r->label));
    fputs(",\"note\":", f);
    js_str(f, note);
    fprintf(f,
            ",\"nb\":%u,\"ne\":%u,\"ns\":%u,\"peak\":%llu,\"peakEv\":%lld,\"peakNode\":%u,"
            "\"total\":%llu,\"wide\":%s",
            r->n_bufs, r->n_events, r->n_spans, (unsigned long long)p.peak_bytes,
            p.peak_ev == UINT32_MAX ? -1LL : (long long)p.peak_ev, p.peak_node,
            (unsigned long long)p.total_bytes, wide ? "true" : "false");
    bool ok = U32_COL("a", alloc_ev) && U32_COL("f", free_ev) && BYTES_COL("by", bytes) &&
              BYTES_COL("rq", requested_bytes) && U32_COL("t", tensor) && U32_COL("sh", shape) &&
              U32_COL("dt", dtype) && U32_COL("an", alloc_node) && U32_COL("fn", free_node);
    if (!ok)
        return false;
    if (cat) {
        uint8_t *c = malloc((size_t)r->n_bufs + 1);
        if (c == NULL)
            return false;
        sf_mv_categorize(t, r, c);
        b64_field(f, "cat", c, r->n_bufs);
        free(c);
    }
    b64_field(f, "ts", r->ev_ts_us, (size_t)r->n_events * sizeof(double));
    size_t ns = r->n_spans;
    uint32_t *sn = malloc(ns * 4 + 1), *so = malloc(ns * 4 + 1);
    double *sts = malloc(ns * 8 + 1), *sdur = malloc(ns * 8 + 1);
    ok = sn != NULL && so != NULL && sts != NULL && sdur != NULL;
    for (size_t i = 0; ok && i < ns; i++) {
        sn[i] = r->spans[i].name;
        so[i] = r->spans[i].op;
        sts[i] = r->spans[i].ts_us;
        sdur[i] = r->spans[i].dur_us;
    }
    if (ok) {
        b64_field(f, "sn", sn, ns * 4);
        b64_field(f, "so", so, ns * 4);
        b64_field(f, "sts", sts, ns * 8);
        b64_field(f, "sdur", sdur, ns * 8);
    }
    free(sn);
    free(so);
    free(sts);
    free(sdur);
    fputs("}", f);
    return ok;
}

/* ---- the comparison table ------------------------------------------------------------ */

static void cell_bytes(FILE *f, uint64_t b)
{
    char h[32];
    sf_cli_format_bytes(b, h, sizeof h);
    fprintf(f, "<td title=\"%llu bytes\">%s</td>", (unsigned long long)b, h);
}

static void cell_delta(FILE *f, uint64_t a, uint64_t b)
{
    char h[32];
    uint64_t d = a > b ? a - b : b - a;
    sf_cli_format_bytes(d, h, sizeof h);
    double pct = a > 0 ? 100.0 * ((double)b - (double)a) / (double)a : 0.0;
    fprintf(f, "<td class=\"%s\">%s%s (%+.1f%%)</td>", b < a ? "better" : b > a ? "worse" : "",
            b < a ? "&minus;" : b > a ? "+" : "", h, pct);
}

static const sf_mv_rank_t *find_rank(const sf_mv_trace_t *t, int64_t pid)
{
    for (int i = 0; i < t->n_ranks; i++)
        if (t->ranks[i].pid == pid)
            return &t->ranks[i];
    return NULL;
}

static void write_diff(FILE *f, sf_mv_trace_t *const *runs, const sf_mv_rows_t *rows,
                       const sf_mv_opts_t *o)
{
    const sf_mv_trace_t *A = runs[0], *B = runs[1];
    fputs("<section id=\"diff\"><h3>Difference</h3><table class=\"diff\"><tr><th class=l>rank</th>", f);
    for (int k = 0; k < 2; k++) {
        fputs("<th>peak: ", f);
        sf_mv_escape_html(f, o->labels[k]);
        fputs("</th>", f);
    }
    fputs("<th>peak change</th>", f);
    for (int k = 0; k < 2; k++) {
        fputs("<th>bytes moved: ", f);
        sf_mv_escape_html(f, o->labels[k]);
        fputs("</th>", f);
    }
    fputs("<th>bytes moved change</th><th>by collectives (A / B)</th></tr>\n", f);
    for (int row = 0; row < rows->n; row++) {
        const sf_mv_rank_t *ra = find_rank(A, rows->pids[row]), *rb = find_rank(B, rows->pids[row]);
        if (ra == NULL || rb == NULL)
            continue;
        sf_mv_peak_t pa, pb;
        sf_mv_peak_compute(A, ra, &pa);
        sf_mv_peak_compute(B, rb, &pb);
        fprintf(f, "<tr><td class=l>%lld", (long long)ra->pid);
        if (rows->notes[row][0] != '\0')
            fprintf(f, " (%s)", rows->notes[row]);
        fputs("</td>", f);
        cell_bytes(f, pa.peak_bytes);
        cell_bytes(f, pb.peak_bytes);
        cell_delta(f, pa.peak_bytes, pb.peak_bytes);
        cell_bytes(f, pa.total_bytes);
        cell_bytes(f, pb.total_bytes);
        cell_delta(f, pa.total_bytes, pb.total_bytes);
        char h1[32], h2[32];
        sf_cli_format_bytes(pa.comm_bytes, h1, sizeof h1);
        sf_cli_format_bytes(pb.comm_bytes, h2, sizeof h2);
        fprintf(f, "<td>%s / %s</td></tr>\n", h1, h2);
    }
    fputs("</table>\n<p class=note><b>Bytes moved</b> = the sum of the counted bytes of every "
          "buffer allocated during the run (each allocation once, however long it lives): the "
          "memory traffic the allocator served. <b>By collectives</b> = the part allocated by "
          "collective nodes (op redistribute, all_gather, all_to_all, ...), i.e. the buffers "
          "that received data from other ranks.</p>\n",
          f);
    for (int i = 0; i < rows->n; i++) {
        const sf_mv_rank_t *ra = find_rank(A, rows->pids[i]), *rb = find_rank(B, rows->pids[i]);
        if (ra == NULL || rb == NULL)
            continue;
        fprintf(f, "<details%s><summary>rank %lld: the five largest buffers of each run</summary>"
                   "<div style=\"display:flex;gap:16px\">",
                i == 0 ? " open" : "", (long long)ra->pid);
        for (int k = 0; k < 2; k++) {
            const sf_mv_trace_t *t = runs[k];
            const sf_mv_rank_t *r = k == 0 ? ra : rb;
            uint32_t top[5];
            uint32_t n = sf_mv_largest(r, 5, top);
            fputs("<table class=diff><tr><th class=l colspan=5>", f);
            sf_mv_escape_html(f, o->labels[k]);
            fputs("</th></tr><tr><th class=l>tensor</th><th class=l>shape</th><th>bytes</th>"
                  "<th class=l>alloc node</th><th class=l>free node</th></tr>",
                  f);
            for (uint32_t j = 0; j < n; j++) {
                const sf_mv_buffer_t *b = &r->bufs[top[j]];
                fputs("<tr><td class=l>", f);
                sf_mv_escape_html(f, sf_mv_str(t, b->tensor));
                fputs("</td><td class=l>", f);
                sf_mv_escape_html(f, sf_mv_str(t, b->shape));
                fputs(" ", f);
                sf_mv_escape_html(f, sf_mv_str(t, b->dtype));
                fputs("</td>", f);
                cell_bytes(f, b->bytes);
                fputs("<td class=l>", f);
                sf_mv_escape_html(f, sf_mv_str(t, b->alloc_node));
                fputs("</td><td class=l>", f);
                sf_mv_escape_html(f, b->free_ev >= r->n_events ? "(never freed)"
                                                              : sf_mv_str(t, b->free_node));
                fputs("</td></tr>", f);
            }
            fputs("</table>", f);
        }
        fputs("</div></details>\n", f);
    }
    fputs("</section>\n", f);
}

/* ---- page ----------------------------------------------------------------------------- */

sf_status_t sf_mv_html_write(sf_mv_trace_t *const *runs, int n_runs, const sf_mv_opts_t *o,
                             FILE *f, sf_err_t *err)
{
    char title[512];
    if (o->title != NULL)
        snprintf(title, sizeof title, "%s", o->title);
    else if (n_runs == 2)
        snprintf(title, sizeof title, "memory: %s vs %s", o->labels[0], o->labels[1]);
    else
        snprintf(title, sizeof title, "memory: %s", o->labels[0]);

    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", f);
    sf_mv_escape_html(f, title);
    fputs("</title>\n<style>\n", f);
    fputs(sf_mv_page_css, f);
    /* Errors first, so even a failure while decoding the data is shown. */
    fputs("</style>\n<script>window.onerror = function (msg, src, line, col) {\n"
          "  var e = document.getElementById('errors');\n"
          "  var text = msg + ' (line ' + line + ':' + col + ')';\n"
          "  if (e) { e.textContent += text + '\\n'; e.dataset.count = "
          "String(Number(e.dataset.count || 0) + 1); }\n"
          "  else { window.__mvErrors = (window.__mvErrors || []).concat([text]); }\n"
          "};</script>\n</head><body>\n<header><h1>",
          f);
    sf_mv_escape_html(f, title);
    fputs("</h1><label>rank <select id=\"rank\"></select></label>\n"
          "<label>x axis <select id=\"xaxis\"><option value=\"events\">event order</option>"
          "<option value=\"time\">time</option></select></label>\n"
          "<button id=\"reset\">reset zoom</button> <button id=\"zoompeak\">zoom to peak</button>\n"
          "<span class=\"hint\">wheel: zoom &middot; drag: pan &middot; hover: details &middot; "
          "click: pin &middot; double-click: reset</span></header>\n"
          "<pre id=\"errors\" data-count=\"0\"></pre>\n<div id=\"panels\"></div>\n"
          "<div id=\"tip\"></div>\n",
          f);
    /* Identical ranks are folded as in the SVG: one entry in the rank
     * selector and one set of data, so 8 identical ranks cost one. */
    sf_mv_rows_t *rows = calloc(1, sizeof *rows);
    if (rows == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory writing the page");
    sf_mv_rows_build(runs, n_runs, rows);
    if (n_runs == 2)
        write_diff(f, runs, rows, o);
    fputs(o->colour_category
              ? "<section class=\"note\"><h3>Reading the picture</h3>Each band is one buffer, "
                "stacked in allocation order and coloured by its category (the legend gives each "
                "category's bytes live at the rank's peak; weights always keep a band); when a "
                "buffer is "
              : "<section class=\"note\"><h3>Reading the picture</h3>Each band is one buffer, "
                "stacked in allocation order and coloured by the node that allocated it; when a "
                "buffer is ",
          f);
    fputs("freed, the bands above it drop by its size, so the top edge is the live total. The "
          "dashed red line marks the peak (the maximum of the running sum of allocated minus "
          "freed bytes, exactly as the runtime counts it) and the node during which it was first "
          "reached. The strip under each plot shows the node spans. Buffers smaller than one "
          "pixel at full view are merged into one grey band per rank, stacked on top.</section>\n"
          "<div id=\"status\" class=\"note\" data-ready=\"0\"></div>\n",
          f);
    /* The data is JSON in a non-executed script block: JSON.parse reads it
     * several times faster than the JS parser would read the same literal. */
    fprintf(f,
            "<script type=\"application/json\" id=\"mv-data\">\n{\"x\":\"%s\",\"zoom\":\"%s\","
            "\"color\":\"%s\",\"cats\":[",
            o->x == SF_MV_X_TIME ? "time" : "events", o->zoom_peak ? "peak" : "all",
            o->colour_category ? "category" : "node");
    for (int c = 0; c < SF_MV_CAT_COUNT; c++)
        fprintf(f, "%s{\"name\":\"%s\",\"colour\":\"%s\"}", c > 0 ? "," : "",
                sf_mv_cat_name((sf_mv_cat_t)c), sf_mv_cat_colour((sf_mv_cat_t)c));
    fputs("],\"runs\":[", f);
    for (int k = 0; k < n_runs; k++) {
        const sf_mv_trace_t *t = runs[k];
        fputs(k > 0 ? ",\n{\"label\":" : "{\"label\":", f);
        js_str(f, o->labels[k]);
        fputs(",\"path\":", f);
        js_str(f, t->path);
        fputs(",\"strs\":[", f);
        for (uint32_t i = 0; i < t->n_strs; i++) {
            if (i > 0)
                fputc(',', f);
            js_str(f, t->strs[i]);
        }
        fputs("],\n\"ranks\":[", f);
        bool first = true;
        for (int row = 0; row < rows->n; row++) {
            const sf_mv_rank_t *r = sf_mv_rows_rank(t, rows->pids[row]);
            if (r == NULL)
                continue;
            if (!first)
                fputs(",\n", f);
            first = false;
            if (!write_rank(f, t, r, rows->notes[row], o->colour_category)) {
                free(rows);
                return sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory writing the page");
            }
        }
        fputs("]}", f);
    }
    free(rows);
    fputs("]}\n</script>\n<script>\n", f);
    fputs(sf_mv_page_js, f);
    fputs("</script>\n</body></html>\n", f);
    return SF_OK;
}
