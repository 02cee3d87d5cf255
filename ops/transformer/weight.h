/* The weight op's per-process cache of mapped checkpoint files. */
#ifndef SF_WEIGHT_H
#define SF_WEIGHT_H

/* Unmap every checkpoint file the weight op opened and forget every
 * index. Safe to call at any time no weight kernel is running; also run
 * at exit. Thread-safe. */
void sf_weight_cache_clear(void);

#endif
