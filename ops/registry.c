/* sf_ops_register_all: every op listed in ops.def goes into the runtime's
 * registry exactly once. The enum, the table and the loop all come from
 * the same X-macro list, so they cannot drift apart. */
#include <stdbool.h>
#include <string.h>

#include "model_config.h"
#include "op.h"
#include "op_ids.h"

#define SF_OP(name) extern const sf_op_desc_t sf_op_##name;
#include "ops.def"
#undef SF_OP

typedef struct op_entry {
    const char *listed_name;   /* as written in ops.def */
    const sf_op_desc_t *desc;  /* borrowed: a static const in the op's file */
} op_entry_t;

static const op_entry_t op_table[] = {
#define SF_OP(name) {#name, &sf_op_##name},
#include "ops.def"
#undef SF_OP
};

/* op_table[i] is the op whose id is i: both come from ops.def in order. */
_Static_assert(sizeof op_table / sizeof op_table[0] == SF_OP_ID_COUNT,
               "ops.def and the descriptor table disagree");

void sf_ops_register_all(void)
{
    /* Not thread-safe: tools call it once at start-up, before any thread. */
    static bool is_registered;
    if (is_registered)
        return;
    is_registered = true;
    for (int i = 0; i < SF_OP_ID_COUNT; i++) {
        /* A descriptor whose name differs from its ops.def line is a
         * copy-paste slip in an op file: YAML would know it by another name. */
        SF_ASSERT(strcmp(op_table[i].desc->name, op_table[i].listed_name) == 0);
        sf_op_register(op_table[i].desc, i);
    }
    /* The weight op and the model params come together: a graph that can
     * name `weight` can name a `model`. */
    sf_model_register();
}
