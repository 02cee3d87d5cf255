/* Shared option handling for the shardflow subcommands. */
#include "cli.h"

#include <string.h>

#include <cjson/cJSON.h>

bool sf_cli_is_option(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

const char *sf_cli_option_value(int argc, char **argv, int *i, sf_err_t *err)
{
    const char *eq = strchr(argv[*i], '=');
    if (eq != NULL)
        return eq + 1;
    if (*i + 1 >= argc) {
        sf_err_set(err, SF_ERR_INPUT, NULL, "option %s needs a value", argv[*i]);
        return NULL;
    }
    (*i)++;
    return argv[*i];
}

int sf_cli_take_common(sf_cli_graph_args_t *a, int argc, char **argv, int *i, sf_err_t *err)
{
    const char *arg = argv[*i];
    if (strcmp(arg, "--json") == 0) {
        a->json = true;
        return 1;
    }
    if (sf_cli_is_option(arg, "--set")) {
        const char *kv = sf_cli_option_value(argc, argv, i, err);
        if (kv == NULL)
            return -1;
        const char *eq = strchr(kv, '=');
        if (eq == NULL || eq == kv) {
            sf_err_set(err, SF_ERR_INPUT, NULL, "--set expects KEY=VALUE, got '%s'", kv);
            return -1;
        }
        if (a->n_sets >= SF_CLI_MAX_SETS || strlen(kv) >= sizeof a->set_text[0]) {
            sf_err_set(err, SF_ERR_INPUT, NULL, "too many or too long --set options");
            return -1;
        }
        char *text = a->set_text[a->n_sets];
        strcpy(text, kv);
        text[eq - kv] = '\0';
        a->sets[a->n_sets].key = text;
        a->sets[a->n_sets].value = text + (eq - kv) + 1;
        a->n_sets++;
        return 1;
    }
    return 0;
}

sf_status_t sf_cli_load_graph(const sf_cli_graph_args_t *a, sf_graph_t **out, sf_err_t *err)
{
    if (a->graph_path == NULL)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "no graph file given (see --help)");
    sf_ops_register_all();
    return sf_graph_load_file(a->graph_path, a->sets, a->n_sets, out, err);
}

int sf_cli_fail(const sf_err_t *err)
{
    sf_err_print(err, stderr);
    return sf_status_exit_code(err->code);
}

void sf_cli_format_bytes(unsigned long long bytes, char *out, size_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(out, n, "%llu B", bytes);
    else
        snprintf(out, n, "%.2f %s", v, units[u]);
}

bool sf_cli_json_add_u64(cJSON *obj, const char *key, uint64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%llu", (unsigned long long)v);
    return cJSON_AddRawToObject(obj, key, text) != NULL;
}

bool sf_cli_parse_on_off(const char *option, const char *v, bool *out, sf_err_t *err)
{
    if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
        *out = v[1] == 'n';
        return true;
    }
    sf_err_set(err, SF_ERR_INPUT, NULL, "%s expects on or off, got '%s'", option, v);
    return false;
}
