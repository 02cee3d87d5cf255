/* See file_read.h. */
#include "file_read.h"

#include <stdio.h>
#include <stdlib.h>

char *sf_file_read(const char *path, size_t max_bytes, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && (unsigned long)n <= max_bytes && fseek(f, 0, SEEK_SET) == 0) {
            buf = malloc((size_t)n + 1);
            if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
                free(buf);
                buf = NULL;
            }
            if (buf != NULL) {
                buf[n] = '\0';
                if (len != NULL)
                    *len = (size_t)n;
            }
        }
    }
    fclose(f);
    return buf;
}
