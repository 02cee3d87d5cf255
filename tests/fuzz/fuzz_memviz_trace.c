/* libFuzzer entry for memviz's trace reader (the streaming scanner and the
 * buffer model on top): any bytes as a trace must load or give an error
 * with a message, never a crash, a leak or a hang. Seeds:
 * tests/fuzz/corpus/memviz_trace. */
#include "fuzz_input.h"
#include "memviz_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("trace.json", data, size);
    sf_mv_trace_t *t = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_mv_trace_load(path, &t, &err);
    fuzz_check_status(st, &err);
    SF_ASSERT((st == SF_OK) == (t != NULL));
    sf_mv_trace_free(t);
    return 0;
}
