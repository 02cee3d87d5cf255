/* The tracked allocator's memory limit and what it remembers of a peak:
 * the largest buffers live when the peak was reached, and the live set at
 * an allocation that failed. */
#include <check.h>
#include <string.h>

#include "mem.h"
#include "test_util.h"

static sf_buffer_t *alloc_or_fail(sf_mem_t *mem, const char *node, const char *tensor,
                                  uint64_t nbytes)
{
    sf_err_t err = {0};
    sf_buffer_t *b = NULL;
    int64_t shape[1] = {(int64_t)nbytes};
    sf_mem_set_current_node(mem, node);
    sf_alloc_req_t req = {.nbytes = nbytes, .tensor = tensor, .node = node,
                          .dtype = SF_DTYPE_U8, .ndim = 1, .shape = shape};
    ck_assert_msg(sf_mem_alloc(mem, &req, &b, &err) == SF_OK, "%s", err.msg);
    return b;
}

static void expect_top(const sf_mem_snapshot_t *s, int n, const char *const *names)
{
    ck_assert_int_eq(s->n_top, n);
    for (int i = 0; i < n; i++)
        ck_assert_str_eq(s->top[i].tensor, names[i]);
}

START_TEST(test_mem_peak_snapshot_keeps_largest_in_order)
{
    sf_mem_t *mem = sf_mem_new(sf_device_meta());
    /* Six live at the peak (one more than SF_MEM_TOP_K): d is the smallest
     * and must be left out; a and e tie, the older (a) first. */
    sf_buffer_t *a = alloc_or_fail(mem, "n1", "a", 1024);
    sf_buffer_t *b = alloc_or_fail(mem, "n1", "b", 512);
    sf_buffer_t *c = alloc_or_fail(mem, "n2", "c", 2048);
    sf_buffer_t *d = alloc_or_fail(mem, "n2", "d", 256);
    sf_buffer_t *e = alloc_or_fail(mem, "n3", "e", 1024);
    sf_buffer_t *f = alloc_or_fail(mem, "n3", "f", 700); /* counted as 768 */
    ck_assert_uint_eq(SF_MEM_TOP_K, 5);
    sf_mem_snapshot_t s;
    /* Asked while the peak is still the live set. */
    sf_mem_peak_snapshot(mem, &s);
    ck_assert_str_eq(s.node, "n3");
    ck_assert_uint_eq(s.live_bytes, 5632);
    ck_assert_int_eq(s.live_count, 6);
    expect_top(&s, 5, (const char *const[]){"c", "a", "e", "f", "b"});
    ck_assert_uint_eq(s.top[3].nbytes, 700);
    ck_assert_uint_eq(s.top[3].counted_bytes, 768);
    ck_assert_int_eq(s.top[0].ndim, 1);
    ck_assert_int_eq(s.top[0].shape[0], 2048);
    ck_assert_int_eq(s.top[0].dtype, SF_DTYPE_U8);

    /* After the set changed below the peak, the peak's set is kept. */
    sf_mem_release(mem, c, "n4");
    sf_buffer_t *g = alloc_or_fail(mem, "n4", "g", 4096); /* 7680: a new peak */
    sf_mem_release(mem, a, "n5");
    sf_buffer_t *h = alloc_or_fail(mem, "n5", "h", 256); /* 6912: below it */
    ck_assert_uint_eq(sf_mem_peak_bytes(mem), 7680);
    sf_mem_peak_snapshot(mem, &s);
    ck_assert_str_eq(s.node, "n4");
    ck_assert_uint_eq(s.live_bytes, 7680);
    ck_assert_int_eq(s.live_count, 6);
    expect_top(&s, 5, (const char *const[]){"g", "a", "e", "f", "b"});

    sf_mem_release(mem, b, "end");
    sf_mem_release(mem, d, "end");
    sf_mem_release(mem, e, "end");
    sf_mem_release(mem, f, "end");
    sf_mem_release(mem, g, "end");
    sf_mem_release(mem, h, "end");
    sf_mem_peak_snapshot(mem, &s);
    expect_top(&s, 5, (const char *const[]){"g", "a", "e", "f", "b"});
    sf_mem_free(mem);
}
END_TEST

START_TEST(test_mem_limit_refuses_with_nomem_and_remembers_live_set)
{
    sf_mem_t *mem = sf_mem_new(sf_device_cpu());
    sf_mem_set_limit(mem, 1024);
    ck_assert_uint_eq(sf_mem_limit(mem), 1024);
    sf_mem_snapshot_t s;
    ck_assert(!sf_mem_last_failure(mem, &s));
    sf_buffer_t *a = alloc_or_fail(mem, "n1", "a", 300); /* counted 512 */
    sf_buffer_t *b = alloc_or_fail(mem, "n2", "b", 512); /* 1024: exactly the limit */
    sf_err_t err = {0};
    sf_buffer_t *c = NULL;
    sf_mem_set_current_node(mem, "n3");
    sf_alloc_req_t req = {.nbytes = 1, .tensor = "c", .node = "n3", .dtype = SF_DTYPE_U8,
                          .ndim = 1, .shape = (const int64_t[]){1}};
    ck_assert_int_eq(sf_mem_alloc(mem, &req, &c, &err), SF_ERR_NOMEM);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err.msg, "tensor 'c'") != NULL && strstr(err.msg, "limit of 1024") != NULL,
                  "%s", err.msg);
    /* Nothing was counted for the refused request. */
    ck_assert_uint_eq(sf_mem_live_bytes(mem), 1024);
    ck_assert_int_eq(sf_mem_live_count(mem), 2);
    ck_assert_int_eq(sf_mem_total_allocs(mem), 2);
    ck_assert(sf_mem_last_failure(mem, &s));
    ck_assert_str_eq(s.node, "n3");
    ck_assert_str_eq(s.want_tensor, "c");
    ck_assert_uint_eq(s.want_bytes, 1);
    ck_assert_uint_eq(s.live_bytes, 1024);
    expect_top(&s, 2, (const char *const[]){"a", "b"});
    /* Room again once something is freed. */
    sf_mem_release(mem, a, "n3");
    ck_assert_int_eq(sf_mem_alloc(mem, &req, &c, &err), SF_OK);
    sf_mem_release(mem, b, "end");
    sf_mem_release(mem, c, "end");
    sf_mem_free(mem);
}
END_TEST

START_TEST(test_mem_no_limit_by_default)
{
    sf_mem_t *mem = sf_mem_new(sf_device_meta());
    ck_assert_uint_eq(sf_mem_limit(mem), 0);
    sf_buffer_t *a = alloc_or_fail(mem, "n1", "a", UINT64_C(1) << 40);
    sf_mem_snapshot_t s;
    ck_assert(!sf_mem_last_failure(mem, &s));
    sf_mem_release(mem, a, "end");
    sf_mem_free(mem);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mem");
    TCase *tc = tcase_create("limit");
    tcase_add_test(tc, test_mem_peak_snapshot_keeps_largest_in_order);
    tcase_add_test(tc, test_mem_limit_refuses_with_nomem_and_remembers_live_set);
    tcase_add_test(tc, test_mem_no_limit_by_default);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
