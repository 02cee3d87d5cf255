/* The params table and the typed readers over it. Private to the loader.
 * Stage 1 (load_source.c, load_sets.c, load_model.c, graph_load.c) fills the
 * table; stage 2 (load_nodes.c) only reads it, through a gl_scope_t, to
 * substitute ${param} and evaluate expressions in every slot it types. */
#ifndef SF_LOAD_PARAMS_H
#define SF_LOAD_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "graph.h"
#include "graph_names.h"
#include "yaml_doc.h"

/* The params, in first-seen order, with a name index. */
typedef struct gl_params {
    sf_param_t *items; /* owned (names and values too), n of them */
    int n, cap;
    sf_graph_names_t names; /* keys borrowed from items[].name */
} gl_params_t;

void gl_params_init(gl_params_t *p);
void gl_params_fini(gl_params_t *p);
/* The index of the param called name, or -1. */
int gl_params_find(const gl_params_t *p, const char *name);
/* Define or override a param. Takes v. */
void gl_params_set(gl_params_t *p, const char *name, sf_value_t v, sf_pos_t pos);

/* Type a plain scalar's text as an int, bool, float or string (in that order
 * of preference); errors carry code and name what. On success *out is owned
 * by the caller. */
SF_NODISCARD sf_status_t gl_value_from_text(const char *text, const sf_pos_t *pos,
                                            const char *what, sf_status_t code, sf_value_t *out,
                                            sf_err_t *err);
/* Type a YAML node as a param value (plain scalars become int, float or
 * bool when they read as one; quoted ones stay strings; lists recurse). */
SF_NODISCARD sf_status_t gl_value_from_ynode(const sf_ynode_t *y, const char *what,
                                             sf_status_t code, sf_value_t *out, sf_err_t *err);

/* What ${} and expressions see: the params and, inside a `repeat` block,
 * the block's variable, which is looked up before the params. */
typedef struct gl_scope {
    const gl_params_t *params; /* borrowed */
    const char *var;           /* borrowed from the YAML; NULL outside a block */
    sf_value_t val;
} gl_scope_t;

/* Readers for typed slots; every scalar goes through ${param} substitution
 * first. what prefixes error messages ("node 'a': attr 'dim'"). */
SF_NODISCARD sf_status_t gl_subst(const gl_scope_t *s, const sf_ynode_t *y, char **out,
                                  bool *is_changed, sf_err_t *err);
SF_NODISCARD sf_status_t gl_read_string(const gl_scope_t *s, const sf_ynode_t *y,
                                        const char *what, char **out, sf_err_t *err);
SF_NODISCARD sf_status_t gl_read_int(const gl_scope_t *s, const sf_ynode_t *y, const char *what,
                                     int64_t *out, sf_err_t *err);
SF_NODISCARD sf_status_t gl_read_ints(const gl_scope_t *s, const sf_ynode_t *y, const char *what,
                                      int64_t **out, int *n, sf_pos_t **item_pos, sf_err_t *err);
SF_NODISCARD sf_status_t gl_read_float(const gl_scope_t *s, const sf_ynode_t *y, const char *what,
                                       double *out, sf_err_t *err);
SF_NODISCARD sf_status_t gl_read_bool(const gl_scope_t *s, const sf_ynode_t *y, const char *what,
                                      bool *out, sf_err_t *err);
SF_NODISCARD sf_status_t gl_read_dtype(const gl_scope_t *s, const sf_ynode_t *y, const char *what,
                                       sf_dtype_t *out, sf_err_t *err);
SF_NODISCARD sf_status_t gl_read_cond(const gl_scope_t *s, const sf_ynode_t *y, const char *what,
                                      bool *out, sf_err_t *err);

#endif
