/* The emulation flags of run: see emulate_flags.h. */
#include "emulate_flags.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A whole decimal number in lo..hi, or err naming the flag. */
static bool parse_int(const char *flag, const char *v, long lo, long hi, int *out, sf_err_t *err)
{
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (end == v || *end != '\0' || n < lo || n > hi) {
        sf_err_set(err, SF_ERR_INPUT, NULL, "%s expects %ld..%ld, got '%s'", flag, lo, hi, v);
        return false;
    }
    *out = (int)n;
    return true;
}

bool sf_emulate_flags_take(sf_emulate_flags_t *f, int argc, char **argv, int *i, sf_err_t *err)
{
    const char *arg = argv[*i];
    bool is_world = sf_cli_is_option(arg, "--emulate-world");
    if (!is_world && !sf_cli_is_option(arg, "--emulate-rank"))
        return false;
    const char *v = sf_cli_option_value(argc, argv, i, err);
    if (v == NULL)
        return true; /* err says the value is missing */
    /* The rank's upper bound depends on the world, which may come later on
     * the line: sf_emulate_flags_check compares the two. */
    if (is_world)
        f->has_world = parse_int("--emulate-world", v, 1, SF_EMULATE_MAX_WORLD, &f->world, err);
    else
        f->has_rank = parse_int("--emulate-rank", v, 0, SF_EMULATE_MAX_WORLD - 1, &f->rank, err);
    return true;
}

bool sf_emulate_flags_on(const sf_emulate_flags_t *f)
{
    return f->has_world && f->has_rank;
}

sf_status_t sf_emulate_flags_check(const sf_emulate_flags_t *f, int nproc, const char *backend,
                                   const char *out_dir, sf_err_t *err)
{
    if (!f->has_world && !f->has_rank)
        return SF_OK;
    if (f->has_world != f->has_rank)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "%s needs %s too: emulation runs rank R of a world of N "
                          "(--emulate-world N --emulate-rank R)",
                          f->has_world ? "--emulate-world" : "--emulate-rank",
                          f->has_world ? "--emulate-rank" : "--emulate-world");
    if (f->rank >= f->world)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "--emulate-rank %d is not a rank of --emulate-world %d (0..%d)", f->rank,
                          f->world, f->world - 1);
    if (nproc > 0)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "--nproc %d starts real ranks; --emulate-world runs one rank alone: pass "
                          "one or the other",
                          nproc);
    if (strcmp(backend, "auto") != 0)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "--backend %s does not go with --emulate-world: an emulated rank has no "
                          "peers, its collectives are local (backend 'emulate')",
                          backend);
    if (out_dir != NULL)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "--out %s is refused with --emulate-world: the collectives moved no "
                          "data, so the outputs have real sizes but not real values",
                          out_dir);
    return SF_OK;
}
