/* plan --device cuda: meta's accounting with the cuda kernels' scratch. */
#include "cuda_device.h"

sf_device_t *sf_cuda_plan_device(void)
{
    /* Built on first use from meta's table; plans run on one thread. */
    static sf_device_iface_t iface;
    static sf_device_t dev = {.iface = &iface, .impl = NULL};
    if (iface.name == NULL) {
        iface = *sf_device_meta_iface();
        /* Reports say what was planned: meta's accounting for cuda. */
        iface.name = "meta:cuda";
        iface.scratch_bytes = sf_cuda_scratch_bytes;
    }
    return &dev;
}
