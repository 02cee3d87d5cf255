/* The shared host arena (shm_arena.h): a sparse memfd of four times the
 * physical memory, at most 1 TiB (address space, not memory), mapped once, carved
 * first-fit into SF_SHM_ARENA_ALIGN-aligned blocks. Sorted arrays describe
 * it: the live blocks (so free knows a block's size) and two kinds of free
 * ranges, each coalesced: warm ones, whose pages are still resident and
 * are handed out first (no page faults, as the C heap reuses its memory),
 * and clean ones, punched out of the file. */
#include "shm_arena.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nonce.h"

typedef struct arena_range {
    uint64_t off;
    uint64_t len;
} arena_range_t;

typedef struct arena_list {
    arena_range_t *at; /* owned, sorted by off */
    size_t n, cap;
} arena_list_t;

static struct {
    pthread_mutex_t lock;
    bool is_tried;  /* enable ran once, whatever it found */
    bool is_on;
    pid_t owner;    /* the process that created it; a forked child is not */
    int fd;
    char *base;
    uint64_t size;  /* of the mapping; blocks live in [SF_SHM_ARENA_ALIGN, size) */
    uint64_t nonce[2];
    uint64_t live;
    uint64_t warm_bytes;
    arena_list_t warm;  /* freed, pages resident */
    arena_list_t clean; /* never used or punched: no pages */
    arena_list_t blocks;
} g_arena = {.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

/* Room for one more entry. */
static bool list_reserve(arena_list_t *l)
{
    if (l->n < l->cap)
        return true;
    size_t cap = l->cap ? 2 * l->cap : 64;
    arena_range_t *at = realloc(l->at, cap * sizeof *at);
    if (at == NULL)
        return false;
    l->at = at;
    l->cap = cap;
    return true;
}

static bool list_insert(arena_list_t *l, size_t i, arena_range_t r)
{
    if (!list_reserve(l))
        return false;
    memmove(l->at + i + 1, l->at + i, (l->n - i) * sizeof *l->at);
    l->at[i] = r;
    l->n++;
    return true;
}

static void list_remove(arena_list_t *l, size_t i)
{
    memmove(l->at + i, l->at + i + 1, (l->n - i - 1) * sizeof *l->at);
    l->n--;
}

/* The first index whose off is >= off. */
static size_t list_lower_bound(const arena_list_t *l, uint64_t off)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->at[mid].off < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint64_t arena_bytes_for_this_host(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t ram = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    const uint64_t gib = 1ull << 30;
    ram = (ram + gib - 1) / gib * gib;
    /* Capped: each local peer maps this too, and a GPU host with 2 TiB of
     * memory and 8 ranks would otherwise reserve 64 TiB of each process's
     * 128 TiB of address space. */
    uint64_t want = 4 * (ram < gib ? gib : ram);
    return want < (1ull << 40) ? want : 1ull << 40;
}

static bool arena_is_off_by_env(void)
{
    const char *v = getenv("SF_SHM_ARENA");
    return v != NULL && strcmp(v, "0") == 0;
}

/* Called with the lock held. */
static bool arena_create(void)
{
    uint64_t size = SF_SHM_ARENA_ALIGN + arena_bytes_for_this_host();
    int fd = memfd_create("shardflow-arena", MFD_CLOEXEC);
    if (fd < 0)
        return false;
    /* Sparse: pages exist only once written; MAP_NORESERVE commits none. */
    if (ftruncate(fd, (off_t)size) != 0) {
        close(fd);
        return false;
    }
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (base == MAP_FAILED) {
        close(fd);
        return false;
    }
    arena_range_t all = {SF_SHM_ARENA_ALIGN, size - SF_SHM_ARENA_ALIGN};
    if (!list_insert(&g_arena.clean, 0, all)) {
        munmap(base, size);
        close(fd);
        return false;
    }
    sf_nonce_fresh(g_arena.nonce);
    memcpy(base, g_arena.nonce, sizeof g_arena.nonce); /* the header a peer checks */
    g_arena.fd = fd;
    g_arena.base = base;
    g_arena.size = size;
    g_arena.owner = getpid();
    return true;
}

bool sf_shm_arena_enable(void)
{
    pthread_mutex_lock(&g_arena.lock);
    if (!g_arena.is_tried) {
        g_arena.is_tried = true;
        g_arena.is_on = !arena_is_off_by_env() && arena_create();
    }
    bool on = g_arena.is_on && g_arena.owner == getpid();
    pthread_mutex_unlock(&g_arena.lock);
    return on;
}

bool sf_shm_arena_is_on(void)
{
    pthread_mutex_lock(&g_arena.lock);
    bool on = g_arena.is_on && g_arena.owner == getpid();
    pthread_mutex_unlock(&g_arena.lock);
    return on;
}

/* Take len bytes from the first range of fl that holds them; the offset,
 * or UINT64_MAX when none does. */
static uint64_t arena_take(arena_list_t *fl, uint64_t len)
{
    for (size_t i = 0; i < fl->n; i++) {
        if (fl->at[i].len < len)
            continue;
        uint64_t off = fl->at[i].off;
        fl->at[i].off += len;
        fl->at[i].len -= len;
        if (fl->at[i].len == 0)
            list_remove(fl, i);
        return off;
    }
    return UINT64_MAX;
}

void *sf_shm_arena_alloc(size_t nbytes)
{
    if (nbytes < SF_SHM_ARENA_MIN_BYTES || nbytes > (1ull << 62))
        return NULL;
    uint64_t len = ((uint64_t)nbytes + SF_SHM_ARENA_ALIGN - 1) / SF_SHM_ARENA_ALIGN *
                   SF_SHM_ARENA_ALIGN;
    void *p = NULL;
    pthread_mutex_lock(&g_arena.lock);
    /* Room in the block list first, so a failed insert loses no range. */
    arena_list_t *bl = &g_arena.blocks;
    if (list_reserve(bl) && g_arena.is_on && g_arena.owner == getpid()) {
        uint64_t off = arena_take(&g_arena.warm, len);
        if (off != UINT64_MAX)
            g_arena.warm_bytes -= len;
        else
            off = arena_take(&g_arena.clean, len);
        if (off != UINT64_MAX) {
            arena_range_t block = {off, len};
            (void)list_insert(bl, list_lower_bound(bl, off), block); /* has room */
            g_arena.live += len;
            p = g_arena.base + off;
        }
    }
    pthread_mutex_unlock(&g_arena.lock);
    return p;
}

bool sf_shm_arena_owns(const void *p)
{
    const char *c = p;
    return g_arena.base != NULL && c >= g_arena.base && c < g_arena.base + g_arena.size;
}

/* Return a range to fl, merged with its neighbours; false when the list
 * cannot grow (out of memory), and then the range is not in fl. */
static bool arena_give_back(arena_list_t *fl, arena_range_t r)
{
    size_t i = list_lower_bound(fl, r.off);
    bool joins_prev = i > 0 && fl->at[i - 1].off + fl->at[i - 1].len == r.off;
    bool joins_next = i < fl->n && r.off + r.len == fl->at[i].off;
    if (joins_prev && joins_next) {
        fl->at[i - 1].len += r.len + fl->at[i].len;
        list_remove(fl, i);
    } else if (joins_prev) {
        fl->at[i - 1].len += r.len;
    } else if (joins_next) {
        fl->at[i].off = r.off;
        fl->at[i].len += r.len;
    } else {
        return list_insert(fl, i, r);
    }
    return true;
}

static void arena_punch(arena_range_t r)
{
    (void)fallocate(g_arena.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)r.off,
                    (off_t)r.len);
}

void sf_shm_arena_free(void *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&g_arena.lock);
    uint64_t off = (uint64_t)((char *)p - g_arena.base);
    arena_list_t *bl = &g_arena.blocks;
    size_t i = list_lower_bound(bl, off);
    if (i < bl->n && bl->at[i].off == off) {
        arena_range_t r = bl->at[i];
        list_remove(bl, i);
        g_arena.live -= r.len;
        /* In a forked child the pages are the parent's too: only forget. */
        if (g_arena.owner == getpid()) {
            bool is_warm = r.len < SF_SHM_ARENA_KEEP_BELOW &&
                           g_arena.warm_bytes + r.len <= SF_SHM_ARENA_WARM_MAX &&
                           arena_give_back(&g_arena.warm, r);
            if (is_warm) {
                g_arena.warm_bytes += r.len;
            } else {
                /* Out of list memory, the range is lost as address space,
                 * never as memory: its pages are punched either way. */
                arena_punch(r);
                (void)arena_give_back(&g_arena.clean, r);
            }
        }
    }
    pthread_mutex_unlock(&g_arena.lock);
}

void sf_shm_arena_trim(void)
{
    pthread_mutex_lock(&g_arena.lock);
    if (g_arena.is_on && g_arena.owner == getpid()) {
        for (size_t i = 0; i < g_arena.warm.n; i++) {
            arena_punch(g_arena.warm.at[i]);
            (void)arena_give_back(&g_arena.clean, g_arena.warm.at[i]);
        }
        g_arena.warm.n = 0;
        g_arena.warm_bytes = 0;
    }
    pthread_mutex_unlock(&g_arena.lock);
}

bool sf_shm_arena_offset_of(const void *p, size_t nbytes, uint64_t *offset)
{
    if (!sf_shm_arena_owns(p) || g_arena.owner != getpid())
        return false;
    uint64_t off = (uint64_t)((const char *)p - g_arena.base);
    if (off < SF_SHM_ARENA_ALIGN || nbytes > g_arena.size - off)
        return false;
    *offset = off;
    return true;
}

bool sf_shm_arena_card(sf_shm_arena_card_t *card)
{
    memset(card, 0, sizeof *card);
    if (!sf_shm_arena_is_on())
        return false;
    card->pid = (uint64_t)g_arena.owner;
    card->fd = (uint64_t)g_arena.fd;
    card->size = g_arena.size;
    memcpy(card->nonce, g_arena.nonce, sizeof card->nonce);
    return true;
}

const void *sf_shm_arena_map_peer(const sf_shm_arena_card_t *card)
{
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd)
    if (card->pid == 0 || card->size < SF_SHM_ARENA_ALIGN || card->fd > (uint64_t)INT32_MAX)
        return NULL;
    int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)card->pid, 0);
    if (pidfd < 0)
        return NULL;
    int fd = (int)syscall(SYS_pidfd_getfd, pidfd, (int)card->fd, 0);
    close(pidfd);
    if (fd < 0)
        return NULL;
    struct stat st;
    void *base = MAP_FAILED;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size == card->size)
        base = mmap(NULL, card->size, PROT_READ, MAP_SHARED | MAP_NORESERVE, fd, 0);
    close(fd); /* the mapping keeps the file */
    if (base == MAP_FAILED)
        return NULL;
    if (memcmp(base, card->nonce, sizeof card->nonce) != 0) { /* not that rank's arena */
        munmap(base, card->size);
        return NULL;
    }
    return base;
#else
    (void)card;
    return NULL;
#endif
}

void sf_shm_arena_unmap_peer(const void *base, const sf_shm_arena_card_t *card)
{
    if (base != NULL)
        munmap((void *)base, card->size);
}

uint64_t sf_shm_arena_live_bytes(void)
{
    pthread_mutex_lock(&g_arena.lock);
    uint64_t live = g_arena.live;
    pthread_mutex_unlock(&g_arena.lock);
    return live;
}

uint64_t sf_shm_arena_warm_bytes(void)
{
    pthread_mutex_lock(&g_arena.lock);
    uint64_t warm = g_arena.warm_bytes;
    pthread_mutex_unlock(&g_arena.lock);
    return warm;
}
