/* Stage 3 of the loader (load_validate.c): checks and shape inference on
 * the built graph alone. Private to the loader. */
#ifndef SF_LOAD_VALIDATE_H
#define SF_LOAD_VALIDATE_H

#include "load_nodes.h"

/* Wire b->g's values (producers, views, outputs), check the graph (every
 * tensor produced once, defined before use, no cycle, outputs produced)
 * and infer every layout in the topological order, which b->g keeps. */
SF_NODISCARD sf_status_t gl_validate(gl_built_t *b, sf_err_t *err);

#endif
