/* The integer expression and condition language (graph/expr.h): values,
 * precedence, floor semantics, overflow, and error columns. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "expr.h"
#include "test_util.h"

static sf_value_t params[4];
static const char *param_names[] = {"n", "tp", "mode", "on"};

static const sf_value_t *lookup(void *ctx, const char *name, size_t len)
{
    (void)ctx;
    for (int i = 0; i < 4; i++)
        if (strlen(param_names[i]) == len && strncmp(param_names[i], name, len) == 0)
            return &params[i];
    return NULL;
}

static sf_expr_src_t src_of(const char *text)
{
    /* Text starts at column 10 of line 3, as if after "  shape: " */
    sf_expr_src_t s = {text, strlen(text), {"e.yaml", 3, 10}, lookup, NULL};
    return s;
}

static int64_t eval_ok(const char *text)
{
    sf_expr_src_t s = src_of(text);
    sf_err_t err;
    sf_err_clear(&err);
    int64_t v = -777;
    sf_status_t st = sf_expr_eval_int(&s, &v, &err);
    ck_assert_msg(st == SF_OK, "'%s': %s", text, err.msg);
    return v;
}

static bool cond_ok(const char *text)
{
    sf_expr_src_t s = src_of(text);
    sf_err_t err;
    sf_err_clear(&err);
    bool v = false;
    sf_status_t st = sf_expr_eval_cond(&s, &v, &err);
    ck_assert_msg(st == SF_OK, "'%s': %s", text, err.msg);
    return v;
}

/* col is the 1-based column of the offending token within text. */
static void eval_bad(const char *text, bool is_cond, int col, const char *frag)
{
    sf_expr_src_t s = src_of(text);
    sf_err_t err;
    sf_err_clear(&err);
    int64_t v;
    bool b;
    sf_status_t st = is_cond ? sf_expr_eval_cond(&s, &b, &err) : sf_expr_eval_int(&s, &v, &err);
    ck_assert_int_eq(st, SF_ERR_GRAPH);
    ck_assert_int_eq(err.code, SF_ERR_GRAPH);
    ck_assert_str_eq(err.file, "e.yaml");
    ck_assert_int_eq(err.line, 3);
    ck_assert_msg(err.col == 10 + col - 1, "'%s': col %d, expected %d (%s)", text, err.col,
                  10 + col - 1, err.msg);
    ck_assert_msg(strstr(err.msg, frag) != NULL, "'%s': message '%s' lacks '%s'", text, err.msg,
                  frag);
}

static void setup(void)
{
    memset(params, 0, sizeof params);
    params[0].type = SF_VALUE_INT;
    params[0].i = 1024;
    params[1].type = SF_VALUE_INT;
    params[1].i = 8;
    params[2].type = SF_VALUE_STRING;
    params[2].s = "all_to_all"; /* static; never finalised */
    params[3].type = SF_VALUE_BOOL;
    params[3].b = true;
}

START_TEST(test_expr_precedence)
{
    ck_assert_int_eq(eval_ok("42"), 42);
    ck_assert_int_eq(eval_ok("1 + 2 * 3"), 7);
    ck_assert_int_eq(eval_ok("(1 + 2) * 3"), 9);
    ck_assert_int_eq(eval_ok("10 - 4 - 3"), 3);      /* left to right: (10-4)-3 */
    ck_assert_int_eq(eval_ok("64 / 4 / 2"), 8);      /* (64/4)/2 */
    ck_assert_int_eq(eval_ok("-2 * 3"), -6);
    ck_assert_int_eq(eval_ok("- -5"), 5);
    ck_assert_int_eq(eval_ok("2 - -3"), 5);
    ck_assert_int_eq(eval_ok("n / tp"), 128);
    ck_assert_int_eq(eval_ok("n/tp*2+1"), 257);
    ck_assert_int_eq(eval_ok("  ( ( n ) )  "), 1024);
}
END_TEST

START_TEST(test_expr_floor_div_and_mod)
{
    ck_assert_int_eq(eval_ok("7 // 2"), 3);
    ck_assert_int_eq(eval_ok("-7 // 2"), -4); /* floors, not truncates */
    ck_assert_int_eq(eval_ok("7 // -2"), -4);
    ck_assert_int_eq(eval_ok("-7 // -2"), 3);
    ck_assert_int_eq(eval_ok("7 % 3"), 1);
    ck_assert_int_eq(eval_ok("-7 % 3"), 2); /* -7 = -3*3 + 2 */
    ck_assert_int_eq(eval_ok("7 % -3"), -2); /* 7 = -3*-3 - 2 */
    ck_assert_int_eq(eval_ok("6 % 3"), 0);
    ck_assert_int_eq(eval_ok("1 + 7 // 2 * 2"), 7); /* // binds like * */
    ck_assert_int_eq(eval_ok("-12 / 4"), -3);
}
END_TEST

START_TEST(test_expr_min_max)
{
    ck_assert_int_eq(eval_ok("min(3, 1, 2)"), 1);
    ck_assert_int_eq(eval_ok("max(3, 1, 2)"), 3);
    ck_assert_int_eq(eval_ok("max(5)"), 5);
    ck_assert_int_eq(eval_ok("min(n, tp * 2) + max(-1, -2)"), 15);
    ck_assert_int_eq(eval_ok("max(min(4, 9), 2)"), 4);
}
END_TEST

START_TEST(test_expr_limits)
{
    ck_assert_int_eq(eval_ok("9223372036854775807"), INT64_MAX);
    ck_assert_int_eq(eval_ok("-9223372036854775807 - 1"), INT64_MIN);
    eval_bad("9223372036854775808", false, 1, "integer literal overflows int64");
    eval_bad("9223372036854775807 + 1", false, 21, "overflow: 9223372036854775807 + 1");
    eval_bad("3037000500 * 3037000500", false, 12, "overflow: 3037000500 * 3037000500");
    eval_bad("-9223372036854775807 - 2", false, 22, "overflow");
    eval_bad("(-9223372036854775807 - 1) / -1", false, 28, "overflow");
    eval_bad("-(-9223372036854775807 - 1)", false, 1, "overflow: -(-9223372036854775808)");
}
END_TEST

START_TEST(test_expr_division_errors)
{
    eval_bad("10 / 3", false, 4, "non-exact division: 10 / 3");
    eval_bad("n / (tp - 8)", false, 3, "division by zero: 1024 / 0");
    eval_bad("5 // 0", false, 3, "division by zero: 5 // 0");
    eval_bad("5 % 0", false, 3, "division by zero: 5 % 0");
}
END_TEST

START_TEST(test_expr_syntax_errors)
{
    eval_bad("n + batch", false, 5, "unknown param 'batch'");
    eval_bad("mode * 2", false, 1, "param 'mode' is a string, expected an int");
    eval_bad("on", false, 1, "param 'on' is a bool, expected an int");
    eval_bad("1 +", false, 4, "expected a number, a param name or '(', found the end");
    eval_bad("(1 + 2", false, 7, "expected ')' to close the '(' at column 10");
    eval_bad("1 2", false, 3, "unexpected '2' after the expression");
    eval_bad("", false, 1, "empty expression");
    eval_bad("min()", false, 1, "min() needs at least one argument");
    eval_bad("max(1 2)", false, 7, "expected ',' or ')' in max()");
    eval_bad("3x", false, 1, "malformed number '3x'");
    eval_bad("1 + $", false, 5, "found '$'");
    char deep[200];
    memset(deep, '(', 100);
    deep[100] = '1';
    memset(deep + 101, ')', 98);
    deep[199] = '\0';
    eval_bad(deep, false, 65, "nested deeper than 64");
}
END_TEST

START_TEST(test_cond_values)
{
    ck_assert(cond_ok("true"));
    ck_assert(!cond_ok("false"));
    ck_assert(cond_ok("on"));
    ck_assert(!cond_ok("not on"));
    ck_assert(cond_ok("tp == 8"));
    ck_assert(cond_ok("tp != 4"));
    ck_assert(cond_ok("n / tp >= 128"));
    ck_assert(!cond_ok("n / tp > 128"));
    ck_assert(cond_ok("tp < 9 and tp <= 8"));
    ck_assert(cond_ok("false or tp == 8"));
    ck_assert(cond_ok("true or false and false")); /* and binds tighter */
    ck_assert(!cond_ok("(true or false) and false"));
    ck_assert(cond_ok("not false and true"));
    ck_assert(cond_ok("(tp + 2) * 2 == 20"));
}
END_TEST

START_TEST(test_cond_string_compare)
{
    /* After substitution both sides may be plain words. */
    ck_assert(cond_ok("all_to_all == all_to_all"));
    ck_assert(!cond_ok("all_to_all == all_gather"));
    ck_assert(cond_ok("all_to_all != all_gather"));
    ck_assert(cond_ok("synthetic:qwen3-8b == synthetic:qwen3-8b"));
    ck_assert(cond_ok("mode == all_to_all")); /* a word naming a param is its value */
    ck_assert(!cond_ok("mode == 8"));
    ck_assert(cond_ok("08 == 8"));            /* both ints: numeric compare */
}
END_TEST

START_TEST(test_cond_errors)
{
    eval_bad("mode < b", true, 1, "param 'mode' is a string, expected an int");
    eval_bad("tp == 8 and", true, 12, "empty condition");
    eval_bad("1 < 2 < 3", true, 7, "comparisons cannot be chained");
    eval_bad("n", true, 1, "param 'n' is a int, expected a bool");
    eval_bad("maybe", true, 1, "'maybe' is not a condition");
    eval_bad("(tp == 8", true, 9, "unclosed '('");
    eval_bad("tp == 8)", true, 8, "unmatched ')'");
    eval_bad("n + x == 4", true, 5, "unknown param 'x'"); /* not a bare word: no text fallback */
}
END_TEST

static Suite *expr_suite(void)
{
    Suite *s = suite_create("expr");
    TCase *tc = tcase_create("int");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_expr_precedence);
    tcase_add_test(tc, test_expr_floor_div_and_mod);
    tcase_add_test(tc, test_expr_min_max);
    tcase_add_test(tc, test_expr_limits);
    tcase_add_test(tc, test_expr_division_errors);
    tcase_add_test(tc, test_expr_syntax_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("cond");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_cond_values);
    tcase_add_test(tc, test_cond_string_compare);
    tcase_add_test(tc, test_cond_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(expr_suite());
}
