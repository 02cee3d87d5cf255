/* plan's pre-launch report: per rank whether the peak fits a device
 * (--device-mem) and with what headroom, the peak split by category, the
 * largest buffers live then, identical ranks folded; one rank (--rank);
 * several values of one param side by side (--compare KEY=V1,V2); the
 * largest batch or seq that fits (--sweep KEY[:STEP]). Kept apart from
 * cmd_plan.c, which only hands over the options this file takes. */
#ifndef SF_PLAN_REPORT_H
#define SF_PLAN_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "graph_session.h"

struct cJSON;

#define SF_PLAN_REPORT_MAX_CONFIGS 8

/* The exit status when a planned rank does not fit --device-mem (or a
 * sweep finds no value that fits): not bad input (2), not a fault (1). */
#define SF_PLAN_EXIT_NO_FIT 3

typedef struct sf_plan_report_opts {
    uint64_t device_mem;       /* --device-mem; 0: not given */
    int only_rank;             /* --rank; -1: every rank */
    char compare_key[64];      /* --compare KEY=V1,V2,...; "" when not given */
    char compare_vals[SF_PLAN_REPORT_MAX_CONFIGS][128];
    int n_compare;
    char sweep_key[64];        /* --sweep KEY[:STEP]; "" when not given */
    int64_t sweep_step;
} sf_plan_report_opts_t;

void sf_plan_report_opts_init(sf_plan_report_opts_t *ro);

/* Try to take argv[*i] as one of this report's options. 1: taken, 0: not
 * ours, -1: malformed (err filled, SF_ERR_INPUT). */
int sf_plan_report_take(sf_plan_report_opts_t *ro, int argc, char **argv, int *i, sf_err_t *err);

/* Whether any of this report's options was given. */
bool sf_plan_report_wanted(const sf_plan_report_opts_t *ro);

/* Plan and print the report (stdout: a table, or one JSON object with
 * a->json). base gives free policy and world; mem_limit (0: none) keeps
 * --mem-limit's verdict (exit 2 and the report on stderr for a rank over
 * it). Returns the exit status: 0 every planned rank fits (or no
 * --device-mem), SF_PLAN_EXIT_NO_FIT, 2 bad input, 1 other failures.
 * Bad input prints nothing on stdout. */
int sf_plan_report_run(const sf_cli_graph_args_t *a, const sf_session_opts_t *base,
                       uint64_t mem_limit, const sf_plan_report_opts_t *ro);

/* Add what was planned to a result object, so it stands on its own:
 * "graph_file" (may be NULL: omitted) and "params" (every param after the
 * --set overrides and the model's, as typed values). */
void sf_plan_report_json_echo(struct cJSON *root, const sf_graph_t *g, const char *graph_file);

#endif
