/* Typed values: graph params (int, float, bool, string, list) and what
 * expressions evaluate to. A value owns its string and list storage. */
#ifndef SF_VALUE_H
#define SF_VALUE_H

#include <stdbool.h>
#include <stdint.h>

#include "status.h"

typedef enum sf_value_type {
    SF_VALUE_INT = 0,
    SF_VALUE_FLOAT,
    SF_VALUE_BOOL,
    SF_VALUE_STRING,
    SF_VALUE_LIST,
} sf_value_type_t;

typedef struct sf_value {
    sf_value_type_t type;
    int64_t i;
    double f;
    bool b;
    char *s;                /* owned, SF_VALUE_STRING */
    struct sf_value *items; /* owned, SF_VALUE_LIST */
    int n_items;
    sf_pos_t pos;           /* where it was written */
} sf_value_t;

void sf_value_fini(sf_value_t *v);
/* Deep copy; aborts on host OOM (values are small). */
sf_value_t sf_value_copy(const sf_value_t *v);
const char *sf_value_type_name(sf_value_type_t t);
/* Text form, as it would be written in YAML ("8", "0.5", "true", "all_to_all",
 * "[1, 2]"). Always NUL-terminated. */
void sf_value_format(const sf_value_t *v, char *out, size_t n);

#endif
