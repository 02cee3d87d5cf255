/* What the ops that talk to other ranks share: the check that the comm
 * running a node is the rank the graph was loaded for. */
#ifndef SF_OP_COMM_H
#define SF_OP_COMM_H

#include "coll.h"
#include "graph.h"

/* SF_ERR_COMM at the node when comm's rank or size differs from the
 * node's (a graph shaped for another rank would exchange wrong pieces). */
SF_NODISCARD sf_status_t sf_op_comm_check(const sf_node_t *node, sf_comm_t *comm, sf_err_t *err);

#endif
