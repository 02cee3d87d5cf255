/* Chrome trace writer: write events, parse the file back with cJSON and
 * check every event; failures must leave no file behind. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "mem.h"
#include "trace.h"
#include "test_util.h"

static const char *join(const char *dir, const char *name)
{
    static char slots[4][4096];
    static int next;
    char *p = slots[next++ % 4];
    snprintf(p, 4096, "%s/%s", dir, name);
    return p;
}

/* Parse path as one JSON document; the caller deletes it. */
static cJSON *load_trace(const char *path)
{
    size_t len = 0;
    char *text = tu_read_file(path, &len);
    ck_assert_ptr_nonnull(text);
    cJSON *root = cJSON_ParseWithLength(text, len);
    ck_assert_msg(root != NULL, "trace is not valid JSON:\n%s", text);
    free(text);
    ck_assert(cJSON_IsObject(root));
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(root, "displayTimeUnit")), "ms");
    ck_assert(cJSON_IsArray(cJSON_GetObjectItem(root, "traceEvents")));
    return root;
}

static const char *str_of(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    ck_assert_msg(cJSON_IsString(v), "missing string '%s'", key);
    return v->valuestring;
}

static double num_of(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    ck_assert_msg(cJSON_IsNumber(v), "missing number '%s'", key);
    return v->valuedouble;
}

static const cJSON *args_of(const cJSON *ev)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(ev, "args");
    ck_assert(cJSON_IsObject(a));
    return a;
}

static const char *local_id(const cJSON *ev)
{
    const cJSON *id2 = cJSON_GetObjectItemCaseSensitive(ev, "id2");
    ck_assert(cJSON_IsObject(id2));
    return str_of(id2, "local");
}

static sf_buffer_t *alloc(sf_mem_t *mem, const char *tensor, const char *node, int64_t rows,
                          int64_t cols)
{
    int64_t shape[2] = {rows, cols};
    sf_alloc_req_t req = {.nbytes = (uint64_t)(rows * cols * 4), .tensor = tensor, .node = node,
                          .dtype = SF_DTYPE_F32, .ndim = 2, .shape = shape};
    sf_buffer_t *b = NULL;
    sf_err_t err;
    sf_err_clear(&err);
    ck_assert_int_eq(sf_mem_alloc(mem, &req, &b, &err), SF_OK);
    return b;
}

START_TEST(test_trace_events_parse_back)
{
    const char *dir = tu_tmpdir();
    const char *path = join(dir, "run.trace.json");
    sf_err_t err;
    sf_err_clear(&err);
    sf_trace_t *tr = NULL;
    ck_assert_int_eq(sf_trace_open(path, &tr, &err), SF_OK);
    sf_trace_process(tr, 0, "eagle3");
    sf_trace_process(tr, 1, NULL);

    /* Rank 0 runs through a real allocator observed by the trace; rank 1
     * reuses buffer id 0 for another buffer (ids restart per rank). */
    sf_mem_t *mem = sf_mem_new(sf_device_cpu());
    sf_trace_rank_t obs = {.tr = tr, .rank = 0};
    sf_mem_set_observer(mem, sf_trace_mem_observer, &obs);
    sf_buffer_t *a = alloc(mem, "logits", "lm_head", 2, 3);   /* 24 B, counts 256 */
    sf_buffer_t *b = alloc(mem, "target", "pad", 100, 1);     /* 400 B, counts 512 */
    sf_trace_node(tr, 0, "lm_head", "matmul", 10.0, 12.5);
    sf_mem_release(mem, a, "pad");
    sf_trace_node(tr, 0, "pad", "pad", 12.5, 20.0);
    sf_mem_release(mem, b, "<end>");
    sf_mem_free(mem);

    sf_buffer_t other = {.nbytes = 8, .counted_bytes = 256, .id = 0, .tensor = "r1",
                         .alloc_node = "<input>", .dtype = SF_DTYPE_I64, .ndim = 1,
                         .shape = {1}};
    sf_mem_event_t ev = {.kind = SF_MEM_EV_ALLOC, .buf = &other, .time_us = 1.0,
                         .live_bytes = 256};
    sf_trace_mem_event(tr, 1, &ev);
    ev.kind = SF_MEM_EV_FREE;
    ev.free_node = "n1";
    ev.time_us = 2.0;
    ev.live_bytes = 0;
    sf_trace_mem_event(tr, 1, &ev);
    sf_trace_node(tr, 1, "n1", "concat", 1.0, 2.0);
    ck_assert_int_eq(sf_trace_close(tr, &err), SF_OK);
    ck_assert_int_eq(tu_count_dir_entries(dir), 1); /* the temporary was renamed */

    cJSON *root = load_trace(path);
    const cJSON *events = cJSON_GetObjectItem(root, "traceEvents");
    int n_m = 0, n_x = 0, n_c = 0, n_b = 0, n_e = 0;
    double counters[2][4];
    int n_counters[2] = {0, 0};
    const cJSON *ev_j;
    cJSON_ArrayForEach(ev_j, events)
    {
        const char *ph = str_of(ev_j, "ph");
        int pid = (int)num_of(ev_j, "pid");
        ck_assert(pid == 0 || pid == 1);
        ck_assert_int_eq((int)num_of(ev_j, "tid"), 0);
        (void)num_of(ev_j, "ts");
        if (strcmp(ph, "M") == 0) {
            n_m++;
            if (strcmp(str_of(ev_j, "name"), "process_name") == 0)
                ck_assert_str_eq(str_of(args_of(ev_j), "name"),
                                 pid == 0 ? "rank 0: eagle3" : "rank 1");
            else
                ck_assert_int_eq((int)num_of(args_of(ev_j), "sort_index"), pid);
        } else if (strcmp(ph, "X") == 0) {
            n_x++;
            ck_assert_str_eq(str_of(ev_j, "cat"), "node");
            if (strcmp(str_of(ev_j, "name"), "lm_head") == 0) {
                ck_assert_double_eq(num_of(ev_j, "ts"), 10.0);
                ck_assert_double_eq(num_of(ev_j, "dur"), 2.5);
                ck_assert_str_eq(str_of(args_of(ev_j), "op"), "matmul");
            }
        } else if (strcmp(ph, "C") == 0) {
            ck_assert_str_eq(str_of(ev_j, "name"), "allocated");
            ck_assert_int_lt(n_counters[pid], 4);
            counters[pid][n_counters[pid]++] = num_of(args_of(ev_j), "bytes");
            n_c++;
        } else if (strcmp(ph, "b") == 0) {
            n_b++;
            ck_assert_str_eq(str_of(ev_j, "cat"), "buffer");
            const cJSON *args = args_of(ev_j);
            ck_assert_str_eq(str_of(args, "tensor"), str_of(ev_j, "name"));
            ck_assert_str_eq(str_of(args, "dtype"), pid == 0 ? "f32" : "i64");
            (void)str_of(args, "alloc_node");
            /* exactly one "e" with the same pid, cat, id and name */
            int matches = 0;
            const cJSON *other_j;
            cJSON_ArrayForEach(other_j, events)
            {
                if (strcmp(str_of(other_j, "ph"), "e") == 0 &&
                    (int)num_of(other_j, "pid") == pid &&
                    strcmp(local_id(other_j), local_id(ev_j)) == 0 &&
                    strcmp(str_of(other_j, "name"), str_of(ev_j, "name")) == 0 &&
                    strcmp(str_of(other_j, "cat"), "buffer") == 0) {
                    matches++;
                    ck_assert_double_ge(num_of(other_j, "ts"), num_of(ev_j, "ts"));
                    (void)str_of(args_of(other_j), "free_node");
                }
            }
            ck_assert_int_eq(matches, 1);
            if (strcmp(str_of(ev_j, "name"), "logits") == 0) {
                ck_assert_str_eq(local_id(ev_j), "0x0");
                ck_assert_str_eq(str_of(args, "shape"), "[2,3]");
                ck_assert_double_eq(num_of(args, "bytes"), 256);
                ck_assert_double_eq(num_of(args, "requested_bytes"), 24);
                ck_assert_str_eq(str_of(args, "alloc_node"), "lm_head");
            }
            if (strcmp(str_of(ev_j, "name"), "target") == 0) {
                ck_assert_str_eq(local_id(ev_j), "0x1");
                ck_assert_str_eq(str_of(args, "shape"), "[100,1]");
                ck_assert_double_eq(num_of(args, "bytes"), 512);
                ck_assert_double_eq(num_of(args, "requested_bytes"), 400);
            }
        } else if (strcmp(ph, "e") == 0) {
            n_e++;
            if (strcmp(str_of(ev_j, "name"), "logits") == 0)
                ck_assert_str_eq(str_of(args_of(ev_j), "free_node"), "pad");
        } else {
            ck_abort_msg("unexpected phase %s", ph);
        }
    }
    ck_assert_int_eq(n_m, 4);
    ck_assert_int_eq(n_x, 3);
    ck_assert_int_eq(n_c, 6);
    ck_assert_int_eq(n_b, 3);
    ck_assert_int_eq(n_e, 3);
    ck_assert_int_eq(n_counters[0], 4);
    ck_assert_double_eq(counters[0][0], 256);
    ck_assert_double_eq(counters[0][1], 768);
    ck_assert_double_eq(counters[0][2], 512);
    ck_assert_double_eq(counters[0][3], 0);
    ck_assert_int_eq(n_counters[1], 2);
    ck_assert_double_eq(counters[1][0], 256);
    ck_assert_double_eq(counters[1][1], 0);
    cJSON_Delete(root);
}
END_TEST

/* Names come from user files: every awkward byte must survive as JSON. */
START_TEST(test_trace_escapes_strings)
{
    const char *path = join(tu_tmpdir(), "esc.json");
    sf_err_t err;
    sf_err_clear(&err);
    sf_trace_t *tr = NULL;
    ck_assert_int_eq(sf_trace_open(path, &tr, &err), SF_OK);
    const char *nasty = "q\"b\\s/n\nt\tc\x01\x1f" "\xc3\xa9" "\xe2\x82\xac" "\xf0\x9f\x98\x80";
    sf_trace_node(tr, 0, nasty, "op\"x", 0.0, 1.0);
    sf_trace_node(tr, 0, "bad\xff\xc3(utf8\xed\xa0\x80", NULL, 0.0, 1.0);
    ck_assert_int_eq(sf_trace_close(tr, &err), SF_OK);

    cJSON *root = load_trace(path);
    const cJSON *events = cJSON_GetObjectItem(root, "traceEvents");
    ck_assert_int_eq(cJSON_GetArraySize(events), 2);
    const cJSON *e0 = cJSON_GetArrayItem(events, 0);
    ck_assert_str_eq(str_of(e0, "name"), nasty);
    ck_assert_str_eq(str_of(args_of(e0), "op"), "op\"x");
    /* each invalid byte becomes U+FFFD (EF BF BD); the op NULL becomes "" */
    const cJSON *e1 = cJSON_GetArrayItem(events, 1);
    ck_assert_str_eq(str_of(e1, "name"), "bad\xef\xbf\xbd\xef\xbf\xbd(utf8\xef\xbf\xbd\xef\xbf\xbd"
                                         "\xef\xbf\xbd");
    ck_assert_str_eq(str_of(args_of(e1), "op"), "");
    cJSON_Delete(root);
}
END_TEST

START_TEST(test_trace_empty_is_valid)
{
    const char *path = join(tu_tmpdir(), "empty.json");
    sf_err_t err;
    sf_err_clear(&err);
    sf_trace_t *tr = NULL;
    ck_assert_int_eq(sf_trace_open(path, &tr, &err), SF_OK);
    ck_assert_int_eq(sf_trace_close(tr, &err), SF_OK);
    cJSON *root = load_trace(path);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(root, "traceEvents")), 0);
    cJSON_Delete(root);
}
END_TEST

START_TEST(test_trace_abort_leaves_nothing)
{
    const char *dir = tu_tmpdir();
    sf_err_t err;
    sf_err_clear(&err);
    sf_trace_t *tr = NULL;
    ck_assert_int_eq(sf_trace_open(join(dir, "t.json"), &tr, &err), SF_OK);
    sf_trace_process(tr, 0, "g");
    sf_trace_node(tr, 0, "n", "op", 0.0, 1.0);
    ck_assert_int_eq(tu_count_dir_entries(dir), 1); /* the temporary exists meanwhile */
    sf_trace_abort(tr);
    ck_assert_int_eq(tu_count_dir_entries(dir), 0);
    sf_trace_abort(NULL);
}
END_TEST

/* A FIFO at the trace path stays a FIFO: refused at open, naming it. */
START_TEST(test_trace_refuses_fifo)
{
    const char *dir = tu_tmpdir();
    const char *path = join(dir, "t.json");
    ck_assert_int_eq(mkfifo(path, 0644), 0);
    sf_err_t err;
    sf_err_clear(&err);
    sf_trace_t *tr = NULL;
    sf_status_t st = sf_trace_open(path, &tr, &err);
    if (st == SF_OK) /* the old writer: it renames over the FIFO at close */
        st = sf_trace_close(tr, &err);
    ck_assert_int_eq(st, SF_ERR_INPUT);
    ck_assert_str_eq(err.file, path);
    ck_assert_msg(strstr(err.msg, "FIFO") != NULL, "%s", err.msg);
    struct stat sb;
    ck_assert_int_eq(lstat(path, &sb), 0);
    ck_assert(S_ISFIFO(sb.st_mode));
    ck_assert_int_eq(tu_count_dir_entries(dir), 1);
}
END_TEST

/* A symlink planted at the old temporary's name ("<path>.tmp.<pid>") is not
 * written through: its target keeps its bytes, the trace lands at path. */
START_TEST(test_trace_ignores_planted_symlink)
{
    const char *dir = tu_tmpdir();
    char victim[512], link[600];
    snprintf(victim, sizeof victim, "%s/victim", dir);
    const char *path = join(dir, "t.json");
    snprintf(link, sizeof link, "%s.tmp.%ld", path, (long)getpid());
    ck_assert_int_eq(tu_write_file(victim, "precious"), 0);
    ck_assert_int_eq(symlink(victim, link), 0);
    sf_err_t err;
    sf_err_clear(&err);
    sf_trace_t *tr = NULL;
    ck_assert_int_eq(sf_trace_open(path, &tr, &err), SF_OK);
    sf_trace_node(tr, 0, "n", "op", 0.0, 1.0);
    ck_assert_int_eq(sf_trace_close(tr, &err), SF_OK);
    char *text = tu_read_file(victim, NULL);
    ck_assert_str_eq(text, "precious");
    free(text);
    cJSON *root = load_trace(path);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(root, "traceEvents")), 1);
    cJSON_Delete(root);
    struct stat sb;
    ck_assert_int_eq(lstat(link, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
}
END_TEST

START_TEST(test_trace_unwritable_path)
{
    const char *dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/missing/t.json", dir);
    sf_err_t err;
    sf_err_clear(&err);
    sf_trace_t *tr = (sf_trace_t *)1;
    /* a folder that does not exist is the user's to fix: bad input (exit 2) */
    ck_assert_int_eq(sf_trace_open(path, &tr, &err), SF_ERR_INPUT);
    ck_assert_ptr_null(tr);
    ck_assert_str_eq(err.file, path);
    ck_assert_ptr_nonnull(strstr(err.msg, "No such file or directory"));
    ck_assert_int_eq(tu_count_dir_entries(dir), 0);
}
END_TEST

/* A write error in the middle (the file size limit stands in for a full
 * disk) is remembered, reported at close, and the partial file removed. */
START_TEST(test_trace_write_error_reported_at_close)
{
    const char *dir = tu_tmpdir();
    const char *path = join(dir, "t.json");
    sf_err_t err;
    sf_err_clear(&err);
    sf_trace_t *tr = NULL;
    ck_assert_int_eq(sf_trace_open(path, &tr, &err), SF_OK);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 16 * 1024;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    for (int i = 0; i < 10000; i++)
        sf_trace_node(tr, 0, "node", "op", i, i + 1);
    sf_status_t st = sf_trace_close(tr, &err);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    ck_assert_int_eq(st, SF_ERR_IO);
    ck_assert_str_eq(err.file, path);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot write trace: File too large"));
    ck_assert_int_eq(tu_count_dir_entries(dir), 0);
}
END_TEST

static Suite *trace_suite(void)
{
    Suite *s = suite_create("trace");
    TCase *tc = tcase_create("trace");
    tcase_add_test(tc, test_trace_events_parse_back);
    tcase_add_test(tc, test_trace_escapes_strings);
    tcase_add_test(tc, test_trace_empty_is_valid);
    tcase_add_test(tc, test_trace_abort_leaves_nothing);
    tcase_add_test(tc, test_trace_unwritable_path);
    tcase_add_test(tc, test_trace_refuses_fifo);
    tcase_add_test(tc, test_trace_ignores_planted_symlink);
    tcase_add_test(tc, test_trace_write_error_reported_at_close);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(trace_suite());
}
