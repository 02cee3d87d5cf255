/* Host memory the other ranks of this host can read in place. One sparse
 * memfd per process, mapped once; the cpu device takes large tensors from
 * it once a communicator turned it on, and a peer that mapped it (read
 * only, once, at communicator set-up) copies a collective's piece straight
 * out of the sender's tensor with memcpy. process_vm_readv, the fallback,
 * pins every page for every call: measured on the 2-core box, two ranks
 * copying each other's halves ran 1.2-1.8x faster through the mapping.
 *
 * Invariants: a freed block of SF_SHM_ARENA_KEEP_BELOW bytes or more goes
 * back to the kernel at once (hole punching), for this process and every
 * peer mapping alike; smaller freed blocks stay resident, up to
 * SF_SHM_ARENA_WARM_MAX bytes in all, and are handed out again first (as
 * the C heap reuses its memory: a fresh page costs a fault, which the
 * executor's many short-lived tensors would otherwise pay each time);
 * sf_shm_arena_trim gives those back too. A peer's mapping never holds
 * memory alive. The file never shrinks, so a peer's read of any offset
 * below the arena's size cannot fault. After
 * fork() the child neither allocates from the arena nor punches it (the
 * parent shares those pages): its allocations fall back to the heap. */
#ifndef SF_SHM_ARENA_H
#define SF_SHM_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Allocations below this size stay on the heap: a collective sends them
 * as bytes anyway, and the heap reuses small blocks without page faults. */
#define SF_SHM_ARENA_MIN_BYTES (64u * 1024u)

/* Blocks start at arena offsets that are multiples of this, so at page
 * boundaries (a freed block's pages can be punched out; vector kernels get
 * 64-byte aligned rows). */
#define SF_SHM_ARENA_ALIGN (64u * 1024u)

/* Freed blocks this large are punched out at once (glibc's largest mmap
 * threshold: the heap, too, returns blocks this large on free). */
#define SF_SHM_ARENA_KEEP_BELOW (32ull * 1024 * 1024)
/* The most freed bytes kept resident for reuse. */
#define SF_SHM_ARENA_WARM_MAX (512ull * 1024 * 1024)

/* What a peer needs to map this process's arena and check it did. */
typedef struct sf_shm_arena_card {
    uint64_t pid;
    uint64_t fd;   /* the memfd's number in that process */
    uint64_t size; /* bytes of the mapping, header included */
    uint64_t nonce[2]; /* written at offset 0 of the arena */
} sf_shm_arena_card_t;

/* Create the arena if needed and let sf_shm_arena_alloc use it. Returns
 * false (and leaves allocation on the heap) where memfd, the mapping or
 * SF_SHM_ARENA=0 in the environment says no. Thread-safe. */
bool sf_shm_arena_enable(void);

/* Whether enable succeeded in this process (not a forked child). */
bool sf_shm_arena_is_on(void);

/* A page-aligned block of at least nbytes, or NULL when the
 * arena is off, nbytes < SF_SHM_ARENA_MIN_BYTES, or no free range fits
 * (callers then use the heap). Thread-safe. */
void *sf_shm_arena_alloc(size_t nbytes);

/* Whether p lies in this process's arena (then it came from
 * sf_shm_arena_alloc and only sf_shm_arena_free may release it). */
bool sf_shm_arena_owns(const void *p);

/* Release a block of sf_shm_arena_alloc: kept warm or punched out (see
 * above). In a forked child this only forgets the block. Thread-safe. */
void sf_shm_arena_free(void *p);

/* Punch out every warm range: all freed memory goes back to the kernel. */
void sf_shm_arena_trim(void);

/* The offset of [p, p + nbytes) in this process's arena, when it lies
 * inside the arena; else false. */
bool sf_shm_arena_offset_of(const void *p, size_t nbytes, uint64_t *offset);

/* This process's card; false when the arena is off. */
bool sf_shm_arena_card(sf_shm_arena_card_t *card);

/* Map a peer's arena read-only from its card (pidfd_getfd needs the same
 * permission as process_vm_readv) and check the nonce at its start. NULL
 * when any step fails; the caller then reads by process_vm_readv. */
const void *sf_shm_arena_map_peer(const sf_shm_arena_card_t *card);

/* Undo sf_shm_arena_map_peer. NULL-safe. */
void sf_shm_arena_unmap_peer(const void *base, const sf_shm_arena_card_t *card);

/* Bytes of live blocks, and of warm free ranges, now (for tests). */
uint64_t sf_shm_arena_live_bytes(void);
uint64_t sf_shm_arena_warm_bytes(void);

#endif
