/* The collbench table: one column list drives the header and every row, so
 * the two cannot drift apart (nccl-tests repeats format strings instead). */
#include "collbench_table.h"

#include <inttypes.h>
#include <string.h>

enum {
    COL_SIZE, COL_COUNT, COL_TYPE, COL_REDOP, COL_ROOT,
    COL_OOP_TIME, COL_OOP_ALGBW, COL_OOP_BUSBW, COL_OOP_WRONG,
    COL_IP_TIME, COL_IP_ALGBW, COL_IP_BUSBW, COL_IP_WRONG,
    COL_MEMCPY_TIME, COL_MEMCPY_BW,
    COL_COUNT_ALL,
};

typedef struct bench_col {
    const char *group; /* printed once above the columns it spans; "" for none */
    const char *name;
    int width;
} bench_col_t;

static const bench_col_t bench_cols[COL_COUNT_ALL] = {
    [COL_SIZE] = {"", "size (B)", 12},
    [COL_COUNT] = {"", "count (elements)", 16},
    [COL_TYPE] = {"", "type", 5},
    [COL_REDOP] = {"", "redop", 5},
    [COL_ROOT] = {"", "root", 4},
    [COL_OOP_TIME] = {"out-of-place", "time (us)", 10},
    [COL_OOP_ALGBW] = {"out-of-place", "algbw (GB/s)", 12},
    [COL_OOP_BUSBW] = {"out-of-place", "busbw (GB/s)", 12},
    [COL_OOP_WRONG] = {"out-of-place", "#wrong", 6},
    [COL_IP_TIME] = {"in-place", "time (us)", 10},
    [COL_IP_ALGBW] = {"in-place", "algbw (GB/s)", 12},
    [COL_IP_BUSBW] = {"in-place", "busbw (GB/s)", 12},
    [COL_IP_WRONG] = {"in-place", "#wrong", 6},
    [COL_MEMCPY_TIME] = {"host memcpy", "time (us)", 10},
    [COL_MEMCPY_BW] = {"host memcpy", "bw (GB/s)", 10},
};

#define BENCH_GAP "  "

static void table_line(FILE *f, char lead, char cells[COL_COUNT_ALL][32])
{
    fputc(lead, f);
    for (int c = 0; c < COL_COUNT_ALL; c++)
        fprintf(f, "%s%*s", c == 0 ? "" : BENCH_GAP, bench_cols[c].width, cells[c]);
    fputc('\n', f);
}

void sf_collbench_table_header(FILE *f)
{
    /* Group labels, each centred over the columns it spans. */
    char line[512];
    int len = 1;
    line[0] = '#';
    for (int c = 0; c < COL_COUNT_ALL;) {
        int end = c, span = 0;
        while (end < COL_COUNT_ALL && strcmp(bench_cols[end].group, bench_cols[c].group) == 0) {
            span += (end == 0 ? 0 : (int)strlen(BENCH_GAP)) + bench_cols[end].width;
            end++;
        }
        const char *g = bench_cols[c].group;
        int glen = (int)strlen(g);
        int pad = span > glen ? span - glen : 0;
        int left = pad - pad / 2;
        len += snprintf(line + len, sizeof line - (size_t)len, "%*s%s%*s", left, "", g,
                        pad - left, "");
        c = end;
    }
    while (len > 1 && line[len - 1] == ' ')
        len--;
    line[len] = '\0';
    fprintf(f, "%s\n", line);

    char cells[COL_COUNT_ALL][32];
    for (int c = 0; c < COL_COUNT_ALL; c++)
        snprintf(cells[c], sizeof cells[c], "%s", bench_cols[c].name);
    table_line(f, '#', cells);
}

static void stats_cells(char cells[COL_COUNT_ALL][32], int first, const sf_collbench_stats_t *s)
{
    if (s->time_us < 0) {
        for (int k = 0; k < 4; k++)
            snprintf(cells[first + k], sizeof cells[0], "n/a");
        return;
    }
    snprintf(cells[first + 0], sizeof cells[0], "%.2f", s->time_us);
    snprintf(cells[first + 1], sizeof cells[0], "%.3f", s->algbw);
    snprintf(cells[first + 2], sizeof cells[0], "%.3f", s->busbw);
    snprintf(cells[first + 3], sizeof cells[0], "%" PRIu64, s->n_wrong);
}

void sf_collbench_table_row(FILE *f, sf_coll_kind_t kind, sf_dtype_t dtype, sf_reduce_op_t redop,
                            const sf_collbench_row_t *r)
{
    char cells[COL_COUNT_ALL][32];
    snprintf(cells[COL_SIZE], sizeof cells[0], "%" PRIu64, r->nbytes);
    snprintf(cells[COL_COUNT], sizeof cells[0], "%" PRIu64, r->count);
    snprintf(cells[COL_TYPE], sizeof cells[0], "%s", sf_dtype_name(dtype));
    snprintf(cells[COL_REDOP], sizeof cells[0], "%s",
             kind != SF_COLL_ALLREDUCE ? "none"
             : redop == SF_REDUCE_MAX  ? "max"
                                            : "sum");
    snprintf(cells[COL_ROOT], sizeof cells[0], "-1");
    stats_cells(cells, COL_OOP_TIME, &r->oop);
    stats_cells(cells, COL_IP_TIME, &r->inplace);
    snprintf(cells[COL_MEMCPY_TIME], sizeof cells[0], "%.2f", r->memcpy_us);
    snprintf(cells[COL_MEMCPY_BW], sizeof cells[0], "%.3f", r->memcpy_gbs);
    table_line(f, ' ', cells);
}
