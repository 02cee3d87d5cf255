/* A YAML document as a small tree of scalars, sequences and mappings, every
 * node keeping its 1-based line:col. Aliases are expanded by copying, under a
 * budget (SF_GRAPH_MAX_ALIAS_NODES), so the tree never shares nodes and a
 * billion-laughs file fails early instead of eating memory. */
#ifndef SF_YAML_DOC_H
#define SF_YAML_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

/* Deeper nesting (counting alias expansion) is refused: the tree is freed
 * and copied recursively, and this bounds the stack. */
#define SF_YAML_MAX_DEPTH 256

typedef enum sf_ynode_kind {
    SF_YNODE_SCALAR = 0,
    SF_YNODE_SEQ,
    SF_YNODE_MAP,
} sf_ynode_kind_t;

typedef struct sf_ynode {
    sf_ynode_kind_t kind;
    char *text;  /* owned: SCALAR text, NUL-terminated; NULL otherwise */
    size_t len;  /* bytes in text */
    bool is_plain; /* an untagged plain scalar: may be an int, float or bool */
    sf_pos_t pos;  /* file borrowed from the caller of sf_ydoc_parse */
    /* owned: SEQ items; MAP keys and values interleaved (k0, v0, k1, v1) */
    struct sf_ynode **kids;
    int n_kids;
    int cap_kids;
    size_t n_tree; /* nodes in this subtree, itself included */
    int height;    /* 1 for a scalar */
    bool is_done;  /* its end event was seen (aliases need finished nodes) */
} sf_ynode_t;

typedef struct sf_ydoc {
    sf_ynode_t *root;    /* owned; NULL when the stream holds no document */
    size_t n_alias_nodes; /* nodes created by alias expansion */
} sf_ydoc_t;

/* Check a file's bytes before parsing: at most SF_GRAPH_MAX_FILE_BYTES, no
 * NUL byte, valid UTF-8. SF_ERR_PARSE with the line:col of the first bad
 * byte (col counts characters, like libyaml). file is borrowed into err. */
SF_NODISCARD sf_status_t sf_ydoc_check_text(const char *buf, size_t len, const char *file,
                                            sf_err_t *err);

/* Parse one YAML document (after sf_ydoc_check_text). file is borrowed and
 * must outlive the document (it is stored in every pos). Errors:
 * SF_ERR_PARSE for syntax (libyaml's problem and mark), more than one
 * document, duplicate keys, non-scalar keys, unknown or recursive aliases,
 * too deep nesting, and an exhausted alias budget. On success the caller
 * owns *out (sf_ydoc_free). */
SF_NODISCARD sf_status_t sf_ydoc_parse(const char *buf, size_t len, const char *file,
                                       sf_ydoc_t **out, sf_err_t *err);
void sf_ydoc_free(sf_ydoc_t *doc); /* NULL-safe */

const char *sf_ynode_kind_name(sf_ynode_kind_t kind); /* "scalar", "list", "mapping" */
/* Mapping access; n is a MAP. */
int sf_ynode_map_count(const sf_ynode_t *n);
const sf_ynode_t *sf_ynode_map_key(const sf_ynode_t *n, int i);
const sf_ynode_t *sf_ynode_map_val(const sf_ynode_t *n, int i);
/* The value under key, NULL if absent (or n is not a MAP). */
const sf_ynode_t *sf_ynode_map_get(const sf_ynode_t *n, const char *key);
/* An empty plain scalar, "~" or "null". */
bool sf_ynode_is_null(const sf_ynode_t *n);
/* Position of text[0]: a quoted scalar starts one column after its quote. */
sf_pos_t sf_ynode_text_pos(const sf_ynode_t *n);

#endif
