/* Buffer categories for plan's breakdown. The rules are data: the first row
 * that matches an edge gives its category, so a new op or naming convention
 * is one row, not another branch. */
#include "mem_category.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static const char *const cat_keys[SF_MV_CAT_COUNT] = {
    "weights", "activations", "logits", "communication", "scratch", "outputs",
};

const char *sf_mem_cat_key(sf_mv_cat_t c)
{
    return (unsigned)c < SF_MV_CAT_COUNT ? cat_keys[c] : "?";
}

typedef enum rule_kind {
    RULE_OP,          /* the producer's op is `text` */
    RULE_OUTPUT,      /* the graph keeps the buffer as (the base of) an output */
    RULE_NAME_PREFIX, /* the tensor's name starts with `text` */
} rule_kind_t;

typedef struct cat_rule {
    rule_kind_t kind;
    const char *text;
    sf_mv_cat_t cat;
} cat_rule_t;

/* Order matters: weights persist like outputs but are weights; the gathered
 * or exchanged logits are what a collective received, so they count as
 * communication; the f32 copies, the concat and the pad of the logits are
 * the logits/target the step exists to make. */
static const cat_rule_t cat_rules[] = {
    {RULE_OP, "weight", SF_MV_CAT_WEIGHTS},
    {RULE_OUTPUT, NULL, SF_MV_CAT_OUTPUTS},
    {RULE_OP, "redistribute", SF_MV_CAT_COMM},
    {RULE_NAME_PREFIX, "logits", SF_MV_CAT_LOGITS},
    {RULE_NAME_PREFIX, "target", SF_MV_CAT_LOGITS},
};

static bool rule_matches(const cat_rule_t *r, const sf_graph_t *g, int v, const bool *is_out)
{
    const sf_edge_t *e = &g->edges[v];
    switch (r->kind) {
    case RULE_OP:
        return e->producer >= 0 && strcmp(g->nodes[e->producer].op->name, r->text) == 0;
    case RULE_OUTPUT:
        return is_out[v];
    case RULE_NAME_PREFIX:
        return strncmp(e->name, r->text, strlen(r->text)) == 0;
    }
    return false;
}

static int base_of(const sf_graph_t *g, int v)
{
    /* A view chain ends at the edge that owns the buffer; bounded by the edge
     * count in case of a malformed chain (the validator refuses cycles). */
    for (int k = 0; k < g->n_edges && g->edges[v].view_of >= 0; k++)
        v = g->edges[v].view_of;
    return v;
}

static int by_address(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return x < y ? -1 : x > y;
}

void sf_mem_cat_tally_init(sf_mem_cat_tally_t *t, const sf_graph_t *g)
{
    memset(t, 0, sizeof *t);
    t->g = g;
    size_t n = (size_t)g->n_edges + 1;
    t->edge_cat = sf_xalloc_calloc(n, sizeof *t->edge_cat);
    t->by_name = sf_xalloc_calloc(n, sizeof *t->by_name);
    t->by_name_edge = sf_xalloc_calloc(n, sizeof *t->by_name_edge);
    bool *is_out = sf_xalloc_calloc(n, sizeof *is_out);
    for (int k = 0; k < g->n_outputs; k++)
        is_out[base_of(g, g->outputs[k])] = true;
    for (int v = 0; v < g->n_edges; v++) {
        t->edge_cat[v] = SF_MV_CAT_ACTIVATIONS;
        for (size_t r = 0; r < sizeof cat_rules / sizeof cat_rules[0]; r++)
            if (rule_matches(&cat_rules[r], g, v, is_out)) {
                t->edge_cat[v] = cat_rules[r].cat;
                break;
            }
        t->by_name[v] = g->edges[v].name;
    }
    free(is_out);
    /* The executor names a buffer by its edge's own name string, so the
     * address finds the edge in O(log n) at every event. */
    qsort(t->by_name, (size_t)g->n_edges, sizeof *t->by_name, by_address);
    for (int k = 0; k < g->n_edges; k++)
        t->by_name_edge[k] = -1;
    for (int v = 0; v < g->n_edges; v++) {
        const char *key = g->edges[v].name;
        const char **hit = bsearch(&key, t->by_name, (size_t)g->n_edges, sizeof *t->by_name,
                                   by_address);
        if (hit != NULL)
            t->by_name_edge[hit - t->by_name] = v;
    }
}

void sf_mem_cat_tally_fini(sf_mem_cat_tally_t *t)
{
    free(t->edge_cat);
    free(t->by_name);
    free(t->by_name_edge);
    memset(t, 0, sizeof *t);
}

sf_mv_cat_t sf_mem_cat_of_edge(const sf_mem_cat_tally_t *t, int v)
{
    return v >= 0 && v < t->g->n_edges ? t->edge_cat[v] : SF_MV_CAT_ACTIVATIONS;
}

sf_mv_cat_t sf_mem_cat_of_tensor(const sf_mem_cat_tally_t *t, const char *tensor)
{
    if (tensor == NULL)
        return SF_MV_CAT_ACTIVATIONS;
    if (strcmp(tensor, "<scratch>") == 0)
        return SF_MV_CAT_SCRATCH;
    const char **hit = bsearch(&tensor, t->by_name, (size_t)t->g->n_edges, sizeof *t->by_name,
                               by_address);
    int v = hit != NULL ? t->by_name_edge[hit - t->by_name] : sf_graph_find_edge(t->g, tensor);
    return sf_mem_cat_of_edge(t, v);
}

void sf_mem_cat_observe(void *ctx, const sf_mem_event_t *ev)
{
    sf_mem_cat_tally_t *t = ctx;
    sf_mv_cat_t c = sf_mem_cat_of_tensor(t, ev->buf->tensor);
    if (ev->kind == SF_MEM_EV_ALLOC) {
        t->live[c] += ev->buf->counted_bytes;
        if (ev->live_bytes > t->peak_bytes) {
            t->peak_bytes = ev->live_bytes;
            memcpy(t->at_peak, t->live, sizeof t->at_peak);
        }
    } else {
        t->live[c] -= ev->buf->counted_bytes;
    }
}
