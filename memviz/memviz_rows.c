/* See memviz_rows.h. */
#include "memviz_rows.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "memviz_summary.h"

const sf_mv_rank_t *sf_mv_rows_rank(const sf_mv_trace_t *t, int64_t pid)
{
    for (int i = 0; i < t->n_ranks; i++)
        if (t->ranks[i].pid == pid)
            return &t->ranks[i];
    return NULL;
}

/* Are rows a and b (pids) the same in every run? Then b is drawn as a. */
static bool rows_same(sf_mv_trace_t *const *runs, int n_runs, int64_t a, int64_t b)
{
    for (int k = 0; k < n_runs; k++) {
        const sf_mv_rank_t *x = sf_mv_rows_rank(runs[k], a), *y = sf_mv_rows_rank(runs[k], b);
        if ((x == NULL) != (y == NULL) || (x != NULL && !sf_mv_rank_same(x, y)))
            return false;
    }
    return true;
}

/* "0-3,5" for the members of leader r, into note; how many members. */
static int member_list(const int64_t *pids, const int *lead_of, int n, int r, char *note)
{
    size_t used = 0;
    int members = 0;
    note[0] = '\0';
    for (int i = r; i < n; i++) {
        if (lead_of[i] != r)
            continue;
        int j = i;
        while (j + 1 < n && lead_of[j + 1] == r && pids[j + 1] == pids[j] + 1)
            j++;
        members += j - i + 1;
        size_t room = SF_MV_ROW_NOTE - used;
        int w = j > i ? snprintf(note + used, room, "%s%lld-%lld", used ? "," : "",
                                 (long long)pids[i], (long long)pids[j])
                      : snprintf(note + used, room, "%s%lld", used ? "," : "", (long long)pids[i]);
        if (w < 0 || (size_t)w >= room)
            break;
        used += (size_t)w;
        i = j;
    }
    return members;
}

void sf_mv_rows_build(sf_mv_trace_t *const *runs, int n_runs, sf_mv_rows_t *rows)
{
    int64_t all[SF_MV_ROWS_MAX];
    int n = 0;
    for (int k = 0; k < n_runs; k++)
        for (int i = 0; i < runs[k]->n_ranks; i++) {
            bool have = false;
            for (int j = 0; j < n; j++)
                have = have || all[j] == runs[k]->ranks[i].pid;
            if (!have && n < SF_MV_ROWS_MAX)
                all[n++] = runs[k]->ranks[i].pid;
        }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && all[j - 1] > all[j]; j--) {
            int64_t tmp = all[j];
            all[j] = all[j - 1];
            all[j - 1] = tmp;
        }
    int lead_of[SF_MV_ROWS_MAX];
    for (int r = 0; r < n; r++) {
        lead_of[r] = r;
        for (int j = 0; j < r && lead_of[r] == r; j++)
            if (lead_of[j] == j && rows_same(runs, n_runs, all[j], all[r]))
                lead_of[r] = j;
    }
    rows->n = 0;
    for (int r = 0; r < n; r++) {
        if (lead_of[r] != r)
            continue;
        char list[SF_MV_ROW_NOTE];
        char *note = rows->notes[rows->n];
        if (member_list(all, lead_of, n, r, list) > 1)
            snprintf(note, SF_MV_ROW_NOTE, "ranks %.60s identical", list);
        else
            note[0] = '\0';
        rows->pids[rows->n++] = all[r];
    }
}
