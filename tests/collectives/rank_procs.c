/* See rank_procs.h. */
#include "rank_procs.h"

#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"

sf_rank_info_t tu_rank_info(int rank, int world, int port)
{
    sf_rank_info_t ri;
    memset(&ri, 0, sizeof ri);
    ri.rank = rank;
    ri.world = world;
    ri.local_rank = rank;
    snprintf(ri.master_addr, sizeof ri.master_addr, "127.0.0.1");
    ri.master_port = port;
    snprintf(ri.source, sizeof ri.source, "torchrun");
    return ri;
}

void tu_run_procs(int n, tu_proc_fn fn, void *arg, int port, double limit_s, int *codes)
{
    pid_t pids[16];
    ck_assert_int_le(n, 16);
    fflush(NULL);
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            alarm((unsigned)limit_s + 5); /* belt and braces if the parent dies */
            /* exit, not _exit: the leak checker of a sanitized build runs at exit. */
            exit(fn(i, n, port, arg));
        }
    }
    double deadline = sf_clock_now_s() + limit_s;
    int n_left = n;
    for (int i = 0; i < n; i++)
        codes[i] = -1;
    while (n_left > 0) {
        int status;
        pid_t p = waitpid(-1, &status, WNOHANG);
        if (p > 0) {
            for (int i = 0; i < n; i++)
                if (pids[i] == p) {
                    codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                    n_left--;
                }
            continue;
        }
        if (sf_clock_now_s() > deadline) {
            for (int i = 0; i < n; i++)
                if (codes[i] == -1) {
                    kill(pids[i], SIGKILL);
                    waitpid(pids[i], &status, 0);
                    codes[i] = 128 + SIGKILL;
                    fprintf(stderr, "process %d of %d killed after %.0f s\n", i, n, limit_s);
                }
            break;
        }
        usleep(2000);
    }
}
