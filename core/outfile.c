/* Safe output files; see outfile.h.
 *
 * The registry of live temporaries is a fixed array of fixed buffers, so the
 * signal handler reads nothing that another thread could free under it: a
 * slot is claimed (1), filled, published (2); the handler and atexit only
 * unlink published slots, and only in the process that created them (a
 * forked child that exits must not remove its parent's files). */
#include "outfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OF_SUFFIX_HEX 12 /* random hex digits after "<path>.tmp.<pid>." */

static char of_names[SF_OUTFILE_MAX_LIVE][PATH_MAX];
static pid_t of_owner[SF_OUTFILE_MAX_LIVE];
static atomic_int of_state[SF_OUTFILE_MAX_LIVE]; /* 0 free, 1 being filled, 2 live */
static atomic_int of_installed;

static void of_unlink_live(void)
{
    pid_t me = getpid();
    for (int i = 0; i < SF_OUTFILE_MAX_LIVE; i++)
        if (atomic_load(&of_state[i]) == 2 && of_owner[i] == me)
            unlink(of_names[i]);
}

/* Async-signal-safe: unlink, then die of the same signal (SA_RESETHAND put
 * the default back; the raised signal lands when the handler returns). */
static void of_on_signal(int sig)
{
    int saved = errno;
    of_unlink_live();
    raise(sig);
    errno = saved;
}

static void of_at_exit(void)
{
    of_unlink_live();
}

/* Once per process: the cleanup hooks. A signal the program handles itself
 * or ignores is left alone. */
static void of_install(void)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&of_installed, &expected, 1))
        return;
    atexit(of_at_exit);
    static const int sigs[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL ||
            (old.sa_flags & SA_SIGINFO))
            continue;
        struct sigaction sa = {.sa_handler = of_on_signal, .sa_flags = SA_RESETHAND};
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

static int of_register(const char *tmp)
{
    if (strlen(tmp) >= PATH_MAX)
        return -1;
    for (int i = 0; i < SF_OUTFILE_MAX_LIVE; i++) {
        int expected = 0;
        if (!atomic_compare_exchange_strong(&of_state[i], &expected, 1))
            continue;
        memcpy(of_names[i], tmp, strlen(tmp) + 1);
        of_owner[i] = getpid();
        atomic_store(&of_state[i], 2);
        return i;
    }
    return -1; /* full: the file still works, it just is not cleaned on a signal */
}

static void of_unregister(int slot)
{
    if (slot >= 0)
        atomic_store(&of_state[slot], 0);
}

static const char *of_kind(mode_t m)
{
    if (S_ISDIR(m))
        return "a folder";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISSOCK(m))
        return "a socket";
    return "a special file";
}

sf_status_t sf_outfile_check(const char *path, sf_err_t *err)
{
    struct stat sb;
    if (lstat(path, &sb) != 0 || S_ISREG(sb.st_mode))
        return SF_OK; /* absent, or unreachable: creating the temporary says why */
    sf_pos_t pos = {.file = path};
    if (S_ISLNK(sb.st_mode)) {
        struct stat tb;
        /* rename replaces the link, not its target; a dangling link is fine */
        if (stat(path, &tb) != 0 || S_ISREG(tb.st_mode))
            return SF_OK;
        return sf_err_set(err, SF_ERR_INPUT, &pos,
                          "not a regular file (a symlink to %s); refusing to write over it",
                          of_kind(tb.st_mode));
    }
    return sf_err_set(err, SF_ERR_INPUT, &pos,
                      "not a regular file (%s); refusing to write over it",
                      of_kind(sb.st_mode));
}

static sf_status_t of_check_noreplace(const char *path, sf_err_t *err)
{
    struct stat sb;
    if (lstat(path, &sb) == 0)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "output file exists: %s (pass --overwrite)",
                          path);
    return SF_OK;
}

/* 48 unpredictable bits: getrandom, or the clock and a counter if the
 * kernel has none to give (the O_EXCL open still keeps it safe). */
static uint64_t of_random(void)
{
    static atomic_uint counter;
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
            ((uint64_t)atomic_fetch_add(&counter, 1) << 40) ^ (uint64_t)getpid();
    }
    return r;
}

sf_status_t sf_outfile_open(const char *path, unsigned flags, sf_outfile_t *o, sf_err_t *err)
{
    memset(o, 0, sizeof *o);
    o->slot = -1;
    sf_status_t st = sf_outfile_check(path, err);
    if (st == SF_OK && (flags & SF_OUTFILE_NOREPLACE))
        st = of_check_noreplace(path, err);
    if (st != SF_OK)
        return st;
    size_t n = strlen(path) + 64;
    o->path = malloc(strlen(path) + 1);
    char *tmp = malloc(n);
    if (o->path == NULL || tmp == NULL) {
        free(tmp);
        sf_outfile_abort(o);
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "out of memory writing %s", path);
    }
    memcpy(o->path, path, strlen(path) + 1);
    o->flags = flags;
    of_install();
    int fd = -1, e = 0;
    for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
        snprintf(tmp, n, "%s.tmp.%ld.%0*llx", path, (long)getpid(), OF_SUFFIX_HEX,
                 (unsigned long long)(of_random() & 0xffffffffffffull));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        e = errno;
        if (fd < 0 && e != EEXIST)
            break; /* only a name collision is worth another try */
    }
    if (fd < 0) {
        free(tmp);
        sf_outfile_abort(o);
        sf_pos_t pos = {.file = path};
        /* A folder that is missing, not ours or read-only is the user's to
         * fix (exit 2); anything else is the machine's. */
        bool is_user = e == ENOENT || e == ENOTDIR || e == EACCES || e == EPERM || e == EROFS ||
                       e == EISDIR || e == ENAMETOOLONG || e == ELOOP;
        return sf_err_set(err, is_user ? SF_ERR_INPUT : SF_ERR_IO, &pos,
                          "cannot create a temporary file next to it: %s", strerror(e));
    }
    o->tmp = tmp;
    o->slot = of_register(tmp);
    o->fp = fdopen(fd, "wb");
    if (o->fp == NULL) {
        e = errno;
        close(fd);
        sf_outfile_abort(o);
        return sf_err_set(err, SF_ERR_IO, NULL, "cannot write %s: %s", path, strerror(e));
    }
    return SF_OK;
}

/* Make the rename itself durable. Best effort: the data is already synced
 * and the file is in place, so a failure here is not worth failing for. */
static void of_sync_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static int of_rename(const char *tmp, const char *path, bool noreplace)
{
    if (!noreplace)
        return rename(tmp, path);
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    /* The file system cannot do it atomically; the check at open stands. */
    return rename(tmp, path);
}

sf_status_t sf_outfile_commit(sf_outfile_t *o, sf_err_t *err)
{
    SF_ASSERT(o->fp != NULL && o->tmp != NULL);
    sf_pos_t pos = {.file = o->path};
    int e = 0;
    if (ferror(o->fp))
        e = errno != 0 ? errno : EIO;
    if (e == 0 && (fflush(o->fp) != 0 || fsync(fileno(o->fp)) != 0))
        e = errno != 0 ? errno : EIO;
    if (fclose(o->fp) != 0 && e == 0)
        e = errno != 0 ? errno : EIO;
    o->fp = NULL;
    if (e != 0) {
        sf_status_t st = sf_err_set(err, SF_ERR_IO, &pos, "cannot write: %s", strerror(e));
        sf_outfile_abort(o);
        return st;
    }
    /* Again: the path may have changed while we wrote. */
    sf_status_t st = sf_outfile_check(o->path, err);
    if (st != SF_OK) {
        sf_outfile_abort(o);
        return st;
    }
    bool noreplace = (o->flags & SF_OUTFILE_NOREPLACE) != 0;
    if (of_rename(o->tmp, o->path, noreplace) != 0) {
        e = errno;
        if (noreplace && e == EEXIST)
            st = sf_err_set(err, SF_ERR_INPUT, NULL, "output file exists: %s (pass --overwrite)",
                            o->path);
        else
            st = sf_err_set(err, SF_ERR_IO, &pos, "cannot rename the temporary file into place: %s",
                            strerror(e));
        sf_outfile_abort(o);
        return st;
    }
    of_unregister(o->slot);
    of_sync_dir(o->path);
    free(o->tmp);
    free(o->path);
    memset(o, 0, sizeof *o);
    o->slot = -1;
    return SF_OK;
}

void sf_outfile_abort(sf_outfile_t *o)
{
    if (o->fp != NULL)
        fclose(o->fp);
    if (o->tmp != NULL)
        unlink(o->tmp);
    if (o->path != NULL || o->tmp != NULL)
        of_unregister(o->slot);
    free(o->tmp);
    free(o->path);
    memset(o, 0, sizeof *o);
    o->slot = -1;
}

/* Whether name is "<anything>.tmp.<pid>.<OF_SUFFIX_HEX hex digits>". */
static bool of_is_temp_of(const char *name, pid_t pid)
{
    char mid[40];
    int k = snprintf(mid, sizeof mid, ".tmp.%ld.", (long)pid);
    size_t len = strlen(name);
    if (len < (size_t)k + OF_SUFFIX_HEX + 1)
        return false;
    const char *suffix = name + len - OF_SUFFIX_HEX;
    if (strncmp(suffix - k, mid, (size_t)k) != 0)
        return false;
    for (int i = 0; i < OF_SUFFIX_HEX; i++)
        if (!((suffix[i] >= '0' && suffix[i] <= '9') || (suffix[i] >= 'a' && suffix[i] <= 'f')))
            return false;
    return true;
}

int sf_outfile_sweep_dir(const char *dir, pid_t pid)
{
    const char *d = dir != NULL && dir[0] != '\0' ? dir : ".";
    DIR *dp = opendir(d);
    if (dp == NULL)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (!of_is_temp_of(de->d_name, pid))
            continue;
        if (unlinkat(dirfd(dp), de->d_name, 0) == 0)
            n++;
    }
    closedir(dp);
    return n;
}
