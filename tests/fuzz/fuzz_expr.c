/* libFuzzer entry for the integer expression and condition language: any
 * text must evaluate or give an error with a message (an overflow, a
 * division by zero or an unknown name included), never a crash or UB. Two
 * params, a = 7 and big = 2^62, let inputs reach the lookup path and the
 * edges of int64. Seeds: tests/fuzz/corpus/expr. */
#include "expr.h"
#include "fuzz_input.h"

static const sf_value_t *lookup(void *ctx, const char *name, size_t len)
{
    (void)ctx;
    static const sf_value_t a = {.type = SF_VALUE_INT, .i = 7};
    static const sf_value_t big = {.type = SF_VALUE_INT, .i = (int64_t)1 << 62};
    if (len == 1 && name[0] == 'a')
        return &a;
    if (len == 3 && memcmp(name, "big", 3) == 0)
        return &big;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sf_expr_src_t src = {.text = (const char *)data, .len = size,
                         .pos = {.file = "fuzz", .line = 1, .col = 1},
                         .lookup = lookup};
    sf_err_t err;
    sf_err_clear(&err);
    int64_t v;
    fuzz_check_status(sf_expr_eval_int(&src, &v, &err), &err);
    sf_err_clear(&err);
    bool b;
    fuzz_check_status(sf_expr_eval_cond(&src, &b, &err), &err);
    return 0;
}
