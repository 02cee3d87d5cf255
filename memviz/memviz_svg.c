/* The static SVG: the same active-memory timeline as the page (bands in
 * allocation order, coloured by producing node, node phases underneath,
 * the peak marked), one panel per rank, two runs side by side on one y
 * scale. Plain C, no dependencies: it is meant for READMEs and reports. */
#include "memviz.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "memviz_category.h"
#include "memviz_escape.h"
#include "memviz_layout.h"
#include "memviz_rows.h"

enum {
    MARGIN = 10, GAP = 24, LEFT = 64, RIGHT = 10, TITLE_H = 20, PLOT_H = 220, PHASE_H = 14,
    AXIS_H = 26, ROW_GAP = 14, HEADER_H = 30, N_COLOURS = 36, LEGEND_N = 10,
};
#define MAX_STEPS 20000000ull

/* The page's colour rule (memviz_page.js colourIdx()): a node's colour is
 * the order in which its name first appears (run by run, rank by rank: the
 * node spans in file order, then the allocating nodes in allocation order)
 * modulo 36. Neighbouring nodes get neighbouring indices, whose hues are
 * 130 degrees apart, so two adjacent nodes never share a colour (a hash
 * of the name did, now and then). */
typedef struct name_colour {
    const char *name; /* borrowed from a trace's strings */
    unsigned colour;
} name_colour_t;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const name_colour_t *)a)->name, ((const name_colour_t *)b)->name);
}

/* Fill cls[k][sid] for every run; UINT_MAX for strings that name no node. */
static sf_status_t colour_classes(sf_mv_trace_t *const *runs, int n_runs, unsigned **cls,
                                  sf_err_t *err)
{
    unsigned next = 0;
    name_colour_t *seen = NULL; /* the names of earlier runs, sorted, for the later ones */
    size_t n_seen = 0;
    sf_status_t st = SF_OK;
    for (int k = 0; k < n_runs && st == SF_OK; k++) {
        const sf_mv_trace_t *t = runs[k];
        for (uint32_t s = 0; s < t->n_strs; s++)
            cls[k][s] = UINT_MAX;
        for (int i = 0; i < t->n_ranks; i++) {
            const sf_mv_rank_t *r = &t->ranks[i];
            for (uint32_t q = 0; q < r->n_spans + r->n_bufs; q++) {
                sf_mv_sid_t sid = q < r->n_spans ? r->spans[q].name
                                                 : r->bufs[q - r->n_spans].alloc_node;
                if (cls[k][sid] != UINT_MAX)
                    continue;
                name_colour_t key = {t->strs[sid], 0};
                const name_colour_t *hit =
                    n_seen > 0 ? bsearch(&key, seen, n_seen, sizeof *seen, by_name) : NULL;
                cls[k][sid] = hit != NULL ? hit->colour : next++ % N_COLOURS;
            }
        }
        if (k + 1 == n_runs)
            break;
        name_colour_t *grown = realloc(seen, (n_seen + t->n_strs + 1) * sizeof *seen);
        if (grown == NULL) {
            st = sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory");
            break;
        }
        seen = grown;
        for (uint32_t s = 0; s < t->n_strs; s++)
            if (cls[k][s] != UINT_MAX)
                seen[n_seen++] = (name_colour_t){t->strs[s], cls[k][s]};
        qsort(seen, n_seen, sizeof *seen, by_name);
    }
    for (int k = 0; k < n_runs; k++)
        for (uint32_t s = 0; cls[k] != NULL && s < runs[k]->n_strs; s++)
            if (cls[k][s] == UINT_MAX)
                cls[k][s] = 0; /* not a node: never drawn, any colour */
    free(seen);
    return st;
}

static void colour_css(unsigned k, char *out, size_t n)
{
    snprintf(out, n, "hsl(%u,%u%%,%u%%)", (k * 130) % 360, 58 + (k % 3) * 10, 48 + (k % 4) * 6);
}

/* "1.5 MiB", "512 KiB": short labels for axes. */
static void bytes_short(double b, char *out, size_t n)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024.0 && i < 4) {
        b /= 1024.0;
        i++;
    }
    /* Three significant digits, never an exponent (1011 KiB, not
     * 1.01e+03 KiB). */
    if (i == 0 || b == floor(b) || b >= 100.0)
        snprintf(out, n, "%.0f %s", b, u[i]);
    else
        snprintf(out, n, "%.3g %s", b, u[i]);
}

typedef struct panel {
    const sf_mv_trace_t *t;
    const sf_mv_rank_t *r; /* NULL: this run has no such rank */
    sf_mv_peak_t peak;
    sf_mv_layout_t lay;
    double x, y, w;        /* plot origin (left, top) and width */
    double d0, d1;         /* x domain */
    bool time;
    const char *note;      /* borrowed: "ranks 0-7 identical" for a folded row, or NULL */
    int id;                /* for the clip paths: unique in the picture */
    uint8_t *cat;          /* owned: per buffer, its sf_mv_cat_t with --color category; NULL */
} panel_t;

static double px_of(const panel_t *p, double v)
{
    return p->x + (v - p->d0) / (p->d1 - p->d0) * p->w;
}

/* x of event boundary k (k == n_events: the end). */
static double ev_x(const panel_t *p, uint32_t k)
{
    if (!p->time)
        return px_of(p, k);
    return px_of(p, k < p->r->n_events ? p->r->ev_ts_us[k] : p->d1);
}

static uint32_t lower_bound(const double *a, uint32_t n, double v, bool upper)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t m = lo + (hi - lo) / 2;
        if (a[m] < v || (upper && a[m] == v))
            lo = m + 1;
        else
            hi = m;
    }
    return lo;
}

static void draw_panel(FILE *f, panel_t *p, const char *run_label, double ymax,
                       const unsigned *cls)
{
    const sf_mv_rank_t *r = p->r;
    char h[48], c[48];
    double ybase = p->y + PLOT_H, yscale = PLOT_H / ymax;
    /* title */
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"t\">", p->x - LEFT + 4, p->y - 7);
    sf_mv_escape_xml(f, run_label);
    fprintf(f, " \xc2\xb7 rank %lld", r != NULL ? (long long)r->pid : -1LL);
    if (p->note != NULL)
        fprintf(f, " (%s: one panel shown)", p->note);
    fputs("</text>\n", f);
    if (r == NULL) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">no such rank in this run</text>\n", p->x + 4,
                p->y + 20);
        return;
    }
    /* y grid: power-of-two steps */
    double step = pow(2.0, ceil(log2(fmax(ymax / 5.0, 1.0))));
    fprintf(f, "<g class=\"grid\">");
    for (double b = 0; b <= ymax; b += step) {
        double y = ybase - b * yscale;
        bytes_short(b, h, sizeof h);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" class=\"yl\">%s</text>",
                p->x, y, p->x + p->w, y, p->x - 4, y + 3.5, h);
    }
    fprintf(f, "</g>\n");

    /* Bands and phases are clipped to the plot: --zoom peak draws a part. */
    fprintf(f, "<clipPath id=\"plot%d\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
               "height=\"%d\"/></clipPath><clipPath id=\"phase%d\"><rect x=\"%.1f\" "
               "y=\"%.1f\" width=\"%.1f\" height=\"%d\"/></clipPath>\n<g clip-path=\"url(#plot%d)\">\n",
            p->id, p->x, p->y, p->w, PLOT_H, p->id, p->x, ybase + 4, p->w, PHASE_H, p->id);
    /* bands: one path per colour class (a node colour, or a category) */
    const sf_mv_layout_t *l = &p->lay;
    unsigned n_classes = p->cat != NULL ? SF_MV_CAT_COUNT : N_COLOURS;
    for (unsigned k = 0; k < n_classes; k++) {
        bool open = false;
        for (uint32_t i = 0; i < r->n_bufs; i++) {
            const sf_mv_buffer_t *b = &r->bufs[i];
            unsigned cl = p->cat != NULL ? p->cat[i] : cls[b->alloc_node];
            if (!l->is_big[i] || cl != k)
                continue;
            if (!open) {
                if (p->cat != NULL)
                    snprintf(c, sizeof c, "%s", sf_mv_cat_colour((sf_mv_cat_t)k));
                else
                    colour_css(k, c, sizeof c);
                fprintf(f, "<path fill=\"%s\" d=\"", c);
                open = true;
            }
            double hgt = (double)b->bytes * yscale;
            double xf = ev_x(p, b->free_ev);
            for (uint32_t s = l->step_start[i]; s < l->step_start[i + 1]; s++) {
                double x0 = ev_x(p, l->step_ev[s]);
                double x1 = s + 1 < l->step_start[i + 1] ? ev_x(p, l->step_ev[s + 1]) : xf;
                double y0 = ybase - (double)(l->step_off[s] + b->bytes) * yscale;
                fprintf(f, "M%.1f %.2fh%.2fv%.2fh%.2fz", x0, y0, fmax(x1 - x0, 0.3), hgt,
                        -fmax(x1 - x0, 0.3));
            }
        }
        if (open)
            fputs("\"/>\n", f);
    }
    /* small buffers: the envelope per pixel column */
    if (l->n_small > 0) {
        fputs("<path fill=\"#99aaaa\" d=\"", f);
        long col = -1;
        double cx0 = 0, top = 0, bot = 0;
        bool any = false;
        for (uint32_t k = 0; k < r->n_events; k++) {
            double x0 = ev_x(p, k), x1 = ev_x(p, k + 1);
            if ((long)floor(x0) != col) {
                if (any)
                    fprintf(f, "M%.1f %.2fH%.1fV%.2fH%.1fz", cx0, ybase - top * yscale,
                            fmax(x0, cx0 + 0.5), ybase - bot * yscale, cx0);
                col = (long)floor(x0);
                cx0 = x0;
                top = -1;
                bot = INFINITY;
                any = false;
            }
            double sl = (double)l->small_live[k], bt = (double)l->big_top[k];
            if (sl > 0) {
                any = true;
                top = fmax(top, bt + sl);
                bot = fmin(bot, bt);
            }
            if (k + 1 == r->n_events && any)
                fprintf(f, "M%.1f %.2fH%.1fV%.2fH%.1fz", cx0, ybase - top * yscale,
                        fmax(x1, cx0 + 0.5), ybase - bot * yscale, cx0);
        }
        fputs("\"/>\n", f);
    }
    fputs("</g>\n", f);
    /* frame */
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" class=\"frame\"/>\n",
            p->x, p->y, p->w, PLOT_H);
    /* peak */
    if (p->peak.peak_ev != UINT32_MAX) {
        double py = ybase - (double)p->peak.peak_bytes * yscale;
        double px = ev_x(p, p->peak.peak_ev);
        bytes_short((double)p->peak.peak_bytes, h, sizeof h);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"peak\"/>"
                   "<path d=\"M%.1f %.1fl-5 -8h10z\" fill=\"#c0392b\"/>\n",
                p->x, py, p->x + p->w, py, px, py);
        const char *node = sf_mv_str(p->t, p->peak.peak_node);
        double tw = 6.2 * (double)(strlen(h) + strlen(node) + 9);
        double tx = px + 8 + tw <= p->x + p->w ? px + 8 : fmax(px - 8 - tw, p->x + 2);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"pk\">peak %s \xc2\xb7 ", tx, py - 3, h);
        sf_mv_escape_xml(f, node);
        fputs("</text>\n", f);
    }
    /* node phases */
    double py0 = ybase + 4;
    fprintf(f, "<g class=\"ph\" clip-path=\"url(#phase%d)\">", p->id);
    for (uint32_t s = 0; s < r->n_spans; s++) {
        const sf_mv_span_t *sp = &r->spans[s];
        double x0, x1;
        if (p->time) {
            x0 = px_of(p, sp->ts_us);
            x1 = px_of(p, sp->ts_us + sp->dur_us);
        } else {
            uint32_t k0 = lower_bound(r->ev_ts_us, r->n_events, sp->ts_us, false);
            uint32_t k1 = lower_bound(r->ev_ts_us, r->n_events, sp->ts_us + sp->dur_us, true);
            if (k1 <= k0)
                continue;
            x0 = px_of(p, k0);
            x1 = px_of(p, k1);
        }
        const char *name = sf_mv_str(p->t, sp->name);
        colour_css(cls[sp->name], c, sizeof c);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" fill=\"%s\"/>", x0,
                py0, fmax(x1 - x0, 0.3), PHASE_H, c);
        if (x1 - x0 > 6.0 * (double)strlen(name) + 6) {
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", x0 + 2, py0 + PHASE_H - 3.5);
            sf_mv_escape_xml(f, name);
            fputs("</text>", f);
        }
    }
    fputs("</g>\n", f);
    /* x axis */
    double ay = py0 + PHASE_H + 11;
    /* About six ticks: the first of 1, 2, 5, 10 times the power of ten
     * below a sixth of the range that covers it (10 included: without it a
     * range of 3,671 events got a tick every 100, 37 labels run together). */
    static const double steps[] = {1, 2, 5, 10};
    double raw = (p->d1 - p->d0) / 6.0, mag = pow(10.0, floor(log10(raw))), xs = 10 * mag;
    for (size_t m = 0; m < sizeof steps / sizeof steps[0]; m++)
        if (mag * steps[m] >= raw) {
            xs = mag * steps[m];
            break;
        }
    /* Events are whole: a run of 3 events is labelled 0 1 2 3, not 0 0 1 1. */
    if (!p->time && xs < 1)
        xs = 1;
    fprintf(f, "<g class=\"xl\">");
    for (double v = ceil(p->d0 / xs) * xs; v <= p->d1; v += xs) {
        if (p->time)
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%.*f</text>", px_of(p, v), ay,
                    xs >= 1000 ? 0 : 3, v / 1000.0);
        else
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%.0f</text>", px_of(p, v), ay, v);
    }
    fprintf(f, "</g><text x=\"%.1f\" y=\"%.1f\" class=\"yl\">%s</text>\n", p->x + p->w, ay + 11,
            p->time ? "time (ms)" : "event");
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"yl\">nodes</text>\n", p->x - 4,
            py0 + PHASE_H - 3.5);
}

typedef struct node_total {
    const sf_mv_trace_t *t;
    sf_mv_sid_t node;
    uint64_t bytes;
} node_total_t;

static int cmp_total(const void *a, const void *b)
{
    const node_total_t *x = a, *y = b;
    return (x->bytes < y->bytes) - (x->bytes > y->bytes);
}

static int cmp_name(const void *a, const void *b)
{
    const node_total_t *x = a, *y = b;
    return strcmp(sf_mv_str(x->t, x->node), sf_mv_str(y->t, y->node));
}

/* --zoom peak: the events around the peak, a twentieth of the run on each
 * side and at least 20 (the page's "zoom to peak" button, peakView()). */
static void zoom_to_peak(panel_t *p)
{
    uint32_t n = p->r->n_events, k = p->peak.peak_ev;
    uint32_t w = n / 20 > 20 ? n / 20 : 20;
    uint32_t k0 = k > w ? k - w : 0, k1 = k + w + 1 < n ? k + w + 1 : n;
    if (p->time) {
        p->d0 = p->r->ev_ts_us[k0];
        p->d1 = fmax(p->r->ev_ts_us[k1 - 1], p->d0 + 1e-3);
    } else {
        p->d0 = k0;
        p->d1 = k1;
    }
}

/* --color category: one entry per category, with its bytes live at the
 * peak of the panel whose peak is the largest. */
static void category_legend(FILE *f, const panel_t *panels, int n_panels, double y)
{
    const panel_t *top = NULL;
    for (int i = 0; i < n_panels; i++)
        if (panels[i].r != NULL && panels[i].peak.peak_ev != UINT32_MAX &&
            (top == NULL || panels[i].peak.peak_bytes > top->peak.peak_bytes))
            top = &panels[i];
    uint64_t at_peak[SF_MV_CAT_COUNT] = {0};
    for (uint32_t k = 0; top != NULL && k <= top->peak.peak_ev; k++) {
        uint32_t i = top->r->ev_buf[k];
        if (top->r->bufs[i].alloc_ev == k)
            at_peak[top->cat[i]] += top->r->bufs[i].bytes;
        else
            at_peak[top->cat[i]] -= top->r->bufs[i].bytes;
    }
    double lx = MARGIN;
    for (int c = 0; c < SF_MV_CAT_COUNT; c++) {
        char h[48], label[96];
        bytes_short((double)at_peak[c], h, sizeof h);
        snprintf(label, sizeof label, "%s %s", sf_mv_cat_name((sf_mv_cat_t)c), h);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\">%s</text>",
                lx, y, sf_mv_cat_colour((sf_mv_cat_t)c), lx + 13, y + 9, label);
        lx += 13 + 6.0 * (double)strlen(label) + 14;
    }
}

sf_status_t sf_mv_svg_write(sf_mv_trace_t *const *runs, int n_runs, const sf_mv_opts_t *o,
                            FILE *f, sf_err_t *err)
{
    /* Rows: the union of the runs' ranks, identical ones folded. */
    sf_mv_rows_t *rows = calloc(1, sizeof *rows);
    SF_ASSERT(rows != NULL);
    sf_mv_rows_build(runs, n_runs, rows);
    const int64_t *pids = rows->pids;
    int n_pids = rows->n;
    int n_panels = n_pids * n_runs;
    panel_t *panels = calloc((size_t)(n_panels > 0 ? n_panels : 1), sizeof *panels);
    unsigned *cls[SF_MV_MAX_RUNS] = {NULL, NULL};
    node_total_t *totals = NULL;
    size_t n_totals = 0;
    sf_status_t st = SF_OK;
    if (panels == NULL) {
        st = sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    double ymax = 1;
    for (int k = 0; k < n_runs; k++) {
        cls[k] = malloc((runs[k]->n_strs + 1) * sizeof *cls[k]);
        if (cls[k] == NULL) {
            st = sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory");
            goto done;
        }
    }
    if ((st = colour_classes(runs, n_runs, cls, err)) != SF_OK)
        goto done;
    for (int row = 0; row < n_pids; row++)
        for (int k = 0; k < n_runs; k++) {
            panel_t *p = &panels[row * n_runs + k];
            p->t = runs[k];
            p->id = row * n_runs + k;
            p->note = rows->notes[row][0] != '\0' ? rows->notes[row] : NULL;
            for (int i = 0; i < runs[k]->n_ranks; i++)
                if (runs[k]->ranks[i].pid == pids[row])
                    p->r = &runs[k]->ranks[i];
            if (p->r != NULL) {
                sf_mv_peak_compute(p->t, p->r, &p->peak);
                ymax = fmax(ymax, (double)p->peak.peak_bytes);
            }
        }
    ymax *= 1.08;
    int width = o->width_px > 0 ? o->width_px : 1000;
    double col_w = (width - 2.0 * MARGIN - GAP * (n_runs - 1)) / n_runs;
    uint64_t small_below = (uint64_t)ceil(ymax / PLOT_H);
    double row_h = TITLE_H + PLOT_H + 4 + PHASE_H + AXIS_H + ROW_GAP;
    for (int row = 0; row < n_pids; row++)
        for (int k = 0; k < n_runs; k++) {
            panel_t *p = &panels[row * n_runs + k];
            p->x = MARGIN + k * (col_w + GAP) + LEFT;
            p->y = HEADER_H + row * row_h + TITLE_H;
            p->w = col_w - LEFT - RIGHT;
            p->time = o->x == SF_MV_X_TIME;
            if (p->r == NULL)
                continue;
            uint8_t *weights = NULL;
            if (o->colour_category) {
                p->cat = calloc((size_t)p->r->n_bufs + 1, 1);
                weights = calloc((size_t)p->r->n_bufs + 1, 1);
                if (p->cat == NULL || weights == NULL) {
                    free(weights);
                    st = sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory");
                    goto done;
                }
                sf_mv_categorize(p->t, p->r, p->cat);
                for (uint32_t i = 0; i < p->r->n_bufs; i++)
                    weights[i] = p->cat[i] == SF_MV_CAT_WEIGHTS;
            }
            st = sf_mv_layout_build(p->r, small_below, weights, MAX_STEPS, &p->lay, err);
            free(weights);
            if (st != SF_OK)
                goto done;
            p->d0 = 0;
            p->d1 = p->r->n_events > 0 ? p->r->n_events : 1;
            if (p->time && p->r->n_events > 0) {
                p->d0 = p->r->ev_ts_us[0];
                p->d1 = p->r->ev_ts_us[p->r->n_events - 1];
                for (uint32_t s = 0; s < p->r->n_spans; s++) {
                    p->d0 = fmin(p->d0, p->r->spans[s].ts_us);
                    p->d1 = fmax(p->d1, p->r->spans[s].ts_us + p->r->spans[s].dur_us);
                }
                if (p->d1 <= p->d0)
                    p->d1 = p->d0 + 1;
            }
            if (o->zoom_peak && p->peak.peak_ev != UINT32_MAX)
                zoom_to_peak(p);
        }
    /* Legend: the nodes that allocated the most, over every panel. */
    for (int i = 0; i < n_panels; i++)
        if (panels[i].r != NULL)
            n_totals += panels[i].r->n_bufs;
    totals = calloc(n_totals + 1, sizeof *totals);
    if (totals == NULL) {
        st = sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    n_totals = 0;
    uint32_t n_small = 0;
    uint64_t small_bytes = 0;
    for (int i = 0; i < n_panels; i++) {
        const sf_mv_rank_t *r = panels[i].r;
        if (r == NULL)
            continue;
        n_small += panels[i].lay.n_small;
        small_bytes += panels[i].lay.small_bytes;
        for (uint32_t b = 0; b < r->n_bufs; b++)
            totals[n_totals++] = (node_total_t){panels[i].t, r->bufs[b].alloc_node,
                                                r->bufs[b].bytes};
    }
    /* Sum per node name (runs have separate string tables). */
    qsort(totals, n_totals, sizeof *totals, cmp_name);
    size_t m = 0;
    for (size_t i = 0; i < n_totals; i++) {
        if (m > 0 && strcmp(sf_mv_str(totals[m - 1].t, totals[m - 1].node),
                            sf_mv_str(totals[i].t, totals[i].node)) == 0)
            totals[m - 1].bytes += totals[i].bytes;
        else
            totals[m++] = totals[i];
    }
    n_totals = m;
    qsort(totals, n_totals, sizeof *totals, cmp_total);

    double legend_y = HEADER_H + n_pids * row_h + 4;
    double diff_y = legend_y + 44;
    double height = diff_y + (n_runs == 2 ? 16.0 * (n_pids + 1) : 0);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
               "viewBox=\"0 0 %d %.0f\" font-family=\"DejaVu Sans, Arial, sans-serif\" "
               "font-size=\"10\">\n",
            width, height, width, height);
    fputs("<style>.t{font-size:12px;font-weight:bold}.grid line{stroke:#e8e8e8}"
          ".yl{text-anchor:end;fill:#555}.xl text{text-anchor:middle;fill:#555}"
          ".frame{fill:none;stroke:#bbb}.peak{stroke:#c0392b;stroke-dasharray:5 4}"
          ".pk{fill:#c0392b;font-weight:bold;font-size:11px}.ph text{font-size:9px;fill:#111}"
          "</style>\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n",
          f);
    char title[512];
    if (o->title != NULL)
        snprintf(title, sizeof title, "%s", o->title);
    else if (n_runs == 2)
        snprintf(title, sizeof title, "active memory: %s vs %s (same y scale)", o->labels[0],
                 o->labels[1]);
    else
        snprintf(title, sizeof title, "active memory: %s", o->labels[0]);
    fprintf(f, "<text x=\"%d\" y=\"20\" font-size=\"14\" font-weight=\"bold\">", MARGIN);
    sf_mv_escape_xml(f, title);
    fputs("</text>\n", f);
    for (int i = 0; i < n_panels; i++)
        draw_panel(f, &panels[i], o->labels[i % n_runs], ymax, cls[i % n_runs]);
    /* legend */
    double lx = MARGIN;
    char c[48], h[48];
    if (o->colour_category)
        category_legend(f, panels, n_panels, legend_y);
    for (size_t i = 0; i < n_totals && i < LEGEND_N && !o->colour_category; i++) {
        const char *name = sf_mv_str(totals[i].t, totals[i].node);
        int run = totals[i].t == runs[0] ? 0 : 1;
        colour_css(cls[run][totals[i].node], c, sizeof c);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\">",
                lx, legend_y, c, lx + 13, legend_y + 9);
        sf_mv_escape_xml(f, name[0] != '\0' ? name : "-");
        fputs("</text>", f);
        lx += 13 + 6.0 * (double)strlen(name) + 14;
        if (lx > width - 150)
            break;
    }
    fputc('\n', f);
    bytes_short((double)small_below, h, sizeof h);
    char sb[48];
    bytes_short((double)small_bytes, sb, sizeof sb);
    fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"#99aaaa\"/>"
               "<text x=\"%d\" y=\"%.1f\">small buffers: %u buffers under %s (1 px) merged "
               "into one band per rank, %s allocated in total. %s</text>\n",
            MARGIN, legend_y + 18, MARGIN + 13, legend_y + 27, n_small, h, sb,
            o->colour_category ? "Legend: each category at the largest peak (weights never merged)."
                               : "Legend: nodes that allocated the most; colour = allocating "
                                 "node.");
    if (n_runs == 2) {
        /* The difference, in words: what the picture is for. */
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-weight=\"bold\">", MARGIN, diff_y + 2);
        sf_mv_escape_xml(f, o->labels[0]);
        fputs(" \xe2\x86\x92 ", f);
        sf_mv_escape_xml(f, o->labels[1]);
        fputs(" (bytes moved = sum of the bytes of every allocation)</text>\n", f);
        for (int row = 0; row < n_pids; row++) {
            const panel_t *a = &panels[row * 2], *b = &panels[row * 2 + 1];
            if (a->r == NULL || b->r == NULL)
                continue;
            char pa[32], pb[32], ma[32], mb[32];
            bytes_short((double)a->peak.peak_bytes, pa, sizeof pa);
            bytes_short((double)b->peak.peak_bytes, pb, sizeof pb);
            bytes_short((double)a->peak.total_bytes, ma, sizeof ma);
            bytes_short((double)b->peak.total_bytes, mb, sizeof mb);
            double dp = a->peak.peak_bytes > 0 ? 100.0 * ((double)b->peak.peak_bytes -
                                                          (double)a->peak.peak_bytes) /
                                                     (double)a->peak.peak_bytes
                                               : 0.0;
            double dm = a->peak.total_bytes > 0 ? 100.0 * ((double)b->peak.total_bytes -
                                                           (double)a->peak.total_bytes) /
                                                      (double)a->peak.total_bytes
                                                : 0.0;
            fprintf(f, "<text x=\"%d\" y=\"%.1f\">rank %lld: peak %s \xe2\x86\x92 %s (%+.1f%%), "
                       "bytes moved %s \xe2\x86\x92 %s (%+.1f%%)</text>\n",
                    MARGIN, diff_y + 18 + 16.0 * row, (long long)pids[row], pa, pb, dp, ma, mb,
                    dm);
        }
    }
    fputs("</svg>\n", f);
done:
    for (int i = 0; panels != NULL && i < n_panels; i++) {
        sf_mv_layout_fini(&panels[i].lay);
        free(panels[i].cat);
    }
    free(panels);
    free(totals);
    free(rows);
    for (int k = 0; k < SF_MV_MAX_RUNS; k++)
        free(cls[k]);
    return st;
}
