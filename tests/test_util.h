/* Shared helpers for the Check suites: paths into the source tree, temp
 * folders, running the shardflow command with its output captured, free
 * ports, and the run-the-suite part of every main. */
#ifndef SF_TEST_UTIL_H
#define SF_TEST_UTIL_H

#include <check.h>
#include <stddef.h>
#include <sys/types.h>

/* SF_SOURCE_DIR "/" rel, in a static buffer rotated over 8 slots. */
const char *tu_src(const char *rel);
/* A fresh empty folder under /tmp; static buffer rotated over 8 slots. */
const char *tu_tmpdir(void);
/* dir "/" name, in a static buffer rotated over 4 slots of its own; aborts
 * rather than truncate (a truncated path would test the wrong file). */
const char *tu_join(const char *dir, const char *name);
/* Read a whole file; caller frees; NULL if it cannot be read. */
char *tu_read_file(const char *path, size_t *len);
/* Do the files in run folders a and b hold the same bytes for every rank
 * 0..world-1 (rank<r>.safetensors)? Fails the calling test, naming the
 * rank and `what`, when one differs or cannot be read. */
void tu_expect_same_ranks(const char *a, const char *b, int world, const char *what);
/* Write text to path; returns 0 on success. */
int tu_write_file(const char *path, const char *text);
/* Run `sh -c cmd`, capture stdout+stderr into a malloc'd string (*out, may be
 * NULL), return the exit status (or 128+signal). */
int tu_run(const char *cmd, char **out);
/* Path of the built shardflow command (from the SF_SHARDFLOW env set by CTest,
 * else SF_BINARY_DIR/shardflow). */
const char *tu_shardflow(void);
/* Run the shardflow command with args (a shell-quoted string), capturing
 * its output as tu_run does; returns its exit status. */
int tu_sf(const char *args, char **out);
/* Processes whose environment holds the entry `marker` ("K=V", exactly) and,
 * if not NULL, also `also`. Up to max pids go to pids (may be NULL with max
 * 0); returns how many match. Zombies expose no environment: not counted. */
int tu_find_env_procs(const char *marker, const char *also, pid_t *pids, int max);
/* A TCP socket listening on 127.0.0.1 at a port the kernel picked (*port):
 * for tests of a port already taken. Caller closes the returned fd. Fails
 * the calling test (ck_assert) when it cannot listen. */
int tu_listen_loopback(int *port);
/* A TCP port on 127.0.0.1 that was free a moment ago (listened on, closed):
 * for MASTER_PORT and listeners. Racy by nature, good enough for tests.
 * Fails the calling test (ck_assert) when no socket can be bound. */
int tu_free_port(void);
/* How many entries dir holds, hidden ones included (a leftover ".tmp" file
 * must count), "." and ".." not. Fails the calling test if dir cannot be
 * opened. */
int tu_count_dir_entries(const char *dir);
/* How many times needle occurs in hay (overlaps counted). */
int tu_count(const char *hay, const char *needle);
/* `shardflow run --nproc world GRAPH args --out DIR` into a fresh folder
 * DIR, which it returns (static, rotated over 64 slots). Fails the calling
 * test, with the command's output, unless it exits 0. */
const char *tu_run_graph(const char *graph, int world, const char *args);
/* `shardflow ARGS --json`: field `field` (an integer) of rank `rank`'s
 * entry. Fails the calling test unless the command exits 0 and has it. */
long long tu_json_rank_field(const char *args, int rank, const char *field);
/* Run every test of s in fork mode and free the runner (which frees s).
 * Returns the exit status for main: 0 when all passed, 1 otherwise. */
int tu_run_suite(Suite *s);

#endif
