/* See op_comm.h. */
#include "op_comm.h"

sf_status_t sf_op_comm_check(const sf_node_t *node, sf_comm_t *comm, sf_err_t *err)
{
    int world = node->world > 0 ? node->world : 1;
    if (sf_comm_size(comm) == world && sf_comm_rank(comm) == node->rank)
        return SF_OK;
    return sf_err_set(err, SF_ERR_COMM, &node->pos,
                      "node '%s': the graph was loaded for rank %d of %d but runs as rank %d of "
                      "%d",
                      node->name, node->rank, world, sf_comm_rank(comm), sf_comm_size(comm));
}
