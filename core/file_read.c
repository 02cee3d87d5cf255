/* See file_read.h. */
#include "file_read.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *file_kind(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a file";
}

sf_status_t sf_file_open_regular(const char *path, const sf_pos_t *at, int *fd, uint64_t *size,
                                 sf_err_t *err)
{
    *fd = -1;
    int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (f < 0) {
        int e = errno;
        bool is_user = e == ENOENT || e == ELOOP || e == ENOTDIR || e == EACCES ||
                       e == ENAMETOOLONG || e == EISDIR || e == ENXIO || e == EPERM;
        return sf_err_set(err, is_user ? SF_ERR_INPUT : SF_ERR_IO, at, "cannot open '%s': %s",
                          path, strerror(e));
    }
    struct stat sb;
    if (fstat(f, &sb) != 0) {
        int e = errno;
        close(f);
        return sf_err_set(err, SF_ERR_IO, at, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(f);
        return sf_err_set(err, SF_ERR_INPUT, at, "'%s' is not a regular file (%s)", path,
                          file_kind(sb.st_mode));
    }
    int flags = fcntl(f, F_GETFL);
    if (flags < 0 || fcntl(f, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(f);
        return sf_err_set(err, SF_ERR_IO, at, "cannot open '%s': %s", path, strerror(e));
    }
    *fd = f;
    if (size != NULL)
        *size = (uint64_t)sb.st_size;
    return SF_OK;
}

sf_status_t sf_file_load(const char *path, size_t max_bytes, char **out, size_t *len,
                         sf_err_t *err)
{
    *out = NULL;
    int fd;
    uint64_t size;
    sf_status_t st = sf_file_open_regular(path, NULL, &fd, &size, err);
    if (st != SF_OK)
        return st;
    if (size > max_bytes || size >= SIZE_MAX) {
        close(fd);
        return sf_err_set(err, SF_ERR_INPUT, NULL, "'%s' is %llu bytes, more than the limit of %zu",
                          path, (unsigned long long)size, max_bytes);
    }
    char *buf = malloc((size_t)size + 1);
    if (buf == NULL) {
        close(fd);
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "cannot allocate %llu bytes to read '%s'",
                          (unsigned long long)size + 1, path);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, (size_t)size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            close(fd);
            free(buf);
            return sf_err_set(err, SF_ERR_IO, NULL, "cannot read '%s': %s", path,
                              e ? strerror(e) : "it shrank while being read");
        }
        got += (size_t)r;
    }
    close(fd);
    buf[size] = '\0';
    if (len != NULL)
        *len = (size_t)size;
    *out = buf;
    return SF_OK;
}

char *sf_file_read(const char *path, size_t max_bytes, size_t *len)
{
    sf_err_t err = {0};
    char *buf = NULL;
    if (sf_file_load(path, max_bytes, &buf, len, &err) != SF_OK)
        return NULL;
    return buf;
}
