/* The emulate backend through the collectives wrappers: every collective
 * writes exactly the bytes the real one would on this rank (guard bytes
 * around and between the slots stay untouched), filled from what the rank
 * itself sends and zero-padded; host memory only; the rank and world are
 * the ones asked for, with no peer. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coll.h"
#include "test_util.h"

#define GUARD (-7.0f) /* a value no collective here writes */

static sf_comm_t *emulated(int rank, int world)
{
    sf_err_t err = {0};
    sf_comm_t *c = NULL;
    ck_assert_int_eq(sf_comm_new_emulated(rank, world, 5.0, &c, &err), SF_OK);
    ck_assert_int_eq(sf_comm_rank(c), rank);
    ck_assert_int_eq(sf_comm_size(c), world);
    return c;
}

static void run(sf_comm_t *c, sf_coll_args_t *a)
{
    sf_err_t err = {0};
    a->mem = SF_MEMKIND_HOST;
    a->dtype = SF_DTYPE_F32;
    sf_status_t st = sf_coll_run(c, a, &err);
    ck_assert_msg(st == SF_OK, "%s", err.msg);
}

static void fill(float *x, int n, float v)
{
    for (int i = 0; i < n; i++)
        x[i] = v;
}

static void expect(const float *got, const float *want, int n)
{
    for (int i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "element %d: %g, want %g", i, (double)got[i],
                      (double)want[i]);
}

START_TEST(test_emulate_all_gather_fills_every_slot_from_own_piece)
{
    /* Rank 2 of 4 sends 3 elements: 4 slots of 3 = 12, then the guard. */
    sf_comm_t *c = emulated(2, 4);
    float send[3] = {1, 2, 3}, recv[13];
    fill(recv, 13, GUARD);
    sf_coll_args_t a = {.kind = SF_COLL_ALLGATHER, .send = send, .recv = recv, .count = 3};
    run(c, &a);
    const float want[13] = {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, GUARD};
    expect(recv, want, 13);
    /* In place: the send piece already sits in the rank's slot. */
    fill(recv, 13, 9);
    memcpy(recv + 6, send, sizeof send);
    a.send = recv + 6;
    run(c, &a);
    expect(recv, want, 12);
    sf_comm_free(c);
}
END_TEST

START_TEST(test_emulate_all_to_all_cuts_and_pads_to_recv_counts)
{
    /* Rank 1 of 3. Sends 2, 1, 3 elements to ranks 0, 1, 2; expects 1, 1,
     * 4 from them, at displacements 0, 2, 4 (a gap at 1 and 3). Slot 0
     * takes the first of its 2, slot 1 its own 1, slot 2 its 3 and a zero. */
    sf_comm_t *c = emulated(1, 3);
    float send[6] = {10, 11, 20, 30, 31, 32}, recv[10];
    uint64_t sc[3] = {2, 1, 3}, sd[3] = {0, 2, 3}, rc[3] = {1, 1, 4}, rd[3] = {0, 2, 4};
    fill(recv, 10, GUARD);
    sf_coll_args_t a = {.kind = SF_COLL_ALLTOALLV, .send = send, .recv = recv, .send_counts = sc,
                        .send_displs = sd, .recv_counts = rc, .recv_displs = rd};
    run(c, &a);
    const float want[10] = {10, GUARD, 20, GUARD, 30, 31, 32, 0, GUARD, GUARD};
    expect(recv, want, 10);
    sf_comm_free(c);
}
END_TEST

START_TEST(test_emulate_all_gatherv_uses_each_slots_size)
{
    /* Rank 0 of 3, pieces of 2, 3 and 1 elements at 0, 2, 5. */
    sf_comm_t *c = emulated(0, 3);
    float send[2] = {5, 6}, recv[7];
    uint64_t rc[3] = {2, 3, 1}, rd[3] = {0, 2, 5};
    fill(recv, 7, GUARD);
    sf_coll_args_t a = {.kind = SF_COLL_ALLGATHERV, .send = send, .recv = recv,
                        .recv_counts = rc, .recv_displs = rd};
    run(c, &a);
    const float want[7] = {5, 6, 5, 6, 0, 5, GUARD};
    expect(recv, want, 7);
    sf_comm_free(c);
}
END_TEST

START_TEST(test_emulate_all_reduce_keeps_own_values)
{
    sf_comm_t *c = emulated(3, 8);
    float send[3] = {1, -2, 4}, recv[4];
    fill(recv, 4, GUARD);
    sf_coll_args_t a = {.kind = SF_COLL_ALLREDUCE, .send = send, .recv = recv, .count = 3};
    run(c, &a);
    const float want[4] = {1, -2, 4, GUARD};
    expect(recv, want, 4);
    a.send = recv; /* in place: nothing moves */
    run(c, &a);
    expect(recv, want, 4);
    sf_comm_free(c);
}
END_TEST

START_TEST(test_emulate_broadcast_zeros_unless_root)
{
    sf_comm_t *c = emulated(1, 2);
    float buf[3] = {7, 8, GUARD};
    sf_coll_args_t a = {.kind = SF_COLL_BROADCAST, .recv = buf, .count = 2, .root = 1};
    run(c, &a);
    const float as_root[3] = {7, 8, GUARD}, as_leaf[3] = {0, 0, GUARD};
    expect(buf, as_root, 3);
    a.root = 0;
    run(c, &a);
    expect(buf, as_leaf, 3);
    sf_coll_args_t b = {.kind = SF_COLL_BARRIER};
    run(c, &b);
    sf_comm_free(c);
}
END_TEST

/* GPU memory: refused in a build without the CUDA runtime; with it, the
 * copy goes to CUDA, which here (host pointers, or no GPU) answers with a
 * device error, never a crash or a silent success. */
START_TEST(test_emulate_cuda_memory)
{
    sf_comm_t *c = emulated(0, 2);
    float x[2] = {1, 2}, y[4];
    sf_coll_args_t a = {.kind = SF_COLL_ALLGATHER, .mem = SF_MEMKIND_CUDA,
                        .dtype = SF_DTYPE_F32, .send = x, .recv = y, .count = 2};
    sf_err_t err = {0};
    if (!sf_coll_copy_supports(SF_MEMKIND_CUDA)) {
        ck_assert_int_eq(sf_coll_run(c, &a, &err), SF_ERR_UNSUPPORTED);
        ck_assert_ptr_nonnull(strstr(err.msg, "backend 'emulate' cannot run all_gather on cuda"));
    } else if (sf_coll_run(c, &a, &err) != SF_OK) {
        ck_assert_int_eq(err.code, SF_ERR_DEVICE);
        ck_assert_ptr_nonnull(strstr(err.msg, "device copy failed"));
    }
    sf_comm_free(c);
}
END_TEST

START_TEST(test_emulate_rank_outside_world_refused)
{
    sf_err_t err = {0};
    sf_comm_t *c = NULL;
    ck_assert_int_eq(sf_comm_new_emulated(4, 4, 5.0, &c, &err), SF_ERR_INPUT);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(err.msg, "rank 4 is not a rank of a world of 4"));
    ck_assert_int_eq(sf_comm_new_emulated(0, 0, 5.0, &c, &err), SF_ERR_INPUT);
    ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_emulate_ignores_forced_algorithm)
{
    /* SF_COLL_ALGO names the real backends' rows; with no row here a forced
     * name would refuse every collective. */
    setenv("SF_COLL_ALGO", "all_gather:ring,all_to_all:pairwise", 1);
    sf_comm_t *c = emulated(0, 2);
    float send[1] = {4}, recv[2] = {GUARD, GUARD};
    sf_coll_args_t a = {.kind = SF_COLL_ALLGATHER, .send = send, .recv = recv, .count = 1};
    run(c, &a);
    const float want[2] = {4, 4};
    expect(recv, want, 2);
    sf_comm_free(c);
}
END_TEST

START_TEST(test_emulate_registered_by_name)
{
    sf_comm_register_all();
    ck_assert_ptr_nonnull(sf_comm_find("emulate"));
    /* Without a bootstrap by name: rank 0 of 1. */
    sf_err_t err = {0};
    sf_comm_t *c = NULL;
    ck_assert_int_eq(sf_comm_new("emulate", NULL, 5.0, &c, &err), SF_OK);
    ck_assert_int_eq(sf_comm_size(c), 1);
    sf_comm_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("coll_emulate");
    TCase *tc = tcase_create("emulate");
    tcase_add_test(tc, test_emulate_all_gather_fills_every_slot_from_own_piece);
    tcase_add_test(tc, test_emulate_all_to_all_cuts_and_pads_to_recv_counts);
    tcase_add_test(tc, test_emulate_all_gatherv_uses_each_slots_size);
    tcase_add_test(tc, test_emulate_all_reduce_keeps_own_values);
    tcase_add_test(tc, test_emulate_broadcast_zeros_unless_root);
    tcase_add_test(tc, test_emulate_cuda_memory);
    tcase_add_test(tc, test_emulate_rank_outside_world_refused);
    tcase_add_test(tc, test_emulate_ignores_forced_algorithm);
    tcase_add_test(tc, test_emulate_registered_by_name);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
