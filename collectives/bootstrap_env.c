/* Rank identity from the launcher's environment: torchrun's RANK/WORLD_SIZE,
 * then mpirun's OMPI_COMM_WORLD_*, then srun's SLURM_*, else one rank.
 * Invariant: a returned identity has 0 <= rank < world and, when world > 1,
 * a MASTER_ADDR and a MASTER_PORT in 1..65535. */
#include "bootstrap_impl.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Parse the decimal integer in variable `name` into [lo, hi]. A variable
 * that is unset leaves *out alone and sets *found false. */
static sf_status_t env_int(const char *name, long lo, long hi, long *out, bool *found,
                           sf_err_t *err)
{
    const char *s = getenv(name);
    *found = s != NULL;
    if (s == NULL)
        return SF_OK;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (s[0] == '\0' || end == s || *end != '\0' || errno != 0)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "%s='%s' is not an integer", name, s);
    if (v < lo || v > hi)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "%s=%ld is out of range [%ld, %ld]", name, v, lo,
                          hi);
    *out = v;
    return SF_OK;
}

/* One launcher's naming convention. */
typedef struct env_scheme {
    const char *source;
    const char *rank, *world, *local_rank;
} env_scheme_t;

static const env_scheme_t schemes[] = {
    {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK"},
    {"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
    {"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"},
};

static sf_status_t read_master(sf_rank_info_t *out, sf_err_t *err)
{
    const char *addr = getenv("MASTER_ADDR");
    long port = 0;
    bool has_port = false;
    sf_status_t st = env_int("MASTER_PORT", 1, 65535, &port, &has_port, err);
    if (st != SF_OK)
        return st;
    if (addr != NULL) {
        if (addr[0] == '\0' || strlen(addr) >= sizeof out->master_addr)
            return sf_err_set(err, SF_ERR_INPUT, NULL,
                              "MASTER_ADDR must be a host name or address of 1 to %zu characters",
                              sizeof out->master_addr - 1);
        snprintf(out->master_addr, sizeof out->master_addr, "%s", addr);
    }
    if (has_port)
        out->master_port = (int)port;
    if (out->world > 1 && (addr == NULL || !has_port))
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "%s started %d ranks but %s is not set: the ranks need MASTER_ADDR and "
                          "MASTER_PORT to meet",
                          out->source, out->world, addr == NULL ? "MASTER_ADDR" : "MASTER_PORT");
    return SF_OK;
}

sf_status_t sf_rank_info_from_env(sf_rank_info_t *out, sf_err_t *err)
{
    memset(out, 0, sizeof *out);
    out->world = 1;
    snprintf(out->source, sizeof out->source, "single");
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        const env_scheme_t *sc = &schemes[i];
        long rank = 0, world = 1, local = -1;
        bool has_rank, has_world, has_local;
        sf_status_t st = env_int(sc->rank, 0, INT_MAX - 1, &rank, &has_rank, err);
        if (st == SF_OK)
            st = env_int(sc->world, 1, INT_MAX, &world, &has_world, err);
        if (st == SF_OK)
            st = env_int(sc->local_rank, 0, INT_MAX - 1, &local, &has_local, err);
        if (st != SF_OK)
            return st;
        if (!has_rank && !has_world)
            continue;
        if (has_rank != has_world)
            return sf_err_set(err, SF_ERR_INPUT, NULL, "%s is set but %s is not",
                              has_rank ? sc->rank : sc->world, has_rank ? sc->world : sc->rank);
        if (rank >= world)
            return sf_err_set(err, SF_ERR_INPUT, NULL, "%s=%ld is not below %s=%ld", sc->rank, rank,
                              sc->world, world);
        out->rank = (int)rank;
        out->world = (int)world;
        /* A launcher that does not say: single-host launches are the
         * common case, where the global rank is also the local one. */
        out->local_rank = has_local ? (int)local : (int)rank;
        snprintf(out->source, sizeof out->source, "%s", sc->source);
        return read_master(out, err);
    }
    return read_master(out, err);
}

sf_status_t sf_bootstrap_token_ensure(sf_err_t *err)
{
    const char *set = getenv(BS_TOKEN_ENV);
    if (set != NULL) {
        char token[BS_TOKEN_BYTES];
        return bs_gate_token(token, err); /* only checks its length */
    }
    uint8_t raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return sf_err_set(err, SF_ERR_IO, NULL, "cannot make a job token: getrandom: %s",
                          strerror(errno));
    char hex[2 * sizeof raw + 1];
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    if (setenv(BS_TOKEN_ENV, hex, 1) != 0)
        return sf_err_set(err, SF_ERR_IO, NULL, "cannot set %s: %s", BS_TOKEN_ENV,
                          strerror(errno));
    return SF_OK;
}
