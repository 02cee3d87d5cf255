/* The shared host arena (core/shm_arena.h): first-fit blocks that coalesce
 * on free, freed pages given back (a mapping of the arena reads zeros
 * there), a forked child that neither allocates from it nor punches the
 * parent's pages, the cpu device taking large tensors from it, and a peer
 * mapping that checks whose arena it mapped. Each test runs in its own
 * forked process (Check's default), so each starts with a fresh arena. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device.h"
#include "shm_arena.h"
#include "test_util.h"

#define MIB (1024u * 1024u)

START_TEST(test_arena_off_until_enabled_and_small_stays_on_heap)
{
    ck_assert(!sf_shm_arena_is_on());
    ck_assert_ptr_null(sf_shm_arena_alloc(4 * MIB));
    ck_assert(sf_shm_arena_enable());
    ck_assert(sf_shm_arena_is_on());
    ck_assert_ptr_null(sf_shm_arena_alloc(SF_SHM_ARENA_MIN_BYTES - 1));
    void *p = sf_shm_arena_alloc(SF_SHM_ARENA_MIN_BYTES);
    ck_assert_ptr_nonnull(p);
    ck_assert(sf_shm_arena_owns(p));
    ck_assert_uint_eq((uintptr_t)p % (uintptr_t)sysconf(_SC_PAGESIZE), 0);
    sf_shm_arena_free(p);
    ck_assert_uint_eq(sf_shm_arena_live_bytes(), 0);
}
END_TEST

START_TEST(test_arena_off_by_environment)
{
    setenv("SF_SHM_ARENA", "0", 1);
    ck_assert(!sf_shm_arena_enable());
    ck_assert_ptr_null(sf_shm_arena_alloc(4 * MIB));
    sf_shm_arena_card_t card;
    ck_assert(!sf_shm_arena_card(&card));
}
END_TEST

START_TEST(test_arena_first_fit_and_coalescing)
{
    ck_assert(sf_shm_arena_enable());
    char *a = sf_shm_arena_alloc(1 * MIB), *b = sf_shm_arena_alloc(1 * MIB),
         *c = sf_shm_arena_alloc(1 * MIB);
    ck_assert_ptr_eq(b, a + MIB);
    ck_assert_ptr_eq(c, b + MIB);
    ck_assert_uint_eq(sf_shm_arena_live_bytes(), 3 * MIB);
    /* Freeing a then b leaves one warm 2 MiB hole: a 2 MiB block fits at
     * a, before any never-used range. */
    sf_shm_arena_free(a);
    sf_shm_arena_free(b);
    ck_assert_uint_eq(sf_shm_arena_warm_bytes(), 2 * MIB);
    char *d = sf_shm_arena_alloc(2 * MIB);
    ck_assert_ptr_eq(d, a);
    ck_assert_uint_eq(sf_shm_arena_warm_bytes(), 0);
    /* Odd sizes round up to the alignment. */
    char *e = sf_shm_arena_alloc(SF_SHM_ARENA_MIN_BYTES + 1);
    ck_assert_ptr_eq(e, c + MIB);
    ck_assert_uint_eq(sf_shm_arena_live_bytes(), 3 * MIB + 2 * SF_SHM_ARENA_ALIGN);
    sf_shm_arena_free(c);
    sf_shm_arena_free(d);
    sf_shm_arena_free(e);
    ck_assert_uint_eq(sf_shm_arena_live_bytes(), 0);
    /* Warm and untouched ranges do not merge: 5 MiB does not fit in the
     * 3 MiB and a bit of warm space. Trimmed, everything is one range
     * again and the next block starts at the beginning. */
    ck_assert_ptr_eq(sf_shm_arena_alloc(5 * MIB), e + 2 * SF_SHM_ARENA_ALIGN);
    sf_shm_arena_free(e + 2 * SF_SHM_ARENA_ALIGN);
    sf_shm_arena_trim();
    ck_assert_ptr_eq(sf_shm_arena_alloc(5 * MIB), a);
    /* Warm ranges come first: a freed block in the middle is reused
     * before the untouched space after it. */
    char *f = sf_shm_arena_alloc(1 * MIB), *g = sf_shm_arena_alloc(1 * MIB);
    sf_shm_arena_free(f);
    ck_assert_ptr_eq(sf_shm_arena_alloc(1 * MIB), f);
    (void)g;
}
END_TEST

START_TEST(test_arena_offsets_and_cards)
{
    ck_assert(sf_shm_arena_enable());
    char *a = sf_shm_arena_alloc(2 * MIB);
    uint64_t off = 0;
    ck_assert(sf_shm_arena_offset_of(a + 100, 1000, &off));
    sf_shm_arena_card_t card;
    ck_assert(sf_shm_arena_card(&card));
    ck_assert_uint_eq(card.pid, (uint64_t)getpid());
    ck_assert_uint_ge(off, SF_SHM_ARENA_ALIGN);
    ck_assert_uint_lt(off, card.size);
    char on_stack[16];
    ck_assert(!sf_shm_arena_offset_of(on_stack, sizeof on_stack, &off));
    ck_assert(!sf_shm_arena_offset_of(a, card.size, &off)); /* runs past the end */
}
END_TEST

/* A mapping of the arena (what a peer holds) sees the bytes written, and
 * zeros once the block is freed: the pages went back to the kernel. */
START_TEST(test_arena_peer_mapping_sees_writes_and_freed_pages)
{
    ck_assert(sf_shm_arena_enable());
    sf_shm_arena_card_t card;
    ck_assert(sf_shm_arena_card(&card));
    const char *peer = sf_shm_arena_map_peer(&card);
    if (peer == NULL) {
        fprintf(stderr, "SKIP: pidfd_getfd is not allowed here\n");
        return;
    }
    char *a = sf_shm_arena_alloc(1 * MIB);
    uint64_t off = 0;
    ck_assert(sf_shm_arena_offset_of(a, MIB, &off));
    memset(a, 0x5a, MIB);
    ck_assert_int_eq(peer[off], 0x5a);
    ck_assert_int_eq(peer[off + MIB - 1], 0x5a);
    /* A small freed block stays warm (resident, for reuse) until trimmed. */
    sf_shm_arena_free(a);
    ck_assert_uint_eq(sf_shm_arena_warm_bytes(), MIB);
    ck_assert_int_eq(peer[off], 0x5a);
    sf_shm_arena_trim();
    ck_assert_uint_eq(sf_shm_arena_warm_bytes(), 0);
    ck_assert_int_eq(peer[off], 0);
    ck_assert_int_eq(peer[off + MIB - 1], 0);
    /* A block of SF_SHM_ARENA_KEEP_BELOW or more is punched on free. */
    char *big = sf_shm_arena_alloc(SF_SHM_ARENA_KEEP_BELOW);
    ck_assert(sf_shm_arena_offset_of(big, 1, &off));
    big[0] = 1;
    big[SF_SHM_ARENA_KEEP_BELOW - 1] = 2;
    ck_assert_int_eq(peer[off], 1);
    sf_shm_arena_free(big);
    ck_assert_uint_eq(sf_shm_arena_warm_bytes(), 0);
    ck_assert_int_eq(peer[off], 0);
    ck_assert_int_eq(peer[off + SF_SHM_ARENA_KEEP_BELOW - 1], 0);
    /* A card whose nonce does not match maps nothing. */
    sf_shm_arena_card_t wrong = card;
    wrong.nonce[0] ^= 1;
    ck_assert_ptr_null(sf_shm_arena_map_peer(&wrong));
    sf_shm_arena_unmap_peer(peer, &card);
}
END_TEST

/* After fork the child shares the parent's pages: it must not hand out
 * arena blocks (both would write the same range) nor punch the parent's. */
START_TEST(test_arena_forked_child_uses_the_heap_and_spares_the_parent)
{
    ck_assert(sf_shm_arena_enable());
    char *a = sf_shm_arena_alloc(1 * MIB);
    memset(a, 0x77, MIB);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int bad = sf_shm_arena_is_on() || sf_shm_arena_alloc(1 * MIB) != NULL;
        sf_shm_arena_free(a);
        void *t = NULL;
        sf_err_t err = {0};
        bad |= sf_device_alloc(sf_device_cpu(), 4 * MIB, &t, &err) != SF_OK ||
               sf_shm_arena_owns(t);
        sf_device_free(sf_device_cpu(), t);
        _exit(bad);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert_int_eq(a[0], 0x77);
    ck_assert_int_eq(a[MIB - 1], 0x77);
    sf_shm_arena_free(a);
}
END_TEST

START_TEST(test_cpu_device_takes_large_tensors_from_the_arena)
{
    sf_err_t err = {0};
    void *before = NULL, *big = NULL, *small = NULL;
    ck_assert_int_eq(sf_device_alloc(sf_device_cpu(), 4 * MIB, &before, &err), SF_OK);
    ck_assert(!sf_shm_arena_owns(before)); /* not turned on yet: the heap */
    ck_assert(sf_shm_arena_enable());
    ck_assert_int_eq(sf_device_alloc(sf_device_cpu(), 4 * MIB, &big, &err), SF_OK);
    ck_assert_int_eq(sf_device_alloc(sf_device_cpu(), 4096, &small, &err), SF_OK);
    ck_assert(sf_shm_arena_owns(big));
    ck_assert(!sf_shm_arena_owns(small));
    ck_assert_uint_eq((uintptr_t)small % 64, 0);
    sf_device_free(sf_device_cpu(), before);
    sf_device_free(sf_device_cpu(), big);
    sf_device_free(sf_device_cpu(), small);
    ck_assert_uint_eq(sf_shm_arena_live_bytes(), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("shm_arena");
    TCase *tc = tcase_create("arena");
    tcase_add_test(tc, test_arena_off_until_enabled_and_small_stays_on_heap);
    tcase_add_test(tc, test_arena_off_by_environment);
    tcase_add_test(tc, test_arena_first_fit_and_coalescing);
    tcase_add_test(tc, test_arena_offsets_and_cards);
    tcase_add_test(tc, test_arena_peer_mapping_sees_writes_and_freed_pages);
    tcase_add_test(tc, test_arena_forked_child_uses_the_heap_and_spares_the_parent);
    tcase_add_test(tc, test_cpu_device_takes_large_tensors_from_the_arena);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
