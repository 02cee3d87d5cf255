/* libFuzzer entry for the graph loader: any bytes must give SF_OK or an
 * error with a message, never a crash, a leak or a hang. Built only with
 * -DSF_FUZZ=ON and clang; seeds: graphs/ and tests/data. The file name
 * points nowhere real, so includes resolve (and fail) under /nonexistent. */
#include <stddef.h>
#include <stdint.h>

#include "graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int is_registered;
    if (!is_registered) {
        sf_ops_register_all();
        is_registered = 1;
    }
    sf_graph_t *g = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_graph_load_buffer((const char *)data, size, "/nonexistent/fuzz.yaml", NULL,
                                          0, &g, &err);
    if (st == SF_OK) {
        SF_ASSERT(g != NULL && err.code == SF_OK);
        sf_graph_free(g);
    } else {
        /* Every failure says what went wrong. */
        SF_ASSERT(g == NULL && err.code == st && err.msg[0] != '\0');
    }
    return 0;
}
