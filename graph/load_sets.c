/* --set overrides: which keys a user may give, and how their values replace
 * the params'. Keys are checked before any override is applied
 * or any param is read: a typo must be the first and only error, not hidden
 * behind whatever the default value of the meant param breaks (the model
 * provider's tp check, a `checks` entry, a shape). A settable key is a param
 * of the file or one the model provider declares; `rank` and `world` are
 * params too, but the runtime's. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "load_sets.h"
#include "xalloc.h"

#define SETS_FILE "--set"

/* Longer names get no guess: the distance rows live on the stack. */
#define SETS_MAX_GUESS_LEN 64
/* Room kept at the end of the list for ", ... (N more)". */
#define SETS_TAIL_ROOM 24
/* A model defines many params (20 for a Hugging Face config), mostly sizes
 * a user rarely sets: the list names the first few and counts the rest,
 * while the guess still searches them all. */
#define SETS_MODEL_SHOWN 2

static bool sets_is_builtin(const char *name)
{
    return strcmp(name, "rank") == 0 || strcmp(name, "world") == 0;
}

/* Optimal string alignment distance: Levenshtein plus a swap of two
 * neighbours as one edit, so "modle" is one edit from "model", as a user
 * would count it. SIZE_MAX when either name is too long to compare. */
static size_t sets_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > SETS_MAX_GUESS_LEN || m > SETS_MAX_GUESS_LEN)
        return SIZE_MAX;
    size_t rows[3][SETS_MAX_GUESS_LEN + 1];
    size_t *before = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= m; j++)
        prev[j] = j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                before[j - 2] + 1 < best)
                best = before[j - 2] + 1;
            cur[j] = best;
        }
        size_t *spare = before;
        before = prev;
        prev = cur;
        cur = spare;
    }
    return prev[m];
}

/* The k-th settable name, in the order a user reads them: the file's params
 * (first-seen order), then the model's that the file does not define. NULL
 * for a skipped slot; k runs to p->n + n_model. */
static const char *sets_candidate(const gl_params_t *p, const char *const *model, int k,
                                  bool *is_model)
{
    *is_model = k >= p->n;
    if (!*is_model)
        return sets_is_builtin(p->items[k].name) ? NULL : p->items[k].name;
    const char *name = model[k - p->n];
    /* A param the file defines is kept over the model's: listed once. */
    return gl_params_find(p, name) >= 0 ? NULL : name;
}

/* The closest settable name, if it is close enough to be a typo: at most
 * one edit in three letters, so "modle" finds "model" but "xyz" finds
 * nothing in "mode, tp". Ties go to the name listed first. */
static const char *sets_guess(const gl_params_t *p, const char *const *model, int n_model,
                              const char *key)
{
    const char *guess = NULL;
    size_t best = SIZE_MAX;
    for (int k = 0; k < p->n + n_model; k++) {
        bool is_model;
        const char *name = sets_candidate(p, model, k, &is_model);
        if (name == NULL)
            continue;
        size_t d = sets_distance(key, name);
        size_t longer = strlen(key) > strlen(name) ? strlen(key) : strlen(name);
        if (d != SIZE_MAX && d * 3 <= longer && d < best) {
            best = d;
            guess = name;
        }
    }
    return guess;
}

/* "a, b; from the model: c, d and 18 more" into out (n bytes), ending in
 * ", ... (N more)" when the names do not all fit: the message has a fixed
 * size. Returns how many names there are, listed or not. */
static int sets_list(const gl_params_t *p, const char *const *model, int n_model, char *out,
                      size_t n)
{
    size_t used = 0;
    int n_listed = 0, n_dropped = 0, n_model_shown = 0, n_model_more = 0;
    bool was_model = false;
    out[0] = '\0';
    for (int k = 0; k < p->n + n_model; k++) {
        bool is_model;
        const char *name = sets_candidate(p, model, k, &is_model);
        if (name == NULL)
            continue;
        if (is_model && n_model_shown == SETS_MODEL_SHOWN) {
            n_model_more++;
            continue;
        }
        const char *sep = n_listed == 0 ? "" : ", ";
        if (is_model && !was_model)
            sep = n_listed == 0 ? "from the model: " : "; from the model: ";
        size_t need = strlen(sep) + strlen(name);
        if (n_dropped > 0 || used + need + SETS_TAIL_ROOM >= n) {
            n_dropped++;
            continue;
        }
        used += (size_t)snprintf(out + used, n - used, "%s%s", sep, name);
        was_model = is_model;
        n_model_shown += is_model;
        n_listed++;
    }
    if (n_dropped > 0 && used + SETS_TAIL_ROOM <= n)
        snprintf(out + used, n - used, "%s... (%d more)", n_listed > 0 ? ", " : "",
                 n_dropped + n_model_more);
    else if (n_dropped == 0 && n_model_more > 0)
        snprintf(out + used, n - used, " and %d more", n_model_more);
    return n_listed + n_dropped + n_model_more;
}

sf_status_t gl_sets_check_keys(const gl_params_t *p, const sf_param_set_t *sets, int n_sets,
                               const char *const *model_params, int n_model_params, sf_err_t *err)
{
    if (model_params == NULL)
        n_model_params = 0;
    for (int k = 0; k < n_sets; k++) {
        const char *key = sets[k].key;
        if (key == NULL || key[0] == '\0' || sets[k].value == NULL)
            return sf_err_set(err, SF_ERR_INPUT, NULL, "--set needs key=value");
        if (sets_is_builtin(key))
            return sf_err_set(err, SF_ERR_INPUT, NULL,
                              "--set %s: '%s' is a builtin param: the runtime sets it from "
                              "--nproc (run), --world (plan) or RANK and WORLD_SIZE; --set cannot "
                              "change it",
                              key, key);
        if (gl_params_find(p, key) >= 0)
            continue;
        bool is_declared = false;
        for (int i = 0; i < n_model_params && !is_declared; i++)
            is_declared = strcmp(model_params[i], key) == 0;
        if (is_declared)
            continue;

        const char *guess = sets_guess(p, model_params, n_model_params, key);
        char prefix[sizeof err->msg];
        snprintf(prefix, sizeof prefix, "--set %s: the graph has no param '%s'%s%s%s", key, key,
                 guess != NULL ? " (did you mean '" : "", guess != NULL ? guess : "",
                 guess != NULL ? "'?)" : "");
        static const char lead[] = "; params you may set: ";
        size_t used = strlen(prefix) + strlen(lead);
        char list[sizeof err->msg];
        size_t room = used < sizeof list ? sizeof list - used : 1;
        if (sets_list(p, model_params, n_model_params, list, room) == 0)
            return sf_err_set(err, SF_ERR_INPUT, NULL, "%s; it has no params you may set",
                              prefix);
        return sf_err_set(err, SF_ERR_INPUT, NULL, "%s%s%s", prefix, lead, list);
    }
    return SF_OK;
}

/* --- values --------------------------------------------------------------------- */

static sf_status_t parse_set_value(const sf_param_set_t *s, sf_value_t *out, sf_err_t *err)
{
    sf_pos_t pos = {SETS_FILE, 0, 0};
    if (s->value[0] != '[')
        return gl_value_from_text(s->value, &pos, "--set", SF_ERR_INPUT, out, err);
    /* A flow list goes through the YAML parser, so `[1, 2]` here means what
     * it means in a file. */
    sf_ydoc_t *doc = NULL;
    sf_err_t local;
    sf_err_clear(&local);
    sf_status_t st = sf_ydoc_parse(s->value, strlen(s->value), SETS_FILE, &doc, &local);
    if (st == SF_OK && (doc->root == NULL || doc->root->kind != SF_YNODE_SEQ))
        st = sf_err_set(&local, SF_ERR_INPUT, &pos, "not a list");
    if (st == SF_OK)
        st = gl_value_from_ynode(doc->root, "--set value", SF_ERR_INPUT, out, &local);
    sf_ydoc_free(doc);
    if (st != SF_OK)
        return sf_err_set(err, SF_ERR_INPUT, &pos, "--set %s=%s: %s", s->key, s->value,
                          local.msg);
    out->pos = pos;
    return SF_OK;
}

sf_status_t gl_sets_apply(gl_params_t *p, const sf_param_set_t *sets, int n_sets, sf_err_t *err)
{
    sf_pos_t pos = {SETS_FILE, 0, 0};
    for (int k = 0; k < n_sets; k++) {
        const sf_param_set_t *s = &sets[k];
        SF_ASSERT(s->key != NULL && s->value != NULL); /* gl_sets_check_keys ran first */
        int i = gl_params_find(p, s->key);
        /* The key was declared by the model provider, which then did not
         * define it for this model. */
        if (i < 0)
            return sf_err_set(err, SF_ERR_INPUT, NULL,
                              "--set %s: the model does not define '%s'", s->key, s->key);
        sf_value_t v;
        sf_status_t st = parse_set_value(s, &v, err);
        if (st != SF_OK)
            return st;
        /* A --set must keep the param's type, or the error would surface
         * far away, where the param is used. Ints widen to floats; a
         * string param takes the text as written. */
        sf_value_type_t want = p->items[i].value.type;
        if (want == SF_VALUE_FLOAT && v.type == SF_VALUE_INT) {
            v.type = SF_VALUE_FLOAT;
            v.f = (double)v.i;
        } else if (want == SF_VALUE_STRING && v.type != SF_VALUE_STRING &&
                   v.type != SF_VALUE_LIST) {
            sf_value_fini(&v);
            v.type = SF_VALUE_STRING;
            v.s = sf_xalloc_strdup(s->value);
        } else if (want != v.type) {
            sf_value_fini(&v);
            return sf_err_set(err, SF_ERR_INPUT, &pos,
                              "--set %s=%s: param '%s' is a %s (%s:%d), got a %s", s->key, s->value,
                              s->key, sf_value_type_name(want),
                              p->items[i].pos.file ? p->items[i].pos.file : "?",
                              p->items[i].pos.line, sf_value_type_name(v.type));
        }
        gl_params_set(p, s->key, v, pos);
    }
    return SF_OK;
}
