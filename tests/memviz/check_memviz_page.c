/* What `shardflow memviz` draws: the SVG is well-formed XML with the peak
 * label, neighbouring nodes differ in colour, --zoom peak and --color
 * category, a few x ticks; the HTML page is self-contained, carries byte
 * counts exact up to 2^53, and its generated source is in sync. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "memviz_harness.h"
#include "test_util.h"

static void check_xml(const char *s);

/* The Eagle3 graph planned (not run: light on a loaded machine) on two
 * ranks in all_gather mode, as a trace in dir. */
static const char *eagle3_plan_trace(const char *dir)
{
    const char *trace = mv_path_in(dir, "eagle3_plan.json");
    char *out = NULL;
    int rc = mv_sf(&out, "plan '%s' --world 2 --set redistribution=all_gather --trace '%s'",
                   tu_src("graphs/eagle3_target.yaml"), trace);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    return trace;
}

START_TEST(test_memviz_adjacent_nodes_differ_in_colour)
{
    /* chain's three nodes get the first three colours in order (hues 0, 130,
     * 260); in the Eagle3 trace no node span has the colour of the one
     * before it (a hash of the name gave two neighbours one colour). */
    const char *dir = tu_tmpdir();
    const char *trace = mv_path_in(dir, "chain.json"), *svg = mv_path_in(dir, "chain.svg");
    char *out = NULL;
    ck_assert_int_eq(
        mv_sf(&out, "plan '%s' --trace '%s'", tu_src("tests/graphs/chain.yaml"), trace), 0);
    free(out);
    ck_assert_int_eq(mv_sf(&out, "memviz '%s' -o '%s'", trace, svg), 0);
    free(out);
    char *text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(text);
    const char *want[] = {"fill=\"hsl(0,58%,48%)\"/><text x=\"76.0\" y=\"284.5\">make_a",
                          "fill=\"hsl(130,68%,54%)\"/><text", "fill=\"hsl(260,78%,60%)\"/><text"};
    for (int k = 0; k < 3; k++)
        ck_assert_msg(strstr(text, want[k]) != NULL, "no %s", want[k]);
    free(text);
    const char *a = eagle3_plan_trace(dir);
    ck_assert_int_eq(mv_sf(&out, "memviz '%s' -o '%s'", a, svg), 0);
    free(out);
    text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(text);
    /* The phase strip: rects of height 14, in time order. */
    char prev[48] = "";
    int n = 0;
    for (const char *p = strstr(text, "height=\"14\" fill=\""); p != NULL;
         p = strstr(p + 1, "height=\"14\" fill=\"")) {
        const char *c = p + strlen("height=\"14\" fill=\"");
        const char *e = strchr(c, '"');
        char cur[48];
        snprintf(cur, sizeof cur, "%.*s", (int)(e - c), c);
        ck_assert_msg(strcmp(cur, prev) != 0, "span %d has the colour of the one before: %s", n,
                      cur);
        snprintf(prev, sizeof prev, "%s", cur);
        n++;
    }
    ck_assert_int_gt(n, 100);
    free(text);
}
END_TEST

START_TEST(test_memviz_zoom_to_peak)
{
    /* Eagle3 all_gather on tiny: 640 events on rank 0, the peak at event
     * index 540; a twentieth of 640 is 32, so --zoom peak shows events
     * 508..572 and the axis reads 520, 540, 560 (steps of 20), never 200. */
    const char *dir = tu_tmpdir();
    const char *a = eagle3_plan_trace(dir);
    const char *svg = mv_path_in(dir, "zoom.svg"), *html = mv_path_in(dir, "zoom.html");
    char *out = NULL;
    ck_assert_int_eq(mv_sf(&out, "memviz --summary --json '%s'", a), 0);
    cJSON *j = mv_parse_json_out(out);
    const cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "ranks"), 0);
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r0, "events")), 640);
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r0, "peak_event")), 540);
    cJSON_Delete(j);
    free(out);
    ck_assert_int_eq(mv_sf(&out, "memviz '%s' --zoom peak -o '%s'", a, svg), 0);
    free(out);
    char *text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(text);
    check_xml(text);
    ck_assert_ptr_nonnull(strstr(text, "<clipPath id=\"plot0\">"));
    ck_assert_ptr_nonnull(strstr(text, ">520</text>"));
    ck_assert_ptr_nonnull(strstr(text, ">560</text>"));
    ck_assert_ptr_null(strstr(text, ">500</text>"));
    ck_assert_ptr_null(strstr(text, ">200</text>"));
    free(text);
    ck_assert_int_eq(mv_sf(&out, "memviz '%s' -o '%s'", a, svg), 0);
    free(out);
    text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(strstr(text, ">200</text>")); /* the whole run: 0, 200, 400, 600 */
    free(text);
    ck_assert_int_eq(mv_sf(&out, "memviz '%s' --zoom peak -o '%s'", a, html), 0);
    free(out);
    text = tu_read_file(html, NULL);
    ck_assert_ptr_nonnull(strstr(text, "\"zoom\":\"peak\""));
    ck_assert_ptr_nonnull(strstr(text, "<button id=\"zoompeak\">zoom to peak</button>"));
    free(text);
    ck_assert_int_eq(
        mv_sf(&out, "memviz '%s' --zoom middle -o '%s'", a, mv_path_in(dir, "no.svg")), 2);
    ck_assert_msg(strstr(out, "--zoom takes 'all' or 'peak', not 'middle'") != NULL, "%s", out);
    free(out);
}
END_TEST

START_TEST(test_memviz_colour_by_category)
{
    /* tests/graphs/categories.yaml: at its peak (mm2) plan counts weights
     * 256, activations 1024, logits 512, communication 512, scratch 3072,
     * outputs 512 (check_plan_report adds them up); the SVG's category
     * legend says the same from the trace alone. With n = 256 the peak is
     * about 1.3 MB, 6 KiB a pixel: the 256-byte weight would be merged
     * into "small buffers", but weights keep a band (colour #4e79a7). */
    const char *dir = tu_tmpdir();
    const char *trace = mv_path_in(dir, "cat.json"), *svg = mv_path_in(dir, "cat.svg");
    char *out = NULL;
    ck_assert_int_eq(mv_sf(&out, "plan '%s' --trace '%s'",
                           tu_src("tests/graphs/categories.yaml"), trace),
                     0);
    free(out);
    ck_assert_int_eq(mv_sf(&out, "memviz '%s' --color category -o '%s'", trace, svg), 0);
    free(out);
    char *text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(text);
    check_xml(text);
    const char *want[] = {">weights 256 B</text>",      ">activations 1 KiB</text>",
                          ">logits/target 512 B</text>", ">communication 512 B</text>",
                          ">kernel scratch 3 KiB</text>", ">outputs 512 B</text>"};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
        ck_assert_msg(strstr(text, want[k]) != NULL, "no %s", want[k]);
    free(text);
    ck_assert_int_eq(mv_sf(&out, "plan '%s' --set n=256 --trace '%s'",
                           tu_src("tests/graphs/categories.yaml"), trace),
                     0);
    free(out);
    ck_assert_int_eq(mv_sf(&out, "memviz '%s' --color category -o '%s'", trace, svg), 0);
    free(out);
    text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "<path fill=\"#4e79a7\" d=\"M") != NULL, "no weights band");
    free(text);
    ck_assert_int_eq(mv_sf(&out, "memviz '%s' --color rainbow -o '%s'", trace, svg), 2);
    ck_assert_msg(strstr(out, "--color takes 'node' or 'category', not 'rainbow'") != NULL, "%s",
                  out);
    free(out);
}
END_TEST

/* A tiny XML well-formedness check: tags balance, attributes are quoted,
 * entities are known. Enough to catch what a string-built SVG gets wrong. */
static void check_xml(const char *s)
{
    char stack[64][32];
    int depth = 0, roots = 0;
    const char *p = s;
    if (strncmp(p, "<?xml", 5) == 0)
        p = strstr(p, "?>") + 2;
    while (*p != '\0') {
        if (*p == '&') {
            ck_assert_msg(strncmp(p, "&lt;", 4) == 0 || strncmp(p, "&gt;", 4) == 0 ||
                              strncmp(p, "&amp;", 5) == 0 || strncmp(p, "&quot;", 6) == 0 ||
                              strncmp(p, "&apos;", 6) == 0,
                          "bad entity at %.20s", p);
            p++;
            continue;
        }
        if (*p != '<') {
            p++;
            continue;
        }
        bool closing = p[1] == '/';
        const char *name = p + (closing ? 2 : 1);
        size_t n = strcspn(name, " \t\n/>");
        ck_assert_msg(n > 0 && n < 32, "bad tag at %.30s", p);
        const char *q = name + n;
        char quote = 0;
        while (*q != '\0' && (quote != 0 || *q != '>')) {
            if (quote == 0 && (*q == '"' || *q == '\''))
                quote = *q;
            else if (*q == quote)
                quote = 0;
            else if (quote == 0 && *q == '<')
                ck_abort_msg("'<' inside a tag at %.30s", p);
            q++;
        }
        ck_assert_msg(*q == '>', "unterminated tag at %.30s", p);
        bool self = q[-1] == '/';
        if (closing) {
            ck_assert_msg(depth > 0 && strncmp(stack[depth - 1], name, n) == 0 &&
                              stack[depth - 1][n] == '\0',
                          "mismatched close at %.30s", p);
            depth--;
        } else if (!self) {
            ck_assert_int_lt(depth, 64);
            if (depth == 0)
                roots++;
            memcpy(stack[depth], name, n);
            stack[depth][n] = '\0';
            depth++;
        }
        p = q + 1;
    }
    ck_assert_int_eq(depth, 0);
    ck_assert_int_eq(roots, 1);
}

START_TEST(test_memviz_svg_is_well_formed_with_peak)
{
    const char *dir = tu_tmpdir();
    const char *a = mv_eagle3_trace(dir, "all_gather"), *b = mv_eagle3_trace(dir, "all_to_all");
    const char *svg = mv_path_in(dir, "cmp.svg");
    char *out = NULL;
    ck_assert_int_eq(mv_sf(&out, "memviz '%s' '%s' -o '%s'", a, b, svg), 0);
    free(out);
    char *text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(text);
    check_xml(text);
    ck_assert_ptr_nonnull(strstr(text, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    /* both runs' peaks as the runtime reports them: 1240320 B and 1035520 B
     * (all_gather computes its f32 cast straight into the padded target,
     * so its peak is the cast's) */
    ck_assert_msg(strstr(text, "peak 1.18 MiB \xc2\xb7 to_f32") != NULL, "no all_gather peak");
    ck_assert_msg(strstr(text, "peak 1011 KiB \xc2\xb7 lm_head") != NULL, "no all_to_all peak");
    /* Both ranks of both runs are the same: one row, with a note. */
    ck_assert_msg(strstr(text, "rank 0 (ranks 0-1 identical: one panel shown)</text>") != NULL,
                  "no fold note");
    ck_assert_ptr_null(strstr(text, "rank 1</text>"));
    ck_assert_ptr_nonnull(strstr(text, ">1 MiB</text>")); /* a byte axis label */
    free(text);
    /* One trace, time axis: also well formed. */
    ck_assert_int_eq(mv_sf(&out, "memviz '%s' --x time -o '%s'", a, svg), 0);
    free(out);
    text = tu_read_file(svg, NULL);
    check_xml(text);
    ck_assert_ptr_nonnull(strstr(text, "time (ms)"));
    free(text);
}
END_TEST

/* x ticks: about six. 200 buffers allocated and freed one after another
 * are 400 events; a sixth is 66.7, so the step is 100 (labels 0 to 400).
 * Without the step of 10 x a power of ten the axis had a label every 10
 * events, 41 of them run together (seen on a real PyTorch snapshot). */
START_TEST(test_memviz_svg_x_ticks_are_few)
{
    const char *dir = tu_tmpdir();
    const char *trace = mv_path_in(dir, "many.json"), *svg = mv_path_in(dir, "many.svg");
    size_t cap = 200 * 300 + 64, used = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    used += (size_t)snprintf(text, cap, "{\"traceEvents\":[");
    for (int i = 0; i < 200; i++)
        used += (size_t)snprintf(text + used, cap - used,
                                 "%s{\"ph\":\"b\",\"cat\":\"buffer\",\"pid\":0,\"ts\":%d,"
                                 "\"id2\":{\"local\":\"%d\"},\"name\":\"t\",\"args\":"
                                 "{\"bytes\":64}},{\"ph\":\"e\",\"cat\":\"buffer\",\"pid\":0,"
                                 "\"ts\":%d,\"id2\":{\"local\":\"%d\"},\"name\":\"t\"}",
                                 i > 0 ? "," : "", 2 * i, i, 2 * i + 1, i);
    snprintf(text + used, cap - used, "]}\n");
    ck_assert_int_eq(tu_write_file(trace, text), 0);
    free(text);
    char *out = NULL;
    ck_assert_int_eq(mv_sf(&out, "memviz '%s' -o '%s'", trace, svg), 0);
    free(out);
    text = tu_read_file(svg, NULL);
    ck_assert_ptr_nonnull(text);
    const char *xl = strstr(text, "<g class=\"xl\">");
    ck_assert_ptr_nonnull(xl);
    char *end = strstr(xl, "</g>");
    ck_assert_ptr_nonnull(end);
    *end = '\0';
    ck_assert_msg(strstr(xl, ">0</text>") != NULL && strstr(xl, ">100</text>") != NULL &&
                      strstr(xl, ">400</text>") != NULL && strstr(xl, ">10</text>") == NULL,
                  "x labels: %s", xl);
    long n = 0;
    for (const char *q = xl; (q = strstr(q, "<text")) != NULL; q++)
        n++;
    ck_assert_int_eq(n, 5);
    free(text);
}
END_TEST

START_TEST(test_memviz_html_is_self_contained)
{
    const char *dir = tu_tmpdir();
    const char *trace = mv_path_in(dir, "t.json");
    ck_assert_int_eq(tu_write_file(trace, MV_HAND_TRACE), 0);
    /* a tensor name that tries to end the script block */
    const char *evil = mv_path_in(dir, "evil.json");
    char *hand = strdup(MV_HAND_TRACE);
    char *at = strstr(hand, "\"tensor\":\"a\"");
    ck_assert_ptr_nonnull(at);
    char buf[8192];
    snprintf(buf, sizeof buf, "%.*s\"tensor\":\"</script><b>\"%s", (int)(at - hand), hand,
             at + strlen("\"tensor\":\"a\""));
    ck_assert_int_eq(tu_write_file(evil, buf), 0);
    free(hand);
    const char *html = mv_path_in(dir, "p.html");
    char *out = NULL;
    ck_assert_int_eq(mv_sf(&out, "memviz '%s' -o '%s'", evil, html), 0);
    free(out);
    char *text = tu_read_file(html, NULL);
    ck_assert_ptr_null(strstr(text, "http://"));
    ck_assert_ptr_null(strstr(text, "https://"));
    ck_assert_ptr_null(strstr(text, "<script src"));
    ck_assert_ptr_null(strstr(text, "<link"));
    ck_assert_ptr_null(strstr(text, "</script><b>"));
    ck_assert_ptr_nonnull(strstr(text, "<script type=\"application/json\" id=\"mv-data\">"));
    ck_assert_ptr_nonnull(strstr(text, "\\u003c/script\\u003e"));
    free(text);
}
END_TEST

/* Decode standard base64 (with '=' padding); *n bytes, caller frees. */
static unsigned char *unbase64(const char *s, size_t *n)
{
    size_t len = strlen(s);
    unsigned char *out = malloc(len / 4 * 3 + 1);
    ck_assert_ptr_nonnull(out);
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (const char *p = s; *p != '\0' && *p != '='; p++) {
        const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *at = strchr(tab, *p);
        ck_assert_msg(at != NULL, "not base64: '%c'", *p);
        v = (v << 6) | (unsigned)(at - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(v >> bits);
            v &= (1u << bits) - 1;
        }
    }
    *n = o;
    return out;
}

/* One byte column of a rank in the page's data, as the page's script reads
 * it: Float64Array when the rank is "wide", else Uint32Array. */
static void page_bytes(const cJSON *rank, const char *key, double *out, size_t want)
{
    bool wide = cJSON_IsTrue(cJSON_GetObjectItem(rank, "wide"));
    size_t n = 0;
    unsigned char *raw = unbase64(cJSON_GetStringValue(cJSON_GetObjectItem(rank, key)), &n);
    size_t width = wide ? sizeof(double) : sizeof(uint32_t);
    ck_assert_uint_eq(n, want * width);
    for (size_t i = 0; i < want; i++) {
        if (wide) {
            memcpy(&out[i], raw + i * width, width);
        } else {
            uint32_t u;
            memcpy(&u, raw + i * width, width);
            out[i] = u;
        }
    }
    free(raw);
}

START_TEST(test_memviz_page_encodes_bytes_exactly)
{
    const char *dir = tu_tmpdir();
    const char *trace = mv_path_in(dir, "big.json"), *html = mv_path_in(dir, "big.html");
    ck_assert_int_eq(tu_write_file(trace, MV_BIG_TRACE), 0);
    char *out = NULL;
    ck_assert_int_eq(mv_sf(&out, "memviz '%s' -o '%s'", trace, html), 0);
    free(out);
    char *text = tu_read_file(html, NULL);
    ck_assert_ptr_nonnull(text);
    const char *open = "<script type=\"application/json\" id=\"mv-data\">";
    char *data = strstr(text, open);
    ck_assert_ptr_nonnull(data);
    data += strlen(open);
    char *end = strstr(data, "</script>");
    ck_assert_ptr_nonnull(end);
    *end = '\0';
    cJSON *j = cJSON_Parse(data);
    ck_assert_msg(j != NULL, "the page's data is not JSON");
    const cJSON *ranks = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "runs"), 0),
                                             "ranks");
    ck_assert_int_eq(cJSON_GetArraySize(ranks), 2);
    double by[3], rq[3];
    /* rank 0 needs more than 32 bits: doubles, every value exact */
    const cJSON *r0 = cJSON_GetArrayItem(ranks, 0);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(r0, "wide")));
    page_bytes(r0, "by", by, 3);
    page_bytes(r0, "rq", rq, 3);
    ck_assert_msg(by[0] == 4294967296.0 && by[1] == 9007199254740992.0 && by[2] == 100.0,
                  "bytes on the page: %.17g %.17g %.17g", by[0], by[1], by[2]);
    ck_assert_msg(rq[0] == 4294967296.0 && rq[1] == 9007199254740991.0 && rq[2] == 98.0,
                  "requested bytes on the page: %.17g %.17g %.17g", rq[0], rq[1], rq[2]);
    ck_assert_ptr_nonnull(strstr(data, "\"peak\":9007199254740992,"));
    ck_assert_ptr_nonnull(strstr(data, "\"total\":9007203549708388,"));
    /* rank 1 fits 32 bits: the compact form, UINT32_MAX included */
    const cJSON *r1 = cJSON_GetArrayItem(ranks, 1);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(r1, "wide")));
    page_bytes(r1, "by", by, 2);
    page_bytes(r1, "rq", rq, 2);
    ck_assert_msg(by[0] == 4294967295.0 && by[1] == 7.0 && rq[0] == 4294967295.0 && rq[1] == 5.0,
                  "rank 1 on the page: %.17g %.17g / %.17g %.17g", by[0], by[1], rq[0], rq[1]);
    cJSON_Delete(j);
    free(text);
}
END_TEST

/* memviz_page.c is generated from memviz_page.js/.css: they must agree. */
START_TEST(test_memviz_page_source_in_sync)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s --stdout | cmp - %s", tu_src("memviz/memviz_page_gen.sh"),
             tu_src("memviz/memviz_page.c"));
    char *out = NULL;
    int rc = tu_run(cmd, &out);
    ck_assert_msg(rc == 0, "memviz/memviz_page.c is stale: run memviz/memviz_page_gen.sh\n%s", out);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("memviz_page");
    TCase *tc = tcase_create("memviz_page");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_memviz_adjacent_nodes_differ_in_colour);
    tcase_add_test(tc, test_memviz_zoom_to_peak);
    tcase_add_test(tc, test_memviz_colour_by_category);
    tcase_add_test(tc, test_memviz_svg_is_well_formed_with_peak);
    tcase_add_test(tc, test_memviz_html_is_self_contained);
    tcase_add_test(tc, test_memviz_svg_x_ticks_are_few);
    tcase_add_test(tc, test_memviz_page_source_in_sync);
    tcase_add_test(tc, test_memviz_page_encodes_bytes_exactly);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
