/* safetensors writing; see safetensors.h.
 *
 * Writing produces what the reference implementation (huggingface/safetensors)
 * produces, so its strict reader accepts our files: header padded with spaces
 * to a multiple of 8, tensors packed in order with no gaps, the data region
 * covered exactly. The file is written under a temporary name and renamed
 * into place, so a reader never sees half a file. */
#include "safetensors_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "outfile.h"

/* Non-contiguous tensors are staged in chunks of about this many bytes, so
 * writing a strided view of a huge tensor does not double the memory. */
#define ST_STAGE_BYTES (16u * 1024u * 1024u)

/* Offsets go in as raw text: cJSON would print them through a double. */
static bool st_add_uint(cJSON *array, uint64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%llu", (unsigned long long)v);
    cJSON *num = cJSON_CreateRaw(text);
    return num != NULL && cJSON_AddItemToArray(array, num);
}

static bool st_add_int(cJSON *array, int64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%lld", (long long)v);
    cJSON *num = cJSON_CreateRaw(text);
    return num != NULL && cJSON_AddItemToArray(array, num);
}

/* The header JSON, unpadded; caller frees with cJSON_free. */
static sf_status_t st_build_header(const char *path, const sf_st_entry_t *entries, int n,
                                   char **out, sf_err_t *err)
{
    *out = NULL;
    cJSON *root = cJSON_CreateObject();
    bool ok = root != NULL;
    /* transformers refuses checkpoints without format=pt; the reference
     * writer leaves the metadata to the caller, and this is what torch
     * callers pass. */
    cJSON *meta = ok ? cJSON_AddObjectToObject(root, "__metadata__") : NULL;
    ok = ok && meta != NULL && cJSON_AddStringToObject(meta, "format", "pt") != NULL;
    uint64_t offset = 0;
    for (int i = 0; i < n && ok; i++) {
        const sf_tensor_t *t = entries[i].tensor;
        uint64_t nbytes = sf_tensor_nbytes(t);
        cJSON *e = cJSON_AddObjectToObject(root, entries[i].name);
        cJSON *shape = e != NULL ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *offs = NULL;
        ok = shape != NULL && cJSON_AddStringToObject(e, "dtype", sf_dtype_st_name(t->dtype));
        for (int d = 0; d < t->ndim && ok; d++)
            ok = st_add_int(shape, t->shape[d]);
        ok = ok && (offs = cJSON_AddArrayToObject(e, "data_offsets")) != NULL;
        ok = ok && st_add_uint(offs, offset) && st_add_uint(offs, offset + nbytes);
        offset += nbytes;
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (text == NULL)
        return st_fail(err, path, SF_ERR_NOMEM, "out of memory building the header");
    *out = text;
    return SF_OK;
}

/* Arguments the caller controls: names, devices, data present. */
static sf_status_t st_check_write_args(const char *path, const sf_st_entry_t *entries, int n,
                                       sf_err_t *err)
{
    for (int i = 0; i < n; i++) {
        const char *name = entries[i].name;
        const sf_tensor_t *t = entries[i].tensor;
        SF_ASSERT(name != NULL && t != NULL);
        SF_ASSERT((unsigned)t->dtype < SF_DTYPE_COUNT && t->ndim >= 0 && t->ndim <= SF_MAX_DIMS);
        if (strcmp(name, "__metadata__") == 0)
            return st_fail(err, path, SF_ERR_INPUT,
                           "a tensor cannot be called \"__metadata__\" in safetensors");
        for (int j = 0; j < i; j++)
            if (strcmp(entries[j].name, name) == 0)
                return st_fail(err, path, SF_ERR_INPUT, "tensor '%s' is given twice", name);
        if (sf_tensor_nbytes(t) == 0)
            continue;
        if (t->buf != NULL && t->buf->dev != NULL &&
            sf_device_mem_kind(t->buf->dev) != SF_MEMKIND_HOST)
            return st_fail(err, path, SF_ERR_INPUT,
                           "tensor '%s' is on device %s; copy it to the host first", name,
                           sf_device_name(t->buf->dev));
        if (sf_tensor_data(t) == NULL)
            return st_fail(err, path, SF_ERR_INPUT, "tensor '%s' has no data to write", name);
    }
    return SF_OK;
}

static bool st_fwrite(FILE *fp, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, fp) == n;
}

/* A strided view goes out through a bounded staging buffer, a block of
 * leading-dim rows at a time. */
static sf_status_t st_write_strided(FILE *fp, const char *path, const char *name,
                                    const sf_tensor_t *t, sf_err_t *err)
{
    size_t esz = sf_dtype_size(t->dtype);
    uint64_t row_bytes = (uint64_t)esz;
    for (int d = 1; d < t->ndim; d++)
        row_bytes *= (uint64_t)t->shape[d];
    int64_t rows = t->shape[0];
    int64_t block = (int64_t)(ST_STAGE_BYTES / row_bytes);
    if (block < 1)
        block = 1;
    if (block > rows)
        block = rows;
    void *stage = malloc((size_t)(row_bytes * (uint64_t)block));
    if (stage == NULL)
        return st_fail(err, path, SF_ERR_NOMEM, "out of memory staging tensor '%s'", name);

    sf_buffer_t sbuf;
    memset(&sbuf, 0, sizeof sbuf);
    sbuf.data = stage;
    sbuf.nbytes = row_bytes * (uint64_t)block;
    sbuf.dev = sf_device_cpu();
    sf_status_t st = SF_OK;
    for (int64_t r = 0; r < rows && st == SF_OK; r += block) {
        int64_t stop = r + block < rows ? r + block : rows;
        sf_tensor_t src;
        if ((st = sf_tensor_view_slice(t, 0, r, stop, 1, &src, err)) != SF_OK)
            break;
        sf_tensor_t dst = sf_tensor_make(t->dtype, src.ndim, src.shape);
        dst.buf = &sbuf;
        sf_tensor_copy_host(&dst, &src);
        if (!st_fwrite(fp, stage, (size_t)sf_tensor_nbytes(&dst)))
            st = st_fail(err, path, SF_ERR_IO, "cannot write tensor '%s': %s", name,
                         strerror(errno));
    }
    free(stage);
    return st;
}

static sf_status_t st_write_file(FILE *fp, const char *tmp, const char *header,
                                 const sf_st_entry_t *entries, int n, sf_err_t *err)
{
    size_t hlen = strlen(header);
    size_t padded = (hlen + 7) / 8 * 8;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    static const char spaces[8] = "        ";
    if (!st_fwrite(fp, len8, 8) || !st_fwrite(fp, header, hlen) ||
        !st_fwrite(fp, spaces, padded - hlen))
        return st_fail(err, tmp, SF_ERR_IO, "cannot write the header: %s", strerror(errno));

    for (int i = 0; i < n; i++) {
        const sf_tensor_t *t = entries[i].tensor;
        uint64_t nbytes = sf_tensor_nbytes(t);
        if (nbytes == 0)
            continue;
        if (sf_tensor_is_contiguous(t)) {
            if (!st_fwrite(fp, sf_tensor_data(t), (size_t)nbytes))
                return st_fail(err, tmp, SF_ERR_IO, "cannot write tensor '%s': %s",
                               entries[i].name, strerror(errno));
        } else {
            sf_status_t st = st_write_strided(fp, tmp, entries[i].name, t, err);
            if (st != SF_OK)
                return st;
        }
    }
    if (fflush(fp) != 0) /* the fsync is the commit's */
        return st_fail(err, tmp, SF_ERR_IO, "cannot flush: %s", strerror(errno));
    return SF_OK;
}

sf_status_t sf_st_write(const char *path, const sf_st_entry_t *entries, int n, bool overwrite,
                        sf_err_t *err)
{
    char *header = NULL;
    sf_outfile_t out = {.slot = -1};
    sf_status_t st;

    SF_ASSERT(n >= 0 && (n == 0 || entries != NULL));
    struct stat sb;
    if (!overwrite && lstat(path, &sb) == 0)
        return st_fail(err, path, SF_ERR_INPUT, "output file exists: %s (pass --overwrite)",
                       path);
    if ((st = st_check_write_args(path, entries, n, err)) != SF_OK)
        return st;
    if ((st = st_build_header(path, entries, n, &header, err)) != SF_OK)
        goto fail;
    /* Without overwrite, an existing path must survive even if it appeared
     * after the check above: the commit asks the kernel not to replace. */
    st = sf_outfile_open(path, overwrite ? 0 : SF_OUTFILE_NOREPLACE, &out, err);
    if (st != SF_OK)
        goto fail;
    if ((st = st_write_file(out.fp, out.tmp, header, entries, n, err)) != SF_OK)
        goto fail;
    st = sf_outfile_commit(&out, err);
    cJSON_free(header);
    return st;
fail:
    sf_outfile_abort(&out);
    cJSON_free(header);
    return st;
}
