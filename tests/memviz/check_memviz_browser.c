/* The memviz page in a real browser (headless Chromium): a two-rank Eagle3
 * trace renders without script errors, one band per buffer (or the merged
 * count the page reports), every interaction runs (#selftest), and the
 * screenshot is not blank. At the seed's scale (8 ranks, buffers past
 * 4 GiB) the page draws the bands it should and shows exact byte counts.
 * Skips (77) where Chromium is not installed. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

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

/* The value of attribute name="..." on the element with the given id, as
 * text; caller frees. */
static char *attr_text(const char *dom, const char *id, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "id=\"%s\"", id);
    const char *el = strstr(dom, key);
    ck_assert_msg(el != NULL, "no #%s in the page", id);
    const char *end = strchr(el, '>');
    snprintf(key, sizeof key, " %s=\"", name);
    const char *a = strstr(el, key);
    ck_assert_msg(a != NULL && a < end, "no %s on #%s", name, id);
    a += strlen(key);
    const char *q = strchr(a, '"');
    ck_assert_ptr_nonnull(q);
    return strndup(a, (size_t)(q - a));
}

/* The value of attribute name="..." on the element with the given id, as a
 * number. */
static long attr(const char *dom, const char *id, const char *name)
{
    char *text = attr_text(dom, id, name);
    long v = strtol(text, NULL, 10);
    free(text);
    return v;
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
    /* 320 buffers on each of 2 ranks: logits_f and logits_cat are computed
     * in place, inside target_all */
    ck_assert_int_eq(n_ag, 640);

    const char *html = join(dir, "timeline.html"), *cmp = join(dir, "compare.html");
    char cmd[8192];
    int n = snprintf(cmd, sizeof cmd, "%s memviz '%s' -o '%s' && %s memviz '%s' '%s' -o '%s'",
             tu_shardflow(), ag, html, tu_shardflow(), ag, a2a, cmp);
    ck_assert_int_lt(n, (int)sizeof cmd);
    char *out = NULL;
    ck_assert_msg(tu_run(cmd, &out) == 0, "%s", out);
    free(out);
    /* The two ranks of each run are identical: the page holds one of them
     * (folded as in the SVG, memviz_rows.c). */
    check_page(dir, html, n_ag / 2, join(dir, "timeline.png"));
    check_page(dir, cmp, n_ag / 2 + n_a2a / 2, join(dir, "compare.png"));
    printf("screenshots: %s/timeline.png %s/compare.png\n", dir, dir);
}
END_TEST

/* The seed's own case: Eagle3 with the qwen3-8b preset, batch 8 x seq 4096,
 * planned for 8 ranks (meta device, about 0.2 s). Its logits buffers are
 * 9.3 and 18.5 GiB, past what a u32 holds, on every rank. */
START_TEST(test_memviz_page_seed_scale_bands_and_bytes)
{
    const char *dir = tu_tmpdir();
    const char *trace = join(dir, "seed.json"), *html = join(dir, "seed.html");
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "%s plan '%s' --set model=synthetic:qwen3-8b --set batch=8 --set seq=4096 "
             "--world 8 --set redistribution=all_gather --json --trace '%s'",
             tu_shardflow(), tu_src("graphs/eagle3_target.yaml"), trace);
    char *out = NULL;
    ck_assert_msg(tu_run(cmd, &out) == 0, "%s", out);
    /* The y scale comes from the largest peak, as the runtime counted it. */
    const char *brace = strstr(out, "{\"graph\"");
    ck_assert_ptr_nonnull(brace);
    cJSON *plan = cJSON_Parse(brace);
    ck_assert_ptr_nonnull(plan);
    const cJSON *pr = cJSON_GetObjectItem(plan, "ranks");
    ck_assert_int_eq(cJSON_GetArraySize(pr), 8);
    double peak = 0;
    for (int i = 0; i < 8; i++)
        peak = fmax(peak, cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(pr, i),
                                                                   "peak_bytes")));
    cJSON_Delete(plan);
    free(out);

    /* Expected bands, by the page's rule: the y axis runs to 1.08 x the
     * largest peak over 300 px, and buffers under one pixel of that merge
     * into one grey band per rank; every other buffer is its own band. */
    double small_below = peak * 1.08 / 300;
    char *text = tu_read_file(trace, NULL);
    ck_assert_ptr_nonnull(text);
    cJSON *tj = cJSON_Parse(text);
    free(text);
    ck_assert_ptr_nonnull(tj);
    long big[8] = {0}, small[8] = {0}, n_bufs = 0;
    double gather1 = 0, logits_full0 = 0; /* gather_logits' bytes on rank 1; logits_full on 0 */
    const cJSON *ev;
    cJSON_ArrayForEach(ev, cJSON_GetObjectItem(tj, "traceEvents"))
    {
        const char *ph = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "ph"));
        const char *cat = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "cat"));
        if (ph == NULL || cat == NULL || strcmp(ph, "b") != 0 || strcmp(cat, "buffer") != 0)
            continue;
        int pid = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "pid"));
        ck_assert(pid >= 0 && pid < 8);
        const cJSON *args = cJSON_GetObjectItem(ev, "args");
        double bytes = cJSON_GetNumberValue(cJSON_GetObjectItem(args, "bytes"));
        const char *node = cJSON_GetStringValue(cJSON_GetObjectItem(args, "alloc_node"));
        const char *tensor = cJSON_GetStringValue(cJSON_GetObjectItem(args, "tensor"));
        n_bufs++;
        if (bytes >= small_below)
            big[pid]++;
        else
            small[pid]++;
        if (pid == 1 && strcmp(node, "gather_logits") == 0)
            gather1 += bytes;
        if (pid == 0 && strcmp(tensor, "logits_full") == 0)
            logits_full0 = bytes;
    }
    cJSON_Delete(tj);
    ck_assert_int_eq(n_bufs, 8 * 1384);
    /* By hand, per rank (36 layers): 8 activations of 256 MiB per layer =
     * 36 x 8 = 288 (matmul scratch is at most 8 MiB of tiles, under the
     * threshold); w_embed, the embed output and h_0 = 3; xf, w_lm_head,
     * logits, logits_full and its gather scratch, and target_all (logits_f
     * and logits_cat are computed inside it) = 6. 288 + 3 + 6 = 297.
     * aux_hidden holds the rank's rows only (96 MiB), under the threshold
     * of 1.08 x 29.82 GiB (the in-place peak) / 300 = 109.9 MiB; w_embed
     * (148.4 MiB) is above it. */
    ck_assert_int_eq(big[0], 297);
    long want_bands = 0;
    for (int i = 0; i < 8; i++)
        want_bands += big[i] + (small[i] > 0);
    /* logits_full is [32768, 151936] bf16: 8 x 4096 tokens x 151936 vocab x
     * 2 bytes = 9957277696 (9.27 GiB); gather_logits also allocates a
     * scratch of the same size, 2 x 9957277696 = 19914555392 (18.55 GiB). */
    ck_assert(logits_full0 == 32768.0 * 151936.0 * 2.0);
    ck_assert(gather1 == 2.0 * 9957277696.0);

    snprintf(cmd, sizeof cmd, "%s memviz '%s' -o '%s'", tu_shardflow(), trace, html);
    ck_assert_msg(tu_run(cmd, &out) == 0, "%s", out);
    free(out);
    char url[4200];
    snprintf(url, sizeof url, "file://%s#selftest&buffer=logits_full", html);
    char *dom = chromium("--dump-dom", url);
    ck_assert_int_eq(attr(dom, "status", "data-ready"), 1);
    ck_assert_msg(attr(dom, "errors", "data-count") == 0, "script errors:\n%s",
                  strstr(dom, "id=\"errors\""));
    /* The 8 ranks are identical: the page holds rank 0 once, and the rank
     * selector's one entry says so. */
    ck_assert_msg(strstr(dom, "<option value=\"0\">ranks 0-7 identical</option></select>") != NULL,
                  "selector: %.200s", strstr(dom, "<select id=\"rank\">"));
    ck_assert_int_eq(attr(dom, "status", "data-buffers"), n_bufs / 8);
    ck_assert_int_eq(want_bands, 8 * (big[0] + (small[0] > 0)));
    ck_assert_int_eq(attr(dom, "status", "data-bands"), want_bands / 8);
    ck_assert_int_eq(attr(dom, "status", "data-drawn-bands"), big[0] + (small[0] > 0));
    /* The hovered logits_full band's tooltip, exact bytes with separators. */
    char *tip = attr_text(dom, "status", "data-selftest-tip");
    ck_assert_msg(strstr(tip, "logits_full; shape: [32768,151936] bf16; bytes: 9.27 GiB "
                              "(9,957,277,696); alloc node: gather_logits;") != NULL,
                  "tooltip: %s", tip);
    free(tip);
    /* The legend: gather_logits' total, exact in its title. */
    const char *leg = strstr(dom, "<span title=\"19914555392 bytes\">");
    ck_assert_msg(leg != NULL, "no exact gather_logits total in the legend:\n%.2000s",
                  strstr(dom, "class=\"legend\""));
    leg = strstr(leg, "</span>");
    ck_assert_ptr_nonnull(leg);
    ck_assert_msg(strncmp(leg, "</span>gather_logits 18.55 GiB</span>", 37) == 0, "legend: %.80s",
                  leg);
    /* y axis: 1.08 x 29.82 GiB = 32.2 GiB; a sixth of it rounds up to a
     * power of two, 8 GiB, so the ticks are 0 to 32 GiB. */
    char *ticks = attr_text(dom, "status", "data-y-ticks");
    ck_assert_str_eq(ticks, "0 B,8 GiB,16 GiB,24 GiB,32 GiB");
    free(ticks);
    ck_assert_msg(strstr(dom, "hover:tip pin:yes unpin:yes zoom:yes reset:yes") != NULL,
                  "interactions: %s", strstr(dom, "data-selftest"));
    free(dom);
}
END_TEST

/* The page folds identical ranks and colours by category as the SVG does:
 * chain on 3 identical ranks is one selector entry and one set of data;
 * categories.yaml with --color category lists the six categories with the
 * bytes plan's report gives at the peak (weights 256, activations 1024,
 * logits 512, communication 512, scratch 3072, outputs 512), and at n = 256
 * (6 KiB a pixel) the 256-byte weight keeps a band of its own, which it
 * does not when coloured by node. */
/* Plan graph with plan_args, draw it with memviz_args, load the page with
 * #selftest plus hash; the DOM after the script ran. */
static char *page_dom(const char *dir, const char *graph, const char *plan_args,
                      const char *memviz_args, const char *hash)
{
    const char *trace = join(dir, "t.json"), *html = join(dir, "t.html");
    char cmd[8192], url[4300];
    int n = snprintf(cmd, sizeof cmd, "%s plan '%s' %s --trace '%s' && %s memviz '%s' %s -o '%s'",
                     tu_shardflow(), tu_src(graph), plan_args, trace, tu_shardflow(), trace,
                     memviz_args, html);
    ck_assert_int_lt(n, (int)sizeof cmd);
    char *out = NULL;
    ck_assert_msg(tu_run(cmd, &out) == 0, "%s", out);
    free(out);
    snprintf(url, sizeof url, "file://%s#selftest%s", html, hash);
    char *dom = chromium("--dump-dom", url);
    ck_assert_int_eq(attr(dom, "status", "data-ready"), 1);
    ck_assert_msg(strstr(dom, "<pre id=\"errors\" data-count=\"0\"></pre>") != NULL,
                  "script errors:\n%s", strstr(dom, "id=\"errors\""));
    return dom;
}

START_TEST(test_memviz_page_folds_ranks_and_colours_by_category)
{
    const char *dir = tu_tmpdir();
    char *dom = page_dom(dir, "tests/graphs/chain.yaml", "--world 3", "", "");
    ck_assert_msg(strstr(dom, "<select id=\"rank\"><option value=\"0\">ranks 0-2 identical"
                              "</option></select>") != NULL,
                  "selector: %s", strstr(dom, "<select id=\"rank\">"));
    ck_assert_ptr_nonnull(strstr(dom, "rank 0 (ranks 0-2 identical: one panel shown)</span>"));
    free(dom);
    char *text = tu_read_file(join(dir, "t.html"), NULL);
    ck_assert_int_eq(count_of(text, "{\"pid\":"), 1);
    free(text);

    dom = page_dom(dir, "tests/graphs/categories.yaml", "", "--color category", "");
    const char *want[] = {"</span>weights 256 B</span>", "</span>activations 1.00 KiB</span>",
                          "</span>logits/target 512 B</span>",
                          "</span>communication 512 B</span>",
                          "</span>kernel scratch 3.00 KiB</span>", "</span>outputs 512 B</span>"};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
        ck_assert_msg(strstr(dom, want[k]) != NULL, "no %s in the legend", want[k]);
    free(dom);

    /* n = 256: ten buffers; by node the 256-byte weight is the one small
     * buffer, by category it is not (and the hover test finds no "small
     * buffer" to report: its band is there, under a pixel tall). */
    dom = page_dom(dir, "tests/graphs/categories.yaml", "--set n=256", "", "&buffer=w_norm");
    ck_assert_int_eq(attr(dom, "status", "data-buffers"), 10);
    ck_assert_int_eq(attr(dom, "status", "data-small"), 1);
    char *tip = attr_text(dom, "status", "data-selftest-tip");
    ck_assert_str_eq(tip, "small buffer: no band of its own");
    free(tip);
    free(dom);
    dom = page_dom(dir, "tests/graphs/categories.yaml", "--set n=256", "--color category",
                   "&buffer=w_norm");
    ck_assert_int_eq(attr(dom, "status", "data-small"), 0);
    tip = attr_text(dom, "status", "data-selftest-tip");
    ck_assert_str_ne(tip, "small buffer: no band of its own");
    free(tip);
    free(dom);
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
    tcase_add_test(tc, test_memviz_page_seed_scale_bands_and_bytes);
    tcase_add_test(tc, test_memviz_page_folds_ranks_and_colours_by_category);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
