/* Failures through the real command: a rank killed in the middle of the
 * collectives of `run --nproc 3`, and rendezvous that cannot complete (nobody
 * listening, a missing rank, world sizes that disagree, the port taken).
 * Each must end non-zero within the timeout plus a margin, say what went
 * wrong, and leave no process behind. Every process started here carries
 * SF_TEST_MARKER=<unique> in its environment, so leftovers are found by
 * scanning /proc/<pid>/environ. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "test_util.h"

/* Seconds a failed job may take beyond its --timeout. */
#define MARGIN_S 10.0

static char g_marker[96];

static void new_marker(void)
{
    static int n;
    snprintf(g_marker, sizeof g_marker, "SF_TEST_MARKER=failure-%d-%d-%ld", (int)getpid(), n++,
             (long)time(NULL));
}

/* Pids (up to max) of marked processes that also hold kv, if given. */
static int find_marked(const char *kv, pid_t *pids, int max)
{
    return tu_find_env_procs(g_marker, kv, pids, max);
}

static int count_marked_after(double wait_s)
{
    double end = sf_clock_now_s() + wait_s;
    pid_t pids[64];
    int n;
    while ((n = find_marked(NULL, pids, 64)) > 0 && sf_clock_now_s() < end)
        sf_clock_sleep_s(0.05);
    return n;
}

typedef struct proc {
    pid_t pid;
    int fd; /* stdout and stderr together */
    char out[1 << 17];
    size_t len;
    int status; /* exit status, 128+signal, or -1 if still running at the limit */
    double start, end;
} proc_t;

/* Start shardflow with args (NULL-terminated) and env entries added (NULL-
 * terminated, may be NULL), the marker among them. */
static void proc_start(proc_t *p, const char *const *args, const char *const *env)
{
    memset(p, 0, sizeof *p);
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    p->start = sf_clock_now_s();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        putenv(g_marker);
        for (int i = 0; env != NULL && env[i] != NULL; i++)
            putenv((char *)env[i]);
        char *argv[32];
        int n = 0;
        argv[n++] = (char *)tu_shardflow();
        for (int i = 0; args[i] != NULL && n < 31; i++)
            argv[n++] = (char *)args[i];
        argv[n] = NULL;
        execv(argv[0], argv);
        _exit(126);
    }
    close(fds[1]);
    p->pid = pid;
    p->fd = fds[0];
}

/* Read output until EOF and exit, or until limit_s after start. */
static void proc_wait(proc_t *p, double limit_s)
{
    double deadline = p->start + limit_s;
    while (p->fd >= 0 && sf_clock_now_s() < deadline) {
        struct pollfd q = {.fd = p->fd, .events = POLLIN};
        if (poll(&q, 1, 100) <= 0)
            continue;
        ssize_t got = read(p->fd, p->out + p->len, sizeof p->out - 1 - p->len);
        if (got <= 0) {
            close(p->fd);
            p->fd = -1;
            break;
        }
        p->len += (size_t)got;
        p->out[p->len] = '\0';
    }
    int ws = 0;
    pid_t got = 0;
    while ((got = waitpid(p->pid, &ws, WNOHANG)) == 0 && sf_clock_now_s() < deadline)
        sf_clock_sleep_s(0.02);
    if (got != p->pid) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &ws, 0);
        p->status = -1;
    } else {
        p->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    }
    p->end = sf_clock_now_s();
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

#define ck_assert_has(hay, needle)                                                         \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "expected '%s' in:\n%s", (needle), (hay))

/* A line of the output that starts with prefix and holds all of a, b (b may be
 * one of several, '|'-separated). */
static bool has_line_with(const char *text, const char *prefix, const char *a, const char *b_any)
{
    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *nl = strchr(line, '\n');
        size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
        char buf[4096];
        snprintf(buf, sizeof buf, "%.*s", (int)n, line);
        if (strncmp(buf, prefix, strlen(prefix)) == 0 && strstr(buf, a) != NULL) {
            char alts[256];
            snprintf(alts, sizeof alts, "%s", b_any);
            for (char *save = NULL, *t = strtok_r(alts, "|", &save); t != NULL;
                 t = strtok_r(NULL, "|", &save))
                if (strstr(buf, t) != NULL)
                    return true;
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    return false;
}

/* VmRSS of pid in kB, 0 if gone. */
static long rss_of(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got <= 0)
        return 0;
    buf[got] = '\0';
    const char *p = strstr(buf, "VmRSS:");
    return p != NULL ? atol(p + 6) : 0;
}

/* ---- (a) a rank killed in the middle of the collectives --------------------- */

START_TEST(test_failure_killed_rank_ends_job)
{
    proc_t *p = malloc(sizeof *p);
    new_marker();
    const double timeout_s = 5;
    const char *args[] = {"run", "--nproc", "3", tu_src("tests/graphs/redistribute_big.yaml"),
                          "--timeout", "5", NULL};
    proc_start(p, args, NULL);
    /* Kill rank 1 once it is inside the first all_gather: its resident size
     * passes ~120 MB only while the gathered 2040x8160 f32 (66 MB) fills, on
     * top of the 66 MB source and its 22 MB slice. Ranks 0 and 2 are then
     * left waiting in a collective for it (this one or a later one). */
    pid_t victim = 0;
    double seen_at = 0;
    const char *at_env = getenv("SF_TEST_KILL_AT_RSS_KB");
    long at_kb = at_env != NULL ? atol(at_env) : 120000, rss_kb = 0;
    while (sf_clock_now_s() < p->start + 20) {
        pid_t pids[4];
        if (victim == 0 && find_marked("RANK=1", pids, 4) == 1) {
            victim = pids[0];
            seen_at = sf_clock_now_s();
        }
        if (victim != 0 && (rss_kb = rss_of(victim)) >= at_kb)
            break;
        sf_clock_sleep_s(0.005);
    }
    ck_assert_msg(victim > 0, "rank 1 never showed up");
    ck_assert_msg(rss_kb >= at_kb, "rank 1 never reached %ld kB (last %ld kB)", at_kb, rss_kb);
    ck_assert_int_eq(kill(victim, SIGKILL), 0);
    double killed_at = sf_clock_now_s();
    proc_wait(p, killed_at - p->start + timeout_s + MARGIN_S);
    ck_assert_msg(p->status > 0, "status %d; output:\n%s", p->status, p->out);
    ck_assert_msg(p->end - killed_at < timeout_s + MARGIN_S, "took %.1f s after the kill",
                  p->end - killed_at);
    /* The launcher names the dead rank and its signal... */
    ck_assert_has(p->out, "shardflow: rank 1 exited with status 137");
    ck_assert_int_eq(p->status, 137);
    /* ...and a survivor names it together with the collective it was in. */
    ck_assert_msg(has_line_with(p->out, "[rank 0] ", "rank 1", "all_gather|all_to_all|all_reduce") ||
                      has_line_with(p->out, "[rank 2] ", "rank 1",
                                    "all_gather|all_to_all|all_reduce"),
                  "no survivor named rank 1 and the collective (killed %.1f s after rank 1 "
                  "started):\n%s",
                  killed_at - seen_at, p->out);
    ck_assert_int_eq(count_marked_after(2.0), 0);
    free(p);
}
END_TEST

/* ---- (c) half-written traces after a signal ---------------------------------- */

/* Entries of dir whose name holds ".tmp": a temporary some writer left. */
static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp") != NULL)
            n++;
    closedir(d);
    return n;
}

/* Start `run --nproc 3 redistribute_big --trace DIR/t.json` and return once
 * all three ranks have their trace temporaries open (they are mid-run). */
static void start_traced_job(proc_t *p, const char *dir, const char *timeout)
{
    static char trace[512];
    snprintf(trace, sizeof trace, "%s/t.json", dir);
    new_marker();
    const char *args[] = {"run", "--nproc", "3", tu_src("tests/graphs/redistribute_big.yaml"),
                          "--timeout", timeout, "--trace", trace, NULL};
    proc_start(p, args, NULL);
    while (count_tmp(dir) < 3 && sf_clock_now_s() < p->start + 20)
        sf_clock_sleep_s(0.002);
    ck_assert_msg(count_tmp(dir) == 3, "the ranks never opened their traces");
}

/* SIGTERM to the launcher reaches the ranks; each removes its temporary. */
START_TEST(test_failure_sigterm_leaves_no_temporaries)
{
    proc_t *p = malloc(sizeof *p);
    const char *dir = tu_tmpdir();
    start_traced_job(p, dir, "5");
    ck_assert_int_eq(kill(p->pid, SIGTERM), 0);
    proc_wait(p, 30);
    ck_assert_msg(p->status == 128 + SIGTERM, "status %d:\n%s", p->status, p->out);
    ck_assert_int_eq(count_marked_after(2.0), 0);
    ck_assert_msg(count_tmp(dir) == 0, "%d temporaries left", count_tmp(dir));
    ck_assert_int_eq(tu_count_dir_entries(dir), 0);
    free(p);
}
END_TEST

/* SIGTERM to one rank: it removes its own; the others fail and remove theirs. */
START_TEST(test_failure_sigterm_to_rank_leaves_no_temporaries)
{
    proc_t *p = malloc(sizeof *p);
    const char *dir = tu_tmpdir();
    start_traced_job(p, dir, "3");
    pid_t pids[4];
    ck_assert_int_eq(find_marked("RANK=1", pids, 4), 1);
    ck_assert_int_eq(kill(pids[0], SIGTERM), 0);
    proc_wait(p, 30);
    ck_assert_msg(p->status == 128 + SIGTERM, "status %d:\n%s", p->status, p->out);
    ck_assert_int_eq(count_marked_after(2.0), 0);
    ck_assert_msg(count_tmp(dir) == 0, "%d temporaries left", count_tmp(dir));
    free(p);
}
END_TEST

/* SIGKILL to one rank: it cannot clean up; the launcher removes what it left. */
START_TEST(test_failure_sigkill_to_rank_leaves_no_temporaries)
{
    proc_t *p = malloc(sizeof *p);
    const char *dir = tu_tmpdir();
    start_traced_job(p, dir, "3");
    pid_t pids[4];
    ck_assert_int_eq(find_marked("RANK=1", pids, 4), 1);
    ck_assert_int_eq(kill(pids[0], SIGKILL), 0);
    proc_wait(p, 30);
    ck_assert_msg(p->status == 128 + SIGKILL, "status %d:\n%s", p->status, p->out);
    ck_assert_int_eq(count_marked_after(2.0), 0);
    ck_assert_msg(count_tmp(dir) == 0, "%d temporaries left", count_tmp(dir));
    free(p);
}
END_TEST

/* ---- (d) a stopped rank ------------------------------------------------------ */

/* Read p's output until it holds text or limit_s after start; returns when
 * it appeared (0: never). The rest is left for proc_wait. */
static double proc_wait_for(proc_t *p, const char *text, double limit_s)
{
    while (strstr(p->out, text) == NULL && sf_clock_now_s() < p->start + limit_s) {
        struct pollfd q = {.fd = p->fd, .events = POLLIN};
        if (poll(&q, 1, 20) <= 0)
            continue;
        ssize_t got = read(p->fd, p->out + p->len, sizeof p->out - 1 - p->len);
        if (got <= 0)
            break;
        p->len += (size_t)got;
        p->out[p->len] = '\0';
    }
    return strstr(p->out, text) != NULL ? sf_clock_now_s() : 0;
}

/* SIGSTOP is a hang, not a death: the stopped rank ignores SIGTERM and can
 * report nothing. Once another rank has failed, the launcher must not wait
 * for it. Before, it gave it timeout + 5 s, then SIGTERM (pending while
 * stopped), then SIGKILL 3 s later: the job ended timeout + 8 s = 11 s after
 * the first failure, 17.5 s after the SIGSTOP. Now a stopped rank is killed
 * when the first rank fails, and the job ends when the survivors have
 * reported (6.3 s after the SIGSTOP here: they need more than one timeout to
 * give up on a collective whose peer stopped mid-transfer). */
START_TEST(test_failure_stopped_rank_is_cleared)
{
    proc_t *p = malloc(sizeof *p);
    const char *dir = tu_tmpdir();
    const double timeout_s = 3;
    start_traced_job(p, dir, "3");
    pid_t pids[4];
    ck_assert_int_eq(find_marked("RANK=1", pids, 4), 1);
    ck_assert_int_eq(kill(pids[0], SIGSTOP), 0);
    double stopped_at = sf_clock_now_s();
    double failed_at = proc_wait_for(p, "exited with status", 40);
    proc_wait(p, 40);
    ck_assert_msg(failed_at > 0, "no rank failed:\n%s", p->out);
    ck_assert_msg(p->status > 0, "status %d:\n%s", p->status, p->out);
    ck_assert_msg(p->end - failed_at < timeout_s, "ended %.1f s after the first failure:\n%s",
                  p->end - failed_at, p->out);
    ck_assert_msg(p->end - stopped_at < 2 * timeout_s + 4, "ended %.1f s after SIGSTOP:\n%s",
                  p->end - stopped_at, p->out);
    ck_assert_has(p->out, "shardflow: rank 1 is stopped; killing it\n");
    ck_assert_int_eq(count_marked_after(2.0), 0);
    ck_assert_int_eq(count_tmp(dir), 0);
    free(p);
}
END_TEST

/* ---- (b) rendezvous failures, torchrun-style environment -------------------- */

START_TEST(test_failure_rendezvous_nobody_listening)
{
    proc_t *p = malloc(sizeof *p);
    new_marker();
    char port_kv[64], where[64];
    int port = tu_free_port();
    snprintf(port_kv, sizeof port_kv, "MASTER_PORT=%d", port);
    snprintf(where, sizeof where, "127.0.0.1:%d", port);
    const char *env[] = {"RANK=1", "WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1", port_kv, NULL};
    const char *args[] = {"run", tu_src("tests/graphs/redistribute_small.yaml"), "--timeout", "3",
                          NULL};
    proc_start(p, args, env);
    proc_wait(p, 3 + MARGIN_S);
    ck_assert_msg(p->status > 0, "status %d; output:\n%s", p->status, p->out);
    ck_assert_has(p->out, where);
    ck_assert_has(p->out, "rank 1 cannot reach rank 0");
    ck_assert_int_eq(count_marked_after(2.0), 0);
    free(p);
}
END_TEST

START_TEST(test_failure_rendezvous_missing_rank)
{
    proc_t *p = malloc(sizeof *p);
    new_marker();
    char port_kv[64];
    snprintf(port_kv, sizeof port_kv, "MASTER_PORT=%d", tu_free_port());
    const char *env[] = {"RANK=0", "WORLD_SIZE=3", "MASTER_ADDR=127.0.0.1", port_kv, NULL};
    const char *args[] = {"run", tu_src("tests/graphs/redistribute_small.yaml"), "--timeout", "2",
                          NULL};
    proc_start(p, args, env);
    proc_wait(p, 2 + MARGIN_S);
    ck_assert_msg(p->status > 0, "status %d; output:\n%s", p->status, p->out);
    /* rank 0 waited alone: it names both ranks that never came. */
    ck_assert_has(p->out, "rank(s) 1, 2 never connected");
    ck_assert_int_eq(count_marked_after(2.0), 0);
    free(p);
}
END_TEST

START_TEST(test_failure_rendezvous_world_size_mismatch)
{
    proc_t *p0 = malloc(sizeof *p0), *p1 = malloc(sizeof *p1);
    new_marker();
    char port_kv[64];
    snprintf(port_kv, sizeof port_kv, "MASTER_PORT=%d", tu_free_port());
    const char *env0[] = {"RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1", port_kv, NULL};
    const char *env1[] = {"RANK=1", "WORLD_SIZE=3", "MASTER_ADDR=127.0.0.1", port_kv, NULL};
    const char *args[] = {"run", tu_src("tests/graphs/redistribute_small.yaml"), "--timeout", "5",
                          NULL};
    proc_start(p0, args, env0);
    proc_start(p1, args, env1);
    proc_wait(p0, 5 + MARGIN_S);
    proc_wait(p1, 5 + MARGIN_S);
    ck_assert_msg(p0->status > 0, "rank 0 status %d; output:\n%s", p0->status, p0->out);
    ck_assert_msg(p1->status > 0, "rank 1 status %d; output:\n%s", p1->status, p1->out);
    ck_assert_has(p0->out, "world size mismatch: rank 1 has world size 3, rank 0 has 2");
    ck_assert_has(p1->out, "world size mismatch: rank 1 has world size 3, rank 0 has 2");
    ck_assert_int_eq(count_marked_after(2.0), 0);
    free(p0);
    free(p1);
}
END_TEST

START_TEST(test_failure_rendezvous_port_taken)
{
    proc_t *p = malloc(sizeof *p);
    new_marker();
    int port;
    int fd = tu_listen_loopback(&port);
    char port_kv[64], where[64];
    snprintf(port_kv, sizeof port_kv, "MASTER_PORT=%d", port);
    snprintf(where, sizeof where, "cannot listen on 127.0.0.1:%d", port);
    const char *env[] = {"RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1", port_kv, NULL};
    const char *args[] = {"run", tu_src("tests/graphs/redistribute_small.yaml"), "--timeout", "5",
                          NULL};
    proc_start(p, args, env);
    proc_wait(p, 5 + MARGIN_S);
    close(fd);
    ck_assert_msg(p->status > 0, "status %d; output:\n%s", p->status, p->out);
    /* Refused at once, not after the timeout. */
    ck_assert_msg(p->end - p->start < 5.0, "took %.1f s", p->end - p->start);
    ck_assert_has(p->out, where);
    ck_assert_int_eq(count_marked_after(2.0), 0);
    free(p);
}
END_TEST

/* ---- which parts exist yet ---------------------------------------------------- */

/* Skip (77) only where the command itself says the feature is missing. */
static const char *missing_feature(void)
{
    static char why[512];
    if (access(tu_shardflow(), X_OK) != 0)
        return NULL; /* no command at all is a build failure, not a skip */
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s run --help", tu_shardflow());
    tu_run(cmd, &out);
    bool has_flags = out != NULL && strstr(out, "--nproc") != NULL && strstr(out, "--timeout") != NULL;
    free(out);
    if (!has_flags)
        return "shardflow run --nproc/--timeout not built yet (not in `run --help`)";
    snprintf(cmd, sizeof cmd, "%s ops", tu_shardflow());
    out = NULL;
    tu_run(cmd, &out);
    bool has_op = out != NULL && strstr(out, "redistribute") != NULL;
    free(out);
    if (!has_op)
        return "op redistribute not built yet (not in `shardflow ops`)";
    const char *graphs[] = {"tests/graphs/redistribute_big.yaml",
                            "tests/graphs/redistribute_small.yaml"};
    for (int i = 0; i < 2; i++) {
        if (access(tu_src(graphs[i]), R_OK) != 0) {
            snprintf(why, sizeof why, "%s not written yet", graphs[i]);
            return why;
        }
    }
    return NULL;
}

static Suite *failure_suite(void)
{
    Suite *s = suite_create("failure");
    TCase *tc = tcase_create("killed_rank");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_failure_killed_rank_ends_job);
    suite_add_tcase(s, tc);

    tc = tcase_create("signalled");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_failure_sigterm_leaves_no_temporaries);
    tcase_add_test(tc, test_failure_sigterm_to_rank_leaves_no_temporaries);
    tcase_add_test(tc, test_failure_sigkill_to_rank_leaves_no_temporaries);
    tcase_add_test(tc, test_failure_stopped_rank_is_cleared);
    suite_add_tcase(s, tc);

    tc = tcase_create("rendezvous");
    tcase_set_timeout(tc, 40);
    tcase_add_test(tc, test_failure_rendezvous_nobody_listening);
    tcase_add_test(tc, test_failure_rendezvous_missing_rank);
    tcase_add_test(tc, test_failure_rendezvous_world_size_mismatch);
    tcase_add_test(tc, test_failure_rendezvous_port_taken);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const char *why = missing_feature();
    if (why != NULL) {
        printf("SKIP: %s\n", why);
        return 77;
    }
    return tu_run_suite(failure_suite());
}
