/* libFuzzer entry for the graph loader: any bytes must give SF_OK or an
 * error with a message, never a crash, a leak or a hang. The input is two
 * files: bytes up to the first 0x01 are main.yaml, the rest inc.yaml,
 * beside it, so `include: inc.yaml`, params across files and ${} reach the
 * loader as a user's graph does. Seeds: tests/fuzz/corpus/graph_load. */
#include "fuzz_input.h"
#include "graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int is_registered;
    if (!is_registered) {
        sf_ops_register_all();
        is_registered = 1;
    }
    const uint8_t *cut = memchr(data, 0x01, size);
    size_t main_len = cut != NULL ? (size_t)(cut - data) : size;
    (void)fuzz_write("inc.yaml", cut != NULL ? cut + 1 : data, cut != NULL ? size - main_len - 1 : 0);
    const char *main_path = fuzz_write("main.yaml", data, main_len);
    sf_graph_t *g = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_graph_load_file(main_path, NULL, 0, &g, &err);
    fuzz_check_status(st, &err);
    SF_ASSERT((st == SF_OK) == (g != NULL));
    sf_graph_free(g);
    return 0;
}
