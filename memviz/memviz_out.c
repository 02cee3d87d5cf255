/* memviz's output files: written under a temporary name and renamed into
 * place only when complete, so an error never leaves half a page (the rules
 * are core/outfile.h's). */
#include "memviz.h"


sf_status_t sf_mv_out_open(const char *path, sf_mv_out_t *o, sf_err_t *err)
{
    sf_status_t st = sf_outfile_open(path, 0, &o->out, err);
    o->fp = o->out.fp;
    return st;
}

sf_status_t sf_mv_out_commit(sf_mv_out_t *o, sf_err_t *err)
{
    o->fp = NULL;
    return sf_outfile_commit(&o->out, err);
}

void sf_mv_out_abort(sf_mv_out_t *o)
{
    o->fp = NULL;
    sf_outfile_abort(&o->out);
}
