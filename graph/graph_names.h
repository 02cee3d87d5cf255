/* A string -> int table for the loader: node names, tensor names, YAML
 * anchors. Private to sf_graph. Keys are borrowed and must outlive the
 * table; the loader's inputs are bounded (4 MiB files, alias budget), so
 * growth aborts on host OOM instead of threading a status through. */
#ifndef SF_GRAPH_NAMES_H
#define SF_GRAPH_NAMES_H

#include <stddef.h>

typedef struct sf_graph_names {
    const char **keys; /* owned array; the strings are borrowed */
    int *vals;         /* owned */
    size_t cap;        /* a power of two, or 0 */
    size_t n;
} sf_graph_names_t;

void sf_graph_names_init(sf_graph_names_t *t);
void sf_graph_names_fini(sf_graph_names_t *t);
/* The value stored for key, or -1. */
int sf_graph_names_get(const sf_graph_names_t *t, const char *key);
/* Insert or overwrite. */
void sf_graph_names_put(sf_graph_names_t *t, const char *key, int val);

#endif
