/* The op ids: one per line of ops.def, in its order. A device keeps its
 * kernel table indexed by these (sf_op_id() gives a registered op's id), so
 * adding a device's kernel for an op touches that device's table only. */
#ifndef SF_OP_IDS_H
#define SF_OP_IDS_H

typedef enum sf_op_id {
#define SF_OP(name) SF_OP_ID_##name,
#include "ops.def"
#undef SF_OP
    SF_OP_ID_COUNT,
} sf_op_id_t;

#endif
