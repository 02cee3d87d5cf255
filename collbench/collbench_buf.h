/* Benchmark buffers in host or CUDA memory, so `shardflow collbench` can
 * drive every backend with the same loop. Uploads and poisoning finish
 * before they return: a collective on another stream may read the buffer
 * right after. */
#ifndef SF_COLLBENCH_BUF_H
#define SF_COLLBENCH_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "coll.h"
#include "status.h"

typedef struct sf_collbench_buf {
    sf_memkind_t mem;
    void *ptr; /* owned: malloc'd (host) or cudaMalloc'd (cuda); NULL when empty */
    size_t nbytes;
} sf_collbench_buf_t;

/* Allocate nbytes (at least 1 is allocated) of mem into caller storage b.
 * SF_ERR_NOMEM when the allocation fails, SF_ERR_UNSUPPORTED for cuda in a
 * build without CUDA. On failure b is empty. */
SF_NODISCARD sf_status_t sf_collbench_buf_init(sf_collbench_buf_t *b, sf_memkind_t mem,
                                               size_t nbytes, sf_err_t *err);
/* Release the memory; an empty buffer is a no-op. */
void sf_collbench_buf_fini(sf_collbench_buf_t *b);
/* Copy nbytes from host memory into the buffer. Blocks until done. */
SF_NODISCARD sf_status_t sf_collbench_buf_store(sf_collbench_buf_t *b, const void *host,
                                                size_t nbytes, sf_err_t *err);
/* Set every byte to 0xff: NaN in every float type, -1 in every signed int,
 * so a collective that writes nothing cannot pass verification. Blocks. */
SF_NODISCARD sf_status_t sf_collbench_buf_poison(sf_collbench_buf_t *b, sf_err_t *err);
/* Make the first nbytes readable from the host: *view is the buffer itself
 * for host memory, else staging (nbytes of caller memory) after a download. */
SF_NODISCARD sf_status_t sf_collbench_buf_fetch(const sf_collbench_buf_t *b, void *staging,
                                                size_t nbytes, const void **view,
                                                sf_err_t *err);

#endif
