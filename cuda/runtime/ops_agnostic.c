/* Kernels that are already device-agnostic: they move data only through
 * sf_device_copy_tensor (and, for redistribute, the rank's comm), so the
 * CPU kernel run with the cuda device in its args is the cuda kernel:
 * concat and capture_concat copy each input into its window with the
 * device's strided copy; redistribute packs and unpacks with the device's
 * copies around the collective. */
#include "cuda_kernels.h"

sf_status_t sf_cuda_agnostic(const sf_kernel_args_t *a, sf_err_t *err)
{
    return a->op->cpu_kernel(a, err);
}
