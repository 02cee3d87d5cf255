/* The environment variables `shardflow run --nproc` (launch/) sets for the
 * ranks it starts, named once for the launcher and the layers that read
 * them (the command, the bootstrap). */
#ifndef SF_LAUNCH_ENV_H
#define SF_LAUNCH_ENV_H

/* Set to 1 in every rank: a rank must not launch again. */
#define SF_LAUNCHED_ENV "SF_LAUNCHED"

/* Set in rank 0 only, when the launcher chose MASTER_PORT itself: the number
 * of an inherited descriptor that already listens on 127.0.0.1:MASTER_PORT.
 * The launcher binds the port and hands the socket down, so no other process
 * can take the port between the launcher choosing it and rank 0 listening
 * (a port only chosen, then closed, was taken that way under a busy ctest). */
#define SF_MASTER_LISTEN_FD_ENV "SF_MASTER_LISTEN_FD"

/* Set to 1 in every rank when the launcher bound MASTER_PORT before starting
 * any rank: the port listens from then until rank 0 exits, so a refused
 * connection means rank 0 is gone, not that it has yet to start. */
#define SF_MASTER_LISTENING_ENV "SF_MASTER_LISTENING"

#endif
