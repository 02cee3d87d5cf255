/* Writing an output file safely: into a temporary next to it, renamed into
 * place only when complete. Every writer of a file the user names (outputs,
 * traces, pictures) goes through here, so all of them share these rules:
 *
 * - The temporary is "<path>.tmp.<pid>.<random>", created with
 *   O_CREAT|O_EXCL|O_NOFOLLOW: a file or symlink planted at that name makes
 *   the open retry under another name, never write through it.
 * - Only an absent path, a regular file or a symlink (the link itself is
 *   replaced, never its target) may be replaced. A device, FIFO, socket,
 *   folder or a symlink to one of those is SF_ERR_INPUT naming the path:
 *   `--trace /dev/null` must not turn /dev/null into a regular file.
 * - Live temporaries are registered process-wide: SIGINT and SIGTERM (when
 *   the program left them at their default) and exit() remove them. A
 *   SIGKILLed process cannot; whoever started it removes "<path>.tmp.<pid>.*"
 *   with sf_outfile_sweep_dir (the --nproc launcher does, for its ranks). */
#ifndef SF_OUTFILE_H
#define SF_OUTFILE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "status.h"

/* The most temporaries one process keeps open at once. */
#define SF_OUTFILE_MAX_LIVE 32

/* flags of sf_outfile_open. */
enum {
    /* Fail with SF_ERR_INPUT ("output file exists ... --overwrite") when path
     * exists at open, or appeared by commit (checked atomically where the
     * file system can: renameat2 RENAME_NOREPLACE). */
    SF_OUTFILE_NOREPLACE = 1u << 0,
};

typedef struct sf_outfile {
    FILE *fp;     /* owned: the temporary, open for writing; NULL when closed */
    char *path;   /* owned: the final name */
    char *tmp;    /* owned: the temporary's name; NULL when none exists */
    int slot;     /* index in the process registry of temporaries, -1 if none */
    unsigned flags;
} sf_outfile_t;

/* Check path may be written and create its temporary. On failure *o is
 * zeroed (abort on it is a no-op) and nothing was created. Errors:
 * SF_ERR_INPUT for a path that may not be replaced, SF_ERR_IO when the
 * temporary cannot be created (a missing folder, no permission). */
SF_NODISCARD sf_status_t sf_outfile_open(const char *path, unsigned flags, sf_outfile_t *o,
                                         sf_err_t *err);

/* Flush, fsync, close and rename the temporary over path (the path is
 * checked again first). On failure the temporary is removed and path is as
 * it was. Either way *o is released. */
SF_NODISCARD sf_status_t sf_outfile_commit(sf_outfile_t *o, sf_err_t *err);

/* Close and remove the temporary. Safe on a zeroed or released *o. */
void sf_outfile_abort(sf_outfile_t *o);

/* SF_OK when path is absent or may be replaced (see above); else
 * SF_ERR_INPUT naming it. For checks before any work starts. */
SF_NODISCARD sf_status_t sf_outfile_check(const char *path, sf_err_t *err);

/* Remove every "*.tmp.<pid>.*" temporary in folder dir ("" or NULL: ".")
 * that a process with that pid, now dead, left behind. Returns how many. */
int sf_outfile_sweep_dir(const char *dir, pid_t pid);

#endif
