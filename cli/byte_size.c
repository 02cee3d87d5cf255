/* Byte sizes with binary suffixes, as people write GPU memory sizes. */
#include "byte_size.h"

#include "checked.h"

sf_status_t sf_byte_size_parse(const char *flag, const char *text, uint64_t *out, sf_err_t *err)
{
    *out = 0;
    const char *p = text;
    uint64_t n = 0;
    bool ok = *p >= '0' && *p <= '9';
    for (; ok && *p >= '0' && *p <= '9'; p++)
        ok = sf_checked_mul_u64(n, 10, &n) && sf_checked_add_u64(n, (uint64_t)(*p - '0'), &n);
    int shift = 0;
    if (ok) {
        switch (*p) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        case 't': case 'T': shift = 40; break;
        default: break;
        }
        if (shift != 0)
            p++;
        if (shift != 0 && p[0] == 'i' && p[1] == 'B')
            p += 2;
        else if (*p == 'B')
            p++;
        ok = *p == '\0';
    }
    if (ok && shift != 0)
        ok = n <= (UINT64_MAX >> shift);
    if (!ok)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "%s expects a size in bytes such as 80G, 512M or 1024 (K/M/G/T are "
                          "powers of 1024; up to 2^64-1 bytes), got '%s'",
                          flag, text);
    n <<= shift;
    if (n == 0)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "%s must be more than 0 bytes, got '%s'", flag,
                          text);
    *out = n;
    return SF_OK;
}
