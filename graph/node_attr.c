/* Typed access to a loaded node's attrs, for shape rules and kernels. The
 * loader filled every attr the op declares (given or defaulted), so a miss
 * here is our bug, not the user's. */
#include <string.h>

#include "graph.h"

static const sf_attr_t *attr_typed(const sf_node_t *node, const char *name, sf_attr_type_t type)
{
    int i = sf_op_attr_index(node->op, name);
    if (i < 0)
        sf_assert_fail(__FILE__, __LINE__, name);
    SF_ASSERT(node->op->attrs[i].type == type);
    return &node->attrs[i];
}

const sf_attr_t *sf_node_attr(const sf_node_t *node, const char *name)
{
    int i = sf_op_attr_index(node->op, name);
    if (i < 0)
        sf_assert_fail(__FILE__, __LINE__, name);
    return &node->attrs[i];
}

int64_t sf_node_attr_int(const sf_node_t *node, const char *name)
{
    return attr_typed(node, name, SF_ATTR_INT)->i;
}

double sf_node_attr_float(const sf_node_t *node, const char *name)
{
    return attr_typed(node, name, SF_ATTR_FLOAT)->f;
}

bool sf_node_attr_bool(const sf_node_t *node, const char *name)
{
    return attr_typed(node, name, SF_ATTR_BOOL)->b;
}

const char *sf_node_attr_str(const sf_node_t *node, const char *name)
{
    return attr_typed(node, name, SF_ATTR_STRING)->s;
}

const int64_t *sf_node_attr_ints(const sf_node_t *node, const char *name, int *n)
{
    const sf_attr_t *a = attr_typed(node, name, SF_ATTR_INTS);
    *n = a->n_ints;
    return a->ints;
}

sf_dtype_t sf_node_attr_dtype(const sf_node_t *node, const char *name)
{
    return attr_typed(node, name, SF_ATTR_DTYPE)->dtype;
}
