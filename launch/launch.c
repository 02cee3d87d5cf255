/* The single-host launcher behind `shardflow run --nproc N`. Invariant: every
 * child it forks is reaped before sf_launch_nproc returns, and a child never
 * outlives the launcher (PR_SET_PDEATHSIG), so no rank is ever left behind. */
#include "launch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "launch_env.h"
#include "outfile.h"

extern char **environ;

#define LAUNCH_LINE_BYTES (64 * 1024)
#define LAUNCH_PREFIX_BYTES 32

typedef struct launch_stream {
    int fd;     /* owned read end of the child's pipe; -1 once closed */
    int out_fd; /* 1 or 2: where its lines go */
    size_t len; /* bytes of an unfinished line in buf */
    char buf[LAUNCH_LINE_BYTES];
} launch_stream_t;

typedef struct launch_child {
    int rank;
    pid_t pid; /* also its process group id; 0 if never started */
    bool is_reaped;
    bool is_stopped; /* SIGSTOP/SIGTSTP and not continued since (waitpid WUNTRACED) */
    int status; /* exit code, or 128 + signal; valid once reaped */
    launch_stream_t out;
    launch_stream_t err;
} launch_child_t;

typedef struct launch {
    launch_child_t *children; /* owned, n of them */
    int n;
    int n_live;       /* started and not yet reaped */
    int first_fail;   /* rank that failed first, -1 if none */
    int fail_status;  /* its status */
    int got_signal;   /* the last of SIGINT/SIGTERM sent to us, 0 if none */
    double grace_at;  /* monotonic time to send SIGTERM; 0 if not armed */
    double kill_at;   /* monotonic time to send SIGKILL; 0 if not armed */
    double timeout_s; /* the ranks' collective timeout, >= 0 */
    unsigned flags;   /* SF_LAUNCH_* */
    const char *const *sweep_dirs; /* borrowed, NULL-terminated; may be NULL */
    char scratch[LAUNCH_PREFIX_BYTES + LAUNCH_LINE_BYTES + 1];
} launch_t;

/* Write everything or give up quietly: a closed stdout must not stop the
 * launcher from reaping its children. */
static void launch_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* One write per line, so lines of different ranks never interleave. */
static void launch_emit(launch_t *L, const launch_child_t *c, const launch_stream_t *s,
                        const char *line, size_t n)
{
    bool is_raw = (L->flags & SF_LAUNCH_RANK0_STDOUT_RAW) && c->rank == 0 &&
                  s->out_fd == STDOUT_FILENO;
    int k = is_raw ? 0 : snprintf(L->scratch, LAUNCH_PREFIX_BYTES, "[rank %d] ", c->rank);
    memcpy(L->scratch + k, line, n);
    L->scratch[k + (int)n] = '\n';
    launch_write_all(s->out_fd, L->scratch, (size_t)k + n + 1);
}

static void launch_stream_close(launch_t *L, launch_child_t *c, launch_stream_t *s)
{
    if (s->fd < 0)
        return;
    if (s->len > 0)
        launch_emit(L, c, s, s->buf, s->len);
    s->len = 0;
    close(s->fd);
    s->fd = -1;
}

/* Read what the pipe holds now, emit every complete line; at EOF emit the
 * unfinished one too and close. */
static void launch_stream_drain(launch_t *L, launch_child_t *c, launch_stream_t *s)
{
    while (s->fd >= 0) {
        ssize_t got = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (got <= 0) {
            launch_stream_close(L, c, s);
            return;
        }
        s->len += (size_t)got;
        size_t start = 0;
        for (size_t i = s->len - (size_t)got; i < s->len; i++) {
            if (s->buf[i] == '\n') {
                launch_emit(L, c, s, s->buf + start, i - start);
                start = i + 1;
            }
        }
        if (start == 0 && s->len == sizeof s->buf) {
            /* A line longer than the buffer goes out in prefixed pieces. */
            launch_emit(L, c, s, s->buf, s->len);
            s->len = 0;
        } else if (start > 0) {
            memmove(s->buf, s->buf + start, s->len - start);
            s->len -= start;
        }
    }
}

/* "0, 2" for the ranks still running, cut short when very long. */
static void launch_live_list(const launch_t *L, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (int r = 0; r < L->n; r++) {
        const launch_child_t *c = &L->children[r];
        if (c->pid == 0 || c->is_reaped)
            continue;
        if (used + 16 >= n) {
            snprintf(out + used, n - used, ", ...");
            return;
        }
        used += (size_t)snprintf(out + used, n - used, "%s%d", used > 0 ? ", " : "", r);
    }
}

/* Signal every rank still running, with its process group. Safe: an
 * unreaped child's pid cannot have been reused. */
static void launch_signal_live(launch_t *L, int sig)
{
    for (int r = 0; r < L->n; r++) {
        launch_child_t *c = &L->children[r];
        if (c->pid == 0 || c->is_reaped)
            continue;
        if (kill(-c->pid, sig) != 0)
            kill(c->pid, sig); /* the child may not have called setpgid yet */
    }
}

/* After a failure a stopped rank cannot report anything, and SIGTERM stays
 * pending while it is stopped: it would hold the job for the whole grace and
 * more. SIGKILL ends a stopped process at once. */
static void launch_kill_stopped(launch_t *L)
{
    for (int r = 0; r < L->n; r++) {
        launch_child_t *c = &L->children[r];
        if (c->pid == 0 || c->is_reaped || !c->is_stopped)
            continue;
        fprintf(stderr, "shardflow: rank %d is stopped; killing it\n", r);
        fflush(stderr);
        if (kill(-c->pid, SIGKILL) != 0)
            kill(c->pid, SIGKILL);
    }
}

static void launch_on_exit(launch_t *L, launch_child_t *c, int wstatus)
{
    c->is_reaped = true;
    L->n_live--;
    if (WIFEXITED(wstatus))
        c->status = WEXITSTATUS(wstatus);
    else if (WIFSIGNALED(wstatus))
        c->status = 128 + WTERMSIG(wstatus);
    else
        c->status = 1;
    /* Its last words come before our summary. A helper process of the rank
     * may still hold the pipe, so take only what is there now. */
    launch_stream_drain(L, c, &c->out);
    launch_stream_drain(L, c, &c->err);
    /* A rank that died of SIGKILL (or crashed) could not remove its
     * half-written outputs; they carry its pid in their name. */
    for (int i = 0; c->status != 0 && L->sweep_dirs != NULL && L->sweep_dirs[i] != NULL; i++)
        sf_outfile_sweep_dir(L->sweep_dirs[i], c->pid);
    if (c->status == 0 || L->first_fail >= 0)
        return;
    L->first_fail = c->rank;
    L->fail_status = c->status;
    char live[4096];
    launch_live_list(L, live, sizeof live);
    if (live[0] != '\0')
        fprintf(stderr, "shardflow: rank %d exited with status %d; ending ranks %s\n", c->rank,
                c->status, live);
    else
        fprintf(stderr, "shardflow: rank %d exited with status %d\n", c->rank, c->status);
    fflush(stderr);
    /* Ranks blocked in a collective with the failed one need up to their
     * collective timeout to notice and name it; then they get ended. A
     * stopped one never will. */
    launch_kill_stopped(L);
    if (L->n_live > 0 && L->grace_at == 0 && L->kill_at == 0)
        L->grace_at = sf_clock_now_s() + L->timeout_s + SF_LAUNCH_GRACE_MARGIN_S;
}

static void launch_reap(launch_t *L)
{
    for (int r = 0; r < L->n; r++) {
        launch_child_t *c = &L->children[r];
        if (c->pid == 0 || c->is_reaped)
            continue;
        int wstatus = 0;
        pid_t p = waitpid(c->pid, &wstatus, WNOHANG | WUNTRACED | WCONTINUED);
        if (p == c->pid && WIFSTOPPED(wstatus)) {
            c->is_stopped = true;
            if (L->first_fail >= 0)
                launch_kill_stopped(L);
        } else if (p == c->pid && WIFCONTINUED(wstatus)) {
            c->is_stopped = false;
        } else if (p == c->pid) {
            launch_on_exit(L, c, wstatus);
        } else if (p < 0 && errno == ECHILD) {
            /* Someone else reaped it; count it as a failure of unknown cause. */
            launch_on_exit(L, c, 1 << 8);
        }
    }
}

static void launch_on_signal(launch_t *L, int sig)
{
    if (sig == SIGCHLD) {
        launch_reap(L);
        return;
    }
    if (L->got_signal != 0) {
        /* A second interrupt: the user does not want to wait. */
        launch_signal_live(L, SIGKILL);
    } else {
        launch_signal_live(L, sig);
        L->kill_at = sf_clock_now_s() + SF_LAUNCH_KILL_AFTER_S;
        L->grace_at = 0;
    }
    L->got_signal = sig;
}

static void launch_check_deadlines(launch_t *L)
{
    double now = sf_clock_now_s();
    if (L->grace_at != 0 && now >= L->grace_at) {
        L->grace_at = 0;
        if (L->n_live > 0) {
            char live[4096];
            launch_live_list(L, live, sizeof live);
            fprintf(stderr, "shardflow: ranks %s still running %g s after rank %d failed; "
                            "sending SIGTERM\n",
                    live, L->timeout_s + SF_LAUNCH_GRACE_MARGIN_S, L->first_fail);
            fflush(stderr);
            /* SIGCONT first: a rank stopped since would not see SIGTERM. */
            launch_signal_live(L, SIGCONT);
            launch_signal_live(L, SIGTERM);
            L->kill_at = now + SF_LAUNCH_FAIL_KILL_AFTER_S;
        }
    }
    if (L->kill_at != 0 && now >= L->kill_at) {
        L->kill_at = 0;
        launch_signal_live(L, SIGKILL);
    }
}

static int launch_poll_timeout_ms(const launch_t *L)
{
    double next = 0;
    if (L->grace_at != 0)
        next = L->grace_at;
    if (L->kill_at != 0 && (next == 0 || L->kill_at < next))
        next = L->kill_at;
    if (next == 0)
        return 1000; /* a periodic reap guards against a lost SIGCHLD */
    double ms = (next - sf_clock_now_s()) * 1000.0 + 1.0;
    if (ms < 0)
        return 0;
    return ms > 1000 ? 1000 : (int)ms;
}

/* The port rank 0 will listen on: the caller's MASTER_PORT (*listen_fd -1),
 * or one the kernel hands out for 127.0.0.1:0, already listening in
 * *listen_fd, which rank 0 inherits (SF_MASTER_LISTEN_FD_ENV): a port only
 * chosen and closed again could be taken by another process before rank 0
 * binds it. */
static sf_status_t launch_master_port(int *port, int *listen_fd, sf_err_t *err)
{
    *listen_fd = -1;
    const char *env = getenv("MASTER_PORT");
    if (env != NULL && env[0] != '\0') {
        char *end = NULL;
        long v = strtol(env, &end, 10);
        if (*end != '\0' || v < 1 || v > 65535)
            return sf_err_set(err, SF_ERR_INPUT, NULL,
                              "MASTER_PORT='%s' is not a port number (1..65535)", env);
        *port = (int)v;
        return SF_OK;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sf_err_set(err, SF_ERR_IO, NULL, "launcher: socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        int e = errno;
        close(fd);
        return sf_err_set(err, SF_ERR_IO, NULL, "launcher: cannot listen on 127.0.0.1: %s",
                          strerror(e));
    }
    *port = ntohs(a.sin_port);
    *listen_fd = fd;
    return SF_OK;
}

static bool launch_is_our_var(const char *kv)
{
    static const char *const names[] = {"RANK",        "WORLD_SIZE",  "LOCAL_RANK",
                                        "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                                        SF_LAUNCHED_ENV, SF_MASTER_LISTEN_FD_ENV,
                                        SF_MASTER_LISTENING_ENV};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i]);
        if (strncmp(kv, names[i], n) == 0 && kv[n] == '=')
            return true;
    }
    return false;
}

/* Runs in the child between fork and exec: only async-signal-safe calls,
 * since the caller may have other threads (a lock held by one of them at
 * fork time would never be released here). */
static void launch_child_exec(int out_w, int err_w, int keep_fd, pid_t parent, char **argv,
                              char **envp, const sigset_t *old_mask)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) /* the launcher died before prctl took effect */
        _exit(128 + SIGKILL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, old_mask, NULL);
    int in = open("/dev/null", O_RDONLY);
    if (in >= 0 && in != 0) {
        dup2(in, 0);
        close(in);
    }
    if (dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
        _exit(127);
    if (keep_fd >= 0 && fcntl(keep_fd, F_SETFD, 0) != 0) /* inherited across exec */
        _exit(127);
    execve("/proc/self/exe", argv, envp);
    static const char msg[] = "shardflow: a rank cannot exec /proc/self/exe\n";
    launch_write_all(2, msg, sizeof msg - 1);
    _exit(127);
}

/* keep_fd: a descriptor the rank inherits (-1: none). */
static sf_status_t launch_spawn(launch_t *L, int rank, int keep_fd, char **argv, char **envp,
                                const sigset_t *old_mask, sf_err_t *err)
{
    launch_child_t *c = &L->children[rank];
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) != 0)
        return sf_err_set(err, SF_ERR_IO, NULL, "launcher: pipe: %s", strerror(errno));
    if (pipe2(pe, O_CLOEXEC) != 0) {
        int e = errno;
        close(po[0]);
        close(po[1]);
        return sf_err_set(err, SF_ERR_IO, NULL, "launcher: pipe: %s", strerror(e));
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        launch_child_exec(po[1], pe[1], keep_fd, parent, argv, envp, old_mask);
    int e = errno;
    close(po[1]);
    close(pe[1]);
    if (pid < 0) {
        close(po[0]);
        close(pe[0]);
        return sf_err_set(err, SF_ERR_IO, NULL, "launcher: fork for rank %d: %s", rank,
                          strerror(e));
    }
    /* Also here, so a signal sent right after fork reaches the group. */
    setpgid(pid, pid);
    c->pid = pid;
    L->n_live++;
    c->out.fd = po[0];
    c->err.fd = pe[0];
    fcntl(po[0], F_SETFL, fcntl(po[0], F_GETFL) | O_NONBLOCK);
    fcntl(pe[0], F_SETFL, fcntl(pe[0], F_GETFL) | O_NONBLOCK);
    return SF_OK;
}

static void launch_run_loop(launch_t *L, int sfd)
{
    struct pollfd *fds = calloc((size_t)(2 * L->n + 1), sizeof *fds);
    SF_ASSERT(fds != NULL);
    while (L->n_live > 0) {
        int k = 0;
        fds[k++] = (struct pollfd){.fd = sfd, .events = POLLIN};
        for (int r = 0; r < L->n; r++) {
            fds[k++] = (struct pollfd){.fd = L->children[r].out.fd, .events = POLLIN};
            fds[k++] = (struct pollfd){.fd = L->children[r].err.fd, .events = POLLIN};
        }
        int ready = poll(fds, (nfds_t)k, launch_poll_timeout_ms(L));
        if (ready < 0 && errno != EINTR)
            break; /* cannot happen with valid fds; the reap below still runs */
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
            launch_on_signal(L, (int)si.ssi_signo);
        for (int r = 0; r < L->n; r++) {
            launch_child_t *c = &L->children[r];
            if (fds[1 + 2 * r].revents != 0)
                launch_stream_drain(L, c, &c->out);
            if (fds[2 + 2 * r].revents != 0)
                launch_stream_drain(L, c, &c->err);
        }
        launch_reap(L);
        launch_check_deadlines(L);
    }
    free(fds);
    /* All ranks are gone. A pipe still open is held by a process the rank
     * started and left behind; take what it wrote and stop listening. */
    for (int r = 0; r < L->n; r++) {
        launch_child_t *c = &L->children[r];
        launch_stream_drain(L, c, &c->out);
        launch_stream_drain(L, c, &c->err);
        launch_stream_close(L, c, &c->out);
        launch_stream_close(L, c, &c->err);
    }
}

int sf_launch_nproc(int nproc, int argc, char **argv, double timeout_s, unsigned flags,
                    const char *const *sweep_dirs)
{
    SF_ASSERT(nproc >= 1 && nproc <= SF_LAUNCH_MAX_NPROC);
    SF_ASSERT(argc >= 1 && argv != NULL && argv[argc] == NULL);
    sf_err_t err = {0};
    int port = 0, listen_fd = -1;
    if (launch_master_port(&port, &listen_fd, &err) != SF_OK) {
        fprintf(stderr, "shardflow: ");
        sf_err_print(&err, stderr);
        return 1;
    }

    size_t n_env = 0;
    while (environ[n_env] != NULL)
        n_env++;
    char **envp = calloc(n_env + 10, sizeof *envp);
    launch_t *L = calloc(1, sizeof *L);
    launch_child_t *children = calloc((size_t)nproc, sizeof *children);
    SF_ASSERT(envp != NULL && L != NULL && children != NULL);
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (!launch_is_our_var(environ[i]))
            envp[k++] = environ[i];
    char v_rank[32], v_local[48], v_world[40], v_lworld[48], v_port[32], v_listen[48];
    snprintf(v_world, sizeof v_world, "WORLD_SIZE=%d", nproc);
    snprintf(v_lworld, sizeof v_lworld, "LOCAL_WORLD_SIZE=%d", nproc);
    snprintf(v_port, sizeof v_port, "MASTER_PORT=%d", port);
    envp[k++] = v_rank;
    envp[k++] = v_local;
    envp[k++] = v_world;
    envp[k++] = v_lworld;
    envp[k++] = "MASTER_ADDR=127.0.0.1";
    envp[k++] = v_port;
    envp[k++] = SF_LAUNCHED_ENV "=1";
    if (listen_fd >= 0)
        envp[k++] = SF_MASTER_LISTENING_ENV "=1";
    envp[k] = NULL; /* rank 0 adds the listening socket's number here */
    size_t k_listen = k;
    snprintf(v_listen, sizeof v_listen, SF_MASTER_LISTEN_FD_ENV "=%d", listen_fd);

    L->children = children;
    L->n = nproc;
    L->first_fail = -1;
    L->timeout_s = timeout_s > 0 ? timeout_s : 0;
    L->flags = flags;
    L->sweep_dirs = sweep_dirs;
    for (int r = 0; r < nproc; r++) {
        children[r].rank = r;
        children[r].out = (launch_stream_t){.fd = -1, .out_fd = 1};
        children[r].err = (launch_stream_t){.fd = -1, .out_fd = 2};
    }

    /* SIGCHLD, SIGINT and SIGTERM arrive through a signalfd, in the poll loop,
     * instead of in a handler. SIGCHLD must not be ignored or the kernel reaps
     * the ranks for us and their statuses are lost. */
    sigset_t set, old_mask;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    struct sigaction dfl = {.sa_handler = SIG_DFL}, old_chld;
    sigaction(SIGCHLD, &dfl, &old_chld);
    sigprocmask(SIG_BLOCK, &set, &old_mask);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    int rc;
    if (sfd < 0) {
        fprintf(stderr, "shardflow: launcher: signalfd: %s\n", strerror(errno));
        rc = 1;
    } else {
        fflush(stdout);
        fflush(stderr);
        for (int r = 0; r < nproc && err.code == SF_OK; r++) {
            snprintf(v_rank, sizeof v_rank, "RANK=%d", r);
            snprintf(v_local, sizeof v_local, "LOCAL_RANK=%d", r);
            int keep_fd = r == 0 ? listen_fd : -1;
            envp[k_listen] = keep_fd >= 0 ? v_listen : NULL;
            sf_status_t spawned = launch_spawn(L, r, keep_fd, argv, envp, &old_mask, &err);
            envp[k_listen] = NULL;
            if (r == 0 && listen_fd >= 0) {
                /* Rank 0 holds the socket now. Closing ours means a dead rank 0
                 * refuses connections instead of leaving them unanswered. */
                close(listen_fd);
                listen_fd = -1;
            }
            if (spawned != SF_OK) {
                fprintf(stderr, "shardflow: ");
                sf_err_print(&err, stderr);
                /* The ranks already started would wait for the missing one
                 * until their rendezvous timeout; end them now. */
                launch_signal_live(L, SIGTERM);
                L->kill_at = sf_clock_now_s() + SF_LAUNCH_KILL_AFTER_S;
            }
        }
        launch_run_loop(L, sfd);
        if (err.code != SF_OK)
            rc = 1;
        else if (L->first_fail >= 0)
            rc = L->fail_status;
        else if (L->got_signal != 0)
            rc = 128 + L->got_signal;
        else
            rc = 0;
        /* Take signals that came in after the last rank left, so restoring the
         * mask does not deliver them: they were meant for the ranks. */
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        }
        close(sfd);
    }
    if (listen_fd >= 0) /* no rank was started */
        close(listen_fd);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGCHLD, &old_chld, NULL);
    free(children);
    free(L);
    free(envp);
    return rc;
}
