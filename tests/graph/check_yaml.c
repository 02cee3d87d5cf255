/* The YAML document tree (graph/yaml_doc.h): positions, scalar styles,
 * alias expansion and its budget, and the text checks done before libyaml. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "test_util.h"
#include "yaml_doc.h"

static sf_ydoc_t *parse_ok(const char *text)
{
    sf_ydoc_t *d = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_ydoc_parse(text, strlen(text), "y.yaml", &d, &err);
    ck_assert_msg(st == SF_OK, "%d:%d: %s", err.line, err.col, err.msg);
    return d;
}

static void parse_bad_len(const char *text, size_t len, int line, int col, const char *frag)
{
    sf_ydoc_t *d = (sf_ydoc_t *)1;
    sf_err_t err;
    sf_err_clear(&err);
    sf_status_t st = sf_ydoc_parse(text, len, "y.yaml", &d, &err);
    ck_assert_int_eq(st, SF_ERR_PARSE);
    ck_assert_ptr_null(d);
    ck_assert_int_eq(err.code, SF_ERR_PARSE);
    ck_assert_str_eq(err.file, "y.yaml");
    ck_assert_msg(err.line == line && err.col == col, "at %d:%d, expected %d:%d: %s", err.line,
                  err.col, line, col, err.msg);
    ck_assert_msg(strstr(err.msg, frag) != NULL, "'%s' lacks '%s'", err.msg, frag);
}

static void parse_bad(const char *text, int line, int col, const char *frag)
{
    parse_bad_len(text, strlen(text), line, col, frag);
}

START_TEST(test_yaml_tree_and_positions)
{
    sf_ydoc_t *d = parse_ok("a: 1\n"
                            "b:\n"
                            "  - x\n"
                            "  - {k: 'q', j: \"2\"}\n");
    const sf_ynode_t *r = d->root;
    ck_assert_int_eq(r->kind, SF_YNODE_MAP);
    ck_assert_int_eq(sf_ynode_map_count(r), 2);
    ck_assert_str_eq(sf_ynode_map_key(r, 1)->text, "b");
    ck_assert_int_eq(sf_ynode_map_key(r, 1)->pos.line, 2);
    ck_assert_int_eq(sf_ynode_map_key(r, 1)->pos.col, 1);
    const sf_ynode_t *a = sf_ynode_map_get(r, "a");
    ck_assert_str_eq(a->text, "1");
    ck_assert(a->is_plain);
    ck_assert_int_eq(a->pos.col, 4);
    const sf_ynode_t *b = sf_ynode_map_get(r, "b");
    ck_assert_int_eq(b->kind, SF_YNODE_SEQ);
    ck_assert_int_eq(b->n_kids, 2);
    ck_assert_int_eq(b->pos.line, 3);
    ck_assert_int_eq(b->pos.col, 3);
    const sf_ynode_t *m = b->kids[1];
    ck_assert_int_eq(m->kind, SF_YNODE_MAP);
    ck_assert_int_eq(m->pos.line, 4);
    ck_assert_int_eq(m->pos.col, 5);
    const sf_ynode_t *k = sf_ynode_map_get(m, "k");
    ck_assert_str_eq(k->text, "q");
    ck_assert(!k->is_plain);
    ck_assert_int_eq(k->pos.col, 9);
    ck_assert_int_eq(sf_ynode_text_pos(k).col, 10); /* after the quote */
    ck_assert(!sf_ynode_map_get(m, "j")->is_plain);
    ck_assert_ptr_null(sf_ynode_map_get(m, "zz"));
    ck_assert_int_eq(r->n_tree, 11); /* map, a, 1, b, seq, x, map, k, q, j, 2 */
    sf_ydoc_free(d);
}
END_TEST

START_TEST(test_yaml_empty_and_null)
{
    sf_ydoc_t *d = parse_ok("");
    ck_assert_ptr_null(d->root);
    sf_ydoc_free(d);
    d = parse_ok("a:\nb: ~\nc: null\nd: 'null'\n");
    ck_assert(sf_ynode_is_null(sf_ynode_map_get(d->root, "a")));
    ck_assert(sf_ynode_is_null(sf_ynode_map_get(d->root, "b")));
    ck_assert(sf_ynode_is_null(sf_ynode_map_get(d->root, "c")));
    ck_assert(!sf_ynode_is_null(sf_ynode_map_get(d->root, "d")));
    sf_ydoc_free(d);
}
END_TEST

START_TEST(test_yaml_alias_copies)
{
    sf_ydoc_t *d = parse_ok("base: &b [1, 2]\n"
                            "copy: *b\n"
                            "tag: !!str 5\n");
    const sf_ynode_t *c = sf_ynode_map_get(d->root, "copy");
    ck_assert_int_eq(c->kind, SF_YNODE_SEQ);
    ck_assert_int_eq(c->n_kids, 2);
    ck_assert_str_eq(c->kids[1]->text, "2");
    ck_assert_int_eq(c->pos.line, 2); /* the alias's position, not the anchor's */
    ck_assert_int_eq(c->pos.col, 7);
    ck_assert_ptr_ne(c->kids[0], sf_ynode_map_get(d->root, "base")->kids[0]); /* a copy */
    ck_assert_uint_eq(d->n_alias_nodes, 3);
    ck_assert(!sf_ynode_map_get(d->root, "tag")->is_plain); /* tagged: a string */
    sf_ydoc_free(d);
}
END_TEST

START_TEST(test_yaml_alias_bomb)
{
    /* Each level multiplies by 10, so level 5 alone would be ~10^5 nodes. */
    const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n";
    /* Expanded before e: b 10*11, c 10*111, d 10*1111 = 12330; each *d adds
     * 11111: after 7 the total is 90107, and the 8th (col 36) would pass
     * 100000. */
    parse_bad(bomb, 5, 36, "alias expansion exceeds budget of 100000 nodes (alias '*d' adds "
                           "11111 to 90107 already expanded)");
}
END_TEST

START_TEST(test_yaml_alias_errors)
{
    parse_bad("a: *nope\n", 1, 4, "unknown alias '*nope'");
    parse_bad("a: &r [1, *r]\n", 1, 11, "alias '*r' refers to a node that contains it");
}
END_TEST

START_TEST(test_yaml_duplicate_and_complex_keys)
{
    parse_bad("x: 1\ny: 2\nx: 3\nx: 4\n", 3, 1, "duplicate key 'x' (first at line 1)");
    parse_bad("{z: 1, q: {a: 1, a: 2}}\n", 1, 18, "duplicate key 'a'");
    parse_bad("? [1, 2]\n: v\n", 1, 3, "mapping key is a list, expected a scalar");
}
END_TEST

START_TEST(test_yaml_syntax_error_position)
{
    /* libyaml's problem mark is 0-based; ours is 1-based. */
    parse_bad("a: [1, 2\nb: 3\n", 2, 2, "did not find expected ',' or ']'");
    parse_bad("a: b: c\n", 1, 5, "mapping values are not allowed in this context");
    parse_bad("a: 1\n---\nb: 2\n", 2, 1, "a second YAML document");
}
END_TEST

START_TEST(test_yaml_depth_limit)
{
    size_t n = SF_YAML_MAX_DEPTH + 1;
    char *deep = calloc(2 * n + 2, 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    parse_bad(deep, 1, (int)n, "nesting is deeper than 256 levels");
    deep[n - 1] = ' '; /* exactly the limit is fine */
    deep[n] = ' ';
    sf_ydoc_t *d = parse_ok(deep);
    ck_assert_int_eq(d->root->height, SF_YAML_MAX_DEPTH);
    sf_ydoc_free(d);
    free(deep);
}
END_TEST

START_TEST(test_yaml_text_checks)
{
    /* Columns count characters: 'é' is two bytes but one column. */
    parse_bad_len("a: 1\nb: \xc3\xa9\xc3\n", 12, 2, 5, "invalid UTF-8: byte 0xc3");
    parse_bad_len("a: 1\nb: x\0y\n", 11, 2, 5, "NUL byte");
    parse_bad("a: \xed\xa0\x80\n", 1, 4, "invalid UTF-8"); /* a UTF-16 surrogate */
    parse_bad("a: \xc0\xaf\n", 1, 4, "invalid UTF-8");     /* an overlong '/' */
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_ydoc_check_text("ok: \xf0\x9f\x98\x80\n", 9, "y.yaml", &err), SF_OK);
    ck_assert_int_eq(sf_ydoc_check_text("x", SF_GRAPH_MAX_FILE_BYTES + 1, "y.yaml", &err),
                     SF_ERR_PARSE);
    ck_assert_int_eq(err.line, 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "4194305 bytes, more than the limit of 4194304"));
}
END_TEST

static Suite *yaml_suite(void)
{
    Suite *s = suite_create("yaml");
    TCase *tc = tcase_create("tree");
    tcase_add_test(tc, test_yaml_tree_and_positions);
    tcase_add_test(tc, test_yaml_empty_and_null);
    tcase_add_test(tc, test_yaml_alias_copies);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_yaml_alias_bomb);
    tcase_add_test(tc, test_yaml_alias_errors);
    tcase_add_test(tc, test_yaml_duplicate_and_complex_keys);
    tcase_add_test(tc, test_yaml_syntax_error_position);
    tcase_add_test(tc, test_yaml_depth_limit);
    tcase_add_test(tc, test_yaml_text_checks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(yaml_suite());
}
