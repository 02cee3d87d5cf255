/* `shardflow run --nproc N`: start N ranks of this very binary on one host,
 * torchrun style, forward their output line by line with a "[rank R] "
 * prefix, and make sure that when one rank fails the others end too and no
 * process outlives the launcher. */
#ifndef SF_LAUNCH_H
#define SF_LAUNCH_H

#include "status.h"

/* The most ranks one launcher starts. */
#define SF_LAUNCH_MAX_NPROC 1024
/* After the first rank fails, the others get timeout_s + this many seconds to
 * exit on their own (so a rank stuck in a collective with the dead one can hit
 * its collective timeout and say which collective and which peer), then
 * SIGCONT and SIGTERM, then SIGKILL SF_LAUNCH_FAIL_KILL_AFTER_S seconds later.
 * A stopped rank (SIGSTOP: it can report nothing) is SIGKILLed at once. */
#define SF_LAUNCH_GRACE_MARGIN_S 1.0
#define SF_LAUNCH_FAIL_KILL_AFTER_S 1.0
/* SIGINT or SIGTERM sent to the launcher: the ranks get this long to end
 * (and remove their temporaries) before SIGKILL. */
#define SF_LAUNCH_KILL_AFTER_S 3.0

/* flags of sf_launch_nproc. */
enum {
    /* Rank 0's stdout is the command's own output (collbench's table), so it
     * passes through unprefixed, to be piped and compared like nccl-tests'.
     * Its stderr and every other rank's output keep the prefix. */
    SF_LAUNCH_RANK0_STDOUT_RAW = 1u << 0,
};

/* Run argv (argv[0] included, NULL-terminated, --nproc already removed) as
 * nproc ranks: each a child that execs /proc/self/exe with argv and with the
 * environment of the caller plus
 *   RANK=r WORLD_SIZE=nproc LOCAL_RANK=r LOCAL_WORLD_SIZE=nproc
 *   MASTER_ADDR=127.0.0.1 MASTER_PORT=<MASTER_PORT from the environment if
 *   set, else a port the kernel just handed out for 127.0.0.1:0>
 *   SF_LAUNCHED=1 (a child must not launch again)
 * and, when the launcher chose the port: in rank 0, SF_MASTER_LISTEN_FD, the
 * inherited socket already listening on that port; in every rank,
 * SF_MASTER_LISTENING=1, so a refused connection means rank 0 has exited
 * (core/launch_env.h).
 *
 * Children: stdin is /dev/null; stdout and stderr are pipes whose lines the
 * launcher writes to its own stdout and stderr with a "[rank R] " prefix
 * (except as flags say, above; a
 * last line without a newline gets one at EOF; a line over 64 KiB is cut into
 * several prefixed pieces). Each child is its own process group (signals go
 * to the group, so a rank's own helpers end with it) and has
 * PR_SET_PDEATHSIG=SIGKILL, so it dies if the launcher dies, SIGKILL included.
 *
 * Failure: when a rank exits non-zero (or by a signal), the launcher prints
 *   "shardflow: rank R exited with status S; ending ranks A, B"
 * on stderr, SIGKILLs every rank that is stopped (then or later), gives the
 * rest timeout_s + SF_LAUNCH_GRACE_MARGIN_S seconds (timeout_s <= 0 counts
 * as 0) to exit by themselves, then sends SIGCONT and SIGTERM and,
 * SF_LAUNCH_FAIL_KILL_AFTER_S later, SIGKILL. SIGINT or SIGTERM sent to the
 * launcher goes to every rank still running, followed by SIGKILL
 * SF_LAUNCH_KILL_AFTER_S later (a second signal sends SIGKILL at once).
 *
 * Cleanup: when a rank ends with a non-zero status (SIGKILL included), the
 * temporaries it left in the folders of sweep_dirs (NULL-terminated, may be
 * NULL; see sf_outfile_sweep_dir) are removed after it is reaped.
 *
 * Blocks until every child has been reaped. Returns the exit status for the
 * whole job: 0 when all ranks exit 0; else the status of the first rank to
 * fail, in order of exit (a rank killed by signal S counts as 128 + S); if
 * every rank exited 0 after the launcher was signalled with S, 128 + S; 1
 * when the launcher itself could not start the ranks (message on stderr).
 * Not thread-safe: it changes the signal mask of the calling thread and
 * restores it before returning. */
int sf_launch_nproc(int nproc, int argc, char **argv, double timeout_s, unsigned flags,
                    const char *const *sweep_dirs);

/* Find and remove "--nproc N" or "--nproc=N" from argv (argc entries,
 * argv[0] included; the search stops at a "--" argument). On SF_OK:
 * *nproc is N (1..SF_LAUNCH_MAX_NPROC), or 0 when the option is absent;
 * *out_argv is a new NULL-terminated array of *out_argc entries that the
 * caller frees with free() (the strings are borrowed from argv). A missing
 * or malformed value, or a repeated option, is SF_ERR_INPUT naming it, and
 * *out_argv is NULL. */
SF_NODISCARD sf_status_t sf_launch_strip_nproc(int argc, char **argv, int *nproc,
                                               char ***out_argv, int *out_argc, sf_err_t *err);

#endif
