/* The params table and typed slots: how a YAML scalar becomes an int, a
 * float, a bool, a string or a dtype, after ${param} substitution. One rule for params,
 * --set values, attrs and defaults, so `shardflow` reads "8" the same way
 * everywhere. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "expr.h"
#include "load_array.h"
#include "load_params.h"
#include "xalloc.h"

/* --- scalar typing ------------------------------------------------------------ */

static bool is_bool_word(const char *s, bool *b)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) {
        *b = true;
        return true;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) {
        *b = false;
        return true;
    }
    return false;
}

/* Decimal int with optional sign. Returns false if s is not one; sets
 * *is_overflow when it is one but does not fit. */
static bool parse_int_literal(const char *s, int64_t *out, bool *is_overflow)
{
    const char *p = s;
    *is_overflow = false;
    if (*p == '-' || *p == '+')
        p++;
    if (*p == '\0')
        return false;
    for (const char *q = p; *q != '\0'; q++)
        if (!isdigit((unsigned char)*q))
            return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    *is_overflow = errno == ERANGE;
    *out = v;
    return true;
}

static bool parse_float_literal(const char *s, double *out)
{
    bool has_digit = false;
    for (const char *q = s; *q != '\0'; q++)
        has_digit |= isdigit((unsigned char)*q) != 0;
    if (!has_digit)
        return false; /* "inf", "nan" and "e" stay strings */
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}

sf_status_t gl_value_from_text(const char *text, const sf_pos_t *pos, const char *what,
                               sf_status_t code, sf_value_t *out, sf_err_t *err)
{
    int64_t i;
    bool is_overflow;
    memset(out, 0, sizeof *out);
    out->pos = *pos;
    if (parse_int_literal(text, &i, &is_overflow)) {
        if (is_overflow)
            return sf_err_set(err, code, pos, "%s: %s does not fit in int64", what, text);
        out->type = SF_VALUE_INT;
        out->i = i;
    } else if (is_bool_word(text, &out->b)) {
        out->type = SF_VALUE_BOOL;
    } else if (parse_float_literal(text, &out->f)) {
        out->type = SF_VALUE_FLOAT;
    } else {
        out->type = SF_VALUE_STRING;
        out->s = sf_xalloc_strdup(text);
    }
    return SF_OK;
}

sf_status_t gl_value_from_ynode(const sf_ynode_t *y, const char *what, sf_status_t code,
                                sf_value_t *out, sf_err_t *err)
{
    memset(out, 0, sizeof *out);
    out->pos = y->pos;
    if (y->kind == SF_YNODE_MAP)
        return sf_err_set(err, code, &y->pos, "%s is a mapping; params are scalars or lists", what);
    if (y->kind == SF_YNODE_SCALAR) {
        if (!y->is_plain) {
            out->type = SF_VALUE_STRING;
            out->s = sf_xalloc_strdup(y->text);
            return SF_OK;
        }
        if (sf_ynode_is_null(y))
            return sf_err_set(err, code, &y->pos, "%s has no value", what);
        return gl_value_from_text(y->text, &y->pos, what, code, out, err);
    }
    out->type = SF_VALUE_LIST;
    out->items = sf_xalloc_calloc((size_t)y->n_kids, sizeof *out->items);
    for (int i = 0; i < y->n_kids; i++) {
        out->n_items = i + 1;
        sf_status_t st = gl_value_from_ynode(y->kids[i], what, code, &out->items[i], err);
        if (st != SF_OK) {
            sf_value_fini(out);
            return st;
        }
    }
    return SF_OK;
}

/* --- the table ------------------------------------------------------------------ */

void gl_params_init(gl_params_t *p)
{
    memset(p, 0, sizeof *p);
    sf_graph_names_init(&p->names);
}

void gl_params_fini(gl_params_t *p)
{
    for (int i = 0; i < p->n; i++) {
        free(p->items[i].name);
        sf_value_fini(&p->items[i].value);
    }
    free(p->items);
    sf_graph_names_fini(&p->names);
    memset(p, 0, sizeof *p);
}

int gl_params_find(const gl_params_t *p, const char *name)
{
    return sf_graph_names_get(&p->names, name);
}

void gl_params_set(gl_params_t *p, const char *name, sf_value_t v, sf_pos_t pos)
{
    int i = sf_graph_names_get(&p->names, name);
    if (i >= 0) {
        sf_value_fini(&p->items[i].value);
        p->items[i].value = v;
        p->items[i].pos = pos;
        return;
    }
    sf_param_t *slot = &GL_PUSH(p->items, p->n, p->cap);
    slot->name = sf_xalloc_strdup(name);
    slot->value = v;
    slot->pos = pos;
    sf_graph_names_put(&p->names, slot->name, p->n - 1);
}

/* The expression evaluator's lookup: ctx is a gl_scope_t. */
static const sf_value_t *scope_lookup(void *ctx, const char *name, size_t len)
{
    const gl_scope_t *s = ctx;
    char key[256];
    if (len >= sizeof key)
        return NULL;
    memcpy(key, name, len);
    key[len] = '\0';
    if (s->var != NULL && strcmp(s->var, key) == 0)
        return &s->val;
    int i = sf_graph_names_get(&s->params->names, key);
    return i >= 0 ? &s->params->items[i].value : NULL;
}

/* --- substitution ---------------------------------------------------------------- */

/* The param named by a scalar that is exactly "${name}", else NULL. */
static const sf_value_t *whole_ref(const gl_scope_t *s, const sf_ynode_t *y)
{
    if (y->kind != SF_YNODE_SCALAR || y->len < 4 || strncmp(y->text, "${", 2) != 0 ||
        y->text[y->len - 1] != '}' || memchr(y->text + 2, '}', y->len - 3) != NULL)
        return NULL;
    return scope_lookup((void *)s, y->text + 2, y->len - 3);
}

sf_status_t gl_subst(const gl_scope_t *s, const sf_ynode_t *y, char **out, bool *is_changed,
                     sf_err_t *err)
{
    *out = NULL;
    *is_changed = false;
    SF_ASSERT(y->kind == SF_YNODE_SCALAR);
    sf_pos_t base = sf_ynode_text_pos(y);
    size_t cap = y->len + 1, n = 0;
    char *buf = sf_xalloc_calloc(cap, 1);
    for (size_t i = 0; i < y->len;) {
        if (!(y->text[i] == '$' && i + 1 < y->len && y->text[i + 1] == '{')) {
            buf[n++] = y->text[i++];
            continue;
        }
        sf_pos_t pos = base;
        if (pos.col > 0)
            pos.col += (int)i;
        const char *close = memchr(y->text + i + 2, '}', y->len - i - 2);
        if (close == NULL) {
            free(buf);
            return sf_err_set(err, SF_ERR_GRAPH, &pos, "unterminated '${' (expected '}')");
        }
        size_t name_len = (size_t)(close - (y->text + i + 2));
        const sf_value_t *v = scope_lookup((void *)s, y->text + i + 2, name_len);
        char text[1024];
        if (v != NULL) {
            sf_value_format(v, text, sizeof text);
        } else {
            /* Not a param name: an integer expression, as in
             * `h_${layer + 1}`; a lone unknown word stays "unknown param". */
            sf_pos_t epos = pos;
            if (epos.col > 0)
                epos.col += 2;
            sf_expr_src_t src = {y->text + i + 2, name_len, epos, scope_lookup, (void *)s};
            sf_err_t local;
            sf_err_clear(&local);
            int64_t value;
            if (sf_expr_eval_int(&src, &value, &local) != SF_OK) {
                free(buf);
                bool is_word = true;
                for (size_t k = 0; k < name_len; k++) {
                    char ch = y->text[i + 2 + k];
                    if (!(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                          (ch >= '0' && ch <= '9')))
                        is_word = false;
                }
                if (is_word)
                    return sf_err_set(err, SF_ERR_GRAPH, &pos,
                                      "unknown param '%.*s' in '${...}'", (int)name_len,
                                      y->text + i + 2);
                sf_pos_t at = {pos.file, local.line ? local.line : pos.line,
                               local.col ? local.col : pos.col};
                return sf_err_set(err, SF_ERR_GRAPH, &at, "in '${%.*s}': %s", (int)name_len,
                                  y->text + i + 2, local.msg);
            }
            snprintf(text, sizeof text, "%lld", (long long)value);
        }
        size_t tl = strlen(text);
        cap += tl;
        char *grown = realloc(buf, cap);
        SF_ASSERT(grown != NULL);
        buf = grown;
        memcpy(buf + n, text, tl);
        n += tl;
        i += name_len + 3;
        *is_changed = true;
    }
    buf[n] = '\0';
    *out = buf;
    return SF_OK;
}

static sf_status_t want_scalar(const sf_ynode_t *y, const char *what, const char *want,
                               sf_err_t *err)
{
    if (y->kind == SF_YNODE_SCALAR)
        return SF_OK;
    return sf_err_set(err, SF_ERR_GRAPH, &y->pos, "%s: expected %s, found a %s", what, want,
                      sf_ynode_kind_name(y->kind));
}

sf_status_t gl_read_string(const gl_scope_t *s, const sf_ynode_t *y, const char *what, char **out,
                           sf_err_t *err)
{
    *out = NULL;
    sf_status_t st = want_scalar(y, what, "a string", err);
    if (st != SF_OK)
        return st;
    bool is_changed;
    return gl_subst(s, y, out, &is_changed, err);
}

/* Evaluate with positions inside the scalar when the text is as written;
 * after a substitution offsets no longer match the file, so the error
 * points at the scalar itself. */
static sf_status_t eval_scalar(const gl_scope_t *s, const sf_ynode_t *y, const char *what,
                               bool is_cond, int64_t *i_out, bool *b_out, sf_err_t *err)
{
    char *text;
    bool is_changed;
    sf_status_t st = gl_subst(s, y, &text, &is_changed, err);
    if (st != SF_OK)
        return st;
    sf_expr_src_t src = {text, strlen(text), sf_ynode_text_pos(y), scope_lookup, (void *)s};
    sf_err_t local;
    sf_err_clear(&local);
    st = is_cond ? sf_expr_eval_cond(&src, b_out, &local) : sf_expr_eval_int(&src, i_out, &local);
    if (st != SF_OK) {
        sf_pos_t pos = {y->pos.file, local.line, local.col};
        if (is_changed)
            pos = sf_ynode_text_pos(y);
        if (is_changed)
            st = sf_err_set(err, st, &pos, "%s: %s (in '%s', after substitution)", what,
                            local.msg, text);
        else
            st = sf_err_set(err, st, &pos, "%s: %s", what, local.msg);
    }
    free(text);
    return st;
}

sf_status_t gl_read_int(const gl_scope_t *s, const sf_ynode_t *y, const char *what, int64_t *out,
                        sf_err_t *err)
{
    sf_status_t st = want_scalar(y, what, "an int expression", err);
    if (st != SF_OK)
        return st;
    return eval_scalar(s, y, what, false, out, NULL, err);
}

sf_status_t gl_read_ints(const gl_scope_t *s, const sf_ynode_t *y, const char *what, int64_t **out,
                         int *n, sf_pos_t **item_pos, sf_err_t *err)
{
    *out = NULL;
    *n = 0;
    if (item_pos != NULL)
        *item_pos = NULL;
    const sf_value_t *ref = whole_ref(s, y);
    if (ref != NULL && ref->type == SF_VALUE_LIST) {
        /* `shape: ${dims}` with dims: [2, 3] */
        int64_t *v = sf_xalloc_calloc((size_t)ref->n_items, sizeof *v);
        for (int i = 0; i < ref->n_items; i++) {
            if (ref->items[i].type != SF_VALUE_INT) {
                free(v);
                return sf_err_set(err, SF_ERR_GRAPH, &y->pos,
                                  "%s: param list item %d is a %s, expected an int", what, i,
                                  sf_value_type_name(ref->items[i].type));
            }
            v[i] = ref->items[i].i;
        }
        if (item_pos != NULL) {
            *item_pos = sf_xalloc_calloc((size_t)ref->n_items, sizeof **item_pos);
            for (int i = 0; i < ref->n_items; i++)
                (*item_pos)[i] = y->pos;
        }
        *out = v;
        *n = ref->n_items;
        return SF_OK;
    }
    if (y->kind != SF_YNODE_SEQ)
        return sf_err_set(err, SF_ERR_GRAPH, &y->pos, "%s: expected a list of ints, found a %s",
                          what, sf_ynode_kind_name(y->kind));
    int64_t *v = sf_xalloc_calloc((size_t)y->n_kids, sizeof *v);
    for (int i = 0; i < y->n_kids; i++) {
        char item[300];
        snprintf(item, sizeof item, "%s[%d]", what, i);
        sf_status_t st = gl_read_int(s, y->kids[i], item, &v[i], err);
        if (st != SF_OK) {
            free(v);
            return st;
        }
    }
    if (item_pos != NULL) {
        *item_pos = sf_xalloc_calloc((size_t)y->n_kids, sizeof **item_pos);
        for (int i = 0; i < y->n_kids; i++)
            (*item_pos)[i] = y->kids[i]->pos;
    }
    *out = v;
    *n = y->n_kids;
    return SF_OK;
}

sf_status_t gl_read_float(const gl_scope_t *s, const sf_ynode_t *y, const char *what, double *out,
                          sf_err_t *err)
{
    char *text;
    sf_status_t st = gl_read_string(s, y, what, &text, err);
    if (st != SF_OK)
        return st;
    int64_t i;
    bool is_overflow;
    if (parse_int_literal(text, &i, &is_overflow) && !is_overflow)
        *out = (double)i;
    else if (!parse_float_literal(text, out))
        st = sf_err_set(err, SF_ERR_GRAPH, &y->pos, "%s: expected a number, found '%s'", what,
                        text);
    free(text);
    return st;
}

sf_status_t gl_read_bool(const gl_scope_t *s, const sf_ynode_t *y, const char *what, bool *out,
                         sf_err_t *err)
{
    char *text;
    sf_status_t st = gl_read_string(s, y, what, &text, err);
    if (st != SF_OK)
        return st;
    if (!is_bool_word(text, out))
        st = sf_err_set(err, SF_ERR_GRAPH, &y->pos, "%s: expected true or false, found '%s'",
                        what, text);
    free(text);
    return st;
}

sf_status_t gl_read_dtype(const gl_scope_t *s, const sf_ynode_t *y, const char *what,
                          sf_dtype_t *out, sf_err_t *err)
{
    char *text;
    sf_status_t st = gl_read_string(s, y, what, &text, err);
    if (st != SF_OK)
        return st;
    if (!sf_dtype_parse(text, out))
        st = sf_err_set(err, SF_ERR_GRAPH, &y->pos,
                        "%s: unknown dtype '%s' (expected f32, bf16, f16, i32, i64 or u8)", what,
                        text);
    free(text);
    return st;
}

sf_status_t gl_read_cond(const gl_scope_t *s, const sf_ynode_t *y, const char *what, bool *out,
                         sf_err_t *err)
{
    sf_status_t st = want_scalar(y, what, "a condition", err);
    if (st != SF_OK)
        return st;
    return eval_scalar(s, y, what, true, NULL, out, err);
}
