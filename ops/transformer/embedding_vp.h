/* embedding_vp's check of its ids, shared by the CPU kernel and the cuda
 * adapter (which reads the ids back to the host first), so a bad id is
 * the same error on every device. */
#ifndef SF_EMBEDDING_VP_H
#define SF_EMBEDDING_VP_H

#include "graph.h"

/* SF_ERR_INPUT at the node, naming the first id (row-major) outside
 * [0, vocab) and its index; SF_OK when all lie inside. ids is i32/i64 [T]
 * or [B,S] in host memory, any strides. Never blocks. */
SF_NODISCARD sf_status_t sf_embedding_vp_check_ids(const sf_node_t *node, const sf_tensor_t *ids,
                                                   int64_t vocab, sf_err_t *err);

#endif
