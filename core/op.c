/* The op registry. It is a sorted array filled once at start-up; lookups
 * are binary searches. */
#include "op.h"

#include <stdlib.h>
#include <string.h>

#define SF_OP_MAX 256

static const sf_op_desc_t *registry[SF_OP_MAX];
static int registry_id[SF_OP_MAX]; /* parallel to registry */
static int n_registered;

const char *sf_attr_type_name(sf_attr_type_t t)
{
    switch (t) {
    case SF_ATTR_INT: return "int";
    case SF_ATTR_FLOAT: return "float";
    case SF_ATTR_BOOL: return "bool";
    case SF_ATTR_STRING: return "string";
    case SF_ATTR_INTS: return "int list";
    case SF_ATTR_DTYPE: return "dtype";
    }
    return "?";
}

void sf_op_register(const sf_op_desc_t *desc, int id)
{
    SF_ASSERT(desc != NULL && desc->name != NULL && desc->infer != NULL);
    SF_ASSERT(n_registered < SF_OP_MAX);
    /* Insertion keeps the table sorted by name, so `shardflow ops` and
     * lookups need no second pass. */
    int pos = n_registered;
    while (pos > 0 && strcmp(registry[pos - 1]->name, desc->name) > 0) {
        registry[pos] = registry[pos - 1];
        registry_id[pos] = registry_id[pos - 1];
        pos--;
    }
    SF_ASSERT(pos == 0 || strcmp(registry[pos - 1]->name, desc->name) != 0);
    registry[pos] = desc;
    registry_id[pos] = id;
    n_registered++;
}

const sf_op_desc_t *sf_op_find(const char *name)
{
    int lo = 0, hi = n_registered - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(registry[mid]->name, name);
        if (c == 0)
            return registry[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

int sf_op_id(const sf_op_desc_t *desc)
{
    for (int i = 0; i < n_registered; i++)
        if (registry[i] == desc)
            return registry_id[i];
    return SF_OP_ID_NONE;
}

int sf_op_count(void)
{
    return n_registered;
}

const sf_op_desc_t *sf_op_at(int i)
{
    SF_ASSERT(i >= 0 && i < n_registered);
    return registry[i];
}

int sf_op_attr_index(const sf_op_desc_t *desc, const char *name)
{
    for (int i = 0; i < desc->n_attrs; i++)
        if (strcmp(desc->attrs[i].name, name) == 0)
            return i;
    return -1;
}
