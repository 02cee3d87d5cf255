/* lm_head_redistribute's scratch on a given device, for devices whose
 * matmul needs other scratch than the cpu's (cuda: a cuBLAS workspace). */
#ifndef SF_LM_HEAD_REDISTRIBUTE_H
#define SF_LM_HEAD_REDISTRIBUTE_H

#include <stdint.h>

#include "device.h"
#include "tensor.h"

/* The node's scratch when its block products run on dev (NULL: the cpu's
 * rule); prepared is what its prepare hook made, in its inputs' layouts. */
uint64_t sf_lhr_scratch_on(const sf_device_t *dev, const void *prepared, const sf_tensor_t *in);

#endif
