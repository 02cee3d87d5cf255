/* The --nproc launcher: environment of each rank, "[rank R] " line prefixes,
 * the exit status of the first failing rank, ending the others, signal
 * forwarding, and that no rank survives in any of these cases.
 * This binary is its own rank program: when SF_LAUNCHED is set, main() acts
 * as a rank as LAUNCH_TEST_MODE says instead of running the suite. Every
 * rank carries a marker unique to the test in argv, so leftovers are found
 * by scanning /proc for it. */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include "clock.h"
#include "launch.h"
#include "launch_env.h"
#include "test_util.h"

/* ---- the rank side --------------------------------------------------------- */

static int env_int(const char *name)
{
    const char *v = getenv(name);
    return v != NULL ? atoi(v) : -1;
}

static _Noreturn void hang(void)
{
    for (;;)
        pause();
}

static int rank_main(int argc, char **argv)
{
    const char *mode = getenv("LAUNCH_TEST_MODE");
    int rank = env_int("RANK");
    if (mode == NULL)
        return 99;
    if (strcmp(mode, "hello") == 0) {
        printf("hello from %d\n", rank);
        printf("env RANK=%s LOCAL_RANK=%s WORLD_SIZE=%s LOCAL_WORLD_SIZE=%s MASTER_ADDR=%s "
               "MASTER_PORT=%s SF_LAUNCHED=%s argc=%d argv1=%s\n",
               getenv("RANK"), getenv("LOCAL_RANK"), getenv("WORLD_SIZE"),
               getenv("LOCAL_WORLD_SIZE"), getenv("MASTER_ADDR"), getenv("MASTER_PORT"),
               getenv("SF_LAUNCHED"), argc, argc > 1 ? argv[1] : "");
        fprintf(stderr, "err from %d\n", rank);
        printf("tail %d", rank); /* no newline: the launcher adds one at EOF */
        return 0;
    }
    if (strcmp(mode, "listener") == 0) {
        /* What the launcher handed this rank to listen on: "none", or the
         * inherited descriptor's listening state and port. */
        const char *v = getenv(SF_MASTER_LISTEN_FD_ENV);
        if (v == NULL) {
            printf("listener none\n");
            return 0;
        }
        int fd = atoi(v), listening = 0;
        socklen_t n = sizeof listening;
        struct sockaddr_in a;
        socklen_t alen = sizeof a;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &n) != 0 ||
            getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
            printf("listener fd %d is not a socket\n", fd);
            return 0;
        }
        printf("listener listening=%d port=%d of MASTER_PORT=%s\n", listening,
               ntohs(a.sin_port), getenv("MASTER_PORT"));
        return 0;
    }
    if (strcmp(mode, "fail") == 0) {
        /* rank 1 fails first with 3; rank 2 fails later with 5: the job's
         * status is 3, the first by time, not the largest or the last. */
        if (rank == 1) {
            fprintf(stderr, "rank one gives up\n");
            return 3;
        }
        if (rank == 2) {
            sf_clock_sleep_s(1.0);
            return 5;
        }
        return 0;
    }
    if (strcmp(mode, "hang") == 0) {
        /* rank 0 fails; 1 and 2 would wait forever, as a rank stuck in a
         * collective with a dead peer and no timeout would. */
        printf("ready %d\n", rank);
        fflush(stdout);
        if (rank == 0) {
            sf_clock_sleep_s(0.2);
            return 3;
        }
        hang();
    }
    if (strcmp(mode, "stubborn") == 0) {
        /* rank 1 ignores SIGTERM: only SIGKILL ends it. */
        if (rank == 1)
            signal(SIGTERM, SIG_IGN);
        printf("ready %d\n", rank);
        fflush(stdout);
        if (rank == 0) {
            sf_clock_sleep_s(0.3);
            return 4;
        }
        hang();
    }
    if (strcmp(mode, "segv") == 0) {
        if (rank == 1) {
            struct rlimit no_core = {0, 0};
            setrlimit(RLIMIT_CORE, &no_core);
            /* Past any handler a sanitizer installed: die of the signal itself. */
            signal(SIGSEGV, SIG_DFL);
            raise(SIGSEGV);
        }
        return 0;
    }
    if (strcmp(mode, "sleep") == 0) {
        printf("ready %d\n", rank);
        fflush(stdout);
        hang();
    }
    return 98;
}

/* ---- the test side ------------------------------------------------------- */

static char g_marker[96];

static void new_marker(void)
{
    static int n;
    snprintf(g_marker, sizeof g_marker, "sf-launch-marker-%d-%d-%ld", (int)getpid(), n++,
             (long)time(NULL));
}

/* Processes whose command line holds the current marker (the ranks carry it
 * in argv[1]; the launcher itself does not). Zombies have an empty cmdline
 * and do not count: they hold no resources and are no longer running. */
static int count_marked(void)
{
    int n = 0;
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[8192];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t got = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (got > 0 && memmem(buf, (size_t)got, g_marker, strlen(g_marker)) != NULL)
            n++;
    }
    closedir(d);
    return n;
}

/* Wait up to wait_s for marked processes to go (only needed where the
 * kernel, not the launcher, ends them). */
static int count_marked_after(double wait_s)
{
    double end = sf_clock_now_s() + wait_s;
    int n;
    while ((n = count_marked()) > 0 && sf_clock_now_s() < end)
        sf_clock_sleep_s(0.05);
    return n;
}

typedef struct job {
    pid_t pid; /* the launcher: a fork of this test that calls sf_launch_nproc */
    int out_fd, err_fd;
    char out[65536], err[65536];
    size_t out_len, err_len;
    int status;        /* the launcher's exit status, 128+signal, or -1 if it hung */
    double start, end; /* monotonic */
} job_t;

/* Fork a launcher running nproc ranks of this binary in mode. env_kv
 * ("NAME=VALUE") is set in the launcher first, or NULL. */
static void job_start(job_t *j, const char *mode, int nproc, double timeout_s, const char *env_kv)
{
    memset(j, 0, sizeof *j);
    new_marker();
    int po[2], pe[2];
    ck_assert_int_eq(pipe2(po, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(pe, O_CLOEXEC), 0);
    j->start = sf_clock_now_s();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        setenv("LAUNCH_TEST_MODE", mode, 1);
        if (env_kv != NULL)
            putenv((char *)env_kv);
        char *argv[] = {"check_launch_rank", g_marker, NULL};
        _exit(sf_launch_nproc(nproc, 2, argv, timeout_s, 0, NULL));
    }
    close(po[1]);
    close(pe[1]);
    j->pid = pid;
    j->out_fd = po[0];
    j->err_fd = pe[0];
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Read the launcher's output until it exits or limit_s passes (then SIGKILL
 * it and record -1). When trigger_sig is non-zero it is sent to the
 * launcher once its stdout holds trigger_count copies of trigger_text. */
static void job_wait(job_t *j, double limit_s, const char *trigger_text, size_t trigger_count,
                     int trigger_sig)
{
    bool triggered = trigger_sig == 0;
    double deadline = j->start + limit_s;
    int fds_open = 2;
    while (fds_open > 0 && sf_clock_now_s() < deadline) {
        struct pollfd p[2] = {{.fd = j->out_fd, .events = POLLIN},
                              {.fd = j->err_fd, .events = POLLIN}};
        poll(p, 2, 100);
        for (int i = 0; i < 2; i++) {
            if (p[i].revents == 0 || p[i].fd < 0)
                continue;
            char *buf = i == 0 ? j->out : j->err;
            size_t *len = i == 0 ? &j->out_len : &j->err_len;
            ssize_t got = read(p[i].fd, buf + *len, sizeof j->out - 1 - *len);
            if (got <= 0) {
                close(p[i].fd);
                if (i == 0)
                    j->out_fd = -1;
                else
                    j->err_fd = -1;
                fds_open--;
                continue;
            }
            *len += (size_t)got;
            buf[*len] = '\0';
        }
        if (!triggered && count_of(j->out, trigger_text) >= trigger_count) {
            kill(j->pid, trigger_sig);
            triggered = true;
        }
    }
    int ws = 0;
    pid_t got = 0;
    while ((got = waitpid(j->pid, &ws, WNOHANG)) == 0 && sf_clock_now_s() < deadline)
        sf_clock_sleep_s(0.02);
    if (got != j->pid) {
        kill(j->pid, SIGKILL);
        waitpid(j->pid, &ws, 0);
        j->status = -1;
    } else {
        j->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    }
    j->end = sf_clock_now_s();
    if (j->out_fd >= 0)
        close(j->out_fd);
    if (j->err_fd >= 0)
        close(j->err_fd);
    ck_assert_msg(triggered, "trigger '%s' x%zu never seen; stdout:\n%s", trigger_text,
                  trigger_count, j->out);
}

#define ck_assert_has(hay, needle)                                                         \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "expected '%s' in:\n%s", (needle), (hay))

START_TEST(test_launch_prefixes_every_line)
{
    job_t *j = malloc(sizeof *j);
    job_start(j, "hello", 3, 0, NULL);
    job_wait(j, 20, NULL, 0, 0);
    ck_assert_int_eq(j->status, 0);
    for (int r = 0; r < 3; r++) {
        char want[128];
        snprintf(want, sizeof want, "[rank %d] hello from %d\n", r, r);
        ck_assert_has(j->out, want);
        snprintf(want, sizeof want, "[rank %d] err from %d\n", r, r);
        ck_assert_has(j->err, want);
        /* the unterminated last line, flushed at EOF with a newline */
        snprintf(want, sizeof want, "[rank %d] tail %d\n", r, r);
        ck_assert_has(j->out, want);
    }
    /* 3 lines per rank on stdout, 1 on stderr, each prefixed; nothing on
     * stderr from the launcher when all went well. */
    ck_assert_uint_eq(count_of(j->out, "\n"), 9);
    ck_assert_uint_eq(count_of(j->out, "[rank "), 9);
    ck_assert_uint_eq(count_of(j->err, "\n"), 3);
    ck_assert_uint_eq(count_of(j->err, "[rank "), 3);
    ck_assert_int_eq(count_marked(), 0);
    free(j);
}
END_TEST

START_TEST(test_launch_sets_rank_environment)
{
    job_t *j = malloc(sizeof *j);
    /* A RANK from an outer launcher must not leak into the ranks. */
    job_start(j, "hello", 2, 0, "RANK=7");
    job_wait(j, 20, NULL, 0, 0);
    ck_assert_int_eq(j->status, 0);
    int port[2] = {-1, -1};
    for (int r = 0; r < 2; r++) {
        char want[256];
        snprintf(want, sizeof want,
                 "[rank %d] env RANK=%d LOCAL_RANK=%d WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 "
                 "MASTER_ADDR=127.0.0.1 MASTER_PORT=",
                 r, r, r);
        const char *p = strstr(j->out, want);
        ck_assert_msg(p != NULL, "expected '%s' in:\n%s", want, j->out);
        char tail[256];
        snprintf(tail, sizeof tail, " SF_LAUNCHED=1 argc=2 argv1=%s\n", g_marker);
        port[r] = atoi(p + strlen(want));
        ck_assert_has(p, tail);
    }
    ck_assert_int_gt(port[0], 0);
    ck_assert_int_lt(port[0], 65536);
    ck_assert_int_eq(port[0], port[1]);
    free(j);
}
END_TEST

/* The port the launcher chose reaches rank 0 already listening, so nothing
 * can take it before rank 0's rendezvous; no other rank gets the socket. */
START_TEST(test_launch_hands_rank0_its_listening_socket)
{
    job_t *j = malloc(sizeof *j);
    job_start(j, "listener", 3, 0, NULL);
    job_wait(j, 20, NULL, 0, 0);
    ck_assert_int_eq(j->status, 0);
    const char *p = strstr(j->out, "[rank 0] listener listening=1 port=");
    ck_assert_msg(p != NULL, "rank 0 has no listening socket:\n%s", j->out);
    int port = atoi(p + strlen("[rank 0] listener listening=1 port="));
    char want[96];
    snprintf(want, sizeof want, "port=%d of MASTER_PORT=%d\n", port, port);
    ck_assert_has(p, want);
    ck_assert_has(j->out, "[rank 1] listener none\n");
    ck_assert_has(j->out, "[rank 2] listener none\n");
    free(j);

    /* A MASTER_PORT of the caller's is the caller's to keep free. */
    j = malloc(sizeof *j);
    job_start(j, "listener", 2, 0, "MASTER_PORT=29778");
    job_wait(j, 20, NULL, 0, 0);
    ck_assert_int_eq(j->status, 0);
    ck_assert_uint_eq(count_of(j->out, "listener none\n"), 2);
    free(j);
}
END_TEST

START_TEST(test_launch_honours_master_port)
{
    job_t *j = malloc(sizeof *j);
    job_start(j, "hello", 2, 0, "MASTER_PORT=29777");
    job_wait(j, 20, NULL, 0, 0);
    ck_assert_int_eq(j->status, 0);
    ck_assert_uint_eq(count_of(j->out, " MASTER_PORT=29777 "), 2);
    free(j);
}
END_TEST

START_TEST(test_launch_rejects_bad_master_port)
{
    job_t *j = malloc(sizeof *j);
    job_start(j, "hello", 2, 0, "MASTER_PORT=http");
    job_wait(j, 20, NULL, 0, 0);
    ck_assert_int_eq(j->status, 1);
    ck_assert_has(j->err, "MASTER_PORT='http' is not a port number");
    ck_assert_uint_eq(count_of(j->out, "hello"), 0);
    free(j);
}
END_TEST

START_TEST(test_launch_status_is_first_failure)
{
    job_t *j = malloc(sizeof *j);
    job_start(j, "fail", 3, 2, NULL);
    job_wait(j, 30, NULL, 0, 0);
    /* rank 1 exits 3 at once; rank 2 exits 5 a second later, inside the
     * grace period (timeout 2 + 1 s): the job's status is rank 1's. */
    ck_assert_int_eq(j->status, 3);
    ck_assert_has(j->err, "[rank 1] rank one gives up\n");
    /* rank 0 exits 0 at once too, so it may or may not be listed. */
    ck_assert_has(j->err, "shardflow: rank 1 exited with status 3");
    ck_assert_uint_eq(count_of(j->err, "exited with status"), 1);
    ck_assert_uint_eq(count_of(j->err, "SIGTERM"), 0); /* rank 2 left within the grace */
    ck_assert_int_eq(count_marked(), 0);
    free(j);
}
END_TEST

START_TEST(test_launch_ends_hung_ranks_after_failure)
{
    job_t *j = malloc(sizeof *j);
    /* timeout_s 0.5: grace 0.5 + 1 s after rank 0 fails, then SIGTERM. */
    job_start(j, "hang", 3, 0.5, NULL);
    job_wait(j, 30, NULL, 0, 0);
    ck_assert_int_eq(j->status, 3);
    ck_assert_has(j->err, "shardflow: rank 0 exited with status 3; ending ranks 1, 2\n");
    ck_assert_has(j->err, "shardflow: ranks 1, 2 still running 1.5 s after rank 0 failed; "
                          "sending SIGTERM\n");
    double took = j->end - j->start;
    /* The hung ranks go at SIGTERM, not 1 s later at SIGKILL. */
    ck_assert_msg(took >= 1.5 && took < 1.5 + 0.9, "took %.2f s", took);
    ck_assert_int_eq(count_marked(), 0);
    free(j);
}
END_TEST

START_TEST(test_launch_kills_rank_ignoring_sigterm)
{
    job_t *j = malloc(sizeof *j);
    job_start(j, "stubborn", 2, 0, NULL);
    job_wait(j, 30, NULL, 0, 0);
    /* grace 1 s, SIGTERM ignored by rank 1, SIGKILL 1 s later. */
    ck_assert_int_eq(j->status, 4);
    ck_assert_has(j->err, "shardflow: rank 0 exited with status 4; ending ranks 1\n");
    double took = j->end - j->start;
    ck_assert_msg(took >= 2.0 && took < 2.0 + 2.0, "took %.2f s", took);
    ck_assert_int_eq(count_marked(), 0);
    free(j);
}
END_TEST

START_TEST(test_launch_signal_death_is_128_plus_signal)
{
    job_t *j = malloc(sizeof *j);
    job_start(j, "segv", 2, 0, NULL);
    job_wait(j, 20, NULL, 0, 0);
    ck_assert_int_eq(j->status, 128 + SIGSEGV);
    ck_assert_has(j->err, "shardflow: rank 1 exited with status 139");
    ck_assert_int_eq(count_marked(), 0);
    free(j);
}
END_TEST

START_TEST(test_launch_forwards_sigterm)
{
    job_t *j = malloc(sizeof *j);
    job_start(j, "sleep", 3, 0, NULL);
    job_wait(j, 20, "] ready ", 3, SIGTERM);
    /* Every rank dies of the forwarded SIGTERM (143); whichever the launcher
     * reaps first names the status. No grace: well under the 5 s margin. */
    ck_assert_int_eq(j->status, 128 + SIGTERM);
    ck_assert_msg(j->end - j->start < 4.0, "took %.2f s", j->end - j->start);
    ck_assert_int_eq(count_marked(), 0);
    free(j);
}
END_TEST

START_TEST(test_launch_forwards_sigint)
{
    job_t *j = malloc(sizeof *j);
    /* Ctrl-C on the launcher: the ranks, in their own process groups, only
     * see it because the launcher forwards it. */
    job_start(j, "sleep", 2, 0, NULL);
    job_wait(j, 20, "] ready ", 2, SIGINT);
    ck_assert_int_eq(j->status, 128 + SIGINT);
    ck_assert_int_eq(count_marked(), 0);
    free(j);
}
END_TEST

START_TEST(test_launch_ranks_die_with_launcher)
{
    job_t *j = malloc(sizeof *j);
    job_start(j, "sleep", 3, 0, NULL);
    /* SIGKILL cannot be forwarded: PR_SET_PDEATHSIG must end the ranks. */
    job_wait(j, 20, "] ready ", 3, SIGKILL);
    ck_assert_int_eq(j->status, 128 + SIGKILL);
    ck_assert_int_eq(count_marked_after(3.0), 0);
    free(j);
}
END_TEST

/* ---- argv stripping --------------------------------------------------------- */

static int strip(int argc, char **argv, int *nproc, char ***out, int *out_argc, sf_err_t *err)
{
    memset(err, 0, sizeof *err);
    return (int)sf_launch_strip_nproc(argc, argv, nproc, out, out_argc, err);
}

START_TEST(test_launch_strip_separate_and_joined)
{
    char *a1[] = {"shardflow", "run", "g.yaml", "--nproc", "3", "--out", "d", NULL};
    int nproc = -1, n = -1;
    char **out = NULL;
    sf_err_t err;
    ck_assert_int_eq(strip(7, a1, &nproc, &out, &n, &err), SF_OK);
    ck_assert_int_eq(nproc, 3);
    ck_assert_int_eq(n, 5);
    ck_assert_str_eq(out[0], "shardflow");
    ck_assert_str_eq(out[1], "run");
    ck_assert_str_eq(out[2], "g.yaml");
    ck_assert_str_eq(out[3], "--out");
    ck_assert_str_eq(out[4], "d");
    ck_assert_ptr_null(out[5]);
    free(out);

    char *a2[] = {"shardflow", "run", "--nproc=16", "g.yaml", NULL};
    ck_assert_int_eq(strip(4, a2, &nproc, &out, &n, &err), SF_OK);
    ck_assert_int_eq(nproc, 16);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(out[2], "g.yaml");
    ck_assert_ptr_null(out[3]);
    free(out);
}
END_TEST

START_TEST(test_launch_strip_absent_and_after_dashes)
{
    char *a[] = {"shardflow", "run", "g.yaml", "--", "--nproc", "2", NULL};
    int nproc = -1, n = -1;
    char **out = NULL;
    sf_err_t err;
    ck_assert_int_eq(strip(6, a, &nproc, &out, &n, &err), SF_OK);
    ck_assert_int_eq(nproc, 0);
    ck_assert_int_eq(n, 6);
    ck_assert_str_eq(out[4], "--nproc");
    ck_assert_ptr_null(out[6]);
    free(out);
}
END_TEST

START_TEST(test_launch_strip_rejects_bad_values)
{
    int nproc = -1, n = -1;
    char **out = NULL;
    sf_err_t err;
    char *missing[] = {"shardflow", "run", "g.yaml", "--nproc", NULL};
    ck_assert_int_eq(strip(4, missing, &nproc, &out, &n, &err), SF_ERR_INPUT);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(err.msg, "--nproc expects a number of ranks");

    const char *bad[] = {"0", "-2", "abc", "3x", "", "1025", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *a[] = {"shardflow", "run", "--nproc", (char *)bad[i], NULL};
        ck_assert_int_eq(strip(4, a, &nproc, &out, &n, &err), SF_ERR_INPUT);
        ck_assert_ptr_null(out);
        char want[160];
        snprintf(want, sizeof want, "--nproc expects a number of ranks from 1 to 1024, got '%s'",
                 bad[i]);
        ck_assert_str_eq(err.msg, want);
    }
    char *twice[] = {"shardflow", "run", "--nproc", "2", "--nproc=2", NULL};
    ck_assert_int_eq(strip(5, twice, &nproc, &out, &n, &err), SF_ERR_INPUT);
    ck_assert_str_eq(err.msg, "--nproc given twice");
    ck_assert_ptr_null(out);
}
END_TEST

static Suite *launch_suite(void)
{
    Suite *s = suite_create("launch");
    TCase *tc = tcase_create("strip");
    tcase_add_test(tc, test_launch_strip_separate_and_joined);
    tcase_add_test(tc, test_launch_strip_absent_and_after_dashes);
    tcase_add_test(tc, test_launch_strip_rejects_bad_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_launch_prefixes_every_line);
    tcase_add_test(tc, test_launch_sets_rank_environment);
    tcase_add_test(tc, test_launch_hands_rank0_its_listening_socket);
    tcase_add_test(tc, test_launch_honours_master_port);
    tcase_add_test(tc, test_launch_rejects_bad_master_port);
    suite_add_tcase(s, tc);

    tc = tcase_create("failure");
    tcase_set_timeout(tc, 40);
    tcase_add_test(tc, test_launch_status_is_first_failure);
    tcase_add_test(tc, test_launch_ends_hung_ranks_after_failure);
    tcase_add_test(tc, test_launch_kills_rank_ignoring_sigterm);
    tcase_add_test(tc, test_launch_signal_death_is_128_plus_signal);
    suite_add_tcase(s, tc);

    tc = tcase_create("signals");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_launch_forwards_sigterm);
    tcase_add_test(tc, test_launch_forwards_sigint);
    tcase_add_test(tc, test_launch_ranks_die_with_launcher);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (getenv(SF_LAUNCHED_ENV) != NULL)
        return rank_main(argc, argv);
    return tu_run_suite(launch_suite());
}
