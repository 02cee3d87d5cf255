/* The rendezvous across real processes: ranks meet and the star ops work;
 * it refuses mismatches (world size, graph hash, inputs, a duplicate rank),
 * strangers and another job's token, times out naming a missing rank or an
 * unreachable address, and says why rank 0's port cannot be had. Each test
 * forks its ranks on 127.0.0.1 and requires every rank to exit 0. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bootstrap.h"
#include "clock.h"
#include "launch_env.h"
#include "rank_procs.h"
#include "test_util.h"

#define HASH 0x5eed5eed12345678ull

/* ---- bootstrap ------------------------------------------------------------ */

/* What one process of a rendezvous test claims, and what it must see. */
typedef struct claim {
    int rank, world;
    uint64_t hash;
    int port_delta; /* added to the test's port (a wrong address) */
    double timeout_s;
    sf_status_t want;     /* expected status of sf_bootstrap_new */
    const char *want_msg; /* fragment of the error message, or NULL */
    double max_s;         /* it must have returned within this */
    double delay_s;       /* start this late (lets the others join first) */
    uint64_t inputs_hash; /* what this rank says its inputs hash to */
} claim_t;

static int claim_proc(int i, int n, int port, void *arg)
{
    (void)n;
    const claim_t *c = &((const claim_t *)arg)[i];
    sf_rank_info_t ri = tu_rank_info(c->rank, c->world, port + c->port_delta);
    if (c->delay_s > 0)
        usleep((useconds_t)(c->delay_s * 1e6));
    sf_bootstrap_t *bs = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    double t0 = sf_clock_now_s();
    sf_status_t st = sf_bootstrap_new(&ri,
                                      &(sf_bootstrap_job_t){.graph_hash = c->hash,
                                                            .inputs_hash = c->inputs_hash,
                                                            .timeout_s = c->timeout_s},
                                      &bs, &err);
    double took = sf_clock_now_s() - t0;
    TU_FAIL_IF(st != c->want, "process %d (rank %d): got %s, want %s: %s", i, c->rank,
            sf_status_name(st), sf_status_name(c->want), err.msg);
    TU_FAIL_IF(c->want_msg != NULL && strstr(err.msg, c->want_msg) == NULL,
            "process %d (rank %d): message '%s' lacks '%s'", i, c->rank, err.msg, c->want_msg);
    TU_FAIL_IF(took > c->max_s, "process %d (rank %d) took %.1f s", i, c->rank, took);
    TU_FAIL_IF(st != SF_OK && bs != NULL, "a failed rendezvous returned a bootstrap");
    if (st == SF_OK) {
        /* The star works: gather everyone's rank, broadcast from the last. */
        int all[16] = {0}, mine = c->rank * 10;
        TU_FAIL_IF(sf_bootstrap_allgather(bs, &mine, sizeof mine, all, &err) != SF_OK, "%s", err.msg);
        for (int p = 0; p < c->world; p++)
            TU_FAIL_IF(all[p] != p * 10, "allgather[%d] = %d", p, all[p]);
        char word[8] = "none";
        if (c->rank == c->world - 1)
            memcpy(word, "hello", 6);
        TU_FAIL_IF(sf_bootstrap_bcast(bs, word, sizeof word, c->world - 1, &err) != SF_OK, "%s",
                err.msg);
        TU_FAIL_IF(strcmp(word, "hello") != 0, "bcast gave '%s'", word);
        TU_FAIL_IF(sf_bootstrap_barrier(bs, &err) != SF_OK, "%s", err.msg);
        sf_bootstrap_free(bs);
    }
    return 0;
}

static void run_claims(claim_t *claims, int n, double limit_s)
{
    int codes[16];
    tu_run_procs(n, claim_proc, claims, tu_free_port(), limit_s, codes);
    tu_expect_all_ok(codes, n);
}

START_TEST(test_bootstrap_rendezvous_and_star_ops)
{
    claim_t c[4];
    for (int i = 0; i < 4; i++)
        c[i] = (claim_t){i, 4, HASH, 0, 10.0, SF_OK, NULL, 10.0};
    /* Rank 0 last, so the others must retry until it listens. */
    claim_t reversed[4] = {c[3], c[2], c[1], c[0]};
    run_claims(reversed, 4, 20.0);
}
END_TEST

START_TEST(test_bootstrap_refuses_world_size_mismatch)
{
    claim_t c[2] = {
        {0, 2, HASH, 0, 5.0, SF_ERR_INPUT,
         "world size mismatch: rank 1 has world size 3, rank 0 has 2", 4.0},
        {1, 3, HASH, 0, 5.0, SF_ERR_INPUT,
         "world size mismatch: rank 1 has world size 3, rank 0 has 2", 4.0},
    };
    run_claims(c, 2, 10.0);
}
END_TEST

START_TEST(test_bootstrap_refuses_graph_hash_mismatch)
{
    claim_t c[3] = {
        {0, 3, HASH, 0, 5.0, SF_ERR_INPUT, "graph hash mismatch: rank 2 has 0x0000000000000bad",
         4.0},
        {1, 3, HASH, 0, 5.0, SF_ERR_INPUT, "graph hash mismatch", 4.0},
        {2, 3, 0xbad, 0, 5.0, SF_ERR_INPUT, "graph hash mismatch: rank 2 has 0x0000000000000bad",
         4.0, 0.5},
    };
    run_claims(c, 3, 10.0);
}
END_TEST

START_TEST(test_bootstrap_refuses_different_inputs)
{
    /* Rank 1 read other inputs than rank 0: both are told which and why. */
    claim_t c[2] = {
        {0, 2, HASH, 0, 5.0, SF_ERR_INPUT,
         "inputs mismatch: rank 1 read inputs hashing to 0x00000000000000aa, rank 0 to "
         "0x00000000000000bb",
         4.0, 0.0, 0xbb},
        {1, 2, HASH, 0, 5.0, SF_ERR_INPUT, "given different --inputs files", 4.0, 0.0, 0xaa},
    };
    run_claims(c, 2, 10.0);
}
END_TEST

START_TEST(test_bootstrap_refuses_duplicate_rank)
{
    /* Rank 1 twice: one of them is refused as the duplicate and the other
     * told why rank 0 gave up; both messages name the duplicate. */
    claim_t c[3] = {
        {0, 3, HASH, 0, 5.0, SF_ERR_INPUT, "duplicate rank: two processes claim rank 1", 4.0},
        {1, 3, HASH, 0, 5.0, SF_ERR_INPUT, "duplicate rank: two processes claim rank 1", 4.0},
        {1, 3, HASH, 0, 5.0, SF_ERR_INPUT, "duplicate rank: two processes claim rank 1", 4.0, 0.5},
    };
    run_claims(c, 3, 10.0);
}
END_TEST

START_TEST(test_bootstrap_missing_rank_times_out_naming_it)
{
    /* World 4 with rank 2 never started: rank 0 gives up after 2 s, names
     * rank 2, and tells the ranks that did come. */
    claim_t c[3] = {
        {0, 4, HASH, 0, 2.0, SF_ERR_TIMEOUT, "rank(s) 2 never connected (3 of 4 ranks joined)",
         4.0},
        {1, 4, HASH, 0, 5.0, SF_ERR_TIMEOUT, "rank 0 aborted the rendezvous: rendezvous at", 4.0},
        {3, 4, HASH, 0, 5.0, SF_ERR_TIMEOUT, "rank(s) 2 never connected", 4.0},
    };
    run_claims(c, 3, 10.0);
}
END_TEST

START_TEST(test_bootstrap_wrong_address_times_out_cleanly)
{
    /* Nobody listens on the port rank 1 dials. */
    claim_t c[1] = {
        {1, 2, HASH, 0, 1.5, SF_ERR_TIMEOUT, "rank 1 cannot reach rank 0 at 127.0.0.1:", 3.5},
    };
    run_claims(c, 1, 10.0);
}
END_TEST

/* ---- strangers at the gate ---------------------------------------------- */

/* Connect to 127.0.0.1:port (retrying until rank 0 listens) and send n
 * bytes; hold the socket open for hold_s before closing it. */
static int stranger_send(int port, const void *buf, size_t n, double hold_s)
{
    int fd = -1;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            close(fd);
            fd = -1;
            usleep(20000);
        }
    }
    if (fd < 0)
        return 1;
    /* A short write is fine: rank 0 may drop us half-way. */
    (void)!send(fd, buf, n, MSG_NOSIGNAL);
    if (hold_s > 0)
        usleep((useconds_t)(hold_s * 1e6));
    close(fd);
    return 0;
}

/* What a stranger sends: zero bytes, random bytes, a well-framed hello
 * with the wrong token, a frame claiming 2 GiB, and a silent connection. */
static int stranger_proc(int i, int n, int port, void *arg)
{
    (void)i;
    (void)n;
    (void)arg;
    uint8_t zeros[2048] = {0}, noise[2048];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t k = 0; k < sizeof noise; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        noise[k] = (uint8_t)x;
    }
    struct {
        uint32_t magic, version, len;
        char token[128];
        uint8_t rest[64];
    } wrong = {.magic = 0x53464754u, .version = SF_BOOTSTRAP_PROTOCOL, .len = 128 + 64};
    memcpy(wrong.token, "not-the-token", 13);
    struct {
        uint32_t magic, version, len;
    } huge = {0x53464754u, SF_BOOTSTRAP_PROTOCOL, 0x80000000u};
    int bad = stranger_send(port, zeros, sizeof zeros, 0.0);
    bad |= stranger_send(port, noise, sizeof noise, 0.0);
    bad |= stranger_send(port, &wrong, sizeof wrong, 0.0);
    bad |= stranger_send(port, &huge, sizeof huge, 0.0);
    bad |= stranger_send(port, NULL, 0, 1.5); /* says nothing while the job forms */
    return bad;
}

/* Ranks 0 and 1 of a job with a token; rank 1 comes late, after the
 * strangers, so they meet a live rendezvous. */
static int gated_rank_proc(int i, int n, int port, void *arg)
{
    (void)n;
    (void)arg;
    if (i == 2)
        return stranger_proc(i, n, port, arg);
    setenv("SHARDFLOW_JOB_TOKEN", "job-7f3a", 1);
    claim_t c = {i, 2, HASH, 0, 10.0, SF_OK, NULL, 10.0, i == 1 ? 1.0 : 0.0};
    return claim_proc(0, 1, port, &c);
}

START_TEST(test_bootstrap_strangers_are_dropped_and_the_job_completes)
{
    int codes[3];
    tu_run_procs(3, gated_rank_proc, NULL, tu_free_port(), 20.0, codes);
    tu_expect_all_ok(codes, 3);
}
END_TEST

/* A rank with another job's token is not let in: it times out naming the
 * token, and rank 0 times out naming it missing. */
static int wrong_token_proc(int i, int n, int port, void *arg)
{
    (void)n;
    (void)arg;
    setenv("SHARDFLOW_JOB_TOKEN", i == 0 ? "job-a" : "job-b", 1);
    claim_t c = i == 0 ? (claim_t){0, 2, HASH, 0, 2.0, SF_ERR_TIMEOUT,
                                   "rank(s) 1 never connected (1 of 2 ranks joined)", 5.0}
                       : (claim_t){1, 2, HASH, 0, 2.5, SF_ERR_TIMEOUT,
                                   "closed the connection without answering (is "
                                   "SHARDFLOW_JOB_TOKEN the same on every rank?)",
                                   5.0};
    return claim_proc(0, 1, port, &c);
}

START_TEST(test_bootstrap_wrong_token_is_not_let_in)
{
    int codes[2];
    tu_run_procs(2, wrong_token_proc, NULL, tu_free_port(), 15.0, codes);
    tu_expect_all_ok(codes, 2);
}
END_TEST

START_TEST(test_bootstrap_run_nproc_shares_a_token)
{
    /* run --nproc makes a random token for its ranks unless one is set; a
     * set one is used as it is, and one too long is bad input. */
    char cmd[4096], *out = NULL;
    const char *graph = tu_src("tests/graphs/redistribute_small.yaml");
    snprintf(cmd, sizeof cmd, "unset SHARDFLOW_JOB_TOKEN; %s run --nproc 2 '%s' --timeout 20",
             tu_shardflow(), graph);
    ck_assert_msg(tu_run(cmd, &out) == 0, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "SHARDFLOW_JOB_TOKEN=mine %s run --nproc 2 '%s' --timeout 20",
             tu_shardflow(), graph);
    ck_assert_msg(tu_run(cmd, &out) == 0, "%s", out);
    free(out);
    char long_token[201];
    memset(long_token, 'x', 200);
    long_token[200] = '\0';
    snprintf(cmd, sizeof cmd, "SHARDFLOW_JOB_TOKEN=%s %s run --nproc 2 '%s' --timeout 20",
             long_token, tu_shardflow(), graph);
    ck_assert_int_eq(tu_run(cmd, &out), 2);
    ck_assert_msg(strstr(out, "SHARDFLOW_JOB_TOKEN is 200 bytes long, at most 127 allowed") != NULL,
                  "%s", out);
    free(out);
}
END_TEST

START_TEST(test_bootstrap_port_taken_is_a_clear_error)
{
    int port = tu_free_port();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    sf_rank_info_t ri = tu_rank_info(0, 2, port);
    sf_bootstrap_t *bs = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_bootstrap_new(&ri, &(sf_bootstrap_job_t){.graph_hash = HASH,
                                                   .timeout_s = 2.0}, &bs, &err), SF_ERR_COMM);
    char want[64];
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1:%d: ", port);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message: %s", err.msg);
    ck_assert_ptr_null(bs);
    close(fd);
}
END_TEST

/* Under `run --nproc` the launcher bound rank 0's port before any rank
 * started: a refusal then means rank 0 has exited, and rank 1 says so at
 * once instead of retrying for its whole timeout. */
START_TEST(test_bootstrap_refused_prebound_port_fails_at_once)
{
    int port = tu_free_port(); /* nothing listens there: as after rank 0 died */
    setenv(SF_MASTER_LISTENING_ENV, "1", 1);
    sf_rank_info_t ri = tu_rank_info(1, 2, port);
    sf_bootstrap_t *bs = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    double t0 = sf_clock_now_s();
    ck_assert_int_eq(sf_bootstrap_new(&ri, &(sf_bootstrap_job_t){.graph_hash = HASH,
                                                   .timeout_s = 60.0}, &bs, &err), SF_ERR_COMM);
    double took = sf_clock_now_s() - t0;
    char want[160];
    snprintf(want, sizeof want, "rank 1: rank 0 at 127.0.0.1:%d refused the connection", port);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message: %s", err.msg);
    ck_assert_msg(strstr(err.msg, "so rank 0 has exited") != NULL, "message: %s", err.msg);
    ck_assert_msg(took < 10.0, "took %.1f s of a 60 s timeout", took);
    ck_assert_ptr_null(bs);
    unsetenv(SF_MASTER_LISTENING_ENV);
}
END_TEST

/* Rank 0 listens on the socket the launcher handed down, on the same port,
 * even though a bind of its own would fail (the socket holds the port). */
START_TEST(test_bootstrap_rank0_takes_inherited_listener)
{
    int port = 0;
    int fd = tu_listen_loopback(&port);
    char v[16];
    snprintf(v, sizeof v, "%d", fd);
    setenv(SF_MASTER_LISTEN_FD_ENV, v, 1);
    sf_rank_info_t ri = tu_rank_info(0, 2, port);
    sf_bootstrap_t *bs = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    /* Nobody joins: the rendezvous times out listening, not failing to bind. */
    ck_assert_int_eq(sf_bootstrap_new(&ri, &(sf_bootstrap_job_t){.graph_hash = HASH,
                                                   .timeout_s = 0.5}, &bs, &err), SF_ERR_TIMEOUT);
    ck_assert_msg(strstr(err.msg, "cannot listen") == NULL, "message: %s", err.msg);
    /* The inherited descriptor stays open and listening for the next one. */
    int listening = 0;
    socklen_t n = sizeof listening;
    ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &n), 0);
    ck_assert_int_eq(listening, 1);
    unsetenv(SF_MASTER_LISTEN_FD_ENV);
    close(fd);
}
END_TEST

START_TEST(test_bootstrap_single_rank_needs_no_network)
{
    sf_rank_info_t ri;
    memset(&ri, 0, sizeof ri);
    ri.world = 1;
    sf_bootstrap_t *bs = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_bootstrap_new(&ri, &(sf_bootstrap_job_t){.graph_hash = HASH,
                                                   .timeout_s = 1.0}, &bs, &err), SF_OK);
    ck_assert_int_eq(sf_bootstrap_rank(bs), 0);
    ck_assert_int_eq(sf_bootstrap_world(bs), 1);
    uint64_t v = 42, all = 0;
    ck_assert_int_eq(sf_bootstrap_allgather(bs, &v, sizeof v, &all, &err), SF_OK);
    ck_assert_uint_eq(all, 42);
    ck_assert_int_eq(sf_bootstrap_bcast(bs, &v, sizeof v, 0, &err), SF_OK);
    ck_assert_int_eq(sf_bootstrap_barrier(bs, &err), SF_OK);
    sf_bootstrap_free(bs);
    sf_bootstrap_free(NULL);
}
END_TEST

static Suite *bootstrap_suite(void)
{
    Suite *s = suite_create("bootstrap");

    TCase *tc = tcase_create("bootstrap");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_bootstrap_rendezvous_and_star_ops);
    tcase_add_test(tc, test_bootstrap_refuses_world_size_mismatch);
    tcase_add_test(tc, test_bootstrap_refuses_graph_hash_mismatch);
    tcase_add_test(tc, test_bootstrap_refuses_duplicate_rank);
    tcase_add_test(tc, test_bootstrap_refuses_different_inputs);
    tcase_add_test(tc, test_bootstrap_missing_rank_times_out_naming_it);
    tcase_add_test(tc, test_bootstrap_wrong_address_times_out_cleanly);
    tcase_add_test(tc, test_bootstrap_port_taken_is_a_clear_error);
    tcase_add_test(tc, test_bootstrap_refused_prebound_port_fails_at_once);
    tcase_add_test(tc, test_bootstrap_rank0_takes_inherited_listener);
    tcase_add_test(tc, test_bootstrap_strangers_are_dropped_and_the_job_completes);
    tcase_add_test(tc, test_bootstrap_wrong_token_is_not_let_in);
    tcase_add_test(tc, test_bootstrap_run_nproc_shares_a_token);
    tcase_add_test(tc, test_bootstrap_single_rank_needs_no_network);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(bootstrap_suite());
}
