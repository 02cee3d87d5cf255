/* libFuzzer entry for a Hugging Face checkpoint's config.json: any bytes
 * there must load into a config whose sizes are positive (then the tensor-
 * parallel check runs too) or give an error naming the file, never a crash,
 * a leak or an allocation sized by the input. Seeds:
 * tests/fuzz/corpus/model_config. */
#include "fuzz_input.h"
#include "model_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)fuzz_write("config.json", data, size);
    sf_model_config_t cfg;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_model_config_load(fuzz_dir(), "/nonexistent", &cfg, &err);
    fuzz_check_status(st, &err);
    if (st == SF_OK) {
        SF_ASSERT(cfg.hidden_size > 0 && cfg.vocab_padded > 0);
        for (int world = 1; world <= 8; world *= 2) {
            sf_err_clear(&err);
            fuzz_check_status(sf_model_config_check_tp(&cfg, world, &err), &err);
        }
    }
    return 0;
}
