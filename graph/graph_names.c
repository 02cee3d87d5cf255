/* Open-addressing string table (FNV-1a, linear probing). Linear search would
 * do for real graphs, but the fuzzer feeds 4 MiB files with ~10^5 names and
 * a quadratic loader would time out there. */
#include "graph_names.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "status.h"

void sf_graph_names_init(sf_graph_names_t *t)
{
    memset(t, 0, sizeof *t);
}

void sf_graph_names_fini(sf_graph_names_t *t)
{
    free(t->keys);
    free(t->vals);
    memset(t, 0, sizeof *t);
}

static size_t names_slot(const sf_graph_names_t *t, const char *key)
{
    size_t i = (size_t)sf_hash_fnv1a64(key) & (t->cap - 1);
    while (t->keys[i] != NULL && strcmp(t->keys[i], key) != 0)
        i = (i + 1) & (t->cap - 1);
    return i;
}

int sf_graph_names_get(const sf_graph_names_t *t, const char *key)
{
    if (t->cap == 0)
        return -1;
    size_t i = names_slot(t, key);
    return t->keys[i] != NULL ? t->vals[i] : -1;
}

static void names_grow(sf_graph_names_t *t)
{
    sf_graph_names_t bigger;
    bigger.cap = t->cap == 0 ? 16 : t->cap * 2;
    bigger.n = 0;
    bigger.keys = calloc(bigger.cap, sizeof *bigger.keys);
    bigger.vals = calloc(bigger.cap, sizeof *bigger.vals);
    SF_ASSERT(bigger.keys != NULL && bigger.vals != NULL);
    for (size_t i = 0; i < t->cap; i++)
        if (t->keys[i] != NULL)
            sf_graph_names_put(&bigger, t->keys[i], t->vals[i]);
    sf_graph_names_fini(t);
    *t = bigger;
}

void sf_graph_names_put(sf_graph_names_t *t, const char *key, int val)
{
    /* Keep the load under 1/2 so probes stay short. */
    if ((t->n + 1) * 2 > t->cap)
        names_grow(t);
    size_t i = names_slot(t, key);
    if (t->keys[i] == NULL) {
        t->keys[i] = key;
        t->n++;
    }
    t->vals[i] = val;
}
