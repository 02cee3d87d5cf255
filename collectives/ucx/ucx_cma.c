/* Single-copy transfers between ranks of one host: the receiver reads the
 * sender's buffer with process_vm_readv (cross-memory attach). UCX 1.13
 * uses its cma transport only without peer-failure endpoints (it requires
 * memory invalidation then), so under peer mode large messages would go
 * through the shared-memory FIFO twice (copy in, copy out). Probed once at
 * init: rank q may send rank p a descriptor instead of the bytes only if p
 * read a fresh random nonce out of q's memory, which proves the same host,
 * the same pid namespace and the permission to read. Where p may also map
 * q's shared arena (the same permission, through pidfd_getfd), p copies
 * whatever q sends from its arena with memcpy: no page pinning per call. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bootstrap.h"
#include "nonce.h"
#include "ucx_impl.h"

/* What each rank publishes for the probe. */
typedef struct cma_card {
    uint64_t pid;
    uint64_t addr; /* of the publishing rank's nonce */
    uint64_t nonce[2];
    sf_shm_arena_card_t arena; /* all zero when its arena is off */
} cma_card_t;

int ucx_cma_read(pid_t pid, void *dst, uint64_t src_addr, size_t nbytes)
{
    char *to = dst;
    while (nbytes > 0) {
        struct iovec local = {.iov_base = to, .iov_len = nbytes};
        struct iovec remote = {.iov_base = (void *)(uintptr_t)src_addr, .iov_len = nbytes};
        ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (got == 0)
            return EFAULT;
        to += got;
        src_addr += (uint64_t)got;
        nbytes -= (size_t)got;
    }
    return 0;
}

/* SF_UCX_MAP=0: single copy by process_vm_readv only (for comparisons). */
static bool arena_map_is_off(void)
{
    const char *v = getenv("SF_UCX_MAP");
    return v != NULL && strcmp(v, "0") == 0;
}

void ucx_cma_release(ucx_comm_t *ux, int world)
{
    for (int p = 0; ux->peer_arena != NULL && p < world; p++)
        sf_shm_arena_unmap_peer(ux->peer_arena[p], &ux->peer_card[p]);
    free(ux->peer_arena);
    free(ux->peer_card);
    free(ux->maps_both);
    ux->maps_both = NULL;
    free(ux->cma_pid);
    free(ux->cma_to);
    ux->peer_arena = NULL;
    ux->peer_card = NULL;
    ux->cma_pid = NULL;
    ux->cma_to = NULL;
}

sf_status_t ucx_cma_probe(ucx_comm_t *ux, int rank, int world, sf_err_t *err)
{
    sf_status_t st = SF_OK;
    cma_card_t mine = {0}, *cards = calloc((size_t)world, sizeof *cards);
    uint8_t *row = calloc((size_t)world, 1), *all_rows = calloc((size_t)world * world, 1);
    ux->cma_pid = calloc((size_t)world, sizeof *ux->cma_pid);
    ux->cma_to = calloc((size_t)world, sizeof *ux->cma_to);
    ux->peer_arena = calloc((size_t)world, sizeof *ux->peer_arena);
    ux->peer_card = calloc((size_t)world, sizeof *ux->peer_card);
    ux->maps_both = calloc((size_t)world, sizeof *ux->maps_both);
    if (ux->maps_both == NULL || cards == NULL || row == NULL || all_rows == NULL || ux->cma_pid == NULL ||
        ux->cma_to == NULL || ux->peer_arena == NULL || ux->peer_card == NULL) {
        st = sf_err_set(err, SF_ERR_NOMEM, NULL, "ucx backend: out of memory");
        goto done;
    }
    sf_nonce_fresh(ux->cma_nonce);
    mine.pid = (uint64_t)getpid();
    mine.addr = (uint64_t)(uintptr_t)ux->cma_nonce;
    memcpy(mine.nonce, ux->cma_nonce, sizeof mine.nonce);
    bool use_arena = !arena_map_is_off() && sf_shm_arena_enable();
    if (use_arena)
        (void)sf_shm_arena_card(&mine.arena);
    if ((st = sf_bootstrap_allgather(ux->bs, &mine, sizeof mine, cards, err)) != SF_OK)
        goto done;
    for (int p = 0; p < world; p++) {
        uint64_t seen[2] = {0};
        if (p == rank || cards[p].pid == 0)
            continue;
        if (ucx_cma_read((pid_t)cards[p].pid, seen, cards[p].addr, sizeof seen) == 0 &&
            memcmp(seen, cards[p].nonce, sizeof seen) == 0) {
            row[p] = 1;
            ux->cma_pid[p] = (pid_t)cards[p].pid;
            if (use_arena && cards[p].arena.pid == cards[p].pid) {
                ux->peer_arena[p] = sf_shm_arena_map_peer(&cards[p].arena);
                ux->peer_card[p] = cards[p].arena;
                if (ux->peer_arena[p] != NULL)
                    row[p] |= 2;
            }
        }
    }
    /* Every rank must agree on who sends descriptors to whom. */
    if ((st = sf_bootstrap_allgather(ux->bs, row, (size_t)world, all_rows, err)) != SF_OK)
        goto done;
    /* Row bits: 1, rank q reads rank p by CMA; 2, q mapped p's arena. */
    for (int p = 0; p < world; p++) {
        ux->cma_to[p] = all_rows[(size_t)p * world + rank] != 0;
        ux->maps_both[p] = (all_rows[(size_t)p * world + rank] & 2) != 0 &&
                           (all_rows[(size_t)rank * world + p] & 2) != 0;
    }
done:
    free(cards);
    free(row);
    free(all_rows);
    return st;
}
