/* shardflow collbench end to end: the table has one row per size, every
 * result was verified right, busbw/algbw is the nccl-tests factor, and bad
 * flags exit 2. The self backend runs one rank in-process; ucx runs two
 * ranks through the --nproc launcher. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define N_COLS 15

typedef struct row {
    char cell[N_COLS][32];
} row_t;

/* Table rows: unprefixed lines whose first non-blank character is a digit.
 * The table must reach stdout without the launcher's "[rank R] " prefix, so
 * it can be piped and compared like nccl-tests' output: a prefixed line that
 * holds a row, the header or a comment line of the table fails the test. */
static int parse_rows(const char *text, row_t *rows, int max_rows)
{
    int n = 0;
    const char *line = text;
    while (line != NULL && *line != '\0') {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        char buf[1024];
        if (len >= sizeof buf)
            len = sizeof buf - 1;
        memcpy(buf, line, len);
        buf[len] = '\0';
        line = nl != NULL ? nl + 1 : NULL;

        char *p = buf;
        if (strncmp(p, "[rank ", 6) == 0) {
            const char *rest = strchr(p, ']');
            rest = rest != NULL ? rest + 1 : p;
            while (*rest == ' ')
                rest++;
            ck_assert_msg(*rest != '#' && (*rest < '0' || *rest > '9') &&
                              strstr(rest, "size (B)") == NULL,
                          "a table line came prefixed: '%s'", buf);
            continue;
        }
        while (*p == ' ')
            p++;
        if (*p < '0' || *p > '9')
            continue;
        ck_assert_int_lt(n, max_rows);
        int k = 0;
        for (char *tok = strtok(p, " "); tok != NULL; tok = strtok(NULL, " ")) {
            ck_assert_msg(k < N_COLS, "too many columns in row '%s'", p);
            snprintf(rows[n].cell[k++], sizeof rows[n].cell[0], "%s", tok);
        }
        ck_assert_msg(k == N_COLS, "row %d has %d columns, want %d", n, k, N_COLS);
        n++;
    }
    return n;
}

static double num(const row_t *r, int col)
{
    char *end = NULL;
    double v = strtod(r->cell[col], &end);
    ck_assert_msg(end != r->cell[col] && *end == '\0', "column %d is '%s', not a number", col,
                  r->cell[col]);
    return v;
}

/* Columns: size count type redop root | time algbw busbw #wrong (out of
 * place) | the same in place | memcpy time, memcpy bw. */
static void check_bench(const char *op, const char *backend, int nproc)
{
    char args[512], *out = NULL;
    snprintf(args, sizeof args,
             "collbench --op %s --backend %s --nproc %d --min 1K --max 64K --iters 2 --warmup 1 "
             "--timeout 30",
             op, backend, nproc);
    int rc = tu_sf(args, &out);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert_ptr_nonnull(strstr(out, "size (B)"));
    ck_assert_ptr_nonnull(strstr(out, "count (elements)"));
    ck_assert_ptr_nonnull(strstr(out, "busbw (GB/s)"));
    ck_assert_ptr_nonnull(strstr(out, "#wrong"));

    row_t rows[16];
    int n_rows = parse_rows(out, rows, 16);
    ck_assert_msg(n_rows == 7, "%d rows, want 7 (1K..64K):\n%s", n_rows, out);
    int is_reduce = strcmp(op, "all_reduce") == 0;
    /* busbw = algbw * (n-1)/n, or 2(n-1)/n for all_reduce: 0 on one rank. */
    double factor = (is_reduce ? 2.0 : 1.0) * (nproc - 1) / nproc;
    for (int i = 0; i < n_rows; i++) {
        const row_t *r = &rows[i];
        double size = 1024.0 * (double)(1 << i);
        ck_assert_double_eq(num(r, 0), size);
        /* f32: all_reduce counts the whole buffer; all_gather/all_to_all
         * one rank's (or one peer's) piece of it. */
        ck_assert_double_eq(num(r, 1), is_reduce ? size / 4 : size / 4 / nproc);
        ck_assert_str_eq(r->cell[2], "f32");
        ck_assert_str_eq(r->cell[3], is_reduce ? "sum" : "none");
        ck_assert_str_eq(r->cell[4], "-1");
        ck_assert_str_eq(r->cell[8], "0");
        double algbw = num(r, 6), busbw = num(r, 7);
        ck_assert_msg(num(r, 5) > 0, "row %d: time %s", i, r->cell[5]);
        /* Both printed to 3 decimals: each is off by at most 0.0005. */
        ck_assert_msg(fabs(busbw - algbw * factor) <= 0.0005 * (1 + factor) + 1e-9,
                      "row %d: busbw %g, algbw %g, factor %g", i, busbw, algbw, factor);
        if (is_reduce) {
            ck_assert_str_eq(r->cell[12], "0");
            double ip_algbw = num(r, 10), ip_busbw = num(r, 11);
            ck_assert_msg(fabs(ip_busbw - ip_algbw * factor) <= 0.0005 * (1 + factor) + 1e-9,
                          "row %d in place: busbw %g, algbw %g", i, ip_busbw, ip_algbw);
        } else {
            for (int c = 9; c <= 12; c++)
                ck_assert_str_eq(r->cell[c], "n/a");
        }
        ck_assert_msg(num(r, 13) > 0 && num(r, 14) > 0, "row %d: memcpy %s us, %s GB/s", i,
                      r->cell[13], r->cell[14]);
    }
    free(out);
}

START_TEST(test_collbench_self_all_gather) { check_bench("all_gather", "self", 1); }
END_TEST
START_TEST(test_collbench_self_all_to_all) { check_bench("all_to_all", "self", 1); }
END_TEST
START_TEST(test_collbench_self_all_reduce) { check_bench("all_reduce", "self", 1); }
END_TEST
START_TEST(test_collbench_ucx_all_gather) { check_bench("all_gather", "ucx", 2); }
END_TEST
START_TEST(test_collbench_ucx_all_gatherv) { check_bench("all_gatherv", "ucx", 2); }
END_TEST
START_TEST(test_collbench_ucx_all_to_all) { check_bench("all_to_all", "ucx", 2); }
END_TEST
START_TEST(test_collbench_ucx_all_reduce) { check_bench("all_reduce", "ucx", 2); }
END_TEST

static const char *const bad_flags[] = {
    "--backend self",                                  /* --op missing */
    "--op all_scatter --backend self",                 /* unknown op */
    "--op all_gather --backend nope",                  /* unknown backend */
    "--op all_gather --backend self --min 0",          /* size 0 */
    "--op all_gather --backend self --min 12X",        /* bad suffix */
    "--op all_gather --backend self --min 2K --max 1K", /* min > max */
    "--op all_gather --backend self --iters 0",
    "--op all_gather --backend self --warmup -1",
    "--op all_gather --backend self --timeout 0",
    "--op all_gather --backend self --dtype f64",
    "--op all_reduce --backend self --dtype u8",
    "--op all_reduce --backend self --redop min",
    "--op all_gather --backend self --nproc zero",
    "--op all_gather --backend self --bogus",
    "--op all_gather --backend self --iters",          /* value missing */
};

START_TEST(test_collbench_bad_flags_exit_2)
{
    char args[512], *out = NULL;
    snprintf(args, sizeof args, "collbench %s", bad_flags[_i]);
    int rc = tu_sf(args, &out);
    ck_assert_msg(rc == 2, "'%s' exited %d:\n%s", bad_flags[_i], rc, out);
    ck_assert_ptr_nonnull(strstr(out, "error"));
    /* Nothing ran: no table. */
    ck_assert_ptr_null(strstr(out, "size (B)"));
    free(out);
}
END_TEST

START_TEST(test_collbench_help_exits_0)
{
    char *out = NULL;
    ck_assert_int_eq(tu_sf("collbench --help", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "--op all_gather|all_gatherv|all_to_all|all_reduce"));
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("collbench");
    TCase *tc = tcase_create("self");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_collbench_self_all_gather);
    tcase_add_test(tc, test_collbench_self_all_to_all);
    tcase_add_test(tc, test_collbench_self_all_reduce);
    suite_add_tcase(s, tc);
    TCase *tu = tcase_create("ucx");
    tcase_set_timeout(tu, 300);
    tcase_add_test(tu, test_collbench_ucx_all_gather);
    tcase_add_test(tu, test_collbench_ucx_all_gatherv);
    tcase_add_test(tu, test_collbench_ucx_all_to_all);
    tcase_add_test(tu, test_collbench_ucx_all_reduce);
    suite_add_tcase(s, tu);
    TCase *tf = tcase_create("flags");
    tcase_add_loop_test(tf, test_collbench_bad_flags_exit_2, 0,
                        (int)(sizeof bad_flags / sizeof bad_flags[0]));
    tcase_add_test(tf, test_collbench_help_exits_0);
    suite_add_tcase(s, tf);
    return tu_run_suite(s);
}
