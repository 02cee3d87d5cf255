/* Public errors: an internal sf_err_t copied into a heap record the caller
 * owns, with codes whose values are part of the ABI. */
#include "api_impl.h"

#include <stdlib.h>
#include <string.h>

shardflow_code_t sf_api_code(sf_status_t st)
{
    switch (st) {
    case SF_OK:
        return SHARDFLOW_OK;
    case SF_ERR_PARSE:
        return SHARDFLOW_ERR_PARSE;
    case SF_ERR_GRAPH:
        return SHARDFLOW_ERR_GRAPH;
    case SF_ERR_INPUT:
        return SHARDFLOW_ERR_INPUT;
    case SF_ERR_IO:
        return SHARDFLOW_ERR_IO;
    case SF_ERR_NOMEM:
        return SHARDFLOW_ERR_NOMEM;
    case SF_ERR_UNSUPPORTED:
        return SHARDFLOW_ERR_UNSUPPORTED;
    default:
        return SHARDFLOW_ERR_OTHER;
    }
}

void sf_api_clear(shardflow_error_t **out)
{
    if (out != NULL)
        *out = NULL;
}

shardflow_code_t sf_api_fail(const sf_err_t *err, shardflow_error_t **out)
{
    shardflow_code_t code = sf_api_code(err->code);
    if (out == NULL)
        return code;
    /* A host that cannot spare 1.5 KiB for the error gets NULL and the code. */
    shardflow_error_t *e = calloc(1, sizeof *e);
    *out = e;
    if (e == NULL)
        return code;
    e->code = code;
    e->exit_status = sf_status_exit_code(err->code);
    snprintf(e->file, sizeof e->file, "%s", err->file);
    e->line = err->line;
    e->col = err->col;
    sf_err_format(err, e->message, sizeof e->message);
    return code;
}

shardflow_code_t shardflow_error_code(const shardflow_error_t *e)
{
    return e != NULL ? e->code : SHARDFLOW_OK;
}

const char *shardflow_error_message(const shardflow_error_t *e)
{
    return e != NULL ? e->message : "";
}

const char *shardflow_error_file(const shardflow_error_t *e) { return e != NULL ? e->file : ""; }
int shardflow_error_line(const shardflow_error_t *e) { return e != NULL ? e->line : 0; }
int shardflow_error_column(const shardflow_error_t *e) { return e != NULL ? e->col : 0; }
int shardflow_error_exit_status(const shardflow_error_t *e) { return e != NULL ? e->exit_status : 0; }
void shardflow_error_free(shardflow_error_t *e) { free(e); }

const char *shardflow_version(void) { return SF_VERSION; }
