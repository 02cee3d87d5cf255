/* safetensors reading; see safetensors.h.
 *
 * Reading trusts nothing in the file: every number in the header is checked
 * against the file size and against the other entries before anyone can
 * get a pointer into the map, so a lying header is an error, never a read
 * past the end. */
#include "safetensors_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "file_read.h"

/* The reference implementation refuses larger headers too; it also bounds
 * what a hostile file can make us parse. */
#define ST_MAX_HEADER (100u * 1024u * 1024u)

/* cJSON keeps numbers as doubles: integers above 2^53 cannot be told apart,
 * so they are refused instead of silently rounded. No real file needs more:
 * offsets beyond 2^53 bytes would not fit on any disk. */
#define ST_MAX_INT 9007199254740992.0

typedef struct st_entry {
    const char *name; /* borrowed: a key inside f->root */
    sf_dtype_t dtype;
    int ndim;
    int64_t shape[SF_MAX_DIMS];
    uint64_t begin; /* relative to the data region */
    uint64_t end;
} st_entry_t;

struct sf_st_file {
    void *map;             /* owned: munmap'd at close; NULL for an empty map */
    size_t map_size;
    const uint8_t *data;   /* borrowed: points into map, after the header */
    uint64_t data_size;
    cJSON *root;           /* owned: the parsed header; names point into it */
    const cJSON *metadata; /* borrowed: a child of root, or NULL */
    st_entry_t *entries;   /* owned: header order */
    int n;
    const st_entry_t **by_name; /* owned array (entries borrowed): sorted by name */
};

/* Errors carry the path as their file and no line: a binary file has none.
 * Shared with the writer through safetensors_impl.h. */
sf_status_t st_fail(sf_err_t *err, const char *path, sf_status_t code, const char *fmt, ...)
{
    sf_pos_t pos = {.file = path, .line = 0, .col = 0};
    va_list ap;
    va_start(ap, fmt);
    sf_status_t st = sf_err_setv(err, code, &pos, fmt, ap);
    va_end(ap);
    return st;
}

/* A JSON number that is an exact non-negative integer we can represent.
 * Returns false (and leaves *out alone) for anything else; *negative says
 * whether it was a negative integer, so the caller can say so. */
static bool st_json_uint(const cJSON *item, uint64_t *out, bool *negative)
{
    *negative = false;
    if (!cJSON_IsNumber(item))
        return false;
    double d = item->valuedouble;
    if (!(d >= -ST_MAX_INT && d <= ST_MAX_INT)) { /* also NaN */
        *negative = d < 0;
        return false;
    }
    if (d != (double)(int64_t)d) /* in range, so the cast is defined */
        return false;
    if (d < 0) {
        *negative = true;
        return false;
    }
    *out = (uint64_t)d;
    return true;
}

static sf_status_t st_parse_shape(const char *path, const char *name, const cJSON *shape,
                                  st_entry_t *e, uint64_t *nbytes, sf_err_t *err)
{
    if (!cJSON_IsArray(shape))
        return st_fail(err, path, SF_ERR_INPUT, "tensor '%s': \"shape\" must be an array",
                       name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > SF_MAX_DIMS)
        return st_fail(err, path, SF_ERR_INPUT,
                       "tensor '%s': %d dimensions, at most %d are supported", name, nd,
                       SF_MAX_DIMS);
    uint64_t numel = 1;
    bool overflow = false;
    int i = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape)
    {
        uint64_t v;
        bool neg;
        if (!st_json_uint(dim, &v, &neg)) {
            if (neg)
                return st_fail(err, path, SF_ERR_INPUT,
                               "tensor '%s': negative dimension %g in \"shape\"", name,
                               dim->valuedouble);
            return st_fail(err, path, SF_ERR_INPUT,
                           "tensor '%s': dimension %d of \"shape\" is not an integer in "
                           "[0, 2^53]",
                           name, i);
        }
        e->shape[i++] = (int64_t)v;
        /* The running product must fit even when a later dim is 0: the rest
         * of the runtime multiplies dims in order in int64. */
        if (__builtin_mul_overflow(numel, v, &numel) || numel > INT64_MAX)
            overflow = true;
    }
    e->ndim = nd;
    uint64_t bytes;
    if (overflow ||
        __builtin_mul_overflow(numel, (uint64_t)sf_dtype_size(e->dtype), &bytes) ||
        bytes > INT64_MAX)
        return st_fail(err, path, SF_ERR_INPUT,
                       "tensor '%s': \"shape\" has too many elements (the size overflows)",
                       name);
    *nbytes = bytes;
    return SF_OK;
}

static sf_status_t st_parse_entry(const char *path, const cJSON *item, uint64_t data_size,
                                  st_entry_t *e, sf_err_t *err)
{
    const char *name = item->string;
    e->name = name;
    if (!cJSON_IsObject(item))
        return st_fail(err, path, SF_ERR_INPUT, "tensor '%s': entry must be a JSON object",
                       name);

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    if (!cJSON_IsString(dtype))
        return st_fail(err, path, SF_ERR_INPUT, "tensor '%s': missing string \"dtype\"", name);
    if (!sf_dtype_from_st_name(dtype->valuestring, &e->dtype))
        return st_fail(err, path, SF_ERR_INPUT,
                       "unsupported dtype '%s' for tensor '%s' (supported: F32, BF16, F16, "
                       "I32, I64, U8, BOOL)",
                       dtype->valuestring, name);

    uint64_t nbytes = 0;
    sf_status_t st = st_parse_shape(path, name, cJSON_GetObjectItemCaseSensitive(item, "shape"),
                                    e, &nbytes, err);
    if (st != SF_OK)
        return st;

    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    uint64_t se[2];
    bool neg;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !st_json_uint(cJSON_GetArrayItem(offs, 0), &se[0], &neg) ||
        !st_json_uint(cJSON_GetArrayItem(offs, 1), &se[1], &neg))
        return st_fail(err, path, SF_ERR_INPUT,
                       "tensor '%s': \"data_offsets\" must be [begin, end], two integers >= 0",
                       name);
    e->begin = se[0];
    e->end = se[1];
    if (e->begin > e->end)
        return st_fail(err, path, SF_ERR_INPUT,
                       "tensor '%s': data_offsets [%llu, %llu] end before they begin", name,
                       (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > data_size)
        return st_fail(err, path, SF_ERR_INPUT,
                       "tensor '%s': data_offsets [%llu, %llu] run past the data (%llu bytes)",
                       name, (unsigned long long)e->begin, (unsigned long long)e->end,
                       (unsigned long long)data_size);
    if (e->end - e->begin != nbytes)
        return st_fail(err, path, SF_ERR_INPUT,
                       "tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but shape and "
                       "dtype %s need %llu",
                       name, (unsigned long long)e->begin, (unsigned long long)e->end,
                       (unsigned long long)(e->end - e->begin), dtype->valuestring,
                       (unsigned long long)nbytes);
    return SF_OK;
}

static sf_status_t st_check_metadata(const char *path, const cJSON *meta, sf_err_t *err)
{
    if (!cJSON_IsObject(meta))
        return st_fail(err, path, SF_ERR_INPUT, "\"__metadata__\" must be a JSON object");
    const cJSON *kv;
    cJSON_ArrayForEach(kv, meta)
    {
        if (!cJSON_IsString(kv))
            return st_fail(err, path, SF_ERR_INPUT,
                           "\"__metadata__\" value of '%s' must be a string", kv->string);
    }
    return SF_OK;
}

/* Sorting pointers, not indices, lets the comparators work without a
 * context argument or a global: sf_st_open stays safe to call from several
 * threads (ranks loading weights at once). */
static int st_cmp_name(const void *a, const void *b)
{
    return strcmp((*(const st_entry_t *const *)a)->name, (*(const st_entry_t *const *)b)->name);
}

static int st_cmp_begin(const void *a, const void *b)
{
    const st_entry_t *x = *(const st_entry_t *const *)a;
    const st_entry_t *y = *(const st_entry_t *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* Duplicate names and overlapping byte ranges. Leaves f->by_name sorted by
 * name for sf_st_find. */
static sf_status_t st_check_entries(const char *path, sf_st_file_t *f, sf_err_t *err)
{
    size_t cap = (size_t)(f->n > 0 ? f->n : 1);
    const st_entry_t **order = malloc(sizeof *order * cap);
    f->by_name = malloc(sizeof *f->by_name * cap);
    if (order == NULL || f->by_name == NULL) {
        free(order);
        return st_fail(err, path, SF_ERR_NOMEM, "out of memory indexing %d tensors", f->n);
    }
    for (int i = 0; i < f->n; i++)
        order[i] = f->by_name[i] = &f->entries[i];
    qsort(f->by_name, (size_t)f->n, sizeof *f->by_name, st_cmp_name);
    qsort(order, (size_t)f->n, sizeof *order, st_cmp_begin);

    sf_status_t st = SF_OK;
    for (int i = 1; i < f->n && st == SF_OK; i++) {
        if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0)
            st = st_fail(err, path, SF_ERR_INPUT, "tensor '%s' appears twice in the header",
                         f->by_name[i]->name);
    }
    /* An empty tensor owns no bytes, so it may sit anywhere, even inside
     * another; only non-empty ranges must be disjoint. */
    const st_entry_t *prev = NULL;
    for (int i = 0; i < f->n && st == SF_OK; i++) {
        const st_entry_t *e = order[i];
        if (e->begin == e->end)
            continue;
        if (prev != NULL && e->begin < prev->end)
            st = st_fail(err, path, SF_ERR_INPUT,
                         "tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap", prev->name,
                         (unsigned long long)prev->begin, (unsigned long long)prev->end,
                         e->name, (unsigned long long)e->begin, (unsigned long long)e->end);
        prev = e;
    }
    free(order);
    return st;
}

static sf_status_t st_parse_header(const char *path, sf_st_file_t *f, const char *text,
                                   size_t len, sf_err_t *err)
{
    const char *end = NULL;
    f->root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (f->root == NULL) {
        /* On failure cJSON points end at the error (cJSON_GetErrorPtr is a
         * global, racy when ranks load files at once). */
        size_t off = (end != NULL && end >= text && end <= text + len) ? (size_t)(end - text) : 0;
        return st_fail(err, path, SF_ERR_INPUT,
                       "header is not valid JSON (near byte %zu of the %zu-byte header)", off,
                       len);
    }
    /* cJSON stops at the end of the first value; only the padding the
     * format allows (spaces) may follow it. */
    for (const char *p = end; p != NULL && p < text + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return st_fail(err, path, SF_ERR_INPUT,
                           "header has trailing bytes after the JSON object (at byte %zu)",
                           (size_t)(p - text));
    if (!cJSON_IsObject(f->root))
        return st_fail(err, path, SF_ERR_INPUT, "header must be a JSON object");

    int count = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, f->root) count++;
    f->entries = calloc((size_t)(count > 0 ? count : 1), sizeof *f->entries);
    if (f->entries == NULL)
        return st_fail(err, path, SF_ERR_NOMEM, "out of memory for %d header entries", count);

    sf_status_t st;
    cJSON_ArrayForEach(item, f->root)
    {
        if (strcmp(item->string, "__metadata__") == 0) {
            if (f->metadata != NULL)
                return st_fail(err, path, SF_ERR_INPUT, "\"__metadata__\" appears twice");
            if ((st = st_check_metadata(path, item, err)) != SF_OK)
                return st;
            f->metadata = item;
            continue;
        }
        if ((st = st_parse_entry(path, item, f->data_size, &f->entries[f->n], err)) != SF_OK)
            return st;
        f->n++;
    }
    return st_check_entries(path, f, err);
}

sf_status_t sf_st_open(const char *path, sf_st_file_t **out, sf_err_t *err)
{
    sf_st_file_t *f = NULL;
    char *text = NULL;
    sf_status_t st;
    int fd = -1;

    *out = NULL;
    uint64_t size = 0;
    /* A missing or looping path, or a FIFO, is the user's (exit 2), and a
     * FIFO must not hang the open. */
    if ((st = sf_file_open_regular(path, &(sf_pos_t){.file = path}, &fd, &size, err)) != SF_OK)
        return st;
    if (size < 8) {
        st = st_fail(err, path, SF_ERR_INPUT,
                     "file is %llu bytes, too small for a safetensors header length (8 bytes)",
                     (unsigned long long)size);
        goto fail;
    }
    if (size > SIZE_MAX) {
        st = st_fail(err, path, SF_ERR_INPUT, "file is too large to map");
        goto fail;
    }

    f = calloc(1, sizeof *f);
    if (f == NULL) {
        st = st_fail(err, path, SF_ERR_NOMEM, "out of memory");
        goto fail;
    }
    f->map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        st = st_fail(err, path, SF_ERR_IO, "cannot map %llu bytes: %s",
                     (unsigned long long)size, strerror(errno));
        goto fail;
    }
    f->map_size = (size_t)size;
    close(fd); /* the map keeps the file contents reachable */
    fd = -1;

    const uint8_t *bytes = f->map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | bytes[i]; /* little-endian on every host */
    if (hlen > ST_MAX_HEADER) {
        st = st_fail(err, path, SF_ERR_INPUT,
                     "header length %llu exceeds the 100 MiB limit (not a safetensors file?)",
                     (unsigned long long)hlen);
        goto fail;
    }
    if (8 + hlen > size) {
        st = st_fail(err, path, SF_ERR_INPUT,
                     "header length %llu runs past the end of the file (%llu bytes): "
                     "truncated?",
                     (unsigned long long)hlen, (unsigned long long)size);
        goto fail;
    }
    f->data = bytes + 8 + hlen;
    f->data_size = size - 8 - hlen;
    /* Parse a NUL-terminated copy: the map may end right after the header,
     * and the parser must not be able to step off it. */
    text = malloc((size_t)hlen + 1);
    if (text == NULL) {
        st = st_fail(err, path, SF_ERR_NOMEM, "out of memory for a %llu-byte header",
                     (unsigned long long)hlen);
        goto fail;
    }
    memcpy(text, bytes + 8, (size_t)hlen);
    text[hlen] = '\0';
    if ((st = st_parse_header(path, f, text, (size_t)hlen, err)) != SF_OK)
        goto fail;
    free(text);
    *out = f;
    return SF_OK;
fail:
    if (fd >= 0)
        close(fd);
    free(text);
    sf_st_close(f);
    return st;
}

void sf_st_close(sf_st_file_t *f)
{
    if (f == NULL)
        return;
    if (f->map != NULL)
        munmap(f->map, f->map_size);
    cJSON_Delete(f->root);
    free(f->entries);
    free(f->by_name);
    free(f);
}

int sf_st_count(const sf_st_file_t *f)
{
    return f->n;
}

const char *sf_st_name(const sf_st_file_t *f, int i)
{
    SF_ASSERT(i >= 0 && i < f->n);
    return f->entries[i].name;
}

int sf_st_find(const sf_st_file_t *f, const char *name)
{
    int lo = 0, hi = f->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->by_name[mid]->name);
        if (c == 0)
            return (int)(f->by_name[mid] - f->entries);
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

void sf_st_get(const sf_st_file_t *f, int i, sf_tensor_t *layout, const void **data)
{
    SF_ASSERT(i >= 0 && i < f->n);
    const st_entry_t *e = &f->entries[i];
    *layout = sf_tensor_make(e->dtype, e->ndim, e->shape);
    *data = f->data + e->begin;
}

const char *sf_st_metadata(const sf_st_file_t *f, const char *key)
{
    if (f->metadata == NULL)
        return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(f->metadata, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
