/* run --emulate-world N --emulate-rank R: one process runs rank R's share
 * of an N-rank job with every collective done locally (the emulate
 * backend), to measure what that rank holds without the other N-1. The
 * two flags go together, and emulation excludes what needs real ranks or
 * real values: --nproc, a --backend other than auto, and --out. */
#ifndef SF_EMULATE_FLAGS_H
#define SF_EMULATE_FLAGS_H

#include <stdbool.h>

#include "status.h"

/* The same bound as plan --world: an emulated rank is compared with the
 * plan of that rank, which plan can only make up to there. */
#define SF_EMULATE_MAX_WORLD 4096

typedef struct sf_emulate_flags {
    bool has_world, has_rank;
    int world, rank;
} sf_emulate_flags_t;

/* Consume argv[*i] if it is --emulate-world or --emulate-rank (either
 * form, "--flag V" or "--flag=V"). Returns true if consumed; a malformed
 * or out-of-range value fills err (SF_ERR_INPUT naming the flag). */
bool sf_emulate_flags_take(sf_emulate_flags_t *f, int argc, char **argv, int *i, sf_err_t *err);

/* Whether the command line asked for emulation (both flags given). */
bool sf_emulate_flags_on(const sf_emulate_flags_t *f);

/* After parsing: both flags or neither, rank below world, and none of
 * --nproc (nproc > 0), --backend other than auto, --out (out_dir not
 * NULL) with them. SF_ERR_INPUT (exit 2) saying which and why. */
SF_NODISCARD sf_status_t sf_emulate_flags_check(const sf_emulate_flags_t *f, int nproc,
                                                const char *backend, const char *out_dir,
                                                sf_err_t *err);

#endif
