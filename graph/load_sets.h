/* --set overrides on the params table (load_sets.c). Private to the loader:
 * stage 1 uses them to turn the file's params into the final table. */
#ifndef SF_LOAD_SETS_H
#define SF_LOAD_SETS_H

#include "load_params.h"

/* Check every --set key before any is applied or any param is read, so a
 * typo is not hidden behind what the default value of the meant param
 * breaks. A key may name a param of p or one of model_params (the names
 * the model provider declares; NULL when it will not run), never `rank` or
 * `world`. The first bad key in command-line order is the error:
 * SF_ERR_INPUT with no position, the closest settable name when one is
 * close, and the settable names. */
SF_NODISCARD sf_status_t gl_sets_check_keys(const gl_params_t *p, const sf_param_set_t *sets,
                                            int n_sets, const char *const *model_params,
                                            int n_model_params, sf_err_t *err);

/* Apply sets to p in order; each key must already name a param of p (its
 * type is kept: ints widen to floats, a string param takes the text). */
SF_NODISCARD sf_status_t gl_sets_apply(gl_params_t *p, const sf_param_set_t *sets, int n_sets,
                                       sf_err_t *err);

#endif
