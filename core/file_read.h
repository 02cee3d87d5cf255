/* Reading the files a user hands us: opening one safely (it must be a
 * regular file, and the open never blocks) and reading a whole file into
 * memory at once, for configs, indexes and trace parts, which are parsed as
 * one string. Every input reader in the project opens through here. */
#ifndef SF_FILE_READ_H
#define SF_FILE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Open path read-only (O_CLOEXEC). It is opened with O_NONBLOCK, which is
 * cleared once it is open, so a FIFO with no writer cannot hang us; then it
 * must be a regular file (fstat S_ISREG). On SF_OK *fd is open (the caller
 * closes it) and *size (may be NULL) holds its size in bytes. Errors name
 * the path, positioned at `at` (may be NULL): SF_ERR_INPUT when it does not
 * exist, loops (ELOOP), may not be read, or is not a regular file ("'f' is
 * not a regular file (a FIFO)"), since those are the user's to fix;
 * SF_ERR_IO when the OS fails otherwise. Blocks on the file system only. */
sf_status_t sf_file_open_regular(const char *path, const sf_pos_t *at, int *fd, uint64_t *size,
                                 sf_err_t *err);

/* The bytes of the regular file at path, NUL-terminated (the NUL is not
 * counted in *len; len may be NULL) into *out, which the caller frees.
 * Opened by sf_file_open_regular (same errors); a file larger than
 * max_bytes is SF_ERR_INPUT (checked before the read: a huge file costs
 * nothing); a failed read SF_ERR_IO, no memory SF_ERR_NOMEM. Thread-safe. */
sf_status_t sf_file_load(const char *path, size_t max_bytes, char **out, size_t *len,
                         sf_err_t *err);

/* sf_file_load without the reason: NULL on any failure. For files we wrote
 * ourselves (trace parts) and tests. */
char *sf_file_read(const char *path, size_t max_bytes, size_t *len);

#endif
