/* libFuzzer entry for the safetensors reader: any bytes as a .safetensors
 * file must open (and then every tensor's data lies inside the file) or
 * give an error with a message, never a crash, an out-of-bounds read or a
 * leak. Seeds: tests/fuzz/corpus/safetensors. */
#include "fuzz_input.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("in.safetensors", data, size);
    sf_st_file_t *f = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_st_open(path, &f, &err);
    fuzz_check_status(st, &err);
    if (st != SF_OK) {
        SF_ASSERT(f == NULL);
        return 0;
    }
    /* Touch every byte the reader says is a tensor's: ASan sees a lie. */
    volatile uint8_t sink = 0;
    for (int i = 0; i < sf_st_count(f); i++) {
        sf_tensor_t t;
        const void *p;
        sf_st_get(f, i, &t, &p);
        SF_ASSERT(sf_st_find(f, sf_st_name(f, i)) == i);
        size_t n = (size_t)sf_tensor_nbytes(&t);
        for (size_t k = 0; k < n; k++)
            sink ^= ((const uint8_t *)p)[k];
    }
    (void)sink;
    (void)sf_st_metadata(f, "format");
    sf_st_close(f);
    return 0;
}
