/* Which --set keys a user may give, checked before any override is applied
 * or any param is read: a typo must be the first and only error, not hidden
 * behind whatever the default value of the meant param breaks (the model
 * provider's tp check, a `checks` entry, a shape). A settable key is a param
 * of the file or one the model provider declares; `rank` and `world` are
 * params too, but the runtime's. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "graph_load_impl.h"

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
 * for a skipped slot; k runs to c->n_params + n_model. */
static const char *sets_candidate(const gl_ctx_t *c, const char *const *model, int k,
                                  bool *is_model)
{
    *is_model = k >= c->n_params;
    if (!*is_model)
        return sets_is_builtin(c->params[k].name) ? NULL : c->params[k].name;
    const char *name = model[k - c->n_params];
    /* A param the file defines is kept over the model's: listed once. */
    return sf_graph_names_get(&c->param_names, name) >= 0 ? NULL : name;
}

/* The closest settable name, if it is close enough to be a typo: at most
 * one edit in three letters, so "modle" finds "model" but "xyz" finds
 * nothing in "mode, tp". Ties go to the name listed first. */
static const char *sets_guess(const gl_ctx_t *c, const char *const *model, int n_model,
                              const char *key)
{
    const char *guess = NULL;
    size_t best = SIZE_MAX;
    for (int k = 0; k < c->n_params + n_model; k++) {
        bool is_model;
        const char *name = sets_candidate(c, model, k, &is_model);
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
static int sets_list(const gl_ctx_t *c, const char *const *model, int n_model, char *out,
                      size_t n)
{
    size_t used = 0;
    int n_listed = 0, n_dropped = 0, n_model_shown = 0, n_model_more = 0;
    bool was_model = false;
    out[0] = '\0';
    for (int k = 0; k < c->n_params + n_model; k++) {
        bool is_model;
        const char *name = sets_candidate(c, model, k, &is_model);
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

sf_status_t gl_sets_check_keys(const gl_ctx_t *c, const sf_param_set_t *sets, int n_sets,
                               const char *const *model_params, int n_model_params)
{
    if (model_params == NULL)
        n_model_params = 0;
    for (int k = 0; k < n_sets; k++) {
        const char *key = sets[k].key;
        if (key == NULL || key[0] == '\0' || sets[k].value == NULL)
            return sf_err_set(c->err, SF_ERR_INPUT, NULL, "--set needs key=value");
        if (sets_is_builtin(key))
            return sf_err_set(c->err, SF_ERR_INPUT, NULL,
                              "--set %s: '%s' is a builtin param: the runtime sets it from "
                              "--nproc (run), --world (plan) or RANK and WORLD_SIZE; --set cannot "
                              "change it",
                              key, key);
        if (sf_graph_names_get(&c->param_names, key) >= 0)
            continue;
        bool is_declared = false;
        for (int i = 0; i < n_model_params && !is_declared; i++)
            is_declared = strcmp(model_params[i], key) == 0;
        if (is_declared)
            continue;

        const char *guess = sets_guess(c, model_params, n_model_params, key);
        char prefix[sizeof c->err->msg];
        snprintf(prefix, sizeof prefix, "--set %s: the graph has no param '%s'%s%s%s", key, key,
                 guess != NULL ? " (did you mean '" : "", guess != NULL ? guess : "",
                 guess != NULL ? "'?)" : "");
        static const char lead[] = "; params you may set: ";
        size_t used = strlen(prefix) + strlen(lead);
        char list[sizeof c->err->msg];
        size_t room = used < sizeof list ? sizeof list - used : 1;
        if (sets_list(c, model_params, n_model_params, list, room) == 0)
            return sf_err_set(c->err, SF_ERR_INPUT, NULL, "%s; it has no params you may set",
                              prefix);
        return sf_err_set(c->err, SF_ERR_INPUT, NULL, "%s%s%s", prefix, lead, list);
    }
    return SF_OK;
}
