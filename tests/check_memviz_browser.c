/* The memviz page in a real browser (headless Chromium): a two-rank Eagle3
 * trace renders without script errors, one band per buffer (or the merged
 * count the page reports), every interaction runs (#selftest), and the
 * screenshot is not blank. Skips (77) where Chromium is not installed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

#define CHROMIUM "/usr/bin/chromium"

static const char *join(const char *dir, const char *name)
{
    static char slots[8][4096];
    static int next;
    char *p = slots[next++ % 8];
    snprintf(p, 4096, "%s/%s", dir, name);
    return p;
}

/* Run Chromium headless on url with extra flags; returns its output. */
static char *chromium(const char *flags, const char *url)
{
    char cmd[8192];
    int n = snprintf(cmd, sizeof cmd,
             "timeout 120 " CHROMIUM " --headless --no-sandbox --disable-gpu "
             "--disable-background-networking --disable-component-update --disable-sync "
             "--no-first-run --disable-quic --user-data-dir=%s %s '%s' 2>/dev/null",
             tu_tmpdir(), flags, url);
    ck_assert_int_lt(n, (int)sizeof cmd);
    char *out = NULL;
    int rc = tu_run(cmd, &out);
    ck_assert_msg(rc == 0, "chromium failed (%d):\n%s", rc, out);
    return out;
}

/* The value of attribute name="..." inside the element with the given id. */
static long attr(const char *dom, const char *id, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "id=\"%s\"", id);
    const char *el = strstr(dom, key);
    ck_assert_msg(el != NULL, "no #%s in the page", id);
    const char *end = strchr(el, '>');
    snprintf(key, sizeof key, "%s=\"", name);
    const char *a = strstr(el, key);
    ck_assert_msg(a != NULL && a < end, "no %s on #%s", name, id);
    return strtol(a + strlen(key), NULL, 10);
}

static long count_of(const char *text, const char *needle)
{
    long n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "no file %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static const char *make_trace(const char *dir, const char *mode)
{
    char name[64];
    snprintf(name, sizeof name, "%s.json", mode);
    const char *trace = join(dir, name);
    char cmd[8192];
    int n = snprintf(cmd, sizeof cmd, "%s run --nproc 2 '%s' --set redistribution=%s --trace '%s'",
             tu_shardflow(), tu_src("graphs/eagle3_target.yaml"), mode, trace);
    ck_assert_int_lt(n, (int)sizeof cmd);
    char *out = NULL;
    ck_assert_msg(tu_run(cmd, &out) == 0, "%s", out);
    free(out);
    return trace;
}

static void check_page(const char *dir, const char *html, long want_buffers, const char *shot)
{
    char url[4200];
    snprintf(url, sizeof url, "file://%s#selftest", html);
    char *dom = chromium("--dump-dom", url);
    ck_assert_int_eq(attr(dom, "status", "data-ready"), 1);
    ck_assert_msg(attr(dom, "errors", "data-count") == 0 &&
                      strstr(dom, "<pre id=\"errors\" data-count=\"0\"></pre>") != NULL,
                  "script errors:\n%s", strstr(dom, "id=\"errors\""));
    long buffers = attr(dom, "status", "data-buffers");
    long bands = attr(dom, "status", "data-bands");
    long small = attr(dom, "status", "data-small");
    long small_bands = attr(dom, "status", "data-small-bands");
    ck_assert_int_eq(buffers, want_buffers);
    /* every buffer is a band, except those merged into one band per rank */
    ck_assert_int_eq(bands, buffers - small + small_bands);
    ck_assert_int_le(small_bands, 4);
    ck_assert_msg(strstr(dom, "hover:tip pin:yes unpin:yes zoom:yes reset:yes") != NULL,
                  "interactions: %s", strstr(dom, "data-selftest"));
    long drawn = attr(dom, "status", "data-drawn-bands");
    ck_assert_int_gt(drawn, 0);
    free(dom);

    /* Screenshot of the page against one of an empty page. */
    const char *blank = join(dir, "blank.html");
    ck_assert_int_eq(tu_write_file(blank, "<!DOCTYPE html><html><body></body></html>\n"), 0);
    const char *blank_png = join(dir, "blank.png");
    char flags[4300];
    snprintf(flags, sizeof flags, "--window-size=1400,1000 --screenshot=%s", blank_png);
    snprintf(url, sizeof url, "file://%s", blank);
    free(chromium(flags, url));
    snprintf(flags, sizeof flags, "--window-size=1400,1000 --screenshot=%s", shot);
    snprintf(url, sizeof url, "file://%s", html);
    free(chromium(flags, url));
    long page = file_size(shot), empty = file_size(blank_png);
    ck_assert_msg(page > 10 * empty && page > 30000, "screenshot looks blank: %ld bytes vs %ld",
                  page, empty);
}

START_TEST(test_memviz_page_renders_every_buffer)
{
    const char *dir = tu_tmpdir();
    const char *ag = make_trace(dir, "all_gather"), *a2a = make_trace(dir, "all_to_all");
    char *text = tu_read_file(ag, NULL);
    long n_ag = count_of(text, "\"ph\":\"b\"");
    free(text);
    text = tu_read_file(a2a, NULL);
    long n_a2a = count_of(text, "\"ph\":\"b\"");
    free(text);
    ck_assert_int_eq(n_ag, 644); /* 322 buffers on each of 2 ranks */

    const char *html = join(dir, "timeline.html"), *cmp = join(dir, "compare.html");
    char cmd[8192];
    int n = snprintf(cmd, sizeof cmd, "%s memviz '%s' -o '%s' && %s memviz '%s' '%s' -o '%s'",
             tu_shardflow(), ag, html, tu_shardflow(), ag, a2a, cmp);
    ck_assert_int_lt(n, (int)sizeof cmd);
    char *out = NULL;
    ck_assert_msg(tu_run(cmd, &out) == 0, "%s", out);
    free(out);
    check_page(dir, html, n_ag, join(dir, "timeline.png"));
    check_page(dir, cmp, n_ag + n_a2a, join(dir, "compare.png"));
    printf("screenshots: %s/timeline.png %s/compare.png\n", dir, dir);
}
END_TEST

int main(void)
{
    if (access(CHROMIUM, X_OK) != 0) {
        printf("SKIP: chromium not installed (%s)\n", CHROMIUM);
        return 77;
    }
    Suite *s = suite_create("memviz_browser");
    TCase *tc = tcase_create("browser");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_memviz_page_renders_every_buffer);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
