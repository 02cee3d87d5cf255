/* Reading a whole file into memory at once: for configs, indexes and trace
 * parts, which are parsed as one string. */
#ifndef SF_FILE_READ_H
#define SF_FILE_READ_H

#include <stddef.h>

/* The bytes of the file at path, NUL-terminated (the NUL is not counted in
 * *len; len may be NULL). The caller frees. NULL when the file cannot be
 * opened, is not seekable, is larger than max_bytes (checked before the
 * read: a huge file costs nothing), or the read fails or runs out of
 * memory; the callers report all of these as "cannot read". Blocks on the
 * file system; thread-safe. */
char *sf_file_read(const char *path, size_t max_bytes, size_t *len);

#endif
