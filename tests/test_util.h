/* Shared helpers for the Check suites: paths into the source tree, temp
 * folders, and running the shardflow command with its output captured. */
#ifndef SF_TEST_UTIL_H
#define SF_TEST_UTIL_H

#include <stddef.h>
#include <sys/types.h>

/* SF_SOURCE_DIR "/" rel, in a static buffer rotated over 8 slots. */
const char *tu_src(const char *rel);
/* A fresh empty folder under /tmp; static buffer rotated over 8 slots. */
const char *tu_tmpdir(void);
/* Read a whole file; caller frees; NULL if it cannot be read. */
char *tu_read_file(const char *path, size_t *len);
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

#endif
