/* What the model suites share, header-only as op_harness.h is: the params
 * the model provider defines for a model (a preset or a checkpoint folder)
 * at a tensor-parallel size, looked up by name, and an error's code and
 * message fragment. */
#ifndef SF_MODEL_HARNESS_H
#define SF_MODEL_HARNESS_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "model_config.h"
#include "test_util.h"

/* The params the provider defined: d[0..n), owned (md_defs_free). */
typedef struct md_defs {
    sf_param_def_t *d;
    int n;
} md_defs_t;

/* The provider's params for model at tp = world; err cleared first. */
static inline sf_status_t md_provide(const char *model, int world, md_defs_t *out, sf_err_t *err)
{
    sf_err_clear(err);
    return sf_model_provider(model, tu_src("graphs"), world, &out->d, &out->n, err);
}

/* md_provide that fails the test (printing the error) unless it succeeds. */
static inline md_defs_t md_provide_ok(const char *model, int world)
{
    md_defs_t d;
    sf_err_t err;
    sf_status_t st = md_provide(model, world, &d, &err);
    if (st != SF_OK)
        sf_err_print(&err, stderr);
    ck_assert_int_eq(st, SF_OK);
    return d;
}

static inline void md_defs_free(md_defs_t *d)
{
    for (int i = 0; i < d->n; i++) {
        free(d->d[i].name);
        sf_value_fini(&d->d[i].value);
    }
    free(d->d);
}

/* The value of param name; fails the test when it is not defined. */
static inline const sf_value_t *md_def_get(const md_defs_t *d, const char *name)
{
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->d[i].name, name) == 0)
            return &d->d[i].value;
    ck_abort_msg("param '%s' not defined", name);
    return NULL;
}

/* The integer value of param name. */
static inline int64_t md_def_int(const md_defs_t *d, const char *name)
{
    const sf_value_t *v = md_def_get(d, name);
    ck_assert_int_eq(v->type, SF_VALUE_INT);
    return v->i;
}

/* st is code and the message holds frag. */
static inline void md_expect_err(sf_status_t st, const sf_err_t *err, sf_status_t code,
                                 const char *frag)
{
    ck_assert_int_eq(st, code);
    ck_assert_msg(strstr(err->msg, frag) != NULL, "message '%s' lacks '%s'", err->msg, frag);
}

#endif
