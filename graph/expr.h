/* Integer expressions and conditions over graph params.
 *   int:  literals, param names, + - * / // % (binary), unary -, ( ),
 *         min(a, b, ...), max(a, b, ...). int64; overflow is an error.
 *         `/` must divide exactly; `//` floors; `%` takes the divisor's sign
 *         (so a == (a // b) * b + a % b, as in Python).
 *   cond: == != < <= > >=, and, or, not, ( ), true, false, bool params.
 *         == and != compare as strings when a side is not an int expression
 *         (a bare word, or a param holding a string), so that
 *         `${mode} == all_to_all` works after substitution.
 * Every error is SF_ERR_GRAPH at the offending token's column. */
#ifndef SF_EXPR_H
#define SF_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "value.h"

/* Resolve a name (len bytes, not NUL-terminated) to a param value, or NULL
 * when there is no such param. The value is borrowed. */
typedef const sf_value_t *(*sf_expr_lookup_fn)(void *ctx, const char *name, size_t len);

#define SF_EXPR_MAX_DEPTH 64 /* nested parentheses and calls */

typedef struct sf_expr_src {
    const char *text; /* borrowed; len bytes, NUL not required */
    size_t len;
    /* Position of text[0]. Columns of later tokens are col + byte offset,
     * which is exact for a one-line scalar; with col 0 the error carries
     * pos as is. pos.file is borrowed. */
    sf_pos_t pos;
    sf_expr_lookup_fn lookup; /* may be NULL: no params */
    void *ctx;
} sf_expr_src_t;

SF_NODISCARD sf_status_t sf_expr_eval_int(const sf_expr_src_t *src, int64_t *out, sf_err_t *err);
SF_NODISCARD sf_status_t sf_expr_eval_cond(const sf_expr_src_t *src, bool *out, sf_err_t *err);

#endif
