/* What the fuzz targets share: the fuzzer's bytes as a file that the
 * readers under test open by path, since every reader of ours takes a path
 * (an mmap or a streaming read of a real file is what users run). The file
 * lives in one private folder made at first use; each call rewrites it. */
#ifndef SF_FUZZ_INPUT_H
#define SF_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The folder every target writes into (made once, left for the OS's /tmp
 * cleaning: libFuzzer gives no hook at exit). */
static inline const char *fuzz_dir(void)
{
    static char dir[64];
    if (dir[0] == '\0') {
        snprintf(dir, sizeof dir, "/tmp/sf-fuzz-XXXXXX");
        SF_ASSERT(mkdtemp(dir) != NULL);
    }
    return dir;
}

/* Write n bytes to fuzz_dir()/name and return the path (a static buffer
 * per name slot: at most 4 live paths). */
static inline const char *fuzz_write(const char *name, const void *p, size_t n)
{
    static char paths[4][256];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    SF_ASSERT(f != NULL);
    SF_ASSERT(n == 0 || fwrite(p, 1, n, f) == n);
    SF_ASSERT(fclose(f) == 0);
    return path;
}

/* A failure must say what went wrong and must not leave a result. */
static inline void fuzz_check_status(sf_status_t st, const sf_err_t *err)
{
    if (st == SF_OK)
        SF_ASSERT(err->code == SF_OK);
    else
        SF_ASSERT(err->code == st && err->msg[0] != '\0');
}

#endif
