/* dtype names and sizes: one table, so names, sizes and the safetensors
 * spellings cannot drift apart. */
#include "dtype.h"

typedef struct dtype_info {
    const char *name;
    const char *st_name;
    size_t size;
    bool is_float;
} dtype_info_t;

static const dtype_info_t dtype_table[SF_DTYPE_COUNT] = {
    [SF_DTYPE_F32] = {"f32", "F32", 4, true},
    [SF_DTYPE_BF16] = {"bf16", "BF16", 2, true},
    [SF_DTYPE_F16] = {"f16", "F16", 2, true},
    [SF_DTYPE_I32] = {"i32", "I32", 4, false},
    [SF_DTYPE_I64] = {"i64", "I64", 8, false},
    [SF_DTYPE_U8] = {"u8", "U8", 1, false},
};

_Static_assert(SF_DTYPE_COUNT == 6, "update dtype_table and the aliases below");

size_t sf_dtype_size(sf_dtype_t dt)
{
    return (unsigned)dt < SF_DTYPE_COUNT ? dtype_table[dt].size : 0;
}

const char *sf_dtype_name(sf_dtype_t dt)
{
    return (unsigned)dt < SF_DTYPE_COUNT ? dtype_table[dt].name : "?";
}

bool sf_dtype_is_float(sf_dtype_t dt)
{
    return (unsigned)dt < SF_DTYPE_COUNT && dtype_table[dt].is_float;
}

const char *sf_dtype_st_name(sf_dtype_t dt)
{
    return (unsigned)dt < SF_DTYPE_COUNT ? dtype_table[dt].st_name : "?";
}

static const struct {
    const char *alias;
    sf_dtype_t dt;
} dtype_aliases[] = {
    {"float32", SF_DTYPE_F32}, {"float", SF_DTYPE_F32},   {"bfloat16", SF_DTYPE_BF16},
    {"float16", SF_DTYPE_F16}, {"half", SF_DTYPE_F16},    {"int32", SF_DTYPE_I32},
    {"int64", SF_DTYPE_I64},   {"uint8", SF_DTYPE_U8},    {"bool", SF_DTYPE_U8},
};

bool sf_dtype_parse(const char *s, sf_dtype_t *out)
{
    for (int i = 0; i < SF_DTYPE_COUNT; i++) {
        if (strcmp(s, dtype_table[i].name) == 0) {
            *out = (sf_dtype_t)i;
            return true;
        }
    }
    for (size_t i = 0; i < sizeof dtype_aliases / sizeof dtype_aliases[0]; i++) {
        if (strcmp(s, dtype_aliases[i].alias) == 0) {
            *out = dtype_aliases[i].dt;
            return true;
        }
    }
    return false;
}

bool sf_dtype_from_st_name(const char *s, sf_dtype_t *out)
{
    for (int i = 0; i < SF_DTYPE_COUNT; i++) {
        if (strcmp(s, dtype_table[i].st_name) == 0) {
            *out = (sf_dtype_t)i;
            return true;
        }
    }
    if (strcmp(s, "BOOL") == 0) {
        *out = SF_DTYPE_U8;
        return true;
    }
    return false;
}
