/* `--nproc N` out of a command line (sf_launch_strip_nproc in launch.h):
 * the launcher's one option, found wherever it sits before "--" so the
 * rest of argv reaches the ranks untouched. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "launch.h"

sf_status_t sf_launch_strip_nproc(int argc, char **argv, int *nproc, char ***out_argv,
                                  int *out_argc, sf_err_t *err)
{
    *nproc = 0;
    *out_argv = NULL;
    *out_argc = 0;
    char **kept = calloc((size_t)argc + 1, sizeof *kept);
    SF_ASSERT(kept != NULL);
    int n = 0;
    bool seen = false, after_dashes = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i == 0 || after_dashes) {
            kept[n++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            after_dashes = true;
            kept[n++] = argv[i];
            continue;
        }
        const char *value;
        if (strcmp(a, "--nproc") == 0) {
            if (i + 1 >= argc) {
                free(kept);
                return sf_err_set(err, SF_ERR_INPUT, NULL, "--nproc expects a number of ranks");
            }
            value = argv[++i];
        } else if (strncmp(a, "--nproc=", 8) == 0) {
            value = a + 8;
        } else {
            kept[n++] = argv[i];
            continue;
        }
        if (seen) {
            free(kept);
            return sf_err_set(err, SF_ERR_INPUT, NULL, "--nproc given twice");
        }
        seen = true;
        char *end = NULL;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (value[0] == '\0' || *end != '\0' || errno != 0 || v < 1 || v > SF_LAUNCH_MAX_NPROC) {
            free(kept);
            return sf_err_set(err, SF_ERR_INPUT, NULL,
                              "--nproc expects a number of ranks from 1 to %d, got '%s'",
                              SF_LAUNCH_MAX_NPROC, value);
        }
        *nproc = (int)v;
    }
    kept[n] = NULL;
    *out_argv = kept;
    *out_argc = n;
    return SF_OK;
}
