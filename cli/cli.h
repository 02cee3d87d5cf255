/* What every subcommand shares: option parsing helpers, graph loading with
 * --set overrides, and the exit-code rule (2 for bad input). */
#ifndef SF_CLI_H
#define SF_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "graph.h"
#include "status.h"

#define SF_CLI_MAX_SETS 256

typedef struct sf_cli_graph_args {
    const char *graph_path;               /* borrowed from argv */
    sf_param_set_t sets[SF_CLI_MAX_SETS]; /* key and value point into set_text */
    int n_sets;
    char set_text[SF_CLI_MAX_SETS][512];
    bool json;
} sf_cli_graph_args_t;

/* Try to consume argv[*i] as a shared option (--set K=V, --json). Returns
 * 1 if consumed, 0 if not ours, -1 on a malformed one (err filled). */
int sf_cli_take_common(sf_cli_graph_args_t *a, int argc, char **argv, int *i, sf_err_t *err);

/* The value of option argv[*i] (for "--opt VALUE" or "--opt=VALUE"); NULL
 * and err filled when it is missing. Advances *i past a separate value. */
const char *sf_cli_option_value(int argc, char **argv, int *i, sf_err_t *err);

/* True if argv[i] is --name or starts with --name=. */
bool sf_cli_is_option(const char *arg, const char *name);

/* Load the graph named in a (ops registered first). */
SF_NODISCARD sf_status_t sf_cli_load_graph(const sf_cli_graph_args_t *a, sf_graph_t **out,
                                           sf_err_t *err);

/* Print err to stderr and return the exit code for it. */
int sf_cli_fail(const sf_err_t *err);

/* "1.5 MiB" style, for human output. */
void sf_cli_format_bytes(unsigned long long bytes, char *out, size_t n);

struct cJSON;
/* Add key: v to a cJSON object as exact integer text. cJSON prints numbers
 * through a double and settles for 15 digits when they read back within an
 * ulp, so byte counts from 10^15 up would come out rounded (2^53 as
 * 9.00719925474099e+15). False when out of memory. */
/* "on" -> true, "off" -> false; anything else is SF_ERR_INPUT naming the
 * option. Returns whether v was valid. */
bool sf_cli_parse_on_off(const char *option, const char *v, bool *out, sf_err_t *err);

bool sf_cli_json_add_u64(struct cJSON *obj, const char *key, uint64_t v);

#endif
