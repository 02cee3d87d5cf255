/* memviz's output files: written under a temporary name and renamed into
 * place only when complete, so an error never leaves half a page. */
#include "memviz.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

sf_status_t sf_mv_out_open(const char *path, sf_mv_out_t *o, sf_err_t *err)
{
    sf_pos_t pos = {.file = path};
    memset(o, 0, sizeof *o);
    size_t n = strlen(path) + 32;
    o->path = malloc(n);
    o->tmp = malloc(n);
    if (o->path == NULL || o->tmp == NULL) {
        sf_mv_out_abort(o);
        return sf_err_set(err, SF_ERR_NOMEM, &pos, "out of memory");
    }
    snprintf(o->path, n, "%s", path);
    snprintf(o->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    o->fp = fopen(o->tmp, "wb");
    if (o->fp == NULL) {
        int e = errno;
        free(o->tmp);
        o->tmp = NULL; /* nothing was created: abort must not unlink */
        sf_mv_out_abort(o);
        return sf_err_set(err, SF_ERR_IO, &pos, "cannot create %s.tmp.%ld: %s", path,
                          (long)getpid(), strerror(e));
    }
    return SF_OK;
}

sf_status_t sf_mv_out_commit(sf_mv_out_t *o, sf_err_t *err)
{
    sf_pos_t pos = {.file = o->path};
    int e = 0;
    if (ferror(o->fp) || fflush(o->fp) != 0)
        e = errno != 0 ? errno : EIO;
    if (fclose(o->fp) != 0 && e == 0)
        e = errno != 0 ? errno : EIO;
    o->fp = NULL;
    if (e == 0 && rename(o->tmp, o->path) != 0)
        e = errno;
    if (e != 0) {
        sf_status_t st = sf_err_set(err, SF_ERR_IO, &pos, "cannot write: %s", strerror(e));
        sf_mv_out_abort(o);
        return st;
    }
    free(o->tmp);
    free(o->path);
    memset(o, 0, sizeof *o);
    return SF_OK;
}

void sf_mv_out_abort(sf_mv_out_t *o)
{
    if (o->fp != NULL)
        fclose(o->fp);
    if (o->tmp != NULL)
        unlink(o->tmp);
    free(o->tmp);
    free(o->path);
    memset(o, 0, sizeof *o);
}
