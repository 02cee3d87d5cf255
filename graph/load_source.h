/* Stage 1a of the loader (load_source.c): the root file and its includes,
 * read depth first (include before includer) and merged into one source:
 * the file's params and the YAML entries the later stages build from.
 * Private to the loader. */
#ifndef SF_LOAD_SOURCE_H
#define SF_LOAD_SOURCE_H

#include <stddef.h>

#include "load_params.h"

#define SF_GRAPH_MAX_INCLUDE_DEPTH 16

/* The YAML entries stage 2 builds the graph from, include-first. Every
 * ynode is borrowed from the source's documents. */
typedef struct gl_entries {
    const sf_ynode_t *root;     /* the root file's top mapping */
    const sf_ynode_t *name;     /* the root file's `name` value, or NULL */
    const sf_ynode_t **in_keys; /* owned array: `inputs` keys, n_ins of them */
    const sf_ynode_t **in_vals; /* owned array: their values */
    int n_ins;
    const sf_ynode_t **nodes; /* owned array: `nodes` items */
    int n_nodes;
    const sf_ynode_t **outs; /* owned array: `outputs` items */
    int n_outs;
} gl_entries_t;

/* What reading the files yields. The documents stay alive until the graph
 * is built, because the entries point into them; files is handed to the
 * graph on success (positions point into those names). */
typedef struct gl_source {
    char **files; /* owned: every file read, the root first */
    int n_files;
    sf_ydoc_t **docs; /* owned */
    int n_docs;
    gl_params_t params; /* owned: the files' params, includes' first */
    const sf_ynode_t **checks; /* owned array of borrowed `checks` items */
    int n_checks;
    gl_entries_t entries;
} gl_source_t;

/* Read path into a malloc'd buffer (*buf, owned by the caller, with a NUL
 * after *len bytes): the size limit is checked before the read, so a huge
 * file costs nothing. at is where the file was named. */
SF_NODISCARD sf_status_t gl_read_file(const char *path, const sf_pos_t *at, char **buf,
                                      size_t *len, sf_err_t *err);

/* Parse buf (the root file, named display in positions) and every file it
 * includes into *src. *src is filled as far as it got even on
 * failure; the caller finishes it with gl_source_fini either way. */
SF_NODISCARD sf_status_t gl_source_load(const char *buf, size_t len, const char *display,
                                        gl_source_t *src, sf_err_t *err);
void gl_source_fini(gl_source_t *src);

#endif
