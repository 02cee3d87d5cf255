/* See memviz_category.h. */
#include "memviz_category.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "memviz_summary.h"

static const char *const cat_names[SF_MV_CAT_COUNT] = {
    "weights", "activations", "logits/target", "communication", "kernel scratch", "outputs",
};
/* Six hues far apart, none of them the small buffers' grey. */
static const char *const cat_colours[SF_MV_CAT_COUNT] = {
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#edc948", "#59a14f",
};

const char *sf_mv_cat_name(sf_mv_cat_t c)
{
    return (unsigned)c < SF_MV_CAT_COUNT ? cat_names[c] : "?";
}

const char *sf_mv_cat_colour(sf_mv_cat_t c)
{
    return (unsigned)c < SF_MV_CAT_COUNT ? cat_colours[c] : "#999999";
}

typedef enum mv_rule_kind {
    MV_RULE_TENSOR,     /* the tensor's name is `text` */
    MV_RULE_OP,         /* the allocating node's op is `text` */
    MV_RULE_COLLECTIVE, /* the allocating node's op is a collective */
    MV_RULE_KEPT,       /* kept to the end: a graph output */
    MV_RULE_PREFIX,     /* the tensor's name starts with `text` */
} mv_rule_kind_t;

typedef struct mv_rule {
    mv_rule_kind_t kind;
    const char *text;
    sf_mv_cat_t cat;
} mv_rule_t;

/* Order matters: weights persist like outputs but are weights; the gathered
 * or exchanged logits are what a collective received, so they count as
 * communication; the f32 copies, the concat and the pad of the logits are
 * the logits/target the step exists to make. */
static const mv_rule_t mv_rules[] = {
    {MV_RULE_TENSOR, "<scratch>", SF_MV_CAT_SCRATCH},
    {MV_RULE_OP, "weight", SF_MV_CAT_WEIGHTS},
    {MV_RULE_KEPT, NULL, SF_MV_CAT_OUTPUTS},
    {MV_RULE_COLLECTIVE, NULL, SF_MV_CAT_COMM},
    {MV_RULE_PREFIX, "logits", SF_MV_CAT_LOGITS},
    {MV_RULE_PREFIX, "target", SF_MV_CAT_LOGITS},
};

static bool rule_hits(const mv_rule_t *rule, const sf_mv_cat_facts_t *f)
{
    switch (rule->kind) {
    case MV_RULE_TENSOR:
        return strcmp(f->tensor, rule->text) == 0;
    case MV_RULE_OP:
        return strcmp(f->op, rule->text) == 0;
    case MV_RULE_COLLECTIVE:
        return sf_mv_op_is_collective(f->op);
    case MV_RULE_KEPT:
        return f->is_kept;
    case MV_RULE_PREFIX:
        return strncmp(f->tensor, rule->text, strlen(rule->text)) == 0;
    }
    return false;
}

sf_mv_cat_t sf_mv_category_of(const sf_mv_cat_facts_t *f)
{
    for (size_t k = 0; k < sizeof mv_rules / sizeof mv_rules[0]; k++)
        if (rule_hits(&mv_rules[k], f))
            return mv_rules[k].cat;
    return SF_MV_CAT_ACTIVATIONS;
}

void sf_mv_categorize(const sf_mv_trace_t *t, const sf_mv_rank_t *r, uint8_t *out)
{
    /* The op of each node name, from the spans (string id -> op id). */
    sf_mv_sid_t *op_of = calloc((size_t)t->n_strs + 1, sizeof *op_of);
    for (uint32_t s = 0; op_of != NULL && s < r->n_spans; s++)
        op_of[r->spans[s].name] = r->spans[s].op;
    for (uint32_t i = 0; i < r->n_bufs; i++) {
        const sf_mv_buffer_t *b = &r->bufs[i];
        sf_mv_cat_facts_t f = {
            .tensor = sf_mv_str(t, b->tensor),
            .op = op_of != NULL ? sf_mv_str(t, op_of[b->alloc_node]) : "",
            .is_kept = b->free_ev >= r->n_events ||
                       strcmp(sf_mv_str(t, b->free_node), "<end>") == 0,
        };
        out[i] = (uint8_t)sf_mv_category_of(&f);
    }
    free(op_of);
}
