/* safetensors files: an 8-byte little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
 * then the data. Reading maps the file and checks every entry against the
 * file size and the others (a truncated, overlapping or lying header is an
 * error, never a crash). Writing goes to a temporary name, then rename. */
#ifndef SF_SAFETENSORS_H
#define SF_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"
#include "tensor.h"

typedef struct sf_st_file sf_st_file_t;

/* Map and check path. Errors: SF_ERR_IO (cannot open/map), SF_ERR_INPUT
 * (malformed), naming the path and the entry. *out owned by the caller. */
SF_NODISCARD sf_status_t sf_st_open(const char *path, sf_st_file_t **out, sf_err_t *err);
void sf_st_close(sf_st_file_t *f); /* NULL-safe */

int sf_st_count(const sf_st_file_t *f);
/* Entry names in header order. Borrowed from f. */
const char *sf_st_name(const sf_st_file_t *f, int i);
/* Index of the entry called name, -1 if absent. */
int sf_st_find(const sf_st_file_t *f, const char *name);
/* Layout (contiguous, buf NULL) and a pointer to the data inside the map
 * (borrowed from f, read-only, valid until sf_st_close). */
void sf_st_get(const sf_st_file_t *f, int i, sf_tensor_t *layout, const void **data);
/* A "__metadata__" string value, or NULL. Borrowed from f. */
const char *sf_st_metadata(const sf_st_file_t *f, const char *key);

typedef struct sf_st_entry {
    const char *name;          /* borrowed */
    const sf_tensor_t *tensor; /* borrowed; host memory; may be a strided view */
} sf_st_entry_t;

/* Write entries to path via a temporary file in the same folder, then
 * rename. An existing path is refused (SF_ERR_INPUT) unless overwrite.
 * Duplicate names are refused. On any failure nothing is left at path. */
SF_NODISCARD sf_status_t sf_st_write(const char *path, const sf_st_entry_t *entries, int n,
                                     bool overwrite, sf_err_t *err);

#endif
