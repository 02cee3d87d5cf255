/* The model provider hook (load_model.c): sf_graph_set_model_provider keeps
 * it, and stage 1 asks it for the params of the graph's `model`. Private to
 * the loader. */
#ifndef SF_LOAD_MODEL_H
#define SF_LOAD_MODEL_H

#include "load_params.h"

/* The index in p of the `model` param when the provider will run on it,
 * else -1. A --set keeps a param's type, so the answer is the same before
 * and after the overrides. */
int gl_model_param(const gl_params_t *p);

/* The names the provider may define (borrowed, static), *n of them; NULL
 * and 0 without a provider. */
const char *const *gl_model_param_names(int *n);

/* Run the provider on p's `model` (when gl_model_param finds it) and add
 * the params it defines that p does not already have. root_file is the root
 * graph file, whose folder the provider resolves relative paths against.
 * Errors point at where the model was named. */
SF_NODISCARD sf_status_t gl_model_apply(gl_params_t *p, const char *root_file, int world,
                                        sf_err_t *err);

#endif
