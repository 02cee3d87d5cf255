/* Test helpers; see test_util.h. */
#include "test_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "file_read.h"

static char *rotate(void)
{
    static char slots[8][4096];
    static int next;
    return slots[next++ % 8];
}

const char *tu_src(const char *rel)
{
    char *p = rotate();
    snprintf(p, 4096, "%s/%s", SF_SOURCE_DIR, rel);
    return p;
}

const char *tu_tmpdir(void)
{
    char *p = rotate();
    snprintf(p, 4096, "/tmp/sf_test_XXXXXX");
    if (mkdtemp(p) == NULL) {
        perror("mkdtemp");
        abort();
    }
    return p;
}

const char *tu_join(const char *dir, const char *name)
{
    static char slots[4][4096];
    static int next;
    char *p = slots[next++ % 4];
    if (snprintf(p, 4096, "%s/%s", dir, name) >= 4096)
        abort(); /* test paths are short; a truncated one would test the wrong file */
    return p;
}

char *tu_read_file(const char *path, size_t *len)
{
    return sf_file_read(path, SIZE_MAX, len);
}

void tu_expect_same_ranks(const char *a, const char *b, int world, const char *what)
{
    for (int r = 0; r < world; r++) {
        char pa[4300], pb[4300];
        snprintf(pa, sizeof pa, "%s/rank%d.safetensors", a, r);
        snprintf(pb, sizeof pb, "%s/rank%d.safetensors", b, r);
        size_t na = 0, nb = 0;
        char *x = tu_read_file(pa, &na), *y = tu_read_file(pb, &nb);
        ck_assert_msg(x != NULL && y != NULL, "%s: rank %d wrote nothing (%s, %s)", what, r, pa,
                      pb);
        ck_assert_msg(na == nb && memcmp(x, y, na) == 0, "%s: rank %d differs (%s, %s)", what, r,
                      pa, pb);
        free(x);
        free(y);
    }
}

int tu_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

int tu_run(const char *cmd, char **out)
{
    char full[8192];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (p == NULL)
        return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, p)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    buf[n] = '\0';
    int st = pclose(p);
    if (out != NULL)
        *out = buf;
    else
        free(buf);
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

const char *tu_shardflow(void)
{
    const char *env = getenv("SF_SHARDFLOW");
    if (env != NULL && env[0] != '\0')
        return env;
    return SF_BINARY_DIR "/shardflow";
}

int tu_sf(const char *args, char **out)
{
    size_t n = strlen(tu_shardflow()) + strlen(args) + 2;
    char *cmd = malloc(n);
    if (cmd == NULL)
        abort();
    snprintf(cmd, n, "%s %s", tu_shardflow(), args);
    int rc = tu_run(cmd, out);
    free(cmd);
    return rc;
}

/* True if the NUL-separated environ block holds the entry kv exactly. */
static bool env_has(const char *block, size_t n, const char *kv)
{
    for (size_t i = 0; i < n; i += strlen(block + i) + 1)
        if (strcmp(block + i, kv) == 0)
            return true;
    return false;
}

int tu_find_env_procs(const char *marker, const char *also, pid_t *pids, int max)
{
    int n = 0;
    DIR *d = opendir("/proc");
    if (d == NULL)
        abort();
    struct dirent *e;
    static char block[65536];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/environ", e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t got = read(fd, block, sizeof block - 1);
        close(fd);
        if (got <= 0)
            continue;
        block[got] = '\0';
        if (!env_has(block, (size_t)got, marker) ||
            (also != NULL && !env_has(block, (size_t)got, also)))
            continue;
        if (n < max)
            pids[n] = (pid_t)atoi(e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

int tu_listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

int tu_free_port(void)
{
    /* From below Linux's ephemeral range (32768..60999 by default), which
     * the kernel never hands out for bind(0) or an outgoing connection: a
     * port from inside it was taken by another test's launcher or UCX
     * listener between this check and the rank binding it. A random start
     * keeps parallel suites apart; the bind proves the port free now. */
    static uint64_t state;
    if (state == 0)
        state = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
    for (int attempt = 0; attempt < 4096; attempt++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        int port = 20000 + (int)((state >> 33) % 12000);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        /* No peer ever connects, so closing leaves no TIME_WAIT behind. */
        bool is_free = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (is_free)
            return port;
    }
    ck_abort_msg("no free port in 20000..31999 on 127.0.0.1");
    return -1;
}

int tu_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int n_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int tu_count_dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

int tu_count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

const char *tu_run_graph(const char *graph, int world, const char *args)
{
    static int n;
    static char dirs[64][4200];
    char *dir = dirs[n++ % 64];
    snprintf(dir, sizeof dirs[0], "%s/run%d", tu_tmpdir(), n);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s run --nproc %d '%s' %s --out '%s'", tu_shardflow(), world,
             graph, args, dir);
    char *out = NULL;
    int rc = tu_run(cmd, &out);
    ck_assert_msg(rc == 0, "%s\n%s", cmd, out);
    free(out);
    return dir;
}

long long tu_json_rank_field(const char *args, int rank, const char *field)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s --json", tu_shardflow(), args);
    char *out = NULL;
    ck_assert_msg(tu_run(cmd, &out) == 0, "%s\n%s", cmd, out);
    char key[64], fk[64];
    snprintf(key, sizeof key, "\"rank\":%d,", rank);
    snprintf(fk, sizeof fk, "\"%s\":", field);
    const char *p = strstr(out, key);
    p = p != NULL ? strstr(p, fk) : NULL;
    ck_assert_msg(p != NULL, "%s\nno %s for rank %d in:\n%s", cmd, field, rank, out);
    long long v = atoll(p + strlen(fk));
    free(out);
    return v;
}
