/* Private to plan_report.c and plan_report_print.c: what planning a
 * configuration yields, copied out of each rank's graph so it outlives it. */
#ifndef SF_PLAN_REPORT_IMPL_H
#define SF_PLAN_REPORT_IMPL_H

#include <cjson/cJSON.h>

#include "mem_category.h"
#include "plan_report.h"

typedef struct top_row {
    char tensor[96];
    char shape[96];
    sf_dtype_t dtype;
    uint64_t bytes;
    sf_mv_cat_t cat;
} top_row_t;

typedef struct rank_result {
    int rank;
    uint64_t peak_bytes;
    uint64_t end_bytes;
    char peak_node[256];
    uint64_t cats[SF_MV_CAT_COUNT]; /* at the peak; they sum to peak_bytes */
    int n_top;
    top_row_t top[SF_MEM_TOP_K];
    int same_as;                     /* index of the first identical result (itself if none) */
} rank_result_t;

typedef struct config_result {
    char label[256];                 /* "KEY=VALUE" of --compare, or "" */
    rank_result_t *ranks;            /* owned: one per planned rank */
    int n_ranks;
    int worst;                       /* index of the largest peak (the first of equals) */
    cJSON *params;                   /* owned: the echo of rank 0's params */
    bool swept;
    int64_t sweep_best;              /* 0: not even one step fits */
    uint64_t sweep_best_peak;
    int64_t sweep_next;              /* the smallest step known not to fit; 0 if none found */
    uint64_t sweep_next_peak;
} config_result_t;

/* Print the report of the n configurations cs on stdout: the table with
 * the largest buffers at each peak, or (print_json) one JSON object; the
 * JSON takes the configs' params (cs[k].params is NULL afterwards). */
void sf_plan_report_print_text(const sf_cli_graph_args_t *a, const sf_session_opts_t *base,
                               const sf_plan_report_opts_t *ro, config_result_t *cs, int n);
void sf_plan_report_print_json(const sf_cli_graph_args_t *a, const sf_session_opts_t *base,
                               const sf_plan_report_opts_t *ro, config_result_t *cs, int n);

#endif
