/* Recursive-descent evaluator. It evaluates while it parses (no AST): every
 * expression is evaluated once, at load time. Conditions are split on their
 * top-level operators first, because a side of == may be free text
 * (`synthetic:qwen3-8b`) that the int grammar cannot tokenize. */
#include "expr.h"

#include <ctype.h>
#include <inttypes.h>
#include <string.h>

typedef struct expr_parser {
    const sf_expr_src_t *src;
    size_t i;   /* cursor */
    size_t end; /* exclusive bound of the range being parsed */
    int depth;
    sf_err_t *err;
} expr_parser_t;

static sf_pos_t expr_pos(const sf_expr_src_t *src, size_t off)
{
    sf_pos_t p = src->pos;
    if (p.col > 0)
        p.col += (int)off;
    return p;
}

static sf_status_t expr_fail(const expr_parser_t *p, size_t off, const char *fmt, ...)
    SF_PRINTF(3, 4);
static sf_status_t expr_fail(const expr_parser_t *p, size_t off, const char *fmt, ...)
{
    sf_pos_t pos = expr_pos(p->src, off);
    va_list ap;
    va_start(ap, fmt);
    sf_status_t st = sf_err_setv(p->err, SF_ERR_GRAPH, &pos, fmt, ap);
    va_end(ap);
    return st;
}

static bool is_ident_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool is_ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static void skip_ws(expr_parser_t *p)
{
    while (p->i < p->end && isspace((unsigned char)p->src->text[p->i]))
        p->i++;
}

static char peek(expr_parser_t *p)
{
    skip_ws(p);
    return p->i < p->end ? p->src->text[p->i] : '\0';
}

/* What the cursor sees, for messages: one token's worth of text. */
static void describe_here(const expr_parser_t *p, char *out, size_t n)
{
    const char *t = p->src->text;
    if (p->i >= p->end) {
        snprintf(out, n, "the end of the expression");
        return;
    }
    size_t j = p->i;
    if (is_ident_char(t[j])) {
        while (j < p->end && is_ident_char(t[j]))
            j++;
    } else {
        j++;
    }
    snprintf(out, n, "'%.*s'", (int)(j - p->i), t + p->i);
}

static sf_status_t parse_sum(expr_parser_t *p, int64_t *out);

static sf_status_t lookup_int(expr_parser_t *p, size_t at, size_t len, int64_t *out)
{
    const char *name = p->src->text + at;
    const sf_value_t *v = p->src->lookup ? p->src->lookup(p->src->ctx, name, len) : NULL;
    if (v == NULL)
        return expr_fail(p, at, "unknown param '%.*s'", (int)len, name);
    if (v->type != SF_VALUE_INT)
        return expr_fail(p, at, "param '%.*s' is a %s, expected an int", (int)len, name,
                         sf_value_type_name(v->type));
    *out = v->i;
    return SF_OK;
}

static sf_status_t parse_call(expr_parser_t *p, size_t at, bool is_min, int64_t *out)
{
    sf_status_t st;
    int64_t best = 0;
    int n_args = 0;
    p->i++; /* '(' */
    if (peek(p) == ')')
        return expr_fail(p, at, "%s() needs at least one argument", is_min ? "min" : "max");
    for (;;) {
        int64_t v;
        if ((st = parse_sum(p, &v)) != SF_OK)
            return st;
        if (n_args++ == 0 || (is_min ? v < best : v > best))
            best = v;
        char c = peek(p);
        if (c == ',') {
            p->i++;
            continue;
        }
        if (c == ')') {
            p->i++;
            break;
        }
        char what[64];
        describe_here(p, what, sizeof what);
        return expr_fail(p, p->i, "expected ',' or ')' in %s(), found %s", is_min ? "min" : "max",
                         what);
    }
    *out = best;
    return SF_OK;
}

static sf_status_t parse_primary(expr_parser_t *p, int64_t *out)
{
    const char *t = p->src->text;
    char c = peek(p);
    size_t at = p->i;
    if (c == '(') {
        if (++p->depth > SF_EXPR_MAX_DEPTH)
            return expr_fail(p, at, "expression nested deeper than %d levels", SF_EXPR_MAX_DEPTH);
        p->i++;
        sf_status_t st = parse_sum(p, out);
        if (st != SF_OK)
            return st;
        if (peek(p) != ')') {
            char what[64];
            describe_here(p, what, sizeof what);
            return expr_fail(p, p->i, "expected ')' to close the '(' at column %d, found %s",
                             expr_pos(p->src, at).col, what);
        }
        p->i++;
        p->depth--;
        return SF_OK;
    }
    if (isdigit((unsigned char)c)) {
        int64_t v = 0;
        while (p->i < p->end && isdigit((unsigned char)t[p->i])) {
            if (__builtin_mul_overflow(v, 10, &v) ||
                __builtin_add_overflow(v, t[p->i] - '0', &v))
                return expr_fail(p, at, "integer literal overflows int64");
            p->i++;
        }
        if (p->i < p->end && is_ident_char(t[p->i]))
            return expr_fail(p, at, "malformed number '%.*s'", (int)(p->i + 1 - at), t + at);
        *out = v;
        return SF_OK;
    }
    if (is_ident_start(c)) {
        while (p->i < p->end && is_ident_char(t[p->i]))
            p->i++;
        size_t len = p->i - at;
        bool is_min = len == 3 && strncmp(t + at, "min", 3) == 0;
        bool is_max = len == 3 && strncmp(t + at, "max", 3) == 0;
        if ((is_min || is_max) && peek(p) == '(') {
            if (++p->depth > SF_EXPR_MAX_DEPTH)
                return expr_fail(p, at, "expression nested deeper than %d levels",
                                 SF_EXPR_MAX_DEPTH);
            sf_status_t st = parse_call(p, at, is_min, out);
            p->depth--;
            return st;
        }
        if (peek(p) == '[') {
            /* list[i]: an int item of a list param, e.g. aux_layers[1]. */
            const sf_value_t *v = p->src->lookup ? p->src->lookup(p->src->ctx, t + at, len) : NULL;
            if (v == NULL)
                return expr_fail(p, at, "unknown param '%.*s'", (int)len, t + at);
            if (v->type != SF_VALUE_LIST)
                return expr_fail(p, at, "param '%.*s' is a %s and cannot be indexed", (int)len,
                                 t + at, sf_value_type_name(v->type));
            size_t open = p->i++;
            int64_t idx;
            sf_status_t st = parse_sum(p, &idx);
            if (st != SF_OK)
                return st;
            if (peek(p) != ']')
                return expr_fail(p, p->i, "expected ']' to close the '[' at column %d",
                                 expr_pos(p->src, open).col);
            p->i++;
            if (idx < 0 || idx >= v->n_items)
                return expr_fail(p, open, "index %lld out of range for '%.*s' (%d items)",
                                 (long long)idx, (int)len, t + at, v->n_items);
            if (v->items[idx].type != SF_VALUE_INT)
                return expr_fail(p, open, "'%.*s'[%lld] is a %s, expected an int", (int)len,
                                 t + at, (long long)idx, sf_value_type_name(v->items[idx].type));
            *out = v->items[idx].i;
            return SF_OK;
        }
        return lookup_int(p, at, len, out);
    }
    char what[64];
    describe_here(p, what, sizeof what);
    return expr_fail(p, at, "expected a number, a param name or '(', found %s", what);
}

static sf_status_t parse_unary(expr_parser_t *p, int64_t *out)
{
    char c = peek(p);
    if (c == '-' || c == '+') {
        size_t at = p->i;
        if (++p->depth > SF_EXPR_MAX_DEPTH)
            return expr_fail(p, at, "expression nested deeper than %d levels", SF_EXPR_MAX_DEPTH);
        p->i++;
        int64_t v;
        sf_status_t st = parse_unary(p, &v);
        p->depth--;
        if (st != SF_OK)
            return st;
        if (c == '-' && __builtin_sub_overflow((int64_t)0, v, &v))
            return expr_fail(p, at, "overflow: -(%" PRId64 ") does not fit in int64", v);
        *out = v;
        return SF_OK;
    }
    return parse_primary(p, out);
}

static sf_status_t apply_mul(expr_parser_t *p, size_t at, const char *op, int64_t a, int64_t b,
                             int64_t *out)
{
    if (op[0] == '*') {
        if (__builtin_mul_overflow(a, b, out))
            return expr_fail(p, at, "overflow: %" PRId64 " * %" PRId64 " does not fit in int64",
                             a, b);
        return SF_OK;
    }
    if (b == 0)
        return expr_fail(p, at, "division by zero: %" PRId64 " %s 0", a, op);
    if (a == INT64_MIN && b == -1)
        return expr_fail(p, at, "overflow: %" PRId64 " %s -1 does not fit in int64", a, op);
    int64_t q = a / b, r = a % b;
    if (strcmp(op, "/") == 0) {
        if (r != 0)
            return expr_fail(p, at, "non-exact division: %" PRId64 " / %" PRId64
                             " (use // to floor)", a, b);
        *out = q;
    } else if (strcmp(op, "//") == 0) {
        *out = (r != 0 && ((r < 0) != (b < 0))) ? q - 1 : q;
    } else {
        *out = (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
    }
    return SF_OK;
}

static sf_status_t parse_term(expr_parser_t *p, int64_t *out)
{
    sf_status_t st = parse_unary(p, out);
    while (st == SF_OK) {
        char c = peek(p);
        if (c != '*' && c != '/' && c != '%')
            break;
        size_t at = p->i;
        const char *op = c == '*' ? "*" : c == '%' ? "%" : "/";
        if (c == '/' && at + 1 < p->end && p->src->text[at + 1] == '/')
            op = "//";
        p->i += strlen(op);
        int64_t rhs;
        if ((st = parse_unary(p, &rhs)) != SF_OK)
            break;
        st = apply_mul(p, at, op, *out, rhs, out);
    }
    return st;
}

static sf_status_t parse_sum(expr_parser_t *p, int64_t *out)
{
    sf_status_t st = parse_term(p, out);
    while (st == SF_OK) {
        char c = peek(p);
        if (c != '+' && c != '-')
            break;
        size_t at = p->i++;
        int64_t rhs, a = *out;
        if ((st = parse_term(p, &rhs)) != SF_OK)
            break;
        bool is_over = c == '+' ? __builtin_add_overflow(a, rhs, out)
                                : __builtin_sub_overflow(a, rhs, out);
        if (is_over)
            st = expr_fail(p, at, "overflow: %" PRId64 " %c %" PRId64 " does not fit in int64", a,
                           c, rhs);
    }
    return st;
}

/* Evaluate text[s, e) as a whole int expression. */
static sf_status_t eval_int_range(const sf_expr_src_t *src, size_t s, size_t e, int64_t *out,
                                  sf_err_t *err)
{
    expr_parser_t p = {src, s, e, 0, err};
    if (peek(&p) == '\0')
        return expr_fail(&p, p.i, "empty expression, expected an int");
    sf_status_t st = parse_sum(&p, out);
    if (st != SF_OK)
        return st;
    if (peek(&p) != '\0') {
        char what[64];
        describe_here(&p, what, sizeof what);
        return expr_fail(&p, p.i, "unexpected %s after the expression", what);
    }
    return SF_OK;
}

sf_status_t sf_expr_eval_int(const sf_expr_src_t *src, int64_t *out, sf_err_t *err)
{
    return eval_int_range(src, 0, src->len, out, err);
}

/* --- conditions -------------------------------------------------------------- */

static void trim(const char *t, size_t *s, size_t *e)
{
    while (*s < *e && isspace((unsigned char)t[*s]))
        (*s)++;
    while (*e > *s && isspace((unsigned char)t[*e - 1]))
        (*e)--;
}

static bool word_at(const char *t, size_t s, size_t e, size_t i, const char *w)
{
    size_t n = strlen(w);
    if (i + n > e || strncmp(t + i, w, n) != 0)
        return false;
    if (i > s && is_ident_char(t[i - 1]))
        return false;
    return i + n == e || !is_ident_char(t[i + n]);
}

/* First top-level (paren depth 0) occurrence of word w in [s, e), or e. */
static size_t find_word(const char *t, size_t s, size_t e, const char *w)
{
    int depth = 0;
    for (size_t i = s; i < e; i++) {
        if (t[i] == '(')
            depth++;
        else if (t[i] == ')')
            depth--;
        else if (depth == 0 && word_at(t, s, e, i, w))
            return i;
    }
    return e;
}

/* First top-level comparison operator in [s, e): returns its offset (or e)
 * and its length in *n. */
static size_t find_cmp(const char *t, size_t s, size_t e, size_t *n)
{
    int depth = 0;
    for (size_t i = s; i < e; i++) {
        char c = t[i], d = i + 1 < e ? t[i + 1] : '\0';
        if (c == '(')
            depth++;
        else if (c == ')')
            depth--;
        else if (depth == 0 && (((c == '=' || c == '!' || c == '<' || c == '>') && d == '=') ||
                                c == '<' || c == '>')) {
            *n = d == '=' ? 2 : 1;
            return i;
        }
    }
    *n = 0;
    return e;
}

/* Does the '(' at s close exactly at e - 1? */
static bool is_wrapped(const char *t, size_t s, size_t e)
{
    if (e - s < 2 || t[s] != '(' || t[e - 1] != ')')
        return false;
    int depth = 0;
    for (size_t i = s; i < e; i++) {
        if (t[i] == '(')
            depth++;
        else if (t[i] == ')' && --depth == 0)
            return i == e - 1;
    }
    return false;
}

typedef struct cmp_side {
    bool is_int;
    int64_t i;
    char text[256];
} cmp_side_t;

static const sf_value_t *lookup_range(const sf_expr_src_t *src, size_t s, size_t e)
{
    for (size_t i = s; i < e; i++)
        if (!(i == s ? is_ident_start(src->text[i]) : is_ident_char(src->text[i])))
            return NULL;
    return src->lookup ? src->lookup(src->ctx, src->text + s, e - s) : NULL;
}

static sf_status_t eval_side(const sf_expr_src_t *src, size_t s, size_t e, bool allow_text,
                             cmp_side_t *out, sf_err_t *err)
{
    trim(src->text, &s, &e);
    sf_err_t local;
    sf_err_clear(&local);
    if (eval_int_range(src, s, e, &out->i, &local) == SF_OK) {
        out->is_int = true;
        return SF_OK;
    }
    bool is_word = s < e;
    for (size_t i = s; i < e; i++)
        if (isspace((unsigned char)src->text[i]) || src->text[i] == '(' || src->text[i] == ')')
            is_word = false;
    if (!allow_text || !is_word) {
        /* Re-raise the int error into the caller's record (first error wins). */
        sf_pos_t pos = {src->pos.file, local.line, local.col};
        return sf_err_set(err, local.code, &pos, "%s", local.msg);
    }
    out->is_int = false;
    const sf_value_t *v = lookup_range(src, s, e);
    if (v != NULL && v->type == SF_VALUE_LIST) {
        sf_pos_t pos = expr_pos(src, s);
        return sf_err_set(err, SF_ERR_GRAPH, &pos, "param '%.*s' is a list, cannot compare it",
                          (int)(e - s), src->text + s);
    }
    if (v != NULL)
        sf_value_format(v, out->text, sizeof out->text);
    else
        snprintf(out->text, sizeof out->text, "%.*s", (int)(e - s), src->text + s);
    return SF_OK;
}

static sf_status_t eval_cond_range(const sf_expr_src_t *src, size_t s, size_t e, int depth,
                                   bool *out, sf_err_t *err);

static sf_status_t eval_compare(const sf_expr_src_t *src, size_t s, size_t e, size_t at,
                                size_t n, bool *out, sf_err_t *err)
{
    const char *t = src->text;
    size_t n2;
    size_t again = find_cmp(t, at + n, e, &n2);
    if (again < e) {
        sf_pos_t pos = expr_pos(src, again);
        return sf_err_set(err, SF_ERR_GRAPH, &pos,
                          "comparisons cannot be chained; join them with 'and'");
    }
    char op[3] = {t[at], n == 2 ? t[at + 1] : '\0', '\0'};
    bool is_eq = strcmp(op, "==") == 0 || strcmp(op, "!=") == 0;
    cmp_side_t a, b;
    sf_status_t st;
    if ((st = eval_side(src, s, at, is_eq, &a, err)) != SF_OK ||
        (st = eval_side(src, at + n, e, is_eq, &b, err)) != SF_OK)
        return st;
    if (a.is_int && b.is_int) {
        int c = a.i < b.i ? -1 : a.i > b.i;
        if (op[0] == '=') *out = c == 0;
        else if (op[0] == '!') *out = c != 0;
        else if (op[0] == '<') *out = n == 2 ? c <= 0 : c < 0;
        else *out = n == 2 ? c >= 0 : c > 0;
        return SF_OK;
    }
    /* Only == and != get here with a text side. */
    if (a.is_int)
        snprintf(a.text, sizeof a.text, "%" PRId64, a.i);
    if (b.is_int)
        snprintf(b.text, sizeof b.text, "%" PRId64, b.i);
    bool is_same = strcmp(a.text, b.text) == 0;
    *out = op[0] == '=' ? is_same : !is_same;
    return SF_OK;
}

static sf_status_t eval_cond_atom(const sf_expr_src_t *src, size_t s, size_t e, bool *out,
                                  sf_err_t *err)
{
    const char *t = src->text;
    sf_pos_t pos = expr_pos(src, s);
    if (s == e)
        return sf_err_set(err, SF_ERR_GRAPH, &pos, "empty condition, expected a comparison, "
                          "true, false or a bool param");
    if (e - s == 4 && strncmp(t + s, "true", 4) == 0) {
        *out = true;
        return SF_OK;
    }
    if (e - s == 5 && strncmp(t + s, "false", 5) == 0) {
        *out = false;
        return SF_OK;
    }
    const sf_value_t *v = lookup_range(src, s, e);
    if (v != NULL && v->type == SF_VALUE_BOOL) {
        *out = v->b;
        return SF_OK;
    }
    if (v != NULL)
        return sf_err_set(err, SF_ERR_GRAPH, &pos, "param '%.*s' is a %s, expected a bool "
                          "(or compare it: %.*s == ...)", (int)(e - s), t + s,
                          sf_value_type_name(v->type), (int)(e - s), t + s);
    return sf_err_set(err, SF_ERR_GRAPH, &pos, "'%.*s' is not a condition; expected a "
                      "comparison, true, false or a bool param", (int)(e - s), t + s);
}

static sf_status_t eval_cond_range(const sf_expr_src_t *src, size_t s, size_t e, int depth,
                                   bool *out, sf_err_t *err)
{
    const char *t = src->text;
    trim(t, &s, &e);
    if (depth > SF_EXPR_MAX_DEPTH) {
        sf_pos_t pos = expr_pos(src, s);
        return sf_err_set(err, SF_ERR_GRAPH, &pos, "condition nested deeper than %d levels",
                          SF_EXPR_MAX_DEPTH);
    }
    /* Every part is evaluated (no short circuit), so a typo in a branch
     * that happens not to matter today is still reported. */
    static const char *const joins[] = {"or", "and"};
    for (int j = 0; j < 2; j++) {
        size_t at = find_word(t, s, e, joins[j]);
        if (at == e)
            continue;
        bool a, b;
        sf_status_t st;
        size_t w = strlen(joins[j]);
        if ((st = eval_cond_range(src, s, at, depth + 1, &a, err)) != SF_OK ||
            (st = eval_cond_range(src, at + w, e, depth + 1, &b, err)) != SF_OK)
            return st;
        *out = j == 0 ? (a || b) : (a && b);
        return SF_OK;
    }
    if (word_at(t, s, e, s, "not")) {
        bool v;
        sf_status_t st = eval_cond_range(src, s + 3, e, depth + 1, &v, err);
        if (st == SF_OK)
            *out = !v;
        return st;
    }
    size_t n;
    size_t at = find_cmp(t, s, e, &n);
    if (at < e)
        return eval_compare(src, s, e, at, n, out, err);
    if (is_wrapped(t, s, e))
        return eval_cond_range(src, s + 1, e - 1, depth + 1, out, err);
    return eval_cond_atom(src, s, e, out, err);
}

sf_status_t sf_expr_eval_cond(const sf_expr_src_t *src, bool *out, sf_err_t *err)
{
    /* Unbalanced parentheses would make the splitting above guess. */
    int depth = 0;
    for (size_t i = 0; i < src->len; i++) {
        if (src->text[i] == '(')
            depth++;
        else if (src->text[i] == ')' && --depth < 0) {
            sf_pos_t pos = expr_pos(src, i);
            return sf_err_set(err, SF_ERR_GRAPH, &pos, "unmatched ')' in condition");
        }
    }
    if (depth != 0) {
        sf_pos_t pos = expr_pos(src, src->len);
        return sf_err_set(err, SF_ERR_GRAPH, &pos, "unclosed '(' in condition");
    }
    return eval_cond_range(src, 0, src->len, 0, out, err);
}
