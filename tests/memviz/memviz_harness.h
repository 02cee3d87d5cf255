/* What the memviz suites share, header-only as op_harness.h is: the
 * shardflow command with a printf-style argument line, paths in a test
 * folder, the JSON in a command's output, the two-rank Eagle3 trace, and
 * two traces made by hand. */
#ifndef SF_MEMVIZ_HARNESS_H
#define SF_MEMVIZ_HARNESS_H

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "test_util.h"

/* dir "/" name, in a static buffer rotated over 8 slots. */
static inline const char *mv_path_in(const char *dir, const char *name)
{
    static char slots[8][4096];
    static int next;
    char *p = slots[next++ % 8];
    snprintf(p, 4096, "%s/%s", dir, name);
    return p;
}

/* Run a shell command line with "%s" = the shardflow binary. */
static inline int mv_sf(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline int mv_sf(char **out, const char *fmt, ...)
{
    char args[6000], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s", tu_shardflow(), args);
    return tu_run(cmd, out);
}

static inline cJSON *mv_parse_json_out(const char *text)
{
    /* The command's output may carry log lines before the JSON. */
    const char *brace = strchr(text, '{');
    ck_assert_msg(brace != NULL, "no JSON in:\n%s", text);
    cJSON *j = cJSON_Parse(brace);
    ck_assert_msg(j != NULL, "bad JSON:\n%s", text);
    return j;
}

/* The Eagle3 graph run on two ranks in redistribution mode `mode`, its
 * trace at dir/<mode>.json (returned, static, rotated over 4 slots). */
static inline const char *mv_eagle3_trace(const char *dir, const char *mode)
{
    const char *trace = mv_path_in(dir, mode);
    char *out = NULL;
    int rc = mv_sf(&out, "run --nproc 2 '%s' --set redistribution=%s --trace '%s.json'",
                   tu_src("graphs/eagle3_target.yaml"), mode, trace);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    static char slots[4][4200];
    static int next;
    char *p = slots[next++ % 4];
    snprintf(p, sizeof slots[0], "%s.json", trace);
    return p;
}

/* A trace by hand: a(100) b(200) free a, c(150), free b, d(250), free c,
 * e(150), free e; d is never freed. Live: 100, 300, 200, 350, 150, 400, 250,
 * 400, 250: the peak 400 is first reached by d's alloc (node n_d); e brings
 * it back to 400, and being only equal it must not move the peak node. */
static const char MV_HAND_TRACE[] =
    "{\"traceEvents\":[\n"
    "{\"ph\":\"M\",\"pid\":3,\"tid\":0,\"ts\":0,\"name\":\"process_name\",\"args\":{\"name\":\"r3\"}},\n"
    "{\"ph\":\"X\",\"pid\":3,\"tid\":0,\"ts\":0,\"dur\":10,\"cat\":\"node\",\"name\":\"n_a\",\"args\":{\"op\":\"fill\"}},\n"
    "{\"ph\":\"b\",\"pid\":3,\"tid\":0,\"ts\":1,\"cat\":\"buffer\",\"name\":\"a\",\"id2\":{\"local\":\"0x0\"},\"args\":{\"tensor\":\"a\",\"shape\":\"[25]\",\"dtype\":\"f32\",\"bytes\":100,\"requested_bytes\":100,\"alloc_node\":\"n_a\"}},\n"
    "{\"ph\":\"b\",\"pid\":3,\"tid\":0,\"ts\":2,\"cat\":\"buffer\",\"name\":\"b\",\"id2\":{\"local\":\"0x1\"},\"args\":{\"tensor\":\"b\",\"shape\":\"[50]\",\"dtype\":\"f32\",\"bytes\":200,\"requested_bytes\":200,\"alloc_node\":\"n_b\"}},\n"
    "{\"ph\":\"e\",\"pid\":3,\"tid\":0,\"ts\":3,\"cat\":\"buffer\",\"name\":\"a\",\"id2\":{\"local\":\"0x0\"},\"args\":{\"free_node\":\"n_c\"}},\n"
    "{\"ph\":\"b\",\"pid\":3,\"tid\":0,\"ts\":4,\"cat\":\"buffer\",\"name\":\"c\",\"id2\":{\"local\":\"0x2\"},\"args\":{\"tensor\":\"c\",\"shape\":\"[3,50]\",\"dtype\":\"u8\",\"bytes\":150,\"requested_bytes\":150,\"alloc_node\":\"n_c\"}},\n"
    "{\"ph\":\"e\",\"pid\":3,\"tid\":0,\"ts\":5,\"cat\":\"buffer\",\"name\":\"b\",\"id2\":{\"local\":\"0x1\"},\"args\":{\"free_node\":\"n_d\"}},\n"
    "{\"ph\":\"b\",\"pid\":3,\"tid\":0,\"ts\":6,\"cat\":\"buffer\",\"name\":\"d\",\"id2\":{\"local\":\"0x3\"},\"args\":{\"tensor\":\"d\",\"shape\":\"[250]\",\"dtype\":\"u8\",\"bytes\":250,\"requested_bytes\":250,\"alloc_node\":\"n_d\"}},\n"
    "{\"ph\":\"e\",\"pid\":3,\"tid\":0,\"ts\":7,\"cat\":\"buffer\",\"name\":\"c\",\"id2\":{\"local\":\"0x2\"},\"args\":{\"free_node\":\"n_e\"}},\n"
    "{\"ph\":\"b\",\"pid\":3,\"tid\":0,\"ts\":8,\"cat\":\"buffer\",\"name\":\"e\",\"id2\":{\"local\":\"0x2\"},\"args\":{\"tensor\":\"e\",\"shape\":\"[150]\",\"dtype\":\"u8\",\"bytes\":150,\"requested_bytes\":150,\"alloc_node\":\"n_e\"}},\n"
    "{\"ph\":\"e\",\"pid\":3,\"tid\":0,\"ts\":9,\"cat\":\"buffer\",\"name\":\"e\",\"id2\":{\"local\":\"0x2\"},\"args\":{\"free_node\":\"<end>\"}}\n"
    "],\"displayTimeUnit\":\"ms\"}\n";

/* Byte counts at and past 32 bits, by hand. Rank 0: a = 2^32 (the first
 * count that does not fit a u32), then b = 2^53 bytes (requested 2^53 - 1),
 * then c = 100 (requested 98), never freed; peak 2^53, moved in total
 * 2^53 + 2^32 + 100 = 9007203549708388 (even, so a double holds it too).
 * Rank 1 stays under 2^32: d = 2^32 - 1, e = 7 (requested 5). */
static const char MV_BIG_TRACE[] =
    "{\"traceEvents\":[\n"
    "{\"ph\":\"X\",\"pid\":0,\"tid\":0,\"ts\":0,\"dur\":10,\"cat\":\"node\",\"name\":\"n_a\",\"args\":{\"op\":\"fill\"}},\n"
    "{\"ph\":\"b\",\"pid\":0,\"tid\":0,\"ts\":1,\"cat\":\"buffer\",\"name\":\"a\",\"id2\":{\"local\":\"0x0\"},\"args\":{\"tensor\":\"a\",\"shape\":\"[4294967296]\",\"dtype\":\"u8\",\"bytes\":4294967296,\"requested_bytes\":4294967296,\"alloc_node\":\"n_a\"}},\n"
    "{\"ph\":\"e\",\"pid\":0,\"tid\":0,\"ts\":2,\"cat\":\"buffer\",\"name\":\"a\",\"id2\":{\"local\":\"0x0\"},\"args\":{\"free_node\":\"n_b\"}},\n"
    "{\"ph\":\"b\",\"pid\":0,\"tid\":0,\"ts\":3,\"cat\":\"buffer\",\"name\":\"b\",\"id2\":{\"local\":\"0x1\"},\"args\":{\"tensor\":\"b\",\"shape\":\"[9007199254740991]\",\"dtype\":\"u8\",\"bytes\":9007199254740992,\"requested_bytes\":9007199254740991,\"alloc_node\":\"n_b\"}},\n"
    "{\"ph\":\"e\",\"pid\":0,\"tid\":0,\"ts\":4,\"cat\":\"buffer\",\"name\":\"b\",\"id2\":{\"local\":\"0x1\"},\"args\":{\"free_node\":\"n_c\"}},\n"
    "{\"ph\":\"b\",\"pid\":0,\"tid\":0,\"ts\":5,\"cat\":\"buffer\",\"name\":\"c\",\"id2\":{\"local\":\"0x2\"},\"args\":{\"tensor\":\"c\",\"shape\":\"[98]\",\"dtype\":\"u8\",\"bytes\":100,\"requested_bytes\":98,\"alloc_node\":\"n_c\"}},\n"
    "{\"ph\":\"b\",\"pid\":1,\"tid\":0,\"ts\":1,\"cat\":\"buffer\",\"name\":\"d\",\"id2\":{\"local\":\"0x0\"},\"args\":{\"tensor\":\"d\",\"shape\":\"[4294967295]\",\"dtype\":\"u8\",\"bytes\":4294967295,\"requested_bytes\":4294967295,\"alloc_node\":\"n_d\"}},\n"
    "{\"ph\":\"b\",\"pid\":1,\"tid\":0,\"ts\":2,\"cat\":\"buffer\",\"name\":\"e\",\"id2\":{\"local\":\"0x1\"},\"args\":{\"tensor\":\"e\",\"shape\":\"[5]\",\"dtype\":\"u8\",\"bytes\":7,\"requested_bytes\":5,\"alloc_node\":\"n_e\"}}\n"
    "],\"displayTimeUnit\":\"ms\"}\n";

#endif
