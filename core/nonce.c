/* See nonce.h. */
#include "nonce.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void sf_nonce_fresh(uint64_t nonce[2])
{
    if (getrandom(nonce, 2 * sizeof nonce[0], 0) == (ssize_t)(2 * sizeof nonce[0]))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    nonce[0] = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
    nonce[1] = (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)nonce;
}
