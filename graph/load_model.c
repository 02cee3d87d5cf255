/* The model provider hook: one process-wide provider, set at start-up,
 * turns a graph's `model` param into params (see graph.h). Kept apart from
 * the loader's stages so that they see it only through load_model.h. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load_model.h"

static sf_model_provider_fn model_provider;
static const char *const *model_param_names; /* borrowed: the provider's static list */
static int n_model_param_names;

void sf_graph_set_model_provider(sf_model_provider_fn fn, const char *const *param_names,
                                 int n_param_names)
{
    model_provider = fn;
    model_param_names = fn != NULL ? param_names : NULL;
    n_model_param_names = fn != NULL && param_names != NULL ? n_param_names : 0;
}

const char *const *gl_model_param_names(int *n)
{
    *n = n_model_param_names;
    return model_param_names;
}

int gl_model_param(const gl_params_t *p)
{
    int i = gl_params_find(p, "model");
    if (model_provider == NULL || i < 0 || p->items[i].value.type != SF_VALUE_STRING)
        return -1;
    return i;
}

static bool model_declares(const char *name)
{
    for (int k = 0; k < n_model_param_names; k++)
        if (strcmp(model_param_names[k], name) == 0)
            return true;
    return false;
}

/* The folder of the root file, for the provider's relative lookups. */
static void root_dir(const char *root_file, char *out, size_t n)
{
    const char *file = root_file != NULL ? root_file : ".";
    const char *slash = strrchr(file, '/');
    if (slash == NULL)
        snprintf(out, n, ".");
    else
        snprintf(out, n, "%.*s", (int)(slash - file), file);
}

sf_status_t gl_model_apply(gl_params_t *p, const char *root_file, int world, sf_err_t *err)
{
    int i = gl_model_param(p);
    if (i < 0)
        return SF_OK;
    char dir[4096];
    root_dir(root_file, dir, sizeof dir);
    sf_param_def_t *defs = NULL;
    int n = 0;
    const sf_pos_t mpos = p->items[i].pos;
    sf_err_t local;
    sf_err_clear(&local);
    sf_status_t st = model_provider(p->items[i].value.s, dir, world, &defs, &n, &local);
    if (st != SF_OK) {
        /* Point at where the model was named: the file or --set. */
        sf_pos_t at = local.file[0] != '\0' ? (sf_pos_t){local.file, local.line, local.col} : mpos;
        return sf_err_set(err, st, &at, "%s", local.msg);
    }
    sf_pos_t pos = {"<model>", 0, 0};
    for (int k = 0; k < n; k++) {
        /* An undeclared name would have been refused as a --set key. */
        SF_ASSERT(model_declares(defs[k].name));
        if (gl_params_find(p, defs[k].name) < 0) {
            defs[k].value.pos = pos;
            gl_params_set(p, defs[k].name, defs[k].value, pos);
        } else {
            sf_value_fini(&defs[k].value);
        }
        free(defs[k].name);
    }
    free(defs);
    return SF_OK;
}
