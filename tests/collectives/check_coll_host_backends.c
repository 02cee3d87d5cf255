/* What the host-memory collectives backends do on their own, beyond the
 * bodies every backend shares (check_coll_conformance.c): ucx moves 64 MiB
 * messages, reads arena tensors in place and on one rank gives the bytes
 * self gives; self refuses more than one rank and is the solo comm. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coll.h"
#include "device.h"
#include "rank_procs.h"
#include "shm_arena.h"
#include "test_util.h"

/* The ucx backend on world ranks of host memory. */
static const tu_coll_cfg_t *ucx(int world)
{
    static tu_coll_cfg_t cfgs[4];
    cfgs[world - 1] = (tu_coll_cfg_t){"ucx", world, SF_MEMKIND_HOST};
    return &cfgs[world - 1];
}

/* 64 MiB to the one peer by all_to_all, and a 64 MiB all_gather piece per
 * rank: large enough for UCX's rendezvous protocol. */
static int body_big(const tu_rank_ctx_t *x)
{
    const int r = x->r, n = x->n;
    const uint64_t big = 64ull << 20;
    uint64_t sc[2] = {0}, sd[2] = {0}, rc[2] = {0}, rd[2] = {0};
    int peer = 1 - r;
    sc[peer] = big;
    rc[peer] = big;
    sc[r] = rc[r] = 4096;
    sd[1] = sc[0];
    rd[1] = rc[0];
    uint8_t *send = malloc(big + 4096), *recv = malloc(big + 4096);
    TU_FAIL_IF(send == NULL || recv == NULL, "out of memory");
    for (int p = 0; p < n; p++)
        for (uint64_t b = 0; b < sc[p]; b++)
            send[sd[p] + b] = tu_pattern(r, p, b);
    memset(recv, 0xee, big + 4096);
    void *d_send = tu_mem_of(x, send, big + 4096), *d_recv = tu_mem_of(x, recv, big + 4096);
    sf_coll_args_t a = tu_coll_args(x, SF_COLL_ALLTOALLV, SF_DTYPE_U8, d_send, d_recv, 0);
    a.send_counts = sc;
    a.send_displs = sd;
    a.recv_counts = rc;
    a.recv_displs = rd;
    TU_RUN_OK(x, &a);
    tu_mem_back(x, recv, d_recv, big + 4096);
    tu_mem_drop(x, d_send);
    for (int p = 0; p < n; p++)
        for (uint64_t b = 0; b < rc[p]; b++)
            TU_FAIL_IF(recv[rd[p] + b] != tu_pattern(p, r, b),
                    "rank %d: big all_to_all byte %llu from %d", r, (unsigned long long)b, p);
    free(send);
    free(recv);
    return tu_do_allgather(x, SF_DTYPE_I32, big / 4);
}

/* Tensors from the cpu device's allocator (the shared arena, which the ucx
 * comm turned on): each peer copies the pieces straight out of the sender's
 * memory, the results are exact, and a heap buffer still goes by CMA. */
static int body_shared_arena(const tu_rank_ctx_t *x)
{
    const int r = x->r, n = x->n;
    const uint64_t count = (1u << 18) + 3; /* i32 elements per piece: 1 MiB and a bit */
    const size_t piece = count * 4;
    sf_err_t err;
    sf_err_clear(&err);
    TU_FAIL_IF(!sf_shm_arena_is_on(), "rank %d: the ucx comm did not turn the arena on", r);
    int32_t *send = NULL, *recv = NULL;
    TU_FAIL_IF(sf_device_alloc(sf_device_cpu(), piece * (size_t)n, (void **)&send, &err) != SF_OK ||
                   sf_device_alloc(sf_device_cpu(), piece * (size_t)n, (void **)&recv, &err) != SF_OK,
               "rank %d: alloc: %s", r, err.msg);
    TU_FAIL_IF(!sf_shm_arena_owns(send) || !sf_shm_arena_owns(recv),
               "rank %d: a large tensor is not in the arena", r);
    uint64_t before = sf_comm_read_in_place_bytes(x->comm);
    for (uint64_t i = 0; i < count * (uint64_t)n; i++)
        send[i] = (int32_t)(r * 1000003 + (int32_t)i);
    sf_coll_args_t a = tu_coll_args(x, SF_COLL_ALLGATHER, SF_DTYPE_I32, send, recv, count);
    TU_RUN_OK(x, &a);
    for (int p = 0; p < n; p++)
        for (uint64_t i = 0; i < count; i++)
            TU_FAIL_IF(recv[(uint64_t)p * count + i] != (int32_t)(p * 1000003 + (int32_t)i),
                       "rank %d: all_gather element %llu from %d", r, (unsigned long long)i, p);
    uint64_t counts[4], displs[4];
    TU_FAIL_IF(n > 4, "world %d", n);
    for (int p = 0; p < n; p++) {
        counts[p] = count;
        displs[p] = (uint64_t)p * count;
    }
    a = tu_coll_args(x, SF_COLL_ALLTOALLV, SF_DTYPE_I32, send, recv, 0);
    a.send_counts = a.recv_counts = counts;
    a.send_displs = a.recv_displs = displs;
    TU_RUN_OK(x, &a);
    for (int p = 0; p < n; p++)
        for (uint64_t i = 0; i < count; i++)
            TU_FAIL_IF(recv[(uint64_t)p * count + i] !=
                           (int32_t)(p * 1000003 + (int32_t)((uint64_t)r * count + i)),
                       "rank %d: all_to_all element %llu from %d", r, (unsigned long long)i, p);
    /* Every rank read at least its peers' all_gather pieces in place. */
    uint64_t got = sf_comm_read_in_place_bytes(x->comm) - before;
    TU_FAIL_IF(got < (uint64_t)(n - 1) * piece, "rank %d: read %llu bytes in place, want >= %llu",
               r, (unsigned long long)got, (unsigned long long)((uint64_t)(n - 1) * piece));
    /* all_reduce (f32 sum) out of place and in place: on 2 ranks each
     * reduces its half straight out of the peer's input. Small integers,
     * so every order of summing gives the same floats. */
    float *fs = (float *)send, *fr = (float *)recv;
    const uint64_t nf = count * (uint64_t)n;
    for (int in_place = 0; in_place < 2; in_place++) {
        float *in = in_place ? fr : fs;
        for (uint64_t i = 0; i < nf; i++)
            in[i] = (float)((int64_t)(i % 1000) * (r + 1));
        if (!in_place)
            memset(fr, 0xee, nf * 4);
        before = sf_comm_read_in_place_bytes(x->comm);
        a = tu_coll_args(x, SF_COLL_ALLREDUCE, SF_DTYPE_F32, in, fr, nf);
        a.op = SF_REDUCE_SUM;
        TU_RUN_OK(x, &a);
        const float ranks_sum = (float)(n * (n + 1) / 2);
        for (uint64_t i = 0; i < nf; i++)
            TU_FAIL_IF(fr[i] != (float)(i % 1000) * ranks_sum,
                       "rank %d: all_reduce%s element %llu: %g", r, in_place ? " in place" : "",
                       (unsigned long long)i, (double)fr[i]);
        TU_FAIL_IF(n == 2 && sf_comm_read_in_place_bytes(x->comm) - before < nf * 4 / 2 - 4,
                   "rank %d: all_reduce read %llu bytes in place", r,
                   (unsigned long long)(sf_comm_read_in_place_bytes(x->comm) - before));
    }
    /* A heap buffer is not in the arena: the same collective by CMA. */
    int32_t *heap = malloc(piece);
    TU_FAIL_IF(heap == NULL, "out of memory");
    for (uint64_t i = 0; i < count; i++)
        heap[i] = (int32_t)(r * 7 + (int32_t)i);
    before = sf_comm_read_in_place_bytes(x->comm);
    a = tu_coll_args(x, SF_COLL_ALLGATHER, SF_DTYPE_I32, heap, recv, count);
    TU_RUN_OK(x, &a);
    for (int p = 0; p < n; p++)
        TU_FAIL_IF(recv[(uint64_t)p * count + count - 1] != (int32_t)(p * 7 + (int32_t)count - 1),
                   "rank %d: heap all_gather from %d", r, p);
    /* On a ring of 3 or more, rounds after the first forward pieces out of
     * recv, which is in the arena: only those may be read in place. */
    TU_FAIL_IF(sf_comm_read_in_place_bytes(x->comm) - before > (uint64_t)(n - 2) * piece,
               "rank %d: a heap buffer was read in place", r);
    free(heap);
    sf_device_free(sf_device_cpu(), send);
    sf_device_free(sf_device_cpu(), recv);
    return 0;
}

/* On one rank, ucx and self produce the same bytes for every kind with
 * odd counts and displacements. */
static int body_one_rank_vs_self(const tu_rank_ctx_t *x)
{
    sf_err_t err;
    sf_err_clear(&err);
    sf_comm_t *self = NULL;
    TU_FAIL_IF(sf_comm_new("self", NULL, 5.0, &self, &err) != SF_OK, "self: %s", err.msg);
    enum { COUNT = 257 };
    uint8_t in[COUNT * 8 + 16], out_ucx[COUNT * 8 + 16], out_self[COUNT * 8 + 16];
    for (size_t b = 0; b < sizeof in; b++)
        in[b] = tu_pattern(0, 0, b);
    for (size_t d = 0; d < TU_N_ALL_DTYPES; d++) {
        sf_dtype_t dt = tu_all_dtypes[d];
        for (int kind = 0; kind < SF_COLL_KIND_COUNT; kind++) {
            if (kind == SF_COLL_ALLREDUCE && dt == SF_DTYPE_U8)
                continue;
            uint64_t sc = 100, sd = 3, rc = 100, rd = 5;
            sf_coll_args_t a = tu_coll_args(x, (sf_coll_kind_t)kind, dt, in, NULL, COUNT);
            a.send_counts = &sc;
            a.send_displs = &sd;
            a.recv_counts = &rc;
            a.recv_displs = &rd;
            memset(out_ucx, 0xee, sizeof out_ucx);
            memset(out_self, 0xee, sizeof out_self);
            if (kind == SF_COLL_BROADCAST) {
                memcpy(out_ucx, in, sizeof in);
                memcpy(out_self, in, sizeof in);
            }
            a.recv = out_ucx;
            TU_FAIL_IF(sf_coll_run(x->comm, &a, &err) != SF_OK, "ucx %s: %s",
                    sf_coll_kind_name(a.kind), err.msg);
            a.recv = out_self;
            TU_FAIL_IF(sf_coll_run(self, &a, &err) != SF_OK, "self %s: %s",
                    sf_coll_kind_name(a.kind), err.msg);
            TU_FAIL_IF(memcmp(out_ucx, out_self, sizeof out_ucx) != 0, "%s %s: ucx and self differ",
                    sf_coll_kind_name(a.kind), sf_dtype_name(dt));
        }
    }
    /* The reference itself: all_gather on one rank is a copy of send. */
    sf_coll_args_t a = tu_coll_args(x, SF_COLL_ALLGATHER, SF_DTYPE_I64, in, out_self, COUNT);
    TU_FAIL_IF(sf_coll_run(self, &a, &err) != SF_OK, "self: %s", err.msg);
    TU_FAIL_IF(memcmp(out_self, in, COUNT * 8) != 0 || out_self[COUNT * 8] != 0xee,
            "self all_gather is not a copy");
    sf_comm_free(self);
    return 0;
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(test_ucx_64mib_messages)
{
    tu_run_cfg(ucx(2), body_big, 90.0);
}
END_TEST

START_TEST(test_ucx_reads_arena_tensors_in_place)
{
    tu_run_cfg(ucx(2), body_shared_arena, 60.0);
    tu_run_cfg(ucx(3), body_shared_arena, 60.0);
}
END_TEST

START_TEST(test_ucx_one_rank_matches_self)
{
    tu_run_cfg(ucx(1), body_one_rank_vs_self, 30.0);
}
END_TEST

START_TEST(test_self_refuses_more_than_one_rank)
{
    /* The refusal happens in init, before any networking is needed. */
    sf_comm_register_all();
    sf_comm_t fake = {0};
    fake.world = 2;
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_comm_find("self")->init(&fake, NULL, &err), SF_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "single rank"));
}
END_TEST

/* The one-rank comm a kernel gets when the executor was given none. */
START_TEST(test_solo_comm_is_self_on_one_rank)
{
    sf_comm_t *solo = sf_comm_solo();
    ck_assert_ptr_eq(solo, sf_comm_solo());
    ck_assert_int_eq(sf_comm_rank(solo), 0);
    ck_assert_int_eq(sf_comm_size(solo), 1);
    ck_assert_str_eq(solo->iface->name, "self");
    int32_t in[3] = {7, 8, 9}, out[3] = {0};
    sf_coll_args_t a = {.kind = SF_COLL_ALLGATHER, .dtype = SF_DTYPE_I32, .send = in,
                        .recv = out, .count = 3};
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_coll_run(solo, &a, &err), SF_OK);
    ck_assert_int_eq(memcmp(in, out, sizeof in), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("coll_host_backends");
    TCase *tc = tcase_create("backend_specific");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_ucx_64mib_messages);
    tcase_add_test(tc, test_ucx_reads_arena_tensors_in_place);
    tcase_add_test(tc, test_ucx_one_rank_matches_self);
    tcase_add_test(tc, test_self_refuses_more_than_one_rank);
    tcase_add_test(tc, test_solo_comm_is_self_on_one_rank);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
