/* libFuzzer entry for a sharded checkpoint's model.safetensors.index.json:
 * any bytes must parse into an index whose every entry is either a plain
 * file name in the folder or refused with a message, never a crash, a
 * leak, or a name that leaves the folder. Seeds:
 * tests/fuzz/corpus/model_index. */
#include "fuzz_input.h"
#include "model_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sf_model_index_t *ix = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_model_index_parse((const char *)data, size, "fuzz/index.json", &ix, &err);
    fuzz_check_status(st, &err);
    if (st != SF_OK) {
        SF_ASSERT(ix == NULL);
        return 0;
    }
    for (int i = 0; i < sf_model_index_count(ix); i++) {
        const char *name = sf_model_index_name(ix, i);
        if (name == NULL)
            continue;
        const char *file = NULL;
        sf_err_clear(&err);
        st = sf_model_index_file(ix, name, &file, &err);
        fuzz_check_status(st, &err);
        if (st == SF_OK && file != NULL)
            SF_ASSERT(file[0] != '\0' && file[0] != '.' && strchr(file, '/') == NULL);
    }
    sf_model_index_free(ix);
    return 0;
}
