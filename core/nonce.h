/* A fresh 128-bit nonce: what a rank writes into its own memory for a peer
 * to read back, which proves the peer reached this very process (the CMA
 * probe, the shared arena's header). */
#ifndef SF_NONCE_H
#define SF_NONCE_H

#include <stdint.h>

/* From getrandom; without an entropy source, from the clock, the pid and
 * an address: still unique enough to tell processes apart. */
void sf_nonce_fresh(uint64_t nonce[2]);

#endif
