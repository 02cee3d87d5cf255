/* libyaml event stream -> sf_ynode_t tree. Invariant: every node in the tree
 * is owned by exactly one parent (aliases are deep copies), so freeing is a
 * plain recursive walk, bounded by SF_YAML_MAX_DEPTH. */
#include "yaml_doc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "graph.h"
#include "graph_names.h"
#include "xalloc.h"

/* --- text checks ------------------------------------------------------------ */

/* Length of the UTF-8 sequence at s (1..4), or 0 if it is malformed:
 * overlong forms, surrogates and code points past U+10FFFF are refused. */
static size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0u) != 0x80u)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

sf_status_t sf_ydoc_check_text(const char *buf, size_t len, const char *file, sf_err_t *err)
{
    sf_pos_t pos = {file, 0, 0};
    if (len > SF_GRAPH_MAX_FILE_BYTES)
        return sf_err_set(err, SF_ERR_PARSE, &pos,
                          "file is %zu bytes, more than the limit of %u bytes", len,
                          (unsigned)SF_GRAPH_MAX_FILE_BYTES);
    const unsigned char *s = (const unsigned char *)buf;
    pos.line = 1;
    pos.col = 1;
    for (size_t i = 0; i < len;) {
        if (s[i] == 0)
            return sf_err_set(err, SF_ERR_PARSE, &pos, "NUL byte in a YAML file");
        size_t n = utf8_seq_len(s + i, len - i);
        if (n == 0)
            return sf_err_set(err, SF_ERR_PARSE, &pos,
                              "invalid UTF-8: byte 0x%02x does not start a valid sequence",
                              s[i]);
        if (s[i] == '\n') {
            pos.line++;
            pos.col = 1;
        } else {
            pos.col++;
        }
        i += n;
    }
    return SF_OK;
}

/* --- tree ------------------------------------------------------------------- */

static void ynode_free(sf_ynode_t *n)
{
    if (n == NULL)
        return;
    for (int i = 0; i < n->n_kids; i++)
        ynode_free(n->kids[i]);
    free(n->kids);
    free(n->text);
    free(n);
}

void sf_ydoc_free(sf_ydoc_t *doc)
{
    if (doc == NULL)
        return;
    ynode_free(doc->root);
    free(doc);
}

static void ynode_add_kid(sf_ynode_t *parent, sf_ynode_t *kid)
{
    if (parent->n_kids == parent->cap_kids) {
        int cap = parent->cap_kids == 0 ? 4 : parent->cap_kids * 2;
        sf_ynode_t **grown = realloc(parent->kids, (size_t)cap * sizeof *grown);
        SF_ASSERT(grown != NULL);
        parent->kids = grown;
        parent->cap_kids = cap;
    }
    parent->kids[parent->n_kids++] = kid;
}

static sf_ynode_t *ynode_copy(const sf_ynode_t *n)
{
    sf_ynode_t *c = sf_xalloc_calloc(1, sizeof *c);
    *c = *n;
    c->kids = NULL;
    c->n_kids = 0;
    c->cap_kids = 0;
    if (n->text != NULL) {
        c->text = sf_xalloc_calloc(n->len + 1, 1);
        memcpy(c->text, n->text, n->len);
    }
    for (int i = 0; i < n->n_kids; i++)
        ynode_add_kid(c, ynode_copy(n->kids[i]));
    return c;
}

const char *sf_ynode_kind_name(sf_ynode_kind_t kind)
{
    switch (kind) {
    case SF_YNODE_SCALAR: return "scalar";
    case SF_YNODE_SEQ: return "list";
    case SF_YNODE_MAP: return "mapping";
    }
    return "?";
}

int sf_ynode_map_count(const sf_ynode_t *n)
{
    SF_ASSERT(n->kind == SF_YNODE_MAP);
    return n->n_kids / 2;
}

const sf_ynode_t *sf_ynode_map_key(const sf_ynode_t *n, int i)
{
    SF_ASSERT(n->kind == SF_YNODE_MAP && i >= 0 && 2 * i < n->n_kids);
    return n->kids[2 * i];
}

const sf_ynode_t *sf_ynode_map_val(const sf_ynode_t *n, int i)
{
    SF_ASSERT(n->kind == SF_YNODE_MAP && i >= 0 && 2 * i + 1 < n->n_kids);
    return n->kids[2 * i + 1];
}

const sf_ynode_t *sf_ynode_map_get(const sf_ynode_t *n, const char *key)
{
    if (n == NULL || n->kind != SF_YNODE_MAP)
        return NULL;
    for (int i = 0; i + 1 < n->n_kids; i += 2)
        if (strcmp(n->kids[i]->text, key) == 0)
            return n->kids[i + 1];
    return NULL;
}

bool sf_ynode_is_null(const sf_ynode_t *n)
{
    return n->kind == SF_YNODE_SCALAR && n->is_plain &&
           (n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0);
}

sf_pos_t sf_ynode_text_pos(const sf_ynode_t *n)
{
    sf_pos_t p = n->pos;
    if (n->kind == SF_YNODE_SCALAR && !n->is_plain && p.col > 0)
        p.col++;
    return p;
}

/* --- parsing ---------------------------------------------------------------- */

typedef struct ydoc_parse {
    yaml_parser_t parser;
    const char *file;      /* borrowed */
    sf_ydoc_t *doc;        /* owned until returned */
    sf_ynode_t **stack;    /* borrowed: open collections, innermost last */
    int depth;
    int n_docs;
    sf_graph_names_t anchors; /* name -> index into anchor_nodes */
    char **anchor_names;   /* owned: the table's keys */
    sf_ynode_t **anchor_nodes; /* borrowed: nodes in the tree */
    int n_anchors;
    int cap_anchors;
    sf_err_t *err;
} ydoc_parse_t;

static sf_pos_t mark_pos(const ydoc_parse_t *p, yaml_mark_t m)
{
    sf_pos_t pos = {p->file, (int)m.line + 1, (int)m.column + 1};
    return pos;
}

static void ydoc_add_anchor(ydoc_parse_t *p, const char *name, sf_ynode_t *n)
{
    if (p->n_anchors == p->cap_anchors) {
        int cap = p->cap_anchors == 0 ? 8 : p->cap_anchors * 2;
        char **names = realloc(p->anchor_names, (size_t)cap * sizeof *names);
        SF_ASSERT(names != NULL);
        p->anchor_names = names;
        sf_ynode_t **nodes = realloc(p->anchor_nodes, (size_t)cap * sizeof *nodes);
        SF_ASSERT(nodes != NULL);
        p->anchor_nodes = nodes;
        p->cap_anchors = cap;
    }
    char *copy = strdup(name);
    SF_ASSERT(copy != NULL);
    p->anchor_names[p->n_anchors] = copy;
    p->anchor_nodes[p->n_anchors] = n;
    /* YAML lets an anchor be redefined; later aliases see the latest one. */
    sf_graph_names_put(&p->anchors, copy, p->n_anchors);
    p->n_anchors++;
}

/* Hang a finished or freshly opened node on the tree. Takes n. */
static sf_status_t ydoc_attach(ydoc_parse_t *p, sf_ynode_t *n)
{
    if (p->depth == 0) {
        SF_ASSERT(p->doc->root == NULL);
        p->doc->root = n;
        return SF_OK;
    }
    sf_ynode_t *parent = p->stack[p->depth - 1];
    bool is_key = parent->kind == SF_YNODE_MAP && parent->n_kids % 2 == 0;
    ynode_add_kid(parent, n);
    if (is_key && n->kind != SF_YNODE_SCALAR)
        return sf_err_set(p->err, SF_ERR_PARSE, &n->pos,
                          "mapping key is a %s, expected a scalar", sf_ynode_kind_name(n->kind));
    if (p->depth + n->height > SF_YAML_MAX_DEPTH)
        return sf_err_set(p->err, SF_ERR_PARSE, &n->pos,
                          "nesting is deeper than %d levels", SF_YAML_MAX_DEPTH);
    return SF_OK;
}

static int key_cmp(const void *a, const void *b)
{
    const sf_ynode_t *x = *(const sf_ynode_t *const *)a;
    const sf_ynode_t *y = *(const sf_ynode_t *const *)b;
    int c = strcmp(x->text, y->text);
    if (c != 0)
        return c;
    if (x->pos.line != y->pos.line)
        return x->pos.line < y->pos.line ? -1 : 1;
    return x->pos.col < y->pos.col ? -1 : x->pos.col > y->pos.col;
}

/* Sorting finds duplicates in n log n; a 4 MiB mapping is ~10^5 keys. */
static sf_status_t ydoc_check_dup_keys(ydoc_parse_t *p, const sf_ynode_t *map)
{
    int n = map->n_kids / 2;
    if (n < 2)
        return SF_OK;
    const sf_ynode_t **keys = sf_xalloc_calloc((size_t)n, sizeof *keys);
    for (int i = 0; i < n; i++)
        keys[i] = map->kids[2 * i];
    qsort(keys, (size_t)n, sizeof *keys, key_cmp);
    /* Within a group of equal keys the sort puts them in file order; report
     * the group whose second occurrence comes first in the file. */
    const sf_ynode_t *dup = NULL, *first = NULL;
    for (int i = 1; i < n; i++) {
        if (strcmp(keys[i - 1]->text, keys[i]->text) != 0)
            continue;
        if (i >= 2 && strcmp(keys[i - 2]->text, keys[i]->text) == 0)
            continue; /* a third occurrence; the second already counted */
        if (dup == NULL || keys[i]->pos.line < dup->pos.line ||
            (keys[i]->pos.line == dup->pos.line && keys[i]->pos.col < dup->pos.col)) {
            first = keys[i - 1];
            dup = keys[i];
        }
    }
    sf_status_t st = SF_OK;
    if (dup != NULL)
        st = sf_err_set(p->err, SF_ERR_PARSE, &dup->pos, "duplicate key '%s' (first at line %d)",
                        dup->text, first->pos.line);
    free(keys);
    return st;
}

static void ynode_finish(sf_ynode_t *n)
{
    n->n_tree = 1;
    n->height = 1;
    for (int i = 0; i < n->n_kids; i++) {
        n->n_tree += n->kids[i]->n_tree;
        if (n->kids[i]->height + 1 > n->height)
            n->height = n->kids[i]->height + 1;
    }
    n->is_done = true;
}

static sf_status_t ydoc_on_alias(ydoc_parse_t *p, const yaml_event_t *ev)
{
    sf_pos_t pos = mark_pos(p, ev->start_mark);
    const char *name = (const char *)ev->data.alias.anchor;
    int idx = sf_graph_names_get(&p->anchors, name);
    if (idx < 0)
        return sf_err_set(p->err, SF_ERR_PARSE, &pos, "unknown alias '*%s'", name);
    const sf_ynode_t *target = p->anchor_nodes[idx];
    if (!target->is_done)
        return sf_err_set(p->err, SF_ERR_PARSE, &pos,
                          "alias '*%s' refers to a node that contains it", name);
    /* Count before copying, so a bomb fails without allocating its expansion. */
    if (target->n_tree > SF_GRAPH_MAX_ALIAS_NODES - p->doc->n_alias_nodes)
        return sf_err_set(p->err, SF_ERR_PARSE, &pos,
                          "alias expansion exceeds budget of %d nodes (alias '*%s' adds %zu "
                          "to %zu already expanded)",
                          SF_GRAPH_MAX_ALIAS_NODES, name, target->n_tree,
                          p->doc->n_alias_nodes);
    p->doc->n_alias_nodes += target->n_tree;
    sf_ynode_t *c = ynode_copy(target);
    c->pos = pos;
    return ydoc_attach(p, c);
}

static sf_ynode_t *ynode_new(ydoc_parse_t *p, sf_ynode_kind_t kind, yaml_mark_t m)
{
    sf_ynode_t *n = sf_xalloc_calloc(1, sizeof *n);
    n->kind = kind;
    n->pos = mark_pos(p, m);
    n->n_tree = 1;
    n->height = 1;
    return n;
}

static sf_status_t ydoc_on_event(ydoc_parse_t *p, const yaml_event_t *ev, bool *done)
{
    sf_status_t st;
    sf_ynode_t *n = NULL;
    const yaml_char_t *anchor = NULL;
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        *done = true;
        return SF_OK;
    case YAML_DOCUMENT_START_EVENT:
        if (++p->n_docs > 1) {
            sf_pos_t pos = mark_pos(p, ev->start_mark);
            return sf_err_set(p->err, SF_ERR_PARSE, &pos,
                              "a second YAML document; a graph file holds exactly one");
        }
        return SF_OK;
    case YAML_SCALAR_EVENT:
        n = ynode_new(p, SF_YNODE_SCALAR, ev->start_mark);
        n->len = ev->data.scalar.length;
        n->text = sf_xalloc_calloc(n->len + 1, 1);
        memcpy(n->text, ev->data.scalar.value, n->len);
        /* A tag like !!str makes even `1` a string; plain_implicit says the
         * scalar carried no tag. */
        n->is_plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                      ev->data.scalar.plain_implicit;
        n->is_done = true;
        anchor = ev->data.scalar.anchor;
        if ((st = ydoc_attach(p, n)) != SF_OK)
            return st;
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        n = ynode_new(p, ev->type == YAML_SEQUENCE_START_EVENT ? SF_YNODE_SEQ : SF_YNODE_MAP,
                      ev->start_mark);
        anchor = ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.anchor
                                                        : ev->data.mapping_start.anchor;
        if ((st = ydoc_attach(p, n)) != SF_OK)
            return st;
        if (p->depth >= SF_YAML_MAX_DEPTH)
            return sf_err_set(p->err, SF_ERR_PARSE, &n->pos, "nesting is deeper than %d levels",
                              SF_YAML_MAX_DEPTH);
        p->stack[p->depth++] = n;
        break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        SF_ASSERT(p->depth > 0); /* libyaml balances start and end events */
        n = p->stack[--p->depth];
        ynode_finish(n);
        if (n->kind == SF_YNODE_MAP && (st = ydoc_check_dup_keys(p, n)) != SF_OK)
            return st;
        /* A collection's height is known only now; recheck against the depth. */
        if (p->depth + n->height > SF_YAML_MAX_DEPTH)
            return sf_err_set(p->err, SF_ERR_PARSE, &n->pos, "nesting is deeper than %d levels",
                              SF_YAML_MAX_DEPTH);
        break;
    case YAML_ALIAS_EVENT:
        return ydoc_on_alias(p, ev);
    default:
        break;
    }
    if (anchor != NULL)
        ydoc_add_anchor(p, (const char *)anchor, n);
    return SF_OK;
}

static sf_status_t ydoc_libyaml_error(ydoc_parse_t *p)
{
    const yaml_parser_t *y = &p->parser;
    sf_pos_t pos = mark_pos(p, y->problem_mark);
    const char *problem = y->problem != NULL ? y->problem : "malformed YAML";
    if (y->context != NULL)
        return sf_err_set(p->err, SF_ERR_PARSE, &pos, "%s %s", y->context, problem);
    return sf_err_set(p->err, SF_ERR_PARSE, &pos, "%s", problem);
}

sf_status_t sf_ydoc_parse(const char *buf, size_t len, const char *file, sf_ydoc_t **out,
                          sf_err_t *err)
{
    *out = NULL;
    sf_status_t st = sf_ydoc_check_text(buf, len, file, err);
    if (st != SF_OK)
        return st;

    ydoc_parse_t p;
    memset(&p, 0, sizeof p);
    p.file = file;
    p.err = err;
    p.doc = sf_xalloc_calloc(1, sizeof *p.doc);
    p.stack = sf_xalloc_calloc(SF_YAML_MAX_DEPTH, sizeof *p.stack);
    sf_graph_names_init(&p.anchors);
    SF_ASSERT(yaml_parser_initialize(&p.parser));
    yaml_parser_set_input_string(&p.parser, (const unsigned char *)buf, len);
    yaml_parser_set_encoding(&p.parser, YAML_UTF8_ENCODING);

    bool done = false;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p.parser, &ev)) {
            st = ydoc_libyaml_error(&p);
            break;
        }
        st = ydoc_on_event(&p, &ev, &done);
        yaml_event_delete(&ev);
        if (st != SF_OK)
            break;
    }

    yaml_parser_delete(&p.parser);
    for (int i = 0; i < p.n_anchors; i++)
        free(p.anchor_names[i]);
    free(p.anchor_names);
    free(p.anchor_nodes);
    sf_graph_names_fini(&p.anchors);
    free(p.stack);
    if (st != SF_OK) {
        sf_ydoc_free(p.doc);
        return st;
    }
    *out = p.doc;
    return SF_OK;
}
