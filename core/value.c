/* sf_value_t helpers. */
#include "value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sf_value_fini(sf_value_t *v)
{
    if (v == NULL)
        return;
    free(v->s);
    for (int i = 0; i < v->n_items; i++)
        sf_value_fini(&v->items[i]);
    free(v->items);
    v->s = NULL;
    v->items = NULL;
    v->n_items = 0;
}

sf_value_t sf_value_copy(const sf_value_t *v)
{
    sf_value_t c = *v;
    if (v->s != NULL) {
        c.s = strdup(v->s);
        SF_ASSERT(c.s != NULL);
    }
    if (v->n_items > 0) {
        c.items = calloc((size_t)v->n_items, sizeof *c.items);
        SF_ASSERT(c.items != NULL);
        for (int i = 0; i < v->n_items; i++)
            c.items[i] = sf_value_copy(&v->items[i]);
    }
    return c;
}

const char *sf_value_type_name(sf_value_type_t t)
{
    switch (t) {
    case SF_VALUE_INT: return "int";
    case SF_VALUE_FLOAT: return "float";
    case SF_VALUE_BOOL: return "bool";
    case SF_VALUE_STRING: return "string";
    case SF_VALUE_LIST: return "list";
    }
    return "?";
}

void sf_value_format(const sf_value_t *v, char *out, size_t n)
{
    if (n == 0)
        return;
    switch (v->type) {
    case SF_VALUE_INT: snprintf(out, n, "%lld", (long long)v->i); return;
    case SF_VALUE_FLOAT: snprintf(out, n, "%.17g", v->f); return;
    case SF_VALUE_BOOL: snprintf(out, n, "%s", v->b ? "true" : "false"); return;
    case SF_VALUE_STRING: snprintf(out, n, "%s", v->s ? v->s : ""); return;
    case SF_VALUE_LIST: break;
    }
    size_t used = (size_t)snprintf(out, n, "[");
    for (int i = 0; i < v->n_items && used < n; i++) {
        if (i > 0)
            used += (size_t)snprintf(out + used, n - used, ", ");
        if (used >= n)
            break;
        sf_value_format(&v->items[i], out + used, n - used);
        used += strlen(out + used);
    }
    if (used < n)
        snprintf(out + used, n - used, "]");
}
